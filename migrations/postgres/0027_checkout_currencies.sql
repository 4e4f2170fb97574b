-- Other currencies a supporter may give a one-off gift in (issue 16): ISO 4217 codes,
-- comma-separated, beside the campaign's own; '' for none. Stripe charges in the one chosen
-- and the ledger counts what it settles. Expand-only: older instances ignore the column.
ALTER TABLE campaigns ADD COLUMN checkout_currencies TEXT NOT NULL DEFAULT '';
