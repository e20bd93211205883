//! Seat holds, reservations and bookings on SQLite. A hold waits in the hold queue for
//! `SqliteHoldBatches`, which places a whole batch in one `BEGIN IMMEDIATE` transaction on the
//! writer, where the partial unique index alone decides who gets a seat, and each held seat takes
//! one of its user's hold slots (`reservations_hold_slot_uq`, see `HoldLimit`). A cancel (of a
//! reservation, a booking, or from `catalog` of an event) is one transaction on the writer that
//! also records the refunds of paid seats and revokes their tickets; the expiry sweep is one
//! statement.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::payments::refund_on_payment;
use super::rows::{
    ACTIVE, RESERVATION_COLUMNS, enum_col, from_millis, id_text, ids_json, label_from_row, millis,
    reservation_from_row, time_col, uuid_col,
};
use super::tickets::revoke_tickets;
use crate::domain::{
    Booking, EventStatus, HoldLimit, HoldRequest, Refund, Reservation, ReservationFilter, ReservationStatus, SeatLabel,
};
use crate::store::Entity;
use crate::store::batch::Batches;
use crate::store::hold_batch::{HoldOutcome, PendingHold};
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RESERVATION_COLUMNS} FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE 1 = 1"
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
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(|row| reservation_from_row(row, now)).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn cancel_reservation(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Cancellation<Reservation>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (canceled, refunds) = cancel_active(&mut tx, CancelScope::Reservation, &id_text(id), now).await?;
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
    async fn cancel_booking(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Cancellation<Booking>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let (canceled, refunds) = cancel_active(&mut tx, CancelScope::Booking, &id_text(id), now).await?;
        let booking = match load_booking(&mut tx, id, now).await? {
            None => return Err(StoreError::NotFound(Entity::Booking)),
            Some(booking) if canceled > 0 => booking,
            Some(_) => return Err(StoreError::no_active_seats_left()),
        };
        tx.commit().await?;
        Ok(Cancellation { canceled: booking, refunds })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn expire_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let expired = sqlx::query(
            "UPDATE reservations SET status = 'expired', updated_at = ? WHERE status = 'held' AND expires_at <= ?",
        )
        .bind(millis(now))
        .bind(millis(now))
        .execute(&self.writer)
        .await?;
        Ok(expired.rows_affected())
    }
}

