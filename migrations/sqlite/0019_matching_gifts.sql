-- Matching gifts. A match offer: a matcher pledges to add `ratio` times each qualifying gift,
-- up to `cap_minor`, for gifts made between `starts_at` and `ends_at`. Each match a gift earns
-- (or a reversal takes back) is an append-only accrual written in the same transaction as the
-- entry; `matched_minor` keeps their sum (the cap is checked against it under the offer's
-- row lock). The matcher's payment is an ordinary ledger entry naming the offer it settles.
-- Expand-only: older instances neither write nor read these tables and columns.

CREATE TABLE match_offers (
    id            INTEGER PRIMARY KEY,
    campaign_id   BIGINT  NOT NULL REFERENCES campaigns (id),
    -- NULL: an anonymous matcher.
    matcher       TEXT,
    -- A positive decimal, as typed: "1", "0.5", "2".
    ratio         TEXT    NOT NULL,
    cap_minor     BIGINT  NOT NULL CHECK (cap_minor > 0),
    starts_at     TEXT    NOT NULL,
    ends_at       TEXT    NOT NULL,
    -- The gifts that qualify, each between commas: ",online,offline,new_donors,".
    qualifies     TEXT    NOT NULL,
    matched_minor BIGINT  NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    created_by    TEXT    NOT NULL
);
CREATE INDEX match_offers_campaign ON match_offers (campaign_id);

CREATE TABLE match_accruals (
    id              INTEGER PRIMARY KEY,
    offer_id        BIGINT NOT NULL REFERENCES match_offers (id),
    -- The gift that earned it, or the reversal that took some back.
    entry_id        BIGINT NOT NULL REFERENCES ledger_entries (id),
    -- The gift, for both.
    origin_entry_id BIGINT NOT NULL REFERENCES ledger_entries (id),
    -- 'gift' or 'reversal'.
    kind            TEXT   NOT NULL,
    amount_minor    BIGINT NOT NULL,
    recorded_at     TEXT   NOT NULL,
    UNIQUE (offer_id, entry_id)
);
CREATE INDEX match_accruals_origin ON match_accruals (origin_entry_id);

-- The offer a matcher's payment settles.
ALTER TABLE ledger_entries ADD COLUMN match_offer_id BIGINT REFERENCES match_offers (id);
CREATE INDEX ledger_entries_match ON ledger_entries (match_offer_id) WHERE match_offer_id IS NOT NULL;
-- Whether an installment is its subscription's first (for offers that match first installments).
CREATE INDEX ledger_entries_subscription ON ledger_entries (stripe_subscription, id)
    WHERE stripe_subscription IS NOT NULL;

-- Whether `raised` counts matched money once paid ('paid') or as soon as pledged ('pledged').
ALTER TABLE campaigns ADD COLUMN count_matches TEXT NOT NULL DEFAULT 'paid';

CREATE TRIGGER match_accruals_no_update BEFORE UPDATE ON match_accruals
BEGIN
    SELECT RAISE(ABORT, 'match_accruals is append-only');
END;
CREATE TRIGGER match_accruals_no_delete BEFORE DELETE ON match_accruals
BEGIN
    SELECT RAISE(ABORT, 'match_accruals is append-only');
END;
