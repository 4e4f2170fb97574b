//! Annual statements on the dashboard (`/admin/statements`): the year's statements by
//! number (to whom, the total, what each replaces or was replaced by, whether its email
//! went), each as PDF, and a donor's statement previewed before it is issued. Issuing is
//! `appeal statements --year Y [--send]`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{frame, page};
use crate::actions::{self, ActionError};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::statements::number_text;
use crate::web::i18n::catalog;

#[derive(Debug, Default, Deserialize)]
pub(super) struct StatementsQuery {
    year: Option<String>,
    email: Option<String>,
}

fn pdf(bytes: Vec<u8>, name: &str) -> Response {
    crate::http::exports::file(bytes, "application/pdf", "inline", name)
}

/// The year asked for (last year by default, the one statements are made for in spring).
fn year_of(query: &StatementsQuery, zone: chrono_tz::Tz) -> Result<i32, ActionError> {
    let text = query.year.as_deref().map(str::trim).filter(|text| !text.is_empty());
    let year = match text {
        Some(text) => text.parse::<i32>().map_err(|_| {
            ActionError::Invalid(crate::ledger::FieldErrors::single(
                "year",
                format!("must be a year, not {text:?}"),
            ))
        })?,
        None => Utc::now().with_timezone(&zone).year() - 1,
    };
    actions::statement_year(year, zone)
}

pub(super) async fn statements(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<StatementsQuery>,
) -> Response {
    if signed_in.actor.branch.is_some() || !signed_in.actor.role.allows(crate::access::Role::Treasurer) {
        return Problem::forbidden(
            "Statements concern every branch: a treasurer of the whole organization sees them.",
        )
        .into_response();
    }
    let year = match year_of(&query, state.timezone) {
        Ok(year) => year,
        Err(error) => return Problem::from(error).into_response(),
    };
    let listed = match state.store.statements(year).await {
        Ok(listed) => listed,
        Err(error) => return Problem::from(error).into_response(),
    };
    let language = catalog().fallback();
    let rows: Vec<Value> = listed
        .iter()
        .map(|statement| {
            let total = language.money_sums(
                statement.body.totals.iter().map(|total| (total.currency.as_str(), total.total_minor)),
            );
            json!({
                "id": statement.id,
                "number": number_text(statement.year, statement.number),
                "name": statement.body.name,
                "email": statement.body.email,
                "total": total,
                "lines": statement.body.lines.len(),
                "locale": statement.locale,
                "issued_on": statement.issued_on.to_string(),
                "replaces": statement.replaces_number.map(|number| number_text(statement.year, number)),
                "replaced": statement.replaced_by.is_some(),
                "email_state": statement.email,
            })
        })
        .collect();
    let context = json!({
        "frame": frame(&state, &signed_in, "Annual statements"),
        "year": year,
        "rows": rows,
        "typed": {"email": query.email},
    });
    page(StatusCode::OK, "admin_statements.html", context)
}

pub(super) async fn statement_pdf(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Response {
    match actions::statement_document(&state.store, &state.site, id, &signed_in.actor).await {
        Ok((statement, bytes)) => {
            pdf(bytes, &format!("statement-{}.pdf", number_text(statement.year, statement.number)))
        }
        Err(error) => Problem::from(error).into_response(),
    }
}

pub(super) async fn preview(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<StatementsQuery>,
) -> Response {
    let year = match year_of(&query, state.timezone) {
        Ok(year) => year,
        Err(error) => return Problem::from(error).into_response(),
    };
    let Some(email) = query.email.as_deref().map(str::trim).filter(|email| !email.is_empty()) else {
        return Problem::validation(&crate::ledger::FieldErrors::single("email", "is required"))
            .into_response();
    };
    match actions::preview_statement(&state.store, &state.site, state.timezone, year, email, &signed_in.actor)
        .await
    {
        Ok(bytes) => pdf(bytes, &format!("statement-{year}-preview.pdf")),
        Err(error) => Problem::from(error).into_response(),
    }
}
