//! The sales window across events (issue 21) reads `tickets` through its time indexes, in the
//! generic plan the pool forces and in a custom plan, on an empty analyzed table and on one
//! analyzed with 40,000 tickets, a tenth of them revoked: the tickets only grow, so the report
//! may never read them all.

use super::super::reports::SALES_REPORT_SQL;
use super::super::tests::with_store;
use super::{PlanRead, reads_of};

async fn assert_index_driven(conn: &mut sqlx::PgConnection, database: &str) {
    for mode in ["force_generic_plan", "force_custom_plan"] {
        sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
        sqlx::query(&format!("PREPARE sales_window AS {SALES_REPORT_SQL}")).execute(&mut *conn).await.unwrap();
        let plan: serde_json::Value =
            sqlx::query_scalar("EXPLAIN (FORMAT JSON) EXECUTE sales_window(now() - interval '30 days', now())")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        sqlx::query("DEALLOCATE sales_window").execute(&mut *conn).await.unwrap();
        let (mut tickets, mut events) = (Vec::new(), Vec::new());
        reads_of(&plan, "tickets", &mut tickets);
        reads_of(&plan, "events", &mut events);
        let what = format!("{database}, {mode}: {tickets:#?} {events:#?}");
        let through = |index: &str, key: &str| {
            tickets.iter().any(|read: &PlanRead| read.index.as_deref() == Some(index) && read.condition.contains(key))
        };
        assert!(through("tickets_issued_idx", "issued_at"), "{what}: the sales not through tickets_issued_idx");
        assert!(through("tickets_revoked_idx", "revoked_at"), "{what}: the refunds not through tickets_revoked_idx");
        for read in tickets.iter().chain(&events) {
            assert!(
                (read.node.starts_with("Index") || read.node.starts_with("Bitmap")) && !read.condition.is_empty(),
                "{what}: a read other than by an index condition"
            );
        }
    }
}

#[tokio::test]
async fn the_sales_window_reads_tickets_through_their_time_indexes_whatever_the_statistics() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("ANALYZE tickets").execute(&mut *conn).await.unwrap();
        assert_index_driven(&mut conn, "empty, analyzed").await;
        // Tickets alone, without the reservations they would name (only the plans are read).
        sqlx::query("SET session_replication_role = replica").execute(&mut *conn).await.unwrap();
        sqlx::query(
            "INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, row_label, row_index,
                                  seat_number, tier, price_cents, currency, holder_name, status, issued_at, revoked_at)
             SELECT md5('ticket' || g)::uuid, md5('reservation' || g)::uuid, md5('booking' || (g / 4))::uuid,
                    md5('event' || (g % 50))::uuid, md5('user' || (g % 1000))::uuid, md5('seat' || g)::uuid, 'A', 0,
                    g % 100 + 1, 'standard', 1000, 'EUR', 'Holder',
                    CASE WHEN g % 10 = 0 THEN 'revoked' ELSE 'valid' END, now() - g * interval '10 minutes',
                    CASE WHEN g % 10 = 0 THEN now() - g * interval '5 minutes' END
             FROM generate_series(0, 39999) g",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query("SET session_replication_role = DEFAULT").execute(&mut *conn).await.unwrap();
        sqlx::query("ANALYZE tickets").execute(&mut *conn).await.unwrap();
        assert_index_driven(&mut conn, "40,000 tickets, analyzed").await;
    })
    .await;
}
