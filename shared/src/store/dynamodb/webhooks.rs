//! Webhooks on DynamoDB. An endpoint is one item (`HOOK#<id>`), listed under the `gsi1`
//! partition `HOOKS`. A webhook event (`HOOKEVENT#<id>`) is one more item of the change's own
//! `TransactWriteItems` (`event_puts`), listed under `gsi1` `HOOKEVENT#unfanned` (sorted by its
//! order) until a delivery job fans it out: one conditional put per subscribed endpoint of a
//! delivery (`HOOKDLV#<id>`, `attribute_not_exists(pk)`; its id derived from the event and the
//! endpoint, so two jobs fanning out the same event write it once), then the event leaves the
//! index. A pending delivery waits under `gsi1` `HOOKDLV#pending` by due time (as the outbox's
//! messages); every delivery is listed under `gsi2` `HOOK#<webhook>#DLV`, sorted by
//! `<subject>#<event order>`, which the claim reads to keep a subject's deliveries in order and
//! the admin list reads whole. A claim is one conditional `UpdateItem` (still pending, the
//! attempts it was read with, still due), as the outbox's; a settlement or a replay is one too.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::audit::audit_put;
use super::items::*;
use super::users::paged;
use super::{
    Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, TxItem, Updated, is_condition_failure, names_in,
    sdk_error, values_map,
};
use crate::domain::{
    Actor, AuditRecord, ClaimedDelivery, DeliveryOutcome, DeliveryStatus, MessageFacts, NewWebhook, Page, Webhook,
    WebhookDelivery, WebhookEvent, WebhookSecret, WebhookUrl, events_for_message,
};
use crate::store::webhooks::{deliveries_for, delivery_settled};
use crate::store::{Entity, StoreError, StoreResult, WebhookStore};

/// Where endpoints are listed (`gsi1`), by creation time.
const WEBHOOKS_INDEX: &str = "HOOKS";
/// Where events wait to be fanned out (`gsi1`), by their order.
const UNFANNED_INDEX: &str = "HOOKEVENT#unfanned";
/// Where pending deliveries wait for a claim (`gsi1`), by due time.
const DUE_INDEX: &str = "HOOKDLV#pending";
/// The most due deliveries one claim reads past looking for claimable ones.
const MAX_DUE_READ: usize = 1000;

fn webhook_key(id: Uuid) -> Item {
    key(HOOK.pk(&[&id]), "HOOK")
}

fn event_key(id: Uuid) -> Item {
    key(HOOK_EVENT.pk(&[&id]), "HOOKEVENT")
}

fn delivery_key(id: Uuid) -> Item {
    key(HOOK_DELIVERY.pk(&[&id]), "HOOKDLV")
}

/// The partition (`gsi2`) of an endpoint's deliveries.
fn deliveries_pk(webhook_id: Uuid) -> String {
    format!("HOOK#{webhook_id}#DLV")
}

/// Where a delivery sorts among its endpoint's (`gsi2sk`): a subject's together, in event order.
fn lane_key(subject_id: Uuid, order: &str) -> String {
    format!("{subject_id}#{order}")
}

fn due_key(due_ms: i64, id: Uuid) -> String {
    time_key(due_ms, &id.to_string())
}

/// The put of one webhook event, for the transaction of the change it reports. Unconditioned:
/// its id is new (a check-in's is its admitting scan's, written once by the ticket's condition).
pub(super) fn event_put(table: &str, event: &WebhookEvent) -> StoreResult<TransactWriteItem> {
    let mut item = event_key(event.id);
    item.extend([
        ("id".to_owned(), s(event.id.to_string())),
        ("type".to_owned(), s(event.event_type.as_str())),
        ("subject".to_owned(), s(event.subject_id.to_string())),
        ("ord".to_owned(), s(&event.order)),
        ("data".to_owned(), s(event.data.to_string())),
        ("created".to_owned(), n(ms(event.created_at))),
        ("gsi1pk".to_owned(), s(UNFANNED_INDEX)),
        ("gsi1sk".to_owned(), s(&event.order)),
    ]);
    TxItem::put(table, item, None, vec![])
}

