//! Sales reports on SQLite: one statement per report, on the readers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::SqliteStore;
use super::rows::{ACTIVE_R, from_millis, id_text, millis, uuid_col};
use crate::domain::{EventReport, ReportCount, STANDARD_TICKET_TYPE, SalesCount, SalesReport, SalesWindow};
use crate::store::{ReportStore, StoreError, StoreResult};

/// An event's report counts (binds: now, event, event), two parts in one statement: `seats`, the
/// venue's seats by tier with the held and sold ones (each seat's reservation one probe of the
/// partial unique index, as the seat map reads it; a venue without seats gives one row with no
/// tier, so an event always has a row), and `sales`, its tickets by tier, ticket type (their
/// reservation's, one primary-key probe each), hour of issue and
/// whether revoked (its range of `tickets_event_idx`), with what was paid for them (price less
/// the code's discount). The indexes are named: grouping by tier,
/// a file analyzed with few seats would otherwise scan `seats`.
pub(super) fn event_report_sql() -> String {
    format!(
        "SELECT 'seats' AS part, s.tier AS tier, NULL AS ticket_type, NULL AS hour, 0 AS revoked, COUNT(s.id) AS seats, \
         COUNT(CASE WHEN r.status = 'confirmed' THEN 1 END) AS sold, \
         COUNT(CASE WHEN r.status = 'held' THEN 1 END) AS held, 0 AS cents \
         FROM events e INDEXED BY sqlite_autoindex_events_1 \
         LEFT JOIN seats s INDEXED BY seats_venue_order_idx ON s.venue_id = e.venue_id \
         LEFT JOIN reservations r ON r.event_id = e.id AND r.seat_id = s.id AND {ACTIVE_R} \
         WHERE e.id = ? GROUP BY s.tier \
         UNION ALL \
         SELECT 'sales', t.tier, r.ticket_type, t.issued_at / 3600000 * 3600000, t.status = 'revoked', 0, COUNT(*), 0, \
         SUM(t.price_cents - t.discount_cents) \
         FROM tickets t INDEXED BY tickets_event_idx \
         LEFT JOIN reservations r INDEXED BY sqlite_autoindex_reservations_1 ON r.id = t.reservation_id \
         WHERE t.event_id = ? \
         GROUP BY t.tier, r.ticket_type, t.issued_at / 3600000, t.status = 'revoked'"
    )
}

/// Sales across events in a window (binds: from, to, from, to; milliseconds), by event, currency
/// and UTC day (days since 1970): what was paid (price less a code's discount) for the tickets issued in it (one range of `tickets_issued_idx`) and
/// those revoked in it (one range of `tickets_revoked_idx`, which holds only revoked tickets),
/// each group with its event's name (a primary-key probe). The indexes are named: a file analyzed
/// with few tickets would otherwise scan them.
pub(super) const SALES_REPORT_SQL: &str = "\
SELECT t.event_id AS event_id, (SELECT e.name FROM events e WHERE e.id = t.event_id) AS name, t.currency AS currency, \
       t.issued_at / 86400000 AS day, 0 AS refunded, COUNT(*) AS tickets, SUM(t.price_cents - t.discount_cents) AS cents \
FROM tickets t INDEXED BY tickets_issued_idx WHERE t.issued_at >= ? AND t.issued_at <= ? \
GROUP BY t.event_id, t.currency, t.issued_at / 86400000 \
UNION ALL \
SELECT t.event_id, (SELECT e.name FROM events e WHERE e.id = t.event_id), t.currency, t.revoked_at / 86400000, 1, \
       COUNT(*), SUM(t.price_cents - t.discount_cents) \
FROM tickets t INDEXED BY tickets_revoked_idx WHERE t.revoked_at >= ? AND t.revoked_at <= ? \
GROUP BY t.event_id, t.currency, t.revoked_at / 86400000";

fn count(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Internal(format!("a report counted {value}")))
}

