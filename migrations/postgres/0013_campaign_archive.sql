-- A closed campaign may be archived: left out of lists (the public ones and the dashboard's
-- main table) while its page, figures and ledger stay. Expand-only: older instances ignore it.
ALTER TABLE campaigns ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
