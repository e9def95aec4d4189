-- Workers call the API with a token of their own (`mqw_…`, control-api/src/farm/): only its SHA-256 is kept.
-- A worker registered before this migration has none and must register again.
ALTER TABLE workers ADD COLUMN token_hash TEXT;
CREATE UNIQUE INDEX workers_by_token ON workers (token_hash);
-- An asset's jobs (cancel on delete, the running job of an asset).
CREATE INDEX jobs_by_asset ON jobs (asset_id, state);
