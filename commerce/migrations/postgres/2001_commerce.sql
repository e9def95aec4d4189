-- Commerce: plans and offers, orders and their charges, what orders bought (subscriptions, rentals,
-- purchases), and the payment provider's events already handled. Ids are uuid v7 text, times Unix ms,
-- money BIGINT minor units.

CREATE TABLE commerce_plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('month', 'year')),
    trial_days BIGINT NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
    -- 'catalog' or 'tag:NAME'
    unlocks TEXT NOT NULL,
    archived_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A title for rent or sale at a price.
CREATE TABLE commerce_offers (
    id TEXT PRIMARY KEY,
    title_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('rental', 'purchase')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    -- Rentals: how long it plays from the first play, and how long it waits for one.
    watch_window_ms BIGINT,
    expires_unplayed_ms BIGINT,
    archived_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX commerce_offers_title ON commerce_offers (title_id);

CREATE TABLE commerce_orders (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- sha256 of the request, to tell a retry from another request under the same key.
    request_hash TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('subscription', 'rental', 'purchase')),
    plan_id TEXT REFERENCES commerce_plans (id),
    offer_id TEXT REFERENCES commerce_offers (id),
    title_id TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    payment_token TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'paying', 'pending', 'fulfilled', 'failed', 'refunded')),
    failure_code TEXT,
    subscription_id TEXT,
    rental_id TEXT,
    purchase_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX commerce_orders_user ON commerce_orders (user_id, id);

CREATE TABLE commerce_subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES commerce_plans (id),
    order_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('trialing', 'active', 'past_due', 'canceled', 'expired')),
    period TEXT NOT NULL,
    anchor_at BIGINT NOT NULL,
    paid_periods BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    grace_until BIGINT,
    cancel_at_period_end BIGINT NOT NULL DEFAULT 0,
    ended_at BIGINT,
    -- The provider's reusable payment method, for renewals.
    payment_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One live subscription per viewer and plan, even when two orders race.
CREATE UNIQUE INDEX commerce_subscriptions_live ON commerce_subscriptions (user_id, plan_id)
    WHERE state IN ('trialing', 'active', 'past_due');
CREATE INDEX commerce_subscriptions_user ON commerce_subscriptions (user_id, id);
CREATE INDEX commerce_subscriptions_due ON commerce_subscriptions (state, period_end);

CREATE TABLE commerce_rentals (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    title_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    watch_window_ms BIGINT NOT NULL,
    expires_unplayed_at BIGINT NOT NULL,
    first_played_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX commerce_rentals_user ON commerce_rentals (user_id, title_id);

CREATE TABLE commerce_purchases (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    title_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX commerce_purchases_user ON commerce_purchases (user_id, title_id);

-- Every charge asked of the provider: an order's first, or a subscription's renewal (one per period end and
-- attempt: 0 at the period's end, then the retries while past due).
CREATE TABLE commerce_charges (
    id TEXT PRIMARY KEY,
    order_id TEXT,
    subscription_id TEXT,
    renewal_of BIGINT,
    attempt BIGINT NOT NULL DEFAULT 0,
    provider TEXT NOT NULL,
    provider_charge_id TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('requested', 'pending', 'succeeded', 'failed', 'refunded')),
    failure_code TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (subscription_id, renewal_of, attempt)
);
CREATE UNIQUE INDEX commerce_charges_provider ON commerce_charges (provider, provider_charge_id);
CREATE INDEX commerce_charges_order ON commerce_charges (order_id);

-- Provider events handled, so a replayed delivery is never applied twice.
CREATE TABLE commerce_provider_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
