//! Erasing a person from what is kept as it came (Stripe's events, the outgoing webhook
//! events, the audit log's states): pure. A stored JSON document loses the personal fields of
//! every object that names the person; a text loses the person's addresses and record names.

use serde_json::Value;

/// What replaces an address or a record's name in a text.
pub const FORGOTTEN: &str = "[forgotten]";

/// Fields that hold a person's details, in Stripe's objects (a customer's, a charge's
/// `billing_details`, a checkout's `customer_details`, an invoice's `customer_*`), in appeal's
/// own bodies (`donor`, an entry's name, email and message) and in metadata.
const PERSONAL: &[&str] = &[
    "name",
    "email",
    "phone",
    "address",
    "shipping",
    "message",
    "customer_email",
    "customer_name",
    "customer_phone",
    "customer_address",
    "customer_shipping",
    "receipt_email",
    "donor_name",
    "donor_email",
    "public_message",
];

/// Fields that name an object of Stripe's or appeal's: an object whose field holds one of the
/// person's Stripe ids is theirs.
const ID_FIELDS: &[&str] = &["id", "payment_intent", "charge", "customer", "subscription", "invoice"];

/// Who is being forgotten, as kept documents name them: by address (compared without regard
/// to case), by the ids of their objects at Stripe, by their ledger entries' numbers (in
/// appeal's own bodies), and by their record names as older audit entries wrote them. A name
/// alone finds nothing: two people may share one.
#[derive(Clone, Debug, Default)]
pub struct Person {
    pub emails: Vec<String>,
    /// Their checkouts', payments', charges', invoices', subscriptions' and customers' ids.
    pub stripe_ids: Vec<String>,
    pub entries: Vec<i64>,
    /// `email:…`, `name:…`.
    pub lookups: Vec<String>,
}

impl Person {
    /// Whether the object `fields` is about them.
    fn names_them(&self, fields: &serde_json::Map<String, Value>) -> bool {
        let by_email = PERSONAL.iter().any(|key| {
            fields
                .get(*key)
                .and_then(Value::as_str)
                .is_some_and(|text| self.emails.iter().any(|email| email.eq_ignore_ascii_case(text.trim())))
        });
        let by_stripe_id = ID_FIELDS.iter().any(|key| {
            fields
                .get(*key)
                .and_then(Value::as_str)
                .is_some_and(|id| self.stripe_ids.iter().any(|known| known == id))
        });
        let by_entry = (fields.contains_key("donor_name") || fields.contains_key("donor_email"))
            && fields.get("id").and_then(Value::as_i64).is_some_and(|id| self.entries.contains(&id));
        by_email || by_stripe_id || by_entry
    }

    /// The texts a stored document is searched for before it is read (a superset of what
    /// names them: each document found is read field by field).
    pub fn needles(&self) -> Vec<String> {
        let mut needles: Vec<String> = Vec::new();
        let texts = self.emails.iter().chain(&self.stripe_ids).chain(&self.lookups).cloned();
        for text in texts.chain(self.entries.iter().map(|id| format!("\"id\":{id}"))) {
            let text = text.trim().to_owned();
            if text.len() >= 3 && !needles.contains(&text) {
                needles.push(text);
            }
        }
        needles
    }

    /// `value` without the person: every object about them (see `names_them`) loses its
    /// personal fields and those of every object inside it (a charge's `billing_details`, a
    /// session's `customer_details`), at any depth; their addresses and record names left in
    /// other texts are replaced. Whether anything changed.
    pub fn scrub(&self, value: &mut Value) -> bool {
        self.scrub_within(value, false)
    }

    fn scrub_within(&self, value: &mut Value, theirs: bool) -> bool {
        let mut changed = false;
        match value {
            Value::Object(fields) => {
                let theirs = theirs || self.names_them(fields);
                for (key, field) in fields.iter_mut() {
                    if theirs && PERSONAL.contains(&key.as_str()) {
                        if !field.is_null() {
                            *field = Value::Null;
                            changed = true;
                        }
                    } else {
                        changed |= self.scrub_within(field, theirs);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    changed |= self.scrub_within(item, theirs);
                }
            }
            Value::String(text) => {
                let replaced = self.scrub_text(text);
                if replaced != *text {
                    *text = replaced;
                    changed = true;
                }
            }
            _ => {}
        }
        changed
    }

    /// `text` with the person's addresses and record names (any case, whole: not inside a
    /// longer address or name) replaced.
    pub fn scrub_text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for known in self.lookups.iter().chain(&self.emails) {
            text = replace_ignoring_ascii_case(&text, known.trim(), FORGOTTEN);
        }
        text
    }

    /// A stored JSON text without the person (a text that is not JSON loses their addresses
    /// and record names); `None` when nothing changed.
    pub fn scrub_stored(&self, stored: &str) -> Option<String> {
        match serde_json::from_str::<Value>(stored) {
            Ok(mut value) => self.scrub(&mut value).then(|| value.to_string()),
            Err(_) => Some(self.scrub_text(stored)).filter(|text| text != stored),
        }
    }
}

