//! The waiting lists of sold-out events on PostgreSQL: `waitlist_entries`, one row per (event,
//! account), the primary key keeping one entry per account and `waitlist_seq` the order. Offers
//! are made by `offer_freed_seats`, called by the cancels and the sweep in their own transaction:
//! it locks the event's waiting entries (`FOR UPDATE`, in their order), share-locks the event row
//! (an event canceled meanwhile gets no offers), plans the offers once for every backend
//! (`domain::plan_offers`) and inserts each offer's booking and held reservations, which
//! `reservations_active_seat_uq` referees as it does every hold.
//!
//! Offers are of the event's first ticket type. When it has a quota, each offered seat takes the
//! lowest type slot left (migration 0024), from the type's active rows read in this transaction
//! (a lapsed hold not yet written down still counts: only a hold that expires it may take its
//! slot), and `reservations_type_slot_uq` referees them as it does a hold's: a slot a concurrent
//! hold took meanwhile is not inserted, the offer that lost it is undone and its entry stays
//! waiting. The cancel or sweep that frees the seats never fails because of an offer.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::holds::{UNDO_BOOKINGS_SQL, UNDO_RESERVATIONS_SQL};
use super::{PostgresStore, TxError};
use crate::domain::{WAITLIST_LOOKAHEAD, WaitlistEntry, WaitlistJoin, WaitlistSeats, decode_ticket_types, plan_offers};
use crate::store::outbox;
use crate::store::rules::open_type_slots;
use crate::store::{Entity, StoreError, StoreResult, WaitlistStore};

/// An entry's columns (`w`), with the waiting entries ahead of it counted through
/// `waitlist_entries_waiting_idx`.
pub(super) const ENTRY_COLUMNS: &str = "w.id, w.event_id, w.user_id, w.seq, w.seats, w.tier, w.offer_minutes, w.status, \
     w.passes, w.booking_id, w.joined_at, w.offered_at, \
     (SELECT count(*) FROM waitlist_entries a WHERE a.event_id = w.event_id AND a.status = 'waiting' \
      AND a.seq < w.seq) AS ahead";

const JOIN_SQL: &str = "INSERT INTO waitlist_entries \
     (event_id, user_id, id, seq, seats, tier, offer_minutes, status, joined_at) \
     VALUES ($1, $2, $3, nextval('waitlist_seq'), $4, $5, $6, 'waiting', $7) \
     ON CONFLICT (event_id, user_id) DO NOTHING";

/// The first waiting entries of an event (`$1`) in their order (`WAITLIST_LOOKAHEAD`), locked:
/// the freeing transactions of one event take turns on its list.
pub(super) const WAITING_SQL: &str = "SELECT w.id, w.event_id, w.user_id, w.seq, w.seats, w.tier, w.offer_minutes, w.status, \
     w.passes, w.booking_id, w.joined_at, w.offered_at, 0::bigint AS ahead \
     FROM waitlist_entries w WHERE w.event_id = $1 AND w.status = 'waiting' ORDER BY w.seq LIMIT $2 FOR UPDATE";

/// The event (`$1`), share-locked like a hold does: its status, start, currency and ticket types
/// (the first is the offers', with its quota). Read by its primary key alone, and whether it still
/// sells is judged on the locked row: with a condition on `start_time` in the statement, the
/// planner read the events by their start instead.
pub(super) const SELLING_EVENT_SQL: &str =
    "SELECT status, start_time, currency, ticket_types FROM events WHERE id = $1 FOR SHARE";

/// The type slots taken of the event's (`$1`) type `$2`: its active rows, lapsed or not, one range
/// of `reservations_type_slot_uq` (at most the quota's entries).
pub(super) const TYPE_SLOTS_SQL: &str = "SELECT type_slot FROM reservations \
     WHERE event_id = $1 AND ticket_type = $2 AND status IN ('held', 'confirmed') AND type_slot IS NOT NULL";

/// The freed seats (`$2`) of the event (`$1`) in row order, with their tier's price (a seat of a
/// tier the event no longer prices is not offered).
pub(super) const FREED_SEATS_SQL: &str = "SELECT s.id, s.tier, p.price_cents FROM seats s \
     JOIN event_prices p ON p.event_id = $1 AND p.tier = s.tier \
     WHERE s.id = ANY ($2) ORDER BY s.row_index, s.seat_number";

/// The negative hold slots a user's held offers of an event take (`$1` event, `$2` user): an offer
/// is outside the per-user limit (slots `1..=limit`), yet each of its rows needs a slot of its own.
pub(super) const OFFER_SLOTS_SQL: &str = "SELECT hold_slot FROM reservations \
     WHERE event_id = $1 AND user_id = $2 AND status = 'held' AND hold_slot IS NOT NULL AND hold_slot < 0";

