//! The outbox on DynamoDB: one item per message (`MSG#<id>`), put in the same `TransactWriteItems`
//! as the change it reports (`message_put`, one more item of that transaction). A pending message
//! is listed for claims under the `gsi1` partition `OUTBOX#pending`, sorted by when it is due
//! (`<due millis>#<id>`); a sent or failed one leaves it. Every message is listed for admins under
//! the `gsi2` partition of its status, by creation time. A claim queries the due ones, then takes
//! each by one conditional `UpdateItem` (still pending, the attempts it was read with, still due):
//! of two senders that read the same message, one update wins and the other skips it. A
//! settlement or a resend is one conditional `UpdateItem`. The depth counts two index partitions
//! (`Select: COUNT`): `OUTBOX#pending` of `gsi1`, `OUTBOX#failed` of `gsi2`.

use async_trait::async_trait;

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::audit::audit_put;
use super::items::*;
use super::users::paged;
use super::{
    Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, TxItem, Updated, names_in, sdk_error, values_map,
};
use crate::domain::{
    Actor, AuditRecord, MessageFacts, MessageSecret, MessageStatus, OutboxMessage, Page, ResetToken, Settlement,
};
use crate::store::outbox::{new_message, reset_message, settled};
use crate::store::{Entity, OutboxDepth, OutboxStore, StoreError, StoreResult};

/// Where pending messages wait for a claim (`gsi1`), by due time.
const DUE_INDEX: &str = "OUTBOX#pending";

/// Where messages of one status are listed for admins (`gsi2`), by creation time.
fn status_index(status: MessageStatus) -> String {
    format!("OUTBOX#{status}")
}

fn due_key(due_ms: i64, id: Uuid) -> String {
    time_key(due_ms, &id.to_string())
}

/// The put of a new message, for the transaction of the change it reports. Unconditioned: its id
/// is new and random, so no item has it.
pub(super) fn message_put(
    table: &str,
    user_id: Option<Uuid>,
    facts: MessageFacts,
    now: DateTime<Utc>,
) -> StoreResult<TransactWriteItem> {
    put_of(table, new_message(user_id, facts, now))
}

