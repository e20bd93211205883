//! Tickets on PostgreSQL. `issue_tickets` and `revoke_tickets` run inside the confirm's and the
//! cancels' own transactions (`payments.rs`, `holds.rs`), after the reservations they follow are
//! locked, so they keep the common lock order (see `mod.rs`). Scans are checked in by batches
//! (`checkin_batch`): one conditional update (`valid → used`) per batch, which locks nothing else,
//! on the door's own connections (`door_pool`). Of two scans of one ticket in two batches at once,
//! the second waits for the first's row lock, re-reads the row, finds it used and changes nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::rows::{TicketRow, parse_stored, ticket_columns};
use super::{PostgresStore, is_deadlock, kept_deadlocking, pool_options};
use crate::domain::{CheckIn, Scan, Ticket, TicketFilter, TicketStatus, TicketTally};
use crate::store::checkin_batch::CheckInStatements;
use crate::store::{StoreError, StoreResult, TicketStore, stored_gate};

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

/// Admits the valid tickets of a batch of scans, each with its own scan ($1 ticket ids, $2 scan
/// ids, $3 gates, $4 scan times, one of each per scan, no ticket twice), and returns them as
/// written. Run on the door's connections (`door_pool`), it reads `tickets` through its primary
/// key, one probe per scan, whatever the statistics say: `id = ANY ($1)` is the condition that
/// index serves (the join to the scans alone let the planner read the table whole), and the status
/// is checked as `(…) IS TRUE`, which no index serves, so that `tickets_event_tally_idx` cannot
/// be read by status instead. A row that a concurrent batch or cancel changed is re-checked after
/// its lock is released, and left alone: it is no longer valid.
pub(super) const CHECK_IN_BATCH_SQL: &str = concat!(
    "UPDATE tickets t SET status = 'used', admitted_scan_id = s.scan_id, admitted_gate = s.gate, admitted_at = s.at
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) AS s (ticket_id, scan_id, gate, at)
     WHERE t.id = s.ticket_id AND t.id = ANY ($1) AND (t.status = 'valid') IS TRUE
     RETURNING ",
    ticket_columns!()
);

/// Tickets by id ($1 ids): the refused scans' tickets, read after their batch's update (in a
/// statement of its own, so that it sees the scans that won them). In id order, which the primary
/// key gives for free: on an empty table, where every index of it costs the planner the same, that
/// is what makes it the one read.
pub(super) const TICKETS_BY_ID_SQL: &str =
    concat!("SELECT ", ticket_columns!(), " FROM tickets WHERE id = ANY ($1) ORDER BY id");

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
        self.check_ins.submit(scan.clone()).await
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

/// How many batches of scans are checked in at once, each on a door connection of its own. Four
/// measured no faster at 64 gates and had a worse p99 (20-26 ms against 14.5-20, six runs each).
pub(super) const CHECK_IN_WORKERS: usize = 2;
/// A batch locks its tickets in the order its plan reads them; one that lost a deadlock (to another
/// batch, or a cancel revoking tickets, that locked two of them in the other order) was rolled back
/// whole, so it is run again, this many times in all.
const CHECK_IN_ATTEMPTS: usize = 3;

/// The door's connections, one per check-in worker: the store's own settings, with sequential
/// scans off, so that `CHECK_IN_BATCH_SQL` and `TICKETS_BY_ID_SQL` read `tickets` through its
/// primary key whatever the statistics say. Their shape cannot force that alone: to the planner, a
/// scan of a table it believes small (fresh, analyzed while empty, a few thousand tickets) costs
/// less than 64 probes, and each batch would then read every ticket of the table. The settings
/// come from `pool_options`' connect hook, not from the startup packet's `options`, which RDS
/// Proxy refuses. Connected on the first scan.
pub(super) fn door_pool(pool: &PgPool) -> PgPool {
    let options = (*pool.connect_options()).clone();
    pool_options(CHECK_IN_WORKERS as u32, pool.options().get_idle_timeout()).connect_lazy_with(options)
}

/// Checks in batches of scans on the door's connections (see `CHECK_IN_BATCH_SQL`).
pub(super) struct PgCheckIns {
    pub(super) door: PgPool,
}

#[async_trait]
impl CheckInStatements for PgCheckIns {
    async fn admit(&self, batch: &[Scan]) -> StoreResult<Vec<Ticket>> {
        let tickets: Vec<Uuid> = batch.iter().map(|scan| scan.ticket_id).collect();
        let ids: Vec<Uuid> = batch.iter().map(|scan| scan.id).collect();
        let gates: Vec<&str> = batch.iter().map(|scan| scan.gate.as_str()).collect();
        let times: Vec<DateTime<Utc>> = batch.iter().map(|scan| scan.at).collect();
        let mut attempt = 1;
        loop {
            let update = sqlx::query_as::<_, TicketRow>(CHECK_IN_BATCH_SQL)
                .bind(&tickets)
                .bind(&ids)
                .bind(&gates)
                .bind(&times)
                .fetch_all(&self.door)
                .await;
            match update {
                Ok(rows) => return rows.into_iter().map(TicketRow::into_ticket).collect(),
                // The whole statement was rolled back; nothing was written.
                Err(err) if is_deadlock(&err) && attempt < CHECK_IN_ATTEMPTS => attempt += 1,
                Err(err) if is_deadlock(&err) => return Err(kept_deadlocking("checking in")),
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn tickets(&self, ids: &[Uuid]) -> StoreResult<Vec<Ticket>> {
        let rows: Vec<TicketRow> = sqlx::query_as(TICKETS_BY_ID_SQL).bind(ids).fetch_all(&self.door).await?;
        rows.into_iter().map(TicketRow::into_ticket).collect()
    }
}

/// The confirm's tickets: its reservations by primary key (`= ANY`, which only the primary key
/// can serve), and each one's seat and buyer by one primary-key probe fenced by `LIMIT`, so that no
/// plan merge-joins `seats` or `users` by reading an index whole (as the generic plan on tables
/// analyzed empty did).
pub(super) const ISSUE_TICKETS_SQL: &str =
    "INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, section, row_label, row_index,
                          seat_number, tier, price_cents, discount_cents, currency, holder_name, status, issued_at)
     SELECT gen_random_uuid(), r.id, r.booking_id, r.event_id, r.user_id, r.seat_id, s.section, s.row_label, s.row_index,
            s.seat_number, s.tier, r.price_cents, r.discount_cents, r.currency, u.holder, 'valid', $2
     FROM reservations r
     CROSS JOIN LATERAL (
         SELECT x.section, x.row_label, x.row_index, x.seat_number, x.tier FROM seats x WHERE x.id = r.seat_id LIMIT 1
     ) s
     CROSS JOIN LATERAL (
         SELECT COALESCE(NULLIF(x.name, ''), x.email) AS holder FROM users x WHERE x.id = r.user_id LIMIT 1
     ) u
     WHERE r.id = ANY($1)";

/// Issues a valid ticket for each of `reservation_ids` (reservations just confirmed, locked by the
/// confirm's transaction), each with a new random id; the holder is the buyer's name as it is now,
/// or the e-mail address when the name is empty. `tickets_reservation_key` refuses a second
/// ticket for a seat.
pub(super) async fn issue_tickets(
    conn: &mut PgConnection,
    reservation_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(ISSUE_TICKETS_SQL).bind(reservation_ids).bind(now).execute(&mut *conn).await?;
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
