//! Tickets on DynamoDB. One item per ticket, keyed by its own id (`TICKET#<id>`, so a scan reads
//! or writes it directly), listed under two index partitions: its user's (`gsi1`, by issue time)
//! and its event's (`gsi2`, by booking and seat; a booking's tickets are one key prefix there).
//!
//! The payment's confirm puts each ticket in its own transaction (`payments.rs`, with
//! `issued_ticket`) and writes the ticket's id on its reservation, so a cancel of the seat, its
//! booking or its event revokes the ticket in the cancel's own transaction without reading it
//! (`holds.rs`, with `revoke_ticket`). At the door, the ticket is read (consistently), then one
//! transaction takes it from `valid` to `used` by a conditional update and puts its
//! `ticket.checked_in` webhook event (webhooks.rs): DynamoDB lets exactly one of any number of
//! concurrent scans pass; every other one is answered the ticket as it then stands.

use std::collections::HashMap;

use async_trait::async_trait;

use aws_sdk_dynamodb::types::TransactWriteItem;
use uuid::Uuid;

use super::items::*;
use super::webhooks::event_put;
use super::{Budget, DynamoStore, Query, TxItem};
use crate::domain::{CheckIn, Gate, Scan, Ticket, TicketFilter, TicketStatus, TicketTally, User, WebhookEvent};
use crate::store::{Entity, StoreError, StoreResult, TicketStore};

/// The name a ticket carries: the account's name, or its e-mail address when it has none.
pub(super) fn holder_name(user: &User) -> String {
    if user.name.is_empty() { user.email.clone() } else { user.name.clone() }
}

/// The ticket item a confirm puts for a reservation it confirms (`valid`, issued at `now_ms`).
pub(super) fn issued_ticket(r: &StoredReservation, ticket_id: Uuid, holder: &str, now_ms: i64) -> Item {
    let seat = &r.reservation;
    let seat_order = ticket_seat_order(seat.booking_id, r.row_index, seat.seat.seat_number);
    let mut item = ticket_key(ticket_id);
    item.extend([
        ("id".to_owned(), s(ticket_id.to_string())),
        ("bid".to_owned(), s(seat.booking_id.to_string())),
        ("rid".to_owned(), s(seat.id.to_string())),
        ("eid".to_owned(), s(seat.event_id.to_string())),
        ("uid".to_owned(), s(seat.user_id.to_string())),
        ("seat_id".to_owned(), s(seat.seat_id.to_string())),
        ("row".to_owned(), s(&seat.seat.row)),
        ("num".to_owned(), n(i64::from(seat.seat.seat_number))),
        ("ridx".to_owned(), n(r.row_index)),
        ("tier".to_owned(), s(&seat.seat.tier)),
        // The seat's ticket type, for the sales report's `by_type`.
        ("ttype".to_owned(), s(&seat.ticket_type)),
        ("price".to_owned(), n(seat.price_cents)),
        // The seat's share of a code's discount: the reports count what was paid (price less it).
        ("disc".to_owned(), n(r.discount_cents)),
        ("currency".to_owned(), s(&seat.currency)),
        ("holder".to_owned(), s(holder)),
        ("st".to_owned(), s(TicketStatus::Valid.as_str())),
        ("issued".to_owned(), n(now_ms)),
        ("gsi1pk".to_owned(), s(user_tickets_pk(seat.user_id))),
        ("gsi1sk".to_owned(), s(time_key(now_ms, &seat_order))),
        ("gsi2pk".to_owned(), s(event_tickets_pk(seat.event_id))),
        ("gsi2sk".to_owned(), s(format!("{seat_order}#{ticket_id}"))),
    ]);
    if let Some(section) = &seat.seat.section {
        item.insert("sect".to_owned(), s(section));
    }
    item
}

/// The write, inside a cancel's transaction, that revokes a canceled seat's ticket (a used one
/// too: it keeps its admission). The condition keeps the update from creating an item where no
/// ticket was issued, and fails only on a ticket already revoked, which a confirmed seat's is not.
pub(super) fn revoke_ticket(table: &str, ticket_id: Uuid, now_ms: i64) -> StoreResult<TransactWriteItem> {
    TxItem::update(
        table,
        ticket_key(ticket_id),
        "SET #st = :revoked, #revoked = :now",
        Some("#st IN (:valid, :used)"),
        vec![
            (":revoked", s(TicketStatus::Revoked.as_str())),
            (":valid", s(TicketStatus::Valid.as_str())),
            (":used", s(TicketStatus::Used.as_str())),
            (":now", n(now_ms)),
        ],
    )
}

/// Newest first; among tickets issued at once (one confirm), by booking, then seat by seat.
fn sort_tickets(tickets: &mut [StoredTicket]) {
    tickets.sort_by(|a, b| {
        let (x, y) = (&a.ticket, &b.ticket);
        y.issued_at
            .cmp(&x.issued_at)
            .then(x.booking_id.cmp(&y.booking_id))
            .then(a.row_index.cmp(&b.row_index))
            .then(x.seat.seat_number.cmp(&y.seat.seat_number))
            .then(x.id.cmp(&y.id))
    });
}

fn tickets_from(items: &[Item]) -> StoreResult<Vec<StoredTicket>> {
    items.iter().map(ticket_from).collect()
}