/// An offer's held reservations: booking `$1`, user `$2`, event `$3`, currency `$4`, until `$5`, at
/// `$6`, of the type `$10` (the event's first, whose prices `event_prices` holds), per seat `$7` its
/// id, `$8` price, `$9` hold slot and `$11` type slot (NULL: the type has no quota). A row that
/// meets a unique index (a type slot a concurrent hold took, most likely) is not inserted: the
/// caller counts the rows and undoes an offer that did not get them all.
pub(super) const OFFER_RESERVATIONS_SQL: &str = "INSERT INTO reservations \
     (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at, created_at, updated_at, \
      hold_slot, ticket_type, type_slot) \
     SELECT gen_random_uuid(), $1, $2, $3, seat.id, seat.price, $4, 'held', $5, $6, $6, seat.slot, $10, seat.type_slot \
     FROM unnest($7::uuid[], $8::bigint[], $9::int[], $11::int[]) AS seat (id, price, slot, type_slot) \
     ORDER BY seat.id \
     ON CONFLICT DO NOTHING";

/// One account's entry (`$1` event, `$2` user), with the entries ahead of it.
pub(super) fn entry_sql() -> String {
    format!("SELECT {ENTRY_COLUMNS} FROM waitlist_entries w WHERE w.event_id = $1 AND w.user_id = $2")
}

/// An entry (`$1` event, `$2` user) that got an offer: booking `$3`, at `$4`. The entry is one of
/// the waiting ones `WAITING_SQL` locked in this transaction, so its key alone names it: with a
/// condition on `status` too, the planner could read the event's whole waiting index instead.
pub(super) const OFFERED_SQL: &str = "UPDATE waitlist_entries SET status = 'offered', booking_id = $3, offered_at = $4 \
     WHERE event_id = $1 AND user_id = $2";

/// An entry (`$1` event, `$2` user) passed over by an offer (`domain::plan_offers`). One entry a
/// statement (a few at most, of `WAITLIST_LOOKAHEAD`): with `user_id = ANY (…)` the generic plan
/// read the event's whole key range.
pub(super) const PASSED_SQL: &str =
    "UPDATE waitlist_entries SET passes = passes + 1 WHERE event_id = $1 AND user_id = $2";

/// Which of the events (`$1`) a sweep freed seats of have somebody waiting.
pub(super) const WAITED_EVENTS_SQL: &str =
    "SELECT DISTINCT event_id FROM waitlist_entries WHERE event_id = ANY ($1) AND status = 'waiting'";

fn entry_from(row: &PgRow) -> StoreResult<WaitlistEntry> {
    let seats: i32 = row.try_get("seats")?;
    let status: String = row.try_get("status")?;
    let passes: i32 = row.try_get("passes")?;
    let offer_minutes: i32 = row.try_get("offer_minutes")?;
    let ahead: i64 = row.try_get("ahead")?;
    Ok(WaitlistEntry {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        user_id: row.try_get("user_id")?,
        seats: WaitlistSeats::parse(i64::from(seats)).map_err(|err| StoreError::Internal(err.to_string()))?,
        tier: row.try_get("tier")?,
        offer_minutes: i64::from(offer_minutes),
        seq: row.try_get("seq")?,
        ahead: u64::try_from(ahead).unwrap_or(0),
        status: super::rows::parse_stored(&status)?,
        passes: u32::try_from(passes).unwrap_or(0),
        booking_id: row.try_get("booking_id")?,
        joined_at: row.try_get("joined_at")?,
        offered_at: row.try_get("offered_at")?,
    })
}

