//! Campaigns and branches: create, change, read, and the kept totals behind progress.

use chrono::{DateTime, Utc};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::totals::{BRANCH_SUMMED, CAMPAIGN_SUMMED, branch_parts, campaign_parts, sums};
use super::{
    Store, StoreError, WriteTx, is_unique_violation, now, read_currency, read_flag, read_instant,
    read_optional_instant, stored_instant,
};
use crate::ledger::ask::MonthlyAsk;
use crate::ledger::campaign::{BranchSpec, CampaignDraft, CheckoutSettings, Localized};
use crate::ledger::goals::GoalRung;
use crate::ledger::outgoing::EventKind;
use crate::ledger::progress::{BranchTotals, CampaignTotals};
use crate::ledger::{Branch, Campaign, CampaignStatus, Slug};

/// The longest a Stripe Checkout Session stays open.
const CHECKOUT_LIFETIME_HOURS: i64 = 24;

const CAMPAIGN_COLUMNS: &str = "c.id, c.slug, c.currency, c.goal_minor, c.title_en, c.title_fr, \
     c.description_en, c.description_fr, c.starts_at, c.ends_at, c.status, c.archived, c.count_net_of_fees, c.count_matches, \
     c.checkout_min_minor, c.checkout_max_minor, c.fee_percent_bp, c.fee_fixed_minor, c.monthly_ask, \
     c.goal_reached_at, c.goal_reached_minor, c.stretch_goals, c.donor_goal, c.checkout_currencies, c.created_at, c.updated_at";

