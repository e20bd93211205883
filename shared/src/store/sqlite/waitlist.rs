//! The waiting lists of sold-out events on SQLite: `waitlist_entries`, one row per (event,
//! account), the primary key keeping one entry per account and `seq` (the event's largest plus
//! one, under the writer's lock) the order. Offers are made by `offer_freed_seats`, called by the
//! cancels and the sweep inside their own `BEGIN IMMEDIATE` transaction: it reads the event's
//! waiting entries in their order and the event (one that no longer sells gets no offers), plans
//! the offers once for every backend (`domain::plan_offers`) and inserts each offer's booking and
//! held reservations, which `reservations_active_seat_uq` referees as it does every hold.
//!
//! Offers are of the event's first ticket type. When it has a quota, each offered seat takes the
//! lowest type slot left (migration 0024), from the type's active rows read under the writer's
//! lock (a lapsed hold not yet written down still counts: only a hold that expires it may take its
//! slot), so nothing takes one meanwhile; `reservations_type_slot_uq` stands behind them as it does
//! behind a hold's.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::SqliteStore;
use super::rows::{enum_col, id_text, ids_json, millis, optional_time_col, time_col, uuid_col};
use crate::domain::{WAITLIST_LOOKAHEAD, WaitlistEntry, WaitlistJoin, WaitlistSeats, decode_ticket_types, plan_offers};
use crate::store::outbox;
use crate::store::rules::open_type_slots;
use crate::store::{Entity, StoreError, StoreResult, WaitlistStore};

/// An entry's columns (`w`), with the waiting entries ahead of it counted through
/// `waitlist_entries_waiting_idx`.
const ENTRY_COLUMNS: &str = "w.id, w.event_id, w.user_id, w.seq, w.seats, w.tier, w.offer_minutes, w.status, \
     w.passes, w.booking_id, w.joined_at, w.offered_at, \
     (SELECT count(*) FROM waitlist_entries AS a INDEXED BY waitlist_entries_waiting_idx \
      WHERE a.event_id = w.event_id AND a.status = 'waiting' AND a.seq < w.seq) AS ahead";

/// The first waiting entries of an event (`?1`) in their order (`WAITLIST_LOOKAHEAD`).
pub(super) const WAITING_SQL: &str = "SELECT w.id, w.event_id, w.user_id, w.seq, w.seats, w.tier, w.offer_minutes, w.status, \
     w.passes, w.booking_id, w.joined_at, w.offered_at, 0 AS ahead \
     FROM waitlist_entries AS w INDEXED BY waitlist_entries_waiting_idx \
     WHERE w.event_id = ?1 AND w.status = 'waiting' ORDER BY w.seq LIMIT ?2";

/// The freed seats (`?2`, JSON) of the event (`?1`) in row order, with their tier's price (a seat
/// of a tier the event no longer prices is not offered): the ids first (`CROSS JOIN` keeps that
/// order), each one probe of `seats` and one of `event_prices`, whatever the statistics say.
pub(super) const FREED_SEATS_SQL: &str = "SELECT s.id, s.tier, p.price_cents FROM json_each(?2) AS freed \
     CROSS JOIN seats AS s ON s.id = freed.value \
     CROSS JOIN event_prices AS p INDEXED BY sqlite_autoindex_event_prices_1 ON p.event_id = ?1 AND p.tier = s.tier \
     ORDER BY s.row_index, s.seat_number";

/// The negative hold slots a user's held offers of an event take (`?1` event, `?2` user): an offer
/// is outside the per-user limit (slots `1..=limit`), yet each of its rows needs a slot of its own.
pub(super) const OFFER_SLOTS_SQL: &str = "SELECT hold_slot FROM reservations \
     WHERE event_id = ?1 AND user_id = ?2 AND status = 'held' AND hold_slot IS NOT NULL AND hold_slot < 0";

/// The event (`?1`): its status, start, currency and ticket types (the first is the offers', with
/// its quota), read by its primary key (whether it still sells is judged on the row, as on
/// PostgreSQL).
pub(super) const SELLING_EVENT_SQL: &str =
    "SELECT status, start_time, currency, ticket_types FROM events WHERE id = ?1";

/// The type slots taken of the event's (`?1`) type `?2`: its active rows, lapsed or not, one range
/// of `reservations_type_slot_uq` (at most the quota's entries).
pub(super) const TYPE_SLOTS_SQL: &str = "SELECT type_slot FROM reservations INDEXED BY reservations_type_slot_uq \
     WHERE event_id = ?1 AND ticket_type = ?2 AND status IN ('held', 'confirmed') AND type_slot IS NOT NULL";

