//! Seat holds, reservations and bookings on PostgreSQL. A hold is queued (`hold_batch.rs`) and
//! placed with others in one statement, `HOLD_BATCH_SQL`, whose partial unique indexes decide
//! every seat and every hold slot (the per-user limit); only when it refuses are the reasons read,
//! and a hold that nothing refuses any more is placed again. Cancels lock the active reservations
//! they take, record the refunds of paid ones, revoke their tickets and offer the freed seats to
//! the event's waiting list (`waitlist.rs`) in the same transaction; expiry is one update, and the
//! offers of the seats it freed, in one transaction. Every statement reads its tables through an index condition whatever the
//! statistics say: sequential scans are off for the store's sessions (`mod.rs`) and each read is
//! written so that one index probe fits it (see the comment above `HOLD_BATCH_SQL`); the proof is
//! `plan_tests.rs`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgExecutor, PgPool};
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use super::audit::write_audit;
use super::payments::record_refunds;
use super::rows::{BookingSeatRow, ReservationRow, parse_stored, reservation_columns};
use super::tickets::revoke_tickets;
use super::waitlist::{offer_freed_seats, offer_lapsed_seats};
use super::{PostgresStore, TxError, is_deadlock, retry_deadlocks, settle};
use crate::domain::{
    Actor, AuditRecord, Booking, HoldExtension, HoldRequest, Refund, Reservation, ReservationFilter, ReservationStatus,
};
use crate::store::Entity;
use crate::store::batch::Batches;
use crate::store::hold_batch::{HoldOutcome, PendingHold};
use crate::store::outbox::{self, CanceledSeats};
use crate::store::{Cancellation, HoldStore, StoreError, StoreResult};

