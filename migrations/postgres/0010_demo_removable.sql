-- The ledger stays append-only, with one exemption: the demo's example entries (recorded by
-- "demo", which no person, token or command is called) may be deleted, with the demo campaign,
-- so that an instance tried with `serve --demo` can be cleaned before real use.
CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.recorded_by = 'demo' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger_entries is append-only';
END;
$$ LANGUAGE plpgsql;