/// An entry (`?1` event, `?2` user) that got an offer: booking `?3`, at `?4`. One of the waiting
/// entries this transaction read under the writer's lock, so its key alone names it.
pub(super) const OFFERED_SQL: &str = "UPDATE waitlist_entries SET status = 'offered', booking_id = ?3, offered_at = ?4 \
     WHERE event_id = ?1 AND user_id = ?2";

/// An entry (`?1` event, `?2` user) passed over by an offer (`domain::plan_offers`).
pub(super) const PASSED_SQL: &str =
    "UPDATE waitlist_entries SET passes = passes + 1 WHERE event_id = ?1 AND user_id = ?2";

/// An offer's held reservation: id, booking, user, event, seat, price, currency, end of the offer,
/// now, hold slot, ticket type (the event's first, whose prices `event_prices` holds), type slot
/// (NULL: the type has no quota).
pub(super) const OFFER_RESERVATION_SQL: &str = "INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, \
     price_cents, currency, status, expires_at, created_at, updated_at, hold_slot, ticket_type, type_slot) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'held', ?8, ?9, ?9, ?10, ?11, ?12)";

fn entry_from(row: &SqliteRow) -> StoreResult<WaitlistEntry> {
    let seats: i64 = row.try_get("seats")?;
    let booking_id: Option<String> = row.try_get("booking_id")?;
    Ok(WaitlistEntry {
        id: uuid_col(row, "id")?,
        event_id: uuid_col(row, "event_id")?,
        user_id: uuid_col(row, "user_id")?,
        seats: WaitlistSeats::parse(seats).map_err(|err| StoreError::Internal(err.to_string()))?,
        tier: row.try_get("tier")?,
        offer_minutes: row.try_get("offer_minutes")?,
        seq: row.try_get("seq")?,
        ahead: u64::try_from(row.try_get::<i64, _>("ahead")?).unwrap_or(0),
        status: enum_col(row, "status")?,
        passes: u32::try_from(row.try_get::<i64, _>("passes")?).unwrap_or(0),
        booking_id: booking_id
            .map(|id| Uuid::parse_str(&id).map_err(|_| StoreError::Internal(format!("bad booking id `{id}`"))))
            .transpose()?,
        joined_at: time_col(row, "joined_at")?,
        offered_at: optional_time_col(row, "offered_at")?,
    })
}

/// One account's entry (`?1` event, `?2` user), with the entries ahead of it.
pub(super) fn entry_sql() -> String {
    format!("SELECT {ENTRY_COLUMNS} FROM waitlist_entries AS w WHERE w.event_id = ?1 AND w.user_id = ?2")
}

