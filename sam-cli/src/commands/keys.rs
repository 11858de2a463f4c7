//! `samctl token issue` and `samctl key create|list|revoke`: credentials for
//! the HTTP API, issued by the platform operator.

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use sam_core::auth::{
    create_api_key, ApiKeyRecord, ApiKeyStore, NewApiKey, Permission, TokenSubject,
};
use sam_core::tenancy::{PartnerSlug, Role};
use secrecy::ExposeSecret;

use crate::app::{Context, UsageError};
use crate::output::{self, Listing};
use crate::remote::Remote;
use serde::{Deserialize, Serialize};

/// `samctl token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Sign a JWT for a user, with the tenant hierarchy from the store as claims
    Issue(IssueArgs),
}

/// Options of `samctl token issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Partner slug
    #[arg(long, short = 'p')]
    pub partner: String,
    /// Client id; must be the user's own client when given
    #[arg(long, short = 'c')]
    pub client: Option<String>,
    /// User id
    #[arg(long, short = 'u')]
    pub user: String,
    /// Lifetime, such as 15m, 1h or 1d [default: auth.ttl_secs from the configuration]
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ttl: Option<Duration>,
}

/// `samctl key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a partner API key; the key is printed once and stored only as a hash
    Create(CreateKeyArgs),
    /// List a partner's API keys (prefixes only)
    List {
        /// Partner slug
        #[arg(long, short = 'p')]
        partner: String,
    },
    /// Revoke an API key by its prefix; requests with it fail at once
    Revoke {
        /// Partner slug
        #[arg(long, short = 'p')]
        partner: String,
        /// The key's public prefix, as shown by `samctl key list`
        prefix: String,
    },
}

/// Options of `samctl key create`.
#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    /// Partner slug
    #[arg(long, short = 'p')]
    pub partner: String,
    /// Limit the key to this client
    #[arg(long, short = 'c')]
    pub client: Option<String>,
    /// The key's purpose, such as "Moodle production"
    #[arg(long)]
    pub name: String,
    /// Permission to grant; repeat for several [default: create_evaluation and view_own_evaluations]
    #[arg(long = "scope", value_name = "PERMISSION")]
    pub scopes: Vec<String>,
    /// Expiry as a lifetime from now, such as 90d
    #[arg(long, value_parser = humantime::parse_duration)]
    pub expires: Option<Duration>,
}

