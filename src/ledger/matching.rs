//! Matching gifts: a matcher (a foundation, a union local, a member) pledges to add `ratio`
//! times each qualifying gift made during a window, up to a cap. Each gift's match is
//! computed when the gift is recorded (in the same transaction) and taken back, in
//! proportion, by the gift's refunds; the matcher's payment is an ordinary ledger entry that
//! names the offer it settles. Pure rules here; the store keeps the accruals.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::campaign::parse_instant;
use super::entry::{EntryKind, Source};
use super::money::{Currency, Money};
use super::progress::timestamp;
use super::validation::{AmountText, FieldErrors};

/// The largest ratio an offer may set (ten to one).
pub const MAX_RATIO: Decimal = Decimal::TEN;
const MATCHER_MAX_CHARS: usize = 200;

/// A match offer as a treasurer sends it (API body and CLI flags alike).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"matcher": "The Bread and Roses Fund", "ratio": "1", "cap": "5000.00",
    "starts_at": "2026-12-01T00:00:00-05:00", "ends_at": "2026-12-31T23:59:59-05:00",
    "qualifies": ["online", "offline"]})))]
pub struct MatchOfferInput {
    /// Who matches; absent or empty: an anonymous matcher.
    #[serde(default)]
    pub matcher: Option<String>,
    /// How much the matcher adds per unit given: `"1"` (the default) doubles each gift.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1")]
    pub ratio: Option<AmountText>,
    /// The most the matcher adds in all.
    #[serde(default)]
    #[schema(value_type = AmountText, required = true)]
    pub cap: Option<AmountText>,
    /// Gifts made from then on qualify (RFC 3339); default: now.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// Gifts made before then qualify (RFC 3339).
    #[serde(default)]
    #[schema(required = true)]
    pub ends_at: Option<String>,
    /// Which gifts qualify: `online` (one-off online gifts), `offline` (money raised
    /// internally), `first_installments` (the first payment of a new subscription); with
    /// `new_donors`, only the first gift of a donor new to the campaign. Default: online and
    /// offline.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Qualifier>>)]
    pub qualifies: Option<Vec<String>>,
}

/// One word of `qualifies`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Qualifier {
    Online,
    Offline,
    NewDonors,
    FirstInstallments,
}

impl Qualifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Qualifier::Online => "online",
            Qualifier::Offline => "offline",
            Qualifier::NewDonors => "new_donors",
            Qualifier::FirstInstallments => "first_installments",
        }
    }
}

/// Which gifts an offer matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Qualifies {
    pub online: bool,
    pub offline: bool,
    pub new_donors: bool,
    pub first_installments: bool,
}

impl Qualifies {
    /// As stored: each word between commas (",online,offline,").
    pub fn stored(&self) -> String {
        let words: Vec<&str> = self.words();
        format!(",{},", words.join(","))
    }

    /// The qualifiers set, in the order the API lists them.
    pub fn qualifiers(&self) -> Vec<Qualifier> {
        [
            (self.online, Qualifier::Online),
            (self.offline, Qualifier::Offline),
            (self.new_donors, Qualifier::NewDonors),
            (self.first_installments, Qualifier::FirstInstallments),
        ]
        .into_iter()
        .filter_map(|(on, qualifier)| on.then_some(qualifier))
        .collect()
    }

    pub fn words(&self) -> Vec<&'static str> {
        self.qualifiers().into_iter().map(Qualifier::as_str).collect()
    }

    pub fn from_stored(text: &str) -> Self {
        let has = |word: &str| text.split(',').any(|part| part == word);
        Qualifies {
            online: has("online"),
            offline: has("offline"),
            new_donors: has("new_donors"),
            first_installments: has("first_installments"),
        }
    }
}

/// A valid offer, ready to be kept.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchOfferDraft {
    pub matcher: Option<String>,
    pub ratio: Decimal,
    pub cap_minor: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub qualifies: Qualifies,
}

