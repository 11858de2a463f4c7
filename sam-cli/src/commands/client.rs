//! `samctl client ...`: a partner's institutions.

use std::process::ExitCode;

use anyhow::Context as _;
use sam_core::tenancy::{Client, GradeScale, NewClient};

use crate::app::Context;
use crate::cli::ClientCommand;
use crate::output::{self, Listing};

const COLUMNS: [&str; 7] = [
    "client",
    "name",
    "type",
    "students",
    "teachers",
    "exigencia",
    "created",
];

fn cells(c: &Client) -> Vec<String> {
    vec![
        c.client_id.clone(),
        c.name.clone(),
        c.institution_type.to_string(),
        c.students_count.to_string(),
        c.teachers_count.to_string(),
        c.grade_scale.exigencia.to_string(),
        c.created_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
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
                &Listing::new(COLUMNS.to_vec(), &[client], cells)?,
                context.output,
            )?;
            store.close().await;
        }
        ClientCommand::List { partner } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let clients = db.clients().await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &clients, cells)?,
                context.output,
            )?;
            store.close().await;
        }
        ClientCommand::Show { partner, client_id } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let client = db.client(&client_id).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &[client], cells)?,
                context.output,
            )?;
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