#[async_trait]
impl HoldStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking> {
        // A hold the statement left without its seats is explained by reading the store. When
        // nothing refuses it any more, it lost to a concurrent hold that is gone or that took a
        // hold slot of the same user who is still below the limit (two batches each gave a hold
        // the user's lowest free slot; the index let one have it). It is then placed again: it
        // wrote nothing. Each such loss means another hold of the user took a slot, so after
        // `limit` of them the user is at the limit and the refusal is named.
        // A hold that lost a type slot to a concurrent batch is placed again in the same way; each such
        // loss means another hold took a slot of the type, so `TYPE_SLOT_RETRIES` more tries bound it.
        let attempts =
            usize::try_from(request.limit.seats()).unwrap_or(usize::MAX).min(MAX_SLOT_RETRIES) + 2 + TYPE_SLOT_RETRIES;
        for _ in 0..attempts {
            if let Some(answer) = self.holds.hold(request.clone(), now).await.decided() {
                return answer;
            }
            if let Some(refusal) = self.hold_refusal(request, now).await? {
                return Err(refusal);
            }
        }
        Err(StoreError::Unavailable("the hold kept losing to concurrent holds; try again".into()))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> {
        fetch_reservation(&self.pool, id, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
        fetch_booking(&self.pool, id, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>> {
        let mut query = list_reservations_query(filter, now);
        let rows = query.build_query_as::<ReservationRow>().fetch_all(&self.pool).await?;
        rows.into_iter().map(|row| row.into_reservation(now)).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_reservation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Reservation>> {
        let outcome = retry_deadlocks(|| Box::pin(self.cancel_reservation_once(id, now, actor))).await;
        settle(outcome, "canceling the reservation")
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_booking(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Booking>> {
        let outcome = retry_deadlocks(|| Box::pin(self.cancel_booking_once(id, now, actor))).await;
        settle(outcome, "canceling the booking")
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn extend_hold(&self, id: Uuid, extension: HoldExtension, now: DateTime<Utc>) -> StoreResult<Booking> {
        self.extend_booking_hold(id, extension, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // One transaction: the seats it frees are offered to their events' waiting lists before
        // anyone else can hold them. A sweep that lost a deadlock wrote nothing and runs again.
        let outcome = retry_deadlocks(|| {
            Box::pin(async move {
                let mut tx = self.pool.begin().await?;
                let freed: Vec<(Uuid, Uuid, Uuid)> =
                    sqlx::query_as(EXPIRE_LAPSED_SQL).bind(now).fetch_all(&mut *tx).await?;
                offer_lapsed_seats(&mut tx, &freed, now).await?;
                tx.commit().await?;
                Ok(freed.len() as u64)
            })
        })
        .await;
        settle(outcome, "expiring lapsed holds")
    }
}

/// How many batch workers place holds; each uses one pooled connection while its batch runs.
pub(super) const HOLD_WORKERS: usize = 4;

/// Places batches of holds on the pool (see `HOLD_BATCH_SQL`).
pub(super) struct PgHoldBatches {
    pub(super) pool: PgPool,
}

/// A hold that lost a deadlock wrote nothing, so it is simply tried again, this many times in all.
const HOLD_ATTEMPTS: usize = 3;
/// A hold that lost only a hold slot to another hold of the same user is placed again, at most
/// this many times more than twice (see `hold`).
const MAX_SLOT_RETRIES: usize = 32;
/// How many more times a hold that lost only type slots to concurrent batches is placed again.
const TYPE_SLOT_RETRIES: usize = 32;

#[async_trait]
impl Batches for PgHoldBatches {
    type Request = PendingHold;
    type Outcome = HoldOutcome;

    fn stopped(why: StoreError) -> HoldOutcome {
        HoldOutcome::Failed(why)
    }

    async fn commit(&self, batch: &[PendingHold]) -> Vec<HoldOutcome> {
        for attempt in 1..=HOLD_ATTEMPTS {
            match self.try_hold_batch(batch).await {
                Ok(outcomes) => return outcomes,
                // The whole transaction was rolled back; nothing was written.
                Err(err) if is_deadlock(&err) && attempt < HOLD_ATTEMPTS => {}
                Err(err) if is_deadlock(&err) => return batch.iter().map(|_| HoldOutcome::Undecided).collect(),
                Err(err) => {
                    let err = StoreError::from(err);
                    return batch.iter().map(|_| HoldOutcome::Failed(err.clone())).collect();
                }
            }
        }
        batch.iter().map(|_| HoldOutcome::Undecided).collect()
    }
}

impl PgHoldBatches {
    async fn try_hold_batch(&self, batch: &[PendingHold]) -> Result<Vec<HoldOutcome>, sqlx::Error> {
        let (mut seat_holds, mut seat_ids, mut seat_ranks) = (Vec::new(), Vec::new(), Vec::new());
        let mut seat_types: Vec<Option<String>> = Vec::new();
        // Per seat: whether the hold's access code unlocks the hidden type it names.
        let mut seat_unlocked: Vec<bool> = Vec::new();
        let (mut idx, mut bookings, mut users, mut events, mut nows, mut expiries, mut counts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut limits, mut admitted, mut presale, mut accessible) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, hold) in batch.iter().enumerate() {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let request = &hold.request;
            for ((rank, seat), ticket_type) in (1_i32..).zip(request.seats.ids()).zip(request.seats.ticket_types()) {
                seat_unlocked.push(ticket_type.as_ref().is_some_and(|t| request.unlocked_types.contains(t)));
                seat_types.push(ticket_type.clone());
                seat_holds.push(i);
                seat_ids.push(*seat);
                seat_ranks.push(rank);
            }
            idx.push(i);
            bookings.push(request.booking_id);
            users.push(request.user_id);
            events.push(request.event_id);
            nows.push(hold.now);
            expiries.push(hold.now + request.ttl.duration());
            counts.push(i32::try_from(request.seats.ids().len()).unwrap_or(i32::MAX));
            limits.push(i32::try_from(request.limit.seats()).unwrap_or(i32::MAX));
            admitted.push(request.admitted);
            presale.push(request.presale);
            accessible.push(request.accessible);
        }
        let query = sqlx::query_as(HOLD_BATCH_SQL)
            .bind(&seat_holds)
            .bind(&seat_ids)
            .bind(&idx)
            .bind(&bookings)
            .bind(&users)
            .bind(&events)
            .bind(&nows)
            .bind(&expiries)
            .bind(&counts)
            .bind(&limits)
            .bind(&seat_ranks)
            .bind(&admitted)
            .bind(&seat_types)
            .bind(&presale)
            .bind(&seat_unlocked)
            .bind(&accessible);
        // A single-seat hold gets its seat or writes nothing, so a batch of them is one statement
        // in autocommit: no BEGIN and COMMIT round trips. Only a multi-seat hold can be partly
        // placed, and undoing that needs the batch's transaction.
        let held = if batch.iter().all(|hold| hold.request.seats.ids().len() == 1) {
            rows_by_hold(batch, query.fetch_all(&self.pool).await?)
        } else {
            let mut tx = self.pool.begin().await?;
            let held = rows_by_hold(batch, query.fetch_all(&mut *tx).await?);
            // The holds that got some of their seats but not all.
            let undone: Vec<Uuid> = batch
                .iter()
                .zip(&held)
                .filter(|(hold, rows)| !rows.is_empty() && rows.len() != hold.request.seats.ids().len())
                .map(|(hold, _)| hold.request.booking_id)
                .collect();
            if !undone.is_empty() {
                sqlx::query(UNDO_RESERVATIONS_SQL).bind(&undone).execute(&mut *tx).await?;
                sqlx::query(UNDO_BOOKINGS_SQL).bind(&undone).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            held
        };
        Ok(batch
            .iter()
            .zip(held)
            .map(|(hold, rows)| {
                if rows.len() != hold.request.seats.ids().len() {
                    return HoldOutcome::Undecided;
                }
                // The stored timestamp (microseconds) is the one every later read will show.
                let created_at = rows.first().map_or(hold.now, |row| row.created_at);
                let booked = rows
                    .into_iter()
                    .map(|row| row.into_reservation(hold.now))
                    .collect::<StoreResult<Vec<_>>>()
                    .and_then(|reservations| {
                        Booking::from_reservations(hold.request.booking_id, created_at, reservations)
                            .ok_or_else(|| StoreError::Internal("a hold returned no reservations".into()))
                    });
                match booked {
                    Ok(booking) => HoldOutcome::Held(booking),
                    Err(err) => HoldOutcome::Failed(err),
                }
            })
            .collect())
    }
}

/// Deletes the reservations of holds that did not get all their seats (`$1` their booking ids).
pub(super) const UNDO_RESERVATIONS_SQL: &str = "DELETE FROM reservations WHERE booking_id = ANY ($1)";
/// Deletes those holds' bookings, after their reservations.
pub(super) const UNDO_BOOKINGS_SQL: &str = "DELETE FROM bookings WHERE id = ANY ($1)";

// ---------------------------------------------------------------------------------------------
// The hold: one statement, atomic by itself in autocommit, so a multi-seat hold is all or nothing.
//
// Its plan must not depend on the statistics: the generic plan is made on a connection's first
// hold, maybe right after an `ANALYZE` of the empty table, and then kept. Sequential scans are off
// for the store's sessions (`mod.rs`), and every read of a table is written so that one index
// probe is the only plan the planner has for it, whatever sizes it believes:
// - a read keyed by another row's column is a `LATERAL` subquery fenced by `LIMIT` (or an
//   aggregate): its key is then a parameter of the probe, not a join clause that a merge or hash
//   join could answer by reading a whole index in key order;
// - an update of rows found elsewhere names their ids as an array (`x.id = ANY (ids)`), which only
//   the primary key can serve;
// - no condition implies the predicate of a partial index that should not serve the read (a status
//   re-checked as `(…) IS TRUE` proves nothing to the planner), so no partial index is read whole.
//
// - `open_event` takes a share lock on each event row, in id order: a concurrent cancel (or edit)
//   of the event waits for holds in flight, and a hold that waited re-checks `on_sale` and
//   `start_time` on the committed row, so no hold can slip in beside a cancellation. The sale's
//   opening (`on_sale_at`) is judged on the same row, in the same join: a hold before it gets
//   no seat, and nothing the statement read first could let it through (the opening moving
//   earlier or later waits for the share lock like any edit). The waiting room is judged there
//   too: a hold with no admission gets no seat of an event whose queue is enabled.
// - Each wanted seat is one probe of the unique index on (event_id, seat_id) (`lapsed`): written
//   as `seat_id = ANY($2)` or a plain join, the planner may scan every active reservation of the
//   event instead (O(n) per hold) whenever its statistics underrate the event, e.g. a new event in
//   an on-sale spike or a fresh table. The probe names neither `status = 'held'` nor the lapse
//   (both are checked on the row it returns), so `reservations_lapsing_idx` cannot serve it; of
//   the indexes that can, the unique one it matches whole is the cheapest whatever the statistics
//   (one row at most).
// - Hold slots (the per-user limit, `reservations_hold_slot_uq` on (event_id, user_id, hold_slot)
//   for held rows): `mine` reads, per hold, its user's held rows of its event in one range scan of
//   that index: the slots of those not lapsed, and the ids of those lapsed. Statistics taken while
//   one buyer held a few seats of one event said every row was that event's and that buyer's, so
//   a generic plan made once the table had grown read every held row (the lapsing index) or the
//   event's reservations instead: O(rows) per hold. Migration 0018 keeps the lapsing index to reads
//   that name the lapse and takes away the statistics of the buyer and event columns, so this probe
//   stays the cheapest plan (`plan_tests.rs`, `…after_one_buyers_holds_were_analyzed`). The scan has
//   no condition on `expires_at` (the aggregate sorts the lapse out): with one, the planner read every
//   unexpired hold of the table through `reservations_lapsing_idx` for each hold (batches 5x slower
//   with 64 users holding 30 seats each). It names `hold_slot IS NOT NULL`, the index's predicate
//   besides the status, which also keeps the index out of the seat probes.
// - `placed` gives each hold the lowest free slots in 1..=limit, one per seat (its `nth` seat,
//   `$11`, takes `free[nth]`); the first k free slots are among the first held + k, so no more
//   numbers are tried. A hold with fewer free slots than seats inserts nothing. Each CTE carries
//   what the next needs, so none is joined back to another per hold, and there are no window
//   functions (with them, batches of 64 took 9 ms instead of 5).
// - `lapsed` writes down, before any insert, the lapsed holds on the wanted seats and the users'
//   lapsed holds of their events (their slots were counted free), by id: one row of ids drives
//   probes of the primary key. An unreferenced data-modifying CTE would run after the main
//   statement, too late for the unique indexes; reading its count in `inserted`'s WHERE (an
//   InitPlan) makes it run first. The status and the lapse are re-checked on the row (a confirm or
//   a checkout may have changed it since the snapshot). Written as a join of `reservations` with
//   the stale rows, a generic plan made on an empty table read `reservations` in a loop, once per
//   stale row (5,605 loops over 295 rows for one batch of 19 holds: 333 ms).
// - Type slots (a ticket type's quota, `reservations_type_slot_uq` on (event_id, ticket_type,
//   type_slot) for active rows, migration 0024) are given the way hold slots are: `type_free` reads,
//   per quota'd type the batch takes, the type's active rows in one range scan of that index (the
//   slots of those confirmed or not lapsed, and the ids of the lapsed holds, which `lapsed` writes
//   down first), and takes the lowest free slots in 1..=quota, as many as the batch's seats of the
//   type; `typed` gives the k-th such seat (in hold order) the k-th slot, so no two holds of a batch
//   share one. A hold with a seat left without a slot inserts nothing. Two batches running at once
//   may pick the same slot: the index lets one have it (`ON CONFLICT DO NOTHING` skips the other's
//   row, after waiting for its commit), and the loser is placed again or refused `TypeSoldOut` by
//   `hold_refusal`. The type, its quota and its price for the seat's tier come from the event row
//   `open_event` already holds (its JSON), never a table read of their own. The scan costs one
//   index entry per active seat of the type (at most its quota).
// - Rows are inserted in seat-id order so that two overlapping multi-seat holds wait on each other
//   in the same order instead of deadlocking.
// - A booking row is written only for a hold that got at least one seat, after its reservations:
//   foreign keys are checked at the end of the statement, when both rows exist. So a single-seat
//   hold that lost writes nothing at all, and a batch of single-seat holds needs no transaction.
// - The unique indexes are the only referees, nothing is checked first: `ON CONFLICT DO NOTHING`
//   skips a row whose seat someone holds or bought (`reservations_active_seat_uq`), or whose slot
//   another hold of the user took since this statement's snapshot (`reservations_hold_slot_uq`,
//   which waits for that hold's commit, so the user never holds more than the limit).
/// Places a batch of holds (see `PgHoldBatches`): the per-seat arrays `$1` (which hold), `$2` (seat)
/// and `$11` (its place in its hold: 1, 2, ...), and per hold `$3` index, `$4` booking, `$5` user,
/// `$6` event, `$7` its `now`, `$8` its expiry, `$9` how many seats it asks for, `$10` its user's
/// limit of held seats, `$12` whether it carries an admission of the event's waiting room, `$14`
/// whether an access code unlocks the event's presale for it, `$16` whether it is an accessible
/// hold (issue 19), and per seat `$13` the ticket type it names (NULL: the event's first) and `$15`
/// whether the hold's access code unlocks that type when it is hidden (a hidden type not unlocked
/// is, to the hold, a type the event does not sell). Before the event's accessible release
/// (`accessible_release_hours` before its start, on the row `open_event` locks) a hold naming a
/// wheelchair space or companion seat is written only if it is accessible, with at least one
/// wheelchair space and at most 3 companion seats per space. Each hold's event must be on sale,
/// open (its `on_sale_at` reached or none, or a presale unlocked), behind no enabled
/// waiting room unless the hold is admitted, and not started at its own `now`, every
/// one of its seats in the venue and priced, and its user must have a free hold slot per seat, or
/// nothing is written for it. Lapsed holds on the wanted seats and the users' lapsed holds of
/// their events are expired first; then the partial unique indexes decide every seat and every
/// slot (`ON CONFLICT DO NOTHING`: a seat someone holds or bought, or a slot just taken, is simply
/// not inserted). Returns the inserted reservations with their hold's index; a multi-seat hold
/// that got fewer rows than it asked for is undone by the caller, inside the same transaction.
pub(super) const HOLD_BATCH_SQL: &str = r#"
WITH req AS (
    SELECT * FROM unnest($3::int4[], $4::uuid[], $5::uuid[], $6::uuid[], $7::timestamptz[], $8::timestamptz[], $9::int4[],
                         $10::int4[], $12::bool[], $14::bool[], $16::bool[])
        AS r (idx, booking_id, user_id, event_id, held_at, expires_at, seat_count, hold_limit, admitted, presale, accessible)
), open_event AS (
    SELECT e.*
    FROM (SELECT DISTINCT event_id FROM req ORDER BY event_id) q
    CROSS JOIN LATERAL (
        SELECT x.id, x.venue_id, x.currency, x.start_time, x.on_sale_at, x.queue_enabled, x.ticket_types,
               x.accessible_release_hours
        FROM events x
        WHERE x.id = q.event_id AND x.status = 'on_sale'
        FOR SHARE
    ) e
), wanted AS (
    SELECT r.idx, r.booking_id, s.id AS seat_id, s.section, s.row_label, s.row_index, s.seat_number, s.tier, p.price_cents, oe.currency,
           want.nth, tt.ticket_type, tt.quota,
           -- Accessible seating: the seat's kind, and whether the event holds such seats back at
           -- the hold's `now` (judged on the event row locked above, like the opening).
           (',' || s.attributes || ',') LIKE '%,wheelchair,%' AS wheelchair,
           (',' || s.attributes || ',') LIKE '%,companion,%' AS companion,
           coalesce(r.held_at < oe.start_time - make_interval(hours => oe.accessible_release_hours), false)
               AS before_release
    FROM unnest($1::int4[], $2::uuid[], $11::int4[], $13::text[], $15::bool[]) AS want (idx, seat_id, nth, ticket_type, unlocked)
    JOIN req r ON r.idx = want.idx
    JOIN open_event oe ON oe.id = r.event_id AND oe.start_time > r.held_at
                       AND (oe.on_sale_at IS NULL OR oe.on_sale_at <= r.held_at OR r.presale)
                       AND (oe.queue_enabled IS NOT TRUE OR r.admitted)
    -- One primary-key probe per seat, and one per price: a plain join let the generic plan hash
    -- the whole venue.
    CROSS JOIN LATERAL (SELECT * FROM seats x WHERE x.id = want.seat_id LIMIT 1) s
    -- The seat's ticket type, from the event row already read (its JSON, migration 0024): the one
    -- the seat names, else the first; an event without types of its own sells `standard`. A
    -- hidden type is found only when the hold's access code unlocked it (`$15`).
    CROSS JOIN LATERAL (
        SELECT t.v ->> 'name' AS ticket_type, (t.v ->> 'quota')::int4 AS quota, t.v -> 'prices' AS type_prices
        FROM jsonb_array_elements(coalesce(oe.ticket_types::jsonb, '[{"name": "standard"}]'::jsonb))
             WITH ORDINALITY AS t (v, pos)
        WHERE CASE WHEN want.ticket_type IS NULL THEN t.pos = 1 ELSE t.v ->> 'name' = want.ticket_type END
          AND ((t.v ->> 'hidden')::bool IS NOT TRUE OR want.unlocked)
        LIMIT 1
    ) tt
    -- Its price for the seat's tier: the type's, or the event's prices for `standard`.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN oe.ticket_types IS NULL THEN (
                   SELECT x.price_cents FROM event_prices x WHERE x.event_id = oe.id AND x.tier = s.tier LIMIT 1
               ) ELSE (
                   SELECT (pp ->> 'price_cents')::int8 FROM jsonb_array_elements(tt.type_prices) AS pp
                   WHERE pp ->> 'tier' = s.tier LIMIT 1
               ) END AS price_cents
    ) p
    WHERE s.venue_id = oe.venue_id AND p.price_cents IS NOT NULL
), valid AS (
    SELECT r.* FROM req r
    JOIN (
        SELECT idx, count(*) AS seats,
               count(*) FILTER (WHERE before_release AND (wheelchair OR companion)) AS held_back,
               count(*) FILTER (WHERE wheelchair) AS spaces,
               count(*) FILTER (WHERE companion AND NOT wheelchair) AS companions
        FROM wanted GROUP BY idx
    ) found ON found.idx = r.idx
    WHERE found.seats = r.seat_count
      -- A held-back seat goes only to an accessible hold of at least one wheelchair space with at
      -- most 3 companion seats per space (`domain::may_hold_held_back`).
      AND (found.held_back = 0 OR (r.accessible AND found.spaces >= 1 AND found.companions <= 3 * found.spaces))
), mine AS (
    SELECT v.*, m.taken, m.lapsed
    FROM valid v
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(y.hold_slot) FILTER (WHERE y.expires_at > v.held_at), '{}') AS taken,
               coalesce(array_agg(y.id) FILTER (WHERE y.expires_at <= v.held_at), '{}') AS lapsed
        FROM reservations y
        WHERE y.event_id = v.event_id AND y.user_id = v.user_id AND y.status = 'held' AND y.hold_slot IS NOT NULL
    ) m
), placed AS (
    SELECT mi.*, f.free
    FROM mine mi
    -- Fenced (`OFFSET 0`), so that the free slots are looked for once, not once per use.
    CROSS JOIN LATERAL (
        SELECT ARRAY(
            SELECT g.slot FROM generate_series(1, least(mi.hold_limit, cardinality(mi.taken) + mi.seat_count)) AS g (slot)
            WHERE g.slot <> ALL (mi.taken)
            ORDER BY g.slot
            LIMIT mi.seat_count
        ) AS free
        OFFSET 0
    ) f
    WHERE cardinality(f.free) = mi.seat_count
), type_need AS (
    -- The quota'd types the placed holds take, with how many of their seats.
    SELECT v.event_id, w.ticket_type, w.quota, min(v.held_at) AS held_at, count(*)::int4 AS seats
    FROM placed v JOIN wanted w ON w.idx = v.idx
    WHERE w.quota IS NOT NULL
    GROUP BY v.event_id, w.ticket_type, w.quota
), type_free AS (
    SELECT n.event_id, n.ticket_type, n.held_at, m.lapsed, f.free
    FROM type_need n
    CROSS JOIN LATERAL (
        SELECT coalesce(array_agg(y.type_slot) FILTER (WHERE y.status = 'confirmed' OR y.expires_at > n.held_at), '{}')
                   AS taken,
               coalesce(array_agg(y.id) FILTER (WHERE y.status = 'held' AND y.expires_at <= n.held_at), '{}') AS lapsed
        FROM reservations y
        WHERE y.event_id = n.event_id AND y.ticket_type = n.ticket_type AND y.status IN ('held', 'confirmed')
          AND y.type_slot IS NOT NULL
    ) m
    CROSS JOIN LATERAL (
        SELECT ARRAY(
            SELECT g.slot FROM generate_series(1, least(n.quota, cardinality(m.taken) + n.seats)) AS g (slot)
            WHERE g.slot <> ALL (m.taken)
            ORDER BY g.slot
            LIMIT n.seats
        ) AS free
        OFFSET 0
    ) f
), typed AS (
    -- The k-th seat of a quota'd type in the batch (in hold order) takes the type's k-th free slot;
    -- NULL when the type has no more.
    SELECT w.idx, w.seat_id,
           tf.free[row_number() OVER (PARTITION BY tf.event_id, tf.ticket_type ORDER BY w.idx, w.nth)] AS type_slot
    FROM placed v
    JOIN wanted w ON w.idx = v.idx
    JOIN type_free tf ON tf.event_id = v.event_id AND tf.ticket_type = w.ticket_type
), lapsed AS (
    UPDATE reservations x SET status = 'expired', updated_at = lapse.held_at
    FROM (
        SELECT array_agg(stale.id) AS ids, max(stale.held_at) AS held_at
        FROM (
            -- The lapsed holds on the wanted seats: the seat's active row, if it is a lapsed hold.
            SELECT y.id, v.held_at
            FROM valid v
            JOIN wanted w ON w.idx = v.idx
            CROSS JOIN LATERAL (
                SELECT y.id, y.status, y.expires_at FROM reservations y
                WHERE y.event_id = v.event_id AND y.seat_id = w.seat_id AND y.status IN ('held', 'confirmed')
                LIMIT 1
            ) y
            WHERE y.status = 'held' AND y.expires_at <= v.held_at
            UNION ALL
            -- The users' lapsed holds, whose slots `placed` counted free.
            SELECT l.id, v.held_at FROM placed v CROSS JOIN LATERAL unnest(v.lapsed) AS l (id)
            UNION ALL
            -- The lapsed holds of the quota'd types, whose slots `type_free` counted free.
            SELECT l.id, tf.held_at FROM type_free tf CROSS JOIN LATERAL unnest(tf.lapsed) AS l (id)
        ) stale
    ) lapse
    WHERE lapse.ids IS NOT NULL AND x.id = ANY (lapse.ids)
      AND (x.status = 'held' AND x.expires_at <= lapse.held_at) IS TRUE
    RETURNING x.id
), inserted AS (
    INSERT INTO reservations
        (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at, created_at, updated_at,
         hold_slot, ticket_type, type_slot)
    SELECT gen_random_uuid(), v.booking_id, v.user_id, v.event_id, w.seat_id, w.price_cents, w.currency, 'held',
           v.expires_at, v.held_at, v.held_at, v.free[w.nth], w.ticket_type, ty.type_slot
    FROM placed v
    JOIN wanted w ON w.idx = v.idx
    LEFT JOIN typed ty ON ty.idx = w.idx AND ty.seat_id = w.seat_id
    WHERE (SELECT count(*) FROM lapsed) >= 0
      -- A hold with a seat of a quota'd type left without a slot inserts nothing.
      AND NOT EXISTS (SELECT 1 FROM typed t WHERE t.idx = v.idx AND t.type_slot IS NULL)
    ORDER BY v.event_id, w.seat_id
    ON CONFLICT DO NOTHING
    RETURNING *
), booking AS (
    INSERT INTO bookings (id, user_id, event_id, created_at)
    SELECT booking_id, user_id, event_id, created_at FROM inserted
    GROUP BY booking_id, user_id, event_id, created_at
)
SELECT w.idx, r.id, r.booking_id, r.user_id, r.event_id, r.seat_id, w.section, w.row_label, w.seat_number, w.tier,
       r.ticket_type, r.price_cents, r.currency, r.status, r.expires_at, r.created_at
FROM inserted r
JOIN wanted w ON w.booking_id = r.booking_id AND w.seat_id = r.seat_id
ORDER BY w.idx, w.row_index, w.seat_number
"#;

#[derive(FromRow)]
struct BatchRow {
    idx: i32,
    #[sqlx(flatten)]
    reservation: ReservationRow,
}

/// A batch's returned rows, grouped by the hold they belong to (in the batch's order).
fn rows_by_hold(batch: &[PendingHold], rows: Vec<BatchRow>) -> Vec<Vec<ReservationRow>> {
    let mut held: Vec<Vec<ReservationRow>> = batch.iter().map(|_| Vec::new()).collect();
    for row in rows {
        if let Some(slot) = usize::try_from(row.idx).ok().and_then(|i| held.get_mut(i)) {
            slot.push(row.reservation);
        }
    }
    held
}

/// The seat of reservation `r`, as `s`: one primary-key probe per reservation, fenced by `LIMIT` so
/// that no plan joins `seats` by reading its primary key whole.
macro_rules! seat_of_r {
    () => {
        " CROSS JOIN LATERAL (
              SELECT x.section, x.row_label, x.row_index, x.seat_number, x.tier FROM seats x WHERE x.id = r.seat_id LIMIT 1
          ) s"
    };
}

/// A reservation with its seat (`$1` its id).
pub(super) const RESERVATION_SQL: &str =
    concat!("SELECT ", reservation_columns!(), " FROM reservations r", seat_of_r!(), " WHERE r.id = $1");

/// A booking's reservations with their seats, in seat order (`$1` the booking id).
pub(super) const BOOKING_SQL: &str = concat!(
    "SELECT b.created_at AS booking_created_at, ",
    reservation_columns!(),
    " FROM bookings b JOIN reservations r ON r.booking_id = b.id",
    seat_of_r!(),
    " WHERE b.id = $1 ORDER BY s.row_index, s.seat_number"
);

/// Writes down every lapsed hold at `$1` (the sweeper): found through `reservations_lapsing_idx`,
/// then locked in id order, the order a confirm or a cancel locks a booking's seats in (see
/// `mod.rs`), and re-checked as locked. Updated in the order the index gives (expiry, then where
/// the row lies), the sweep deadlocked with a confirm locking the same booking's seats by id.
pub(super) const EXPIRE_LAPSED_SQL: &str = "
WITH lapsed AS (
    SELECT id FROM reservations
    WHERE id = ANY (ARRAY(SELECT id FROM reservations WHERE status = 'held' AND expires_at <= $1))
      AND (status = 'held' AND expires_at <= $1) IS TRUE
    ORDER BY id
    FOR UPDATE
)
UPDATE reservations SET status = 'expired', updated_at = $1 WHERE id = ANY (ARRAY(SELECT id FROM lapsed))
RETURNING event_id, booking_id, seat_id";

/// Cancels the reservations `$1` (locked by `lock_active_sql!`) at `$2`.
pub(super) const CANCEL_LOCKED_SQL: &str =
    "UPDATE reservations SET status = 'canceled', updated_at = $2 WHERE id = ANY ($1)";

async fn fetch_reservation<'e>(
    executor: impl PgExecutor<'e>,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Reservation>> {
    let row: Option<ReservationRow> = sqlx::query_as(RESERVATION_SQL).bind(id).fetch_optional(executor).await?;
    row.map(|row| row.into_reservation(now)).transpose()
}

pub(super) async fn fetch_booking<'e>(
    executor: impl PgExecutor<'e>,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Booking>> {
    let rows: Vec<BookingSeatRow> = sqlx::query_as(BOOKING_SQL).bind(id).fetch_all(executor).await?;
    let Some(created_at) = rows.first().map(|row| row.booking_created_at) else {
        return Ok(None);
    };
    let reservations =
        rows.into_iter().map(|row| row.reservation.into_reservation(now)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Booking::from_reservations(id, created_at, reservations))
}

impl PostgresStore {
    async fn cancel_reservation_once(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> Result<Cancellation<Reservation>, TxError> {
        let mut tx = self.pool.begin().await?;
        let done = cancel_active(&mut tx, CancelScope::Reservation, id, now, actor).await?;
        done.offer(&mut tx, now).await?;
        let (canceled, refunds) = (done.count, done.refunds);
        outbox::refund_notices(&mut *tx, &refunds, CanceledSeats::Seat(id), now).await?;
        // Read inside the transaction: the answer matches what was written.
        let reservation = match fetch_reservation(&mut *tx, id, now).await? {
            None => return Err(StoreError::NotFound(Entity::Reservation).into()),
            Some(reservation) if canceled > 0 => reservation,
            Some(current) => {
                return Err(StoreError::reservation_not_active(current.status).into());
            }
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: reservation, refunds })
    }

