//! The per-user limit of held seats on DynamoDB (`HoldLimit`, `MAX_HELD_SEATS_PER_USER`): the
//! user's hold slots for an event, one item taken slot by slot by conditional updates inside each
//! hold's transaction (see `HoldSlots`), moved along by checkout, and the turns that holds of one
//! user for one event take in this process (`HolderTurns`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::*;
use super::{DynamoStore, TxItem};
use crate::domain::{HoldRequest, ReservationStatus, SeatSelection};
use crate::store::StoreResult;

/// The slots a hold takes, each with the condition it takes it under.
pub(super) type Claims = Vec<(u32, SlotClaim)>;
/// The line in which holds of one user for one event wait for their turn.
type Line = Arc<tokio::sync::Mutex<()>>;

/// A user's hold slots for one event, as read: slot `j` (1..=limit) is held by reservation `s<j>`
/// until `x<j>` (epoch ms), both attributes of one item (`hold_slots_key`). Each held seat takes one
/// slot, in the hold's transaction, by an update whose condition admits only a free slot: never
/// taken, its hold lapsed (`x<j> <= now`), or taken by a reservation this hold's consistent read
/// found confirmed, canceled or expired (`s<j>` still names it: a status that never goes back to
/// held). So a user holds at most `limit` seats of an event at once, whatever the concurrency,
/// decided by DynamoDB. Confirm, cancel and expiry leave the slot as it is (it is free by the
/// rules above); checkout moves `x<j>` with the hold it extends. One item for all of a user's
/// slots keeps a hold at 2 × seats + 3 items (23 for 10 seats; DynamoDB takes 100).
#[derive(Default)]
pub(super) struct HoldSlots(HashMap<u32, (Uuid, i64)>);

/// How a hold may take a slot: the condition its update puts on it.
pub(super) enum SlotClaim {
    /// Never taken: `attribute_not_exists(s<j>)`.
    Empty,
    /// Its hold lapsed: `x<j> <= :now`.
    Lapsed,
    /// Its reservation is no longer held: `s<j> = <that reservation>`.
    Released(Uuid),
}

/// Expression value names for the slots of one hold, by the seat's place in it (at most 10).
const SLOT_HOLDER: [&str; SeatSelection::MAX_SEATS] =
    [":s0", ":s1", ":s2", ":s3", ":s4", ":s5", ":s6", ":s7", ":s8", ":s9"];
const SLOT_WAS: [&str; SeatSelection::MAX_SEATS] =
    [":w0", ":w1", ":w2", ":w3", ":w4", ":w5", ":w6", ":w7", ":w8", ":w9"];
const SLOT_UNTIL: [&str; SeatSelection::MAX_SEATS] =
    [":u0", ":u1", ":u2", ":u3", ":u4", ":u5", ":u6", ":u7", ":u8", ":u9"];

/// A slots item is removed by DynamoDB's TTL this long (seconds) after the end of the last hold
/// written to it: by then every slot in it has long been free.
const SLOTS_KEPT_SECONDS: i64 = 86_400;

impl HoldSlots {
    pub(super) fn from_item(item: &Item) -> StoreResult<Self> {
        let mut slots = HashMap::new();
        for (name, value) in item {
            let Some(slot) = name.strip_prefix('s').and_then(|j| j.parse::<u32>().ok()) else {
                continue;
            };
            let AttributeValue::S(holder) = value else {
                return Err(corrupt("hold slot", name));
            };
            let holder = Uuid::parse_str(holder).map_err(|_| corrupt("hold slot", holder))?;
            slots.insert(slot, (holder, get_n(item, &format!("x{slot}"))?));
        }
        Ok(Self(slots))
    }

    /// The lowest `seats` slots in 1..=`limit` that are free at `now_ms` by their own item (never
    /// taken or lapsed), and the slots taken by holds that have not lapsed, to be looked at when
    /// that is not enough.
    fn free(&self, limit: u32, seats: usize, now_ms: i64) -> (Claims, Vec<(u32, Uuid)>) {
        let (mut free, mut taken) = (Vec::with_capacity(seats), Vec::new());
        for slot in 1..=limit {
            match self.0.get(&slot) {
                None => free.push((slot, SlotClaim::Empty)),
                Some((_, until)) if *until <= now_ms => free.push((slot, SlotClaim::Lapsed)),
                Some((holder, _)) => taken.push((slot, *holder)),
            }
            if free.len() == seats {
                break;
            }
        }
        (free, taken)
    }
}

