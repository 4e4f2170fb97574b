-- Outgoing webhooks: the endpoints admins register, the outbox of events written in the same
-- transaction as the change that causes them, one delivery per endpoint and event, and the
-- log of every attempt. Expand-only: older instances neither write nor read these tables.
-- A campaign remembers when its goal was first reached, so that it is announced once.

CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL,
    -- The event types wanted, each between commas: ",donation.recorded,batch.posted,".
    events          TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    created_at      TEXT    NOT NULL,
    created_by      TEXT    NOT NULL,
    last_success_at TEXT
);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT    NOT NULL UNIQUE,
    event_type    TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    -- Set once a delivery is made for every endpoint that wanted the event.
    dispatched_at TEXT
);
CREATE INDEX outbox_waiting ON outbox (id) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_created ON outbox (created_at);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     BIGINT  NOT NULL REFERENCES webhook_endpoints (id),
    outbox_id       BIGINT  NOT NULL REFERENCES outbox (id),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT,
    UNIQUE (endpoint_id, outbox_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  BIGINT  NOT NULL REFERENCES webhook_deliveries (id),
    endpoint_id  BIGINT  NOT NULL REFERENCES webhook_endpoints (id),
    attempted_at TEXT    NOT NULL,
    status       BIGINT,
    latency_ms   BIGINT  NOT NULL,
    answer       TEXT,
    replay       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

ALTER TABLE campaigns ADD COLUMN goal_reached_at TEXT;
ALTER TABLE campaigns ADD COLUMN goal_reached_minor BIGINT;

-- Emails appeal sends on its own (an endpoint disabled, and later failed payments), written in
-- the same transaction as what causes them and sent by the same background sender.
CREATE TABLE outbox_emails (
    id              INTEGER PRIMARY KEY,
    to_address      TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    sent_at         TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_emails_due ON outbox_emails (next_attempt_at) WHERE sent_at IS NULL;
