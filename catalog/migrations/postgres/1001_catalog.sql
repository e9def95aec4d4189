-- The catalog's schema (versions 1001-1999 are the catalog's; see control-api/src/satellite.rs). Keep it the
-- same as ../sqlite/ in tables, columns and meaning: ids are text (uuid v7, sorting by creation), times and
-- numbers BIGINT (Unix milliseconds), lists JSON text.

CREATE TABLE catalog_titles (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('movie', 'series', 'season', 'episode')),
    -- A season's series, an episode's season; deleting a parent with children is refused.
    parent_id TEXT REFERENCES catalog_titles (id),
    -- A season's or an episode's number within its parent.
    number BIGINT,
    title TEXT NOT NULL,
    original_title TEXT,
    synopsis TEXT NOT NULL,
    release_year BIGINT,
    runtime_minutes BIGINT,
    maturity_rating TEXT,
    languages_json TEXT NOT NULL,
    genres_json TEXT NOT NULL,
    tags_json TEXT NOT NULL,
    -- Storage keys of the artwork, once uploaded.
    poster_key TEXT,
    backdrop_key TEXT,
    owner_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (parent_id, number)
);
CREATE INDEX catalog_titles_by_kind ON catalog_titles (kind, id);
CREATE INDEX catalog_titles_by_year ON catalog_titles (release_year, id);
CREATE INDEX catalog_titles_by_owner ON catalog_titles (owner_id, id);

-- The genre filter's index (the title's genres_json is what it answers with).
CREATE TABLE catalog_title_genres (
    title_id TEXT NOT NULL REFERENCES catalog_titles (id) ON DELETE CASCADE,
    genre TEXT NOT NULL,
    PRIMARY KEY (title_id, genre)
);
CREATE INDEX catalog_title_genres_by_genre ON catalog_title_genres (genre, title_id);

CREATE TABLE catalog_people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    other_names_json TEXT NOT NULL,
    biography TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX catalog_people_by_owner ON catalog_people (owner_id, id);

-- A title's cast and crew, in billing order; deleting a credited person is refused.
CREATE TABLE catalog_credits (
    title_id TEXT NOT NULL REFERENCES catalog_titles (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    person_id TEXT NOT NULL REFERENCES catalog_people (id),
    kind TEXT NOT NULL CHECK (kind IN ('cast', 'crew')),
    character_name TEXT,
    role TEXT,
    PRIMARY KEY (title_id, position)
);
CREATE INDEX catalog_credits_by_person ON catalog_credits (person_id, title_id);

-- When and where a title may be watched; none: always, everywhere.
CREATE TABLE catalog_availability (
    title_id TEXT NOT NULL REFERENCES catalog_titles (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    -- ISO 3166-1 alpha-2 codes; [] is everywhere.
    regions_json TEXT NOT NULL,
    PRIMARY KEY (title_id, position)
);

-- The control API's assets a title plays: a movie's feature, an episode's video, trailers.
CREATE TABLE catalog_title_assets (
    title_id TEXT NOT NULL REFERENCES catalog_titles (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    asset_id TEXT NOT NULL REFERENCES assets (id),
    role TEXT NOT NULL CHECK (role IN ('feature', 'trailer', 'episode')),
    PRIMARY KEY (title_id, position)
);
CREATE INDEX catalog_title_assets_by_asset ON catalog_title_assets (asset_id, title_id);
