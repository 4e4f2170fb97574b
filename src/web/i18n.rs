//! English, French, and any language whose file is added to `web/i18n/`: the strings, plural
//! forms, and how numbers and money are written.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_decimal::Decimal;

use crate::ledger::Currency;

/// One language's strings and number conventions, from `web/i18n/<code>.json`.
#[derive(Clone, Debug)]
pub struct Language {
    pub code: String,
    pub name: String,
    pub stripe_locale: String,
    decimal_separator: String,
    group_separator: String,
    money_pattern: String,
    percent_pattern: String,
    zero_is_singular: bool,
    strings: HashMap<String, String>,
}

/// Every language shipped, English first as the fallback.
#[derive(Debug)]
pub struct Catalog {
    languages: Vec<Language>,
}

const FALLBACK: &str = "en";

/// The catalog, read once from the embedded files.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::load().expect("the shipped translation files are valid"))
}

impl Catalog {
    fn load() -> Result<Self, String> {
        let mut languages = Vec::new();
        for path in super::files_under("i18n/") {
            let Some(code) = path.strip_prefix("i18n/").and_then(|name| name.strip_suffix(".json")) else {
                continue;
            };
            let bytes = super::file(&path).ok_or_else(|| format!("{path} vanished"))?;
            let strings: HashMap<String, String> =
                serde_json::from_slice(&bytes).map_err(|error| format!("{path}: {error}"))?;
            let meta = |key: &str| strings.get(key).cloned().ok_or_else(|| format!("{path} lacks {key}"));
            languages.push(Language {
                code: code.to_owned(),
                name: meta("_language")?,
                stripe_locale: meta("_stripe_locale")?,
                decimal_separator: meta("_decimal_separator")?,
                group_separator: meta("_group_separator")?,
                money_pattern: meta("_money_pattern")?,
                percent_pattern: meta("_percent_pattern")?,
                zero_is_singular: meta("_zero_is_singular")? == "yes",
                strings,
            });
        }
        languages.sort_by_key(|language| (language.code != FALLBACK, language.code.clone()));
        if languages.first().is_none_or(|language| language.code != FALLBACK) {
            return Err("web/i18n/en.json is missing".to_owned());
        }
        Ok(Catalog { languages })
    }

    pub fn languages(&self) -> &[Language] {
        &self.languages
    }

    pub fn get(&self, code: &str) -> Option<&Language> {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or("");
        self.languages.iter().find(|language| language.code == primary)
    }

    pub fn fallback(&self) -> &Language {
        &self.languages[0]
    }

    /// The visitor's language: `?lang=`, then the cookie, then `Accept-Language`, then English.
    pub fn negotiate(
        &self,
        query: Option<&str>,
        cookie: Option<&str>,
        accept_language: Option<&str>,
    ) -> &Language {
        query
            .and_then(|code| self.get(code))
            .or_else(|| cookie.and_then(|code| self.get(code)))
            .or_else(|| accept_language.and_then(|header| self.best_of_accept_language(header)))
            .unwrap_or_else(|| self.fallback())
    }

    fn best_of_accept_language(&self, header: &str) -> Option<&Language> {
        let mut ranges: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let quality = pieces
                    .find_map(|piece| piece.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (!tag.is_empty() && quality > 0.0).then_some((quality, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges.into_iter().find_map(|(_, tag)| self.get(tag))
    }
}

impl Language {
    /// The string for `key`, or the English one, or the key itself.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.strings.get(key).or_else(|| catalog().fallback().strings.get(key)).map_or(key, String::as_str)
    }

    /// The string for `key` with `{name}` placeholders filled.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        args.iter()
            .fold(self.t(key).to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }

    /// `key.one` or `key.other` by the language's rule, with `{n}` and `args` filled.
    pub fn plural(&self, key: &str, n: i64, args: &[(&str, &str)]) -> String {
        let singular = n == 1 || (self.zero_is_singular && n == 0);
        let form = if singular { format!("{key}.one") } else { format!("{key}.other") };
        let count = self.number(n);
        let mut all = vec![("n", count.as_str())];
        all.extend_from_slice(args);
        self.fill(&form, &all)
    }

    /// 90000 → "90,000" (English) or "90 000" (French).
    pub fn number(&self, value: i64) -> String {
        let digits = value.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push_str(&self.group_separator);
            }
            grouped.push(digit);
        }
        if value < 0 { format!("-{grouped}") } else { grouped }
    }

