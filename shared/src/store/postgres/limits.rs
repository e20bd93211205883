//! Rate-limit counters on PostgreSQL: one row per key in the unlogged table `rate_limits`. A
//! request's keys are counted by one `INSERT … ON CONFLICT DO UPDATE … RETURNING`: the row lock
//! makes every increment see the one before it, whatever the number of processes.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::PostgresStore;
use crate::store::{AttemptCount, LimitStore, StoreError, StoreResult};

/// Counts one attempt per key (`$1`, in key order so that two requests counting the same keys
/// lock their rows in one order and never deadlock); a row whose window ended by `$2` starts a new
/// one ending at `$3`.
const COUNT_ATTEMPTS_SQL: &str = r#"
INSERT INTO rate_limits AS l (key, attempts, window_ends)
SELECT k.key, 1, $3 FROM unnest($1::text[]) AS k (key) ORDER BY k.key
ON CONFLICT (key) DO UPDATE SET
    attempts = CASE WHEN l.window_ends <= $2 THEN 1 ELSE l.attempts + 1 END,
    window_ends = CASE WHEN l.window_ends <= $2 THEN EXCLUDED.window_ends ELSE l.window_ends END
RETURNING l.key, l.attempts, l.window_ends
"#;

#[async_trait]
impl LimitStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn count_attempts(
        &self,
        keys: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>> {
        let rows: Vec<(String, i64, DateTime<Utc>)> =
            sqlx::query_as(COUNT_ATTEMPTS_SQL).bind(keys).bind(now).bind(now + window).fetch_all(&self.pool).await?;
        keys.iter()
            .map(|key| {
                rows.iter()
                    .find(|(counted, _, _)| counted == key)
                    .map(|&(_, attempts, window_ends)| AttemptCount { attempts, window_ends })
                    .ok_or_else(|| StoreError::Internal("an attempt counter returned no row".into()))
            })
            .collect()
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
