//! Donors seen whole: the records of one person (their gifts under one email, a cheque under
//! their name) brought together by merge records, which are undone by newer records and
//! never by editing the ledger. Pure: the merges come in, who is whom comes out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::FieldErrors;

/// One merge record: `from_key` is read as `into_key`; or, with `undoes`, the undoing of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merge {
    pub id: i64,
    pub from_key: String,
    pub into_key: String,
    pub undoes: Option<i64>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// Who is whom, from every merge record in the order they were made.
#[derive(Clone, Debug, Default)]
pub struct Merges {
    /// Each merged record's key, to the key it was merged into.
    into: BTreeMap<String, String>,
    /// The merges in force, by the key merged away.
    in_force: BTreeMap<String, Merge>,
}

impl Merges {
    pub fn new(records: &[Merge]) -> Self {
        let undone: BTreeSet<i64> = records.iter().filter_map(|record| record.undoes).collect();
        let mut merges = Merges::default();
        for record in records.iter().filter(|record| record.undoes.is_none() && !undone.contains(&record.id))
        {
            merges.into.insert(record.from_key.clone(), record.into_key.clone());
            merges.in_force.insert(record.from_key.clone(), record.clone());
        }
        merges
    }

    /// The key a record is seen under: its own, or the one it was merged into (followed to the
    /// end, a loop never followed twice).
    pub fn canonical(&self, key: &str) -> String {
        let mut current = key.to_owned();
        let mut seen = BTreeSet::new();
        while let Some(next) = self.into.get(&current) {
            if !seen.insert(current.clone()) {
                break;
            }
            current = next.clone();
        }
        current
    }

    /// Every key seen as `key`'s person: its canonical key first, then those merged into it.
    pub fn members(&self, key: &str) -> Vec<String> {
        let canonical = self.canonical(key);
        let mut members = vec![canonical.clone()];
        members.extend(self.into.keys().filter(|from| self.canonical(from) == canonical).cloned());
        members
    }

    /// The merges in force that brought records into `key`'s person.
    pub fn merged_into(&self, key: &str) -> Vec<&Merge> {
        let canonical = self.canonical(key);
        self.in_force.values().filter(|merge| self.canonical(&merge.from_key) == canonical).collect()
    }

    /// The merge in force with this id, if any.
    pub fn in_force(&self, id: i64) -> Option<&Merge> {
        self.in_force.values().find(|merge| merge.id == id)
    }

    /// Whether `from` may be merged into `into`: two records of two people as they stand.
    pub fn check(&self, from: &str, into: &str) -> Result<(), FieldErrors> {
        if self.canonical(from) == self.canonical(into) {
            return Err(FieldErrors::single("other", "is this donor already"));
        }
        if let Some(merged) = self.into.get(from) {
            return Err(FieldErrors::single(
                "other",
                format!("is merged into {merged} already: undo that first"),
            ));
        }
        Ok(())
    }
}

/// The lookup a treasurer's words name (`donors.lookup`, which finds a donor's record): one
/// written out (`email:…`, `name:…`), an email, or a name.
pub fn key_of(text: &str) -> String {
    let text = text.trim();
    if ["email:", "name:", "unnamed:"].iter().any(|prefix| text.starts_with(prefix)) {
        text.to_owned()
    } else if text.contains('@') {
        super::entry::email_key(text)
    } else {
        format!("name:{}", text.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(id: i64, from: &str, into: &str, undoes: Option<i64>) -> Merge {
        Merge {
            id,
            from_key: from.to_owned(),
            into_key: into.to_owned(),
            undoes,
            reason: None,
            at: Utc::now(),
            by: "tre".to_owned(),
        }
    }

    #[test]
    fn merges_bring_records_together_until_undone() {
        let records = vec![
            merge(1, "name:ana b", "email:ana@example.org", None),
            merge(2, "email:ana.b@work.org", "email:ana@example.org", None),
            merge(3, "email:ben@example.org", "email:ana@example.org", None),
            // The third was a mistake.
            merge(4, "email:ben@example.org", "email:ana@example.org", Some(3)),
        ];
        let merges = Merges::new(&records);
        assert_eq!(merges.canonical("name:ana b"), "email:ana@example.org");
        assert_eq!(merges.canonical("email:ben@example.org"), "email:ben@example.org");
        assert_eq!(
            merges.members("name:ana b"),
            vec!["email:ana@example.org", "email:ana.b@work.org", "name:ana b"]
        );
        assert_eq!(merges.merged_into("email:ana@example.org").len(), 2);
        assert!(merges.in_force(3).is_none() && merges.in_force(1).is_some());
        assert!(merges.check("name:ana b", "email:ana@example.org").is_err(), "the same person already");
        assert!(merges.check("email:ben@example.org", "email:ana@example.org").is_ok());
        assert!(merges.check("email:ana@example.org", "name:ana b").is_err());
        assert_eq!(key_of(" Ana@Example.org "), "email:ana@example.org");
        assert_eq!(key_of("Ana B"), "name:ana b");
        assert_eq!(key_of("name:ana b"), "name:ana b");
    }

    #[test]
    fn a_loop_is_never_followed_twice() {
        let merges = Merges::new(&[merge(1, "a", "b", None), merge(2, "b", "a", None)]);
        let _ = merges.canonical("a");
        assert!(!merges.members("a").is_empty(), "it ends");
    }
}
