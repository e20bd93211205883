//! Rate-limit counters on PostgreSQL: one row per key in the unlogged table `rate_limits`. The
//! attempts of concurrent requests are counted together (`count_batch`): one `INSERT … ON
//! CONFLICT DO UPDATE … RETURNING` adds each key's attempts of the batch; the row lock makes every
//! increment see the one before it, whatever the number of processes.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::PostgresStore;
use crate::store::count_batch::{CountRequest, CountStatements, Increment};
use crate::store::{AttemptCount, LimitStore, StoreError, StoreResult};

/// Batch workers counting attempts: one, as every batch of a crowd behind one address updates
/// that address's row, and a second worker's batch would only wait for the first's row lock.
pub(super) const COUNT_WORKERS: usize = 1;

/// Adds `$2[i]` attempts to key `$1[i]` (in key order, so that two batches counting the same keys
/// lock their rows in one order and never deadlock); a row whose window ended by `$3` starts a new
/// one with the increment, ending at `$4[i]`.
const COUNT_ATTEMPTS_SQL: &str = r#"
INSERT INTO rate_limits AS l (key, attempts, window_ends)
SELECT k.key, k.n, k.window_ends FROM unnest($1::text[], $2::int8[], $4::timestamptz[]) AS k (key, n, window_ends)
ORDER BY k.key
ON CONFLICT (key) DO UPDATE SET
    attempts = CASE WHEN l.window_ends <= $3 THEN EXCLUDED.attempts ELSE l.attempts + EXCLUDED.attempts END,
    window_ends = CASE WHEN l.window_ends <= $3 THEN EXCLUDED.window_ends ELSE l.window_ends END
RETURNING l.key, l.attempts, l.window_ends
"#;

/// The counting batches' statement, on the store's pool.
pub(super) struct PgCounts {
    pub(super) pool: PgPool,
}

#[async_trait]
impl CountStatements for PgCounts {
    async fn add(&self, increments: &[Increment], now: DateTime<Utc>) -> StoreResult<Vec<AttemptCount>> {
        let keys: Vec<&str> = increments.iter().map(|i| i.key.as_str()).collect();
        let by: Vec<i64> = increments.iter().map(|i| i.by).collect();
        let window_ends: Vec<DateTime<Utc>> = increments.iter().map(|i| i.window_ends).collect();
        let rows: Vec<(String, i64, DateTime<Utc>)> = sqlx::query_as(COUNT_ATTEMPTS_SQL)
            .bind(&keys)
            .bind(&by)
            .bind(now)
            .bind(&window_ends)
            .fetch_all(&self.pool)
            .await?;
        keys.iter()
            .map(|key| {
                rows.iter()
                    .find(|(counted, _, _)| counted == key)
                    .map(|&(_, attempts, window_ends)| AttemptCount { attempts, window_ends })
                    .ok_or_else(|| StoreError::Internal("an attempt counter returned no row".into()))
            })
            .collect()
    }
}

#[async_trait]
impl LimitStore for PostgresStore {
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
            "UPDATE rate_limits SET attempts = attempts - 1 WHERE key = $1 AND window_ends = $2 AND attempts > 0",
        )
        .bind(key)
        .bind(window_ends)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn forget_ended_windows(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let forgotten =
            sqlx::query("DELETE FROM rate_limits WHERE window_ends <= $1").bind(now).execute(&self.pool).await?;
        Ok(forgotten.rows_affected())
    }
}
