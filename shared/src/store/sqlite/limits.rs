//! Rate-limit counters on SQLite: one row per key in `rate_limits`. The attempts of concurrent
//! requests are counted together (`count_batch`), on the writer, by one `INSERT … ON CONFLICT DO
//! UPDATE … RETURNING` adding each key's attempts of the batch. SQLite takes one writer at a time
//! (across processes too, by its file lock), so each increment sees the one before it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::{Row, SqlitePool};

use super::SqliteStore;
use super::rows::{from_millis, millis};
use crate::store::count_batch::{CountRequest, CountStatements, Increment};
use crate::store::{AttemptCount, LimitStore, StoreError, StoreResult};

/// The counting batches' statement, on the writer.
pub(super) struct SqliteCounts {
    pub(super) writer: SqlitePool,
}

#[async_trait]
impl CountStatements for SqliteCounts {
    async fn add(&self, increments: &[Increment], now: DateTime<Utc>) -> StoreResult<Vec<AttemptCount>> {
        let mut query =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO rate_limits AS l (key, attempts, window_ends) ");
        query.push_values(increments, |mut row, increment| {
            row.push_bind(&increment.key).push_bind(increment.by).push_bind(millis(increment.window_ends));
        });
        query
            .push(" ON CONFLICT (key) DO UPDATE SET attempts = CASE WHEN l.window_ends <= ")
            .push_bind(millis(now))
            .push(" THEN excluded.attempts ELSE l.attempts + excluded.attempts END, window_ends = CASE WHEN l.window_ends <= ")
            .push_bind(millis(now))
            .push(" THEN excluded.window_ends ELSE l.window_ends END RETURNING key, attempts, window_ends");
        let rows = query.build().fetch_all(&self.writer).await?;
        increments
            .iter()
            .map(|increment| {
                let row = rows
                    .iter()
                    .find(|row| row.try_get::<&str, _>("key").is_ok_and(|counted| counted == increment.key))
                    .ok_or_else(|| StoreError::Internal("an attempt counter returned no row".into()))?;
                Ok(AttemptCount {
                    attempts: row.try_get("attempts")?,
                    window_ends: from_millis(row.try_get("window_ends")?)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl LimitStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn count_attempts(
        &self,
        keys: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>> {
        self.counts.submit(CountRequest { keys: keys.to_vec(), window, now }).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn uncount_attempt(&self, key: &str, window_ends: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE rate_limits SET attempts = attempts - 1 WHERE key = ? AND window_ends = ? AND attempts > 0",
        )
        .bind(key)
        .bind(millis(window_ends))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn forget_ended_windows(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let forgotten = sqlx::query("DELETE FROM rate_limits WHERE window_ends <= ?")
            .bind(millis(now))
            .execute(&self.writer)
            .await?;
        Ok(forgotten.rows_affected())
    }
}
