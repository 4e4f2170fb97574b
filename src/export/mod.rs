//! Ledger exports for accountants: CSV, beancount and ledger/hledger journals, written row
//! by row as the database streams them, so memory does not grow with the ledger.
//!
//! Dates are the day the money was received, in the organization's time zone
//! (`APPEAL_TIMEZONE`): online money by the instant Stripe took it, offline money by the date
//! the treasurer entered. `from` and `to` are both included.

mod csv;
mod journal;
pub mod statement;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::ledger::{Branch, Campaign, FieldErrors};
use crate::store::{ExportRow, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Beancount,
    Ledger,
}

impl Format {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value.trim() {
            "csv" => Ok(Format::Csv),
            "beancount" => Ok(Format::Beancount),
            "ledger" | "hledger" => Ok(Format::Ledger),
            _ => Err("must be one of csv, beancount, ledger"),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Beancount | Format::Ledger => "text/plain; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Beancount => "beancount",
            Format::Ledger => "journal",
        }
    }
}

/// What the API's query string and the CLI's flags give.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportInput {
    /// `csv` (the default), `beancount` or `ledger` (hledger).
    #[param(value_type = Option<Format>, inline)]
    pub format: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub campaign: Option<String>,
    pub branch: Option<String>,
    /// Only the entries one Stripe payout carried.
    pub payout: Option<String>,
    /// `received` (the default): dated by when the money came in; `payout`: by the day the
    /// payout that carried it arrived (online money only).
    pub basis: Option<String>,
}

/// A checked export request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    pub format: Format,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub campaign: Option<String>,
    pub branch: Option<String>,
    pub payout: Option<String>,
    pub by_payout_date: bool,
}

impl ExportRequest {
    /// Checks the request; without dates it covers everything up to today.
    pub fn parse(input: ExportInput, today: NaiveDate) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let format = match input.format.as_deref() {
            Some(text) => errors.check("format", Format::parse(text)),
            None => Some(Format::Csv),
        };
        let date =
            |errors: &mut FieldErrors, field: &str, value: Option<&str>, default: NaiveDate| match value {
                Some(text) => errors.check(
                    field,
                    crate::ledger::validation::parse_day(text).ok_or("must be a date written YYYY-MM-DD"),
                ),
                None => Some(default),
            };
        let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
        let from = date(&mut errors, "from", input.from.as_deref(), earliest);
        let to = date(&mut errors, "to", input.to.as_deref(), today);
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            errors.add("to", "must not be before from");
        }
        if input.branch.is_some() && input.campaign.is_none() {
            errors.add("branch", "needs a campaign");
        }
        let by_payout_date = match input.basis.as_deref() {
            None | Some("received") => false,
            Some("payout") => true,
            Some(_) => {
                errors.add("basis", "must be received or payout");
                false
            }
        };
        match (format, from, to) {
            (Some(format), Some(from), Some(to)) if errors.is_empty() => Ok(ExportRequest {
                format,
                from,
                to,
                campaign: input.campaign,
                branch: input.branch,
                payout: input.payout.filter(|payout| !payout.trim().is_empty()),
                by_payout_date,
            }),
            _ => Err(errors),
        }
    }

    /// The range as instants: from `from` at midnight to the midnight after `to`, local time.
    pub fn instants(&self, timezone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let after = self.to.checked_add_days(chrono::Days::new(1)).unwrap_or(NaiveDate::MAX);
        (local_midnight(self.from, timezone), local_midnight(after, timezone))
    }
}

fn local_midnight(date: NaiveDate, timezone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    midnight
        .and_local_timezone(timezone)
        .earliest()
        // A zone that skips midnight (a DST change at 00:00) starts the day an hour later.
        .or_else(|| (midnight + chrono::Duration::hours(1)).and_local_timezone(timezone).earliest())
        .map_or_else(|| midnight.and_utc(), |local| local.with_timezone(&Utc))
}

/// The day an entry counts on: its instant in the organization's zone, or its entered date.
fn row_date(row: &ExportRow<'_>, timezone: Tz) -> Result<NaiveDate, StoreError> {
    Ok(match row.received_at()? {
        Some(at) => at.with_timezone(&timezone).date_naive(),
        None => row.received_on()?,
    })
}

/// Writes one export, a piece at a time.
#[derive(Debug)]
pub struct Writer {
    format: Format,
    timezone: Tz,
    /// Donors' names and emails are left out for viewers.
    include_donors: bool,
}