#[async_trait]
impl ReportStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event_report(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<EventReport>> {
        let rows = sqlx::query(&event_report_sql())
            .bind(millis(now))
            .bind(id_text(event_id))
            .bind(id_text(event_id))
            .fetch_all(&self.reader)
            .await?;
        let mut known = false;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let part: String = row.try_get("part")?;
            let tier: Option<String> = row.try_get("tier")?;
            let sold = count(row.try_get("sold")?)?;
            if part == "seats" {
                known = true;
                if let Some(tier) = tier {
                    let (seats, held) = (count(row.try_get("seats")?)?, count(row.try_get("held")?)?);
                    counts.push(ReportCount::Seats { tier, seats, sold, held });
                }
            } else {
                counts.push(ReportCount::Sales {
                    tier: tier.unwrap_or_default(),
                    ticket_type: row
                        .try_get::<Option<String>, _>("ticket_type")?
                        .unwrap_or_else(|| STANDARD_TICKET_TYPE.to_owned()),
                    hour: from_millis(row.try_get("hour")?)?,
                    revoked: row.try_get::<i64, _>("revoked")? != 0,
                    tickets: sold,
                    cents: row.try_get("cents")?,
                });
            }
        }
        Ok(known.then(|| EventReport::from_counts(event_id, &counts)))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn sales_report(&self, window: SalesWindow) -> StoreResult<SalesReport> {
        let (from, to) = (millis(window.from), millis(window.to));
        let rows =
            sqlx::query(SALES_REPORT_SQL).bind(from).bind(to).bind(from).bind(to).fetch_all(&self.reader).await?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let day = chrono::DateTime::UNIX_EPOCH.date_naive()
                + chrono::Days::new(row.try_get::<i64, _>("day")?.max(0).unsigned_abs());
            counts.push(SalesCount {
                event_id: uuid_col(row, "event_id")?,
                event_name: row.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
                currency: row.try_get("currency")?,
                day,
                refunded: row.try_get::<i64, _>("refunded")? != 0,
                tickets: count(row.try_get("tickets")?)?,
                cents: row.try_get("cents")?,
            });
        }
        Ok(SalesReport::from_counts(window, &counts))
    }
}

#[cfg(test)]
mod plan_tests {
    //! The sales window reads `tickets` through its time indexes (a `SEARCH`, never a scan), on a
    //! file analyzed while empty and one analyzed with 20,000 tickets.

    use sqlx::Row;

    use super::SALES_REPORT_SQL;
    use crate::store::sqlite::tests::test_db;

    async fn assert_searched(store: &super::SqliteStore, database: &str) {
        let explain = format!("EXPLAIN QUERY PLAN {SALES_REPORT_SQL}");
        let rows = sqlx::query(&explain).bind(0_i64).bind(1_i64).bind(0_i64).bind(1_i64).fetch_all(&store.writer).await;
        let plan: Vec<String> = rows.unwrap().iter().map(|row| row.get::<String, _>("detail")).collect();
        for index in
            ["tickets_issued_idx (issued_at>? AND issued_at<?)", "tickets_revoked_idx (revoked_at>? AND revoked_at<?)"]
        {
            assert!(
                plan.iter().any(|line| line.starts_with("SEARCH t USING INDEX") && line.contains(index)),
                "{database}: not through {index}: {plan:?}"
            );
        }
        assert!(
            plan.iter().all(|line| !line.starts_with("SCAN t") && !line.starts_with("SCAN e")),
            "{database}: a scan: {plan:?}"
        );
    }

    #[tokio::test]
    async fn the_sales_window_searches_tickets_by_time_whatever_the_statistics() {
        let empty = test_db().await;
        sqlx::query("ANALYZE").execute(&empty.store.writer).await.unwrap();
        assert_searched(&empty.store, "empty, analyzed").await;

        let filled = test_db().await;
        // Tickets alone, without the reservations and events they would name: only the plan is read.
        let mut conn = filled.store.writer.acquire().await.unwrap();
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await.unwrap();
        sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 19999) \
             INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, row_label, row_index, \
                                  seat_number, tier, price_cents, currency, holder_name, status, issued_at, revoked_at) \
             SELECT 't' || n, 'r' || n, 'b' || n, 'e' || (n % 50), 'u', 's' || n, 'A', 0, n, 'standard', 1000, 'EUR', \
                    'Holder', CASE WHEN n % 10 = 0 THEN 'revoked' ELSE 'valid' END, n * 1000, \
                    CASE WHEN n % 10 = 0 THEN n * 1000 + 5 END FROM g",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await.unwrap();
        sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        drop(conn);
        assert_searched(&filled.store, "20,000 tickets, analyzed").await;
    }
}
