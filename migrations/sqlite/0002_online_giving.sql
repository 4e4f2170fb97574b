-- Online giving through Stripe: checkout intents, processed events, subscriptions,
-- Stripe references on ledger entries, and each campaign's checkout limits and fee formula.

ALTER TABLE campaigns ADD COLUMN checkout_min_minor BIGINT NOT NULL DEFAULT 200;
ALTER TABLE campaigns ADD COLUMN checkout_max_minor BIGINT;
-- Processing fee a donor may choose to cover: basis points of the total plus a fixed amount.
ALTER TABLE campaigns ADD COLUMN fee_percent_bp BIGINT NOT NULL DEFAULT 290;
ALTER TABLE campaigns ADD COLUMN fee_fixed_minor BIGINT NOT NULL DEFAULT 30;

ALTER TABLE ledger_entries ADD COLUMN stripe_payment_intent TEXT;
ALTER TABLE ledger_entries ADD COLUMN stripe_charge TEXT;
ALTER TABLE ledger_entries ADD COLUMN stripe_invoice TEXT;
ALTER TABLE ledger_entries ADD COLUMN stripe_subscription TEXT;
ALTER TABLE ledger_entries ADD COLUMN stripe_balance_transaction TEXT;
ALTER TABLE ledger_entries ADD COLUMN stripe_refund TEXT;
ALTER TABLE ledger_entries ADD COLUMN stripe_dispute TEXT;
-- What the donor was charged when it differs from the campaign currency.
ALTER TABLE ledger_entries ADD COLUMN presented_amount_minor BIGINT;
ALTER TABLE ledger_entries ADD COLUMN presented_currency TEXT;
CREATE INDEX ledger_entries_stripe_charge ON ledger_entries (stripe_charge);

-- A supporter's choices, stored before Stripe is called; Checkout metadata points here.
CREATE TABLE checkout_intents (
    id                TEXT    PRIMARY KEY,
    campaign_id       BIGINT  NOT NULL REFERENCES campaigns (id),
    branch_id         BIGINT  REFERENCES branches (id),
    billing_interval  TEXT    NOT NULL CHECK (billing_interval IN ('once', 'month', 'year')),
    amount_minor      BIGINT  NOT NULL CHECK (amount_minor > 0),
    fee_cover_minor   BIGINT  NOT NULL CHECK (fee_cover_minor >= 0),
    currency          TEXT    NOT NULL,
    donor_name        TEXT,
    donor_email       TEXT,
    anonymous         INTEGER NOT NULL,
    public_message    TEXT,
    locale            TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('created', 'open', 'completed', 'failed')),
    stripe_session    TEXT    UNIQUE,
    stripe_payment_intent TEXT,
    stripe_subscription TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);

-- Every Stripe event applied (or waiting for what it refers to), under its unique id.
CREATE TABLE stripe_events (
    id          TEXT   PRIMARY KEY,
    type        TEXT   NOT NULL,
    created     BIGINT NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('applied', 'ignored', 'deferred')),
    waiting_for TEXT,
    payload     TEXT,
    source      TEXT   NOT NULL,
    received_at TEXT   NOT NULL
);
CREATE INDEX stripe_events_waiting ON stripe_events (waiting_for);

CREATE TABLE subscriptions (
    id                   TEXT    PRIMARY KEY,
    campaign_id          BIGINT  NOT NULL REFERENCES campaigns (id),
    branch_id            BIGINT  REFERENCES branches (id),
    intent_id            TEXT,
    status               TEXT    NOT NULL,
    amount_minor         BIGINT  NOT NULL,
    currency             TEXT    NOT NULL,
    billing_interval     TEXT    NOT NULL CHECK (billing_interval IN ('month', 'year')),
    billing_count        BIGINT  NOT NULL,
    monthly_minor        BIGINT  NOT NULL,
    donor_name           TEXT,
    donor_email          TEXT,
    stripe_customer      TEXT,
    current_period_end   TEXT,
    cancel_at_period_end INTEGER NOT NULL,
    cancelled_at         TEXT,
    stripe_updated       BIGINT  NOT NULL,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);
CREATE INDEX subscriptions_campaign ON subscriptions (campaign_id, status);
