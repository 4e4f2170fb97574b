//! Treasurer and admin endpoints: campaigns, offline money, reversals, the entry list.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::{CampaignSlug, Id, StripeId};
use super::public::{CampaignBody, CampaignList};
use super::stripe_review::FlagBody;
use crate::access::Role;
use crate::actions;
use crate::ledger::batch::{BatchInput, RowNames, entries_from_csv};
use crate::ledger::bodies::{EntryBody, SubscriptionBody};
use crate::ledger::campaign::CampaignInput;
use crate::ledger::entry::{OfflineDonationInput, ReversalInput};
use crate::ledger::search::EntrySearchInput;
use crate::ledger::validation::AmountText;
use crate::ledger::{Campaign, FieldErrors};
use crate::store::{PayoutReport, RecordOutcome, StoredDispute, SubscriptionFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(update_campaign))
        .routes(routes!(record_offline_donation))
        .routes(routes!(record_batch))
        .routes(routes!(import_batch).layer(axum::extract::DefaultBodyLimit::max(MAX_CSV_BYTES)))
        .routes(routes!(list_donations))
        .routes(routes!(reverse_donation))
        .routes(routes!(refund_donation))
        .routes(routes!(reverse_batch))
        .routes(routes!(decide_wall))
        .routes(routes!(list_subscriptions))
        .routes(routes!(list_payouts))
        .routes(routes!(payout_report))
        .routes(routes!(cancel_subscription))
}

/// The `Idempotency-Key` header of a write that records money.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
struct Idempotent {
    /// Any 1 to 255 visible ASCII characters: a retry with the same key and body answers 200
    /// with what the first request recorded, instead of recording it again.
    #[allow(dead_code)]
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
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

/// Every campaign, drafts and archived ones included.
#[utoipa::path(get, path = "/api/v1/admin/campaigns", operation_id = "list_all_campaigns", tag = "campaign admin",
    responses((status = 200, description = "Every campaign", body = CampaignList)))]
async fn list_campaigns(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let campaigns = state.store.list_campaigns(true).await?;
    let mut bodies = Vec::with_capacity(campaigns.len());
    for campaign in &campaigns {
        bodies.push(campaign_body(&state, campaign).await?);
    }
    Ok(axum::Json(CampaignList { campaigns: bodies }).into_response())
}

/// Creates a campaign: `slug`, `currency`, `goal` and `title` are required.
#[utoipa::path(post, path = "/api/v1/admin/campaigns", tag = "campaign admin", request_body = CampaignInput,
    responses((status = 201, description = "Created", body = CampaignBody,
        headers(("Location" = String, description = "The campaign's public address in the API")))))]
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

/// Changes a campaign: fields left out stay as they are, `null` clears an optional one.
#[utoipa::path(patch, path = "/api/v1/admin/campaigns/{slug}", tag = "campaign admin", params(CampaignSlug),
    request_body = CampaignInput, responses((status = 200, description = "Changed", body = CampaignBody)))]
async fn update_campaign(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
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

/// Records money raised offline (cash, cheque, e-transfer...) in the ledger.
#[utoipa::path(post, path = "/api/v1/admin/campaigns/{slug}/donations", tag = "ledger",
    params(CampaignSlug, Idempotent), request_body = OfflineDonationInput,
    responses((status = 201, description = "Recorded", body = EntryBody),
              (status = 200, description = "Recorded before under this Idempotency-Key", body = EntryBody)))]
async fn record_offline_donation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<OfflineDonationInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let outcome = actions::record_offline_donation(&state.store, &slug, input, actor, key).await?;
    Ok(entry_response(&outcome))
}

/// Reverses offline money, wholly or in part: a bounced cheque, cash handed back, an error.
#[utoipa::path(post, path = "/api/v1/admin/donations/{id}/reversals", tag = "ledger",
    params(Id, Idempotent), request_body = ReversalInput,
    responses((status = 201, description = "The reversing entry", body = EntryBody),
              (status = 200, description = "Recorded before under this Idempotency-Key", body = EntryBody)))]
