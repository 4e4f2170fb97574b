//! Offline deposits entered as batches: the entries post together only when their count and
//! total match what the deposit slip declares.

use chrono::NaiveDate;
use serde::Deserialize;

use super::campaign::{Branch, Campaign};
use super::entry::{NewEntry, OfflineDonationInput, parse_received_on, validate_offline_donation};
use super::money::{Money, checked_sum};
use super::validation::{AmountText, FieldErrors, optional_text};

/// A deposit as a treasurer enters it (API body; the CSV import fills `entries` from rows).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"reference": "slip 2026-11-03", "deposited_on": "2026-11-03",
    "declared_count": 2, "declared_total": "75.00", "entries": [
        {"amount": "50.00", "method": "cheque", "donor_name": "Ana Silva"},
        {"amount": "25.00", "method": "cash"}]})))]
pub struct BatchInput {
    /// The deposit slip's reference.
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub deposited_on: Option<String>,
    #[serde(default)]
    pub declared_count: Option<i64>,
    #[serde(default)]
    pub declared_total: Option<AmountText>,
    #[serde(default)]
    pub entries: Vec<OfflineDonationInput>,
    /// Post it even though an earlier deposit has the same slip, or the same date and total.
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// A checked batch, ready to post in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchDraft {
    pub campaign_id: i64,
    pub reference: String,
    pub deposited_on: NaiveDate,
    pub declared_count: i64,
    pub declared_total_minor: i64,
    pub entries: Vec<NewEntry>,
}

/// How the entries of a batch are named in errors: `entries[0]` in JSON, `rows[2]` (the
/// line of the file) in a CSV import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowNames {
    Entries,
    CsvLines,
}

impl RowNames {
    fn name(self, index: usize) -> String {
        match self {
            RowNames::Entries => format!("entries[{index}]"),
            // Line 1 of the file is the header.
            RowNames::CsvLines => format!("rows[{}]", index + 2),
        }
    }
}

const MAX_ENTRIES: usize = 5_000;

/// Checks a batch whole: each entry, then the declared count and total against them.
pub fn validate_batch(
    input: BatchInput,
    campaign: &Campaign,
    branches: &[Branch],
    today: NaiveDate,
    recorded_by: &str,
    names: RowNames,
) -> Result<BatchDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let reference = optional_text(&mut errors, "reference", input.reference, 200);
    if reference.is_none() {
        errors.add("reference", "is required: the deposit slip's number or a description");
    }
    let deposited_on = match &input.deposited_on {
        Some(text) => errors.check("deposited_on", parse_received_on(text, today)),
        None => {
            errors.add("deposited_on", "is required");
            None
        }
    };
    let declared_count = match input.declared_count {
        Some(count) if count > 0 => Some(count),
        Some(_) => {
            errors.add("declared_count", "must be at least 1");
            None
        }
        None => {
            errors.add("declared_count", "is required");
            None
        }
    };
    let declared_total = match &input.declared_total {
        Some(AmountText(text)) => {
            errors.check("declared_total", Money::parse_positive(text, campaign.currency)).map(Money::minor)
        }
        None => {
            errors.add("declared_total", "is required");
            None
        }
    };
    if input.entries.is_empty() {
        errors.add("entries", "must hold at least one entry");
    } else if input.entries.len() > MAX_ENTRIES {
        errors.add("entries", format!("must hold at most {MAX_ENTRIES} entries"));
    }
    let mut entries = Vec::with_capacity(input.entries.len());
    for (index, mut entry) in input.entries.into_iter().enumerate() {
        if entry.allow_duplicate {
            errors.add(
                format!("{}.allow_duplicate", names.name(index)),
                "is said of the whole deposit, not of a row",
            );
        }
        if entry.received_on.is_none() {
            entry.received_on = input.deposited_on.clone();
        }
        if super::entry::other_currency(&entry, campaign).is_some() {
            errors.add(
                format!("{}.currency", names.name(index)),
                format!(
                    "must be the campaign's ({}): a deposit is in one currency; record a gift in another on its own",
                    campaign.currency.code()
                ),
            );
            continue;
        }
        if entry.rate.as_deref().is_some_and(|rate| !rate.trim().is_empty()) {
            errors.add(
                format!("{}.rate", names.name(index)),
                "is given only with another currency, which a deposit's rows cannot have",
            );
            continue;
        }
        match validate_offline_donation(entry, campaign, branches, today, recorded_by, &[]) {
            Ok(valid) => entries.push(valid),
            Err(entry_errors) => {
                for (field, message) in entry_errors.iter() {
                    errors.add(format!("{}.{field}", names.name(index)), message);
                }
            }
        }
    }
    if errors.is_empty() {
        let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
        let total = checked_sum(entries.iter().map(|entry| entry.amount_minor));
        if let Some(declared) = declared_count
            && declared != count
        {
            errors.add("declared_count", format!("is {declared} but the batch holds {count} entries"));
        }
        match (declared_total, total) {
            (_, Err(error)) => errors.add("entries", error),
            (Some(declared), Ok(total)) if declared != total => errors.add(
                "declared_total",
                format!(
                    "is {} but the entries add up to {}",
                    campaign.currency.format_minor(declared),
                    campaign.currency.format_minor(total)
                ),
            ),
            _ => {}
        }
    }
    match (reference, deposited_on, declared_count, declared_total) {
        (Some(reference), Some(deposited_on), Some(declared_count), Some(declared_total_minor))
            if errors.is_empty() =>
        {
            Ok(BatchDraft {
                campaign_id: campaign.id,
                reference,
                deposited_on,
                declared_count,
                declared_total_minor,
                entries,
            })
        }
        _ => Err(errors),
    }
}