/// Whether `c` could continue an address or a name (so a match beside it is part of another).
fn continues(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '%'))
}

fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() || needle.len() > text.len() {
        return text.to_owned();
    }
    let (bytes, wanted) = (text.as_bytes(), needle.as_bytes());
    let mut out = String::with_capacity(text.len());
    let (mut start, mut at) = (0, 0);
    while at + wanted.len() <= bytes.len() {
        if bytes[at..at + wanted.len()].eq_ignore_ascii_case(wanted)
            && text.is_char_boundary(at)
            && text.is_char_boundary(at + wanted.len())
            && !continues(text[..at].chars().next_back())
            && !continues(text[at + wanted.len()..].chars().next())
        {
            out.push_str(&text[start..at]);
            out.push_str(with);
            at += wanted.len();
            start = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ana() -> Person {
        Person {
            emails: vec!["ana@example.org".into()],
            stripe_ids: vec!["pi_ana".into(), "cus_ana".into()],
            entries: vec![7],
            lookups: vec!["email:ana@example.org".into(), "name:ana lopez".into()],
        }
    }

    #[test]
    fn objects_about_the_person_lose_every_personal_field_within() {
        let mut event = json!({
            "id": "evt_1",
            "data": {"object": {
                "id": "cs_1", "amount_total": 2500, "payment_intent": "pi_ana",
                "customer_details": {"email": "someone@else.org", "name": "Ana Lopez", "phone": "+1 555",
                                     "address": {"city": "Montréal", "line1": "1 rue X"}},
                "metadata": {"donor_name": "Ana Lopez", "public_message": "Solidarité !", "intent": "ci_1"},
            }},
        });
        assert!(ana().scrub(&mut event));
        let object = &event["data"]["object"];
        assert_eq!(
            object["customer_details"],
            json!({"email": null, "name": null, "phone": null, "address": null})
        );
        assert_eq!(object["metadata"], json!({"donor_name": null, "public_message": null, "intent": "ci_1"}));
        assert_eq!(object["amount_total"], 2500);
        assert_eq!(event["id"], "evt_1");

        // By address: a charge with her receipt address loses its billing details too.
        let mut charge = json!({"id": "ch_9", "receipt_email": "ANA@example.org",
                                "billing_details": {"name": "A L", "address": {"line1": "2 rue Y"}, "email": null}});
        assert!(ana().scrub(&mut charge));
        assert_eq!(charge["billing_details"], json!({"name": null, "address": null, "email": null}));
        // By entry: appeal's own body of her gift.
        let mut body = json!({"event": "donation.recorded", "data": {"id": 7, "donor_name": "Ana Lopez", "donor_email": null,
                              "message": "Bravo", "amount": "25.00"}});
        assert!(ana().scrub(&mut body));
        assert_eq!(
            body["data"],
            json!({"id": 7, "donor_name": null, "donor_email": null, "message": null, "amount": "25.00"})
        );
    }

    #[test]
    fn other_people_are_left_alone_even_with_her_name() {
        let mut event = json!({"customer_details": {"email": "bo@example.org", "name": "Ana Lopez"},
                               "product": {"name": "Solidarity fund"},
                               "data": {"id": 8, "donor_name": "Ana Lopez", "donor_email": "diana@example.org"},
                               "note": "wrote to diana@example.org and ana@example.org.uk"});
        let before = event.clone();
        assert!(!ana().scrub(&mut event));
        assert_eq!(event, before);
    }

    #[test]
    fn addresses_and_record_names_in_texts_are_replaced_whole_in_any_case() {
        let person = ana();
        assert_eq!(
            person.scrub_text("merged EMAIL:Ana@example.org into name:ana lopez; wrote to <ana@EXAMPLE.org>"),
            "merged [forgotten] into [forgotten]; wrote to <[forgotten]>"
        );
        assert_eq!(
            person.scrub_text("name:ana lopezz and diana@example.org"),
            "name:ana lopezz and diana@example.org"
        );
        assert_eq!(
            person.scrub_stored("not json, ana@example.org").as_deref(),
            Some("not json, [forgotten]")
        );
        assert_eq!(
            person.scrub_stored(r#"{"from":"email:ana@example.org"}"#).as_deref(),
            Some(r#"{"from":"[forgotten]"}"#)
        );
        assert_eq!(person.scrub_stored(r#"{"amount":1}"#), None);
        assert_eq!(replace_ignoring_ascii_case("é ana@example.org é", "ana@example.org", "x"), "é x é");
    }

    #[test]
    fn needles_are_addresses_ids_record_names_and_entry_numbers() {
        assert_eq!(
            ana().needles(),
            vec![
                "ana@example.org",
                "pi_ana",
                "cus_ana",
                "email:ana@example.org",
                "name:ana lopez",
                "\"id\":7"
            ]
        );
    }
}