impl Store {
    /// Creates a campaign with its branches and zeroed totals, in one transaction.
    #[tracing::instrument(skip_all, fields(slug = %draft.slug))]
    pub async fn create_campaign(&self, draft: &CampaignDraft) -> Result<Campaign, StoreError> {
        let mut write = self.begin_write().await?;
        let at = stored_instant(now());
        let inserted = bind_draft(
            draft,
            "INSERT INTO campaigns (slug, currency, goal_minor, title_en, title_fr, description_en, \
             description_fr, starts_at, ends_at, status, count_net_of_fees, checkout_min_minor, \
             checkout_max_minor, fee_percent_bp, fee_fixed_minor, archived, monthly_ask, stretch_goals, donor_goal, \
             count_matches, checkout_currencies, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22) \
             RETURNING id",
        )
        .bind(&at)
        .fetch_one(&mut *write.tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::conflict("slug", "is already used by another campaign"));
            }
            Err(error) => return Err(error.into()),
        };
        sqlx::query("INSERT INTO campaign_totals (campaign_id, updated_at) VALUES ($1, $2)")
            .bind(id)
            .bind(&at)
            .execute(&mut *write.tx)
            .await?;
        if let Some(branches) = &draft.branches {
            replace_branches(&mut write, id, branches).await?;
        }
        let campaign = campaign_by_id(&mut write, id).await?;
        write.touch(id);
        write.commit().await?;
        Ok(campaign)
    }

    /// Changes a campaign. The currency may only change while its ledger is empty and no
    /// checkout or subscription is under way in it, and a branch that holds entries cannot be
    /// removed.
    #[tracing::instrument(skip_all, fields(campaign_id = id))]
    pub async fn update_campaign(&self, id: i64, draft: &CampaignDraft) -> Result<Campaign, StoreError> {
        let mut write = self.begin_write().await?;
        let current = campaign_by_id(&mut write, id).await?;
        if current.currency != draft.currency {
            let entries: i64 = sqlx::query("SELECT COUNT(*) AS n FROM ledger_entries WHERE campaign_id = $1")
                .bind(id)
                .fetch_one(&mut *write.tx)
                .await?
                .try_get("n")?;
            if entries > 0 {
                return Err(StoreError::conflict(
                    "currency",
                    "cannot change once the campaign holds ledger entries",
                ));
            }
            // A checkout or subscription already sent to Stripe pays in the old currency.
            let in_flight: i64 = sqlx::query(concat!(
                "SELECT (SELECT COUNT(*) FROM checkout_intents WHERE campaign_id = $1 \
                   AND status IN ('created', 'open') AND created_at >= $2) \
                 + (SELECT COUNT(*) FROM subscriptions WHERE campaign_id = $1 AND status NOT IN ",
                super::stripe::ended_subscription_statuses!(),
                ") AS n"
            ))
            .bind(id)
            .bind(stored_instant(now() - chrono::Duration::hours(CHECKOUT_LIFETIME_HOURS)))
            .fetch_one(&mut *write.tx)
            .await?
            .try_get("n")?;
            if in_flight > 0 {
                return Err(StoreError::conflict(
                    "currency",
                    "cannot change while supporters have checkouts open or subscriptions running in the current \
                     currency (a Stripe checkout stays open up to 24 hours)",
                ));
            }
        }
        let updated = bind_draft(
            draft,
            "UPDATE campaigns SET slug = $1, currency = $2, goal_minor = $3, title_en = $4, title_fr = $5, \
             description_en = $6, description_fr = $7, starts_at = $8, ends_at = $9, status = $10, \
             count_net_of_fees = $11, checkout_min_minor = $12, checkout_max_minor = $13, fee_percent_bp = $14, \
             fee_fixed_minor = $15, archived = $16, monthly_ask = $17, stretch_goals = $18, donor_goal = $19, \
             count_matches = $20, checkout_currencies = $21, updated_at = $22 WHERE id = $23",
        )
        .bind(stored_instant(now()))
        .bind(id)
        .execute(&mut *write.tx)
        .await;
        match updated {
            Ok(_) => {}
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::conflict("slug", "is already used by another campaign"));
            }
            Err(error) => return Err(error.into()),
        }
        if let Some(branches) = &draft.branches {
            replace_branches(&mut write, id, branches).await?;
        }
        let campaign = campaign_by_id(&mut write, id).await?;
        write.touch(id);
        write.commit().await?;
        Ok(campaign)
    }

    /// Deletes a campaign whose ledger is empty, or holds only the demo's example entries,
    /// with its branches, totals and abandoned checkouts. Money recorded, a subscription, a
    /// deposit, a flag, or a checkout a supporter may still be paying keep it.
    pub async fn delete_campaign(&self, id: i64) -> Result<(), StoreError> {
        let mut write = self.begin_write().await?;
        let count = |sql: &'static str| sqlx::query(sql).bind(id);
        let blockers: [(&'static str, &str); 5] = [
            (
                "SELECT COUNT(*) AS n FROM ledger_entries WHERE campaign_id = $1 AND recorded_by <> 'demo'",
                "holds ledger entries: close it instead (the books keep what was given)",
            ),
            (
                "SELECT COUNT(*) AS n FROM subscriptions WHERE campaign_id = $1",
                "has subscriptions: close it instead",
            ),
            ("SELECT COUNT(*) AS n FROM batches WHERE campaign_id = $1", "has deposits: close it instead"),
            (
                "SELECT COUNT(*) AS n FROM match_offers WHERE campaign_id = $1",
                "has match offers: close it instead",
            ),
            (
                "SELECT COUNT(*) AS n FROM stripe_flags WHERE campaign_id = $1",
                "has Stripe flags: close it instead",
            ),
        ];
        for (sql, message) in blockers {
            let found: i64 = count(sql).fetch_one(&mut *write.tx).await?.try_get("n")?;
            if found > 0 {
                return Err(StoreError::conflict("campaign", message));
            }
        }
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM checkout_intents WHERE campaign_id = $1 AND status IN ('created', 'open') \
             AND created_at >= $2",
        )
        .bind(id)
        .bind(stored_instant(now() - chrono::Duration::hours(CHECKOUT_LIFETIME_HOURS)))
        .fetch_one(&mut *write.tx)
        .await?
        .try_get("n")?;
        if open > 0 {
            return Err(StoreError::conflict(
                "campaign",
                "has a checkout a supporter may still be paying (a Stripe checkout stays open up to 24 hours)",
            ));
        }
        for sql in [
            "DELETE FROM donor_totals WHERE campaign_id = $1",
            "DELETE FROM branch_total_shards WHERE campaign_id = $1",
            "DELETE FROM branch_totals WHERE campaign_id = $1",
            "DELETE FROM campaign_total_shards WHERE campaign_id = $1",
            "DELETE FROM campaign_totals WHERE campaign_id = $1",
            "DELETE FROM wall_moderation WHERE entry_id IN (SELECT id FROM ledger_entries WHERE campaign_id = $1)",
            "DELETE FROM donor_details WHERE entry_id IN (SELECT id FROM ledger_entries WHERE campaign_id = $1)",
            "DELETE FROM ledger_entries WHERE campaign_id = $1",
            "DELETE FROM checkout_intents WHERE campaign_id = $1",
            "DELETE FROM branches WHERE campaign_id = $1",
            "DELETE FROM campaigns WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *write.tx).await?;
        }
        write.touch(id);
        write.commit().await?;
        Ok(())
    }

    pub async fn campaign_by_slug(&self, slug: &str) -> Result<Option<Campaign>, StoreError> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.slug = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(self.pool()).await?;
        row.as_ref().map(campaign_from_row).transpose()
    }

    /// What a receipt needs, in one read: the campaign, and the language the donor's checkout
    /// was in (`None` when `intent_id` names no checkout).
    pub async fn receipt_context(
        &self,
        campaign_id: i64,
        intent_id: Option<&str>,
    ) -> Result<Option<(Campaign, Option<String>)>, StoreError> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS}, i.locale AS intent_locale FROM campaigns c \
             LEFT JOIN checkout_intents i ON i.id = $2 WHERE c.id = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(campaign_id)
            .bind(intent_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(|row| Ok((campaign_from_row(row)?, row.try_get("intent_locale")?))).transpose()
    }

    pub async fn campaign_slug(&self, id: i64) -> Result<Option<Slug>, StoreError> {
        let row = sqlx::query("SELECT slug FROM campaigns WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| Ok(Slug::from_stored(row.try_get("slug")?))).transpose()
    }

    /// All campaigns, newest first; drafts only when `include_drafts`.
    pub async fn list_campaigns(&self, include_drafts: bool) -> Result<Vec<Campaign>, StoreError> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.status <> 'draft' OR $1 ORDER BY c.id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(include_drafts).fetch_all(self.pool()).await?;
        rows.iter().map(campaign_from_row).collect()
    }

    pub async fn branches(&self, campaign_id: i64) -> Result<Vec<Branch>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, slug, name, goal_minor FROM branches WHERE campaign_id = $1 ORDER BY position",
        )
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(branch_from_row).collect()
    }

    /// A campaign with its kept totals: two reads of one row each plus the branch rows,
    /// whatever the size of the ledger.
    #[tracing::instrument(skip_all, fields(slug))]
    pub async fn campaign_progress(
        &self,
        slug: &str,
    ) -> Result<Option<(Campaign, CampaignTotals, Vec<BranchTotals>)>, StoreError> {
        // The base row and the shards summed, and the recurring figures counted from the
        // active subscriptions (an index range), in one statement.
        let this = "(SELECT id FROM campaigns WHERE slug = $1)";
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS}, t.gross_minor, t.net_minor, t.online_gross_minor, t.online_net_minor, \
             t.offline_minor, t.donations, t.donors, t.updated_at AS totals_updated_at, \
             COALESCE(r.active, 0) AS recurring_active, COALESCE(r.monthly, 0) AS recurring_monthly_minor \
             FROM campaigns c JOIN (SELECT parts.campaign_id, {sums}, MAX(parts.updated_at) AS updated_at \
               FROM ({parts}) parts GROUP BY parts.campaign_id) t ON t.campaign_id = c.id \
             LEFT JOIN (SELECT s.campaign_id, COUNT(*) AS active, CAST(SUM(s.monthly_minor) AS BIGINT) AS monthly \
               FROM subscriptions s WHERE s.campaign_id = {this} AND s.status IN ('active', 'trialing') \
               GROUP BY s.campaign_id) r ON r.campaign_id = c.id \
             WHERE c.slug = $1",
            sums = sums(CAMPAIGN_SUMMED),
            parts = campaign_parts(&format!("campaign_id = {this}")),
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(self.pool()).await?
        else {
            return Ok(None);
        };
        let campaign = campaign_from_row(&row)?;
        let totals = CampaignTotals {
            gross_minor: row.try_get("gross_minor")?,
            net_minor: row.try_get("net_minor")?,
            online_gross_minor: row.try_get("online_gross_minor")?,
            online_net_minor: row.try_get("online_net_minor")?,
            offline_minor: row.try_get("offline_minor")?,
            donations: row.try_get("donations")?,
            donors: row.try_get("donors")?,
            recurring_active: row.try_get("recurring_active")?,
            recurring_monthly_minor: row.try_get("recurring_monthly_minor")?,
            updated_at: Some(read_instant(row.try_get("totals_updated_at")?)?),
            matches: self.match_offers(campaign.id).await?,
        };
        let sql = format!(
            "SELECT b.id, b.slug, b.name, b.goal_minor, bt.gross_minor, bt.net_minor \
             FROM branches b JOIN (SELECT parts.branch_id, {sums} FROM ({parts}) parts GROUP BY parts.branch_id) bt \
               ON bt.branch_id = b.id \
             WHERE b.campaign_id = $1 ORDER BY b.position",
            sums = sums(BRANCH_SUMMED),
            parts = branch_parts("campaign_id = $1"),
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(campaign.id).fetch_all(self.pool()).await?;
        let branches = rows
            .iter()
            .map(|row| {
                Ok(BranchTotals {
                    branch: branch_from_row(row)?,
                    gross_minor: row.try_get("gross_minor")?,
                    net_minor: row.try_get("net_minor")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some((campaign, totals, branches)))
    }
}

/// Binds a draft's fields as `$1` to `$20`, in the column order both writes use.
fn bind_draft<'q>(draft: &'q CampaignDraft, sql: &'static str) -> Query<'q, Any, AnyArguments> {
    sqlx::query(sql)
        .bind(draft.slug.as_str())
        .bind(draft.currency.code())
        .bind(draft.goal_minor)
        .bind(&draft.title.en)
        .bind(&draft.title.fr)
        .bind(&draft.description.en)
        .bind(&draft.description.fr)
        .bind(draft.starts_at.map(stored_instant))
        .bind(draft.ends_at.map(stored_instant))
        .bind(draft.status.as_str())
        .bind(draft.count_net_of_fees)
        .bind(draft.checkout.min_minor)
        .bind(draft.checkout.max_minor)
        .bind(draft.checkout.fee_percent_bp)
        .bind(draft.checkout.fee_fixed_minor)
        .bind(draft.archived)
        .bind(draft.checkout.monthly_ask.map(|ask| ask.text(draft.currency)))
        .bind(stretch_goals_text(&draft.stretch_goals))
        .bind(draft.donor_goal)
        .bind(draft.count_matches.as_str())
        .bind(draft.checkout_currencies.iter().map(|currency| currency.code()).collect::<Vec<_>>().join(","))
}

/// The later goals as stored: JSON, or NULL when there are none.
fn stretch_goals_text(rungs: &[GoalRung]) -> Option<String> {
    (!rungs.is_empty()).then(|| serde_json::to_string(rungs).unwrap_or_default())
}

pub(super) async fn campaign_by_id(write: &mut WriteTx, id: i64) -> Result<Campaign, StoreError> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *write.tx)
        .await?
        .ok_or(StoreError::NotFound("campaign"))?;
    campaign_from_row(&row)
}

