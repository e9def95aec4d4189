-- Viewing analytics: every accepted beacon, and one summary row per view folded from them.
CREATE TABLE analytics_events (
    id TEXT PRIMARY KEY,
    view_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The player's clock, and the server's when the batch writer stored it.
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    asset_id TEXT NOT NULL,
    title_id TEXT,
    viewer_key TEXT NOT NULL,
    position_ms BIGINT,
    duration_ms BIGINT,
    bitrate_bps BIGINT,
    rendition TEXT,
    error_code TEXT
);
CREATE INDEX analytics_events_by_view ON analytics_events (view_id, at);
CREATE INDEX analytics_events_by_received ON analytics_events (received_at);

CREATE TABLE analytics_views (
    view_id TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL,
    title_id TEXT,
    viewer_key TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    startup_ms BIGINT,
    watch_ms BIGINT NOT NULL DEFAULT 0,
    rebuffer_ms BIGINT NOT NULL DEFAULT 0,
    rebuffer_count BIGINT NOT NULL DEFAULT 0,
    bitrate_ms BIGINT NOT NULL DEFAULT 0,
    played_bits BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0,
    -- The view's state machine (analytics/src/view.rs) as JSON, to fold the next batch's events into; NULL
    -- while the row is only the placeholder the batch writer locks.
    state_json TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX analytics_views_by_asset ON analytics_views (asset_id, started_at);
CREATE INDEX analytics_views_by_title ON analytics_views (title_id, started_at);
CREATE INDEX analytics_views_by_viewer ON analytics_views (viewer_key, last_at);
CREATE INDEX analytics_views_by_start ON analytics_views (started_at);
