//! Matching gifts on the dashboard (`/admin/c/{slug}/matches`): each offer with what it
//! matched and what the matcher paid, a form to record an offer, and one per offer to record
//! the matcher's payment (an offline donation naming the offer). Every change goes through
//! the same actions as the API and the CLI.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::fields::{Place, first, labelled, local_instant, posted as fields, words};
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{frame, minute, page};
use crate::access::Role;
use crate::actions::{self, ActionError};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::entry::OfflineDonationInput;
use crate::ledger::matching::MatchOfferInput;
use crate::ledger::validation::AmountText;
use crate::web::i18n::catalog;

const QUALIFIERS: [(&str, &str); 4] = [
    ("online", "One-off gifts made online"),
    ("offline", "Money raised internally"),
    ("first_installments", "The first payment of a new monthly or yearly gift"),
    ("new_donors", "Only from donors new to the campaign"),
];

/// A posted field, trimmed.
fn one(fields: &BTreeMap<String, Vec<String>>, name: &str) -> Option<String> {
    first(fields, name).map(|value| value.trim().to_owned())
}

fn place(field: &str) -> Place {
    match field {
        "matcher" => Place::at("Matcher", "match-matcher"),
        "ratio" => Place::at("Ratio", "match-ratio"),
        "cap" => Place::at("Cap", "match-cap"),
        "starts_at" => Place::at("From", "match-starts"),
        "ends_at" => Place::at("Until", "match-ends"),
        field if field.starts_with("qualifies") => Place::at("Qualifying gifts", "match-qualifies"),
        "amount" => Place::at("Amount paid", "payment-amount"),
        "received_on" => Place::at("Received on", "payment-received"),
        "method" => Place::at("Method", "payment-method"),
        "match" => Place::at("Match offer", "payment-match"),
        "form" => Place::form(),
        _ => Place { label: words(field), input: None },
    }
}

async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    typed: Value,
    status: StatusCode,
) -> Response {
    let (campaign, offers) = match actions::match_offers(&state.store, slug).await {
        Ok(found) => found,
        Err(error) => return Problem::from(error).into_response(),
    };
    let language = catalog().fallback();
    let money = |minor: i64| language.money(minor, campaign.currency);
    let now = Utc::now();
    let rows: Vec<Value> = offers
        .iter()
        .map(|offer| {
            json!({
                "id": offer.id,
                "matcher": offer.matcher,
                "ratio": offer.ratio.normalize().to_string(),
                "cap": money(offer.cap_minor),
                "matched": money(offer.matched_minor),
                "paid": money(offer.paid_minor),
                "pledged": money(offer.outstanding_minor()),
                "remaining": money(offer.remaining_minor(now)),
                "starts": minute(state, offer.starts_at),
                "ends": minute(state, offer.ends_at),
                "open": offer.starts_at <= now && now < offer.ends_at,
                "qualifies": offer.qualifies.words().join(", "),
            })
        })
        .collect();
    let ticked: Vec<String> = typed["qualifies"]
        .as_array()
        .map(|words| words.iter().filter_map(|word| word.as_str().map(str::to_owned)).collect())
        .unwrap_or_else(|| vec!["online".to_owned(), "offline".to_owned()]);
    let qualifiers: Vec<Value> = QUALIFIERS
        .iter()
        .map(|(name, label)| json!({"name": name, "label": label, "checked": ticked.iter().any(|word| word == name)}))
        .collect();
    let refusal = labelled(&errors, place);
    let context = json!({
        "frame": frame(state, signed_in, "Matching gifts"),
        "notice": notice,
        "campaign": {"slug": campaign.slug.as_str(), "title": campaign.title.get("en"), "currency": campaign.currency.code()},
        "offers": rows,
        "qualifiers": qualifiers,
        "counted_as_pledged": campaign.count_matches == crate::ledger::matching::MatchCounting::Pledged,
        "today": now.with_timezone(&state.timezone).date_naive().to_string(),
        "errors": refusal["summary"],
        "beside": refusal["beside"],
        "typed": typed,
    });
    page(status, "admin_matches.html", context)
}

