//! `GET /api/v1/admin/recurring`: recurring health, month by month, as JSON or CSV.

use axum::extract::State;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, Problem};
use super::extract::ApiQuery;
use crate::access::Role;
use crate::actions::{self, RecurringQuery, RecurringReport};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recurring))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecurringParams {
    /// One campaign's subscriptions (its slug); every campaign's when missing.
    #[serde(default)]
    pub campaign: Option<String>,
    /// The first month, `YYYY-MM`; eleven months before `to` when missing.
    #[serde(default)]
    pub from: Option<String>,
    /// The last month, `YYYY-MM`; this month (in the organization's time zone) when missing.
    #[serde(default)]
    pub to: Option<String>,
    /// The currency counted, needed only when the campaigns count in several and no campaign
    /// is named.
    #[serde(default)]
    pub currency: Option<String>,
    /// `json` (the default) or `csv`.
    #[serde(default)]
    pub format: Option<String>,
    /// With `format=csv`: `months` (the default), `cohorts` or `projection`.
    #[serde(default)]
    pub table: Option<String>,
}

/// One month: what was active at its end, and what moved during it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecurringMonthBody {
    /// `YYYY-MM`.
    pub month: String,
    /// Subscriptions active at the month's end (`active`, `trialing` or `past_due`).
    pub active: i64,
    /// Of those, past due (a failed payment Stripe is still retrying).
    pub past_due: i64,
    /// Their amounts a month (a yearly one as a twelfth).
    pub monthly: String,
    /// Subscriptions that first became active.
    pub new: i64,
    /// Subscriptions paying again after a failed payment (or a pause).
    pub recovered: i64,
    /// Subscriptions cancelled by their donor or a treasurer.
    pub cancelled: i64,
    /// Subscriptions ended by failed (or disputed) payments.
    pub failed: i64,
    /// `active` less the previous month's `active`.
    pub net: i64,
}

/// Subscriptions that first became active in `month`, and how many were still active at the
/// end of that month and each one after (`active[0]` is that month).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CohortBody {
    pub month: String,
    pub started: i64,
    pub active: Vec<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectedMonthBody {
    pub month: String,
    pub active: i64,
    pub monthly: String,
}

/// Twelve months ahead from the last month's active set, losing `monthly_churn` of it each
/// month; no new subscriptions are assumed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectionBody {
    /// Subscriptions ended (cancelled or failed) per subscription active at a month's start,
    /// over the months reported, as a fraction ("0.0417").
    pub monthly_churn: String,
    pub months: Vec<ProjectedMonthBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecurringBody {
    /// The campaign's slug, or `null` for the whole organization.
    pub campaign: Option<String>,
    pub currency: &'static str,
    /// The organization's time zone, in which months begin and end.
    pub time_zone: String,
    pub from: String,
    pub to: String,
    pub months: Vec<RecurringMonthBody>,
    pub cohorts: Vec<CohortBody>,
    pub projection: ProjectionBody,
}

impl RecurringBody {
    pub fn new(report: &RecurringReport, zone: chrono_tz::Tz) -> Self {
        let currency = report.currency;
        let health = &report.health;
        RecurringBody {
            campaign: report.campaign.as_ref().map(|campaign| campaign.slug.to_string()),
            currency: currency.code(),
            time_zone: zone.name().to_owned(),
            from: report.from.to_string(),
            to: report.to.to_string(),
            months: health
                .months
                .iter()
                .map(|month| RecurringMonthBody {
                    month: month.month.map(|month| month.to_string()).unwrap_or_default(),
                    active: month.active,
                    past_due: month.past_due,
                    monthly: currency.format_minor(month.monthly_minor),
                    new: month.new,
                    recovered: month.recovered,
                    cancelled: month.cancelled,
                    failed: month.failed,
                    net: month.net,
                })
                .collect(),
            cohorts: health
                .cohorts
                .iter()
                .map(|cohort| CohortBody {
                    month: cohort.month.to_string(),
                    started: cohort.started,
                    active: cohort.active.clone(),
                })
                .collect(),
            projection: ProjectionBody {
                monthly_churn: format!("{:.4}", health.churn),
                months: health
                    .projection
                    .iter()
                    .map(|projected| ProjectedMonthBody {
                        month: projected.month.to_string(),
                        active: projected.active,
                        monthly: currency.format_minor(projected.monthly_minor),
                    })
                    .collect(),
            },
        }
    }

