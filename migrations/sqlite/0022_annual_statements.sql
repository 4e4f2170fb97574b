-- Annual statements (issue 15): one a donor and calendar year (and, when made for one
-- campaign, a campaign), numbered in order within the year, kept as issued (`body`: JSON of
-- the donor's name and email, the lines and the totals). A corrected year issues a new
-- statement that names the one it replaces (`replaces_id`); none is ever changed. The email
-- that sends one goes through the outbox (once_key `statement:{id}`).
-- Expand-only: older instances neither write nor read this table.

CREATE TABLE statements (
    id          INTEGER PRIMARY KEY,
    year        BIGINT  NOT NULL,
    number      BIGINT  NOT NULL,
    donor_key   TEXT    NOT NULL,
    campaign_id BIGINT  REFERENCES campaigns (id),
    locale      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    total_minor BIGINT  NOT NULL,
    replaces_id BIGINT  REFERENCES statements (id),
    issued_at   TEXT    NOT NULL,
    -- The day it was issued, in the organization's time zone, as printed.
    issued_on   TEXT    NOT NULL,
    issued_by   TEXT    NOT NULL,
    UNIQUE (year, number),
    UNIQUE (replaces_id)
);
CREATE INDEX statements_donor ON statements (year, donor_key, id);
-- One first statement a donor, year and campaign (or none): two runs at once cannot both
-- issue one (the second fails and is run again).
CREATE UNIQUE INDEX statements_first ON statements (year, donor_key, COALESCE(campaign_id, 0))
    WHERE replaces_id IS NULL;
-- A donor's gifts, for their own page (`/manage`) and their statements.
CREATE INDEX ledger_entries_donor ON ledger_entries (donor_key, id);

CREATE TRIGGER statements_no_update BEFORE UPDATE ON statements
BEGIN
    SELECT RAISE(ABORT, 'statements is append-only');
END;
CREATE TRIGGER statements_no_delete BEFORE DELETE ON statements
BEGIN
    SELECT RAISE(ABORT, 'statements is append-only');
END;
