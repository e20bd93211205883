//! Rate-limit counters on DynamoDB: one `LIMIT#` item per key. An attempt is one `UpdateItem ADD`
//! conditioned on the window still running; when it has ended (or the item is missing), a
//! conditional put starts a new window, and a put that meets one started meanwhile counts in that
//! one instead. Every step is a conditional write, so two processes never lose an increment. The
//! item carries the table's TTL attribute, so DynamoDB removes ended windows by itself.

use async_trait::async_trait;

use chrono::{DateTime, Duration, Utc};

use super::items::*;
use super::{DynamoStore, Returned, is_condition_failure, names_in, sdk_error, values_map};
use crate::store::{AttemptCount, LimitStore, StoreError, StoreResult};

/// A counter item outlives its window by this much before its TTL lets DynamoDB remove it.
const KEPT_AFTER_WINDOW: Duration = Duration::minutes(5);
/// Rounds of "add to the window / start a new one" before giving up: each round loses only to
/// another request that just started a window, so a second round always finds one running.
const COUNT_ROUNDS: usize = 3;

#[async_trait]
impl LimitStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn count_attempts(
        &self,
        keys: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>> {
        // A request counts one or two keys; one after the other keeps this free of spawned tasks.
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            counts.push(self.count_attempt(key, window, now).await?);
        }
        Ok(counts)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn uncount_attempt(&self, key_text: &str, window_ends: DateTime<Utc>) -> StoreResult<()> {
        let (update, condition) = ("ADD #attempts :minus_one", "#window_ends = :window_ends AND #attempts > :zero");
        let values = vec![(":minus_one", n(-1)), (":zero", n(0)), (":window_ends", n(ms(window_ends)))];
        // Refused: that window is over (or was never counted), nothing to take back.
        self.update_if(limit_key(key_text), update, condition, values, Returned::Nothing).await?.was_written()?;
        Ok(())
    }

    /// DynamoDB's TTL removes ended windows by itself.
    async fn forget_ended_windows(&self, _now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(0)
    }
}

impl DynamoStore {
    async fn count_attempt(&self, key_text: &str, window: Duration, now: DateTime<Utc>) -> StoreResult<AttemptCount> {
        for _ in 0..COUNT_ROUNDS {
            if let Some(count) = self.add_to_running_window(key_text, now).await? {
                return Ok(count);
            }
            if let Some(count) = self.start_window(key_text, window, now).await? {
                return Ok(count);
            }
        }
        Err(StoreError::Unavailable("an attempt counter kept changing under concurrent requests; try again".into()))
    }

    /// One more attempt in the key's window, or `None` when there is no window running at `now`.
    async fn add_to_running_window(&self, key_text: &str, now: DateTime<Utc>) -> StoreResult<Option<AttemptCount>> {
        let (update, condition) = ("ADD #attempts :one", "#window_ends > :now");
        let values = vec![(":one", n(1)), (":now", n(ms(now)))];
        let updated = self.update_if(limit_key(key_text), update, condition, values, Returned::New).await?;
        let Some(item) = updated.written_item("an attempt counter")? else { return Ok(None) };
        Ok(Some(AttemptCount { attempts: get_n(&item, "attempts")?, window_ends: get_time(&item, "window_ends")? }))
    }

    /// A new window with this attempt as its first, or `None` when another request started one first.
    async fn start_window(
        &self,
        key_text: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AttemptCount>> {
        let window_ends = now + window;
        let mut item = limit_key(key_text);
        item.extend([
            ("attempts".to_owned(), n(1)),
            ("window_ends".to_owned(), n(ms(window_ends))),
            ("ttl".to_owned(), n((window_ends + KEPT_AFTER_WINDOW).timestamp())),
        ]);
        let condition = "attribute_not_exists(#pk) OR #window_ends <= :now";
        let _slot = self.slots.take().await?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(names_in(&[condition]))
            .set_expression_attribute_values(values_map(vec![(":now", n(ms(now)))]))
            .send()
            .await;
        match out {
            Ok(_) => Ok(Some(AttemptCount { attempts: 1, window_ends: from_ms(ms(window_ends))? })),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(sdk_error(err)),
        }
    }
}
