//! What other sites put on their pages: the bare bar to frame (`/embed/{slug}`) and the
//! `<appeal-progress>` element's script (`/embed.js`, built once for this server's address).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::AppState;
use super::error::Problem;
use super::page_cache::{PageKey, kept_page, page_version};
use super::pages::{Lang, load_public, not_found_page, page_info};
use super::progress_view::progress_view;
use crate::web::i18n::{catalog, currencies_for_scripts};
use crate::web::{self, templates};

pub(super) async fn embed_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
    axum::extract::Query(link): axum::extract::Query<super::links::LinkQuery>,
) -> Response {
    let key = PageKey { kind: "embed", slug: slug.clone(), lang: lang.language.code.clone() };
    let version = page_version(&state, &slug).await;
    let source_ref = link.source_ref();
    kept_page(&state, &lang, key, version, source_ref.as_deref(), async {
        let Ok(Some((campaign, totals, branches))) = load_public(&state, &slug).await else {
            return Err(not_found_page(&state, &lang));
        };
        let language = lang.language;
        let title = campaign.title.get(&language.code).to_owned();
        let mut page = page_info(&state, language, &title, &format!("/embed/{slug}"));
        page.campaign_url = format!("{}/c/{}?lang={}", state.public_url, campaign.slug, language.code);
        let context = json!({
            "page": page,
            "t": language.strings(),
            "progress": progress_view(language, &campaign, &totals, &branches, Utc::now()),
        });
        templates::render("embed.html", context).map_err(|error| Problem::internal(&error).into_response())
    })
    .await
}

/// `/embed.js`: format.js and the widget, wrapped so nothing leaks into the host page.
/// Built once at start-up, for this server's public address.
pub fn embed_script(public_url: &str) -> String {
    let languages: serde_json::Map<String, serde_json::Value> = catalog()
        .languages()
        .iter()
        .map(|language| (language.code.clone(), language.for_scripts()))
        .collect();
    let text = |path: &str| {
        web::file(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
    };
    format!(
        "(function () {{\n\"use strict\";\nvar ORIGIN = {origin};\nvar LANGUAGES = {languages};\nvar CURRENCIES = {currencies};\n{format}\n{element}\n}})();\n",
        origin = serde_json::Value::from(public_url),
        languages = serde_json::Value::Object(languages),
        currencies = currencies_for_scripts(),
        format = text("static/format.js"),
        element = text("static/embed-element.js"),
    )
}

pub(super) async fn serve_embed_script(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        ],
        state.embed_script.as_str().to_owned(),
    )
        .into_response()
}
