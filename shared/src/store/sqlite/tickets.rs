//! Tickets on SQLite. `issue_tickets` and `revoke_tickets` run inside the confirm's and the
//! cancels' own `BEGIN IMMEDIATE` transactions (`payments`, `holds`); scans are checked in by
//! batches (`checkin_batch`), each one conditional update on the writer (`valid → used`), so the
//! write lock orders the scans of a ticket and only the first finds it valid. The reads, and a
//! batch's refused tickets, go to the reader connections.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::rows::{TICKET_COLUMNS, enum_col, id_text, millis, ticket_from_row};
use crate::domain::{CheckIn, Scan, Ticket, TicketFilter, TicketTally};
use crate::store::checkin_batch::CheckInStatements;
use crate::store::{StoreError, StoreResult, TicketStore, stored_gate};

// The statements, by name, so the plan tests (`tests.rs`) explain exactly what runs.

/// A filter's tickets, newest first, a booking's together in seat order (as reservations are
/// listed), one page.
pub(super) fn list_tickets_query(filter: &TicketFilter) -> QueryBuilder<'static, Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1 = 1"));
    if let Some(user_id) = filter.user_id {
        qb.push(" AND user_id = ").push_bind(id_text(user_id));
    }
    if let Some(booking_id) = filter.booking_id {
        qb.push(" AND booking_id = ").push_bind(id_text(booking_id));
    }
    qb.push(" ORDER BY issued_at DESC, booking_id, row_index, seat_number LIMIT ")
        .push_bind(filter.page.limit)
        .push(" OFFSET ")
        .push_bind(filter.page.offset);
    qb
}

/// Admits the valid tickets of a batch of scans, each with its own scan (bind: the scans as a
/// JSON array of `[ticket id, scan id, gate, scan time]`, no ticket twice), and returns them as
/// written: one search of the primary key per scan.
pub(super) fn check_in_batch_sql() -> String {
    format!(
        "UPDATE tickets SET status = 'used', admitted_scan_id = s.value ->> 1, admitted_gate = s.value ->> 2, \
         admitted_at = s.value ->> 3 \
         FROM json_each(?) AS s WHERE tickets.id = s.value ->> 0 AND tickets.status = 'valid' \
         RETURNING {TICKET_COLUMNS}"
    )
}

/// Tickets by id (bind: the ids as a JSON array): a batch's refused tickets, read after its update.
pub(super) fn tickets_by_id_sql() -> String {
    format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN (SELECT value FROM json_each(?))")
}

/// An event's tickets by id (bind: event id).
pub(super) fn event_tickets_sql() -> String {
    format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE event_id = ? ORDER BY id")
}

/// An event's tickets counted by status and gate (bind: event id).
pub(super) const TALLIES_SQL: &str = "SELECT status, admitted_gate, COUNT(*) AS count FROM tickets \
     WHERE event_id = ? GROUP BY status, admitted_gate ORDER BY status, admitted_gate";

/// Revokes the tickets of some reservations (binds: time, reservation ids as a JSON array).
pub(super) const REVOKE_SQL: &str = "UPDATE tickets SET status = 'revoked', revoked_at = ? \
     WHERE reservation_id IN (SELECT value FROM json_each(?)) AND status <> 'revoked'";

