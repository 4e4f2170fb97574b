//! `GET /api/v1/admin/exports/ledger`: the ledger as CSV, beancount or ledger, streamed.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::extract::ApiQuery;
use crate::access::Role;
use crate::export::{self, Export, ExportInput};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_ledger))
}

/// The ledger as a file for the accountant: CSV, beancount or ledger (hledger), streamed.
#[utoipa::path(get, path = "/api/v1/admin/exports/ledger", tag = "ledger", params(ExportInput),
    responses((status = 200, description = "The export, as a download (`Content-Disposition: attachment`)",
        content((String = "text/csv; charset=utf-8"), (String = "text/plain; charset=utf-8")))))]
async fn export_ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(input): ApiQuery<ExportInput>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let export =
        export::start(&state.store, input, state.timezone, &actor.scope(), state.export_stall).await?;
    Ok(download(export))
}

/// A file as the API and the dashboard serve it: its type, `attachment` (saved) or `inline`
/// (shown) under `name`, never kept by a cache.
pub fn file(body: impl IntoResponse, content_type: &'static str, disposition: &str, name: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An export as a file download, streamed as it is written.
pub fn download(export: Export) -> Response {
    let body = futures_util::stream::unfold(export.chunks, |mut chunks| async move {
        match chunks.recv().await {
            Some(Ok(text)) => Some((Ok::<_, std::io::Error>(Bytes::from(text)), chunks)),
            Some(Err(error)) => {
                // Headers are gone already: cut the download short so it cannot pass as whole.
                tracing::error!(%error, "the export failed part way");
                Some((Err(std::io::Error::other(error.to_string())), chunks))
            }
            None => None,
        }
    });
    file(Body::from_stream(body), export.format.content_type(), "attachment", &export.file_name)
}
