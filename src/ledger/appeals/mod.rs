//! Appeals: campaigns of this instance and of other sections' instances (remote members,
//! followed by their public progress URL), gathered under one reporting currency and goal.
//! Each member's figure is converted by a stated policy: the rate fixed at launch for its
//! currency (the default, so the total moves only when money arrives), or the latest rate.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::campaign::{Localized, Slug, TITLE_MAX_CHARS, clean_localized, required};
use super::money::{Currency, Money};
use super::rates::parse_rate;
use super::validation::{AmountText, Field, FieldErrors, optional_text};

/// The most members an appeal gathers.
pub const MAX_MEMBERS: usize = 100;
const URL_MAX_CHARS: usize = 2_000;
const NAME_MAX_CHARS: usize = 120;

/// How each member's figure is turned into the appeal's currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RatePolicy {
    /// A rate per currency set at launch (given in `fixed_rates`, or the rates table's of
    /// the launch day): the total moves only when money arrives.
    Fixed,
    /// The rates table's latest rate (of today or the seven days before).
    Latest,
}

impl RatePolicy {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        match text.trim() {
            "fixed" => Ok(RatePolicy::Fixed),
            "latest" => Ok(RatePolicy::Latest),
            _ => Err("must be \"fixed\" or \"latest\""),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RatePolicy::Fixed => "fixed",
            RatePolicy::Latest => "latest",
        }
    }
}

/// An appeal as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appeal {
    pub id: i64,
    pub slug: Slug,
    pub title: Localized,
    pub currency: Currency,
    pub goal_minor: i64,
    pub rate_policy: RatePolicy,
    /// `1 currency = rate` of the appeal's currency, under the fixed policy: given, or taken
    /// from the rates table for the launch day the first time a member's figure needed it.
    pub fixed_rates: BTreeMap<&'static str, FixedRate>,
    /// The day fixed rates not given are taken from the rates table.
    pub launched_on: NaiveDate,
    pub members: Vec<Member>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A rate fixed for the appeal: given (no day or source of its own), or frozen from the rates
/// table (with that rate's day and source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedRate {
    pub rate: Decimal,
    pub day: Option<NaiveDate>,
    pub source: Option<String>,
}

impl FixedRate {
    pub fn given(rate: Decimal) -> Self {
        FixedRate { rate, day: None, source: None }
    }
}

/// One member of an appeal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub source: MemberSource,
    /// What the appeal calls it ("UK section"); a campaign's title otherwise.
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberSource {
    /// A campaign of this instance.
    Campaign { id: i64, slug: String, title: Localized },
    /// A campaign of another instance, by its public progress URL, with what it last said.
    Remote { url: String, state: RemoteState },
}

/// What a remote member last said, and when it was last heard from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteState {
    pub figures: Option<Figures>,
    pub etag: Option<String>,
    /// The last answer (a document, or "not modified").
    pub heard_at: Option<DateTime<Utc>>,
    /// The last try, answered or not.
    pub tried_at: Option<DateTime<Utc>>,
    /// Why the last try failed; `None` when it was answered.
    pub failure: Option<String>,
}

impl RemoteState {
    /// A remote is stale when it was never heard from, its last try failed, or it was last
    /// heard from longer ago than `stale_after`.
    pub fn is_stale(&self, now: DateTime<Utc>, stale_after: chrono::Duration) -> bool {
        match self.heard_at {
            None => true,
            Some(heard) => self.failure.is_some() || now - heard > stale_after,
        }
    }
}

/// A campaign's public figures, read from its progress document (this instance's or
/// another's): only what the public progress bar shows travels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    pub campaign: Option<String>,
    pub currency: Currency,
    pub raised_minor: i64,
    pub goal_minor: Option<i64>,
    pub donations: i64,
    pub donors: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The fields of a progress document an appeal reads.
#[derive(Deserialize)]
struct ProgressFields {
    #[serde(default)]
    campaign: Option<String>,
    #[serde(default)]
    appeal: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    members: Option<serde::de::IgnoredAny>,
    currency: String,
    raised: String,
    #[serde(default)]
    goal: Option<String>,
    #[serde(default)]
    donations: Option<i64>,
    #[serde(default)]
    donors: Option<i64>,
    #[serde(default)]
    updated_at: Option<String>,
}

