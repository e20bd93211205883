//! Sales reports on SQLite: one statement per report, on the readers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::SqliteStore;
use super::rows::{ACTIVE_R, from_millis, id_text, millis};
use crate::domain::{EventReport, ReportCount, STANDARD_TICKET_TYPE};
use crate::store::{ReportStore, StoreError, StoreResult};

/// An event's report counts (binds: now, event, event), two parts in one statement: `seats`, the
/// venue's seats by tier with the held and sold ones (each seat's reservation one probe of the
/// partial unique index, as the seat map reads it; a venue without seats gives one row with no
/// tier, so an event always has a row), and `sales`, its tickets by tier, ticket type (their
/// reservation's, one primary-key probe each), hour of issue and
/// whether revoked (its range of `tickets_event_idx`). The indexes are named: grouping by tier,
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
         SUM(t.price_cents) \
         FROM tickets t INDEXED BY tickets_event_idx \
         LEFT JOIN reservations r INDEXED BY sqlite_autoindex_reservations_1 ON r.id = t.reservation_id \
         WHERE t.event_id = ? \
         GROUP BY t.tier, r.ticket_type, t.issued_at / 3600000, t.status = 'revoked'"
    )
}

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
}
