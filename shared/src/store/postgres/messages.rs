//! The outbox on PostgreSQL: the `outbox` table. A message is written by the change it reports,
//! inside that change's transaction (store/outbox.rs's writes, with the statements below). A claim is one
//! `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`: senders at once
//! lock different rows, and a row another sender claimed meanwhile is re-checked as it now is (its
//! lease has moved `next_attempt_at`), so no message is claimed twice. A settlement or a resend is
//! one conditional `UPDATE`. The depth is one `GROUP BY status` over the status index.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use super::PostgresStore;
use super::audit::write_audit;
use super::rows::parse_stored;
use crate::domain::{Actor, AuditRecord, MessageSecret, MessageStatus, OutboxMessage, Page, Settlement, WebhookEvent};
use crate::store::outbox::{OutboxWrites, PaymentOwner, depth_from_counts, settled};
use crate::store::{Entity, OutboxDepth, OutboxStore, StoreError, StoreResult};

macro_rules! message_columns {
    () => {
        "id, user_id, facts::text AS facts, status, attempts, next_attempt_at, last_error, created_at, sent_at, secret"
    };
}

/// The claim: the due pending messages, oldest due first, from the partial index
/// `outbox_due_idx`, locked past the ones other senders hold, each counted one attempt and leased.
pub(super) const CLAIM_SQL: &str = concat!(
    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1
     WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2
                  ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING ",
    message_columns!()
);

/// The depth: pending and failed messages counted by status from the index `outbox_status_idx`
/// (status first), an index-only read of those two statuses that never visits the sent ones.
pub(super) const DEPTH_SQL: &str =
    "SELECT status, count(*) FROM outbox WHERE status IN ('pending', 'failed') GROUP BY status";

#[derive(FromRow)]
struct MessageRow {
    id: Uuid,
    user_id: Option<Uuid>,
    facts: String,
    status: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    secret: Option<String>,
}

impl MessageRow {
    fn into_message(self) -> StoreResult<OutboxMessage> {
        Ok(OutboxMessage {
            id: self.id,
            user_id: self.user_id,
            facts: serde_json::from_str(&self.facts)
                .map_err(|e| StoreError::Internal(format!("outbox facts do not read back: {e}")))?,
            status: parse_stored::<MessageStatus>(&self.status)?,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| StoreError::Internal(format!("{} attempts", self.attempts)))?,
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            created_at: self.created_at,
            sent_at: self.sent_at,
            secret: self.secret.map(MessageSecret::new),
        })
    }
}