/// Makes the campaign's branches exactly `specs`: new ones are added with zero totals,
/// kept ones renamed and re-ordered, and missing ones removed if they hold no entries and no
/// held Stripe money. Checkouts and subscriptions that chose a removed one keep giving to the
/// campaign, in no branch.
async fn replace_branches(
    write: &mut WriteTx,
    campaign_id: i64,
    specs: &[BranchSpec],
) -> Result<(), StoreError> {
    let existing = sqlx::query("SELECT id, slug FROM branches WHERE campaign_id = $1 ORDER BY id")
        .bind(campaign_id)
        .fetch_all(&mut *write.tx)
        .await?;
    for row in &existing {
        let slug: String = row.try_get("slug")?;
        if specs.iter().any(|spec| spec.slug.as_str() == slug) {
            continue;
        }
        let branch_id: i64 = row.try_get("id")?;
        // On PostgreSQL a gift or a checkout naming it, written at this moment, makes the
        // delete meet its row, or the two transactions wait for each other: the change is
        // refused, to be made again, and the gift goes through. (SQLite has one writer: there
        // such an error is a fault, not a race, and stays one.)
        let postgres = write.store.engine == super::Engine::Postgres;
        drop_branch(write, branch_id, &slug).await.map_err(|error| {
            if postgres && (error.is_lost_race() || error.is_foreign_key_violation()) {
                tracing::info!(%error, branch = %slug, "a branch's drop met a gift or a checkout being written");
                StoreError::conflict(
                    "branches",
                    format!(
                        "cannot drop the branch \"{slug}\" while a gift or a checkout for it is being recorded: try again"
                    ),
                )
            } else {
                error
            }
        })?;
    }
    for (position, spec) in specs.iter().enumerate() {
        let position = i64::try_from(position).map_err(|_| StoreError::Corrupt("branch position".into()))?;
        let row = sqlx::query(
            "INSERT INTO branches (campaign_id, slug, name, goal_minor, position) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (campaign_id, slug) DO UPDATE SET name = $3, goal_minor = $4, position = $5 \
             RETURNING id",
        )
        .bind(campaign_id)
        .bind(spec.slug.as_str())
        .bind(&spec.name)
        .bind(spec.goal_minor)
        .bind(position)
        .fetch_one(&mut *write.tx)
        .await?;
        let branch_id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO branch_totals (branch_id, campaign_id) VALUES ($1, $2) ON CONFLICT (branch_id) DO NOTHING",
        )
        .bind(branch_id)
        .bind(campaign_id)
        .execute(&mut *write.tx)
        .await?;
    }
    Ok(())
}

