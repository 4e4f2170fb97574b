//! A campaign's page in the dashboard: its figures traced to entries, and the forms that
//! bring money in (offline gifts, deposits); those that take it back are in `reversals`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{Place, csv_line, field_errors, labelled, words};
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{form, frame, page, shown_decimal, shown_minor};
use crate::access::Role;
use crate::actions::{self, ActionError};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::batch::{BatchInput, RowNames, entries_from_csv};
use crate::ledger::entry::OfflineDonationInput;
use crate::ledger::progress::Progress;
use crate::ledger::search::EntrySearch;
use crate::ledger::validation::AmountText;
use crate::store::{EntryFilter, FlagFilter, SubscriptionFilter};

/// A campaign's page: every figure next to the entries that make it.
pub(super) async fn campaign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response = render_campaign(&state, &signed_in, &slug, Shown { notice, ..Shown::default() }).await;
    spent(&state, shown, response)
}

/// What the campaign page shows besides the campaign: a notice, a form's errors and what was
/// typed in it (the deposit's preview or confirm step, the record form), and its status.
#[derive(Debug)]
struct Shown {
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    /// The form the errors are about, opened again with what was typed in it.
    refused: Refused,
    deposit: Option<Value>,
    record: Option<Value>,
    status: StatusCode,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            notice: None,
            errors: BTreeMap::new(),
            refused: Refused::Other,
            deposit: None,
            record: None,
            status: StatusCode::OK,
        }
    }
}

/// The campaign page's forms, to put each message beside its field under the field's label.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Refused {
    Record,
    Deposit,
    /// Reversing an entry, with what was typed in its confirmation.
    Reverse(i64, Value),
    Refund(i64, Value),
    ReverseDeposit(i64, Value),
    Other,
}

impl Refused {
    fn place(&self, field: &str) -> Place {
        let record = |field: &str| -> Option<(&str, &str)> {
            Some(match field {
                "amount" => ("Amount", "rec-amount"),
                "method" => ("Method", "rec-method"),
                "received_on" => ("Received on", "rec-date"),
                "donor_name" => ("Donor's name", "rec-name"),
                "donor_email" => ("Donor's email", "rec-email"),
                "reference" => ("Reference", "rec-reference"),
                "ref" => ("Source", "rec-ref"),
                "branch" => ("Branch", "rec-branch"),
                "currency" => ("Currency", "rec-currency"),
                "rate" => ("Rate", "rec-rate"),
                "anonymous" => ("Show this name on the public wall", "rec-name"),
                _ => return None,
            })
        };
        let found = match (self, field) {
            (_, "form") => return Place::form(),
            (Refused::Record, field) => record(field).map(|(label, input)| Place::at(label, input)),
            (Refused::Deposit, field) => match field {
                "reference" => Some(Place::at("Deposit slip", "batch-reference")),
                "deposited_on" => Some(Place::at("Deposited on", "batch-date")),
                "declared_count" => Some(Place::at("Number of items", "batch-count")),
                "declared_total" => Some(Place::at("Total", "batch-total")),
                "csv" | "entries" => Some(Place::at("Rows (CSV)", "batch-csv")),
                field => csv_line(field, |column| {
                    record(column).map_or_else(|| words(column), |(label, _)| label.to_owned())
                })
                .map(|label| Place::at(label, "batch-csv")),
            },
            (Refused::Reverse(id, _), "amount") => Some(Place::at("Amount", format!("reverse-amount-{id}"))),
            (Refused::Reverse(id, _), "reason") => Some(Place::at("Reason", format!("reverse-reason-{id}"))),
            (Refused::Reverse(id, _), "kind") => Some(Place::at("Kind", format!("reverse-kind-{id}"))),
            (Refused::Refund(id, _), "amount") => {
                Some(Place::at("Amount to refund", format!("refund-amount-{id}")))
            }
            (Refused::Refund(id, _), "reason") => Some(Place::at("Reason", format!("refund-reason-{id}"))),
            (Refused::ReverseDeposit(id, _), "reason") => {
                Some(Place::at("Reason", format!("deposit-reason-{id}")))
            }
            (Refused::ReverseDeposit(id, _), "kind") => Some(Place::at("Kind", format!("deposit-kind-{id}"))),
            _ => None,
        };
        found.unwrap_or_else(|| Place { label: words(field), input: None })
    }

