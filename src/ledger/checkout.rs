//! A supporter's gift before payment: the checked choices that start a Stripe Checkout,
//! the "cover the fees" formula, and recurring amounts normalized to a month.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::campaign::{Branch, Campaign, CampaignStatus, CheckoutSettings};
use super::entry::Donor;
use super::money::{Currency, Money};
use super::validation::{AmountText, FieldErrors, optional_text, parse_email};

#[derive(Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Interval {
    Once,
    Month,
    Year,
}

impl Interval {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value.trim() {
            "once" => Ok(Interval::Once),
            "month" => Ok(Interval::Month),
            "year" => Ok(Interval::Year),
            _ => Err("must be one of once, month, year"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Once => "once",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

/// The supporter's language (an ISO 639-1 code such as "fr"), for Stripe and the receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    /// Accepts one of `known` (the languages the site ships), in any letter case.
    pub fn parse(value: &str, known: &[&str]) -> Result<Self, String> {
        let code = value.trim().to_ascii_lowercase();
        if known.contains(&code.as_str()) {
            Ok(Locale(code))
        } else {
            Err(format!("must be one of {}", known.join(", ")))
        }
    }

    /// A code read back from our own database.
    pub fn from_stored(code: String) -> Self {
        Locale(code)
    }

    pub fn english() -> Self {
        Locale("en".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of `POST /api/v1/campaigns/{slug}/checkout`.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"amount": "25.00", "interval": "month", "email": "ana@example.org",
    "name": "Ana Silva", "branch": "montreal", "cover_fees": true, "locale": "fr"})))]
pub struct CheckoutInput {
    #[serde(default)]
    #[schema(value_type = AmountText, required = true)]
    pub amount: Option<AmountText>,
    /// `once` (the default), or a monthly or yearly subscription.
    #[serde(default)]
    #[schema(value_type = Option<Interval>)]
    pub interval: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub anonymous: Option<bool>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub cover_fees: Option<bool>,
    #[serde(default)]
    pub locale: Option<String>,
    /// The currency to give in: the campaign's (the default), or one of its
    /// `checkout.currencies`, for a one-off gift.
    #[serde(default)]
    #[schema(value_type = Option<String>, examples("EUR"))]
    pub currency: Option<String>,
    /// The honeypot: people leave it empty, form-filling robots do not.
    #[serde(default)]
    pub website: Option<String>,
    /// The captcha widget's answer, when the site uses one.
    #[serde(default)]
    pub captcha_token: Option<String>,
    /// The push that brought the supporter (`dec-email`): at most 64 letters, digits, `-`
    /// or `_`; kept on the gift, and on every installment of a subscription.
    #[serde(default, rename = "ref")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", max_length = 64)]
    pub source_ref: Option<String>,
}

/// A checked gift, ready to be stored as an intent and sent to Stripe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutDraft {
    pub campaign_id: i64,
    pub branch_id: Option<i64>,
    pub branch_slug: Option<String>,
    pub interval: Interval,
    pub currency: Currency,
    /// What the supporter chose to give.
    pub amount_minor: i64,
    /// What they added to cover the processing fee (0 unless they chose to).
    pub fee_cover_minor: i64,
    pub donor: Donor,
    pub locale: Locale,
    pub source_ref: Option<String>,
}

impl CheckoutDraft {
    /// What Stripe charges: the gift plus the covered fee.
    pub fn total_minor(&self) -> i64 {
        self.amount_minor + self.fee_cover_minor
    }
}

/// A gift on its way through Stripe Checkout, stored before Stripe is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub campaign_id: i64,
    pub branch_id: Option<i64>,
    pub interval: Interval,
    pub amount_minor: i64,
    pub fee_cover_minor: i64,
    /// What the supporter gave in: the campaign's currency, or another it offers.
    pub currency: Currency,
    /// The campaign's currency: what the ledger counts the gift in.
    pub ledger_currency: Currency,
    pub donor: Donor,
    pub locale: Locale,
    /// created, open (a Checkout Session exists), completed or failed.
    pub status: String,
    pub stripe_session: Option<String>,
    pub source_ref: Option<String>,
}

const NAME_MAX_CHARS: usize = 200;
const MESSAGE_MAX_CHARS: usize = 500;

