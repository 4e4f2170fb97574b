//! Input validation shared by the API and the CLI: field-named errors and patch fields.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

/// Validation errors keyed by the field that caused them (`"amount"`, `"branches[1].slug"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set holding one error.
    pub fn single(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records an error for a field; the first error found for a field is kept.
    pub fn add(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.entry(field.into()).or_insert_with(|| message.to_string());
    }

    /// Keeps the value of `result`, or records its error under `field`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|error| self.add(field, error)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when no error was recorded.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value()) } else { Err(self) }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.iter().map(|(k, v)| format!("{k} {v}")).collect();
        f.write_str(&parts.join("; "))
    }
}

/// A field of a JSON patch: absent (leave as is), `null` (clear) or a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Field<T> {
    #[default]
    Missing,
    Null,
    Value(T),
}

impl<T> Field<T> {
    pub fn is_missing(&self) -> bool {
        matches!(self, Field::Missing)
    }

    /// The same field with its value changed by `f`.
    pub fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Missing => Field::Missing,
            Field::Null => Field::Null,
            Field::Value(value) => Field::Value(f(value)),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Field::Null, Field::Value))
    }
}

/// An amount as JSON carries it: a decimal string. A JSON number is refused with a
/// clear message, because a float cannot be trusted to hold cents exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmountText(pub String);

impl<'de> Deserialize<'de> for AmountText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AmountText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal string such as \"25.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<AmountText, E> {
                Ok(AmountText(value.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<AmountText, E> {
                Err(E::custom(NUMBER_REFUSED))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<AmountText, E> {
                Err(E::custom(NUMBER_REFUSED))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<AmountText, E> {
                Err(E::custom(NUMBER_REFUSED))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// In the API's contract: a string, never a number.
impl utoipa::PartialSchema for AmountText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An amount in the currency's units, as a decimal string (\"25.00\"); a JSON number is refused.",
            ))
            .examples(["25.00"])
            .into()
    }
}

impl utoipa::ToSchema for AmountText {}

const NUMBER_REFUSED: &str = "must be a decimal string such as \"25.00\", not a JSON number";

/// Checks an optional free-text field: trimmed, empty treated as absent, bounded length.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<String>,
    max_chars: usize,
) -> Option<String> {
    let text = value?.trim().to_owned();
    if text.is_empty() {
        return None;
    }
    if text.chars().count() > max_chars {
        errors.add(field, format!("must be at most {max_chars} characters"));
        return None;
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errors.add(field, "must not contain control characters");
        return None;
    }
    Some(text)
}

/// A calendar day written `YYYY-MM-DD` with a four-digit year. chrono alone would also take
/// "+262142-12-31" and "-1999-12-31", days whose next day or year cannot be counted.
pub fn parse_day(text: &str) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    let text = text.trim();
    let shaped = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(at, byte)| if at == 4 || at == 7 { byte == b'-' } else { byte.is_ascii_digit() });
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().filter(|_| shaped)?;
    (date.year() >= 1).then_some(date)
}

/// Checks an e-mail address the way a form would: one `@`, a dotted domain, no spaces.
pub fn parse_email(value: &str) -> Result<String, &'static str> {
    let email = value.trim();
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid { Ok(email.to_owned()) } else { Err("must be an e-mail address such as \"name@example.org\"") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_a_four_digit_year() {
        assert_eq!(parse_day(" 2026-11-01 "), chrono::NaiveDate::from_ymd_opt(2026, 11, 1));
        for bad in ["+262142-12-31", "-1999-12-31", "2026-1-1", "0000-01-01", "2026-02-30", "2026/11/01", ""]
        {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails_are_checked_like_a_form_would() {
        assert!(parse_email("ana@example.org").is_ok());
        assert!(parse_email("ana.b+tag@mail.example.ca").is_ok());
        for bad in ["", "ana", "ana@", "@example.org", "ana@example", "a b@example.org", "a@b@c.org"] {
            assert!(parse_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn patch_fields_tell_missing_from_null() {
        #[derive(Deserialize)]
        struct Patch {
            #[serde(default)]
            ends_at: Field<String>,
        }
        let missing: Patch = serde_json::from_str("{}").expect("valid JSON");
        let null: Patch = serde_json::from_str(r#"{"ends_at":null}"#).expect("valid JSON");
        let value: Patch = serde_json::from_str(r#"{"ends_at":"x"}"#).expect("valid JSON");
        assert_eq!(missing.ends_at, Field::Missing);
        assert_eq!(null.ends_at, Field::Null);
        assert_eq!(value.ends_at, Field::Value("x".to_owned()));
    }
}
