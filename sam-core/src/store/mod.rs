//! Storage: PostgreSQL with one schema per partner, or the embedded default,
//! SQLite with one control database and one database file per partner.
//!
//! Both backends run the same SQL through sqlx's `Any` driver. Every query
//! names its tables through `Tables`, which qualifies them with the
//! partner's quoted schema on PostgreSQL, so no query depends on a
//! connection's `search_path`.

mod assignments;
mod auth;
mod clients;
mod evaluations;
mod idempotency;
mod invoices;
mod location;
mod lookups;
mod migrate;
mod partners;
mod tables;
mod usage;
pub(crate) mod values;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use tokio::sync::Mutex;

pub use auth::PlatformAdmin;
pub use evaluations::{EvaluationFilter, ReviewAction};
pub(crate) use evaluations::{EvaluationRecord, Stored};
pub use idempotency::IdempotencyClaim;
pub use location::StoreLocation;
pub use migrate::{MigrationState, MigrationStatus};
pub(crate) use tables::Tables;

use crate::tenancy::{Partner, PartnerSlug, TenancyError};

/// Settings for opening a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum connections in the PostgreSQL pool, or in each SQLite pool.
    pub max_connections: u32,
    /// The time partner, API key, client and assignment records read by this
    /// store are reused before they are read again. Zero reads them on every
    /// use. Changes made through this store take effect at once, and changes
    /// made by another process take effect within this time.
    pub lookup_ttl: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            lookup_ttl: std::time::Duration::ZERO,
        }
    }
}

/// A handle on the platform's data. Cheap to clone; clones share pools.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    options: StoreOptions,
    writers: std::sync::Mutex<HashMap<PartnerSlug, writer::EvaluationWriter>>,
    lookups: Option<lookups::Lookups>,
}

#[derive(Debug)]
enum Backend {
    Postgres {
        pool: AnyPool,
        url: String,
    },
    Sqlite {
        home: PathBuf,
        control: AnyPool,
        partners: Mutex<HashMap<PartnerSlug, AnyPool>>,
    },
}

/// The control database file inside a SAM home folder.
const CONTROL_FILE: &str = "control.db";
/// The folder of per-partner database files inside a SAM home folder.
const PARTNERS_DIR: &str = "partners";

impl Store {
    /// Opens an initialised store.
    ///
    /// # Errors
    /// [`TenancyError::InvalidLocation`] when the store does not exist or was
    /// never initialised (run [`Store::init`]), or a database error.
    pub async fn open(
        location: &StoreLocation,
        options: StoreOptions,
    ) -> Result<Self, TenancyError> {
        sqlx::any::install_default_drivers();
        let store = Self::connect(location, options, false).await?;
        if !store.is_initialised().await? {
            return Err(TenancyError::InvalidLocation {
                location: location.redacted(),
                reason: "the store is not initialised; run `samctl init` first".to_owned(),
            });
        }
        Ok(store)
    }

    /// Creates the store if needed and applies pending migrations to the
    /// control tables and to every partner. Running it again is harmless.
    ///
    /// # Errors
    /// A location, database or migration error.
    pub async fn init(
        location: &StoreLocation,
        options: StoreOptions,
    ) -> Result<Self, TenancyError> {
        sqlx::any::install_default_drivers();
        let store = Self::connect(location, options, true).await?;
        store.migrate_all().await?;
        Ok(store)
    }

