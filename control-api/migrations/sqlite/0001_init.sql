-- The control API's schema on SQLite. Keep it the same as migrations/postgres/ in tables, columns and meaning:
-- ids are text (uuid v7, so they sort by creation), times are integer milliseconds since the Unix epoch, JSON
-- documents are text.

-- Values every API instance must share, made on first start (the JWT signing secret).
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'creator', 'admin')),
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('waiting_upload', 'queued', 'processing', 'ready', 'errored', 'deleted')),
    playback_policy TEXT NOT NULL CHECK (playback_policy IN ('public', 'signed')),
    preset TEXT NOT NULL,
    input_url TEXT,
    -- Storage key of the uploaded source, once it is complete.
    source_key TEXT,
    -- Storage prefix the presentation is published under, once it is ready.
    presentation_prefix TEXT,
    source_json TEXT,
    renditions_json TEXT,
    duration_ms BIGINT,
    progress_json TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX assets_by_owner ON assets (owner_id, id);
CREATE INDEX assets_by_status ON assets (status, id);
