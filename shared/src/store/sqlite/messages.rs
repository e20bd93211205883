//! The outbox on SQLite: the `outbox` table. A message is written by the change it reports, inside
//! that change's `BEGIN IMMEDIATE` transaction (store/outbox.rs's writes, with the statements below). A claim
//! is one `UPDATE … RETURNING` on the writer, the only connection that writes, so two senders'
//! claims run one after the other and the second finds the first's messages leased; a settlement
//! or a resend is one conditional `UPDATE`. The depth is one `GROUP BY status` over the status index, on
//! a reader.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::SqliteStore;
use super::audit::write_audit;
use super::rows::{enum_col, from_millis, id_text, ids_json, millis, time_col, uuid_col};
use crate::domain::{Actor, AuditRecord, MessageSecret, MessageStatus, OutboxMessage, Page, Settlement, WebhookEvent};
use crate::store::outbox::{OutboxWrites, PaymentOwner, depth_from_counts, settled};
use crate::store::{Entity, OutboxDepth, OutboxStore, StoreError, StoreResult};

const MESSAGE_COLUMNS: &str =
    "id, user_id, facts, status, attempts, next_attempt_at, last_error, created_at, sent_at, secret";

/// The claim: the due pending messages, oldest due first, read from the partial index
/// `outbox_due_idx`, each counted one attempt and leased. One statement on the one writer.
/// `INDEXED BY`: on a table not yet analyzed SQLite prefers the admin list's index (status
/// equality, then a sort of every pending message); the due index reads only what is due, in order.
pub(super) const CLAIM_SQL: &str = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?1 \
     WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_due_idx \
                  WHERE status = 'pending' AND next_attempt_at <= ?2 \
                  ORDER BY next_attempt_at, id LIMIT ?3) \
     RETURNING id, user_id, facts, status, attempts, next_attempt_at, last_error, created_at, sent_at, secret";

/// The depth: pending and failed messages counted by status from the covering index
/// `outbox_status_idx` (status first), which it searches for those two statuses only, never
/// reading the sent ones.
pub(super) const DEPTH_SQL: &str =
    "SELECT status, COUNT(*) FROM outbox WHERE status IN ('pending', 'failed') GROUP BY status";

