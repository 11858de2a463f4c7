//! Assignments inside one partner's data.

use chrono::Utc;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::values::encode_time;
use super::PartnerDb;
use crate::eval::{Assignment, EvalError, Language, Rubric};
use crate::tenancy::{exists_or_database, TenancyError};

const ASSIGNMENT_COLUMNS: &str =
    "client_id, assignment_id, title, prompt, reference_answer, max_points, language, rubric";

fn decode_assignment(row: &AnyRow) -> Result<Assignment, EvalError> {
    let rubric: String = row.try_get("rubric").map_err(TenancyError::from)?;
    let rubric: Rubric = serde_json::from_str(&rubric).map_err(|err| TenancyError::Corrupt {
        column: "assignments.rubric",
        reason: err.to_string(),
    })?;
    let get = |column: &str| -> Result<String, EvalError> {
        Ok(row
            .try_get::<String, _>(column)
            .map_err(TenancyError::from)?)
    };
    Ok(Assignment {
        client_id: get("client_id")?,
        assignment_id: get("assignment_id")?,
        title: get("title")?,
        prompt: get("prompt")?,
        reference_answer: row
            .try_get("reference_answer")
            .map_err(TenancyError::from)?,
        max_points: row.try_get("max_points").map_err(TenancyError::from)?,
        language: Language::parse(&get("language")?)?,
        rubric,
    })
}

impl PartnerDb {
    /// Stores a new assignment for its client.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown client, or
    /// [`TenancyError::AlreadyExists`] when the client has an assignment with this id.
    pub async fn create_assignment(
        &self,
        assignment: &Assignment,
        created_by: Option<&str>,
    ) -> Result<(), EvalError> {
        self.client(&assignment.client_id).await?;
        let rubric = serde_json::to_string(&assignment.rubric).map_err(|err| {
            EvalError::invalid_field("rubric", "", &format!("cannot be stored: {err}"))
        })?;
        let sql = format!(
            "INSERT INTO {} (id, {ASSIGNMENT_COLUMNS}, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            self.tables.assignments
        );
        sqlx::query(&sql)
            .bind(Uuid::now_v7().to_string())
            .bind(&assignment.client_id)
            .bind(&assignment.assignment_id)
            .bind(&assignment.title)
            .bind(&assignment.prompt)
            .bind(assignment.reference_answer.as_deref())
            .bind(assignment.max_points)
            .bind(assignment.language.as_str())
            .bind(rubric)
            .bind(created_by)
            .bind(encode_time(Utc::now()))
            .execute(&self.pool)
            .await
            .map_err(|err| exists_or_database("assignment", &assignment.assignment_id, err))?;
        Ok(())
    }

    /// Returns the assignments of one client, ordered by id.
    ///
    /// # Errors
    /// A database error.
    pub async fn assignments(&self, client_id: &str) -> Result<Vec<Assignment>, EvalError> {
        let sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM {} WHERE client_id = $1 ORDER BY assignment_id",
            self.tables.assignments
        );
        let rows = sqlx::query(&sql)
            .bind(client_id)
            .fetch_all(&self.pool)
            .await
            .map_err(TenancyError::from)?;
        rows.iter().map(decode_assignment).collect()
    }

    /// Returns one assignment of one client.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when the client has no such assignment.
    pub async fn assignment(
        &self,
        client_id: &str,
        assignment_id: &str,
    ) -> Result<Assignment, EvalError> {
        let sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM {} WHERE client_id = $1 AND assignment_id = $2",
            self.tables.assignments
        );
        let row = sqlx::query(&sql)
            .bind(client_id)
            .bind(assignment_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(TenancyError::from)?
            .ok_or_else(|| TenancyError::not_found("assignment", assignment_id))?;
        decode_assignment(&row)
    }

    /// Returns an assignment together with the user who created it, in one
    /// query. The owner is `None` when an API key or an operator tool
    /// created it.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when the client has no such assignment.
    pub async fn assignment_with_owner(
        &self,
        client_id: &str,
        assignment_id: &str,
    ) -> Result<(Assignment, Option<String>), EvalError> {
        let key = (
            self.partner.slug.clone(),
            client_id.to_owned(),
            assignment_id.to_owned(),
        );
        if let Some(lookups) = &self.lookups {
            if let Some(loaded) = lookups.assignments.get(&key).await {
                return Ok((*loaded).clone());
            }
        }
        let sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS}, created_by FROM {} WHERE client_id = $1 AND assignment_id = $2",
            self.tables.assignments
        );
        let row = sqlx::query(&sql)
            .bind(client_id)
            .bind(assignment_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(TenancyError::from)?
            .ok_or_else(|| TenancyError::not_found("assignment", assignment_id))?;
        let owner = row.try_get("created_by").map_err(TenancyError::from)?;
        let loaded = (decode_assignment(&row)?, owner);
        if let Some(lookups) = &self.lookups {
            let shared = std::sync::Arc::new(loaded.clone());
            lookups.assignments.insert(key, shared).await;
        }
        Ok(loaded)
    }

    /// Returns the user who created an assignment, or `None` when it was
    /// created by an API key or an operator tool.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when the client has no such assignment.
    pub async fn assignment_owner(
        &self,
        client_id: &str,
        assignment_id: &str,
    ) -> Result<Option<String>, TenancyError> {
        let sql = format!(
            "SELECT created_by FROM {} WHERE client_id = $1 AND assignment_id = $2",
            self.tables.assignments
        );
        let row = sqlx::query(&sql)
            .bind(client_id)
            .bind(assignment_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| TenancyError::not_found("assignment", assignment_id))?;
        Ok(row.try_get("created_by")?)
    }
}