/// The fields a row of a CSV file may fill, by the batch import's own column names.
pub const CSV_FIELDS: [&str; 10] = [
    "amount",
    "method",
    "received_on",
    "donor_name",
    "donor_email",
    "reference",
    "branch",
    "anonymous",
    "message",
    "ref",
];

/// Reads a batch's entries from CSV with a header row naming the columns: amount, method,
/// received_on, donor_name, donor_email, reference, branch, anonymous, message, ref (any order;
/// only amount and method are required). Errors name the line.
pub fn entries_from_csv(text: &str) -> Result<Vec<OfflineDonationInput>, FieldErrors> {
    let (entries, errors) = entries_from_table(text, &ColumnMap::own())?;
    errors.into_result(|| entries)
}

/// Which column of a file holds each field, and how its dates are written: the batch
/// import's own names (every column must be one of them), or a spreadsheet's, mapped
/// (its other columns are left alone).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnMap {
    /// Field → the file's column header.
    columns: Vec<(&'static str, String)>,
    /// Whether columns the map does not name are refused (the batch format) or skipped.
    strict: bool,
    /// How dates are written in the file (chrono's format, `%d/%m/%Y`); ISO when unset.
    pub date_format: Option<String>,
    /// The method of every row when no column gives one (`cheque`).
    pub method: Option<String>,
    /// Every row must give its date (history has no deposit date to fall back on).
    pub dates_required: bool,
}

impl ColumnMap {
    fn own() -> Self {
        ColumnMap {
            columns: CSV_FIELDS.iter().map(|field| (*field, (*field).to_owned())).collect(),
            strict: true,
            ..ColumnMap::default()
        }
    }

    /// Reads `amount=Amount,received_on=Date,...` (`date`, `name`, `email` and `note` may
    /// stand for `received_on`, `donor_name`, `donor_email` and `message`). Errors name `map`.
    pub fn parse(text: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut columns: Vec<(&'static str, String)> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let Some((field, column)) = pair.split_once('=') else {
                errors.add("map", format!("\"{pair}\" must be written field=Column"));
                continue;
            };
            let field = match field.trim() {
                "date" => "received_on",
                "name" => "donor_name",
                "email" => "donor_email",
                "note" => "message",
                other => match CSV_FIELDS.iter().find(|known| **known == other) {
                    Some(known) => known,
                    None => {
                        errors
                            .add("map", format!("\"{other}\" is not a field; use {}", CSV_FIELDS.join(", ")));
                        continue;
                    }
                },
            };
            if columns.iter().any(|(taken, _)| *taken == field) {
                errors.add("map", format!("names {field} twice"));
                continue;
            }
            columns.push((field, column.trim().to_owned()));
        }
        for required in ["amount", "received_on"] {
            if !columns.iter().any(|(field, _)| *field == required) {
                errors.add("map", format!("must name the column of {required}"));
            }
        }
        errors.into_result(|| ColumnMap { columns, dates_required: true, ..ColumnMap::default() })
    }
}

