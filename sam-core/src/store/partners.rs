//! Partner provisioning and lifecycle in the control tables.

use chrono::Utc;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::values::{
    decode_decimal, decode_flag, decode_name, decode_time, decode_uuid, encode_flag, encode_time,
};
use super::{partner_file, Backend, Store};
use crate::tenancy::{
    is_unique_violation, validate_name, NewPartner, Partner, PartnerSlug, SubscriptionStatus,
    TenancyError,
};

/// The default IANA time zone of a partner's quota days and billing months.
pub(crate) const DEFAULT_TIME_ZONE: &str = "America/Santiago";

const PARTNER_COLUMNS: &str = "id, partner_id, partner_name, tier, subscription_status, \
     monthly_cost, api_quota_daily, llm_strategy, time_zone, provisioned, created_at";

fn decode_partner(row: &AnyRow) -> Result<Partner, TenancyError> {
    let slug: String = row.try_get("partner_id")?;
    Ok(Partner {
        id: decode_uuid("tenants.id", &row.try_get::<String, _>("id")?)?,
        slug: PartnerSlug::parse(&slug).map_err(|err| TenancyError::Corrupt {
            column: "tenants.partner_id",
            reason: err.to_string(),
        })?,
        name: row.try_get("partner_name")?,
        tier: decode_name("tenants.tier", &row.try_get::<String, _>("tier")?)?,
        status: decode_name(
            "tenants.subscription_status",
            &row.try_get::<String, _>("subscription_status")?,
        )?,
        monthly_fee: decode_decimal(
            "tenants.monthly_cost",
            &row.try_get::<String, _>("monthly_cost")?,
        )?,
        daily_quota: row.try_get("api_quota_daily")?,
        strategy: decode_name(
            "tenants.llm_strategy",
            &row.try_get::<String, _>("llm_strategy")?,
        )?,
        time_zone: row.try_get("time_zone")?,
        provisioned: decode_flag(row.try_get("provisioned")?),
        created_at: decode_time(
            "tenants.created_at",
            &row.try_get::<String, _>("created_at")?,
        )?,
    })
}

/// Checks the optional fields of a new partner and fills in tier defaults.
fn resolve_new_partner(
    new: &NewPartner,
) -> Result<(i64, rust_decimal::Decimal, String), TenancyError> {
    validate_name("name", &new.name)?;
    let quota = new
        .daily_quota
        .unwrap_or_else(|| new.tier.default_daily_quota());
    if quota < 0 {
        return Err(TenancyError::InvalidInput {
            field: "daily_quota",
            value: quota.to_string(),
            reason: "must be zero or more evaluations per day".to_owned(),
        });
    }
    let fee = new
        .monthly_fee
        .unwrap_or_else(|| new.tier.default_monthly_fee());
    if fee.is_sign_negative() {
        return Err(TenancyError::InvalidInput {
            field: "monthly_fee",
            value: fee.to_string(),
            reason: "must be zero or more".to_owned(),
        });
    }
    let zone = new
        .time_zone
        .clone()
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
    if zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(TenancyError::InvalidInput {
            field: "time_zone",
            value: zone,
            reason: "expected an IANA time zone such as America/Santiago".to_owned(),
        });
    }
    Ok((quota, fee, zone))
}

