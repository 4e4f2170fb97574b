-- Source attribution: the `ref` a gift came with (a link's, a form's, a treasurer's), on the
-- checkout, the ledger entry and the subscription (whose installments keep its first one).
-- Expand-only: older instances ignore the columns. No index: the sources report reads one
-- campaign's entries (by the campaign index), and every gift's insert stays as cheap as it was.
ALTER TABLE checkout_intents ADD COLUMN source_ref TEXT;
ALTER TABLE ledger_entries ADD COLUMN source_ref TEXT;
ALTER TABLE subscriptions ADD COLUMN source_ref TEXT;
