//! Campaigns (appeals with a goal, dates and status) and their branch sub-goals.

use super::goals::{GoalRung, MAX_DONOR_GOAL, keep_reached, parse_ladder};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::money::{Currency, Money};
use super::validation::{AmountText, Field, FieldErrors, optional_text};

/// A URL-safe identifier: lowercase letters, digits and single hyphens, 1 to 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let slug = value.trim();
        let valid = !slug.is_empty()
            && slug.len() <= 64
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !slug.starts_with('-')
            && !slug.ends_with('-')
            && !slug.contains("--");
        if valid {
            Ok(Slug(slug.to_owned()))
        } else {
            Err("must be 1 to 64 lowercase letters, digits or single hyphens, such as \"spring-appeal\"")
        }
    }

    /// A slug read back from our own database, where only valid slugs are written.
    pub fn from_stored(value: String) -> Self {
        Slug(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    Draft,
    Active,
    Closed,
}

impl CampaignStatus {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "draft" => Ok(Self::Draft),
            "active" => Ok(Self::Active),
            "closed" => Ok(Self::Closed),
            _ => Err("must be one of draft, active, closed"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }

    /// Drafts are never shown to the public.
    pub fn is_public(self) -> bool {
        self != Self::Draft
    }
}

/// A text in English and French; either may be empty, and reads fall back to the other.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    #[serde(default)]
    pub en: String,
    #[serde(default)]
    pub fr: String,
}

impl Localized {
    /// The text in `lang` ("en" or "fr"), or the other language when that one is empty.
    pub fn get(&self, lang: &str) -> &str {
        let (first, second) = if lang == "fr" { (&self.fr, &self.en) } else { (&self.en, &self.fr) };
        if first.is_empty() { second } else { first }
    }

    pub fn is_empty(&self) -> bool {
        self.en.is_empty() && self.fr.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub slug: Slug,
    pub currency: Currency,
    pub goal_minor: i64,
    pub title: Localized,
    pub description: Localized,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: CampaignStatus,
    /// A closed campaign put away: left out of lists (the public ones and the dashboard's
    /// main table), its page and figures still answering.
    pub archived: bool,
    pub count_net_of_fees: bool,
    /// Whether matched money counts in `raised` once paid or as soon as pledged.
    pub count_matches: super::matching::MatchCounting,
    pub checkout: CheckoutSettings,
    /// Other currencies a supporter may give a one-off gift in, beside `currency`.
    pub checkout_currencies: Vec<Currency>,
    /// When the figures reached `goal_minor` (recorded by the background job).
    pub goal_reached_at: Option<DateTime<Utc>>,
    /// The goals after `goal_minor`, each above the one before (stretch goals).
    pub stretch_goals: Vec<GoalRung>,
    /// A number of donors to reach, beside the money.
    pub donor_goal: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Campaign {
    /// Every goal, `goal_minor` first, with when each was reached.
    pub fn ladder(&self) -> Vec<GoalRung> {
        let mut rungs = vec![GoalRung { amount_minor: self.goal_minor, reached_at: self.goal_reached_at }];
        rungs.extend(self.stretch_goals.iter().cloned());
        rungs
    }

    /// The goal in force once `raised_minor` is raised: the first not reached.
    pub fn goal_in_force(&self, raised_minor: i64) -> i64 {
        super::goals::goal_in_force(&self.ladder(), raised_minor)
    }
}

/// What a campaign accepts online: the amount range, and the processing-fee formula
/// (basis points of the charge plus a fixed amount) that "cover the fees" pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckoutSettings {
    pub min_minor: i64,
    pub max_minor: Option<i64>,
    pub fee_percent_bp: i64,
    pub fee_fixed_minor: i64,
    /// What the thanks page of a one-off gift offers to give monthly; none when unset.
    pub monthly_ask: Option<super::ask::MonthlyAsk>,
}

impl CheckoutSettings {
    /// 2.00 minimum, no maximum below the global one, and Stripe's standard 2.9 % + 0.30.
    pub fn default_for(currency: Currency) -> Self {
        let unit = 10_i64.pow(currency.digits());
        CheckoutSettings {
            min_minor: 2 * unit,
            max_minor: None,
            fee_percent_bp: 290,
            fee_fixed_minor: (30 * unit) / 100,
            monthly_ask: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    pub id: i64,
    pub slug: Slug,
    pub name: String,
    pub goal_minor: Option<i64>,
}

/// What a client sends to create or change a campaign. On create, `slug`, `currency`,
/// `goal` and `title` are required; on change every field is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"slug": "office", "currency": "CAD", "goal": "100000.00",
    "title": {"en": "New office", "fr": "Nouveau local"}, "status": "active",
    "branches": [{"slug": "montreal", "name": "Montréal", "goal": "40000.00"}]})))]
