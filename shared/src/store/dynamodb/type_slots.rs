//! Ticket type quotas on DynamoDB (issue 21): a quota'd type of an event has slots `1..=quota`,
//! one item each (`EVENT#<event>#TYPE#<name>`, `SLOT#<j>`) naming the reservation that holds it
//! (`rid`). A hold puts the item of each slot it takes in its own `TransactWriteItems`, on a
//! condition that admits only a free slot: no item yet (`attribute_not_exists(pk)`), or an item
//! still naming a reservation that this hold's consistent read found canceled or expired
//! (`rid = <that reservation>`: a status that never comes back). So no more than `quota` seats of
//! the type are held or sold at once, whatever the concurrency, decided by DynamoDB. A waiting
//! list's offer (of the event's first type) takes its slots with the same puts, in the transaction
//! of the cancel or sweep that frees the seats, which may give it the slots of the reservations it
//! ends itself (`waitlist.rs`).
//!
//! Cancel and expiry write nothing here: the slot of a canceled or expired reservation is free by
//! the rule above, and a confirmed one keeps it. A hold that lapsed but is not yet written down as
//! expired still counts (it may yet be confirmed), until the sweep (or a hold of its seat) writes
//! it down. Holds pick their empty slots at random among the free ones, so that a rush of holds of
//! one type does not fight over the lowest slot; a slot lost to another hold is read again and
//! decided again (`holds.rs`).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::*;
use super::{DynamoStore, Query, TxItem};
use crate::domain::{ReservationStatus, TicketType};
use crate::store::{StoreError, StoreResult};

/// The partition of a type's slots.
fn type_slots_pk(event_id: Uuid, ticket_type: &str) -> String {
    format!("EVENT#{event_id}#TYPE#{ticket_type}")
}

/// How a hold takes one type slot: the condition its put puts on it.
pub(super) enum TypeClaim {
    /// No item yet.
    Empty,
    /// Its item names a reservation read canceled or expired.
    Released(Uuid),
}

/// One slot a hold takes, for its reservation `rid`.
pub(super) struct TypeSlotClaim {
    pub ticket_type: String,
    pub slot: u32,
    pub claim: TypeClaim,
}

impl TypeSlotClaim {
    /// The conditional put that gives the slot to reservation `rid`.
    pub(super) fn write(&self, table: &str, event_id: Uuid, rid: Uuid) -> StoreResult<TransactWriteItem> {
        let mut item = key(type_slots_pk(event_id, &self.ticket_type), &format!("SLOT#{}", self.slot));
        item.insert("rid".to_owned(), s(rid.to_string()));
        match &self.claim {
            TypeClaim::Empty => TxItem::put(table, item, Some("attribute_not_exists(pk)"), vec![]),
            TypeClaim::Released(was) => {
                TxItem::put(table, item, Some("#rid = :was"), vec![(":was", s(was.to_string()))])
            }
        }
    }
}

impl DynamoStore {
    /// Per seat of a hold (`seat_types`, the type each resolved to), the type slot it takes (`None`
    /// for a type without a quota), or `TypeSoldOut` naming a type with fewer free slots than the
    /// hold has seats of it, by strongly consistent reads.
    pub(super) async fn free_type_slots(
        &self,
        event_id: Uuid,
        types: &[TicketType],
        seat_types: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<TypeSlotClaim>>> {
        let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
        for name in seat_types {
            *wanted.entry(name.as_str()).or_default() += 1;
        }
        let mut given: HashMap<&str, Vec<TypeSlotClaim>> = HashMap::new();
        for (name, count) in wanted {
            let Some(quota) = types.iter().find(|t| t.name == name).and_then(|t| t.quota) else { continue };
            let claims = self.type_slot_claims(event_id, name, quota, count, &[], now).await?;
            if claims.len() < count {
                return Err(StoreError::TypeSoldOut { ticket_type: name.to_owned() });
            }
            given.insert(name, claims);
        }
        Ok(seat_types.iter().map(|name| given.get_mut(name.as_str()).and_then(Vec::pop)).collect())
    }

    /// Up to `count` free slots of the event's type `name` (its `quota`), by strongly consistent
    /// reads: empty ones first, then those whose reservation has ended, which are those `ending`
    /// (canceled or expired by the very transaction the claims go into, whose write is conditioned
    /// on the state it read) and those a read finds canceled or expired.
    pub(super) async fn type_slot_claims(
        &self,
        event_id: Uuid,
        name: &str,
        quota: u32,
        count: usize,
        ending: &[Uuid],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<TypeSlotClaim>> {
        let pk = type_slots_pk(event_id, name);
        let mut held: BTreeMap<u32, Uuid> = BTreeMap::new();
        for item in self.query_all(Query::table(&pk)).await? {
            let Some(slot) = text(&item, "sk").strip_prefix("SLOT#").and_then(|j| j.parse::<u32>().ok()) else {
                continue;
            };
            held.insert(slot, get_uuid(&item, "rid")?);
        }
        let mut empty: Vec<u32> = (1..=quota).filter(|slot| !held.contains_key(slot)).collect();
        let mut claims: Vec<TypeSlotClaim> = Vec::with_capacity(count);
        while claims.len() < count && !empty.is_empty() {
            // A random empty slot: two holds of the type at once seldom pick the same one.
            let pick = usize::try_from(Uuid::new_v4().as_u128() % empty.len() as u128).unwrap_or(0);
            let slot = empty.swap_remove(pick);
            claims.push(TypeSlotClaim { ticket_type: name.to_owned(), slot, claim: TypeClaim::Empty });
        }
        if claims.len() < count {
            // The slots within the quota whose reservations have ended: known, or read so.
            let within: Vec<(u32, Uuid)> =
                held.iter().filter(|(slot, _)| **slot <= quota).map(|(s, r)| (*s, *r)).collect();
            let unknown: Vec<Item> =
                within.iter().filter(|(_, rid)| !ending.contains(rid)).map(|(_, rid)| reservation_key(*rid)).collect();
            let mut ended: HashMap<Uuid, bool> = ending.iter().map(|rid| (*rid, true)).collect();
            for item in &self.batch_get(unknown).await? {
                let r = reservation_from(item, now)?;
                let gone = matches!(r.stored_status, ReservationStatus::Canceled | ReservationStatus::Expired);
                ended.insert(r.reservation.id, gone);
            }
            for (slot, rid) in within {
                if claims.len() == count {
                    break;
                }
                if ended.get(&rid).copied().unwrap_or(false) {
                    claims.push(TypeSlotClaim { ticket_type: name.to_owned(), slot, claim: TypeClaim::Released(rid) });
                }
            }
        }
        Ok(claims)
    }
}
