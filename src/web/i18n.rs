//! English, French, Spanish, Urdu, and any language whose file is added to `web/i18n/`: the
//! strings, and how numbers, money and plurals are written. Numbers (digits, separators,
//! grouping) and plural categories follow CLDR through ICU4X's compiled data; a file gives its
//! strings, its money and percent patterns and its writing direction; dates are CLDR's too.

use std::collections::HashMap;
use std::sync::OnceLock;

use icu_calendar::Date as IcuDate;
use icu_calendar::cal::Gregorian;
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_datetime::fieldsets::YMD;
use icu_decimal::DecimalFormatter;
use icu_decimal::input::Decimal as IcuDecimal;
use icu_locale_core::Locale;
use icu_plurals::{PluralCategory, PluralRules};
use rust_decimal::Decimal;

use crate::ledger::Currency;

/// "2.500", "1.250.000": digits grouped by threes with points, as Spanish writes them.
fn is_grouped_by_points(text: &str) -> bool {
    let mut groups = text.split('.');
    let first = groups.next().unwrap_or("");
    let rest: Vec<&str> = groups.collect();
    !rest.is_empty()
        && (1..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_digit())
        && rest.iter().all(|group| group.len() == 3 && group.chars().all(|c| c.is_ascii_digit()))
}

/// The decimal and grouping separators CLDR gives a language, read off how it writes 1.5 and
/// 1234567.
fn separators(numbers: &DecimalFormatter) -> (String, String) {
    let mut one_and_a_half = IcuDecimal::from(15);
    one_and_a_half.multiply_pow10(-1);
    let half = numbers.format(&one_and_a_half).to_string();
    let decimal =
        half.trim_start_matches(|c: char| c.is_numeric()).trim_end_matches(|c: char| c.is_numeric());
    let million = numbers.format(&IcuDecimal::from(1_234_567)).to_string();
    let group: String =
        million.chars().skip_while(|c| c.is_numeric()).take_while(|c| !c.is_numeric()).collect();
    (decimal.to_owned(), group)
}

