//! Closed invoices in the control tables. A row is inserted once when its
//! month closes and never updated or deleted.

use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::values::{decode_decimal, decode_time, encode_time};
use super::Store;
use crate::billing::{Invoice, InvoiceStatus};
use crate::tenancy::{is_unique_violation, PartnerSlug, TenancyError};

const INVOICE_COLUMNS: &str = "id, partner_id, partner_name, month, currency, evaluations, \
     total, provider_cost_nanos, plan, lines, clients, platform, closed_at";

fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &'static str,
) -> Result<T, TenancyError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|err| TenancyError::Corrupt {
        column,
        reason: err.to_string(),
    })
}

fn to_json<T: serde::Serialize>(column: &'static str, value: &T) -> Result<String, TenancyError> {
    serde_json::to_string(value).map_err(|err| TenancyError::Corrupt {
        column,
        reason: err.to_string(),
    })
}

fn decode_invoice(row: &AnyRow) -> Result<Invoice, TenancyError> {
    let plan: crate::billing::ResolvedPlan = json_column(row, "plan")?;
    let month: String = row.try_get("month")?;
    let closed_at: String = row.try_get("closed_at")?;
    Ok(Invoice {
        partner_id: row.try_get("partner_id")?,
        partner_name: row.try_get("partner_name")?,
        month: month.parse().map_err(|err| TenancyError::Corrupt {
            column: "invoices.month",
            reason: format!("{err}"),
        })?,
        status: InvoiceStatus::Closed,
        currency: plan.currency,
        plan,
        evaluations: row.try_get("evaluations")?,
        lines: json_column(row, "lines")?,
        total: decode_decimal("invoices.total", &row.try_get::<String, _>("total")?)?,
        clients: json_column(row, "clients")?,
        closed_at: Some(decode_time("invoices.closed_at", &closed_at)?),
        platform: json_column(row, "platform")?,
    })
}

impl Store {
    /// Stores a closed invoice.
    ///
    /// # Errors
    /// [`TenancyError::AlreadyExists`] when the partner's month is closed
    /// already, or a database error.
    pub(crate) async fn insert_closed_invoice(
        &self,
        invoice: &Invoice,
    ) -> Result<(), TenancyError> {
        let closed_at = invoice
            .closed_at
            .ok_or_else(|| TenancyError::InvalidInput {
                field: "closed_at",
                value: String::new(),
                reason: "a closed invoice needs its closing time".to_owned(),
            })?;
        let sql = format!(
            "INSERT INTO {} ({INVOICE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            self.control_tables().invoices
        );
        let inserted = sqlx::query(&sql)
            .bind(Uuid::now_v7().to_string())
            .bind(&invoice.partner_id)
            .bind(&invoice.partner_name)
            .bind(invoice.month.to_string())
            .bind(invoice.currency.code())
            .bind(invoice.evaluations)
            .bind(invoice.total.to_string())
            .bind(invoice.provider_cost_nanos().unwrap_or(0))
            .bind(to_json("invoices.plan", &invoice.plan)?)
            .bind(to_json("invoices.lines", &invoice.lines)?)
            .bind(to_json("invoices.clients", &invoice.clients)?)
            .bind(to_json("invoices.platform", &invoice.platform)?)
            .bind(encode_time(closed_at))
            .execute(self.control_pool())
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(TenancyError::AlreadyExists {
                kind: "invoice",
                id: format!("{} {}", invoice.partner_id, invoice.month),
            }),
            Err(err) => Err(err.into()),
        }
    }

    /// Returns a partner's closed invoices, oldest month first.
    ///
    /// # Errors
    /// A database error, or [`TenancyError::Corrupt`] for an unreadable row.
    pub async fn closed_invoices(&self, slug: &PartnerSlug) -> Result<Vec<Invoice>, TenancyError> {
        let sql = format!(
            "SELECT {INVOICE_COLUMNS} FROM {} WHERE partner_id = $1 ORDER BY month",
            self.control_tables().invoices
        );
        sqlx::query(&sql)
            .bind(slug.as_str())
            .fetch_all(self.control_pool())
            .await?
            .iter()
            .map(decode_invoice)
            .collect()
    }
}
