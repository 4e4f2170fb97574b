//! Annual statements: one consolidated statement a donor for a calendar year (in the
//! organization's time zone), their gifts with refunds and other reversals deducted, as
//! issued. Pure: the year's entries come in, what to issue comes out.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::campaign::Localized;

/// One entry of the year, as a statement reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YearEntry {
    pub id: i64,
    pub donor_key: String,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    /// A gift (`true`) or a reversal of one (refund, dispute, adjustment).
    pub gift: bool,
    pub recurring: bool,
    pub amount_minor: i64,
    pub currency: String,
    /// The day it was received, in the organization's time zone.
    pub day: NaiveDate,
    pub campaign_title: Localized,
}

/// What a line is: a one-off gift, an installment of a recurring gift, or money given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Gift,
    Installment,
    Deducted,
    /// Money given back after a reversal (a refund that failed, a dispute won).
    Restored,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// The ledger entry.
    pub entry: i64,
    pub date: NaiveDate,
    pub campaign: String,
    pub kind: LineKind,
    pub amount_minor: i64,
    pub currency: String,
}

/// A currency's sums: the gifts, what was deducted (a negative amount), and the total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementTotal {
    pub currency: String,
    pub gifts_minor: i64,
    pub deducted_minor: i64,
    pub total_minor: i64,
}

/// What a statement says, kept as issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub lines: Vec<StatementLine>,
    pub totals: Vec<StatementTotal>,
}

impl StatementBody {
    /// Whom it is made out to: their name, else their email.
    pub fn addressee(&self) -> Option<&str> {
        self.name.as_deref().or(self.email.as_deref())
    }

    /// Whether `other` says the same: the same donor, lines (but for the campaigns' titles,
    /// which a statement keeps as they were) and totals.
    pub fn says_the_same(&self, other: &StatementBody) -> bool {
        let lines = |body: &StatementBody| -> Vec<(i64, NaiveDate, LineKind, i64, String)> {
            body.lines.iter().map(|l| (l.entry, l.date, l.kind, l.amount_minor, l.currency.clone())).collect()
        };
        self.name == other.name
            && self.email == other.email
            && self.totals == other.totals
            && lines(self) == lines(other)
    }

    /// Whether any currency's total is above zero.
    pub fn gives_anything(&self) -> bool {
        self.totals.iter().any(|total| total.total_minor > 0)
    }
}

/// One donor's statement before it is issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub donor_key: String,
    pub locale: String,
    pub body: StatementBody,
}

/// What to do for one donor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No statement yet: issue one.
    Issue(Draft),
    /// The one issued (its id) no longer says what the ledger says: issue a replacement.
    Replace(Draft, i64),
    /// The one issued still holds.
    Unchanged(i64),
}

/// The year's statements, a donor each (donors with neither email nor name have none), lines
/// by date, in the language `kept` gives their key (a statement in force keeps its own), else
/// the one `locale_of` gives their email, else `fallback`; in the order of whom they are made
/// out to (numbers follow it: keys name no one, and would number them at random).
pub fn drafts(
    entries: &[YearEntry],
    locale_of: &HashMap<String, String>,
    kept: &HashMap<String, String>,
    fallback: &str,
) -> Vec<Draft> {
    let mut by_donor: BTreeMap<&str, Vec<&YearEntry>> = BTreeMap::new();
    for entry in entries {
        if entry.donor_key.starts_with("unnamed:") {
            continue;
        }
        by_donor.entry(entry.donor_key.as_str()).or_default().push(entry);
    }
    let mut drafts = by_donor
        .into_iter()
        .map(|(key, mut entries)| {
            entries.sort_by_key(|entry| (entry.day, entry.id));
            // The name and email they gave last.
            let name = entries.iter().rev().find_map(|entry| entry.donor_name.clone());
            let email = entries.iter().rev().find_map(|entry| entry.donor_email.clone());
            let locale = kept
                .get(key)
                .or_else(|| email.as_ref().and_then(|email| locale_of.get(&email.to_lowercase())))
                .cloned()
                .unwrap_or_else(|| fallback.to_owned());
            let mut totals: BTreeMap<&str, StatementTotal> = BTreeMap::new();
            let lines = entries
                .iter()
                .map(|entry| {
                    let total = totals.entry(entry.currency.as_str()).or_insert_with(|| StatementTotal {
                        currency: entry.currency.clone(),
                        gifts_minor: 0,
                        deducted_minor: 0,
                        total_minor: 0,
                    });
                    if entry.gift {
                        total.gifts_minor += entry.amount_minor;
                    } else {
                        total.deducted_minor += entry.amount_minor;
                    }
                    total.total_minor += entry.amount_minor;
                    let campaign = entry.campaign_title.get(&locale).to_owned();
                    StatementLine {
                        entry: entry.id,
                        date: entry.day,
                        campaign,
                        kind: match (entry.gift, entry.recurring) {
                            (false, _) if entry.amount_minor > 0 => LineKind::Restored,
                            (false, _) => LineKind::Deducted,
                            (true, true) => LineKind::Installment,
                            (true, false) => LineKind::Gift,
                        },
                        amount_minor: entry.amount_minor,
                        currency: entry.currency.clone(),
                    }
                })
                .collect();
            Draft {
                donor_key: key.to_owned(),
                locale,
                body: StatementBody { name, email, lines, totals: totals.into_values().collect() },
            }
        })
        .collect::<Vec<Draft>>();
    drafts
        .sort_by_cached_key(|draft| (draft.body.addressee().map(str::to_lowercase), draft.donor_key.clone()));
    drafts
}

