//! The waiting room's queue on PostgreSQL: `queue_states` (one row per event) and
//! `queue_entries` (one per event and account). A join locks its event's state row
//! (`SELECT … FOR UPDATE`), so the joins of one event take turns and a joiner's counter value is
//! never lost; the draw gives out every position of the joiners before the opening in one
//! statement, ranked by draw, under the same lock; the unique index `queue_entries_position_uq`
//! refuses a repeated position whatever happens. An admission is one conditional
//! `UPDATE queue_states` that counts the active places in the same statement and is conditioned
//! on the frontier it read: of two advances at once, the second finds the frontier moved and
//! admits nothing, and a row lock makes it see the first's admissions if it does run.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::PostgresStore;
use crate::domain::{QueueJoin, QueuePace, QueuePlace, QueueStats, QueuedEvent, queue_pace_start};
use crate::store::{Entity, QueueStore, StoreError, StoreResult, stored_queue};

pub(super) const PLACE_SQL: &str = "SELECT event_id, user_id, position, joined_at, admitted_at, session_ends_at, \
     finished_at, COALESCE((SELECT admitted_through FROM queue_states WHERE event_id = $1), 0) AS admitted_through \
     FROM queue_entries WHERE event_id = $1 AND user_id = $2";

/// The joiners before the opening take positions `next_position …` in the order of their draws
/// (the user id breaks a tie), and the state is marked drawn, all in one statement; run under the
/// state row's lock. Binds: event id, the pace's start.
///
/// `ranked` is computed once (`MATERIALIZED`) and each of its rows finds its place by one probe of
/// the primary key and then by its row id: written as a plain join, the planner ran the ranking
/// again for every place (17.5 s for a draw of 5,000 places on tables analyzed empty; the bench's
/// `queue` phase saw 22.5 s), and now it cannot. The counter moves past every ranked place, so a
/// place that changed meanwhile (and so got no position) leaves a gap, never a position twice.
pub(super) const DRAW_SQL: &str = "WITH st AS (SELECT next_position FROM queue_states WHERE event_id = $1 AND NOT drawn), \
     ranked AS MATERIALIZED (SELECT user_id, row_number() OVER (ORDER BY draw, user_id) AS n FROM queue_entries \
                WHERE event_id = $1 AND position IS NULL), \
     placed AS (UPDATE queue_entries q SET position = st.next_position - 1 + r.n \
                FROM st, ranked r \
                CROSS JOIN LATERAL (SELECT y.ctid AS row_id FROM queue_entries y \
                                    WHERE y.event_id = $1 AND y.user_id = r.user_id LIMIT 1) y \
                WHERE q.ctid = y.row_id AND q.position IS NULL RETURNING 1) \
     UPDATE queue_states SET drawn = true, next_position = next_position + (SELECT count(*) FROM ranked), \
     paced_at = $2 WHERE event_id = $1 AND NOT drawn";

/// A new place: the next position from the counter of a drawn queue, none in an undrawn one.
/// Run under the state row's lock, after finding no place of the account. Binds: event id, user
/// id, draw, now.
pub(super) const JOIN_SQL: &str = "WITH counter AS (UPDATE queue_states SET next_position = next_position + 1 \
     WHERE event_id = $1 AND drawn RETURNING next_position - 1 AS position) \
     INSERT INTO queue_entries (event_id, user_id, draw, position, joined_at) \
     VALUES ($1, $2, $3, (SELECT position FROM counter), $4)";

/// Moves the admission frontier to the last of the next places still waiting (a place that left
/// is passed over), as many as the pace's turns (`$2`) but never more than the room left under
/// `max_active_buyers` (`$3`), counted in this statement; conditioned on the frontier read (`$4`).
/// Binds: event id, turns, max, frontier, now.
pub(super) const ADVANCE_SQL: &str = "UPDATE queue_states SET admitted_through = COALESCE((SELECT max(position) FROM \
     (SELECT position FROM queue_entries WHERE event_id = $1 AND position > $4 AND finished_at IS NULL \
      ORDER BY position LIMIT GREATEST(0, LEAST($2, $3 - (SELECT count(*) FROM queue_entries WHERE event_id = $1 \
          AND admitted_at IS NOT NULL AND finished_at IS NULL AND session_ends_at > $5)))) AS next_up), admitted_through) \
     WHERE event_id = $1 AND drawn AND admitted_through = $4 RETURNING admitted_through";

