-- The transcode job queue (control-api/src/jobs/) and the workers that claim from it. Same tables, columns and
-- indexes on both engines. No foreign keys to assets or users: a job names them by id only.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    preset TEXT NOT NULL,
    -- The encoder the job needs (NULL: any) and the one it may fall back to (NULL: none).
    encoder TEXT CHECK (encoder IN ('x264', 'nvenc', 'vaapi', 'qsv')),
    fallback_encoder TEXT CHECK (fallback_encoder IN ('x264')),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    -- Claims so far; the current claim's number is the fencing token every worker write must carry.
    attempt BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    -- Fair scheduling: the owner's round (jobs::choice::enqueue_round); claims take the lowest round, then age.
    fair_round BIGINT NOT NULL,
    -- The worker of the latest claim, when its lease ends, and the lease length heartbeats extend it by.
    lease_owner TEXT,
    lease_expires_at BIGINT,
    lease_ms BIGINT,
    -- Not claimed before this time (retry backoff).
    run_after BIGINT NOT NULL,
    progress_json TEXT,
    result_json TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- When the latest attempt started, and when the job reached a final state.
    started_at BIGINT,
    finished_at BIGINT
) WITH (fillfactor = 70); -- room on each page for in-place (HOT) updates of heartbeats
-- The claim: the first queued job in fair order.
CREATE INDEX jobs_claim ON jobs (fair_round, created_at, id) WHERE state = 'queued';
-- The running jobs: a worker's (capacity), and all of them for lease expiry (as many as the workers' slots).
-- No index holds lease_expires_at or updated_at, so a heartbeat changes no indexed column and PostgreSQL can
-- update the row in place (HOT) without touching any index.
CREATE INDEX jobs_running ON jobs (lease_owner) WHERE state = 'running';
-- An owner's latest round at enqueue.
CREATE INDEX jobs_owner_rounds ON jobs (owner_id, fair_round) WHERE state IN ('queued', 'running');

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- JSON array of encoder names, e.g. ["x264","nvenc"].
    encoders TEXT NOT NULL,
    -- Jobs it runs at once.
    capacity BIGINT NOT NULL CHECK (capacity > 0),
    registered_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- Set when it is shutting down: it gets no new jobs.
    draining_at BIGINT
);
