//! The link builder (`/admin/c/{slug}/links`): a ready-made link to the campaign's form for a
//! branch, an amount, an interval and a language, with its QR code to print or download.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{frame, page};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::http::links::{LinkQuery, ReadyLink};
use crate::web::i18n::catalog;

pub(super) async fn links(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let (campaign, branches) = match state.store.campaign_progress(&slug).await {
        Ok(Some((campaign, _, branches))) => (campaign, branches),
        Ok(None) => return Problem::not_found("campaign").into_response(),
        Err(error) => return Problem::from(error).into_response(),
    };
    // A branch treasurer's links are for their branch.
    let query = match &signed_in.actor.branch {
        Some(own) => LinkQuery { branch: Some(own.clone()), ..query },
        None => query,
    };
    let languages = catalog().languages();
    let lang = query
        .lang
        .as_deref()
        .and_then(|code| languages.iter().find(|language| language.code == code))
        .unwrap_or_else(|| catalog().fallback());
    let link = ReadyLink::read(&query, &campaign, &branches);
    let url = link.url(&state.public_url, &campaign, &lang.code);
    // The QR code's own address: the same parameters, on this server.
    let qr_query = url.split_once('?').map_or("", |(_, query)| query).to_owned();
    let branch_options: Vec<serde_json::Value> = branches
        .iter()
        .filter(|row| signed_in.actor.branch.as_deref().is_none_or(|own| own == row.branch.slug.as_str()))
        .map(|row| {
            let slug = row.branch.slug.to_string();
            json!({"slug": slug, "name": row.branch.name, "selected": link.branch.as_deref() == Some(slug.as_str())})
        })
        .collect();
    let intervals = [("once", "One time"), ("month", "Every month"), ("year", "Every year")].map(
        |(value, label)| json!({"value": value, "label": label, "selected": link.interval == Some(value)}),
    );
    let language_options: Vec<serde_json::Value> = languages
        .iter()
        .map(|language| json!({"code": language.code, "name": language.name, "selected": language.code == lang.code}))
        .collect();
    let context = json!({
        "frame": frame(&state, &signed_in, "Links and QR codes"),
        "campaign": {"slug": campaign.slug.as_str(), "title": campaign.title.get("en")},
        "branches": branch_options,
        "all_branches": signed_in.actor.branch.is_none(),
        "amount": link.amount_minor.map(|minor| campaign.currency.format_minor(minor)),
        "typed_amount": query.amount,
        "amount_left_out": query.amount.as_deref().is_some_and(|text| !text.trim().is_empty()) && link.amount_minor.is_none(),
        "intervals": intervals,
        "languages": language_options,
        "url": url,
        "qr_query": qr_query,
        "typed_ref": query.source_ref,
        "source_ref": link.source_ref,
        "ref_changed": query.source_ref.as_deref().map(str::trim).is_some_and(|typed| !typed.is_empty() && Some(typed) != link.source_ref.as_deref()),
    });
    page(StatusCode::OK, "admin_links.html", context)
}
