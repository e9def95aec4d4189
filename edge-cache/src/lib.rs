//! The edge cache: a tiered memory + disk caching reverse proxy in front of origins and shields. Arrives with issue #4; nothing lives here yet.
