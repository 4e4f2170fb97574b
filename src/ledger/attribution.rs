//! Source attribution: the `ref` code that says which push brought a gift (a December
//! e-mail, a branch's leaflet, a post), kept on the checkout, the entry and the subscription,
//! and the sources report built from them.

/// The longest `ref`.
pub const REF_MAX_CHARS: usize = 64;

const REF_RULE: &str = "must be at most 64 letters, digits, - or _";

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A `ref` as an API client sends it: empty is none, anything else must follow the rule.
pub fn parse_ref(value: Option<&str>) -> Result<Option<String>, &'static str> {
    let Some(text) = value.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() <= REF_MAX_CHARS && text.chars().all(allowed) {
        Ok(Some(text.to_owned()))
    } else {
        Err(REF_RULE)
    }
}

/// A `ref` as a link carries it: `ref`, else `utm_campaign`, else `utm_source`, made to
/// follow the rule (other characters become `-`, cut at 64) so that a link is never refused.
pub fn ref_from_link(
    reference: Option<&str>,
    utm_campaign: Option<&str>,
    utm_source: Option<&str>,
) -> Option<String> {
    [reference, utm_campaign, utm_source].into_iter().flatten().find_map(|text| {
        let mut cleaned = String::new();
        for c in text.trim().chars() {
            if allowed(c) {
                cleaned.push(c);
            } else if !cleaned.ends_with('-') {
                cleaned.push('-');
            }
        }
        let cleaned: String = cleaned.trim_matches('-').chars().take(REF_MAX_CHARS).collect();
        let cleaned = cleaned.trim_end_matches('-').to_owned();
        (!cleaned.is_empty()).then_some(cleaned)
    })
}

/// What one source brought to a campaign, in minor units of its currency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFigures {
    /// `None`: gifts that came with no `ref`.
    pub source_ref: Option<String>,
    /// Checkouts started online.
    pub checkouts: i64,
    /// Of those, paid.
    pub checkouts_paid: i64,
    /// Gifts in the ledger, online and offline (installments of a subscription included).
    pub gifts: i64,
    /// Money raised: gifts less what was reversed of them.
    pub raised_minor: i64,
    pub donors: i64,
    /// Recurring gifts started.
    pub subscriptions: i64,
}

impl SourceFigures {
    /// Paid checkouts per checkout started, in percent with one decimal ("42.5"); `None`
    /// when no checkout was started.
    pub fn conversion(&self) -> Option<String> {
        if self.checkouts <= 0 {
            return None;
        }
        let tenths = (self.checkouts_paid * 1000 + self.checkouts / 2) / self.checkouts;
        Some(format!("{}.{}", tenths / 10, tenths % 10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_from_a_client_follows_the_rule_or_names_it() {
        assert_eq!(parse_ref(Some("dec-email_2026")), Ok(Some("dec-email_2026".to_owned())));
        assert_eq!(parse_ref(Some("  ")), Ok(None));
        assert_eq!(parse_ref(None), Ok(None));
        assert_eq!(parse_ref(Some("dec email")), Err(REF_RULE));
        assert_eq!(parse_ref(Some("é")), Err(REF_RULE));
        assert_eq!(parse_ref(Some(&"a".repeat(65))), Err(REF_RULE));
        assert_eq!(parse_ref(Some(&"a".repeat(64))), Ok(Some("a".repeat(64))));
    }

    #[test]
    fn a_ref_from_a_link_is_made_to_fit_and_utm_stands_in() {
        assert_eq!(ref_from_link(Some("leaflet"), Some("x"), None), Some("leaflet".to_owned()));
        assert_eq!(
            ref_from_link(None, Some("Winter Appeal!"), Some("mail")),
            Some("Winter-Appeal".to_owned())
        );
        assert_eq!(ref_from_link(None, None, Some("newsletter")), Some("newsletter".to_owned()));
        assert_eq!(ref_from_link(Some("%%"), None, Some("mail")), Some("mail".to_owned()));
        assert_eq!(ref_from_link(Some(&"b".repeat(80)), None, None), Some("b".repeat(64)));
        assert_eq!(ref_from_link(None, None, None), None);
    }

    #[test]
    fn conversion_is_paid_over_started() {
        let figures = SourceFigures { checkouts: 8, checkouts_paid: 3, ..SourceFigures::default() };
        assert_eq!(figures.conversion().as_deref(), Some("37.5"));
        assert_eq!(SourceFigures::default().conversion(), None);
        let all = SourceFigures { checkouts: 3, checkouts_paid: 3, ..SourceFigures::default() };
        assert_eq!(all.conversion().as_deref(), Some("100.0"));
    }
}
