//! Webhooks on PostgreSQL: `webhooks`, `outgoing_events`, `webhook_deliveries` (migration 0023).
//! An event is written by the change it reports inside that change's transaction
//! (`insert_events`, called from the outbox's writes), or by the check-in trigger in the door's
//! UPDATE. The fan-out locks the unfanned events it takes (`FOR UPDATE SKIP LOCKED`), inserts
//! their deliveries `ON CONFLICT DO NOTHING` and marks them, in one transaction. A claim is one
//! `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, as the outbox's: jobs at
//! once lock different rows, and a delivery whose earlier pending sibling (same subject, same
//! endpoint) exists is never taken, claimed or not. A settlement or a replay is one conditional
//! `UPDATE`.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};
use uuid::Uuid;

use super::PostgresStore;
use super::audit::write_audit;
use super::rows::parse_stored;
use crate::domain::{
    Actor, AuditRecord, ClaimedDelivery, DeliveryOutcome, DeliveryStatus, NewWebhook, Page, Webhook, WebhookDelivery,
    WebhookEvent, WebhookEventType, WebhookSecret, WebhookUrl,
};
use crate::store::webhooks::{deliveries_for, delivery_settled};
use crate::store::{Entity, StoreError, StoreResult, WebhookStore};

const WEBHOOK_COLUMNS: &str = "id, url, secret, events::text AS events, created_at";
const EVENT_COLUMNS: &str = "id, event_type, subject_id, event_order, data::text AS data, created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, \
     last_status_code, last_response, created_at, delivered_at";

/// The claim: due pending deliveries, oldest due first, none with an earlier pending delivery of
/// the same subject to the same endpoint (from the lane index), locked past the ones other jobs
/// hold, each counted one attempt and leased.
pub(super) const CLAIM_SQL: &str = "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1
     WHERE id IN (SELECT d.id FROM webhook_deliveries d
                  WHERE d.status = 'pending' AND d.next_attempt_at <= $2
                    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                                    WHERE e.webhook_id = d.webhook_id AND e.subject_id = d.subject_id
                                      AND e.status = 'pending' AND e.event_order < d.event_order)
                  ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id";

