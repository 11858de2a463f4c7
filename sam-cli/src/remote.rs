//! Remote mode: the HTTP client every command shares when samctl talks to
//! a SAM server instead of the database, and the errors the server returns.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::{UsageError, EXIT_CONFLICT, EXIT_INVALID, EXIT_NOT_FOUND};
use crate::credentials::{Credential, CredentialKind};

/// Time allowed to open a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time allowed for one request. It is longer than the server's default
/// request timeout (120 s, `server.request_timeout_secs`), so a slow
/// grading ends with the server's own timeout error and its request id.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Attempts of a request the server rate-limited, counting the first.
const RATE_LIMIT_ATTEMPTS: u32 = 3;

/// Longest `retry-after` samctl waits for on its own; a longer one is
/// reported to the user.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The request header that carries the request id, as sam-server sets it.
const REQUEST_ID_HEADER: &str = "x-request-id";

/// The header sam-server sets on a response replayed for an `Idempotency-Key`.
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// An error response of the server, or a server that could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// An error status returned by the server.
    #[error("{}", describe_status(*.status, .message, .request_id.as_deref(), .retry_after.as_deref(), .server))]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The server's message, or the status text when the body had none.
        message: String,
        /// The request id the server logged the request under.
        request_id: Option<String>,
        /// The `retry-after` header of a 429, in seconds.
        retry_after: Option<String>,
        /// The server's base URL.
        server: String,
    },
    /// No connection could be made, or the request did not finish in time.
    #[error("cannot reach the SAM server at {server}: {reason}; check the URL and that the server is running")]
    Unreachable {
        /// The server's base URL.
        server: String,
        /// The failure, such as a refused connection or a timeout.
        reason: String,
    },
}

impl RemoteError {
    /// Returns the samctl exit code of this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Status { status, .. } => match status.as_u16() {
                400 | 413 => EXIT_INVALID,
                404 => EXIT_NOT_FOUND,
                403 | 409 | 422 => EXIT_CONFLICT,
                _ => 1,
            },
            Self::Unreachable { .. } => 1,
        }
    }

    /// Returns the HTTP status of a server error response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Unreachable { .. } => None,
        }
    }
}

fn describe_status(
    status: StatusCode,
    message: &str,
    request_id: Option<&str>,
    retry_after: Option<&str>,
    server: &str,
) -> String {
    let request = request_id
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default();
    let advice = match status.as_u16() {
        401 => format!(
            "; the credential was rejected, so log in again: samctl login --server {server}"
        ),
        403 => "; the logged-in credential's role or key scopes do not allow this. \
                 Assignments and evaluate need a teacher's token or an API key with the \
                 create_evaluation scope, and clients and keys need a partner admin's token"
            .to_owned(),
        429 => match retry_after {
            Some(secs) => format!("; retry in {secs} s"),
            None => "; retry later".to_owned(),
        },
        _ => String::new(),
    };
    format!(
        "the server returned {}: {message}{advice}{request}",
        status.as_u16()
    )
}

/// A response body with the facts commands branch on.
#[derive(Debug)]
pub struct Reply<T> {
    /// The HTTP status.
    pub status: StatusCode,
    /// Whether the server replayed a stored response for an `Idempotency-Key`.
    pub replayed: bool,
    /// The decoded body.
    pub body: T,
}

/// A connection to one SAM server with one credential.
#[derive(Debug, Clone)]
pub struct Remote {
    base: url::Url,
    http: reqwest::Client,
    credential: Credential,
}

