-- Recurring health (issue 15): each subscription's status changes, kept with their date, so
-- that the month-by-month figures (active, new, recovered, cancelled, ended by failed
-- payments), the cohorts and the projection come from the recorded history. A row is written
-- in the transaction that stores a new status or amount; rows are never changed.
-- `changed_at` is when Stripe says it happened (the start, the end, the event's time);
-- `end_reason` is Stripe's `cancellation_details.reason` (cancellation_requested,
-- payment_failed, payment_disputed) on the row that ends it.
-- Expand-only: older instances neither write nor read this table and these columns.

ALTER TABLE subscriptions ADD COLUMN started_at TEXT;
ALTER TABLE subscriptions ADD COLUMN ended_at TEXT;
ALTER TABLE subscriptions ADD COLUMN end_reason TEXT;

CREATE TABLE subscription_changes (
    id              INTEGER PRIMARY KEY,
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id),
    campaign_id     BIGINT  NOT NULL REFERENCES campaigns (id),
    status          TEXT    NOT NULL,
    monthly_minor   BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    end_reason      TEXT,
    changed_at      TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL
);
CREATE INDEX subscription_changes_subscription ON subscription_changes (subscription_id, id);
CREATE INDEX subscription_changes_campaign ON subscription_changes (campaign_id, changed_at);

-- What is known of the subscriptions already stored: they started when first stored, and
-- those that ended, ended when last changed.
UPDATE subscriptions SET started_at = created_at;
INSERT INTO subscription_changes (subscription_id, campaign_id, status, monthly_minor, currency, changed_at, recorded_at)
SELECT id, campaign_id, CASE WHEN status = 'canceled' THEN 'active' ELSE status END, monthly_minor, currency,
    created_at, created_at
FROM subscriptions ORDER BY created_at, id;
INSERT INTO subscription_changes (subscription_id, campaign_id, status, monthly_minor, currency, changed_at, recorded_at)
SELECT id, campaign_id, status, monthly_minor, currency, COALESCE(cancelled_at, updated_at), updated_at
FROM subscriptions WHERE status = 'canceled' ORDER BY updated_at, id;

CREATE TRIGGER subscription_changes_no_update BEFORE UPDATE ON subscription_changes
BEGIN
    SELECT RAISE(ABORT, 'subscription_changes is append-only');
END;
CREATE TRIGGER subscription_changes_no_delete BEFORE DELETE ON subscription_changes
BEGIN
    SELECT RAISE(ABORT, 'subscription_changes is append-only');
END;
