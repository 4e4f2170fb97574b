//! Exchange rates: given by treasurers, imported from the European Central Bank's files,
//! listed, and the rate that turns one currency into another on a day (a missing one is an
//! error that names the pair and the day, never a silent 1).

use chrono::NaiveDate;

use super::ActionError;
use crate::access::{Actor, Role};
use crate::ledger::FieldErrors;
use crate::ledger::money::Currency;
use crate::ledger::rates::{
    RATE_LOOKBACK_DAYS, Rate, RateInput, choose_rate, parse_currency, parse_ecb, validate_rate,
};
use crate::ledger::validation::parse_day;
use crate::store::{RateFilter, Store};

/// The most rates a list shows.
pub const RATES_LISTED: i64 = 1_000;

/// What an import kept.
#[derive(Clone, Debug)]
pub struct RatesImported {
    pub rates: usize,
    pub days: usize,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    /// Rates new or changed (the others were kept already).
    pub changed: u64,
}

fn require_keeper(actor: &Actor) -> Result<(), ActionError> {
    if !actor.role.allows(Role::Treasurer) || actor.branch.is_some() {
        return Err(ActionError::Forbidden(
            "rates serve every branch: a treasurer of the whole organization keeps them".to_owned(),
        ));
    }
    Ok(())
}

/// Keeps a rate a treasurer gives (a rate of the same pair, day and source is replaced).
pub async fn add_rate(store: &Store, input: RateInput, actor: &Actor) -> Result<Rate, ActionError> {
    require_keeper(actor)?;
    let rate = validate_rate(input).map_err(ActionError::Invalid)?;
    let filter = RateFilter {
        base: Some(rate.base),
        quote: Some(rate.quote),
        from: Some(rate.day),
        to: Some(rate.day),
        limit: RATES_LISTED,
    };
    let before = store.rates(&filter).await?.into_iter().find(|kept| kept.source == rate.source);
    let changed = store.keep_rates(std::slice::from_ref(&rate), &actor.label, &|_, _| ()).await?;
    if changed > 0 {
        let body = |rate: &Rate| serde_json::to_value(crate::ledger::rates::RateBody::new(rate)).ok();
        let target = format!("rate:{}/{}:{}:{}", rate.base.code(), rate.quote.code(), rate.day, rate.source);
        super::audit(store, actor, "rate.kept", &target, before.as_ref().and_then(body), body(&rate)).await;
    }
    Ok(rate)
}

/// Keeps every rate of an ECB reference-rate file (`text`, CSV or XML, daily or historical).
pub async fn import_ecb(
    store: &Store,
    text: &str,
    actor: &Actor,
    on_progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<RatesImported, ActionError> {
    require_keeper(actor)?;
    let rates = parse_ecb(text).map_err(|error| ActionError::Invalid(FieldErrors::single("ecb", error)))?;
    let mut days: Vec<NaiveDate> = rates.iter().map(|rate| rate.day).collect();
    days.sort_unstable();
    days.dedup();
    let changed = store.keep_rates(&rates, &actor.label, on_progress).await?;
    let imported = RatesImported {
        rates: rates.len(),
        days: days.len(),
        first: days.first().copied(),
        last: days.last().copied(),
        changed,
    };
    let after = serde_json::json!({
        "source": crate::ledger::rates::ECB, "rates": imported.rates, "days": imported.days,
        "first": imported.first.map(|day| day.to_string()), "last": imported.last.map(|day| day.to_string()),
        "changed": imported.changed,
    });
    super::audit(store, actor, "rates.imported", "rates:ECB", None, Some(after)).await;
    Ok(imported)
}

/// Which rates to list, as typed (each checked, naming the field).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RateQuery {
    /// Rates of one unit of this currency (`EUR`).
    #[serde(default)]
    pub base: Option<String>,
    /// Rates in this currency (`CAD`).
    #[serde(default)]
    pub quote: Option<String>,
    /// From this day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: Option<String>,
    /// To this day, `YYYY-MM-DD`.
    #[serde(default)]
    pub to: Option<String>,
}

fn currency_field(errors: &mut FieldErrors, field: &str, text: Option<&str>) -> Option<Currency> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    errors.check(field, parse_currency(text))
}

fn day_field(errors: &mut FieldErrors, field: &str, text: Option<&str>) -> Option<NaiveDate> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    errors.check(field, parse_day(text).ok_or("must be a date, YYYY-MM-DD"))
}

