//! The sources report on the dashboard (`/admin/c/{slug}/sources`): what each `ref` brought
//! to the campaign, as a table and a bar a source.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{frame, page};
use crate::actions;
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::http::sources::SourcesBody;
use crate::web::i18n::catalog;

pub(super) async fn sources(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
) -> Response {
    let (campaign, figures) = match actions::campaign_sources(&state.store, &slug, &signed_in.actor).await {
        Ok(found) => found,
        Err(error) => return Problem::from(error).into_response(),
    };
    let body = SourcesBody::new(&campaign, &figures);
    let language = catalog().fallback();
    let largest = figures.iter().map(|row| row.raised_minor.max(0)).max().unwrap_or(0);
    let rows: Vec<serde_json::Value> = figures
        .iter()
        .zip(&body.sources)
        .map(|(row, shown)| {
            json!({
                "ref": shown.source_ref,
                "checkouts": shown.checkouts,
                "checkouts_paid": shown.checkouts_paid,
                "conversion": shown.conversion,
                "gifts": shown.gifts,
                "raised": language.money(row.raised_minor, campaign.currency),
                "donors": shown.donors,
                "subscriptions": shown.subscriptions,
                // The bar: a share of the largest, in whole percent.
                "bar": if largest > 0 { row.raised_minor.max(0) * 100 / largest } else { 0 },
            })
        })
        .collect();
    let context = json!({
        "frame": frame(&state, &signed_in, "Sources"),
        "campaign": {"slug": campaign.slug.as_str(), "title": campaign.title.get("en")},
        "branch": signed_in.actor.branch,
        "rows": rows,
    });
    page(StatusCode::OK, "admin_sources.html", context)
}
