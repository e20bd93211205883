//! The audit log on SQLite: a change's row is written by `write_audit` on the change's own
//! transaction; a listing reads one index newest first, picked by the filter (the entity's, the
//! actor's, the kind's, or the time's), so it never reads the log whole.

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::SqliteStore;
use super::rows::{id_text, millis, time_col, uuid_col};
use crate::domain::{AuditEntry, AuditFilter, AuditRecord};
use crate::store::{AuditStore, StoreError, StoreResult};

/// Writes an audit row on the change's connection (inside its transaction).
pub(super) async fn write_audit(conn: &mut SqliteConnection, record: &AuditRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, actor_email, action, entity_kind, entity_id, before, after) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id_text(record.id))
    .bind(millis(record.at))
    .bind(id_text(record.actor.id))
    .bind(&record.actor.email)
    .bind(record.action.as_str())
    .bind(record.action.entity_kind().as_str())
    .bind(id_text(record.entity_id))
    .bind(record.before.as_ref().map(|v| v.to_string()))
    .bind(record.after.as_ref().map(|v| v.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The listing for a filter. The index is named after the most selective filter given (an
/// entity, then an actor, then a kind, else the time), so the plan never depends on statistics.
pub(super) fn list_audit_query(filter: &AuditFilter) -> QueryBuilder<'static, Sqlite> {
    let index = match (filter.entity_kind, filter.entity_id, filter.actor_id) {
        (Some(_), Some(_), _) => "audit_log_entity_idx",
        (_, _, Some(_)) => "audit_log_actor_idx",
        (Some(_), None, None) => "audit_log_kind_idx",
        _ => "audit_log_at_idx",
    };
    let mut qb = QueryBuilder::new(format!(
        "SELECT id, at, actor_id, actor_email, action, entity_kind, entity_id, before, after \
         FROM audit_log INDEXED BY {index} WHERE 1 = 1"
    ));
    if let Some(kind) = filter.entity_kind {
        qb.push(" AND entity_kind = ").push_bind(kind.as_str());
    }
    if let Some(id) = filter.entity_id {
        qb.push(" AND entity_id = ").push_bind(id_text(id));
    }
    if let Some(actor) = filter.actor_id {
        qb.push(" AND actor_id = ").push_bind(id_text(actor));
    }
    if let Some(from) = filter.from {
        qb.push(" AND at >= ").push_bind(millis(from));
    }
    if let Some(to) = filter.to {
        qb.push(" AND at <= ").push_bind(millis(to));
    }
    qb.push(" ORDER BY at DESC, id DESC LIMIT ")
        .push_bind(filter.page.limit)
        .push(" OFFSET ")
        .push_bind(filter.page.offset);
    qb
}

fn json_col(row: &SqliteRow, col: &str) -> StoreResult<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("column {col}: {e}"))))
        .transpose()
}

fn entry_from_row(row: &SqliteRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: uuid_col(row, "id")?,
        at: time_col(row, "at")?,
        actor_id: uuid_col(row, "actor_id")?,
        actor_email: row.try_get("actor_email")?,
        action: row.try_get("action")?,
        entity_kind: row.try_get("entity_kind")?,
        entity_id: uuid_col(row, "entity_id")?,
        before: json_col(row, "before")?,
        after: json_col(row, "after")?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let rows = list_audit_query(filter).build().fetch_all(&self.reader).await?;
        rows.iter().map(entry_from_row).collect()
    }
}
