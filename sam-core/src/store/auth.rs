//! The store side of authentication: API keys and platform operators in
//! the control tables, and the partner and user lookups every request
//! makes through [`PrincipalDirectory`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::values::{decode_flag, decode_time, decode_uuid, encode_flag, encode_time};
use super::Store;
use crate::auth::{
    ApiKeyRecord, ApiKeyStore, AuthError, PartnerStanding, Permission, PrincipalDirectory,
    UserStanding,
};
use crate::tenancy::{is_unique_violation, validate_id, PartnerSlug, Role, TenancyError};

const API_KEY_COLUMNS: &str = "id, prefix, secret_hash, partner_id, client_id, name, scopes, \
     created_at, expires_at, last_used_at, revoked_at";

/// A platform operator (super admin), who belongs to no partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformAdmin {
    /// The operator's user id, the `sub` of their tokens.
    pub user_id: String,
    /// Contact e-mail, if known.
    pub email: Option<String>,
    /// Whether the operator may act.
    pub active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

fn corrupt(column: &'static str, reason: impl std::fmt::Display) -> TenancyError {
    TenancyError::Corrupt {
        column,
        reason: reason.to_string(),
    }
}

fn decode_optional_time(
    column: &'static str,
    text: Option<String>,
) -> Result<Option<DateTime<Utc>>, TenancyError> {
    text.map(|text| decode_time(column, &text)).transpose()
}

fn decode_api_key(row: &AnyRow) -> Result<ApiKeyRecord, TenancyError> {
    let scopes: String = row.try_get("scopes")?;
    let scopes: Vec<Permission> =
        serde_json::from_str(&scopes).map_err(|err| corrupt("api_keys.scopes", err))?;
    let partner: String = row.try_get("partner_id")?;
    Ok(ApiKeyRecord {
        id: decode_uuid("api_keys.id", &row.try_get::<String, _>("id")?)?,
        prefix: row.try_get("prefix")?,
        secret_hash: row.try_get("secret_hash")?,
        partner: PartnerSlug::parse(&partner).map_err(|err| corrupt("api_keys.partner_id", err))?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        scopes,
        created_at: decode_time(
            "api_keys.created_at",
            &row.try_get::<String, _>("created_at")?,
        )?,
        expires_at: decode_optional_time("api_keys.expires_at", row.try_get("expires_at")?)?,
        last_used_at: decode_optional_time("api_keys.last_used_at", row.try_get("last_used_at")?)?,
        revoked_at: decode_optional_time("api_keys.revoked_at", row.try_get("revoked_at")?)?,
    })
}

fn decode_admin(row: &AnyRow) -> Result<PlatformAdmin, TenancyError> {
    Ok(PlatformAdmin {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        active: decode_flag(row.try_get("active")?),
        created_at: decode_time(
            "platform_admins.created_at",
            &row.try_get::<String, _>("created_at")?,
        )?,
    })
}

impl Store {
    /// Creates an active platform operator.
    ///
    /// # Errors
    /// [`TenancyError::InvalidInput`] for an invalid user id, or
    /// [`TenancyError::AlreadyExists`] when the id is taken.
    pub async fn create_platform_admin(
        &self,
        user_id: &str,
        email: Option<&str>,
    ) -> Result<PlatformAdmin, TenancyError> {
        validate_id("user_id", user_id)?;
        let sql = format!(
            "INSERT INTO {} (user_id, email, active, created_at) VALUES ($1, $2, $3, $4)",
            self.control_tables().platform_admins
        );
        sqlx::query(&sql)
            .bind(user_id)
            .bind(email)
            .bind(encode_flag(true))
            .bind(encode_time(Utc::now()))
            .execute(self.control_pool())
            .await
            .map_err(|err| {
                if is_unique_violation(&err) {
                    TenancyError::AlreadyExists {
                        kind: "platform admin",
                        id: user_id.to_owned(),
                    }
                } else {
                    err.into()
                }
            })?;
        tracing::debug!(user = user_id, "platform admin created");
        self.platform_admin(user_id)
            .await?
            .ok_or_else(|| TenancyError::not_found("platform admin", user_id))
    }

    /// Returns every platform operator, ordered by user id.
    ///
    /// # Errors
    /// A database error.
    pub async fn platform_admins(&self) -> Result<Vec<PlatformAdmin>, TenancyError> {
        let sql = format!(
            "SELECT user_id, email, active, created_at FROM {} ORDER BY user_id",
            self.control_tables().platform_admins
        );
        sqlx::query(&sql)
            .fetch_all(self.control_pool())
            .await?
            .iter()
            .map(decode_admin)
            .collect()
    }

    /// Returns one platform operator, or `None` when there is none with this id.
    ///
    /// # Errors
    /// A database error.
    pub async fn platform_admin(
        &self,
        user_id: &str,
    ) -> Result<Option<PlatformAdmin>, TenancyError> {
        let sql = format!(
            "SELECT user_id, email, active, created_at FROM {} WHERE user_id = $1",
            self.control_tables().platform_admins
        );
        sqlx::query(&sql)
            .bind(user_id)
            .fetch_optional(self.control_pool())
            .await?
            .as_ref()
            .map(decode_admin)
            .transpose()
    }

