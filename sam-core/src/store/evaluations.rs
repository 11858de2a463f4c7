//! Submissions, evaluations and their usage events inside one partner's data.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::usage::insert_usage_events;
use super::values::{decode_flag, decode_time, decode_uuid, encode_flag, encode_time, values_list};
use super::{PartnerDb, Tables};
use crate::eval::{CriterionScore, EvalError, Evaluation, EvaluationStatus, Review};
use crate::metering::UsageEvent;
use crate::tenancy::TenancyError;

const EVALUATION_COLUMNS: &str = "id, client_id, assignment_id, submission_id, student_id, \
     teacher_id, score_points, max_points, grade, criteria, overall_feedback, flags, model, \
     provider, cached, attempts, input_tokens, cached_input_tokens, output_tokens, cost_nanos, \
     latency_ms, status, reviewed_by, reviewed_at, teacher_score, teacher_comment, created_at";

/// Filters for listing evaluations. Every filter is optional; results are
/// ordered by creation time, then id, and paged with `after`.
#[derive(Debug, Clone, Default)]
pub struct EvaluationFilter {
    /// Only this client's evaluations.
    pub client_id: Option<String>,
    /// Only this assignment's.
    pub assignment_id: Option<String>,
    /// Only this student's.
    pub student_id: Option<String>,
    /// Only this teacher's.
    pub teacher_id: Option<String>,
    /// Only in this status.
    pub status: Option<EvaluationStatus>,
    /// Only evaluations after this one in list order (a page cursor).
    pub after: Option<Uuid>,
    /// Maximum rows to return.
    pub limit: Option<u32>,
}

/// A teacher's review action.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewAction {
    /// Accept the AI result as it is.
    Approve {
        /// Optional comment.
        comment: Option<String>,
    },
    /// Replace the score in force with the teacher's.
    Override {
        /// The teacher's score in points, within `0..=max_points`.
        score: f64,
        /// The teacher's reason.
        comment: String,
    },
}