/// One language's strings and number conventions, from `web/i18n/<code>.json`.
#[derive(Debug)]
pub struct Language {
    pub code: String,
    pub name: String,
    pub stripe_locale: String,
    /// `ltr`, or `rtl` for a language written right to left (Urdu).
    pub direction: &'static str,
    /// CLDR's, as ICU4X writes 1.5 and 1234567.
    decimal_separator: String,
    group_separator: String,
    money_pattern: String,
    percent_pattern: String,
    strings: HashMap<String, String>,
    numbers: DecimalFormatter,
    plurals: PluralRules,
    dates: FixedCalendarDateTimeFormatter<Gregorian, YMD>,
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
            let locale: Locale =
                code.parse().map_err(|error| format!("{path}: {code} is not a locale: {error}"))?;
            let numbers = DecimalFormatter::try_new((&locale).into(), Default::default())
                .map_err(|error| format!("{path}: no CLDR numbers for {code}: {error}"))?;
            let plurals = PluralRules::try_new_cardinal((&locale).into())
                .map_err(|error| format!("{path}: no CLDR plural rules for {code}: {error}"))?;
            let dates = FixedCalendarDateTimeFormatter::try_new((&locale).into(), YMD::long())
                .map_err(|error| format!("{path}: no CLDR dates for {code}: {error}"))?;
            let (decimal_separator, group_separator) = separators(&numbers);
            languages.push(Language {
                code: code.to_owned(),
                name: meta("_language")?,
                stripe_locale: meta("_stripe_locale")?,
                direction: match strings.get("_direction").map(String::as_str) {
                    None | Some("ltr") => "ltr",
                    Some("rtl") => "rtl",
                    Some(other) => {
                        return Err(format!("{path}: _direction must be ltr or rtl, not {other:?}"));
                    }
                },
                decimal_separator,
                group_separator,
                money_pattern: meta("_money_pattern")?,
                percent_pattern: meta("_percent_pattern")?,
                strings,
                numbers,
                plurals,
                dates,
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

    /// The language to draw in with the bundled DejaVu Sans, laid out left to right (the share
    /// card, the statement PDF): this one, or English for a language written right to left,
    /// whose script that font and layout cannot write.
    pub fn drawable(&self) -> &Language {
        if self.direction == "rtl" { catalog().fallback() } else { self }
    }

    /// The string for `key` with `{name}` placeholders filled.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        args.iter()
            .fold(self.t(key).to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }

    /// The form of `key` for `n` by the language's CLDR plural rule (`key.one`, `key.few`,
    /// `key.many`...; `key.other` when the file has no such form), with `{n}` and `args` filled.
    pub fn plural(&self, key: &str, n: i64, args: &[(&str, &str)]) -> String {
        let category = match self.plurals.category_for(n) {
            PluralCategory::Zero => "zero",
            PluralCategory::One => "one",
            PluralCategory::Two => "two",
            PluralCategory::Few => "few",
            PluralCategory::Many => "many",
            PluralCategory::Other => "other",
        };
        let form = format!("{key}.{category}");
        let form = if self.strings.contains_key(&form) { form } else { format!("{key}.other") };
        let count = self.number(n);
        let mut all = vec![("n", count.as_str())];
        all.extend_from_slice(args);
        self.fill(&form, &all)
    }

    /// 90000 → "90,000" (English), "90 000" (French), "90.000" (Spanish), as CLDR groups
    /// digits in the language (ICU4X); a minus sign is a plain "-" in every language.
    pub fn number(&self, value: i64) -> String {
        let grouped = self.numbers.format(&IcuDecimal::from(value.unsigned_abs())).to_string();
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
        let text = if minor < 0 { format!("-{text}") } else { text };
        // In a right-to-left language the amount is isolated, left to right (LRI … PDI), so
        // that its symbol and digits keep their order inside any sentence.
        if self.direction == "rtl" { format!("\u{2066}{text}\u{2069}") } else { text }
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
            if plain.contains(',') {
                plain.replace('.', "").replace(',', ".")
            } else if self.group_separator == "." && is_grouped_by_points(&plain) {
                // Spanish "2.500" is two thousand five hundred.
                plain.replace('.', "")
            } else {
                plain
            }
        } else {
            plain.replace(&self.group_separator, "")
        }
    }

    /// A day as CLDR writes it in the language, long (ICU4X): "November 1, 2026",
    /// "1 novembre 2026", "1 de noviembre de 2026".
    pub fn date(&self, date: chrono::NaiveDate) -> String {
        use chrono::Datelike;
        let day = u8::try_from(date.day()).ok();
        let month = u8::try_from(date.month()).ok();
        match day.zip(month).and_then(|(day, month)| IcuDate::try_new_gregorian(date.year(), month, day).ok())
        {
            Some(day) => self.dates.format(&day).to_string(),
            None => date.to_string(),
        }
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
                ["zero", "one", "two", "few", "many", "other"]
                    .iter()
                    .map(|form| format!("{key}.{form}"))
                    .chain([(*key).to_owned()])
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
            "lang": self.code,
            "dir": self.direction,
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
    "appeal.fixed_at_launch",
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
        let es = catalog().get("es").expect("Spanish");
        assert_eq!(es.read_amount("2.500"), "2500", "Spanish groups thousands with points");
        assert_eq!(es.read_amount("1.250.000,50"), "1250000.50");
        assert_eq!(es.read_amount("2,5"), "2.5");
        assert_eq!(es.read_amount("2.50"), "2.50", "not a group of three: a decimal point");
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
    fn spanish_and_urdu_write_numbers_as_cldr_does() {
        let es = catalog().get("es").expect("Spanish");
        let ur = catalog().get("ur").expect("Urdu");
        let eur = Currency::from_code("EUR").expect("EUR");
        // Spanish groups from five digits (CLDR's minimum grouping of 2).
        assert_eq!(es.money(123_450, eur), "1234,50\u{a0}€");
        assert_eq!(es.money(1_234_500, eur), "12.345\u{a0}€");
        assert_eq!(es.plural("progress.donors", 1, &[]), "1 donante");
        assert_eq!(es.plural("progress.donors", 0, &[]), "0 donantes");
        assert_eq!(
            ur.money(123_450, Currency::from_code("PKR").expect("PKR")),
            "\u{2066}PKR\u{a0}1,234.50\u{2069}"
        );
        assert_eq!((ur.direction, es.direction), ("rtl", "ltr"));
        assert_eq!(ur.date(chrono::NaiveDate::from_ymd_opt(2026, 12, 6).expect("a day")), "6 دسمبر، 2026");
        assert_eq!(
            es.date(chrono::NaiveDate::from_ymd_opt(2026, 12, 6).expect("a day")),
            "6 de diciembre de 2026"
        );
    }

    /// Every key a template (`t["…"]`), a script (`s["…"]`) or the code (`.t("…")`,
    /// `fill("…"`, `plural("…"`) uses is in English, and so, by the test below, in every
    /// language.
    #[test]
    fn every_key_the_pages_use_is_in_every_language() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        let mut folders = vec![root.join("src"), root.join("web/templates"), root.join("web/static")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("a source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|ext| ext == "rs" || ext == "html" || ext == "js") {
                    sources.push((path.clone(), std::fs::read_to_string(&path).expect("a source file")));
                }
            }
        }
        let openers = ["t[\"", "t['", "s[\"", ".t(\"", "fill(\"", "plural(\""];
        let mut used = std::collections::BTreeSet::new();
        for (path, text) in &sources {
            for opener in openers {
                for (at, _) in text.match_indices(opener) {
                    let rest = &text[at + opener.len()..];
                    let key: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                        .collect();
                    let closed = rest[key.len()..].starts_with(['"', '\'']);
                    // Only whole keys of the strings' shape ("area.name"); not built ones.
                    if !closed || !key.contains('.') || key.ends_with('.') {
                        continue;
                    }
                    let plural_key = opener == "plural(\"";
                    used.insert((key, plural_key, path.display().to_string()));
                }
            }
        }
        assert!(used.len() > 100, "the scan finds the keys: {}", used.len());
        for language in catalog().languages() {
            for (key, plural_key, path) in &used {
                let found = if *plural_key {
                    language.strings.contains_key(&format!("{key}.one"))
                        && language.strings.contains_key(&format!("{key}.other"))
                } else {
                    language.strings.contains_key(key)
                        || language.strings.contains_key(&format!("{key}.other"))
                        || language.strings.keys().any(|known| known.starts_with(&format!("{key}.")))
                };
                assert!(found, "{} lacks {key} (used in {path})", language.code);
            }
        }
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
