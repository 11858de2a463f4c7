//! `samctl client ...`: a partner's institutions.

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sam_core::tenancy::{Client, GradeScale, NewClient};
use serde::Deserialize;

use crate::app::Context;
use crate::cli::ClientCommand;
use crate::output::{self, Listing};
use crate::remote::Remote;

const COLUMNS: [&str; 7] = [
    "client",
    "name",
    "type",
    "students",
    "teachers",
    "exigencia",
    "created",
];

/// The fields of a client that a listing shows, from the store or from
/// the API's client view.
#[derive(Debug, Deserialize)]
struct ClientRow {
    client_id: String,
    name: String,
    institution_type: String,
    students_count: i64,
    teachers_count: i64,
    exigencia: Decimal,
    created_at: DateTime<Utc>,
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        Self {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            institution_type: c.institution_type.to_string(),
            students_count: c.students_count,
            teachers_count: c.teachers_count,
            exigencia: c.grade_scale.exigencia,
            created_at: c.created_at,
        }
    }
}

fn cells(c: &ClientRow) -> Vec<String> {
    vec![
        c.client_id.clone(),
        c.name.clone(),
        c.institution_type.clone(),
        c.students_count.to_string(),
        c.teachers_count.to_string(),
        c.exigencia.to_string(),
        c.created_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
}

/// Runs a client command through the server's API.
pub async fn run_remote(
    context: &Context,
    remote: &Remote,
    command: ClientCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ClientCommand::Create {
            partner,
            client_id,
            name,
            institution_type,
            students,
            teachers,
            exigencia,
        } => {
            let exigencia: Decimal = exigencia.parse().with_context(|| {
                format!("invalid --exigencia {exigencia:?}: expected a fraction such as 0.6")
            })?;
            let body = serde_json::json!({
                "client_id": client_id,
                "name": name,
                "institution_type": institution_type,
                "students_count": students,
                "teachers_count": teachers,
                "exigencia": exigencia.to_string(),
            });
            let created: serde_json::Value = remote
                .post(&partner.partner, &["clients"], &body, None)
                .await?
                .body;
            let json = serde_json::Value::Array(vec![created]);
            output::print(
                &Listing::from_api(COLUMNS.to_vec(), json, cells)?,
                context.output,
            )?;
        }
        ClientCommand::List { partner } => {
            let clients = remote.get(&partner.partner, &["clients"], &[]).await?;
            output::print(
                &Listing::from_api(COLUMNS.to_vec(), clients, cells)?,
                context.output,
            )?;
        }
        ClientCommand::Show { partner, client_id } => {
            let clients: Vec<serde_json::Value> =
                remote.get(&partner.partner, &["clients"], &[]).await?;
            let client = clients
                .into_iter()
                .find(|c| c["client_id"].as_str() == Some(client_id.as_str()))
                .ok_or_else(|| sam_core::tenancy::TenancyError::not_found("client", client_id))?;
            let json = serde_json::Value::Array(vec![client]);
            output::print(
                &Listing::from_api(COLUMNS.to_vec(), json, cells)?,
                context.output,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(context: &Context, command: ClientCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClientCommand::Create {
            partner,
            client_id,
            name,
            institution_type,
            students,
            teachers,
            exigencia,
        } => {
            let exigencia = exigencia.parse().with_context(|| {
                format!("invalid --exigencia {exigencia:?}: expected a fraction such as 0.6")
            })?;
            let (store, db) = context.partner_db(&partner.partner).await?;
            let client = db
                .create_client(NewClient {
                    client_id,
                    name,
                    institution_type: institution_type.parse()?,
                    students_count: students,
                    teachers_count: teachers,
                    grade_scale: GradeScale {
                        exigencia,
                        ..GradeScale::default()
                    },
                })
                .await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &[client], |c| cells(&c.into()))?,
                context.output,
            )?;
            store.close().await;
        }
        ClientCommand::List { partner } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let clients = db.clients().await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &clients, |c| cells(&c.into()))?,
                context.output,
            )?;
            store.close().await;
        }
        ClientCommand::Show { partner, client_id } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let client = db.client(&client_id).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &[client], |c| cells(&c.into()))?,
                context.output,
            )?;
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
