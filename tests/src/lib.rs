//! Support for SAM's integration tests: a fresh PostgreSQL database or
//! SQLite home per test, so tests run in parallel and never share rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sam_core::store::{Store, StoreLocation, StoreOptions};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

/// The PostgreSQL server tests create their databases on. Override with
/// `SAMTEST_POSTGRES_URL`; it must name a database the user can connect to
/// and a user allowed to create databases.
pub fn admin_url() -> String {
    std::env::var("SAMTEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A store location that exists for one test and is removed afterwards.
#[derive(Debug)]
pub struct TestLocation {
    /// The location to open.
    pub location: StoreLocation,
    database: Option<String>,
    _home: Option<tempfile::TempDir>,
}

impl TestLocation {
    /// Creates an empty PostgreSQL database named after a random UUID.
    pub async fn postgres() -> Self {
        let name = format!("sam_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (see .ci/run)");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = url_with_database(&admin_url(), &name);
        Self {
            location: StoreLocation::Postgres(url),
            database: Some(name),
            _home: None,
        }
    }

    /// Creates an empty SAM home folder for the embedded SQLite store.
    pub fn sqlite() -> Self {
        let home = tempfile::tempdir().unwrap();
        Self {
            location: StoreLocation::Sqlite(home.path().join("sam")),
            database: None,
            _home: Some(home),
        }
    }

    /// Initialises a store here with default options.
    pub async fn init(&self) -> Store {
        Store::init(&self.location, StoreOptions::default())
            .await
            .unwrap()
    }
}

impl TestLocation {
    /// Sets the creation time of partner `slug` in the control table, so a
    /// test can bill months before the day it runs. Billing has no invoice
    /// for a month that ended before its partner was created.
    pub async fn set_partner_created_at(&self, slug: &str, created_at: DateTime<Utc>) {
        let value = created_at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let updated = match &self.location {
            StoreLocation::Postgres(url) => {
                let mut conn = PgConnection::connect(url).await.unwrap();
                sqlx::query("UPDATE sam_control.tenants SET created_at = $1 WHERE partner_id = $2")
                    .bind(value)
                    .bind(slug)
                    .execute(&mut conn)
                    .await
                    .unwrap()
                    .rows_affected()
            }
            StoreLocation::Sqlite(home) => {
                let options =
                    sqlx::sqlite::SqliteConnectOptions::new().filename(home.join("control.db"));
                let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
                sqlx::query("UPDATE tenants SET created_at = $1 WHERE partner_id = $2")
                    .bind(value)
                    .bind(slug)
                    .execute(&mut conn)
                    .await
                    .unwrap()
                    .rows_affected()
            }
        };
        assert_eq!(updated, 1, "no partner {slug} in the control table");
    }
}

impl Drop for TestLocation {
    fn drop(&mut self) {
        let Some(name) = self.database.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which may be shutting down,
        // so the database is removed from a thread with its own runtime.
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ =
                        tokio::time::timeout(Duration::from_secs(10), admin.execute(sql.as_str()))
                            .await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Replaces the database name (the URL path) of a PostgreSQL URL.
fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Runs an async test body once against PostgreSQL and once against SQLite.
#[macro_export]
macro_rules! on_both_stores {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let location = $crate::TestLocation::postgres().await;
                super::$body(&location).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let location = $crate::TestLocation::sqlite();
                super::$body(&location).await;
            }
        }
    };
}
