//! The sweep of lapsed holds on DynamoDB (`HoldStore::expire_lapsed_holds`): the sweeper's index
//! (`gsi1`, `HELD#<shard>`, sorted by expiry) lists every hold that ended by now; each is written
//! down as expired in a transaction conditioned on its lapse (its seat state still the lapsed
//! hold's). The seats of an event with a waiting list are swept booking by booking instead, each
//! booking's in one transaction that also offers them to the list (`waitlist::offers`).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::holds::seat_freed;
use super::items::*;
use super::{DynamoStore, Query, Tx, TxItem};
use crate::domain::ReservationStatus;
use crate::store::StoreResult;

impl DynamoStore {
    /// Writes down every hold lapsed by `now` as expired; how many.
    pub(super) async fn sweep_lapsed_holds(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now_ms = ms(now);
        // Index sort keys are `<expiry>#<reservation>`; '$' sorts right after '#', so this bound
        // takes every hold that ended at or before now.
        let bound = format!("{now_ms:015}$");
        let mut expired = 0;
        // The lapsed seats of events with a waiting list, booking by booking (their seats were
        // freed together): each booking's are expired and offered in one transaction.
        let mut listed: HashMap<Uuid, bool> = HashMap::new();
        let mut offered: BTreeMap<(Uuid, Uuid), Vec<Item>> = BTreeMap::new();
        for shard in 0..HELD_SHARDS {
            let pk = format!("HELD#{shard}");
            for item in self.query_all(Query::gsi1(&pk).below(&bound)).await? {
                let Some(event_id) = pk_of(&item).and_then(event_of_seat_partition) else {
                    continue;
                };
                let has_list = match listed.get(&event_id) {
                    Some(has_list) => *has_list,
                    None => {
                        let has_list = self.has_waitlist(event_id).await?;
                        listed.insert(event_id, has_list);
                        has_list
                    }
                };
                if has_list {
                    offered.entry((event_id, get_uuid(&item, "bid")?)).or_default().push(item);
                    continue;
                }
                let (Some(pk), Some(AttributeValue::S(sk))) = (pk_of(&item), item.get("sk")) else {
                    continue;
                };
                let rid = get_uuid(&item, "rid")?;
                let writes = vec![
                    TxItem::update(
                        &self.table,
                        key(pk.to_owned(), sk),
                        "SET #st = :expired REMOVE #gsi1pk, #gsi1sk",
                        Some("#rid = :rid AND #st = :held AND #exp <= :now"),
                        vec![
                            (":expired", s(ReservationStatus::Expired.as_str())),
                            (":held", s(ReservationStatus::Held.as_str())),
                            (":rid", s(rid.to_string())),
                            (":now", n(now_ms)),
                        ],
                    )?,
                    lapsed_reservation(&self.table, rid, now_ms)?,
                ];
                // Refused: another sweep, a confirm, a cancel or a new hold got there first. Busy:
                // someone is writing that seat right now; the next sweep (or its reader) decides.
                if matches!(self.transact_once(&writes).await?, Tx::Committed) {
                    expired += 1;
                }
            }
        }
        for ((event_id, _), states) in offered {
            expired += self.expire_and_offer(event_id, &states, now).await?;
        }
        Ok(expired)
    }
}

/// The write of a lapsed hold's reservation as expired (conditioned on its lapse).
fn lapsed_reservation(table: &str, rid: Uuid, now_ms: i64) -> StoreResult<TransactWriteItem> {
    TxItem::update(
        table,
        reservation_key(rid),
        "SET #st = :expired",
        Some("#st = :held AND #exp <= :now"),
        vec![
            (":expired", s(ReservationStatus::Expired.as_str())),
            (":held", s(ReservationStatus::Held.as_str())),
            (":now", n(now_ms)),
        ],
    )
}

/// The event of a seat-state partition key (`EVENT#<event>#SEATS#<shard>`).
fn event_of_seat_partition(pk: &str) -> Option<Uuid> {
    let rest = pk.strip_prefix("EVENT#")?;
    Uuid::parse_str(rest.split('#').next()?).ok()
}

impl DynamoStore {
    /// Expires the lapsed holds of one booking (`states`: their seat-state items as the sweeper's
    /// index listed them) and offers their seats to the event's waiting list, in one transaction
    /// conditioned on each hold still being the lapsed one read. How many were expired (none when
    /// something changed meanwhile: the next sweep decides again).
    async fn expire_and_offer(&self, event_id: Uuid, states: &[Item], now: DateTime<Utc>) -> StoreResult<u64> {
        let now_ms = ms(now);
        let mut rids = Vec::with_capacity(states.len());
        for state in states {
            rids.push(get_uuid(state, "rid")?);
        }
        let found = self.batch_get(rids.iter().map(|rid| reservation_key(*rid)).collect()).await?;
        let lapsed: Vec<StoredReservation> = found
            .iter()
            .map(|item| reservation_from(item, now))
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .filter(|r| r.stored_status == ReservationStatus::Held && r.expires_ms <= now_ms && r.spk.is_some())
            .collect();
        let refs: Vec<&StoredReservation> = lapsed.iter().collect();
        let offers = self.offers(event_id, &refs, now).await?;
        let mut writes = Vec::with_capacity(2 * lapsed.len() + offers.writes.len());
        for r in &lapsed {
            let Some(spk) = &r.spk else { continue };
            let read = vec![
                (":rid", s(r.reservation.id.to_string())),
                (":st", s(ReservationStatus::Held.as_str())),
                (":now", n(now_ms)),
            ];
            let state = Self::seat_state_of(r, spk);
            let condition = "#rid = :rid AND #st = :st AND #exp <= :now";
            let freed_to = offers.seats.get(&r.reservation.seat_id);
            writes.push(seat_freed(&self.table, state, ReservationStatus::Expired, condition, read, freed_to)?);
            writes.push(lapsed_reservation(&self.table, r.reservation.id, now_ms)?);
        }
        if writes.is_empty() {
            return Ok(0);
        }
        writes.extend(offers.writes);
        Ok(match self.transact_once(&writes).await? {
            Tx::Committed => lapsed.len() as u64,
            Tx::Refused(_) | Tx::Busy(_) => 0,
        })
    }
}
