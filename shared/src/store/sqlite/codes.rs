//! Promo and access codes on SQLite. Each admin change is one `BEGIN IMMEDIATE` transaction that
//! reads the code as it was (the writer lock is held), writes it and its audit row; the unique
//! index `codes_code_uq` alone decides a taken name. A code's uses are counted by the confirm of a
//! payment opened with it (`count_code_use`), in the confirm's transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::write_audit;
use super::rows::{enum_col, id_text, millis, optional_time_col, time_col, uuid_col};
use crate::domain::{AuditAction, AuditRecord, Code, CodeChanges, NewCode, Page};
use crate::store::{CodeStore, Entity, StoreError, StoreResult};

const CODE_COLUMNS: &str = "id, code, kind, value, event_id, ticket_types, tiers, max_uses, max_uses_per_user, \
     valid_from, valid_to, uses, created_at";

fn list_col(row: &SqliteRow, col: &str) -> StoreResult<Vec<String>> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("codes.{col}: {e}")))
}

fn list_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

fn code_from_row(row: &SqliteRow) -> StoreResult<Code> {
    let event_id: Option<String> = row.try_get("event_id")?;
    Ok(Code {
        id: uuid_col(row, "id")?,
        code: row.try_get("code")?,
        kind: enum_col(row, "kind")?,
        value: row.try_get("value")?,
        event_id: event_id
            .map(|id| Uuid::parse_str(&id).map_err(|e| StoreError::Internal(format!("codes.event_id: {e}"))))
            .transpose()?,
        ticket_types: list_col(row, "ticket_types")?,
        tiers: list_col(row, "tiers")?,
        max_uses: row.try_get("max_uses")?,
        max_uses_per_user: row.try_get("max_uses_per_user")?,
        valid_from: optional_time_col(row, "valid_from")?,
        valid_to: optional_time_col(row, "valid_to")?,
        uses: row.try_get("uses")?,
        created_at: time_col(row, "created_at")?,
    })
}

async fn live_code(conn: &mut SqliteConnection, id: Uuid) -> StoreResult<Option<Code>> {
    let sql = format!("SELECT {CODE_COLUMNS} FROM codes WHERE id = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&mut *conn).await?;
    row.as_ref().map(code_from_row).transpose()
}

/// Counts one use of the code by `user_id`, inside the confirm's transaction: one UPDATE
/// conditioned on `uses < max_uses`, then the account's count by an upsert conditioned on
/// `uses < max_uses_per_user`. `CodeExhausted` when either condition refuses (the caller rolls
/// the whole confirm back).
pub(super) async fn count_code_use(conn: &mut SqliteConnection, code_id: Uuid, user_id: Uuid) -> StoreResult<()> {
    let per_user: Option<Option<i64>> =
        sqlx::query_scalar(COUNT_CODE_USE_SQL).bind(id_text(code_id)).fetch_optional(&mut *conn).await?;
    let Some(per_user) = per_user else {
        return Err(StoreError::CodeExhausted);
    };
    let counted = sqlx::query(COUNT_USER_USE_SQL)
        .bind(id_text(code_id))
        .bind(id_text(user_id))
        .bind(per_user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if counted == 0 {
        return Err(StoreError::CodeExhausted);
    }
    Ok(())
}

/// One more use of a code that has uses left (bind: code), answering its per-account limit.
pub(super) const COUNT_CODE_USE_SQL: &str = "UPDATE codes SET uses = uses + 1 \
     WHERE id = ? AND (max_uses IS NULL OR uses < max_uses) RETURNING max_uses_per_user";

/// One more use by an account that has uses left (binds: code, user, the per-account limit).
pub(super) const COUNT_USER_USE_SQL: &str = "INSERT INTO code_uses (code_id, user_id, uses) VALUES (?1, ?2, 1) \
     ON CONFLICT (code_id, user_id) DO UPDATE SET uses = code_uses.uses + 1 \
     WHERE ?3 IS NULL OR code_uses.uses < ?3";

#[async_trait]
impl CodeStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_code(&self, new: &NewCode, now: DateTime<Utc>) -> StoreResult<Code> {
        let code = new.created(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO codes (id, code, kind, value, event_id, ticket_types, tiers, max_uses, max_uses_per_user, \
             valid_from, valid_to, uses, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(id_text(code.id))
        .bind(&code.code)
        .bind(code.kind.as_str())
        .bind(code.value)
        .bind(code.event_id.map(id_text))
        .bind(list_json(&code.ticket_types))
        .bind(list_json(&code.tiers))
        .bind(code.max_uses)
        .bind(code.max_uses_per_user)
        .bind(code.valid_from.map(millis))
        .bind(code.valid_to.map(millis))
        .bind(millis(code.created_at))
        .execute(&mut *tx)
        .await?;
        if let Some(actor) = &new.actor {
            let record = AuditRecord::creation(actor, AuditAction::CodeCreated, code.id, &code, now);
            write_audit(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(code)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_codes(&self, page: Page) -> StoreResult<Vec<Code>> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} FROM codes INDEXED BY codes_listing_idx WHERE deleted_at IS NULL \
             ORDER BY created_at, id LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query(&sql).bind(page.limit).bind(page.offset).fetch_all(&self.reader).await?;
        rows.iter().map(code_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn code(&self, id: Uuid) -> StoreResult<Option<Code>> {
        let mut conn = self.reader.acquire().await?;
        live_code(&mut conn, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn code_by_name(&self, name: &str) -> StoreResult<Option<Code>> {
        let sql = format!("SELECT {CODE_COLUMNS} FROM codes WHERE code = ? AND deleted_at IS NULL");
        let row = sqlx::query(&sql).bind(name.to_ascii_uppercase()).fetch_optional(&self.reader).await?;
        row.as_ref().map(code_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_code(&self, id: Uuid, changes: &CodeChanges, now: DateTime<Utc>) -> StoreResult<Code> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let before = live_code(&mut tx, id).await?.ok_or(StoreError::NotFound(Entity::Code))?;
        let after = changes.apply(&before).map_err(StoreError::Rejected)?;
        sqlx::query(
            "UPDATE codes SET value = ?, ticket_types = ?, tiers = ?, max_uses = ?, max_uses_per_user = ?, \
             valid_from = ?, valid_to = ? WHERE id = ?",
        )
        .bind(after.value)
        .bind(list_json(&after.ticket_types))
        .bind(list_json(&after.tiers))
        .bind(after.max_uses)
        .bind(after.max_uses_per_user)
        .bind(after.valid_from.map(millis))
        .bind(after.valid_to.map(millis))
        .bind(id_text(id))
        .execute(&mut *tx)
        .await?;
        if let Some(actor) = &changes.actor
            && let Some(record) = AuditRecord::change(actor, AuditAction::CodeUpdated, id, &before, &after, now)
        {
            write_audit(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn delete_code(&self, id: Uuid, actor: Option<&crate::domain::Actor>, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let before = live_code(&mut tx, id).await?.ok_or(StoreError::NotFound(Entity::Code))?;
        sqlx::query("UPDATE codes SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(millis(now))
            .bind(id_text(id))
            .execute(&mut *tx)
            .await?;
        if let Some(actor) = actor {
            write_audit(&mut tx, &AuditRecord::deletion(actor, AuditAction::CodeDeleted, id, &before, now)).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