/// Removes a branch that holds no money: refused while it holds ledger entries or Stripe
/// money held for a treasurer; checkouts, subscriptions and resolved flags that named it let
/// go of it.
async fn drop_branch(write: &mut WriteTx, branch_id: i64, slug: &str) -> Result<(), StoreError> {
    // Money in it, recorded or held for a treasurer, keeps it.
    for (sql, holding) in [
        ("SELECT COUNT(*) AS n FROM ledger_entries WHERE branch_id = $1", "it holds ledger entries"),
        (
            "SELECT COUNT(*) AS n FROM stripe_flags WHERE branch_id = $1 AND resolved_at IS NULL AND held IS NOT NULL",
            "Stripe money held for a treasurer waits in it: resolve its flag first",
        ),
    ] {
        let found: i64 = sqlx::query(sql).bind(branch_id).fetch_one(&mut *write.tx).await?.try_get("n")?;
        if found > 0 {
            return Err(StoreError::conflict(
                "branches",
                format!("cannot drop the branch \"{slug}\": {holding}"),
            ));
        }
    }
    // Checkouts and subscriptions that chose it (no money in it yet) count for the
    // campaign alone from now on, and resolved flags keep their story without it.
    for sql in [
        "UPDATE checkout_intents SET branch_id = NULL WHERE branch_id = $1",
        "UPDATE subscriptions SET branch_id = NULL WHERE branch_id = $1",
        "UPDATE stripe_flags SET branch_id = NULL WHERE branch_id = $1",
        "DELETE FROM branch_total_shards WHERE branch_id = $1",
        "DELETE FROM branch_totals WHERE branch_id = $1",
    ] {
        sqlx::query(sql).bind(branch_id).execute(&mut *write.tx).await?;
    }
    sqlx::query("DELETE FROM branches WHERE id = $1").bind(branch_id).execute(&mut *write.tx).await?;
    Ok(())
}

