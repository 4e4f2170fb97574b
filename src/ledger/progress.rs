//! The progress document: a campaign's kept totals as the public progress bar reads them.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;

use super::campaign::{Branch, Campaign};
use super::matching::{MatchCounting, MatchOffer, MatchingProgress, matching_progress, pledged_minor};

/// A campaign's totals as kept beside the ledger, in minor units of the campaign currency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignTotals {
    pub gross_minor: i64,
    pub net_minor: i64,
    pub online_gross_minor: i64,
    pub online_net_minor: i64,
    pub offline_minor: i64,
    pub donations: i64,
    pub donors: i64,
    pub recurring_active: i64,
    pub recurring_monthly_minor: i64,
    pub updated_at: Option<DateTime<Utc>>,
    /// The campaign's match offers, with what each matched and was paid.
    pub matches: Vec<MatchOffer>,
}

impl CampaignTotals {
    /// Raised in the ledger, gross by default or net of processing fees when the campaign
    /// says so.
    pub fn raised_minor(&self, net_of_fees: bool) -> i64 {
        if net_of_fees { self.net_minor } else { self.gross_minor }
    }

    /// What the campaign counts as raised: the ledger's figure, and matched money not paid
    /// yet when the campaign counts matches as pledged.
    pub fn counted_minor(&self, campaign: &Campaign) -> i64 {
        let pledged = match campaign.count_matches {
            MatchCounting::Pledged => pledged_minor(&self.matches),
            MatchCounting::Paid => 0,
        };
        self.raised_minor(campaign.count_net_of_fees).saturating_add(pledged)
    }

    pub fn online_minor(&self, net_of_fees: bool) -> i64 {
        if net_of_fees { self.online_net_minor } else { self.online_gross_minor }
    }
}

/// A branch's kept totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchTotals {
    pub branch: Branch,
    pub gross_minor: i64,
    pub net_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub campaign: String,
    pub currency: &'static str,
    /// The goal in force: with stretch goals, the first not reached yet (the last once all are).
    pub goal: String,
    pub raised: String,
    /// Of the goal in force.
    pub percent: f64,
    pub donations: i64,
    pub donors: i64,
    /// Every goal, lowest first, with when the figures reached it (`null`: not yet, or being
    /// recorded, within seconds).
    pub goals: Vec<GoalProgress>,
    /// A number of donors to reach, beside the money.
    pub donor_goal: Option<i64>,
    /// Matching gifts: `null` without a match offer.
    pub matching: Option<MatchingProgress>,
    pub recurring: RecurringProgress,
    pub by_source: SourceProgress,
    pub branches: Vec<BranchProgress>,
    pub status: &'static str,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GoalProgress {
    pub amount: String,
    pub reached_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecurringProgress {
    pub active: i64,
    pub monthly: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SourceProgress {
    pub online: String,
    pub offline: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BranchProgress {
    pub slug: String,
    pub name: String,
    pub goal: Option<String>,
    pub raised: String,
}

impl Progress {
    pub fn new(campaign: &Campaign, totals: &CampaignTotals, branches: &[BranchTotals]) -> Self {
        let currency = campaign.currency;
        let net = campaign.count_net_of_fees;
        let raised = totals.counted_minor(campaign);
        let updated_at = totals.updated_at.map_or(campaign.updated_at, |at| at.max(campaign.updated_at));
        let goal = campaign.goal_in_force(raised);
        Progress {
            campaign: campaign.slug.to_string(),
            currency: currency.code(),
            goal: currency.format_minor(goal),
            raised: currency.format_minor(raised),
            percent: percent(raised, goal),
            donations: totals.donations,
            donors: totals.donors,
            goals: campaign
                .ladder()
                .iter()
                .map(|rung| GoalProgress {
                    amount: currency.format_minor(rung.amount_minor),
                    reached_at: rung.reached_at.map(timestamp),
                })
                .collect(),
            donor_goal: campaign.donor_goal,
            matching: matching_progress(&totals.matches, currency, campaign.count_matches, Utc::now()),
            recurring: RecurringProgress {
                active: totals.recurring_active,
                monthly: currency.format_minor(totals.recurring_monthly_minor),
            },
            by_source: SourceProgress {
                online: currency.format_minor(totals.online_minor(net)),
                offline: currency.format_minor(totals.offline_minor),
            },
            branches: branches
                .iter()
                .map(|row| BranchProgress {
                    slug: row.branch.slug.to_string(),
                    name: row.branch.name.clone(),
                    goal: row.branch.goal_minor.map(|goal| currency.format_minor(goal)),
                    raised: currency.format_minor(if net { row.net_minor } else { row.gross_minor }),
                })
                .collect(),
            status: campaign.status.as_str(),
            starts_at: campaign.starts_at.map(timestamp),
            ends_at: campaign.ends_at.map(timestamp),
            updated_at: timestamp(updated_at),
        }
    }
}

/// Raised as a percentage of the goal, to one decimal place; may pass 100.
pub fn percent(raised_minor: i64, goal_minor: i64) -> f64 {
    if goal_minor <= 0 {
        return 0.0;
    }
    let ratio = Decimal::from(raised_minor) * Decimal::ONE_HUNDRED / Decimal::from(goal_minor);
    ratio.round_dp(1).to_f64().unwrap_or(0.0)
}

/// The one way instants are written in JSON: RFC 3339 in UTC, to the second.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_rounded_to_one_place_and_may_pass_one_hundred() {
        assert_eq!(percent(9_000_000, 10_000_000), 90.0);
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(2, 3), 66.7);
        assert_eq!(percent(15_000, 10_000), 150.0);
        assert_eq!(percent(-500, 10_000), -5.0);
        assert_eq!(percent(0, 10_000), 0.0);
    }
}