/// An offer as kept, with what it has matched so far and what the matcher has paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchOffer {
    pub id: i64,
    pub campaign_id: i64,
    pub matcher: Option<String>,
    pub ratio: Decimal,
    pub cap_minor: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub qualifies: Qualifies,
    /// Matched, net of what reversals took back.
    pub matched_minor: i64,
    /// Paid by the matcher: the settlement entries, net of their reversals.
    pub paid_minor: i64,
}

impl MatchOffer {
    /// Matched and not paid yet.
    pub fn outstanding_minor(&self) -> i64 {
        (self.matched_minor - self.paid_minor).max(0)
    }

    /// What is left under the cap for gifts still to come (none once the window closed).
    pub fn remaining_minor(&self, now: DateTime<Utc>) -> i64 {
        if now >= self.ends_at { 0 } else { (self.cap_minor - self.matched_minor).max(0) }
    }
}

/// Checks an offer; every error names its field.
pub fn validate_match_offer(
    input: MatchOfferInput,
    currency: Currency,
    now: DateTime<Utc>,
) -> Result<MatchOfferDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let matcher = input.matcher.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty());
    if let Some(name) = &matcher {
        if name.chars().count() > MATCHER_MAX_CHARS {
            errors.add("matcher", format!("must be at most {MATCHER_MAX_CHARS} characters"));
        } else if name.chars().any(char::is_control) {
            errors.add("matcher", "must not hold control characters");
        }
    }
    let ratio = match input.ratio {
        None => Some(Decimal::ONE),
        Some(AmountText(text)) => match text.trim().parse::<Decimal>() {
            Ok(ratio) if ratio > Decimal::ZERO && ratio <= MAX_RATIO && ratio.scale() <= 4 => {
                Some(ratio.normalize())
            }
            Ok(ratio) if ratio > MAX_RATIO => {
                errors.add("ratio", format!("must be at most {MAX_RATIO}"));
                None
            }
            _ => {
                errors
                    .add("ratio", "must be a positive decimal such as \"1\" or \"0.5\" (at most 4 decimals)");
                None
            }
        },
    };
    let cap_minor = match input.cap {
        None => {
            errors.add("cap", "is required: the most the matcher adds in all");
            None
        }
        Some(AmountText(text)) => {
            errors.check("cap", Money::parse_positive(&text, currency)).map(Money::minor)
        }
    };
    let starts_at = match input.starts_at {
        None => Some(now),
        Some(text) => errors.check("starts_at", parse_instant(&text)),
    };
    let ends_at = match input.ends_at {
        None => {
            errors.add("ends_at", "is required: when gifts stop qualifying");
            None
        }
        Some(text) => errors.check("ends_at", parse_instant(&text)),
    };
    if let (Some(start), Some(end)) = (starts_at, ends_at)
        && end <= start
    {
        errors.add("ends_at", "must be after starts_at");
    }
    let qualifies = match input.qualifies {
        None => Some(Qualifies { online: true, offline: true, ..Qualifies::default() }),
        Some(words) => parse_qualifies(&mut errors, &words),
    };
    match (ratio, cap_minor, starts_at, ends_at, qualifies) {
        (Some(ratio), Some(cap_minor), Some(starts_at), Some(ends_at), Some(qualifies))
            if errors.is_empty() =>
        {
            Ok(MatchOfferDraft { matcher, ratio, cap_minor, starts_at, ends_at, qualifies })
        }
        _ => Err(errors),
    }
}

fn parse_qualifies(errors: &mut FieldErrors, words: &[String]) -> Option<Qualifies> {
    let mut qualifies = Qualifies::default();
    let mut fine = true;
    for (index, word) in words.iter().enumerate() {
        match word.as_str() {
            "online" => qualifies.online = true,
            "offline" => qualifies.offline = true,
            "new_donors" => qualifies.new_donors = true,
            "first_installments" => qualifies.first_installments = true,
            _ => {
                errors.add(
                    format!("qualifies[{index}]"),
                    "must be one of online, offline, new_donors, first_installments",
                );
                fine = false;
            }
        }
    }
    if fine && !(qualifies.online || qualifies.offline || qualifies.first_installments) {
        errors.add(
            "qualifies",
            "must name online, offline or first_installments (new_donors only narrows them)",
        );
        fine = false;
    }
    fine.then_some(qualifies)
}

