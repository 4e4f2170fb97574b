//! A refused form as a person reads it: each message under the field's label (never the
//! program's key such as `received_on` or `rows[3]`), listed in a summary that links to the
//! field, and again beside the field itself.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::actions::ActionError;
use crate::http::error::Problem;

/// A refused form's status (409 for a conflict, 422 otherwise) and its messages by field;
/// a problem page for an error that is not the form's.
pub(super) fn refusal(error: ActionError) -> Result<(StatusCode, BTreeMap<String, String>), Problem> {
    let status = match &error {
        ActionError::Conflict { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    field_errors(error).map(|errors| (status, errors))
}

pub(super) fn field_errors(error: ActionError) -> Result<BTreeMap<String, String>, Problem> {
    match error {
        ActionError::Invalid(errors) => {
            Ok(errors.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
        }
        ActionError::Forbidden(message) => Ok(BTreeMap::from([("form".to_owned(), message)])),
        ActionError::Conflict { field, message } => Ok(BTreeMap::from([(field, message)])),
        other => Err(Problem::from(other)),
    }
}

/// A `datetime-local` value (a time in the organization's `zone`) as RFC 3339; the text
/// itself when it is not one, for the validation to name.
pub(super) fn local_instant(text: String, zone: chrono_tz::Tz) -> String {
    use chrono::TimeZone;
    chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|local| zone.from_local_datetime(&local).earliest())
        .map_or(text, |at| at.to_rfc3339())
}

/// A posted form's fields; a field sent several times (checkboxes) keeps each value.
pub(super) fn posted(body: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        fields.entry(name.into_owned()).or_default().push(value.into_owned());
    }
    fields
}

/// The first value of a posted field.
pub(super) fn first<'a>(fields: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(|values| values.first()).map(String::as_str)
}

/// Where a message belongs on the page: what the field is called there, and the `id` of the
/// input it is shown beside (none for a message about the whole form).
pub(super) struct Place {
    pub label: String,
    pub input: Option<String>,
}

impl Place {
    pub fn at(label: impl Into<String>, input: impl Into<String>) -> Place {
        Place { label: label.into(), input: Some(input.into()) }
    }

    /// A message about the whole form.
    pub fn form() -> Place {
        Place { label: String::new(), input: None }
    }
}

/// `{"summary": [{"label", "message", "anchor"}], "beside": {input id: "Label message"}}`;
/// messages for one input (the lines of a pasted CSV) are joined beside it.
pub(super) fn labelled(errors: &BTreeMap<String, String>, place: impl Fn(&str) -> Place) -> Value {
    let mut summary = Vec::new();
    let mut beside: BTreeMap<String, String> = BTreeMap::new();
    for (field, message) in errors {
        let Place { label, input } = place(field);
        if let Some(input) = &input {
            let said = beside.entry(input.clone()).or_default();
            if !said.is_empty() {
                said.push_str("; ");
            }
            said.push_str(format!("{label} {message}").trim_start());
        }
        summary.push(json!({"label": label, "message": message, "anchor": input}));
    }
    json!({"summary": summary, "beside": beside})
}

/// `rows[3]` and `rows[3].amount` (a pasted CSV's line 3) as "Line 3" and "Line 3, Amount",
/// with `field_label` naming the column; `None` for any other key.
pub(super) fn csv_line(field: &str, field_label: impl Fn(&str) -> String) -> Option<String> {
    let rest = field.strip_prefix("rows[")?;
    let (line, column) = rest.split_once(']')?;
    Some(match column.strip_prefix('.') {
        Some(column) => format!("Line {line}, {}", field_label(column)),
        None => format!("Line {line}"),
    })
}

/// A program's key as words, for a field no form names: `deposited_on` → "Deposited on".
pub(super) fn words(field: &str) -> String {
    let spaced = field.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_labelled_linked_and_joined_beside_their_field() {
        let errors = BTreeMap::from([
            ("rows[3].amount".to_owned(), "must be a decimal number".to_owned()),
            ("rows[5]".to_owned(), "cannot be read".to_owned()),
            ("form".to_owned(), "You may not do that.".to_owned()),
        ]);
        let shown = labelled(&errors, |field| {
            if let Some(label) = csv_line(field, words) { Place::at(label, "csv") } else { Place::form() }
        });
        assert_eq!(shown["beside"]["csv"], "Line 3, Amount must be a decimal number; Line 5 cannot be read");
        assert_eq!(shown["summary"][0]["label"], "");
        assert_eq!(shown["summary"][0]["anchor"], Value::Null);
        assert_eq!(shown["summary"][1]["label"], "Line 3, Amount");
        assert_eq!(shown["summary"][1]["anchor"], "csv");
        assert_eq!(words("received_on"), "Received on");
    }
}
