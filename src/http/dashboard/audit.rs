//! The audit log for admins: who wrote what, when and from where, narrowed by person, action
//! and dates, sign-ins shown, hidden or alone; times in the organization's zone.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{frame, page};
use crate::access::Role;
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::validation::parse_day;
use crate::store::{AuditFilter, AuditRecord, SignIns};

#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditQuery {
    format: Option<String>,
    person: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// shown (the default), hidden or only.
    sign_ins: Option<String>,
    before: Option<i64>,
}

/// Midnight of `date` in `zone`, as an instant (the next one when a zone skips midnight).
fn midnight(date: NaiveDate, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let local = date.and_hms_opt(0, 0, 0)?;
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
        .map(|at| at.with_timezone(&Utc))
}

/// The filter a query asks for, or what is wrong with it, field by field.
fn filter_of(query: &AuditQuery, zone: chrono_tz::Tz) -> Result<AuditFilter, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let mut day = |field: &'static str, text: &Option<String>| match text.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => match parse_day(text) {
            Some(date) => Some(date),
            None => {
                errors.push((field, "must be a date written YYYY-MM-DD".to_owned()));
                None
            }
        },
        _ => None,
    };
    let from = day("from", &query.from);
    let to = day("to", &query.to);
    let sign_ins = match query.sign_ins.as_deref() {
        None | Some("" | "shown") => SignIns::Shown,
        Some("hidden") => SignIns::Hidden,
        Some("only") => SignIns::Only,
        Some(_) => {
            errors.push(("sign_ins", "must be shown, hidden or only".to_owned()));
            SignIns::Shown
        }
    };
    let text = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_owned)
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(AuditFilter {
        person: text(&query.person),
        action: text(&query.action),
        from: from.and_then(|date| midnight(date, zone)),
        until: to.and_then(|date| date.succ_opt()).and_then(|date| midnight(date, zone)),
        sign_ins,
        before_id: query.before,
        limit: if query.format.as_deref() == Some("csv") { 100_000 } else { 200 },
    })
}

pub(super) async fn audit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<AuditQuery>,
) -> Response {
    if !signed_in.actor.role.allows(Role::Admin) {
        return Problem::forbidden("The audit log is for admins.").into_response();
    }
    let zone = state.timezone;
    let when = |at: DateTime<Utc>| at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z").to_string();
    let (records, errors) = match filter_of(&query, zone) {
        Ok(filter) => match state.store.audit_log(&filter).await {
            Ok(records) => (records, Vec::new()),
            Err(error) => return Problem::from(error).into_response(),
        },
        Err(errors) => (Vec::new(), errors),
    };
    if query.format.as_deref() == Some("csv") && errors.is_empty() {
        return csv(&records, when);
    }
    let rows: Vec<Value> = records
        .iter()
        .map(|record| json!({"id": record.id, "at": when(record.at), "actor": record.actor, "action": record.action,
                             "target": record.target, "before": record.before, "after": record.after, "address": record.address}))
        .collect();
    let older = (rows.len() == 200).then(|| records.last().map(|record| record.id)).flatten();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let labels = |field: &str| {
        match field {
            "from" => "From",
            "to" => "To",
            "sign_ins" => "Sign-ins",
            other => other,
        }
        .to_owned()
    };
    let errors: Vec<Value> = errors
        .iter()
        .map(|(field, message)| json!({"field": field, "label": labels(field), "message": message}))
        .collect();
    // The CSV and the older page keep the filter.
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("person", &query.person),
        ("action", &query.action),
        ("from", &query.from),
        ("to", &query.to),
        ("sign_ins", &query.sign_ins),
    ] {
        if let Some(value) = value.as_deref().filter(|value| !value.trim().is_empty()) {
            kept.append_pair(name, value);
        }
    }
    let kept = kept.finish();
    let context = json!({
        "frame": frame(&state, &signed_in, "Audit log"),
        "records": rows,
        "errors": errors,
        "typed": {"person": query.person, "action": query.action, "from": query.from, "to": query.to,
                  "sign_ins": query.sign_ins.clone().unwrap_or_else(|| "shown".to_owned())},
        "zone": zone.name(),
        "csv": format!("/admin/audit?format=csv&{kept}"),
        "older": older.map(|id| format!("/admin/audit?{kept}&before={id}")),
        "actions": ["campaign.create", "campaign.update", "campaign.ended", "donation.record", "donation.reverse", "donation.refund",
                    "batch.post", "batch.reverse", "subscription.cancel", "token.create", "token.revoke",
                    "user.add", "user.disable", "user.enable", "user.remove", "user.sign_in", "user.sign_in_failed",
                    "user.sign_in_throttled", "user.password", "stripe_flag.resolve", "stripe_flag.record", "stripe_event.retry",
                    "stripe_event.dismiss"],
    });
    page(status, "admin_audit.html", context)
}

fn csv(records: &[AuditRecord], when: impl Fn(DateTime<Utc>) -> String) -> Response {
    let mut out = String::from("id,at,actor,action,target,before,after,address\r\n");
    for record in records {
        let fields = [
            record.id.to_string(),
            when(record.at),
            record.actor.clone(),
            record.action.clone(),
            record.target.clone(),
            record.before.clone().unwrap_or_default(),
            record.after.clone().unwrap_or_default(),
            record.address.clone().unwrap_or_default(),
        ];
        let quoted: Vec<String> =
            fields.iter().map(|field| format!("\"{}\"", field.replace('"', "\"\""))).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"appeal-audit.csv\""),
            ),
        ],
        out,
    )
        .into_response()
}
