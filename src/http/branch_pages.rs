//! `/c/{slug}/branches`: every branch of a campaign with its bar, the one that raised most
//! first, kept live like the campaign's page; and `/c/{slug}/b/{branch}`, the campaign's page
//! for one branch. Both may be framed on a branch's site.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::AppState;
use super::error::Problem;
use super::page_cache::PageKey;
use super::page_cache::{kept_page, page_version};
use super::pages::{CampaignPage, GiveForm, Lang, campaign_html, load_public, not_found_page, page_info};
use super::progress_view::progress_view;
use crate::web::templates;

pub(super) async fn branches(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    lang: Lang,
) -> Response {
    let key = PageKey { kind: "branches", slug: slug.clone(), lang: lang.language.code.clone() };
    let version = page_version(&state, &slug).await;
    kept_page(&state, &lang, key, version, None, async {
        let Ok(Some((campaign, totals, mut branches))) = load_public(&state, &slug).await else {
            return Err(not_found_page(&state, &lang));
        };
        // Ranked by what each raised (as the campaign counts it), then by name.
        let net = campaign.count_net_of_fees;
        branches.sort_by(|a, b| {
            let raised = |row: &crate::ledger::progress::BranchTotals| {
                if net { row.net_minor } else { row.gross_minor }
            };
            raised(b).cmp(&raised(a)).then_with(|| a.branch.name.cmp(&b.branch.name))
        });
        let language = lang.language;
        let title = campaign.title.get(&language.code).to_owned();
        let heading = format!("{title} · {}", language.t("progress.branches"));
        let mut page = page_info(&state, language, &heading, &format!("/c/{slug}/branches"));
        page.campaign_url = format!("{}/c/{}?lang={}", state.public_url, campaign.slug, language.code);
        let context = json!({
            "page": page,
            "t": language.strings(),
            "heading": heading,
            "progress": progress_view(language, &campaign, &totals, &branches, Utc::now()),
        });
        templates::render("branches.html", context).map_err(|error| Problem::internal(&error).into_response())
    })
    .await
}

/// `/c/{slug}/b/{branch}`: the campaign's page with the branch chosen in the form and its own
/// bar on top, for a branch's site or leaflet; it may be framed (its form opens Stripe in the
/// whole window). An unknown branch is a page not found.
pub(super) async fn branch_page(
    State(state): State<AppState>,
    Path((slug, branch)): Path<(String, String)>,
    lang: Lang,
    axum::extract::Query(link): axum::extract::Query<super::links::LinkQuery>,
) -> Response {
    let key = PageKey { kind: "branch", slug: format!("{slug}/{branch}"), lang: lang.language.code.clone() };
    let version = page_version(&state, &slug).await;
    let source_ref = link.source_ref();
    kept_page(&state, &lang, key, version, source_ref.as_deref(), async {
        let Ok(Some((campaign, totals, branches))) = load_public(&state, &slug).await else {
            return Err(not_found_page(&state, &lang));
        };
        if !branches.iter().any(|row| row.branch.slug.as_str() == branch) {
            return Err(not_found_page(&state, &lang));
        }
        let view = CampaignPage {
            lang: &lang,
            campaign,
            totals,
            branches,
            form: GiveForm::for_branch(&branch),
            errors: std::collections::BTreeMap::new(),
            notice: None,
            thanks: false,
            ask: None,
            focus: Some(branch.clone()),
            status: axum::http::StatusCode::OK,
        };
        campaign_html(&state, view).await
    })
    .await
}
