//! Tickets on PostgreSQL. `issue_tickets` and `revoke_tickets` run inside the confirm's and the
//! cancels' own transactions (`payments.rs`, `holds.rs`), after the reservations they follow are
//! locked, so they keep the common lock order (see `mod.rs`). A check-in is one conditional update
//! (`valid → used`) that locks nothing else: of two scans at once, the second waits for the
//! first's row lock, re-reads the row, finds it used and changes nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::PostgresStore;
use super::rows::{TicketRow, parse_stored, ticket_columns};
use crate::domain::{CheckIn, Scan, Ticket, TicketFilter, TicketStatus, TicketTally};
use crate::store::{Entity, StoreError, StoreResult, TicketStore, stored_gate};

// The statements, by name, so the plan tests (`plan_tests.rs`) explain exactly what runs.

/// A filter's tickets, newest first, a booking's together in seat order (as reservations are
/// listed), one page.
pub(super) fn list_tickets_query(filter: &TicketFilter) -> QueryBuilder<'static, Postgres> {
    let mut query = QueryBuilder::<Postgres>::new(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE true"));
    if let Some(user_id) = filter.user_id {
        query.push(" AND user_id = ").push_bind(user_id);
    }
    if let Some(booking_id) = filter.booking_id {
        query.push(" AND booking_id = ").push_bind(booking_id);
    }
    query.push(" ORDER BY issued_at DESC, booking_id, row_index, seat_number LIMIT ");
    query.push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);
    query
}

/// Admits a valid ticket ($1 ticket id, $2 scan id, $3 gate, $4 scan time) and returns it as written.
pub(super) const CHECK_IN_SQL: &str = concat!(
    "UPDATE tickets SET status = 'used', admitted_scan_id = $2, admitted_gate = $3, admitted_at = $4
     WHERE id = $1 AND status = 'valid' RETURNING ",
    ticket_columns!()
);

/// An event's tickets by id ($1 event id).
pub(super) const EVENT_TICKETS_SQL: &str =
    concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE event_id = $1 ORDER BY id");

/// An event's tickets counted by status and gate ($1 event id).
pub(super) const TALLIES_SQL: &str = "SELECT status, admitted_gate, count(*) FROM tickets WHERE event_id = $1
     GROUP BY status, admitted_gate ORDER BY status, admitted_gate";

/// Revokes the tickets of some reservations ($1 reservation ids, $2 time).
pub(super) const REVOKE_SQL: &str = "UPDATE tickets SET status = 'revoked', revoked_at = $2
     WHERE reservation_id = ANY($1) AND status <> 'revoked'";

#[async_trait]
impl TicketStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ticket(&self, id: Uuid) -> StoreResult<Option<Ticket>> {
        let row: Option<TicketRow> =
            sqlx::query_as(concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(TicketRow::into_ticket).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Vec<Ticket>> {
        let rows = list_tickets_query(filter).build_query_as::<TicketRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(TicketRow::into_ticket).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn check_in(&self, scan: &Scan) -> StoreResult<CheckIn> {
        // The one decision: only a valid ticket is admitted, by this statement alone. Nothing is
        // read first; a scan that waited for another's row lock re-checks `status = 'valid'`.
        let admitted: Option<TicketRow> = sqlx::query_as(CHECK_IN_SQL)
            .bind(scan.ticket_id)
            .bind(scan.id)
            .bind(scan.gate.as_str())
            .bind(scan.at)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = admitted {
            return Ok(CheckIn::Admitted(row.into_ticket()?));
        }
        // Refused: the ticket as it is now. A ticket never goes back to valid, so what is read
        // after the update is the state that refused it (or a later one: revoked after use).
        match self.ticket(scan.ticket_id).await? {
            Some(ticket) => Ok(CheckIn::Refused(ticket)),
            None => Err(StoreError::NotFound(Entity::Ticket)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event_tickets(&self, event_id: Uuid) -> StoreResult<Vec<Ticket>> {
        let rows: Vec<TicketRow> = sqlx::query_as(EVENT_TICKETS_SQL).bind(event_id).fetch_all(&self.pool).await?;
        rows.into_iter().map(TicketRow::into_ticket).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ticket_tallies(&self, event_id: Uuid) -> StoreResult<Vec<TicketTally>> {
        let rows: Vec<(String, Option<String>, i64)> =
            sqlx::query_as(TALLIES_SQL).bind(event_id).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(status, gate, count)| {
                Ok(TicketTally {
                    status: parse_stored::<TicketStatus>(&status)?,
                    gate: gate.as_deref().map(stored_gate).transpose()?,
                    count: u64::try_from(count).map_err(|_| StoreError::Internal(format!("{count} tickets")))?,
                })
            })
            .collect()
    }
}

/// Issues a valid ticket for each of `reservation_ids` (reservations just confirmed, locked by the
/// confirm's transaction), each with a new random id; the holder is the buyer's name as it is now,
/// or the e-mail address when the name is empty. `tickets_reservation_key` refuses a second
/// ticket for a seat.
pub(super) async fn issue_tickets(
    conn: &mut PgConnection,
    reservation_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, row_label, row_index,
                              seat_number, tier, price_cents, currency, holder_name, status, issued_at)
         SELECT gen_random_uuid(), r.id, r.booking_id, r.event_id, r.user_id, r.seat_id, s.row_label, s.row_index,
                s.seat_number, s.tier, r.price_cents, r.currency, COALESCE(NULLIF(u.name, ''), u.email), 'valid', $2
         FROM reservations r
         JOIN seats s ON s.id = r.seat_id
         JOIN users u ON u.id = r.user_id
         WHERE r.id = ANY($1)",
    )
    .bind(reservation_ids)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Revokes the tickets of `reservation_ids` (reservations just canceled, locked by the cancel's
/// transaction); a used ticket too, keeping its admission. One already revoked keeps its time.
pub(super) async fn revoke_tickets(
    conn: &mut PgConnection,
    reservation_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if reservation_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(REVOKE_SQL).bind(reservation_ids).bind(now).execute(&mut *conn).await?;
    Ok(())
}
