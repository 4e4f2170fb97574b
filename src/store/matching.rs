//! Match offers and the matches gifts earn: each accrual written in the same transaction as
//! the entry that causes it (a gift earns, a reversal takes back), the offer's matched sum kept
//! beside them under the offer's row lock, and `appeal check` replaying them from the ledger.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::check::Discrepancy;
use super::{Engine, Store, StoreError, WriteTx, read_instant, stored_instant};
use crate::ledger::entry::Entry;
use crate::ledger::matching::{
    self, GiftFacts, GiftTime, MatchOffer, MatchOfferDraft, Qualifies, after_reversal, gift_match,
};
use crate::ledger::{EntryKind, NewEntry};

/// An offer's columns; what the matcher paid is summed from the entries that settle it and
/// their reversals (a gift's own `origin_entry_id` is empty: its reversals name it).
const OFFER_COLUMNS: &str = "m.id, m.campaign_id, m.matcher, m.ratio, m.cap_minor, m.starts_at, m.ends_at, \
     m.qualifies, m.matched_minor, \
     (SELECT COALESCE(CAST(SUM(e.amount_minor) AS BIGINT), 0) FROM ledger_entries e WHERE e.match_offer_id = m.id \
      OR e.origin_entry_id IN (SELECT s.id FROM ledger_entries s WHERE s.match_offer_id = m.id)) AS paid_minor";

impl Store {
    /// Records a match offer for `campaign_id`; the campaign's figures show it at once.
    pub async fn create_match_offer(
        &self,
        campaign_id: i64,
        draft: &MatchOfferDraft,
        created_by: &str,
    ) -> Result<MatchOffer, StoreError> {
        let mut write = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO match_offers (campaign_id, matcher, ratio, cap_minor, starts_at, ends_at, qualifies, \
             created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(campaign_id)
        .bind(&draft.matcher)
        .bind(draft.ratio.normalize().to_string())
        .bind(draft.cap_minor)
        .bind(stored_instant(draft.starts_at))
        .bind(stored_instant(draft.ends_at))
        .bind(draft.qualifies.stored())
        .bind(stored_instant(super::now()))
        .bind(created_by)
        .fetch_one(&mut *write.tx)
        .await?
        .try_get("id")?;
        write.touch(campaign_id);
        write.commit().await?;
        self.match_offers(campaign_id)
            .await?
            .into_iter()
            .find(|offer| offer.id == id)
            .ok_or(StoreError::NotFound("match offer"))
    }

    /// A campaign's match offers, oldest first, with what each matched and was paid.
    pub async fn match_offers(&self, campaign_id: i64) -> Result<Vec<MatchOffer>, StoreError> {
        let sql =
            format!("SELECT {OFFER_COLUMNS} FROM match_offers m WHERE m.campaign_id = $1 ORDER BY m.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(campaign_id).fetch_all(self.pool()).await?;
        rows.iter().map(offer_from_row).collect()
    }

    /// Every offer's matched sum recomputed from the ledger: each accrual replayed in the order
    /// it was recorded, a gift's as the rules give it (its whole match, or what was left under
    /// the cap) and a reversal's from what was left of its gift; and the kept sum against them.
    pub async fn check_matches(&self) -> Result<Vec<Discrepancy>, StoreError> {
        let mut found = Vec::new();
        let offers = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OFFER_COLUMNS}, c.slug FROM match_offers m JOIN campaigns c ON c.id = m.campaign_id ORDER BY m.id"
        )))
        .fetch_all(self.pool())
        .await?;
        for row in &offers {
            let offer = offer_from_row(row)?;
            let slug: String = row.try_get("slug")?;
            let accruals = sqlx::query(
                "SELECT a.kind, a.amount_minor, a.origin_entry_id, a.entry_id, g.amount_minor AS gift_minor, \
                 g.amount_minor + (SELECT COALESCE(CAST(SUM(o.amount_minor) AS BIGINT), 0) FROM ledger_entries o \
                  WHERE o.origin_entry_id = a.origin_entry_id AND o.id <= a.entry_id) AS gift_left_minor \
                 FROM match_accruals a JOIN ledger_entries g ON g.id = a.origin_entry_id \
                 WHERE a.offer_id = $1 ORDER BY a.id",
            )
            .bind(offer.id)
            .fetch_all(self.pool())
            .await?;
            let mut running = MatchOffer { matched_minor: 0, ..offer.clone() };
            // Per gift: what it earned, and its match now.
            let mut gifts: std::collections::HashMap<i64, (i64, i64)> = std::collections::HashMap::new();
            let mut recomputed = 0_i64;
            let mut wrong = 0_i64;
            for accrual in &accruals {
                let kind: String = accrual.try_get("kind")?;
                let kept: i64 = accrual.try_get("amount_minor")?;
                let origin: i64 = accrual.try_get("origin_entry_id")?;
                let expected = if kind == "gift" {
                    gift_match(&running, accrual.try_get("gift_minor")?)
                } else {
                    let (earned, current) = gifts.get(&origin).copied().unwrap_or((0, 0));
                    let change =
                        after_reversal(offer.ratio, earned, current, accrual.try_get("gift_left_minor")?);
                    if change > 0 {
                        change.min((running.cap_minor - running.matched_minor).max(0))
                    } else {
                        change
                    }
                };
                if expected != kept {
                    wrong += 1;
                }
                let state = gifts.entry(origin).or_insert((0, 0));
                if kind == "gift" {
                    state.0 = expected;
                }
                state.1 += expected;
                running.matched_minor += expected;
                recomputed += expected;
            }
            let label = format!("matched_minor (match offer {})", offer.id);
            if recomputed != offer.matched_minor || wrong > 0 {
                found.push(Discrepancy {
                    campaign: slug.clone(),
                    figure: label,
                    kept: offer.matched_minor,
                    ledger: recomputed,
                });
            }
            if offer.matched_minor > offer.cap_minor {
                found.push(Discrepancy {
                    campaign: slug,
                    figure: format!("matched_minor over cap_minor (match offer {})", offer.id),
                    kept: offer.matched_minor,
                    ledger: offer.cap_minor,
                });
            }
        }
        Ok(found)
    }
}