async fn reverse_donation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
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

/// A page of ledger entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct EntryPage {
    entries: Vec<EntryBody>,
    /// The `before` of the next page, when there is one.
    next_before: Option<i64>,
}

/// Ledger entries, newest first, narrowed by a search (`q`, dates, method, branch, kind, deposit).
#[utoipa::path(get, path = "/api/v1/admin/donations", tag = "ledger", params(EntrySearchInput),
    responses((status = 200, description = "A page of entries", body = EntryPage)))]
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
            dispute: disputes.get(&entry.id).map(StoredDispute::body),
            ..EntryBody::new(entry)
        })
        .collect();
    Ok(axum::Json(EntryPage { entries: bodies, next_before: page.next_before }).into_response())
}

/// A refund asked of Stripe; all that is left of the gift unless `amount` says less.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"amount": "10.00", "reason": "given twice by mistake"})))]
struct RefundInput {
    #[serde(default)]
    amount: Option<AmountText>,
    #[serde(default)]
    reason: Option<String>,
}

/// A refund Stripe was asked for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RefundRequestedBody {
    /// Stripe's refund (`re_…`).
    refund: String,
    status: Option<String>,
    /// In the gift's (the campaign's) currency.
    amount: String,
    currency: &'static str,
    /// What Stripe gives back, in the charge's own currency.
    charged_amount: String,
    charged_currency: &'static str,
    /// The refunded gift's entry.
    entry: i64,
}

/// Asks Stripe for a refund: 202, because the ledger moves when Stripe confirms it.
#[utoipa::path(post, path = "/api/v1/admin/donations/{id}/refund", tag = "ledger",
    params(Id, Idempotent), request_body = RefundInput,
    responses((status = 202, description = "Asked of Stripe; the ledger records it when Stripe confirms", body = RefundRequestedBody),
        (status = 502, description = "Stripe refused or could not be reached", body = Problem, content_type = "application/problem+json")))]
async fn refund_donation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
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
    let body = RefundRequestedBody {
        refund: requested.refund_id,
        status: requested.status,
        amount: currency.format_minor(requested.amount_minor),
        currency: currency.code(),
        charged_amount: charged_currency.format_minor(charged_minor),
        charged_currency: charged_currency.code(),
        entry: requested.entry.id,
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SubscriptionsQuery {
    /// A campaign's slug.
    campaign: Option<String>,
    /// Stripe's status (`active`, `past_due`, `canceled`...).
    status: Option<String>,
}

/// Subscriptions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SubscriptionList {
    subscriptions: Vec<SubscriptionBody>,
}

/// Recurring gifts, newest first, with their disputes.
#[utoipa::path(get, path = "/api/v1/admin/subscriptions", tag = "stripe review", params(SubscriptionsQuery),
    responses((status = 200, description = "The subscriptions", body = SubscriptionList)))]
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
                .map_or_else(Vec::new, |found| found.iter().map(StoredDispute::body).collect());
            body
        })
        .collect();
    Ok(axum::Json(SubscriptionList { subscriptions: bodies }).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelInput {
    /// Stop at the end of the paid period (the default) or now. Nothing is refunded.
    #[serde(default)]
    at_period_end: Option<bool>,
}

/// Stops a recurring gift in Stripe.
#[utoipa::path(post, path = "/api/v1/admin/subscriptions/{id}/cancel", tag = "stripe review",
    params(StripeId, Idempotent), request_body = CancelInput,
    responses((status = 200, description = "The subscription as Stripe now has it", body = SubscriptionBody),
        (status = 502, description = "Stripe refused or could not be reached", body = Problem, content_type = "application/problem+json")))]
async fn cancel_subscription(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
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

/// A deposit posted (or replayed): its entries, count and total.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchBody {
    /// The deposit's number.
    batch: i64,
    count: usize,
    total: String,
    entries: Vec<EntryBody>,
}

