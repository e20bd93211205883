//! Accounts on PostgreSQL: the `users` table, whose unique constraint `users_email_key` refuses a
//! second account with the same address, and the reads by id that every authenticated request
//! makes, answered many at a time (`PgUserReads`).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::PostgresStore;
use super::audit::write_audit;
use super::rows::{UserRow, UserWithHashRow, contains_pattern, user_columns};
use crate::domain::{AuditAction, AuditRecord, Email, NewUser, Page, Role, User, UserChanges};
use crate::store::outbox;
use crate::store::read_batch::BatchedRead;
use crate::store::{StoreResult, UserStore};

#[async_trait]
impl UserStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let mut tx = self.pool.begin().await?;
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, false, $6) RETURNING ",
            user_columns!()
        ))
        .bind(Uuid::new_v4())
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(Utc::now())
        .fetch_one(&mut *tx)
        .await?;
        let user = row.into_user()?;
        outbox::account_created(&mut *tx, &user).await?;
        tx.commit().await?;
        Ok(user)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.users.read(id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn user_with_password_hash(&self, email: &Email) -> StoreResult<Option<(User, String)>> {
        let row: Option<UserWithHashRow> =
            sqlx::query_as(USER_BY_EMAIL_SQL).bind(email.as_str()).fetch_optional(&self.pool).await?;
        row.map(|row| Ok((row.user.into_user()?, row.password_hash))).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(PASSWORD_HASH_SQL).bind(id).fetch_optional(&self.pool).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>> {
        let mut tx = self.pool.begin().await?;
        // Locked first, so the audit row's "before" is what this change replaced.
        let before = match &changes.actor {
            Some(_) => {
                let row: Option<UserRow> =
                    sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1 FOR UPDATE"))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                row.map(UserRow::into_user).transpose()?
            }
            None => None,
        };
        let actor = changes.actor.clone();
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET name = COALESCE($2, name), password_hash = COALESCE($3, password_hash),
                              token_version = token_version + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END,
                              role = COALESCE($4, role), disabled = COALESCE($5, disabled)
             WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id)
        .bind(changes.name)
        .bind(changes.password_hash)
        .bind(changes.role.map(Role::as_str))
        .bind(changes.disabled)
        .fetch_optional(&mut *tx)
        .await?;
        let after = row.map(UserRow::into_user).transpose()?;
        if let (Some(actor), Some(before), Some(after)) = (&actor, &before, &after)
            && let Some(record) = AuditRecord::change(actor, AuditAction::UserUpdated, id, before, after, Utc::now())
        {
            write_audit(&mut *tx, &record).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>> {
        let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", user_columns!(), " FROM users"));
        if let Some(text) = query {
            let pattern = contains_pattern(text);
            sql.push(" WHERE email ILIKE ").push_bind(pattern.clone()).push(r" ESCAPE '\'");
            sql.push(" OR name ILIKE ").push_bind(pattern).push(r" ESCAPE '\'");
        }
        sql.push(" ORDER BY created_at, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = sql.build_query_as::<UserRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(UserRow::into_user).collect()
    }
}

/// Accounts by id (`$1`), many per read: probes of the primary key.
pub(super) const USERS_BY_ID_SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = ANY ($1)");

/// An account with its password hash by e-mail address (`$1`), for a login: `users_email_key`.
pub(super) const USER_BY_EMAIL_SQL: &str =
    concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE email = $1");

/// An account's password hash by id (`$1`), for a password check.
pub(super) const PASSWORD_HASH_SQL: &str = "SELECT password_hash FROM users WHERE id = $1";

/// Reads accounts by id, many per query: every authenticated request reads its caller's.
pub(super) struct PgUserReads {
    pub(super) pool: PgPool,
}

#[async_trait]
impl BatchedRead for PgUserReads {
    type Key = Uuid;
    type Value = User;

    async fn read_batch(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, User>> {
        let rows: Vec<UserRow> = sqlx::query_as(USERS_BY_ID_SQL).bind(ids).fetch_all(&self.pool).await?;
        rows.into_iter().map(|row| row.into_user().map(|user| (user.id, user))).collect()
    }
}
