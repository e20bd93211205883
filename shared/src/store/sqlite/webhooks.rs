//! Webhooks on SQLite: `webhooks`, `outgoing_events`, `webhook_deliveries` (migration 0023). An
//! event is written by the change it reports inside that change's `BEGIN IMMEDIATE` transaction
//! (`insert_events`, called from the outbox's writes), or by the check-in trigger in the door's
//! UPDATE. The fan-out is one `BEGIN IMMEDIATE` transaction (the unfanned events, the endpoints,
//! the deliveries `ON CONFLICT DO NOTHING`, the events marked); a claim is one `UPDATE …
//! RETURNING` on the writer, so two jobs' claims run one after the other and the second finds the
//! first's deliveries leased; a settlement or a replay is one conditional `UPDATE`.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::write_audit;
use super::rows::{enum_col, from_millis, id_text, ids_json, millis, time_col, uuid_col};
use crate::domain::{
    Actor, AuditRecord, ClaimedDelivery, DeliveryOutcome, DeliveryStatus, NewWebhook, Page, Webhook, WebhookDelivery,
    WebhookEvent, WebhookEventType, WebhookSecret, WebhookUrl,
};
use crate::store::webhooks::{deliveries_for, delivery_settled};
use crate::store::{Entity, StoreError, StoreResult, WebhookStore};

const WEBHOOK_COLUMNS: &str = "id, url, secret, events, created_at";
const EVENT_COLUMNS: &str = "id, event_type, subject_id, event_order, data, created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, \
     last_status_code, last_response, created_at, delivered_at";

/// The claim: due pending deliveries, oldest due first, none with an earlier pending delivery of
/// the same subject to the same endpoint (the lane index answers that), each counted one attempt
/// and leased. One statement on the one writer.
pub(super) const CLAIM_SQL: &str = "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?1 \
     WHERE id IN (SELECT d.id FROM webhook_deliveries d INDEXED BY webhook_deliveries_due_idx \
                  WHERE d.status = 'pending' AND d.next_attempt_at <= ?2 \
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e INDEXED BY webhook_deliveries_lane_idx \
                                    WHERE e.webhook_id = d.webhook_id AND e.subject_id = d.subject_id \
                                      AND e.status = 'pending' AND e.event_order < d.event_order) \
                  ORDER BY d.next_attempt_at, d.id LIMIT ?3) \
     RETURNING id";

