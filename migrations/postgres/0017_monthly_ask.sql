-- The monthly ask: what the thanks page of a one-off gift offers to give monthly, as a share
-- of the gift ("25%") or a fixed amount ("10.00"); none when NULL. Expand-only.
ALTER TABLE campaigns ADD COLUMN monthly_ask TEXT;
