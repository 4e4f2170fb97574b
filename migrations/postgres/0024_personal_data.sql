-- Personal data leaves the ledger (issue 15, erasure). A person's name, email and message now
-- live in tables of their own, which erasing a person empties, so that the ledger itself is
-- never changed:
--   `donors`          one row a donor: the opaque key the ledger, the donor totals, the
--                     statements and the merges use (`d-…`), and the `lookup` (`email:…` or
--                     `name:…`) that finds it from what a gift says; erasing sets `lookup`
--                     to NULL and `forgotten_at`, and the key then names no one.
--   `donor_details`   the name, email and message given with one ledger entry.
--   `statement_addressees` the name and email a statement is made out to.
-- Gifts with neither name nor email keep their `unnamed:` key, which names no one.
--
-- This is a contract step: the ledger's donor_name, donor_email and public_message go, and
-- donor keys change. Stop instances older than this migration before it runs.

CREATE TABLE donors (
    key          TEXT PRIMARY KEY,
    lookup       TEXT UNIQUE,
    forgotten_at TEXT
);
INSERT INTO donors (key, lookup)
SELECT 'd-' || substr(md5(random()::text || clock_timestamp()::text || natural_key), 1, 20), natural_key FROM (
    SELECT donor_key AS natural_key FROM ledger_entries
    UNION SELECT donor_key FROM donor_totals
    UNION SELECT donor_key FROM statements
    UNION SELECT from_key FROM donor_merges
    UNION SELECT into_key FROM donor_merges
) AS keys WHERE natural_key NOT LIKE 'unnamed:%';

CREATE TABLE donor_details (
    entry_id BIGINT PRIMARY KEY REFERENCES ledger_entries (id),
    name     TEXT,
    email    TEXT,
    message  TEXT
);
INSERT INTO donor_details (entry_id, name, email, message)
SELECT id, donor_name, donor_email, public_message FROM ledger_entries
WHERE donor_name IS NOT NULL OR donor_email IS NOT NULL OR public_message IS NOT NULL;

CREATE TABLE statement_addressees (
    statement_id BIGINT PRIMARY KEY REFERENCES statements (id),
    name         TEXT,
    email        TEXT
);
INSERT INTO statement_addressees (statement_id, name, email)
SELECT id, body::jsonb ->> 'name', body::jsonb ->> 'email' FROM statements;

-- The append-only rule is lifted for this one rewrite, and restored as it was.
ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only;
ALTER TABLE statements DISABLE TRIGGER statements_append_only;
ALTER TABLE donor_merges DISABLE TRIGGER donor_merges_append_only;

-- Each row is rewritten once, without the personal fields, so that no live row version keeps
-- them (the old versions stay on disk until VACUUM FULL: see the README's upgrade note).
UPDATE ledger_entries SET
    donor_key = COALESCE((SELECT d.key FROM donors d WHERE d.lookup = ledger_entries.donor_key), donor_key),
    donor_name = NULL, donor_email = NULL, public_message = NULL;
UPDATE donor_totals SET donor_key = d.key FROM donors d WHERE d.lookup = donor_totals.donor_key;
UPDATE statements SET donor_key = COALESCE((SELECT d.key FROM donors d WHERE d.lookup = statements.donor_key), donor_key),
    body = ((body::jsonb) - 'name' - 'email')::text;
UPDATE donor_merges SET
    from_key = COALESCE((SELECT d.key FROM donors d WHERE d.lookup = donor_merges.from_key), from_key),
    into_key = COALESCE((SELECT d.key FROM donors d WHERE d.lookup = donor_merges.into_key), into_key);

ALTER TABLE ledger_entries DROP COLUMN donor_name;
ALTER TABLE ledger_entries DROP COLUMN donor_email;
ALTER TABLE ledger_entries DROP COLUMN public_message;

ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only;
ALTER TABLE statements ENABLE TRIGGER statements_append_only;
ALTER TABLE donor_merges ENABLE TRIGGER donor_merges_append_only;
