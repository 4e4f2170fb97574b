-- Campaigns, branches, the append-only ledger, kept totals and API tokens (PostgreSQL).
-- Instants are TEXT in RFC 3339 UTC with microseconds and dates TEXT YYYY-MM-DD, as on SQLite,
-- so that one set of queries reads both engines alike; fixed-width text sorts in time order.

CREATE TABLE campaigns (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug              TEXT    NOT NULL UNIQUE,
    currency          TEXT    NOT NULL,
    goal_minor        BIGINT  NOT NULL CHECK (goal_minor > 0),
    title_en          TEXT    NOT NULL,
    title_fr          TEXT    NOT NULL,
    description_en    TEXT    NOT NULL,
    description_fr    TEXT    NOT NULL,
    starts_at         TEXT,
    ends_at           TEXT,
    status            TEXT    NOT NULL CHECK (status IN ('draft', 'active', 'closed')),
    count_net_of_fees BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);

CREATE TABLE branches (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    slug        TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    goal_minor  BIGINT CHECK (goal_minor > 0),
    position    BIGINT NOT NULL,
    UNIQUE (campaign_id, slug)
);

CREATE TABLE ledger_entries (
    id                    BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id           BIGINT  NOT NULL REFERENCES campaigns (id),
    branch_id             BIGINT  REFERENCES branches (id),
    kind                  TEXT    NOT NULL CHECK (kind IN ('donation', 'refund', 'dispute', 'dispute_won', 'adjustment')),
    source                TEXT    NOT NULL CHECK (source IN ('online', 'offline')),
    method                TEXT    NOT NULL,
    amount_minor          BIGINT  NOT NULL CHECK (amount_minor <> 0),
    fee_minor             BIGINT  NOT NULL CHECK (fee_minor >= 0),
    net_minor             BIGINT  NOT NULL CHECK (net_minor = amount_minor - fee_minor),
    currency              TEXT    NOT NULL,
    donor_key             TEXT    NOT NULL,
    donor_name            TEXT,
    donor_email           TEXT,
    anonymous             BOOLEAN NOT NULL,
    public_message        TEXT,
    recurring             BOOLEAN NOT NULL,
    received_on           TEXT    NOT NULL,
    recorded_at           TEXT    NOT NULL,
    recorded_by           TEXT    NOT NULL,
    reference             TEXT,
    reason                TEXT,
    reverses_entry_id     BIGINT  REFERENCES ledger_entries (id),
    origin_entry_id       BIGINT  REFERENCES ledger_entries (id),
    idempotency_key       TEXT    UNIQUE
);
CREATE INDEX ledger_entries_campaign ON ledger_entries (campaign_id, id);
CREATE INDEX ledger_entries_origin ON ledger_entries (origin_entry_id);
CREATE INDEX ledger_entries_received_on ON ledger_entries (received_on);

-- The ledger is append-only: a correction is a new entry that points at what it reverses.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- Totals kept in the same transaction as the entries that move them.
CREATE TABLE campaign_totals (
    campaign_id             BIGINT PRIMARY KEY REFERENCES campaigns (id),
    version                 BIGINT NOT NULL DEFAULT 0,
    gross_minor             BIGINT NOT NULL DEFAULT 0,
    net_minor               BIGINT NOT NULL DEFAULT 0,
    online_gross_minor      BIGINT NOT NULL DEFAULT 0,
    online_net_minor        BIGINT NOT NULL DEFAULT 0,
    offline_minor           BIGINT NOT NULL DEFAULT 0,
    donations               BIGINT NOT NULL DEFAULT 0,
    donors                  BIGINT NOT NULL DEFAULT 0,
    recurring_active        BIGINT NOT NULL DEFAULT 0,
    recurring_monthly_minor BIGINT NOT NULL DEFAULT 0,
    updated_at              TEXT   NOT NULL
);

CREATE TABLE branch_totals (
    branch_id   BIGINT PRIMARY KEY REFERENCES branches (id),
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    gross_minor BIGINT NOT NULL DEFAULT 0,
    net_minor   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE donor_totals (
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    donor_key   TEXT   NOT NULL,
    gross_minor BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, donor_key)
);

CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'treasurer', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
