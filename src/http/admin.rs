//! Treasurer and admin endpoints: campaigns, offline money, reversals, the entry list.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiQuery};
use super::public::CampaignBody;
use crate::access::Role;
use crate::actions;
use crate::ledger::batch::{BatchInput, RowNames, entries_from_csv};
use crate::ledger::bodies::{EntryBody, SubscriptionBody};
use crate::ledger::campaign::CampaignInput;
use crate::ledger::entry::{OfflineDonationInput, ReversalInput};
use crate::ledger::progress::timestamp;
use crate::ledger::search::EntrySearchInput;
use crate::ledger::validation::AmountText;
use crate::ledger::{Campaign, FieldErrors};
use crate::store::{PayoutReport, RecordOutcome, StoredDispute, SubscriptionFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/campaigns", get(list_campaigns).post(create_campaign))
        .route("/api/v1/admin/campaigns/{slug}", patch(update_campaign))
        .route("/api/v1/admin/campaigns/{slug}/donations", post(record_offline_donation))
        .route("/api/v1/admin/campaigns/{slug}/batches", post(record_batch))
        .route(
            "/api/v1/admin/campaigns/{slug}/batches/import",
            post(import_batch).layer(axum::extract::DefaultBodyLimit::max(MAX_CSV_BYTES)),
        )
        .route("/api/v1/admin/donations", get(list_donations))
        .route("/api/v1/admin/donations/{id}/reversals", post(reverse_donation))
        .route("/api/v1/admin/donations/{id}/refund", post(refund_donation))
        .route("/api/v1/admin/batches/{id}/reversals", post(reverse_batch))
        .route("/api/v1/admin/donations/{id}/wall", post(decide_wall))
        .route("/api/v1/admin/subscriptions", get(list_subscriptions))
        .route("/api/v1/admin/payouts", get(list_payouts))
        .route("/api/v1/admin/payouts/{id}", get(payout_report))
        .route("/api/v1/admin/subscriptions/{id}/cancel", post(cancel_subscription))
}

/// The `campaign` filter of a list: a slug that must name a campaign.
async fn campaign_filter(state: &AppState, slug: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(slug) = slug else {
        return Ok(None);
    };
    match state.store.campaign_by_slug(slug).await? {
        Some(campaign) => Ok(Some(campaign.id)),
        None => Err(FieldErrors::single("campaign", "is not a known campaign").into()),
    }
}

async fn campaign_body(state: &AppState, campaign: &Campaign) -> ApiResult<CampaignBody> {
    let branches = state.store.branches(campaign.id).await?;
    Ok(CampaignBody::new(campaign, &branches))
}

async fn list_campaigns(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let campaigns = state.store.list_campaigns(true).await?;
    let mut bodies = Vec::with_capacity(campaigns.len());
    for campaign in &campaigns {
        bodies.push(campaign_body(&state, campaign).await?);
    }
    Ok(axum::Json(json!({ "campaigns": bodies })).into_response())
}

async fn create_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<CampaignInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let campaign = actions::create_campaign(&state.store, input, actor).await?;
    let location = format!("/api/v1/campaigns/{}", campaign.slug);
    let body = campaign_body(&state, &campaign).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(body)).into_response())
}

async fn update_campaign(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    ApiJson(input): ApiJson<CampaignInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Admin)?;
    let campaign = actions::update_campaign(&state.store, &slug, input, actor).await?;
    state.pages.clear();
    Ok(axum::Json(campaign_body(&state, &campaign).await?).into_response())
}

/// An `Idempotency-Key` header makes a retried POST return the first entry, not a second one.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str().map(str::trim) {
        Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_owned())),
        _ => Err(Problem::validation(&FieldErrors::single(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ))),
    }
}

async fn record_offline_donation(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<OfflineDonationInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let outcome = actions::record_offline_donation(&state.store, &slug, input, actor, key).await?;
    Ok(entry_response(&outcome))
}

async fn reverse_donation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ReversalInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let outcome = actions::reverse_entry(&state.store, id, input, actor, key).await?;
    Ok(entry_response(&outcome))
}

fn entry_response(outcome: &RecordOutcome) -> Response {
    let status = match outcome {
        RecordOutcome::Recorded(_) => StatusCode::CREATED,
        RecordOutcome::Replayed(_) => StatusCode::OK,
    };
    (status, axum::Json(EntryBody::new(outcome.entry()))).into_response()
}

