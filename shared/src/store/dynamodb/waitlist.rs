//! The waiting lists of sold-out events on DynamoDB: one partition per event (`WAITLIST#<event>`)
//! with an entry per account (`USER#<user>`, put only where none exists) and a counter (`SEQ`,
//! `ADD next`) that gives each new entry its order. Offers are planned here (`offers`) from a
//! strongly consistent read of the list and written by the cancel or sweep that frees the seats,
//! in its own transaction: the freed seats' state items go straight from the old booking to the
//! offer's (conditioned on the old booking still having them, as the cancel's own write is), with
//! the offer's booking and reservations, and each entry's update conditioned on the status and the
//! passes read. A list that changed meanwhile refuses the transaction, and the cancel reads and
//! decides again.
//!
//! Offers are of the event's first ticket type. When it has a quota, each offered seat takes a type
//! slot with the conditional put a hold uses (`type_slots.rs`), in the same transaction, so no
//! more than the quota are held or sold at once; a slot of a reservation the freeing transaction
//! itself cancels or expires is free to it. A slot taken meanwhile by a hold refuses the
//! transaction like a changed list does: the cancel reads again, finds the slot taken and makes no
//! such offer (the sweep leaves it to its next run), so the seats are freed all the same.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::catalog::event_from;
use super::holds::{HeldSeat, booking_item};
use super::items::*;
use super::messages::message_put;
use super::{DynamoStore, Query, Returned, TxItem, Updated};
use crate::domain::{
    EventStatus, MessageFacts, STANDARD_TICKET_TYPE, WAITLIST_LOOKAHEAD, WaitlistEntry, WaitlistJoin, WaitlistSeats,
    WaitlistStatus, plan_offers,
};
use crate::store::{Entity, StoreError, StoreResult, WaitlistStore};

/// Where a freed seat goes instead of being freed: held for an offer.
pub(super) struct OfferedSeat {
    pub rid: Uuid,
    pub booking_id: Uuid,
    pub expires_ms: i64,
}

/// The offers a freeing transaction makes: which freed seats they take (by seat id) and the writes
/// that go with them (the offers' reservations, their type slots, bookings and mails, the entries'
/// updates). At most 60 writes: per freed seat (10 at most) its reservation and type slot, per
/// offer (10 at most) its booking and mail, and the updates of at most `WAITLIST_LOOKAHEAD`
/// entries; with a cancel's own 34 at most (two per seat, a ticket per paid seat, the refund, its
/// two webhook events and its notice), 94: within `TRANSACT_MAX_ITEMS` (100).
#[derive(Default)]
pub(super) struct Offers {
    pub seats: HashMap<Uuid, OfferedSeat>,
    pub writes: Vec<TransactWriteItem>,
}

fn entry_item(join: &WaitlistJoin, seq: i64, now_ms: i64) -> Item {
    let mut item = waitlist_entry_key(join.event_id, join.user_id);
    item.extend([
        ("id".to_owned(), s(join.id.to_string())),
        ("eid".to_owned(), s(join.event_id.to_string())),
        ("uid".to_owned(), s(join.user_id.to_string())),
        ("seq".to_owned(), n(seq)),
        ("seats".to_owned(), n(i64::from(join.seats.get()))),
        ("offer_min".to_owned(), n(join.offer_minutes)),
        ("st".to_owned(), s(WaitlistStatus::Waiting.as_str())),
        ("passes".to_owned(), n(0)),
        ("joined".to_owned(), n(now_ms)),
    ]);
    if let Some(tier) = &join.tier {
        item.insert("tier".to_owned(), s(tier));
    }
    item
}

fn entry_from(item: &Item) -> StoreResult<WaitlistEntry> {
    Ok(WaitlistEntry {
        id: get_uuid(item, "id")?,
        event_id: get_uuid(item, "eid")?,
        user_id: get_uuid(item, "uid")?,
        seats: WaitlistSeats::parse(get_n(item, "seats")?).map_err(|err| StoreError::Internal(err.to_string()))?,
        tier: opt_s(item, "tier"),
        offer_minutes: get_n(item, "offer_min")?,
        seq: get_n(item, "seq")?,
        ahead: 0,
        status: get_enum(item, "st")?,
        passes: u32::try_from(get_n(item, "passes")?).unwrap_or(0),
        booking_id: opt_s(item, "bid")
            .map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt("booking id", &raw)))
            .transpose()?,
        joined_at: get_time(item, "joined")?,
        offered_at: opt_n(item, "offered")?.map(from_ms).transpose()?,
    })
}

