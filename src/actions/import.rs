//! Moving in: history from a spreadsheet, booked as one deposit (all of it or nothing).

use chrono::Utc;
use rust_decimal::Decimal;

use super::{ActionError, BatchOutcome, record_batch};
use crate::access::Actor;
use crate::ledger::batch::{BatchInput, ColumnMap, RowNames, entries_from_table};
use crate::ledger::validation::AmountText;
use crate::store::Store;

/// How a spreadsheet is read and booked.
#[derive(Clone, Debug)]
pub struct CsvImport {
    /// Names the deposit the rows are booked in: running the same import again is refused
    /// as a look-alike of it, unless `allow_duplicate`.
    pub reference: String,
    pub map: ColumnMap,
    pub dry_run: bool,
    pub allow_duplicate: bool,
}

/// Books every row of `text` as an offline gift of the campaign, in one deposit dated
/// today that holds them all, or nothing when any row is wrong (each error names its line).
/// A dry run checks everything and books nothing. The deposit can be reversed whole.
pub async fn import_csv(
    store: &Store,
    slug: &str,
    text: &str,
    import: CsvImport,
    actor: &Actor,
) -> Result<BatchOutcome, ActionError> {
    let (entries, row_errors) = entries_from_table(text, &import.map)?;
    // The deposit declares what the file holds; a row whose amount cannot be read is named
    // by the checks that follow.
    let total: Decimal = entries
        .iter()
        .filter_map(|entry| entry.amount.as_ref().and_then(|AmountText(text)| text.parse::<Decimal>().ok()))
        .sum();
    let input = BatchInput {
        reference: Some(import.reference),
        deposited_on: Some(Utc::now().date_naive().format("%Y-%m-%d").to_string()),
        declared_count: Some(i64::try_from(entries.len()).unwrap_or(i64::MAX)),
        declared_total: Some(AmountText(total.to_string())),
        entries,
        allow_duplicate: import.allow_duplicate,
    };
    if row_errors.is_empty() {
        return record_batch(store, slug, input, actor, RowNames::CsvLines, import.dry_run, None).await;
    }
    // Rows that could not be read are refused with what the checks find wrong in the others.
    let mut errors = row_errors;
    if let Err(ActionError::Invalid(more)) =
        record_batch(store, slug, input, actor, RowNames::CsvLines, true, None).await
    {
        for (field, message) in more.iter() {
            // A row already named keeps the first thing found wrong with it.
            if !errors.iter().any(|(known, _)| known == field) && !field.starts_with("declared_") {
                errors.add(field, message);
            }
        }
    }
    Err(errors.into())
}
