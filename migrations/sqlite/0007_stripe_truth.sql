-- Stripe's reports are facts: a fee may be negative (a dispute fee Stripe gives back), a
-- refund that Stripe fails or cancels is undone by a `refund_failed` entry, events that
-- cannot be applied are kept with their error and attempts, and what needs a treasurer's
-- look (an over-reversed gift, a gift that cannot be counted) is flagged.
--
-- SQLite cannot change a CHECK constraint in place: the ledger is copied into a new table
-- with the same rows and ids, which then takes the old name (its self-references follow).

CREATE TABLE ledger_entries_v7 (
    id                    INTEGER PRIMARY KEY,
    campaign_id           BIGINT  NOT NULL REFERENCES campaigns (id),
    branch_id             BIGINT  REFERENCES branches (id),
    kind                  TEXT    NOT NULL CHECK (kind IN ('donation', 'refund', 'refund_failed', 'dispute', 'dispute_won', 'adjustment')),
    source                TEXT    NOT NULL CHECK (source IN ('online', 'offline')),
    method                TEXT    NOT NULL,
    amount_minor          BIGINT  NOT NULL CHECK (amount_minor <> 0),
    fee_minor             BIGINT  NOT NULL,
    net_minor             BIGINT  NOT NULL CHECK (net_minor = amount_minor - fee_minor),
    currency              TEXT    NOT NULL,
    donor_key             TEXT    NOT NULL,
    donor_name            TEXT,
    donor_email           TEXT,
    anonymous             INTEGER NOT NULL,
    public_message        TEXT,
    recurring             INTEGER NOT NULL,
    received_on           TEXT    NOT NULL,
    recorded_at           TEXT    NOT NULL,
    recorded_by           TEXT    NOT NULL,
    reference             TEXT,
    reason                TEXT,
    reverses_entry_id     BIGINT  REFERENCES ledger_entries_v7 (id),
    origin_entry_id       BIGINT  REFERENCES ledger_entries_v7 (id),
    idempotency_key       TEXT    UNIQUE,
    stripe_payment_intent TEXT,
    stripe_charge         TEXT,
    stripe_invoice        TEXT,
    stripe_subscription   TEXT,
    stripe_balance_transaction TEXT,
    stripe_refund         TEXT,
    stripe_dispute        TEXT,
    presented_amount_minor BIGINT,
    presented_currency    TEXT,
    received_at           TEXT,
    batch_id              BIGINT  REFERENCES batches (id)
);
INSERT INTO ledger_entries_v7 (id, campaign_id, branch_id, kind, source, method, amount_minor, fee_minor,
    net_minor, currency, donor_key, donor_name, donor_email, anonymous, public_message, recurring,
    received_on, recorded_at, recorded_by, reference, reason, reverses_entry_id, origin_entry_id,
    idempotency_key, stripe_payment_intent, stripe_charge, stripe_invoice, stripe_subscription,
    stripe_balance_transaction, stripe_refund, stripe_dispute, presented_amount_minor, presented_currency,
    received_at, batch_id)
SELECT id, campaign_id, branch_id, kind, source, method, amount_minor, fee_minor,
    net_minor, currency, donor_key, donor_name, donor_email, anonymous, public_message, recurring,
    received_on, recorded_at, recorded_by, reference, reason, reverses_entry_id, origin_entry_id,
    idempotency_key, stripe_payment_intent, stripe_charge, stripe_invoice, stripe_subscription,
    stripe_balance_transaction, stripe_refund, stripe_dispute, presented_amount_minor, presented_currency,
    received_at, batch_id
FROM ledger_entries ORDER BY id;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v7 RENAME TO ledger_entries;
CREATE INDEX ledger_entries_campaign ON ledger_entries (campaign_id, id);
CREATE INDEX ledger_entries_origin ON ledger_entries (origin_entry_id);
CREATE INDEX ledger_entries_received_on ON ledger_entries (received_on);
CREATE INDEX ledger_entries_stripe_charge ON ledger_entries (stripe_charge);
CREATE INDEX ledger_entries_received_at ON ledger_entries (received_at);
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;

-- Events that failed keep their payload, error and attempts: `failing` ones are tried again
-- (by reconcile and by Stripe's own retries), `quarantined` ones wait for a treasurer, who
-- may apply them again or dismiss them with a reason.
CREATE TABLE stripe_events_v7 (
    id          TEXT   PRIMARY KEY,
    type        TEXT   NOT NULL,
    created     BIGINT NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('applied', 'ignored', 'deferred', 'failing', 'quarantined', 'dismissed')),
    waiting_for TEXT,
    payload     TEXT,
    source      TEXT   NOT NULL,
    received_at TEXT   NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    failed_at   TEXT,
    resolved_by TEXT,
    resolution  TEXT
);
INSERT INTO stripe_events_v7 (id, type, created, status, waiting_for, payload, source, received_at)
SELECT id, type, created, status, waiting_for, payload, source, received_at FROM stripe_events;
DROP TABLE stripe_events;
ALTER TABLE stripe_events_v7 RENAME TO stripe_events;
CREATE INDEX stripe_events_waiting ON stripe_events (waiting_for);
CREATE INDEX stripe_events_status ON stripe_events (status);

-- What Stripe reported that a treasurer must look at: a gift Stripe took back more of than
-- it held, or money that cannot be counted in its campaign's currency (held, not dropped:
-- `held` is the entry as it would be recorded, waiting for the amount a treasurer gives).
CREATE TABLE stripe_flags (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('over_reversed', 'uncounted')),
    subject       TEXT    NOT NULL UNIQUE,
    campaign_id   BIGINT  NOT NULL REFERENCES campaigns (id),
    branch_id     BIGINT  REFERENCES branches (id),
    entry_id      BIGINT  REFERENCES ledger_entries (id),
    stripe_charge TEXT,
    detail        TEXT    NOT NULL,
    reported      TEXT    NOT NULL,
    held          TEXT,
    raised_at     TEXT    NOT NULL,
    resolved_at   TEXT,
    resolved_by   TEXT,
    resolution    TEXT
);
CREATE INDEX stripe_flags_open ON stripe_flags (resolved_at, id);

-- Each dispute as Stripe last described it, inquiries included: money moves by its
-- balance transactions (in the ledger), its state is shown to treasurers.
CREATE TABLE disputes (
    id              TEXT    PRIMARY KEY,
    stripe_charge   TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    reason          TEXT,
    amount_minor    BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    evidence_due_by TEXT,
    stripe_updated  BIGINT  NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX disputes_charge ON disputes (stripe_charge);

-- Payouts only move forward: the newest word (Stripe's event time) and the status order.
ALTER TABLE payouts ADD COLUMN stripe_updated BIGINT NOT NULL DEFAULT 0;
