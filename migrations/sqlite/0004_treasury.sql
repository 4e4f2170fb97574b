-- Treasurers: the instant online money was received (exports date it in the organization's
-- time zone), and offline deposits entered as batches with a declared count and total.

CREATE TABLE batches (
    id                   INTEGER PRIMARY KEY,
    campaign_id          BIGINT  NOT NULL REFERENCES campaigns (id),
    reference            TEXT    NOT NULL,
    deposited_on         TEXT    NOT NULL,
    declared_count       BIGINT  NOT NULL CHECK (declared_count > 0),
    declared_total_minor BIGINT  NOT NULL CHECK (declared_total_minor > 0),
    recorded_at          TEXT    NOT NULL,
    recorded_by          TEXT    NOT NULL
);

ALTER TABLE ledger_entries ADD COLUMN received_at TEXT;
ALTER TABLE ledger_entries ADD COLUMN batch_id BIGINT REFERENCES batches (id);
CREATE INDEX ledger_entries_received_at ON ledger_entries (received_at);