impl Figures {
    /// Reads a campaign progress document (`GET /api/v1/campaigns/{slug}/progress`), or says
    /// what in it cannot be read.
    pub fn from_progress(body: &[u8]) -> Result<Figures, String> {
        let fields: ProgressFields = serde_json::from_slice(body)
            .map_err(|error| format!("is not a campaign progress document ({error})"))?;
        // An appeal's document is no campaign's: following one would count its members again.
        if fields.appeal.is_some() || fields.members.is_some() || fields.campaign.is_none() {
            return Err("is not a campaign progress document (an appeal's, or no campaign named)".to_owned());
        }
        let currency = Currency::from_code(&fields.currency)
            .map_err(|_| format!("has an unknown currency {:?}", fields.currency))?;
        let raised_minor = parse_figure(&fields.raised, currency).ok_or_else(|| {
            format!("has a raised figure that is not an amount of {}: {:?}", currency.code(), fields.raised)
        })?;
        let goal_minor = fields.goal.as_deref().and_then(|goal| parse_figure(goal, currency));
        let count = |value: Option<i64>| value.unwrap_or(0).max(0);
        Ok(Figures {
            campaign: fields.campaign.filter(|slug| Slug::parse(slug).is_ok()),
            currency,
            raised_minor,
            goal_minor,
            donations: count(fields.donations),
            donors: count(fields.donors),
            updated_at: fields
                .updated_at
                .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
                .map(|at| at.to_utc()),
        })
    }
}

/// A signed amount as a progress document writes it ("1234.50", "-5.00") in minor units.
fn parse_figure(text: &str, currency: Currency) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
        return None;
    }
    if text.len() > 24 {
        return None;
    }
    let value = Decimal::from_str(text).ok()?.normalize();
    if value.scale() > currency.digits() {
        return None;
    }
    i64::try_from(value.checked_mul(Decimal::from(10_i64.pow(currency.digits())))?.trunc()).ok()
}

/// An appeal as given to create or change it: every field optional on change (`members`,
/// when given, is the whole list).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"slug": "international", "title": {"en": "International centre", "fr": "Centre international"},
    "currency": "CAD", "goal": "250000.00", "rate_policy": "fixed", "fixed_rates": {"EUR": "1.47"},
    "members": [{"campaign": "office"}, {"url": "https://uk.example.org/api/v1/campaigns/appeal/progress", "name": "UK section"}]})))]
pub struct AppealInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub slug: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Localized>)]
    pub title: Field<Localized>,
    /// The reporting currency, ISO 4217 (`CAD`).
    #[serde(default)]
    #[schema(value_type = Option<String>, examples("CAD"))]
    pub currency: Field<String>,
    /// The appeal's goal, in its currency.
    #[serde(default)]
    #[schema(value_type = Option<AmountText>)]
    pub goal: Field<AmountText>,
    /// `fixed` (the default) or `latest`.
    #[serde(default)]
    #[schema(value_type = Option<RatePolicy>)]
    pub rate_policy: Field<String>,
    /// Under the fixed policy, `1 currency = rate` of the appeal's currency (`{"EUR": "1.47"}`);
    /// a currency left out takes the rates table's rate of the launch day, frozen with its day
    /// and source the first time a member needs it. When given, the whole set (frozen ones
    /// included); with a new `currency`, given again (or `null`).
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub fixed_rates: Field<BTreeMap<String, serde_json::Value>>,
    /// The members, in the order shown: `{"campaign": "office"}` or
    /// `{"url": "https://…/api/v1/campaigns/{slug}/progress"}` (a campaign page's `…/c/{slug}` is
    /// taken for its progress URL; an appeal's is refused), each with an optional `name`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<MemberInput>>)]
    pub members: Field<Vec<MemberInput>>,
}

/// One member as given: a campaign of this instance, or another instance's campaign by its
/// public progress URL (https; plain http only on this machine).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// What the appeal calls it ("UK section").
    #[serde(default)]
    pub name: Option<String>,
}

/// A checked appeal, its campaigns named by slug (the store finds them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppealDraft {
    pub slug: Slug,
    pub title: Localized,
    pub currency: Currency,
    pub goal_minor: i64,
    pub rate_policy: RatePolicy,
    pub fixed_rates: BTreeMap<&'static str, FixedRate>,
    pub members: Vec<MemberDraft>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberDraft {
    Campaign { slug: Slug, name: Option<String> },
    Remote { url: String, name: Option<String> },
}

