//! Usage reports and invoices of the caller's partner, or of the caller's
//! own client for a client admin.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{Datelike, NaiveDate, Utc};
use sam_core::auth::{Action, Target};
use sam_core::billing::{ClientStatement, Invoice};
use sam_core::metering::{parse_zone, DateRange, Month, UsageGroup, UsageQuery, UsageSummary};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The days, grouping and client of a usage report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// A whole month, `YYYY-MM`, in the partner's time zone. Without
    /// `month`, `from` and `to`, the report covers the current month.
    pub month: Option<String>,
    /// First partner-local day, `YYYY-MM-DD`; requires `to`.
    pub from: Option<String>,
    /// Last partner-local day, included, `YYYY-MM-DD`; requires `from`.
    pub to: Option<String>,
    /// The dimension of the rows: `day` (default), `client`, `model` or `provider`.
    pub by: Option<String>,
    /// Only this client's usage. A client admin always gets only their own client's.
    pub client: Option<String>,
}

/// Usage reports and their totals, as sam-core serializes
/// `UsageSummary` and `samctl usage --output json` prints it: `reports`
/// contains one report with `partner`, `group`, `from`, `to`, `rows` (each a
/// `key` and its totals) and `totals`, and `totals` is their sum. Totals are
/// `events`, `input_tokens`, `cached_input_tokens`, `output_tokens`,
/// `cost_nanos` (provider cost in 1e-9 USD) and `cache_hits`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
#[serde(transparent)]
pub struct UsageView(pub UsageSummary);

/// A partner admin's view of an invoice: sam-core's `Invoice` without the
/// platform's provider cost and margin. It contains `partner_id`,
/// `partner_name`, `month`, `status` (`draft` or `closed`), `currency`,
/// `plan`, `evaluations`, `lines` (each with `kind`, `description`,
/// `quantity`, `unit_price`, `amount` and, for an adjustment,
/// `adjusts_month`), `total`, `clients` (each client's part of every line,
/// adding up to `total`) and `closed_at`. Amounts are decimal strings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
#[serde(transparent)]
pub struct PartnerInvoiceView(pub Invoice);

/// A client admin's view of an invoice: sam-core's `ClientStatement`, the
/// caller's client's part only. It contains `partner_id`, `month`, `status`,
/// `currency`, `closed_at`, `client_id`, `client_name`, `evaluations` (the
/// client's own), `lines` (each with `kind`, `amount` and, for an
/// adjustment, `adjusts_month`) and `total`. It leaves out the partner's
/// lines, quantities and price plan, the other clients, and the platform's
/// cost and margin. A client without evaluations in the month may have no
/// lines and a zero total.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
#[serde(transparent)]
pub struct ClientStatementView(pub ClientStatement);

/// An invoice as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum InvoiceView {
    /// The whole invoice, for a partner admin or partner API key.
    Partner(PartnerInvoiceView),
    /// The caller's client's part, for a client admin or client API key.
    Client(ClientStatementView),
}

/// Returns the text of a query parameter cut to 40 characters, for messages.
fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Parses a day `YYYY-MM-DD` with a four-digit year from 0001 to 9999.
/// chrono alone also accepts signed and longer years such as
/// `+10000-01-01`, which the rollups, keyed by the day's text, would
/// compare wrongly.
fn parse_day(name: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let four_digit_year = text.len() == 10 && text.bytes().take(4).all(|b| b.is_ascii_digit());
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|day| four_digit_year && day.year() >= 1)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid {name} {:?}: expected a date YYYY-MM-DD from 0001-01-01 to \
                 9999-12-31, such as 2026-03-01",
                shown(text)
            ))
        })
}

fn parse_group(text: Option<&str>) -> Result<UsageGroup, ApiError> {
    match text {
        None | Some("day") => Ok(UsageGroup::Day),
        Some("client") => Ok(UsageGroup::Client),
        Some("model") => Ok(UsageGroup::Model),
        Some("provider") => Ok(UsageGroup::Provider),
        Some(other) => Err(ApiError::BadRequest(format!(
            "invalid by {:?}: expected day, client, model or provider",
            shown(other)
        ))),
    }
}

/// Returns the days a report covers: `from` to `to`, a `month`, or the
/// current month in the partner's time zone `zone`.
fn report_range(params: &UsageParams, zone: &str) -> Result<DateRange, ApiError> {
    match (&params.month, &params.from, &params.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::BadRequest(
            "month cannot be combined with from and to; send either month=YYYY-MM or \
             from=YYYY-MM-DD&to=YYYY-MM-DD"
                .to_owned(),
        )),
        (None, Some(from), Some(to)) => Ok(DateRange::new(
            parse_day("from", from)?,
            parse_day("to", to)?,
        )?),
        (None, Some(_), None) | (None, None, Some(_)) => Err(ApiError::BadRequest(
            "from and to must be sent together: from=YYYY-MM-DD&to=YYYY-MM-DD".to_owned(),
        )),
        (Some(month), None, None) => Ok(month.parse::<Month>()?.days()),
        (None, None, None) => Ok(Month::of_time(Utc::now(), parse_zone(zone)?).days()),
    }
}

