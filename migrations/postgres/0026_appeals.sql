-- Appeals (issue 16): campaigns of this instance and of other sections' instances, gathered
-- under one reporting currency and goal. Expand-only: older instances neither read nor write
-- these tables.

CREATE TABLE appeals (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    title_en    TEXT    NOT NULL,
    title_fr    TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    goal_minor  BIGINT  NOT NULL CHECK (goal_minor > 0),
    -- 'fixed': each currency at the rate set at launch (given, or the rates table's of the
    -- launch day); 'latest': the rates table's latest.
    rate_policy TEXT    NOT NULL CHECK (rate_policy IN ('fixed', 'latest')),
    launched_on TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- `1 currency = rate` of the appeal's currency, under the fixed policy: given (no day or
-- source), or frozen from exchange_rates the first time a member needed it (with that rate's
-- day and source), so that a later correction of the table does not move a fixed total.
CREATE TABLE appeal_fixed_rates (
    appeal_id BIGINT NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    currency  TEXT   NOT NULL,
    rate      TEXT   NOT NULL,
    day       TEXT,
    source    TEXT,
    PRIMARY KEY (appeal_id, currency)
);

-- A member is a campaign of this instance or the public progress URL of a campaign on
-- another instance; of a remote, what it last said and when it was last heard from.
CREATE TABLE appeal_members (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appeal_id       BIGINT  NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    campaign_id     BIGINT  REFERENCES campaigns (id) ON DELETE CASCADE,
    url             TEXT,
    name            TEXT,
    remote_campaign TEXT,
    remote_currency TEXT,
    remote_raised   BIGINT,
    remote_goal     BIGINT,
    remote_donations BIGINT,
    remote_donors   BIGINT,
    remote_updated_at TEXT,
    etag            TEXT,
    heard_at        TEXT,
    tried_at        TEXT,
    failure         TEXT,
    CHECK ((campaign_id IS NULL) <> (url IS NULL)),
    UNIQUE (appeal_id, campaign_id),
    UNIQUE (appeal_id, url)
);
CREATE INDEX appeal_members_url ON appeal_members (url) WHERE url IS NOT NULL;
