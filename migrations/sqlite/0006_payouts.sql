-- Stripe payouts and the balance transactions each one carried, for reconciliation.
CREATE TABLE payouts (
    id           TEXT   PRIMARY KEY,
    amount_minor BIGINT NOT NULL,
    currency     TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    arrival_date TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);

CREATE TABLE payout_items (
    payout_id           TEXT   NOT NULL REFERENCES payouts (id),
    balance_transaction TEXT   NOT NULL,
    type                TEXT   NOT NULL,
    source              TEXT,
    amount_minor        BIGINT NOT NULL,
    fee_minor           BIGINT NOT NULL,
    net_minor           BIGINT NOT NULL,
    PRIMARY KEY (payout_id, balance_transaction)
);
CREATE INDEX payout_items_transaction ON payout_items (balance_transaction);