    /// The confirmation to open again, with what was typed in it: `{"form": "reverse-12", …}`.
    fn reopened(&self) -> Value {
        let (form, typed) = match self {
            Refused::Reverse(id, typed) => (format!("reverse-{id}"), typed),
            Refused::Refund(id, typed) => (format!("refund-{id}"), typed),
            Refused::ReverseDeposit(id, typed) => (format!("deposit-{id}"), typed),
            _ => return json!({}),
        };
        let mut open = typed.clone();
        open["form"] = json!(form);
        open
    }
}

async fn render_campaign(state: &AppState, signed_in: &SignedIn, slug: &str, shown: Shown) -> Response {
    let Shown { notice, errors, refused, deposit: preview, record, status } = shown;
    let Ok(Some((campaign, totals, branches))) = state.store.campaign_progress(slug).await else {
        return Problem::not_found("campaign").into_response();
    };
    let currency = campaign.currency;
    let refusal = labelled(&errors, |field| refused.place(field));
    let progress = Progress::new(&campaign, &totals, &branches);
    let mut leaderboard: Vec<Value> = progress
        .branches
        .iter()
        .map(|branch| {
            json!({"slug": branch.slug, "name": branch.name, "raised": branch.raised, "goal": branch.goal,
                   "raised_shown": shown_decimal(&branch.raised, currency),
                   "goal_shown": branch.goal.as_deref().map(|goal| shown_decimal(goal, currency))})
        })
        .collect();
    leaderboard.sort_by(|a, b| {
        let amount =
            |value: &Value| value["raised"].as_str().and_then(|text| text.parse::<f64>().ok()).unwrap_or(0.0);
        amount(b).total_cmp(&amount(a))
    });
    let search = EntrySearch { limit: 25, ..EntrySearch::default() };
    let filter = EntryFilter { campaign_id: Some(campaign.id), search };
    let scope = signed_in.actor.scope();
    let entries = match state.store.list_entries(&scope, &filter).await {
        Ok(entries) => entries,
        Err(error) => return Problem::from(error).into_response(),
    };
    let flags: Vec<Value> = match state.store.flags(&scope, &FlagFilter::default()).await {
        Ok(flags) => flags
            .iter()
            .filter(|flag| flag.campaign_id == campaign.id)
            .map(|flag| json!({"id": flag.id, "kind": flag.kind.as_str(), "entry": flag.entry_id, "detail": flag.detail}))
            .collect(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let recent = match super::entries::entry_rows(state, &entries).await {
        Ok(rows) => rows,
        Err(problem) => return problem.into_response(),
    };
    // Viewers see no donor's name anywhere, as in their exports.
    let wall_items =
        if scope.sees_donors() { state.store.wall_items(&scope, campaign.id).await } else { Ok(Vec::new()) };
    let wall: Vec<Value> = match wall_items {
        Ok(items) => items
            .iter()
            .map(|item| {
                let message = match item.message_state.as_str() {
                    "undecided" if state.site.hold_messages => "waiting",
                    "undecided" => "shown",
                    other => other,
                };
                json!({"entry": item.entry_id, "name": item.name, "message": item.message,
                       "name_hidden": item.name_hidden, "message_state": message})
            })
            .collect(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let deposits: Vec<Value> = match state.store.batches(&scope, campaign.id, 10).await {
        Ok(batches) => batches
            .iter()
            .map(|(batch, left)| {
                json!({"id": batch.id, "reference": batch.reference, "date": batch.deposited_on.to_string(),
                       "total": currency.format_minor(batch.declared_total_minor), "count": batch.declared_count,
                       "left": currency.format_minor(*left), "reversible": *left > 0, "by": batch.recorded_by,
                       "total_shown": shown_minor(batch.declared_total_minor, currency), "left_shown": shown_minor(*left, currency)})
            })
            .collect(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let subscriptions = match state
        .store
        .list_subscriptions(&scope, &SubscriptionFilter { campaign_id: Some(campaign.id), status: None })
        .await
    {
        Ok(list) => list,
        Err(error) => return Problem::from(error).into_response(),
    };
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    for (subscription, _) in &subscriptions {
        *by_status.entry(subscription.status.clone()).or_insert(0) += 1;
    }
    let subscription_ids: Vec<&str> =
        subscriptions.iter().map(|(subscription, _)| subscription.id.as_str()).collect();
    let subscription_disputes = match state.store.disputes_of_subscriptions(&subscription_ids).await {
        Ok(found) => found,
        Err(error) => return Problem::from(error).into_response(),
    };
    let subscription_rows: Vec<Value> = subscriptions
        .iter()
        .map(|(subscription, _)| {
            let disputes: Vec<String> = subscription_disputes
                .get(&subscription.id)
                .into_iter()
                .flatten()
                .map(dispute_label)
                .collect();
            json!({
                "disputes": disputes,
                "id": subscription.id,
                "status": subscription.status,
                "amount": currency.format_minor(subscription.amount_minor),
                "amount_shown": shown_minor(subscription.amount_minor, currency),
                "interval": subscription.interval.as_str(),
                "donor": subscription.donor_name.clone().or(subscription.donor_email.clone()),
                "cancel_at_period_end": subscription.cancel_at_period_end,
                "active": subscription.is_active(),
            })
        })
        .collect();
    let daily = state.store.daily_totals(campaign.id).await.unwrap_or_default();
    let chart = chart_svg(&daily, campaign.goal_minor);
    let context = json!({
        "frame": frame(state, signed_in, campaign.title.get("en")),
        "campaign": {"slug": campaign.slug.as_str(), "title": campaign.title.get("en"), "status": campaign.status.as_str(),
                     "currency": campaign.currency.code(),
                     "branches": branches.iter().map(|row| json!({"slug": row.branch.slug.as_str(), "name": row.branch.name})).collect::<Vec<_>>()},
        "progress": progress,
        // A branch treasurer's own branch, shown first.
        "own_branch": signed_in.actor.branch.as_ref().and_then(|own| leaderboard.iter().find(|row| row["slug"] == own.as_str()).cloned()),
        "leaderboard": leaderboard,
        "shown": {
            "raised": shown_decimal(&progress.raised, currency),
            "goal": shown_decimal(&progress.goal, currency),
            "online": shown_decimal(&progress.by_source.online, currency),
            "offline": shown_decimal(&progress.by_source.offline, currency),
            "monthly": shown_decimal(&progress.recurring.monthly, currency),
            "percent": crate::web::i18n::catalog().fallback().percent(progress.percent),
        },
        "entries": recent,
        "flags": flags,
        "subscriptions": subscription_rows,
        "by_status": by_status,
        "chart": chart,
        "notice": notice,
        "errors": refusal["summary"],
        "beside": refusal["beside"],
        "open": refused.reopened(),
        "preview": preview,
        "record": record,
        "deposits": deposits,
        "wall": wall,
        "hold_messages": state.site.hold_messages,
        "today": Utc::now().with_timezone(&state.timezone).date_naive().format("%Y-%m-%d").to_string(),
    });
    page(status, "admin_campaign.html", context)
}

/// Money per day as bars and the running total as a line, against the goal; drawn on the
/// server so the page needs no script.
fn chart_svg(daily: &[(chrono::NaiveDate, i64)], goal_minor: i64) -> Value {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 180.0;
    if daily.is_empty() {
        return Value::Null;
    }
    let mut cumulative = 0_i64;
    let points: Vec<(i64, i64)> = daily
        .iter()
        .map(|(_, amount)| {
            cumulative += amount;
            (*amount, cumulative)
        })
        .collect();
    // A little room above the goal line, so it does not sit on the frame.
    let top = points.iter().map(|(_, total)| *total).max().unwrap_or(0).max(goal_minor).max(1) as f64 * 1.08;
    let step = WIDTH / points.len() as f64;
    let y = |value: i64| HEIGHT - (value.max(0) as f64 / top) * HEIGHT;
    let bars: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(index, (amount, _))| {
            let bar_top = y(*amount);
            json!({"x": format!("{:.1}", index as f64 * step + step * 0.15), "y": format!("{bar_top:.1}"),
                   "width": format!("{:.1}", step * 0.7), "height": format!("{:.1}", HEIGHT - bar_top)})
        })
        .collect();
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(index, (_, total))| format!("{:.1},{:.1}", index as f64 * step + step / 2.0, y(*total)))
        .collect();
    json!({
        "width": WIDTH, "height": HEIGHT, "bars": bars, "line": line.join(" "),
        "goal_y": format!("{:.1}", y(goal_minor)),
        "first": daily.first().map(|(date, _)| date.to_string()),
        "last": daily.last().map(|(date, _)| date.to_string()),
    })
}

/// Back to the campaign's page, which says once what was done.
pub(super) fn redirect_with(state: &AppState, signed_in: &SignedIn, slug: &str, notice: &str) -> Response {
    redirect_with_notice(state, signed_in, &format!("/admin/c/{slug}"), notice)
}

/// An action's refusal: beside the form it is about, what was typed kept, when it is about
/// the input; a problem otherwise.
pub(super) async fn render_action_error(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    error: ActionError,
    refused: Refused,
) -> Response {
    match field_errors(error) {
        Ok(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_campaign(state, signed_in, slug, Shown { errors, refused, status, ..Shown::default() })
                .await
        }
        Err(problem) => problem.into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct DonationForm {
    csrf: Option<String>,
    /// The form's one-time token: sent twice, the form acts once.
    form_token: Option<String>,
    amount: Option<String>,
    method: Option<String>,
    received_on: Option<String>,
    donor_name: Option<String>,
    donor_email: Option<String>,
    reference: Option<String>,
    branch: Option<String>,
    /// Ticked: the donor agreed to be named on the public wall.
    show_name: Option<String>,
    /// Ticked on the confirm step: the same reference, amount and date again on purpose.
    #[serde(rename = "ref")]
    source_ref: Option<String>,
    allow_duplicate: Option<String>,
    /// The currency the money came in, when not the campaign's, and the bank's rate.
    currency: Option<String>,
    rate: Option<String>,
}

pub(super) async fn record_donation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: DonationForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let typed = typed_fields(
        &body,
        &[
            "amount",
            "method",
            "received_on",
            "donor_name",
            "donor_email",
            "show_name",
            "reference",
            "branch",
            "ref",
            "currency",
            "rate",
        ],
    );
    let input = OfflineDonationInput {
        amount: submitted.amount.map(AmountText),
        method: submitted.method,
        received_on: submitted.received_on,
        donor_name: submitted.donor_name,
        donor_email: submitted.donor_email,
        reference: submitted.reference,
        branch: submitted.branch,
        anonymous: Some(submitted.show_name.is_none()),
        message: None,
        allow_duplicate: submitted.allow_duplicate.is_some(),
        source_ref: submitted.source_ref,
        match_offer: None,
        currency: submitted.currency,
        rate: submitted.rate,
    };
    match actions::record_offline_donation(
        &state.store,
        &slug,
        input,
        &signed_in.actor,
        form_key(submitted.form_token),
    )
    .await
    {
        Ok(outcome) => {
            redirect_with(&state, &signed_in, &slug, &format!("Recorded entry {}.", outcome.entry().id))
        }
        Err(error) => {
            render_form_error(&state, &signed_in, &slug, error, Refused::Record, |shown, duplicate| {
                let mut kept = typed;
                kept["duplicate"] = json!(duplicate);
                shown.record = Some(kept);
            })
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct BatchForm {
    csrf: Option<String>,
    /// The form's one-time token: sent twice, the form acts once.
    form_token: Option<String>,
    reference: Option<String>,
    deposited_on: Option<String>,
    declared_count: Option<String>,
    declared_total: Option<String>,
    csv: Option<String>,
    /// "preview" or "post".
    action: Option<String>,
    /// Ticked on the confirm step: the same slip, or date and total, again on purpose.
    allow_duplicate: Option<String>,
}

pub(super) async fn record_batch(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: BatchForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Treasurer) {
        return refused;
    }
    let mut errors = BTreeMap::new();
    let entries = match entries_from_csv(submitted.csv.as_deref().unwrap_or_default()) {
        Ok(entries) => entries,
        Err(csv_errors) => {
            errors.extend(csv_errors.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
            Vec::new()
        }
    };
    let declared_count = match submitted.declared_count.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => match text.parse::<i64>() {
            Ok(count) => Some(count),
            Err(_) => {
                errors.insert("declared_count".to_owned(), "must be a whole number".to_owned());
                None
            }
        },
        _ => None,
    };
    let typed =
        typed_fields(&body, &["reference", "deposited_on", "declared_count", "declared_total", "csv"]);
    if !errors.is_empty() {
        let deposit = Some(json!({"rows": [], "form": typed}));
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let shown = Shown { errors, refused: Refused::Deposit, deposit, status, ..Shown::default() };
        return render_campaign(&state, &signed_in, &slug, shown).await;
    }
    let input = BatchInput {
        reference: submitted.reference,
        deposited_on: submitted.deposited_on,
        declared_count,
        declared_total: submitted.declared_total.map(AmountText),
        entries,
        allow_duplicate: submitted.allow_duplicate.is_some(),
    };
    let preview = submitted.action.as_deref() != Some("post");
    let key = form_key(submitted.form_token.clone());
    match actions::record_batch(
        &state.store,
        &slug,
        input,
        &signed_in.actor,
        RowNames::CsvLines,
        preview,
        key,
    )
    .await
    {
        Ok(outcome) if preview => {
            let currency = outcome.currency;
            let rows: Vec<Value> = outcome
                .entries
                .iter()
                .map(|entry| {
                    json!({"amount": shown_minor(entry.amount_minor, currency), "method": entry.method,
                                     "date": entry.received_on.to_string(), "donor": entry.donor.name})
                })
                .collect();
            let preview =
                json!({"rows": rows, "total": shown_minor(outcome.total_minor, currency), "form": typed});
            render_campaign(&state, &signed_in, &slug, Shown { deposit: Some(preview), ..Shown::default() })
                .await
        }
        Ok(outcome) => redirect_with(
            &state,
            &signed_in,
            &slug,
            &format!(
                "Posted batch {}: {} entries.",
                outcome.batch_id.unwrap_or_default(),
                outcome.recorded.len()
            ),
        ),
        Err(error) => {
            let kept =
                |duplicate: Option<&String>| json!({"rows": [], "form": typed, "duplicate": duplicate});
            render_form_error(&state, &signed_in, &slug, error, Refused::Deposit, |shown, duplicate| {
                shown.deposit = Some(kept(duplicate));
            })
            .await
        }
    }
}

/// A form's refusal on the campaign page: each message beside the form, what was typed kept
/// (`keep` puts it back, with the earlier look-alike when it is one), 409 for a look-alike
/// that asks to be confirmed, 422 for bad input; a problem page otherwise.
async fn render_form_error(
    state: &AppState,
    signed_in: &SignedIn,
    slug: &str,
    error: ActionError,
    refused: Refused,
    keep: impl FnOnce(&mut Shown, Option<&String>),
) -> Response {
    let look_alike = matches!(&error, ActionError::Conflict { field, message } if field == "reference" && message.contains("allow_duplicate"));
    let errors = match field_errors(error) {
        Ok(errors) => errors,
        Err(problem) => return problem.into_response(),
    };
    let status = if look_alike { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut shown = Shown { status, refused, ..Shown::default() };
    // The dashboard asks with a box to tick, not with the API's field name.
    let earlier = errors
        .get("reference")
        .filter(|_| look_alike)
        .map(|message| message.rsplit_once(": ").map_or(message.as_str(), |(what, _)| what).to_owned());
    keep(&mut shown, earlier.as_ref());
    if !look_alike {
        shown.errors = errors;
    }
    render_campaign(state, signed_in, slug, shown).await
}

/// The named fields of a form as they were typed, to put back into it.
pub(super) fn typed_fields(body: &Bytes, names: &[&str]) -> Value {
    let mut typed = serde_json::Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        if names.contains(&key.as_ref()) {
            typed.insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }
    Value::Object(typed)
}

/// "inquiry: needs response", "dispute: won".
pub(super) fn dispute_label(dispute: &crate::store::StoredDispute) -> String {
    let what = if dispute.is_inquiry() { "inquiry" } else { "dispute" };
    format!("{what}: {}", dispute.status.trim_start_matches("warning_").replace('_', " "))
}

/// A form's one-time token as an idempotency key: the page's nonce and the form's name,
/// plain and short, or nothing (then the write is not deduplicated).
pub(super) fn form_key(token: Option<String>) -> Option<String> {
    token.filter(|token| {
        (8..=120).contains(&token.len())
            && token.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    })
}