fn corrupt(column: &'static str, err: impl std::fmt::Display) -> TenancyError {
    TenancyError::Corrupt {
        column,
        reason: err.to_string(),
    }
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn decode_evaluation(row: &AnyRow) -> Result<Evaluation, TenancyError> {
    let criteria: String = row.try_get("criteria")?;
    let criteria: Vec<CriterionScore> =
        serde_json::from_str(&criteria).map_err(|err| corrupt("evaluations.criteria", err))?;
    let flags: String = row.try_get("flags")?;
    let flags: Vec<String> =
        serde_json::from_str(&flags).map_err(|err| corrupt("evaluations.flags", err))?;
    let status: String = row.try_get("status")?;
    let status =
        EvaluationStatus::parse(&status).map_err(|err| corrupt("evaluations.status", err))?;
    let reviewed_by: Option<String> = row.try_get("reviewed_by")?;
    let review = match reviewed_by {
        Some(reviewed_by) => {
            let at: Option<String> = row.try_get("reviewed_at")?;
            Some(Review {
                reviewed_by,
                reviewed_at: decode_time("evaluations.reviewed_at", at.as_deref().unwrap_or(""))?,
                teacher_score: row.try_get("teacher_score")?,
                teacher_comment: row.try_get("teacher_comment")?,
            })
        }
        None => None,
    };
    let score: f64 = row.try_get("score_points")?;
    let max_points: f64 = row.try_get("max_points")?;
    let grade: String = row.try_get("grade")?;
    Ok(Evaluation {
        id: decode_uuid("evaluations.id", &row.try_get::<String, _>("id")?)?,
        client_id: row.try_get("client_id")?,
        assignment_id: row.try_get("assignment_id")?,
        submission_id: row.try_get("submission_id")?,
        student_id: row.try_get("student_id")?,
        teacher_id: row.try_get("teacher_id")?,
        score,
        max_points,
        score_fraction: if max_points > 0.0 {
            score / max_points
        } else {
            0.0
        },
        grade: grade
            .parse()
            .map_err(|err| corrupt("evaluations.grade", err))?,
        criteria,
        overall_feedback: row.try_get("overall_feedback")?,
        flags,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        cached: decode_flag(row.try_get("cached")?),
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
        input_tokens: to_u64(row.try_get("input_tokens")?),
        cached_input_tokens: to_u64(row.try_get("cached_input_tokens")?),
        output_tokens: to_u64(row.try_get("output_tokens")?),
        cost_nanos: row.try_get("cost_nanos")?,
        latency_ms: to_u64(row.try_get("latency_ms")?),
        status,
        review,
        created_at: decode_time(
            "evaluations.created_at",
            &row.try_get::<String, _>("created_at")?,
        )?,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// One graded submission to store: the evaluation, its text and its usage data.
#[derive(Debug, Clone)]
pub(crate) struct EvaluationRecord {
    pub(crate) evaluation: Evaluation,
    pub(crate) text: String,
    pub(crate) received_at: DateTime<Utc>,
    pub(crate) user_id: Option<String>,
    pub(crate) local_day: String,
}

/// The result of storing an evaluation.
#[derive(Debug)]
pub(crate) enum Stored {
    /// Written now, with its usage event.
    New(Evaluation),
    /// Another writer stored this submission's evaluation first.
    Existing(Evaluation),
}

/// Returns the usage event that bills an evaluation.
fn usage_event(e: &Evaluation, user_id: Option<&str>) -> UsageEvent {
    UsageEvent {
        idempotency_key: format!(
            "evaluation:{}:{}:{}",
            e.client_id, e.assignment_id, e.submission_id
        ),
        kind: "evaluation".to_owned(),
        occurred_at: e.created_at,
        client_id: e.client_id.clone(),
        user_id: user_id.map(str::to_owned),
        assignment_id: Some(e.assignment_id.clone()),
        evaluation_id: Some(e.id.to_string()),
        provider: e.provider.clone(),
        model: e.model.clone(),
        input_tokens: e.input_tokens,
        cached_input_tokens: e.cached_input_tokens,
        output_tokens: e.output_tokens,
        cost_nanos: e.cost_nanos,
        cache_hit: e.cached,
    }
}

/// Writes a group of evaluations, each with its submission and usage event,
/// in the caller's transaction: the submissions and evaluations as two
/// multi-row inserts, then each new evaluation's usage event and rollup. Returns, per
/// record, whether it was written (`true`) or its submission already had an
/// evaluation, from another writer or earlier in the same group (`false`).
pub(crate) async fn insert_evaluations(
    conn: &mut sqlx::AnyConnection,
    tables: &Tables,
    records: &[EvaluationRecord],
) -> Result<Vec<bool>, TenancyError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO {} (id, client_id, assignment_id, submission_id, student_id, body, received_at) \
         VALUES {} ON CONFLICT (client_id, assignment_id, submission_id) DO NOTHING",
        tables.submissions,
        values_list(records.len(), 7)
    );
    // Statements differ by row count, so they are not kept prepared.
    let mut submissions = sqlx::query(&sql).persistent(false);
    for record in records {
        let e = &record.evaluation;
        submissions = submissions
            .bind(Uuid::now_v7().to_string())
            .bind(&e.client_id)
            .bind(&e.assignment_id)
            .bind(&e.submission_id)
            .bind(&e.student_id)
            .bind(&record.text)
            .bind(encode_time(record.received_at));
    }
    submissions.execute(&mut *conn).await?;

    let mut encoded = Vec::with_capacity(records.len());
    for record in records {
        let e = &record.evaluation;
        let criteria = serde_json::to_string(&e.criteria)
            .map_err(|err| corrupt("evaluations.criteria", err))?;
        let flags =
            serde_json::to_string(&e.flags).map_err(|err| corrupt("evaluations.flags", err))?;
        encoded.push((criteria, flags));
    }
    let sql = format!(
        "INSERT INTO {} ({EVALUATION_COLUMNS}) VALUES {} \
         ON CONFLICT (client_id, assignment_id, submission_id) DO NOTHING RETURNING id",
        tables.evaluations,
        values_list(records.len(), 27)
    );
    let mut evaluations = sqlx::query_scalar::<_, String>(&sql).persistent(false);
    for (record, (criteria, flags)) in records.iter().zip(encoded) {
        let e = &record.evaluation;
        evaluations = evaluations
            .bind(e.id.to_string())
            .bind(&e.client_id)
            .bind(&e.assignment_id)
            .bind(&e.submission_id)
            .bind(&e.student_id)
            .bind(e.teacher_id.as_deref())
            .bind(e.score)
            .bind(e.max_points)
            .bind(format!("{:.1}", e.grade))
            .bind(criteria)
            .bind(&e.overall_feedback)
            .bind(flags)
            .bind(&e.model)
            .bind(&e.provider)
            .bind(encode_flag(e.cached))
            .bind(i64::from(e.attempts))
            .bind(to_i64(e.input_tokens))
            .bind(to_i64(e.cached_input_tokens))
            .bind(to_i64(e.output_tokens))
            .bind(e.cost_nanos)
            .bind(to_i64(e.latency_ms))
            .bind(e.status.as_str())
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<f64>)
            .bind(None::<String>)
            .bind(encode_time(e.created_at));
    }
    let inserted: std::collections::HashSet<String> = evaluations
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    let written: Vec<bool> = records
        .iter()
        .map(|r| inserted.contains(&r.evaluation.id.to_string()))
        .collect();

    let events: Vec<UsageEvent> = records
        .iter()
        .zip(&written)
        .filter(|(_, written)| **written)
        .map(|(record, _)| usage_event(&record.evaluation, record.user_id.as_deref()))
        .collect();
    let days = records
        .iter()
        .zip(&written)
        .filter(|(_, written)| **written)
        .map(|(record, _)| record.local_day.as_str());
    let pairs: Vec<(&UsageEvent, &str)> = events.iter().zip(days).collect();
    insert_usage_events(conn, tables, &pairs).await?;
    Ok(written)
}

impl PartnerDb {
    /// Returns the stored text of a submission, if it exists.
    pub(crate) async fn submission_text(
        &self,
        client_id: &str,
        assignment_id: &str,
        submission_id: &str,
    ) -> Result<Option<String>, TenancyError> {
        let sql = format!(
            "SELECT body FROM {} WHERE client_id = $1 AND assignment_id = $2 AND submission_id = $3",
            self.tables.submissions
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(client_id)
            .bind(assignment_id)
            .bind(submission_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Returns the evaluation of one submission, if it has one.
    ///
    /// # Errors
    /// A database error.
    pub async fn evaluation_of_submission(
        &self,
        client_id: &str,
        assignment_id: &str,
        submission_id: &str,
    ) -> Result<Option<Evaluation>, TenancyError> {
        let sql = format!(
            "SELECT {EVALUATION_COLUMNS} FROM {} \
             WHERE client_id = $1 AND assignment_id = $2 AND submission_id = $3",
            self.tables.evaluations
        );
        sqlx::query(&sql)
            .bind(client_id)
            .bind(assignment_id)
            .bind(submission_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode_evaluation)
            .transpose()
    }

    /// Writes the submission, its evaluation, the usage event that bills it
    /// and the event's daily rollup in one transaction, so a crash leaves
    /// all of them or none. Concurrent calls for one partner share a
    /// transaction (see [`super::writer`]).
    pub(crate) async fn store_evaluation(
        &self,
        record: EvaluationRecord,
    ) -> Result<Stored, TenancyError> {
        let key = (
            record.evaluation.client_id.clone(),
            record.evaluation.assignment_id.clone(),
            record.evaluation.submission_id.clone(),
        );
        let (written, record) = self.writer.write(record).await?;
        if written {
            return Ok(Stored::New(record.evaluation));
        }
        let existing = self
            .evaluation_of_submission(&key.0, &key.1, &key.2)
            .await?
            .ok_or_else(|| TenancyError::not_found("evaluation", key.2.clone()))?;
        Ok(Stored::Existing(existing))
    }

    /// Returns one evaluation, optionally only if it belongs to `client_id`.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when no such evaluation is visible.
    pub async fn evaluation(
        &self,
        id: Uuid,
        client_id: Option<&str>,
    ) -> Result<Evaluation, EvalError> {
        let sql = format!(
            "SELECT {EVALUATION_COLUMNS} FROM {} WHERE id = $1",
            self.tables.evaluations
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(TenancyError::from)?;
        let evaluation = row.as_ref().map(decode_evaluation).transpose()?;
        match evaluation {
            Some(e) if client_id.is_none_or(|c| c == e.client_id) => Ok(e),
            _ => Err(TenancyError::not_found("evaluation", id.to_string()).into()),
        }
    }

    /// Lists evaluations matching `filter`, oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn evaluations(
        &self,
        filter: &EvaluationFilter,
    ) -> Result<Vec<Evaluation>, EvalError> {
        // Placeholders are numbered by hand: sqlx's `QueryBuilder` writes `?`
        // for the `Any` driver, which PostgreSQL rejects.
        let mut sql = format!(
            "SELECT {EVALUATION_COLUMNS} FROM {} WHERE 1 = 1",
            self.tables.evaluations
        );
        let mut values: Vec<String> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: String| {
            values.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", values.len())));
        };
        let text_filters = [
            ("client_id", &filter.client_id),
            ("assignment_id", &filter.assignment_id),
            ("student_id", &filter.student_id),
            ("teacher_id", &filter.teacher_id),
        ];
        for (column, value) in text_filters {
            if let Some(value) = value {
                bind(&mut sql, &format!(" AND {column} = ?"), value.clone());
            }
        }
        if let Some(status) = filter.status {
            bind(&mut sql, " AND status = ?", status.as_str().to_owned());
        }
        if let Some(after) = filter.after {
            let cursor = self.evaluation(after, filter.client_id.as_deref()).await?;
            let created = encode_time(cursor.created_at);
            bind(&mut sql, " AND (created_at > ?", created.clone());
            bind(&mut sql, " OR (created_at = ?", created);
            bind(&mut sql, " AND id > ?))", after.to_string());
        }
        sql.push_str(" ORDER BY created_at, id");
        if let Some(limit) = filter.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(TenancyError::from)?;
        Ok(rows
            .iter()
            .map(decode_evaluation)
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Records a teacher's review. The AI result stays as it was; an
    /// override stores the teacher's score and comment beside it and
    /// recomputes the grade in force from the teacher's score.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an evaluation not visible in
    /// `client_id`, [`EvalError::InvalidState`] for one already reviewed,
    /// or [`EvalError::InvalidField`] for a score out of range.
    pub async fn review_evaluation(
        &self,
        id: Uuid,
        client_id: Option<&str>,
        teacher_id: &str,
        action: ReviewAction,
    ) -> Result<Evaluation, EvalError> {
        let current = self.evaluation(id, client_id).await?;
        if current.status != EvaluationStatus::Draft {
            return Err(EvalError::InvalidState {
                id: id.to_string(),
                status: current.status.as_str().to_owned(),
                reason: "only a draft can be approved or overridden".to_owned(),
            });
        }
        let client = self.client(&current.client_id).await?;
        let (status, score, comment, grade) = match action {
            ReviewAction::Approve { comment } => {
                (EvaluationStatus::Approved, None, comment, current.grade)
            }
            ReviewAction::Override { score, comment } => {
                if !(score.is_finite() && (0.0..=current.max_points).contains(&score)) {
                    return Err(EvalError::invalid_field(
                        "score",
                        score,
                        &format!("must be between 0 and {}", current.max_points),
                    ));
                }
                if comment.trim().is_empty() {
                    return Err(EvalError::invalid_field(
                        "comment",
                        "",
                        "an override needs a comment explaining the change",
                    ));
                }
                let grade = crate::eval::grade_to_f64(crate::eval::chilean_grade(
                    score,
                    current.max_points,
                    &client.grade_scale,
                ));
                (
                    EvaluationStatus::Overridden,
                    Some(score),
                    Some(comment),
                    grade,
                )
            }
        };
        // The score travels as text because the Any driver of sqlx-core 0.8.6
        // sends a NULL f64 as a float4 parameter. PostgreSQL then rejects the
        // 8-byte score of a later override on the connection that cached
        // this statement with an approval's NULL.
        let sql = format!(
            "UPDATE {} SET status = $1, reviewed_by = $2, reviewed_at = $3, \
             teacher_score = CAST($4 AS DOUBLE PRECISION), teacher_comment = $5, grade = $6 \
             WHERE id = $7 AND status = 'draft'",
            self.tables.evaluations
        );
        let updated = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(teacher_id)
            .bind(encode_time(Utc::now()))
            .bind(score.map(|score| score.to_string()))
            .bind(comment)
            .bind(format!("{grade:.1}"))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(TenancyError::from)?;
        if updated.rows_affected() == 0 {
            return Err(EvalError::InvalidState {
                id: id.to_string(),
                status: "reviewed".to_owned(),
                reason: "another review was recorded first".to_owned(),
            });
        }
        self.evaluation(id, client_id).await
    }
}
