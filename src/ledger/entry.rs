//! Ledger entries: the append-only record of every cent, and the checked inputs that make them.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::campaign::{Branch, Campaign, Slug};
use super::money::{Currency, Money};
use super::validation::{AmountText, FieldErrors, optional_text, parse_email};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Donation,
    Refund,
    /// A refund Stripe failed or cancelled after it left the balance: the money came back.
    RefundFailed,
    /// A dispute's withdrawal of funds.
    Dispute,
    /// A dispute's funds reinstated (the dispute was won).
    DisputeWon,
    Adjustment,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Donation => "donation",
            Self::Refund => "refund",
            Self::RefundFailed => "refund_failed",
            Self::Dispute => "dispute",
            Self::DisputeWon => "dispute_won",
            Self::Adjustment => "adjustment",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Donation, Self::Refund, Self::RefundFailed, Self::Dispute, Self::DisputeWon, Self::Adjustment]
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Online,
    Offline,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "online" => Some(Self::Online),
            "offline" => Some(Self::Offline),
            _ => None,
        }
    }
}

/// How money raised internally reached the organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum OfflineMethod {
    Cash,
    Cheque,
    Etransfer,
    BankTransfer,
    Other,
}

impl OfflineMethod {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value.trim() {
            "cash" => Ok(Self::Cash),
            "cheque" => Ok(Self::Cheque),
            "etransfer" => Ok(Self::Etransfer),
            "bank_transfer" => Ok(Self::BankTransfer),
            "other" => Ok(Self::Other),
            _ => Err("must be one of cash, cheque, etransfer, bank_transfer, other"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Cheque => "cheque",
            Self::Etransfer => "etransfer",
            Self::BankTransfer => "bank_transfer",
            Self::Other => "other",
        }
    }
}

/// Who gave, as the ledger keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Donor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub anonymous: bool,
    pub message: Option<String>,
}

/// The donor key of gifts given with `email`: the same for any case of it.
pub fn email_key(email: &str) -> String {
    format!("email:{}", email.to_lowercase())
}

impl Donor {
    /// The key under which a donor's gifts to one campaign are summed for the donor count:
    /// the e-mail when known, else the name; a gift with neither is a donor of its own.
    pub fn key(&self, fallback_unique: &str) -> String {
        match (&self.email, &self.name) {
            (Some(email), _) => email_key(email),
            (None, Some(name)) => format!("name:{}", name.to_lowercase()),
            (None, None) => format!("unnamed:{fallback_unique}"),
        }
    }
}

/// The Stripe objects an online entry came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeRefs {
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub invoice: Option<String>,
    pub subscription: Option<String>,
    pub balance_transaction: Option<String>,
    pub refund: Option<String>,
    pub dispute: Option<String>,
    /// The payout that carried the money to the bank (known once Stripe pays out).
    pub payout: Option<String>,
}

/// The rate an entry's money was counted at, when it came in another currency than its
/// campaign's (`presented`): `1 presented = rate campaign currency`, of a day, from a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRate {
    #[serde(with = "super::rates::decimal_text")]
    pub rate: rust_decimal::Decimal,
    pub on: NaiveDate,
    pub source: String,
}

