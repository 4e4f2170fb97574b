//! The monthly ask on the thanks page: after a one-off gift, an offer to give monthly at the
//! amount the campaign's setting makes of it, one click away (a subscription checkout
//! carrying `ref=upsell`, so that the sources report shows how often it is taken up). The
//! page says nothing of the donor: only the amount and the branch of the gift.

use serde_json::{Value, json};

use super::AppState;
use crate::ledger::Campaign;
use crate::ledger::checkout::Interval;
use crate::ledger::progress::BranchTotals;
use crate::web::i18n::Language;

/// The `ref` a gift made from the monthly ask carries.
pub const UPSELL_REF: &str = "upsell";

/// What the thanks page of Checkout Session `session_id` offers, if anything: the campaign
/// asks, the gift was one-off, and it was this campaign's.
pub(super) async fn monthly_ask(
    state: &AppState,
    campaign: &Campaign,
    branches: &[BranchTotals],
    session_id: Option<&str>,
    language: &Language,
) -> Option<Value> {
    let ask = campaign.checkout.monthly_ask?;
    let intent = state.store.intent_of_session(session_id?).await.ok()??;
    if intent.campaign_id != campaign.id || intent.interval != Interval::Once || intent.status == "failed" {
        return None;
    }
    // A gift in another currency: a monthly gift is in the campaign's, and a share of this one
    // would be a share of another currency's figure.
    if intent.currency != intent.ledger_currency {
        return None;
    }
    let currency = campaign.currency;
    let settings = &campaign.checkout;
    let amount_minor = ask.amount_minor(intent.amount_minor, currency, settings.min_minor);
    if settings.max_minor.is_some_and(|max| amount_minor > max) {
        return None;
    }
    let amount = currency.format_minor(amount_minor);
    let branch = intent
        .branch_id
        .and_then(|id| branches.iter().find(|row| row.branch.id == id))
        .map(|row| row.branch.slug.to_string());
    let money = language.money(amount_minor, currency);
    // With a captcha, the form must be filled in on the campaign's page; else one click.
    let link = super::links::ReadyLink {
        amount_minor: Some(amount_minor),
        interval: Some("month"),
        branch: branch.clone(),
        source_ref: Some(UPSELL_REF.to_owned()),
    }
    .url("", campaign, &language.code);
    Some(json!({
        "title": language.t("thanks.ask_title"),
        "body": language.fill("thanks.ask_body", &[("amount", &money)]),
        "button": language.fill("thanks.ask_button", &[("amount", &money)]),
        "one_click": state.defence.captcha().is_none(),
        "link": format!("{link}#give"),
        "amount": amount,
        "branch": branch,
        // Not the donor's e-mail or name: whoever holds the session id would read them in the
        // page; Stripe's checkout asks for the e-mail again.
        "source_ref": UPSELL_REF,
    }))
}
