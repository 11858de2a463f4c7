//! Migration sets for the control tables and for each partner's data,
//! applied with sqlx's migrator and recorded per schema or database file.

use std::path::Path;

use serde::Serialize;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, Executor, SqliteConnection};

use super::{partner_file, Backend, Store};
use crate::tenancy::{PartnerSlug, SchemaName, TenancyError};

/// Migrations of the platform's control tables.
static CONTROL: Migrator = sqlx::migrate!("../migrations/control");
/// Migrations of one partner's data.
static PARTNER: Migrator = sqlx::migrate!("../migrations/partner");

/// Whether one migration has been applied to one schema or database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationState {
    /// Recorded as applied.
    Applied,
    /// Not applied yet.
    Pending,
}

/// One migration's state in one schema (`sam_control` or `partner_<slug>`).
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    /// `control` or the partner's slug.
    pub scope: String,
    /// Migration version.
    pub version: i64,
    /// Migration description.
    pub description: String,
    /// Applied or pending.
    pub state: MigrationState,
}

/// Connects to PostgreSQL with the given schema as the only `search_path`
/// entry, creating the schema if needed.
///
/// The connection is opened for the migration alone and closed after it,
/// so the `search_path` never reaches the shared pool.
async fn pg_schema_connection(
    url: &str,
    schema: &SchemaName,
) -> Result<PgConnection, TenancyError> {
    let mut conn = PgConnection::connect(url).await?;
    let quoted = schema.quoted();
    conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {quoted}").as_str())
        .await?;
    conn.execute(format!("SET search_path TO {quoted}").as_str())
        .await?;
    Ok(conn)
}

/// Creates the control schema so the `Any` pool can open against it.
pub(super) async fn create_control_schema(url: &str) -> Result<(), TenancyError> {
    pg_schema_connection(url, &SchemaName::control())
        .await?
        .close()
        .await?;
    Ok(())
}

/// Opens a SQLite file for migration, creating it in WAL mode if missing.
async fn sqlite_connection(path: &Path) -> Result<SqliteConnection, TenancyError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// Creates an empty SQLite database file if it does not exist.
pub(super) async fn create_sqlite_file(path: &Path) -> Result<(), TenancyError> {
    sqlite_connection(path).await?.close().await?;
    Ok(())
}

impl Store {
    /// Applies pending migrations to the control tables and to every
    /// provisioned partner.
    pub(super) async fn migrate_all(&self) -> Result<(), TenancyError> {
        self.migrate_control().await?;
        for partner in self.partners().await? {
            if partner.provisioned {
                self.migrate_partner(&partner.slug).await?;
            }
        }
        Ok(())
    }

    /// Applies pending migrations to the control tables and every
    /// provisioned partner, returning how many were applied.
    ///
    /// # Errors
    /// A database or migration error; migrations applied before it stay applied.
    pub async fn migrate(&self) -> Result<usize, TenancyError> {
        let pending = self
            .migration_status()
            .await?
            .iter()
            .filter(|m| m.state == MigrationState::Pending)
            .count();
        self.migrate_all().await?;
        Ok(pending)
    }

    async fn migrate_control(&self) -> Result<(), TenancyError> {
        match &self.inner.backend {
            Backend::Postgres { url, .. } => {
                let mut conn = pg_schema_connection(url, &SchemaName::control()).await?;
                CONTROL.run(&mut conn).await?;
                conn.close().await?;
            }
            Backend::Sqlite { home, .. } => {
                let mut conn = sqlite_connection(&home.join(super::CONTROL_FILE)).await?;
                CONTROL.run(&mut conn).await?;
                conn.close().await?;
            }
        }
        Ok(())
    }

    /// Creates the partner's schema or database file if needed and applies
    /// pending partner migrations to it.
    pub(super) async fn migrate_partner(&self, slug: &PartnerSlug) -> Result<(), TenancyError> {
        match &self.inner.backend {
            Backend::Postgres { url, .. } => {
                let mut conn = pg_schema_connection(url, &slug.schema()).await?;
                PARTNER.run(&mut conn).await?;
                conn.close().await?;
            }
            Backend::Sqlite { home, .. } => {
                let mut conn = sqlite_connection(&partner_file(home, slug)).await?;
                PARTNER.run(&mut conn).await?;
                conn.close().await?;
            }
        }
        Ok(())
    }

    /// Lists every migration of the control tables and of each provisioned
    /// partner, applied or pending.
    ///
    /// # Errors
    /// A database error.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, TenancyError> {
        let mut statuses = Vec::new();
        let applied = self.applied_versions(None).await?;
        statuses.extend(status_rows("control", &CONTROL, &applied));
        for partner in self.partners().await? {
            if partner.provisioned {
                let applied = self.applied_versions(Some(&partner.slug)).await?;
                statuses.extend(status_rows(partner.slug.as_str(), &PARTNER, &applied));
            }
        }
        Ok(statuses)
    }

    async fn applied_versions(
        &self,
        partner: Option<&PartnerSlug>,
    ) -> Result<Vec<i64>, TenancyError> {
        let applied = match &self.inner.backend {
            Backend::Postgres { url, .. } => {
                let schema = partner.map_or_else(SchemaName::control, PartnerSlug::schema);
                let mut conn = pg_schema_connection(url, &schema).await?;
                conn.ensure_migrations_table().await?;
                let applied = conn.list_applied_migrations().await?;
                conn.close().await?;
                applied
            }
            Backend::Sqlite { home, .. } => {
                let path = match partner {
                    Some(slug) => partner_file(home, slug),
                    None => home.join(super::CONTROL_FILE),
                };
                let mut conn = sqlite_connection(&path).await?;
                conn.ensure_migrations_table().await?;
                let applied = conn.list_applied_migrations().await?;
                conn.close().await?;
                applied
            }
        };
        Ok(applied.into_iter().map(|m| m.version).collect())
    }
}

fn status_rows<'a>(
    scope: &'a str,
    migrator: &'a Migrator,
    applied: &'a [i64],
) -> impl Iterator<Item = MigrationStatus> + 'a {
    migrator.iter().map(move |migration| MigrationStatus {
        scope: scope.to_owned(),
        version: migration.version,
        description: migration.description.to_string(),
        state: if applied.contains(&migration.version) {
            MigrationState::Applied
        } else {
            MigrationState::Pending
        },
    })
}
