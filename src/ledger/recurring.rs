//! Recurring health: month by month, the subscriptions that are active, new, recovered,
//! cancelled and ended by failed payments, the cohorts and a projection, all read from each
//! subscription's recorded status changes. Pure: the changes come in, the figures go out.
//!
//! A subscription counts as **active** while Stripe keeps it going: `active`, `trialing` or
//! `past_due` (a failed payment that Stripe is still retrying). It is **new** in the month it
//! first becomes active; **recovered** when it comes back to paying from `past_due`,
//! `unpaid` or `paused`; it leaves as **ended by failed payments** when it becomes `unpaid`
//! or Stripe cancels it for a failed or disputed payment (or, with no reason given, while
//! past due), otherwise as **cancelled** (by the donor or a treasurer).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// One recorded change of one subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub subscription: String,
    /// Stripe's status after the change.
    pub status: String,
    /// Its amount in minor units a month (a yearly one as a twelfth).
    pub monthly_minor: i64,
    /// Stripe's `cancellation_details.reason`, on the change that ends it.
    pub end_reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// A calendar month, in the organization's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(NaiveDate);

impl Month {
    /// `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.trim().split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1).map(Month)
    }

    pub fn of(date: NaiveDate) -> Month {
        Month(date.with_day(1).unwrap_or(date))
    }

    pub fn first_day(self) -> NaiveDate {
        self.0
    }

    pub fn plus(self, months: u32) -> Month {
        Month(self.0.checked_add_months(Months::new(months)).unwrap_or(NaiveDate::MAX))
    }

    pub fn minus(self, months: u32) -> Month {
        Month(self.0.checked_sub_months(Months::new(months)).unwrap_or(NaiveDate::MIN))
    }

    /// Months from `self` to `later` (0 for the same month).
    pub fn until(self, later: Month) -> i64 {
        let months = |month: Month| i64::from(month.0.year()) * 12 + i64::from(month.0.month0());
        months(later) - months(self)
    }

    /// The instant the month starts, in `zone`.
    fn starts<Z: TimeZone>(self, zone: &Z) -> DateTime<Utc> {
        let midnight = self.0.and_hms_opt(0, 0, 0).unwrap_or_default();
        // Where the clocks skip midnight, the month starts when they show an hour later.
        zone.from_local_datetime(&midnight)
            .earliest()
            .or_else(|| zone.from_local_datetime(&(midnight + chrono::Duration::hours(1))).earliest())
            .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.0.year(), self.0.month())
    }
}

/// One month's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthFigures {
    pub month: Option<Month>,
    /// Active at the month's end (past due included).
    pub active: i64,
    /// Of those, past due at the month's end.
    pub past_due: i64,
    /// The active ones' amounts a month, in minor units.
    pub monthly_minor: i64,
    pub new: i64,
    pub recovered: i64,
    pub cancelled: i64,
    pub failed: i64,
    /// Active at the month's end less active at the previous month's end.
    pub net: i64,
}

/// The subscriptions that first became active in one month, and how many of them were still
/// active at the end of that month and of each month after it, up to the last one reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    pub month: Month,
    pub started: i64,
    pub active: Vec<i64>,
}

/// A month ahead, from the active set and the observed churn alone (no new subscriptions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projected {
    pub month: Month,
    pub active: i64,
    pub monthly_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub months: Vec<MonthFigures>,
    pub cohorts: Vec<Cohort>,
    /// Subscriptions ended (cancelled or failed) over the months, per subscription at risk in
    /// a month (active at its start, or started during it): the monthly churn the projection
    /// assumes, never above 1.
    pub churn: Decimal,
    pub projection: Vec<Projected>,
}

/// How many months a projection looks ahead.
pub const PROJECTED_MONTHS: u32 = 12;

fn is_active(status: &str) -> bool {
    matches!(status, "active" | "trialing" | "past_due")
}

fn is_paying(status: &str) -> bool {
    matches!(status, "active" | "trialing")
}

/// What a change out of the active set was: `true` for an end by failed payments.
fn ended_by_failure(before: &str, change: &Change) -> bool {
    change.status == "unpaid"
        || match change.end_reason.as_deref() {
            Some(reason) => matches!(reason, "payment_failed" | "payment_disputed"),
            None => matches!(before, "past_due" | "unpaid"),
        }
}