/// Ledger entries, newest first, narrowed by a search (`q`, dates, method, branch, kind, deposit).
async fn list_donations(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EntrySearchInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let page = actions::find_entries(&state.store, actor, &query).await?;
    let disputes = state.store.disputes_of_donations(&page.entries).await?;
    let bodies: Vec<EntryBody> = page
        .entries
        .iter()
        .map(|entry| EntryBody {
            dispute: disputes.get(&entry.id).map(dispute_body),
            ..EntryBody::new(entry)
        })
        .collect();
    Ok(axum::Json(json!({ "entries": bodies, "next_before": page.next_before })).into_response())
}

/// A dispute or inquiry as Stripe last described it.
fn dispute_body(dispute: &StoredDispute) -> serde_json::Value {
    json!({
        "id": dispute.id,
        "status": dispute.status,
        "inquiry": dispute.is_inquiry(),
        "open": dispute.is_open(),
        "reason": dispute.reason,
        "evidence_due_by": dispute.evidence_due_by.map(timestamp),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundInput {
    #[serde(default)]
    amount: Option<AmountText>,
    #[serde(default)]
    reason: Option<String>,
}

/// Asks Stripe for a refund: 202, because the ledger moves when Stripe confirms it.
async fn refund_donation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RefundInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let requested = actions::refund_donation(
        &state.store,
        state.payments.as_ref(),
        id,
        actions::RefundInput { amount: input.amount, reason: input.reason },
        actor,
        key,
    )
    .await?;
    let currency = requested.entry.currency;
    let (charged_minor, charged_currency) = requested.charged;
    let body = json!({
        "refund": requested.refund_id,
        "status": requested.status,
        "amount": currency.format_minor(requested.amount_minor),
        "currency": currency.code(),
        "charged_amount": charged_currency.format_minor(charged_minor),
        "charged_currency": charged_currency.code(),
        "entry": requested.entry.id,
    });
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionsQuery {
    campaign: Option<String>,
    status: Option<String>,
}

async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SubscriptionsQuery>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let campaign_id = campaign_filter(&state, query.campaign.as_deref()).await?;
    let filter = SubscriptionFilter { campaign_id, status: query.status };
    let listed = state.store.list_subscriptions(&actor.scope(), &filter).await?;
    let ids: Vec<&str> = listed.iter().map(|(subscription, _)| subscription.id.as_str()).collect();
    let disputes = state.store.disputes_of_subscriptions(&ids).await?;
    let bodies: Vec<SubscriptionBody> = listed
        .iter()
        .map(|(subscription, slug)| {
            let mut body = SubscriptionBody::new(subscription, slug.as_str());
            body.disputes = disputes
                .get(&subscription.id)
                .map_or_else(Vec::new, |found| found.iter().map(dispute_body).collect());
            body
        })
        .collect();
    Ok(axum::Json(json!({ "subscriptions": bodies })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelInput {
    /// Stop at the end of the paid period (the default) or now. Nothing is refunded.
    #[serde(default)]
    at_period_end: Option<bool>,
}

async fn cancel_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CancelInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let at_period_end = input.at_period_end.unwrap_or(true);
    let subscription =
        actions::cancel_subscription(&state.store, state.payments.as_ref(), &id, at_period_end, actor, key)
            .await?;
    let slug = state
        .store
        .campaign_slug(subscription.campaign_id)
        .await?
        .ok_or_else(|| Problem::not_found("campaign"))?;
    Ok(axum::Json(SubscriptionBody::new(&subscription, slug.as_str())).into_response())
}

/// The largest CSV a batch import reads.
const MAX_CSV_BYTES: usize = 2 * 1024 * 1024;

async fn record_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<BatchInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let outcome =
        actions::record_batch(&state.store, &slug, input, actor, RowNames::Entries, false, key).await?;
    Ok(batch_response(&outcome))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    reference: Option<String>,
    deposited_on: Option<String>,
    declared_count: Option<i64>,
    declared_total: Option<String>,
    /// Check and show the rows without posting anything.
    #[serde(default)]
    preview: bool,
    /// Post it even though an earlier deposit looks the same.
    #[serde(default)]
    allow_duplicate: bool,
}

/// A batch from a CSV file (`text/csv`): every row is checked, errors name the line, and
/// nothing posts unless every row is good and the count and total match.
async fn import_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("text/csv") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the batch as CSV with Content-Type: text/csv.",
        )
        .naming("content-type", "must be text/csv"));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| Problem::from(FieldErrors::single("file", "must be UTF-8 text")))?;
    let entries = entries_from_csv(text)?;
    let input = BatchInput {
        reference: query.reference,
        deposited_on: query.deposited_on,
        declared_count: query.declared_count,
        declared_total: query.declared_total.map(AmountText),
        entries,
        allow_duplicate: query.allow_duplicate,
    };
    let outcome =
        actions::record_batch(&state.store, &slug, input, actor, RowNames::CsvLines, query.preview, key)
            .await?;
    Ok(batch_response(&outcome))
}

