//! Accounts on SQLite: written on the writer, read on the readers. Reads by id, which every
//! authenticated request makes for its caller, are answered many per query (`SqliteUserReads`).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::write_audit;
use super::rows::{USER_COLUMNS, contains_pattern, id_text, ids_json, millis, user_from_row};
use crate::domain::{AuditAction, AuditRecord, Email, NewUser, Page, User, UserChanges};
use crate::store::outbox;
use crate::store::read_batch::BatchedRead;
use crate::store::{StoreResult, UserStore};

#[async_trait]
impl UserStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let sql = format!(
            "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at) \
             VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING {USER_COLUMNS}"
        );
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&sql)
            .bind(id_text(Uuid::new_v4()))
            .bind(user.email.as_str())
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(millis(Utc::now()))
            .fetch_one(&mut *tx)
            .await?;
        let user = user_from_row(&row)?;
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
        let row = sqlx::query(&user_by_email_sql()).bind(email.as_str()).fetch_optional(&self.reader).await?;
        row.map(|row| Ok((user_from_row(&row)?, row.try_get("password_hash")?))).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        let hash = sqlx::query_scalar(PASSWORD_HASH_SQL).bind(id_text(id)).fetch_optional(&self.reader).await?;
        Ok(hash)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_user(&self, id: Uuid, changes: UserChanges) -> StoreResult<Option<User>> {
        // One statement: a NULL parameter keeps the column as it is.
        let sql = format!(
            "UPDATE users SET name = COALESCE(?, name), password_hash = COALESCE(?, password_hash), \
             token_version = token_version + (? IS NOT NULL), \
             role = COALESCE(?, role), disabled = COALESCE(?, disabled) WHERE id = ? RETURNING {USER_COLUMNS}"
        );
        let password_changed = changes.password_hash.is_some();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let before = match &changes.actor {
            Some(_) => {
                let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
                    .bind(id_text(id))
                    .fetch_optional(&mut *tx)
                    .await?;
                row.as_ref().map(user_from_row).transpose()?
            }
            None => None,
        };
        let row = sqlx::query(&sql)
            .bind(changes.name)
            .bind(changes.password_hash)
            .bind(password_changed.then_some(1))
            .bind(changes.role.map(|r| r.as_str()))
            .bind(changes.disabled)
            .bind(id_text(id))
            .fetch_optional(&mut *tx)
            .await?;
        let after = row.as_ref().map(user_from_row).transpose()?;
        if let (Some(actor), Some(before), Some(after)) = (&changes.actor, &before, &after)
            && let Some(record) = AuditRecord::change(actor, AuditAction::UserUpdated, id, before, after, Utc::now())
        {
            write_audit(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_users(&self, query: Option<&str>, page: Page) -> StoreResult<Vec<User>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {USER_COLUMNS} FROM users"));
        if let Some(text) = query {
            let pattern = contains_pattern(text);
            qb.push(" WHERE email LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR name LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        qb.push(" ORDER BY created_at, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(user_from_row).collect()
    }
}

/// An account with its password hash by e-mail address (`?`), for a login.
pub(super) fn user_by_email_sql() -> String {
    format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?")
}

/// An account's password hash by id (`?`).
pub(super) const PASSWORD_HASH_SQL: &str = "SELECT password_hash FROM users WHERE id = ?";

/// Accounts by id (`?`, ids as a JSON array): probes of the primary key's index, named so that a
/// small `users` table's statistics cannot make a scan of it look cheaper.
pub(super) fn users_by_id_sql() -> String {
    format!(
        "SELECT {USER_COLUMNS} FROM users INDEXED BY sqlite_autoindex_users_1 \
         WHERE id IN (SELECT value FROM json_each(?))"
    )
}

/// Reads accounts by id, many per query: every authenticated request reads its caller's.
pub(super) struct SqliteUserReads {
    pub(super) reader: SqlitePool,
}

#[async_trait]
impl BatchedRead for SqliteUserReads {
    type Key = Uuid;
    type Value = User;

    async fn read_batch(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, User>> {
        let rows = sqlx::query(&users_by_id_sql()).bind(ids_json(ids)).fetch_all(&self.reader).await?;
        rows.iter().map(|row| user_from_row(row).map(|user| (user.id, user))).collect()
    }
}