    /// Money as people read it: "$90,000", "90 000 $", "$25.50", "25,50 $"; cents only when
    /// there are some.
    pub fn money(&self, minor: i64, currency: Currency) -> String {
        self.money_with(minor, currency, false)
    }

    /// Money to the cent, as a statement or a receipt writes it: "$90,000.00", "90 000,00 $".
    pub fn money_exact(&self, minor: i64, currency: Currency) -> String {
        self.money_with(minor, currency, true)
    }

    /// Sums in several currencies, to the cent, as one line: "$50.00 + 20,00 €" (a currency
    /// code appeal does not know is left out).
    pub fn money_sums<'a>(&self, sums: impl IntoIterator<Item = (&'a str, i64)>) -> String {
        sums.into_iter()
            .filter_map(|(code, minor)| Currency::from_code(code).ok().map(|c| self.money_exact(minor, c)))
            .collect::<Vec<_>>()
            .join(" + ")
    }

    fn money_with(&self, minor: i64, currency: Currency, cents: bool) -> String {
        let scale = 10_i64.pow(currency.digits());
        let (whole, fraction) = (minor.abs() / scale, minor.abs() % scale);
        let mut amount = self.number(whole);
        if fraction != 0 || (cents && currency.digits() > 0) {
            amount.push_str(&self.decimal_separator);
            amount.push_str(&format!("{fraction:0width$}", width = currency.digits() as usize));
        }
        let symbol = symbol(currency);
        let text = self.money_pattern.replace("{symbol}", symbol).replace("{amount}", &amount);
        if minor < 0 { format!("-{text}") } else { text }
    }

    /// Money already written as a decimal ("90000.00"), as [`Language::money`] writes it;
    /// the text itself when it is not a decimal.
    pub fn money_of_decimal(&self, text: &str, currency: Currency) -> String {
        use rust_decimal::prelude::ToPrimitive;
        let minor = text
            .parse::<Decimal>()
            .ok()
            .and_then(|value| value.checked_mul(Decimal::from(10_i64.pow(currency.digits()))))
            .and_then(|value| value.to_i64());
        minor.map_or_else(|| text.to_owned(), |minor| self.money(minor, currency))
    }

    /// An amount as a person types it in this language, written plainly for the money parser:
    /// spaces and group separators dropped, the decimal separator made a point. "2,500" is two
    /// thousand five hundred in English and two and a half in French; "2 500,50" in French is
    /// 2500.50. A point typed in French with no comma is taken as a decimal point.
    pub fn read_amount(&self, text: &str) -> String {
        let plain: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\u{202f}').collect();
        if self.decimal_separator == "," {
            if plain.contains(',') { plain.replace('.', "").replace(',', ".") } else { plain }
        } else {
            plain.replace(&self.group_separator, "")
        }
    }

    /// A day as people write it: "November 1, 2026", "1 novembre 2026".
    pub fn date(&self, date: chrono::NaiveDate) -> String {
        use chrono::Datelike;
        let month = self.t(&format!("date.month.{}", date.month())).to_owned();
        self.fill(
            "date.long",
            &[("month", &month), ("day", &date.day().to_string()), ("year", &date.year().to_string())],
        )
    }

    /// A percentage with one decimal when it has one: "90%", "90 %", "33.3%".
    pub fn percent(&self, value: f64) -> String {
        let rounded = Decimal::try_from(value).unwrap_or_default().round_dp(1).normalize();
        let text = rounded.to_string().replace('.', &self.decimal_separator);
        self.percent_pattern.replace("{n}", &text)
    }

    /// All strings, for templates.
    pub fn strings(&self) -> &HashMap<String, String> {
        &self.strings
    }

    /// What format.js needs to write figures as this side does: separators, patterns, and
    /// the strings of the progress bar and the form.
    pub fn for_scripts(&self) -> serde_json::Value {
        let strings: serde_json::Map<String, serde_json::Value> = SCRIPT_STRINGS
            .iter()
            .flat_map(|key| {
                [format!("{key}.one"), format!("{key}.other"), (*key).to_owned()]
                    .into_iter()
                    .filter(|key| self.strings.contains_key(key))
                    .map(|key| (key.clone(), serde_json::Value::from(self.t(&key))))
                    .collect::<Vec<_>>()
            })
            .collect();
        serde_json::json!({
            "decimal": self.decimal_separator,
            "group": self.group_separator,
            "money": self.money_pattern,
            "percent": self.percent_pattern,
            "zero_is_singular": self.zero_is_singular,
            "strings": strings,
        })
    }

    /// The same, with a campaign currency's symbol and digits added.
    pub fn for_scripts_in(&self, currency: Currency) -> serde_json::Value {
        let mut value = self.for_scripts();
        value["symbol"] = serde_json::Value::from(symbol(currency));
        value["digits"] = serde_json::Value::from(currency.digits());
        value
    }
}

