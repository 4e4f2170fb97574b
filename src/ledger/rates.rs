//! Exchange rates, kept and sourced: what a treasurer gives (`1 base = rate quote` on a day,
//! from a source) or imports from the European Central Bank's reference-rate files, and the
//! rate that turns one currency into another on a day. Pure: the store keeps the rates, this
//! module reads and chooses them.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::money::{Currency, MAX_MAJOR_UNITS};
use super::validation::{FieldErrors, parse_day};

/// How far back a rate may be taken for a day without one (a weekend, a bank holiday).
pub const RATE_LOOKBACK_DAYS: i64 = 7;
/// The source of the rates imported from the ECB's files.
pub const ECB: &str = "ECB";
/// The source of a rate given with the gift itself.
pub const GIVEN: &str = "given";
const SOURCE_MAX_CHARS: usize = 100;

/// One rate: `1 base = rate quote` on `day`, from `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rate {
    pub base: Currency,
    pub quote: Currency,
    pub day: NaiveDate,
    pub rate: Decimal,
    pub source: String,
}

/// A rate as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RateBody {
    #[schema(example = "EUR")]
    pub base: &'static str,
    #[schema(example = "CAD")]
    pub quote: &'static str,
    /// The day the rate is of: a rate chosen for a day without one is of a day before it.
    #[schema(format = Date)]
    pub date: String,
    /// How many `quote` one `base` is worth.
    #[schema(example = "1.4781")]
    pub rate: String,
    pub source: String,
}

impl RateBody {
    pub fn new(rate: &Rate) -> Self {
        RateBody {
            base: rate.base.code(),
            quote: rate.quote.code(),
            date: rate.day.to_string(),
            rate: rate.rate.to_string(),
            source: rate.source.clone(),
        }
    }
}

/// A rate as a treasurer gives it (`POST /api/v1/admin/rates`, `appeal rates add`).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateInput {
    /// The currency one unit of which the rate prices (`EUR`).
    #[serde(default)]
    #[schema(example = "EUR", required = true)]
    pub base: Option<String>,
    /// The currency it is priced in (`CAD`).
    #[serde(default)]
    #[schema(example = "CAD", required = true)]
    pub quote: Option<String>,
    #[serde(default)]
    #[schema(value_type = String, format = Date, required = true)]
    pub date: Option<String>,
    /// How many `quote` one `base` is worth, as a decimal (`1.4781`).
    #[serde(default)]
    #[schema(example = "1.4781", required = true)]
    pub rate: Option<String>,
    /// Where it comes from (a bank's statement, `ECB`): at most 100 characters.
    #[serde(default)]
    #[schema(example = "Desjardins statement 2026-11", required = true)]
    pub source: Option<String>,
}

/// A currency as typed: an ISO 4217 code appeal knows, in any letter case.
pub fn parse_currency(text: &str) -> Result<Currency, String> {
    Currency::from_code(text)
        .map_err(|_| format!("must be an ISO 4217 currency code, not \"{}\"", text.trim()))
}

/// Checks a rate as given, naming every bad field.
pub fn validate_rate(input: RateInput) -> Result<Rate, FieldErrors> {
    let mut errors = FieldErrors::new();
    let currency = |errors: &mut FieldErrors, field: &str, text: Option<String>| match text {
        Some(text) => errors.check(field, parse_currency(&text)),
        None => {
            errors.add(field, "is required");
            None
        }
    };
    let base = currency(&mut errors, "base", input.base);
    let quote = currency(&mut errors, "quote", input.quote);
    if base.is_some() && base == quote {
        errors.add("quote", "must differ from base");
    }
    let day = match input.date {
        Some(text) => errors.check("date", parse_day(&text).ok_or("must be a date, YYYY-MM-DD")),
        None => {
            errors.add("date", "is required");
            None
        }
    };
    let rate = match input.rate {
        Some(text) => errors.check("rate", parse_rate(&text)),
        None => {
            errors.add("rate", "is required");
            None
        }
    };
    let source = match input.source.map(|text| text.trim().to_owned()) {
        Some(text) if text.is_empty() => {
            errors.add("source", "is required: where the rate comes from");
            None
        }
        Some(text) if text.chars().count() > SOURCE_MAX_CHARS => {
            errors.add("source", format!("must be at most {SOURCE_MAX_CHARS} characters"));
            None
        }
        Some(text) if is_ecb(&text) || text.eq_ignore_ascii_case(GIVEN) => {
            errors.add(
                "source",
                format!("must name where the rate comes from: \"{text}\" is kept for appeal's own"),
            );
            None
        }
        Some(text) => Some(text),
        None => {
            errors.add("source", "is required: where the rate comes from");
            None
        }
    };
    match (base, quote, day, rate, source) {
        (Some(base), Some(quote), Some(day), Some(rate), Some(source)) if errors.is_empty() => {
            Ok(Rate { base, quote, day, rate, source })
        }
        _ => Err(errors),
    }
}