/// An entry ready to be appended; the store fills in the id and the recording time. It
/// serializes so that money Stripe reported but appeal cannot count yet can wait, whole, for
/// the amount a treasurer gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    pub campaign_id: i64,
    pub branch_id: Option<i64>,
    pub kind: EntryKind,
    pub source: Source,
    pub method: String,
    /// Signed: positive for money in, negative for reversals.
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub currency: Currency,
    pub donor: Donor,
    pub recurring: bool,
    pub received_on: NaiveDate,
    pub recorded_by: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    /// The entry this one reverses (a refund points at its donation, a won dispute at its dispute).
    pub reverses_entry_id: Option<i64>,
    /// Whether a reversal may take no more than what is left of its gift. A reversal a person
    /// asks for is capped; one Stripe reports is a fact, recorded whatever is left (and the
    /// gift is then flagged as over-reversed).
    pub capped: bool,
    /// The same, named by that entry's idempotency key when its id is not known yet.
    pub reverses_key: Option<String>,
    /// A key under which this entry is recorded once, whoever asks again.
    pub idempotency_key: Option<String>,
    pub stripe: StripeRefs,
    /// What the donor was charged, when not in the campaign currency.
    pub presented: Option<(i64, Currency)>,
    /// The rate `presented` was counted at, for money recorded in another currency.
    #[serde(default)]
    pub rate: Option<AppliedRate>,
    /// The instant the money arrived, when known (online payments); offline money has its date.
    pub received_at: Option<DateTime<Utc>>,
    /// The push it came from (`ref`): a link's, a form's, a treasurer's; a reversal keeps its gift's.
    pub source_ref: Option<String>,
    /// The deposit an offline entry came in with.
    pub batch_id: Option<i64>,
    /// The match offer a matcher's payment settles (never matched itself).
    pub match_offer_id: Option<i64>,
}

impl NewEntry {
    pub fn net_minor(&self) -> i64 {
        self.amount_minor - self.fee_minor
    }
}

/// An entry as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub campaign_id: i64,
    pub campaign_slug: Slug,
    pub branch_id: Option<i64>,
    pub branch_slug: Option<Slug>,
    pub kind: EntryKind,
    pub source: Source,
    pub method: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub net_minor: i64,
    pub currency: Currency,
    pub donor_key: String,
    pub donor: Donor,
    pub recurring: bool,
    pub received_on: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub reverses_entry_id: Option<i64>,
    /// The donation this entry derives from (itself for a donation).
    pub origin_entry_id: i64,
    pub stripe: StripeRefs,
    /// What the donor was charged, when not in the campaign currency.
    pub presented: Option<(i64, Currency)>,
    /// The rate `presented` was counted at, for money recorded in another currency.
    pub rate: Option<AppliedRate>,
    pub received_at: Option<DateTime<Utc>>,
    pub batch_id: Option<i64>,
    /// The deposit slip's reference, for an entry posted in a deposit.
    pub batch_reference: Option<String>,
    /// The push it came from (`ref`).
    pub source_ref: Option<String>,
    /// The match offer a matcher's payment settles.
    pub match_offer_id: Option<i64>,
}

impl Entry {
    /// The day the money was received in `zone`: by the instant Stripe took it, else the
    /// date a treasurer entered.
    pub fn day_in(&self, zone: &chrono_tz::Tz) -> NaiveDate {
        self.received_at.map_or(self.received_on, |at| at.with_timezone(zone).date_naive())
    }
}

/// Money raised internally, as a treasurer enters it (API body and CLI flags alike).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"amount": "25.00", "method": "cheque", "received_on": "2026-11-01",
    "donor_name": "Ana Silva", "reference": "cheque 1042", "branch": "montreal"})))]
pub struct OfflineDonationInput {
    #[serde(default)]
    #[schema(value_type = AmountText, required = true)]
    pub amount: Option<AmountText>,
    #[serde(default)]
    #[schema(value_type = OfflineMethod, required = true)]
    pub method: Option<String>,
    /// The day the money came in: required for a single gift; a deposit's rows default to its
    /// `deposited_on`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub received_on: Option<String>,
    #[serde(default)]
    pub donor_name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email)]
    pub donor_email: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub anonymous: Option<bool>,
    #[serde(default)]
    pub message: Option<String>,
    /// Record it even though an earlier gift has the same reference, amount and date.
    #[serde(default)]
    pub allow_duplicate: bool,
    /// The push it came from: at most 64 letters, digits, `-` or `_` (`branch-meeting-nov`).
    #[serde(default, rename = "ref")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", max_length = 64)]
    pub source_ref: Option<String>,
    /// A matcher's payment: the id of the campaign's match offer it settles. It counts as
    /// money raised and is never matched itself.
    #[serde(default, rename = "match")]
    #[schema(minimum = 1)]
    pub match_offer: Option<i64>,
    /// The currency the money came in (ISO 4217), when not the campaign's: `amount` is in it,
    /// and what counts is its value in the campaign's currency, at `rate` or at the kept rate
    /// for `received_on` (that day's or the week before's; none is refused, naming the pair
    /// and the day). A single gift only: a deposit is in the campaign's currency.
    #[serde(default)]
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    /// With `currency`: how many of the campaign's currency one unit of it was worth, as the
    /// bank counted it (`1.4781`). Kept with the gift as the rate of `received_on`, from
    /// "given".
    #[serde(default)]
    #[schema(example = "1.4781")]
    pub rate: Option<String>,
}

