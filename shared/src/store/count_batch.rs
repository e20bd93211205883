//! Rate-limit attempts that arrive together are counted together (`batch`) on the SQL backends:
//! one `INSERT … ON CONFLICT DO UPDATE` adds, to each key of the batch, as many attempts as the
//! batch has for it, and each request gets its own count out of the range that increment took.
//!
//! Why: every reserve counts against its account and its client address, and a crowd behind one
//! address (a NAT, a proxy, the bench's loopback) makes that address's counter one hot row. One
//! statement per request put a statement, a round trip and a wait for that row's lock in front of
//! every hold; a profile of the hot-event hold run (issue 18) showed PostgreSQL's statement
//! overhead and network calls, not the holds, taking most of its CPU.
//!
//! The promise is unchanged: the store alone counts. Adding `n` to a key is one atomic update of
//! its row, so the `n` requests of a batch get the counts `total - n + 1 ..= total` in batch order,
//! no two the same and none skipped, as if they had come one by one; a request is refused exactly
//! when its own count is past the limit. Unlike holds, requests naming the same key share a batch:
//! that is the point.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::batch::{BatchQueue, Batched, Batches};
use super::{AttemptCount, StoreError, StoreResult};

/// One request's attempt: `LimitStore::count_attempts`'s arguments (its keys are distinct).
pub struct CountRequest {
    pub keys: Vec<String>,
    pub window: Duration,
    pub now: DateTime<Utc>,
}

/// What a batch answers to one request: `LimitStore::count_attempts`'s answer.
pub type CountOutcome = StoreResult<Vec<AttemptCount>>;

/// The queue in front of a backend's counting batches.
pub type CountQueue = BatchQueue<CountRequest, CountOutcome>;

impl Batched for CountRequest {
    /// None: requests counting the same keys are what a batch is for.
    type Key = ();
    const QUEUE: &'static str = "limits";

    fn conflict_keys(&self) -> impl Iterator<Item = ()> + '_ {
        std::iter::empty()
    }
}

/// One key's increment in a batch: `by` attempts; a window that ended by `now` restarts, ending
/// at `window_ends`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    pub key: String,
    pub by: i64,
    pub window_ends: DateTime<Utc>,
}

/// What a SQL backend runs for a batch of attempts.
#[async_trait]
pub trait CountStatements: Send + Sync + 'static {
    /// Adds each increment to its key's counter in one statement, keys in order (so two batches
    /// lock rows in one order), a window that ended by `now` starting again with the increment;
    /// returns each key's count and window afterwards, in the increments' order.
    async fn add(&self, increments: &[Increment], now: DateTime<Utc>) -> StoreResult<Vec<AttemptCount>>;
}

/// A backend's `CountStatements` as the batches of its `CountQueue`.
pub struct Counts<S>(pub S);

#[async_trait]
impl<S: CountStatements> Batches for Counts<S> {
    type Request = CountRequest;
    type Outcome = CountOutcome;

    async fn commit(&self, batch: &[CountRequest]) -> Vec<CountOutcome> {
        let increments = increments(batch);
        // The batch's latest clock: the requests were made within its gathering (a millisecond or
        // so), and a window that ended by then ended for all of them.
        let Some(now) = batch.iter().map(|request| request.now).max() else {
            return Vec::new();
        };
        match self.0.add(&increments, now).await {
            Ok(totals) if totals.len() == increments.len() => shares(batch, &increments, &totals),
            Ok(_) => {
                batch.iter().map(|_| Err(StoreError::Internal("an attempt counter returned no row".into()))).collect()
            }
            Err(err) => batch.iter().map(|_| Err(err.clone())).collect(),
        }
    }

    fn stopped(why: StoreError) -> CountOutcome {
        Err(why)
    }
}

/// The batch's increments, one per key in sorted key order: how many of its requests name the
/// key, and the end of a window started by the last of them.
fn increments(batch: &[CountRequest]) -> Vec<Increment> {
    let mut by_key: HashMap<&str, Increment> = HashMap::new();
    for request in batch {
        for key in &request.keys {
            let window_ends = request.now + request.window;
            by_key
                .entry(key)
                .and_modify(|increment| {
                    increment.by += 1;
                    increment.window_ends = increment.window_ends.max(window_ends);
                })
                .or_insert_with(|| Increment { key: key.clone(), by: 1, window_ends });
        }
    }
    let mut increments: Vec<Increment> = by_key.into_values().collect();
    increments.sort_by(|a, b| a.key.cmp(&b.key));
    increments
}

/// Each request's counts: the requests naming a key take the counts its increment added, in batch
/// order, `total - by + 1` for the first of them up to `total` for the last.
fn shares(batch: &[CountRequest], increments: &[Increment], totals: &[AttemptCount]) -> Vec<CountOutcome> {
    let mut next: HashMap<&str, (i64, DateTime<Utc>)> = increments
        .iter()
        .zip(totals)
        .map(|(increment, total)| (increment.key.as_str(), (total.attempts - increment.by + 1, total.window_ends)))
        .collect();
    batch
        .iter()
        .map(|request| {
            request
                .keys
                .iter()
                .map(|key| {
                    let (count, window_ends) = next
                        .get_mut(key.as_str())
                        .ok_or_else(|| StoreError::Internal("an attempt counter returned no row".into()))?;
                    let attempts = *count;
                    *count += 1;
                    Ok(AttemptCount { attempts, window_ends: *window_ends })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(keys: &[&str], now: DateTime<Utc>) -> CountRequest {
        CountRequest { keys: keys.iter().map(|k| k.to_string()).collect(), window: Duration::minutes(1), now }
    }

    #[test]
    fn a_batch_adds_each_key_once_by_the_requests_naming_it_in_key_order() {
        let now = Utc::now();
        let later = now + Duration::milliseconds(1);
        let batch = [request(&["reserve:b", "reserve:addr:1"], now), request(&["reserve:a", "reserve:addr:1"], later)];
        assert_eq!(
            increments(&batch),
            [
                Increment { key: "reserve:a".into(), by: 1, window_ends: later + Duration::minutes(1) },
                Increment { key: "reserve:addr:1".into(), by: 2, window_ends: later + Duration::minutes(1) },
                Increment { key: "reserve:b".into(), by: 1, window_ends: now + Duration::minutes(1) },
            ]
        );
    }

    #[test]
    fn the_requests_of_a_key_share_out_its_increment_in_batch_order() {
        let now = Utc::now();
        let ends = now + Duration::minutes(1);
        let batch = [request(&["x", "crowd"], now), request(&["crowd"], now), request(&["y", "crowd"], now)];
        let increments = increments(&batch);
        // The store's counters afterwards: the crowd's row had 7 attempts, x and y were new.
        let totals: Vec<AttemptCount> = increments
            .iter()
            .map(|i| AttemptCount { attempts: if i.key == "crowd" { 10 } else { 1 }, window_ends: ends })
            .collect();
        let counts: Vec<Vec<i64>> = shares(&batch, &increments, &totals)
            .into_iter()
            .map(|outcome| outcome.expect("counted").iter().map(|c| c.attempts).collect())
            .collect();
        assert_eq!(counts, [vec![1, 8], vec![9], vec![1, 10]], "8, 9 and 10: each count once, none skipped");
    }
}