#[async_trait]
impl OutboxStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn claim_messages(&self, limit: u32, lease: Duration, now: DateTime<Utc>) -> StoreResult<Vec<OutboxMessage>> {
        let rows = sqlx::query(CLAIM_SQL)
            .bind(millis(now + lease))
            .bind(millis(now))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        let mut claimed = rows.iter().map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
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
            "UPDATE outbox SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), \
             last_error = COALESCE(?, last_error), sent_at = ?, secret = CASE WHEN ? THEN NULL ELSE secret END \
             WHERE id = ? AND status = 'pending' AND attempts = ?",
        )
        .bind(settled.status.as_str())
        .bind(settled.next_attempt_at.map(millis))
        .bind(settled.last_error)
        .bind(settled.sent_at.map(millis))
        .bind(settled.erase_secret)
        .bind(id_text(id))
        .bind(i64::from(attempt))
        .execute(&self.writer)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM outbox WHERE id = ?");
        let row = sqlx::query(&sql).bind(id_text(id)).fetch_optional(&self.reader).await?;
        row.as_ref().map(message_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_messages(&self, status: Option<MessageStatus>, page: Page) -> StoreResult<Vec<OutboxMessage>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {MESSAGE_COLUMNS} FROM outbox"));
        if let Some(status) = status {
            qb.push(" WHERE status = ").push_bind(status.as_str());
        }
        qb.push(" ORDER BY created_at DESC, id LIMIT ").push_bind(page.limit).push(" OFFSET ").push_bind(page.offset);
        let rows = qb.build().fetch_all(&self.reader).await?;
        rows.iter().map(message_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn resend_message(&self, id: Uuid, now: DateTime<Utc>, actor: Option<&Actor>) -> StoreResult<OutboxMessage> {
        let sql = format!(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? \
             WHERE id = ? AND status = 'failed' RETURNING {MESSAGE_COLUMNS}"
        );
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&sql).bind(millis(now)).bind(id_text(id)).fetch_optional(&mut *tx).await?;
        if let Some(row) = row {
            let message = message_from_row(&row)?;
            if let Some(actor) = actor {
                write_audit(&mut tx, &AuditRecord::message_resent(actor, id, now)).await?;
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
        let counts: Vec<(String, i64)> = sqlx::query_as(DEPTH_SQL).fetch_all(&self.reader).await?;
        depth_from_counts(counts)
    }
}

fn message_from_row(row: &SqliteRow) -> StoreResult<OutboxMessage> {
    let facts: String = row.try_get("facts")?;
    let user_id: Option<String> = row.try_get("user_id")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(OutboxMessage {
        id: uuid_col(row, "id")?,
        user_id: user_id
            .map(|text| Uuid::parse_str(&text).map_err(|e| StoreError::Internal(format!("outbox user_id: {e}"))))
            .transpose()?,
        facts: serde_json::from_str(&facts)
            .map_err(|e| StoreError::Internal(format!("outbox facts do not read back: {e}")))?,
        status: enum_col(row, "status")?,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Internal(format!("{attempts} attempts")))?,
        next_attempt_at: time_col(row, "next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        created_at: time_col(row, "created_at")?,
        sent_at: row.try_get::<Option<i64>, _>("sent_at")?.map(from_millis).transpose()?,
        secret: row.try_get::<Option<String>, _>("secret")?.map(MessageSecret::new),
    })
}

// The statements of the changes' writes (store/outbox.rs), each inside the change's own transaction.

#[async_trait]
impl OutboxWrites for SqliteConnection {
    async fn insert_messages(&mut self, messages: &[OutboxMessage]) -> StoreResult<()> {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (id, user_id, kind, facts, status, attempts, next_attempt_at, created_at, secret) ",
        );
        let mut facts = Vec::with_capacity(messages.len());
        for message in messages {
            facts.push(
                serde_json::to_string(&message.facts)
                    .map_err(|e| StoreError::Internal(format!("outbox facts do not serialize: {e}")))?,
            );
        }
        qb.push_values(messages.iter().zip(facts), |mut b, (message, facts)| {
            b.push_bind(id_text(message.id))
                .push_bind(message.user_id.map(id_text))
                .push_bind(message.facts.kind().as_str())
                .push_bind(facts)
                .push_bind(message.status.as_str())
                .push_bind(i64::from(message.attempts))
                .push_bind(millis(message.next_attempt_at))
                .push_bind(millis(message.created_at))
                .push_bind(message.secret.as_ref().map(|secret| secret.expose().to_owned()));
        });
        qb.build().execute(&mut *self).await?;
        Ok(())
    }

    async fn insert_webhook_events(&mut self, events: &[WebhookEvent]) -> StoreResult<()> {
        super::webhooks::insert_events(self, events).await
    }

    async fn payment_owners(&mut self, payment_ids: &[Uuid]) -> StoreResult<Vec<PaymentOwner>> {
        let rows =
            sqlx::query("SELECT id, booking_id, user_id FROM payments WHERE id IN (SELECT value FROM json_each(?))")
                .bind(ids_json(payment_ids))
                .fetch_all(&mut *self)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(PaymentOwner {
                    payment_id: uuid_col(row, "id")?,
                    booking_id: uuid_col(row, "booking_id")?,
                    user_id: uuid_col(row, "user_id")?,
                })
            })
            .collect()
    }

    /// Read under the writer lock (`BEGIN IMMEDIATE`), so no other change runs until commit.
    async fn start_before_update(&mut self, event_id: Uuid) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT start_time FROM events WHERE id = ?")
            .bind(id_text(event_id))
            .fetch_optional(&mut *self)
            .await?;
        row.map(|row| time_col(&row, "start_time")).transpose()
    }

    /// Whole milliseconds.
    fn as_stored(start: DateTime<Utc>) -> DateTime<Utc> {
        from_millis(millis(start)).unwrap_or(start)
    }
}
