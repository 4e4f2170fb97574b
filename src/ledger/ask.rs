//! The monthly ask: after a one-off gift, the thanks page offers to give monthly, at an
//! amount a campaign sets as a share of the gift or a fixed figure, rounded to a friendly one.

use super::money::{Currency, Money};

/// What a campaign asks for monthly after a one-off gift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthlyAsk {
    /// A share of the gift, in basis points (`"25%"` is 2500).
    Share(i64),
    /// A fixed monthly amount, in minor units.
    Fixed(i64),
}

const RULE: &str =
    "must be a share of the gift such as \"25%\" (1 to 100 %), or a monthly amount such as \"10.00\"";

impl MonthlyAsk {
    /// `"25%"` or `"10.00"`.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, &'static str> {
        let text = text.trim();
        if let Some(share) = text.strip_suffix('%') {
            let value: rust_decimal::Decimal = share.trim().parse().map_err(|_| RULE)?;
            let basis_points = value.checked_mul(rust_decimal::Decimal::ONE_HUNDRED).ok_or(RULE)?;
            if value <= rust_decimal::Decimal::ZERO
                || value > rust_decimal::Decimal::ONE_HUNDRED
                || !basis_points.fract().is_zero()
            {
                return Err(RULE);
            }
            return i64::try_from(basis_points).map(MonthlyAsk::Share).map_err(|_| RULE);
        }
        Money::parse_positive(text, currency).map(|money| MonthlyAsk::Fixed(money.minor())).map_err(|_| RULE)
    }

    /// As the API writes it: `"25%"` or `"10.00"`.
    pub fn text(self, currency: Currency) -> String {
        match self {
            MonthlyAsk::Share(basis_points) => {
                format!("{}%", rust_decimal::Decimal::new(basis_points, 2).normalize())
            }
            MonthlyAsk::Fixed(minor) => currency.format_minor(minor),
        }
    }

    /// The monthly amount asked after a one-off gift of `gift_minor`: a share rounded to a
    /// friendly figure (whole units under 10, fives under 50, tens above), never below
    /// `min_minor` (what the campaign accepts online).
    pub fn amount_minor(self, gift_minor: i64, currency: Currency, min_minor: i64) -> i64 {
        let asked = match self {
            MonthlyAsk::Fixed(minor) => return minor.max(min_minor),
            MonthlyAsk::Share(basis_points) => gift_minor.saturating_mul(basis_points) / 10_000,
        };
        // A currency's "unit" as people count it: 1.00 in dollars, 100 in yen.
        let unit = 10_i64.pow(currency.digits()) * if currency.digits() == 0 { 100 } else { 1 };
        let step = if asked < 10 * unit {
            unit
        } else if asked < 50 * unit {
            5 * unit
        } else {
            10 * unit
        };
        let rounded = (asked + step / 2) / step * step;
        rounded.max(min_minor).max(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cad() -> Currency {
        Currency::from_code("CAD").expect("CAD")
    }

    #[test]
    fn a_setting_is_a_share_or_an_amount() {
        assert_eq!(MonthlyAsk::parse("25%", cad()), Ok(MonthlyAsk::Share(2500)));
        assert_eq!(MonthlyAsk::parse(" 12.5 % ", cad()), Ok(MonthlyAsk::Share(1250)));
        assert_eq!(MonthlyAsk::parse("10.00", cad()), Ok(MonthlyAsk::Fixed(1000)));
        for wrong in ["0%", "150%", "abc%", "-5", "0", "1.234%", ""] {
            assert_eq!(MonthlyAsk::parse(wrong, cad()), Err(RULE), "{wrong}");
        }
        assert_eq!(MonthlyAsk::Share(1250).text(cad()), "12.5%");
        assert_eq!(MonthlyAsk::Fixed(1000).text(cad()), "10.00");
    }

    #[test]
    fn a_share_is_rounded_to_a_friendly_figure() {
        let ask = MonthlyAsk::Share(2500);
        // 25 % of 100.00 is 25.00; of 50.00, 12.50 → 15.00 (to fives); of 30.00, 7.50 → 8.00.
        assert_eq!(ask.amount_minor(10_000, cad(), 200), 2500);
        assert_eq!(ask.amount_minor(5_000, cad(), 200), 1500);
        assert_eq!(ask.amount_minor(3_000, cad(), 200), 800);
        assert_eq!(ask.amount_minor(100_000, cad(), 200), 25_000);
        assert_eq!(ask.amount_minor(26_000, cad(), 200), 7000, "65.00 → 70.00, to tens");
        // Never below what the campaign accepts.
        assert_eq!(ask.amount_minor(400, cad(), 500), 500);
        assert_eq!(MonthlyAsk::Fixed(1000).amount_minor(99_999, cad(), 200), 1000);
        let yen = Currency::from_code("JPY").expect("JPY");
        assert_eq!(ask.amount_minor(10_000, yen, 100), 2500, "2,500 yen, to 500s");
    }
}
