//! People and API tokens, managed by admins in the dashboard: invite someone (a one-time link
//! to set their password, shown once and e-mailed), disable and enable, send a password reset;
//! create and revoke tokens. Every change is in the audit log (by the actions it calls).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fields::{Place, labelled, words};
use super::notice::{redirect_with_notice, spent, take_notice};
use super::{form, frame, minute, page, refuse_unless_admin};
use crate::access::Role;
use crate::actions::{self, ActionError, PasswordLink, PersonChange};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::store::TokenClosed;

/// What the page shows once besides the lists: a link or token made now, errors, typed input.
#[derive(Debug, Default)]
struct Once {
    link: Option<Value>,
    token: Option<Value>,
    errors: BTreeMap<String, String>,
    /// The form refused: "invite" or "token".
    form: &'static str,
    typed: Value,
}

/// Where a refused form's message goes: the field's label and input on that form.
fn place(form: &str, field: &str) -> Place {
    let found = match (form, field) {
        (_, "form") => return Place::form(),
        ("invite", "email") => ("E-mail", "invite-email"),
        ("invite", "role") => ("Role", "invite-role"),
        ("invite", "branch") => ("Branch", "invite-branch"),
        ("token", "name") => ("Name", "token-name"),
        ("token", "role") => ("Role", "token-role"),
        ("token", "expires_in") => ("Works for", "token-expires"),
        _ => return Place { label: words(field), input: None },
    };
    Place::at(found.0, found.1)
}

async fn render_people(
    state: &AppState,
    signed_in: &SignedIn,
    notice: Option<String>,
    once: Once,
    status: StatusCode,
) -> Response {
    let people = match actions::list_users(&state.store).await {
        Ok(people) => people,
        Err(error) => return Problem::from(error).into_response(),
    };
    let tokens = match actions::list_tokens(&state.store).await {
        Ok(tokens) => tokens,
        Err(error) => return Problem::from(error).into_response(),
    };
    let now = Utc::now();
    let people: Vec<Value> = people
        .iter()
        .map(|person| {
            json!({"id": person.id, "email": person.email, "role": person.role, "branch": person.branch,
                   "added": minute(state, person.created_at), "disabled": person.disabled_at.map(|at| minute(state, at)),
                   "me": person.id == signed_in.user_id})
        })
        .collect();
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|token| {
            let status = match token.closed(now) {
                None => "active".to_owned(),
                Some(TokenClosed::Expired(at)) => format!("expired {}", minute(state, at)),
                Some(TokenClosed::Revoked(at)) => format!("revoked {}", minute(state, at)),
            };
            json!({"name": token.name, "role": token.role, "created": minute(state, token.created_at),
                   "expires": token.expires_at.map(|at| minute(state, at)), "status": status,
                   "open": token.closed(now).is_none()})
        })
        .collect();
    let refusal = labelled(&once.errors, |field| place(once.form, field));
    let context = json!({
        "frame": frame(state, signed_in, "People and tokens"),
        "notice": notice,
        "people": people,
        "tokens": tokens,
        "link": once.link,
        "token": once.token,
        "errors": refusal["summary"],
        "beside": refusal["beside"],
        "typed": once.typed,
        "roles": ["viewer", "treasurer", "admin"],
    });
    page(status, "admin_people.html", context)
}

pub(super) async fn people(
    State(state): State<AppState>,
    signed_in: SignedIn,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(refused) = refuse_unless_admin(&signed_in, "People and tokens are managed by admins.") {
        return refused;
    }
    let notice = take_notice(&headers, &signed_in);
    let shown = notice.is_some();
    let response = render_people(&state, &signed_in, notice, Once::default(), StatusCode::OK).await;
    spent(&state, shown, response)
}