/// A key as listed, from the store or from the API's key view; both
/// serialize to the same JSON.
#[derive(Debug, Serialize, Deserialize)]
struct KeyRow {
    prefix: String,
    name: String,
    client_id: Option<String>,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKeyRecord> for KeyRow {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            prefix: k.prefix.clone(),
            name: k.name.clone(),
            client_id: k.client_id.clone(),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

fn key_cells(record: &KeyRow) -> Vec<String> {
    let time = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let state = if record.revoked_at.is_some() {
        "revoked"
    } else if record.expires_at.is_none_or(|expiry| Utc::now() < expiry) {
        "active"
    } else {
        "expired"
    };
    vec![
        record.prefix.clone(),
        record.name.clone(),
        record.client_id.clone().unwrap_or_default(),
        record.scopes.join(" "),
        state.to_owned(),
        time(Some(record.created_at)),
        time(record.expires_at),
        time(record.last_used_at),
    ]
}

const KEY_COLUMNS: [&str; 8] = [
    "prefix",
    "name",
    "client",
    "scopes",
    "state",
    "created",
    "expires",
    "last used",
];

pub async fn token(context: &Context, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Issue(args) = command;
    let mut config = context.config.auth.clone().ok_or_else(|| {
        UsageError(
            "no [auth] section in the configuration, so tokens cannot be signed; see README"
                .to_owned(),
        )
    })?;
    if let Some(ttl) = args.ttl {
        config.ttl_secs = ttl.as_secs();
    }
    let signer = config.build_signer()?;
    let (store, db) = context.partner_db(&args.partner).await?;
    let user = db.user(&args.user).await?;
    if args.client.as_deref().is_some_and(|c| c != user.client_id) {
        return Err(UsageError(format!(
            "user {} belongs to client {}, not {}",
            user.user_id,
            user.client_id,
            args.client.unwrap_or_default()
        ))
        .into());
    }
    // A partner admin's token carries no client, because it acts on every
    // client of the partner. Every other role's token carries the user's client.
    let client = match user.role {
        Role::PartnerAdmin => None,
        _ => Some(db.client(&user.client_id).await?),
    };
    let subject = TokenSubject::member(db.partner(), client.as_ref(), &user)?;
    let issued = signer.issue(&subject)?;
    store.close().await;
    let token = issued.token.expose_secret().to_owned();
    match context.output {
        crate::cli::OutputFormat::Json => output::print(
            &Listing {
                columns: vec![],
                rows: vec![],
                json: serde_json::json!({ "token": token, "claims": issued.claims }),
            },
            context.output,
        )?,
        _ => output::line(&token)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn key(context: &Context, command: KeyCommand) -> anyhow::Result<ExitCode> {
    let store = context.store().await?;
    match command {
        KeyCommand::Create(args) => {
            let partner = PartnerSlug::parse(&args.partner)?;
            let db = store.partner_db(&partner).await?;
            if let Some(client) = &args.client {
                db.client(client).await?;
            }
            let scopes = if args.scopes.is_empty() {
                vec![Permission::CreateEvaluation, Permission::ViewOwnEvaluations]
            } else {
                args.scopes
                    .iter()
                    .map(|s| s.parse::<Permission>())
                    .collect::<Result<Vec<_>, _>>()?
            };
            let now = Utc::now();
            let expires_at = args
                .expires
                .map(|d| chrono::Duration::from_std(d).map(|d| now + d))
                .transpose()
                .map_err(|_| UsageError("invalid --expires: too far in the future".to_owned()))?;
            let new = NewApiKey {
                partner,
                client_id: args.client,
                name: args.name,
                scopes,
                expires_at,
            };
            let generated = create_api_key(&store, &new, now).await?;
            print_new_key(
                context,
                generated.key.expose_secret(),
                &generated.record.prefix,
            )?;
        }
        KeyCommand::List { partner } => {
            let partner = PartnerSlug::parse(&partner)?;
            store.partner(&partner).await?;
            let keys = store.list_by_partner(&partner).await?;
            let rows: Vec<KeyRow> = keys.iter().map(KeyRow::from).collect();
            output::print(
                &Listing::new(KEY_COLUMNS.to_vec(), &rows, key_cells)?,
                context.output,
            )?;
        }
        KeyCommand::Revoke { partner, prefix } => {
            let partner = PartnerSlug::parse(&partner)?;
            store.partner(&partner).await?;
            if !store.revoke(&partner, &prefix, Utc::now()).await? {
                return Err(sam_core::tenancy::TenancyError::not_found("api key", prefix).into());
            }
            output::note(context.output, &format!("Revoked API key {prefix}"))?;
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Prints a new key once: the key alone on stdout for people and pipes, or
/// `{"key", "prefix"}` for `--output json`.
fn print_new_key(context: &Context, key: &str, prefix: &str) -> anyhow::Result<()> {
    match context.output {
        crate::cli::OutputFormat::Json => output::print(
            &Listing {
                columns: vec![],
                rows: vec![],
                json: serde_json::json!({ "key": key, "prefix": prefix }),
            },
            context.output,
        ),
        _ => {
            output::line(key)?;
            output::stderr_note("this is the only time the key is shown; SAM stores only its hash");
            Ok(())
        }
    }
}

/// Runs a key command through the server's API, which lets only partner
/// admins signed in with a token manage keys.
pub async fn key_remote(
    context: &Context,
    remote: &Remote,
    command: KeyCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        KeyCommand::Create(args) => {
            let expires_at = args
                .expires
                .map(|d| chrono::Duration::from_std(d).map(|d| Utc::now() + d))
                .transpose()
                .map_err(|_| UsageError("invalid --expires: too far in the future".to_owned()))?;
            let body = serde_json::json!({
                "name": args.name,
                "client_id": args.client,
                "scopes": args.scopes,
                "expires_at": expires_at,
            });
            let created: CreatedKey = remote
                .post(&args.partner, &["keys"], &body, None)
                .await?
                .body;
            print_new_key(context, &created.key, &created.prefix)?;
        }
        KeyCommand::List { partner } => {
            let rows: Vec<KeyRow> = remote.get(&partner, &["keys"], &[]).await?;
            output::print(
                &Listing::new(KEY_COLUMNS.to_vec(), &rows, key_cells)?,
                context.output,
            )?;
        }
        KeyCommand::Revoke { partner, prefix } => {
            let _revoked: KeyRow = remote
                .post(
                    &partner,
                    &["keys", &prefix, "revoke"],
                    &serde_json::json!({}),
                    None,
                )
                .await?
                .body;
            output::note(context.output, &format!("Revoked API key {prefix}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The API's response to a key creation: the key, shown once, and its prefix.
#[derive(Deserialize)]
struct CreatedKey {
    key: String,
    prefix: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &"***")
            .field("prefix", &self.prefix)
            .finish()
    }
}
