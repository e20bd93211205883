//! The waiting room's queue on SQLite: `queue_states` (one row per event) and `queue_entries`
//! (one per event and account). Joins and admissions are `BEGIN IMMEDIATE` transactions on the
//! writer, so they take turns (across processes too, by the file's write lock); within them each
//! promise is still one statement's: the draw gives out every position of the joiners before the
//! opening in one `UPDATE … FROM` ranked by draw, a later joiner takes the counter, the unique
//! index `queue_entries_position_uq` refuses a repeated position, and the admission is one
//! conditional `UPDATE queue_states` that counts the active places in the same statement.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::SqliteStore;
use super::rows::{from_millis, id_text, millis, optional_time_col, time_col, uuid_col};
use crate::domain::{QueueJoin, QueuePace, QueuePlace, QueueStats, QueuedEvent, queue_pace_start};
use crate::store::{Entity, QueueStore, StoreError, StoreResult, stored_queue};

pub(super) const PLACE_SQL: &str = "SELECT event_id, user_id, position, joined_at, admitted_at, session_ends_at, \
     finished_at, COALESCE((SELECT admitted_through FROM queue_states WHERE event_id = ?1), 0) AS admitted_through \
     FROM queue_entries WHERE event_id = ?1 AND user_id = ?2";

/// The joiners before the opening take positions `next_position …` in the order of their draws
/// (the user id breaks a tie of draws), all in one statement. Binds: event id.
pub(super) const DRAW_SQL: &str = "UPDATE queue_entries SET position = \
     (SELECT next_position FROM queue_states WHERE event_id = ?1) - 1 + ranked.n \
     FROM (SELECT user_id, row_number() OVER (ORDER BY draw, user_id) AS n FROM queue_entries \
           WHERE event_id = ?1 AND position IS NULL) AS ranked \
     WHERE queue_entries.event_id = ?1 AND queue_entries.user_id = ranked.user_id AND queue_entries.position IS NULL";

/// Moves the admission frontier to the last of the next places still waiting (a place that left
/// is passed over), as many as the pace's turns (`?2`) but never more than the room left under
/// `max_active_buyers` (`?3`), counted in this statement; conditioned on the frontier read (`?4`).
/// Binds: event id, turns, max, frontier, now (ms).
pub(super) const ADVANCE_SQL: &str = "UPDATE queue_states SET admitted_through = COALESCE((SELECT max(position) FROM \
     (SELECT position FROM queue_entries WHERE event_id = ?1 AND position > ?4 AND finished_at IS NULL \
      ORDER BY position LIMIT MAX(0, MIN(?2, ?3 - (SELECT count(*) FROM queue_entries WHERE event_id = ?1 \
          AND admitted_at IS NOT NULL AND finished_at IS NULL AND session_ends_at > ?5))))), admitted_through) \
     WHERE event_id = ?1 AND drawn = 1 AND admitted_through = ?4 RETURNING admitted_through";

/// The event's opening and queue settings. Binds: event id.
pub(super) const EVENT_QUEUE_SQL: &str = "SELECT on_sale_at, queue_enabled, queue_admit_per_minute, \
     queue_max_active_buyers, queue_session_minutes FROM events WHERE id = ?";

/// A new place: the next position of a drawn queue, none in an undrawn one. Binds: event id,
/// user id, draw, now (ms).
pub(super) const JOIN_SQL: &str = "INSERT INTO queue_entries (event_id, user_id, draw, position, joined_at) \
     VALUES (?1, ?2, ?3, (SELECT next_position FROM queue_states WHERE event_id = ?1 AND drawn = 1), ?4)";

/// The counter after a place took its value. Binds: event id.
pub(super) const COUNTER_SQL: &str =
    "UPDATE queue_states SET next_position = next_position + 1 WHERE event_id = ? AND drawn = 1";

/// The places whose turn came: admitted until the session's end. Binds: now, session end (ms),
/// event id, old frontier, new frontier.
pub(super) const ADMIT_SQL: &str = "UPDATE queue_entries SET admitted_at = ?, session_ends_at = ? \
     WHERE event_id = ? AND position > ? AND position <= ? AND finished_at IS NULL AND admitted_at IS NULL";