/// The checkout settings of a gift in another currency than the campaign's: its limits and
/// fixed fee (converted by the caller, who knows the rates), the campaign's fee percentage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OtherCurrency {
    pub currency: Currency,
    pub settings: CheckoutSettings,
}

/// Checks a supporter's gift against the campaign: open, within its dates and amounts, in
/// its currency or one it offers (`other` holds that one's settings), and a multiple of
/// `step_minor(currency)`, the smallest step the payment provider charges in (10 for a
/// three-decimal currency at Stripe, else 1).
pub fn validate_checkout(
    input: CheckoutInput,
    campaign: &Campaign,
    branches: &[Branch],
    now: DateTime<Utc>,
    known_locales: &[&str],
    other: Option<OtherCurrency>,
    step_minor: impl Fn(Currency) -> i64,
) -> Result<CheckoutDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    // Past its end first: the campaign is closed at its end, and says why.
    if campaign.ends_at.is_some_and(|ends| now >= ends) {
        errors.add("campaign", "has ended");
    } else if campaign.status != CampaignStatus::Active {
        errors.add("campaign", "is not taking donations");
    } else if campaign.starts_at.is_some_and(|starts| now < starts) {
        errors.add("campaign", "has not started yet");
    }
    let requested = input.currency.as_deref().map(str::trim).filter(|code| !code.is_empty());
    let (currency, settings) = match requested.map(Currency::from_code) {
        None => (campaign.currency, campaign.checkout),
        Some(Ok(chosen)) if chosen == campaign.currency => (campaign.currency, campaign.checkout),
        Some(Ok(chosen)) if campaign.checkout_currencies.contains(&chosen) => {
            let settings = other
                .filter(|other| other.currency == chosen)
                .map_or_else(|| CheckoutSettings::default_for(chosen), |other| other.settings);
            (chosen, settings)
        }
        Some(_) => {
            let offered: Vec<&str> = std::iter::once(campaign.currency)
                .chain(campaign.checkout_currencies.iter().copied())
                .map(Currency::code)
                .collect();
            errors.add("currency", format!("must be one of {}", offered.join(", ")));
            (campaign.currency, campaign.checkout)
        }
    };
    let step_minor = step_minor(currency);
    let amount_minor = match input.amount {
        Some(AmountText(text)) => errors
            .check("amount", Money::parse_positive(&text, currency))
            .map(Money::minor)
            .filter(|&amount| within_range(&mut errors, amount, &settings, currency))
            .filter(|&amount| chargeable_step(&mut errors, amount, step_minor, currency)),
        None => {
            errors.add("amount", "is required");
            None
        }
    };
    let interval = match input.interval {
        Some(text) => errors.check("interval", Interval::parse(&text)),
        None => Some(Interval::Once),
    };
    if currency != campaign.currency && interval.is_some_and(|interval| interval != Interval::Once) {
        errors.add(
            "interval",
            format!("a monthly or yearly gift is in {}, the campaign's currency", campaign.currency.code()),
        );
    }
    let email = input
        .email
        .filter(|email| !email.trim().is_empty())
        .and_then(|email| errors.check("email", parse_email(&email)));
    let name = optional_text(&mut errors, "name", input.name, NAME_MAX_CHARS);
    let message = optional_text(&mut errors, "message", input.message, MESSAGE_MAX_CHARS);
    let branch = match input.branch.filter(|slug| !slug.trim().is_empty()) {
        Some(slug) => match branches.iter().find(|branch| branch.slug.as_str() == slug.trim()) {
            Some(branch) => Some(branch),
            None => {
                errors.add("branch", format!("is not a branch of campaign \"{}\"", campaign.slug));
                None
            }
        },
        None => None,
    };
    let locale = match input.locale.filter(|locale| !locale.trim().is_empty()) {
        Some(text) => errors.check("locale", Locale::parse(&text, known_locales)),
        None => Some(Locale::english()),
    };
    let source_ref =
        errors.check("ref", super::attribution::parse_ref(input.source_ref.as_deref())).flatten();
    match (amount_minor, interval, locale) {
        (Some(amount_minor), Some(interval), Some(locale)) if errors.is_empty() => {
            let fee_cover_minor = if input.cover_fees.unwrap_or(false) {
                fee_to_cover(amount_minor, &settings, step_minor)
            } else {
                0
            };
            Ok(CheckoutDraft {
                campaign_id: campaign.id,
                branch_id: branch.map(|branch| branch.id),
                branch_slug: branch.map(|branch| branch.slug.to_string()),
                interval,
                currency,
                amount_minor,
                fee_cover_minor,
                donor: Donor { name, email, anonymous: input.anonymous.unwrap_or(false), message },
                locale,
                source_ref,
            })
        }
        _ => Err(errors),
    }
}

