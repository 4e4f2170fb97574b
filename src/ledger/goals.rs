//! Stretch goals: a campaign's ladder of money goals. The goal in force is the first one not
//! yet reached; a reached one stays listed with when it was reached. A donor-count goal may
//! stand beside them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::money::{Currency, Money};
use super::validation::{AmountText, FieldErrors};

/// The most goals a ladder holds.
pub const MAX_GOALS: usize = 20;
/// The largest donor-count goal.
pub const MAX_DONOR_GOAL: i64 = 100_000_000;

/// One goal of a ladder, and when the campaign's figures reached it (`None`: not yet, or
/// not yet recorded by the background job, which does it within seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalRung {
    #[serde(rename = "amount")]
    pub amount_minor: i64,
    pub reached_at: Option<DateTime<Utc>>,
}

/// The goal in force given what was raised: the first goal neither reached before nor
/// reached now; past the last, the last.
pub fn goal_in_force(rungs: &[GoalRung], raised_minor: i64) -> i64 {
    rungs
        .iter()
        .find(|rung| rung.reached_at.is_none() && raised_minor < rung.amount_minor)
        .or(rungs.last())
        .map_or(0, |rung| rung.amount_minor)
}

/// The goals `raised_minor` has reached that are not recorded as reached yet.
pub fn newly_reached(rungs: &[GoalRung], raised_minor: i64) -> Vec<i64> {
    rungs
        .iter()
        .filter(|rung| rung.reached_at.is_none() && raised_minor >= rung.amount_minor)
        .map(|rung| rung.amount_minor)
        .collect()
}

/// A ladder as a client sends it (`"goals": ["100000.00", "120000.00"]`): at least one
/// positive amount, each above the one before, at most [`MAX_GOALS`]; errors name `goals[i]`.
pub fn parse_ladder(errors: &mut FieldErrors, texts: &[AmountText], currency: Currency) -> Option<Vec<i64>> {
    if texts.is_empty() {
        errors.add("goals", "must hold at least one goal");
        return None;
    }
    if texts.len() > MAX_GOALS {
        errors.add("goals", format!("must hold at most {MAX_GOALS} goals"));
        return None;
    }
    let mut amounts = Vec::with_capacity(texts.len());
    let mut fine = true;
    for (index, text) in texts.iter().enumerate() {
        let field = format!("goals[{index}]");
        match errors.check(&field, Money::parse_positive(&text.0, currency)) {
            Some(money) => {
                if amounts.last().is_some_and(|before| money.minor() <= *before) {
                    errors.add(field, "must be above the goal before it");
                    fine = false;
                }
                amounts.push(money.minor());
            }
            None => fine = false,
        }
    }
    fine.then_some(amounts)
}

/// The later goals after a change: those kept at the same amount keep when they were reached.
pub fn keep_reached(amounts: &[i64], before: &[GoalRung]) -> Vec<GoalRung> {
    amounts
        .iter()
        .map(|amount| GoalRung {
            amount_minor: *amount,
            reached_at: before
                .iter()
                .find(|rung| rung.amount_minor == *amount)
                .and_then(|rung| rung.reached_at),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung(amount_minor: i64, reached: bool) -> GoalRung {
        GoalRung { amount_minor, reached_at: reached.then(Utc::now) }
    }

    #[test]
    fn the_goal_in_force_is_the_first_not_reached() {
        let ladder = [rung(100, false), rung(120, false), rung(150, false)];
        assert_eq!(goal_in_force(&ladder, 0), 100);
        assert_eq!(goal_in_force(&ladder, 100), 120);
        assert_eq!(goal_in_force(&ladder, 130), 150, "one gift passing two goals");
        assert_eq!(goal_in_force(&ladder, 500), 150, "past the last, the last");
        assert_eq!(newly_reached(&ladder, 130), vec![100, 120]);
        // A refund below a goal reached before does not bring it back.
        let reached = [rung(100, true), rung(120, true), rung(150, false)];
        assert_eq!(goal_in_force(&reached, 90), 150);
        assert!(newly_reached(&reached, 90).is_empty());
        assert_eq!(goal_in_force(&[], 10), 0);
    }

    #[test]
    fn a_ladder_climbs_and_names_each_wrong_goal() {
        let cad = Currency::from_code("CAD").expect("CAD");
        let texts =
            |list: &[&str]| list.iter().map(|text| AmountText((*text).to_owned())).collect::<Vec<_>>();
        let mut errors = FieldErrors::new();
        assert_eq!(parse_ladder(&mut errors, &texts(&["100.00", "120"]), cad), Some(vec![10_000, 12_000]));
        assert!(errors.is_empty());
        let mut errors = FieldErrors::new();
        assert_eq!(parse_ladder(&mut errors, &texts(&["100.00", "90.00", "x"]), cad), None);
        assert_eq!(errors.as_map().keys().cloned().collect::<Vec<_>>(), vec!["goals[1]", "goals[2]"]);
        let mut errors = FieldErrors::new();
        assert_eq!(parse_ladder(&mut errors, &[], cad), None);
        assert!(errors.as_map().contains_key("goals"));
        let kept = keep_reached(&[12_000, 15_000], &[rung(12_000, true), rung(13_000, true)]);
        assert!(kept[0].reached_at.is_some() && kept[1].reached_at.is_none());
    }
}
