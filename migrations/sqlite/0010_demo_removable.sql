-- The ledger stays append-only, with one exemption: the demo's example entries (recorded by
-- "demo", which no person, token or command is called) may be deleted, with the demo campaign,
-- so that an instance tried with `serve --demo` can be cleaned before real use.
DROP TRIGGER ledger_entries_no_delete;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
WHEN OLD.recorded_by <> 'demo'
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;
