//! The search satellite (`marquee api` mounts it): `GET /v1/search` over the catalog's titles and people,
//! typo-tolerant, prefix-aware, accent-insensitive and ranked, with the same results on SQLite and PostgreSQL.
//! The catalog keeps the index current through [`marquee_catalog::index::CatalogIndex`].
