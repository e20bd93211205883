//! The one extension of a booking's hold on DynamoDB, and the writes that move held seats'
//! expiry, which checkout uses too. An extension is one `TransactWriteItems`: the booking item is
//! marked `extended` only where the mark is absent (so of two extensions at once exactly one
//! commits), and each running hold of the booking moves on, conditioned on the expiry it was read
//! with: its reservation, its seat state with the lapse index's sort key (what the sweeper reads,
//! see `expire_lapsed_holds`), and its hold slot. A seat that changed meanwhile (canceled, swept)
//! fails its condition; the booking is read again and the extension decided again.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::hold_slots::extend_slots;
use super::holds::{kept_conflicting, seat_partitions};
use super::items::*;
use super::{Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, TxItem};
use crate::domain::{Booking, HoldExtension, ReservationStatus};
use crate::store::{StoreError, StoreResult, extension_refusal};

/// The writes that move the `held` seats of a booking (whose seats are `reservations`) to the
/// expiry `until` gives each: per seat its reservation and its seat state (and lapse index key),
/// each conditioned on the expiry it was read with, then the user's hold slots. Returns the writes
/// and the index of the hold slots' write (when there is one), whose refusal means a newer hold of
/// the user took a slot of these by that hold's clock.
pub(super) fn held_expiry_writes(
    table: &str,
    reservations: &[StoredReservation],
    held: &[&StoredReservation],
    until: impl Fn(&StoredReservation) -> i64,
    discount: impl Fn(&StoredReservation) -> Option<i64>,
) -> StoreResult<(Vec<TransactWriteItem>, usize)> {
    let spks = seat_partitions(reservations);
    let mut writes = Vec::with_capacity(held.len() * 2 + 1);
    let mut slots = Vec::with_capacity(held.len());
    for r in held {
        let until = until(r);
        let rid = r.reservation.id;
        if let Some(slot) = r.slot {
            slots.push((slot, rid, until));
        }
        let values =
            vec![(":held", s(ReservationStatus::Held.as_str())), (":old", n(r.expires_ms)), (":until", n(until))];
        // A checkout also writes each seat's share of its code's discount (0 without one).
        let (update, reservation_values) = match discount(r) {
            Some(share) => {
                let mut with_share = values.clone();
                with_share.push((":disc", n(share)));
                ("SET #exp = :until, #disc = :disc", with_share)
            }
            None => ("SET #exp = :until", values.clone()),
        };
        writes.push(TxItem::update(
            table,
            reservation_key(rid),
            update,
            Some("#st = :held AND #exp = :old"),
            reservation_values,
        )?);
        let spk = spks.get(&rid).ok_or_else(|| corrupt("reservation", "no seat partition"))?;
        let mut seat_values = values;
        seat_values.extend([(":rid", s(rid.to_string())), (":sk", s(time_key(until, &rid.to_string())))]);
        writes.push(TxItem::update(
            table,
            DynamoStore::seat_state_of(r, spk),
            "SET #exp = :until, #gsi1sk = :sk",
            Some("#rid = :rid AND #st = :held AND #exp = :old"),
            seat_values,
        )?);
    }
    let slots_index = writes.len();
    if let Some(holder) = held.first().map(|r| &r.reservation) {
        writes.extend(extend_slots(table, hold_slots_key(holder.event_id, holder.user_id), &slots)?);
    }
    Ok((writes, slots_index))
}

impl DynamoStore {
    pub(super) async fn extend_booking_hold(
        &self,
        id: Uuid,
        extension: HoldExtension,
        now: DateTime<Utc>,
    ) -> StoreResult<Booking> {
        let (now_ms, by_ms) = (ms(now), extension.duration().num_milliseconds());
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let Some((booking, reservations)) = self.booking_with_seats(id, now).await? else {
                return Err(extension_refusal(None, false));
            };
            let extended = booking.contains_key("extended");
            let held: Vec<&StoredReservation> = reservations
                .iter()
                .filter(|r| r.stored_status == ReservationStatus::Held && r.expires_ms > now_ms)
                .collect();
            if extended || held.is_empty() {
                let read = booking_from(&booking, reservations)?;
                return Err(extension_refusal(read.as_ref(), extended));
            }
            let mark = TxItem::update(
                &self.table,
                booking_key(id),
                "SET #extended = :now",
                Some("attribute_exists(#pk) AND attribute_not_exists(#extended)"),
                vec![(":now", n(now_ms))],
            )?;
            let (moves, slots_index) =
                held_expiry_writes(&self.table, &reservations, &held, |r| r.expires_ms + by_ms, |_| None)?;
            let mut writes = vec![mark];
            writes.extend(moves);
            match self.transact(&mut budget, writes).await? {
                Ok(()) => {
                    let (booking, reservations) =
                        self.booking_with_seats(id, now).await?.ok_or_else(|| corrupt("booking", "gone"))?;
                    return booking_from(&booking, reservations)?
                        .ok_or_else(|| StoreError::Internal("an extended booking without seats".into()));
                }
                // A newer hold of the user took a slot of this one: by that hold's clock this one
                // had lapsed (as at checkout).
                Err(canceled) if canceled.condition_failed(slots_index + 1) => return Err(StoreError::HoldExpired),
                // Another extension committed first, or a seat changed since it was read (canceled,
                // swept): read again and decide again.
                Err(canceled) if canceled.any_condition_failed() => {}
                Err(_) => return Err(kept_conflicting("hold extension")),
            }
        }
        Err(kept_conflicting("hold extension"))
    }
}
