//! A progress block's figures written for one language: what the campaign page, the embed,
//! the branch pages and the home page show (and `campaign.js` keeps live from the stream).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::ledger::Campaign;
use crate::ledger::matching::{MatchCounting, MatchSums};
use crate::ledger::progress::{BranchTotals, CampaignTotals, Progress, percent};
use crate::web::i18n::Language;

/// A progress block's figures, written for one language.
#[derive(Debug, Serialize)]
pub(super) struct ProgressView {
    pub(super) raised: String,
    pub(super) raised_of: String,
    pub(super) bar_value: f64,
    pub(super) percent_text: String,
    pub(super) donors_text: String,
    pub(super) time_left: Option<String>,
    online: String,
    offline: String,
    recurring_text: Option<String>,
    /// Stretch goals, when there is more than one goal: each amount, and whether it is reached.
    goals: Vec<serde_json::Value>,
    donor_goal_text: Option<String>,
    /// Matching gifts: the bar's segment of matched money not yet paid, and a line saying
    /// where the offers stand.
    matching: Option<MatchingView>,
    pub(super) branches: Vec<BranchView>,
    json: String,
    i18n: String,
    stream_url: String,
}

#[derive(Debug, Serialize)]
pub(super) struct MatchingView {
    /// Where the segment starts and how wide it is, in thousandths of the bar.
    segment_x: i64,
    segment_width: i64,
    text: String,
}

#[derive(Debug, Serialize)]
pub(super) struct BranchView {
    pub(super) slug: String,
    name: String,
    raised_of: String,
    has_goal: bool,
    bar_value: f64,
    percent_text: String,
}

pub(super) fn progress_view(
    language: &Language,
    campaign: &Campaign,
    totals: &CampaignTotals,
    branches: &[BranchTotals],
    now: DateTime<Utc>,
) -> ProgressView {
    let currency = campaign.currency;
    let net = campaign.count_net_of_fees;
    let raised_minor = totals.counted_minor(campaign);
    let progress = Progress::new(campaign, totals, branches);
    let money = |minor: i64| language.money(minor, currency);
    let percent_text =
        |value: f64| language.fill("progress.percent", &[("percent", &language.percent(value))]);
    ProgressView {
        raised: money(raised_minor),
        raised_of: language
            .fill("progress.raised_of", &[("goal", &money(campaign.goal_in_force(raised_minor)))]),
        bar_value: progress.percent.clamp(0.0, 100.0),
        percent_text: percent_text(progress.percent),
        donors_text: language.plural("progress.donors", totals.donors, &[]),
        time_left: campaign.ends_at.map(|ends| time_left(language, ends, now)),
        online: money(totals.online_minor(net)),
        offline: money(totals.offline_minor),
        recurring_text: (totals.recurring_active > 0).then(|| {
            language.plural(
                "progress.recurring",
                totals.recurring_active,
                &[("monthly", &money(totals.recurring_monthly_minor))],
            )
        }),
        goals: if campaign.stretch_goals.is_empty() {
            Vec::new()
        } else {
            campaign
                .ladder()
                .iter()
                .map(|rung| {
                    let reached = rung.reached_at.is_some() || raised_minor >= rung.amount_minor;
                    json!({"amount": money(rung.amount_minor), "reached": reached})
                })
                .collect()
        },
        donor_goal_text: campaign
            .donor_goal
            .map(|goal| language.fill("progress.donor_goal", &[("goal", &goal.to_string())])),
        matching: progress.matching.is_some().then(|| {
            let sums = MatchSums::of(&totals.matches, now);
            let pledged = sums.pledged_minor;
            let goal = campaign.goal_in_force(raised_minor).max(1);
            // The gifts' part of the bar, then the matched money not yet paid after it (part of
            // `raised` when the campaign counts matches as pledged).
            let gifts = match campaign.count_matches {
                MatchCounting::Pledged => raised_minor - pledged,
                MatchCounting::Paid => raised_minor,
            };
            let thousandths =
                |minor: i64| (i128::from(minor) * 1000 / i128::from(goal)).clamp(0, 1000) as i64;
            let (start, end) = (thousandths(gifts), thousandths(gifts.saturating_add(pledged)));
            MatchingView {
                segment_x: start,
                segment_width: end - start,
                text: language.fill(
                    "progress.matching",
                    &[
                        ("matched", &money(sums.matched_minor)),
                        ("cap", &money(sums.cap_minor)),
                        ("remaining", &money(sums.remaining_minor)),
                    ],
                ),
            }
        }),
        branches: branches
            .iter()
            .map(|row| {
                let raised = if net { row.net_minor } else { row.gross_minor };
                let (raised_of, bar_value, text) = match row.branch.goal_minor {
                    Some(goal) => {
                        let value = percent(raised, goal);
                        let goal_text = language.fill("progress.raised_of", &[("goal", &money(goal))]);
                        (
                            format!("{} {goal_text}", money(raised)),
                            value.clamp(0.0, 100.0),
                            percent_text(value),
                        )
                    }
                    None => (money(raised), 0.0, String::new()),
                };
                BranchView {
                    slug: row.branch.slug.to_string(),
                    name: row.branch.name.clone(),
                    raised_of,
                    has_goal: row.branch.goal_minor.is_some(),
                    bar_value,
                    percent_text: text,
                }
            })
            .collect(),
        json: serde_json::to_string(&progress).unwrap_or_default(),
        i18n: language.for_scripts_in(currency).to_string(),
        stream_url: format!("/api/v1/campaigns/{}/progress/stream", campaign.slug),
    }
}

/// "12 days left", or hours on the last day, or "ended".
fn time_left(language: &Language, ends: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (ends - now).num_seconds();
    if seconds <= 0 {
        return language.t("progress.ended").to_owned();
    }
    let hours = (seconds + 3599) / 3600;
    if hours <= 24 {
        language.plural("progress.hours_left", hours, &[])
    } else {
        language.plural("progress.days_left", (seconds + 86_399) / 86_400, &[])
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use crate::web::i18n::catalog;

    use super::*;

    #[test]
    fn time_left_counts_days_then_hours() {
        let en = catalog().get("en").expect("English");
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().expect("a time");
        assert_eq!(time_left(en, now + chrono::Duration::days(12), now), "12 days left");
        assert_eq!(time_left(en, now + chrono::Duration::hours(5), now), "5 hours left");
        assert_eq!(time_left(en, now + chrono::Duration::minutes(30), now), "1 hour left");
        assert_eq!(time_left(en, now - chrono::Duration::minutes(1), now), "This campaign has ended");
    }
}
