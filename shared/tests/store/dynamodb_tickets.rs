//! What the DynamoDB store sends for tickets, seen by an interceptor on its client: the design
//! `docs/dynamodb.md` describes and the conformance cases cannot see. A confirm issues every
//! ticket inside its own transaction and a cancel revokes them inside its own, without reading
//! them (each with its webhook events); a scan that admits is one read of the ticket and one
//! transaction of its conditional update and its `ticket.checked_in` event, and a scan of a used
//! or unknown ticket is that one read (no item is ever created).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, get_item::GetItemInput, query::QueryInput,
    transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use proeventa_core::domain::{CheckIn, Gate, Page, Scan, SeatSelection, Ticket, TicketFilter, TicketStatus};
use proeventa_core::store::dynamodb::DynamoStore;
use proeventa_core::store::{Entity, Store, StoreError, TicketStore};
use proeventa_testkit::TempDynamoTable;
use uuid::Uuid;

use crate::support::*;

/// One request the store sent: its operation and the partition key of each item it names (a
/// transaction's items, a batch's keys, or the one item), with what it does to each.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    operation: &'static str,
    items: Vec<(&'static str, String)>,
}

impl Request {
    fn names_ticket(&self) -> bool {
        self.items.iter().any(|(_, pk)| pk.starts_with("TICKET#"))
    }

    /// The tickets this request puts or updates, as (what, partition key).
    fn ticket_writes(&self) -> Vec<(&'static str, String)> {
        self.items.iter().filter(|(what, pk)| *what != "Read" && pk.starts_with("TICKET#")).cloned().collect()
    }
}

/// Records every request the store sends, before it is sent.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Request>>>);

impl Recorder {
    /// The requests sent since the last call, forgetting them.
    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn pk_of(item: Option<&std::collections::HashMap<String, AttributeValue>>) -> String {
    match item.and_then(|item| item.get("pk")) {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => String::new(),
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "RecordTicketRequests"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let request = if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            let items = i
                .transact_items()
                .iter()
                .map(|item| match (item.put(), item.update(), item.condition_check()) {
                    (Some(put), ..) => ("Put", pk_of(Some(put.item()))),
                    (_, Some(update), _) => ("Update", pk_of(Some(update.key()))),
                    (.., Some(check)) => ("Check", pk_of(Some(check.key()))),
                    _ => ("Other", String::new()),
                })
                .collect();
            Request { operation: "TransactWriteItems", items }
        } else if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
            Request { operation: "UpdateItem", items: vec![("Update", pk_of(i.key()))] }
        } else if let Some(i) = input.downcast_ref::<GetItemInput>() {
            Request { operation: "GetItem", items: vec![("Read", pk_of(i.key()))] }
        } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
            let keys = i.request_items().into_iter().flat_map(|r| r.values()).flat_map(|k| k.keys());
            Request { operation: "BatchGetItem", items: keys.map(|key| ("Read", pk_of(Some(key)))).collect() }
        } else if input.downcast_ref::<QueryInput>().is_some() {
            Request { operation: "Query", items: Vec::new() }
        } else {
            Request { operation: "Other", items: Vec::new() }
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(request);
        Ok(())
    }
}

/// A fresh, migrated DynamoDB store whose requests `Recorder` sees, as itself (for its tickets)
/// and as a `Store` (for the fixtures).
async fn recorded_store() -> (Arc<DynamoStore>, Arc<dyn Store>, Recorder, TempDynamoTable) {
    let table = TempDynamoTable::new("proeventa_tickets");
    let recorder = Recorder::default();
    let store = DynamoStore::connect_intercepted(table.endpoint(), table.name(), recorder.clone());
    store.migrate().await.unwrap_or_else(|e| panic!("create table {} at {}: {e}", table.name(), table.endpoint()));
    recorder.take();
    let store = Arc::new(store);
    (store.clone(), store, recorder, table)
}

fn ticket_pk(ticket: &Ticket) -> String {
    format!("TICKET#{}", ticket.id)
}

async fn booking_tickets(store: &DynamoStore, booking_id: Uuid) -> Vec<Ticket> {
    let filter = TicketFilter { booking_id: Some(booking_id), user_id: None, page: Page { limit: 100, offset: 0 } };
    store.list_tickets(&filter).await.expect("the booking's tickets")
}

fn scan_of(ticket_id: Uuid) -> Scan {
    Scan { id: Uuid::new_v4(), ticket_id, gate: Gate::parse(Some("north")).expect("a gate"), at: Utc::now() }
}