pub struct CampaignInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub slug: Field<String>,
    /// An ISO 4217 code (`CAD`, `EUR`, `JPY`...).
    #[serde(default)]
    #[schema(value_type = Option<String>, examples("CAD"))]
    pub currency: Field<String>,
    /// The first goal (the goal of a campaign without stretch goals).
    #[serde(default)]
    #[schema(value_type = Option<AmountText>)]
    pub goal: Field<AmountText>,
    /// Stretch goals: the whole ladder, lowest first (`["100000.00", "120000.00"]`); its first
    /// is `goal`. When the figures reach one, the next is the goal in force. `null` keeps
    /// `goal` alone.
    #[serde(default)]
    #[schema(value_type = Option<Vec<AmountText>>)]
    pub goals: Field<Vec<AmountText>>,
    /// A number of donors to reach, beside the money; `null` for none.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub donor_goal: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Localized>)]
    pub title: Field<Localized>,
    #[serde(default)]
    #[schema(value_type = Option<Localized>)]
    pub description: Field<Localized>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub starts_at: Field<String>,
    /// When the campaign ends (RFC 3339): it is closed then, on its own, and its pages hear it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ends_at: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<CampaignStatus>)]
    pub status: Field<String>,
    /// Put a closed campaign away from lists (`true`), or bring it back (`false`).
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub archived: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub count_net_of_fees: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<BranchInput>>)]
    pub branches: Field<Vec<BranchInput>>,
    /// The smallest online gift (default 2.00).
    #[serde(default)]
    #[schema(value_type = Option<AmountText>)]
    pub checkout_min: Field<AmountText>,
    /// The largest online gift (default: the global maximum).
    #[serde(default)]
    #[schema(value_type = Option<AmountText>)]
    pub checkout_max: Field<AmountText>,
    /// The processing fee's percentage, as a decimal string ("2.9").
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub fee_percent: Field<String>,
    /// The processing fee's fixed part ("0.30").
    #[serde(default)]
    #[schema(value_type = Option<AmountText>)]
    pub fee_fixed: Field<AmountText>,
    /// After a one-off gift, the thanks page offers to give monthly: a share of the gift
    /// (`"25%"`, rounded to a friendly figure) or a fixed amount (`"10.00"`); `null`: no ask.
    #[serde(default)]
    #[schema(value_type = Option<String>, examples("25%"))]
    pub monthly_ask: Field<String>,
    /// Matched money counts in `raised` once the matcher paid it (`paid`, the default) or as
    /// soon as gifts earn it (`pledged`, shown apart in `matching.pledged`).
    #[serde(default)]
    #[schema(value_type = Option<crate::ledger::matching::MatchCounting>)]
    pub count_matches: Field<String>,
    /// Other currencies a supporter may give a one-off gift in (`["EUR", "GBP"]`), beside the
    /// campaign's: Stripe charges in the one chosen, and the ledger counts what it settles in
    /// the campaign's currency. `null` or `[]`: the campaign's currency only.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, examples(json!(["EUR", "GBP"])))]
    pub checkout_currencies: Field<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchInput {
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub goal: Option<AmountText>,
}

/// Branches as people write them, one a line (the dashboard) or a flag (the CLI):
/// `slug:name` or `slug:name:goal`. Blank lines are skipped; errors name `branches[i]`.
pub fn parse_branch_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<BranchInput>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut branches = Vec::new();
    for line in lines.into_iter().map(str::trim).filter(|line| !line.is_empty()) {
        let index = branches.len();
        let mut parts = line.splitn(3, ':').map(str::trim);
        match (parts.next(), parts.next()) {
            (Some(slug), Some(name)) => branches.push(BranchInput {
                slug: Some(slug.to_owned()),
                name: Some(name.to_owned()),
                goal: parts.next().filter(|goal| !goal.is_empty()).map(|goal| AmountText(goal.to_owned())),
            }),
            _ => {
                errors.add(format!("branches[{index}]"), "must be written slug:name or slug:name:goal");
                branches.push(BranchInput { slug: None, name: None, goal: None });
            }
        }
    }
    errors.into_result(|| branches)
}

