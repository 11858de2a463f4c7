//! Usage events, their daily rollups and usage reports inside one
//! partner's data.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::values::{encode_flag, encode_time, values_list};
use super::{PartnerDb, Tables};
use crate::metering::{
    local_day, DateRange, RebuildSummary, UsageEvent, UsageQuery, UsageReport, UsageRow,
    UsageTotals,
};
use crate::tenancy::TenancyError;

/// The summed columns of `usage_daily`, in [`UsageTotals`] order.
/// PostgreSQL's `SUM(bigint)` is NUMERIC, which the `Any` driver cannot
/// decode, so every sum is cast back to BIGINT.
const SUMMED: &str = "CAST(COALESCE(SUM(events), 0) AS BIGINT) AS events, \
     CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
     CAST(COALESCE(SUM(cached_input_tokens), 0) AS BIGINT) AS cached_input_tokens, \
     CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
     CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) AS cost_nanos, \
     CAST(COALESCE(SUM(cache_hits), 0) AS BIGINT) AS cache_hits";

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn decode_totals(row: &AnyRow) -> Result<UsageTotals, TenancyError> {
    Ok(UsageTotals {
        events: row.try_get("events")?,
        input_tokens: row.try_get("input_tokens")?,
        cached_input_tokens: row.try_get("cached_input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        cost_nanos: row.try_get("cost_nanos")?,
        cache_hits: row.try_get("cache_hits")?,
    })
}

/// Inserts `event` unless its idempotency key is recorded already, and
/// when it was inserted adds it to its `usage_daily` row. Runs on the
/// caller's connection so both writes share the caller's transaction.
/// Returns whether the event was new.
pub(crate) async fn insert_usage_event(
    conn: &mut AnyConnection,
    tables: &Tables,
    event: &UsageEvent,
    local_day: &str,
) -> Result<bool, TenancyError> {
    let inserted = insert_usage_events(conn, tables, &[(event, local_day)]).await?;
    Ok(inserted.first().copied().unwrap_or(false))
}

/// Inserts a group of events, skipping those whose idempotency key is
/// recorded already, and adds the new ones to their `usage_daily` rows with
/// one upsert per day, client, provider and model. Runs on the caller's
/// connection, so everything shares the caller's transaction. Returns, per
/// event, whether it was new.
pub(crate) async fn insert_usage_events(
    conn: &mut AnyConnection,
    tables: &Tables,
    events: &[(&UsageEvent, &str)],
) -> Result<Vec<bool>, TenancyError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let insert_events = format!(
        "INSERT INTO {} (id, idempotency_key, kind, occurred_at, local_day, client_id, user_id, \
         assignment_id, evaluation_id, provider, model, input_tokens, cached_input_tokens, \
         output_tokens, cost_nanos, cache_hit) VALUES {} \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        tables.usage_events,
        values_list(events.len(), 16)
    );
    // Statements differ by row count, so they are not kept prepared.
    let mut query = sqlx::query_scalar::<_, String>(&insert_events).persistent(false);
    for (event, local_day) in events {
        query = query
            .bind(Uuid::now_v7().to_string())
            .bind(&event.idempotency_key)
            .bind(&event.kind)
            .bind(encode_time(event.occurred_at))
            .bind(*local_day)
            .bind(&event.client_id)
            .bind(event.user_id.as_deref())
            .bind(event.assignment_id.as_deref())
            .bind(event.evaluation_id.as_deref())
            .bind(&event.provider)
            .bind(&event.model)
            .bind(to_i64(event.input_tokens))
            .bind(to_i64(event.cached_input_tokens))
            .bind(to_i64(event.output_tokens))
            .bind(event.cost_nanos)
            .bind(encode_flag(event.cache_hit));
    }
    let inserted: std::collections::HashSet<String> =
        query.fetch_all(&mut *conn).await?.into_iter().collect();

    // A key inserted twice in one group is new only the first time.
    let mut seen = std::collections::HashSet::new();
    let new: Vec<bool> = events
        .iter()
        .map(|(event, _)| {
            inserted.contains(&event.idempotency_key) && seen.insert(&event.idempotency_key)
        })
        .collect();

    let mut groups: std::collections::BTreeMap<(&str, &str, &str, &str), UsageTotals> =
        std::collections::BTreeMap::new();
    for ((event, local_day), is_new) in events.iter().zip(&new) {
        if !is_new {
            continue;
        }
        let totals = groups
            .entry((local_day, &event.client_id, &event.provider, &event.model))
            .or_default();
        totals.events += 1;
        totals.input_tokens += to_i64(event.input_tokens);
        totals.cached_input_tokens += to_i64(event.cached_input_tokens);
        totals.output_tokens += to_i64(event.output_tokens);
        totals.cost_nanos += event.cost_nanos;
        totals.cache_hits += encode_flag(event.cache_hit);
    }
    // The bare table name qualifies the existing row's columns on both
    // engines, even when `usage_daily` is schema-qualified.
    let upsert_rollup = format!(
        "INSERT INTO {} (local_day, client_id, provider, model, events, input_tokens, \
         cached_input_tokens, output_tokens, cost_nanos, cache_hits) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (local_day, client_id, provider, model) DO UPDATE SET \
         events = usage_daily.events + excluded.events, \
         input_tokens = usage_daily.input_tokens + excluded.input_tokens, \
         cached_input_tokens = usage_daily.cached_input_tokens + excluded.cached_input_tokens, \
         output_tokens = usage_daily.output_tokens + excluded.output_tokens, \
         cost_nanos = usage_daily.cost_nanos + excluded.cost_nanos, \
         cache_hits = usage_daily.cache_hits + excluded.cache_hits",
        tables.usage_daily
    );
    for ((local_day, client_id, provider, model), totals) in groups {
        sqlx::query(&upsert_rollup)
            .bind(local_day)
            .bind(client_id)
            .bind(provider)
            .bind(model)
            .bind(totals.events)
            .bind(totals.input_tokens)
            .bind(totals.cached_input_tokens)
            .bind(totals.output_tokens)
            .bind(totals.cost_nanos)
            .bind(totals.cache_hits)
            .execute(&mut *conn)
            .await?;
    }
    Ok(new)
}