impl DynamoStore {
    /// Every entry of the event's list, in their order (strongly consistent).
    async fn waitlist(&self, event_id: Uuid) -> StoreResult<Vec<WaitlistEntry>> {
        let pk = waitlist_pk(event_id);
        let items = self.query_all(Query::table(&pk).prefix("USER#")).await?;
        let mut entries = items.iter().map(entry_from).collect::<StoreResult<Vec<_>>>()?;
        entries.sort_by_key(|entry| entry.seq);
        Ok(entries)
    }

    /// Whether anybody waits on the event's list (a cheap look before a sweep plans offers).
    pub(super) async fn has_waitlist(&self, event_id: Uuid) -> StoreResult<bool> {
        let pk = waitlist_pk(event_id);
        Ok(self.count(Query::table(&pk).prefix("USER#")).await? > 0)
    }

    /// The offers of the seats `freed` together (reservations of one booking of `event_id`, as
    /// read by the freeing transaction) to the event's waiting entries: see the module's doc.
    /// None when nobody waits or the event no longer sells.
    pub(super) async fn offers(
        &self,
        event_id: Uuid,
        freed: &[&StoredReservation],
        now: DateTime<Utc>,
    ) -> StoreResult<Offers> {
        if freed.is_empty() {
            return Ok(Offers::default());
        }
        let waiting: Vec<WaitlistEntry> = self
            .waitlist(event_id)
            .await?
            .into_iter()
            .filter(|e| e.status == WaitlistStatus::Waiting)
            .take(WAITLIST_LOOKAHEAD)
            .collect();
        if waiting.is_empty() {
            return Ok(Offers::default());
        }
        let Some(event) = self.get(event_key(event_id)).await?.map(|item| event_from(&item)).transpose()? else {
            return Ok(Offers::default());
        };
        let event = event.event;
        if event.status != EventStatus::OnSale || event.start_time <= now {
            return Ok(Offers::default());
        }
        let prices: HashMap<&str, i64> = event.prices.iter().map(|p| (p.tier.as_str(), p.price_cents)).collect();
        // The seats in row order, those of a tier the event still prices.
        let mut seats: Vec<&StoredReservation> =
            freed.iter().copied().filter(|r| prices.contains_key(r.reservation.seat.tier.as_str())).collect();
        seats.sort_by_key(|r| (r.row_index, r.reservation.seat.seat_number));
        // Offers are of the event's first ticket type, at its prices (`event.prices`): with a quota,
        // as many seats as it has free slots, each taking one (those of the seats freed here too).
        let offered = event.ticket_types.first();
        let ticket_type = offered.map_or(STANDARD_TICKET_TYPE, |t| t.name.as_str());
        let claims = match offered.and_then(|t| t.quota) {
            Some(quota) => {
                let ending: Vec<Uuid> = freed.iter().map(|r| r.reservation.id).collect();
                Some(self.type_slot_claims(event_id, ticket_type, quota, seats.len(), &ending, now).await?)
            }
            None => None,
        };
        let tiers: Vec<&str> = seats.iter().map(|r| r.reservation.seat.tier.as_str()).collect();
        let plan = plan_offers(&waiting, &tiers, claims.as_ref().map(Vec::len));
        // The plan took no more seats than there are claims, so each seat gets one.
        let mut claims = claims.map(Vec::into_iter);
        let now_ms = ms(now);
        let mut offers = Offers::default();
        for (index, taken) in &plan.offers {
            let entry = &waiting[*index];
            let booking_id = Uuid::new_v4();
            let expires_ms = ms(entry.offer_ends(now));
            let mut rids = Vec::with_capacity(taken.len());
            for &seat in taken {
                let r = seats[seat];
                let spk = r.spk.clone().ok_or_else(|| corrupt("reservation", "no seat partition"))?;
                let rid = Uuid::new_v4();
                let item = HeldSeat {
                    rid,
                    booking_id,
                    user_id: entry.user_id,
                    event_id,
                    seat_id: r.reservation.seat_id,
                    section: r.reservation.seat.section.as_deref(),
                    row: &r.reservation.seat.row,
                    seat_number: r.reservation.seat.seat_number,
                    tier: &r.reservation.seat.tier,
                    row_index: r.row_index,
                    spk,
                    ticket_type,
                    price_cents: prices[r.reservation.seat.tier.as_str()],
                    currency: &event.currency,
                    expires_ms,
                    slot: None,
                    now_ms,
                }
                .reservation_item();
                offers.writes.push(TxItem::put(&self.table, item, Some("attribute_not_exists(pk)"), vec![])?);
                if let Some(claim) = claims.as_mut().and_then(Iterator::next) {
                    offers.writes.push(claim.write(&self.table, event_id, rid)?);
                }
                offers.seats.insert(r.reservation.seat_id, OfferedSeat { rid, booking_id, expires_ms });
                rids.push(rid);
            }
            let booking = booking_item(booking_id, entry.user_id, event_id, now_ms, &rids);
            offers.writes.push(TxItem::put(&self.table, booking, Some("attribute_not_exists(pk)"), vec![])?);
            let facts = MessageFacts::WaitlistOffered { booking_id };
            offers.writes.push(message_put(&self.table, Some(entry.user_id), facts, now)?);
            offers.writes.push(TxItem::update(
                &self.table,
                waitlist_entry_key(event_id, entry.user_id),
                "SET #st = :offered, #bid = :bid, #offered = :now",
                Some("#st = :waiting AND #passes = :passes"),
                vec![
                    (":offered", s(WaitlistStatus::Offered.as_str())),
                    (":bid", s(booking_id.to_string())),
                    (":now", n(now_ms)),
                    (":waiting", s(WaitlistStatus::Waiting.as_str())),
                    (":passes", n(i64::from(entry.passes))),
                ],
            )?);
        }
        for &index in &plan.passed {
            let entry = &waiting[index];
            offers.writes.push(TxItem::update(
                &self.table,
                waitlist_entry_key(event_id, entry.user_id),
                "SET #passes = :more",
                Some("#st = :waiting AND #passes = :passes"),
                vec![
                    (":more", n(i64::from(entry.passes) + 1)),
                    (":waiting", s(WaitlistStatus::Waiting.as_str())),
                    (":passes", n(i64::from(entry.passes))),
                ],
            )?);
        }
        Ok(offers)
    }
}