impl Store {
    /// Creates a partner: records it, creates and migrates its schema or
    /// database file, then marks it provisioned.
    ///
    /// If provisioning fails, the partner's schema or file is removed and
    /// its row deleted, so nothing half-created is left. A partner left
    /// unprovisioned by a crash is provisioned by calling this again.
    ///
    /// # Errors
    /// [`TenancyError::AlreadyExists`] for a provisioned slug, an invalid
    /// field, or the database or migration error that stopped provisioning.
    pub async fn create_partner(&self, new: NewPartner) -> Result<Partner, TenancyError> {
        let (quota, fee, zone) = resolve_new_partner(&new)?;
        let tables = self.control_tables();
        let now = encode_time(Utc::now());
        let insert = format!(
            "INSERT INTO {} ({PARTNER_COLUMNS}, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            tables.tenants
        );
        let inserted = sqlx::query(&insert)
            .bind(Uuid::now_v7().to_string())
            .bind(new.slug.as_str())
            .bind(&new.name)
            .bind(new.tier.as_str())
            .bind(SubscriptionStatus::Active.as_str())
            .bind(fee.to_string())
            .bind(quota)
            .bind(new.strategy.as_str())
            .bind(&zone)
            .bind(encode_flag(false))
            .bind(&now)
            .execute(self.control_pool())
            .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                let existing = self.partner(&new.slug).await?;
                if existing.provisioned {
                    return Err(TenancyError::AlreadyExists {
                        kind: "partner",
                        id: new.slug.to_string(),
                    });
                }
                tracing::info!(partner = %new.slug, "resuming provisioning of partner");
            }
            Err(err) => return Err(err.into()),
        }

        if let Err(err) = self.migrate_partner(&new.slug).await {
            tracing::warn!(partner = %new.slug, error = %err, "partner provisioning failed; rolling back");
            if let Err(cleanup) = self.remove_partner_data(&new.slug).await {
                tracing::warn!(partner = %new.slug, error = %cleanup, "cannot remove partially provisioned data");
            }
            let delete = format!("DELETE FROM {} WHERE partner_id = $1", tables.tenants);
            sqlx::query(&delete)
                .bind(new.slug.as_str())
                .execute(self.control_pool())
                .await?;
            self.forget_partner(&new.slug).await;
            return Err(err);
        }

        let update = format!(
            "UPDATE {} SET provisioned = $1, updated_at = $2 WHERE partner_id = $3",
            tables.tenants
        );
        sqlx::query(&update)
            .bind(encode_flag(true))
            .bind(encode_time(Utc::now()))
            .bind(new.slug.as_str())
            .execute(self.control_pool())
            .await?;
        self.forget_partner(&new.slug).await;
        tracing::info!(partner = %new.slug, tier = %new.tier, "partner provisioned");
        self.partner(&new.slug).await
    }

    /// Returns every partner, ordered by slug.
    ///
    /// # Errors
    /// A database error.
    pub async fn partners(&self) -> Result<Vec<Partner>, TenancyError> {
        let sql = format!(
            "SELECT {PARTNER_COLUMNS} FROM {} ORDER BY partner_id",
            self.control_tables().tenants
        );
        sqlx::query(&sql)
            .fetch_all(self.control_pool())
            .await?
            .iter()
            .map(decode_partner)
            .collect()
    }

    /// Returns one partner.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when no partner has this slug.
    pub async fn partner(&self, slug: &PartnerSlug) -> Result<Partner, TenancyError> {
        if let Some(lookups) = self.lookups() {
            if let Some(partner) = lookups.partners.get(slug).await {
                return Ok(partner);
            }
        }
        let sql = format!(
            "SELECT {PARTNER_COLUMNS} FROM {} WHERE partner_id = $1",
            self.control_tables().tenants
        );
        let row = sqlx::query(&sql)
            .bind(slug.as_str())
            .fetch_optional(self.control_pool())
            .await?
            .ok_or_else(|| TenancyError::not_found("partner", slug.as_str()))?;
        let partner = decode_partner(&row)?;
        if let Some(lookups) = self.lookups() {
            lookups.partners.insert(slug.clone(), partner.clone()).await;
        }
        Ok(partner)
    }

    /// Sets a partner's subscription status and returns the updated partner.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown slug.
    pub async fn set_partner_status(
        &self,
        slug: &PartnerSlug,
        status: SubscriptionStatus,
    ) -> Result<Partner, TenancyError> {
        let sql = format!(
            "UPDATE {} SET subscription_status = $1, updated_at = $2 WHERE partner_id = $3",
            self.control_tables().tenants
        );
        let updated = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(encode_time(Utc::now()))
            .bind(slug.as_str())
            .execute(self.control_pool())
            .await?;
        self.forget_partner(slug).await;
        if updated.rows_affected() == 0 {
            return Err(TenancyError::not_found("partner", slug.as_str()));
        }
        tracing::info!(partner = %slug, status = %status, "partner status changed");
        self.partner(slug).await
    }

    /// Deletes a partner and all of its data: its schema or database file,
    /// then its control row. This cannot be undone.
    ///
    /// The partner is first marked unprovisioned, so a failure part-way
    /// leaves a partner that serves nothing and can be deleted again.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown slug, or the database or
    /// file error that stopped the deletion.
    pub async fn delete_partner(&self, slug: &PartnerSlug) -> Result<(), TenancyError> {
        let tables = self.control_tables();
        let mark = format!(
            "UPDATE {} SET provisioned = $1, updated_at = $2 WHERE partner_id = $3",
            tables.tenants
        );
        let marked = sqlx::query(&mark)
            .bind(encode_flag(false))
            .bind(encode_time(Utc::now()))
            .bind(slug.as_str())
            .execute(self.control_pool())
            .await?;
        self.forget_partner(slug).await;
        if let Some(lookups) = self.lookups() {
            // Its keys, clients and assignments go with it. A partner
            // created again under the slug must not find them.
            lookups.api_keys.invalidate_all();
            lookups.clients.invalidate_all();
            lookups.assignments.invalidate_all();
        }
        if marked.rows_affected() == 0 {
            return Err(TenancyError::not_found("partner", slug.as_str()));
        }
        self.remove_partner_data(slug).await?;
        let delete = format!("DELETE FROM {} WHERE partner_id = $1", tables.tenants);
        sqlx::query(&delete)
            .bind(slug.as_str())
            .execute(self.control_pool())
            .await?;
        self.forget_partner(slug).await;
        tracing::info!(partner = %slug, "partner deleted");
        Ok(())
    }

    /// Drops the partner's schema, or closes and removes its database files.
    async fn remove_partner_data(&self, slug: &PartnerSlug) -> Result<(), TenancyError> {
        self.drop_writer(slug);
        match &self.inner.backend {
            Backend::Postgres { pool, .. } => {
                let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", slug.schema().quoted());
                sqlx::query(&sql).execute(pool).await?;
            }
            Backend::Sqlite { home, partners, .. } => {
                if let Some(pool) = partners.lock().await.remove(slug) {
                    pool.close().await;
                }
                let path = partner_file(home, slug);
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", path.display());
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(TenancyError::Io {
                                action: "cannot remove partner database file",
                                path: file,
                                source,
                            })
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
