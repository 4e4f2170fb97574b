-- A deposit posted twice (a double click, a form sent again) posts once: its idempotency key
-- (a dashboard form's one-time token, or the API's Idempotency-Key) is unique.
ALTER TABLE batches ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX batches_idempotency_key ON batches (idempotency_key);