/// Places batches of holds on the writer connection, in one `BEGIN IMMEDIATE` transaction and
/// four round trips to its thread whatever the batch size (begin, read, write, commit): read the
/// events, seats and prices the batch names and the hold slots its users hold, check each hold
/// against them (a hold with fewer free slots than seats is refused with its limit), expire lapsed
/// holds on the wanted seats and the users' lapsed holds of the events, insert the bookings, then
/// insert every reservation with its slot and `ON CONFLICT … DO NOTHING` on the partial unique
/// index, which alone decides who gets a seat. A hold that did not get all its seats is deleted
/// again before the commit, and its caller learns which seats were taken.
///
/// The slots are read and written under the write lock, so none can change in between; the
/// slot index (`reservations_hold_slot_uq`) is there all the same, so that a slot given twice
/// would fail the batch rather than let a user hold more than the limit.
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

        // The batch's events with their prices, and its seats: one round trip to the writer's
        // thread (two statements, each prepared once) whatever the batch size, the ids as JSON
        // arrays. Every round trip of a batch is time every other write waits for.
        let event_ids: BTreeSet<Uuid> = batch.iter().map(|hold| hold.request.event_id).collect();
        let seat_ids: BTreeSet<Uuid> = batch.iter().flat_map(|hold| hold.request.seats.ids().iter().copied()).collect();
        // Per hold (by its place in the batch): its user's held slots of its event, at its `now`.
        let holders = serde_json::Value::Array(
            batch
                .iter()
                .map(|hold| {
                    let request = &hold.request;
                    serde_json::json!([id_text(request.event_id), id_text(request.user_id), millis(hold.now)])
                })
                .collect(),
        );
        let rows = sqlx::query(
            "SELECT 'event' AS kind, e.id, e.venue_id, e.status, e.start_time, e.currency, p.tier, p.price_cents \
             FROM events e LEFT JOIN event_prices p ON p.event_id = e.id \
             WHERE e.id IN (SELECT value FROM json_each(?)); \
             SELECT 'seat' AS kind, id, venue_id, row_label, row_index, seat_number, tier FROM seats \
             WHERE id IN (SELECT value FROM json_each(?)); \
             SELECT 'slot' AS kind, h.key AS hold, r.hold_slot FROM json_each(?) AS h \
             JOIN reservations r ON r.event_id = h.value ->> 0 AND r.user_id = h.value ->> 1 \
             WHERE r.status = 'held' AND r.hold_slot IS NOT NULL AND r.expires_at > h.value ->> 2",
        )
        .bind(ids_json(&event_ids))
        .bind(ids_json(&seat_ids))
        .bind(holders.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let mut events: HashMap<Uuid, BatchEvent> = HashMap::new();
        let mut prices: HashMap<(Uuid, String), i64> = HashMap::new();
        let mut seats: HashMap<Uuid, BatchSeat> = HashMap::new();
        let mut taken_slots: HashMap<usize, HashSet<i64>> = HashMap::new();
        for row in rows {
            let kind: &str = row.try_get("kind")?;
            if kind == "slot" {
                let hold = usize::try_from(row.try_get::<i64, _>("hold")?)
                    .map_err(|_| StoreError::Internal("a hold's place in its batch is negative".into()))?;
                taken_slots.entry(hold).or_default().insert(row.try_get("hold_slot")?);
                continue;
            }
            let id = uuid_col(&row, "id")?;
            if kind == "seat" {
                let seat = BatchSeat {
                    venue_id: row.try_get("venue_id")?,
                    label: label_from_row(&row)?,
                    row_index: row.try_get("row_index")?,
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
                    currency: row.try_get("currency")?,
                });
            }
        }

        // Each hold checked against what was read: its reservations to insert, each with its hold
        // slot, or why not (an invalid hold before one over the limit).
        let no_slots = HashSet::new();
        let checked: Vec<StoreResult<Vec<(Reservation, i64)>>> = batch
            .iter()
            .enumerate()
            .map(|(i, hold)| {
                let reservations = reservations_for(hold, &events, &seats, &prices)?;
                let taken = taken_slots.get(&i).unwrap_or(&no_slots);
                with_slots(reservations, taken, hold.request.limit)
            })
            .collect();
        let placed: Vec<&(Reservation, i64)> = checked.iter().filter_map(|c| c.as_ref().ok()).flatten().collect();

        // The writes, as four statements in one round trip. No availability check before them:
        // the partial unique index alone decides.
        let mut inserted: HashSet<String> = HashSet::new();
        if !placed.is_empty() {
            // A lapsed hold must never block: write it down as expired before the index judges.
            // The `status IN (...)` term lets SQLite use the partial unique index (one probe per seat).
            let mut qb = QueryBuilder::<Sqlite>::new(
                "UPDATE reservations SET status = 'expired', updated_at = w.column3 FROM (",
            );
            qb.push_values(&placed, |mut b, (r, _)| {
                b.push_bind(id_text(r.event_id)).push_bind(id_text(r.seat_id)).push_bind(millis(r.created_at));
            });
            qb.push(
                ") AS w WHERE reservations.event_id = w.column1 AND reservations.seat_id = w.column2 \
                 AND reservations.status IN ('held', 'confirmed') AND reservations.status = 'held' \
                 AND reservations.expires_at <= w.column3; ",
            );

            let bookings: Vec<&Reservation> =
                checked.iter().filter_map(|c| c.as_ref().ok()?.first()).map(|(r, _)| r).collect();
            // The users' lapsed holds of these events keep their slots in the slot index until
            // written down as expired; their slots were counted free above.
            qb.push("UPDATE reservations SET status = 'expired', updated_at = w.column3 FROM (");
            qb.push_values(&bookings, |mut b, r| {
                b.push_bind(id_text(r.event_id)).push_bind(id_text(r.user_id)).push_bind(millis(r.created_at));
            });
            qb.push(
                ") AS w WHERE reservations.event_id = w.column1 AND reservations.user_id = w.column2 \
                 AND reservations.status = 'held' AND reservations.hold_slot IS NOT NULL \
                 AND reservations.expires_at <= w.column3; ",
            );

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
                 status, expires_at, created_at, updated_at, hold_slot) ",
            );
            qb.push_values(&placed, |mut b, (r, slot)| {
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
                    .push_bind(*slot);
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
                Ok(placed) => placed.into_iter().map(|(r, _)| r).collect(),
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
            sqlx::query(
                "DELETE FROM reservations WHERE booking_id IN (SELECT value FROM json_each(?1)); \
                 DELETE FROM bookings WHERE id IN (SELECT value FROM json_each(?1))",
            )
            .bind(ids_json(&undone))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

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
}

/// The event of a hold as the batch read it.
struct BatchEvent {
    venue_id: String,
    status: EventStatus,
    start_time: DateTime<Utc>,
    currency: String,
}

/// The reservations one hold would make, in seat order, or why it cannot be placed at all.
fn reservations_for(
    hold: &PendingHold,
    events: &HashMap<Uuid, BatchEvent>,
    seats: &HashMap<Uuid, BatchSeat>,
    prices: &HashMap<(Uuid, String), i64>,
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
    wanted
        .into_iter()
        .map(|(seat_id, seat)| {
            // Selling an unpriced seat for nothing would be worse than refusing it.
            let price_cents = *prices
                .get(&(request.event_id, seat.label.tier.clone()))
                .ok_or_else(|| StoreError::seat_without_price(seat_id))?;
            Ok(Reservation {
                id: Uuid::new_v4(),
                booking_id: request.booking_id,
                user_id: request.user_id,
                event_id: request.event_id,
                seat_id,
                seat: seat.label.clone(),
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
    let sql =
        format!("SELECT {RESERVATION_COLUMNS} FROM reservations r JOIN seats s ON s.id = r.seat_id WHERE r.id = ?");
    let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&mut *conn).await?;
    row.map(|row| reservation_from_row(&row, now)).transpose()
}

async fn load_booking(conn: &mut SqliteConnection, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<Booking>> {
    let sql = format!(
        "SELECT b.created_at AS booking_created_at, {RESERVATION_COLUMNS} \
         FROM bookings b JOIN reservations r ON r.booking_id = b.id JOIN seats s ON s.id = r.seat_id \
         WHERE b.id = ? ORDER BY s.row_index, s.seat_number"
    );
    let rows = sqlx::query(&sql).bind(id_text(id)).fetch_all(&mut *conn).await?;
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
}

/// Cancels the active reservations in `scope`, revokes the tickets of the confirmed (paid) ones
/// and records their refund on their booking's payment; returns how many were canceled and the
/// refunds owed. Runs inside the caller's `BEGIN IMMEDIATE` transaction: the writer lock is held,
/// so the rows read first are exactly the rows the update then cancels.
pub(super) async fn cancel_active(
    conn: &mut SqliteConnection,
    scope: CancelScope,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<(u64, Vec<Refund>)> {
    let column = scope.column();
    let sql = format!("SELECT id, booking_id, status, price_cents FROM reservations WHERE {column} = ? AND {ACTIVE}");
    let rows = sqlx::query(&sql).bind(key).bind(millis(now)).fetch_all(&mut *conn).await?;
    // Per booking, the price of its confirmed seats; held seats were never paid for. The
    // confirmed seats are the ones with tickets.
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    let mut ticketed: Vec<String> = Vec::new();
    for row in &rows {
        if enum_col::<ReservationStatus>(row, "status")? == ReservationStatus::Confirmed {
            *paid.entry(row.try_get("booking_id")?).or_default() += row.try_get::<i64, _>("price_cents")?;
            ticketed.push(row.try_get("id")?);
        }
    }

    // The same condition as the SELECT above, so the same rows.
    let sql = format!("UPDATE reservations SET status = 'canceled', updated_at = ? WHERE {column} = ? AND {ACTIVE}");
    let canceled =
        sqlx::query(&sql).bind(millis(now)).bind(key).bind(millis(now)).execute(&mut *conn).await?.rows_affected();

    revoke_tickets(conn, &ticketed, now).await?;

    let mut refunds = Vec::new();
    for (booking_id, price_cents) in paid {
        if let Some(refund) = refund_on_payment(conn, &booking_id, price_cents, now).await? {
            refunds.push(refund);
        }
    }
    Ok((canceled, refunds))
}