/// The places whose turn came: admitted until the session's end. Binds: event id, old frontier,
/// new frontier, now, session end.
pub(super) const ADMIT_SQL: &str = "UPDATE queue_entries SET admitted_at = $4, session_ends_at = $5 \
     WHERE event_id = $1 AND position > $2 AND position <= $3 AND finished_at IS NULL AND admitted_at IS NULL";

/// The event's opening and queue settings. Binds: event id.
pub(super) const EVENT_QUEUE_SQL: &str = "SELECT on_sale_at, queue_enabled, queue_admit_per_minute, \
     queue_max_active_buyers, queue_session_minutes FROM events WHERE id = $1";

/// The lock every join (and a draw) of the event takes first. Binds: event id.
pub(super) const LOCK_STATE_SQL: &str = "SELECT drawn FROM queue_states WHERE event_id = $1 FOR UPDATE";

async fn event_queue(conn: &mut PgConnection, event_id: Uuid) -> StoreResult<QueuedEvent> {
    let row = sqlx::query(EVENT_QUEUE_SQL)
        .bind(event_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound(Entity::Event))?;
    let setting = |name: &str| -> StoreResult<Option<i64>> { Ok(row.try_get::<Option<i32>, _>(name)?.map(i64::from)) };
    Ok(QueuedEvent {
        on_sale_at: row.try_get("on_sale_at")?,
        queue: stored_queue(
            row.try_get("queue_enabled")?,
            setting("queue_admit_per_minute")?,
            setting("queue_max_active_buyers")?,
            setting("queue_session_minutes")?,
        )?,
    })
}

