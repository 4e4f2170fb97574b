//! Campaigns managed in the dashboard, by admins: created and edited (titles and descriptions
//! in each language, goal, dates in the organization's zone, status, branches, checkout
//! settings), closed, and deleted while they hold no money.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::fields::{Place, labelled, local_instant};
use super::notice::redirect_with_notice;
use super::{form, frame, page};
use crate::access::Role;
use crate::actions::{self, ActionError};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::Problem;
use crate::ledger::campaign::{CampaignInput, Localized, parse_branch_lines};
use crate::ledger::validation::{AmountText, Field};
use crate::ledger::{Branch, Campaign};

/// The campaign form as typed: every field text, so that it comes back as it was.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
struct CampaignForm {
    #[serde(skip_serializing)]
    csrf: Option<String>,
    slug: Option<String>,
    currency: Option<String>,
    goal: Option<String>,
    title_en: Option<String>,
    title_fr: Option<String>,
    description_en: Option<String>,
    description_fr: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    status: Option<String>,
    count_net_of_fees: Option<String>,
    /// Ticked: matched money counts in raised as soon as pledged.
    count_matches_pledged: Option<String>,
    /// Ticked: a closed campaign kept out of lists.
    archived: Option<String>,
    checkout_min: Option<String>,
    checkout_max: Option<String>,
    fee_percent: Option<String>,
    fee_fixed: Option<String>,
    /// "25%" or "10.00"; empty: no monthly ask.
    monthly_ask: Option<String>,
    checkout_currencies: Option<String>,
    /// The goals after `goal`, lowest first, separated by commas or lines; empty: none.
    stretch_goals: Option<String>,
    /// A number of donors to reach; empty: none.
    donor_goal: Option<String>,
    /// One branch a line: slug:name or slug:name:goal.
    branches: Option<String>,
}

impl CampaignForm {
    /// The form filled with a campaign as it is, dates in `zone`.
    fn of(campaign: &Campaign, branches: &[Branch], zone: chrono_tz::Tz) -> Self {
        let currency = campaign.currency;
        let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string())
        };
        let lines: Vec<String> = branches
            .iter()
            .map(|branch| match branch.goal_minor {
                Some(goal) => format!("{}:{}:{}", branch.slug, branch.name, currency.format_minor(goal)),
                None => format!("{}:{}", branch.slug, branch.name),
            })
            .collect();
        CampaignForm {
            csrf: None,
            slug: Some(campaign.slug.to_string()),
            currency: Some(currency.code().to_owned()),
            goal: Some(currency.format_minor(campaign.goal_minor)),
            title_en: Some(campaign.title.en.clone()),
            title_fr: Some(campaign.title.fr.clone()),
            description_en: Some(campaign.description.en.clone()),
            description_fr: Some(campaign.description.fr.clone()),
            starts_at: when(campaign.starts_at),
            ends_at: when(campaign.ends_at),
            status: Some(campaign.status.as_str().to_owned()),
            count_net_of_fees: campaign.count_net_of_fees.then(|| "1".to_owned()),
            count_matches_pledged: (campaign.count_matches
                == crate::ledger::matching::MatchCounting::Pledged)
                .then(|| "1".to_owned()),
            archived: campaign.archived.then(|| "1".to_owned()),
            checkout_min: Some(currency.format_minor(campaign.checkout.min_minor)),
            checkout_max: campaign.checkout.max_minor.map(|max| currency.format_minor(max)),
            fee_percent: Some(
                rust_decimal::Decimal::new(campaign.checkout.fee_percent_bp, 2).normalize().to_string(),
            ),
            fee_fixed: Some(currency.format_minor(campaign.checkout.fee_fixed_minor)),
            monthly_ask: campaign.checkout.monthly_ask.map(|ask| ask.text(currency)),
            checkout_currencies: Some(
                campaign.checkout_currencies.iter().map(|other| other.code()).collect::<Vec<_>>().join(", "),
            ),
            stretch_goals: Some(
                campaign
                    .stretch_goals
                    .iter()
                    .map(|rung| currency.format_minor(rung.amount_minor))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            donor_goal: campaign.donor_goal.map(|goal| goal.to_string()),
            branches: Some(lines.join("\n")),
        }
    }

    /// What the form asks for, as the API's input: an empty optional field clears it.
    fn input(&self, zone: chrono_tz::Tz) -> Result<CampaignInput, crate::ledger::FieldErrors> {
        let text = |value: &Option<String>| value.as_deref().map(str::trim).unwrap_or("").to_owned();
        let required = |value: &Option<String>| Field::Value(text(value));
        let clearable = |value: &Option<String>| {
            let value = text(value);
            if value.is_empty() { Field::Null } else { Field::Value(value) }
        };
        // A `datetime-local` value is a time in the organization's zone.
        let instant = |value: &Option<String>| clearable(value).map_value(|text| local_instant(text, zone));
        let branches = parse_branch_lines(self.branches.as_deref().unwrap_or("").lines())?;
        Ok(CampaignInput {
            slug: required(&self.slug),
            currency: required(&self.currency),
            goal: required(&self.goal).map_value(AmountText),
            title: Field::Value(Localized { en: text(&self.title_en), fr: text(&self.title_fr) }),
            description: Field::Value(Localized {
                en: text(&self.description_en),
                fr: text(&self.description_fr),
            }),
            starts_at: instant(&self.starts_at),
            ends_at: instant(&self.ends_at),
            status: required(&self.status),
            count_net_of_fees: Field::Value(self.count_net_of_fees.is_some()),
            count_matches: Field::Value(
                if self.count_matches_pledged.is_some() { "pledged" } else { "paid" }.to_owned(),
            ),
            archived: Field::Value(self.archived.is_some()),
            branches: Field::Value(branches),
            checkout_min: clearable(&self.checkout_min).map_value(AmountText),
            checkout_max: clearable(&self.checkout_max).map_value(AmountText),
            fee_percent: clearable(&self.fee_percent),
            fee_fixed: clearable(&self.fee_fixed).map_value(AmountText),
            monthly_ask: clearable(&self.monthly_ask),
            checkout_currencies: Field::Value(
                text(&self.checkout_currencies)
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|code| !code.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            // The goal, then the later ones typed: the whole ladder.
            goals: {
                let later: Vec<AmountText> = text(&self.stretch_goals)
                    .split([',', '\n', ';'])
                    .map(str::trim)
                    .filter(|amount| !amount.is_empty())
                    .map(|amount| AmountText(amount.to_owned()))
                    .collect();
                if later.is_empty() {
                    Field::Null
                } else {
                    Field::Value(std::iter::once(AmountText(text(&self.goal))).chain(later).collect())
                }
            },
            donor_goal: match text(&self.donor_goal).as_str() {
                "" => Field::Null,
                typed => match typed.replace([' ', '\u{a0}', ','], "").parse() {
                    Ok(count) => Field::Value(count),
                    Err(_) => {
                        return Err(crate::ledger::FieldErrors::single(
                            "donor_goal",
                            "must be a whole number of donors",
                        ));
                    }
                },
            },
        })
    }
}

