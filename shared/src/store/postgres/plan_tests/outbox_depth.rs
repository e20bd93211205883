//! The outbox's depth on PostgreSQL: counted from the status index, reading the pending and
//! failed messages only, never the sent ones that pile up.

use super::super::tests::with_store;
use super::{a_day_of_mail, reads_of};
use crate::store::OutboxStore;

/// The depth reads `outbox` only through `outbox_status_idx`, by status, on a fresh table and on
/// an analyzed one holding tens of thousands of sent messages and a few pending and failed ones
/// (a day of mail): never a scan of the table. It has no parameters, so the generic plan the
/// pool's prepared statements get is this plan.
#[tokio::test]
async fn the_depth_counts_pending_and_failed_messages_through_the_status_index() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        for table in ["fresh", "analyzed"] {
            if table == "analyzed" {
                a_day_of_mail(&mut conn).await;
            }
            let plan: serde_json::Value =
                sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {}", super::super::messages::DEPTH_SQL))
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            let mut reads = Vec::new();
            reads_of(&plan, "outbox", &mut reads);
            assert!(!reads.is_empty(), "{table} table: the depth reads no outbox? {plan:#}");
            for read in &reads {
                let by_index = read.node.starts_with("Index") || read.node.starts_with("Bitmap");
                let named = read.index.as_deref().is_none_or(|index| index == "outbox_status_idx");
                assert!(
                    by_index && named && read.condition.contains("status"),
                    "{table} table: the depth reads outbox other than through outbox_status_idx by status: {reads:#?}"
                );
            }
        }
        let depth = store.outbox_depth().await.unwrap();
        assert_eq!((depth.pending, depth.failed), (100, 50), "the statement counts what the plan reads");
    })
    .await;
}