#[async_trait]
impl WaitlistStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn join_waitlist(&self, join: &WaitlistJoin, now: DateTime<Utc>) -> StoreResult<(WaitlistEntry, bool)> {
        let offer_minutes = i32::try_from(join.offer_minutes).unwrap_or(i32::MAX);
        let inserted = sqlx::query(JOIN_SQL)
            .bind(join.event_id)
            .bind(join.user_id)
            .bind(join.id)
            .bind(i32::from(join.seats.get()))
            .bind(join.tier.as_deref())
            .bind(offer_minutes)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|err| match &err {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound(Entity::Event),
                _ => StoreError::from(err),
            })?;
        let entry = self.waitlist_entry(join.event_id, join.user_id).await?;
        let entry = entry.ok_or_else(|| StoreError::Internal("a waiting-list entry just written is gone".into()))?;
        Ok((entry, inserted.rows_affected() == 1))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn waitlist_entry(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<WaitlistEntry>> {
        let row = sqlx::query(&entry_sql()).bind(event_id).bind(user_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(entry_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn leave_waitlist(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM waitlist_entries WHERE event_id = $1 AND user_id = $2")
            .bind(event_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }
}

/// Offers the seats of `event_id` freed together (`seats`) in the caller's transaction to the
/// event's waiting entries (see the module's doc); nothing when nobody waits or the event no longer
/// sells. Errors stay `TxError` so that a lost deadlock retries the whole freeing transaction.
pub(super) async fn offer_freed_seats(
    conn: &mut PgConnection,
    event_id: Uuid,
    seats: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    if seats.is_empty() {
        return Ok(());
    }
    let lookahead = i64::try_from(WAITLIST_LOOKAHEAD).unwrap_or(i64::MAX);
    let rows = sqlx::query(WAITING_SQL).bind(event_id).bind(lookahead).fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let waiting = rows.iter().map(entry_from).collect::<StoreResult<Vec<_>>>()?;
    let event: Option<(String, DateTime<Utc>, String, Option<String>)> =
        sqlx::query_as(SELLING_EVENT_SQL).bind(event_id).fetch_optional(&mut *conn).await?;
    let Some((_, _, currency, stored_types)) = event.filter(|(status, start, ..)| status == "on_sale" && *start > now)
    else {
        return Ok(());
    };
    let offered = decode_ticket_types(stored_types.as_deref(), &[]).map_err(StoreError::Internal)?.remove(0);
    let freed: Vec<(Uuid, String, i64)> =
        sqlx::query_as(FREED_SEATS_SQL).bind(event_id).bind(seats).fetch_all(&mut *conn).await?;
    // The offered type's slots left, lowest first, as many as the freed seats at most.
    let mut type_slots = match offered.quota {
        Some(quota) => {
            let taken: Vec<(i32,)> =
                sqlx::query_as(TYPE_SLOTS_SQL).bind(event_id).bind(&offered.name).fetch_all(&mut *conn).await?;
            let taken: HashSet<i64> = taken.into_iter().map(|(slot,)| i64::from(slot)).collect();
            Some(open_type_slots(quota, &taken, freed.len()).into_iter())
        }
        None => None,
    };
    let tiers: Vec<&str> = freed.iter().map(|(_, tier, _)| tier.as_str()).collect();
    let plan = plan_offers(&waiting, &tiers, type_slots.as_ref().map(ExactSizeIterator::len));
    for (index, taken) in &plan.offers {
        let entry = &waiting[*index];
        let used: Vec<(i32,)> =
            sqlx::query_as(OFFER_SLOTS_SQL).bind(event_id).bind(entry.user_id).fetch_all(&mut *conn).await?;
        let slots: Vec<i32> =
            (1..).map(|n: i32| -n).filter(|slot| !used.iter().any(|(u,)| u == slot)).take(taken.len()).collect();
        let booking_id = Uuid::new_v4();
        sqlx::query("INSERT INTO bookings (id, user_id, event_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(booking_id)
            .bind(entry.user_id)
            .bind(event_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let ids: Vec<Uuid> = taken.iter().map(|&seat| freed[seat].0).collect();
        let prices: Vec<i64> = taken.iter().map(|&seat| freed[seat].2).collect();
        // The plan took no more seats than there are slots, so each seat gets one.
        let type_slot: Vec<Option<i32>> = taken
            .iter()
            .map(|_| type_slots.as_mut().and_then(Iterator::next).and_then(|slot| i32::try_from(slot).ok()))
            .collect();
        let inserted = sqlx::query(OFFER_RESERVATIONS_SQL)
            .bind(booking_id)
            .bind(entry.user_id)
            .bind(event_id)
            .bind(&currency)
            .bind(entry.offer_ends(now))
            .bind(now)
            .bind(&ids)
            .bind(&prices)
            .bind(&slots)
            .bind(&offered.name)
            .bind(&type_slot)
            .execute(&mut *conn)
            .await?;
        if inserted.rows_affected() != ids.len() as u64 {
            // A slot (or seat) went to a concurrent hold: no offer, the entry keeps waiting.
            sqlx::query(UNDO_RESERVATIONS_SQL).bind(vec![booking_id]).execute(&mut *conn).await?;
            sqlx::query(UNDO_BOOKINGS_SQL).bind(vec![booking_id]).execute(&mut *conn).await?;
            continue;
        }
        sqlx::query(OFFERED_SQL)
            .bind(event_id)
            .bind(entry.user_id)
            .bind(booking_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        outbox::waitlist_offered(&mut *conn, entry.user_id, booking_id, now).await?;
    }
    for &index in &plan.passed {
        sqlx::query(PASSED_SQL).bind(event_id).bind(waiting[index].user_id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `offer_freed_seats` for the seats a sweep freed, booking by booking (the seats of one booking
/// are freed together; `freed` is (event, booking, seat)), for the events somebody waits for.
pub(super) async fn offer_lapsed_seats(
    conn: &mut PgConnection,
    freed: &[(Uuid, Uuid, Uuid)],
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    if freed.is_empty() {
        return Ok(());
    }
    let events: Vec<Uuid> = freed.iter().map(|(event_id, ..)| *event_id).collect();
    let waited: Vec<(Uuid,)> = sqlx::query_as(WAITED_EVENTS_SQL).bind(&events).fetch_all(&mut *conn).await?;
    let mut by_booking: BTreeMap<(Uuid, Uuid), Vec<Uuid>> = BTreeMap::new();
    for (event_id, booking_id, seat_id) in freed {
        if waited.iter().any(|(waited,)| waited == event_id) {
            by_booking.entry((*event_id, *booking_id)).or_default().push(*seat_id);
        }
    }
    for ((event_id, _), seats) in by_booking {
        offer_freed_seats(conn, event_id, &seats, now).await?;
    }
    Ok(())
}
