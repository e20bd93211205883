//! The outbox on sqlite: PLACEHOLDER, replaced by the outbox-store work before this lands on main.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::SqliteStore;
use crate::domain::{MessageStatus, OutboxMessage, Page, Settlement};
use crate::store::{OutboxStore, StoreResult};

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_messages(
        &self,
        _limit: u32,
        _lease: Duration,
        _now: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxMessage>> {
        unimplemented!("outbox on sqlite")
    }

    async fn settle_message(
        &self,
        _id: Uuid,
        _attempt: u32,
        _settlement: &Settlement,
        _now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        unimplemented!("outbox on sqlite")
    }

    async fn message(&self, _id: Uuid) -> StoreResult<Option<OutboxMessage>> {
        unimplemented!("outbox on sqlite")
    }

    async fn list_messages(&self, _status: Option<MessageStatus>, _page: Page) -> StoreResult<Vec<OutboxMessage>> {
        unimplemented!("outbox on sqlite")
    }

    async fn resend_message(&self, _id: Uuid, _now: DateTime<Utc>) -> StoreResult<OutboxMessage> {
        unimplemented!("outbox on sqlite")
    }
}
