-- Exchange rates, kept and sourced (issue 16): `1 base = rate quote` on a day, from a source
-- (a treasurer's bank statement, or the European Central Bank's reference rates imported
-- from its files). One rate a pair, day and source: a correction replaces it, and is audited.
-- Expand-only: older instances neither read nor write this table.

CREATE TABLE exchange_rates (
    id          INTEGER PRIMARY KEY,
    base        TEXT    NOT NULL,
    quote       TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    rate        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    recorded_by TEXT    NOT NULL,
    UNIQUE (base, quote, day, source)
);
