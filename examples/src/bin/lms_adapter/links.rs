//! The adapter's own table: which LMS line item and user each SAM
//! evaluation belongs to, so an approval can be passed back later.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row as _;
use uuid::Uuid;

/// The LMS destination of an evaluation's grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// The SAM evaluation.
    pub(crate) evaluation_id: Uuid,
    /// The AGS line item URL from the webhook.
    pub(crate) lineitem_url: String,
    /// The student's LMS user id, the `userId` of the score.
    pub(crate) lms_user_id: String,
}

/// The links, in a SQLite file of their own beside SAM's data.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    pool: SqlitePool,
}

impl Links {
    /// Opens the file at `path`, creating it and its table when missing.
    pub(crate) async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS lms_links (\
             evaluation_id TEXT PRIMARY KEY, lineitem_url TEXT NOT NULL, \
             lms_user_id TEXT NOT NULL, created_at TEXT NOT NULL)",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// Records where an evaluation's grade goes. A retried webhook for the
    /// same evaluation replaces the line item and user it had.
    pub(crate) async fn save(&self, link: &Link) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO lms_links (evaluation_id, lineitem_url, lms_user_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (evaluation_id) DO UPDATE SET \
             lineitem_url = excluded.lineitem_url, lms_user_id = excluded.lms_user_id",
        )
        .bind(link.evaluation_id.to_string())
        .bind(&link.lineitem_url)
        .bind(&link.lms_user_id)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Returns the link of an evaluation, or `None` when this adapter did not create it.
    pub(crate) async fn get(&self, evaluation_id: Uuid) -> anyhow::Result<Option<Link>> {
        let row =
            sqlx::query("SELECT lineitem_url, lms_user_id FROM lms_links WHERE evaluation_id = $1")
                .bind(evaluation_id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => Ok(Some(Link {
                evaluation_id,
                lineitem_url: row.try_get("lineitem_url")?,
                lms_user_id: row.try_get("lms_user_id")?,
            })),
            None => Ok(None),
        }
    }
}
