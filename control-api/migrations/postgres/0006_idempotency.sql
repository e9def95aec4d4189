-- Idempotency-Key: the first answer to a mutating request, replayed for the same key and body. Keep the same in
-- migrations/sqlite/ and migrations/postgres/.
CREATE TABLE idempotency_keys (
    -- Whose key: the caller's user id, or `anonymous`.
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    -- SHA-256 of the request body.
    body_hash TEXT NOT NULL,
    -- NULL while the first request runs.
    status INTEGER,
    content_type TEXT,
    response_body TEXT,
    -- The first answer carried a secret shown once, so it is not kept and cannot be replayed.
    secret_response INTEGER,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