/// A branch as it should be after a create or change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchSpec {
    pub slug: Slug,
    pub name: String,
    pub goal_minor: Option<i64>,
}

/// Every field of a campaign after a create or change, checked.
/// `branches` is `None` when the change leaves them as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignDraft {
    pub slug: Slug,
    pub currency: Currency,
    pub goal_minor: i64,
    pub title: Localized,
    pub description: Localized,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: CampaignStatus,
    pub archived: bool,
    pub count_net_of_fees: bool,
    pub count_matches: super::matching::MatchCounting,
    pub checkout: CheckoutSettings,
    pub checkout_currencies: Vec<Currency>,
    pub branches: Option<Vec<BranchSpec>>,
    pub stretch_goals: Vec<GoalRung>,
    pub donor_goal: Option<i64>,
}

pub(crate) const TITLE_MAX_CHARS: usize = 200;
const DESCRIPTION_MAX_CHARS: usize = 20_000;
const BRANCH_NAME_MAX_CHARS: usize = 200;
const MAX_BRANCHES: usize = 500;

/// Checks a create (`existing` is `None`) or a change of `existing`, naming every bad field.
pub fn validate_campaign(
    input: CampaignInput,
    existing: Option<&Campaign>,
) -> Result<CampaignDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let creating = existing.is_none();
    // A ladder without `goal` gives it: its first.
    let mut input = input;
    if let (Field::Missing, Field::Value(texts)) = (&input.goal, &input.goals)
        && let Some(first) = texts.first()
    {
        input.goal = Field::Value(first.clone());
    }

    let slug =
        required(&mut errors, "slug", input.slug, existing.map(|c| c.slug.clone()), |errors, value| {
            errors.check("slug", Slug::parse(&value))
        });
    let currency =
        required(&mut errors, "currency", input.currency, existing.map(|c| c.currency), |errors, code| {
            errors.check("currency", Currency::from_code(&code))
        });
    let goal_changes = !input.goal.is_missing();
    let goal_minor =
        required(&mut errors, "goal", input.goal, existing.map(|c| c.goal_minor), |errors, text| {
            let currency = currency?;
            errors.check("goal", Money::parse_positive(&text.0, currency)).map(Money::minor)
        });
    if let (false, Some(goal), Some(currency)) = (goal_changes, goal_minor, currency) {
        // A currency change re-checks the kept goal against the new currency's limit.
        errors.check("goal", Money::from_minor(goal, currency));
    }
    let kept_stretch = existing.map(|c| c.stretch_goals.clone()).unwrap_or_default();
    let (goal_minor, stretch_goals) = match (input.goals, currency) {
        (Field::Value(texts), Some(currency)) => match parse_ladder(&mut errors, &texts, currency) {
            Some(amounts) => {
                if goal_changes && goal_minor.is_some_and(|goal| Some(&goal) != amounts.first()) {
                    errors.add("goal", "must be the first of goals (or leave it out)");
                }
                (amounts.first().copied(), keep_reached(&amounts[1..], &kept_stretch))
            }
            None => (goal_minor, kept_stretch),
        },
        (Field::Null, _) => (goal_minor, Vec::new()),
        (_, _) => {
            if let (Some(goal), Some(next)) = (goal_minor, kept_stretch.first())
                && goal >= next.amount_minor
            {
                errors.add("goal", format!("must stay below the next of goals ({})", next.amount_minor));
            }
            (goal_minor, kept_stretch)
        }
    };
    let donor_goal = match input.donor_goal {
        Field::Value(count) if (1..=MAX_DONOR_GOAL).contains(&count) => Some(count),
        Field::Value(_) => {
            errors.add("donor_goal", format!("must be a whole number from 1 to {MAX_DONOR_GOAL}"));
            None
        }
        Field::Null => None,
        Field::Missing => existing.and_then(|c| c.donor_goal),
    };
    let title =
        required(&mut errors, "title", input.title, existing.map(|c| c.title.clone()), |errors, title| {
            let title = clean_localized(errors, "title", title, TITLE_MAX_CHARS);
            if title.is_empty() {
                errors.add("title", "needs an English or French text");
            }
            Some(title)
        });

    let description = match input.description {
        Field::Value(text) => clean_localized(&mut errors, "description", text, DESCRIPTION_MAX_CHARS),
        Field::Null => Localized::default(),
        Field::Missing => existing.map(|c| c.description.clone()).unwrap_or_default(),
    };

    let starts_at =
        parse_instant_field(&mut errors, "starts_at", input.starts_at, existing.and_then(|c| c.starts_at));
    let ends_at =
        parse_instant_field(&mut errors, "ends_at", input.ends_at, existing.and_then(|c| c.ends_at));
    if let (Some(start), Some(end)) = (starts_at, ends_at)
        && end <= start
    {
        errors.add("ends_at", "must be after starts_at");
    }

    let kept_status = Some(existing.map_or(CampaignStatus::Active, |c| c.status));
    let status = required(&mut errors, "status", input.status, kept_status, |errors, value| {
        errors.check("status", CampaignStatus::parse(&value))
    });

    let archived = match input.archived {
        Field::Value(value) => value,
        Field::Null => false,
        // Reopening a campaign brings it back into the lists.
        Field::Missing => existing.is_some_and(|c| c.archived) && status == Some(CampaignStatus::Closed),
    };
    if archived && status.is_some_and(|status| status != CampaignStatus::Closed) {
        errors.add("archived", "only a closed campaign is archived: set its status to closed as well");
    }

    let count_net_of_fees = match input.count_net_of_fees {
        Field::Value(value) => value,
        Field::Null => false,
        Field::Missing => existing.is_some_and(|c| c.count_net_of_fees),
    };

    let count_matches = match input.count_matches {
        Field::Value(text) => errors.check("count_matches", super::matching::MatchCounting::parse(&text)),
        Field::Null => Some(super::matching::MatchCounting::Paid),
        Field::Missing => Some(existing.map_or(super::matching::MatchCounting::Paid, |c| c.count_matches)),
    }
    .unwrap_or_default();

    let branches = match input.branches {
        Field::Value(list) => currency.map(|currency| validate_branches(&mut errors, list, currency)),
        Field::Null => Some(Vec::new()),
        Field::Missing if creating => Some(Vec::new()),
        Field::Missing => None,
    };

    let checkout = currency.map(|currency| {
        let kept = match existing {
            Some(campaign) if campaign.currency == currency => campaign.checkout,
            _ => CheckoutSettings::default_for(currency),
        };
        let fields = CheckoutFields {
            min: &input.checkout_min,
            max: &input.checkout_max,
            fee_percent: &input.fee_percent,
            fee_fixed: &input.fee_fixed,
            monthly_ask: &input.monthly_ask,
        };
        validate_checkout_settings(&mut errors, &fields, currency, kept)
    });

    let checkout_currencies = match input.checkout_currencies {
        Field::Value(codes) => other_currencies(&mut errors, &codes, currency),
        Field::Null => Vec::new(),
        Field::Missing => {
            let kept = existing.map(|c| c.checkout_currencies.clone()).unwrap_or_default();
            kept.into_iter().filter(|other| Some(*other) != currency).collect()
        }
    };

    match (slug, currency, goal_minor, title, status, checkout) {
        (Some(slug), Some(currency), Some(goal_minor), Some(title), Some(status), Some(checkout))
            if errors.is_empty() =>
        {
            Ok(CampaignDraft {
                slug,
                currency,
                goal_minor,
                title,
                description,
                starts_at,
                ends_at,
                status,
                archived,
                count_net_of_fees,
                count_matches,
                checkout,
                checkout_currencies,
                branches,
                stretch_goals,
                donor_goal,
            })
        }
        _ => Err(errors),
    }
}