/// Authorizes a usage or invoice read and returns the client it is limited
/// to. A client-bound caller reads its own client with `ViewUsage`, because
/// client admins have no billing permission. Any other caller reads the
/// whole partner with `partner_action`.
fn authorize_read(
    caller: &Caller,
    partner_action: Action,
    client: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match caller.principal.client() {
        Some(own) => {
            // Another client's id fails here as not found.
            let requested = client.unwrap_or(own);
            caller.authorize(Action::ViewUsage, &caller.client_target(requested))?;
            Ok(Some(requested.to_owned()))
        }
        None => {
            caller.authorize(partner_action, &Target::partner(caller.partner.clone()))?;
            Ok(client.map(str::to_owned))
        }
    }
}

/// Returns a usage report of the caller's partner from the daily rollups,
/// in the same JSON as `samctl usage --output json`. A client admin gets
/// only their own client's usage.
#[utoipa::path(get, path = "/api/{partner}/v1/usage", tag = "billing",
    params(("partner" = String, Path, description = "Partner slug"), UsageParams),
    responses(
        (status = 200, body = UsageView),
        (status = 400, description = "An invalid month, date, date range, grouping or query parameter; the message names the value"),
        (status = 403, description = "The caller may not read usage, such as a teacher or student"),
        (status = 404, description = "A client that does not exist or is not the caller's"),
        (status = 500, description = "The store failed"),
    ))]
pub async fn usage(
    caller: Caller,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> Result<Json<UsageView>, ApiError> {
    let Query(params) = params.map_err(|rejection| {
        ApiError::BadRequest(format!("invalid query: {}", rejection.body_text()))
    })?;
    let client = authorize_read(&caller, Action::ViewUsage, params.client.as_deref())?;
    if let Some(client) = &client {
        // An unknown client returns 404, not an empty report.
        caller.db.client(client).await?;
    }
    let query = UsageQuery {
        range: report_range(&params, &caller.db.partner().time_zone)?,
        client_id: client,
        group: parse_group(params.by.as_deref())?,
    };
    let report = caller.db.usage(&query).await?;
    let mut summary = UsageSummary::default();
    summary.push(caller.partner.as_str(), report)?;
    Ok(Json(UsageView(summary)))
}

/// Returns the invoice of `month`: a draft computed now for an open month,
/// the stored invoice of a closed one. A partner admin gets the whole
/// invoice without the platform's provider cost and margin; a client admin
/// gets only their own client's part.
#[utoipa::path(get, path = "/api/{partner}/v1/invoices/{month}", tag = "billing",
    params(
        ("partner" = String, Path, description = "Partner slug"),
        ("month" = String, Path, description = "Billing month, YYYY-MM, in the partner's time zone"),
    ),
    responses(
        (status = 200, body = InvoiceView, description = "A PartnerInvoiceView for a partner admin or partner API key, a ClientStatementView for a client admin or client API key"),
        (status = 400, description = "The month is not YYYY-MM; the message names the value"),
        (status = 403, description = "The caller may not read billing, such as a teacher or student"),
        (status = 404, description = "A month that ended before the partner was created"),
        (status = 409, description = "The partner's plan changed currency while a closed month still needs an adjustment"),
        (status = 500, description = "The store failed, or the billing configuration cannot price the partner"),
    ))]
pub async fn invoice(
    caller: Caller,
    State(state): State<AppState>,
    Path((_partner, month)): Path<(String, String)>,
) -> Result<Json<InvoiceView>, ApiError> {
    let client = authorize_read(&caller, Action::ViewBilling, None)?;
    let month: Month = month.parse()?;
    let invoice = state
        .billing()
        .invoice(&caller.partner, month)
        .await?
        .without_platform();
    let view = match client {
        Some(client_id) => {
            let client = caller.db.client(&client_id).await?;
            InvoiceView::Client(ClientStatementView(
                invoice.client_statement(&client.client_id, &client.name),
            ))
        }
        None => InvoiceView::Partner(PartnerInvoiceView(invoice)),
    };
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_parses_four_digit_years() {
        let day = parse_day("from", "2026-03-01");
        assert_eq!(day.ok(), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert!(parse_day("to", "9999-12-31").is_ok());
    }

    #[test]
    fn day_rejects_other_years() {
        for text in [
            "+10000-01-01",
            "10000-01-01",
            "0000-01-01",
            "-0001-01-01",
            "+026-03-01",
            "2026-3-1",
            "2026-02-30",
        ] {
            let result = parse_day("to", text);
            assert!(matches!(result, Err(ApiError::BadRequest(_))), "{text:?}");
        }
    }
}
