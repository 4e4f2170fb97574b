//! The CSV export: one row per ledger entry, columns documented in the README and stable.

use chrono::NaiveDate;

use crate::ledger::Currency;
use crate::ledger::progress::timestamp;
use crate::store::{ExportRow, StoreError};

/// The columns, in order. Amounts are signed decimals in the campaign currency: refunds and
/// disputes are negative, so each money column sums to the campaign's figure.
pub const COLUMNS: &[&str] = &[
    "entry_id",
    "date",
    "kind",
    "source",
    "method",
    "campaign",
    "branch",
    "donor_name",
    "donor_email",
    "anonymous",
    "gross",
    "fee",
    "net",
    "currency",
    "presented_amount",
    "presented_currency",
    "recurring",
    "reverses",
    "stripe_payment_intent",
    "stripe_charge",
    "stripe_invoice",
    "stripe_subscription",
    "stripe_balance_transaction",
    "stripe_refund",
    "stripe_dispute",
    "stripe_payout",
    "reference",
    "batch",
    "recorded_at",
    "recorded_by",
    "reason",
    "batch_reference",
    "ref",
    "rate",
    "rate_date",
    "rate_source",
];

pub fn header() -> String {
    let mut line = COLUMNS.join(",");
    line.push_str("\r\n");
    line
}

/// Appends one entry's row to `out`, field by field, straight from the database's row and
/// with no text of its own to allocate: an export writes a million of these.
pub fn write_row(out: &mut String, row: &mut ExportRow<'_>, date: NaiveDate) -> Result<(), StoreError> {
    let currency = row.currency()?;
    let mut line = Line { out, first: true };
    line.value(row.id()?);
    // `NaiveDate` displays as `YYYY-MM-DD` without a format string to parse per row.
    line.value(date);
    line.value(row.kind()?);
    line.value(row.source()?);
    line.text(Some(row.method()?));
    line.text(Some(row.campaign_slug()?));
    line.text(row.branch_slug()?);
    line.text(row.donor_name()?);
    line.text(row.donor_email()?);
    line.value(row.anonymous()?);
    line.money(currency, row.amount_minor()?);
    line.money(currency, row.fee_minor()?);
    line.money(currency, row.net_minor()?);
    line.value(currency.code());
    match row.presented()? {
        Some((amount, presented)) => {
            line.money(presented, amount);
            line.value(presented.code());
        }
        None => {
            line.text(None);
            line.text(None);
        }
    }
    line.value(row.recurring()?);
    match row.reverses_entry_id()? {
        Some(id) => line.value(id),
        None => line.text(None),
    }
    for reference in row.stripe()? {
        line.text(reference);
    }
    line.text(row.reference()?);
    match row.batch_id()? {
        Some(id) => line.value(id),
        None => line.text(None),
    }
    line.separate();
    write_timestamp(line.out, row.recorded_at()?)?;
    line.text(Some(row.recorded_by()?));
    line.text(row.reason()?);
    line.text(row.batch_reference()?);
    line.text(row.source_ref()?);
    for part in row.rate()? {
        line.text(part);
    }
    line.out.push_str("\r\n");
    Ok(())
}

/// A stored instant ("2026-11-01T14:03:07.123456Z") as exports write instants, to the second
/// ("2026-11-01T14:03:07Z"): cut from the stored text when it has that shape, else parsed.
fn write_timestamp(out: &mut String, stored: &str) -> Result<(), StoreError> {
    let bytes = stored.as_bytes();
    let cut = bytes.len() >= 20
        && bytes.get(10) == Some(&b'T')
        && matches!(bytes.get(19), Some(b'.' | b'Z'))
        && stored.ends_with('Z');
    match stored.get(..19) {
        Some(seconds) if cut => {
            out.push_str(seconds);
            out.push('Z');
        }
        _ => out.push_str(&timestamp(crate::store::read_instant(stored)?)),
    }
    Ok(())
}

/// One row being written: commas between fields.
struct Line<'a> {
    out: &'a mut String,
    first: bool,
}

impl Line<'_> {
    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
    }

    /// An amount in minor units, as a decimal of the currency's digits.
    fn money(&mut self, currency: Currency, minor: i64) {
        self.separate();
        currency.write_minor(minor, self.out);
    }

    /// A number, date, flag or code: nothing in it needs quoting.
    fn value(&mut self, value: impl std::fmt::Display) {
        use std::fmt::Write as _;
        self.separate();
        let _ = write!(self.out, "{value}");
    }

    /// Text someone typed (or nothing): quoted and defused as it needs.
    fn text(&mut self, text: Option<&str>) {
        self.separate();
        if let Some(text) = text {
            escape_into(self.out, text);
        }
    }
}

/// RFC 4180 quoting; a leading =, +, - or @ in text is prefixed with ' so that a spreadsheet
/// does not run it as a formula.
fn escape_into(out: &mut String, field: &str) {
    let defuse = field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err();
    let quote = field.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if defuse {
        out.push('\'');
    }
    if quote {
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    fn escape(field: &str) -> String {
        let mut out = String::new();
        super::escape_into(&mut out, field);
        out
    }

    #[test]
    fn stored_instants_are_written_to_the_second() {
        let mut out = String::new();
        for stored in ["2026-11-01T14:03:07.123456Z", "2026-11-01T14:03:07Z", "2026-11-01T10:03:07.9-04:00"] {
            super::write_timestamp(&mut out, stored).expect("an instant");
            out.push(' ');
        }
        assert_eq!(out, "2026-11-01T14:03:07Z 2026-11-01T14:03:07Z 2026-11-01T14:03:07Z ");
    }

    #[test]
    fn dates_are_written_year_month_day() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 7).expect("date");
        assert_eq!(day.to_string(), day.format("%Y-%m-%d").to_string());
    }

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a, b"), "\"a, b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(escape("-25.00"), "-25.00");
    }
}