/// The most other currencies a campaign offers.
const MAX_CHECKOUT_CURRENCIES: usize = 20;

fn other_currencies(errors: &mut FieldErrors, codes: &[String], currency: Option<Currency>) -> Vec<Currency> {
    if codes.len() > MAX_CHECKOUT_CURRENCIES {
        errors.add("checkout_currencies", format!("must list at most {MAX_CHECKOUT_CURRENCIES}"));
        return Vec::new();
    }
    let mut kept: Vec<Currency> = Vec::new();
    for (index, code) in codes.iter().enumerate() {
        let field = format!("checkout_currencies[{index}]");
        let Some(other) = errors.check(&field, Currency::from_code(code)) else { continue };
        if Some(other) == currency {
            errors.add(&field, "is the campaign's own currency: leave it out");
        } else if kept.contains(&other) {
            errors.add(&field, "is listed twice");
        } else {
            kept.push(other);
        }
    }
    kept
}

struct CheckoutFields<'a> {
    min: &'a Field<AmountText>,
    max: &'a Field<AmountText>,
    fee_percent: &'a Field<String>,
    fee_fixed: &'a Field<AmountText>,
    monthly_ask: &'a Field<String>,
}

fn validate_checkout_settings(
    errors: &mut FieldErrors,
    input: &CheckoutFields<'_>,
    currency: Currency,
    kept: CheckoutSettings,
) -> CheckoutSettings {
    let amount =
        |errors: &mut FieldErrors, name: &str, field: &Field<AmountText>, kept: Option<i64>| match field {
            Field::Value(text) => {
                errors.check(name, Money::parse_positive(&text.0, currency)).map(Money::minor)
            }
            Field::Null => None,
            Field::Missing => kept,
        };
    let min_minor = match input.min {
        Field::Null => Some(CheckoutSettings::default_for(currency).min_minor),
        field => amount(errors, "checkout_min", field, Some(kept.min_minor)),
    };
    let max_minor = amount(errors, "checkout_max", input.max, kept.max_minor);
    if let (Some(min), Some(max)) = (min_minor, max_minor)
        && max < min
    {
        errors.add("checkout_max", "must not be below checkout_min");
    }
    let fee_percent_bp = match input.fee_percent {
        Field::Value(text) => errors.check("fee_percent", parse_fee_percent(text)),
        Field::Null => Some(0),
        Field::Missing => Some(kept.fee_percent_bp),
    };
    let fee_fixed_minor = match input.fee_fixed {
        Field::Value(text) => match text.0.trim() {
            "0" | "0.0" | "0.00" | "0.000" => Some(0),
            _ => errors.check("fee_fixed", Money::parse_positive(&text.0, currency)).map(Money::minor),
        },
        Field::Null => Some(0),
        Field::Missing => Some(kept.fee_fixed_minor),
    };
    let monthly_ask = match input.monthly_ask {
        Field::Value(text) if text.trim().is_empty() => None,
        Field::Value(text) => errors.check("monthly_ask", super::ask::MonthlyAsk::parse(text, currency)),
        Field::Null => None,
        Field::Missing => kept.monthly_ask,
    };
    CheckoutSettings {
        min_minor: min_minor.unwrap_or(kept.min_minor),
        max_minor,
        fee_percent_bp: fee_percent_bp.unwrap_or(kept.fee_percent_bp),
        fee_fixed_minor: fee_fixed_minor.unwrap_or(kept.fee_fixed_minor),
        monthly_ask,
    }
}