/// What a field is called on the form, for its message.
fn label(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("branches[") {
        let (index, part) = rest.split_once(']').unwrap_or((rest, ""));
        let line = index.parse::<usize>().map_or(1, |index| index + 1);
        return format!("Branches, line {line}{}", part.replace('.', ": "));
    }
    match field {
        "slug" => "Address (slug)",
        "currency" => "Currency",
        "goal" => "Goal",
        "title" => "Title",
        "description" => "Description",
        "starts_at" => "Starts",
        "ends_at" => "Ends",
        "status" => "Status",
        "archived" => "Archived",
        "checkout_min" => "Smallest online gift",
        "checkout_max" => "Largest online gift",
        "fee_percent" => "Fee percentage",
        "fee_fixed" => "Fixed fee",
        "monthly_ask" => "Monthly ask",
        field if field.starts_with("checkout_currencies") => "Other currencies",
        "donor_goal" => "Donor goal",
        field if field.starts_with("goals") => "Stretch goals",
        "branches" => "Branches",
        "campaign" => "Campaign",
        other => other,
    }
    .to_owned()
}

fn render_form(
    state: &AppState,
    signed_in: &SignedIn,
    editing: Option<&str>,
    typed: &CampaignForm,
    errors: &BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    // Each message beside its field (branch lines together), under the field's label.
    let refusal = labelled(errors, |field| {
        let input = match field {
            field if field.starts_with("branches") => "branches",
            field if field.starts_with("checkout_currencies") => "checkout_currencies",
            // The ladder's first is the goal; the others are typed as stretch goals.
            "goals[0]" => "goal",
            field if field.starts_with("goals") => "stretch_goals",
            "title" => "title_en",
            "description" => "description_en",
            other => other,
        };
        Place::at(label(field), format!("campaign-{input}"))
    });
    let title = if editing.is_some() { "Edit the campaign" } else { "New campaign" };
    let context = json!({
        "frame": frame(state, signed_in, title),
        "heading": title,
        "editing": editing,
        "action": editing.map_or_else(|| "/admin/campaigns".to_owned(), |slug| format!("/admin/c/{slug}/edit")),
        "typed": typed,
        "beside": refusal["beside"],
        "errors": refusal["summary"],
        "zone": state.timezone.name(),
        "statuses": ["draft", "active", "closed"],
    });
    page(status, "admin_campaign_form.html", context)
}

