//! `samctl user ...`: a partner's users.

use std::process::ExitCode;

use sam_core::tenancy::{NewUser, User};

use crate::app::Context;
use crate::cli::UserCommand;
use crate::output::{self, Listing};

const COLUMNS: [&str; 6] = ["user", "client", "role", "email", "active", "created"];

fn cells(u: &User) -> Vec<String> {
    vec![
        u.user_id.clone(),
        u.client_id.clone(),
        u.role.to_string(),
        u.email.clone().unwrap_or_default(),
        u.active.to_string(),
        u.created_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
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
                &Listing::new(COLUMNS.to_vec(), &[user], cells)?,
                context.output,
            )?;
            store.close().await;
        }
        UserCommand::List { partner, client } => {
            let (store, db) = context.partner_db(&partner.partner).await?;
            let users = db.users(client.as_deref()).await?;
            output::print(
                &Listing::new(COLUMNS.to_vec(), &users, cells)?,
                context.output,
            )?;
            store.close().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