const NAME_MAX_CHARS: usize = 200;
const REFERENCE_MAX_CHARS: usize = 200;
const MESSAGE_MAX_CHARS: usize = 1_000;
/// As long as Stripe lets a metadata value be, where a refund's reason travels.
pub const REASON_MAX_CHARS: usize = 500;

/// The currency an offline gift says it came in, when it is a known one other than the
/// campaign's (one that cannot be read is named by `validate_offline_donation`).
pub fn other_currency(input: &OfflineDonationInput, campaign: &Campaign) -> Option<Currency> {
    let text = input.currency.as_deref().map(str::trim).filter(|text| !text.is_empty())?;
    Currency::from_code(text).ok().filter(|currency| *currency != campaign.currency)
}

/// Checks an offline donation against its campaign, naming every bad field. Money in another
/// currency is counted at its given rate, else at the one `known` (the kept rates near its
/// day) gives.
pub fn validate_offline_donation(
    input: OfflineDonationInput,
    campaign: &Campaign,
    branches: &[Branch],
    today: NaiveDate,
    recorded_by: &str,
    known: &[super::rates::Rate],
) -> Result<NewEntry, FieldErrors> {
    let mut errors = FieldErrors::new();
    let given_in = match input.currency.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => errors.check("currency", super::rates::parse_currency(text)),
        None => Some(campaign.currency),
    };
    let foreign = given_in.filter(|currency| *currency != campaign.currency);
    let amount = match input.amount {
        Some(AmountText(text)) => {
            errors.check("amount", Money::parse_positive(&text, given_in.unwrap_or(campaign.currency)))
        }
        None => {
            errors.add("amount", "is required");
            None
        }
    };
    let given_rate = match input.rate.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(_) if foreign.is_none() && given_in.is_some() => {
            errors.add("rate", "is given only with a currency other than the campaign's");
            None
        }
        Some(text) => errors.check("rate", super::rates::parse_rate(text)),
        None => None,
    };
    let method = match input.method {
        Some(text) => errors.check("method", OfflineMethod::parse(&text)),
        None => {
            errors.add("method", "is required");
            None
        }
    };
    let received_on = match input.received_on {
        Some(text) => errors.check("received_on", parse_received_on(&text, today)),
        None => {
            errors.add("received_on", "is required");
            None
        }
    };
    let donor_name = optional_text(&mut errors, "donor_name", input.donor_name, NAME_MAX_CHARS);
    let donor_email = input
        .donor_email
        .filter(|email| !email.trim().is_empty())
        .and_then(|email| errors.check("donor_email", parse_email(&email)));
    let reference = optional_text(&mut errors, "reference", input.reference, REFERENCE_MAX_CHARS);
    let message = optional_text(&mut errors, "message", input.message, MESSAGE_MAX_CHARS);
    let source_ref =
        errors.check("ref", super::attribution::parse_ref(input.source_ref.as_deref())).flatten();
    let branch_id = input
        .branch
        .filter(|slug| !slug.trim().is_empty())
        .and_then(|slug| errors.check("branch", find_branch(branches, &slug, campaign)));
    if input.match_offer.is_some_and(|id| id < 1) {
        errors.add("match", "must be the id of one of the campaign's match offers");
    }
    // Money in another currency counts at its rate, in the campaign's.
    let (counted, presented, rate) = match (amount, foreign, received_on) {
        (Some(amount), Some(from), Some(day)) => {
            let rate = match given_rate {
                Some(rate) => Some(AppliedRate { rate, on: day, source: super::rates::GIVEN.to_owned() }),
                None => super::rates::choose_rate(known, from, campaign.currency, day)
                    .map(|chosen| AppliedRate { rate: chosen.rate, on: chosen.day, source: chosen.source }),
            };
            match rate {
                None => {
                    errors.add(
                        "currency",
                        format!(
                            "has no {} to {} rate for {day}, nor for the {} days before: give its `rate`, or keep \
                             one (appeal rates add, POST /api/v1/admin/rates, or the ECB's)",
                            from.code(),
                            campaign.currency.code(),
                            super::rates::RATE_LOOKBACK_DAYS
                        ),
                    );
                    (None, None, None)
                }
                Some(rate) => match super::rates::convert(amount.minor(), from, campaign.currency, rate.rate)
                {
                    Some(counted) => (Some(counted), Some((amount.minor(), from)), Some(rate)),
                    None => {
                        errors.add(
                            "amount",
                            format!(
                                "is worth nothing or too much in {} at {}",
                                campaign.currency.code(),
                                rate.rate
                            ),
                        );
                        (None, None, None)
                    }
                },
            }
        }
        (Some(amount), None, _) => (Some(amount.minor()), None, None),
        _ => (None, None, None),
    };

    match (counted, method, received_on) {
        (Some(counted), Some(method), Some(received_on)) if errors.is_empty() => Ok(NewEntry {
            campaign_id: campaign.id,
            branch_id,
            kind: EntryKind::Donation,
            source: Source::Offline,
            method: method.as_str().to_owned(),
            amount_minor: counted,
            fee_minor: 0,
            currency: campaign.currency,
            donor: Donor {
                name: donor_name,
                email: donor_email,
                // Money raised internally is anonymous on the public wall unless the
                // treasurer says the donor agreed to be named.
                anonymous: input.anonymous.unwrap_or(true),
                message,
            },
            recurring: false,
            received_on,
            recorded_by: recorded_by.to_owned(),
            reference,
            reason: None,
            reverses_entry_id: None,
            capped: true,
            reverses_key: None,
            idempotency_key: None,
            stripe: StripeRefs::default(),
            presented,
            rate,
            received_at: None,
            batch_id: None,
            source_ref,
            match_offer_id: input.match_offer,
        }),
        _ => Err(errors),
    }
}

