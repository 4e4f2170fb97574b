//! Request extractors that answer with problem+json: a strict JSON body and a typed query.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::Problem;
use crate::ledger::FieldErrors;

/// The largest JSON body we read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body: `application/json` only, at most [`MAX_BODY_BYTES`], unknown fields refused,
/// every error a problem naming the field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let content_type =
            request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "Send the body as JSON with Content-Type: application/json.",
            )
            .naming("content-type", "must be application/json"));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Payload too large",
                    format!("The body must be at most {MAX_BODY_BYTES} bytes."),
                )
                .naming("body", format!("must be at most {MAX_BODY_BYTES} bytes"))
            } else {
                let text = rejection.body_text();
                Problem::bad_request("unreadable-body", "Unreadable body", text.clone()).naming("body", text)
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, telling malformed JSON (400) from well-formed JSON with bad fields (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    // serde would read a struct from an array too; every body we take is an object.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(Problem::validation(&FieldErrors::single("body", "must be a JSON object")));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_problem(&path, error.into_inner())
    })?;
    deserializer.end().map_err(|error| json_problem(".", error))?;
    Ok(value)
}

fn json_problem(path: &str, error: serde_json::Error) -> Problem {
    let message = without_position(&error.to_string());
    match error.classify() {
        serde_json::error::Category::Data => {
            let (field, message) = field_and_message(path, &message);
            Problem::validation(&FieldErrors::single(field, message))
        }
        _ => Problem::bad_request(
            "malformed-json",
            "Malformed JSON",
            format!("The body is not valid JSON: {message}."),
        )
        .naming("body", format!("is not valid JSON: {message}")),
    }
}

/// serde's messages end in " at line 1 column 17": the field name says more to a client.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

fn field_and_message(path: &str, message: &str) -> (String, String) {
    let field = if path == "." { "body".to_owned() } else { path.to_owned() };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde_path_to_error already ends the path with the unknown field's name.
        let name = rest.split('`').next().unwrap_or(rest);
        let field = if path == "." { name.to_owned() } else { field };
        let allowed = message.split_once(", expected ").map_or("", |(_, allowed)| allowed).replace('`', "");
        return (field, format!("is not a known field; expected {allowed}"));
    }
    (field, message.replace('`', "\""))
}

/// A query string, refused with a problem naming the parameter when it does not parse.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or("");
        // Nothing a person types holds a control character (PostgreSQL cannot even compare a
        // NUL): refused here, naming the parameter, on both engines alike.
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| has_control(name) || has_control(value))
        {
            return Err(Problem::validation(&FieldErrors::single(
                name.into_owned(),
                "must not hold control characters",
            )));
        }
        let deserializer = serde_urlencoded_deserializer(query);
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|error| {
            let path = error.path().to_string();
            let (field, message) = field_and_message(&path, &error.into_inner().to_string());
            Problem::validation(&FieldErrors::single(field, message))
        })
    }
}

fn serde_urlencoded_deserializer(query: &str) -> serde_urlencoded::Deserializer<'_> {
    serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))
}

/// A path parameter. One that does not parse (an id too large or not a number) names
/// nothing that exists: 404, naming the parameter, as problem+json like every other refusal.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        use axum::extract::path::{ErrorKind, Path};
        use axum::extract::rejection::PathRejection;
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state).await.ok();
        if let Some((name, _)) = raw.as_ref().and_then(|raw| raw.iter().find(|(_, value)| has_control(value)))
        {
            return Err(Problem::not_found(name).naming(name, "does not name anything that can exist"));
        }
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let field = match &rejection {
                    PathRejection::FailedToDeserializePathParams(error) => match error.kind() {
                        ErrorKind::ParseErrorAtKey { key, .. }
                        | ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                        _ => "path".to_owned(),
                    },
                    _ => "path".to_owned(),
                };
                Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Not found",
                    format!("No such {field}: it does not name anything that can exist."),
                )
                .naming(&field, "does not name anything that can exist"))
            }
        }
    }
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}
