//! `samctl login`, `logout` and `whoami`: the credential for a SAM server.

use std::io::Read;
use std::process::ExitCode;

use base64::Engine as _;
use clap::Args;

use crate::app::{Context, UsageError};
use crate::credentials::{Credential, CredentialKind, Vault};
use crate::output::{self, Listing};
use crate::remote::{Remote, RemoteError};

/// Options of `samctl login`. The server URL is the global `--server`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Partner slug whose API the credential is checked against [default: a token's own partner; required for an API key]
    #[arg(long, short = 'p', value_name = "SLUG")]
    pub partner: Option<String>,
    /// The credential on standard input is a JWT, not an API key
    #[arg(long)]
    pub token: bool,
    /// Store the credential in the file fallback even if a keyring exists
    #[arg(long)]
    pub no_keyring: bool,
}

/// Checks the server URL and the credential's shape before storing anything.
fn validate(server: &str, credential: &Credential) -> Result<(), UsageError> {
    crate::remote::parse_server(server)?;
    let valid = match credential.kind {
        CredentialKind::ApiKey => {
            credential.secret.starts_with("sam_") && credential.secret.matches('_').count() >= 2
        }
        CredentialKind::Token => credential.secret.split('.').count() == 3,
    };
    if !valid {
        let expected = match credential.kind {
            CredentialKind::ApiKey => {
                "an API key like sam_<prefix>_<secret>; pass --token for a JWT"
            }
            CredentialKind::Token => "a JWT with three dot-separated parts",
        };
        return Err(UsageError(format!(
            "the credential on standard input is not {expected}"
        )));
    }
    Ok(())
}