    async fn connect(
        location: &StoreLocation,
        options: StoreOptions,
        create: bool,
    ) -> Result<Self, TenancyError> {
        let backend = match location {
            StoreLocation::Postgres(url) => {
                if create {
                    migrate::create_control_schema(url).await?;
                }
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .connect(url)
                    .await
                    .map_err(|err| location.connect_error(&err))?;
                Backend::Postgres {
                    pool,
                    url: url.clone(),
                }
            }
            StoreLocation::Sqlite(home) => {
                let control_path = home.join(CONTROL_FILE);
                if create {
                    std::fs::create_dir_all(home.join(PARTNERS_DIR)).map_err(|source| {
                        TenancyError::Io {
                            action: "cannot create the SAM home folder",
                            path: home.display().to_string(),
                            source,
                        }
                    })?;
                    migrate::create_sqlite_file(&control_path).await?;
                } else if !control_path.is_file() {
                    return Err(TenancyError::InvalidLocation {
                        location: location.redacted(),
                        reason: "no SAM store here; run `samctl init` to create one".to_owned(),
                    });
                }
                Backend::Sqlite {
                    home: home.clone(),
                    control: sqlite_pool(&control_path, options.max_connections).await?,
                    partners: Mutex::new(HashMap::new()),
                }
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                lookups: lookups::Lookups::new(options.lookup_ttl),
                options,
                writers: std::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Returns the lookup caches, when this store keeps them.
    fn lookups(&self) -> Option<&lookups::Lookups> {
        self.inner.lookups.as_ref()
    }

    /// Drops a partner's cached record, after this store changed it.
    async fn forget_partner(&self, slug: &PartnerSlug) {
        if let Some(lookups) = self.lookups() {
            lookups.partners.invalidate(slug).await;
        }
    }

    /// Drops an API key's cached record, after this store changed it.
    async fn forget_api_key(&self, prefix: &str) {
        if let Some(lookups) = self.lookups() {
            lookups.api_keys.invalidate(prefix).await;
        }
    }

    /// Returns a description of where the data lives, without credentials.
    pub fn describe(&self) -> String {
        match &self.inner.backend {
            Backend::Postgres { url, .. } => StoreLocation::Postgres(url.clone()).redacted(),
            Backend::Sqlite { home, .. } => StoreLocation::Sqlite(home.clone()).redacted(),
        }
    }

    /// Returns whether the store is the embedded SQLite default.
    pub fn is_embedded(&self) -> bool {
        matches!(self.inner.backend, Backend::Sqlite { .. })
    }

    async fn is_initialised(&self) -> Result<bool, TenancyError> {
        let sql = match &self.inner.backend {
            Backend::Postgres { .. } => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.tables \
                 WHERE table_schema = 'sam_control' AND table_name = 'tenants'"
            }
            Backend::Sqlite { .. } => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tenants'"
            }
        };
        let count: i64 = sqlx::query_scalar(sql)
            .fetch_one(self.control_pool())
            .await?;
        Ok(count > 0)
    }

    /// Returns the pool that contains the control tables.
    fn control_pool(&self) -> &AnyPool {
        match &self.inner.backend {
            Backend::Postgres { pool, .. } => pool,
            Backend::Sqlite { control, .. } => control,
        }
    }

    /// Returns the control tables' qualified names.
    fn control_tables(&self) -> Tables {
        match &self.inner.backend {
            Backend::Postgres { .. } => Tables::qualified(&crate::tenancy::SchemaName::control()),
            Backend::Sqlite { .. } => Tables::unqualified(),
        }
    }

    /// Returns a handle on the data of a partner that may serve requests.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown partner, and
    /// [`TenancyError::PartnerUnavailable`] for one that is suspended,
    /// cancelled or not provisioned.
    pub async fn partner_db(&self, slug: &PartnerSlug) -> Result<PartnerDb, TenancyError> {
        let partner = self.partner(slug).await?;
        if !partner.is_usable() {
            let state = if partner.provisioned {
                partner.status.to_string()
            } else {
                "not provisioned".to_owned()
            };
            return Err(TenancyError::PartnerUnavailable {
                slug: slug.to_string(),
                state,
            });
        }
        self.open_partner_db(partner).await
    }

    /// Returns a handle on a provisioned partner's data whatever its status,
    /// for operator reads such as usage and billing of a suspended partner.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown partner or one that is not provisioned.
    pub async fn partner_db_any_status(
        &self,
        slug: &PartnerSlug,
    ) -> Result<PartnerDb, TenancyError> {
        let partner = self.partner(slug).await?;
        if !partner.provisioned {
            return Err(TenancyError::not_found("partner", slug.as_str()));
        }
        self.open_partner_db(partner).await
    }

    async fn open_partner_db(&self, partner: Partner) -> Result<PartnerDb, TenancyError> {
        let (pool, tables) = match &self.inner.backend {
            Backend::Postgres { pool, .. } => {
                (pool.clone(), Tables::qualified(&partner.slug.schema()))
            }
            Backend::Sqlite { home, partners, .. } => {
                let mut open = partners.lock().await;
                let pool = match open.get(&partner.slug) {
                    Some(pool) => pool.clone(),
                    None => {
                        let path = partner_file(home, &partner.slug);
                        let pool = sqlite_pool(&path, self.inner.options.max_connections).await?;
                        open.insert(partner.slug.clone(), pool.clone());
                        pool
                    }
                };
                (pool, Tables::unqualified())
            }
        };
        let tables = Arc::new(tables);
        let writer = {
            let mut writers = self
                .inner
                .writers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            writers
                .entry(partner.slug.clone())
                .or_insert_with(|| {
                    // SQLite has one writer at a time; PostgreSQL commits in parallel.
                    let tasks = if self.is_embedded() { 1 } else { 2 };
                    writer::EvaluationWriter::spawn(pool.clone(), Arc::clone(&tables), tasks)
                })
                .clone()
        };
        Ok(PartnerDb {
            pool,
            tables,
            partner: Arc::new(partner),
            writer,
            lookups: self.inner.lookups.clone(),
        })
    }

    /// Stops the evaluation writers of a partner whose data is going away.
    fn drop_writer(&self, slug: &PartnerSlug) {
        self.inner
            .writers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(slug);
    }

    /// Closes every pool, waiting for checked-out connections to return.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Postgres { pool, .. } => pool.close().await,
            Backend::Sqlite {
                control, partners, ..
            } => {
                for pool in partners.lock().await.values() {
                    pool.close().await;
                }
                control.close().await;
            }
        }
    }
}

/// A handle on one partner's data: its pool and its qualified table names.
/// Every query through it reads and writes that partner's data only.
#[derive(Debug, Clone)]
pub struct PartnerDb {
    pub(crate) pool: AnyPool,
    pub(crate) tables: Arc<Tables>,
    pub(crate) partner: Arc<Partner>,
    pub(crate) writer: writer::EvaluationWriter,
    pub(crate) lookups: Option<lookups::Lookups>,
}

impl PartnerDb {
    /// Returns the partner this handle is scoped to.
    pub fn partner(&self) -> &Partner {
        &self.partner
    }
}

/// Returns the path of a partner's database file in a SAM home folder.
fn partner_file(home: &Path, slug: &PartnerSlug) -> PathBuf {
    home.join(PARTNERS_DIR).join(format!("{slug}.db"))
}

/// Opens an `Any` pool on an existing SQLite file with the pragmas every
/// connection needs: WAL for concurrent readers, a busy timeout so writers
/// queue instead of failing, and foreign keys on.
async fn sqlite_pool(path: &Path, max_connections: u32) -> Result<AnyPool, TenancyError> {
    let url = location::sqlite_url(path);
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|err| TenancyError::InvalidLocation {
            location: path.display().to_string(),
            reason: format!("cannot open the SQLite database: {err}"),
        })
}
