//! An appeal's pages: `/a/{slug}` (the total and every member's bar, live) and
//! `/embed/a/{slug}` (the same, to frame in another site).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate};
use serde_json::json;

use super::AppState;
use super::appeals::appeal_document;
use super::pages::{Lang, not_found_page, page_info, render};
use crate::ledger::Currency;
use crate::ledger::appeals::{AppealProgress, FIXED_AT_LAUNCH, RatePolicy};
use crate::web::i18n::{Language, currencies_for_scripts};

pub fn router() -> Router<AppState> {
    Router::new().route("/a/{slug}", get(appeal_page)).route("/embed/a/{slug}", get(appeal_embed))
}

async fn appeal_page(State(state): State<AppState>, Path(slug): Path<String>, lang: Lang) -> Response {
    render_appeal(&state, &slug, &lang, "appeal.html").await
}

async fn appeal_embed(State(state): State<AppState>, Path(slug): Path<String>, lang: Lang) -> Response {
    render_appeal(&state, &slug, &lang, "appeal_embed.html").await
}

async fn render_appeal(state: &AppState, slug: &str, lang: &Lang, template: &str) -> Response {
    let document = match appeal_document(state, slug).await {
        Ok(Some(document)) => document,
        Ok(None) => return not_found_page(state, lang),
        Err(problem) => return problem.into_response(),
    };
    let language = lang.language;
    let progress = &document.progress;
    let title = progress.title.get(&language.code).to_owned();
    let mut page = page_info(state, language, &title, &format!("/a/{}", progress.appeal));
    page.campaign_url = format!("{}/a/{}?lang={}", state.public_url, progress.appeal, language.code);
    let context =
        json!({"page": page, "t": language.strings(), "appeal": appeal_view(language, progress, &title)});
    render(lang, StatusCode::OK, template, context)
}

/// A day and time as the page writes it: "December 6, 2026, 17:58 UTC".
fn when(language: &Language, text: &str) -> String {
    match DateTime::parse_from_rfc3339(text) {
        Ok(at) => {
            let at = at.to_utc();
            format!("{}, {} UTC", language.date(at.date_naive()), at.format("%H:%M"))
        }
        Err(_) => text.to_owned(),
    }
}

/// Where a rate comes from, in the page's language when it is appeal's own words.
fn rate_source(language: &Language, source: Option<&str>) -> String {
    match source {
        Some(FIXED_AT_LAUNCH) => language.t("appeal.fixed_at_launch").to_owned(),
        Some(source) => source.to_owned(),
        None => String::new(),
    }
}

/// What the appeal's templates show, in the page's language.
fn appeal_view(language: &Language, progress: &AppealProgress, title: &str) -> serde_json::Value {
    let currency = Currency::from_code(progress.currency).ok();
    let money = |text: &str, code: &str| match Currency::from_code(code) {
        Ok(currency) => language.money_of_decimal(text, currency),
        Err(_) => format!("{text} {code}"),
    };
    let percent_text = language.fill("progress.percent", &[("percent", &language.percent(progress.percent))]);
    let members: Vec<serde_json::Value> = progress
        .members
        .iter()
        .enumerate()
        .map(|(index, member)| {
            let raised = match (&member.raised, member.currency) {
                (Some(raised), Some(code)) => money(raised, code),
                _ => language.t("appeal.not_heard").to_owned(),
            };
            let converted = match (&member.raised_converted, &member.rate) {
                (Some(converted), Some(rate)) if member.currency != Some(progress.currency) => language.fill(
                    "appeal.converted",
                    &[
                        ("amount", &money(converted, progress.currency)),
                        ("rate", rate),
                        ("source", &rate_source(language, member.rate_source.as_deref())),
                        (
                            "date",
                            &member
                                .rate_date
                                .as_deref()
                                .and_then(|day| day.parse::<NaiveDate>().ok())
                                .map(|day| language.date(day))
                                .unwrap_or_default(),
                        ),
                    ],
                ),
                (None, _) => member
                    .problem
                    .as_deref()
                    .filter(|_| member.raised.is_some())
                    .map(|problem| language.fill("appeal.not_counted", &[("problem", problem)]))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let goal_percent = match (&member.raised, &member.goal) {
                (Some(raised), Some(goal)) => {
                    let raised: f64 = raised.parse().unwrap_or(0.0);
                    let goal: f64 = goal.parse().unwrap_or(0.0);
                    (goal > 0.0).then(|| (raised * 1000.0 / goal).round() / 10.0)
                }
                _ => None,
            };
            json!({
                "index": index,
                "name": member.name,
                "raised": raised,
                "converted": converted,
                "as_of": member.as_of.as_deref().map(|at| language.fill("appeal.as_of", &[("time", &when(language, at))])).unwrap_or_default(),
                "stale": member.stale,
                "has_goal": goal_percent.is_some(),
                "bar_value": goal_percent.unwrap_or(0.0).clamp(0.0, 100.0),
                "percent_text": goal_percent.map(|value| language.fill("progress.percent", &[("percent", &language.percent(value))])).unwrap_or_default(),
            })
        })
        .collect();
    // The members' currencies and the appeal's, for appeal.js to write each figure.
    let mut codes: Vec<&str> = progress.members.iter().filter_map(|member| member.currency).collect();
    codes.push(progress.currency);
    let all = currencies_for_scripts();
    let currencies: serde_json::Map<String, serde_json::Value> = codes
        .iter()
        .filter_map(|code| all.get(*code).map(|value| ((*code).to_owned(), value.clone())))
        .collect();
    json!({
        "slug": progress.appeal,
        "title": title,
        "raised": money(&progress.raised, progress.currency),
        "raised_of": language.fill("progress.raised_of", &[("goal", &money(&progress.goal, progress.currency))]),
        "percent_text": percent_text,
        "bar_value": progress.percent.clamp(0.0, 100.0),
        "donors_text": language.plural("progress.donors", progress.donors, &[]),
        "incomplete": !progress.complete,
        "policy": language.t(match progress.rate_policy {
            RatePolicy::Fixed => "appeal.policy.fixed",
            RatePolicy::Latest => "appeal.policy.latest",
        }),
        "members": members,
        "stream_url": format!("/api/v1/appeals/{}/progress/stream", progress.appeal),
        "i18n": currency.map(|currency| language.for_scripts_in(currency)).unwrap_or_else(|| language.for_scripts()).to_string(),
        "currencies": serde_json::Value::Object(currencies).to_string(),
    })
}
