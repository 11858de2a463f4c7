//! `samctl user ...`: a partner's users.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use sam_core::tenancy::{NewUser, User};
use serde::Deserialize;

use crate::app::Context;
use crate::cli::UserCommand;
use crate::output::{self, Listing};
use crate::remote::Remote;

const COLUMNS: [&str; 6] = ["user", "client", "role", "email", "active", "created"];

/// The fields of a user that a listing shows, from the store or from the
/// API's user view.
#[derive(Debug, Deserialize)]
struct UserRow {
    user_id: String,
    client_id: String,
    role: String,
    email: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id.clone(),
            client_id: u.client_id.clone(),
            role: u.role.to_string(),
            email: u.email.clone(),
            active: u.active,
            created_at: u.created_at,
        }
    }
}

fn cells(u: &UserRow) -> Vec<String> {
    vec![
        u.user_id.clone(),
        u.client_id.clone(),
        u.role.clone(),
        u.email.clone().unwrap_or_default(),
        u.active.to_string(),
        u.created_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
}

/// Runs a user command through the server's API.
pub async fn run_remote(
    context: &Context,
    remote: &Remote,
    command: UserCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Create {
            partner,
            client,
            user_id,
            role,
            email,
        } => {
            let body = serde_json::json!({ "user_id": user_id, "role": role, "email": email });
            let created = remote
                .post(
                    &partner.partner,
                    &["clients", &client, "users"],
                    &body,
                    None,
                )
                .await?
                .body;
            output::print(
                &Listing::from_api(
                    COLUMNS.to_vec(),
                    serde_json::Value::Array(vec![created]),
                    cells,
                )?,
                context.output,
            )?;
        }
        UserCommand::List { partner, client } => {
            let clients = match client {
                Some(client) => vec![client],
                None => {
                    let clients: Vec<serde_json::Value> =
                        remote.get(&partner.partner, &["clients"], &[]).await?;
                    clients
                        .iter()
                        .filter_map(|c| c["client_id"].as_str().map(str::to_owned))
                        .collect()
                }
            };
            let mut users = Vec::new();
            for client in &clients {
                let page: Vec<serde_json::Value> = remote
                    .get(&partner.partner, &["clients", client, "users"], &[])
                    .await?;
                users.extend(page);
            }
            output::print(
                &Listing::from_api(COLUMNS.to_vec(), serde_json::Value::Array(users), cells)?,
                context.output,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(context: &Context, command: UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Create {
            partner,
            client,
            user_id,
            role,
            email,
        } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let user = db
                .create_user(NewUser {
                    user_id,
                    client_id: client,
                    role: role.parse()?,
                    email,
                })
                .await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &[user], |u| cells(&u.into()))?,
                context.output,
            )?;
            store.close().await;
        }
        UserCommand::List { partner, client } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let users = db.users(client.as_deref()).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &users, |u| cells(&u.into()))?,
                context.output,
            )?;
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