/// A deposit checked, not posted (`preview=true`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchPreview {
    preview: bool,
    count: usize,
    total: String,
    entries: Vec<PreviewRow>,
}

/// A row of a previewed deposit.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewRow {
    amount: String,
    method: String,
    received_on: String,
    donor_name: Option<String>,
    reference: Option<String>,
}

/// A deposit posted, or only checked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BatchAnswer {
    Posted(BatchBody),
    Preview(BatchPreview),
}

/// Posts a deposit: its entries post together only when their count and total match the slip.
#[utoipa::path(post, path = "/api/v1/admin/campaigns/{slug}/batches", tag = "ledger",
    params(CampaignSlug, Idempotent), request_body = BatchInput,
    responses((status = 201, description = "Posted", body = BatchBody),
              (status = 200, description = "Posted before under this Idempotency-Key", body = BatchBody)))]
async fn record_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<BatchInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let outcome =
        actions::record_batch(&state.store, &slug, input, actor, RowNames::Entries, false, key).await?;
    Ok(batch_response(&outcome))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// The deposit slip's reference.
    reference: Option<String>,
    /// The day of the deposit (YYYY-MM-DD).
    deposited_on: Option<String>,
    /// How many gifts the slip lists.
    declared_count: Option<i64>,
    /// The slip's total, as a decimal string.
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
#[utoipa::path(post, path = "/api/v1/admin/campaigns/{slug}/batches/import", tag = "ledger",
    params(CampaignSlug, ImportQuery, Idempotent),
    request_body(content = String, content_type = "text/csv",
        description = "A header line naming the columns (amount, method, received_on, donor_name, donor_email, reference, branch, anonymous, message), then one gift a line"),
    responses((status = 201, description = "Posted", body = BatchBody),
              (status = 200, description = "Checked and shown (`preview`), or posted before under this Idempotency-Key", body = BatchAnswer)))]
async fn import_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(slug): ApiPath<String>,
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
#[utoipa::path(post, path = "/api/v1/admin/donations/{id}/wall", tag = "ledger", params(Id),
    request_body = actions::WallDecisionInput, responses((status = 204, description = "Decided")))]
async fn decide_wall(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<actions::WallDecisionInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    actions::decide_wall(&state.store, id, input, actor).await?;
    state.pages.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reverses what is left of every entry of a deposit, with one reason, in one transaction.
#[utoipa::path(post, path = "/api/v1/admin/batches/{id}/reversals", tag = "ledger", params(Id, Idempotent),
    request_body = actions::BatchReversalInput,
    responses((status = 201, description = "The reversing entries", body = BatchBody),
              (status = 200, description = "Reversed before under this Idempotency-Key", body = BatchBody)))]
async fn reverse_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<actions::BatchReversalInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Treasurer)?;
    let key = idempotency_key(&headers)?;
    let reversed = actions::reverse_batch(&state.store, id, input, actor, key).await?;
    let entries: Vec<EntryBody> = reversed.reversals.iter().map(EntryBody::new).collect();
    let total: i64 = reversed.reversals.iter().map(|entry| entry.amount_minor).sum();
    let body = BatchBody {
        batch: reversed.batch_id,
        count: entries.len(),
        total: reversed.currency.format_minor(total),
        entries,
    };
    let status = if reversed.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, axum::Json(body)).into_response())
}

fn batch_response(outcome: &actions::BatchOutcome) -> Response {
    let currency = outcome.currency;
    match outcome.batch_id {
        Some(batch) => {
            let entries: Vec<EntryBody> = outcome.recorded.iter().map(EntryBody::new).collect();
            let body = BatchBody {
                batch,
                count: entries.len(),
                total: currency.format_minor(outcome.total_minor),
                entries,
            };
            // A deposit posted before under the same key: 200 with what it posted.
            let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
            (status, axum::Json(body)).into_response()
        }
        None => {
            let rows: Vec<PreviewRow> = outcome
                .entries
                .iter()
                .map(|entry| PreviewRow {
                    amount: currency.format_minor(entry.amount_minor),
                    method: entry.method.clone(),
                    received_on: entry.received_on.format("%Y-%m-%d").to_string(),
                    donor_name: entry.donor.name.clone(),
                    reference: entry.reference.clone(),
                })
                .collect();
            let body = BatchPreview {
                preview: true,
                count: rows.len(),
                total: currency.format_minor(outcome.total_minor),
                entries: rows,
            };
            (StatusCode::OK, axum::Json(body)).into_response()
        }
    }
}

