//! Idempotency keys of POST requests inside one partner's data.

use std::time::Duration;

use chrono::Utc;
use sqlx::Row;

use super::values::{decode_time, encode_time};
use super::PartnerDb;
use crate::tenancy::{is_unique_violation, TenancyError};

/// The state of an idempotency key when a request claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key was new and now belongs to this request, which must finish
    /// with [`PartnerDb::complete_idempotency`] or
    /// [`PartnerDb::release_idempotency`].
    Claimed,
    /// A request with the same key and the same hash finished before.
    Completed {
        /// The HTTP status of the first response.
        status: u16,
        /// The body of the first response.
        body: String,
    },
    /// A request with the same key and the same hash is still running.
    InProgress,
    /// The key was used before with a different request.
    Mismatch,
}

impl PartnerDb {
    /// Claims `key` for a request whose hash is `request_hash`, or returns
    /// what an earlier request with the key left. The server hashes the
    /// caller, method, path and body.
    ///
    /// The claim is one insert into a table keyed by `key`, so of two
    /// concurrent requests with the same key exactly one gets
    /// [`IdempotencyClaim::Claimed`].
    ///
    /// A claim left unfinished for longer than `stale_after` belongs to a
    /// request that was cancelled, for example by a timeout or a crash, so
    /// a request with the same hash takes it over.
    ///
    /// # Errors
    /// A database error.
    pub async fn claim_idempotency(
        &self,
        key: &str,
        request_hash: &str,
        stale_after: Duration,
    ) -> Result<IdempotencyClaim, TenancyError> {
        let insert = format!(
            "INSERT INTO {} (idempotency_key, request_hash, created_at) VALUES ($1, $2, $3)",
            self.tables.idempotency_keys
        );
        let inserted = sqlx::query(&insert)
            .bind(key)
            .bind(request_hash)
            .bind(encode_time(Utc::now()))
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(err) if is_unique_violation(&err) => {}
            Err(err) => return Err(err.into()),
        }
        let select = format!(
            "SELECT request_hash, status_code, response_body, created_at FROM {} \
             WHERE idempotency_key = $1",
            self.tables.idempotency_keys
        );
        let Some(row) = sqlx::query(&select)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
        else {
            // The first request released the key between the insert and
            // this read; the caller may retry.
            return Ok(IdempotencyClaim::InProgress);
        };
        let stored_hash: String = row.try_get("request_hash")?;
        if stored_hash != request_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        let status: Option<i64> = row.try_get("status_code")?;
        let body: Option<String> = row.try_get("response_body")?;
        match (status, body) {
            (Some(status), Some(body)) => Ok(IdempotencyClaim::Completed {
                status: u16::try_from(status).map_err(|err| TenancyError::Corrupt {
                    column: "idempotency_keys.status_code",
                    reason: err.to_string(),
                })?,
                body,
            }),
            _ => {
                let created_at: String = row.try_get("created_at")?;
                self.take_over_stale(key, &created_at, stale_after).await
            }
        }
    }

    /// Takes over an unfinished claim created at `created_at` when it is
    /// older than `stale_after`. The update matches the old creation time,
    /// so of two requests taking over the same claim only one succeeds.
    async fn take_over_stale(
        &self,
        key: &str,
        created_at: &str,
        stale_after: Duration,
    ) -> Result<IdempotencyClaim, TenancyError> {
        let age = decode_time("idempotency_keys.created_at", created_at)
            .map(|created| Utc::now().signed_duration_since(created))?;
        let stale = chrono::Duration::from_std(stale_after).unwrap_or(chrono::TimeDelta::MAX);
        if age <= stale {
            return Ok(IdempotencyClaim::InProgress);
        }
        let sql = format!(
            "UPDATE {} SET created_at = $1 \
             WHERE idempotency_key = $2 AND created_at = $3 AND status_code IS NULL",
            self.tables.idempotency_keys
        );
        let updated = sqlx::query(&sql)
            .bind(encode_time(Utc::now()))
            .bind(key)
            .bind(created_at)
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 1 {
            tracing::debug!(partner = %self.partner.slug, "stale idempotency claim taken over");
            Ok(IdempotencyClaim::Claimed)
        } else {
            Ok(IdempotencyClaim::InProgress)
        }
    }

    /// Stores the response of the request that claimed `key`.
    ///
    /// # Errors
    /// A database error.
    pub async fn complete_idempotency(
        &self,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), TenancyError> {
        let sql = format!(
            "UPDATE {} SET status_code = $1, response_body = $2, completed_at = $3 \
             WHERE idempotency_key = $4",
            self.tables.idempotency_keys
        );
        sqlx::query(&sql)
            .bind(i64::from(status))
            .bind(body)
            .bind(encode_time(Utc::now()))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes an unfinished claim on `key`, so that a retry runs the
    /// request again. Used when the request failed with a server error.
    ///
    /// # Errors
    /// A database error.
    pub async fn release_idempotency(&self, key: &str) -> Result<(), TenancyError> {
        let sql = format!(
            "DELETE FROM {} WHERE idempotency_key = $1 AND status_code IS NULL",
            self.tables.idempotency_keys
        );
        sqlx::query(&sql).bind(key).execute(&self.pool).await?;
        Ok(())
    }
}
