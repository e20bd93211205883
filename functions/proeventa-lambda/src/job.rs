//! The scheduled side: `job-expire-holds`, run by an EventBridge schedule, writes down every lapsed
//! hold as expired (and, on SQL stores, forgets ended rate-limit windows). Correctness never waits for it (a lapsed hold reads as expired at once), and
//! two runs at once are safe: the store's update is idempotent. It is also the waiting rooms' pace
//! on Lambda (issue 20): each run advances every open queue (`QueueStore::advance_queues`), whose
//! admissions the store decides, so a run that overlaps another admits nobody twice.

use std::time::Instant;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use proeventa_core::store::{Store, Writes};
use serde::Serialize;

use crate::init::open_store;
use crate::{init_logging, lambda_config};

/// The store writes the job makes (see `Group::store_writes`).
pub const EXPIRE_HOLDS_WRITES: &[Writes] = &[Writes::HoldSweeper, Writes::Queue];

/// What one run did, returned to the invoker (and shown by `cargo lambda invoke`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expired {
    pub expired: u64,
    /// Buyers let through the waiting rooms by this run.
    pub admitted: u64,
}

/// Opens the store once, then expires lapsed holds on every scheduled event. The job signs no
/// token, so unlike the API functions it needs no `JWT_SECRET`.
pub async fn run_expire_holds() -> Result<(), lambda_runtime::Error> {
    let started = Instant::now();
    let config = lambda_config(|key| std::env::var(key).ok())?;
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    tracing::info!(function = "job-expire-holds", init_ms = started.elapsed().as_secs_f64() * 1000.0, "initialized");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<CloudWatchEvent>| {
        let store = store.clone();
        async move { expire_holds(store.as_ref(), event).await }
    }))
    .await
}

/// One scheduled run. "Now" decides what has lapsed, as everywhere else: the event's own time is
/// only logged, so a delayed or retried delivery expires exactly what has lapsed by then.
pub async fn expire_holds(
    store: &dyn Store,
    event: LambdaEvent<CloudWatchEvent>,
) -> Result<Expired, lambda_runtime::Error> {
    let expired = store.expire_lapsed_holds(chrono::Utc::now()).await?;
    tracing::info!(expired, scheduled_at = %event.payload.time, "lapsed holds expired");
    // Rate-limit counters whose window ended (on SQL stores; DynamoDB's TTL removes its own).
    let forgotten = store.forget_ended_windows(chrono::Utc::now()).await?;
    tracing::debug!(forgotten, "ended rate-limit windows forgotten");
    // The waiting rooms' pace: a run a minute lets through at most a minute's worth per queue.
    let admitted = store.advance_queues(chrono::Utc::now()).await?;
    if admitted > 0 {
        tracing::info!(admitted, "buyers admitted from the waiting rooms");
    }
    Ok(Expired { expired, admitted })
}
