//! The rows of an export, read straight from the database and written as they come.
//!
//! An export can hold a million entries. The query selects only the columns exports write,
//! each row is handed to the export's writer as a borrowed view (its text is not copied into
//! an `Entry` first) and the writer's text goes out in pieces of about 64 KiB through a
//! bounded channel: however large the ledger, only a few pieces are in memory at once.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, read_currency, read_date, read_flag, read_instant, read_kind, read_source};
use crate::access::Scope;
use crate::ledger::entry::{Donor, Entry};
use crate::ledger::{Currency, Slug, StripeRefs};

/// Which entries an export covers: received in the range (instants for online money,
/// dates for offline money), of one campaign and branch or all.
#[derive(Clone, Debug)]
pub struct ExportFilter {
    pub from_instant: DateTime<Utc>,
    pub to_instant: DateTime<Utc>,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub campaign_id: Option<i64>,
    pub branch_id: Option<i64>,
    /// Only the entries one payout carried.
    pub payout_id: Option<String>,
    /// Date entries by the day their payout arrived instead of the day money was received.
    pub by_payout_date: bool,
    /// How long a piece may wait for the reader (a download the client stopped reading)
    /// before the export gives up and its database connection goes back to the pool.
    pub stall_timeout: std::time::Duration,
}

/// The columns exports write, in the order `ExportRow` reads them by position.
const EXPORT_COLUMNS: &str = "e.id, c.slug, b.slug, e.kind, e.source, e.method, pd.name, pd.email, \
     e.anonymous, e.amount_minor, e.fee_minor, e.net_minor, e.currency, e.presented_amount_minor, \
     e.presented_currency, e.recurring, e.reverses_entry_id, e.stripe_payment_intent, e.stripe_charge, \
     e.stripe_invoice, e.stripe_subscription, e.stripe_balance_transaction, e.stripe_refund, e.stripe_dispute, \
     pi.payout_id, e.reference, e.batch_id, e.recorded_at, e.recorded_by, e.reason, bt.reference, \
     e.received_on, e.received_at, e.campaign_id, e.branch_id, e.source_ref, e.rate, e.rate_on, e.rate_source";

const ID: usize = 0;
const CAMPAIGN_SLUG: usize = 1;
const BRANCH_SLUG: usize = 2;
const KIND: usize = 3;
const SOURCE: usize = 4;
const METHOD: usize = 5;
const DONOR_NAME: usize = 6;
const DONOR_EMAIL: usize = 7;
const ANONYMOUS: usize = 8;
const AMOUNT: usize = 9;
const FEE: usize = 10;
const NET: usize = 11;
const CURRENCY: usize = 12;
const PRESENTED_AMOUNT: usize = 13;
const PRESENTED_CURRENCY: usize = 14;
const RECURRING: usize = 15;
const REVERSES: usize = 16;
/// Payment intent, charge, invoice, subscription, balance transaction, refund, dispute, payout.
const STRIPE: [usize; 8] = [17, 18, 19, 20, 21, 22, 23, 24];
const REFERENCE: usize = 25;
const BATCH_ID: usize = 26;
const RECORDED_AT: usize = 27;
const RECORDED_BY: usize = 28;
const REASON: usize = 29;
const BATCH_REFERENCE: usize = 30;
const RECEIVED_ON: usize = 31;
const RECEIVED_AT: usize = 32;
const CAMPAIGN_ID: usize = 33;
const BRANCH_ID: usize = 34;
const SOURCE_REF: usize = 35;
/// The rate money in another currency was counted at: the rate, its day, its source.
const RATE: [usize; 3] = [36, 37, 38];

/// One entry of an export as the database returned it, read field by field. Donors' names
/// and e-mails read as absent when the scope may not see them.
pub struct ExportRow<'r> {
    row: &'r AnyRow,
    sees_donors: bool,
    /// The campaign's currency, kept from row to row: most rows share it.
    currency: &'r mut Option<Currency>,
}

impl std::fmt::Debug for ExportRow<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ExportRow").field("id", &self.id().ok()).finish_non_exhaustive()
    }
}