impl Writer {
    pub fn new(format: Format, timezone: Tz, include_donors: bool) -> Self {
        Writer { format, timezone, include_donors }
    }

    /// What comes before the first entry: the CSV header, or the journal's declarations.
    pub fn header(&self, campaigns: &[(Campaign, Vec<Branch>)]) -> String {
        match self.format {
            Format::Csv => csv::header(),
            Format::Beancount => journal::beancount_header(campaigns),
            Format::Ledger => journal::ledger_header(campaigns),
        }
    }

    /// Appends one row to `out`. Donors' names and e-mails come out of rows only for scopes
    /// that see them.
    pub fn row(&self, row: &mut ExportRow<'_>, out: &mut String) -> Result<(), StoreError> {
        let date = row_date(row, self.timezone)?;
        match self.format {
            Format::Csv => csv::write_row(out, row, date)?,
            Format::Beancount => {
                out.push_str(&journal::beancount_entry(&row.to_entry()?, date, self.include_donors))
            }
            Format::Ledger => {
                out.push_str(&journal::ledger_entry(&row.to_entry()?, date, self.include_donors))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_covers_whole_local_days() {
        let request = ExportRequest {
            format: Format::Csv,
            from: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
            to: NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
            campaign: None,
            branch: None,
            payout: None,
            by_payout_date: false,
        };
        let (start, end) = request.instants(chrono_tz::America::Toronto);
        assert_eq!(start.to_rfc3339(), "2026-11-01T04:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-12-01T05:00:00+00:00");
    }

    #[test]
    fn bad_requests_name_the_field() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let errors = ExportRequest::parse(
            ExportInput {
                format: Some("xls".into()),
                from: Some("2026-12-01".into()),
                to: Some("2026-11-01".into()),
                branch: Some("x".into()),
                ..ExportInput::default()
            },
            today,
        )
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["branch", "format", "to"]);
    }
}

/// An export under way: its format, a file name, and its text as it is written.
#[derive(Debug)]
pub struct Export {
    pub format: Format,
    pub file_name: String,
    pub chunks: tokio::sync::mpsc::Receiver<Result<String, crate::store::StoreError>>,
}

/// Checks the request against the campaigns and starts writing; the API streams the chunks
/// to the client and the CLI to a file, through this one function.
pub async fn start(
    store: &crate::store::Store,
    input: ExportInput,
    timezone: Tz,
    scope: &crate::access::Scope,
    stall_timeout: std::time::Duration,
) -> Result<Export, crate::actions::ActionError> {
    let request = ExportRequest::parse(input, Utc::now().with_timezone(&timezone).date_naive())?;
    let mut campaigns: Vec<(Campaign, Vec<Branch>)> = Vec::new();
    let (mut campaign_id, mut branch_id) = (None, None);
    match &request.campaign {
        Some(slug) => {
            let campaign = store
                .campaign_by_slug(slug)
                .await?
                .ok_or_else(|| FieldErrors::single("campaign", "is not a known campaign"))?;
            let branches = store.branches(campaign.id).await?;
            if let Some(branch_slug) = &request.branch {
                let branch =
                    branches.iter().find(|branch| branch.slug.as_str() == branch_slug).ok_or_else(|| {
                        FieldErrors::single("branch", format!("is not a branch of campaign \"{slug}\""))
                    })?;
                branch_id = Some(branch.id);
            }
            campaign_id = Some(campaign.id);
            campaigns.push((campaign, branches));
        }
        None => {
            for campaign in store.list_campaigns(true).await? {
                let branches = store.branches(campaign.id).await?;
                campaigns.push((campaign, branches));
            }
        }
    }
    let (from_instant, to_instant) = request.instants(timezone);
    let writer = Writer::new(request.format, timezone, scope.sees_donors());
    let header = writer.header(&campaigns);
    let chunks = store.stream_export(
        scope,
        crate::store::ExportFilter {
            from_instant,
            to_instant,
            from_date: request.from,
            to_date: request.to,
            campaign_id,
            branch_id,
            payout_id: request.payout.clone(),
            by_payout_date: request.by_payout_date,
            stall_timeout,
        },
        header,
        move |row, out| writer.row(row, out),
    );
    let scope_name = request.campaign.clone().unwrap_or_else(|| "all".to_owned());
    let file_name =
        format!("appeal-{scope_name}-{}-{}.{}", request.from, request.to, request.format.extension());
    Ok(Export { format: request.format, file_name, chunks })
}