fn offer_from_row(row: &AnyRow) -> Result<MatchOffer, StoreError> {
    let ratio: String = row.try_get("ratio")?;
    Ok(MatchOffer {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        matcher: row.try_get("matcher")?,
        ratio: ratio.parse::<Decimal>().map_err(|_| StoreError::Corrupt(format!("match ratio {ratio}")))?,
        cap_minor: row.try_get("cap_minor")?,
        starts_at: read_instant(row.try_get("starts_at")?)?,
        ends_at: read_instant(row.try_get("ends_at")?)?,
        qualifies: Qualifies::from_stored(row.try_get("qualifies")?),
        matched_minor: row.try_get("matched_minor")?,
        paid_minor: row.try_get("paid_minor")?,
    })
}

/// A matcher's payment must name one of its campaign's offers: checked before it is written.
pub(super) async fn check_settlement(write: &mut WriteTx, entry: &NewEntry) -> Result<(), StoreError> {
    let Some(offer_id) = entry.match_offer_id else {
        return Ok(());
    };
    let offer = sqlx::query("SELECT campaign_id FROM match_offers WHERE id = $1")
        .bind(offer_id)
        .fetch_optional(&mut *write.tx)
        .await?;
    let campaign_id = offer.map(|row| row.try_get::<i64, _>("campaign_id")).transpose()?;
    if campaign_id != Some(entry.campaign_id) {
        return Err(StoreError::conflict("match", "is not one of this campaign's match offers"));
    }
    Ok(())
}