/// A statement in force: issued, and not replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub id: i64,
    pub locale: String,
    pub body: StatementBody,
}

/// What to issue, given the statements in force (by donor key). A donor whose gifts come to
/// nothing gets no first statement, but one issued before is replaced.
pub fn plan(drafts: Vec<Draft>, current: &HashMap<String, Issued>) -> Vec<Plan> {
    let mut plans: Vec<Plan> = drafts
        .into_iter()
        .filter_map(|draft| match current.get(&draft.donor_key) {
            Some(issued) if issued.body.says_the_same(&draft.body) => Some(Plan::Unchanged(issued.id)),
            Some(issued) => Some(Plan::Replace(draft, issued.id)),
            None if draft.body.gives_anything() => Some(Plan::Issue(draft)),
            None => None,
        })
        .collect();
    // A donor whose every entry left the year (moved, say) keeps a statement saying nothing.
    let drafted: std::collections::HashSet<String> = plans
        .iter()
        .filter_map(|plan| match plan {
            Plan::Issue(draft) | Plan::Replace(draft, _) => Some(draft.donor_key.clone()),
            Plan::Unchanged(_) => None,
        })
        .collect();
    let unchanged: std::collections::HashSet<i64> = plans
        .iter()
        .filter_map(|plan| if let Plan::Unchanged(id) = plan { Some(*id) } else { None })
        .collect();
    let mut gone: Vec<(&String, &Issued)> = current
        .iter()
        .filter(|(key, issued)| !drafted.contains(*key) && !unchanged.contains(&issued.id))
        .collect();
    gone.sort_by_key(|(_, issued)| issued.id);
    for (key, issued) in gone {
        let emptied = StatementBody { lines: Vec::new(), totals: Vec::new(), ..issued.body.clone() };
        if !emptied.says_the_same(&issued.body) {
            let draft = Draft { donor_key: key.clone(), locale: issued.locale.clone(), body: emptied };
            plans.push(Plan::Replace(draft, issued.id));
        }
    }
    plans
}

/// A statement's number as printed: the year and its place in the year, `2026-00042`.
pub fn number_text(year: i32, number: i64) -> String {
    format!("{year}-{number:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, key: &str, gift: bool, amount: i64, day: &str) -> YearEntry {
        YearEntry {
            id,
            donor_key: key.to_owned(),
            donor_name: Some("Ana".to_owned()),
            donor_email: key.strip_prefix("email:").map(str::to_owned),
            gift,
            recurring: id % 2 == 0,
            amount_minor: amount,
            currency: "CAD".to_owned(),
            day: day.parse().expect("a day"),
            campaign_title: Localized { en: "New office".to_owned(), fr: "Nouveau local".to_owned() },
        }
    }

    #[test]
    fn a_donors_gifts_and_refunds_make_one_statement_in_their_language() {
        let entries = vec![
            entry(1, "email:ana@example.org", true, 5000, "2026-03-01"),
            entry(2, "email:ana@example.org", true, 1500, "2026-02-01"),
            entry(3, "email:ana@example.org", false, -1000, "2026-04-01"),
            entry(4, "unnamed:4", true, 2000, "2026-04-01"),
            entry(5, "email:ben@example.org", true, 700, "2026-05-01"),
            entry(6, "email:ben@example.org", false, -700, "2026-05-02"),
        ];
        let locales = HashMap::from([("ana@example.org".to_owned(), "fr".to_owned())]);
        let drafts = drafts(&entries, &locales, &HashMap::new(), "en");
        assert_eq!(drafts.len(), 2, "none for the unnamed gift");
        let ana = &drafts[0];
        assert_eq!(ana.locale, "fr");
        assert_eq!(ana.body.lines.iter().map(|line| line.entry).collect::<Vec<_>>(), vec![2, 1, 3]);
        assert_eq!(ana.body.lines[0].campaign, "Nouveau local");
        assert_eq!(ana.body.lines[0].kind, LineKind::Installment);
        assert_eq!(ana.body.lines[2].kind, LineKind::Deducted);
        assert_eq!(
            ana.body.totals,
            vec![StatementTotal {
                currency: "CAD".to_owned(),
                gifts_minor: 6500,
                deducted_minor: -1000,
                total_minor: 5500
            }]
        );
        // Ben's gift was refunded whole: no statement, unless one was issued before.
        let plans = plan(drafts.clone(), &HashMap::new());
        assert_eq!(plans.len(), 1);
        assert!(matches!(&plans[0], Plan::Issue(draft) if draft.donor_key == "email:ana@example.org"));
        let issued = |id: i64, body: StatementBody| Issued { id, locale: "en".to_owned(), body };
        let issued = HashMap::from([
            ("email:ana@example.org".to_owned(), issued(10, drafts[0].body.clone())),
            (
                "email:ben@example.org".to_owned(),
                issued(11, StatementBody { lines: Vec::new(), ..drafts[1].body.clone() }),
            ),
        ]);
        let plans = plan(drafts, &issued);
        assert_eq!(plans[0], Plan::Unchanged(10));
        assert!(matches!(&plans[1], Plan::Replace(draft, 11) if !draft.body.gives_anything()));
        assert_eq!(number_text(2026, 42), "2026-00042");
    }
}