async fn event_queue(conn: &mut SqliteConnection, event_id: Uuid) -> StoreResult<QueuedEvent> {
    let row = sqlx::query(EVENT_QUEUE_SQL)
        .bind(id_text(event_id))
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound(Entity::Event))?;
    let setting = |name: &str| -> StoreResult<Option<i64>> { Ok(row.try_get(name)?) };
    Ok(QueuedEvent {
        on_sale_at: optional_time_col(&row, "on_sale_at")?,
        queue: stored_queue(
            row.try_get("queue_enabled")?,
            setting("queue_admit_per_minute")?,
            setting("queue_max_active_buyers")?,
            setting("queue_session_minutes")?,
        )?,
    })
}

/// Creates the event's queue state row when missing, and draws the queue when it has opened and
/// was not drawn (the `drawn = 0` condition makes the draw happen once).
async fn prepare(
    conn: &mut SqliteConnection,
    event_id: Uuid,
    event: &QueuedEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO queue_states (event_id) VALUES (?) ON CONFLICT (event_id) DO NOTHING")
        .bind(id_text(event_id))
        .execute(&mut *conn)
        .await?;
    let Some(opened_at) = event.opened_at(now) else { return Ok(()) };
    let drawn: bool = sqlx::query_scalar("SELECT drawn FROM queue_states WHERE event_id = ?")
        .bind(id_text(event_id))
        .fetch_one(&mut *conn)
        .await?;
    if drawn {
        return Ok(());
    }
    let placed = sqlx::query(DRAW_SQL).bind(id_text(event_id)).execute(&mut *conn).await?.rows_affected();
    sqlx::query(
        "UPDATE queue_states SET drawn = 1, next_position = next_position + ?, paced_at = ? \
         WHERE event_id = ? AND drawn = 0",
    )
    .bind(i64::try_from(placed).unwrap_or(i64::MAX))
    .bind(millis(queue_pace_start(opened_at, event.admit_per_minute())))
    .bind(id_text(event_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn place(conn: &mut SqliteConnection, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>> {
    let row = sqlx::query(PLACE_SQL).bind(id_text(event_id)).bind(id_text(user_id)).fetch_optional(conn).await?;
    row.as_ref().map(place_from_row).transpose()
}

fn place_from_row(row: &SqliteRow) -> StoreResult<QueuePlace> {
    let position: Option<i64> = row.try_get("position")?;
    let through: i64 = row.try_get("admitted_through")?;
    Ok(QueuePlace {
        event_id: uuid_col(row, "event_id")?,
        user_id: uuid_col(row, "user_id")?,
        position: position.map(|p| u64::try_from(p).unwrap_or(0)),
        joined_at: time_col(row, "joined_at")?,
        admitted_at: optional_time_col(row, "admitted_at")?,
        session_ends_at: optional_time_col(row, "session_ends_at")?,
        finished_at: optional_time_col(row, "finished_at")?,
        admitted_through: u64::try_from(through).unwrap_or(0),
    })
}

/// An event's (`?1`) queue at `?2` (milliseconds): its places (a range of the primary key), the
/// admission frontier, and the active places.
pub(super) const QUEUE_STATS_SQL: &str = "
SELECT (SELECT count(*) FROM queue_entries WHERE event_id = ?1) AS joined,
       coalesce((SELECT admitted_through FROM queue_states WHERE event_id = ?1), 0) AS let_through,
       (SELECT count(*) FROM queue_entries
        WHERE event_id = ?1 AND admitted_at IS NOT NULL AND finished_at IS NULL AND session_ends_at > ?2) AS active";

#[async_trait]
impl QueueStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn join_queue(&self, join: &QueueJoin, now: DateTime<Utc>) -> StoreResult<QueuePlace> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let event = event_queue(&mut tx, join.event_id).await?;
        prepare(&mut tx, join.event_id, &event, now).await?;
        if let Some(found) = place(&mut tx, join.event_id, join.user_id).await? {
            tx.commit().await?;
            return Ok(found);
        }
        // A drawn queue gives the next position from its counter; an undrawn one none yet.
        sqlx::query(JOIN_SQL)
            .bind(id_text(join.event_id))
            .bind(id_text(join.user_id))
            .bind(i64::from_ne_bytes(join.draw.to_ne_bytes()))
            .bind(millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(COUNTER_SQL).bind(id_text(join.event_id)).execute(&mut *tx).await?;
        let joined = place(&mut tx, join.event_id, join.user_id)
            .await?
            .ok_or_else(|| StoreError::Internal("a queue place just written was not found".into()))?;
        tx.commit().await?;
        Ok(joined)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn queue_place(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>> {
        let mut conn = self.reader.acquire().await?;
        place(&mut conn, event_id, user_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn queue_stats(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<QueueStats> {
        let row =
            sqlx::query(QUEUE_STATS_SQL).bind(id_text(event_id)).bind(millis(now)).fetch_one(&self.reader).await?;
        let count = |name: &str| -> StoreResult<u64> { Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0)) };
        Ok(QueueStats::new(count("joined")?, count("let_through")?, count("active")?))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn advance_queue(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let event = event_queue(&mut tx, event_id).await?;
        let Some(settings) = event.admitting(now) else { return Ok(0) };
        prepare(&mut tx, event_id, &event, now).await?;
        let state =
            sqlx::query("SELECT admitted_through, next_position, paced_at FROM queue_states WHERE event_id = ?")
                .bind(id_text(event_id))
                .fetch_one(&mut *tx)
                .await?;
        let through: i64 = state.try_get("admitted_through")?;
        let next: i64 = state.try_get("next_position")?;
        let paced_at = match state.try_get::<Option<i64>, _>("paced_at")? {
            Some(ms) => from_millis(ms)?,
            None => now,
        };
        let pace = QueuePace::at(paced_at, now, settings.admit_per_minute);
        let turns = i64::try_from(pace.turns).unwrap_or(i64::MAX).min(next - 1 - through);
        if turns <= 0 {
            tx.commit().await?;
            return Ok(0);
        }
        let moved: Option<i64> = sqlx::query_scalar(ADVANCE_SQL)
            .bind(id_text(event_id))
            .bind(turns)
            .bind(i64::from(settings.max_active_buyers))
            .bind(through)
            .bind(millis(now))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(new_through) = moved.filter(|&t| t > through) else {
            tx.commit().await?;
            return Ok(0);
        };
        let admitted = sqlx::query(ADMIT_SQL)
            .bind(millis(now))
            .bind(millis(now + Duration::minutes(i64::from(settings.session_minutes))))
            .bind(id_text(event_id))
            .bind(through)
            .bind(new_through)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE queue_states SET paced_at = ? WHERE event_id = ?")
            .bind(millis(pace.after(admitted)))
            .bind(id_text(event_id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(admitted)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn advance_queues(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let events: Vec<String> = sqlx::query_scalar(
            "SELECT s.event_id FROM queue_states s JOIN events e ON e.id = s.event_id \
             WHERE e.queue_enabled = 1 AND (e.on_sale_at IS NULL OR e.on_sale_at <= ?) \
             AND (s.drawn = 0 OR s.admitted_through < s.next_position - 1)",
        )
        .bind(millis(now))
        .fetch_all(&self.reader)
        .await?;
        let mut admitted = 0;
        for event in events {
            let id = Uuid::parse_str(&event).map_err(|_| StoreError::Internal(format!("stored id {event}")))?;
            admitted += self.advance_queue(id, now).await?;
        }
        Ok(admitted)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn finish_queue_place(&self, event_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let finished = sqlx::query(
            "UPDATE queue_entries SET finished_at = ? WHERE event_id = ? AND user_id = ? AND finished_at IS NULL",
        )
        .bind(millis(now))
        .bind(id_text(event_id))
        .bind(id_text(user_id))
        .execute(&self.writer)
        .await?;
        Ok(finished.rows_affected() > 0)
    }
}
