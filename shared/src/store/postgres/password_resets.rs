//! Password resets on PostgreSQL: the `password_resets` table. Issuing one inserts the digest of
//! its token, bound to the account's `token_version`, by an `INSERT … SELECT` from the enabled
//! account with the address, and writes the reset mail in the same transaction. Consuming one is a
//! conditional `UPDATE` (unused, unexpired; a second confirm waits for the first's row lock, then
//! finds it used) followed by the account's `UPDATE` conditioned on that version, or a rollback.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PostgresStore;
use super::rows::{UserRow, user_columns};
use crate::domain::{ResetDigest, ResetRequest, User};
use crate::store::outbox;
use crate::store::{PasswordResetStore, StoreError, StoreResult};

#[async_trait]
impl PasswordResetStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn issue_password_reset(&self, request: &ResetRequest, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let user_id: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO password_resets (token_hash, user_id, token_version, created_at, expires_at)
             SELECT $1, id, token_version, $2, $3 FROM users WHERE email = $4 AND NOT disabled
             RETURNING user_id",
        )
        .bind(request.token.digest().as_str())
        .bind(now)
        .bind(request.expires_at)
        .bind(request.email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else {
            return Ok(false);
        };
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
        let mut tx = self.pool.begin().await?;
        let consumed: Option<(Uuid, i64)> = sqlx::query_as(
            "UPDATE password_resets SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id, token_version",
        )
        .bind(token.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        // Dropping the transaction rolls it back: nothing of a refused reset is written.
        let Some((user_id, version)) = consumed else {
            return Err(StoreError::ResetTokenInvalid);
        };
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET password_hash = $2, token_version = token_version + 1
             WHERE id = $1 AND token_version = $3 AND NOT disabled RETURNING ",
            user_columns!()
        ))
        .bind(user_id)
        .bind(password_hash)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::ResetTokenInvalid);
        };
        let user = row.into_user()?;
        tx.commit().await?;
        Ok(user)
    }
}
