//! The public donor wall under staff control: a donor's name or message hidden (or, when
//! messages are held for approval, shown), without touching the ledger. Audited.

use serde::Deserialize;

use super::{ActionError, audit, check_branch};
use crate::access::Actor;
use crate::ledger::{EntryKind, FieldErrors};
use crate::store::Store;

/// What to change on the wall for one gift: `name` and `message`, each shown or hidden.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "hidden", "message": "shown"})))]
pub struct WallDecisionInput {
    /// `shown` or `hidden`.
    #[serde(default)]
    pub name: Option<String>,
    /// `shown` or `hidden`.
    #[serde(default)]
    pub message: Option<String>,
}

fn shown_or_hidden(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<bool> {
    match value.map(str::trim) {
        None | Some("") => None,
        Some("shown") => Some(true),
        Some("hidden") => Some(false),
        Some(_) => {
            errors.add(field, "must be shown or hidden");
            None
        }
    }
}

#[tracing::instrument(skip_all, fields(entry_id))]
pub async fn decide_wall(
    store: &Store,
    entry_id: i64,
    input: WallDecisionInput,
    actor: &Actor,
) -> Result<(), ActionError> {
    let entry = store.entry(entry_id).await?.ok_or(ActionError::NotFound("entry"))?;
    check_branch(actor, &entry)?;
    let mut errors = FieldErrors::new();
    if entry.kind != EntryKind::Donation {
        errors.add("entry", "is not a gift: only gifts are on the wall");
    }
    let name = shown_or_hidden(&mut errors, "name", input.name.as_deref());
    let message = shown_or_hidden(&mut errors, "message", input.message.as_deref());
    if name.is_none() && message.is_none() {
        errors.add("name", "or message must say shown or hidden");
    }
    if !errors.is_empty() {
        return Err(ActionError::Invalid(errors));
    }
    let message_state = message.map(|shown| if shown { "shown" } else { "hidden" });
    store.decide_wall(entry.id, name.map(|shown| !shown), message_state, &actor.label).await?;
    let after = serde_json::json!({
        "name": name.map(|shown| if shown { "shown" } else { "hidden" }),
        "message": message_state,
    });
    audit(store, actor, "donation.wall", &format!("entry:{entry_id}"), None, Some(after)).await;
    Ok(())
}
