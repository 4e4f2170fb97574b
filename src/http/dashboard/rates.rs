//! Exchange rates on the dashboard (`/admin/rates`): the rates kept, newest day first, with
//! where each comes from; a form to keep one (a bank statement's rate, a correction), and the
//! rate the ledger would take for a pair on a day. Through the same actions as the API and CLI.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{Place, first, labelled, posted as fields, words};
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{frame, page};
use crate::access::Role;
use crate::actions::{self, ActionError, RateQuery};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::rates::RateInput;

/// The rates a page shows at most.
const SHOWN: usize = 200;

/// The look-up form, when it was used.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Lookup {
    from: Option<String>,
    to: Option<String>,
    date: Option<String>,
}

fn one(fields: &BTreeMap<String, Vec<String>>, name: &str) -> Option<String> {
    first(fields, name).map(|value| value.trim().to_owned())
}

fn place(field: &str) -> Place {
    match field {
        "base" => Place::at("One unit of", "rate-base"),
        "quote" => Place::at("Is worth, in", "rate-quote"),
        "date" => Place::at("On", "rate-date"),
        "rate" => Place::at("Rate", "rate-rate"),
        "source" => Place::at("Source", "rate-source"),
        "form" => Place::form(),
        _ => Place { label: words(field), input: None },
    }
}

async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    lookup: &Lookup,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    typed: Value,
    status: StatusCode,
) -> Response {
    let rates = match actions::list_rates(&state.store, &RateQuery::default(), &signed_in.actor).await {
        Ok(rates) => rates,
        Err(error) => return Problem::from(error).into_response(),
    };
    let rows: Vec<Value> = rates
        .iter()
        .take(SHOWN)
        .map(|rate| {
            json!({"date": rate.day.to_string(), "base": rate.base.code(), "quote": rate.quote.code(),
                   "rate": rate.rate.normalize().to_string(), "source": rate.source})
        })
        .collect();
    let asked = lookup.from.as_deref().is_some_and(|from| !from.trim().is_empty());
    let found = if asked {
        let answer = actions::rate_for(
            &state.store,
            lookup.from.as_deref(),
            lookup.to.as_deref(),
            lookup.date.as_deref(),
            &signed_in.actor,
        )
        .await;
        Some(match answer {
            Ok(rate) => json!({"line": format!("1 {} = {} {} (the rate of {}, {})",
                rate.base.code(), rate.rate.normalize(), rate.quote.code(), rate.day, rate.source)}),
            Err(ActionError::Invalid(refused)) => {
                json!({"refused": refused.iter().map(|(field, message)| format!("{field} {message}")).collect::<Vec<_>>().join("; ")})
            }
            Err(error) => return Problem::from(error).into_response(),
        })
    } else {
        None
    };
    let refusal = labelled(&errors, place);
    let today = Utc::now().with_timezone(&state.timezone).date_naive().to_string();
    let context = json!({
        "frame": frame(state, signed_in, "Exchange rates"),
        "notice": notice,
        "rates": rows,
        "more": rates.len() > SHOWN,
        "lookup": {"from": lookup.from, "to": lookup.to, "date": lookup.date.clone().unwrap_or_else(|| today.clone()), "found": found},
        "today": today,
        "errors": refusal["summary"],
        "beside": refusal["beside"],
        "typed": typed,
    });
    page(status, "admin_rates.html", context)
}

pub(super) async fn rates(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(lookup): Query<Lookup>,
    headers: HeaderMap,
) -> Response {
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response =
        render(&state, &signed_in, &lookup, notice, BTreeMap::new(), json!({}), StatusCode::OK).await;
    spent(&state, shown, response)
}

/// Keeps a rate from the form (one of the same pair, day and source is replaced).
pub(super) async fn add(State(state): State<AppState>, signed_in: SignedIn, body: Bytes) -> Response {
    let fields = fields(&body);
    if let Some(refused) = signed_in.refuse_form(one(&fields, "csrf").as_deref(), Role::Treasurer) {
        return refused;
    }
    let input = RateInput {
        base: one(&fields, "base"),
        quote: one(&fields, "quote"),
        date: one(&fields, "date"),
        rate: one(&fields, "rate"),
        source: one(&fields, "source"),
    };
    match actions::add_rate(&state.store, input, &signed_in.actor).await {
        Ok(rate) => {
            let notice = format!(
                "Kept: 1 {} = {} {} on {}, from {}.",
                rate.base.code(),
                rate.rate.normalize(),
                rate.quote.code(),
                rate.day,
                rate.source
            );
            redirect_with_notice(&state, &signed_in, "/admin/rates", &notice)
        }
        Err(error) => {
            let typed = json!({"base": one(&fields, "base"), "quote": one(&fields, "quote"), "date": one(&fields, "date"),
                               "rate": one(&fields, "rate"), "source": one(&fields, "source")});
            match super::fields::refusal(error) {
                Ok((status, errors)) => {
                    render(&state, &signed_in, &Lookup::default(), None, errors, typed, status).await
                }
                Err(problem) => problem.into_response(),
            }
        }
    }
}