/// The offers an entry may change, locked (PostgreSQL) before anything else of the entry's
/// (its donor's row), so that every writer takes locks in one order: the campaign's totals row
/// (reversals, look-alikes), then offers, then donors, then the shards at commit. A gift's are
/// the campaign's offers still open on its day; a reversal's, those its gift earned from.
/// SQLite has one writer at a time and takes no row locks.
pub(super) async fn lock_offers(
    write: &mut WriteTx,
    entry: &NewEntry,
    reversed: Option<(i64, i64)>,
) -> Result<Vec<MatchOffer>, StoreError> {
    let lock = if write.store.engine == Engine::Postgres { " FOR UPDATE" } else { "" };
    let columns = "m.id, m.campaign_id, m.matcher, m.ratio, m.cap_minor, m.starts_at, m.ends_at, m.qualifies, \
                   m.matched_minor, 0 AS paid_minor";
    let rows = match reversed {
        _ if entry.match_offer_id.is_some() => return Ok(Vec::new()),
        Some((origin_id, _)) => {
            let sql = format!(
                "SELECT {columns} FROM match_offers m WHERE m.id IN \
                 (SELECT a.offer_id FROM match_accruals a WHERE a.origin_entry_id = $1) ORDER BY m.id{lock}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(origin_id).fetch_all(&mut *write.tx).await?
        }
        None if entry.kind == EntryKind::Donation && entry.amount_minor > 0 => {
            // Open on the gift's day (in UTC) at least: `qualifies` decides exactly.
            let day = entry.received_at.map_or(entry.received_on, |at| at.date_naive());
            let from = day.and_hms_opt(0, 0, 0).map(|start| start.and_utc()).unwrap_or_default();
            let sql = format!(
                "SELECT {columns} FROM match_offers m WHERE m.campaign_id = $1 AND m.ends_at >= $2 ORDER BY m.id{lock}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(entry.campaign_id)
                .bind(stored_instant(from))
                .fetch_all(&mut *write.tx)
                .await?
        }
        None => return Ok(Vec::new()),
    };
    rows.iter().map(offer_from_row).collect()
}

/// What an entry just recorded does to the campaign's matches, in its transaction: a
/// matcher's payment earns nothing; a qualifying gift earns each open offer's match, up to its cap; a reversal takes back its
/// gift's match in proportion to what is left of the gift. `donor_before_minor` is what the
/// donor had given the campaign before; `reversed` the gift and its sum before a reversal.
pub(super) async fn accrue(
    write: &mut WriteTx,
    entry: &NewEntry,
    recorded: &Entry,
    donor_before_minor: i64,
    reversed: Option<(i64, i64)>,
    offers: &[MatchOffer],
) -> Result<(), StoreError> {
    if entry.match_offer_id.is_some() || offers.is_empty() {
        return Ok(());
    }
    let at = super::now();
    match reversed {
        Some((origin_id, origin_before)) => {
            take_back(write, recorded, origin_id, origin_before + entry.amount_minor, offers, at).await
        }
        None if entry.kind == EntryKind::Donation && entry.amount_minor > 0 => {
            earn(write, entry, recorded, donor_before_minor <= 0, offers, at).await
        }
        None => Ok(()),
    }
}

async fn earn(
    write: &mut WriteTx,
    entry: &NewEntry,
    recorded: &Entry,
    new_donor: bool,
    offers: &[MatchOffer],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let first_installment = match &entry.stripe.subscription {
        Some(subscription) if entry.recurring && offers.iter().any(|offer| offer.qualifies.first_installments) => {
            sqlx::query(
                "SELECT COUNT(*) AS n FROM ledger_entries WHERE stripe_subscription = $1 AND kind = 'donation' AND id < $2",
            )
            .bind(subscription)
            .bind(recorded.id)
            .fetch_one(&mut *write.tx)
            .await?
            .try_get::<i64, _>("n")?
                == 0
        }
        _ => false,
    };
    let gift = GiftFacts {
        kind: entry.kind,
        source: entry.source,
        amount_minor: entry.amount_minor,
        recurring: entry.recurring,
        new_donor,
        first_installment,
        settles_match: false,
        at: recorded.received_at.map_or(GiftTime::Day(recorded.received_on), GiftTime::Instant),
    };
    for offer in offers.iter().filter(|offer| matching::qualifies(offer, &gift)) {
        let earned = gift_match(offer, entry.amount_minor);
        if earned > 0 {
            add_accrual(write, offer.id, recorded.id, recorded.id, "gift", earned, at).await?;
        }
    }
    Ok(())
}

async fn take_back(
    write: &mut WriteTx,
    recorded: &Entry,
    origin_id: i64,
    gift_left_minor: i64,
    offers: &[MatchOffer],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT a.offer_id, m.ratio, CAST(SUM(a.amount_minor) AS BIGINT) AS current_minor, \
         CAST(SUM(CASE WHEN a.kind = 'gift' THEN a.amount_minor ELSE 0 END) AS BIGINT) AS earned_minor \
         FROM match_accruals a JOIN match_offers m ON m.id = a.offer_id WHERE a.origin_entry_id = $1 \
         GROUP BY a.offer_id, m.ratio ORDER BY a.offer_id",
    )
    .bind(origin_id)
    .fetch_all(&mut *write.tx)
    .await?;
    for row in &rows {
        let ratio: String = row.try_get("ratio")?;
        let ratio =
            ratio.parse::<Decimal>().map_err(|_| StoreError::Corrupt(format!("match ratio {ratio}")))?;
        let offer_id: i64 = row.try_get("offer_id")?;
        let change = after_reversal(
            ratio,
            row.try_get("earned_minor")?,
            row.try_get("current_minor")?,
            gift_left_minor,
        );
        // Money given back (a refund that failed, a dispute won) brings the match back only
        // as far as the cap, which later gifts may have taken meanwhile.
        let room = offers
            .iter()
            .find(|offer| offer.id == offer_id)
            .map_or(0, |offer| offer.cap_minor - offer.matched_minor);
        let change = if change > 0 { change.min(room.max(0)) } else { change };
        if change != 0 {
            add_accrual(write, offer_id, recorded.id, origin_id, "reversal", change, at).await?;
        }
    }
    Ok(())
}

async fn add_accrual(
    write: &mut WriteTx,
    offer_id: i64,
    entry_id: i64,
    origin_id: i64,
    kind: &str,
    amount_minor: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // The offer's row first: its lock orders the accruals' ids as the sums were taken, which
    // is the order `appeal check` replays them in.
    sqlx::query("UPDATE match_offers SET matched_minor = matched_minor + $1 WHERE id = $2")
        .bind(amount_minor)
        .bind(offer_id)
        .execute(&mut *write.tx)
        .await?;
    sqlx::query(
        "INSERT INTO match_accruals (offer_id, entry_id, origin_entry_id, kind, amount_minor, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(offer_id)
    .bind(entry_id)
    .bind(origin_id)
    .bind(kind)
    .bind(amount_minor)
    .bind(stored_instant(at))
    .execute(&mut *write.tx)
    .await?;
    Ok(())
}
