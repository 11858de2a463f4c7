//! Clients and users inside one partner's data.

use chrono::Utc;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::values::{
    decode_decimal, decode_flag, decode_name, decode_time, decode_uuid, encode_flag, encode_time,
};
use super::PartnerDb;
use crate::tenancy::{
    exists_or_database, validate_id, validate_name, Client, GradeScale, NewClient, NewUser,
    TenancyError, User,
};

const CLIENT_COLUMNS: &str = "id, client_id, client_name, institution_type, students_count, \
     teachers_count, exigencia, min_grade, passing_grade, max_grade, created_at";

const USER_COLUMNS: &str = "id, user_id, client_id, role, email, active, created_at";

fn decode_client(row: &AnyRow) -> Result<Client, TenancyError> {
    let decimal = |column: &'static str| -> Result<_, TenancyError> {
        decode_decimal(column, &row.try_get::<String, _>(column)?)
    };
    Ok(Client {
        id: decode_uuid("clients.id", &row.try_get::<String, _>("id")?)?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("client_name")?,
        institution_type: decode_name(
            "clients.institution_type",
            &row.try_get::<String, _>("institution_type")?,
        )?,
        students_count: row.try_get("students_count")?,
        teachers_count: row.try_get("teachers_count")?,
        grade_scale: GradeScale {
            exigencia: decimal("exigencia")?,
            min_grade: decimal("min_grade")?,
            passing_grade: decimal("passing_grade")?,
            max_grade: decimal("max_grade")?,
        },
        created_at: decode_time(
            "clients.created_at",
            &row.try_get::<String, _>("created_at")?,
        )?,
    })
}

fn decode_user(row: &AnyRow) -> Result<User, TenancyError> {
    Ok(User {
        id: decode_uuid("users.id", &row.try_get::<String, _>("id")?)?,
        user_id: row.try_get("user_id")?,
        client_id: row.try_get("client_id")?,
        role: decode_name("users.role", &row.try_get::<String, _>("role")?)?,
        email: row.try_get("email")?,
        active: decode_flag(row.try_get("active")?),
        created_at: decode_time("users.created_at", &row.try_get::<String, _>("created_at")?)?,
    })
}

/// Checks an e-mail address loosely: one `@` with text on both sides and no spaces.
fn validate_email(email: &str) -> Result<(), TenancyError> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if valid {
        Ok(())
    } else {
        Err(TenancyError::InvalidInput {
            field: "email",
            value: email.chars().take(80).collect(),
            reason: "expected an address like name@example.org".to_owned(),
        })
    }
}

impl PartnerDb {
    /// Creates a client in this partner.
    ///
    /// # Errors
    /// [`TenancyError::AlreadyExists`] when the client id is taken, or an invalid field.
    pub async fn create_client(&self, new: NewClient) -> Result<Client, TenancyError> {
        validate_id("client_id", &new.client_id)?;
        validate_name("name", &new.name)?;
        new.grade_scale.validate()?;
        for (field, count) in [
            ("students", new.students_count),
            ("teachers", new.teachers_count),
        ] {
            if count < 0 {
                return Err(TenancyError::InvalidInput {
                    field,
                    value: count.to_string(),
                    reason: "must be zero or more".to_owned(),
                });
            }
        }
        let sql = format!(
            "INSERT INTO {} ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            self.tables.clients
        );
        let scale = new.grade_scale;
        sqlx::query(&sql)
            .bind(Uuid::now_v7().to_string())
            .bind(&new.client_id)
            .bind(&new.name)
            .bind(new.institution_type.as_str())
            .bind(new.students_count)
            .bind(new.teachers_count)
            .bind(scale.exigencia.to_string())
            .bind(scale.min_grade.to_string())
            .bind(scale.passing_grade.to_string())
            .bind(scale.max_grade.to_string())
            .bind(encode_time(Utc::now()))
            .execute(&self.pool)
            .await
            .map_err(|err| exists_or_database("client", &new.client_id, err))?;
        tracing::debug!(partner = %self.partner.slug, client = %new.client_id, "client created");
        self.client(&new.client_id).await
    }

    /// Returns every client of this partner, ordered by id.
    ///
    /// # Errors
    /// A database error.
    pub async fn clients(&self) -> Result<Vec<Client>, TenancyError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM {} ORDER BY client_id",
            self.tables.clients
        );
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode_client)
            .collect()
    }

    /// Returns one client of this partner.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when this partner has no such client.
    pub async fn client(&self, client_id: &str) -> Result<Client, TenancyError> {
        let key = (self.partner.slug.clone(), client_id.to_owned());
        if let Some(lookups) = &self.lookups {
            if let Some(client) = lookups.clients.get(&key).await {
                return Ok(client);
            }
        }
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM {} WHERE client_id = $1",
            self.tables.clients
        );
        let row = sqlx::query(&sql)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| TenancyError::not_found("client", client_id))?;
        let client = decode_client(&row)?;
        if let Some(lookups) = &self.lookups {
            lookups.clients.insert(key, client.clone()).await;
        }
        Ok(client)
    }

    /// Creates a user in one of this partner's clients.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] for an unknown client,
    /// [`TenancyError::AlreadyExists`] when the user id is taken in this
    /// partner, or an invalid field.
    pub async fn create_user(&self, new: NewUser) -> Result<User, TenancyError> {
        validate_id("user_id", &new.user_id)?;
        if let Some(email) = &new.email {
            validate_email(email)?;
        }
        self.client(&new.client_id).await?;
        let now = encode_time(Utc::now());
        let sql = format!(
            "INSERT INTO {} ({USER_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            self.tables.users
        );
        sqlx::query(&sql)
            .bind(Uuid::now_v7().to_string())
            .bind(&new.user_id)
            .bind(&new.client_id)
            .bind(new.role.as_str())
            .bind(new.email.as_deref())
            .bind(encode_flag(true))
            .bind(&now)
            .execute(&self.pool)
            .await
            .map_err(|err| exists_or_database("user", &new.user_id, err))?;
        tracing::debug!(partner = %self.partner.slug, user = %new.user_id, role = %new.role, "user created");
        self.user(&new.user_id).await
    }

    /// Returns this partner's users, of one client or of all, ordered by id.
    ///
    /// # Errors
    /// A database error.
    pub async fn users(&self, client_id: Option<&str>) -> Result<Vec<User>, TenancyError> {
        let rows = match client_id {
            Some(client_id) => {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM {} WHERE client_id = $1 ORDER BY user_id",
                    self.tables.users
                );
                sqlx::query(&sql)
                    .bind(client_id)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM {} ORDER BY user_id",
                    self.tables.users
                );
                sqlx::query(&sql).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(decode_user).collect()
    }

    /// Returns one user of this partner.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when this partner has no such user.
    pub async fn user(&self, user_id: &str) -> Result<User, TenancyError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM {} WHERE user_id = $1",
            self.tables.users
        );
        let row = sqlx::query(&sql)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| TenancyError::not_found("user", user_id))?;
        decode_user(&row)
    }

    /// Activates or deactivates a user. A deactivated user's credentials
    /// stop working at once.
    ///
    /// # Errors
    /// [`TenancyError::NotFound`] when this partner has no such user.
    pub async fn set_user_active(&self, user_id: &str, active: bool) -> Result<User, TenancyError> {
        let sql = format!(
            "UPDATE {} SET active = $1, updated_at = $2 WHERE user_id = $3",
            self.tables.users
        );
        let updated = sqlx::query(&sql)
            .bind(encode_flag(active))
            .bind(encode_time(Utc::now()))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(TenancyError::not_found("user", user_id));
        }
        self.user(user_id).await
    }
}