/// What matching needs to know of a gift just recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GiftFacts {
    pub kind: EntryKind,
    pub source: Source,
    pub amount_minor: i64,
    /// An installment of a subscription.
    pub recurring: bool,
    /// The donor gave nothing to the campaign before.
    pub new_donor: bool,
    /// The first payment of its subscription.
    pub first_installment: bool,
    /// A matcher's own payment: never matched.
    pub settles_match: bool,
    /// When the money came: the charge's instant online, the day it came in offline.
    pub at: GiftTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiftTime {
    Instant(DateTime<Utc>),
    Day(NaiveDate),
}

/// Whether `offer` matches the gift.
pub fn qualifies(offer: &MatchOffer, gift: &GiftFacts) -> bool {
    if gift.kind != EntryKind::Donation || gift.amount_minor <= 0 || gift.settles_match {
        return false;
    }
    let in_window = match gift.at {
        GiftTime::Instant(at) => offer.starts_at <= at && at < offer.ends_at,
        // Offline money has a day, not an instant: any day the window touches (in UTC).
        GiftTime::Day(day) => offer.starts_at.date_naive() <= day && day <= offer.ends_at.date_naive(),
    };
    let kind_fits = match (gift.source, gift.recurring) {
        (Source::Offline, _) => offer.qualifies.offline,
        (Source::Online, false) => offer.qualifies.online,
        (Source::Online, true) => offer.qualifies.first_installments && gift.first_installment,
    };
    in_window && kind_fits && (!offer.qualifies.new_donors || gift.new_donor)
}

/// The whole match of `amount_minor` at `ratio`, rounded down to the minor unit (a match
/// never promises a fraction of a cent).
pub fn full_match(amount_minor: i64, ratio: Decimal) -> i64 {
    (Decimal::from(amount_minor.max(0)) * ratio).floor().to_i64().unwrap_or(i64::MAX)
}

/// What a gift earns: its whole match, or what is left under the cap.
pub fn gift_match(offer: &MatchOffer, amount_minor: i64) -> i64 {
    full_match(amount_minor, offer.ratio).min((offer.cap_minor - offer.matched_minor).max(0))
}

/// The change a reversal makes to its gift's match: the match of what is left of the gift,
/// never above what the gift first earned; `current` is the gift's match before it.
pub fn after_reversal(ratio: Decimal, earned_minor: i64, current_minor: i64, gift_left_minor: i64) -> i64 {
    full_match(gift_left_minor, ratio).min(earned_minor) - current_minor
}

/// Whether matched money counts in `raised` once the matcher paid it, or as soon as pledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchCounting {
    #[default]
    Paid,
    Pledged,
}

impl MatchCounting {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        match text {
            "paid" => Ok(Self::Paid),
            "pledged" => Ok(Self::Pledged),
            _ => Err("must be paid or pledged"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Pledged => "pledged",
        }
    }
}

/// The progress document's `matching`: every offer of the campaign summed, and each one.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MatchingProgress {
    /// The caps of every offer, summed.
    pub cap: String,
    /// Matched so far, net of refunds.
    pub matched: String,
    /// Paid by the matchers.
    pub paid: String,
    /// Matched and not paid yet: its own segment of the bar.
    pub pledged: String,
    /// Still to be matched under the caps of the offers open now.
    pub remaining: String,
    /// When the last open offer closes (`null` once all have).
    pub ends_at: Option<String>,
    /// `paid`: `raised` holds the matchers' payments only; `pledged`: it holds `pledged` too.
    pub counted: MatchCounting,
    pub offers: Vec<MatchOfferProgress>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MatchOfferProgress {
    pub id: i64,
    /// `null`: anonymous.
    pub matcher: Option<String>,
    pub ratio: String,
    pub cap: String,
    pub matched: String,
    pub paid: String,
    pub starts_at: String,
    pub ends_at: String,
}