fn find_branch(branches: &[Branch], slug: &str, campaign: &Campaign) -> Result<i64, String> {
    branches
        .iter()
        .find(|branch| branch.slug.as_str() == slug.trim())
        .map(|branch| branch.id)
        .ok_or_else(|| format!("is not a branch of campaign \"{}\"", campaign.slug))
}

/// A date the money was received: `YYYY-MM-DD`, not after tomorrow (time zones differ).
pub fn parse_received_on(text: &str, today: NaiveDate) -> Result<NaiveDate, &'static str> {
    let date = crate::ledger::validation::parse_day(text)
        .ok_or("must be a date written YYYY-MM-DD, such as \"2026-11-01\"")?;
    if date > today.checked_add_days(chrono::Days::new(1)).unwrap_or(today) {
        return Err("must not be in the future");
    }
    // The year itself: `year_ce` would read 2000 BC ("-1999-12-31") as 2000.
    if date.year() < 2000 {
        return Err("must not be before the year 2000");
    }
    Ok(date)
}

/// A treasurer's reversal of offline money: a bounced cheque, cash handed back, an entry in error.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"amount": "25.00", "reason": "the cheque bounced"})))]
pub struct ReversalInput {
    /// Defaults to everything not yet reversed.
    #[serde(default)]
    pub amount: Option<AmountText>,
    #[serde(default)]
    #[schema(required = true)]
    pub reason: Option<String>,
    /// `refund` when the money went back to the donor, `adjustment` (the default) otherwise.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub received_on: Option<String>,
}