/// Reads entries from CSV through a column map: refused whole when the file or its columns
/// are wrong; else every row, with what is wrong in rows as they are read (the line,
/// `rows[N]` with the header as line 1, and the field), so that the checks that follow can
/// add theirs and a person sees every wrong row at once.
pub fn entries_from_table(
    text: &str,
    map: &ColumnMap,
) -> Result<(Vec<OfflineDonationInput>, FieldErrors), FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => return Err(FieldErrors::single("file", format!("cannot be read as CSV: {error}"))),
    };
    if map.strict {
        for (index, header) in headers.iter().enumerate() {
            if !map.columns.iter().any(|(_, column)| column == header) {
                errors.add(
                    format!("columns[{index}]"),
                    format!("\"{header}\" is not a known column; use {}", CSV_FIELDS.join(", ")),
                );
            }
        }
        for required in ["amount", "method"] {
            if !headers.iter().any(|header| header == required) {
                errors.add("file", format!("needs a \"{required}\" column"));
            }
        }
    } else {
        for (field, column) in &map.columns {
            if !headers.iter().any(|header| header == column) {
                errors.add(
                    "map",
                    format!("names the column \"{column}\" for {field}, which the file does not have"),
                );
            }
        }
        if map.method.is_none() && !map.columns.iter().any(|(field, _)| *field == "method") {
            errors.add("method", "is required: map a column to it, or give one method for every row");
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let position = |field: &str| {
        let (_, column) = map.columns.iter().find(|(known, _)| *known == field)?;
        headers.iter().position(|header| header == column)
    };
    let positions: Vec<(&str, Option<usize>)> =
        CSV_FIELDS.iter().map(|field| (*field, position(field))).collect();
    let mut entries = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                errors.add(format!("rows[{line}]"), format!("cannot be read: {error}"));
                continue;
            }
        };
        let get = |name: &str| {
            positions
                .iter()
                .find(|(field, _)| *field == name)
                .and_then(|(_, at)| *at)
                .and_then(|at| record.get(at))
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        // Anonymous on the public wall unless the row says otherwise.
        let anonymous = match get("anonymous").as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("no" | "false" | "0" | "non") => false,
            None | Some("yes" | "true" | "1" | "oui") => true,
            Some(_) => {
                errors.add(format!("rows[{line}].anonymous"), "must be yes or no");
                true
            }
        };
        let received_on = match (get("received_on"), &map.date_format) {
            (None, _) if map.dates_required => {
                errors.add(format!("rows[{line}].received_on"), "is required");
                None
            }
            (Some(text), Some(format)) => match NaiveDate::parse_from_str(&text, format) {
                Ok(date) => Some(date.format("%Y-%m-%d").to_string()),
                Err(_) => {
                    errors.add(
                        format!("rows[{line}].received_on"),
                        format!("\"{text}\" is not a date written {format}"),
                    );
                    None
                }
            },
            (date, _) => date,
        };
        entries.push(OfflineDonationInput {
            amount: get("amount").map(AmountText),
            method: get("method").or_else(|| map.method.clone()),
            received_on,
            donor_name: get("donor_name"),
            donor_email: get("donor_email"),
            reference: get("reference"),
            branch: get("branch"),
            anonymous: Some(anonymous),
            message: get("message"),
            allow_duplicate: false,
            source_ref: get("ref"),
            match_offer: None,
            currency: None,
            rate: None,
        });
    }
    Ok((entries, errors))
}