    async fn cancel_booking_once(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> Result<Cancellation<Booking>, TxError> {
        let mut tx = self.pool.begin().await?;
        let done = cancel_active(&mut tx, CancelScope::Booking, id, now, actor).await?;
        done.offer(&mut tx, now).await?;
        let (canceled, refunds) = (done.count, done.refunds);
        outbox::refund_notices(&mut *tx, &refunds, CanceledSeats::Booking, now).await?;
        let booking = match fetch_booking(&mut *tx, id, now).await? {
            None => return Err(StoreError::NotFound(Entity::Booking).into()),
            Some(booking) if canceled > 0 => booking,
            Some(_) => return Err(StoreError::no_active_seats_left().into()),
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: booking, refunds })
    }
}

/// Which reservations a cancellation takes.
#[derive(Clone, Copy)]
pub(super) enum CancelScope {
    Reservation,
    Booking,
    Event,
}

/// Locks the active reservations whose `$column` is `$1` (in id order) and reads them as locked.
/// The status must come from the locked row, not from an earlier read: a confirm that committed
/// while this waited for the lock is then seen as `confirmed`, and its seat is refunded.
///
/// The rows are found by `$column`'s index first, then locked through the primary key by id:
/// written as one `WHERE … ORDER BY id`, the id order made the primary key (read whole, in order)
/// a plan for a booking's or an event's rows. The activity is checked as `(…) IS TRUE`, which
/// proves nothing to the planner, so `reservations_active_seat_uq` (whose predicate it would
/// imply) is not read whole either; it is re-checked on the locked row.
macro_rules! lock_active_sql {
    ($column:literal) => {
        concat!(
            "SELECT id, booking_id, price_cents - discount_cents, status, event_id, seat_id FROM reservations
             WHERE id = ANY (ARRAY(
                 SELECT id FROM reservations
                 WHERE ",
            $column,
            " = $1 AND (status = 'confirmed' OR (status = 'held' AND expires_at > $2)) IS TRUE
             ))
               AND (status = 'confirmed' OR (status = 'held' AND expires_at > $2)) IS TRUE
             ORDER BY id
             FOR UPDATE"
        )
    };
}

impl CancelScope {
    pub(super) fn lock_sql(self) -> &'static str {
        match self {
            CancelScope::Reservation => lock_active_sql!("id"),
            CancelScope::Booking => lock_active_sql!("booking_id"),
            CancelScope::Event => lock_active_sql!("event_id"),
        }
    }
}

