-- Exchange rates, kept and sourced (issue 16): `1 base = rate quote` on a day, from a source
-- (a treasurer's bank statement, or the European Central Bank's reference rates imported
-- from its files). One rate a pair, day and source: a correction replaces it, and is audited.
-- Expand-only: older instances neither read nor write this table.

CREATE TABLE exchange_rates (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    base        TEXT    NOT NULL,
    quote       TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    rate        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    recorded_by TEXT    NOT NULL,
    UNIQUE (base, quote, day, source)
);

-- Money recorded in another currency than its campaign's keeps what was given
-- (presented_amount_minor, presented_currency) and the rate it was counted at, with that
-- rate's day and source. Nullable columns: older instances ignore them.
ALTER TABLE ledger_entries ADD COLUMN rate TEXT;
ALTER TABLE ledger_entries ADD COLUMN rate_on TEXT;
ALTER TABLE ledger_entries ADD COLUMN rate_source TEXT;
