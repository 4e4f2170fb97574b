-- Source attribution: the `ref` a gift came with (a link's, a form's, a treasurer's), on the
-- checkout, the ledger entry and the subscription (whose installments keep its first one).
-- Expand-only: older instances ignore the columns.
ALTER TABLE checkout_intents ADD COLUMN source_ref TEXT;
ALTER TABLE ledger_entries ADD COLUMN source_ref TEXT;
ALTER TABLE subscriptions ADD COLUMN source_ref TEXT;
CREATE INDEX ledger_entries_campaign_source_ref ON ledger_entries (campaign_id, source_ref);