fn within_range(
    errors: &mut FieldErrors,
    amount: i64,
    settings: &CheckoutSettings,
    currency: Currency,
) -> bool {
    if amount < settings.min_minor {
        errors.add("amount", format!("must be at least {}", currency.format_minor(settings.min_minor)));
        return false;
    }
    let max = settings.max_minor.unwrap_or(currency.max_minor());
    if amount > max {
        errors.add("amount", format!("must not exceed {}", currency.format_minor(max)));
        return false;
    }
    true
}

fn chargeable_step(errors: &mut FieldErrors, amount: i64, step_minor: i64, currency: Currency) -> bool {
    if step_minor > 1 && amount % step_minor != 0 {
        errors.add(
            "amount",
            format!(
                "must be a multiple of {} {currency}, which Stripe can charge",
                currency.format_minor(step_minor)
            ),
        );
        return false;
    }
    true
}

/// What to add to `amount` so that, after a fee of `percent` of the total plus `fixed`,
/// the campaign receives at least `amount`: total = (amount + fixed) / (1 − percent),
/// rounded up to the next amount that can be charged (a multiple of `step_minor`).
pub fn fee_to_cover(amount_minor: i64, settings: &CheckoutSettings, step_minor: i64) -> i64 {
    let rate = Decimal::new(settings.fee_percent_bp, 4);
    let gross =
        (Decimal::from(amount_minor) + Decimal::from(settings.fee_fixed_minor)) / (Decimal::ONE - rate);
    let step = Decimal::from(step_minor.max(1));
    let total = i64::try_from((gross / step).ceil() * step).unwrap_or(amount_minor);
    (total - amount_minor).max(0)
}

/// A recurring amount as a monthly figure: a yearly gift counts a twelfth, rounded half up.
pub fn monthly_minor(amount_minor: i64, interval: Interval, interval_count: i64) -> i64 {
    let months = match interval {
        Interval::Once => return 0,
        Interval::Month => interval_count.max(1),
        Interval::Year => 12 * interval_count.max(1),
    };
    let monthly = Decimal::from(amount_minor) / Decimal::from(months);
    i64::try_from(monthly.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CheckoutSettings {
        CheckoutSettings {
            min_minor: 200,
            max_minor: None,
            fee_percent_bp: 290,
            fee_fixed_minor: 30,
            monthly_ask: None,
        }
    }

    #[test]
    fn covering_the_fee_leaves_the_campaign_the_whole_gift() {
        // 25.00 + cover: (2500 + 30) / 0.971 = 2605.56 → 2606, so 1.06 is added.
        assert_eq!(fee_to_cover(2500, &settings(), 1), 106);
        let total = 2500 + fee_to_cover(2500, &settings(), 1);
        let fee = (Decimal::from(total) * Decimal::new(290, 4)).round() + Decimal::from(30);
        assert!(Decimal::from(total) - fee >= Decimal::from(2500));
        let free = CheckoutSettings { fee_percent_bp: 0, fee_fixed_minor: 0, ..settings() };
        assert_eq!(fee_to_cover(2500, &free, 1), 0);
    }

    #[test]
    fn covering_the_fee_rounds_up_to_what_can_be_charged() {
        // (10010 + 30) / 0.971 = 10339.85: 10340 in steps of 10, so 330 is added.
        assert_eq!(fee_to_cover(10_010, &settings(), 10), 330);
        assert_eq!(fee_to_cover(10_010, &settings(), 1), 330);
        assert_eq!(fee_to_cover(10_000, &settings(), 10), 330);
    }

    #[test]
    fn yearly_gifts_count_a_twelfth_per_month() {
        assert_eq!(monthly_minor(2000, Interval::Month, 1), 2000);
        assert_eq!(monthly_minor(12000, Interval::Year, 1), 1000);
        assert_eq!(monthly_minor(10000, Interval::Year, 1), 833);
        assert_eq!(monthly_minor(3000, Interval::Month, 3), 1000);
        assert_eq!(monthly_minor(2000, Interval::Once, 1), 0);
    }
}
