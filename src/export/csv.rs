//! The CSV export: one row per ledger entry, columns documented in the README and stable.

use chrono::NaiveDate;

use crate::ledger::entry::Entry;
use crate::ledger::progress::timestamp;

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
];

pub fn header() -> String {
    let mut line = COLUMNS.join(",");
    line.push_str("\r\n");
    line
}

/// Appends one entry's row to `out`, field by field, with no text of its own to allocate:
/// an export writes a million of these.
pub fn write_row(out: &mut String, entry: &Entry, date: NaiveDate, include_donors: bool) {
    let currency = entry.currency;
    fn donor(value: &Option<String>, include: bool) -> Option<&str> {
        value.as_deref().filter(|_| include)
    }
    let mut line = Line { out, first: true };
    line.value(entry.id);
    // `NaiveDate` displays as `YYYY-MM-DD` without a format string to parse per row.
    line.value(date);
    line.value(entry.kind.as_str());
    line.value(entry.source.as_str());
    line.text(Some(&entry.method));
    line.text(Some(entry.campaign_slug.as_str()));
    line.text(entry.branch_slug.as_ref().map(|slug| slug.as_str()));
    line.text(donor(&entry.donor.name, include_donors));
    line.text(donor(&entry.donor.email, include_donors));
    line.value(entry.donor.anonymous);
    line.value(currency.decimal(entry.amount_minor));
    line.value(currency.decimal(entry.fee_minor));
    line.value(currency.decimal(entry.net_minor));
    line.value(currency.code());
    match entry.presented {
        Some((amount, presented)) => {
            line.value(presented.decimal(amount));
            line.value(presented.code());
        }
        None => {
            line.text(None);
            line.text(None);
        }
    }
    line.value(entry.recurring);
    match entry.reverses_entry_id {
        Some(id) => line.value(id),
        None => line.text(None),
    }
    let stripe = &entry.stripe;
    for reference in [
        &stripe.payment_intent,
        &stripe.charge,
        &stripe.invoice,
        &stripe.subscription,
        &stripe.balance_transaction,
        &stripe.refund,
        &stripe.dispute,
        &stripe.payout,
        &entry.reference,
    ] {
        line.text(reference.as_deref());
    }
    match entry.batch_id {
        Some(id) => line.value(id),
        None => line.text(None),
    }
    line.value(timestamp(entry.recorded_at));
    line.text(Some(&entry.recorded_by));
    line.text(entry.reason.as_deref());
    line.text(entry.batch_reference.as_deref());
    line.out.push_str("\r\n");
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
