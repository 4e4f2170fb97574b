//! An appeal's figures: each member's converted by the appeal's rate policy, added, and the
//! progress document that says how.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::{Appeal, Figures, RatePolicy};
use crate::ledger::campaign::Localized;
use crate::ledger::money::Currency;
use crate::ledger::progress::{percent, timestamp};
use crate::ledger::rates::{RATE_LOOKBACK_DAYS, Rate, choose_rate};

/// A member as the appeal's figures read it: its public figures (if known), when they are
/// of, and whether they may be out of date.
#[derive(Clone, Debug)]
pub struct MemberSnapshot {
    pub campaign: Option<String>,
    pub url: Option<String>,
    pub name: String,
    pub figures: Option<Figures>,
    pub as_of: Option<DateTime<Utc>>,
    pub stale: bool,
}

/// The rate a member's figure is converted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedRate {
    pub rate: Decimal,
    /// The day the rate is of; `None` for the appeal's own currency.
    pub day: Option<NaiveDate>,
    pub source: Option<String>,
}

/// Where rates come from: the rates kept near the launch day and near today.
#[derive(Clone, Debug, Default)]
pub struct KnownRates {
    pub at_launch: Vec<Rate>,
    pub latest: Vec<Rate>,
}

/// The source written for a rate fixed when the appeal was set up.
pub const FIXED_AT_LAUNCH: &str = "fixed at launch";

impl Appeal {
    /// The rate that turns `from` into the appeal's currency under its policy, on `today`, or
    /// why there is none (naming the pair and the day).
    pub fn rate_for(
        &self,
        from: Currency,
        known: &KnownRates,
        today: NaiveDate,
    ) -> Result<AppliedRate, String> {
        if from == self.currency {
            return Ok(AppliedRate { rate: Decimal::ONE, day: None, source: None });
        }
        let to = self.currency;
        let (rates, day, which) = match self.rate_policy {
            RatePolicy::Fixed => {
                if let Some(fixed) = self.fixed_rates.get(from.code()) {
                    return Ok(AppliedRate {
                        rate: fixed.rate,
                        day: Some(fixed.day.unwrap_or(self.launched_on)),
                        source: Some(fixed.source.clone().unwrap_or_else(|| FIXED_AT_LAUNCH.to_owned())),
                    });
                }
                (&known.at_launch, self.launched_on, "the appeal's launch day")
            }
            RatePolicy::Latest => (&known.latest, today, "today"),
        };
        choose_rate(rates, from, to, day)
            .map(|rate| AppliedRate { rate: rate.rate, day: Some(rate.day), source: Some(rate.source) })
            .ok_or_else(|| {
                format!(
                    "no {} to {} rate on {day} ({which}) or the {RATE_LOOKBACK_DAYS} days before",
                    from.code(),
                    to.code()
                )
            })
    }

    /// The currencies of its members, as far as they are known (for the rates to read).
    pub fn currencies<'a>(snapshots: impl IntoIterator<Item = &'a MemberSnapshot>) -> Vec<Currency> {
        let mut currencies: Vec<Currency> =
            snapshots.into_iter().filter_map(|member| member.figures.as_ref().map(|f| f.currency)).collect();
        currencies.sort_by_key(|currency| currency.code());
        currencies.dedup();
        currencies
    }
}