impl PartnerDb {
    /// Records one usage event and its rollup in one transaction. The
    /// event's day is its partner-local day. Returns `false`, changing
    /// nothing, when the idempotency key is recorded already.
    ///
    /// # Errors
    /// A database error, or [`TenancyError::Corrupt`] when the partner's
    /// stored time zone is unknown.
    pub async fn record_usage(&self, event: &UsageEvent) -> Result<bool, TenancyError> {
        let zone = self.time_zone()?;
        let day = local_day(event.occurred_at, zone).to_string();
        let mut tx = self.pool.begin().await?;
        let inserted = insert_usage_event(&mut tx, &self.tables, event, &day).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Returns the partner's time zone.
    pub(crate) fn time_zone(&self) -> Result<chrono_tz::Tz, TenancyError> {
        self.partner
            .time_zone
            .parse()
            .map_err(|_| TenancyError::Corrupt {
                column: "tenants.time_zone",
                reason: format!("{:?} is not an IANA time zone", self.partner.time_zone),
            })
    }

    /// Returns a usage report from the daily rollups.
    ///
    /// # Errors
    /// A database error.
    pub async fn usage(&self, query: &UsageQuery) -> Result<UsageReport, TenancyError> {
        let key = query.group.column();
        // Placeholders are numbered by hand: sqlx's QueryBuilder writes `?`
        // for the `Any` driver, which PostgreSQL rejects.
        let client_filter = if query.client_id.is_some() {
            " AND client_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {key} AS key, {SUMMED} FROM {} \
             WHERE local_day >= $1 AND local_day <= $2{client_filter} \
             GROUP BY {key} ORDER BY {key}",
            self.tables.usage_daily
        );
        let mut select = sqlx::query(&sql)
            .bind(query.range.from.to_string())
            .bind(query.range.to.to_string());
        if let Some(client_id) = &query.client_id {
            select = select.bind(client_id.clone());
        }
        let rows = select.fetch_all(&self.pool).await?;

        let mut totals = UsageTotals::default();
        let mut report_rows = Vec::with_capacity(rows.len());
        for row in &rows {
            let row_totals = decode_totals(row)?;
            totals
                .add(&row_totals)
                .map_err(|err| TenancyError::Corrupt {
                    column: "usage_daily",
                    reason: err.to_string(),
                })?;
            report_rows.push(UsageRow {
                key: row.try_get("key")?,
                totals: row_totals,
            });
        }
        Ok(UsageReport {
            group: query.group,
            from: query.range.from,
            to: query.range.to,
            rows: report_rows,
            totals,
        })
    }

    /// Sums the raw usage events of `range`, for audits that check the
    /// rollups. Reports read [`PartnerDb::usage`] instead, because this
    /// scans every event of the range.
    ///
    /// # Errors
    /// A database error.
    pub async fn raw_usage_totals(&self, range: DateRange) -> Result<UsageTotals, TenancyError> {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS events, \
             CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(cached_input_tokens), 0) AS BIGINT) AS cached_input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT) AS cost_nanos, \
             CAST(COALESCE(SUM(cache_hit), 0) AS BIGINT) AS cache_hits \
             FROM {} WHERE local_day >= $1 AND local_day <= $2",
            self.tables.usage_events
        );
        let row = sqlx::query(&sql)
            .bind(range.from.to_string())
            .bind(range.to.to_string())
            .fetch_one(&self.pool)
            .await?;
        decode_totals(&row)
    }

    /// Returns the totals of every rollup row.
    async fn rollup_totals(&self, conn: &mut AnyConnection) -> Result<UsageTotals, TenancyError> {
        let sql = format!("SELECT {SUMMED} FROM {}", self.tables.usage_daily);
        let row = sqlx::query(&sql).fetch_one(&mut *conn).await?;
        decode_totals(&row)
    }

    /// Recomputes every `usage_daily` row from the raw usage events in one
    /// transaction. On PostgreSQL it first takes a SHARE lock on the events
    /// table, so evaluations stored meanwhile wait for the rebuild instead
    /// of being counted twice or lost. On SQLite the transaction first takes
    /// the database's single write lock, with the same effect.
    ///
    /// # Errors
    /// A database error; the rollups are then unchanged.
    pub async fn rebuild_usage_rollups(&self) -> Result<RebuildSummary, TenancyError> {
        let mut tx = self.pool.begin().await?;
        let lock = if tx.backend_name() == "PostgreSQL" {
            format!("LOCK TABLE {} IN SHARE MODE", self.tables.usage_events)
        } else {
            // A write statement, even one that matches no row, makes SQLite
            // take its write lock before the totals below are read.
            format!("DELETE FROM {} WHERE 1 = 0", self.tables.usage_daily)
        };
        sqlx::query(&lock).execute(&mut *tx).await?;

        let before = self.rollup_totals(&mut tx).await?;
        let delete = format!("DELETE FROM {}", self.tables.usage_daily);
        sqlx::query(&delete).execute(&mut *tx).await?;
        let rebuild = format!(
            "INSERT INTO {} (local_day, client_id, provider, model, events, input_tokens, \
             cached_input_tokens, output_tokens, cost_nanos, cache_hits) \
             SELECT local_day, client_id, provider, model, COUNT(*), SUM(input_tokens), \
             SUM(cached_input_tokens), SUM(output_tokens), SUM(cost_nanos), SUM(cache_hit) \
             FROM {} GROUP BY local_day, client_id, provider, model",
            self.tables.usage_daily, self.tables.usage_events
        );
        let rows = sqlx::query(&rebuild)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let after = self.rollup_totals(&mut tx).await?;
        tx.commit().await?;

        tracing::info!(
            partner = %self.partner.slug,
            rows,
            events = after.events,
            "usage rollups rebuilt"
        );
        Ok(RebuildSummary {
            before,
            after,
            rows: i64::try_from(rows).unwrap_or(i64::MAX),
        })
    }
}