/// Sends the link by e-mail too; the page shows it either way (mail may not be set up).
async fn send_link(state: &AppState, link: &PasswordLink, invited: bool) -> Value {
    let url = format!("{}/admin/welcome/{}", state.public_url, link.token);
    let (subject, opening) = if invited {
        (
            format!("You are invited to {}'s treasury", state.site.organization),
            "You are invited to the treasury dashboard.",
        )
    } else {
        (
            format!("Set a new password for {}'s treasury", state.site.organization),
            "An admin sent you a link to set a new password.",
        )
    };
    let until = link.expires_at.with_timezone(&state.timezone).format("%Y-%m-%d %H:%M %Z");
    let body = format!(
        "{opening}\n\nFollow this link to choose your password (it works once, until {until}):\n\n{url}\n\n{}",
        state.site.organization
    );
    let sent = state.mailer.send(&link.email, &subject, &body).await;
    if let Err(error) = &sent {
        tracing::error!(%error, "the password link could not be sent");
    }
    json!({"email": link.email, "url": url, "until": until.to_string(), "sent": sent.is_ok(), "invited": invited})
}

#[derive(Debug, Default, Deserialize)]
struct InviteForm {
    csrf: Option<String>,
    email: Option<String>,
    role: Option<String>,
    branch: Option<String>,
}

pub(super) async fn invite(State(state): State<AppState>, signed_in: SignedIn, body: Bytes) -> Response {
    let submitted: InviteForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let email = submitted.email.clone().unwrap_or_default();
    let role = submitted.role.clone().unwrap_or_default();
    match actions::invite_user(&state.store, &email, &role, submitted.branch.as_deref(), &signed_in.actor)
        .await
    {
        Ok(link) => {
            let link = send_link(&state, &link, true).await;
            let once = Once { link: Some(link), ..Once::default() };
            render_people(&state, &signed_in, None, once, StatusCode::OK).await
        }
        Err(error) => {
            refused(
                &state,
                &signed_in,
                error,
                "invite",
                json!({"email": email, "role": role, "branch": submitted.branch}),
            )
            .await
        }
    }
}