/// A fee percentage such as "2.9" into basis points (290), from 0 to 50 %.
fn parse_fee_percent(text: &str) -> Result<i64, &'static str> {
    const MESSAGE: &str = "must be a percentage from 0 to 50 with at most two decimals, such as \"2.9\"";
    let value: rust_decimal::Decimal = text.trim().parse().map_err(|_| MESSAGE)?;
    // Checked: a number as large as a decimal holds must be refused, not overflow.
    let basis_points = value.checked_mul(rust_decimal::Decimal::ONE_HUNDRED).ok_or(MESSAGE)?;
    if value.is_sign_negative() || value > rust_decimal::Decimal::from(50) || !basis_points.fract().is_zero()
    {
        return Err(MESSAGE);
    }
    i64::try_from(basis_points).map_err(|_| MESSAGE)
}

/// A field every campaign has: a new value is parsed, `null` is refused, and an absent one
/// keeps `kept` (the campaign's current value, or a default), or is required when there is none.
pub(crate) fn required<T, U>(
    errors: &mut FieldErrors,
    name: &str,
    field: Field<T>,
    kept: Option<U>,
    parse: impl FnOnce(&mut FieldErrors, T) -> Option<U>,
) -> Option<U> {
    match field {
        Field::Value(value) => parse(errors, value),
        Field::Null => {
            errors.add(name, "must not be null");
            None
        }
        Field::Missing => {
            if kept.is_none() {
                errors.add(name, "is required");
            }
            kept
        }
    }
}

pub(crate) fn clean_localized(
    errors: &mut FieldErrors,
    field: &str,
    text: Localized,
    max_chars: usize,
) -> Localized {
    Localized {
        en: optional_text(errors, &format!("{field}.en"), Some(text.en), max_chars).unwrap_or_default(),
        fr: optional_text(errors, &format!("{field}.fr"), Some(text.fr), max_chars).unwrap_or_default(),
    }
}