/// The strings format.js and the widget use (plural keys are given without `.one`/`.other`).
const SCRIPT_STRINGS: &[&str] = &[
    "progress.raised_of",
    "progress.percent",
    "progress.donors",
    "progress.days_left",
    "progress.hours_left",
    "progress.ended",
    "progress.recurring",
    "progress.label",
    "form.cover_fees",
    "form.total",
    "form.closed",
    "progress.matching",
    "embed.give",
    "appeal.converted",
    "appeal.as_of",
    "appeal.stale",
    "appeal.not_heard",
    "appeal.not_counted",
];

/// Symbol and digits of every currency, for the widget.
pub fn currencies_for_scripts() -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = Currency::all()
        .map(|currency| {
            (
                currency.code().to_owned(),
                serde_json::json!({"symbol": symbol(currency), "digits": currency.digits()}),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

fn symbol(currency: Currency) -> &'static str {
    match currency.code() {
        "CAD" | "USD" | "AUD" | "NZD" | "MXN" | "SGD" | "HKD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cad() -> Currency {
        Currency::from_code("CAD").expect("CAD")
    }

    #[test]
    fn english_and_french_write_money_their_own_way() {
        let en = catalog().get("en").expect("English");
        let fr = catalog().get("fr-CA").expect("French");
        assert_eq!(en.money(9_000_000, cad()), "$90,000");
        assert_eq!(fr.money(9_000_000, cad()), "90\u{202f}000\u{a0}$");
        assert_eq!(en.money(2550, cad()), "$25.50");
        assert_eq!(fr.money(2505, cad()), "25,05\u{a0}$");
        assert_eq!(en.money(123_456_789, Currency::from_code("JPY").expect("JPY")), "¥123,456,789");
        assert_eq!(en.percent(90.0), "90%");
        assert_eq!(fr.percent(33.3), "33,3\u{202f}%");
    }

    #[test]
    fn dates_are_written_in_each_language() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date");
        assert_eq!(catalog().get("en").expect("English").date(day), "November 1, 2026");
        assert_eq!(catalog().get("fr").expect("French").date(day), "1 novembre 2026");
    }

    #[test]
    fn amounts_are_read_with_each_language_separators() {
        let en = catalog().get("en").expect("English");
        let fr = catalog().get("fr").expect("French");
        assert_eq!(en.read_amount("2,500"), "2500");
        assert_eq!(en.read_amount(" 2,500.50 "), "2500.50");
        assert_eq!(fr.read_amount("2,5"), "2.5");
        assert_eq!(fr.read_amount("2\u{202f}500,50"), "2500.50");
        assert_eq!(fr.read_amount("2 500,50"), "2500.50");
        assert_eq!(fr.read_amount("2.50"), "2.50", "a point alone is taken as a decimal point");
    }

    #[test]
    fn plurals_follow_each_language() {
        let en = catalog().get("en").expect("English");
        let fr = catalog().get("fr").expect("French");
        assert_eq!(en.plural("progress.donors", 0, &[]), "0 donors");
        assert_eq!(en.plural("progress.donors", 1, &[]), "1 donor");
        assert_eq!(fr.plural("progress.donors", 0, &[]), "0 donateur");
        assert_eq!(fr.plural("progress.donors", 1200, &[]), "1\u{202f}200 donateurs");
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_cookie_then_the_browser() {
        let catalog = catalog();
        assert_eq!(catalog.negotiate(Some("fr"), Some("en"), Some("en")).code, "fr");
        assert_eq!(catalog.negotiate(None, Some("fr"), Some("en")).code, "fr");
        assert_eq!(catalog.negotiate(None, None, Some("de-DE, fr-CA;q=0.8, en;q=0.5")).code, "fr");
        assert_eq!(catalog.negotiate(Some("xx"), None, None).code, "en");
    }

    #[test]
    fn every_language_has_every_string() {
        let english: Vec<&String> = catalog().fallback().strings.keys().collect();
        for language in catalog().languages() {
            for key in &english {
                assert!(language.strings.contains_key(*key), "{} lacks {key}", language.code);
            }
        }
    }
}