impl ExportRow<'_> {
    fn text(&self, index: usize) -> Result<Option<&str>, StoreError> {
        Ok(self.row.try_get::<Option<&str>, _>(index)?)
    }

    fn required(&self, index: usize) -> Result<&str, StoreError> {
        Ok(self.row.try_get::<&str, _>(index)?)
    }

    fn number(&self, index: usize) -> Result<i64, StoreError> {
        Ok(self.row.try_get::<i64, _>(index)?)
    }

    fn optional_number(&self, index: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.row.try_get::<Option<i64>, _>(index)?)
    }

    fn flag(&self, index: usize) -> Result<bool, StoreError> {
        read_flag(self.row, index)
    }

    pub fn id(&self) -> Result<i64, StoreError> {
        self.number(ID)
    }
    pub fn campaign_slug(&self) -> Result<&str, StoreError> {
        self.required(CAMPAIGN_SLUG)
    }
    pub fn branch_slug(&self) -> Result<Option<&str>, StoreError> {
        self.text(BRANCH_SLUG)
    }
    pub fn kind(&self) -> Result<&str, StoreError> {
        self.required(KIND)
    }
    pub fn source(&self) -> Result<&str, StoreError> {
        self.required(SOURCE)
    }
    pub fn method(&self) -> Result<&str, StoreError> {
        self.required(METHOD)
    }
    pub fn donor_name(&self) -> Result<Option<&str>, StoreError> {
        Ok(self.text(DONOR_NAME)?.filter(|_| self.sees_donors))
    }
    pub fn donor_email(&self) -> Result<Option<&str>, StoreError> {
        Ok(self.text(DONOR_EMAIL)?.filter(|_| self.sees_donors))
    }
    pub fn anonymous(&self) -> Result<bool, StoreError> {
        self.flag(ANONYMOUS)
    }
    pub fn amount_minor(&self) -> Result<i64, StoreError> {
        self.number(AMOUNT)
    }
    pub fn fee_minor(&self) -> Result<i64, StoreError> {
        self.number(FEE)
    }
    pub fn net_minor(&self) -> Result<i64, StoreError> {
        self.number(NET)
    }

    pub fn currency(&mut self) -> Result<Currency, StoreError> {
        let code = self.row.try_get::<&str, _>(CURRENCY)?;
        match *self.currency {
            Some(currency) if currency.code() == code => Ok(currency),
            _ => {
                let currency = read_currency(code)?;
                *self.currency = Some(currency);
                Ok(currency)
            }
        }
    }

    /// What the donor paid in another currency than the campaign's, if they did.
    pub fn presented(&self) -> Result<Option<(i64, Currency)>, StoreError> {
        match (self.optional_number(PRESENTED_AMOUNT)?, self.text(PRESENTED_CURRENCY)?) {
            (Some(amount), Some(code)) => Ok(Some((amount, read_currency(code)?))),
            _ => Ok(None),
        }
    }
    /// The rate, its day and its source, for money recorded in another currency.
    pub fn rate(&self) -> Result<[Option<&str>; 3], StoreError> {
        Ok([self.text(RATE[0])?, self.text(RATE[1])?, self.text(RATE[2])?])
    }
    pub fn recurring(&self) -> Result<bool, StoreError> {
        self.flag(RECURRING)
    }
    pub fn reverses_entry_id(&self) -> Result<Option<i64>, StoreError> {
        self.optional_number(REVERSES)
    }
    /// Stripe's payment intent, charge, invoice, subscription, balance transaction, refund,
    /// dispute and payout, in that order.
    pub fn stripe(&self) -> Result<[Option<&str>; 8], StoreError> {
        let mut refs = [None; 8];
        for (slot, index) in refs.iter_mut().zip(STRIPE) {
            *slot = self.text(index)?;
        }
        Ok(refs)
    }
    pub fn reference(&self) -> Result<Option<&str>, StoreError> {
        self.text(REFERENCE)
    }
    pub fn batch_id(&self) -> Result<Option<i64>, StoreError> {
        self.optional_number(BATCH_ID)
    }
    /// As stored: RFC 3339 in UTC, with microseconds.
    pub fn recorded_at(&self) -> Result<&str, StoreError> {
        self.required(RECORDED_AT)
    }
    pub fn recorded_by(&self) -> Result<&str, StoreError> {
        self.required(RECORDED_BY)
    }
    pub fn reason(&self) -> Result<Option<&str>, StoreError> {
        self.text(REASON)
    }
    pub fn batch_reference(&self) -> Result<Option<&str>, StoreError> {
        self.text(BATCH_REFERENCE)
    }
    pub fn source_ref(&self) -> Result<Option<&str>, StoreError> {
        self.text(SOURCE_REF)
    }
    pub fn received_on(&self) -> Result<NaiveDate, StoreError> {
        read_date(self.required(RECEIVED_ON)?)
    }
    pub fn received_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.text(RECEIVED_AT)?.map(read_instant).transpose()
    }

    /// The whole entry, for writers that want one (the journals). What exports do not
    /// write (the donor's key and public message) is left empty.
    pub fn to_entry(&mut self) -> Result<Entry, StoreError> {
        let id = self.id()?;
        let [payment_intent, charge, invoice, subscription, balance_transaction, refund, dispute, payout] =
            self.stripe()?.map(|value| value.map(str::to_owned));
        let kind = self.kind()?;
        let source = self.source()?;
        Ok(Entry {
            id,
            campaign_id: self.number(CAMPAIGN_ID)?,
            campaign_slug: Slug::from_stored(self.campaign_slug()?.to_owned()),
            branch_id: self.optional_number(BRANCH_ID)?,
            branch_slug: self.branch_slug()?.map(|slug| Slug::from_stored(slug.to_owned())),
            kind: read_kind(kind)?,
            source: read_source(source)?,
            method: self.method()?.to_owned(),
            amount_minor: self.amount_minor()?,
            fee_minor: self.fee_minor()?,
            net_minor: self.net_minor()?,
            currency: self.currency()?,
            donor_key: String::new(),
            donor: Donor {
                name: self.donor_name()?.map(str::to_owned),
                email: self.donor_email()?.map(str::to_owned),
                anonymous: self.anonymous()?,
                message: None,
            },
            recurring: self.recurring()?,
            received_on: self.received_on()?,
            recorded_at: read_instant(self.recorded_at()?)?,
            recorded_by: self.recorded_by()?.to_owned(),
            reference: self.reference()?.map(str::to_owned),
            reason: self.reason()?.map(str::to_owned),
            reverses_entry_id: self.reverses_entry_id()?,
            origin_entry_id: id,
            stripe: StripeRefs {
                payment_intent,
                charge,
                invoice,
                subscription,
                balance_transaction,
                refund,
                dispute,
                payout,
            },
            presented: self.presented()?,
            rate: super::entries::applied_rate(self.rate()?)?,
            received_at: self.received_at()?,
            batch_id: self.batch_id()?,
            batch_reference: self.batch_reference()?.map(str::to_owned),
            source_ref: self.source_ref()?.map(str::to_owned),
            // Not among the exported columns.
            match_offer_id: None,
        })
    }
}