/// The puts of the webhook events a message's change reports (`events_for_message`), for the
/// same transaction as the message.
pub(super) fn event_puts(
    table: &str,
    user_id: Option<Uuid>,
    facts: &MessageFacts,
    now: DateTime<Utc>,
) -> StoreResult<Vec<TransactWriteItem>> {
    events_for_message(user_id, facts, now).iter().map(|event| event_put(table, event)).collect()
}

fn webhook_from(item: &Item) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: get_uuid(item, "id")?,
        url: WebhookUrl::stored(get_s(item, "url")?.to_owned()),
        events: serde_json::from_str(get_s(item, "events")?)
            .map_err(|e| StoreError::Internal(format!("webhook events do not read back: {e}")))?,
        created_at: get_time(item, "created")?,
        secret: WebhookSecret::stored(get_s(item, "secret")?.to_owned()),
    })
}

fn event_from(item: &Item) -> StoreResult<WebhookEvent> {
    Ok(WebhookEvent {
        id: get_uuid(item, "id")?,
        event_type: get_enum(item, "type")?,
        subject_id: get_uuid(item, "subject")?,
        order: get_s(item, "ord")?.to_owned(),
        data: serde_json::from_str(get_s(item, "data")?)
            .map_err(|e| StoreError::Internal(format!("webhook event data does not read back: {e}")))?,
        created_at: get_time(item, "created")?,
    })
}

fn delivery_from(item: &Item) -> StoreResult<WebhookDelivery> {
    let attempts = get_n(item, "attempts")?;
    let status: DeliveryStatus = get_enum(item, "st")?;
    Ok(WebhookDelivery {
        id: get_uuid(item, "id")?,
        webhook_id: get_uuid(item, "wid")?,
        event_id: get_uuid(item, "eid")?,
        event_type: get_enum(item, "type")?,
        status,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts", &attempts.to_string()))?,
        next_attempt_at: (status == DeliveryStatus::Pending).then(|| get_time(item, "due")).transpose()?,
        last_status_code: opt_n(item, "code")?.and_then(|code| u16::try_from(code).ok()),
        last_response: opt_s(item, "resp"),
        created_at: get_time(item, "created")?,
        delivered_at: opt_n(item, "delivered")?.map(from_ms).transpose()?,
    })
}