async fn entry_of(conn: &mut SqliteConnection, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<WaitlistEntry>> {
    let row =
        sqlx::query(&entry_sql()).bind(id_text(event_id)).bind(id_text(user_id)).fetch_optional(&mut *conn).await?;
    row.as_ref().map(entry_from).transpose()
}

#[async_trait]
impl WaitlistStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn join_waitlist(&self, join: &WaitlistJoin, now: DateTime<Utc>) -> StoreResult<(WaitlistEntry, bool)> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let event = id_text(join.event_id);
        let known: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM events WHERE id = ?1").bind(&event).fetch_optional(&mut *tx).await?;
        if known.is_none() {
            return Err(StoreError::NotFound(Entity::Event));
        }
        if let Some(entry) = entry_of(&mut tx, join.event_id, join.user_id).await? {
            return Ok((entry, false));
        }
        sqlx::query(
            "INSERT INTO waitlist_entries (event_id, user_id, id, seq, seats, tier, offer_minutes, status, joined_at) \
             VALUES (?1, ?2, ?3, (SELECT COALESCE(max(seq), 0) + 1 FROM waitlist_entries WHERE event_id = ?1), \
                     ?4, ?5, ?6, 'waiting', ?7)",
        )
        .bind(&event)
        .bind(id_text(join.user_id))
        .bind(id_text(join.id))
        .bind(i64::from(join.seats.get()))
        .bind(join.tier.as_deref())
        .bind(join.offer_minutes)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        let entry = entry_of(&mut tx, join.event_id, join.user_id).await?;
        let entry = entry.ok_or_else(|| StoreError::Internal("a waiting-list entry just written is gone".into()))?;
        tx.commit().await?;
        Ok((entry, true))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn waitlist_entry(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<WaitlistEntry>> {
        let mut conn = self.reader.acquire().await?;
        entry_of(&mut conn, event_id, user_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn leave_waitlist(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM waitlist_entries WHERE event_id = ?1 AND user_id = ?2")
            .bind(id_text(event_id))
            .bind(id_text(user_id))
            .execute(&self.writer)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }
}

/// Offers the seats of `event_id` freed together (`seats`) inside the caller's `BEGIN IMMEDIATE`
/// transaction to the event's waiting entries (see the module's doc); nothing when nobody waits
/// or the event no longer sells.
pub(super) async fn offer_freed_seats(
    conn: &mut SqliteConnection,
    event_id: Uuid,
    seats: &[Uuid],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if seats.is_empty() {
        return Ok(());
    }
    let event = id_text(event_id);
    let lookahead = i64::try_from(WAITLIST_LOOKAHEAD).unwrap_or(i64::MAX);
    let rows = sqlx::query(WAITING_SQL).bind(&event).bind(lookahead).fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let waiting = rows.iter().map(entry_from).collect::<StoreResult<Vec<_>>>()?;
    let selling: Option<(String, i64, String, Option<String>)> =
        sqlx::query_as(SELLING_EVENT_SQL).bind(&event).fetch_optional(&mut *conn).await?;
    let Some((_, _, currency, stored_types)) =
        selling.filter(|(status, start, ..)| status == "on_sale" && *start > millis(now))
    else {
        return Ok(());
    };
    let offered = decode_ticket_types(stored_types.as_deref(), &[]).map_err(StoreError::Internal)?.remove(0);
    let freed: Vec<(String, String, i64)> =
        sqlx::query_as(FREED_SEATS_SQL).bind(&event).bind(ids_json(seats)).fetch_all(&mut *conn).await?;
    // The offered type's slots left, lowest first, as many as the freed seats at most.
    let mut type_slots = match offered.quota {
        Some(quota) => {
            let taken: Vec<(i64,)> =
                sqlx::query_as(TYPE_SLOTS_SQL).bind(&event).bind(&offered.name).fetch_all(&mut *conn).await?;
            let taken: HashSet<i64> = taken.into_iter().map(|(slot,)| slot).collect();
            Some(open_type_slots(quota, &taken, freed.len()).into_iter())
        }
        None => None,
    };
    let tiers: Vec<&str> = freed.iter().map(|(_, tier, _)| tier.as_str()).collect();
    let plan = plan_offers(&waiting, &tiers, type_slots.as_ref().map(ExactSizeIterator::len));
    for (index, taken) in &plan.offers {
        let entry = &waiting[*index];
        let user = id_text(entry.user_id);
        let used: Vec<(i64,)> = sqlx::query_as(OFFER_SLOTS_SQL).bind(&event).bind(&user).fetch_all(&mut *conn).await?;
        let slots = (1..).map(|n: i64| -n).filter(|slot| !used.iter().any(|(u,)| u == slot));
        let booking_id = Uuid::new_v4();
        let booking_text = id_text(booking_id);
        sqlx::query("INSERT INTO bookings (id, user_id, event_id, created_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(&booking_text)
            .bind(&user)
            .bind(&event)
            .bind(millis(now))
            .execute(&mut *conn)
            .await?;
        for (&seat, slot) in taken.iter().zip(slots) {
            let (seat_id, _, price_cents) = &freed[seat];
            sqlx::query(OFFER_RESERVATION_SQL)
                .bind(id_text(Uuid::new_v4()))
                .bind(&booking_text)
                .bind(&user)
                .bind(&event)
                .bind(seat_id)
                .bind(price_cents)
                .bind(&currency)
                .bind(millis(entry.offer_ends(now)))
                .bind(millis(now))
                .bind(slot)
                .bind(&offered.name)
                // The plan took no more seats than there are slots, so each seat gets one.
                .bind(type_slots.as_mut().and_then(Iterator::next))
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(OFFERED_SQL)
            .bind(&event)
            .bind(&user)
            .bind(&booking_text)
            .bind(millis(now))
            .execute(&mut *conn)
            .await?;
        outbox::waitlist_offered(&mut *conn, entry.user_id, booking_id, now).await?;
    }
    for &index in &plan.passed {
        sqlx::query(PASSED_SQL).bind(&event).bind(id_text(waiting[index].user_id)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `offer_freed_seats` for the seats a sweep freed, booking by booking (the seats of one booking
/// are freed together; `freed` is (event, booking, seat)), for the events somebody waits for.
pub(super) async fn offer_lapsed_seats(
    conn: &mut SqliteConnection,
    freed: &[(Uuid, Uuid, Uuid)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut by_booking: BTreeMap<(Uuid, Uuid), Vec<Uuid>> = BTreeMap::new();
    for (event_id, booking_id, seat_id) in freed {
        by_booking.entry((*event_id, *booking_id)).or_default().push(*seat_id);
    }
    for ((event_id, _), seats) in by_booking {
        offer_freed_seats(conn, event_id, &seats, now).await?;
    }
    Ok(())
}