pub(super) async fn matches(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response =
        render(&state, &signed_in, &slug, notice, BTreeMap::new(), json!({}), StatusCode::OK).await;
    spent(&state, shown, response)
}

/// Records an offer from the form; times are in the organization's zone.
pub(super) async fn add(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let fields = fields(&body);
    if let Some(refused) = signed_in.refuse_form(one(&fields, "csrf").as_deref(), Role::Treasurer) {
        return refused;
    }
    let zone = state.timezone;
    // A `datetime-local` value is a time in the organization's zone.
    let instant =
        |value: Option<String>| value.filter(|text| !text.is_empty()).map(|text| local_instant(text, zone));
    let qualifies = fields.get("qualifies").cloned().unwrap_or_default();
    let input = MatchOfferInput {
        matcher: one(&fields, "matcher"),
        ratio: one(&fields, "ratio").filter(|ratio| !ratio.is_empty()).map(AmountText),
        cap: Some(AmountText(one(&fields, "cap").unwrap_or_default())),
        starts_at: instant(one(&fields, "starts_at")),
        ends_at: Some(instant(one(&fields, "ends_at")).unwrap_or_default()),
        qualifies: Some(qualifies.clone()),
    };
    match actions::create_match_offer(&state.store, &slug, input, &signed_in.actor).await {
        Ok((_, offer)) => {
            let path = format!("/admin/c/{slug}/matches");
            let notice =
                format!("Match offer {} is recorded: gifts that qualify are matched from now on.", offer.id);
            redirect_with_notice(&state, &signed_in, &path, &notice)
        }
        Err(error) => {
            let typed = json!({
                "matcher": one(&fields, "matcher"), "ratio": one(&fields, "ratio"), "cap": one(&fields, "cap"),
                "starts_at": one(&fields, "starts_at"), "ends_at": one(&fields, "ends_at"), "qualifies": qualifies,
            });
            refused(&state, &signed_in, &slug, error, typed).await
        }
    }
}

/// Records a matcher's payment: an offline donation naming the offer it settles.
pub(super) async fn payment(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let fields = fields(&body);
    if let Some(refused) = signed_in.refuse_form(one(&fields, "csrf").as_deref(), Role::Treasurer) {
        return refused;
    }
    // An id the form did not offer is refused by the store, naming `match`.
    let id = one(&fields, "match").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0);
    let matcher = match actions::match_offers(&state.store, &slug).await {
        Ok((_, offers)) => offers.into_iter().find(|offer| offer.id == id).and_then(|offer| offer.matcher),
        Err(error) => return Problem::from(error).into_response(),
    };
    let input = OfflineDonationInput {
        amount: one(&fields, "amount").map(AmountText),
        method: one(&fields, "method"),
        received_on: one(&fields, "received_on"),
        donor_name: matcher,
        reference: one(&fields, "reference").filter(|reference| !reference.is_empty()),
        // A matcher's name is theirs to show: named on the wall only if they asked.
        anonymous: Some(true),
        match_offer: Some(id),
        ..OfflineDonationInput::default()
    };
    match actions::record_offline_donation(&state.store, &slug, input, &signed_in.actor, None).await {
        Ok(_) => {
            let path = format!("/admin/c/{slug}/matches");
            redirect_with_notice(
                &state,
                &signed_in,
                &path,
                &format!("The payment of match offer {id} is recorded."),
            )
        }
        Err(error) => {
            let typed = json!({"payment": id, "amount": one(&fields, "amount"), "method": one(&fields, "method"),
                               "received_on": one(&fields, "received_on"), "reference": one(&fields, "reference")});
            refused(&state, &signed_in, &slug, error, typed).await
        }
    }
}

async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    error: ActionError,
    typed: Value,
) -> Response {
    match super::fields::refusal(error) {
        Ok((status, errors)) => render(state, signed_in, slug, None, errors, typed, status).await,
        Err(problem) => problem.into_response(),
    }
}
