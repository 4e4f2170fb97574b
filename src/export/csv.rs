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
];

pub fn header() -> String {
    let mut line = COLUMNS.join(",");
    line.push_str("\r\n");
    line
}

pub fn row(entry: &Entry, date: NaiveDate, include_donors: bool) -> String {
    let currency = entry.currency;
    let optional = |value: &Option<String>| value.clone().unwrap_or_default();
    let donor = |value: &Option<String>| if include_donors { optional(value) } else { String::new() };
    let fields: Vec<String> = vec![
        entry.id.to_string(),
        date.format("%Y-%m-%d").to_string(),
        entry.kind.as_str().to_owned(),
        entry.source.as_str().to_owned(),
        entry.method.clone(),
        entry.campaign_slug.to_string(),
        entry.branch_slug.as_ref().map(ToString::to_string).unwrap_or_default(),
        donor(&entry.donor.name),
        donor(&entry.donor.email),
        entry.donor.anonymous.to_string(),
        currency.format_minor(entry.amount_minor),
        currency.format_minor(entry.fee_minor),
        currency.format_minor(entry.net_minor),
        currency.code().to_owned(),
        entry.presented.map(|(amount, presented)| presented.format_minor(amount)).unwrap_or_default(),
        entry.presented.map(|(_, presented)| presented.code().to_owned()).unwrap_or_default(),
        entry.recurring.to_string(),
        entry.reverses_entry_id.map(|id| id.to_string()).unwrap_or_default(),
        optional(&entry.stripe.payment_intent),
        optional(&entry.stripe.charge),
        optional(&entry.stripe.invoice),
        optional(&entry.stripe.subscription),
        optional(&entry.stripe.balance_transaction),
        optional(&entry.stripe.refund),
        optional(&entry.stripe.dispute),
        optional(&entry.stripe.payout),
        optional(&entry.reference),
        entry.batch_id.map(|id| id.to_string()).unwrap_or_default(),
        timestamp(entry.recorded_at),
        entry.recorded_by.clone(),
    ];
    let mut line = fields.iter().map(|field| escape(field)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// RFC 4180 quoting; a leading =, +, - or @ in text is prefixed with ' so that a spreadsheet
/// does not run it as a formula.
fn escape(field: &str) -> String {
    let is_number = field.parse::<f64>().is_ok();
    let field = if !is_number && field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a, b"), "\"a, b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(escape("-25.00"), "-25.00");
    }
}
