//! The API's contract: an OpenAPI 3.1 document generated from the handlers' own types and
//! annotations (utoipa), served at `GET /api/v1/openapi.json` and read as a page at
//! `/api/docs`. Every `/api/v1` route is registered through `routes!`, so a route cannot
//! exist without its entry in the document.
//!
//! What every operation shares is written once, here, from what its extractors do: a JSON
//! body can be malformed (400), too large (413), of another type (415) or invalid (422); a
//! caller ([`super::auth::Caller`]) may be unknown (401) or lack the role (403); a path names
//! something that may not exist (404); a write may conflict (409).

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::Problem;

/// The operations' groups, in the order the page shows them.
pub const TAGS: [(&str, &str); 9] = [
    ("campaigns", "Public reads: campaigns and their live progress (CORS open)."),
    ("giving", "A supporter's gift: starting a Stripe Checkout, and Stripe's events."),
    (
        "campaign admin",
        "Creating and changing campaigns (admins), and what each source brought to one (viewers).",
    ),
    ("ledger", "Offline money, deposits, reversals, refunds and the entry list (treasurers)."),
    ("stripe review", "Subscriptions, payouts and what Stripe reported that needs a look."),
    ("webhooks", "Outgoing webhooks: endpoints, their delivery log and replays (admins)."),
    ("rates", "Exchange rates, kept and sourced: given by treasurers or imported from the ECB."),
    (
        "appeals",
        "Appeals: campaigns of this instance and of other sections' instances, one total in one currency (progress reads CORS open).",
    ),
    ("operations", "Health, readiness, metrics and this contract."),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "appeal",
        description = "Donations and fundraising campaigns: one append-only ledger, live progress, \
                       Stripe giving. Amounts are decimal strings in the campaign's currency; every \
                       error is an RFC 9457 problem (`application/problem+json`) whose `errors` \
                       names each bad field.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    components(schemas(Problem))
)]
struct Contract;

/// The path parameter naming a campaign.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CampaignSlug {
    /// The campaign's slug, as in its address (`/c/{slug}`).
    #[allow(dead_code)]
    slug: String,
}

/// The path parameter naming a ledger entry, a deposit, an endpoint or a flag by number.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct Id {
    #[allow(dead_code)]
    id: i64,
}

/// The path parameter naming a Stripe object (`sub_…`, `po_…`, `evt_…`).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StripeId {
    /// Stripe's identifier.
    #[allow(dead_code)]
    id: String,
}

/// Every documented route of the API, with its part of the document.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Contract::openapi())
        .merge(super::public::router())
        .merge(super::public::health_router())
        .merge(super::checkout::router())
        .merge(super::webhook::router())
        .merge(super::admin::router())
        .merge(super::sources::router())
        .merge(super::recurring::router())
        .merge(super::matching::router())
        .merge(super::exports::router())
        .merge(super::stripe_review::router())
        .merge(super::outgoing_webhooks::router())
        .merge(super::rates::router())
        .merge(super::appeals::router())
        .routes(routes!(openapi_json))
}

/// The finished document, built once.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let (_, openapi) = api_routes().split_for_parts();
    finish(serde_json::to_value(openapi).unwrap_or_default())
});

static DOCUMENT_TEXT: LazyLock<String> = LazyLock::new(|| DOCUMENT.to_string());

/// This document: the API's contract as OpenAPI 3.1.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    let mut response = DOCUMENT_TEXT.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// The reusable answers every operation refers to.
fn problem_responses() -> Value {
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    let mut unauthorized = problem("No valid API token or session.");
    unauthorized["headers"] =
        json!({"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}});
    let mut limited =
        problem("Too many attempts from this address or e-mail; `Retry-After` says when to retry.");
    limited["headers"] =
        json!({"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}});
    let mut unavailable =
        problem("The database, Stripe or this instance is not available now; retry shortly.");
    unavailable["headers"] =
        json!({"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait, when known"}});
    json!({
        "BadRequest": problem("The body is not valid JSON, or a signature does not verify."),
        "Unauthorized": unauthorized,
        "Forbidden": problem("The caller's role or branch does not cover this, or a signed-in write lacks X-CSRF-Token."),
        "NotFound": problem("No such campaign, entry or object."),
        "Conflict": problem("It clashes with what is recorded (a slug taken, an Idempotency-Key reused with another body, a duplicate deposit); `errors` names the field."),
        "PayloadTooLarge": problem("The body is larger than this endpoint reads."),
        "UnsupportedMediaType": problem("The body is not of the content type this endpoint reads."),
        "Invalid": problem("Some fields or parameters are not valid; `errors` names each one."),
        "TooManyRequests": limited,
        "BadGateway": problem("Stripe refused the request or could not be reached."),
        "Unavailable": unavailable,
    })
}

/// Adds what the extractors share to every operation: its errors and who may call it.
fn finish(mut document: Value) -> Value {
    document["openapi"] = json!("3.1.0");
    document["servers"] = json!([{"url": "/", "description": "This instance"}]);
    document["tags"] =
        TAGS.iter().map(|(name, description)| json!({"name": name, "description": description})).collect();
    let components = document["components"].as_object_mut().map(std::mem::take).unwrap_or_default();
    let mut components = Value::Object(components);
    components["responses"] = problem_responses();
    components["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "An API token (`appeal token create`, or People on the dashboard)."},
        "session": {"type": "apiKey", "in": "cookie", "name": "appeal_session",
                    "description": "A signed-in person's session (`__Host-appeal_session` on https)."},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                 "description": "The session's CSRF token, needed with the session on every write."},
        "stripe_signature": {"type": "apiKey", "in": "header", "name": "Stripe-Signature",
                             "description": "Stripe's signature of the raw body with the endpoint's secret."},
    });
    document["components"] = components;
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for (method, operation) in item.iter_mut() {
                complete_operation(path, method, operation);
            }
        }
    }
    document
}

