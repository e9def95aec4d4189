-- Upload expiry (control-api/src/uploads/expiry.rs) finishes interrupted clean-ups of terminated uploads on every
-- step: this index finds them without reading every completed upload. (`assets.input_url` is in 0001 already.)
-- Keep the same in migrations/sqlite/ and migrations/postgres/.
CREATE INDEX uploads_terminated ON uploads (terminated_at) WHERE terminated_at IS NOT NULL;
