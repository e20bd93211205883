//! Seat holds, reservations and bookings on SQLite. A hold waits in the hold queue for
//! `SqliteHoldBatches`, which places a whole batch in one `BEGIN IMMEDIATE` transaction on the
//! writer, where the partial unique index alone decides who gets a seat, and each held seat takes
//! one of its user's hold slots (`reservations_hold_slot_uq`, see `HoldLimit`). A cancel (of a
//! reservation, a booking, or from `catalog` of an event) is one transaction on the writer that
//! also records the refunds of paid seats, revokes their tickets and (but for an event's) offers
//! the freed seats to the event's waiting list (`waitlist.rs`); the expiry sweep is one statement
//! and the offers of the seats it freed, in one transaction. Every statement searches its tables through an index whatever `sqlite_stat1` says
//! (see the comment above `BATCH_EVENTS_SQL`; `tests.rs` proves it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::write_audit;
use super::payments::refund_on_payment;
use super::rows::{
    ACTIVE, RESERVATION_COLUMNS, enum_col, from_millis, id_text, ids_json, label_from_row, millis,
    reservation_from_row, time_col, uuid_col,
};
use super::tickets::revoke_tickets;
use super::waitlist::{offer_freed_seats, offer_lapsed_seats};
use crate::domain::{
    Actor, AuditRecord, Booking, EventStatus, HoldExtension, HoldLimit, HoldRequest, Price, Refund, Reservation,
    ReservationFilter, ReservationStatus, SeatAttribute, SeatLabel, TicketType, decode_ticket_types, held_back_refusal,
};
use crate::store::Entity;
use crate::store::batch::Batches;
use crate::store::hold_batch::{HoldOutcome, PendingHold};
use crate::store::outbox::{self, CanceledSeats};
use crate::store::rules::{free_type_slots, typed_price};
use crate::store::{Cancellation, HoldStore, StoreError, StoreResult};

