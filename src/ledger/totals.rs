//! The totals rule: how one ledger entry moves a campaign's kept totals.
//!
//! `raised` = succeeded online donations + recorded offline donations − refunds − disputes
//! (+ won disputes). Every entry carries a signed amount, so the sums are plain additions;
//! what needs care is the two counts: `donations` counts donations not wholly reversed, and
//! `donors` counts distinct donors whose gifts to the campaign sum to more than zero.

use super::entry::{EntryKind, Source};

/// The change one entry makes to its campaign's totals (and, for the sums, its branch's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TotalsChange {
    pub gross_minor: i64,
    pub net_minor: i64,
    pub online_gross_minor: i64,
    pub online_net_minor: i64,
    pub offline_minor: i64,
    pub donations: i64,
    pub donors: i64,
}

impl TotalsChange {
    /// The two changes together, or `None` when a figure would no longer fit in 64 bits.
    pub fn checked_add(&self, other: &TotalsChange) -> Option<TotalsChange> {
        Some(TotalsChange {
            gross_minor: self.gross_minor.checked_add(other.gross_minor)?,
            net_minor: self.net_minor.checked_add(other.net_minor)?,
            online_gross_minor: self.online_gross_minor.checked_add(other.online_gross_minor)?,
            online_net_minor: self.online_net_minor.checked_add(other.online_net_minor)?,
            offline_minor: self.offline_minor.checked_add(other.offline_minor)?,
            donations: self.donations.checked_add(other.donations)?,
            donors: self.donors.checked_add(other.donors)?,
        })
    }
}

/// What the rule needs to know about an entry and what came before it.
#[derive(Clone, Copy, Debug)]
pub struct EntryFacts {
    pub kind: EntryKind,
    pub source: Source,
    pub amount_minor: i64,
    pub net_minor: i64,
    /// For an entry derived from a donation: what of that donation stood before this entry.
    pub origin_before_minor: Option<i64>,
    /// The donor's sum over the campaign before this entry.
    pub donor_before_minor: i64,
}

pub fn totals_change(facts: EntryFacts) -> TotalsChange {
    let (online_gross, online_net, offline) = match facts.source {
        Source::Online => (facts.amount_minor, facts.net_minor, 0),
        Source::Offline => (0, 0, facts.amount_minor),
    };
    let donations = match (facts.kind, facts.origin_before_minor) {
        (EntryKind::Donation, None) => i64::from(facts.amount_minor > 0),
        (_, Some(before)) => crossing(before, before + facts.amount_minor),
        (_, None) => 0,
    };
    TotalsChange {
        gross_minor: facts.amount_minor,
        net_minor: facts.net_minor,
        online_gross_minor: online_gross,
        online_net_minor: online_net,
        offline_minor: offline,
        donations,
        donors: crossing(facts.donor_before_minor, facts.donor_before_minor + facts.amount_minor),
    }
}

/// +1 when a sum rises above zero, −1 when it falls to zero or below, else 0.
fn crossing(before: i64, after: i64) -> i64 {
    i64::from(after > 0) - i64::from(before > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: EntryKind, amount: i64, origin_before: Option<i64>, donor_before: i64) -> EntryFacts {
        EntryFacts {
            kind,
            source: Source::Offline,
            amount_minor: amount,
            net_minor: amount,
            origin_before_minor: origin_before,
            donor_before_minor: donor_before,
        }
    }

    #[test]
    fn a_first_gift_adds_a_donation_and_a_donor() {
        let change = totals_change(facts(EntryKind::Donation, 2500, None, 0));
        assert_eq!(
            (change.gross_minor, change.offline_minor, change.donations, change.donors),
            (2500, 2500, 1, 1)
        );
    }

    #[test]
    fn a_second_gift_from_the_same_donor_adds_no_donor() {
        let change = totals_change(facts(EntryKind::Donation, 2500, None, 1000));
        assert_eq!((change.donations, change.donors), (1, 0));
    }

    #[test]
    fn a_partial_refund_keeps_the_donation_counted() {
        let change = totals_change(facts(EntryKind::Refund, -1000, Some(2500), 2500));
        assert_eq!((change.gross_minor, change.donations, change.donors), (-1000, 0, 0));
    }

    #[test]
    fn a_full_reversal_removes_the_donation_and_the_donor() {
        let change = totals_change(facts(EntryKind::Adjustment, -2500, Some(2500), 2500));
        assert_eq!((change.gross_minor, change.donations, change.donors), (-2500, -1, -1));
    }

    #[test]
    fn a_won_dispute_brings_the_donation_back() {
        let change = totals_change(facts(EntryKind::DisputeWon, 2500, Some(0), 0));
        assert_eq!((change.gross_minor, change.donations, change.donors), (2500, 1, 1));
    }

    #[test]
    fn online_money_counts_gross_and_net_apart() {
        let change = totals_change(EntryFacts {
            kind: EntryKind::Donation,
            source: Source::Online,
            amount_minor: 2500,
            net_minor: 2398,
            origin_before_minor: None,
            donor_before_minor: 0,
        });
        assert_eq!(
            (change.online_gross_minor, change.online_net_minor, change.offline_minor, change.net_minor),
            (2500, 2398, 0, 2398)
        );
    }
}