fn complete_operation(path: &str, method: &str, operation: &mut Value) {
    let write = method != "get" && method != "head";
    let admin = path.starts_with("/api/v1/admin/");
    let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
    let has = |place: &str| parameters.iter().any(|parameter| parameter["in"] == place);
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if operation.get("requestBody").is_some() {
        errors.extend([("400", "BadRequest"), ("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
        errors.push(("422", "Invalid"));
    }
    if has("query") || has("header") {
        errors.push(("422", "Invalid"));
    }
    if has("path") {
        errors.push(("404", "NotFound"));
    }
    if admin {
        errors.extend([("401", "Unauthorized"), ("403", "Forbidden")]);
        operation["security"] = if write {
            json!([{"bearer": []}, {"session": [], "csrf": []}])
        } else {
            json!([{"bearer": []}, {"session": []}])
        };
        if write {
            errors.push(("409", "Conflict"));
        }
    }
    if path == "/api/v1/stripe/webhook" {
        operation["security"] = json!([{"stripe_signature": []}]);
        errors.push(("400", "BadRequest"));
    }
    // Everything but the process's own probes reads the database.
    if !matches!(path, "/healthz" | "/metrics" | "/api/v1/openapi.json") {
        errors.push(("503", "Unavailable"));
    }
    let responses = operation["responses"].as_object_mut();
    let Some(responses) = responses else { return };
    for (status, name) in errors {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
    }
}

/// `/api/docs`: the contract as a page, rendered here (no script, no CDN).
pub async fn docs_page(State(state): State<AppState>) -> Response {
    let context = json!({
        "organization": state.site.organization,
        "title": DOCUMENT["info"]["title"],
        "version": DOCUMENT["info"]["version"],
        "description": rich(&DOCUMENT["info"]["description"]),
        "groups": docs_groups(&DOCUMENT),
        "schemas": docs_schemas(&DOCUMENT),
        "schema_names": DOCUMENT["components"]["schemas"].as_object().map(|map| map.keys().cloned().collect::<Vec<_>>()),
    });
    match crate::web::templates::render("api_docs.html", context) {
        Ok(html) => Html(html).into_response(),
        Err(error) => Problem::internal(&error).into_response(),
    }
}

/// The operations by tag, each with what a reader needs to call it.
fn docs_groups(document: &Value) -> Vec<Value> {
    let empty = Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    TAGS.iter()
        .map(|(tag, description)| {
            let mut operations = Vec::new();
            for (path, item) in paths {
                for (method, operation) in item.as_object().unwrap_or(&empty) {
                    if operation["tags"].as_array().is_some_and(|tags| tags.iter().any(|t| t == tag)) {
                        operations.push(docs_operation(document, path, method, operation));
                    }
                }
            }
            json!({"name": tag, "description": description, "operations": operations})
        })
        .collect()
}

fn docs_operation(document: &Value, path: &str, method: &str, operation: &Value) -> Value {
    let parameters: Vec<Value> = operation["parameters"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|parameter| {
                    json!({
                        "name": parameter["name"],
                        "in": parameter["in"],
                        "required": parameter["required"].as_bool().unwrap_or(false),
                        "type": type_text(&parameter["schema"]),
                        "description": rich(&parameter["description"]),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let body = operation["requestBody"]["content"].as_object().and_then(|content| {
        content.iter().next().map(|(media, spec)| {
            json!({
                "media": media,
                "type": type_text(&spec["schema"]),
                "example": example_of(document, &spec["schema"]),
            })
        })
    });
    let responses: Vec<Value> = operation["responses"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(status, response)| {
                    let response = resolve(document, response);
                    let content = response["content"].as_object().and_then(|content| content.iter().next());
                    json!({
                        "status": status,
                        "description": rich(&response["description"]),
                        "media": content.map(|(media, _)| media.clone()),
                        "type": content.map(|(_, spec)| type_text(&spec["schema"])),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let security: Vec<String> = operation["security"]
        .as_array()
        .map(|alternatives| {
            alternatives
                .iter()
                .filter_map(Value::as_object)
                .map(|schemes| {
                    let named = |scheme: &str| match scheme {
                        "bearer" => "an API token",
                        "session" => "a signed-in session",
                        "csrf" => "X-CSRF-Token",
                        _ => "Stripe's signature",
                    };
                    // The session first, then its CSRF header.
                    let mut names: Vec<&str> = schemes.keys().map(|scheme| named(scheme)).collect();
                    names.sort_by_key(|name| name.starts_with('X'));
                    names.join(" with ")
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "anchor": format!("{method}-{}", path.replace(['/', '{', '}', '.'], "-")),
        "method": method.to_uppercase(),
        "path": path,
        "summary": rich(&operation["summary"]),
        "description": rich(&operation["description"]),
        "parameters": parameters,
        "body": body,
        "responses": responses,
        "security": security,
    })
}

/// A schema's first example, as indented JSON (a `$ref` followed).
fn example_of(document: &Value, schema: &Value) -> Option<String> {
    let schema = resolve(document, schema);
    let example = schema["examples"].as_array().and_then(|examples| examples.first())?;
    serde_json::to_string_pretty(example).ok()
}

/// A description as HTML: escaped, with `code` spans (the page marks it safe).
fn rich(text: &Value) -> Option<String> {
    let text = text.as_str().filter(|text| !text.is_empty())?;
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut html = String::with_capacity(escaped.len());
    for (index, piece) in escaped.split('`').enumerate() {
        if index % 2 == 1 {
            html.push_str("<code>");
            html.push_str(piece);
            html.push_str("</code>");
        } else {
            html.push_str(piece);
        }
    }
    Some(html)
}

/// A `$ref` to a reusable response, followed.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|reference| reference.strip_prefix("#/")) {
        Some(pointer) => document.pointer(&format!("/{pointer}")).unwrap_or(value),
        None => value,
    }
}

/// A schema in a few words: `string`, `integer | null`, `array of EntryBody`, `EntryBody`.
fn type_text(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(choices) = schema[combinator].as_array() {
            let joiner = if combinator == "allOf" { " & " } else { " | " };
            return choices.iter().map(type_text).collect::<Vec<_>>().join(joiner);
        }
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
        _ => "any".to_owned(),
    };
    if kind.starts_with("array") {
        return kind.replacen("array", &format!("array of {}", type_text(&schema["items"])), 1);
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|value| value.to_string()).collect();
        return format!("{kind}: {}", values.join(", "));
    }
    kind
}

/// Every named schema with its fields.
fn docs_schemas(document: &Value) -> Vec<Value> {
    let empty = Map::new();
    document["components"]["schemas"]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(name, schema)| {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fields: Vec<Value> = schema["properties"]
                .as_object()
                .map(|properties| {
                    properties
                        .iter()
                        .map(|(field, spec)| {
                            json!({
                                "name": field,
                                "type": type_text(spec),
                                "required": required.contains(&field.as_str()),
                                "description": rich(&spec["description"]),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "name": name,
                "description": rich(&schema["description"]),
                "example": example_of(document, schema),
                "type": if fields.is_empty() { type_text(schema) } else { String::new() },
                "fields": fields,
                "closed": schema["additionalProperties"] == false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_tag_an_answer_and_its_errors() {
        let paths = DOCUMENT["paths"].as_object().expect("paths");
        assert!(paths.len() >= 30, "{} paths", paths.len());
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("an item") {
                let id = operation["operationId"].as_str().expect("an operationId");
                assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
                let tags = operation["tags"].as_array().expect("tags");
                assert!(tags.iter().all(|tag| TAGS.iter().any(|(name, _)| tag == name)), "{method} {path}");
                assert!(operation["responses"].as_object().is_some_and(|map| !map.is_empty()));
                if path.starts_with("/api/v1/admin/") {
                    assert!(operation["responses"]["401"].is_object(), "{method} {path}");
                    assert!(operation["security"].is_array(), "{method} {path}");
                }
            }
        }
        assert!(DOCUMENT["paths"]["/api/v1/campaigns/{slug}/progress"]["get"].is_object());
    }
}