/// A rate as people write it: a positive decimal (digits and a point) up to 1,000,000,000, at
/// most 12 decimal places.
pub fn parse_rate(text: &str) -> Result<Decimal, String> {
    let trimmed = text.trim();
    let refuse = || format!("must be a positive decimal such as 1.4781, not \"{trimmed}\"");
    if trimmed.is_empty() || !trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(refuse());
    }
    let rate = Decimal::from_str(trimmed).map_err(|_| refuse())?.normalize();
    if rate <= Decimal::ZERO || rate > Decimal::from(1_000_000_000_i64) {
        return Err(refuse());
    }
    if rate.scale() > 12 {
        return Err(format!("must have at most 12 decimal places, not \"{trimmed}\""));
    }
    Ok(rate)
}

/// The rate to turn `from` into `to` on `day`, from `known` (the rates of the days up to
/// `RATE_LOOKBACK_DAYS` before it): the latest day's, straight (`from`→`to`), inverted
/// (`to`→`from`), or across the euro (`EUR`→`from` and `EUR`→`to`, as the ECB publishes
/// them), in that order of preference; on one day, a treasurer's rate before the ECB's.
pub fn choose_rate(known: &[Rate], from: Currency, to: Currency, day: NaiveDate) -> Option<Rate> {
    let usable = |rate: &&Rate| rate.day <= day && (day - rate.day).num_days() <= RATE_LOOKBACK_DAYS;
    let latest = |base: Currency, quote: Currency| -> Option<&Rate> {
        known
            .iter()
            .filter(usable)
            .filter(|rate| rate.base == base && rate.quote == quote)
            .max_by_key(|rate| (rate.day, !is_ecb(&rate.source)))
    };
    let straight = latest(from, to).cloned();
    let inverted = latest(to, from).map(|rate| Rate {
        base: from,
        quote: to,
        day: rate.day,
        rate: (Decimal::ONE / rate.rate).round_dp(12).normalize(),
        source: rate.source.clone(),
    });
    let euro = Currency::from_code("EUR").ok()?;
    let across = match (latest(euro, from), latest(euro, to)) {
        (Some(first), Some(second)) if from != euro && to != euro => Some(Rate {
            base: from,
            quote: to,
            day: first.day.min(second.day),
            rate: (second.rate / first.rate).round_dp(12).normalize(),
            source: if first.source == second.source {
                first.source.clone()
            } else {
                format!("{} / {}", first.source, second.source)
            },
        }),
        _ => None,
    };
    // The newest of the three; on one day a treasurer's before the ECB's, then straight before
    // inverted before across. A rate that rounds to nothing is none.
    [straight, inverted, across]
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, rate)| rate.rate > Decimal::ZERO)
        .max_by_key(|(order, rate)| {
            (rate.day, !rate.source.split(" / ").any(is_ecb), std::cmp::Reverse(*order))
        })
        .map(|(_, rate)| rate)
}

