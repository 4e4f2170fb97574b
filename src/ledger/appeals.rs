//! Appeals: campaigns of this instance and of other sections' instances (remote members,
//! followed by their public progress URL), gathered under one reporting currency and goal.
//! Each member's figure is converted by a stated policy: the rate fixed at launch for its
//! currency (the default, so the total moves only when money arrives), or the latest rate.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::campaign::{Localized, Slug, TITLE_MAX_CHARS, clean_localized, required};
use super::money::{Currency, Money};
use super::progress::{percent, timestamp};
use super::rates::{RATE_LOOKBACK_DAYS, Rate, choose_rate, parse_rate};
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

/// A member as the appeal's figures read it: its public figures (if known), when they are
/// of, and whether they may be out of date.
#[derive(Clone, Debug)]
pub struct MemberSnapshot {
    pub campaign: Option<String>,
    pub url: Option<String>,
    pub name: String,
    pub figures: Option<Figures>,
    pub as_of: Option<DateTime<Utc>>,
    pub stale: bool,
}

/// The rate a member's figure is converted at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedRate {
    pub rate: Decimal,
    /// The day the rate is of; `None` for the appeal's own currency.
    pub day: Option<NaiveDate>,
    pub source: Option<String>,
}

/// Where rates come from: the rates kept near the launch day and near today.
#[derive(Clone, Debug, Default)]
pub struct KnownRates {
    pub at_launch: Vec<Rate>,
    pub latest: Vec<Rate>,
}

/// The source written for a rate fixed when the appeal was set up.
pub const FIXED_AT_LAUNCH: &str = "fixed at launch";

impl Appeal {
    /// The rate that turns `from` into the appeal's currency under its policy, on `today`, or
    /// why there is none (naming the pair and the day).
    pub fn rate_for(
        &self,
        from: Currency,
        known: &KnownRates,
        today: NaiveDate,
    ) -> Result<AppliedRate, String> {
        if from == self.currency {
            return Ok(AppliedRate { rate: Decimal::ONE, day: None, source: None });
        }
        let to = self.currency;
        let (rates, day, which) = match self.rate_policy {
            RatePolicy::Fixed => {
                if let Some(fixed) = self.fixed_rates.get(from.code()) {
                    return Ok(AppliedRate {
                        rate: fixed.rate,
                        day: Some(fixed.day.unwrap_or(self.launched_on)),
                        source: Some(fixed.source.clone().unwrap_or_else(|| FIXED_AT_LAUNCH.to_owned())),
                    });
                }
                (&known.at_launch, self.launched_on, "the appeal's launch day")
            }
            RatePolicy::Latest => (&known.latest, today, "today"),
        };
        choose_rate(rates, from, to, day)
            .map(|rate| AppliedRate { rate: rate.rate, day: Some(rate.day), source: Some(rate.source) })
            .ok_or_else(|| {
                format!(
                    "no {} to {} rate on {day} ({which}) or the {RATE_LOOKBACK_DAYS} days before",
                    from.code(),
                    to.code()
                )
            })
    }

    /// The currencies of its members, as far as they are known (for the rates to read).
    pub fn currencies<'a>(snapshots: impl IntoIterator<Item = &'a MemberSnapshot>) -> Vec<Currency> {
        let mut currencies: Vec<Currency> =
            snapshots.into_iter().filter_map(|member| member.figures.as_ref().map(|f| f.currency)).collect();
        currencies.sort_by_key(|currency| currency.code());
        currencies.dedup();
        currencies
    }
}

