-- Donors seen whole (issue 15): two records of one person (a gift by email and a cheque by
-- name, say) are merged by a merge record, never by editing the ledger: `from_key` is read as
-- `into_key` wherever a donor is shown whole (their page, the treasurers' donor pages, the
-- annual statements). A merge is undone by a new record naming it (`undoes_id`); none is
-- ever changed. Expand-only: older instances neither write nor read this table.

CREATE TABLE donor_merges (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_key  TEXT    NOT NULL,
    into_key  TEXT    NOT NULL,
    undoes_id BIGINT  UNIQUE REFERENCES donor_merges (id),
    reason    TEXT,
    at        TEXT    NOT NULL,
    by_actor  TEXT    NOT NULL
);
CREATE INDEX donor_merges_from ON donor_merges (from_key);

CREATE FUNCTION donor_merges_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'donor_merges is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER donor_merges_append_only BEFORE UPDATE OR DELETE ON donor_merges
    FOR EACH ROW EXECUTE FUNCTION donor_merges_append_only();