#[async_trait]
impl OutboxStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_messages(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> StoreResult<Vec<OutboxMessage>> {
        let rows: Vec<MessageRow> =
            sqlx::query_as(CLAIM_SQL).bind(now + lease).bind(now).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        let mut claimed = rows.into_iter().map(MessageRow::into_message).collect::<StoreResult<Vec<_>>>()?;
        // RETURNING keeps no order; the oldest first, as they were due.
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
        // Only the latest claim settles: a later claim (its lease ended) or an admin changed
        // `attempts` or `status`, and then nothing changes. A sent or failed message's secret (a
        // reset mail's token) is erased in the same statement.
        let updated = sqlx::query(
            "UPDATE outbox SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                 last_error = COALESCE($5, last_error), sent_at = $6,
                 secret = CASE WHEN $7 THEN NULL ELSE secret END
             WHERE id = $1 AND status = 'pending' AND attempts = $2",
        )
        .bind(id)
        .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
        .bind(settled.status.as_str())
        .bind(settled.next_attempt_at)
        .bind(settled.last_error)
        .bind(settled.sent_at)
        .bind(settled.erase_secret)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>> {
        let row: Option<MessageRow> =
            sqlx::query_as(concat!("SELECT ", message_columns!(), " FROM outbox WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(MessageRow::into_message).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_messages(&self, status: Option<MessageStatus>, page: Page) -> StoreResult<Vec<OutboxMessage>> {
        let mut qb = QueryBuilder::<Postgres>::new(concat!("SELECT ", message_columns!(), " FROM outbox"));
        if let Some(status) = status {
            qb.push(" WHERE status = ").push_bind(status.as_str());
        }
        qb.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows: Vec<MessageRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(MessageRow::into_message).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn resend_message(&self, id: Uuid, now: DateTime<Utc>, actor: Option<&Actor>) -> StoreResult<OutboxMessage> {
        let mut tx = self.pool.begin().await?;
        let row: Option<MessageRow> = sqlx::query_as(concat!(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2
             WHERE id = $1 AND status = 'failed' RETURNING ",
            message_columns!()
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let message = row.into_message()?;
            if let Some(actor) = actor {
                write_audit(&mut *tx, &AuditRecord::message_resent(actor, id, now)).await?;
            }
            tx.commit().await?;
            return Ok(message);
        }
        drop(tx);
        // Nothing changed: say why, from the row as it is.
        match self.message(id).await? {
            None => Err(StoreError::NotFound(Entity::Message)),
            Some(message) => Err(StoreError::message_not_failed(message.status)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn outbox_depth(&self) -> StoreResult<OutboxDepth> {
        let counts: Vec<(String, i64)> = sqlx::query_as(DEPTH_SQL).fetch_all(&self.pool).await?;
        depth_from_counts(counts)
    }
}

// The statements of the changes' writes (store/outbox.rs), each inside the change's own transaction.

#[async_trait]
impl OutboxWrites for PgConnection {
    async fn insert_messages(&mut self, messages: &[OutboxMessage]) -> StoreResult<()> {
        let mut facts = Vec::with_capacity(messages.len());
        for message in messages {
            facts.push(
                serde_json::to_string(&message.facts)
                    .map_err(|e| StoreError::Internal(format!("outbox facts do not serialize: {e}")))?,
            );
        }
        // One statement whatever the count: the columns as arrays.
        sqlx::query(
            "INSERT INTO outbox (id, user_id, kind, facts, status, attempts, next_attempt_at, created_at, secret)
             SELECT m.id, m.user_id, m.kind, m.facts::jsonb, 'pending', 0, m.due, m.created, m.secret
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                         $7::text[])
                  AS m (id, user_id, kind, facts, due, created, secret)",
        )
        .bind(messages.iter().map(|m| m.id).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.user_id).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.facts.kind().as_str()).collect::<Vec<_>>())
        .bind(facts)
        .bind(messages.iter().map(|m| m.next_attempt_at).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.created_at).collect::<Vec<_>>())
        .bind(messages.iter().map(|m| m.secret.as_ref().map(|s| s.expose().to_owned())).collect::<Vec<_>>())
        .execute(&mut *self)
        .await?;
        Ok(())
    }

    async fn insert_webhook_events(&mut self, events: &[WebhookEvent]) -> StoreResult<()> {
        super::webhooks::insert_events(self, events).await
    }

    /// The payments were locked by the cancel that recorded the refunds.
    async fn payment_owners(&mut self, payment_ids: &[Uuid]) -> StoreResult<Vec<PaymentOwner>> {
        let owners: Vec<(Uuid, Uuid, Uuid)> =
            sqlx::query_as("SELECT id, booking_id, user_id FROM payments WHERE id = ANY($1)")
                .bind(payment_ids)
                .fetch_all(&mut *self)
                .await?;
        Ok(owners
            .into_iter()
            .map(|(payment_id, booking_id, user_id)| PaymentOwner { payment_id, booking_id, user_id })
            .collect())
    }

    /// The event row is locked first (the UPDATE locks it anyway, so the lock order is unchanged).
    async fn start_before_update(&mut self, event_id: Uuid) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar("SELECT start_time FROM events WHERE id = $1 FOR UPDATE")
            .bind(event_id)
            .fetch_optional(&mut *self)
            .await?)
    }

    /// Whole microseconds.
    fn as_stored(start: DateTime<Utc>) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(start.timestamp_micros()).unwrap_or(start)
    }
}
