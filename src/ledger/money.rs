//! Money: integer minor units of an ISO 4217 currency, parsed from and written as decimals.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The largest amount one entry or goal may hold, in major units (1,000,000,000.00).
pub const MAX_MAJOR_UNITS: i64 = 1_000_000_000;

/// An ISO 4217 currency with the number of digits after the decimal point it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Currency {
    code: &'static str,
    digits: u32,
}

/// Currencies we accept, with their minor-unit digits (ISO 4217, as Stripe uses them).
const CURRENCIES: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("GNF", 0),
    ("HKD", 2),
    ("HUF", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MAD", 2),
    ("MGA", 0),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("RON", 2),
    ("RWF", 0),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("ZAR", 2),
];

impl Currency {
    /// Looks up a currency by its ISO 4217 code, in any letter case.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == upper)
            .map(|&(code, digits)| Currency { code, digits })
            .ok_or(MoneyError::UnknownCurrency)
    }

    /// Every currency we accept.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|&(code, digits)| Currency { code, digits })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point: 2 for CAD, 0 for JPY, 3 for KWD.
    pub fn digits(self) -> u32 {
        self.digits
    }

    /// The largest amount one entry may hold, in minor units.
    pub fn max_minor(self) -> i64 {
        MAX_MAJOR_UNITS * 10_i64.pow(self.digits)
    }

    /// Writes minor units as a decimal string with the currency's digits: 9000000 CAD → "90000.00".
    pub fn format_minor(self, minor: i64) -> String {
        self.decimal(minor).to_string()
    }

    /// An amount in minor units as a decimal in major units, to write without a `String`.
    pub fn decimal(self, minor: i64) -> Decimal {
        Decimal::new(minor, self.digits)
    }

    /// Appends minor units as `decimal` displays them ("-0.05", "25.00", "2500"), by integer
    /// arithmetic alone: exports write three amounts per row, a million rows at a time.
    pub fn write_minor(self, minor: i64, out: &mut String) {
        use std::fmt::Write as _;
        let magnitude = minor.unsigned_abs();
        if minor < 0 {
            out.push('-');
        }
        if self.digits == 0 {
            let _ = write!(out, "{magnitude}");
            return;
        }
        let scale = 10_u64.pow(self.digits);
        let width = self.digits as usize;
        let _ = write!(out, "{}.{:0width$}", magnitude / scale, magnitude % scale);
    }
}

/// A currency travels as its ISO 4217 code.
impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// Why an amount or currency was refused; the text is shown to the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is required")]
    Empty,
    #[error("must be a decimal number such as \"25.00\"")]
    NotANumber,
    #[error("must be written without an exponent, such as \"1500.00\"")]
    Exponent,
    #[error("must not be negative")]
    Negative,
    #[error("must be greater than zero")]
    Zero,
    #[error("has more decimal places than {currency} allows ({digits})")]
    TooManyDigits { currency: &'static str, digits: u32 },
    #[error("must not exceed {max}")]
    TooLarge { max: String },
    #[error("would overflow the total")]
    Overflow,
    #[error("must be a supported ISO 4217 currency code such as \"CAD\"")]
    UnknownCurrency,
}

/// A positive amount of one currency, held exactly in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Parses what a person typed ("25", "25.5", "25.00") into a positive amount of `currency`.
    pub fn parse_positive(input: &str, currency: Currency) -> Result<Self, MoneyError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        if is_scientific(text) {
            return Err(MoneyError::Exponent);
        }
        let plain_number =
            text.strip_prefix('-').unwrap_or(text).chars().all(|c| c.is_ascii_digit() || c == '.');
        let has_digit = text.chars().any(|c| c.is_ascii_digit());
        if !plain_number || !has_digit {
            return Err(MoneyError::NotANumber);
        }
        let value = Decimal::from_str(text).map_err(|_| MoneyError::NotANumber)?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value.is_zero() {
            return Err(MoneyError::Zero);
        }
        let normalized = value.normalize();
        if normalized.scale() > currency.digits {
            return Err(MoneyError::TooManyDigits { currency: currency.code, digits: currency.digits });
        }
        let max = Decimal::from(MAX_MAJOR_UNITS);
        if normalized > max {
            return Err(MoneyError::TooLarge { max: currency.format_minor(currency.max_minor()) });
        }
        let scaled = normalized * Decimal::from(10_i64.pow(currency.digits));
        let minor = i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    /// An amount already in minor units (from the database or Stripe).
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        match minor {
            m if m < 0 => Err(MoneyError::Negative),
            0 => Err(MoneyError::Zero),
            m if m > currency.max_minor() => {
                Err(MoneyError::TooLarge { max: currency.format_minor(currency.max_minor()) })
            }
            _ => Ok(Money { minor, currency }),
        }
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency.format_minor(self.minor), self.currency)
    }
}

