//! Finding entries: the query a treasurer types (a donor, a reference, an amount, an entry
//! number) and the filters beside it, checked once for the API, the dashboard and the CLI.

use chrono::NaiveDate;
use serde::Deserialize;

use super::validation::parse_day;
use super::{Currency, EntryKind, FieldErrors, Money};

/// Entries listed per page by default, and at most.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 500;

/// What is asked, as it arrives (a query string, the dashboard's search form, CLI flags).
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntrySearchInput {
    #[serde(default)]
    pub campaign: Option<String>,
    /// A donor's name or e-mail, a reference, an amount or an entry number ("#42").
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    #[param(value_type = Option<crate::ledger::EntryKind>, inline)]
    pub kind: Option<String>,
    /// A deposit's number.
    #[serde(default)]
    pub batch: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
    /// Entries older than this one (the `next_before` of the page before).
    #[serde(default)]
    pub before: Option<i64>,
}

/// A checked search. `text` matches donors' names and e-mails and references (lowercased,
/// as a `LIKE` pattern); `id` and `amount_minor` are what the query reads as when it can.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntrySearch {
    pub text: Option<String>,
    pub id: Option<i64>,
    pub amount_minor: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub method: Option<String>,
    pub branch: Option<String>,
    pub kind: Option<EntryKind>,
    pub batch_id: Option<i64>,
    pub limit: i64,
    pub before_id: Option<i64>,
}

impl EntrySearch {
    /// Whether anything narrows the list beyond paging.
    pub fn is_narrowed(&self) -> bool {
        self.text.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.method.is_some()
            || self.branch.is_some()
            || self.kind.is_some()
            || self.batch_id.is_some()
    }
}

/// Checks a search; `currency` reads an amount in the query (a campaign's, or two decimals).
pub fn validate_search(
    input: &EntrySearchInput,
    currency: Option<Currency>,
) -> Result<EntrySearch, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut search = EntrySearch { limit: input.limit.unwrap_or(DEFAULT_PAGE), ..EntrySearch::default() };
    if !(1..=MAX_PAGE).contains(&search.limit) {
        errors.add("limit", format!("must be from 1 to {MAX_PAGE}"));
    }
    search.before_id = input.before;
    if let Some(q) = input.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 200 {
            errors.add("q", "must be at most 200 characters");
        } else {
            let number = q.strip_prefix('#').unwrap_or(q);
            search.id = number.parse::<i64>().ok().filter(|id| *id > 0);
            let currency = currency.or_else(|| Currency::from_code("CAD").ok());
            search.amount_minor =
                currency.and_then(|currency| Money::parse_positive(q, currency).ok()).map(Money::minor);
            let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            search.text = Some(format!("%{escaped}%"));
        }
    }
    let day =
        |errors: &mut FieldErrors, field: &str, value: &Option<String>| match value.as_deref().map(str::trim)
        {
            Some(text) if !text.is_empty() => {
                errors.check(field, parse_day(text).ok_or("must be a date written YYYY-MM-DD"))
            }
            _ => None,
        };
    search.from = day(&mut errors, "from", &input.from);
    search.to = day(&mut errors, "to", &input.to);
    if let (Some(from), Some(to)) = (search.from, search.to)
        && to < from
    {
        errors.add("to", "must not be before from");
    }
    search.method =
        input.method.as_deref().map(str::trim).filter(|method| !method.is_empty()).map(str::to_owned);
    if let Some(method) = &search.method
        && method.len() > 40
    {
        errors.add("method", "must be at most 40 characters");
    }
    search.branch =
        input.branch.as_deref().map(str::trim).filter(|branch| !branch.is_empty()).map(str::to_owned);
    search.kind = match input.kind.as_deref().map(str::trim).filter(|kind| !kind.is_empty()) {
        None => None,
        Some(text) => {
            let kind = EntryKind::parse(text);
            if kind.is_none() {
                errors.add(
                    "kind",
                    "must be one of donation, refund, adjustment, dispute, dispute_won, refund_failed",
                );
            }
            kind
        }
    };
    search.batch_id = input.batch;
    errors.into_result(|| search)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_reads_as_text_an_entry_number_and_an_amount() {
        let input = EntrySearchInput { q: Some("25.50".to_owned()), ..EntrySearchInput::default() };
        let search = validate_search(&input, Currency::from_code("CAD").ok()).expect("valid");
        assert_eq!(
            (search.amount_minor, search.id, search.text.as_deref()),
            (Some(2550), None, Some("%25.50%"))
        );
        let input = EntrySearchInput { q: Some("#42".to_owned()), ..EntrySearchInput::default() };
        let search = validate_search(&input, None).expect("valid");
        assert_eq!(search.id, Some(42));
        let input = EntrySearchInput { q: Some("50%_off".to_owned()), ..EntrySearchInput::default() };
        assert_eq!(validate_search(&input, None).expect("valid").text.as_deref(), Some("%50\\%\\_off%"));
    }

    #[test]
    fn bad_filters_are_named() {
        let input = EntrySearchInput {
            from: Some("2026-11-31".to_owned()),
            kind: Some("gift".to_owned()),
            limit: Some(0),
            ..EntrySearchInput::default()
        };
        let errors = validate_search(&input, None).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["from", "kind", "limit"]);
    }
}
