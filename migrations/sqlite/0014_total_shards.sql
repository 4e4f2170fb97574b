-- A campaign's (and a branch's) kept totals, spread over a fixed number of shard rows: each
-- transaction adds to one shard chosen for it, so concurrent gifts to one campaign do not
-- queue on one row. A figure is the sum of the base row (campaign_totals, branch_totals:
-- what older versions wrote) and its shards. Expand-only: older instances keep reading the
-- base rows alone, and show figures without the shards' share until they are replaced.
CREATE TABLE campaign_total_shards (
    campaign_id        BIGINT NOT NULL REFERENCES campaigns (id),
    shard              BIGINT NOT NULL,
    gross_minor        BIGINT NOT NULL DEFAULT 0,
    net_minor          BIGINT NOT NULL DEFAULT 0,
    online_gross_minor BIGINT NOT NULL DEFAULT 0,
    online_net_minor   BIGINT NOT NULL DEFAULT 0,
    offline_minor      BIGINT NOT NULL DEFAULT 0,
    donations          BIGINT NOT NULL DEFAULT 0,
    donors             BIGINT NOT NULL DEFAULT 0,
    updated_at         TEXT   NOT NULL,
    PRIMARY KEY (campaign_id, shard)
);

CREATE TABLE branch_total_shards (
    branch_id   BIGINT NOT NULL REFERENCES branches (id),
    shard       BIGINT NOT NULL,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    gross_minor BIGINT NOT NULL DEFAULT 0,
    net_minor   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (branch_id, shard)
);
CREATE INDEX branch_total_shards_campaign ON branch_total_shards (campaign_id);
