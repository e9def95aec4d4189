-- Resumable (tus) uploads, written straight into storage as a multipart upload (control-api/src/uploads/).
-- No foreign keys to assets or users: the upload row is written before or beside them and outlives neither.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    -- Upload-Length, and the bytes durably stored so far (Upload-Offset).
    length BIGINT NOT NULL CHECK (length >= 0),
    upload_offset BIGINT NOT NULL CHECK (upload_offset >= 0 AND upload_offset <= length),
    -- Upload-Metadata: a JSON object of keys to their base64 values.
    metadata_json TEXT NOT NULL,
    -- Where the finished object appears, and the storage's multipart upload writing it (NULL for an empty
    -- upload, which is stored whole at creation).
    storage_key TEXT NOT NULL,
    multipart_upload_id TEXT,
    -- Every part but the last is part_size bytes (chosen from the length at creation).
    part_size BIGINT NOT NULL,
    -- The parts stored: a JSON array of {"number", "size", "etag"}.
    parts_json TEXT NOT NULL,
    -- The object holding the bytes after the last whole part (fewer than part_size), if any.
    tail_key TEXT,
    -- The request writing to the upload now: its token and when its claim lapses (the offset check and the
    -- claim are one UPDATE, so two PATCHes never both write).
    lock_token TEXT,
    lock_expires_at BIGINT,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT,
    -- Terminated or expired: storage is being cleaned up, and the row goes once it is.
    terminated_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX uploads_by_asset ON uploads (asset_id);
CREATE INDEX uploads_unfinished_by_expiry ON uploads (expires_at) WHERE completed_at IS NULL;