impl DynamoStore {
    /// A booking's tickets: one query of its event's partition, by the booking's key prefix (the
    /// event named by the booking item). None for an unknown booking.
    async fn booking_tickets(&self, booking_id: Uuid) -> StoreResult<Vec<Item>> {
        let Some(booking) = self.get(booking_key(booking_id)).await? else {
            return Ok(Vec::new());
        };
        let event_pk = event_tickets_pk(get_uuid(&booking, "eid")?);
        let prefix = format!("{booking_id}#");
        self.query_all(Query::gsi2(&event_pk).prefix(&prefix)).await
    }
}

#[async_trait]
impl TicketStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ticket(&self, id: Uuid) -> StoreResult<Option<Ticket>> {
        self.get(ticket_key(id)).await?.map(|item| ticket_from(&item).map(|t| t.ticket)).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Vec<Ticket>> {
        let items = if let Some(booking_id) = filter.booking_id {
            self.booking_tickets(booking_id).await?
        } else if let Some(user_id) = filter.user_id {
            self.query_all(Query::gsi1(&user_tickets_pk(user_id))).await?
        } else {
            // Oversight of everything: event by event (the events index lists every one).
            let mut all = Vec::new();
            for event in self.query_all(Query::gsi1("EVENTS")).await? {
                all.extend(self.query_all(Query::gsi2(&event_tickets_pk(get_uuid(&event, "id")?))).await?);
            }
            all
        };
        let mut tickets = tickets_from(&items)?;
        tickets.retain(|t| filter.user_id.is_none_or(|user_id| t.ticket.user_id == user_id));
        sort_tickets(&mut tickets);
        Ok(super::users::paged(tickets, filter.page).into_iter().map(|t| t.ticket).collect())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn check_in(&self, scan: &Scan) -> StoreResult<CheckIn> {
        // The ticket as stored: its booking and event for the webhook event, and what a refusal
        // answers. Nothing is decided on it: the transaction's condition decides.
        let Some(read) = self.get(ticket_key(scan.ticket_id)).await? else {
            return Err(StoreError::NotFound(Entity::Ticket));
        };
        let stored = ticket_from(&read)?.ticket;
        if stored.status != TicketStatus::Valid {
            return Ok(CheckIn::Refused(stored));
        }
        let update = "SET #st = :used, #scan = :scan, #gate = :gate, #admitted = :at";
        // A missing ticket fails it too (it has no status), so the update never creates an item.
        let condition = "#st = :valid";
        let values = vec![
            (":used", s(TicketStatus::Used.as_str())),
            (":valid", s(TicketStatus::Valid.as_str())),
            (":scan", s(scan.id.to_string())),
            (":gate", s(scan.gate.as_str())),
            (":at", n(ms(scan.at))),
        ];
        // Its `ticket.checked_in` webhook event is one more item of the same transaction, its id
        // the scan's: written exactly when this scan admits the ticket.
        let checked_in = WebhookEvent::ticket_checked_in(
            scan.id,
            stored.id,
            stored.booking_id,
            stored.event_id,
            scan.gate.as_str(),
            scan.at,
        );
        let writes = vec![
            TxItem::update(&self.table, ticket_key(scan.ticket_id), update, Some(condition), values)?,
            event_put(&self.table, &checked_in)?,
        ];
        match self.transact(&mut Budget::new(), writes).await? {
            Ok(()) => {
                let mut admitted = read;
                admitted.extend([
                    ("st".to_owned(), s(TicketStatus::Used.as_str())),
                    ("scan".to_owned(), s(scan.id.to_string())),
                    ("gate".to_owned(), s(scan.gate.as_str())),
                    ("admitted".to_owned(), n(ms(scan.at))),
                ]);
                Ok(CheckIn::Admitted(ticket_from(&admitted)?.ticket))
            }
            // Another scan (or a cancel revoking it) got there first: the ticket as it is now.
            Err(_) => match self.get(ticket_key(scan.ticket_id)).await? {
                Some(item) => Ok(CheckIn::Refused(ticket_from(&item)?.ticket)),
                None => Err(StoreError::NotFound(Entity::Ticket)),
            },
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event_tickets(&self, event_id: Uuid) -> StoreResult<Vec<Ticket>> {
        let items = self.query_all(Query::gsi2(&event_tickets_pk(event_id))).await?;
        let mut tickets: Vec<Ticket> = tickets_from(&items)?.into_iter().map(|t| t.ticket).collect();
        tickets.sort_by_key(|t| t.id);
        Ok(tickets)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ticket_tallies(&self, event_id: Uuid) -> StoreResult<Vec<TicketTally>> {
        // Only what is counted travels: each ticket's status and admitting gate.
        let items = self.query_all(Query::gsi2(&event_tickets_pk(event_id)).only("#st, #gate")).await?;
        let mut counts = HashMap::<(TicketStatus, Option<Gate>), u64>::new();
        for item in &items {
            *counts.entry((get_enum::<TicketStatus>(item, "st")?, admitting_gate(item)?)).or_default() += 1;
        }
        let mut tallies: Vec<TicketTally> =
            counts.into_iter().map(|((status, gate), count)| TicketTally { status, gate, count }).collect();
        tallies.sort_by(|a, b| a.status.as_str().cmp(b.status.as_str()).then_with(|| a.gate.cmp(&b.gate)));
        Ok(tallies)
    }
}
