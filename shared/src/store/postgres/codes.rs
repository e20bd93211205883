//! Promo and access codes on PostgreSQL. Each admin change is one transaction that locks the code
//! (`FOR UPDATE`), so its audit row's `before` is exactly what the change replaced; the unique
//! index `codes_code_uq` alone decides a taken name. A code's uses are counted by the confirm of
//! a payment opened with it (`count_code_use`), in the confirm's transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

use super::audit::write_audit;
use super::rows::parse_stored;
use super::{PostgresStore, TxError};
use crate::domain::{Actor, AuditAction, AuditRecord, Code, CodeChanges, CodeKind, NewCode, Page};
use crate::store::{CodeStore, Entity, StoreError, StoreResult};

macro_rules! code_columns {
    () => {
        "id, code, kind, value, event_id, ticket_types, tiers, max_uses, max_uses_per_user, valid_from, valid_to, \
         uses, created_at"
    };
}

#[derive(FromRow)]
struct CodeRow {
    id: Uuid,
    code: String,
    kind: String,
    value: Option<i64>,
    event_id: Option<Uuid>,
    ticket_types: sqlx::types::Json<Vec<String>>,
    tiers: sqlx::types::Json<Vec<String>>,
    max_uses: Option<i64>,
    max_uses_per_user: Option<i64>,
    valid_from: Option<DateTime<Utc>>,
    valid_to: Option<DateTime<Utc>>,
    uses: i64,
    created_at: DateTime<Utc>,
}

impl CodeRow {
    fn into_code(self) -> StoreResult<Code> {
        Ok(Code {
            id: self.id,
            code: self.code,
            kind: parse_stored::<CodeKind>(&self.kind)?,
            value: self.value,
            event_id: self.event_id,
            ticket_types: self.ticket_types.0,
            tiers: self.tiers.0,
            max_uses: self.max_uses,
            max_uses_per_user: self.max_uses_per_user,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            uses: self.uses,
            created_at: self.created_at,
        })
    }
}

/// A live code (`$1`), locked for the change that follows.
const LOCK_CODE_SQL: &str =
    concat!("SELECT ", code_columns!(), " FROM codes WHERE id = $1 AND deleted_at IS NULL FOR UPDATE");

/// One more use of a code (`$1`) that has uses left, answering its per-account limit.
pub(super) const COUNT_CODE_USE_SQL: &str = "UPDATE codes SET uses = uses + 1 \
     WHERE id = $1 AND (max_uses IS NULL OR uses < max_uses) RETURNING max_uses_per_user";

/// One more use of code `$1` by account `$2` that has uses left under limit `$3` (null: none).
pub(super) const COUNT_USER_USE_SQL: &str = "INSERT INTO code_uses (code_id, user_id, uses) VALUES ($1, $2, 1) \
     ON CONFLICT (code_id, user_id) DO UPDATE SET uses = code_uses.uses + 1 \
     WHERE $3::int8 IS NULL OR code_uses.uses < $3::int8";