/// Checks a create (`existing` is `None`) or a change of `existing`, naming every bad field.
pub fn validate_appeal(input: AppealInput, existing: Option<&Appeal>) -> Result<AppealDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let slug =
        required(&mut errors, "slug", input.slug, existing.map(|a| a.slug.clone()), |errors, value| {
            errors.check("slug", Slug::parse(&value))
        });
    let title =
        required(&mut errors, "title", input.title, existing.map(|a| a.title.clone()), |errors, title| {
            let title = clean_localized(errors, "title", title, TITLE_MAX_CHARS);
            if title.is_empty() {
                errors.add("title", "needs an English or French text");
            }
            Some(title)
        });
    let currency =
        required(&mut errors, "currency", input.currency, existing.map(|a| a.currency), |errors, code| {
            errors.check("currency", Currency::from_code(&code))
        });
    let goal_minor = match (input.goal, currency) {
        (Field::Value(text), Some(currency)) => {
            errors.check("goal", Money::parse_positive(&text.0, currency)).map(Money::minor)
        }
        (Field::Value(_), None) => None,
        (Field::Null, _) => {
            errors.add("goal", "must not be null");
            None
        }
        (Field::Missing, _) => match existing {
            Some(appeal) => {
                if currency.is_some_and(|currency| currency != appeal.currency) {
                    errors.add("goal", "must be given again with a new currency, in that currency");
                }
                Some(appeal.goal_minor)
            }
            None => {
                errors.add("goal", "is required");
                None
            }
        },
    };
    let rate_policy = match input.rate_policy {
        Field::Value(text) => errors.check("rate_policy", RatePolicy::parse(&text)),
        Field::Null => Some(RatePolicy::Fixed),
        Field::Missing => Some(existing.map_or(RatePolicy::Fixed, |a| a.rate_policy)),
    };
    let fixed_rates = match input.fixed_rates {
        Field::Value(given) => fixed_rates(&mut errors, given, currency),
        Field::Null => BTreeMap::new(),
        Field::Missing => {
            let kept = existing.map(|a| a.fixed_rates.clone()).unwrap_or_default();
            if let Some(appeal) = existing
                && currency.is_some_and(|currency| currency != appeal.currency)
                && !kept.is_empty()
            {
                errors.add(
                    "fixed_rates",
                    "are against the old currency: give them against the new one (or null) with it",
                );
            }
            kept
        }
    };
    let members = match input.members {
        Field::Value(given) => members(&mut errors, given),
        Field::Null => Vec::new(),
        Field::Missing => existing.map(|a| a.members.iter().map(Member::draft).collect()).unwrap_or_default(),
    };
    let (Some(slug), Some(title), Some(currency), Some(goal_minor), Some(rate_policy)) =
        (slug, title, currency, goal_minor, rate_policy)
    else {
        return Err(errors);
    };
    errors.into_result(|| AppealDraft {
        slug,
        title,
        currency,
        goal_minor,
        rate_policy,
        fixed_rates,
        members,
    })
}

fn fixed_rates(
    errors: &mut FieldErrors,
    given: BTreeMap<String, serde_json::Value>,
    currency: Option<Currency>,
) -> BTreeMap<&'static str, FixedRate> {
    let mut kept = BTreeMap::new();
    for (code, value) in given {
        let field = format!("fixed_rates.{code}");
        let Some(from) = errors.check(&field, Currency::from_code(&code)) else { continue };
        if Some(from) == currency {
            errors.add(&field, "is the appeal's own currency: leave it out");
            continue;
        }
        let Some(text) = value.as_str() else {
            errors.add(&field, "must be a decimal string such as \"1.47\", not a JSON number");
            continue;
        };
        if let Some(rate) = errors.check(&field, parse_rate(text))
            && kept.insert(from.code(), FixedRate::given(rate)).is_some()
        {
            errors.add(&field, "is given twice");
        }
    }
    kept
}