impl DynamoStore {
    /// Up to `limit` items of a `gsi1` partition whose sort key is below `bound`, in order, from
    /// `after` (the last key of the page before); and the last key read, when there may be more.
    async fn gsi1_below(
        &self,
        pk: &str,
        bound: &str,
        limit: u32,
        after: Option<Item>,
    ) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let key_condition = "#gsi1pk = :pk AND #gsi1sk < :bound";
        let _slot = self.slots.take().await?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(names_in(&[key_condition]))
            .set_expression_attribute_values(values_map(vec![(":pk", s(pk)), (":bound", s(bound))]))
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok((out.items().to_vec(), out.last_evaluated_key().cloned()))
    }

    /// Whether an earlier delivery of the same subject to the same endpoint is still pending
    /// (then `delivery` waits for it).
    async fn waits_for_earlier(&self, delivery: &Item) -> StoreResult<bool> {
        let webhook_id = get_uuid(delivery, "wid")?;
        let (subject, order) = (get_uuid(delivery, "subject")?, get_s(delivery, "ord")?);
        let id = get_s(delivery, "id")?;
        let key_condition = "#gsi2pk = :pk AND #gsi2sk BETWEEN :lo AND :hi";
        let _slot = self.slots.take().await?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(names_in(&[key_condition, "#st, #id"]))
            .set_expression_attribute_values(values_map(vec![
                (":pk", s(deliveries_pk(webhook_id))),
                (":lo", s(format!("{subject}#"))),
                (":hi", s(lane_key(subject, order))),
            ]))
            .projection_expression("#st, #id")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.items().iter().any(|earlier| {
            opt_s(earlier, "id").as_deref() != Some(id)
                && opt_s(earlier, "st").as_deref() == Some(DeliveryStatus::Pending.as_str())
        }))
    }

    /// Claims one delivery read from the index, by one conditional update: still pending, with
    /// the attempts it was read with, and still due. `None` when another job got there first.
    async fn claim_delivery(&self, read: &Item, lease_end_ms: i64, now_ms: i64) -> StoreResult<Option<Item>> {
        let id = get_uuid(read, "id")?;
        let update = "SET #attempts = #attempts + :one, #due = :lease_end, #gsi1sk = :sk";
        let condition = "#st = :pending AND #attempts = :seen AND #due <= :now";
        let values = vec![
            (":one", n(1)),
            (":lease_end", n(lease_end_ms)),
            (":sk", s(due_key(lease_end_ms, id))),
            (":pending", s(DeliveryStatus::Pending.as_str())),
            (":seen", n(get_n(read, "attempts")?)),
            (":now", n(now_ms)),
        ];
        match self.update_if(delivery_key(id), update, condition, values, Returned::New).await? {
            Updated::Written(Some(item)) => Ok(Some(item)),
            Updated::Written(None) => Err(StoreError::Internal("a claim returned no delivery".into())),
            Updated::Refused(_) | Updated::InTransaction(_) => Ok(None),
        }
    }

    /// A claimed delivery whose endpoint was deleted: failed, out of the claims' index.
    async fn fail_orphan(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        let update = "SET #st = :failed, #resp = :why REMOVE #gsi1pk, #gsi1sk";
        let values = vec![
            (":failed", s(DeliveryStatus::Failed.as_str())),
            (":why", s("the endpoint was deleted")),
            (":attempt", n(i64::from(delivery.attempts))),
        ];
        self.update_if(delivery_key(delivery.id), update, "#attempts = :attempt", values, Returned::Nothing).await?;
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_webhook(
        &self,
        webhook: &NewWebhook,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Webhook> {
        let id = Uuid::new_v4();
        let created = ms(now);
        let events = serde_json::to_string(&webhook.events)
            .map_err(|e| StoreError::Internal(format!("webhook events do not serialize: {e}")))?;
        let mut item = webhook_key(id);
        item.extend([
            ("id".to_owned(), s(id.to_string())),
            ("url".to_owned(), s(webhook.url.as_str())),
            ("secret".to_owned(), s(webhook.secret.expose())),
            ("events".to_owned(), s(events)),
            ("created".to_owned(), n(created)),
            ("gsi1pk".to_owned(), s(WEBHOOKS_INDEX)),
            ("gsi1sk".to_owned(), s(time_key(created, &id.to_string()))),
        ]);
        let stored = webhook_from(&item)?;
        let Some(actor) = actor else {
            let _slot = self.slots.take().await?;
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .map_err(sdk_error)?;
            return Ok(stored);
        };
        // The endpoint and its audit entry in one transaction.
        let writes = vec![
            TxItem::put(&self.table, item, Some("attribute_not_exists(pk)"), vec![])?,
            audit_put(&self.table, &AuditRecord::webhook_created(actor, &stored))?,
        ];
        if let Err(canceled) = self.transact(&mut Budget::new(), writes).await? {
            return Err(StoreError::Internal(format!("registering a webhook was refused: {canceled:?}")));
        }
        Ok(stored)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let items = self.query_all(Query::gsi1(WEBHOOKS_INDEX)).await?;
        let mut webhooks = items.iter().map(webhook_from).collect::<StoreResult<Vec<_>>>()?;
        webhooks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(webhooks)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn delete_webhook(&self, id: Uuid, actor: Option<&Actor>) -> StoreResult<()> {
        // Its deliveries stay, unlisted; a claim of one whose endpoint is gone fails it.
        let Some(actor) = actor else {
            let _slot = self.slots.take().await?;
            let out = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(webhook_key(id)))
                .condition_expression("attribute_exists(pk)")
                .send()
                .await;
            return match out {
                Ok(_) => Ok(()),
                Err(err) if is_condition_failure(&err) => Err(StoreError::NotFound(Entity::Webhook)),
                Err(err) => Err(sdk_error(err)),
            };
        };
        // The entry records the endpoint as it was read; the delete is conditioned on it still
        // being there, so an endpoint deleted by two admins at once is recorded once.
        let Some(item) = self.get(webhook_key(id)).await? else {
            return Err(StoreError::NotFound(Entity::Webhook));
        };
        let record = AuditRecord::webhook_deleted(actor, &webhook_from(&item)?, Utc::now());
        let writes = vec![
            TxItem::delete(&self.table, webhook_key(id), "attribute_exists(pk)", vec![])?,
            audit_put(&self.table, &record)?,
        ];
        match self.transact(&mut Budget::new(), writes).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::NotFound(Entity::Webhook)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn fan_out_webhook_events(&self, limit: u32, now: DateTime<Utc>) -> StoreResult<u32> {
        // '~' sorts after every digit: the whole partition, oldest first.
        let (items, _) = self.gsi1_below(UNFANNED_INDEX, "~", limit, None).await?;
        if items.is_empty() {
            return Ok(0);
        }
        let webhooks = self.list_webhooks().await?;
        let now_ms = ms(now);
        let mut fanned = 0;
        for item in &items {
            let event = event_from(item)?;
            for delivery in deliveries_for(&event, &webhooks, now) {
                let mut put = delivery_key(delivery.id);
                put.extend([
                    ("id".to_owned(), s(delivery.id.to_string())),
                    ("wid".to_owned(), s(delivery.webhook_id.to_string())),
                    ("eid".to_owned(), s(event.id.to_string())),
                    ("type".to_owned(), s(event.event_type.as_str())),
                    ("subject".to_owned(), s(event.subject_id.to_string())),
                    ("ord".to_owned(), s(&event.order)),
                    ("st".to_owned(), s(DeliveryStatus::Pending.as_str())),
                    ("attempts".to_owned(), n(0)),
                    ("due".to_owned(), n(now_ms)),
                    ("created".to_owned(), n(now_ms)),
                    ("gsi1pk".to_owned(), s(DUE_INDEX)),
                    ("gsi1sk".to_owned(), s(due_key(now_ms, delivery.id))),
                    ("gsi2pk".to_owned(), s(deliveries_pk(delivery.webhook_id))),
                    ("gsi2sk".to_owned(), s(lane_key(event.subject_id, &event.order))),
                ]);
                let _slot = self.slots.take().await?;
                let out = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(put))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await;
                match out {
                    // Written now, or by another job's fan-out of the same event: one either way.
                    Ok(_) => {}
                    Err(err) if is_condition_failure(&err) => {}
                    Err(err) => return Err(sdk_error(err)),
                }
            }
            let update = "REMOVE #gsi1pk, #gsi1sk";
            self.update_if(event_key(event.id), update, "attribute_exists(pk)", vec![], Returned::Nothing).await?;
            fanned += 1;
        }
        Ok(fanned)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let (now_ms, lease_end_ms) = (ms(now), ms(now + lease));
        let mut claimed_items: Vec<Item> = Vec::new();
        // Sort keys are `<due>#<id>`; '$' sorts right after '#': every delivery due by now.
        let bound = format!("{now_ms:015}$");
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            // Deliveries waiting for an earlier one of their booking are read past, page after
            // page (up to `MAX_DUE_READ`), so they never hide claimable ones behind them.
            let (mut after, mut read_so_far, mut lost) = (None, 0, false);
            loop {
                let wanted = limit.saturating_sub(u32::try_from(claimed_items.len()).unwrap_or(u32::MAX));
                if wanted == 0 {
                    break;
                }
                let (due, last) = self.gsi1_below(DUE_INDEX, &bound, wanted.max(20), after).await?;
                read_so_far += due.len();
                for read in &due {
                    if claimed_items.len() >= limit as usize {
                        break;
                    }
                    let id = get_s(read, "id")?;
                    if claimed_items.iter().any(|item| opt_s(item, "id").as_deref() == Some(id)) {
                        continue;
                    }
                    // In order per subject and endpoint: never past an earlier one still pending.
                    if self.waits_for_earlier(read).await? {
                        continue;
                    }
                    match self.claim_delivery(read, lease_end_ms, now_ms).await? {
                        Some(item) => claimed_items.push(item),
                        None => lost = true,
                    }
                }
                match last {
                    Some(last) if read_so_far < MAX_DUE_READ => after = Some(last),
                    _ => break,
                }
            }
            // A delivery another job took meanwhile may still show as due (the index lags its
            // item): read past once more, so that "nothing claimed" means nothing claimable.
            if !lost || claimed_items.len() >= limit as usize {
                break;
            }
        }
        let mut webhooks: HashMap<Uuid, Option<Webhook>> = HashMap::new();
        let mut claimed = Vec::with_capacity(claimed_items.len());
        for item in &claimed_items {
            let delivery = delivery_from(item)?;
            let webhook = match webhooks.get(&delivery.webhook_id) {
                Some(known) => known.clone(),
                None => {
                    let read =
                        self.get(webhook_key(delivery.webhook_id)).await?.as_ref().map(webhook_from).transpose()?;
                    webhooks.insert(delivery.webhook_id, read.clone());
                    read
                }
            };
            let Some(webhook) = webhook else {
                self.fail_orphan(&delivery).await?;
                continue;
            };
            let event = self
                .get(event_key(delivery.event_id))
                .await?
                .ok_or_else(|| StoreError::Internal("a delivery's event is missing".into()))?;
            claimed.push(ClaimedDelivery {
                url: webhook.url.clone(),
                secret: webhook.secret.clone(),
                event: event_from(&event)?,
                delivery,
            });
        }
        claimed.sort_by(|a, b| a.event.order.cmp(&b.event.order).then(a.delivery.id.cmp(&b.delivery.id)));
        Ok(claimed)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn settle_delivery(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let settled = delivery_settled(outcome, now);
        let mut sets = vec!["#st = :st"];
        let mut removes = vec![];
        let mut values = vec![
            (":st", s(settled.status.as_str())),
            (":pending", s(DeliveryStatus::Pending.as_str())),
            (":attempt", n(i64::from(attempt))),
        ];
        if settled.status == DeliveryStatus::Pending {
            if let Some(at) = settled.next_attempt_at {
                sets.push("#due = :due, #gsi1sk = :sk");
                values.push((":due", n(ms(at))));
                values.push((":sk", s(due_key(ms(at), id))));
            }
        } else {
            removes.push("#gsi1pk, #gsi1sk");
        }
        match settled.status_code {
            Some(code) => {
                sets.push("#code = :code");
                values.push((":code", n(i64::from(code))));
            }
            None => removes.push("#code"),
        }
        // Empty text is never written (DynamoDB Local refuses it).
        if settled.response.is_empty() {
            removes.push("#resp");
        } else {
            sets.push("#resp = :resp");
            values.push((":resp", s(settled.response)));
        }
        if let Some(delivered) = settled.delivered_at {
            sets.push("#delivered = :delivered");
            values.push((":delivered", n(ms(delivered))));
        }
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let condition = "#st = :pending AND #attempts = :attempt";
        self.update_if(delivery_key(id), &update, condition, values, Returned::Nothing).await?.was_written()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_deliveries(&self, webhook_id: Uuid, page: Page) -> StoreResult<Vec<WebhookDelivery>> {
        if self.get(webhook_key(webhook_id)).await?.is_none() {
            return Err(StoreError::NotFound(Entity::Webhook));
        }
        let items = self.query_all(Query::gsi2(&deliveries_pk(webhook_id))).await?;
        let mut listed: Vec<(String, WebhookDelivery)> = items
            .iter()
            .map(|item| Ok((get_s(item, "ord")?.to_owned(), delivery_from(item)?)))
            .collect::<StoreResult<_>>()?;
        listed.sort_by(|(a_order, a), (b_order, b)| {
            b.created_at.cmp(&a.created_at).then(b_order.cmp(a_order)).then(a.id.cmp(&b.id))
        });
        Ok(paged(listed.into_iter().map(|(_, delivery)| delivery).collect(), page))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn replay_delivery(&self, webhook_id: Uuid, id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery> {
        let now_ms = ms(now);
        let update = "SET #st = :pending, #attempts = :zero, #due = :now, #gsi1pk = :due_index, #gsi1sk = :sk \
                      REMOVE #delivered";
        let condition = "#wid = :wid AND #st <> :pending";
        let values = vec![
            (":pending", s(DeliveryStatus::Pending.as_str())),
            (":zero", n(0)),
            (":now", n(now_ms)),
            (":due_index", s(DUE_INDEX)),
            (":sk", s(due_key(now_ms, id))),
            (":wid", s(webhook_id.to_string())),
        ];
        match self.update_if(delivery_key(id), update, condition, values, Returned::NewOrOld).await? {
            Updated::Written(Some(item)) => delivery_from(&item),
            Updated::Written(None) => Err(StoreError::Internal("a replay returned no delivery".into())),
            Updated::Refused(Some(item)) if get_uuid(&item, "wid")? == webhook_id => {
                Err(StoreError::delivery_pending())
            }
            Updated::Refused(_) => Err(StoreError::NotFound(Entity::Delivery)),
            Updated::InTransaction(err) => Err(err),
        }
    }
}