fn campaign_from_row(row: &AnyRow) -> Result<Campaign, StoreError> {
    let currency: String = row.try_get("currency")?;
    let status: String = row.try_get("status")?;
    Ok(Campaign {
        id: row.try_get("id")?,
        slug: Slug::from_stored(row.try_get("slug")?),
        currency: read_currency(&currency)?,
        goal_minor: row.try_get("goal_minor")?,
        title: Localized { en: row.try_get("title_en")?, fr: row.try_get("title_fr")? },
        description: Localized { en: row.try_get("description_en")?, fr: row.try_get("description_fr")? },
        starts_at: read_optional_instant(row, "starts_at")?,
        ends_at: read_optional_instant(row, "ends_at")?,
        status: CampaignStatus::parse(&status)
            .map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
        archived: read_flag(row, "archived")?,
        count_net_of_fees: read_flag(row, "count_net_of_fees")?,
        count_matches: crate::ledger::matching::MatchCounting::parse(
            &row.try_get::<String, _>("count_matches")?,
        )
        .map_err(|_| StoreError::Corrupt("count_matches".to_owned()))?,
        checkout: CheckoutSettings {
            min_minor: row.try_get("checkout_min_minor")?,
            max_minor: row.try_get("checkout_max_minor")?,
            fee_percent_bp: row.try_get("fee_percent_bp")?,
            fee_fixed_minor: row.try_get("fee_fixed_minor")?,
            monthly_ask: row
                .try_get::<Option<String>, _>("monthly_ask")?
                .map(|text| {
                    MonthlyAsk::parse(&text, read_currency(&currency)?)
                        .map_err(|_| StoreError::Corrupt(format!("monthly_ask {text}")))
                })
                .transpose()?,
        },
        // The first goal's reaching counts only for the goal it was recorded for.
        goal_reached_at: match row.try_get::<Option<i64>, _>("goal_reached_minor")? {
            Some(reached) if reached == row.try_get::<i64, _>("goal_minor")? => {
                read_optional_instant(row, "goal_reached_at")?
            }
            _ => None,
        },
        stretch_goals: match row.try_get::<Option<String>, _>("stretch_goals")? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|error| StoreError::Corrupt(format!("stretch_goals {text}: {error}")))?,
            None => Vec::new(),
        },
        donor_goal: row.try_get("donor_goal")?,
        checkout_currencies: row
            .try_get::<String, _>("checkout_currencies")?
            .split(',')
            .filter(|code| !code.is_empty())
            .map(super::read_currency)
            .collect::<Result<_, _>>()?,
        created_at: read_instant(row.try_get("created_at")?)?,
        updated_at: read_instant(row.try_get("updated_at")?)?,
    })
}

