-- Events (an outbox written in the same transaction as the state change) and signed webhooks. Keep it the same
-- as migrations/postgres/0005_events.sql in tables, columns and meaning.

-- One row per event. `seq` orders them for readers with a cursor: on SQLite one write transaction at a time
-- allocates and commits, so sequence order is commit order.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- uuid v7; also the `webhook-id` of every delivery of this event (the receivers' idempotency key).
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    -- Whose asset it is about: creators read and receive only their own events.
    owner_id TEXT NOT NULL,
    asset_id TEXT,
    data_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Set once the dispatcher has made this event's deliveries.
    dispatched_at BIGINT
);
CREATE INDEX events_by_owner ON events (owner_id, seq);
CREATE INDEX events_to_dispatch ON events (seq) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id),
    url TEXT NOT NULL,
    -- `whsec_` + base64 of 32 random bytes. Kept as is: HMAC signing needs the key itself.
    secret TEXT NOT NULL,
    -- JSON array of event types this endpoint wants; NULL for every type.
    event_types_json TEXT,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Set when the receiver answered 410 Gone (or an admin disables it): no new deliveries.
    disabled_at BIGINT
);
CREATE INDEX webhook_endpoints_by_owner ON webhook_endpoints (owner_id, id);

-- One event to one endpoint, tried until a 2xx or until its retry window (24 h from created_at) is over.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL REFERENCES events (id),
    attempts BIGINT NOT NULL,
    -- When the next attempt is due; NULL once delivered or given up. While an attempt is in flight it is the
    -- end of the sender's lease, after which another dispatcher may try again.
    next_attempt_at BIGINT,
    -- Which dispatcher holds the current lease: a result is written only by the holder.
    claim_token TEXT,
    last_attempt_at BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    delivered_at BIGINT,
    given_up_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

-- The delivery log: every attempt, whatever its outcome.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempt);
