//! Server-rendered pages. For now the campaign list, as a placeholder for the real frontend.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use super::AppState;
use super::error::ApiResult;
use crate::ledger::progress::Progress;

const LAYOUT: &str = include_str!("../../web/layout.html");

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(campaign_list))
}

async fn campaign_list(State(state): State<AppState>) -> ApiResult<Html<String>> {
    let mut body = String::from("<h1>Campaigns</h1>\n");
    let campaigns = state.store.list_campaigns(false).await?;
    if campaigns.is_empty() {
        body.push_str("<p class=\"muted\">No campaign is open yet.</p>\n");
    }
    for campaign in &campaigns {
        let Some((campaign, totals, branches)) =
            state.store.campaign_progress(campaign.slug.as_str()).await?
        else {
            continue;
        };
        let progress = Progress::new(&campaign, &totals, &branches);
        let width = progress.percent.clamp(0.0, 100.0);
        body.push_str(&format!(
            "<section class=\"campaign\">\n<h2>{title}</h2>\n\
             <div class=\"bar\" role=\"progressbar\" aria-valuemin=\"0\" aria-valuemax=\"100\" aria-valuenow=\"{percent}\"><span style=\"width:{width}%\"></span></div>\n\
             <div class=\"figures\"><span><strong>{raised} {currency}</strong> raised of {goal}</span><span>{percent}%</span></div>\n\
             <p class=\"muted\">{donors} donors · <a href=\"/api/v1/campaigns/{slug}/progress\">progress JSON</a></p>\n</section>\n",
            title = escape_html(campaign.title.get("en")),
            percent = progress.percent,
            raised = escape_html(&progress.raised),
            currency = progress.currency,
            goal = escape_html(&progress.goal),
            donors = progress.donors,
            slug = escape_html(campaign.slug.as_str()),
        ));
    }
    Ok(Html(render("appeal", &body)))
}

fn render(title: &str, body: &str) -> String {
    LAYOUT.replace("{{title}}", &escape_html(title)).replace("{{body}}", body)
}

/// Escapes text for HTML element content and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