/// The rates kept, newest day first (at most `RATES_LISTED`).
pub async fn list_rates(store: &Store, query: &RateQuery, actor: &Actor) -> Result<Vec<Rate>, ActionError> {
    if !actor.role.allows(Role::Viewer) {
        return Err(ActionError::Forbidden("rates are for people of the treasury".to_owned()));
    }
    let mut errors = FieldErrors::new();
    let filter = RateFilter {
        base: currency_field(&mut errors, "base", query.base.as_deref()),
        quote: currency_field(&mut errors, "quote", query.quote.as_deref()),
        from: day_field(&mut errors, "from", query.from.as_deref()),
        to: day_field(&mut errors, "to", query.to.as_deref()),
        limit: RATES_LISTED,
    };
    if !errors.is_empty() {
        return Err(ActionError::Invalid(errors));
    }
    Ok(store.rates(&filter).await?)
}

/// The rate that turns `from` into `to` on `date` (see `choose_rate`), or an error naming the
/// pair and the day.
pub async fn rate_for(
    store: &Store,
    from: Option<&str>,
    to: Option<&str>,
    date: Option<&str>,
    actor: &Actor,
) -> Result<Rate, ActionError> {
    if !actor.role.allows(Role::Viewer) {
        return Err(ActionError::Forbidden("rates are for people of the treasury".to_owned()));
    }
    let mut errors = FieldErrors::new();
    let from_currency = currency_field(&mut errors, "from", from);
    let to_currency = currency_field(&mut errors, "to", to);
    let day = day_field(&mut errors, "date", date);
    for (field, given) in [("from", from), ("to", to), ("date", date)] {
        if given.is_none_or(|text| text.trim().is_empty()) {
            errors.add(field, "is required");
        }
    }
    let (Some(from), Some(to), Some(day)) = (from_currency, to_currency, day) else {
        return Err(ActionError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ActionError::Invalid(errors));
    }
    if from == to {
        return Err(ActionError::Invalid(FieldErrors::single("to", "must differ from from")));
    }
    let known = store.rates_near(&[from, to], day).await?;
    choose_rate(&known, from, to, day).ok_or_else(|| {
        ActionError::Invalid(FieldErrors::single(
            "date",
            format!(
                "has no {} to {} rate, nor has any of the {RATE_LOOKBACK_DAYS} days before {day}: add one \
                 (appeal rates add, POST /api/v1/admin/rates) or import the ECB's (appeal rates import --ecb)",
                from.code(),
                to.code()
            ),
        ))
    })
}

/// A campaign's checkout settings for a one-off gift in `currency`, one it offers, with the
/// rate they were converted at: its minimum (rounded up to what Stripe charges), maximum and
/// fixed fee converted at the latest kept rate (of today or the week before), its fee
/// percentage as it is. `None` without such a rate: the currency cannot be offered today.
pub async fn checkout_settings_in(
    store: &Store,
    campaign: &crate::ledger::Campaign,
    currency: Currency,
) -> Result<Option<(crate::ledger::campaign::CheckoutSettings, rust_decimal::Decimal)>, ActionError> {
    let settings = campaign.checkout;
    let today = chrono::Utc::now().date_naive();
    let known = store.rates_near(&[campaign.currency, currency], today).await?;
    let Some(rate) = choose_rate(&known, campaign.currency, currency, today) else { return Ok(None) };
    let convert = |minor: i64| crate::ledger::rates::convert(minor, campaign.currency, currency, rate.rate);
    let step = crate::payments::amounts::charge_step_minor(currency);
    let min = convert(settings.min_minor).unwrap_or(step).max(step);
    Ok(Some((
        crate::ledger::campaign::CheckoutSettings {
            min_minor: crate::payments::amounts::round_up_chargeable(min, currency),
            max_minor: settings.max_minor.and_then(convert),
            fee_percent_bp: settings.fee_percent_bp,
            fee_fixed_minor: convert(settings.fee_fixed_minor).unwrap_or(0),
            monthly_ask: None,
        },
        rate.rate,
    )))
}

/// A preset amount of the campaign's form (`preset_minor` of its currency) in `currency` at
/// `rate`: converted, rounded to a friendly figure (whole units under 10, fives under 50,
/// tens above), never below `min_minor`, and chargeable.
pub fn preset_in(
    campaign: &crate::ledger::Campaign,
    preset_minor: i64,
    currency: Currency,
    rate: rust_decimal::Decimal,
    min_minor: i64,
) -> i64 {
    let converted =
        crate::ledger::rates::convert(preset_minor, campaign.currency, currency, rate).unwrap_or(min_minor);
    let friendly = crate::ledger::ask::MonthlyAsk::Share(10_000).amount_minor(converted, currency, min_minor);
    crate::payments::amounts::round_up_chargeable(friendly, currency)
}