/// A rate kept as text in JSON (`"1.4781"`), exactly.
pub mod decimal_text {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        Decimal::from_str(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether a source is the ECB's (as imported), in any letter case.
fn is_ecb(source: &str) -> bool {
    source.eq_ignore_ascii_case(ECB)
}

/// `amount_minor` of `from` in `to` at `rate`, rounded half away from zero to `to`'s minor
/// unit; `None` when that is nothing, or more than an entry may hold.
pub fn convert(amount_minor: i64, from: Currency, to: Currency, rate: Decimal) -> Option<i64> {
    let major = Decimal::from(amount_minor) / Decimal::from(10_i64.pow(from.digits()));
    let converted =
        major.checked_mul(rate)?.round_dp_with_strategy(to.digits(), RoundingStrategy::MidpointAwayFromZero);
    if converted <= Decimal::ZERO || converted > Decimal::from(MAX_MAJOR_UNITS) {
        return None;
    }
    (converted * Decimal::from(10_i64.pow(to.digits()))).to_i64()
}

/// What an ECB reference-rate file says: `1 EUR = rate quote` for each currency and day.
/// Reads the daily and historical files in both published forms: CSV (`Date, USD, JPY, …`
/// then a row a day, `N/A` where a currency had none, the daily file's date written
/// `30 November 2026`) and XML (`<Cube time="…"><Cube currency="USD" rate="…"/>`).
/// Currencies appeal does not know are skipped; a row or value that cannot be read is an
/// error naming its line.
pub fn parse_ecb(text: &str) -> Result<Vec<Rate>, String> {
    let euro = Currency::from_code("EUR").map_err(|error| error.to_string())?;
    let rate_of = |day: NaiveDate, code: &str, value: &str, line: usize| -> Result<Option<Rate>, String> {
        let value = value.trim();
        let Ok(quote) = Currency::from_code(code) else { return Ok(None) };
        if value.is_empty() || value == "N/A" || quote == euro {
            return Ok(None);
        }
        let rate = parse_rate(value).map_err(|error| format!("line {line}: {code} {error}"))?;
        Ok(Some(Rate { base: euro, quote, day, rate, source: ECB.to_owned() }))
    };
    let text = text.trim_start_matches('\u{feff}');
    let mut rates = Vec::new();
    if text.trim_start().starts_with('<') {
        let mut day: Option<NaiveDate> = None;
        for (index, line) in text.lines().enumerate() {
            for element in line.split('<').filter(|element| element.starts_with("Cube")) {
                let attribute = |name: &str| {
                    element.split(&format!("{name}=")).nth(1).and_then(|rest| {
                        let quote = rest.chars().next()?;
                        rest[quote.len_utf8()..].split(quote).next().map(str::to_owned)
                    })
                };
                if let Some(time) = attribute("time") {
                    day = Some(
                        parse_day(&time)
                            .ok_or(format!("line {}: the date {time} cannot be read", index + 1))?,
                    );
                }
                if let (Some(code), Some(value)) = (attribute("currency"), attribute("rate")) {
                    let day = day.ok_or(format!("line {}: a rate before any date", index + 1))?;
                    rates.extend(rate_of(day, &code, &value, index + 1)?);
                }
            }
        }
    } else {
        let mut lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
        let (_, header) = lines.next().ok_or("the file is empty")?;
        let codes: Vec<&str> = header.split(',').map(str::trim).collect();
        if codes.first().is_none_or(|first| !first.eq_ignore_ascii_case("date")) {
            return Err("line 1: an ECB rates file begins with Date and the currencies".to_owned());
        }
        for (index, line) in lines {
            let values: Vec<&str> = line.split(',').collect();
            let date = values[0].trim();
            let day = parse_day(date)
                .or_else(|| NaiveDate::parse_from_str(date, "%d %B %Y").ok())
                .ok_or(format!("line {}: the date {date} cannot be read", index + 1))?;
            for (code, value) in codes.iter().zip(&values).skip(1) {
                if !code.is_empty() {
                    rates.extend(rate_of(day, code, value, index + 1)?);
                }
            }
        }
    }
    if rates.is_empty() {
        return Err("no rate could be read: is it an ECB reference-rate file?".to_owned());
    }
    Ok(rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).expect("known")
    }

    fn decimal(text: &str) -> Decimal {
        Decimal::from_str(text).expect("a decimal")
    }

    fn day(text: &str) -> NaiveDate {
        parse_day(text).expect("a day")
    }

    fn rate(base: &str, quote: &str, on: &str, value: &str, source: &str) -> Rate {
        Rate {
            base: currency(base),
            quote: currency(quote),
            day: day(on),
            rate: decimal(value),
            source: source.into(),
        }
    }

    /// The ECB's reference rates of 17 and 22 April 2025 (eurofxref-hist.csv, the first
    /// columns; 18–21 April were TARGET holidays, with no rates).
    const HISTORY: &str = "Date,USD,JPY,BGN,CYP,CZK,DKK,EEK,GBP,HUF,LTL,LVL,MTL,PLN,ROL,RON,SEK,\n\
        2025-04-22,1.1476,161.05,1.9558,N/A,25.081,7.4656,N/A,0.85858,409.38,N/A,N/A,N/A,4.28,N/A,4.9773,10.9153,\n\
        2025-04-17,1.136,161.98,1.9558,N/A,25.009,7.4672,N/A,0.85873,407.6,N/A,N/A,N/A,4.2743,N/A,4.9776,11.0278,\n";

    #[test]
    fn the_ecb_files_are_read_in_both_forms() {
        let rates = parse_ecb(HISTORY).expect("read");
        assert_eq!(rates.len(), 2 * 10, "CYP, EEK, LTL, LVL, MTL, ROL are N/A");
        assert!(rates.contains(&rate("EUR", "GBP", "2025-04-17", "0.85873", ECB)));
        let daily = "Date, USD, JPY, GBP, \n22 April 2025, 1.1476, 161.05, 0.85858, \n";
        assert!(parse_ecb(daily).expect("read").contains(&rate("EUR", "USD", "2025-04-22", "1.1476", ECB)));
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<Cube>
		<Cube time='2025-04-22'>
			<Cube currency='USD' rate='1.1476'/>
			<Cube currency='SEK' rate='10.9153'/>
		</Cube>
	</Cube>
</gesmes:Envelope>"#;
        let rates = parse_ecb(xml).expect("read");
        assert_eq!(
            rates,
            vec![
                rate("EUR", "USD", "2025-04-22", "1.1476", ECB),
                rate("EUR", "SEK", "2025-04-22", "10.9153", ECB)
            ]
        );
        assert!(parse_ecb("Date,USD\n2025-04-22,abc\n").is_err_and(|error| error.contains("line 2: USD")));
        assert!(parse_ecb("hello").is_err());
    }

    #[test]
    fn a_rate_is_chosen_straight_inverted_or_across_the_euro_from_the_week_before() {
        let known = parse_ecb(HISTORY).expect("read");
        // Easter Sunday takes Thursday's rates; SEK to GBP goes across the euro.
        let chosen =
            choose_rate(&known, currency("SEK"), currency("GBP"), day("2025-04-20")).expect("a rate");
        assert_eq!((chosen.day, chosen.source.as_str()), (day("2025-04-17"), ECB));
        assert_eq!(chosen.rate, (decimal("0.85873") / decimal("11.0278")).round_dp(12).normalize());
        // GBP to EUR inverts EUR to GBP.
        let back = choose_rate(&known, currency("GBP"), currency("EUR"), day("2025-04-22")).expect("a rate");
        assert_eq!(back.rate, (Decimal::ONE / decimal("0.85858")).round_dp(12).normalize());
        // Too long before, or only after: none.
        assert_eq!(choose_rate(&known, currency("USD"), currency("EUR"), day("2025-04-30")), None);
        assert_eq!(choose_rate(&known, currency("USD"), currency("EUR"), day("2025-04-16")), None);
        assert_eq!(choose_rate(&known, currency("CAD"), currency("EUR"), day("2025-04-22")), None);
        // A treasurer's rate wins on its day, even written the other way round.
        let mut mine = known.clone();
        mine.push(rate("GBP", "EUR", "2025-04-22", "1.2", "bank"));
        let chosen = choose_rate(&mine, currency("EUR"), currency("GBP"), day("2025-04-22")).expect("a rate");
        assert_eq!((chosen.rate, chosen.source.as_str()), (decimal("0.833333333333"), "bank"));
        // A treasurer's own rate for the pair wins on its day.
        let mut mine = known.clone();
        mine.push(rate("GBP", "EUR", "2025-04-22", "1.17", "bank"));
        let chosen = choose_rate(&mine, currency("GBP"), currency("EUR"), day("2025-04-22")).expect("a rate");
        assert_eq!((chosen.rate, chosen.source.as_str()), (decimal("1.17"), "bank"));
    }

    #[test]
    fn money_is_converted_to_the_minor_unit_half_away_from_zero() {
        let (eur, cad, jpy) = (currency("EUR"), currency("CAD"), currency("JPY"));
        assert_eq!(convert(10_000, eur, cad, decimal("1.4781")), Some(14_781));
        assert_eq!(convert(1, eur, cad, decimal("1.5")), Some(2), "0.015 rounds up");
        assert_eq!(convert(12_345, eur, jpy, decimal("161.05")), Some(19_882));
        assert_eq!(convert(1, jpy, eur, decimal("0.001")), None, "to nothing");
        assert_eq!(convert(100_000_000_000, eur, jpy, decimal("161.05")), None, "past the largest entry");
    }

    fn given_input() -> RateInput {
        RateInput {
            base: Some("eur".into()),
            quote: Some("CAD".into()),
            date: Some("2025-04-22".into()),
            rate: Some("1.4781".into()),
            source: Some("Desjardins".into()),
        }
    }

    #[test]
    fn a_rate_given_by_hand_names_each_bad_field() {
        let refused = validate_rate(RateInput {
            base: Some("EUR".into()),
            quote: Some("eur".into()),
            date: Some("2025-13-01".into()),
            rate: Some("-1".into()),
            source: Some(" ".into()),
        })
        .expect_err("refused");
        let fields: Vec<&str> = refused.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, vec!["date", "quote", "rate", "source"]);
        let given = validate_rate(given_input()).expect("valid");
        assert_eq!(given, rate("EUR", "CAD", "2025-04-22", "1.4781", "Desjardins"));
        assert!(parse_rate("1e3").is_err() && parse_rate("0").is_err() && parse_rate("abc").is_err());
        assert!(parse_rate("+1.2").is_err() && parse_rate("1_4781").is_err());
        assert_eq!(parse_rate("1.47810000000000"), Ok(decimal("1.4781")));
        assert!(parse_rate("0.0000000000001").is_err_and(|error| error.contains("12 decimal places")));
        let imported = RateInput { source: Some("ecb".into()), ..given_input() };
        assert!(
            validate_rate(imported).is_err_and(|errors| errors.iter().any(|(field, _)| field == "source"))
        );
    }
}
