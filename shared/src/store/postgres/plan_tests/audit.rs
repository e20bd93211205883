//! The audit log's listings (issue 21) read `audit_log` through one of its indexes, in the generic
//! plan the pool forces and in a custom plan, on an empty analyzed table and on one analyzed with
//! 200,000 entries: the log only grows, so no listing may scan it.

use super::super::audit::list_audit_query;
use super::super::tests::with_store;
use super::reads_of;
use crate::domain::{AuditFilter, EntityKind, Page};

/// The listings by filter, with the arguments for `EXECUTE` in the order the query binds them.
fn shapes() -> Vec<(&'static str, AuditFilter, String)> {
    let page = Page { limit: 50, offset: 0 };
    let all = AuditFilter { page, ..Default::default() };
    let (kind, id, actor) = (Some(EntityKind::Event), Some(uuid::Uuid::nil()), Some(uuid::Uuid::nil()));
    let day = Some(chrono::Utc::now());
    let (entity, someone, since, until) =
        ("md5('entity8')::uuid", "md5('actor3')::uuid", "now() - interval '1 day'", "now()");
    vec![
        ("audit_all", all.clone(), "50, 0".to_owned()),
        ("audit_window", AuditFilter { from: day, to: day, ..all.clone() }, format!("{since}, {until}, 50, 0")),
        ("audit_kind", AuditFilter { entity_kind: kind, ..all.clone() }, "'event', 50, 0".to_owned()),
        (
            "audit_entity",
            AuditFilter { entity_kind: kind, entity_id: id, ..all.clone() },
            format!("'event', {entity}, 50, 0"),
        ),
        (
            "audit_entity_since",
            AuditFilter { entity_kind: kind, entity_id: id, from: day, ..all.clone() },
            format!("'event', {entity}, {since}, 50, 0"),
        ),
        ("audit_actor", AuditFilter { actor_id: actor, ..all.clone() }, format!("{someone}, 50, 0")),
        (
            "audit_actor_kind",
            AuditFilter { actor_id: actor, entity_kind: kind, ..all.clone() },
            format!("'event', {someone}, 50, 0"),
        ),
    ]
}

async fn assert_index_driven(conn: &mut sqlx::PgConnection, database: &str) {
    for mode in ["force_generic_plan", "force_custom_plan"] {
        sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
        for (name, filter, arguments) in shapes() {
            let sql = list_audit_query(&filter).sql().to_owned();
            sqlx::query(&format!("PREPARE {name} AS {sql}")).execute(&mut *conn).await.unwrap();
            let plan: serde_json::Value =
                sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {name}({arguments})"))
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            sqlx::query(&format!("DEALLOCATE {name}")).execute(&mut *conn).await.unwrap();
            let mut reads = Vec::new();
            reads_of(&plan, "audit_log", &mut reads);
            let what = format!("{database}, {mode}: {name}: {reads:#?}");
            assert!(!reads.is_empty(), "{what}: reads no audit_log?");
            // A kind alone is a large part of the log (a quarter here): the generic plan may walk
            // the time index in its order and filter as it goes, stopping at the page, which is
            // as good; every narrower filter must be the index's condition.
            let kind_alone = filter.entity_id.is_none() && filter.actor_id.is_none() && filter.from.is_none();
            let (index, _) = filter.sql_index();
            let through = |read: &super::PlanRead| {
                read.index.as_deref() == Some(index)
                    || (kind_alone && read.index.as_deref() == Some("audit_log_at_idx"))
            };
            assert!(reads.iter().any(through), "{what}: not through {index}");
            for read in &reads {
                assert!(
                    (read.node.starts_with("Index") || read.node.starts_with("Bitmap"))
                        && read.index.as_deref().is_some_and(|index| index.starts_with("audit_log_")),
                    "{what}: audit_log read other than through one of its indexes"
                );
                let filtered =
                    (filter.entity_kind.is_some() && !kind_alone) || filter.actor_id.is_some() || filter.from.is_some();
                assert!(!filtered || !read.condition.is_empty(), "{what}: a filter not in the index condition");
            }
        }
    }
}

#[tokio::test]
async fn every_audit_listing_reads_the_log_through_an_index_whatever_the_statistics() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("ANALYZE audit_log").execute(&mut *conn).await.unwrap();
        assert_index_driven(&mut conn, "empty, analyzed").await;
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_id, actor_email, action, entity_kind, entity_id, before, after)
             SELECT md5('entry' || g)::uuid, now() - g * interval '1 second', md5('actor' || (g % 10))::uuid,
                    'x@example.com', 'event.updated', (ARRAY['event', 'venue', 'user', 'message'])[g % 4 + 1],
                    md5('entity' || (g % 5000))::uuid, '{}', '{}'
             FROM generate_series(0, 199999) g",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query("ANALYZE audit_log").execute(&mut *conn).await.unwrap();
        assert_index_driven(&mut conn, "200,000 entries, analyzed").await;
    })
    .await;
}