/// Checks a reversal of `original`, of which `remaining_minor` is not yet reversed.
pub fn validate_reversal(
    input: ReversalInput,
    original: &Entry,
    remaining_minor: i64,
    today: NaiveDate,
    recorded_by: &str,
) -> Result<NewEntry, FieldErrors> {
    let mut errors = FieldErrors::new();
    if original.kind != EntryKind::Donation {
        errors.add("entry", "only a donation can be reversed");
    } else if original.source != Source::Offline {
        errors.add("entry", "online donations are refunded through Stripe, not reversed by hand");
    } else if remaining_minor <= 0 {
        errors.add("entry", "is already fully reversed");
    }
    let amount_minor = match input.amount {
        Some(AmountText(text)) => {
            errors.check("amount", Money::parse_positive(&text, original.currency)).map(Money::minor)
        }
        None => Some(remaining_minor),
    };
    if let Some(amount) = amount_minor
        && amount > remaining_minor
        && remaining_minor > 0
    {
        errors.add(
            "amount",
            format!(
                "must not exceed what is left to reverse ({})",
                original.currency.format_minor(remaining_minor)
            ),
        );
    }
    let kind = match input.kind.as_deref().map(str::trim) {
        None | Some("adjustment") => Some(EntryKind::Adjustment),
        Some("refund") => Some(EntryKind::Refund),
        Some(_) => {
            errors.add("kind", "must be refund or adjustment");
            None
        }
    };
    let reason = optional_text(&mut errors, "reason", input.reason, REASON_MAX_CHARS);
    if reason.is_none() {
        errors.add("reason", "is required, so the ledger says why the money was taken out");
    }
    let received_on = match input.received_on {
        Some(text) => errors.check("received_on", parse_received_on(&text, today)),
        None => Some(today),
    };
    match (amount_minor, kind, received_on) {
        (Some(amount), Some(kind), Some(received_on)) if errors.is_empty() => Ok(NewEntry {
            campaign_id: original.campaign_id,
            branch_id: original.branch_id,
            kind,
            source: original.source,
            method: original.method.clone(),
            amount_minor: -amount,
            fee_minor: 0,
            currency: original.currency,
            donor: original.donor.clone(),
            recurring: original.recurring,
            received_on,
            recorded_by: recorded_by.to_owned(),
            reference: original.reference.clone(),
            reason,
            reverses_entry_id: Some(original.id),
            capped: true,
            reverses_key: None,
            idempotency_key: None,
            stripe: StripeRefs::default(),
            presented: None,
            rate: None,
            received_at: None,
            batch_id: original.batch_id,
            source_ref: original.source_ref.clone(),
            // A reversal is not a payment: the settlement it takes back is its origin.
            match_offer_id: None,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_on_is_a_plain_date_not_in_the_future() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid date");
        assert!(parse_received_on("2026-11-01", today).is_ok());
        assert!(parse_received_on("2026-11-23", today).is_ok());
        assert_eq!(parse_received_on("2026-11-24", today), Err("must not be in the future"));
        assert!(parse_received_on("01/11/2026", today).is_err());
        assert!(parse_received_on("2026-02-30", today).is_err());
    }

    #[test]
    fn donor_keys_prefer_email_then_name() {
        let with_email =
            Donor { email: Some("Ana@Example.org".into()), name: Some("Ana".into()), ..Donor::default() };
        let with_name = Donor { name: Some("Ana B".into()), ..Donor::default() };
        assert_eq!(with_email.key("x"), "email:ana@example.org");
        assert_eq!(with_name.key("x"), "name:ana b");
        assert_eq!(Donor::default().key("x1"), "unnamed:x1");
    }
}