/// Locks the event's queue state row (creating it when missing) and draws the queue when it has
/// opened and was not drawn. Returns whether it is drawn.
async fn lock_and_draw(
    conn: &mut PgConnection,
    event_id: Uuid,
    event: &QueuedEvent,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    sqlx::query("INSERT INTO queue_states (event_id) VALUES ($1) ON CONFLICT (event_id) DO NOTHING")
        .bind(event_id)
        .execute(&mut *conn)
        .await?;
    let drawn: bool = sqlx::query_scalar(LOCK_STATE_SQL).bind(event_id).fetch_one(&mut *conn).await?;
    let Some(opened_at) = event.opened_at(now).filter(|_| !drawn) else { return Ok(drawn) };
    sqlx::query(DRAW_SQL)
        .bind(event_id)
        .bind(queue_pace_start(opened_at, event.admit_per_minute()))
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

async fn place(conn: &mut PgConnection, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>> {
    let row = sqlx::query(PLACE_SQL).bind(event_id).bind(user_id).fetch_optional(conn).await?;
    row.as_ref().map(place_from_row).transpose()
}

fn place_from_row(row: &PgRow) -> StoreResult<QueuePlace> {
    let position: Option<i64> = row.try_get("position")?;
    let through: i64 = row.try_get("admitted_through")?;
    Ok(QueuePlace {
        event_id: row.try_get("event_id")?,
        user_id: row.try_get("user_id")?,
        position: position.map(|p| u64::try_from(p).unwrap_or(0)),
        joined_at: row.try_get("joined_at")?,
        admitted_at: row.try_get("admitted_at")?,
        session_ends_at: row.try_get("session_ends_at")?,
        finished_at: row.try_get("finished_at")?,
        admitted_through: u64::try_from(through).unwrap_or(0),
    })
}

/// An event's (`$1`) queue at `$2`: its places (a range of the primary key), the admission
/// frontier, and the active places (a range of `queue_entries_active_idx`).
pub(super) const QUEUE_STATS_SQL: &str = "
SELECT (SELECT count(*) FROM queue_entries WHERE event_id = $1) AS joined,
       coalesce((SELECT admitted_through FROM queue_states WHERE event_id = $1), 0) AS let_through,
       (SELECT count(*) FROM queue_entries
        WHERE event_id = $1 AND admitted_at IS NOT NULL AND finished_at IS NULL AND session_ends_at > $2) AS active";

#[async_trait]
impl QueueStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn join_queue(&self, join: &QueueJoin, now: DateTime<Utc>) -> StoreResult<QueuePlace> {
        let mut tx = self.pool.begin().await?;
        let event = event_queue(&mut tx, join.event_id).await?;
        lock_and_draw(&mut tx, join.event_id, &event, now).await?;
        if let Some(found) = place(&mut tx, join.event_id, join.user_id).await? {
            tx.commit().await?;
            return Ok(found);
        }
        sqlx::query(JOIN_SQL)
            .bind(join.event_id)
            .bind(join.user_id)
            .bind(i64::from_ne_bytes(join.draw.to_ne_bytes()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let joined = place(&mut tx, join.event_id, join.user_id)
            .await?
            .ok_or_else(|| StoreError::Internal("a queue place just written was not found".into()))?;
        tx.commit().await?;
        Ok(joined)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn queue_place(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>> {
        let mut conn = self.pool.acquire().await?;
        place(&mut conn, event_id, user_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn queue_stats(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<QueueStats> {
        let row = sqlx::query(QUEUE_STATS_SQL).bind(event_id).bind(now).fetch_one(&self.pool).await?;
        let count = |name: &str| -> StoreResult<u64> { Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0)) };
        Ok(QueueStats::new(count("joined")?, count("let_through")?, count("active")?))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn advance_queue(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await?;
        let event = event_queue(&mut conn, event_id).await?;
        let Some(settings) = event.admitting(now) else { return Ok(0) };
        let state = sqlx::query(
            "SELECT drawn, admitted_through, next_position, paced_at FROM queue_states WHERE event_id = $1",
        )
        .bind(event_id)
        .fetch_optional(&mut *conn)
        .await?;
        let state = match state {
            Some(state) if state.try_get::<bool, _>("drawn")? => state,
            // Not drawn yet: the draw takes the state row's lock, as joins do.
            _ => {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                lock_and_draw(&mut tx, event_id, &event, now).await?;
                tx.commit().await?;
                sqlx::query(
                    "SELECT drawn, admitted_through, next_position, paced_at FROM queue_states WHERE event_id = $1",
                )
                .bind(event_id)
                .fetch_one(&mut *conn)
                .await?
            }
        };
        let through: i64 = state.try_get("admitted_through")?;
        let next: i64 = state.try_get("next_position")?;
        let paced_at: DateTime<Utc> = state.try_get::<Option<DateTime<Utc>>, _>("paced_at")?.unwrap_or(now);
        let pace = QueuePace::at(paced_at, now, settings.admit_per_minute);
        let turns = i64::try_from(pace.turns).unwrap_or(i64::MAX).min(next - 1 - through);
        if turns <= 0 {
            return Ok(0);
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let moved: Option<i64> = sqlx::query_scalar(ADVANCE_SQL)
            .bind(event_id)
            .bind(turns)
            .bind(i64::from(settings.max_active_buyers))
            .bind(through)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(new_through) = moved.filter(|&t| t > through) else {
            return Ok(0);
        };
        let admitted = sqlx::query(ADMIT_SQL)
            .bind(event_id)
            .bind(through)
            .bind(new_through)
            .bind(now)
            .bind(now + Duration::minutes(i64::from(settings.session_minutes)))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE queue_states SET paced_at = $2 WHERE event_id = $1")
            .bind(event_id)
            .bind(pace.after(admitted))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(admitted)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn advance_queues(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let events: Vec<Uuid> = sqlx::query_scalar(
            "SELECT s.event_id FROM queue_states s JOIN events e ON e.id = s.event_id \
             WHERE e.queue_enabled AND (e.on_sale_at IS NULL OR e.on_sale_at <= $1) \
             AND (NOT s.drawn OR s.admitted_through < s.next_position - 1)",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut admitted = 0;
        for event in events {
            admitted += self.advance_queue(event, now).await?;
        }
        Ok(admitted)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn finish_queue_place(&self, event_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let finished = sqlx::query(
            "UPDATE queue_entries SET finished_at = $3 WHERE event_id = $1 AND user_id = $2 AND finished_at IS NULL",
        )
        .bind(event_id)
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(finished.rows_affected() > 0)
    }
}