/// What `cancel_active` did.
pub(super) struct CancelOutcome {
    pub(super) count: usize,
    pub(super) refunds: Vec<Refund>,
    /// The seats freed, as (event, seat).
    pub(super) freed: Vec<(Uuid, Uuid)>,
}

impl CancelOutcome {
    /// Offers the freed seats to their event's waiting list in the same transaction (a cancel
    /// frees one booking's seats, or one seat, of one event).
    pub(super) async fn offer(&self, conn: &mut PgConnection, now: DateTime<Utc>) -> Result<(), TxError> {
        let Some((event_id, _)) = self.freed.first() else {
            return Ok(());
        };
        let seats: Vec<Uuid> = self.freed.iter().map(|(_, seat_id)| *seat_id).collect();
        offer_freed_seats(conn, *event_id, &seats, now).await
    }
}

/// Cancels the active reservations of `scope` inside the caller's transaction, revokes the tickets
/// of the confirmed (paid) ones and records their refund on their booking's payment; how many
/// were canceled, the refunds to pay out and the seats freed. Errors stay `TxError` so that a lost
/// deadlock can be retried.
pub(super) async fn cancel_active(
    conn: &mut PgConnection,
    scope: CancelScope,
    key: Uuid,
    now: DateTime<Utc>,
    actor: Option<&Actor>,
) -> Result<CancelOutcome, TxError> {
    let locked: Vec<(Uuid, Uuid, i64, String, Uuid, Uuid)> =
        sqlx::query_as(scope.lock_sql()).bind(key).bind(now).fetch_all(&mut *conn).await?;
    if locked.is_empty() {
        return Ok(CancelOutcome { count: 0, refunds: Vec::new(), freed: Vec::new() });
    }
    // The rows are locked, so exactly these are canceled, with the statuses just read.
    let ids: Vec<Uuid> = locked.iter().map(|(id, ..)| *id).collect();
    sqlx::query(CANCEL_LOCKED_SQL).bind(&ids).bind(now).execute(&mut *conn).await?;
    // Per booking, what was paid for its confirmed seats (their price less their share of a
    // code's discount); held seats were never paid for. The confirmed seats are the ones with tickets.
    let mut paid: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut paid_seats: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    let mut ticketed: Vec<Uuid> = Vec::new();
    for (id, booking_id, price_cents, status, _, seat_id) in &locked {
        if parse_stored::<ReservationStatus>(status)? == ReservationStatus::Confirmed {
            *paid.entry(*booking_id).or_default() += price_cents;
            paid_seats.entry(*booking_id).or_default().push(*seat_id);
            ticketed.push(*id);
        }
    }
    revoke_tickets(conn, &ticketed, now).await?;
    let (refunds, recorded) = record_refunds(conn, &paid, now).await?;
    // An admin's cancel: each refund it recorded is audited in the same transaction.
    if let Some(actor) = actor {
        for mut refund in recorded {
            refund.seats = paid_seats.remove(&refund.booking_id).unwrap_or_default();
            write_audit(&mut *conn, &AuditRecord::payment_refunded(actor, &refund, now)).await?;
        }
    }
    let freed = locked.iter().map(|(.., event_id, seat_id)| (*event_id, *seat_id)).collect();
    Ok(CancelOutcome { count: locked.len(), refunds, freed })
}