/// How much text an export gathers before handing it on.
const PIECE_BYTES: usize = 64 * 1024;

impl Store {
    /// Streams an export in the order entries were recorded: `head` first, then what
    /// `write` writes for each row in `scope` matching `filter`, in pieces of about 64 KiB.
    /// A failure is sent after the text written before it, and ends the stream.
    pub fn stream_export<W>(
        &self,
        scope: &Scope,
        filter: ExportFilter,
        head: String,
        mut write: W,
    ) -> tokio::sync::mpsc::Receiver<Result<String, StoreError>>
    where
        W: FnMut(&mut ExportRow<'_>, &mut String) -> Result<(), StoreError> + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let store = self.clone();
        let scope = scope.clone();
        tokio::spawn(async move {
            use futures_util::TryStreamExt;
            let range = if filter.by_payout_date {
                // A paid payout's arrival day is in the range ($1 and $2 go unused).
                "pi.payout_id IN (SELECT p.id FROM payouts p WHERE p.status = 'paid' \
                 AND p.arrival_date >= $3 AND p.arrival_date <= $4) AND $1 = $1 AND $2 = $2"
            } else {
                "((e.received_at IS NOT NULL AND e.received_at >= $1 AND e.received_at < $2) \
                  OR (e.received_at IS NULL AND e.received_on >= $3 AND e.received_on <= $4))"
            };
            // One campaign's (or branch's) entries are found through its index, in the order
            // they were recorded; `$5 IS NULL OR …` would make SQLite scan the whole ledger.
            let campaign = if filter.campaign_id.is_some() { "e.campaign_id = $5" } else { "$5 IS NULL" };
            let branch = if filter.branch_id.is_some() { "e.branch_id = $6" } else { "$6 IS NULL" };
            let sql = format!(
                "SELECT {EXPORT_COLUMNS} {} WHERE {range} AND {campaign} AND {branch} \
                 AND ($7 IS NULL OR pi.payout_id = $7) AND ($8 IS NULL OR b.slug = $8) ORDER BY e.id",
                super::entries::ENTRY_FROM
            );
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(super::stored_instant(filter.from_instant))
                .bind(super::stored_instant(filter.to_instant))
                .bind(filter.from_date.format("%Y-%m-%d").to_string())
                .bind(filter.to_date.format("%Y-%m-%d").to_string())
                .bind(filter.campaign_id)
                .bind(filter.branch_id)
                .bind(filter.payout_id.clone())
                .bind(scope.branch())
                .fetch(store.pool());
            let mut piece = head;
            let mut currency = None;
            loop {
                let written = match rows.try_next().await {
                    Ok(Some(row)) => {
                        let mut view = ExportRow {
                            row: &row,
                            sees_donors: scope.sees_donors(),
                            currency: &mut currency,
                        };
                        write(&mut view, &mut piece)
                    }
                    Ok(None) => break,
                    Err(error) => Err(error.into()),
                };
                if let Err(error) = written {
                    // What was written goes out first, then the failure; then stop.
                    let _ = sender.send(Ok(std::mem::take(&mut piece))).await;
                    let _ = sender.send(Err(error)).await;
                    return;
                }
                if piece.len() >= PIECE_BYTES {
                    let sent = tokio::time::timeout(
                        filter.stall_timeout,
                        sender.send(Ok(std::mem::replace(
                            &mut piece,
                            String::with_capacity(PIECE_BYTES + 1024),
                        ))),
                    );
                    match sent.await {
                        Ok(Ok(())) => {}
                        // The reader went away (a closed download): stop.
                        Ok(Err(_)) => return,
                        Err(_) => {
                            tracing::warn!(
                                "an export stalled (its reader stopped reading); gave its connection back"
                            );
                            return;
                        }
                    }
                }
            }
            let _ = sender.send(Ok(piece)).await;
        });
        receiver
    }
}
