//! The audit log on PostgreSQL: a change's row is written by `write_audit` on the change's own
//! transaction; a listing reads one index newest first (the entity's, the actor's, the kind's or
//! the time's: `plan_tests.rs` explains each), so it never reads the log whole. `before` and
//! `after` travel as text and are stored as `jsonb`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgExecutor;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::PostgresStore;
use crate::domain::{AuditEntry, AuditFilter, AuditRecord};
use crate::store::{AuditStore, StoreError, StoreResult};

/// Writes an audit row on the change's connection (inside its transaction).
pub(super) async fn write_audit(conn: impl PgExecutor<'_>, record: &AuditRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, actor_email, action, entity_kind, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)",
    )
    .bind(record.id)
    .bind(record.at)
    .bind(record.actor.id)
    .bind(&record.actor.email)
    .bind(record.action.as_str())
    .bind(record.action.entity_kind().as_str())
    .bind(record.entity_id)
    .bind(record.before.as_ref().map(|v| v.to_string()))
    .bind(record.after.as_ref().map(|v| v.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The listing for a filter: equality on the leading columns of one index and that index's order
/// (`AuditFilter::sql_index`: the equal columns, then `at DESC, id DESC`), `LIMIT`/`OFFSET` from
/// the page.
pub(crate) fn list_audit_query(filter: &AuditFilter) -> QueryBuilder<'static, Postgres> {
    let mut qb = QueryBuilder::new(
        "SELECT id, at, actor_id, actor_email, action, entity_kind, entity_id, before::text AS before, \
         after::text AS after FROM audit_log WHERE true",
    );
    if let Some(kind) = filter.entity_kind {
        qb.push(" AND entity_kind = ").push_bind(kind.as_str());
    }
    if let Some(id) = filter.entity_id {
        qb.push(" AND entity_id = ").push_bind(id);
    }
    if let Some(actor) = filter.actor_id {
        qb.push(" AND actor_id = ").push_bind(actor);
    }
    if let Some(from) = filter.from {
        qb.push(" AND at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        qb.push(" AND at <= ").push_bind(to);
    }
    let (_, leading) = filter.sql_index();
    qb.push(format!(" ORDER BY {leading}at DESC, id DESC LIMIT "))
        .push_bind(filter.page.limit)
        .push(" OFFSET ")
        .push_bind(filter.page.offset);
    qb
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    at: DateTime<Utc>,
    actor_id: Uuid,
    actor_email: String,
    action: String,
    entity_kind: String,
    entity_id: Uuid,
    before: Option<String>,
    after: Option<String>,
}

fn json(text: Option<String>) -> StoreResult<Option<serde_json::Value>> {
    text.map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("audit json: {e}"))))
        .transpose()
}

impl AuditRow {
    fn into_entry(self) -> StoreResult<AuditEntry> {
        Ok(AuditEntry {
            id: self.id,
            at: self.at,
            actor_id: self.actor_id,
            actor_email: self.actor_email,
            action: self.action,
            entity_kind: self.entity_kind,
            entity_id: self.entity_id,
            before: json(self.before)?,
            after: json(self.after)?,
        })
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = list_audit_query(filter).build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(AuditRow::into_entry).collect()
    }
}
