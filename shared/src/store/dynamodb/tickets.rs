//! Tickets on DynamoDB: not stored here yet. This placeholder keeps `DynamoStore` a `Store` while
//! the tickets live in the SQL backends only; every method answers that tickets are missing here.
//! (Branch `tickets-dynamo` replaces this file with the real items and conditional writes.)

use async_trait::async_trait;
use uuid::Uuid;

use super::DynamoStore;
use crate::domain::{CheckIn, Scan, Ticket, TicketFilter, TicketTally};
use crate::store::{StoreError, StoreResult, TicketStore};

fn not_yet() -> StoreError {
    StoreError::Internal("tickets are not stored on DynamoDB yet".into())
}

#[async_trait]
impl TicketStore for DynamoStore {
    async fn ticket(&self, _id: Uuid) -> StoreResult<Option<Ticket>> {
        Err(not_yet())
    }

    async fn list_tickets(&self, _filter: &TicketFilter) -> StoreResult<Vec<Ticket>> {
        Err(not_yet())
    }

    async fn check_in(&self, _scan: &Scan) -> StoreResult<CheckIn> {
        Err(not_yet())
    }

    async fn event_tickets(&self, _event_id: Uuid) -> StoreResult<Vec<Ticket>> {
        Err(not_yet())
    }

    async fn ticket_tallies(&self, _event_id: Uuid) -> StoreResult<Vec<TicketTally>> {
        Err(not_yet())
    }
}