fn refuse_unless_admin(signed_in: &SignedIn) -> Option<Response> {
    (!signed_in.actor.role.allows(Role::Admin))
        .then(|| Problem::forbidden("Campaigns are created and changed by admins.").into_response())
}

pub(super) async fn new_campaign(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    if let Some(refused) = refuse_unless_admin(&signed_in) {
        return refused;
    }
    let typed = CampaignForm {
        currency: Some("CAD".to_owned()),
        status: Some("draft".to_owned()),
        fee_percent: Some("2.9".to_owned()),
        fee_fixed: Some("0.30".to_owned()),
        checkout_min: Some("2.00".to_owned()),
        ..CampaignForm::default()
    };
    render_form(&state, &signed_in, None, &typed, &BTreeMap::new(), StatusCode::OK)
}

/// The messages of a refused create or change, or the problem of a failure.
fn refusal(error: ActionError) -> Result<BTreeMap<String, String>, Problem> {
    super::fields::field_errors(error)
}

pub(super) async fn create_campaign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    body: Bytes,
) -> Response {
    let typed: CampaignForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(typed.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let result = match typed.input(state.timezone) {
        Ok(input) => actions::create_campaign(&state.store, input, &signed_in.actor).await,
        Err(errors) => Err(ActionError::Invalid(errors)),
    };
    match result {
        Ok(campaign) => {
            let notice = format!("Created the campaign \"{}\".", campaign.title.get("en"));
            redirect_with_notice(&state, &signed_in, &format!("/admin/c/{}", campaign.slug), &notice)
        }
        Err(error) => match refusal(error) {
            Ok(errors) => {
                render_form(&state, &signed_in, None, &typed, &errors, StatusCode::UNPROCESSABLE_ENTITY)
            }
            Err(problem) => problem.into_response(),
        },
    }
}

pub(super) async fn edit_campaign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
) -> Response {
    if let Some(refused) = refuse_unless_admin(&signed_in) {
        return refused;
    }
    let Ok(Some(campaign)) = state.store.campaign_by_slug(&slug).await else {
        return Problem::not_found("campaign").into_response();
    };
    let branches = state.store.branches(campaign.id).await.unwrap_or_default();
    let typed = CampaignForm::of(&campaign, &branches, state.timezone);
    render_form(&state, &signed_in, Some(&slug), &typed, &BTreeMap::new(), StatusCode::OK)
}

pub(super) async fn update_campaign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let typed: CampaignForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(typed.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let result = match typed.input(state.timezone) {
        Ok(input) => {
            let updated = actions::update_campaign(&state.store, &slug, input, &signed_in.actor).await;
            state.pages.clear();
            updated
        }
        Err(errors) => Err(ActionError::Invalid(errors)),
    };
    match result {
        Ok(campaign) => {
            let notice = format!("Saved the campaign \"{}\".", campaign.title.get("en"));
            redirect_with_notice(&state, &signed_in, &format!("/admin/c/{}", campaign.slug), &notice)
        }
        Err(error) => match refusal(error) {
            Ok(errors) => render_form(
                &state,
                &signed_in,
                Some(&slug),
                &typed,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(problem) => problem.into_response(),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
struct DeleteForm {
    csrf: Option<String>,
    /// The slug typed again, as a confirmation.
    confirm: Option<String>,
}

pub(super) async fn delete_campaign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let submitted: DeleteForm = form(&body);
    if let Some(refused) = signed_in.refuse_form(submitted.csrf.as_deref(), Role::Admin) {
        return refused;
    }
    let result = if submitted.confirm.as_deref().map(str::trim) == Some(slug.as_str()) {
        actions::delete_campaign(&state.store, &slug, &signed_in.actor).await
    } else {
        Err(ActionError::Invalid(crate::ledger::FieldErrors::single(
            "campaign",
            format!("is deleted only when its address \"{slug}\" is typed to confirm"),
        )))
    };
    match result {
        Ok(()) => {
            redirect_with_notice(&state, &signed_in, "/admin", &format!("Deleted the campaign {slug}."))
        }
        Err(error) => {
            let Ok(Some(campaign)) = state.store.campaign_by_slug(&slug).await else {
                return Problem::not_found("campaign").into_response();
            };
            let branches = state.store.branches(campaign.id).await.unwrap_or_default();
            let typed = CampaignForm::of(&campaign, &branches, state.timezone);
            match refusal(error) {
                Ok(errors) => {
                    render_form(&state, &signed_in, Some(&slug), &typed, &errors, StatusCode::CONFLICT)
                }
                Err(problem) => problem.into_response(),
            }
        }
    }
}