/// The update that gives a hold its slots (`claims`, one per reservation in `holders`) until
/// `until_ms`, conditioned on each being free as read.
pub(super) fn claim_slots(
    table: &str,
    key: Item,
    claims: &[(u32, SlotClaim)],
    holders: &[Uuid],
    until_ms: i64,
    now_ms: i64,
) -> StoreResult<TransactWriteItem> {
    let mut sets = Vec::with_capacity(claims.len() * 2 + 1);
    let mut conditions = Vec::with_capacity(claims.len());
    let mut values = vec![(":until", n(until_ms)), (":ttl", n(until_ms / 1000 + SLOTS_KEPT_SECONDS))];
    // DynamoDB refuses a value no expression uses.
    if claims.iter().any(|(_, claim)| matches!(claim, SlotClaim::Lapsed)) {
        values.push((":now", n(now_ms)));
    }
    for (i, ((slot, claim), holder)) in claims.iter().zip(holders).enumerate() {
        sets.push(format!("#s{slot} = {}, #x{slot} = :until", SLOT_HOLDER[i]));
        values.push((SLOT_HOLDER[i], s(holder.to_string())));
        conditions.push(match claim {
            SlotClaim::Empty => format!("attribute_not_exists(#s{slot})"),
            SlotClaim::Lapsed => format!("#x{slot} <= :now"),
            SlotClaim::Released(was) => {
                values.push((SLOT_WAS[i], s(was.to_string())));
                format!("#s{slot} = {}", SLOT_WAS[i])
            }
        });
    }
    sets.push("#ttl = :ttl".to_owned());
    let update = format!("SET {}", sets.join(", "));
    TxItem::update(table, key, &update, Some(&conditions.join(" AND ")), values)
}

/// The update that moves the slots of `extended` (a checkout's held reservations with their new
/// ends) along with their holds, conditioned on each slot still being theirs: one lost to a
/// newer hold of the user means that hold found it lapsed.
pub(super) fn extend_slots(
    table: &str,
    key: Item,
    extended: &[(u32, Uuid, i64)],
) -> StoreResult<Option<TransactWriteItem>> {
    if extended.is_empty() {
        return Ok(None);
    }
    let mut sets = Vec::with_capacity(extended.len() + 1);
    let mut conditions = Vec::with_capacity(extended.len());
    let mut values = Vec::with_capacity(extended.len() * 2 + 1);
    for (i, (slot, holder, until_ms)) in extended.iter().take(SeatSelection::MAX_SEATS).enumerate() {
        sets.push(format!("#x{slot} = {}", SLOT_UNTIL[i]));
        conditions.push(format!("#s{slot} = {}", SLOT_HOLDER[i]));
        values.push((SLOT_UNTIL[i], n(*until_ms)));
        values.push((SLOT_HOLDER[i], s(holder.to_string())));
    }
    let last = extended.iter().map(|(_, _, until_ms)| *until_ms).max().unwrap_or_default();
    sets.push("#ttl = :ttl".to_owned());
    values.push((":ttl", n(last / 1000 + SLOTS_KEPT_SECONDS)));
    let update = format!("SET {}", sets.join(", "));
    TxItem::update(table, key, &update, Some(&conditions.join(" AND ")), values).map(Some)
}

/// Holds of one user for one event wait for each other in this process, the first come first.
/// They would all write that user's slots item: at once, DynamoDB lets one transaction through
/// and cancels the others (`TransactionConflict`, or a slot condition that the first one's write
/// now fails), and a burst of them from one buyer spent its retries and answered 503 while each
/// had a turn to come. Only the order changes: the conditional write still decides every slot,
/// also between processes.
#[derive(Default)]
pub(super) struct HolderTurns(std::sync::Mutex<HashMap<(Uuid, Uuid), Line>>);

/// A turn taken from `HolderTurns`; the last one of a holder forgets the holder.
pub(super) struct HolderTurn<'a> {
    turns: &'a HolderTurns,
    holder: (Uuid, Uuid),
    line: Line,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl HolderTurns {
    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, Uuid), Line>> {
        // The map is consistent after any panic (one insert or remove), so a poisoned lock is fine.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the turn of `user_id`'s hold for `event_id`.
    pub(super) async fn take(&self, event_id: Uuid, user_id: Uuid) -> HolderTurn<'_> {
        let holder = (event_id, user_id);
        let line = Arc::clone(self.lines().entry(holder).or_default());
        let guard = Arc::clone(&line).lock_owned().await;
        HolderTurn { turns: self, holder, line, guard: Some(guard) }
    }
}

impl Drop for HolderTurn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut lines = self.turns.lines();
        // Nobody else has this line (only the map and this turn): the holder is forgotten.
        if Arc::strong_count(&self.line) == 2 {
            lines.remove(&self.holder);
        }
    }
}

impl DynamoStore {
    /// The slots a hold takes, one per seat, lowest first: free by the slots item itself, or else
    /// held by reservations that a consistent read finds no longer held (confirmed, canceled,
    /// expired or lapsed); `None` when fewer than its seats are free below the limit.
    pub(super) async fn free_slots(
        &self,
        slots: &HoldSlots,
        request: &HoldRequest,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Claims>> {
        let seats = request.seats.ids().len();
        let (mut free, taken) = slots.free(request.limit.seats(), seats, ms(now));
        if free.len() < seats && !taken.is_empty() {
            let holders = self.batch_get(taken.iter().map(|(_, holder)| reservation_key(*holder)).collect()).await?;
            let mut still_held = BTreeSet::new();
            for item in &holders {
                let holder = reservation_from(item, now)?.reservation;
                if holder.status == ReservationStatus::Held {
                    still_held.insert(holder.id);
                }
            }
            let released = taken.into_iter().filter(|(_, holder)| !still_held.contains(holder));
            free.extend(released.map(|(slot, holder)| (slot, SlotClaim::Released(holder))).take(seats - free.len()));
            free.sort_by_key(|(slot, _)| *slot);
        }
        Ok((free.len() == seats).then_some(free))
    }
}
