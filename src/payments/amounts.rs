//! The one money boundary with Stripe: ledger amounts (ISO 4217 minor units) to and from the
//! amounts Stripe's API reads and writes, what Stripe can charge, and how a money movement
//! Stripe reports is counted in a campaign's currency.
//!
//! Stripe writes most currencies in their ISO 4217 minor units, with exceptions
//! (<https://docs.stripe.com/currencies#special-cases>):
//! - ISK and UGX became zero-decimal, but the API keeps two decimals for them: 5 ISK is
//!   `500`, and only whole units can be charged (multiples of 100). (Older pages also list
//!   UGX as zero-decimal; sending 5 for 5 UGX would charge a hundredth, so the special case,
//!   which errs towards an error from Stripe rather than a wrong charge, wins.)
//! - BHD, JOD, KWD, OMR and TND have three decimals, and a charged amount must end in 0.
//! - HUF and TWD are charged with two decimals as ISO 4217 has them: Stripe pays them out in
//!   whole units only, and appeal makes no payouts.
//!
//! Everything read from or sent to Stripe goes through here, so those rules live in one place.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::objects::BalanceTransaction;
use crate::ledger::Currency;

/// Stripe's rule for one currency: the digits of its API amounts and the step (in API units)
/// every charged amount must be a multiple of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StripeRule {
    api_digits: u32,
    charge_step: i64,
}

/// The currencies Stripe writes or charges differently from ISO 4217; the rest follow it.
const SPECIAL_CASES: &[(&str, StripeRule)] = &[
    ("ISK", StripeRule { api_digits: 2, charge_step: 100 }),
    ("UGX", StripeRule { api_digits: 2, charge_step: 100 }),
    ("BHD", StripeRule { api_digits: 3, charge_step: 10 }),
    ("JOD", StripeRule { api_digits: 3, charge_step: 10 }),
    ("KWD", StripeRule { api_digits: 3, charge_step: 10 }),
    ("OMR", StripeRule { api_digits: 3, charge_step: 10 }),
    ("TND", StripeRule { api_digits: 3, charge_step: 10 }),
];

fn rule(currency: Currency) -> StripeRule {
    SPECIAL_CASES
        .iter()
        .find(|(code, _)| *code == currency.code())
        .map(|(_, rule)| *rule)
        .unwrap_or(StripeRule { api_digits: currency.digits(), charge_step: 1 })
}

/// How many API units make one ledger minor unit (100 for ISK, else 1).
fn api_units_per_minor(currency: Currency) -> i64 {
    10_i64.pow(rule(currency).api_digits.saturating_sub(currency.digits()))
}

/// The currency as Stripe names it in requests: lowercase ISO code.
pub fn stripe_code(currency: Currency) -> String {
    currency.code().to_ascii_lowercase()
}

/// The smallest step a charged amount moves by, in ledger minor units: 1 for most
/// currencies, 10 (0.010) for three-decimal ones.
pub fn charge_step_minor(currency: Currency) -> i64 {
    let rule = rule(currency);
    (rule.charge_step / api_units_per_minor(currency)).max(1)
}

/// Why an amount cannot be sent to Stripe as a charge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unchargeable {
    #[error("must be a multiple of {step} {currency}, which Stripe can charge")]
    NotAStep { step: String, currency: &'static str },
    #[error("is too large to send to Stripe")]
    TooLarge,
}

/// A ledger amount as Stripe's API takes it for a charge, refusing what Stripe cannot charge.
pub fn chargeable(minor: i64, currency: Currency) -> Result<i64, Unchargeable> {
    let step = charge_step_minor(currency);
    if minor % step != 0 {
        return Err(Unchargeable::NotAStep { step: currency.format_minor(step), currency: currency.code() });
    }
    minor.checked_mul(api_units_per_minor(currency)).ok_or(Unchargeable::TooLarge)
}

/// Rounds a ledger amount up to the next amount Stripe can charge.
pub fn round_up_chargeable(minor: i64, currency: Currency) -> i64 {
    let step = charge_step_minor(currency);
    let remainder = minor.rem_euclid(step);
    if remainder == 0 { minor } else { minor.saturating_add(step - remainder) }
}