/// The put of a password reset's mail, which holds the plain token as its `secret` attribute
/// until it is settled (see `settle_message`).
pub(super) fn reset_message_put(
    table: &str,
    user_id: Uuid,
    token: &ResetToken,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<TransactWriteItem> {
    put_of(table, reset_message(user_id, token, expires_at, now))
}

fn put_of(table: &str, message: OutboxMessage) -> StoreResult<TransactWriteItem> {
    let facts = serde_json::to_string(&message.facts)
        .map_err(|e| StoreError::Internal(format!("outbox facts do not serialize: {e}")))?;
    let (id, due, created) = (message.id, ms(message.next_attempt_at), ms(message.created_at));
    let mut item = message_key(id);
    item.extend([
        ("id".to_owned(), s(id.to_string())),
        ("kind".to_owned(), s(message.facts.kind().as_str())),
        ("facts".to_owned(), s(facts)),
        ("st".to_owned(), s(message.status.as_str())),
        ("attempts".to_owned(), n(i64::from(message.attempts))),
        ("due".to_owned(), n(due)),
        ("created".to_owned(), n(created)),
        ("gsi1pk".to_owned(), s(DUE_INDEX)),
        ("gsi1sk".to_owned(), s(due_key(due, id))),
        ("gsi2pk".to_owned(), s(status_index(message.status))),
        ("gsi2sk".to_owned(), s(due_key(created, id))),
    ]);
    if let Some(user_id) = message.user_id {
        item.insert("uid".to_owned(), s(user_id.to_string()));
    }
    if let Some(secret) = &message.secret {
        item.insert("secret".to_owned(), s(secret.expose()));
    }
    TxItem::put(table, item, None, vec![])
}

fn message_from(item: &Item) -> StoreResult<OutboxMessage> {
    let attempts = get_n(item, "attempts")?;
    Ok(OutboxMessage {
        id: get_uuid(item, "id")?,
        user_id: opt_s(item, "uid")
            .map(|raw| Uuid::parse_str(&raw).map_err(|_| corrupt("user id", &raw)))
            .transpose()?,
        facts: serde_json::from_str(get_s(item, "facts")?)
            .map_err(|e| StoreError::Internal(format!("outbox facts do not read back: {e}")))?,
        status: get_enum(item, "st")?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts", &attempts.to_string()))?,
        next_attempt_at: get_time(item, "due")?,
        last_error: opt_s(item, "err"),
        created_at: get_time(item, "created")?,
        sent_at: opt_n(item, "sent")?.map(from_ms).transpose()?,
        secret: opt_s(item, "secret").map(MessageSecret::new),
    })
}

impl DynamoStore {
    /// Up to `limit` pending messages due by `now`, oldest due first, as the index shows them
    /// (it may lag: each claim's condition decides).
    async fn due_messages(&self, limit: u32, now_ms: i64) -> StoreResult<Vec<Item>> {
        // Sort keys are `<due>#<id>`; '$' sorts right after '#', so this bound takes every
        // message due at or before now.
        let bound = format!("{now_ms:015}$");
        let key_condition = "#gsi1pk = :pk AND #gsi1sk < :due";
        let _slot = self.slots.take().await?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(names_in(&[key_condition]))
            .set_expression_attribute_values(values_map(vec![(":pk", s(DUE_INDEX)), (":due", s(bound))]))
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.items().to_vec())
    }

    /// Claims one message read from the index, by one conditional update: still pending, with
    /// the attempts it was read with, and still due. `None` when another sender got there first.
    async fn claim_one(&self, read: &Item, lease_end_ms: i64, now_ms: i64) -> StoreResult<Option<OutboxMessage>> {
        let id = get_uuid(read, "id")?;
        let update = "SET #attempts = #attempts + :one, #due = :lease_end, #gsi1sk = :sk";
        let condition = "#st = :pending AND #attempts = :seen AND #due <= :now";
        let values = vec![
            (":one", n(1)),
            (":lease_end", n(lease_end_ms)),
            (":sk", s(due_key(lease_end_ms, id))),
            (":pending", s(MessageStatus::Pending.as_str())),
            (":seen", n(get_n(read, "attempts")?)),
            (":now", n(now_ms)),
        ];
        match self.update_if(message_key(id), update, condition, values, Returned::New).await? {
            Updated::Written(Some(item)) => Ok(Some(message_from(&item)?)),
            Updated::Written(None) => Err(StoreError::Internal("a claim returned no message".into())),
            // Taken by another sender, or a transaction in flight on it (an admin's resend):
            // leave it to the next pass.
            Updated::Refused(_) | Updated::InTransaction(_) => Ok(None),
        }
    }
}