    /// Activates or deactivates a platform operator. Returns `false` when
    /// there is none with this id.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_platform_admin_active(
        &self,
        user_id: &str,
        active: bool,
    ) -> Result<bool, TenancyError> {
        let sql = format!(
            "UPDATE {} SET active = $1 WHERE user_id = $2",
            self.control_tables().platform_admins
        );
        let updated = sqlx::query(&sql)
            .bind(encode_flag(active))
            .bind(user_id)
            .execute(self.control_pool())
            .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Runs `SELECT 1` on the control database to check that it is reachable.
    ///
    /// # Errors
    /// A database error.
    pub async fn ping(&self) -> Result<(), TenancyError> {
        sqlx::query("SELECT 1").execute(self.control_pool()).await?;
        Ok(())
    }
}

#[async_trait]
impl ApiKeyStore for Store {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), AuthError> {
        let scopes =
            serde_json::to_string(&record.scopes).map_err(|err| corrupt("api_keys.scopes", err))?;
        let sql = format!(
            "INSERT INTO {} ({API_KEY_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            self.control_tables().api_keys
        );
        sqlx::query(&sql)
            .bind(record.id.to_string())
            .bind(&record.prefix)
            .bind(&record.secret_hash)
            .bind(record.partner.as_str())
            .bind(record.client_id.as_deref())
            .bind(&record.name)
            .bind(scopes)
            .bind(encode_time(record.created_at))
            .bind(record.expires_at.map(encode_time))
            .bind(record.last_used_at.map(encode_time))
            .bind(record.revoked_at.map(encode_time))
            .execute(self.control_pool())
            .await
            .map_err(|err| {
                if is_unique_violation(&err) {
                    TenancyError::AlreadyExists {
                        kind: "api key",
                        id: record.prefix.clone(),
                    }
                } else {
                    err.into()
                }
            })?;
        Ok(())
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        if let Some(lookups) = self.lookups() {
            if let Some(record) = lookups.api_keys.get(prefix).await {
                return Ok(Some(record));
            }
        }
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM {} WHERE prefix = $1",
            self.control_tables().api_keys
        );
        let row = sqlx::query(&sql)
            .bind(prefix)
            .fetch_optional(self.control_pool())
            .await
            .map_err(TenancyError::from)?;
        let record = row.as_ref().map(decode_api_key).transpose()?;
        if let (Some(lookups), Some(record)) = (self.lookups(), &record) {
            lookups
                .api_keys
                .insert(prefix.to_owned(), record.clone())
                .await;
        }
        Ok(record)
    }

    async fn mark_used(&self, prefix: &str, at: DateTime<Utc>) -> Result<(), AuthError> {
        let sql = format!(
            "UPDATE {} SET last_used_at = $1 WHERE prefix = $2",
            self.control_tables().api_keys
        );
        sqlx::query(&sql)
            .bind(encode_time(at))
            .bind(prefix)
            .execute(self.control_pool())
            .await
            .map_err(TenancyError::from)?;
        self.forget_api_key(prefix).await;
        Ok(())
    }

    async fn revoke(
        &self,
        partner: &PartnerSlug,
        prefix: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        // COALESCE keeps the first revocation time of a key revoked twice.
        let sql = format!(
            "UPDATE {} SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE prefix = $2 AND partner_id = $3",
            self.control_tables().api_keys
        );
        let updated = sqlx::query(&sql)
            .bind(encode_time(at))
            .bind(prefix)
            .bind(partner.as_str())
            .execute(self.control_pool())
            .await
            .map_err(TenancyError::from)?;
        self.forget_api_key(prefix).await;
        Ok(updated.rows_affected() > 0)
    }

    async fn list_by_partner(&self, partner: &PartnerSlug) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM {} WHERE partner_id = $1 \
             ORDER BY created_at DESC, prefix",
            self.control_tables().api_keys
        );
        let rows = sqlx::query(&sql)
            .bind(partner.as_str())
            .fetch_all(self.control_pool())
            .await
            .map_err(TenancyError::from)?;
        Ok(rows
            .iter()
            .map(decode_api_key)
            .collect::<Result<Vec<_>, _>>()?)
    }
}

#[async_trait]
impl PrincipalDirectory for Store {
    async fn partner_standing(
        &self,
        partner: &PartnerSlug,
    ) -> Result<Option<PartnerStanding>, AuthError> {
        match self.partner(partner).await {
            Ok(partner) => Ok(Some(PartnerStanding::from(&partner))),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    async fn user_standing(
        &self,
        partner: Option<&PartnerSlug>,
        user_id: &str,
    ) -> Result<Option<UserStanding>, AuthError> {
        let Some(partner) = partner else {
            return Ok(self
                .platform_admin(user_id)
                .await?
                .map(|admin| UserStanding {
                    role: Role::SuperAdmin,
                    client_id: None,
                    active: admin.active,
                }));
        };
        let db = match self.partner_db_any_status(partner).await {
            Ok(db) => db,
            Err(err) if err.is_not_found() => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        match db.user(user_id).await {
            Ok(user) => Ok(Some(UserStanding::from(&user))),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}
