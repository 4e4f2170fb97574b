//! The domain: money, campaigns, ledger entries and the totals rule. Pure: no I/O.

pub mod appeals;
pub mod ask;
pub mod attribution;
pub mod batch;
pub mod bodies;
pub mod campaign;
pub mod checkout;
pub mod donors;
pub mod entry;
pub mod goals;
pub mod matching;
pub mod money;
pub mod outgoing;
pub mod privacy;
pub mod progress;
pub mod rates;
pub mod recurring;
pub mod search;
pub mod statements;
pub mod subscription;
pub mod totals;
pub mod validation;

pub use campaign::{Branch, Campaign, CampaignStatus, Slug};
pub use entry::{EntryKind, NewEntry, OfflineMethod, Source, StripeRefs};
pub use money::{Currency, Money, MoneyError};
pub use validation::{Field, FieldErrors};