/// The figures of `offers` for the progress document; `None` without offers.
pub fn matching_progress(
    offers: &[MatchOffer],
    currency: Currency,
    counted: MatchCounting,
    now: DateTime<Utc>,
) -> Option<MatchingProgress> {
    if offers.is_empty() {
        return None;
    }
    let sums = MatchSums::of(offers, now);
    Some(MatchingProgress {
        cap: currency.format_minor(sums.cap_minor),
        matched: currency.format_minor(sums.matched_minor),
        paid: currency.format_minor(sums.paid_minor),
        pledged: currency.format_minor(sums.pledged_minor),
        remaining: currency.format_minor(sums.remaining_minor),
        ends_at: offers
            .iter()
            .filter(|offer| offer.ends_at > now)
            .map(|offer| offer.ends_at)
            .max()
            .map(timestamp),
        counted,
        offers: offers
            .iter()
            .map(|offer| MatchOfferProgress {
                id: offer.id,
                matcher: offer.matcher.clone(),
                ratio: offer.ratio.normalize().to_string(),
                cap: currency.format_minor(offer.cap_minor),
                matched: currency.format_minor(offer.matched_minor),
                paid: currency.format_minor(offer.paid_minor),
                starts_at: timestamp(offer.starts_at),
                ends_at: timestamp(offer.ends_at),
            })
            .collect(),
    })
}

/// Every offer's figures summed, in minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchSums {
    pub cap_minor: i64,
    pub matched_minor: i64,
    pub paid_minor: i64,
    /// Matched and not yet paid.
    pub pledged_minor: i64,
    /// Left under the caps of the offers open at `now`.
    pub remaining_minor: i64,
}

impl MatchSums {
    pub fn of(offers: &[MatchOffer], now: DateTime<Utc>) -> Self {
        let sum = |figure: &dyn Fn(&MatchOffer) -> i64| offers.iter().map(figure).sum::<i64>();
        MatchSums {
            cap_minor: sum(&|offer| offer.cap_minor),
            matched_minor: sum(&|offer| offer.matched_minor),
            paid_minor: sum(&|offer| offer.paid_minor),
            pledged_minor: pledged_minor(offers),
            remaining_minor: sum(&|offer| offer.remaining_minor(now)),
        }
    }
}

