//! What concurrent execution environments buy, measured locally: holds sent through the local
//! Lambda path (api-reservations' real runtime in its own process, polling the Runtime API
//! stand-in of the tests) by a fixed number of clients, with the environment's concurrency 1
//! (classic Lambda) and then 8 (Lambda Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY=8`). Each
//! run gets a fresh store and a fresh function process; every hold takes a seat of its own.
//!
//! ```text
//! cargo run --release -p proeventa-lambda --example lambda_holds -- [--holds 2000] [--clients 8]
//!     [--concurrency 1,8] [--postgres]
//! ```
//! `--postgres` uses a throw-away database on `TEST_DATABASE_URL` (default the local server)
//! instead of a SQLite file. Figures from a shared machine are indicative only.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::runtime_api::{Answer, RuntimeApi};
use common::{
    JWT_SECRET, TICKET_SIGNING_KEY, WEBHOOK_SECRET, buyers, event_with_seats, reserve_event, run_as_function_if_asked,
    start_function,
};
use proeventa_lambda::{Group, lambda_config, state_for};
use proeventa_testkit::{TempPostgres, TempSqlite};

/// Holds sent before the measured ones, so each run measures a warm environment.
const WARM_UP: usize = 100;
const BUYERS: usize = 64;

struct Args {
    holds: usize,
    clients: usize,
    concurrency: Vec<usize>,
    postgres: bool,
}

fn args() -> Args {
    let mut args = Args { holds: 2000, clients: 8, concurrency: vec![1, 8], postgres: false };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || given.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--holds" => args.holds = value().parse().expect("--holds: a number"),
            "--clients" => args.clients = value().parse().expect("--clients: a number"),
            "--concurrency" => {
                args.concurrency =
                    value().split(',').map(|n| n.trim().parse().expect("--concurrency: numbers")).collect()
            }
            "--postgres" => args.postgres = true,
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

enum Store {
    Sqlite(TempSqlite),
    Postgres(TempPostgres),
}

impl Store {
    async fn new(postgres: bool) -> Store {
        if postgres {
            Store::Postgres(TempPostgres::create("proeventa_lambda_holds").await)
        } else {
            Store::Sqlite(TempSqlite::new("proeventa_lambda_holds"))
        }
    }

    fn url(&self) -> String {
        match self {
            Store::Sqlite(db) => db.url(),
            Store::Postgres(db) => db.url().to_owned(),
        }
    }
}

fn main() {
    run_as_function_if_asked();
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let backend = if args.postgres { "postgres" } else { "sqlite" };
    println!("{} holds through the local Lambda path, {} clients, {backend}", args.holds, args.clients);
    for concurrency in &args.concurrency {
        let (per_second, p50, p99, refused) = runtime.block_on(run(&args, *concurrency));
        println!(
            "concurrency {concurrency:>2}: {per_second:>7.0} holds/s  p50 {:>6.1} ms  p99 {:>6.1} ms  not 201: {refused}",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
}

async fn run(args: &Args, concurrency: usize) -> (f64, Duration, Duration, usize) {
    let db = Store::new(args.postgres).await;
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db.url()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("TICKET_SIGNING_KEY", TICKET_SIGNING_KEY.to_owned()),
    ]);
    let state = state_for(Group::Auth, lambda_config(|key| env.get(key).cloned()).expect("configuration"))
        .await
        .expect("state");
    state.store.migrate().await.expect("migrate");
    let seats = i32::try_from(WARM_UP + args.holds).expect("seats");
    let (event, seats) = event_with_seats(&state.store, seats).await;
    let buyers = buyers(&state, BUYERS).await;
    let events: Arc<Vec<String>> = Arc::new(
        seats.iter().enumerate().map(|(i, seat)| reserve_event(&buyers[i % BUYERS].1, event.id, *seat)).collect(),
    );

    let api = RuntimeApi::start().await;
    let limits = [
        ("MAX_HELD_SEATS_PER_USER", "1000"),
        ("RESERVE_LIMIT_PER_MINUTE", "1000000"),
        ("RESERVE_LIMIT_PER_ADDRESS_PER_MINUTE", "1000000"),
    ];
    let _function = start_function(Group::Reservations, &api, &db.url(), Some(concurrency), &limits);
    let started = Instant::now();
    while api.polling() < concurrency {
        assert!(started.elapsed() < Duration::from_secs(60), "the function does not poll: {:?}", api.init_errors());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let api = Arc::new(api);
    drive(&api, &events, 0..WARM_UP, args.clients).await;
    let started = Instant::now();
    let mut results = drive(&api, &events, WARM_UP..WARM_UP + args.holds, args.clients).await;
    let elapsed = started.elapsed();
    let refused = results.iter().filter(|(status, _)| *status != 201).count();
    results.sort_by_key(|(_, latency)| *latency);
    let at = |q: f64| results[((results.len() as f64 * q) as usize).min(results.len() - 1)].1;
    (args.holds as f64 / elapsed.as_secs_f64(), at(0.50), at(0.99), refused)
}

/// Sends the events of `range` from `clients` clients, each sending its next as soon as its last is
/// answered; each hold's status and latency.
async fn drive(
    api: &Arc<RuntimeApi>,
    events: &Arc<Vec<String>>,
    range: std::ops::Range<usize>,
    clients: usize,
) -> Vec<(u64, Duration)> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (api, events, next, end) = (api.clone(), events.clone(), next.clone(), range.end);
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= end {
                    return results;
                }
                let sent = Instant::now();
                let (_, answer) = api.invoke_owned(events[i].clone()).await;
                let status = match answer {
                    Answer::Response(body) => serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|r| r["statusCode"].as_u64())
                        .unwrap_or(0),
                    Answer::Error(_) => 0,
                };
                results.push((status, sent.elapsed()));
            }
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.expect("a client"));
    }
    results
}