#[async_trait]
impl OutboxStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_messages(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> StoreResult<Vec<OutboxMessage>> {
        let (now_ms, lease_end_ms) = (ms(now), ms(now + lease));
        let mut claimed: Vec<OutboxMessage> = Vec::new();
        // A message another sender took meanwhile may still show as due (the index lags its
        // item): lost ones are read past once more, so that "nothing claimed" means nothing due.
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let wanted = limit.saturating_sub(u32::try_from(claimed.len()).unwrap_or(u32::MAX));
            if wanted == 0 {
                break;
            }
            let due = self.due_messages(wanted, now_ms).await?;
            if due.is_empty() {
                break;
            }
            let mut lost = false;
            for read in &due {
                match self.claim_one(read, lease_end_ms, now_ms).await? {
                    Some(message) => claimed.push(message),
                    None => lost = true,
                }
            }
            if !lost {
                break;
            }
        }
        claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(claimed)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn settle_message(
        &self,
        id: Uuid,
        attempt: u32,
        settlement: &Settlement,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let settled = settled(settlement, now);
        let mut sets = vec!["#st = :st"];
        let mut removes = Vec::new();
        let mut values = vec![
            (":st", s(settled.status.as_str())),
            (":pending", s(MessageStatus::Pending.as_str())),
            (":attempt", n(i64::from(attempt))),
        ];
        if settled.status == MessageStatus::Pending {
            // A retry waits in the claims' index until its new due time.
            if let Some(at) = settled.next_attempt_at {
                sets.push("#due = :due, #gsi1sk = :sk");
                values.push((":due", n(ms(at))));
                values.push((":sk", s(due_key(ms(at), id))));
            }
        } else {
            // Sent or failed: out of the claims' index, listed under its new status, and its
            // secret (a reset mail's token) erased.
            removes.push("#gsi1pk, #gsi1sk");
            if settled.erase_secret {
                removes.push("#secret");
            }
            sets.push("#gsi2pk = :listed");
            values.push((":listed", s(status_index(settled.status))));
        }
        // Empty text is never written (DynamoDB Local refuses it); an empty reason keeps the last.
        if let Some(reason) = settled.last_error.filter(|reason| !reason.is_empty()) {
            sets.push("#err = :err");
            values.push((":err", s(reason)));
        }
        if let Some(sent) = settled.sent_at {
            sets.push("#sent = :sent");
            values.push((":sent", n(ms(sent))));
        }
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        // Only the latest claim settles: a later claim (its lease ended) or an admin changed
        // `attempts` or `status`, and then nothing changes.
        let condition = "#st = :pending AND #attempts = :attempt";
        self.update_if(message_key(id), &update, condition, values, Returned::Nothing).await?.was_written()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>> {
        self.get(message_key(id)).await?.as_ref().map(message_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_messages(&self, status: Option<MessageStatus>, page: Page) -> StoreResult<Vec<OutboxMessage>> {
        let statuses = match status {
            Some(status) => vec![status],
            None => MessageStatus::ALL.to_vec(),
        };
        let mut messages = Vec::new();
        for status in statuses {
            for item in self.query_all(Query::gsi2(&status_index(status))).await? {
                messages.push(message_from(&item)?);
            }
        }
        // The index may lag a settlement: each message is listed under the status its item has.
        messages.retain(|m| status.is_none_or(|status| m.status == status));
        messages.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        messages.dedup_by_key(|m| m.id);
        Ok(paged(messages, page))
    }

    /// Two counts at once: the claims' index partition (every pending message, due or waiting,
    /// and only those) and the listing's partition of failed messages. Counted, not kept in a
    /// counter item: a counter would be one more item in every transaction that writes or settles
    /// a message (every signup, confirm and refunding cancel), one hot item that all of them
    /// would contend for; a count reads only the waiting and failed messages (pending is short,
    /// failed is what admins list anyway), once per sender round.
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn outbox_depth(&self) -> StoreResult<OutboxDepth> {
        let failed_index = status_index(MessageStatus::Failed);
        let (pending, failed) =
            tokio::try_join!(self.count(Query::gsi1(DUE_INDEX)), self.count(Query::gsi2(&failed_index)))?;
        Ok(OutboxDepth { pending, failed })
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn resend_message(&self, id: Uuid, now: DateTime<Utc>, actor: Option<&Actor>) -> StoreResult<OutboxMessage> {
        let now_ms = ms(now);
        let update = "SET #st = :pending, #attempts = :zero, #due = :now, #gsi1pk = :due_index, #gsi1sk = :sk, \
                      #gsi2pk = :listed";
        let condition = "#st = :failed";
        let values = vec![
            (":pending", s(MessageStatus::Pending.as_str())),
            (":failed", s(MessageStatus::Failed.as_str())),
            (":zero", n(0)),
            (":now", n(now_ms)),
            (":due_index", s(DUE_INDEX)),
            (":sk", s(due_key(now_ms, id))),
            (":listed", s(status_index(MessageStatus::Pending))),
        ];
        if let Some(actor) = actor {
            // The resend and its audit entry in one transaction, on the same condition.
            let record = AuditRecord::message_resent(actor, id, now);
            let writes = vec![
                TxItem::update(&self.table, message_key(id), update, Some(condition), values)?,
                audit_put(&self.table, &record)?,
            ];
            return match self.transact(&mut Budget::new(), writes).await? {
                Ok(()) => self.message(id).await?.ok_or(StoreError::NotFound(Entity::Message)),
                Err(refused) if refused.condition_failed(0) => match self.message(id).await? {
                    Some(message) => Err(StoreError::message_not_failed(message.status)),
                    None => Err(StoreError::NotFound(Entity::Message)),
                },
                Err(refused) => Err(StoreError::Internal(format!("resending a message was refused: {refused:?}"))),
            };
        }
        match self.update_if(message_key(id), update, condition, values, Returned::NewOrOld).await? {
            Updated::Written(Some(item)) => message_from(&item),
            Updated::Written(None) => Err(StoreError::Internal("a resend returned no message".into())),
            // Nothing changed: say why, from the item as it stood.
            Updated::Refused(Some(item)) => Err(StoreError::message_not_failed(message_from(&item)?.status)),
            Updated::Refused(None) => Err(StoreError::NotFound(Entity::Message)),
            Updated::InTransaction(err) => Err(err),
        }
    }
}
