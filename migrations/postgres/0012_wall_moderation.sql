-- What staff decided about a gift on the public donor wall: its donor's name hidden, its
-- message shown or hidden (with APPEAL_HOLD_MESSAGES, messages wait for one to be shown).
-- The ledger entry itself never changes.
CREATE TABLE wall_moderation (
    entry_id    BIGINT  PRIMARY KEY REFERENCES ledger_entries (id),
    name_hidden BOOLEAN NOT NULL DEFAULT FALSE,
    message     TEXT    NOT NULL DEFAULT 'undecided' CHECK (message IN ('undecided', 'shown', 'hidden')),
    decided_by  TEXT    NOT NULL,
    decided_at  TEXT    NOT NULL
);
