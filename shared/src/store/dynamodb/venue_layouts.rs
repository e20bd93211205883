//! Replacing a venue's layout on DynamoDB (issue 19): a layout is up to 100,000 seat items, too
//! many for one `TransactWriteItems`, so the venue item is leased while the seats are written (see
//! `replace_layout`); event creation at the venue conditions on no lease (`VENUE_NOT_LEASED`).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use uuid::Uuid;

use super::audit::audit_put;
use super::catalog::{EVENTS_INDEX, VENUE_NOT_LEASED, event_from};
use super::items::*;
use super::{Budget, DynamoStore, Query, Returned, TxItem, Updated};
use crate::domain::{Actor, AuditAction, AuditRecord, AuditedVenue, EventStatus, NewLayout, TimeZone, Venue};
use crate::store::{Relayout, StoreError, StoreResult, on_sale_at_venue, seat_still_booked, stored_layout_version};

/// How long a replacement of a venue's layout may hold the venue (`relayout` on its item) before
/// another may start and events may be created at it again.
const RELAYOUT_LEASE_MS: i64 = 5 * 60 * 1000;

impl DynamoStore {
    /// Replaces a venue's layout (see `VenueChanges::layout`), with `time_zone` if given; `false`:
    /// no venue. Its seats are too many for one transaction, so the venue item is leased first
    /// (`relayout`, until a time): an event created at the venue conditions on no lease
    /// (`VENUE_NOT_LEASED`), and the venue's events are checked once the lease is held. The seat
    /// items are then written, and the venue item (version, drawing, seat count, tiers) last, in
    /// one transaction with the audit entry that also ends the lease. A replacement cut off
    /// half-way leaves seats of both layouts until the same request is sent again (seats are
    /// matched by label, so it completes the first) or the lease lapses.
    pub(super) async fn replace_layout(
        &self,
        id: Uuid,
        layout: &NewLayout,
        time_zone: Option<TimeZone>,
        actor: Option<&Actor>,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let lease = ms(now) + RELAYOUT_LEASE_MS;
        let values = vec![(":lease", n(lease)), (":now", n(ms(now)))];
        let taken = self
            .update_if(venue_key(id), "SET #relayout = :lease", VENUE_NOT_LEASED, values, Returned::NewOrOld)
            .await?;
        let item = match taken {
            Updated::Written(Some(item)) => item,
            Updated::Written(None) => return Err(StoreError::Internal("leasing a venue returned no item".into())),
            Updated::Refused(None) => return Ok(false),
            Updated::Refused(Some(_)) => {
                return Err(StoreError::VenueInUse(
                    "another change of this venue's layout is being written; try again in a minute".into(),
                ));
            }
            Updated::InTransaction(err) => return Err(err),
        };
        let replaced = self.replace_leased_layout(id, &item, layout, time_zone, actor, lease).await;
        if replaced.is_err() {
            // Refused or failed: the lease ends now rather than when it lapses. Best effort: a
            // lease left behind only delays events at the venue until it lapses.
            let values = vec![(":lease", n(lease))];
            let _ = self
                .update_if(venue_key(id), "REMOVE #relayout", "#relayout = :lease", values, Returned::Nothing)
                .await;
        }
        replaced.map(|()| true)
    }