/// A line of a payout: one balance transaction beside the entry it should match.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PayoutLineBody {
    pub balance_transaction: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The charge, refund or dispute it moved money for.
    pub source: Option<String>,
    pub stripe_net: String,
    pub entry: Option<i64>,
    pub entry_net: Option<String>,
}

/// A payout reconciled against the ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PayoutBody {
    pub id: String,
    pub status: String,
    pub arrival_date: String,
    pub currency: String,
    pub amount: String,
    /// The net of the ledger entries the payout carried.
    pub entries_total: String,
    pub difference: String,
    pub reconciled: bool,
    pub missing_entries: Vec<PayoutLineBody>,
    pub different_amounts: Vec<PayoutLineBody>,
    /// Every line (left out of lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<PayoutLineBody>>,
    pub flags: Vec<FlagBody>,
}

/// A payout's reconciliation as the API shows it.
pub fn payout_body(report: &PayoutReport) -> PayoutBody {
    let currency = crate::ledger::Currency::from_code(&report.payout.currency).ok();
    let money =
        |minor: i64| currency.map_or_else(|| minor.to_string(), |currency| currency.format_minor(minor));
    let line = |line: &crate::store::PayoutLine| PayoutLineBody {
        balance_transaction: line.balance_transaction.clone(),
        kind: line.kind.clone(),
        source: line.source.clone(),
        stripe_net: money(line.stripe_net_minor),
        entry: line.entry_id,
        entry_net: line.entry_net_minor.map(money),
    };
    PayoutBody {
        id: report.payout.id.clone(),
        status: report.payout.status.clone(),
        arrival_date: report.payout.arrival_date.clone(),
        currency: report.payout.currency.clone(),
        amount: money(report.payout.amount_minor),
        entries_total: money(report.entries_minor),
        difference: money(report.difference_minor()),
        reconciled: report.reconciled(),
        missing_entries: report.missing().into_iter().map(line).collect(),
        different_amounts: report.different().into_iter().map(line).collect(),
        lines: Some(report.lines.iter().map(line).collect()),
        flags: report.flags.iter().map(FlagBody::new).collect(),
    }
}

/// Payouts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PayoutList {
    payouts: Vec<PayoutBody>,
}

/// Stripe's payouts, each reconciled against the ledger (without its lines).
#[utoipa::path(get, path = "/api/v1/admin/payouts", tag = "stripe review",
    responses((status = 200, description = "The payouts", body = PayoutList)))]
async fn list_payouts(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let scope = caller.require(Role::Viewer)?.scope();
    let mut bodies = Vec::new();
    for payout in state.store.payouts().await? {
        if let Some(report) = state.store.payout_report(&scope, &payout.id).await? {
            bodies.push(PayoutBody { lines: None, ..payout_body(&report) });
        }
    }
    Ok(axum::Json(PayoutList { payouts: bodies }).into_response())
}

/// One payout's reconciliation, line by line.
#[utoipa::path(get, path = "/api/v1/admin/payouts/{id}", tag = "stripe review", params(StripeId),
    responses((status = 200, description = "The payout's reconciliation", body = PayoutBody)))]
async fn payout_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let scope = caller.require(Role::Viewer)?.scope();
    let report = state.store.payout_report(&scope, &id).await?.ok_or_else(|| Problem::not_found("payout"))?;
    Ok(axum::Json(payout_body(&report)).into_response())
}