/// Matched and not yet paid, over every offer.
pub fn pledged_minor(offers: &[MatchOffer]) -> i64 {
    offers.iter().map(MatchOffer::outstanding_minor).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(qualifies: Qualifies) -> MatchOffer {
        MatchOffer {
            id: 1,
            campaign_id: 1,
            matcher: None,
            ratio: Decimal::ONE,
            cap_minor: 10_000,
            starts_at: "2026-12-01T00:00:00Z".parse().expect("instant"),
            ends_at: "2026-12-31T00:00:00Z".parse().expect("instant"),
            qualifies,
            matched_minor: 0,
            paid_minor: 0,
        }
    }

    fn gift(source: Source, recurring: bool) -> GiftFacts {
        GiftFacts {
            kind: EntryKind::Donation,
            source,
            amount_minor: 2_500,
            recurring,
            new_donor: false,
            first_installment: false,
            settles_match: false,
            at: GiftTime::Instant("2026-12-10T12:00:00Z".parse().expect("instant")),
        }
    }

    #[test]
    fn which_gifts_qualify() {
        let both = offer(Qualifies { online: true, offline: true, ..Qualifies::default() });
        assert!(qualifies(&both, &gift(Source::Online, false)));
        assert!(qualifies(
            &both,
            &GiftFacts {
                at: GiftTime::Day("2026-12-31".parse().expect("day")),
                ..gift(Source::Offline, false)
            }
        ));
        assert!(!qualifies(&both, &gift(Source::Online, true)), "installments only as first installments");
        let late = GiftFacts {
            at: GiftTime::Instant("2026-12-31T00:00:00Z".parse().expect("instant")),
            ..gift(Source::Online, false)
        };
        assert!(!qualifies(&both, &late), "the window's end is out");
        assert!(!qualifies(&both, &GiftFacts { settles_match: true, ..gift(Source::Offline, false) }));
        assert!(!qualifies(&both, &GiftFacts { kind: EntryKind::Refund, ..gift(Source::Online, false) }));

        let first = offer(Qualifies { first_installments: true, new_donors: true, ..Qualifies::default() });
        let installment =
            GiftFacts { first_installment: true, new_donor: true, ..gift(Source::Online, true) };
        assert!(qualifies(&first, &installment));
        assert!(!qualifies(&first, &GiftFacts { new_donor: false, ..installment.clone() }));
        assert!(!qualifies(&first, &GiftFacts { first_installment: false, ..installment }));
        assert!(!qualifies(&first, &GiftFacts { new_donor: true, ..gift(Source::Online, false) }));
    }

    #[test]
    fn a_match_stops_at_the_cap_and_refunds_take_back_in_proportion() {
        let mut offer = offer(Qualifies { online: true, ..Qualifies::default() });
        offer.ratio = "0.5".parse().expect("decimal");
        assert_eq!(gift_match(&offer, 2_501), 1_250, "rounded down");
        offer.matched_minor = 9_000;
        assert_eq!(gift_match(&offer, 4_000), 1_000, "what is left under the cap");
        offer.matched_minor = 10_000;
        assert_eq!(gift_match(&offer, 4_000), 0);
        // A gift of 40.00 earned 20.00; 10.00 refunded: 15.00 stays.
        let ratio = offer.ratio;
        assert_eq!(after_reversal(ratio, 2_000, 2_000, 3_000), -500);
        // Cut by the cap to 5.00: a refund leaving 30.00 changes nothing; a full one takes it all.
        assert_eq!(after_reversal(ratio, 500, 500, 3_000), 0);
        assert_eq!(after_reversal(ratio, 500, 500, 0), -500);
        // Money given back after a refund (a failed refund) brings the match back, not beyond.
        assert_eq!(after_reversal(ratio, 2_000, 0, 4_000), 2_000);
        assert_eq!(after_reversal(ratio, 2_000, 0, -100), 0);
    }

    #[test]
    fn an_offer_is_checked_field_by_field() {
        let now = "2026-12-01T00:00:00Z".parse().expect("instant");
        let input: MatchOfferInput = serde_json::from_str(
            r#"{"ratio":"0","cap":"-5","ends_at":"soon","qualifies":["online","everyone"]}"#,
        )
        .expect("JSON");
        let errors =
            validate_match_offer(input, Currency::from_code("CAD").expect("CAD"), now).expect_err("refused");
        let map = errors.as_map().clone();
        for field in ["ratio", "cap", "ends_at", "qualifies[1]"] {
            assert!(map.contains_key(field), "{field}: {map:?}");
        }
        let input: MatchOfferInput = serde_json::from_str(
            r#"{"cap":"5000","ends_at":"2026-12-31T23:59:59-05:00","qualifies":["new_donors"]}"#,
        )
        .expect("JSON");
        let errors =
            validate_match_offer(input, Currency::from_code("CAD").expect("CAD"), now).expect_err("refused");
        assert!(errors.as_map().contains_key("qualifies"));
        let input: MatchOfferInput = serde_json::from_str(
            r#"{"matcher":" Fund ","cap":"5000","ends_at":"2026-12-31T23:59:59-05:00"}"#,
        )
        .expect("JSON");
        let draft =
            validate_match_offer(input, Currency::from_code("CAD").expect("CAD"), now).expect("valid");
        assert_eq!(draft.matcher.as_deref(), Some("Fund"));
        assert_eq!((draft.ratio, draft.cap_minor, draft.starts_at), (Decimal::ONE, 500_000, now));
        assert_eq!(draft.qualifies.stored(), ",online,offline,");
    }
}