    async fn replace_leased_layout(
        &self,
        id: Uuid,
        item: &Item,
        layout: &NewLayout,
        time_zone: Option<TimeZone>,
        actor: Option<&Actor>,
        lease: i64,
    ) -> StoreResult<()> {
        let now = Utc::now();
        let before = venue_from(item)?;
        let mut events = Vec::new();
        for event in self.query_all(Query::gsi1(EVENTS_INDEX)).await?.iter().map(event_from) {
            let event = event?;
            if event.event.venue_id == id {
                events.push(event);
            }
        }
        let on_sale = events
            .iter()
            .map(|stored| &stored.event)
            .filter(|event| event.status == EventStatus::OnSale && event.start_time > now)
            .min_by_key(|event| (event.start_time, event.id));
        if let Some(event) = on_sale {
            return Err(on_sale_at_venue(&event.name, event.start_time));
        }
        let pk = venue_pk(id);
        let listed = self.query_all(Query::table(&pk).prefix("SEAT#")).await?;
        let current: Vec<VenueSeat> = listed.iter().map(venue_seat_from).collect::<StoreResult<_>>()?;
        let seats: Vec<_> = current.iter().map(|seat| seat.seat.clone()).collect();
        let plan = Relayout::plan(&seats, layout);
        if !plan.removed.is_empty() {
            // Any event's seat state names a seat once it was ever held; its reservations still read it.
            let removed: BTreeSet<Uuid> = plan.removed_ids().into_iter().collect();
            for stored in &events {
                let states = self.seat_states(stored.event.id, stored.shards).await?;
                if let Some(state) = states.iter().find(|state| removed.contains(&state.seat_id)) {
                    let seat = plan.removed.iter().find(|seat| seat.id == state.seat_id);
                    return Err(seat.map(seat_still_booked).unwrap_or_else(|| corrupt("seat", "vanished")));
                }
            }
        }
        let mut puts = Vec::with_capacity(2 * plan.seats.len());
        let mut listed_keys = BTreeSet::new();
        for (row_index, seat) in &plan.seats {
            let row_index = i64::from(*row_index);
            let sk = venue_seat_sk(row_index, i64::from(seat.seat_number));
            let mut attributes = vec![
                ("seat_id".to_owned(), s(seat.id.to_string())),
                ("venue_id".to_owned(), s(id.to_string())),
                ("row".to_owned(), s(&seat.row)),
                ("num".to_owned(), n(i64::from(seat.seat_number))),
                ("ridx".to_owned(), n(row_index)),
                ("tier".to_owned(), s(&seat.tier)),
            ];
            attributes.extend(seat_layout_attributes(seat));
            let mut listed = key(pk.clone(), &sk);
            listed.extend(attributes.clone());
            let mut by_id = seat_key(seat.id);
            by_id.extend(attributes);
            puts.extend([listed, by_id]);
            listed_keys.insert(sk);
        }
        // Seat items first (a seat's items are whole items: a put replaces the old one), then the
        // list entries of rows that moved and the seats that went.
        self.batch_put(puts).await?;
        let mut deletes: Vec<Item> = current
            .iter()
            .map(|seat| venue_seat_sk(seat.row_index, i64::from(seat.seat.seat_number)))
            .filter(|sk| !listed_keys.contains(sk))
            .map(|sk| key(pk.clone(), &sk))
            .collect();
        deletes.extend(plan.removed.iter().map(|seat| seat_key(seat.id)));
        self.batch_delete(deletes).await?;

        let tiers = layout.tiers();
        let mut sets = vec!["#lver = :lver", "#seat_count = :count", "#tiers = :tiers"];
        let mut removes = vec!["#relayout"];
        let mut values = vec![
            (":lver", s(&layout.layout_version)),
            (":count", n(plan.seat_count())),
            (":tiers", AttributeValue::L(tiers.into_iter().map(s).collect())),
            (":lease", n(lease)),
        ];
        match &layout.outline_json {
            Some(outline) => {
                sets.push("#layout = :layout");
                values.push((":layout", s(outline)));
            }
            None => removes.push("#layout"),
        }
        if let Some(time_zone) = time_zone {
            sets.push("#tz = :tz");
            values.push((":tz", s(time_zone.name())));
        }
        let update = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
        let mut writes = vec![TxItem::update(&self.table, venue_key(id), &update, Some("#relayout = :lease"), values)?];
        if let Some(actor) = actor {
            let after = Venue {
                seat_count: plan.seat_count(),
                time_zone: time_zone.unwrap_or(before.time_zone),
                ..before.clone()
            };
            let version_before = stored_layout_version(opt_s(item, "lver"));
            let before = AuditedVenue::new(before, version_before);
            let after = AuditedVenue::new(after, layout.layout_version.clone());
            if let Some(record) = AuditRecord::change(actor, AuditAction::VenueUpdated, id, &before, &after, now) {
                writes.push(audit_put(&self.table, &record)?);
            }
        }
        match self.transact(&mut Budget::new(), writes).await? {
            Ok(()) => Ok(()),
            Err(canceled) if canceled.condition_failed(0) => Err(StoreError::VenueInUse(
                "this change of the venue's layout took longer than its lease; send it again".into(),
            )),
            Err(canceled) => Err(StoreError::Internal(format!("replacing a layout was refused: {canceled:?}"))),
        }
    }
}
