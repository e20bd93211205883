//! Password resets on SQLite: the `password_resets` table, written on the writer inside
//! `BEGIN IMMEDIATE` transactions. Issuing one inserts the digest of its token, bound to the
//! account's `token_version`, by an `INSERT … SELECT` from the enabled account with the address,
//! and writes the reset mail in the same transaction; consuming one is a conditional `UPDATE`
//! (unused, unexpired) followed by the account's `UPDATE` conditioned on that version, or nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use super::rows::{USER_COLUMNS, id_text, millis, user_from_row, uuid_col};
use crate::domain::{ResetDigest, ResetRequest, User};
use crate::store::outbox;
use crate::store::{PasswordResetStore, StoreError, StoreResult};

#[async_trait]
impl PasswordResetStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn issue_password_reset(&self, request: &ResetRequest, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let issued = sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, token_version, created_at, expires_at) \
             SELECT ?, id, token_version, ?, ? FROM users WHERE email = ? AND disabled = 0 RETURNING user_id",
        )
        .bind(request.token.digest().as_str())
        .bind(millis(now))
        .bind(millis(request.expires_at))
        .bind(request.email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = issued else {
            return Ok(false);
        };
        let user_id = uuid_col(&row, "user_id")?;
        outbox::password_reset(&mut *tx, user_id, &request.token, request.expires_at, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn reset_password(
        &self,
        token: &ResetDigest,
        password_hash: String,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let consumed = sqlx::query(
            "UPDATE password_resets SET used_at = ? \
             WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id, token_version",
        )
        .bind(millis(now))
        .bind(token.as_str())
        .bind(millis(now))
        .fetch_optional(&mut *tx)
        .await?;
        // Dropping the transaction rolls it back: nothing of a refused reset is written.
        let Some(consumed) = consumed else {
            return Err(StoreError::ResetTokenInvalid);
        };
        let version: i64 = consumed.try_get("token_version")?;
        let sql = format!(
            "UPDATE users SET password_hash = ?, token_version = token_version + 1 \
             WHERE id = ? AND token_version = ? AND disabled = 0 RETURNING {USER_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(password_hash)
            .bind(id_text(uuid_col(&consumed, "user_id")?))
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::ResetTokenInvalid);
        };
        let user = user_from_row(&row)?;
        tx.commit().await?;
        Ok(user)
    }
}