    /// The name a download of one of its tables gets.
    pub fn file_name(&self, table: &str) -> String {
        format!(
            "recurring-{}-{table}-{}-{}.csv",
            self.campaign.as_deref().unwrap_or("all"),
            self.from,
            self.to
        )
    }

    /// One of its tables as CSV: `months`, `cohorts` or `projection`.
    pub fn csv(&self, table: &str) -> String {
        let mut out = String::new();
        match table {
            "cohorts" => {
                let widest = self.cohorts.iter().map(|cohort| cohort.active.len()).max().unwrap_or(0);
                out.push_str("month,started");
                for n in 0..widest {
                    out.push_str(&format!(",month_{n}"));
                }
                out.push_str("\r\n");
                for cohort in &self.cohorts {
                    out.push_str(&format!("{},{}", cohort.month, cohort.started));
                    for n in 0..widest {
                        out.push(',');
                        if let Some(active) = cohort.active.get(n) {
                            out.push_str(&active.to_string());
                        }
                    }
                    out.push_str("\r\n");
                }
            }
            "projection" => {
                out.push_str("month,active,monthly\r\n");
                for month in &self.projection.months {
                    out.push_str(&format!("{},{},{}\r\n", month.month, month.active, month.monthly));
                }
            }
            _ => {
                out.push_str("month,active,past_due,monthly,new,recovered,cancelled,failed,net\r\n");
                for m in &self.months {
                    out.push_str(&format!(
                        "{},{},{},{},{},{},{},{},{}\r\n",
                        m.month,
                        m.active,
                        m.past_due,
                        m.monthly,
                        m.new,
                        m.recovered,
                        m.cancelled,
                        m.failed,
                        m.net
                    ));
                }
            }
        }
        out
    }
}

/// Recurring health for one campaign or the whole organization, month by month: active
/// subscriptions and their monthly amount (yearly ones as twelfths), new, recovered, cancelled,
/// ended by failed payments, net change; cohorts; a twelve-month projection. Read from each
/// subscription's recorded status changes; months in the organization's time zone. A branch
/// treasurer sees their branch's subscriptions. `format=csv` gives one table (`table`).
#[utoipa::path(get, path = "/api/v1/admin/recurring", tag = "ledger", params(RecurringParams),
    responses((status = 200, description = "The figures", body = RecurringBody,
        content((RecurringBody = "application/json"), (String = "text/csv; charset=utf-8"))),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json")))]
async fn recurring(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<RecurringParams>,
) -> ApiResult<Response> {
    let actor = caller.require(Role::Viewer)?;
    let format = params.format.as_deref().unwrap_or("json");
    let table = params.table.as_deref().unwrap_or("months");
    let mut wrong = crate::ledger::FieldErrors::new();
    if !matches!(format, "json" | "csv") {
        wrong.add("format", format!("must be json or csv, not {format:?}"));
    }
    if !matches!(table, "months" | "cohorts" | "projection") {
        wrong.add("table", format!("must be months, cohorts or projection, not {table:?}"));
    }
    if !wrong.is_empty() {
        return Err(Problem::validation(&wrong));
    }
    let query = RecurringQuery {
        campaign: params.campaign,
        from: params.from,
        to: params.to,
        currency: params.currency,
    };
    let report = actions::recurring_health(&state.store, state.timezone, &query, actor).await?;
    let body = RecurringBody::new(&report, state.timezone);
    if format == "json" {
        return Ok(axum::Json(body).into_response());
    }
    let name = body.file_name(table);
    Ok(super::exports::file(body.csv(table), "text/csv; charset=utf-8", "attachment", &name))
}
