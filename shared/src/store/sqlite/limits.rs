//! Rate-limit counters on SQLite: one row per key in `rate_limits`, counted on the writer by one
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING` for all of a request's keys. SQLite takes one
//! writer at a time (across processes too, by its file lock), so each increment sees the one
//! before it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use super::SqliteStore;
use super::rows::{from_millis, millis};
use crate::store::{AttemptCount, LimitStore, StoreError, StoreResult};

#[async_trait]
impl LimitStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn count_attempts(
        &self,
        keys: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>> {
        let mut query =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO rate_limits AS l (key, attempts, window_ends) ");
        query.push_values(keys, |mut row, key| {
            row.push_bind(key).push("1").push_bind(millis(now + window));
        });
        query
            .push(" ON CONFLICT (key) DO UPDATE SET attempts = CASE WHEN l.window_ends <= ")
            .push_bind(millis(now))
            .push(" THEN 1 ELSE l.attempts + 1 END, window_ends = CASE WHEN l.window_ends <= ")
            .push_bind(millis(now))
            .push(" THEN excluded.window_ends ELSE l.window_ends END RETURNING key, attempts, window_ends");
        let rows = query.build().fetch_all(&self.writer).await?;
        keys.iter()
            .map(|key| {
                let row = rows
                    .iter()
                    .find(|row| row.try_get::<&str, _>("key").is_ok_and(|counted| counted == key))
                    .ok_or_else(|| StoreError::Internal("an attempt counter returned no row".into()))?;
                Ok(AttemptCount {
                    attempts: row.try_get("attempts")?,
                    window_ends: from_millis(row.try_get("window_ends")?)?,
                })
            })
            .collect()
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