fn parse_instant_field(
    errors: &mut FieldErrors,
    field: &str,
    value: Field<String>,
    kept: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match value {
        Field::Value(text) => errors.check(field, parse_instant(&text)),
        Field::Null => None,
        Field::Missing => kept,
    }
}

/// Parses an RFC 3339 date and time ("2026-12-31T23:59:59-05:00") into UTC.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, &'static str> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 date and time such as \"2026-12-31T23:59:59-05:00\"")
}

fn validate_branches(
    errors: &mut FieldErrors,
    list: Vec<BranchInput>,
    currency: Currency,
) -> Vec<BranchSpec> {
    if list.len() > MAX_BRANCHES {
        errors.add("branches", format!("must list at most {MAX_BRANCHES} branches"));
        return Vec::new();
    }
    let mut specs: Vec<BranchSpec> = Vec::with_capacity(list.len());
    for (index, branch) in list.into_iter().enumerate() {
        let field = |name: &str| format!("branches[{index}].{name}");
        let slug = match branch.slug {
            Some(value) => errors.check(&field("slug"), Slug::parse(&value)),
            None => {
                errors.add(field("slug"), "is required");
                None
            }
        };
        if let Some(slug) = &slug
            && specs.iter().any(|spec| &spec.slug == slug)
        {
            errors.add(field("slug"), format!("repeats the branch \"{slug}\""));
        }
        let name = optional_text(errors, &field("name"), branch.name, BRANCH_NAME_MAX_CHARS);
        if name.is_none() {
            errors.add(field("name"), "is required");
        }
        let goal_minor = branch.goal.and_then(|AmountText(text)| {
            errors.check(&field("goal"), Money::parse_positive(&text, currency)).map(Money::minor)
        });
        if let (Some(slug), Some(name)) = (slug, name) {
            specs.push(BranchSpec { slug, name, goal_minor });
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> CampaignInput {
        serde_json::from_str(json).expect("valid campaign JSON")
    }

    #[test]
    fn a_fee_percentage_too_large_to_hold_is_refused_not_a_panic() {
        assert_eq!(parse_fee_percent("2.9"), Ok(290));
        for bad in ["79228162514264337593543950335", "7922816251426433759354395033.5", "-1", "50.001", "abc"]
        {
            assert!(parse_fee_percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_are_url_safe() {
        assert!(Slug::parse("spring-appeal-2026").is_ok());
        for bad in ["", "Spring", "a b", "-a", "a-", "a--b", "é", &"a".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_create_names_every_missing_field() {
        let errors = validate_campaign(input("{}"), None).expect_err("incomplete");
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["currency", "goal", "slug", "title"]);
    }

    #[test]
    fn a_create_with_branches_is_checked_whole() {
        let draft = validate_campaign(
            input(
                r#"{"slug":"office","currency":"CAD","goal":"100000","title":{"en":"New office","fr":"Nouveau local"},
                    "branches":[{"slug":"montreal","name":"Montréal","goal":"20000.00"},{"slug":"quebec","name":"Québec"}]}"#,
            ),
            None,
        )
        .expect("valid");
        assert_eq!(draft.goal_minor, 10_000_000);
        assert_eq!(draft.status, CampaignStatus::Active);
        let branches = draft.branches.expect("branches given");
        assert_eq!(branches[0].goal_minor, Some(2_000_000));
        assert_eq!(branches[1].goal_minor, None);
    }

    #[test]
    fn bad_branches_and_dates_are_named() {
        let errors = validate_campaign(
            input(
                r#"{"slug":"office","currency":"CAD","goal":"100","title":{"en":"T"},
                    "starts_at":"2026-12-01T00:00:00Z","ends_at":"2026-11-01T00:00:00Z",
                    "branches":[{"slug":"a","name":"A"},{"slug":"a","name":"B","goal":"-1"}]}"#,
            ),
            None,
        )
        .expect_err("invalid");
        let map = errors.as_map();
        assert_eq!(map["ends_at"], "must be after starts_at");
        assert_eq!(map["branches[1].slug"], "repeats the branch \"a\"");
        assert_eq!(map["branches[1].goal"], "must not be negative");
    }

    #[test]
    fn localized_text_falls_back_to_the_other_language() {
        let text = Localized { en: "Hello".into(), fr: String::new() };
        assert_eq!(text.get("fr"), "Hello");
        assert_eq!(text.get("en"), "Hello");
    }
}