#[async_trait]
impl TicketStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ticket(&self, id: Uuid) -> StoreResult<Option<Ticket>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?");
        let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&self.reader).await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Vec<Ticket>> {
        let rows = list_tickets_query(filter).build().fetch_all(&self.reader).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn check_in(&self, scan: &Scan) -> StoreResult<CheckIn> {
        self.check_ins.submit(scan.clone()).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event_tickets(&self, event_id: Uuid) -> StoreResult<Vec<Ticket>> {
        let rows = sqlx::query(&event_tickets_sql()).bind(id_text(event_id)).fetch_all(&self.reader).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ticket_tallies(&self, event_id: Uuid) -> StoreResult<Vec<TicketTally>> {
        let rows = sqlx::query(TALLIES_SQL).bind(id_text(event_id)).fetch_all(&self.reader).await?;
        rows.iter()
            .map(|row| {
                let gate: Option<String> = row.try_get("admitted_gate")?;
                let count: i64 = row.try_get("count")?;
                Ok(TicketTally {
                    status: enum_col(row, "status")?,
                    gate: gate.as_deref().map(stored_gate).transpose()?,
                    count: u64::try_from(count).map_err(|_| StoreError::Internal(format!("{count} tickets")))?,
                })
            })
            .collect()
    }
}

/// Checks in batches of scans: the update on the writer, the read of the refused tickets on the
/// readers.
pub(super) struct SqliteCheckIns {
    pub(super) writer: SqlitePool,
    pub(super) reader: SqlitePool,
}

#[async_trait]
impl CheckInStatements for SqliteCheckIns {
    async fn admit(&self, batch: &[Scan]) -> StoreResult<Vec<Ticket>> {
        let scans: Vec<serde_json::Value> = batch
            .iter()
            .map(|scan| {
                serde_json::json!([id_text(scan.ticket_id), id_text(scan.id), scan.gate.as_str(), millis(scan.at)])
            })
            .collect();
        let rows = sqlx::query(&check_in_batch_sql())
            .bind(serde_json::Value::Array(scans).to_string())
            .fetch_all(&self.writer)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    async fn tickets(&self, ids: &[Uuid]) -> StoreResult<Vec<Ticket>> {
        let ids = serde_json::Value::from(ids.iter().map(|id| id_text(*id)).collect::<Vec<_>>());
        let rows = sqlx::query(&tickets_by_id_sql()).bind(ids.to_string()).fetch_all(&self.reader).await?;
        rows.iter().map(ticket_from_row).collect()
    }
}

/// The confirm's tickets from [ticket id, reservation id] pairs: reservations, seats and buyers
/// searched by primary key, in that order (`CROSS JOIN` fixes it: on a file analyzed small, SQLite
/// otherwise scans `users` and searches each buyer's reservations).
pub(super) const ISSUE_TICKETS_SQL: &str = "INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, section, row_label, row_index, \
     seat_number, tier, price_cents, discount_cents, currency, holder_name, status, issued_at) \
     SELECT p.value ->> 0, r.id, r.booking_id, r.event_id, r.user_id, r.seat_id, s.section, s.row_label, s.row_index, \
            s.seat_number, s.tier, r.price_cents, r.discount_cents, r.currency, COALESCE(NULLIF(u.name, ''), u.email), 'valid', ? \
     FROM json_each(?) AS p \
     CROSS JOIN reservations r ON r.id = p.value ->> 1 \
     CROSS JOIN seats s ON s.id = r.seat_id \
     CROSS JOIN users u ON u.id = r.user_id";

/// Issues a valid ticket for each of `reservation_ids` (reservations just confirmed, inside the
/// confirm's transaction), each with a new random id; the holder is the buyer's name as it is
/// now, or the e-mail address when the name is empty. `tickets_reservation_key` refuses a
/// second ticket for a seat.
pub(super) async fn issue_tickets(
    conn: &mut SqliteConnection,
    reservation_ids: &[String],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if reservation_ids.is_empty() {
        return Ok(());
    }
    // [ticket id, reservation id] pairs: one statement whatever the count, prepared once.
    let pairs = serde_json::Value::Array(
        reservation_ids.iter().map(|reservation| serde_json::json!([id_text(Uuid::new_v4()), reservation])).collect(),
    );
    sqlx::query(ISSUE_TICKETS_SQL).bind(millis(now)).bind(pairs.to_string()).execute(&mut *conn).await?;
    Ok(())
}

/// Revokes the tickets of `reservation_ids` (reservations just canceled, inside the cancel's
/// transaction); a used ticket too, keeping its admission. One already revoked keeps its time.
pub(super) async fn revoke_tickets(
    conn: &mut SqliteConnection,
    reservation_ids: &[String],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if reservation_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(REVOKE_SQL)
        .bind(millis(now))
        .bind(serde_json::Value::from(reservation_ids).to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