fn branch_from_row(row: &AnyRow) -> Result<Branch, StoreError> {
    Ok(Branch {
        id: row.try_get("id")?,
        slug: Slug::from_stored(row.try_get("slug")?),
        name: row.try_get("name")?,
        goal_minor: row.try_get("goal_minor")?,
    })
}

/// A campaign's goal reached, told once per goal in force.
impl Store {
    /// Campaigns (all, or those among `ids`) whose goal in force was not yet announced as
    /// reached.
    pub async fn campaigns_with_goal_unannounced(
        &self,
        ids: Option<&[i64]>,
    ) -> Result<Vec<String>, StoreError> {
        let among = match ids {
            // Numbers, written by us.
            Some(ids) => {
                format!(" AND id IN ({})", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            }
            None => String::new(),
        };
        let sql = format!(
            "SELECT slug FROM campaigns WHERE (goal_reached_minor IS NULL OR goal_reached_minor <> goal_minor \
             OR stretch_goals LIKE '%\"reached_at\":null%'){among} \
             ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        rows.iter().map(|row| Ok(row.try_get("slug")?)).collect()
    }

    /// Closes the active campaigns whose `ends_at` has come, so that their pages stop taking
    /// gifts and the live streams tell the open pages on time. Returns their slugs.
    pub async fn close_ended_campaigns(&self, at: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        // Looked for without writing first: the sender asks every round, and most times none has
        // ended (no write transaction, so nothing queues behind it at the SQLite write gate).
        match self.next_campaign_end().await? {
            Some(end) if end <= at => {}
            _ => return Ok(Vec::new()),
        }
        let mut write = self.begin_write().await?;
        let rows = sqlx::query(
            "UPDATE campaigns SET status = 'closed', updated_at = $1 \
             WHERE status = 'active' AND ends_at IS NOT NULL AND ends_at <= $1 RETURNING id, slug",
        )
        .bind(stored_instant(at))
        .fetch_all(&mut *write.tx)
        .await?;
        let mut closed = Vec::with_capacity(rows.len());
        for row in &rows {
            let slug: String = row.try_get("slug")?;
            write.touch(row.try_get("id")?);
            // In the audit log beside the treasurers' own changes, in the same transaction.
            sqlx::query(
                "INSERT INTO audit_log (at, actor, action, target, before_state, after_state) \
                 VALUES ($1, 'appeal', 'campaign.ended', $2, '{\"status\":\"active\"}', '{\"status\":\"closed\"}')",
            )
            .bind(stored_instant(at))
            .bind(format!("campaign:{slug}"))
            .execute(&mut *write.tx)
            .await?;
            closed.push(slug);
        }
        write.commit().await?;
        Ok(closed)
    }

    /// When the next active campaign ends, if one has an end to come.
    pub async fn next_campaign_end(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query("SELECT MIN(ends_at) AS ends_at FROM campaigns WHERE status = 'active'")
            .fetch_one(self.pool())
            .await?;
        read_optional_instant(&row, "ends_at")
    }

    /// Records the goals `campaign`'s figures have reached (its first, and its stretch goals)
    /// that were not recorded yet, and tells the endpoints once per goal; the progress
    /// documents are drawn again so that each goal shows when it was reached. Returns how many
    /// were recorded here (none when another instance did it first, or the goals changed).
    /// Each announcement carries the progress document with the goals as now recorded.
    pub async fn record_goals_reached(
        &self,
        campaign: &Campaign,
        totals: &CampaignTotals,
        branches: &[BranchTotals],
    ) -> Result<usize, StoreError> {
        let raised_minor = totals.counted_minor(campaign);
        let at = now();
        let first_reached = campaign.goal_reached_at.is_none() && raised_minor >= campaign.goal_minor;
        let newly = crate::ledger::goals::newly_reached(&campaign.stretch_goals, raised_minor);
        let rungs: Vec<GoalRung> = campaign
            .stretch_goals
            .iter()
            .map(|rung| GoalRung {
                amount_minor: rung.amount_minor,
                reached_at: rung.reached_at.or_else(|| newly.contains(&rung.amount_minor).then_some(at)),
            })
            .collect();
        let after = Campaign {
            goal_reached_at: if first_reached { Some(at) } else { campaign.goal_reached_at },
            stretch_goals: rungs.clone(),
            ..campaign.clone()
        };
        let progress = &crate::ledger::progress::Progress::new(&after, totals, branches);
        let mut write = self.begin_write().await?;
        let mut recorded = 0;
        if first_reached {
            let marked = sqlx::query(
                "UPDATE campaigns SET goal_reached_at = $1, goal_reached_minor = $2 \
                 WHERE id = $3 AND goal_minor = $2 AND (goal_reached_minor IS NULL OR goal_reached_minor <> $2)",
            )
            .bind(stored_instant(at))
            .bind(campaign.goal_minor)
            .bind(campaign.id)
            .execute(&mut *write.tx)
            .await?
            .rows_affected();
            if marked > 0 {
                write.emit(EventKind::CampaignGoalReached, progress);
                recorded += 1;
            }
        }
        if !newly.is_empty() {
            // Only over the goals as read: a change made meanwhile wins, and is looked at again.
            let marked =
                sqlx::query("UPDATE campaigns SET stretch_goals = $1 WHERE id = $2 AND stretch_goals = $3")
                    .bind(stretch_goals_text(&rungs))
                    .bind(campaign.id)
                    .bind(stretch_goals_text(&campaign.stretch_goals))
                    .execute(&mut *write.tx)
                    .await?
                    .rows_affected();
            if marked > 0 {
                for _ in &newly {
                    write.emit(EventKind::CampaignGoalReached, progress);
                }
                recorded += newly.len();
            }
        }
        if recorded > 0 {
            write.touch(campaign.id);
        }
        write.commit().await?;
        Ok(recorded)
    }
}
