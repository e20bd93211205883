//! Sales reports on PostgreSQL: one statement per report.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PostgresStore;
use crate::domain::{EventReport, ReportCount, STANDARD_TICKET_TYPE, SalesCount, SalesReport, SalesWindow};
use crate::store::{ReportStore, StoreError, StoreResult};

/// An event's report counts (`$1` event, `$2` now), three parts in one statement: `event`, one
/// row when the event exists (its primary key); `seats`, the venue's seats by tier (their venue's
/// range of `seats_venue_order_idx`, the venue read first as the seat map reads it) with the held
/// and sold ones (each seat's probe of `reservations_active_seat_uq`, a subquery per seat so that
/// no plan reads the event's reservations first and then every seat to match them; the unique
/// index leaves at most one); and `sales`, the event's
/// tickets by tier, ticket type (their reservation's), hour of issue (UTC) and whether revoked (its
/// range of `tickets_event_idx`), with what was paid for them (price less the code's discount).
pub(super) const EVENT_REPORT_SQL: &str = "
SELECT 'event' AS part, NULL::text AS tier, NULL::text AS ticket_type, NULL::timestamptz AS hour, false AS revoked, 0::bigint AS seats,
       0::bigint AS sold, 0::bigint AS held, 0::bigint AS cents
FROM events WHERE id = $1
UNION ALL
SELECT 'seats', seat.tier, NULL, NULL, false, count(*), count(*) FILTER (WHERE seat.taken = 'confirmed'),
       count(*) FILTER (WHERE seat.taken = 'held'), 0
FROM (
    SELECT s.tier,
           (SELECT r.status FROM reservations r
            WHERE r.event_id = $1 AND r.seat_id = s.id AND r.status IN ('held', 'confirmed')
              AND (r.status = 'confirmed' OR r.expires_at > $2)) AS taken
    FROM seats s
    WHERE s.venue_id = (SELECT e.venue_id FROM events e WHERE e.id = $1)
) seat
GROUP BY seat.tier
UNION ALL
SELECT 'sales', t.tier, r.ticket_type, date_trunc('hour', t.issued_at, 'UTC'), t.status = 'revoked', 0, count(*), 0,
       sum(t.price_cents - t.discount_cents)::bigint
FROM tickets t
-- Each ticket's reservation, for its ticket type: one primary-key probe, fenced by `LIMIT`.
CROSS JOIN LATERAL (SELECT x.ticket_type FROM reservations x WHERE x.id = t.reservation_id LIMIT 1) r
WHERE t.event_id = $1
GROUP BY t.tier, r.ticket_type, date_trunc('hour', t.issued_at, 'UTC'), t.status = 'revoked'";

/// Sales across events in a window (`$1` from, `$2` to, both included), by event, currency and
/// UTC day: what was paid (price less a code's discount) for the tickets issued in it (one range of `tickets_issued_idx`) and those revoked in it
/// (one range of `tickets_revoked_idx`, which holds only revoked tickets), each group with its
/// event's name (a primary-key probe). Each range is read in a materialized CTE of its own: in
/// the grouped query itself, a generic plan made on an empty table read a whole index of tickets
/// in event order (`tickets_event_tally_idx`) to group without sorting, filtering every ticket.
pub(super) const SALES_REPORT_SQL: &str = "
WITH sold AS MATERIALIZED (
    SELECT t.event_id, t.currency, t.issued_at AS at, t.price_cents - t.discount_cents AS paid_cents FROM tickets t
    WHERE t.issued_at >= $1 AND t.issued_at <= $2
), refunded AS MATERIALIZED (
    SELECT t.event_id, t.currency, t.revoked_at AS at, t.price_cents - t.discount_cents AS paid_cents FROM tickets t
    WHERE t.revoked_at >= $1 AND t.revoked_at <= $2
)
SELECT g.event_id, (SELECT e.name FROM events e WHERE e.id = g.event_id) AS name, g.currency, g.day, g.refunded,
       g.tickets, g.cents
FROM (
    SELECT event_id, currency, (at AT TIME ZONE 'UTC')::date AS day, false AS refunded, count(*) AS tickets,
           sum(paid_cents)::bigint AS cents
    FROM sold GROUP BY 1, 2, 3
    UNION ALL
    SELECT event_id, currency, (at AT TIME ZONE 'UTC')::date, true, count(*), sum(paid_cents)::bigint
    FROM refunded GROUP BY 1, 2, 3
) g";

type SalesRow = (Uuid, Option<String>, String, chrono::NaiveDate, bool, i64, i64);

type ReportRow = (String, Option<String>, Option<String>, Option<DateTime<Utc>>, bool, i64, i64, i64, i64);

fn count(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Internal(format!("a report counted {value}")))
}

#[async_trait]
impl ReportStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event_report(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<EventReport>> {
        let rows: Vec<ReportRow> =
            sqlx::query_as(EVENT_REPORT_SQL).bind(event_id).bind(now).fetch_all(&self.pool).await?;
        let mut known = false;
        let mut counts = Vec::with_capacity(rows.len());
        for (part, tier, ticket_type, hour, revoked, seats, sold, held, cents) in rows {
            if part == "event" {
                known = true;
            } else if part == "seats" {
                let tier = tier.unwrap_or_default();
                counts.push(ReportCount::Seats { tier, seats: count(seats)?, sold: count(sold)?, held: count(held)? });
            } else {
                let hour = hour.ok_or_else(|| StoreError::Internal("a ticket without an hour".into()))?;
                let tier = tier.unwrap_or_default();
                let ticket_type = ticket_type.unwrap_or_else(|| STANDARD_TICKET_TYPE.to_owned());
                counts.push(ReportCount::Sales { tier, ticket_type, hour, revoked, tickets: count(sold)?, cents });
            }
        }
        Ok(known.then(|| EventReport::from_counts(event_id, &counts)))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn sales_report(&self, window: SalesWindow) -> StoreResult<SalesReport> {
        let rows: Vec<SalesRow> =
            sqlx::query_as(SALES_REPORT_SQL).bind(window.from).bind(window.to).fetch_all(&self.pool).await?;
        let counts = rows
            .into_iter()
            .map(|(event_id, name, currency, day, refunded, tickets, cents)| {
                Ok(SalesCount {
                    event_id,
                    event_name: name.unwrap_or_default(),
                    currency,
                    day,
                    refunded,
                    tickets: count(tickets)?,
                    cents,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SalesReport::from_counts(window, &counts))
    }
}