#[async_trait]
impl HoldStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn hold(&self, request: &HoldRequest, now: DateTime<Utc>) -> StoreResult<Booking> {
        // The batch names every refusal itself (it is never `Undecided` here).
        let outcome = self.holds.hold(request.clone(), now).await;
        outcome.decided().unwrap_or_else(|| Err(StoreError::SeatsUnavailable(Vec::new())))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Reservation>> {
        let mut conn = self.reader.acquire().await?;
        load_reservation(&mut conn, id, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
        let mut conn = self.reader.acquire().await?;
        load_booking(&mut conn, id, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_reservations(&self, filter: &ReservationFilter, now: DateTime<Utc>) -> StoreResult<Vec<Reservation>> {
        let mut qb = list_reservations_query(filter, now);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(|row| reservation_from_row(row, now)).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_reservation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Reservation>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = cancel_active(&mut tx, CancelScope::Reservation, &id_text(id), now, actor).await?;
        done.offer(&mut tx, now).await?;
        let (canceled, refunds) = (done.count, done.refunds);
        outbox::refund_notices(&mut *tx, &refunds, CanceledSeats::Seat(id), now).await?;
        // Read inside the transaction: the answer matches what was written.
        let reservation = match load_reservation(&mut tx, id, now).await? {
            None => return Err(StoreError::NotFound(Entity::Reservation)),
            Some(reservation) if canceled > 0 => reservation,
            Some(reservation) => {
                return Err(StoreError::reservation_not_active(reservation.status));
            }
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: reservation, refunds })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_booking(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Cancellation<Booking>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = cancel_active(&mut tx, CancelScope::Booking, &id_text(id), now, actor).await?;
        done.offer(&mut tx, now).await?;
        let (canceled, refunds) = (done.count, done.refunds);
        outbox::refund_notices(&mut *tx, &refunds, CanceledSeats::Booking, now).await?;
        let booking = match load_booking(&mut tx, id, now).await? {
            None => return Err(StoreError::NotFound(Entity::Booking)),
            Some(booking) if canceled > 0 => booking,
            Some(_) => return Err(StoreError::no_active_seats_left()),
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: booking, refunds })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn extend_hold(&self, id: Uuid, extension: HoldExtension, now: DateTime<Utc>) -> StoreResult<Booking> {
        self.extend_booking_hold(id, extension, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // One transaction: the seats it frees are offered to their events' waiting lists before
        // anyone else can hold them.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(EXPIRE_LAPSED_SQL).bind(millis(now)).bind(millis(now)).fetch_all(&mut *tx).await?;
        let freed = rows
            .iter()
            .map(|row| Ok((uuid_col(row, "event_id")?, uuid_col(row, "booking_id")?, uuid_col(row, "seat_id")?)))
            .collect::<StoreResult<Vec<_>>>()?;
        offer_lapsed_seats(&mut tx, &freed, now).await?;
        tx.commit().await?;
        Ok(freed.len() as u64)
    }
}

/// Places batches of holds on the writer connection, in one `BEGIN IMMEDIATE` transaction and
/// four round trips to its thread whatever the batch size (begin, read, write, commit): read the
/// events, seats and prices the batch names, the rows that hold or sold its seats and the hold
/// slots its users hold, check each hold against them (a hold with fewer free slots than seats is
/// refused with its limit), write down as expired (by id) the lapsed holds on the wanted seats and
/// the users' lapsed holds of the events, insert the bookings, then insert every reservation with
/// its slot and `ON CONFLICT … DO NOTHING` on the partial unique index, which alone decides who
/// gets a seat. A hold that did not get all its seats is deleted again before the commit, and its
/// caller learns which seats were taken.
///
/// The slots and the lapsed holds are read and written under the write lock, so none can change
/// in between; the slot index (`reservations_hold_slot_uq`) is there all the same, so that a slot
/// given twice would fail the batch rather than let a user hold more than the limit.
pub(super) struct SqliteHoldBatches {
    pub(super) writer: SqlitePool,
}

#[async_trait]
impl Batches for SqliteHoldBatches {
    type Request = PendingHold;
    type Outcome = HoldOutcome;

    async fn commit(&self, batch: &[PendingHold]) -> Vec<HoldOutcome> {
        match self.try_hold_batch(batch).await {
            Ok(outcomes) => outcomes,
            Err(err) => batch.iter().map(|_| HoldOutcome::Failed(err.clone())).collect(),
        }
    }

    fn stopped(why: StoreError) -> HoldOutcome {
        HoldOutcome::Failed(why)
    }
}

impl SqliteHoldBatches {
    async fn try_hold_batch(&self, batch: &[PendingHold]) -> StoreResult<Vec<HoldOutcome>> {
        // The write lock is taken up front, so nothing can change what this transaction reads.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;

        // The batch's events with their prices, its seats, the rows that hold or sold them, and
        // its users' held slots: one round trip to the writer's thread (four statements, each
        // prepared once) whatever the batch size, the ids as JSON arrays. Every round trip of a
        // batch is time every other write waits for.
        let event_ids: BTreeSet<Uuid> = batch.iter().map(|hold| hold.request.event_id).collect();
        let seat_ids: BTreeSet<Uuid> = batch.iter().flat_map(|hold| hold.request.seats.ids().iter().copied()).collect();
        let wanted = serde_json::Value::Array(
            batch
                .iter()
                .flat_map(|hold| {
                    let event_id = id_text(hold.request.event_id);
                    hold.request.seats.ids().iter().map(move |seat| serde_json::json!([event_id, id_text(*seat)]))
                })
                .collect(),
        );
        // Per hold (by its place in the batch): its user and event.
        let holders = serde_json::Value::Array(
            batch
                .iter()
                .map(|hold| serde_json::json!([id_text(hold.request.event_id), id_text(hold.request.user_id)]))
                .collect(),
        );
        let rows = sqlx::query(&BATCH_READ_SQL)
            .bind(ids_json(&event_ids))
            .bind(ids_json(&seat_ids))
            .bind(wanted.to_string())
            .bind(holders.to_string())
            .bind(ids_json(&event_ids))
            .fetch_all(&mut *tx)
            .await?;
        let mut events: HashMap<Uuid, BatchEvent> = HashMap::new();
        let mut prices: HashMap<(Uuid, String), i64> = HashMap::new();
        let mut seats: HashMap<Uuid, BatchSeat> = HashMap::new();
        // The held or sold row of a wanted seat, by (event, seat): its id, status and expiry.
        let mut active: HashMap<(String, String), (String, String, i64)> = HashMap::new();
        // Per hold: its user's slots held and not lapsed at the hold's `now`, and the lapsed ones.
        let mut taken_slots: HashMap<usize, HashSet<i64>> = HashMap::new();
        let mut lapsed_slots: HashMap<usize, Vec<String>> = HashMap::new();
        // The type slots of the batch's events (see `TypeSlots`).
        let earliest = batch.iter().map(|hold| millis(hold.now)).min().unwrap_or_default();
        let mut type_slots = TypeSlots::default();
        for row in rows {
            let kind: &str = row.try_get("kind")?;
            if kind == "tslot" {
                let key = (uuid_col(&row, "event_id")?, row.try_get::<String, _>("ticket_type")?);
                let (status, expires_at): (String, i64) = (row.try_get("status")?, row.try_get("expires_at")?);
                if status == ReservationStatus::Held.as_str() && expires_at <= earliest {
                    type_slots.lapsed.entry(key).or_default().push(row.try_get("id")?);
                } else {
                    type_slots.taken.entry(key).or_default().insert(row.try_get("type_slot")?);
                }
                continue;
            }
            if kind == "slot" {
                let hold = usize::try_from(row.try_get::<i64, _>("hold")?)
                    .map_err(|_| StoreError::Internal("a hold's place in its batch is negative".into()))?;
                let now = batch.get(hold).map(|hold| millis(hold.now)).unwrap_or(i64::MAX);
                if row.try_get::<i64, _>("expires_at")? > now {
                    taken_slots.entry(hold).or_default().insert(row.try_get("hold_slot")?);
                } else {
                    lapsed_slots.entry(hold).or_default().push(row.try_get("id")?);
                }
                continue;
            }
            if kind == "active" {
                let key = (row.try_get("event_id")?, row.try_get("seat_id")?);
                active.insert(key, (row.try_get("id")?, row.try_get("status")?, row.try_get("expires_at")?));
                continue;
            }
            let id = uuid_col(&row, "id")?;
            if kind == "seat" {
                let seat = BatchSeat {
                    venue_id: row.try_get("venue_id")?,
                    label: label_from_row(&row)?,
                    row_index: row.try_get("row_index")?,
                    attributes: SeatAttribute::split(&row.try_get::<String, _>("attributes")?),
                };
                seats.insert(id, seat);
                continue;
            }
            if let Some(tier) = row.try_get::<Option<String>, _>("tier")? {
                prices.insert((id, tier), row.try_get("price_cents")?);
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = events.entry(id) {
                slot.insert(BatchEvent {
                    venue_id: row.try_get("venue_id")?,
                    status: enum_col(&row, "status")?,
                    start_time: time_col(&row, "start_time")?,
                    on_sale_at: row.try_get::<Option<i64>, _>("on_sale_at")?.map(from_millis).transpose()?,
                    queued: row.try_get::<Option<bool>, _>("queue_enabled")?.unwrap_or(false),
                    currency: row.try_get("currency")?,
                    stored_types: row.try_get("ticket_types")?,
                    types: Vec::new(),
                    release_hours: row
                        .try_get::<Option<i64>, _>("accessible_release_hours")?
                        .and_then(|hours| u32::try_from(hours).ok()),
                });
            }
        }

        // Each event's ticket types (its own, or `standard` at its prices).
        for (id, event) in &mut events {
            let event_prices: Vec<Price> = prices
                .iter()
                .filter(|((event_id, _), _)| event_id == id)
                .map(|((_, tier), price_cents)| Price { tier: tier.clone(), price_cents: *price_cents })
                .collect();
            event.types =
                decode_ticket_types(event.stored_types.as_deref(), &event_prices).map_err(StoreError::Internal)?;
        }

        // Each hold checked against what was read: its reservations to insert, each with its hold
        // slot and its type slot, or why not (an invalid hold before one over the limit, before a
        // type sold out). Type slots are given hold after hold, so two holds of the batch never get
        // the same one.
        let no_slots = HashSet::new();
        let checked: Vec<StoreResult<Vec<Placed>>> = batch
            .iter()
            .enumerate()
            .map(|(i, hold)| {
                let reservations = reservations_for(hold, &events, &seats)?;
                let taken = taken_slots.get(&i).unwrap_or(&no_slots);
                let with_hold_slots = with_slots(reservations, taken, hold.request.limit)?;
                let event = events.get(&hold.request.event_id).ok_or(StoreError::NotFound(Entity::Event))?;
                type_slots.give(with_hold_slots, &event.types)
            })
            .collect();
        let placed: Vec<&Placed> = checked.iter().filter_map(|c| c.as_ref().ok()).flatten().collect();

        // The writes, as three statements in one round trip. No availability check before them:
        // the partial unique index alone decides.
        let mut inserted: HashSet<String> = HashSet::new();
        if !placed.is_empty() {
            // A lapsed hold must never block: the lapsed holds on the wanted seats are written down
            // as expired before the index judges, and so are the users' lapsed holds of these
            // events, which keep their slots in the slot index until then (their slots were
            // counted free above). Found by the reads above, under the same write lock.
            let mut lapsed: Vec<String> = placed
                .iter()
                .filter_map(|(r, _, _)| {
                    let (id, status, expires_at) = active.get(&(id_text(r.event_id), id_text(r.seat_id)))?;
                    (status == ReservationStatus::Held.as_str() && *expires_at <= millis(r.created_at))
                        .then(|| id.clone())
                })
                .collect();
            for (i, checked) in checked.iter().enumerate() {
                if let (Ok(_), Some(ids)) = (checked, lapsed_slots.get(&i)) {
                    lapsed.extend(ids.iter().cloned());
                }
            }
            // The lapsed holds of the types given slots, whose slots were counted free.
            lapsed.extend(type_slots.lapsed_of_given());
            let latest = batch.iter().map(|hold| millis(hold.now)).max().unwrap_or_default();
            let mut qb = QueryBuilder::<Sqlite>::new(EXPIRE_BY_ID_SQL.0);
            qb.push_bind(latest).push(EXPIRE_BY_ID_SQL.1).push_bind(serde_json::Value::from(lapsed).to_string());
            qb.push(EXPIRE_BY_ID_SQL.2).push("; ");

            let bookings: Vec<&Reservation> =
                checked.iter().filter_map(|c| c.as_ref().ok()?.first()).map(|(r, _, _)| r).collect();
            qb.push("INSERT INTO bookings (id, user_id, event_id, created_at) ");
            qb.push_values(&bookings, |mut b, r| {
                b.push_bind(id_text(r.booking_id))
                    .push_bind(id_text(r.user_id))
                    .push_bind(id_text(r.event_id))
                    .push_bind(millis(r.created_at));
            });
            qb.push("; ");

            qb.push(
                "INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, \
                 status, expires_at, created_at, updated_at, hold_slot, ticket_type, type_slot) ",
            );
            qb.push_values(&placed, |mut b, (r, slot, type_slot)| {
                b.push_bind(id_text(r.id))
                    .push_bind(id_text(r.booking_id))
                    .push_bind(id_text(r.user_id))
                    .push_bind(id_text(r.event_id))
                    .push_bind(id_text(r.seat_id))
                    .push_bind(r.price_cents)
                    .push_bind(r.currency.clone())
                    .push_bind(ReservationStatus::Held.as_str())
                    .push_bind(millis(r.expires_at))
                    .push_bind(millis(r.created_at))
                    .push_bind(millis(r.created_at))
                    .push_bind(*slot)
                    .push_bind(r.ticket_type.clone())
                    .push_bind(*type_slot);
            });
            qb.push(" ON CONFLICT (event_id, seat_id) WHERE status IN ('held', 'confirmed') DO NOTHING RETURNING id");
            for row in qb.build().fetch_all(&mut *tx).await? {
                inserted.insert(row.try_get("id")?);
            }
        }

        // A hold that lost any seat keeps nothing: not its other seats, not its booking.
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut undone: Vec<Uuid> = Vec::new();
        for (hold, checked) in batch.iter().zip(checked) {
            let reservations: Vec<Reservation> = match checked {
                Ok(placed) => placed.into_iter().map(|(r, _, _)| r).collect(),
                Err(refusal) => {
                    outcomes.push(HoldOutcome::Refused(refusal));
                    continue;
                }
            };
            let lost: Vec<SeatLabel> =
                reservations.iter().filter(|r| !inserted.contains(&id_text(r.id))).map(|r| r.seat.clone()).collect();
            if lost.is_empty() {
                let created_at = reservations.first().map_or(hold.now, |r| r.created_at);
                outcomes.push(match Booking::from_reservations(hold.request.booking_id, created_at, reservations) {
                    Some(booking) => HoldOutcome::Held(booking),
                    None => HoldOutcome::Failed(StoreError::Internal("a hold without seats".into())),
                });
            } else {
                undone.push(hold.request.booking_id);
                outcomes.push(HoldOutcome::Refused(StoreError::SeatsUnavailable(lost)));
            }
        }
        if !undone.is_empty() {
            sqlx::query(&UNDO_SQL).bind(ids_json(&undone)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

// The statements read every table through an index whatever `sqlite_stat1` says (nothing here
// runs ANALYZE, but an operator may, on an empty file or a small one that then grows): where ids
// come as a JSON array, `json_each` drives the join (`CROSS JOIN` keeps SQLite from reordering
// it), and where a small table's statistics would make a scan look cheaper than the probe, the
// index is named (`INDEXED BY`, which fails the statement rather than let the plan change).
// `tests.rs` checks each plan has no `SCAN` of a table.

/// The batch's events with their prices (`?1`, ids as a JSON array): one primary-key probe each.
pub(super) const BATCH_EVENTS_SQL: &str = "SELECT 'event' AS kind, e.id, e.venue_id, e.status, e.start_time, \
     e.on_sale_at, e.queue_enabled, e.currency, e.ticket_types, e.accessible_release_hours, p.tier, p.price_cents \
     FROM json_each(?) AS k \
     CROSS JOIN events e INDEXED BY sqlite_autoindex_events_1 ON e.id = k.value \
     LEFT JOIN event_prices p INDEXED BY sqlite_autoindex_event_prices_1 ON p.event_id = e.id";
/// The batch's seats (`?1`, ids as a JSON array): one primary-key probe each.
pub(super) const BATCH_SEATS_SQL: &str = "SELECT 'seat' AS kind, s.id, s.venue_id, s.section, s.row_label, s.row_index, \
     s.seat_number, s.tier, s.attributes FROM json_each(?) AS k CROSS JOIN seats s ON s.id = k.value";
/// The held or sold row of each wanted seat (`?1`: [event, seat] pairs): one probe of the partial
/// unique index each.
pub(super) const BATCH_ACTIVE_SQL: &str = "SELECT 'active' AS kind, r.id, r.event_id, r.seat_id, r.status, \
     r.expires_at FROM json_each(?) AS w CROSS JOIN reservations r INDEXED BY reservations_active_seat_uq \
     ON r.event_id = w.value ->> 0 AND r.seat_id = w.value ->> 1 WHERE r.status IN ('held', 'confirmed')";
/// Per hold (`?1`: [event, user] by the hold's place in the batch), its user's held slots of its
/// event, lapsed or not: one range of the slot index each.
pub(super) const BATCH_SLOTS_SQL: &str = "SELECT 'slot' AS kind, h.key AS hold, r.id, r.hold_slot, r.expires_at \
     FROM json_each(?) AS h CROSS JOIN reservations r INDEXED BY reservations_hold_slot_uq \
     ON r.event_id = h.value ->> 0 AND r.user_id = h.value ->> 1 WHERE r.status = 'held' AND r.hold_slot IS NOT NULL";
/// The type slots taken in the batch's events (`?1`, ids as a JSON array), lapsed or not: the
/// active rows of quota'd types, one range of the type slot index per event (at most the sum of
/// the event's quotas).
pub(super) const BATCH_TYPE_SLOTS_SQL: &str = "SELECT 'tslot' AS kind, r.id, r.event_id, r.ticket_type, r.type_slot, \
     r.status, r.expires_at FROM json_each(?) AS k CROSS JOIN reservations r INDEXED BY reservations_type_slot_uq \
     ON r.event_id = k.value WHERE r.status IN ('held', 'confirmed') AND r.type_slot IS NOT NULL";
/// The five reads of a batch, in one round trip to the writer's thread.
static BATCH_READ_SQL: LazyLock<String> = LazyLock::new(|| {
    [BATCH_EVENTS_SQL, BATCH_SEATS_SQL, BATCH_ACTIVE_SQL, BATCH_SLOTS_SQL, BATCH_TYPE_SLOTS_SQL].join("; ")
});

/// Writes down lapsed holds by id, around two binds (now, the ids as a JSON array), re-checking
/// that each is still held. Joined to the batch's `VALUES` instead (an `UPDATE … FROM`), SQLite
/// read `reservations` whole, through a partial index that a file analyzed while empty says has
/// no rows, for every batch.
pub(super) const EXPIRE_BY_ID_SQL: (&str, &str, &str) = (
    "UPDATE reservations INDEXED BY sqlite_autoindex_reservations_1 SET status = 'expired', updated_at = ",
    " WHERE id IN (SELECT value FROM json_each(",
    ")) AND status = 'held'",
);

/// Writes down every lapsed hold (binds: now, now), through `reservations_lapsing_idx`.
pub(super) const EXPIRE_LAPSED_SQL: &str = "UPDATE reservations SET status = 'expired', updated_at = ? WHERE status = 'held' AND expires_at <= ? \
     RETURNING event_id, booking_id, seat_id";

/// Deletes the reservations of holds that did not get all their seats (`?1`, booking ids as JSON).
pub(super) const UNDO_RESERVATIONS_SQL: &str = "DELETE FROM reservations INDEXED BY reservations_booking_idx \
     WHERE booking_id IN (SELECT value FROM json_each(?1))";
/// Deletes those holds' bookings, after their reservations (by the primary key's index).
pub(super) const UNDO_BOOKINGS_SQL: &str = "DELETE FROM bookings INDEXED BY sqlite_autoindex_bookings_1 \
     WHERE id IN (SELECT value FROM json_each(?1))";
/// Both, in one round trip.
static UNDO_SQL: LazyLock<String> = LazyLock::new(|| [UNDO_RESERVATIONS_SQL, UNDO_BOOKINGS_SQL].join("; "));

/// The reservations of one hold, each with a hold slot of its user that is free (not in `taken`,
/// the slots held and not lapsed), lowest first; `HoldLimitReached` when fewer than one per seat
/// are left below the limit.
fn with_slots(
    reservations: Vec<Reservation>,
    taken: &HashSet<i64>,
    limit: HoldLimit,
) -> StoreResult<Vec<(Reservation, i64)>> {
    let free: Vec<i64> =
        (1..=i64::from(limit.seats())).filter(|slot| !taken.contains(slot)).take(reservations.len()).collect();
    if free.len() < reservations.len() {
        return Err(StoreError::HoldLimitReached { limit: limit.seats() });
    }
    Ok(reservations.into_iter().zip(free).collect())
}

/// One wanted seat as the batch read it.
struct BatchSeat {
    venue_id: String,
    label: SeatLabel,
    row_index: i64,
    attributes: Vec<SeatAttribute>,
}

/// The event of a hold as the batch read it.
struct BatchEvent {
    venue_id: String,
    status: EventStatus,
    start_time: DateTime<Utc>,
    /// When holds open; `None`: on sale at once.
    on_sale_at: Option<DateTime<Utc>>,
    /// Whether its waiting room is enabled: only admitted holds get seats.
    queued: bool,
    currency: String,
    /// `events.ticket_types` as stored, decoded into `types` once its prices are read.
    stored_types: Option<String>,
    types: Vec<TicketType>,
    /// Hours before the start its wheelchair spaces and companion seats are held back; `None`: never.
    release_hours: Option<u32>,
}

/// A reservation about to be inserted, with its hold slot and its type slot (`None`: its type has
/// no quota).
type Placed = (Reservation, i64, Option<i64>);

/// The type slots of a batch's events (migration 0024): per (event, type), the slots that active
/// rows hold (confirmed, or held past the batch's earliest `now`) and the ids of lapsed holds,
/// whose slots count free and which are written down as expired before the insert. Read under the
/// batch's write lock, so nothing changes them meanwhile; `reservations_type_slot_uq` is there all
/// the same, so that a slot given twice fails the batch rather than sell past a quota.
#[derive(Default)]
struct TypeSlots {
    taken: HashMap<(Uuid, String), HashSet<i64>>,
    lapsed: HashMap<(Uuid, String), Vec<String>>,
    /// The types some hold of the batch took slots of.
    given: HashSet<(Uuid, String)>,
}

impl TypeSlots {
    /// Gives each reservation of a quota'd type the lowest free slot of its type, all or none:
    /// `TypeSoldOut` (naming the first type short) when a type has fewer left than the hold asks.
    fn give(&mut self, reservations: Vec<(Reservation, i64)>, types: &[TicketType]) -> StoreResult<Vec<Placed>> {
        let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
        for (r, _) in &reservations {
            *wanted.entry(r.ticket_type.as_str()).or_default() += 1;
        }
        let mut slots: HashMap<String, Vec<i64>> = HashMap::new();
        for (name, count) in wanted {
            let Some(quota) = types.iter().find(|t| t.name == name).and_then(|t| t.quota) else { continue };
            let Some((first, _)) = reservations.first() else { continue };
            let key = (first.event_id, name.to_owned());
            let taken = self.taken.get(&key).cloned().unwrap_or_default();
            let free = free_type_slots(quota, &taken, count)
                .ok_or_else(|| StoreError::TypeSoldOut { ticket_type: name.to_owned() })?;
            slots.insert(name.to_owned(), free);
        }
        // All the types have room: the slots are now this hold's.
        for (name, free) in &slots {
            let Some((first, _)) = reservations.first() else { break };
            let key = (first.event_id, name.clone());
            self.taken.entry(key.clone()).or_default().extend(free.iter().copied());
            self.given.insert(key);
        }
        Ok(reservations
            .into_iter()
            .map(|(r, slot)| {
                let type_slot = slots.get_mut(&r.ticket_type).and_then(Vec::pop);
                (r, slot, type_slot)
            })
            .collect())
    }

    /// The ids of the lapsed holds of the types slots were given of.
    fn lapsed_of_given(&self) -> impl Iterator<Item = String> + '_ {
        self.given.iter().filter_map(|key| self.lapsed.get(key)).flatten().cloned()
    }
}

/// The reservations one hold would make, in seat order, or why it cannot be placed at all.
fn reservations_for(
    hold: &PendingHold,
    events: &HashMap<Uuid, BatchEvent>,
    seats: &HashMap<Uuid, BatchSeat>,
) -> StoreResult<Vec<Reservation>> {
    let request = &hold.request;
    // Times go back to the caller exactly as they will read later: whole milliseconds.
    let created_at = from_millis(millis(hold.now))?;
    let expires_at = from_millis(millis(hold.now + request.ttl.duration()))?;
    let event = events.get(&request.event_id).ok_or(StoreError::NotFound(Entity::Event))?;
    if event.status == EventStatus::Canceled {
        return Err(StoreError::event_canceled());
    }
    if event.start_time <= hold.now {
        return Err(StoreError::event_started());
    }
    // Read under the batch's write lock, so no change of the opening or the waiting room can land
    // between this check and the hold's insert.
    if let Some(on_sale_at) = event.on_sale_at.filter(|opens| *opens > hold.now && !request.presale) {
        return Err(StoreError::NotOnSale { on_sale_at });
    }
    if event.queued && !request.admitted {
        return Err(StoreError::QueueRequired);
    }
    let mut wanted = Vec::with_capacity(request.seats.ids().len());
    for id in request.seats.ids() {
        match seats.get(id) {
            Some(seat) if seat.venue_id == event.venue_id => wanted.push((*id, seat)),
            _ => {
                return Err(StoreError::seat_not_in_venue(*id));
            }
        }
    }
    wanted.sort_by_key(|(_, seat)| (seat.row_index, seat.label.seat_number));
    // Accessible seating, judged on the event and seats read under the batch's write lock.
    let kinds: Vec<(&SeatLabel, &[SeatAttribute])> =
        wanted.iter().map(|(_, seat)| (&seat.label, seat.attributes.as_slice())).collect();
    if let Some(refusal) =
        held_back_refusal(&kinds, request.accessible, event.start_time, event.release_hours, hold.now)
    {
        return Err(StoreError::HeldBack(refusal));
    }
    wanted
        .into_iter()
        .map(|(seat_id, seat)| {
            // Selling an unpriced seat for nothing would be worse than refusing it.
            let (ticket_type, price_cents, _) = typed_price(
                &event.types,
                request.seats.ticket_type(seat_id),
                &request.unlocked_types,
                seat_id,
                &seat.label.tier,
            )?;
            Ok(Reservation {
                id: Uuid::new_v4(),
                booking_id: request.booking_id,
                user_id: request.user_id,
                event_id: request.event_id,
                seat_id,
                seat: seat.label.clone(),
                ticket_type,
                price_cents,
                currency: event.currency.clone(),
                status: ReservationStatus::Held.effective(expires_at, created_at),
                expires_at,
                created_at,
            })
        })
        .collect()
}

// These reads take a connection so they can run inside a transaction.

async fn load_reservation(
    conn: &mut SqliteConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Reservation>> {
    let row = sqlx::query(&reservation_sql()).bind(id_text(id)).fetch_optional(&mut *conn).await?;
    row.map(|row| reservation_from_row(&row, now)).transpose()
}

/// A booking's (`?`) reservations with their seats and the booking's time, in seat order: the
/// booking's range of `reservations_booking_idx` drives (a small `bookings` table's statistics
/// made a scan of it the first step), each row's booking and seat read by primary key.
pub(super) fn booking_sql() -> String {
    format!(
        "SELECT b.created_at AS booking_created_at, {RESERVATION_COLUMNS} \
         FROM reservations r INDEXED BY reservations_booking_idx \
         CROSS JOIN bookings b ON b.id = r.booking_id CROSS JOIN seats s ON s.id = r.seat_id \
         WHERE r.booking_id = ? ORDER BY s.row_index, s.seat_number"
    )
}

/// A reservation (`?`) with its seat.
pub(super) fn reservation_sql() -> String {
    format!("SELECT {RESERVATION_COLUMNS} FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.id = ?")
}

pub(super) async fn load_booking(
    conn: &mut SqliteConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Option<Booking>> {
    let rows = sqlx::query(&booking_sql()).bind(id_text(id)).fetch_all(&mut *conn).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let created_at = time_col(first, "booking_created_at")?;
    let reservations = rows.iter().map(|row| reservation_from_row(row, now)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Booking::from_reservations(id, created_at, reservations))
}

/// Which reservations a cancellation takes: those whose `column` equals the key.
#[derive(Clone, Copy)]
pub(super) enum CancelScope {
    Reservation,
    Booking,
    Event,
}

impl CancelScope {
    fn column(self) -> &'static str {
        match self {
            Self::Reservation => "id",
            Self::Booking => "booking_id",
            Self::Event => "event_id",
        }
    }

    /// The index that finds the scope's rows, named in its statements: an event's few rows in a
    /// table analyzed small were read by a scan of the table.
    fn index(self) -> &'static str {
        match self {
            Self::Reservation => "sqlite_autoindex_reservations_1",
            Self::Booking => "reservations_booking_idx",
            Self::Event => "reservations_event_idx",
        }
    }

    /// Reads the scope's active rows (binds: the key, now).
    pub(super) fn select_sql(self) -> String {
        let (index, column) = (self.index(), self.column());
        format!(
            "SELECT id, booking_id, status, price_cents - discount_cents AS paid_cents, event_id, seat_id \
             FROM reservations INDEXED BY {index} \
             WHERE {column} = ? AND {ACTIVE}"
        )
    }

    /// Cancels the scope's active rows (binds: now, the key, now): the same condition as
    /// `select_sql`, so the same rows.
    pub(super) fn cancel_sql(self) -> String {
        let (index, column) = (self.index(), self.column());
        format!(
            "UPDATE reservations INDEXED BY {index} SET status = 'canceled', updated_at = ? WHERE {column} = ? AND {ACTIVE}"
        )
    }
}

/// Cancels the active reservations in `scope`, revokes the tickets of the confirmed (paid) ones
/// and records their refund on their booking's payment; returns how many were canceled, the
/// refunds owed and the seats freed. Runs inside the caller's `BEGIN IMMEDIATE` transaction: the
/// writer lock is held, so the rows read first are exactly the rows the update then cancels.
pub(super) async fn cancel_active(
    conn: &mut SqliteConnection,
    scope: CancelScope,
    key: &str,
    now: DateTime<Utc>,
    actor: Option<&Actor>,
) -> StoreResult<CancelOutcome> {
    let rows = sqlx::query(&scope.select_sql()).bind(key).bind(millis(now)).fetch_all(&mut *conn).await?;
    let freed = rows
        .iter()
        .map(|row| Ok((uuid_col(row, "event_id")?, uuid_col(row, "seat_id")?)))
        .collect::<StoreResult<Vec<_>>>()?;
    // Per booking, what was paid for its confirmed seats (their price less their share of a
    // code's discount); held seats were never paid for. The confirmed seats are the ones with tickets.
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    let mut paid_seats: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    let mut ticketed: Vec<String> = Vec::new();
    for row in &rows {
        if enum_col::<ReservationStatus>(row, "status")? == ReservationStatus::Confirmed {
            let booking_id: String = row.try_get("booking_id")?;
            *paid.entry(booking_id.clone()).or_default() += row.try_get::<i64, _>("paid_cents")?;
            paid_seats.entry(booking_id).or_default().push(uuid_col(row, "seat_id")?);
            ticketed.push(row.try_get("id")?);
        }
    }

    // The same condition as the SELECT above, so the same rows.
    let canceled = sqlx::query(&scope.cancel_sql())
        .bind(millis(now))
        .bind(key)
        .bind(millis(now))
        .execute(&mut *conn)
        .await?
        .rows_affected();

    revoke_tickets(conn, &ticketed, now).await?;

    let mut refunds = Vec::new();
    for (booking_id, price_cents) in paid {
        let (payout, recorded) = refund_on_payment(conn, &booking_id, price_cents, now).await?;
        refunds.extend(payout);
        // An admin's cancel: each refund it recorded is audited in the same transaction.
        if let (Some(actor), Some(mut refund)) = (actor, recorded) {
            refund.seats = paid_seats.remove(&booking_id).unwrap_or_default();
            write_audit(conn, &AuditRecord::payment_refunded(actor, &refund, now)).await?;
        }
    }
    Ok(CancelOutcome { count: canceled, refunds, freed })
}

/// What `cancel_active` did.
pub(super) struct CancelOutcome {
    pub(super) count: u64,
    pub(super) refunds: Vec<Refund>,
    /// The seats freed, as (event, seat).
    pub(super) freed: Vec<(Uuid, Uuid)>,
}

impl CancelOutcome {
    /// Offers the freed seats to their event's waiting list in the same transaction (a cancel
    /// frees one booking's seats, or one seat, of one event).
    async fn offer(&self, conn: &mut SqliteConnection, now: DateTime<Utc>) -> StoreResult<()> {
        let Some((event_id, _)) = self.freed.first() else {
            return Ok(());
        };
        let seats: Vec<Uuid> = self.freed.iter().map(|(_, seat_id)| *seat_id).collect();
        offer_freed_seats(conn, *event_id, &seats, now).await
    }
}

/// A buyer's or an event's reservations, newest first, as a reader sees their status at `now`.
pub(super) fn list_reservations_query<'a>(filter: &ReservationFilter, now: DateTime<Utc>) -> QueryBuilder<'a, Sqlite> {
    // Named, so that the statistics never make SQLite search every held row through the lapsing
    // index (as it does on a file analyzed empty) instead of the buyer's or the event's rows.
    let index = match (filter.user_id, filter.event_id) {
        (Some(_), _) => " INDEXED BY reservations_user_idx",
        (None, Some(_)) => " INDEXED BY reservations_event_idx",
        (None, None) => "",
    };
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {RESERVATION_COLUMNS} FROM reservations r{index} JOIN seats s ON s.id = r.seat_id WHERE 1 = 1"
    ));
    if let Some(user_id) = filter.user_id {
        qb.push(" AND r.user_id = ").push_bind(id_text(user_id));
    }
    if let Some(event_id) = filter.event_id {
        qb.push(" AND r.event_id = ").push_bind(id_text(event_id));
    }
    // The filter is on the status a reader sees, so a lapsed hold is `expired`, not `held`.
    match filter.status {
        None => {}
        Some(ReservationStatus::Held) => {
            qb.push(" AND r.status = 'held' AND r.expires_at > ").push_bind(millis(now));
        }
        Some(ReservationStatus::Expired) => {
            qb.push(" AND (r.status = 'expired' OR (r.status = 'held' AND r.expires_at <= ")
                .push_bind(millis(now))
                .push("))");
        }
        Some(other) => {
            qb.push(" AND r.status = ").push_bind(other.as_str());
        }
    }
    qb.push(" ORDER BY r.created_at DESC, r.id LIMIT ")
        .push_bind(filter.page.limit)
        .push(" OFFSET ")
        .push_bind(filter.page.offset);
    qb
}
