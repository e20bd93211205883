//! The outbox's claim on PostgreSQL: it reads `outbox` through its partial index of pending
//! messages and updates the rows it picked by primary key, whatever the statistics say.

use chrono::{Duration, Utc};

use super::super::tests::with_store;
use super::{Statement, a_day_of_mail, reads_of};

/// The claim reads `outbox` through its partial index of pending messages (by due time) and
/// updates the rows it picked by primary key, in either plan, on a fresh table and on an analyzed
/// one holding tens of thousands of sent messages and a few pending and failed ones (a day of
/// mail): never a
/// scan of the table or of a whole index.
#[tokio::test]
async fn the_claim_reads_due_messages_through_the_pending_index() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        let now = Utc::now();
        let claim = Statement {
            name: "claim_messages",
            sql: super::super::messages::CLAIM_SQL.to_owned(),
            arguments: format!("'{}', '{}', 20", (now + Duration::seconds(120)).to_rfc3339(), now.to_rfc3339()),
            indexes: &["outbox_due_idx", "outbox_pkey"],
            key: "next_attempt_at",
        };
        for table in ["fresh", "analyzed"] {
            if table == "analyzed" {
                a_day_of_mail(&mut conn).await;
            }
            for mode in ["force_generic_plan", "force_custom_plan"] {
                sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
                sqlx::query(&format!("PREPARE {} AS {}", claim.name, claim.sql)).execute(&mut *conn).await.unwrap();
                let plan: serde_json::Value =
                    sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {}({})", claim.name, claim.arguments))
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap();
                sqlx::query(&format!("DEALLOCATE {}", claim.name)).execute(&mut *conn).await.unwrap();
                let mut reads = Vec::new();
                reads_of(&plan, "outbox", &mut reads);
                let what = format!("{table} table, {mode}");
                assert!(
                    reads.iter().any(|r| r.index.as_deref() == Some("outbox_due_idx")),
                    "{what}: the due messages are not read through the pending index: {reads:#?}"
                );
                for read in &reads {
                    let by_index = read.node.starts_with("Index") || read.node.starts_with("Bitmap");
                    let named = read.index.as_deref().is_none_or(|index| claim.indexes.contains(&index));
                    let keyed = match read.index.as_deref() {
                        Some("outbox_pkey") => read.condition.contains("id"),
                        Some("outbox_due_idx") => read.condition.contains("next_attempt_at"),
                        _ => !read.condition.is_empty(),
                    };
                    assert!(by_index && named && keyed, "{what}: outbox read other than by its indexes: {reads:#?}");
                }
            }
        }
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 1")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(pending, 100, "EXPLAIN wrote nothing");
    })
    .await;
}