#[async_trait]
impl WaitlistStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn join_waitlist(&self, join: &WaitlistJoin, now: DateTime<Utc>) -> StoreResult<(WaitlistEntry, bool)> {
        if self.get(event_key(join.event_id)).await?.is_none() {
            return Err(StoreError::NotFound(Entity::Event));
        }
        if let Some(entry) = self.waitlist_entry(join.event_id, join.user_id).await? {
            return Ok((entry, false));
        }
        let counter = self
            .update_if(
                waitlist_seq_key(join.event_id),
                "ADD #next :one",
                "attribute_not_exists(#next) OR #next >= :zero",
                vec![(":one", n(1)), (":zero", n(0))],
                Returned::New,
            )
            .await?;
        let seq = match counter {
            Updated::Written(Some(item)) => get_n(&item, "next")?,
            Updated::InTransaction(err) => return Err(err),
            _ => return Err(StoreError::Internal("the waiting list's counter gave no value".into())),
        };
        let put = TxItem::put(&self.table, entry_item(join, seq, ms(now)), Some("attribute_not_exists(pk)"), vec![])?;
        // Refused: the account joined at the same moment; its entry is the one answered.
        let created = matches!(self.transact_once(&[put]).await?, super::Tx::Committed);
        let entry = self.waitlist_entry(join.event_id, join.user_id).await?;
        let entry = entry.ok_or_else(|| StoreError::Unavailable("the waiting list was busy; try again".into()))?;
        Ok((entry, created))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn waitlist_entry(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<WaitlistEntry>> {
        let Some(item) = self.get(waitlist_entry_key(event_id, user_id)).await? else {
            return Ok(None);
        };
        let mut entry = entry_from(&item)?;
        if entry.status == WaitlistStatus::Waiting {
            let ahead = self
                .waitlist(event_id)
                .await?
                .iter()
                .filter(|other| other.status == WaitlistStatus::Waiting && other.seq < entry.seq)
                .count();
            entry.ahead = ahead as u64;
        }
        Ok(Some(entry))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn leave_waitlist(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let delete =
            TxItem::delete(&self.table, waitlist_entry_key(event_id, user_id), "attribute_exists(pk)", vec![])?;
        match self.transact_once(&[delete]).await? {
            super::Tx::Committed => Ok(true),
            super::Tx::Refused(_) => Ok(false),
            super::Tx::Busy(why) => {
                Err(StoreError::Unavailable(format!("the waiting list was busy ({why}); try again")))
            }
        }
    }
}