/// A campaign's figure (`amount_minor` of `from`, any size, nothing or below nothing after
/// refunds) in `to` at `rate`, rounded half away from zero to `to`'s minor unit; `None` only
/// when it does not fit.
pub fn convert_figure(amount_minor: i64, from: Currency, to: Currency, rate: Decimal) -> Option<i64> {
    if from == to {
        return Some(amount_minor);
    }
    let major = Decimal::from(amount_minor).checked_div(Decimal::from(10_i64.pow(from.digits())))?;
    let converted = major
        .checked_mul(rate)?
        .round_dp_with_strategy(to.digits(), rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    converted.checked_mul(Decimal::from(10_i64.pow(to.digits())))?.to_i64()
}

/// An appeal's progress document: a campaign's fields where they apply, and its members.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AppealProgress {
    pub appeal: String,
    pub title: Localized,
    pub currency: &'static str,
    pub goal: String,
    /// The members' figures converted to `currency` and added, the members whose figures or
    /// rate are missing left out (then `complete` is false).
    pub raised: String,
    pub percent: f64,
    pub donations: i64,
    pub donors: i64,
    pub rate_policy: RatePolicy,
    /// Every member is counted in `raised`.
    pub complete: bool,
    /// Some member's figures may be out of date (a remote not heard from lately).
    pub stale: bool,
    pub status: &'static str,
    pub updated_at: String,
    pub members: Vec<MemberProgress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MemberProgress {
    /// A campaign of this instance; `null` for a remote.
    pub campaign: Option<String>,
    /// A remote campaign's progress URL; `null` for this instance's.
    pub url: Option<String>,
    pub name: String,
    /// Its currency (`null`: a remote never heard from).
    pub currency: Option<&'static str>,
    /// Raised, in its currency.
    pub raised: Option<String>,
    pub goal: Option<String>,
    /// Raised, in the appeal's currency (`null`: not counted, see `problem`).
    pub raised_converted: Option<String>,
    /// `1 currency = rate` of the appeal's currency.
    pub rate: Option<String>,
    pub rate_date: Option<String>,
    pub rate_source: Option<String>,
    pub donations: i64,
    pub donors: i64,
    /// When its figures were last heard (a remote) or last changed (this instance's).
    pub as_of: Option<String>,
    /// A remote that did not answer lately: its last known figure is shown, never zero.
    pub stale: bool,
    /// Why it is not counted, when it is not.
    pub problem: Option<String>,
}

/// The appeal's progress from its members' figures and the rates.
/// `left_out`: some member is not shown (a campaign not public yet), so the total is not
/// complete.
pub fn appeal_progress(
    appeal: &Appeal,
    members: &[MemberSnapshot],
    known: &KnownRates,
    now: DateTime<Utc>,
    left_out: bool,
) -> AppealProgress {
    let to = appeal.currency;
    let today = now.date_naive();
    let mut raised = 0_i64;
    let mut complete = !left_out;
    let mut donations = 0_i64;
    let mut donors = 0_i64;
    let mut updated_at = appeal.updated_at;
    let mut shown = Vec::with_capacity(members.len());
    for member in members {
        let mut row = MemberProgress {
            campaign: member.campaign.clone(),
            url: member.url.clone(),
            name: member.name.clone(),
            currency: None,
            raised: None,
            goal: None,
            raised_converted: None,
            rate: None,
            rate_date: None,
            rate_source: None,
            donations: 0,
            donors: 0,
            as_of: member.as_of.map(timestamp),
            stale: member.stale,
            problem: None,
        };
        match &member.figures {
            None => {
                complete = false;
                row.problem = Some("not heard from yet".to_owned());
            }
            Some(figures) => {
                let from = figures.currency;
                row.currency = Some(from.code());
                row.raised = Some(from.format_minor(figures.raised_minor));
                row.goal = figures.goal_minor.map(|goal| from.format_minor(goal));
                row.donations = figures.donations;
                row.donors = figures.donors;
                donations = donations.saturating_add(figures.donations);
                donors = donors.saturating_add(figures.donors);
                if let Some(at) = figures.updated_at {
                    // A remote's clock may run ahead: never past now.
                    updated_at = updated_at.max(at.min(now));
                }
                let converted = appeal.rate_for(from, known, today).and_then(|rate| {
                    convert_figure(figures.raised_minor, from, to, rate.rate)
                        .map(|minor| (minor, rate))
                        .ok_or_else(|| "its figure cannot be converted (too large)".to_owned())
                });
                match converted {
                    Ok((minor, rate)) if raised.checked_add(minor).is_some() => {
                        raised += minor;
                        row.raised_converted = Some(to.format_minor(minor));
                        row.rate = Some(rate.rate.normalize().to_string());
                        row.rate_date = rate.day.map(|day| day.to_string());
                        row.rate_source = rate.source;
                    }
                    Ok(_) => {
                        complete = false;
                        row.problem = Some("its figure cannot be added (too large)".to_owned());
                    }
                    Err(problem) => {
                        complete = false;
                        row.problem = Some(problem);
                    }
                }
            }
        }
        shown.push(row);
    }
    AppealProgress {
        appeal: appeal.slug.to_string(),
        title: appeal.title.clone(),
        currency: to.code(),
        goal: to.format_minor(appeal.goal_minor),
        raised: to.format_minor(raised),
        percent: percent(raised, appeal.goal_minor),
        donations,
        donors,
        rate_policy: appeal.rate_policy,
        complete,
        stale: members.iter().any(|member| member.stale),
        status: "active",
        updated_at: timestamp(updated_at),
        members: shown,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::str::FromStr;

    use super::*;
    use crate::ledger::appeals::FixedRate;
    use crate::ledger::campaign::Slug;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).expect("a known currency")
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::from_str(text).expect("a day")
    }

    fn appeal(policy: RatePolicy) -> Appeal {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").expect("an instant").to_utc();
        Appeal {
            id: 1,
            slug: Slug::parse("international").expect("a slug"),
            title: Localized { en: "International".into(), fr: String::new() },
            currency: currency("CAD"),
            goal_minor: 25_000_000,
            rate_policy: policy,
            fixed_rates: BTreeMap::from([(
                "EUR",
                FixedRate::given(Decimal::from_str("1.47").expect("a rate")),
            )]),
            launched_on: day("2026-12-01"),
            members: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    fn snapshot(code: &str, raised_minor: i64) -> MemberSnapshot {
        MemberSnapshot {
            campaign: Some(code.to_ascii_lowercase()),
            url: None,
            name: code.to_owned(),
            figures: Some(Figures {
                campaign: None,
                currency: currency(code),
                raised_minor,
                goal_minor: None,
                donations: 2,
                donors: 1,
                updated_at: None,
            }),
            as_of: None,
            stale: false,
        }
    }

    fn rate(base: &str, quote: &str, on: &str, value: &str) -> Rate {
        Rate {
            base: currency(base),
            quote: currency(quote),
            day: day(on),
            rate: Decimal::from_str(value).expect("a rate"),
            source: "ECB".into(),
        }
    }

    #[test]
    fn fixed_rates_convert_each_member_and_the_total_is_their_sum() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").expect("an instant").to_utc();
        let known = KnownRates {
            at_launch: vec![
                rate("EUR", "GBP", "2026-11-30", "0.85"),
                rate("EUR", "CAD", "2026-11-30", "1.50"),
            ],
            latest: vec![rate("EUR", "CAD", "2026-12-04", "1.60")],
        };
        let members = [snapshot("CAD", 100_000), snapshot("EUR", 10_000), snapshot("GBP", 8_500)];
        let document = appeal_progress(&appeal(RatePolicy::Fixed), &members, &known, now, false);
        // CAD as is; EUR at the given 1.47; GBP across the euro on the launch day (1.50 / 0.85).
        assert_eq!(document.members[0].raised_converted.as_deref(), Some("1000.00"));
        assert_eq!(document.members[1].raised_converted.as_deref(), Some("147.00"));
        assert_eq!(document.members[1].rate_source.as_deref(), Some(FIXED_AT_LAUNCH));
        assert_eq!(document.members[2].raised_converted.as_deref(), Some("150.00"));
        assert_eq!(document.members[2].rate_date.as_deref(), Some("2026-11-30"));
        assert_eq!(document.raised, "1297.00");
        assert!(document.complete);
        assert_eq!(document.donations, 6);
    }

    #[test]
    fn the_latest_policy_takes_todays_rate_and_a_missing_one_is_named_not_counted() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").expect("an instant").to_utc();
        let known =
            KnownRates { at_launch: Vec::new(), latest: vec![rate("EUR", "CAD", "2026-12-04", "1.60")] };
        let members = [snapshot("EUR", 10_000), snapshot("SEK", 100_000), snapshot("EUR", -500)];
        let document = appeal_progress(&appeal(RatePolicy::Latest), &members, &known, now, false);
        assert_eq!(document.members[0].raised_converted.as_deref(), Some("160.00"));
        assert_eq!(document.members[2].raised_converted.as_deref(), Some("-8.00"));
        let problem = document.members[1].problem.as_deref().expect("a problem");
        assert!(problem.contains("SEK to CAD") && problem.contains("2026-12-06"), "{problem}");
        assert_eq!(document.raised, "152.00");
        assert!(!document.complete);
    }
}