/// An amount Stripe reported (API units of `code`) in ledger minor units of that currency,
/// or `None` when appeal does not know the currency. Amounts that carry API digits the
/// ledger does not keep (old fractional ISK) are rounded half away from zero.
pub fn from_stripe(api_amount: i64, code: &str) -> Option<(i64, Currency)> {
    let currency = Currency::from_code(code).ok()?;
    let per_minor = api_units_per_minor(currency);
    let minor = if per_minor == 1 {
        api_amount
    } else {
        let exact = Decimal::from(api_amount) / Decimal::from(per_minor);
        exact.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero).to_i64()?
    };
    Some((minor, currency))
}

/// A money movement Stripe reported, counted in a campaign's currency (ledger minor units).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Signed: negative when money left (a refund, a dispute's withdrawal).
    pub amount_minor: i64,
    /// What Stripe kept or charged (negative when it gave a fee back).
    pub fee_minor: i64,
    /// The reported amount in its own currency, when that is not the campaign's.
    pub presented: Option<(i64, Currency)>,
    /// The balance transaction the amounts came from, when they did.
    pub balance_transaction: Option<String>,
    /// When Stripe moved the money (unix seconds).
    pub at: i64,
}

/// Counts a money movement in `campaign` currency. `reported` is the object's own amount
/// (signed like the movement) and currency, `created` its time. The balance transaction is
/// the fact: when it is in the campaign currency its gross, fee and date are used as they
/// are. Else, when the object itself is in the campaign currency, it counts at face value
/// with no known fee. `None` when neither is: the movement must be held for a treasurer.
pub fn settle(
    campaign: Currency,
    reported: (i64, &str),
    created: i64,
    balance: Option<&BalanceTransaction>,
) -> Option<Settled> {
    let (reported_amount, reported_code) = reported;
    let presented = from_stripe(reported_amount, reported_code).filter(|(_, currency)| *currency != campaign);
    if let Some(balance) = balance
        && let Some((amount_minor, currency)) = from_stripe(balance.amount, &balance.currency)
        && currency == campaign
    {
        let (fee_minor, _) = from_stripe(balance.fee, &balance.currency)?;
        return Some(Settled {
            amount_minor,
            fee_minor,
            presented,
            balance_transaction: Some(balance.id.clone()),
            at: if balance.created > 0 { balance.created } else { created },
        });
    }
    match from_stripe(reported_amount, reported_code) {
        Some((amount_minor, currency)) if currency == campaign => Some(Settled {
            amount_minor,
            fee_minor: 0,
            presented: None,
            balance_transaction: balance.map(|balance| balance.id.clone()),
            at: created,
        }),
        _ => None,
    }
}

/// What to ask Stripe to refund, in API units of the charge's currency, for `requested_minor`
/// of a gift in the ledger's currency. When the donor paid in the ledger's currency the
/// amount is the same. When they paid in another one, "all that is left" is what Stripe
/// still holds of the charge, and a part is converted at the rate the gift settled at,
/// rounded to a chargeable amount and never above what Stripe still holds.
pub fn refund_request(
    requested_minor: i64,
    remaining_minor: i64,
    gift: &GiftAmounts,
    charge_refundable_api: i64,
) -> Result<i64, Unchargeable> {
    match gift.presented {
        None => Ok(chargeable(requested_minor, gift.currency)?.min(charge_refundable_api)),
        Some(_) if requested_minor >= remaining_minor => Ok(charge_refundable_api),
        Some((presented_minor, presented_currency)) => {
            let settled = Decimal::from(gift.amount_minor.max(1));
            // Checked: amounts Stripe reports are any i64, and their product may not fit.
            let converted = Decimal::from(requested_minor)
                .checked_mul(Decimal::from(presented_minor))
                .and_then(|product| product.checked_div(settled))
                .ok_or(Unchargeable::TooLarge)?;
            let rounded = converted
                .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .to_i64()
                .ok_or(Unchargeable::TooLarge)?;
            let chargeable_minor = round_up_chargeable(rounded.max(1), presented_currency);
            Ok(chargeable(chargeable_minor, presented_currency)?.min(charge_refundable_api))
        }
    }
}

/// A gift's amounts as the ledger holds them, for converting a refund into the charge's currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GiftAmounts {
    pub amount_minor: i64,
    pub currency: Currency,
    pub presented: Option<(i64, Currency)>,
}

