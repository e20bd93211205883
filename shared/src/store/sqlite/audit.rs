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
/// entity, then an actor (with the kind), then a kind, else the time), so the plan never depends
/// on statistics; the order names its equal columns too (`AuditFilter::sql_index`).
pub(super) fn list_audit_query(filter: &AuditFilter) -> QueryBuilder<'static, Sqlite> {
    let (index, leading) = filter.sql_index();
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
    qb.push(format!(" ORDER BY {leading}at DESC, id DESC LIMIT "))
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

#[cfg(test)]
mod plan_tests {
    //! Every listing reads the log through its index, in its order: a `SEARCH` (or, with no
    //! filter, a `SCAN … USING INDEX` that stops at the page), never a scan of the table or a
    //! sort of it, on a file analyzed while empty and one analyzed with 20,000 entries.

    use chrono::{Duration, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::domain::{EntityKind, Page};
    use crate::store::sqlite::tests::test_db;

    fn shapes() -> Vec<(&'static str, AuditFilter, &'static str)> {
        let page = Page { limit: 50, offset: 0 };
        let all = AuditFilter { page, ..Default::default() };
        let (kind, id, actor) = (Some(EntityKind::Event), Some(Uuid::nil()), Some(Uuid::nil()));
        let day = Some(Utc::now() - Duration::days(1));
        vec![
            ("everything", all.clone(), "audit_log_at_idx"),
            ("a time window", AuditFilter { from: day, to: Some(Utc::now()), ..all.clone() }, "audit_log_at_idx"),
            ("a kind", AuditFilter { entity_kind: kind, ..all.clone() }, "audit_log_kind_idx"),
            ("an entity", AuditFilter { entity_kind: kind, entity_id: id, ..all.clone() }, "audit_log_entity_idx"),
            (
                "an entity since",
                AuditFilter { entity_kind: kind, entity_id: id, from: day, ..all.clone() },
                "audit_log_entity_idx",
            ),
            ("an actor", AuditFilter { actor_id: actor, ..all.clone() }, "audit_log_actor_idx"),
            (
                "an actor's kind",
                AuditFilter { actor_id: actor, entity_kind: kind, ..all.clone() },
                "audit_log_actor_kind_idx",
            ),
        ]
    }

    async fn plan(store: &SqliteStore, filter: &AuditFilter) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {}", list_audit_query(filter).sql());
        let mut query = sqlx::query(&explain);
        if let Some(kind) = filter.entity_kind {
            query = query.bind(kind.as_str());
        }
        for id in [filter.entity_id, filter.actor_id].into_iter().flatten() {
            query = query.bind(id_text(id));
        }
        for at in [filter.from, filter.to].into_iter().flatten() {
            query = query.bind(millis(at));
        }
        let rows = query.bind(filter.page.limit).bind(filter.page.offset).fetch_all(&store.writer).await.unwrap();
        rows.iter().map(|row| row.get::<String, _>("detail")).collect()
    }

    async fn assert_index_driven(store: &SqliteStore, database: &str) {
        for (name, filter, index) in shapes() {
            let plan = plan(store, &filter).await;
            let what = format!("{database}, {name}: {plan:?}");
            assert!(plan.iter().any(|line| line.contains(index)), "{what}: not through {index}");
            assert!(plan.iter().all(|line| !line.contains("TEMP B-TREE")), "{what}: sorted apart from its index");
            assert!(
                plan.iter().all(|line| !line.starts_with("SCAN audit_log") || line.contains("USING INDEX")),
                "{what}: a scan of the table"
            );
            if filter.entity_kind.is_some() || filter.actor_id.is_some() {
                assert!(plan.iter().any(|line| line.starts_with("SEARCH audit_log")), "{what}: no search");
            }
        }
    }

    #[tokio::test]
    async fn every_listing_reads_the_log_through_its_index_in_its_order() {
        let db = test_db().await;
        sqlx::query("ANALYZE").execute(&db.store.writer).await.unwrap();
        assert_index_driven(&db.store, "empty, analyzed").await;
        sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 19999) \
             INSERT INTO audit_log (id, at, actor_id, actor_email, action, entity_kind, entity_id, before, after) \
             SELECT 'a' || n, 1700000000000 + n * 1000, 'actor' || (n % 10), 'x@example.com', 'event.updated', \
             CASE n % 4 WHEN 0 THEN 'event' WHEN 1 THEN 'venue' WHEN 2 THEN 'user' ELSE 'message' END, \
             'entity' || (n % 5000), '{}', '{}' FROM g",
        )
        .execute(&db.store.writer)
        .await
        .unwrap();
        sqlx::query("ANALYZE").execute(&db.store.writer).await.unwrap();
        assert_index_driven(&db.store, "20,000 entries, analyzed").await;
    }
}