/// A campaign's figure (`amount_minor` of `from`, any size, nothing or below nothing after
/// refunds) in `to` at `rate`, rounded half away from zero to `to`'s minor unit; `None` only
/// when it does not fit.
pub fn convert_figure(amount_minor: i64, from: Currency, to: Currency, rate: Decimal) -> Option<i64> {
    if from == to {
        return Some(amount_minor);
    }
    let major = Decimal::from(amount_minor).checked_div(Decimal::from(10_i64.pow(from.digits())))?;
    let converted = major
        .checked_mul(rate)?
        .round_dp_with_strategy(to.digits(), rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    converted.checked_mul(Decimal::from(10_i64.pow(to.digits())))?.to_i64()
}

/// An appeal's progress document: a campaign's fields where they apply, and its members.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AppealProgress {
    pub appeal: String,
    pub title: Localized,
    pub currency: &'static str,
    pub goal: String,
    /// The members' figures converted to `currency` and added, the members whose figures or
    /// rate are missing left out (then `complete` is false).
    pub raised: String,
    pub percent: f64,
    pub donations: i64,
    pub donors: i64,
    pub rate_policy: RatePolicy,
    /// Every member is counted in `raised`.
    pub complete: bool,
    /// Some member's figures may be out of date (a remote not heard from lately).
    pub stale: bool,
    pub status: &'static str,
    pub updated_at: String,
    pub members: Vec<MemberProgress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MemberProgress {
    /// A campaign of this instance; `null` for a remote.
    pub campaign: Option<String>,
    /// A remote campaign's progress URL; `null` for this instance's.
    pub url: Option<String>,
    pub name: String,
    /// Its currency (`null`: a remote never heard from).
    pub currency: Option<&'static str>,
    /// Raised, in its currency.
    pub raised: Option<String>,
    pub goal: Option<String>,
    /// Raised, in the appeal's currency (`null`: not counted, see `problem`).
    pub raised_converted: Option<String>,
    /// `1 currency = rate` of the appeal's currency.
    pub rate: Option<String>,
    pub rate_date: Option<String>,
    pub rate_source: Option<String>,
    pub donations: i64,
    pub donors: i64,
    /// When its figures were last heard (a remote) or last changed (this instance's).
    pub as_of: Option<String>,
    /// A remote that did not answer lately: its last known figure is shown, never zero.
    pub stale: bool,
    /// Why it is not counted, when it is not.
    pub problem: Option<String>,
}

/// The appeal's progress from its members' figures and the rates.
/// `left_out`: some member is not shown (a campaign not public yet), so the total is not
/// complete.
pub fn appeal_progress(
    appeal: &Appeal,
    members: &[MemberSnapshot],
    known: &KnownRates,
    now: DateTime<Utc>,
    left_out: bool,
) -> AppealProgress {
    let to = appeal.currency;
    let today = now.date_naive();
    let mut raised = 0_i64;
    let mut complete = !left_out;
    let mut donations = 0_i64;
    let mut donors = 0_i64;
    let mut updated_at = appeal.updated_at;
    let mut shown = Vec::with_capacity(members.len());
    for member in members {
        let mut row = MemberProgress {
            campaign: member.campaign.clone(),
            url: member.url.clone(),
            name: member.name.clone(),
            currency: None,
            raised: None,
            goal: None,
            raised_converted: None,
            rate: None,
            rate_date: None,
            rate_source: None,
            donations: 0,
            donors: 0,
            as_of: member.as_of.map(timestamp),
            stale: member.stale,
            problem: None,
        };
        match &member.figures {
            None => {
                complete = false;
                row.problem = Some("not heard from yet".to_owned());
            }
            Some(figures) => {
                let from = figures.currency;
                row.currency = Some(from.code());
                row.raised = Some(from.format_minor(figures.raised_minor));
                row.goal = figures.goal_minor.map(|goal| from.format_minor(goal));
                row.donations = figures.donations;
                row.donors = figures.donors;
                donations = donations.saturating_add(figures.donations);
                donors = donors.saturating_add(figures.donors);
                if let Some(at) = figures.updated_at {
                    // A remote's clock may run ahead: never past now.
                    updated_at = updated_at.max(at.min(now));
                }
                let converted = appeal.rate_for(from, known, today).and_then(|rate| {
                    convert_figure(figures.raised_minor, from, to, rate.rate)
                        .map(|minor| (minor, rate))
                        .ok_or_else(|| "its figure cannot be converted (too large)".to_owned())
                });
                match converted {
                    Ok((minor, rate)) if raised.checked_add(minor).is_some() => {
                        raised += minor;
                        row.raised_converted = Some(to.format_minor(minor));
                        row.rate = Some(rate.rate.normalize().to_string());
                        row.rate_date = rate.day.map(|day| day.to_string());
                        row.rate_source = rate.source;
                    }
                    Ok(_) => {
                        complete = false;
                        row.problem = Some("its figure cannot be added (too large)".to_owned());
                    }
                    Err(problem) => {
                        complete = false;
                        row.problem = Some(problem);
                    }
                }
            }
        }
        shown.push(row);
    }
    AppealProgress {
        appeal: appeal.slug.to_string(),
        title: appeal.title.clone(),
        currency: to.code(),
        goal: to.format_minor(appeal.goal_minor),
        raised: to.format_minor(raised),
        percent: percent(raised, appeal.goal_minor),
        donations,
        donors,
        rate_policy: appeal.rate_policy,
        complete,
        stale: members.iter().any(|member| member.stale),
        status: "active",
        updated_at: timestamp(updated_at),
        members: shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::from_code(code).expect("a known currency")
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::from_str(text).expect("a day")
    }

    fn appeal(policy: RatePolicy) -> Appeal {
        let at = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").expect("an instant").to_utc();
        Appeal {
            id: 1,
            slug: Slug::parse("international").expect("a slug"),
            title: Localized { en: "International".into(), fr: String::new() },
            currency: currency("CAD"),
            goal_minor: 25_000_000,
            rate_policy: policy,
            fixed_rates: BTreeMap::from([(
                "EUR",
                FixedRate::given(Decimal::from_str("1.47").expect("a rate")),
            )]),
            launched_on: day("2026-12-01"),
            members: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    fn snapshot(code: &str, raised_minor: i64) -> MemberSnapshot {
        MemberSnapshot {
            campaign: Some(code.to_ascii_lowercase()),
            url: None,
            name: code.to_owned(),
            figures: Some(Figures {
                campaign: None,
                currency: currency(code),
                raised_minor,
                goal_minor: None,
                donations: 2,
                donors: 1,
                updated_at: None,
            }),
            as_of: None,
            stale: false,
        }
    }

    fn rate(base: &str, quote: &str, on: &str, value: &str) -> Rate {
        Rate {
            base: currency(base),
            quote: currency(quote),
            day: day(on),
            rate: Decimal::from_str(value).expect("a rate"),
            source: "ECB".into(),
        }
    }

    #[test]
    fn fixed_rates_convert_each_member_and_the_total_is_their_sum() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").expect("an instant").to_utc();
        let known = KnownRates {
            at_launch: vec![
                rate("EUR", "GBP", "2026-11-30", "0.85"),
                rate("EUR", "CAD", "2026-11-30", "1.50"),
            ],
            latest: vec![rate("EUR", "CAD", "2026-12-04", "1.60")],
        };
        let members = [snapshot("CAD", 100_000), snapshot("EUR", 10_000), snapshot("GBP", 8_500)];
        let document = appeal_progress(&appeal(RatePolicy::Fixed), &members, &known, now, false);
        // CAD as is; EUR at the given 1.47; GBP across the euro on the launch day (1.50 / 0.85).
        assert_eq!(document.members[0].raised_converted.as_deref(), Some("1000.00"));
        assert_eq!(document.members[1].raised_converted.as_deref(), Some("147.00"));
        assert_eq!(document.members[1].rate_source.as_deref(), Some(FIXED_AT_LAUNCH));
        assert_eq!(document.members[2].raised_converted.as_deref(), Some("150.00"));
        assert_eq!(document.members[2].rate_date.as_deref(), Some("2026-11-30"));
        assert_eq!(document.raised, "1297.00");
        assert!(document.complete);
        assert_eq!(document.donations, 6);
    }

    #[test]
    fn the_latest_policy_takes_todays_rate_and_a_missing_one_is_named_not_counted() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").expect("an instant").to_utc();
        let known =
            KnownRates { at_launch: Vec::new(), latest: vec![rate("EUR", "CAD", "2026-12-04", "1.60")] };
        let members = [snapshot("EUR", 10_000), snapshot("SEK", 100_000), snapshot("EUR", -500)];
        let document = appeal_progress(&appeal(RatePolicy::Latest), &members, &known, now, false);
        assert_eq!(document.members[0].raised_converted.as_deref(), Some("160.00"));
        assert_eq!(document.members[2].raised_converted.as_deref(), Some("-8.00"));
        let problem = document.members[1].problem.as_deref().expect("a problem");
        assert!(problem.contains("SEK to CAD") && problem.contains("2026-12-06"), "{problem}");
        assert_eq!(document.raised, "152.00");
        assert!(!document.complete);
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