/// Counts one use of the code by `user_id`, inside the confirm's transaction: one UPDATE
/// conditioned on `uses < max_uses` (a concurrent confirm waits for the row and re-checks the
/// condition on the committed count), then the account's count by an upsert conditioned on
/// `uses < max_uses_per_user`. `CodeExhausted` when either refuses (the caller rolls back).
pub(super) async fn count_code_use(conn: &mut PgConnection, code_id: Uuid, user_id: Uuid) -> Result<(), TxError> {
    let per_user: Option<Option<i64>> =
        sqlx::query_scalar(COUNT_CODE_USE_SQL).bind(code_id).fetch_optional(&mut *conn).await?;
    let Some(per_user) = per_user else {
        return Err(StoreError::CodeExhausted.into());
    };
    let counted = sqlx::query(COUNT_USER_USE_SQL)
        .bind(code_id)
        .bind(user_id)
        .bind(per_user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if counted == 0 {
        return Err(StoreError::CodeExhausted.into());
    }
    Ok(())
}

#[async_trait]
impl CodeStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_code(&self, new: &NewCode, now: DateTime<Utc>) -> StoreResult<Code> {
        let code = new.created(now);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO codes (id, code, kind, value, event_id, ticket_types, tiers, max_uses, max_uses_per_user,
             valid_from, valid_to, uses, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12)",
        )
        .bind(code.id)
        .bind(&code.code)
        .bind(code.kind.as_str())
        .bind(code.value)
        .bind(code.event_id)
        .bind(sqlx::types::Json(&code.ticket_types))
        .bind(sqlx::types::Json(&code.tiers))
        .bind(code.max_uses)
        .bind(code.max_uses_per_user)
        .bind(code.valid_from)
        .bind(code.valid_to)
        .bind(code.created_at)
        .execute(&mut *tx)
        .await?;
        if let Some(actor) = &new.actor {
            write_audit(&mut *tx, &AuditRecord::creation(actor, AuditAction::CodeCreated, code.id, &code, now)).await?;
        }
        tx.commit().await?;
        Ok(code)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_codes(&self, page: Page) -> StoreResult<Vec<Code>> {
        let rows: Vec<CodeRow> = sqlx::query_as(concat!(
            "SELECT ",
            code_columns!(),
            " FROM codes WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1 OFFSET $2"
        ))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(CodeRow::into_code).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn code(&self, id: Uuid) -> StoreResult<Option<Code>> {
        let row: Option<CodeRow> =
            sqlx::query_as(concat!("SELECT ", code_columns!(), " FROM codes WHERE id = $1 AND deleted_at IS NULL"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(CodeRow::into_code).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn code_by_name(&self, name: &str) -> StoreResult<Option<Code>> {
        let row: Option<CodeRow> =
            sqlx::query_as(concat!("SELECT ", code_columns!(), " FROM codes WHERE code = $1 AND deleted_at IS NULL"))
                .bind(name.to_ascii_uppercase())
                .fetch_optional(&self.pool)
                .await?;
        row.map(CodeRow::into_code).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_code(&self, id: Uuid, changes: &CodeChanges, now: DateTime<Utc>) -> StoreResult<Code> {
        let mut tx = self.pool.begin().await?;
        let row: Option<CodeRow> = sqlx::query_as(LOCK_CODE_SQL).bind(id).fetch_optional(&mut *tx).await?;
        let before = row.ok_or(StoreError::NotFound(Entity::Code))?.into_code()?;
        let after = changes.apply(&before).map_err(StoreError::Rejected)?;
        sqlx::query(
            "UPDATE codes SET value = $2, ticket_types = $3, tiers = $4, max_uses = $5, max_uses_per_user = $6,
             valid_from = $7, valid_to = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(after.value)
        .bind(sqlx::types::Json(&after.ticket_types))
        .bind(sqlx::types::Json(&after.tiers))
        .bind(after.max_uses)
        .bind(after.max_uses_per_user)
        .bind(after.valid_from)
        .bind(after.valid_to)
        .execute(&mut *tx)
        .await?;
        if let Some(actor) = &changes.actor
            && let Some(record) = AuditRecord::change(actor, AuditAction::CodeUpdated, id, &before, &after, now)
        {
            write_audit(&mut *tx, &record).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn delete_code(&self, id: Uuid, actor: Option<&Actor>, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let row: Option<CodeRow> = sqlx::query_as(LOCK_CODE_SQL).bind(id).fetch_optional(&mut *tx).await?;
        let before = row.ok_or(StoreError::NotFound(Entity::Code))?.into_code()?;
        sqlx::query("UPDATE codes SET deleted_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *tx).await?;
        if let Some(actor) = actor {
            write_audit(&mut *tx, &AuditRecord::deletion(actor, AuditAction::CodeDeleted, id, &before, now)).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
