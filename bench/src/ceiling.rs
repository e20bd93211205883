//! The store's own ceiling, in the same sitting as the HTTP figures (issue 18, point 3): holds
//! placed straight through the store the server runs (`HoldStore::hold`, whose batches are the
//! hold batch statement on its sqlx pool, 64 connections on PostgreSQL), by 64 callers at once,
//! with no HTTP, no JSON and no authentication. The hot-event HTTP figure is printed as a fraction
//! of it, so that a figure means the same on a fast and on a slow machine.
//!
//! It runs on a runtime of its own with as many workers as the server's (one a core), on a thread
//! of its own: the bench's single-threaded runtime would make the ceiling the bench's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use proeventa_core::domain::{HoldLimit, HoldRequest, HoldTtl, SeatSelection};
use proeventa_core::store::{StoreSettings, connect_with};
use uuid::Uuid;

use crate::util::{Context, Latencies, Res};

/// What the ceiling run asks for: every seat of `events[0]`, then of `events[1]`, …, each hold
/// by the next of `users` in turn (as the HTTP runs do with their accounts).
pub struct CeilingLoad {
    pub database_url: String,
    pub events: Vec<String>,
    pub seats: Vec<String>,
    pub users: Vec<String>,
    pub callers: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

pub struct Ceiling {
    pub per_second: f64,
    pub p99_ms: Option<f64>,
    pub held: u64,
    pub refused: u64,
}

/// Runs the load on its own thread and runtime and waits for it.
pub async fn measure(load: CeilingLoad) -> Res<Ceiling> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ceiling".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the ceiling's runtime")
                .and_then(|runtime| runtime.block_on(run(load)));
            let _ = done_tx.send(result);
        })
        .context("starting the ceiling's thread")?;
    done_rx.await.context("the ceiling's thread ended without an answer")?
}

fn uuids(ids: &[String], what: &str) -> Res<Arc<Vec<Uuid>>> {
    let parsed: Res<Vec<Uuid>> =
        ids.iter().map(|id| Uuid::parse_str(id).context(format!("{what} id `{id}`"))).collect();
    Ok(Arc::new(parsed?))
}

async fn run(load: CeilingLoad) -> Res<Ceiling> {
    let settings = StoreSettings { database_max_connections: Some(load.callers as u32), ..StoreSettings::default() };
    let store = connect_with(&load.database_url, settings).await.map_err(|e| format!("opening the store: {e}"))?;
    let (events, seats, users) =
        (uuids(&load.events, "event")?, uuids(&load.seats, "seat")?, uuids(&load.users, "user")?);
    let capacity = events.len() * seats.len();
    let next = Arc::new(AtomicUsize::new(0));
    let ttl = HoldTtl::from_seconds(600).map_err(|e| e.message)?;
    let started = Instant::now();
    let (measure_from, measure_until) = (started + load.warmup, started + load.warmup + load.duration);
    let mut tasks = Vec::with_capacity(load.callers);
    for _ in 0..load.callers {
        let (store, events, seats, users, next) =
            (store.clone(), events.clone(), seats.clone(), users.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(16_384);
            let (mut held, mut refused) = (0u64, 0u64);
            loop {
                let begun = Instant::now();
                let k = next.fetch_add(1, Ordering::Relaxed);
                if begun >= measure_until || k >= capacity {
                    break;
                }
                let request = HoldRequest {
                    booking_id: Uuid::new_v4(),
                    user_id: users[k % users.len()],
                    event_id: events[k / seats.len()],
                    seats: SeatSelection::parse(vec![seats[k % seats.len()]]).map_err(|e| e.message)?,
                    ttl,
                    limit: HoldLimit::max(),
                    admitted: false,
                    presale: false,
                    unlocked_types: Vec::new(),
                    accessible: false,
                };
                let outcome = store.hold(&request, Utc::now()).await;
                let ended = Instant::now();
                if begun >= measure_from && ended <= measure_until {
                    latencies.record(ended - begun);
                    match outcome {
                        Ok(_) => held += 1,
                        Err(_) => refused += 1,
                    }
                }
            }
            Ok::<_, String>((latencies, held, refused))
        }));
    }
    let mut latencies = Latencies::with_capacity(200_000);
    let (mut held, mut refused) = (0, 0);
    for task in tasks {
        let (l, h, r) = task.await.context("a ceiling caller panicked")??;
        latencies.merge(l);
        held += h;
        refused += r;
    }
    let ran_out = next.load(Ordering::Relaxed) >= capacity;
    let window = if ran_out { started.elapsed().saturating_sub(load.warmup) } else { load.duration };
    Ok(Ceiling {
        per_second: held as f64 / window.as_secs_f64().max(1e-3),
        p99_ms: latencies.quantile_ms(0.99),
        held,
        refused,
    })
}
