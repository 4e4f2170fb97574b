-- Emails to supporters about their subscriptions, through the same outbox as the admins'
-- (issue 15): `kind` says which (payment_failed, payment_recovered, renewal_notice), `data` holds what the
-- sender needs to write it (JSON: the invoice, the language), written at send time into
-- `subject` and `body`; `subscription_id` ties it to its subscription for treasurers.
-- `once_key` makes each at most once ("payment_failed:in_..."), however often Stripe tells;
-- `cancelled_at` puts aside one not sent yet that no longer applies.
-- Such rows are due by `send_after` and keep `next_attempt_at` empty, so that an older
-- instance's sender, which reads only `next_attempt_at`, never sends one half-written.
-- Expand-only.
ALTER TABLE outbox_emails ADD COLUMN kind TEXT;
ALTER TABLE outbox_emails ADD COLUMN subscription_id TEXT;
ALTER TABLE outbox_emails ADD COLUMN data TEXT;
ALTER TABLE outbox_emails ADD COLUMN once_key TEXT;
ALTER TABLE outbox_emails ADD COLUMN cancelled_at TEXT;
ALTER TABLE outbox_emails ADD COLUMN send_after TEXT;
-- For a reminder: which of Stripe's tries it follows, so that a failure reported out of
-- order never moves it back.
ALTER TABLE outbox_emails ADD COLUMN stripe_attempt BIGINT;
CREATE UNIQUE INDEX outbox_emails_once ON outbox_emails (once_key) WHERE once_key IS NOT NULL;
CREATE INDEX outbox_emails_supporters_due ON outbox_emails (send_after)
    WHERE kind IS NOT NULL AND sent_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX outbox_emails_subscription ON outbox_emails (subscription_id, id) WHERE subscription_id IS NOT NULL;
-- Yearly subscriptions about to renew, for their notice a week before.
CREATE INDEX subscriptions_renewing ON subscriptions (current_period_end) WHERE billing_interval = 'year';
