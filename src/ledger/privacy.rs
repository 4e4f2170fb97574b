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

/// Who is being forgotten: their addresses and names (compared without regard to case), and
/// the texts that stand for them alone (addresses, record names such as `email:…`).
#[derive(Clone, Debug, Default)]
pub struct Person {
    pub emails: Vec<String>,
    pub names: Vec<String>,
    /// Their record names as older audit entries wrote them (`email:…`, `name:…`).
    pub lookups: Vec<String>,
}

impl Person {
    fn is_theirs(&self, text: &str) -> bool {
        let text = text.trim().to_lowercase();
        !text.is_empty()
            && self.emails.iter().chain(&self.names).any(|known| known.trim().to_lowercase() == text)
    }

    /// The texts a stored document is searched for before it is read: every address and name
    /// as given and lower-cased.
    pub fn needles(&self) -> Vec<String> {
        let mut needles: Vec<String> = Vec::new();
        for text in self.emails.iter().chain(&self.names) {
            for form in [text.trim().to_owned(), text.trim().to_lowercase()] {
                if !form.is_empty() && !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        needles
    }

    /// `value` without the person: every object with a personal field that names them (by
    /// address or name) loses all its personal fields, at any depth; what is left of their
    /// addresses and record names in other texts is replaced. Whether anything changed.
    pub fn scrub(&self, value: &mut Value) -> bool {
        let mut changed = false;
        match value {
            Value::Object(fields) => {
                let names_them = PERSONAL.iter().any(|key| {
                    fields.get(*key).and_then(Value::as_str).is_some_and(|text| self.is_theirs(text))
                });
                for (key, field) in fields.iter_mut() {
                    if names_them && PERSONAL.contains(&key.as_str()) {
                        if !field.is_null() {
                            *field = Value::Null;
                            changed = true;
                        }
                    } else {
                        changed |= self.scrub(field);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    changed |= self.scrub(item);
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

    /// `text` with the person's addresses and record names (any case) replaced.
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
            names: vec!["Ana Lopez".into()],
            lookups: vec!["email:ana@example.org".into(), "name:ana lopez".into()],
        }
    }

    #[test]
    fn objects_naming_the_person_lose_every_personal_field() {
        let mut event = json!({
            "id": "evt_1",
            "data": {"object": {
                "id": "cs_1", "amount_total": 2500,
                "customer_details": {"email": "Ana@Example.org", "name": "Ana Lopez", "phone": "+1 555",
                                     "address": {"city": "Montréal", "line1": "1 rue X"}},
                "metadata": {"donor_name": "ana lopez", "public_message": "Solidarité !", "intent": "ci_1"},
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
    }

    #[test]
    fn other_people_and_other_names_are_left_alone() {
        let mut event = json!({"customer_details": {"email": "bo@example.org", "name": "Bo"},
                               "product": {"name": "Solidarity fund"}});
        let before = event.clone();
        assert!(!ana().scrub(&mut event));
        assert_eq!(event, before);
    }

    #[test]
    fn addresses_and_record_names_in_texts_are_replaced_in_any_case() {
        let person = ana();
        assert_eq!(
            person.scrub_text("merged EMAIL:Ana@example.org into name:ana lopez; wrote to ana@EXAMPLE.org"),
            "merged [forgotten] into [forgotten]; wrote to [forgotten]"
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
    fn needles_are_each_address_and_name_as_given_and_lower_cased() {
        assert_eq!(ana().needles(), vec!["ana@example.org", "Ana Lopez", "ana lopez"]);
    }
}