/// A buyer's or an event's reservations, newest first, as a reader sees their status at `now`.
pub(super) fn list_reservations_query<'a>(
    filter: &ReservationFilter,
    now: DateTime<Utc>,
) -> QueryBuilder<'a, Postgres> {
    let mut query = QueryBuilder::<Postgres>::new(concat!(
        "SELECT ",
        reservation_columns!(),
        " FROM reservations r",
        seat_of_r!(),
        " WHERE true"
    ));
    if let Some(user_id) = filter.user_id {
        query.push(" AND r.user_id = ").push_bind(user_id);
    }
    if let Some(event_id) = filter.event_id {
        query.push(" AND r.event_id = ").push_bind(event_id);
    }
    // The filter is on the status a reader sees, so a lapsed hold is `expired`, not `held`.
    match filter.status {
        None => {}
        // `IS TRUE`: the lapsing index (of every held row) is never read for a buyer's or an
        // event's held seats, which their own indexes find.
        Some(ReservationStatus::Held) => {
            query.push(" AND (r.status = 'held') IS TRUE AND r.expires_at > ").push_bind(now);
        }
        Some(ReservationStatus::Expired) => {
            query.push(" AND (r.status = 'expired' OR (r.status = 'held' AND r.expires_at <= ").push_bind(now);
            query.push("))");
        }
        Some(status) => {
            query.push(" AND r.status = ").push_bind(status.as_str());
        }
    }
    query.push(" ORDER BY r.created_at DESC, r.booking_id, s.row_index, s.seat_number LIMIT ");
    query.push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);
    query
}