#[tokio::test]
async fn tickets_are_issued_and_revoked_inside_the_confirm_and_cancel_transactions() {
    let (tickets_of, store, recorder, _table) = recorded_store().await;
    let seats = SeatSelection::MAX_SEATS;
    let venue = fixture_grid_venue(&store, 1, seats as i32).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let positions: Vec<usize> = (0..seats).collect();
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &positions)).await.expect("hold");
    let payment = checkout(&store, &booking).await.expect("checkout");

    recorder.take();
    store.confirm_payment(payment.id, "ch_largest", CARD_LAST4, Utc::now()).await.expect("confirm");
    let sent = recorder.take();
    let tickets = booking_tickets(&tickets_of, booking.id).await;
    assert_eq!(tickets.len(), seats, "a ticket per seat");
    let mut issued: Vec<String> = tickets.iter().map(ticket_pk).collect();
    issued.sort();
    let writing: Vec<&Request> = sent.iter().filter(|r| !r.ticket_writes().is_empty()).collect();
    assert_eq!(writing.len(), 1, "every ticket is written by one request: {sent:#?}");
    let confirm = writing[0];
    assert_eq!(confirm.operation, "TransactWriteItems");
    let mut put: Vec<String> = confirm
        .ticket_writes()
        .into_iter()
        .map(|(what, pk)| {
            assert_eq!(what, "Put");
            pk
        })
        .collect();
    put.sort();
    assert_eq!(put, issued, "the confirm's transaction puts exactly the booking's tickets");
    assert!(
        confirm.items.iter().any(|(what, pk)| *what == "Update" && pk == &format!("PAY#{}", payment.id)),
        "in the same transaction as the payment's success"
    );
    assert!(
        confirm.items.iter().any(|(what, pk)| *what == "Put" && pk.starts_with("MSG#")),
        "the confirmation's outbox message is written in the same transaction"
    );
    assert!(
        confirm.items.iter().any(|(what, pk)| *what == "Put" && pk.starts_with("HOOKEVENT#")),
        "the booking.confirmed webhook event is written in the same transaction"
    );
    // Payment, reservations, seat states, tickets, gate check, outbox message, webhook event:
    // 3n + 4, within DynamoDB's 100.
    assert_eq!(confirm.items.len(), 3 * seats + 4);

    recorder.take();
    store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel the paid booking");
    let sent = recorder.take();
    let reads_a_ticket = sent.iter().any(|r| r.operation != "TransactWriteItems" && r.names_ticket());
    assert!(!reads_a_ticket, "the cancel finds the tickets on the reservations, not by reading them: {sent:#?}");
    let writing: Vec<&Request> = sent.iter().filter(|r| !r.ticket_writes().is_empty()).collect();
    assert_eq!(writing.len(), 1, "every ticket is revoked by one request: {sent:#?}");
    let cancel = writing[0];
    assert_eq!(cancel.operation, "TransactWriteItems");
    let mut revoked: Vec<String> = cancel
        .ticket_writes()
        .into_iter()
        .map(|(what, pk)| {
            assert_eq!(what, "Update");
            pk
        })
        .collect();
    revoked.sort();
    assert_eq!(revoked, issued, "the cancel's transaction revokes exactly the booking's tickets");
    assert!(
        cancel.items.iter().any(|(what, pk)| *what == "Put" && pk.starts_with("MSG#")),
        "the refund notice is written in the same transaction"
    );
    let events = cancel.items.iter().filter(|(what, pk)| *what == "Put" && pk.starts_with("HOOKEVENT#")).count();
    assert_eq!(events, 2, "booking.canceled and refund.created are written in the same transaction");
    // Reservations, seat states, tickets, the payment's refund, its notice and the two webhook
    // events: 3n + 4.
    assert_eq!(cancel.items.len(), 3 * seats + 4);
    let after = booking_tickets(&tickets_of, booking.id).await;
    assert!(after.iter().all(|t| t.status == TicketStatus::Revoked), "{after:?}");
}

#[tokio::test]
async fn a_scan_admitted_is_a_read_and_one_transaction_with_its_webhook_event_and_creates_nothing() {
    let (tickets_of, store, recorder, _table) = recorded_store().await;
    let venue = fixture_grid_venue(&store, 1, 1).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_door").await;
    let ticket = booking_tickets(&tickets_of, booking.id).await.pop().expect("a ticket");
    let only_its_read = |sent: Vec<Request>, pk: String| {
        assert_eq!(sent, [Request { operation: "GetItem", items: vec![("Read", pk)] }], "one read, no write");
    };

    recorder.take();
    let first = scan_of(ticket.id);
    let CheckIn::Admitted(admitted) = tickets_of.check_in(&first).await.expect("a scan") else {
        panic!("a valid ticket is admitted");
    };
    // The ticket read (its booking, for the event), then its conditional update and its
    // ticket.checked_in event (the scan's id) in one transaction: one write more than the update.
    assert_eq!(
        recorder.take(),
        [
            Request { operation: "GetItem", items: vec![("Read", ticket_pk(&ticket))] },
            Request {
                operation: "TransactWriteItems",
                items: vec![("Update", ticket_pk(&ticket)), ("Put", format!("HOOKEVENT#{}", first.id))]
            },
        ]
    );
    assert_eq!(admitted.admission.as_ref().map(|a| a.scan_id), Some(first.id));

    let CheckIn::Refused(refused) = tickets_of.check_in(&scan_of(ticket.id)).await.expect("a second scan") else {
        panic!("a used ticket is refused");
    };
    only_its_read(recorder.take(), ticket_pk(&ticket));
    assert_eq!(refused, admitted, "the refusal carries the ticket as stored, with the first scan's admission");

    let unknown = Uuid::new_v4();
    let outcome = tickets_of.check_in(&scan_of(unknown)).await;
    assert!(matches!(outcome, Err(StoreError::NotFound(Entity::Ticket))), "{outcome:?}");
    only_its_read(recorder.take(), format!("TICKET#{unknown}"));
    assert_eq!(tickets_of.ticket(unknown).await.expect("read"), None, "a scan of no ticket creates none");
}