/// A refusal beside the form, what was typed kept; a problem page for anything else.
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    error: ActionError,
    form: &'static str,
    typed: Value,
) -> Response {
    match super::fields::refusal(error) {
        Ok((status, errors)) => {
            let once = Once { errors, form, typed, ..Once::default() };
            render_people(state, signed_in, None, once, status).await
        }
        Err(problem) => problem.into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct PersonForm {
    csrf: Option<String>,
}

/// Disable, enable or reset the password of one person.
pub(super) async fn change_person(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path((id, what)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let submitted: PersonForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let Ok(Some(person)) = state.store.user_by_id(id).await else {
        return Problem::not_found("person").into_response();
    };
    let change = match what.as_str() {
        "disable" if id == signed_in.user_id => {
            let error = ActionError::Conflict {
                field: "person".to_owned(),
                message: "cannot disable yourself".to_owned(),
            };
            return refused(&state, &signed_in, error, "person", Value::Null).await;
        }
        "disable" => PersonChange::Disable,
        "enable" => PersonChange::Enable,
        "reset" => {
            return match actions::reset_password_link(&state.store, &person.email, &signed_in.actor).await {
                Ok(link) => {
                    let link = send_link(&state, &link, false).await;
                    render_people(
                        &state,
                        &signed_in,
                        None,
                        Once { link: Some(link), ..Once::default() },
                        StatusCode::OK,
                    )
                    .await
                }
                Err(error) => refused(&state, &signed_in, error, "person", Value::Null).await,
            };
        }
        _ => return Problem::not_found("action").into_response(),
    };
    match actions::change_person(&state.store, &person.email, change, &signed_in.actor).await {
        Ok(_) => {
            let done = if change == PersonChange::Disable {
                "disabled; their sessions have ended"
            } else {
                "enabled"
            };
            redirect_with_notice(&state, &signed_in, "/admin/people", &format!("{} is {done}.", person.email))
        }
        Err(error) => refused(&state, &signed_in, error, "person", Value::Null).await,
    }
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
    /// "", or a duration such as 90d.
    expires_in: Option<String>,
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    signed_in: SignedIn,
    body: Bytes,
) -> Response {
    let submitted: TokenForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let name = submitted.name.clone().unwrap_or_default();
    let role = submitted.role.clone().unwrap_or_default();
    let expires_in = submitted.expires_in.as_deref().map(str::trim).filter(|text| !text.is_empty());
    match actions::create_token(&state.store, &name, &role, expires_in, &signed_in.actor).await {
        Ok(created) => {
            let token = json!({"name": name.trim(), "token": created.token,
                               "expires": created.expires_at.map(|at| minute(&state, at))});
            render_people(
                &state,
                &signed_in,
                None,
                Once { token: Some(token), ..Once::default() },
                StatusCode::OK,
            )
            .await
        }
        Err(error) => {
            let typed = json!({"token_name": name, "token_role": role, "expires_in": submitted.expires_in});
            refused(&state, &signed_in, error, "token", typed).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct RevokeForm {
    csrf: Option<String>,
    name: Option<String>,
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    signed_in: SignedIn,
    body: Bytes,
) -> Response {
    let submitted: RevokeForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let name = submitted.name.unwrap_or_default();
    match actions::revoke_token(&state.store, &name, &signed_in.actor).await {
        Ok(_) => redirect_with_notice(
            &state,
            &signed_in,
            "/admin/people",
            &format!("The token \"{name}\" is revoked."),
        ),
        Err(error) => refused(&state, &signed_in, error, "person", Value::Null).await,
    }
}

#[derive(Debug, Default, Deserialize)]
struct WelcomeForm {
    password: Option<String>,
    confirm: Option<String>,
}

/// The page a one-time link opens: choose a password. No session is needed: the link's
/// token, which only its holder has, is the proof.
pub(super) async fn welcome(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match actions::password_link_holder(&state.store, &token).await {
        Ok(Some(person)) => welcome_page(&state, &token, Some(&person.email), None, StatusCode::OK),
        Ok(None) => welcome_page(&state, &token, None, None, StatusCode::NOT_FOUND),
        Err(error) => Problem::from(error).into_response(),
    }
}

pub(super) async fn set_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: WelcomeForm = form(&body);
    let password = submitted.password.unwrap_or_default();
    let confirm = submitted.confirm.unwrap_or_default();
    let holder = match actions::password_link_holder(&state.store, &token).await {
        Ok(holder) => holder,
        Err(error) => return Problem::from(error).into_response(),
    };
    let Some(person) = holder else {
        return welcome_page(&state, &token, None, None, StatusCode::NOT_FOUND);
    };
    if let Err(errors) = actions::check_password_pair(&password, &confirm) {
        let message: Vec<String> = errors
            .iter()
            .map(|(field, message)| {
                let label = if field == "confirm" { "The confirmation" } else { "The password" };
                format!("{label} {message}.")
            })
            .collect();
        return welcome_page(
            &state,
            &token,
            Some(&person.email),
            Some(&message.join(" ")),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let hash = match state.password_work(move || crate::access::hash_password(&password)).await {
        Ok(hash) => hash,
        Err(problem) => return problem.into_response(),
    };
    match actions::set_password_by_link(&state.store, &token, &hash).await {
        Ok(_) => page(
            StatusCode::OK,
            "admin_welcome.html",
            json!({"organization": state.site.organization, "done": true, "email": person.email}),
        ),
        Err(ActionError::NotFound(_) | ActionError::Conflict { .. }) => {
            welcome_page(&state, &token, None, None, StatusCode::NOT_FOUND)
        }
        Err(error) => Problem::from(error).into_response(),
    }
}

fn welcome_page(
    state: &AppState,
    token: &str,
    email: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    page(
        status,
        "admin_welcome.html",
        json!({"organization": state.site.organization, "token": token, "email": email, "error": error}),
    )
}
