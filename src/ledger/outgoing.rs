//! What appeal tells other systems: the types of its outgoing events and their envelope.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::entry::Entry;

/// An outgoing event's type, as endpoints subscribe to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    DonationRecorded,
    /// A refund, a dispute, an adjustment or any other entry that reverses a gift.
    DonationReversed,
    SubscriptionStarted,
    SubscriptionUpdated,
    SubscriptionEnded,
    CampaignGoalReached,
    PayoutReconciled,
    BatchPosted,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::DonationRecorded,
        EventKind::DonationReversed,
        EventKind::SubscriptionStarted,
        EventKind::SubscriptionUpdated,
        EventKind::SubscriptionEnded,
        EventKind::CampaignGoalReached,
        EventKind::PayoutReconciled,
        EventKind::BatchPosted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::DonationRecorded => "donation.recorded",
            EventKind::DonationReversed => "donation.reversed",
            EventKind::SubscriptionStarted => "subscription.started",
            EventKind::SubscriptionUpdated => "subscription.updated",
            EventKind::SubscriptionEnded => "subscription.ended",
            EventKind::CampaignGoalReached => "campaign.goal_reached",
            EventKind::PayoutReconciled => "payout.reconciled",
            EventKind::BatchPosted => "batch.posted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// What a new ledger entry tells: a gift recorded, or one (partly) undone.
    pub fn of_entry(entry: &Entry) -> Self {
        if entry.reverses_entry_id.is_some() {
            EventKind::DonationReversed
        } else {
            EventKind::DonationRecorded
        }
    }

    /// The event types as stored on an endpoint: each between commas, so that one is found
    /// with `LIKE '%,type,%'`.
    pub fn stored_list(kinds: &[EventKind]) -> String {
        let mut list = String::from(",");
        for kind in kinds {
            list.push_str(kind.as_str());
            list.push(',');
        }
        list
    }

    /// Reads an endpoint's stored list back; unknown names (from a newer version) are skipped.
    pub fn read_list(stored: &str) -> Vec<EventKind> {
        stored.split(',').filter_map(EventKind::parse).collect()
    }
}

/// An event as it is sent: `{"id","type","timestamp","data"}`, the envelope the Standard
/// Webhooks specification recommends, with the payload `data` in the API's own shape.
#[derive(Clone, Debug)]
pub struct OutgoingEvent {
    pub id: String,
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    /// The whole envelope, as JSON: the exact bytes every delivery signs and sends.
    pub body: String,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: &'a T,
}

impl OutgoingEvent {
    pub fn new(id: String, kind: EventKind, at: DateTime<Utc>, data: &impl Serialize) -> Self {
        let envelope =
            Envelope { id: &id, kind: kind.as_str(), timestamp: super::progress::timestamp(at), data };
        // Serializing our own shapes (strings, numbers, maps with string keys) cannot fail.
        let body = serde_json::to_string(&envelope).unwrap_or_else(|_| "{}".to_owned());
        OutgoingEvent { id, kind, at, body }
    }
}

/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// An endpoint's URL: `https`, or `http` to this machine only (a receiver beside appeal, or
/// a test); no other scheme, no fragment.
pub fn check_endpoint_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is required".to_owned());
    }
    if text.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    let url = url::Url::parse(text).map_err(|error| format!("is not a URL ({error})"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => return Err("must name a host".to_owned()),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("must use https (http is allowed only to localhost)".to_owned()),
        _ => return Err("must be an https URL".to_owned()),
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".to_owned());
    }
    Ok(url.to_string())
}

/// An endpoint's event types: at least one, each known, each once (in the order given).
pub fn check_event_kinds(names: &[String]) -> Result<Vec<EventKind>, (String, String)> {
    if names.is_empty() {
        return Err(("events".to_owned(), format!("must list at least one of {}", known_kinds())));
    }
    let mut kinds = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let kind = EventKind::parse(name.trim())
            .ok_or_else(|| (format!("events[{index}]"), format!("must be one of {}", known_kinds())))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

fn known_kinds() -> String {
    EventKind::ALL.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_read_back_as_stored() {
        let stored = EventKind::stored_list(&[EventKind::BatchPosted, EventKind::DonationRecorded]);
        assert_eq!(stored, ",batch.posted,donation.recorded,");
        assert_eq!(EventKind::read_list(&stored), vec![EventKind::BatchPosted, EventKind::DonationRecorded]);
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("donation"), None);
    }

    #[test]
    fn endpoint_urls_are_https_or_local() {
        assert_eq!(
            check_endpoint_url(" https://crm.example.org/hooks/appeal "),
            Ok("https://crm.example.org/hooks/appeal".to_owned())
        );
        assert!(check_endpoint_url("http://127.0.0.1:9000/in").is_ok());
        assert!(check_endpoint_url("http://localhost/in").is_ok());
        assert!(check_endpoint_url("http://[::1]:8080/").is_ok());
        assert!(check_endpoint_url("http://crm.example.org/in").expect_err("refused").contains("https"));
        assert!(check_endpoint_url("ftp://example.org/").expect_err("refused").contains("https"));
        assert!(check_endpoint_url("crm.example.org").expect_err("refused").contains("not a URL"));
        assert!(check_endpoint_url("").expect_err("refused").contains("required"));
        assert!(check_endpoint_url("https://example.org/#x").expect_err("refused").contains("fragment"));
    }

    #[test]
    fn event_types_are_checked_one_by_one() {
        let names = |list: &[&str]| list.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check_event_kinds(&names(&["batch.posted", "batch.posted", "donation.recorded"])),
            Ok(vec![EventKind::BatchPosted, EventKind::DonationRecorded])
        );
        let (field, message) = check_event_kinds(&names(&["batch.posted", "donation"])).expect_err("refused");
        assert_eq!(field, "events[1]");
        assert!(message.contains("donation.recorded"));
        assert_eq!(check_event_kinds(&[]).expect_err("refused").0, "events");
    }

    #[test]
    fn the_envelope_carries_id_type_timestamp_and_data() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").expect("instant").with_timezone(&Utc);
        let event = OutgoingEvent::new(
            "evt_1".to_owned(),
            EventKind::BatchPosted,
            at,
            &serde_json::json!({"batch": 7}),
        );
        assert_eq!(
            event.body,
            r#"{"id":"evt_1","type":"batch.posted","timestamp":"2026-12-06T10:00:00Z","data":{"batch":7}}"#
        );
    }
}