impl Remote {
    /// Builds the client for `server` (an `http://` or `https://` URL).
    ///
    /// # Errors
    /// An invalid URL, or a TLS backend that fails to start.
    pub fn new(server: &str, credential: Credential) -> anyhow::Result<Self> {
        let base = parse_server(server)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("samctl/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            base,
            http,
            credential,
        })
    }

    /// Returns the server's base URL without a trailing slash.
    pub fn server(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// Returns the credential's secret, for deriving keys that must change
    /// when the credential does. Never print it.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Returns the URL of `/api/{partner}/v1/{segments...}`, each segment
    /// percent-encoded.
    fn url(&self, partner: &str, segments: &[&str]) -> anyhow::Result<url::Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| UsageError(format!("invalid server URL {}", self.server())))?;
            path.pop_if_empty();
            path.extend(["api", partner, "v1"]);
            path.extend(segments);
        }
        Ok(url)
    }

    /// Sends `GET /api/{partner}/v1/{segments}` with `query` and decodes the body.
    ///
    /// # Errors
    /// [`RemoteError`] for an error response or an unreachable server.
    pub async fn get<T: DeserializeOwned>(
        &self,
        partner: &str,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let mut url = self.url(partner, segments)?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(self.send(Method::GET, url, None::<&()>, None).await?.body)
    }

    /// Sends `POST /api/{partner}/v1/{segments}` with a JSON body and, when
    /// given, an `Idempotency-Key`, and decodes the body.
    ///
    /// # Errors
    /// [`RemoteError`] for an error response or an unreachable server.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        partner: &str,
        segments: &[&str],
        body: &B,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply<T>> {
        let url = self.url(partner, segments)?;
        self.send(Method::POST, url, Some(body), idempotency_key)
            .await
    }

    /// Sends one request, waiting and retrying on 429 when the request is
    /// safe to repeat (a GET, or a POST with an `Idempotency-Key`).
    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: url::Url,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Reply<T>> {
        let repeatable = method == Method::GET || idempotency_key.is_some();
        let mut attempt = 1;
        loop {
            let mut request = self.http.request(method.clone(), url.clone());
            request = match self.credential.kind {
                CredentialKind::ApiKey => request.header("x-api-key", &self.credential.secret),
                CredentialKind::Token => request.bearer_auth(&self.credential.secret),
            };
            if let Some(key) = idempotency_key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            tracing::debug!(method = %method, path = url.path(), attempt, "sending request");
            let response = request.send().await.map_err(|err| self.unreachable(&err))?;
            let status = response.status();
            if status.is_success() {
                let replayed = response.headers().contains_key(REPLAYED_HEADER);
                let body = response.json::<T>().await.map_err(|err| {
                    anyhow::anyhow!(
                        "invalid response from {} for {}: {err}",
                        self.server(),
                        url.path()
                    )
                })?;
                return Ok(Reply {
                    status,
                    replayed,
                    body,
                });
            }
            let error = self.error_of(response).await;
            let wait = retry_wait(&error);
            match wait {
                Some(wait) if repeatable && attempt < RATE_LIMIT_ATTEMPTS => {
                    tracing::info!(wait_secs = wait.as_secs(), attempt, "rate limited; waiting");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(error.into()),
            }
        }
    }

    fn unreachable(&self, err: &reqwest::Error) -> RemoteError {
        let reason = if err.is_timeout() {
            "the request timed out".to_owned()
        } else if err.is_connect() {
            let cause = std::error::Error::source(err)
                .map(|source| source.to_string())
                .unwrap_or_default();
            if cause.to_lowercase().contains("refused") {
                "connection refused".to_owned()
            } else {
                format!("connection failed ({cause})")
            }
        } else {
            // reqwest errors name the URL but never the request headers,
            // so the credential stays out of the message.
            err.to_string()
        };
        RemoteError::Unreachable {
            server: self.server().to_owned(),
            reason,
        }
    }

    /// Reads the error envelope `{"error": {"code", "message", "request_id"}}`.
    async fn error_of(&self, response: reqwest::Response) -> RemoteError {
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let header_id = header(REQUEST_ID_HEADER);
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let error = &body["error"];
        let message = error["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("unknown error")
                    .to_owned()
            });
        let request_id = error["request_id"]
            .as_str()
            .map(str::to_owned)
            .or(header_id);
        RemoteError::Status {
            status,
            message,
            request_id,
            retry_after,
            server: self.server().to_owned(),
        }
    }
}

/// Returns how long to wait before retrying a rate-limited request, or
/// `None` when the error is not a 429 or requests too long a wait.
fn retry_wait(error: &RemoteError) -> Option<Duration> {
    let RemoteError::Status {
        status,
        retry_after,
        ..
    } = error
    else {
        return None;
    };
    if *status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let secs: u64 = retry_after.as_deref()?.trim().parse().ok()?;
    let wait = Duration::from_secs(secs.max(1));
    (wait <= MAX_RETRY_WAIT).then_some(wait)
}

/// Parses a server URL: `http://` or `https://` with a host.
///
/// # Errors
/// [`UsageError`] naming the URL and what is wrong with it.
pub fn parse_server(server: &str) -> Result<url::Url, UsageError> {
    let url = url::Url::parse(server)
        .map_err(|err| UsageError(format!("invalid server URL {server:?}: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(UsageError(format!(
            "invalid server URL {server:?}: expected an http:// or https:// URL with a host"
        )));
    }
    Ok(url)
}

/// Returns the error for a command that works only on the database.
pub fn not_remote(command: &str) -> anyhow::Error {
    UsageError(format!(
        "`samctl {command}` is not available in remote mode: it works on the database, \
         so run it without --server (and without SAMCTL_SERVER or a login profile) \
         against the store, with --home or --database-url"
    ))
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> Credential {
        Credential {
            kind: CredentialKind::ApiKey,
            secret: "sam_abcdefghij_secret".to_owned(),
        }
    }

    #[test]
    fn paths_are_percent_encoded() {
        let remote = Remote::new("http://127.0.0.1:9/base/", credential()).unwrap();
        let url = remote.url("aptus", &["clients", "a b/c"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/base/api/aptus/v1/clients/a%20b%2Fc"
        );
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        let error = |status: u16| RemoteError::Status {
            status: StatusCode::from_u16(status).unwrap(),
            message: "m".to_owned(),
            request_id: None,
            retry_after: None,
            server: "http://127.0.0.1:9".to_owned(),
        };
        assert_eq!(error(400).exit_code(), EXIT_INVALID);
        assert_eq!(error(404).exit_code(), EXIT_NOT_FOUND);
        assert_eq!(error(409).exit_code(), EXIT_CONFLICT);
        assert_eq!(error(401).exit_code(), 1);
        assert_eq!(error(500).exit_code(), 1);
    }

    #[test]
    fn rate_limit_message_says_when_to_retry() {
        let error = RemoteError::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "rate limit exceeded".to_owned(),
            request_id: Some("req-1".to_owned()),
            retry_after: Some("7".to_owned()),
            server: "http://127.0.0.1:9".to_owned(),
        };
        let text = error.to_string();
        assert!(text.contains("retry in 7 s"), "{text}");
        assert!(text.contains("req-1"), "{text}");
        assert_eq!(retry_wait(&error), Some(Duration::from_secs(7)));
    }

    #[test]
    fn server_url_must_be_http() {
        assert!(parse_server("https://sam.example.org").is_ok());
        assert!(parse_server("ftp://sam.example.org").is_err());
        assert!(parse_server("not a url").is_err());
    }
}