fn members(errors: &mut FieldErrors, given: Vec<MemberInput>) -> Vec<MemberDraft> {
    if given.len() > MAX_MEMBERS {
        errors.add("members", format!("must be at most {MAX_MEMBERS}"));
        return Vec::new();
    }
    let mut drafts = Vec::with_capacity(given.len());
    for (index, member) in given.into_iter().enumerate() {
        let name = optional_text(errors, &format!("members[{index}].name"), member.name, NAME_MAX_CHARS);
        let draft = match (member.campaign, member.url) {
            (Some(slug), None) => errors
                .check(&format!("members[{index}].campaign"), Slug::parse(&slug))
                .map(|slug| MemberDraft::Campaign { slug, name }),
            (None, Some(url)) => errors
                .check(&format!("members[{index}].url"), parse_remote_url(&url))
                .map(|url| MemberDraft::Remote { url, name }),
            _ => {
                errors
                    .add(format!("members[{index}]"), "needs a campaign of this instance or a url, not both");
                None
            }
        };
        let Some(draft) = draft else { continue };
        if drafts.contains(&draft) || drafts.iter().any(|kept| same_member(kept, &draft)) {
            errors.add(format!("members[{index}]"), "is listed twice");
            continue;
        }
        drafts.push(draft);
    }
    drafts
}

fn same_member(first: &MemberDraft, second: &MemberDraft) -> bool {
    match (first, second) {
        (MemberDraft::Campaign { slug: a, .. }, MemberDraft::Campaign { slug: b, .. }) => a == b,
        (MemberDraft::Remote { url: a, .. }, MemberDraft::Remote { url: b, .. }) => a == b,
        _ => false,
    }
}

impl Member {
    fn draft(&self) -> MemberDraft {
        match &self.source {
            MemberSource::Campaign { slug, .. } => {
                MemberDraft::Campaign { slug: Slug::from_stored(slug.clone()), name: self.name.clone() }
            }
            MemberSource::Remote { url, .. } => {
                MemberDraft::Remote { url: url.clone(), name: self.name.clone() }
            }
        }
    }
}