/// "1e5", "2.5E-3": a number in exponent notation, which we refuse rather than guess at.
fn is_scientific(text: &str) -> bool {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

/// Adds signed minor-unit amounts, refusing to overflow.
pub fn checked_sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, MoneyError> {
    amounts.into_iter().try_fold(0_i64, |sum, amount| sum.checked_add(amount)).ok_or(MoneyError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_are_written_as_decimals_display_them() {
        for code in ["CAD", "JPY", "KWD"] {
            let currency = Currency::from_code(code).expect("known");
            for minor in [0, 1, 5, -5, 99, 100, 2500, -2500, 123_456_789, i64::MAX, i64::MIN] {
                let mut written = String::new();
                currency.write_minor(minor, &mut written);
                assert_eq!(written, currency.decimal(minor).to_string(), "{minor} {code}");
            }
        }
    }

    fn cad() -> Currency {
        Currency::from_code("cad").expect("CAD is known")
    }

    #[test]
    fn parses_what_people_type_into_minor_units() {
        let jpy = Currency::from_code("JPY").expect("JPY is known");
        let kwd = Currency::from_code("KWD").expect("KWD is known");
        assert_eq!(Money::parse_positive("25", cad()).map(Money::minor), Ok(2500));
        assert_eq!(Money::parse_positive("25.5", cad()).map(Money::minor), Ok(2550));
        assert_eq!(Money::parse_positive(" 0.01 ", cad()).map(Money::minor), Ok(1));
        assert_eq!(Money::parse_positive("2500", jpy).map(Money::minor), Ok(2500));
        assert_eq!(Money::parse_positive("1.234", kwd).map(Money::minor), Ok(1234));
        assert_eq!(Money::parse_positive("1000000000.00", cad()).map(Money::minor), Ok(100_000_000_000));
    }

    #[test]
    fn refuses_bad_amounts_with_a_reason() {
        let jpy = Currency::from_code("JPY").expect("JPY is known");
        let cases = [
            ("", MoneyError::Empty),
            ("-5.00", MoneyError::Negative),
            ("0", MoneyError::Zero),
            ("0.00", MoneyError::Zero),
            ("1e5", MoneyError::Exponent),
            ("1E5", MoneyError::Exponent),
            ("abc", MoneyError::NotANumber),
            ("NaN", MoneyError::NotANumber),
            ("twenty", MoneyError::NotANumber),
            ("2.5E-3", MoneyError::Exponent),
            ("1,000.00", MoneyError::NotANumber),
            ("+5", MoneyError::NotANumber),
            (".", MoneyError::NotANumber),
            ("1.2.3", MoneyError::NotANumber),
        ];
        for (input, expected) in cases {
            assert_eq!(Money::parse_positive(input, cad()), Err(expected), "input {input:?}");
        }
        assert!(matches!(
            Money::parse_positive("25.001", cad()),
            Err(MoneyError::TooManyDigits { digits: 2, .. })
        ));
        assert!(matches!(
            Money::parse_positive("25.5", jpy),
            Err(MoneyError::TooManyDigits { digits: 0, .. })
        ));
        assert!(matches!(Money::parse_positive("1000000000.01", cad()), Err(MoneyError::TooLarge { .. })));
        assert!(matches!(
            Money::parse_positive("99999999999999999999999999", cad()),
            Err(MoneyError::TooLarge { .. })
        ));
    }

    #[test]
    fn trailing_zeros_beyond_the_currency_digits_are_accepted() {
        assert_eq!(Money::parse_positive("25.000", cad()).map(Money::minor), Ok(2500));
    }

    #[test]
    fn formats_with_the_currency_digits() {
        let jpy = Currency::from_code("JPY").expect("JPY is known");
        assert_eq!(cad().format_minor(9_000_000), "90000.00");
        assert_eq!(cad().format_minor(-150), "-1.50");
        assert_eq!(cad().format_minor(0), "0.00");
        assert_eq!(jpy.format_minor(2500), "2500");
    }

    #[test]
    fn sums_refuse_to_overflow() {
        assert_eq!(checked_sum([1, 2, -3]), Ok(0));
        assert_eq!(checked_sum([i64::MAX, 1]), Err(MoneyError::Overflow));
    }

    #[test]
    fn unknown_currencies_are_refused() {
        assert_eq!(Currency::from_code("XYZ"), Err(MoneyError::UnknownCurrency));
        assert_eq!(Currency::from_code(""), Err(MoneyError::UnknownCurrency));
    }
}