pub async fn login(context: &Context, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let secret = input.trim().to_owned();
    if secret.is_empty() {
        return Err(UsageError(
            "no credential on standard input; pipe it in, for example: samctl login --server URL < key.txt".to_owned(),
        )
        .into());
    }
    let kind = if args.token {
        CredentialKind::Token
    } else {
        CredentialKind::ApiKey
    };
    let credential = Credential { kind, secret };
    let server = context
        .server
        .as_deref()
        .ok_or_else(|| UsageError("missing --server URL: the SAM server to log in to".to_owned()))?
        .trim_end_matches('/')
        .to_owned();
    validate(&server, &credential)?;
    verify(&server, &credential, args.partner.as_deref()).await?;
    let vault = context
        .credentials()?
        .save(&server, &credential, !args.no_keyring)?;
    let place = match vault {
        Vault::Keyring => "the OS keyring".to_owned(),
        Vault::File => "credentials.json in the SAM home folder (readable only by you), because no OS keyring is available".to_owned(),
    };
    output::note(
        context.output,
        &format!("Logged in to {server}; the credential is stored in {place}"),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Checks the credential against the server with `GET /api/{partner}/v1/health`.
/// A 403 passes, because the server authenticated the credential and only
/// refused the health view to a caller that is not a partner admin.
async fn verify(
    server: &str,
    credential: &Credential,
    partner: Option<&str>,
) -> anyhow::Result<()> {
    let partner = match partner {
        Some(partner) => partner.to_owned(),
        None => token_partner(credential).ok_or_else(|| {
            UsageError(
                "pass --partner SLUG, so login can check the credential against that partner's API"
                    .to_owned(),
            )
        })?,
    };
    let remote = Remote::new(server, credential.clone())?;
    let result = remote
        .get::<serde_json::Value>(&partner, &["health"], &[])
        .await;
    let Err(err) = result else {
        return Ok(());
    };
    let status = err
        .downcast_ref::<RemoteError>()
        .and_then(RemoteError::status)
        .map(|status| status.as_u16());
    match status {
        Some(403 | 503) => Ok(()),
        Some(404) => Err(err.context(format!(
            "partner {partner} not found on {server}, or the credential belongs to another partner; nothing was stored"
        ))),
        _ => Err(err.context("the credential was not stored")),
    }
}

/// Returns the partner slug in a token's unverified claims.
pub fn token_partner(credential: &Credential) -> Option<String> {
    if credential.kind != CredentialKind::Token {
        return None;
    }
    describe(credential)
        .into_iter()
        .find(|(name, _)| *name == "partner")
        .map(|(_, value)| value)
        .filter(|value| value != "null" && !value.is_empty())
}

pub async fn logout(context: &Context) -> anyhow::Result<ExitCode> {
    match context.credentials()?.delete()? {
        Some(server) => output::note(context.output, &format!("Logged out of {server}"))?,
        None => output::note(context.output, "Not logged in")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns the public part of a credential: an API key's prefix, or a
/// token's unverified subject, partner, role and expiry.
fn describe(credential: &Credential) -> Vec<(&'static str, String)> {
    match credential.kind {
        CredentialKind::ApiKey => {
            let prefix = credential.secret.split('_').nth(1).unwrap_or_default();
            vec![("api key", format!("sam_{prefix}_…"))]
        }
        CredentialKind::Token => {
            let payload = credential.secret.split('.').nth(1).unwrap_or_default();
            let claims: serde_json::Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            let text = |value: &serde_json::Value| {
                value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string())
            };
            vec![
                ("subject", text(&claims["sub"])),
                ("partner", text(&claims["tenant_hierarchy"]["partner_id"])),
                ("role", text(&claims["tenant_hierarchy"]["level"])),
                ("expires (not verified here)", expiry(&claims["exp"])),
            ]
        }
    }
}

/// Formats a token's `exp` claim as an RFC 3339 UTC time, marked when it
/// has passed, or as it is written when it is not a Unix time.
fn expiry(exp: &serde_json::Value) -> String {
    let Some(time) = exp
        .as_i64()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
    else {
        return exp.to_string();
    };
    let text = time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if time < chrono::Utc::now() {
        format!("{text} (expired)")
    } else {
        text
    }
}

pub async fn whoami(context: &Context) -> anyhow::Result<ExitCode> {
    let store = context.credentials()?;
    let Some(profile) = store.profile()? else {
        return Err(UsageError("not logged in; run `samctl login --server URL`".to_owned()).into());
    };
    let credential = store.load(&profile)?;
    let mut fields = vec![
        ("server", profile.server.clone()),
        ("stored in", format!("{:?}", profile.vault).to_lowercase()),
    ];
    fields.extend(describe(&credential));
    let json: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
        .collect();
    output::print(
        &Listing {
            columns: vec!["field", "value"],
            rows: fields
                .into_iter()
                .map(|(k, v)| vec![k.to_owned(), v])
                .collect(),
            json: serde_json::Value::Object(json),
        },
        context.output,
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_a_utc_time() {
        assert_eq!(
            expiry(&serde_json::json!(1_700_000_000)),
            "2023-11-14T22:13:20Z (expired)"
        );
        assert!(!expiry(&serde_json::json!(4_102_444_800_i64)).contains("expired"));
        assert_eq!(expiry(&serde_json::json!("soon")), "\"soon\"");
    }

    #[test]
    fn server_url_must_be_http() {
        let key = Credential {
            kind: CredentialKind::ApiKey,
            secret: "sam_abc_def".to_owned(),
        };
        assert!(validate("https://sam.example.org", &key).is_ok());
        assert!(validate("ftp://sam.example.org", &key).is_err());
        assert!(validate("not a url", &key).is_err());
    }

    #[test]
    fn credential_shape_is_checked() {
        let token = Credential {
            kind: CredentialKind::Token,
            secret: "sam_abc_def".to_owned(),
        };
        assert!(validate("https://sam.example.org", &token).is_err());
    }

    #[test]
    fn api_key_description_shows_prefix_only() {
        let key = Credential {
            kind: CredentialKind::ApiKey,
            secret: "sam_abcdefghij_supersecret".to_owned(),
        };
        let shown = format!("{:?}", describe(&key));
        assert!(shown.contains("abcdefghij"));
        assert!(!shown.contains("supersecret"));
    }
}