/// Hides a donor's name or message from the public wall, or shows a message held for approval.
async fn decide_wall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<actions::WallDecisionInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    actions::decide_wall(&state.store, id, input, actor).await?;
    state.pages.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reverses what is left of every entry of a deposit, with one reason, in one transaction.
async fn reverse_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<actions::BatchReversalInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let reversed = actions::reverse_batch(&state.store, id, input, actor, key).await?;
    let entries: Vec<EntryBody> = reversed.reversals.iter().map(EntryBody::new).collect();
    let total: i64 = reversed.reversals.iter().map(|entry| entry.amount_minor).sum();
    let body = json!({
        "batch": reversed.batch_id,
        "count": entries.len(),
        "total": reversed.currency.format_minor(total),
        "entries": entries,
    });
    let status = if reversed.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, axum::Json(body)).into_response())
}

fn batch_response(outcome: &actions::BatchOutcome) -> Response {
    let currency = outcome.currency;
    match outcome.batch_id {
        Some(batch) => {
            let entries: Vec<EntryBody> = outcome.recorded.iter().map(EntryBody::new).collect();
            let body = json!({
                "batch": batch,
                "count": entries.len(),
                "total": currency.format_minor(outcome.total_minor),
                "entries": entries,
            });
            // A deposit posted before under the same key: 200 with what it posted.
            let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
            (status, axum::Json(body)).into_response()
        }
        None => {
            let rows: Vec<serde_json::Value> = outcome
                .entries
                .iter()
                .map(|entry| {
                    json!({
                        "amount": currency.format_minor(entry.amount_minor),
                        "method": entry.method,
                        "received_on": entry.received_on.format("%Y-%m-%d").to_string(),
                        "donor_name": entry.donor.name,
                        "reference": entry.reference,
                    })
                })
                .collect();
            let body = json!({
                "preview": true,
                "count": rows.len(),
                "total": currency.format_minor(outcome.total_minor),
                "entries": rows,
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
    }
}

/// A payout's reconciliation as JSON.
pub fn payout_body(report: &PayoutReport) -> serde_json::Value {
    let currency = crate::ledger::Currency::from_code(&report.payout.currency).ok();
    let money =
        |minor: i64| currency.map_or_else(|| minor.to_string(), |currency| currency.format_minor(minor));
    let line = |line: &crate::store::PayoutLine| {
        json!({
            "balance_transaction": line.balance_transaction,
            "type": line.kind,
            "source": line.source,
            "stripe_net": money(line.stripe_net_minor),
            "entry": line.entry_id,
            "entry_net": line.entry_net_minor.map(money),
        })
    };
    json!({
        "id": report.payout.id,
        "status": report.payout.status,
        "arrival_date": report.payout.arrival_date,
        "currency": report.payout.currency,
        "amount": money(report.payout.amount_minor),
        "entries_total": money(report.entries_minor),
        "difference": money(report.difference_minor()),
        "reconciled": report.reconciled(),
        "missing_entries": report.missing().into_iter().map(line).collect::<Vec<_>>(),
        "different_amounts": report.different().into_iter().map(line).collect::<Vec<_>>(),
        "lines": report.lines.iter().map(line).collect::<Vec<_>>(),
        "flags": report.flags.iter().map(super::stripe_review::flag_body).collect::<Vec<_>>(),
    })
}

async fn list_payouts(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let scope = caller.require(Role::Viewer)?.scope();
    let mut bodies = Vec::new();
    for payout in state.store.payouts().await? {
        if let Some(report) = state.store.payout_report(&scope, &payout.id).await? {
            let mut body = payout_body(&report);
            if let Some(map) = body.as_object_mut() {
                map.remove("lines");
            }
            bodies.push(body);
        }
    }
    Ok(axum::Json(json!({ "payouts": bodies })).into_response())
}

async fn payout_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.require(Role::Viewer)?.scope();
    let report = state.store.payout_report(&scope, &id).await?.ok_or_else(|| Problem::not_found("payout"))?;
    Ok(axum::Json(payout_body(&report)).into_response())
}
