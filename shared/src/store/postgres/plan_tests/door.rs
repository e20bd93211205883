//! The door's check-in batches on PostgreSQL (`PgCheckIns`, on `door_pool`'s connections): they
//! read `tickets` through its primary key whatever the statistics say.

use chrono::Utc;
use uuid::Uuid;

use super::super::tests::with_store;
use super::super::tickets::{CHECK_IN_BATCH_SQL, TICKETS_BY_ID_SQL, door_pool};
use super::{Statement, assert_index_driven, four_thousand_tickets, plan_reads};

/// The door's statements, with 64 scans (ids of tickets that need not exist: EXPLAIN only plans).
fn door_statements() -> Vec<Statement> {
    let ids = || {
        let ids: Vec<String> = (0..64).map(|_| format!("'{}'", Uuid::new_v4())).collect();
        format!("ARRAY[{}]::uuid[]", ids.join(", "))
    };
    let now = Utc::now().to_rfc3339();
    vec![
        Statement {
            name: "check_in_batch",
            sql: CHECK_IN_BATCH_SQL.to_owned(),
            arguments: format!(
                "{}, {}, array_fill('north'::text, ARRAY[64]), array_fill('{now}'::timestamptz, ARRAY[64])",
                ids(),
                ids()
            ),
            indexes: &["tickets_pkey"],
            key: "id = ANY",
        },
        Statement {
            name: "tickets_by_id",
            sql: TICKETS_BY_ID_SQL.to_owned(),
            arguments: ids(),
            indexes: &["tickets_pkey"],
            key: "id = ANY",
        },
    ]
}

#[tokio::test]
async fn the_door_reads_tickets_by_primary_key_whatever_the_statistics_say() {
    with_store(|store| async move {
        let door = door_pool(&store.pool);
        let mut conn = door.acquire().await.unwrap();
        let seqscan: String = sqlx::query_scalar("SHOW enable_seqscan").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(seqscan, "off", "the door's connections never read a table whole");
        let mut writer = store.pool.acquire().await.unwrap();

        // A fresh table; the same analyzed while empty; 4,000 tickets that those statistics still
        // call none (an event sold out before the next ANALYZE); and the 4,000 analyzed.
        for table in ["fresh", "analyzed empty", "4,000 tickets, analyzed empty", "4,000 tickets, analyzed"] {
            match table {
                "analyzed empty" | "4,000 tickets, analyzed" => {
                    sqlx::query("ANALYZE tickets").execute(&mut *writer).await.unwrap();
                }
                "4,000 tickets, analyzed empty" => four_thousand_tickets(&store, &mut writer).await,
                _ => {}
            }
            for mode in ["force_generic_plan", "force_custom_plan"] {
                for statement in door_statements() {
                    let reads = plan_reads(&mut conn, &statement, mode).await;
                    assert_index_driven(&statement, &reads, &format!("{table}, {mode}"));
                }
            }
        }
        let used: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE status <> 'valid'")
            .fetch_one(&mut *writer)
            .await
            .unwrap();
        assert_eq!(used, 0, "EXPLAIN wrote nothing");
        drop(conn);
        door.close().await;
    })
    .await;
}
