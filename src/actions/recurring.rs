//! Recurring health, for the API and the dashboard alike: which months, which campaign,
//! which currency, then the figures from the subscriptions' recorded history.

use chrono::{NaiveDate, Utc};

use super::ActionError;
use crate::access::Actor;
use crate::ledger::recurring::{Health, Month, health};
use crate::ledger::{Campaign, Currency, FieldErrors};
use crate::store::Store;

/// The most months one report covers.
pub const MAX_MONTHS: i64 = 120;

/// What a treasurer asks for; each part optional.
#[derive(Clone, Debug, Default)]
pub struct RecurringQuery {
    pub campaign: Option<String>,
    /// `YYYY-MM`; eleven months before `to` when missing.
    pub from: Option<String>,
    /// `YYYY-MM`; this month when missing.
    pub to: Option<String>,
    /// Needed only when the campaigns count in several currencies and no campaign is named.
    pub currency: Option<String>,
}

#[derive(Clone, Debug)]
pub struct RecurringReport {
    pub campaign: Option<Campaign>,
    pub currency: Currency,
    pub from: Month,
    pub to: Month,
    pub health: Health,
}

/// The recurring figures `query` asks for, as `actor` may see them (a branch treasurer sees
/// their branch's subscriptions), months in `zone`.
pub async fn recurring_health(
    store: &Store,
    zone: chrono_tz::Tz,
    query: &RecurringQuery,
    actor: &Actor,
) -> Result<RecurringReport, ActionError> {
    let today = Utc::now().with_timezone(&zone).date_naive();
    let (from, to) = months(query, today).map_err(ActionError::Invalid)?;
    let campaign = match query.campaign.as_deref().map(str::trim).filter(|slug| !slug.is_empty()) {
        Some(slug) => Some(store.campaign_by_slug(slug).await?.ok_or(ActionError::NotFound("campaign"))?),
        None => None,
    };
    let asked = match query.currency.as_deref().map(str::trim).filter(|code| !code.is_empty()) {
        Some(code) => Some(
            Currency::from_code(&code.to_ascii_uppercase())
                .map_err(|error| ActionError::Invalid(FieldErrors::single("currency", error)))?,
        ),
        None => None,
    };
    let currency = match (&campaign, asked) {
        (Some(campaign), Some(asked)) if asked != campaign.currency => {
            return Err(ActionError::Invalid(FieldErrors::single(
                "currency",
                format!("campaign {} counts in {}, not {asked}", campaign.slug, campaign.currency),
            )));
        }
        (Some(campaign), _) => campaign.currency,
        (None, Some(asked)) => asked,
        (None, None) => {
            let currencies = store.campaign_currencies().await?;
            match currencies.as_slice() {
                [] => return Err(ActionError::NotFound("campaign")),
                [only] => Currency::from_code(only).map_err(|_| {
                    ActionError::Store(crate::store::StoreError::Corrupt(format!("currency {only}")))
                })?,
                several => {
                    return Err(ActionError::Invalid(FieldErrors::single(
                        "currency",
                        format!("the campaigns count in {}: name one, or a campaign", several.join(", ")),
                    )));
                }
            }
        }
    };
    let changes =
        store.subscription_changes(&actor.scope(), campaign.as_ref().map(|c| c.id), currency.code()).await?;
    let health = health(&changes, &zone, from, to);
    Ok(RecurringReport { campaign, currency, from, to, health })
}

/// The months asked for, or the errors naming `from` and `to`.
fn months(query: &RecurringQuery, today: NaiveDate) -> Result<(Month, Month), FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut read = |field: &str, text: Option<&str>| {
        let text = text.map(str::trim).filter(|text| !text.is_empty())?;
        let month = Month::parse(text);
        if month.is_none() {
            errors.add(field, format!("must be a month as YYYY-MM, not {text:?}"));
        }
        month
    };
    let to = read("to", query.to.as_deref());
    let from = read("from", query.from.as_deref());
    if !errors.is_empty() {
        return Err(errors);
    }
    let to = to.unwrap_or_else(|| Month::of(today));
    let from = from.unwrap_or_else(|| to.minus(11));
    if from > to {
        return Err(FieldErrors::single("from", format!("must not be after to ({to})")));
    }
    if from.until(to) >= MAX_MONTHS {
        return Err(FieldErrors::single(
            "to",
            format!("must be within {MAX_MONTHS} months of from ({from})"),
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>) -> RecurringQuery {
        RecurringQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            ..RecurringQuery::default()
        }
    }

    #[test]
    fn months_default_to_the_last_twelve_and_errors_name_the_field() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("a day");
        let (from, to) = months(&query(None, None), today).expect("months");
        assert_eq!((from.to_string(), to.to_string()), ("2026-01".to_owned(), "2026-12".to_owned()));
        let wrong = months(&query(Some("2026-13"), Some("soon")), today).expect_err("refused");
        assert!(wrong.as_map().contains_key("from") && wrong.as_map().contains_key("to"), "{wrong}");
        let reversed = months(&query(Some("2026-05"), Some("2026-04")), today).expect_err("refused");
        assert!(reversed.as_map().contains_key("from"));
        let long = months(&query(Some("2000-01"), Some("2026-04")), today).expect_err("refused");
        assert!(long.as_map().contains_key("to"));
    }
}