/// Inserts webhook events (never empty) in one statement, in the caller's transaction.
pub(super) async fn insert_events(conn: &mut PgConnection, events: &[WebhookEvent]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outgoing_events (id, event_type, subject_id, event_order, data, created_at)
         SELECT e.id, e.event_type, e.subject_id, e.event_order, e.data::jsonb, e.created_at
         FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[])
              AS e (id, event_type, subject_id, event_order, data, created_at)",
    )
    .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.subject_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.order.clone()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.data.to_string()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl WebhookStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn create_webhook(
        &self,
        webhook: &NewWebhook,
        now: DateTime<Utc>,
        actor: Option<&Actor>,
    ) -> StoreResult<Webhook> {
        let sql = format!(
            "INSERT INTO webhooks (id, url, secret, events, created_at) VALUES ($1, $2, $3, $4::jsonb, $5) \
             RETURNING {WEBHOOK_COLUMNS}"
        );
        // The endpoint and its audit entry in one transaction.
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&sql)
            .bind(Uuid::new_v4())
            .bind(webhook.url.as_str())
            .bind(webhook.secret.expose())
            .bind(events_json(&webhook.events))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let created = webhook_from_row(&row)?;
        if let Some(actor) = actor {
            write_audit(&mut *tx, &AuditRecord::webhook_created(actor, &created)).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(webhook_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn delete_webhook(&self, id: Uuid, actor: Option<&Actor>) -> StoreResult<()> {
        // Its deliveries go with it (ON DELETE CASCADE): none is claimed or listed afterwards. The
        // audit entry records the endpoint as the delete removed it (of two deletes at once, the
        // second finds nothing), in the same transaction.
        let mut tx = self.pool.begin().await?;
        let sql = format!("DELETE FROM webhooks WHERE id = $1 RETURNING {WEBHOOK_COLUMNS}");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await? else {
            return Err(StoreError::NotFound(Entity::Webhook));
        };
        if let Some(actor) = actor {
            write_audit(&mut *tx, &AuditRecord::webhook_deleted(actor, &webhook_from_row(&row)?, Utc::now())).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn fan_out_webhook_events(&self, limit: u32, now: DateTime<Utc>) -> StoreResult<u32> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM outgoing_events WHERE NOT fanned_out ORDER BY event_order LIMIT $1 \
             FOR UPDATE SKIP LOCKED"
        );
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
        if !deliveries.is_empty() {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, subject_id, event_order,
                     status, attempts, next_attempt_at, created_at)
                 SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.subject_id, d.event_order,
                     'pending', 0, $7, $7
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[])
                      AS d (id, webhook_id, event_id, event_type, subject_id, event_order)
                 ON CONFLICT DO NOTHING",
            )
            .bind(deliveries.iter().map(|(d, _)| d.id).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|(d, _)| d.webhook_id).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|(_, e)| e.id).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|(_, e)| e.event_type.as_str()).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|(_, e)| e.subject_id).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|(_, e)| e.order.clone()).collect::<Vec<_>>())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE outgoing_events SET fanned_out = true WHERE id = ANY($1)")
            .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
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
        let ids: Vec<Uuid> = sqlx::query_scalar(CLAIM_SQL)
            .bind(now + lease)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at,
                 d.last_status_code, d.last_response, d.created_at, d.delivered_at,
                 w.url, w.secret, e.subject_id, e.event_order, e.data::text AS data, e.created_at AS event_created_at
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN outgoing_events e ON e.id = d.event_id
             WHERE d.id = ANY($1) ORDER BY d.event_order, d.id",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let delivery = delivery_from_row(row)?;
                let event = WebhookEvent {
                    id: delivery.event_id,
                    event_type: delivery.event_type,
                    subject_id: row.try_get("subject_id")?,
                    order: row.try_get("event_order")?,
                    data: json_col(row, "data")?,
                    created_at: row.try_get("event_created_at")?,
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
            "UPDATE webhook_deliveries SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at),
                 last_status_code = $3, last_response = $4, delivered_at = $5
             WHERE id = $6 AND status = 'pending' AND attempts = $7",
        )
        .bind(settled.status.as_str())
        .bind(settled.next_attempt_at)
        .bind(settled.status_code.map(i32::from))
        .bind(settled.response)
        .bind(settled.delivered_at)
        .bind(id)
        .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_deliveries(&self, webhook_id: Uuid, page: Page) -> StoreResult<Vec<WebhookDelivery>> {
        let exists: Option<Uuid> = sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1")
            .bind(webhook_id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(Entity::Webhook));
        }
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
             ORDER BY created_at DESC, event_order DESC, id LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(&sql).bind(webhook_id).bind(page.limit).bind(page.offset).fetch_all(&self.pool).await?;
        rows.iter().map(delivery_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn replay_delivery(&self, webhook_id: Uuid, id: Uuid, now: DateTime<Utc>) -> StoreResult<WebhookDelivery> {
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, delivered_at = NULL \
             WHERE id = $2 AND webhook_id = $3 AND status <> 'pending' RETURNING {DELIVERY_COLUMNS}"
        );
        let row = sqlx::query(&sql).bind(now).bind(id).bind(webhook_id).fetch_optional(&self.pool).await?;
        if let Some(row) = row {
            return delivery_from_row(&row);
        }
        let found: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2")
                .bind(id)
                .bind(webhook_id)
                .fetch_optional(&self.pool)
                .await?;
        match found {
            None => Err(StoreError::NotFound(Entity::Delivery)),
            Some(_) => Err(StoreError::delivery_pending()),
        }
    }
}

fn events_json(events: &[WebhookEventType]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

fn json_col(row: &PgRow, col: &str) -> StoreResult<serde_json::Value> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("column {col} does not read back: {e}")))
}

fn webhook_from_row(row: &PgRow) -> StoreResult<Webhook> {
    let events: String = row.try_get("events")?;
    Ok(Webhook {
        id: row.try_get("id")?,
        url: WebhookUrl::stored(row.try_get("url")?),
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Internal(format!("webhook events do not read back: {e}")))?,
        created_at: row.try_get("created_at")?,
        secret: WebhookSecret::stored(row.try_get("secret")?),
    })
}

fn event_from_row(row: &PgRow) -> StoreResult<WebhookEvent> {
    let event_type: String = row.try_get("event_type")?;
    Ok(WebhookEvent {
        id: row.try_get("id")?,
        event_type: parse_stored(&event_type)?,
        subject_id: row.try_get("subject_id")?,
        order: row.try_get("event_order")?,
        data: json_col(row, "data")?,
        created_at: row.try_get("created_at")?,
    })
}

fn delivery_from_row(row: &PgRow) -> StoreResult<WebhookDelivery> {
    let attempts: i32 = row.try_get("attempts")?;
    let status: DeliveryStatus = parse_stored(&row.try_get::<String, _>("status")?)?;
    let event_type: String = row.try_get("event_type")?;
    let code: Option<i32> = row.try_get("last_status_code")?;
    Ok(WebhookDelivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_id: row.try_get("event_id")?,
        event_type: parse_stored(&event_type)?,
        status,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Internal(format!("{attempts} attempts")))?,
        next_attempt_at: if status == DeliveryStatus::Pending { Some(row.try_get("next_attempt_at")?) } else { None },
        last_status_code: code.and_then(|code| u16::try_from(code).ok()),
        last_response: row.try_get("last_response")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}
