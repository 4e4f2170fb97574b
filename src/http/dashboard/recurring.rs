//! Recurring health on the dashboard (`/admin/recurring`): two charts (active subscriptions
//! with those past due, and the monthly amount with its projection), the months, the cohorts
//! and the projection as tables, and each table as CSV. Drawn on the server as SVG, like the
//! rest of the dashboard without a script.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{frame, page};
use crate::actions::{self, ActionError, RecurringQuery};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::http::recurring::RecurringBody;
use crate::ledger::recurring::Month;
use crate::web::i18n::catalog;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RecurringPageQuery {
    campaign: Option<String>,
    from: Option<String>,
    to: Option<String>,
    currency: Option<String>,
    format: Option<String>,
    table: Option<String>,
}

/// The drawing area of a chart, in SVG units.
const WIDTH: i64 = 720;
const HEIGHT: i64 = 180;

/// Bars for `values` (each with an optional lower part), scaled to the largest.
fn bars(labels: &[String], values: &[(i64, i64)], projected_from: usize) -> Vec<Value> {
    let largest = values.iter().map(|(value, _)| *value).max().unwrap_or(0).max(1);
    let slot = WIDTH / i64::try_from(values.len().max(1)).unwrap_or(1);
    values
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(index, ((value, part), label))| {
            let x = i64::try_from(index).unwrap_or(0) * slot;
            let height = value.max(&0) * HEIGHT / largest;
            let part_height = part.max(&0) * HEIGHT / largest;
            json!({
                "x": x + slot / 8, "width": slot * 3 / 4, "label_x": x + slot / 2,
                "y": HEIGHT - height, "height": height,
                "part_y": HEIGHT - part_height, "part_height": part_height,
                "label": label, "projected": index >= projected_from,
            })
        })
        .collect()
}

/// A month as the axis shows it: its short name, with the year on January and the first.
fn axis_label(month: &str, first: bool) -> String {
    let Some(parsed) = Month::parse(month) else { return month.to_owned() };
    let date = parsed.first_day();
    if first || date.format("%m").to_string() == "01" {
        date.format("%b %Y").to_string()
    } else {
        date.format("%b").to_string()
    }
}

pub(super) async fn recurring(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<RecurringPageQuery>,
) -> Response {
    let asked = RecurringQuery {
        campaign: query.campaign.clone(),
        from: query.from.clone(),
        to: query.to.clone(),
        currency: query.currency.clone(),
    };
    let campaigns = match state.store.list_campaigns(true).await {
        Ok(campaigns) => campaigns,
        Err(error) => return Problem::from(error).into_response(),
    };
    let choices: Vec<Value> = campaigns
        .iter()
        .map(|campaign| json!({"slug": campaign.slug.as_str(), "title": campaign.title.get("en")}))
        .collect();
    let typed = json!({
        "campaign": query.campaign, "from": query.from, "to": query.to, "currency": query.currency,
    });
    let report = match actions::recurring_health(&state.store, state.timezone, &asked, &signed_in.actor).await
    {
        Ok(report) => report,
        Err(ActionError::Invalid(errors)) => {
            let errors: Vec<Value> =
                errors.iter().map(|(field, message)| json!({"field": field, "message": message})).collect();
            let context = json!({
                "frame": frame(&state, &signed_in, "Recurring gifts"),
                "campaigns": choices, "typed": typed, "errors": errors,
            });
            return page(StatusCode::UNPROCESSABLE_ENTITY, "admin_recurring.html", context);
        }
        Err(error) => return Problem::from(error).into_response(),
    };
    let body = RecurringBody::new(&report, state.timezone);
    if query.format.as_deref() == Some("csv") {
        let table = query
            .table
            .as_deref()
            .filter(|table| matches!(*table, "cohorts" | "projection"))
            .unwrap_or("months");
        return crate::http::exports::file(
            body.csv(table),
            "text/csv; charset=utf-8",
            "attachment",
            &body.file_name(table),
        );
    }

    let language = catalog().fallback();
    let currency = report.currency;
    let health = &report.health;
    let history = health.months.len();
    let month_labels: Vec<String> =
        body.months.iter().enumerate().map(|(n, month)| axis_label(&month.month, n == 0)).collect();
    let active_bars = bars(
        &month_labels,
        &health.months.iter().map(|m| (m.active, m.past_due)).collect::<Vec<_>>(),
        history,
    );
    let mut amount_labels = month_labels.clone();
    amount_labels.extend(body.projection.months.iter().map(|month| axis_label(&month.month, false)));
    let amounts: Vec<(i64, i64)> = health
        .months
        .iter()
        .map(|m| (m.monthly_minor, 0))
        .chain(health.projection.iter().map(|p| (p.monthly_minor, 0)))
        .collect();
    let amount_bars = bars(&amount_labels, &amounts, history);
    let largest_amount = amounts.iter().map(|(amount, _)| *amount).max().unwrap_or(0);
    let months: Vec<Value> = health
        .months
        .iter()
        .zip(&body.months)
        .map(|(figures, shown)| {
            json!({
                "month": shown.month, "active": shown.active, "past_due": shown.past_due,
                "monthly": language.money(figures.monthly_minor, currency),
                "new": shown.new, "recovered": shown.recovered, "cancelled": shown.cancelled,
                "failed": shown.failed, "net": shown.net,
            })
        })
        .collect();
    let widest = body.cohorts.iter().map(|cohort| cohort.active.len()).max().unwrap_or(0);
    let cohorts: Vec<Value> = body
        .cohorts
        .iter()
        .map(|cohort| {
            let cells: Vec<Value> = (0..widest)
                .map(|n| match cohort.active.get(n) {
                    Some(&active) => {
                        let percent = if cohort.started > 0 { active * 100 / cohort.started } else { 0 };
                        // Five shades, darker the more are still active.
                        json!({"active": active, "percent": percent, "shade": (percent + 24) / 25})
                    }
                    None => Value::Null,
                })
                .collect();
            json!({"month": cohort.month, "started": cohort.started, "cells": cells})
        })
        .collect();
    let projection: Vec<Value> = health
        .projection
        .iter()
        .map(|projected| {
            json!({
                "month": projected.month.to_string(), "active": projected.active,
                "monthly": language.money(projected.monthly_minor, currency),
            })
        })
        .collect();
    let churn_percent =
        (health.churn * rust_decimal::Decimal::ONE_HUNDRED).round_dp(2).normalize().to_string();
    let csv_query = serde_urlencoded::to_string([
        ("campaign", body.campaign.clone().unwrap_or_default()),
        ("from", body.from.clone()),
        ("to", body.to.clone()),
        ("currency", body.currency.to_owned()),
        ("format", "csv".to_owned()),
    ])
    .unwrap_or_default();
    let context = json!({
        "frame": frame(&state, &signed_in, "Recurring gifts"),
        "campaigns": choices,
        "typed": {"campaign": body.campaign, "from": body.from, "to": body.to, "currency": query.currency},
        "branch": signed_in.actor.branch,
        "report": {"currency": body.currency, "zone": body.time_zone, "from": body.from, "to": body.to},
        "last": months.last(),
        "months": months,
        "cohort_columns": (0..widest).collect::<Vec<_>>(),
        "cohorts": cohorts,
        "churn": churn_percent,
        "projection": projection,
        "active_bars": active_bars,
        "amount_bars": amount_bars,
        "largest_amount": language.money(largest_amount, currency),
        "chart": {"width": WIDTH, "height": HEIGHT},
        "csv": format!("/admin/recurring?{csv_query}"),
    });
    page(StatusCode::OK, "admin_recurring.html", context)
}
