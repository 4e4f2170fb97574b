-- Stripe's reports are facts: a fee may be negative (a dispute fee Stripe gives back), a
-- refund that Stripe fails or cancels is undone by a `refund_failed` entry, events that
-- cannot be applied are kept with their error and attempts, and what needs a treasurer's
-- look (an over-reversed gift, a gift that cannot be counted) is flagged.

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_fee_minor_check;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('donation', 'refund', 'refund_failed', 'dispute', 'dispute_won', 'adjustment'));

-- Events that failed keep their payload, error and attempts: `failing` ones are tried again
-- (by reconcile and by Stripe's own retries), `quarantined` ones wait for a treasurer, who
-- may apply them again or dismiss them with a reason.
ALTER TABLE stripe_events DROP CONSTRAINT stripe_events_status_check;
ALTER TABLE stripe_events ADD CONSTRAINT stripe_events_status_check
    CHECK (status IN ('applied', 'ignored', 'deferred', 'failing', 'quarantined', 'dismissed'));
ALTER TABLE stripe_events ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stripe_events ADD COLUMN last_error TEXT;
ALTER TABLE stripe_events ADD COLUMN failed_at TEXT;
ALTER TABLE stripe_events ADD COLUMN resolved_by TEXT;
ALTER TABLE stripe_events ADD COLUMN resolution TEXT;
CREATE INDEX stripe_events_status ON stripe_events (status);

-- What Stripe reported that a treasurer must look at: a gift Stripe took back more of than
-- it held, or money that cannot be counted in its campaign's currency (held, not dropped:
-- `held` is the entry as it would be recorded, waiting for the amount a treasurer gives).
CREATE TABLE stripe_flags (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
