-- Donor self-service: one-time, expiring links to a subscription's Stripe Billing Portal.
CREATE TABLE manage_tokens (
    token_hash TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    customer   TEXT NOT NULL,
    locale     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
