//! Appeals as kept: the appeal, its fixed rates, its members, and what each remote member
//! last said (written by the follower in `live::remote`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::write::WriteTx;
use super::{
    Store, StoreError, is_unique_violation, now, read_currency, read_date, read_instant,
    read_optional_instant, stored_instant,
};
use crate::ledger::appeals::{
    Appeal, AppealDraft, Figures, FixedRate, Member, MemberDraft, MemberSource, RatePolicy, RemoteState,
};
use crate::ledger::campaign::{Localized, Slug};

const APPEAL_COLUMNS: &str = "a.id, a.slug, a.title_en, a.title_fr, a.currency, a.goal_minor, a.rate_policy, a.launched_on, a.created_at, a.updated_at";

const MEMBER_COLUMNS: &str = "m.id, m.campaign_id, c.slug AS campaign_slug, c.title_en AS campaign_title_en, \
     c.title_fr AS campaign_title_fr, m.url, m.name, m.remote_campaign, m.remote_currency, m.remote_raised, \
     m.remote_goal, m.remote_donations, m.remote_donors, m.remote_updated_at, m.etag, m.heard_at, m.tried_at, m.failure";

/// A remote progress URL to follow, with what is known of it.
#[derive(Clone, Debug)]
pub struct RemoteToFollow {
    pub url: String,
    /// The ETag of the figures every member following it holds (`None` when some member
    /// holds none yet: it must be asked in full).
    pub etag: Option<String>,
    /// The oldest last try among its members (`None`: some member was never tried).
    pub tried_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Keeps a new appeal; `campaign_ids` holds the id of each campaign its members name.
    pub async fn create_appeal(
        &self,
        draft: &AppealDraft,
        campaign_ids: &HashMap<String, i64>,
        launched_on: NaiveDate,
    ) -> Result<Appeal, StoreError> {
        let mut write = self.begin_write().await?;
        let at = stored_instant(now());
        let inserted = sqlx::query(
            "INSERT INTO appeals (slug, title_en, title_fr, currency, goal_minor, rate_policy, launched_on, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(draft.slug.as_str())
        .bind(draft.title.en.as_str())
        .bind(draft.title.fr.as_str())
        .bind(draft.currency.code())
        .bind(draft.goal_minor)
        .bind(draft.rate_policy.as_str())
        .bind(launched_on.to_string())
        .bind(&at)
        .fetch_one(&mut *write.tx)
        .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::conflict("slug", "is already used by another appeal"));
            }
            Err(error) => return Err(error.into()),
        };
        write_fixed_rates(&mut write, id, &draft.fixed_rates).await?;
        write_members(&mut write, id, &draft.members, campaign_ids).await?;
        write.commit().await?;
        self.appeal_by_id(id).await?.ok_or_else(|| StoreError::Corrupt(format!("appeal {id} vanished")))
    }

    /// Changes an appeal. Members are the draft's, in its order; a remote member kept keeps
    /// what it last said.
    pub async fn update_appeal(
        &self,
        id: i64,
        draft: &AppealDraft,
        campaign_ids: &HashMap<String, i64>,
    ) -> Result<Appeal, StoreError> {
        let mut write = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE appeals SET slug = $2, title_en = $3, title_fr = $4, currency = $5, goal_minor = $6, \
             rate_policy = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(draft.slug.as_str())
        .bind(draft.title.en.as_str())
        .bind(draft.title.fr.as_str())
        .bind(draft.currency.code())
        .bind(draft.goal_minor)
        .bind(draft.rate_policy.as_str())
        .bind(stored_instant(now()))
        .execute(&mut *write.tx)
        .await;
        match updated {
            Ok(_) => {}
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::conflict("slug", "is already used by another appeal"));
            }
            Err(error) => return Err(error.into()),
        }
        sqlx::query("DELETE FROM appeal_fixed_rates WHERE appeal_id = $1")
            .bind(id)
            .execute(&mut *write.tx)
            .await?;
        write_fixed_rates(&mut write, id, &draft.fixed_rates).await?;
        // Members no longer listed go; those listed are written in place (a remote keeps its
        // figures) or added.
        let kept = sqlx::query("SELECT id, campaign_id, url FROM appeal_members WHERE appeal_id = $1")
            .bind(id)
            .fetch_all(&mut *write.tx)
            .await?;
        for row in kept {
            let campaign_id: Option<i64> = row.try_get("campaign_id")?;
            let url: Option<String> = row.try_get("url")?;
            let wanted = draft.members.iter().any(|member| match member {
                MemberDraft::Campaign { slug, .. } => campaign_ids.get(slug.as_str()).copied() == campaign_id,
                MemberDraft::Remote { url: wanted, .. } => Some(wanted) == url.as_ref(),
            });
            if !wanted {
                sqlx::query("DELETE FROM appeal_members WHERE id = $1")
                    .bind(row.try_get::<i64, _>("id")?)
                    .execute(&mut *write.tx)
                    .await?;
            }
        }
        write_members(&mut write, id, &draft.members, campaign_ids).await?;
        write.commit().await?;
        self.appeal_by_id(id).await?.ok_or_else(|| StoreError::Corrupt(format!("appeal {id} vanished")))
    }

    pub async fn appeal_by_slug(&self, slug: &str) -> Result<Option<Appeal>, StoreError> {
        let sql = format!("SELECT {APPEAL_COLUMNS} FROM appeals a WHERE a.slug = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(self.pool()).await?;
        match row {
            Some(row) => Ok(Some(self.appeal_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn appeal_by_id(&self, id: i64) -> Result<Option<Appeal>, StoreError> {
        let sql = format!("SELECT {APPEAL_COLUMNS} FROM appeals a WHERE a.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        match row {
            Some(row) => Ok(Some(self.appeal_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    /// Every appeal, by slug.
    pub async fn list_appeals(&self) -> Result<Vec<Appeal>, StoreError> {
        let sql = format!("SELECT {APPEAL_COLUMNS} FROM appeals a ORDER BY a.slug");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        let mut appeals = Vec::with_capacity(rows.len());
        for row in &rows {
            appeals.push(self.appeal_from_row(row).await?);
        }
        Ok(appeals)
    }

    async fn appeal_from_row(&self, row: &AnyRow) -> Result<Appeal, StoreError> {
        let id: i64 = row.try_get("id")?;
        let policy: String = row.try_get("rate_policy")?;
        let fixed_rates = self.appeal_fixed_rates(id).await?;
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM appeal_members m LEFT JOIN campaigns c ON c.id = m.campaign_id \
             WHERE m.appeal_id = $1 ORDER BY m.position, m.id"
        );
        let members = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(self.pool()).await?;
        Ok(Appeal {
            id,
            slug: Slug::from_stored(row.try_get("slug")?),
            title: Localized { en: row.try_get("title_en")?, fr: row.try_get("title_fr")? },
            currency: read_currency(&row.try_get::<String, _>("currency")?)?,
            goal_minor: row.try_get("goal_minor")?,
            rate_policy: RatePolicy::parse(&policy)
                .map_err(|_| StoreError::Corrupt(format!("rate policy {policy}")))?,
            fixed_rates,
            launched_on: read_date(&row.try_get::<String, _>("launched_on")?)?,
            members: members.iter().map(member_from_row).collect::<Result<_, _>>()?,
            created_at: read_instant(&row.try_get::<String, _>("created_at")?)?,
            updated_at: read_instant(&row.try_get::<String, _>("updated_at")?)?,
        })
    }

    /// An appeal's fixed rates, given or frozen, by currency.
    pub async fn appeal_fixed_rates(
        &self,
        appeal_id: i64,
    ) -> Result<BTreeMap<&'static str, FixedRate>, StoreError> {
        let rates = sqlx::query(
            "SELECT currency, rate, day, source FROM appeal_fixed_rates WHERE appeal_id = $1 ORDER BY currency",
        )
        .bind(appeal_id)
        .fetch_all(self.pool())
        .await?;
        let mut fixed_rates = BTreeMap::new();
        for rate in &rates {
            let currency = read_currency(&rate.try_get::<String, _>("currency")?)?;
            let text: String = rate.try_get("rate")?;
            let value: Decimal =
                text.parse().map_err(|_| StoreError::Corrupt(format!("appeal rate {text}")))?;
            let day = rate.try_get::<Option<String>, _>("day")?.as_deref().map(read_date).transpose()?;
            fixed_rates
                .insert(currency.code(), FixedRate { rate: value, day, source: rate.try_get("source")? });
        }
        Ok(fixed_rates)
    }

    /// Fixes the rate the rates table gave a currency of an appeal under the fixed policy, the
    /// first time a member needed it; a rate fixed already stays.
    pub async fn freeze_fixed_rate(
        &self,
        appeal_id: i64,
        currency: &str,
        fixed: &FixedRate,
    ) -> Result<(), StoreError> {
        let mut write = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO appeal_fixed_rates (appeal_id, currency, rate, day, source) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (appeal_id, currency) DO NOTHING",
        )
        .bind(appeal_id)
        .bind(currency)
        .bind(fixed.rate.to_string())
        .bind(fixed.day.map(|day| day.to_string()))
        .bind(fixed.source.as_deref())
        .execute(&mut *write.tx)
        .await?;
        write.commit().await?;
        Ok(())
    }

    /// The remote progress URLs members follow, each once.
    pub async fn remotes_to_follow(&self) -> Result<Vec<RemoteToFollow>, StoreError> {
        let rows = sqlx::query(
            "SELECT url, etag, tried_at, remote_currency FROM appeal_members WHERE url IS NOT NULL ORDER BY url",
        )
        .fetch_all(self.pool())
        .await?;
        let mut remotes: Vec<RemoteToFollow> = Vec::new();
        for row in &rows {
            let url: String = row.try_get("url")?;
            let known: Option<String> = row.try_get("remote_currency")?;
            let etag: Option<String> = row.try_get::<Option<String>, _>("etag")?.filter(|_| known.is_some());
            let tried_at = read_optional_instant(row, "tried_at")?;
            match remotes.last_mut() {
                Some(last) if last.url == url => {
                    if last.etag != etag {
                        last.etag = None;
                    }
                    last.tried_at = last.tried_at.zip(tried_at).map(|(a, b)| a.min(b));
                }
                _ => remotes.push(RemoteToFollow { url, etag, tried_at }),
            }
        }
        Ok(remotes)
    }

    /// A remote answered: with its figures (`Some`), or "not modified" (`None`). Whether any
    /// member's figures changed.
    pub async fn remote_heard(
        &self,
        url: &str,
        figures: Option<&Figures>,
        etag: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = stored_instant(at);
        let mut write = self.begin_write().await?;
        let changed = match figures {
            Some(figures) => {
                let before: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM appeal_members WHERE url = $1 AND (failure IS NOT NULL \
                     OR remote_currency IS NULL OR remote_currency <> $2 OR remote_raised <> $3 \
                     OR remote_donations <> $4 OR remote_donors <> $5 \
                     OR COALESCE(remote_goal, -1) <> COALESCE($6, -1) OR COALESCE(remote_campaign, '') <> COALESCE($7, ''))",
                )
                .bind(url)
                .bind(figures.currency.code())
                .bind(figures.raised_minor)
                .bind(figures.donations)
                .bind(figures.donors)
                .bind(figures.goal_minor)
                .bind(figures.campaign.as_deref())
                .fetch_one(&mut *write.tx)
                .await?
                .try_get("n")?;
                sqlx::query(
                    "UPDATE appeal_members SET remote_campaign = $2, remote_currency = $3, remote_raised = $4, \
                     remote_goal = $5, remote_donations = $6, remote_donors = $7, remote_updated_at = $8, etag = $9, \
                     heard_at = $10, tried_at = $10, failure = NULL WHERE url = $1",
                )
                .bind(url)
                .bind(figures.campaign.as_deref())
                .bind(figures.currency.code())
                .bind(figures.raised_minor)
                .bind(figures.goal_minor)
                .bind(figures.donations)
                .bind(figures.donors)
                .bind(figures.updated_at.map(stored_instant))
                .bind(etag)
                .bind(&at)
                .execute(&mut *write.tx)
                .await?;
                before > 0
            }
            None => {
                let failing: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM appeal_members WHERE url = $1 AND failure IS NOT NULL",
                )
                .bind(url)
                .fetch_one(&mut *write.tx)
                .await?
                .try_get("n")?;
                sqlx::query(
                    "UPDATE appeal_members SET heard_at = $2, tried_at = $2, failure = NULL \
                     WHERE url = $1 AND remote_currency IS NOT NULL",
                )
                .bind(url)
                .bind(&at)
                .execute(&mut *write.tx)
                .await?;
                failing > 0
            }
        };
        write.commit().await?;
        Ok(changed)
    }

    /// A remote did not answer as it should: its last known figures stay, marked stale.
    /// Whether it was answering before.
    pub async fn remote_failed(&self, url: &str, why: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut write = self.begin_write().await?;
        let answering: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM appeal_members WHERE url = $1 AND failure IS NULL")
                .bind(url)
                .fetch_one(&mut *write.tx)
                .await?
                .try_get("n")?;
        sqlx::query("UPDATE appeal_members SET tried_at = $2, failure = $3 WHERE url = $1")
            .bind(url)
            .bind(stored_instant(at))
            .bind(why)
            .execute(&mut *write.tx)
            .await?;
        write.commit().await?;
        Ok(answering > 0)
    }
}

async fn write_fixed_rates(
    write: &mut WriteTx,
    appeal_id: i64,
    rates: &BTreeMap<&'static str, FixedRate>,
) -> Result<(), StoreError> {
    for (currency, fixed) in rates {
        sqlx::query(
            "INSERT INTO appeal_fixed_rates (appeal_id, currency, rate, day, source) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(appeal_id)
        .bind(*currency)
        .bind(fixed.rate.to_string())
        .bind(fixed.day.map(|day| day.to_string()))
        .bind(fixed.source.as_deref())
            .execute(&mut *write.tx)
            .await?;
    }
    Ok(())
}

/// Writes each member at its place: a member already there is updated (its figures kept),
/// a new one added.
async fn write_members(
    write: &mut WriteTx,
    appeal_id: i64,
    members: &[MemberDraft],
    campaign_ids: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    for (position, member) in members.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        match member {
            MemberDraft::Campaign { slug, name } => {
                let campaign_id = *campaign_ids
                    .get(slug.as_str())
                    .ok_or_else(|| StoreError::conflict("members", format!("names no campaign {slug}")))?;
                sqlx::query(
                    "INSERT INTO appeal_members (appeal_id, position, campaign_id, name) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (appeal_id, campaign_id) DO UPDATE SET position = excluded.position, name = excluded.name",
                )
                .bind(appeal_id)
                .bind(position)
                .bind(campaign_id)
                .bind(name.as_deref())
                .execute(&mut *write.tx)
                .await?;
            }
            MemberDraft::Remote { url, name } => {
                sqlx::query(
                    "INSERT INTO appeal_members (appeal_id, position, url, name) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (appeal_id, url) DO UPDATE SET position = excluded.position, name = excluded.name",
                )
                .bind(appeal_id)
                .bind(position)
                .bind(url.as_str())
                .bind(name.as_deref())
                .execute(&mut *write.tx)
                .await?;
            }
        }
    }
    Ok(())
}

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    let name: Option<String> = row.try_get("name")?;
    let source = match row.try_get::<Option<i64>, _>("campaign_id")? {
        Some(id) => MemberSource::Campaign {
            id,
            slug: row.try_get("campaign_slug")?,
            title: Localized { en: row.try_get("campaign_title_en")?, fr: row.try_get("campaign_title_fr")? },
        },
        None => {
            let figures = match row.try_get::<Option<String>, _>("remote_currency")? {
                Some(code) => Some(Figures {
                    campaign: row.try_get("remote_campaign")?,
                    currency: read_currency(&code)?,
                    raised_minor: row.try_get::<Option<i64>, _>("remote_raised")?.unwrap_or(0),
                    goal_minor: row.try_get("remote_goal")?,
                    donations: row.try_get::<Option<i64>, _>("remote_donations")?.unwrap_or(0),
                    donors: row.try_get::<Option<i64>, _>("remote_donors")?.unwrap_or(0),
                    updated_at: read_optional_instant(row, "remote_updated_at")?,
                }),
                None => None,
            };
            MemberSource::Remote {
                url: row.try_get("url")?,
                state: RemoteState {
                    figures,
                    etag: row.try_get("etag")?,
                    heard_at: read_optional_instant(row, "heard_at")?,
                    tried_at: read_optional_instant(row, "tried_at")?,
                    failure: row.try_get("failure")?,
                },
            }
        }
    };
    Ok(Member { source, name })
}