/// A remote member's public progress URL, as followed: https (plain http only on this
/// machine), no credentials or fragment. A campaign page's URL (`…/c/{slug}`) is taken for
/// its progress URL.
pub fn parse_remote_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let example = "https://uk.example.org/api/v1/campaigns/appeal/progress";
    if text.chars().count() > URL_MAX_CHARS {
        return Err(format!("must be at most {URL_MAX_CHARS} characters"));
    }
    let mut url = url::Url::parse(text).map_err(|_| format!("must be a URL such as {example}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("must use https (plain http is allowed only for this machine)".to_owned()),
        _ => return Err(format!("must be an https URL such as {example}")),
    }
    if url.host().is_none() {
        return Err(format!("must be a URL such as {example}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".to_owned());
    }
    if url.fragment().is_some() {
        return Err("must not hold a fragment (#…)".to_owned());
    }
    // A campaign's page (`…/c/{slug}`) or its progress (`…/api/v1/campaigns/{slug}/progress`),
    // under any prefix; the query (which could hold a secret, or list one campaign twice) goes.
    let segments: Vec<String> =
        url.path_segments().map(|s| s.map(str::to_owned).collect()).unwrap_or_default();
    let prefix_and_slug = match segments.as_slice() {
        [prefix @ .., c, slug] if c == "c" && Slug::parse(slug).is_ok() => {
            Some((prefix.to_vec(), slug.clone()))
        }
        [prefix @ .., api, v1, campaigns, slug, progress]
            if api == "api"
                && v1 == "v1"
                && campaigns == "campaigns"
                && progress == "progress"
                && Slug::parse(slug).is_ok() =>
        {
            Some((prefix.to_vec(), slug.clone()))
        }
        _ => None,
    };
    let Some((prefix, slug)) = prefix_and_slug else {
        return Err(format!("must be a campaign's public progress URL, such as {example}"));
    };
    let mut path: Vec<&str> =
        prefix.iter().map(String::as_str).filter(|segment| !segment.is_empty()).collect();
    path.extend(["api", "v1", "campaigns", slug.as_str(), "progress"]);
    url.set_path(&path.join("/"));
    url.set_query(None);
    if let Some(url::Host::Domain(host)) = url.host()
        && host.ends_with('.')
    {
        let trimmed = host.trim_end_matches('.').to_owned();
        url.set_host(Some(&trimmed)).map_err(|_| format!("must be a URL such as {example}"))?;
    }
    Ok(url.to_string())
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

mod progress;

pub use progress::{
    AppealProgress, AppliedRate, FIXED_AT_LAUNCH, KnownRates, MemberProgress, MemberSnapshot,
    appeal_progress, convert_figure,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).expect("a known currency")
    }

    #[test]
    fn a_progress_document_is_read_for_its_public_figures() {
        let body = br#"{"campaign":"appeal","currency":"GBP","goal":"5000.00","raised":"1234.50","donations":7,"donors":5,"updated_at":"2026-12-06T09:00:00Z","extra":1}"#;
        let figures = Figures::from_progress(body).expect("readable");
        assert_eq!(figures.raised_minor, 123_450);
        assert_eq!(figures.goal_minor, Some(500_000));
        assert_eq!(figures.currency.code(), "GBP");
        assert!(Figures::from_progress(br#"{"currency":"GBP","raised":"12.345"}"#).is_err());
        assert!(Figures::from_progress(br#"{"currency":"XXX","raised":"1"}"#).is_err());
        assert!(Figures::from_progress(b"<html>").is_err());
        // An appeal's own document is not a campaign's, nor a figure too large to hold.
        let appeal = br#"{"appeal":"world","currency":"GBP","raised":"10.00","members":[]}"#;
        assert!(Figures::from_progress(appeal).is_err());
        let huge = br#"{"campaign":"a","currency":"GBP","raised":"1000000000000000000000000000"}"#;
        assert!(Figures::from_progress(huge).is_err());
        let vnd = br#"{"campaign":"a","currency":"VND","raised":"1200000000"}"#;
        let vnd = Figures::from_progress(vnd).expect("a large VND figure is read");
        assert_eq!(
            convert_figure(vnd.raised_minor, vnd.currency, currency("USD"), Decimal::new(4, 5)),
            Some(4_800_000)
        );
        assert_eq!(convert_figure(5, currency("KRW"), currency("USD"), Decimal::new(7, 4)), Some(0));
    }

    #[test]
    fn remote_urls_are_https_or_this_machine() {
        let ok = parse_remote_url("https://uk.example.org/api/v1/campaigns/appeal/progress").expect("kept");
        assert_eq!(ok, "https://uk.example.org/api/v1/campaigns/appeal/progress");
        assert_eq!(
            parse_remote_url("https://uk.example.org/c/appeal").expect("kept"),
            "https://uk.example.org/api/v1/campaigns/appeal/progress"
        );
        assert!(parse_remote_url("http://127.0.0.1:8080/api/v1/campaigns/a/progress").is_ok());
        assert!(parse_remote_url("http://[::1]:8080/api/v1/campaigns/a/progress").is_ok());
        assert_eq!(
            parse_remote_url("https://uk.example.org./api/v1/campaigns/appeal/progress?token=x")
                .expect("kept"),
            "https://uk.example.org/api/v1/campaigns/appeal/progress"
        );
        for refused in [
            "https://uk.example.org/api/v1/appeals/world/progress",
            "http://uk.example.org/api/v1/campaigns/appeal/progress",
            "ftp://uk.example.org/progress",
            "https://user:pw@uk.example.org/api/v1/campaigns/appeal/progress",
            "https://uk.example.org/api/v1/campaigns/appeal/progress#x",
            "https://uk.example.org/about",
            "not a url",
        ] {
            assert!(parse_remote_url(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn an_appeal_is_checked_field_by_field() {
        let input: AppealInput = serde_json::from_value(serde_json::json!({
            "slug": "Bad Slug", "title": {"en": ""}, "currency": "CAD", "goal": "0",
            "rate_policy": "sometimes", "fixed_rates": {"EUR": 1.47, "CAD": "1", "XYZ": "2"},
            "members": [{"campaign": "office"}, {"campaign": "office"}, {}, {"url": "http://example.org/x/progress"}]
        }))
        .expect("an input");
        let errors = validate_appeal(input, None).expect_err("refused");
        for field in [
            "slug",
            "title",
            "goal",
            "rate_policy",
            "fixed_rates.EUR",
            "fixed_rates.CAD",
            "fixed_rates.XYZ",
            "members[1]",
            "members[2]",
            "members[3].url",
        ] {
            assert!(errors.as_map().contains_key(field), "{field} in {errors:?}");
        }
    }
}
