//! Privacy: everything appeal holds about one person, written out (`appeal donor export`), and
//! forgetting them (`appeal donor forget`, the donor page's action for admins): their name,
//! email, address and messages erased everywhere they are kept, their amounts left in the
//! ledger under a donor key that names no one, audited.

use super::ActionError;
use crate::access::{Actor, Role};
use crate::ledger::FieldErrors;
use crate::ledger::donors::Merges;
use crate::store::{ForgetBy, Forgotten, Store};

/// Whom to forget: the person with an email, or the one a donor record (key) belongs to.
#[derive(Clone, Copy, Debug)]
pub enum PersonNamed<'a> {
    Email(&'a str),
    Record(&'a str),
}

/// Forgets the person `named` (their merged records included). Refused while a subscription
/// of theirs still runs: Stripe would bring their name back with its next payment.
pub async fn forget_donor(
    store: &Store,
    named: PersonNamed<'_>,
    actor: &Actor,
) -> Result<Forgotten, ActionError> {
    if !actor.role.allows(Role::Admin) || actor.branch.is_some() {
        return Err(ActionError::Forbidden(
            "forgetting a person is for an admin of the whole organization".to_owned(),
        ));
    }
    let merges = Merges::new(&store.donor_merges().await?);
    let (keys, mut emails, field) = match named {
        PersonNamed::Email(email) => {
            let email = crate::ledger::validation::parse_email(email)
                .map_err(|error| ActionError::Invalid(FieldErrors::single("email", error)))?;
            let keys = match store.donor_key_of_email(&email).await? {
                Some(key) => merges.members(&key),
                None => Vec::new(),
            };
            (keys, vec![email.to_lowercase()], "email")
        }
        PersonNamed::Record(key) => {
            let keys = merges.members(key);
            if store.donor_figures(&keys).await?.is_empty() {
                return Err(ActionError::NotFound("donor"));
            }
            (keys, Vec::new(), "donor")
        }
    };
    for email in store.emails_of_donors(&keys).await? {
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    let by = ForgetBy { actor: &actor.label, address: actor.address.as_deref() };
    let forgotten = match store.forget_person(&keys, &emails, by).await? {
        Ok(forgotten) => forgotten,
        Err(running) => {
            return Err(ActionError::Conflict {
                field: field.to_owned(),
                message: format!(
                    "has a subscription still running ({}): cancel it in Stripe first (or let the donor cancel it \
                     from their Billing Portal), so that no new payment brings their name back",
                    running.join(", ")
                ),
            });
        }
    };
    if forgotten.records.is_empty() && forgotten.erased() == 0 {
        return Err(ActionError::NotFound(
            "anything held about that email (forgotten already, or never given)",
        ));
    }
    Ok(forgotten)
}

/// Everything appeal holds about the person with `email` (their merged records included), as
/// JSON: their gifts and what reversed them, checkouts, subscriptions, the emails written to
/// them, their annual statements and the merges of their records.
pub async fn export_donor(store: &Store, email: &str) -> Result<serde_json::Value, ActionError> {
    let email = crate::ledger::validation::parse_email(email)
        .map_err(|error| ActionError::Invalid(FieldErrors::single("email", error)))?;
    let records = store.donor_merges().await?;
    let merges = Merges::new(&records);
    let keys = match store.donor_key_of_email(&email).await? {
        Some(key) => merges.members(&key),
        None => Vec::new(),
    };
    // What is kept by address: the one asked about (a checkout left unpaid has no record),
    // and those of their merged records.
    let mut emails = store.emails_of_donors(&keys).await?;
    if !emails.contains(&email.to_lowercase()) {
        emails.insert(0, email.to_lowercase());
    }
    let gifts: Vec<_> =
        store.entries_of_donors(&keys).await?.iter().map(crate::ledger::bodies::EntryBody::new).collect();
    let subscriptions: Vec<_> = store
        .subscriptions_of_emails(&emails)
        .await?
        .iter()
        .map(|(subscription, slug)| crate::ledger::bodies::SubscriptionBody::new(subscription, slug.as_str()))
        .collect();
    let mut checkouts = Vec::new();
    let mut messages = Vec::new();
    for address in &emails {
        checkouts.extend(store.checkouts_of(address).await?);
        messages.extend(store.emails_to(address).await?);
    }
    let statements: Vec<serde_json::Value> = store
        .statements_of(&keys)
        .await?
        .iter()
        .map(|statement| {
            serde_json::json!({
                "number": crate::ledger::statements::number_text(statement.year, statement.number),
                "year": statement.year,
                "issued_on": statement.issued_on.to_string(),
                "void": statement.replaced_by.is_some(),
                "language": statement.locale,
                "body": statement.body,
            })
        })
        .collect();
    let merged: Vec<serde_json::Value> = records
        .iter()
        .filter(|merge| keys.contains(&merge.from_key) || keys.contains(&merge.into_key))
        .map(|merge| {
            serde_json::json!({"id": merge.id, "from": merge.from_key, "into": merge.into_key, "undoes": merge.undoes,
                               "reason": merge.reason, "at": merge.at.to_rfc3339(), "by": merge.by})
        })
        .collect();
    Ok(serde_json::json!({
        "email": email,
        "records": keys,
        "exported_at": chrono::Utc::now().to_rfc3339(),
        "gifts": gifts,
        "checkouts": checkouts,
        "subscriptions": subscriptions,
        "emails": messages,
        "statements": statements,
        "merges": merged,
    }))
}