/// What the donor paid, as their receipt says it: the charge's own amount and currency.
pub fn donor_paid(
    amount_minor: i64,
    currency: Currency,
    presented: Option<(i64, Currency)>,
) -> (i64, Currency) {
    presented.unwrap_or((amount_minor, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).expect("a known currency")
    }

    #[test]
    fn isk_and_ugx_are_sent_with_two_decimals_and_in_whole_units() {
        for code in ["ISK", "UGX"] {
            assert_eq!(chargeable(5000, currency(code)), Ok(500_000), "{code}");
            assert_eq!(from_stripe(500_000, code), Some((5000, currency(code))), "{code}");
            assert_eq!(from_stripe(150, code), Some((2, currency(code))), "{code}: old fractions round");
            assert_eq!(charge_step_minor(currency(code)), 1, "{code}");
        }
    }

    #[test]
    fn three_decimal_currencies_are_charged_in_multiples_of_ten() {
        let kwd = currency("KWD");
        assert_eq!(chargeable(10_000, kwd), Ok(10_000));
        assert_eq!(
            chargeable(10_005, kwd),
            Err(Unchargeable::NotAStep { step: "0.010".to_owned(), currency: "KWD" })
        );
        assert_eq!(round_up_chargeable(10_001, kwd), 10_010);
        assert_eq!(round_up_chargeable(10_010, kwd), 10_010);
        assert_eq!(charge_step_minor(kwd), 10);
    }

    #[test]
    fn other_currencies_follow_iso_4217() {
        for code in ["CAD", "JPY", "HUF", "EUR"] {
            let c = currency(code);
            assert_eq!(chargeable(2501, c), Ok(2501), "{code}");
            assert_eq!(from_stripe(2501, code), Some((2501, c)), "{code}");
        }
        assert_eq!(from_stripe(100, "xyz"), None);
    }

    fn balance(amount: i64, fee: i64, currency: &str) -> BalanceTransaction {
        BalanceTransaction {
            id: "txn_1".to_owned(),
            amount,
            currency: currency.to_owned(),
            fee,
            net: amount - fee,
            created: 1_700_000_000,
        }
    }

    #[test]
    fn a_balance_transaction_in_the_campaign_currency_is_the_fact() {
        let cad = currency("CAD");
        let settled = settle(cad, (2000, "eur"), 1, Some(&balance(2950, 116, "cad"))).expect("counted");
        assert_eq!(
            (settled.amount_minor, settled.fee_minor, settled.presented, settled.at),
            (2950, 116, Some((2000, currency("EUR"))), 1_700_000_000)
        );
        let refunded = settle(cad, (-1000, "eur"), 1, Some(&balance(-1490, 0, "cad"))).expect("counted");
        assert_eq!((refunded.amount_minor, refunded.presented), (-1490, Some((-1000, currency("EUR")))));
    }

    #[test]
    fn without_a_usable_balance_transaction_the_campaign_currency_counts_at_face_value() {
        let cad = currency("CAD");
        let settled = settle(cad, (2500, "cad"), 7, Some(&balance(1800, 80, "usd"))).expect("counted");
        assert_eq!((settled.amount_minor, settled.fee_minor, settled.at), (2500, 0, 7));
        assert_eq!(settle(cad, (2000, "eur"), 7, Some(&balance(2200, 80, "usd"))), None);
        assert_eq!(settle(cad, (2000, "eur"), 7, None), None);
    }

    #[test]
    fn refunds_of_converted_gifts_are_asked_in_the_charge_currency() {
        let gift = GiftAmounts {
            amount_minor: 2950,
            currency: currency("CAD"),
            presented: Some((2000, currency("EUR"))),
        };
        // All that is left: what Stripe still holds of the charge.
        assert_eq!(refund_request(2950, 2950, &gift, 2000), Ok(2000));
        // 10.00 CAD of a gift that settled 29.50 CAD for 20.00 EUR is 6.78 EUR.
        assert_eq!(refund_request(1000, 2950, &gift, 2000), Ok(678));
        let plain = GiftAmounts { amount_minor: 2500, currency: currency("CAD"), presented: None };
        assert_eq!(refund_request(1000, 2500, &plain, 2500), Ok(1000));
    }
}