/// The figures of every month from `from` to `to` (inclusive), in `zone`.
pub fn health<Z: TimeZone>(changes: &[Change], zone: &Z, from: Month, to: Month) -> Health {
    let mut by_subscription: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for change in changes {
        by_subscription.entry(change.subscription.as_str()).or_default().push(change);
    }
    for history in by_subscription.values_mut() {
        // Stable: changes at the same instant keep the order they were recorded in.
        history.sort_by_key(|change| change.at);
    }
    let span = u32::try_from(from.until(to).max(0)).unwrap_or(0);
    let months: Vec<Month> = (0..=span).map(|n| from.plus(n)).collect();
    let ends: Vec<DateTime<Utc>> = months.iter().map(|month| month.plus(1).starts(zone)).collect();
    let start = from.starts(zone);

    let mut figures: Vec<MonthFigures> =
        months.iter().map(|&month| MonthFigures { month: Some(month), ..MonthFigures::default() }).collect();
    let mut active_before = 0_i64;
    let mut cohorts: BTreeMap<Month, Cohort> = BTreeMap::new();

    for history in by_subscription.values() {
        // The status in force at an instant: the last change before it.
        let status_at = |at: DateTime<Utc>| history.iter().take_while(|change| change.at < at).last();
        if status_at(start).is_some_and(|change| is_active(&change.status)) {
            active_before += 1;
        }
        for (month_figures, end) in figures.iter_mut().zip(&ends) {
            if let Some(change) = status_at(*end).filter(|change| is_active(&change.status)) {
                month_figures.active += 1;
                month_figures.monthly_minor += change.monthly_minor;
                month_figures.past_due += i64::from(change.status == "past_due");
            }
        }
        // The flows, change by change.
        let mut before: Option<&Change> = None;
        let mut started: Option<DateTime<Utc>> = None;
        for change in history {
            let was = before.map_or("", |change| change.status.as_str());
            if change.at >= start
                && let Some(index) = ends.iter().position(|end| change.at < *end)
            {
                let month = &mut figures[index];
                match (is_active(was), is_active(&change.status)) {
                    (false, true) if started.is_none() => month.new += 1,
                    (true, false) if ended_by_failure(was, change) => month.failed += 1,
                    (true, false) => month.cancelled += 1,
                    _ => {}
                }
                if is_paying(&change.status) && matches!(was, "past_due" | "unpaid" | "paused") {
                    month.recovered += 1;
                }
            }
            if started.is_none() && is_active(&change.status) {
                started = Some(change.at);
            }
            before = Some(change);
        }
        // Its cohort: the month it first became active, if reported.
        if let Some(started) = started {
            let month = Month::of(started.with_timezone(zone).date_naive());
            if let Some(first) = months.iter().position(|&reported| reported == month) {
                let cohort = cohorts.entry(month).or_insert_with(|| Cohort {
                    month,
                    started: 0,
                    active: vec![0; months.len() - first],
                });
                cohort.started += 1;
                for (count, end) in cohort.active.iter_mut().zip(&ends[first..]) {
                    *count += i64::from(status_at(*end).is_some_and(|change| is_active(&change.status)));
                }
            }
        }
    }
    let mut previous = active_before;
    let mut ended = 0_i64;
    let mut exposed = 0_i64;
    for month in &mut figures {
        month.net = month.active - previous;
        ended += month.cancelled + month.failed;
        // At risk in the month: active at its start, or started during it.
        exposed += previous + month.new;
        previous = month.active;
    }
    let churn = if exposed > 0 {
        (Decimal::from(ended) / Decimal::from(exposed))
            .min(Decimal::ONE)
            .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
    } else {
        Decimal::ZERO
    };
    let last = figures.last().cloned().unwrap_or_default();
    let mut kept = Decimal::ONE;
    let projection = (1..=PROJECTED_MONTHS)
        .map(|ahead| {
            kept *= Decimal::ONE - churn;
            let round = |value: Decimal| {
                i64::try_from(value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
                    .unwrap_or(0)
            };
            Projected {
                month: to.plus(ahead),
                active: round(Decimal::from(last.active) * kept),
                monthly_minor: round(Decimal::from(last.monthly_minor) * kept),
            }
        })
        .collect();
    Health { months: figures, cohorts: cohorts.into_values().collect(), churn, projection }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("an instant").with_timezone(&Utc)
    }

    fn change(subscription: &str, status: &str, monthly: i64, reason: Option<&str>, when: &str) -> Change {
        Change {
            subscription: subscription.to_owned(),
            status: status.to_owned(),
            monthly_minor: monthly,
            end_reason: reason.map(str::to_owned),
            at: at(when),
        }
    }

    fn month(text: &str) -> Month {
        Month::parse(text).expect("a month")
    }

    #[test]
    fn months_parse_and_count() {
        assert_eq!(month("2026-02").to_string(), "2026-02");
        assert_eq!(month("2026-11").plus(3).to_string(), "2027-02");
        assert_eq!(month("2026-01").until(month("2026-12")), 11);
        for wrong in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert_eq!(Month::parse(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn a_year_of_flows_adds_up() {
        let changes = vec![
            change("a", "active", 1000, None, "2026-01-10T12:00:00Z"),
            change("b", "active", 2500, None, "2026-01-20T12:00:00Z"),
            // b fails in February, recovers in March.
            change("b", "past_due", 2500, None, "2026-02-05T12:00:00Z"),
            change("b", "active", 2500, None, "2026-03-02T12:00:00Z"),
            // c, yearly 120.00, starts in February and its donor cancels in April.
            change("c", "active", 1000, None, "2026-02-14T12:00:00Z"),
            change("c", "canceled", 1000, Some("cancellation_requested"), "2026-04-01T12:00:00Z"),
            // d fails and Stripe gives up.
            change("d", "active", 500, None, "2026-03-03T12:00:00Z"),
            change("d", "past_due", 500, None, "2026-03-20T12:00:00Z"),
            change("d", "canceled", 500, Some("payment_failed"), "2026-04-15T12:00:00Z"),
        ];
        let health = health(&changes, &Utc, month("2026-01"), month("2026-04"));
        let rows: Vec<[i64; 8]> = health
            .months
            .iter()
            .map(|m| {
                [m.active, m.past_due, m.monthly_minor, m.new, m.recovered, m.cancelled, m.failed, m.net]
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                [2, 0, 3500, 2, 0, 0, 0, 2],
                [3, 1, 4500, 1, 0, 0, 0, 1],
                [4, 1, 5000, 1, 1, 0, 0, 1],
                [2, 0, 3500, 0, 0, 1, 1, -2],
            ]
        );
        assert_eq!(health.cohorts.len(), 3);
        assert_eq!(health.cohorts[0].active, vec![2, 2, 2, 2]);
        assert_eq!(health.cohorts[1].active, vec![1, 1, 0]);
        assert_eq!(health.cohorts[2].active, vec![1, 0]);
        // Two ended over (0 + 2) + (2 + 1) + (3 + 1) + (4 + 0) at risk in the months.
        assert_eq!(health.churn, Decimal::new(1538, 4));
        assert_eq!(health.projection.len(), 12);
        assert_eq!(health.projection[0].month, month("2026-05"));
        assert_eq!(health.projection[0].active, 2);
        assert_eq!(health.projection[0].monthly_minor, 2962);
    }

    #[test]
    fn months_follow_the_organizations_zone() {
        // 03:00 UTC on 1 February is still January in Toronto.
        let changes = vec![change("a", "active", 1000, None, "2026-02-01T03:00:00Z")];
        let zone = chrono_tz::America::Toronto;
        let health = health(&changes, &zone, month("2026-01"), month("2026-02"));
        assert_eq!(health.months[0].new, 1);
        assert_eq!(health.months[0].active, 1);
        assert_eq!(health.months[1].net, 0);
    }

    #[test]
    fn what_came_before_the_first_month_is_the_starting_point() {
        let changes = vec![
            change("a", "active", 1000, None, "2025-06-01T12:00:00Z"),
            change("a", "canceled", 1000, None, "2026-01-05T12:00:00Z"),
            change("b", "unpaid", 700, None, "2025-12-01T12:00:00Z"),
        ];
        let health = health(&changes, &Utc, month("2026-01"), month("2026-01"));
        assert_eq!(health.months[0].cancelled, 1);
        assert_eq!(health.months[0].new, 0);
        assert_eq!(health.months[0].net, -1);
        assert!(health.cohorts.is_empty());
        assert_eq!(health.churn, Decimal::ONE);
        // Started and ended in the month they are reported: never a churn above 1.
        let changes = vec![
            change("a", "active", 1000, None, "2026-01-02T12:00:00Z"),
            change("a", "canceled", 1000, None, "2026-01-03T12:00:00Z"),
            change("b", "active", 1000, None, "2026-01-02T12:00:00Z"),
            change("b", "canceled", 1000, None, "2026-01-03T12:00:00Z"),
            change("c", "active", 1000, None, "2025-12-02T12:00:00Z"),
        ];
        let health = super::health(&changes, &Utc, month("2026-01"), month("2026-01"));
        assert_eq!(health.churn, Decimal::new(6667, 4), "two ended of three at risk");
        assert!(health.projection.iter().all(|month| month.active >= 0 && month.monthly_minor >= 0));
        assert_eq!(health.projection[0].active, 0);
    }
}
