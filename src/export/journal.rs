//! Double-entry journals for plain-text accounting: beancount, and ledger/hledger.
//!
//! Each entry is one transaction: the money's gross to `Income:Donations:<Campaign>[:<Branch>]`
//! (negative, as income is), the fee to `Expenses:Fees:Stripe`, and the net to the asset it
//! landed in: `Assets:Stripe` for online money, `Assets:Cash` for cash, `Assets:Bank` else.
//! The income balance is minus the campaign's gross raised figure.

use chrono::NaiveDate;

use crate::ledger::entry::Entry;
use crate::ledger::{Branch, Campaign, Currency, Source};

const FEES: &str = "Expenses:Fees:Stripe";
const ASSETS: [&str; 3] = ["Assets:Stripe", "Assets:Bank", "Assets:Cash"];
/// Accounts are opened at this date, before any gift.
const OPEN_ON: &str = "2000-01-01";

/// An account name component from a slug: "spring-appeal" → "Spring-appeal".
fn component(slug: &str) -> String {
    let mut chars = slug.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => "Unnamed".to_owned(),
    }
}

fn income_account(campaign: &str, branch: Option<&str>) -> String {
    match branch {
        Some(branch) => format!("Income:Donations:{}:{}", component(campaign), component(branch)),
        None => format!("Income:Donations:{}", component(campaign)),
    }
}

fn asset_account(entry: &Entry) -> &'static str {
    match (entry.source, entry.method.as_str()) {
        (Source::Online, _) => ASSETS[0],
        (Source::Offline, "cash") => ASSETS[2],
        (Source::Offline, _) => ASSETS[1],
    }
}

/// Every account the export may use, for the declarations.
fn accounts(campaigns: &[(Campaign, Vec<Branch>)]) -> Vec<String> {
    let mut accounts: Vec<String> = ASSETS.iter().map(|account| (*account).to_owned()).collect();
    accounts.push(FEES.to_owned());
    for (campaign, branches) in campaigns {
        accounts.push(income_account(campaign.slug.as_str(), None));
        accounts.extend(
            branches.iter().map(|branch| income_account(campaign.slug.as_str(), Some(branch.slug.as_str()))),
        );
    }
    accounts
}

fn currencies(campaigns: &[(Campaign, Vec<Branch>)]) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> =
        campaigns.iter().map(|(campaign, _)| campaign.currency.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

pub fn beancount_header(campaigns: &[(Campaign, Vec<Branch>)]) -> String {
    let mut out = String::from(";; appeal ledger export (beancount)\n");
    for code in currencies(campaigns) {
        out.push_str(&format!("{OPEN_ON} commodity {code}\n"));
    }
    for account in accounts(campaigns) {
        out.push_str(&format!("{OPEN_ON} open {account}\n"));
    }
    out.push('\n');
    out
}

pub fn ledger_header(campaigns: &[(Campaign, Vec<Branch>)]) -> String {
    let mut out = String::from("; appeal ledger export (ledger, hledger)\n");
    for code in currencies(campaigns) {
        out.push_str(&format!("commodity {code}\n"));
    }
    for account in accounts(campaigns) {
        out.push_str(&format!("account {account}\n"));
    }
    out.push('\n');
    out
}

/// The postings of an entry: (account, amount in minor units), summing to zero.
fn postings(entry: &Entry) -> Vec<(String, i64)> {
    let mut postings = vec![(asset_account(entry).to_owned(), entry.net_minor)];
    if entry.fee_minor != 0 {
        postings.push((FEES.to_owned(), entry.fee_minor));
    }
    let branch = entry.branch_slug.as_ref().map(|slug| slug.as_str());
    postings.push((income_account(entry.campaign_slug.as_str(), branch), -entry.amount_minor));
    postings
}

fn who(entry: &Entry, include_donors: bool) -> String {
    match (&entry.donor.name, include_donors) {
        (Some(name), true) => name.clone(),
        _ if entry.source == Source::Online => "Stripe".to_owned(),
        _ => "Offline".to_owned(),
    }
}

fn what(entry: &Entry) -> String {
    let mut text = format!("{} {} #{}", entry.kind.as_str(), entry.campaign_slug, entry.id);
    if let Some(reference) = &entry.reference {
        text.push_str(&format!(" ({reference})"));
    }
    text
}

fn amount(minor: i64, currency: Currency) -> String {
    format!("{} {}", currency.format_minor(minor), currency.code())
}

fn beancount_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace(['\n', '\r'], " ")
}

/// What an accountant needs to follow money back: the entry a reversal takes from, why,
/// the deposit slip an entry came in with, the push (`ref`) it came from, and for money in
/// another currency what was given and the rate, its day and source.
fn audit_trail(entry: &Entry) -> Vec<(&'static str, String)> {
    let mut trail = Vec::new();
    if let Some(reversed) = entry.reverses_entry_id {
        trail.push(("reverses", reversed.to_string()));
    }
    if let Some(reason) = &entry.reason {
        trail.push(("reason", reason.clone()));
    }
    if let Some(reference) = &entry.batch_reference {
        trail.push(("deposit", reference.clone()));
    }
    if let Some(source_ref) = &entry.source_ref {
        trail.push(("ref", source_ref.clone()));
    }
    // Money that came in another currency: what was given, and the rate it counted at.
    if let Some((minor, currency)) = entry.presented {
        trail.push(("given", format!("{} {}", currency.format_minor(minor), currency.code())));
    }
    if let Some(rate) = &entry.rate {
        trail.push(("rate", rate.rate.normalize().to_string()));
        trail.push(("rate-date", rate.on.to_string()));
        trail.push(("rate-source", rate.source.clone()));
    }
    trail
}

pub fn beancount_entry(entry: &Entry, date: NaiveDate, include_donors: bool) -> String {
    let mut out = format!(
        "{} * \"{}\" \"{}\"\n  entry: \"{}\"\n",
        date.format("%Y-%m-%d"),
        beancount_string(&who(entry, include_donors)),
        beancount_string(&what(entry)),
        entry.id
    );
    if let Some(charge) = &entry.stripe.charge {
        out.push_str(&format!("  stripe-charge: \"{}\"\n", beancount_string(charge)));
    }
    for (key, value) in audit_trail(entry) {
        out.push_str(&format!("  {key}: \"{}\"\n", beancount_string(&value)));
    }
    for (account, minor) in postings(entry) {
        out.push_str(&format!("  {account:<48} {}\n", amount(minor, entry.currency)));
    }
    out.push('\n');
    out
}

/// ledger and hledger end a description at a `;` (a comment): keep it out.
fn ledger_text(text: &str) -> String {
    text.replace([';', '\n', '\r'], " ")
}

pub fn ledger_entry(entry: &Entry, date: NaiveDate, include_donors: bool) -> String {
    let mut out = format!(
        "{} * {} | {}\n    ; entry: {}\n",
        date.format("%Y-%m-%d"),
        ledger_text(&who(entry, include_donors)),
        ledger_text(&what(entry)),
        entry.id
    );
    for (key, value) in audit_trail(entry) {
        out.push_str(&format!("    ; {key}: {}\n", ledger_text(&value)));
    }
    for (account, minor) in postings(entry) {
        // Two spaces at least between account and amount, as both tools require.
        out.push_str(&format!("    {account:<48}  {}\n", amount(minor, entry.currency)));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_valid_components() {
        assert_eq!(income_account("spring-appeal", None), "Income:Donations:Spring-appeal");
        assert_eq!(income_account("office", Some("montreal")), "Income:Donations:Office:Montreal");
        assert_eq!(income_account("2026-fund", None), "Income:Donations:2026-fund");
    }
}