/// Inserts webhook events (never empty) in one statement, in the caller's transaction.
pub(super) async fn insert_events(conn: &mut SqliteConnection, events: &[WebhookEvent]) -> StoreResult<()> {
    let mut qb = QueryBuilder::<Sqlite>::new(
        "INSERT INTO outgoing_events (id, event_type, subject_id, event_order, data, created_at) ",
    );
    qb.push_values(events, |mut b, event| {
        b.push_bind(id_text(event.id))
            .push_bind(event.event_type.as_str())
            .push_bind(id_text(event.subject_id))
            .push_bind(event.order.clone())
            .push_bind(event.data.to_string())
            .push_bind(millis(event.created_at));
    });
    qb.build().execute(&mut *conn).await?;
    Ok(())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_webhook(
        &self,
        webhook: &NewWebhook,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Webhook> {
        let id = Uuid::new_v4();
        let sql =
            format!("INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?) RETURNING {WEBHOOK_COLUMNS}");
        // The endpoint and its audit entry in one transaction.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&sql)
            .bind(id_text(id))
            .bind(webhook.url.as_str())
            .bind(webhook.secret.expose())
            .bind(events_json(&webhook.events))
            .bind(millis(now))
            .fetch_one(&mut *tx)
            .await?;
        let created = webhook_from_row(&row)?;
        if let Some(actor) = actor {
            write_audit(&mut tx, &AuditRecord::webhook_created(actor, &created)).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(webhook_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn delete_webhook(&self, id: Uuid, actor: Option<&Actor>) -> StoreResult<()> {
        // Its deliveries go with it (ON DELETE CASCADE): none is claimed or listed afterwards. The
        // audit entry records the endpoint as the delete removed it, in the same transaction.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!("DELETE FROM webhooks WHERE id = ? RETURNING {WEBHOOK_COLUMNS}");
        let Some(row) = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::NotFound(Entity::Webhook));
        };
        if let Some(actor) = actor {
            write_audit(&mut tx, &AuditRecord::webhook_deleted(actor, &webhook_from_row(&row)?, Utc::now())).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn fan_out_webhook_events(&self, limit: u32, now: DateTime<Utc>) -> StoreResult<u32> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM outgoing_events WHERE fanned_out = 0 ORDER BY event_order LIMIT ?");
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let events = rows.iter().map(event_from_row).collect::<StoreResult<Vec<_>>>()?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks");
        let webhooks = sqlx::query(&sql)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let deliveries: Vec<(WebhookDelivery, &WebhookEvent)> = events
            .iter()
            .flat_map(|event| deliveries_for(event, &webhooks, now).into_iter().map(move |d| (d, event)))
            .collect();
        // In chunks: SQLite binds at most 32,766 values in a statement.
        for chunk in deliveries.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, subject_id, event_order, \
                 status, attempts, next_attempt_at, created_at) ",
            );
            qb.push_values(chunk, |mut b, (delivery, event)| {
                b.push_bind(id_text(delivery.id))
                    .push_bind(id_text(delivery.webhook_id))
                    .push_bind(id_text(event.id))
                    .push_bind(event.event_type.as_str())
                    .push_bind(id_text(event.subject_id))
                    .push_bind(event.order.clone())
                    .push_bind(DeliveryStatus::Pending.as_str())
                    .push_bind(0_i64)
                    .push_bind(millis(now))
                    .push_bind(millis(now));
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE outgoing_events SET fanned_out = 1 WHERE id IN (SELECT value FROM json_each(?))")
            .bind(ids_json(events.iter().map(|event| &event.id)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(u32::try_from(events.len()).unwrap_or(u32::MAX))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_deliveries(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let ids: Vec<String> = sqlx::query_scalar(CLAIM_SQL)
            .bind(millis(now + lease))
            .bind(millis(now))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The claimed rows with their event and endpoint, read back on the writer (as claimed).
        let sql = "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at, \
             d.last_status_code, d.last_response, d.created_at, d.delivered_at, \
             w.url, w.secret, e.subject_id, e.event_order, e.data, e.created_at AS event_created_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN outgoing_events e ON e.id = d.event_id \
             WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.event_order, d.id";
        let rows =
            sqlx::query(sql).bind(serde_json::to_string(&ids).unwrap_or_default()).fetch_all(&self.writer).await?;
        rows.iter()
            .map(|row| {
                let delivery = delivery_from_row(row)?;
                let event = WebhookEvent {
                    id: delivery.event_id,
                    event_type: delivery.event_type,
                    subject_id: uuid_col(row, "subject_id")?,
                    order: row.try_get("event_order")?,
                    data: json_col(row, "data")?,
                    created_at: time_col(row, "event_created_at")?,
                };
                Ok(ClaimedDelivery {
                    url: WebhookUrl::stored(row.try_get("url")?),
                    secret: WebhookSecret::stored(row.try_get("secret")?),
                    event,
                    delivery,
                })
            })
            .collect()
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
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), \
             last_status_code = ?, last_response = ?, delivered_at = ? \
             WHERE id = ? AND status = 'pending' AND attempts = ?",
        )
        .bind(settled.status.as_str())
        .bind(settled.next_attempt_at.map(millis))
        .bind(settled.status_code.map(i64::from))
        .bind(settled.response)
        .bind(settled.delivered_at.map(millis))
        .bind(id_text(id))
        .bind(i64::from(attempt))
        .execute(&self.writer)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_deliveries(&self, webhook_id: Uuid, page: Page) -> StoreResult<Vec<WebhookDelivery>> {
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM webhooks WHERE id = ?")
            .bind(id_text(webhook_id))
            .fetch_optional(&self.reader)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(Entity::Webhook));
        }
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? \
             ORDER BY created_at DESC, event_order DESC, id LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query(&sql)
            .bind(id_text(webhook_id))
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn replay_delivery(&self, webhook_id: Uuid, id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery> {
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, delivered_at = NULL \
             WHERE id = ? AND webhook_id = ? AND status <> 'pending' RETURNING {DELIVERY_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(millis(now))
            .bind(id_text(id))
            .bind(id_text(webhook_id))
            .fetch_optional(&self.writer)
            .await?;
        if let Some(row) = row {
            return delivery_from_row(&row);
        }
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ? AND webhook_id = ?");
        match sqlx::query(&sql).bind(id_text(id)).bind(id_text(webhook_id)).fetch_optional(&self.writer).await? {
            None => Err(StoreError::NotFound(Entity::Delivery)),
            Some(_) => Err(StoreError::delivery_pending()),
        }
    }
}

fn events_json(events: &[WebhookEventType]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

fn json_col(row: &SqliteRow, col: &str) -> StoreResult<serde_json::Value> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("column {col} does not read back: {e}")))
}

fn webhook_from_row(row: &SqliteRow) -> StoreResult<Webhook> {
    let events: String = row.try_get("events")?;
    Ok(Webhook {
        id: uuid_col(row, "id")?,
        url: WebhookUrl::stored(row.try_get("url")?),
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Internal(format!("webhook events do not read back: {e}")))?,
        created_at: time_col(row, "created_at")?,
        secret: WebhookSecret::stored(row.try_get("secret")?),
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<WebhookEvent> {
    Ok(WebhookEvent {
        id: uuid_col(row, "id")?,
        event_type: enum_col(row, "event_type")?,
        subject_id: uuid_col(row, "subject_id")?,
        order: row.try_get("event_order")?,
        data: json_col(row, "data")?,
        created_at: time_col(row, "created_at")?,
    })
}

fn delivery_from_row(row: &SqliteRow) -> StoreResult<WebhookDelivery> {
    let attempts: i64 = row.try_get("attempts")?;
    let status: DeliveryStatus = enum_col(row, "status")?;
    let code: Option<i64> = row.try_get("last_status_code")?;
    Ok(WebhookDelivery {
        id: uuid_col(row, "id")?,
        webhook_id: uuid_col(row, "webhook_id")?,
        event_id: uuid_col(row, "event_id")?,
        event_type: enum_col(row, "event_type")?,
        status,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Internal(format!("{attempts} attempts")))?,
        next_attempt_at: (status == DeliveryStatus::Pending).then(|| time_col(row, "next_attempt_at")).transpose()?,
        last_status_code: code.and_then(|code| u16::try_from(code).ok()),
        last_response: row.try_get("last_response")?,
        created_at: time_col(row, "created_at")?,
        delivered_at: row.try_get::<Option<i64>, _>("delivered_at")?.map(from_millis).transpose()?,
    })
}
