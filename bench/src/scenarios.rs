//! The measured phases: holds at 64 clients, the flash sale, seat-map reads and revalidations,
//! logins, and first-read latency once steady (seeding and the helpers every phase shares are in
//! `fixtures`, the door's scans and manifest in `door`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::fixtures::{Fixture, PASSWORD, Rate, Unexpected, available, collect_rate, count_active, expect, send};
use crate::http::{Call, Client};
use crate::procs;
use crate::util::{Context, Latencies, Res, Rng};

/// How big and how long each phase is (`--quick` shrinks every one).
#[derive(Clone, Debug)]
pub struct Plan {
    pub clients: usize,
    pub hold_warmup: Duration,
    pub hold_duration: Duration,
    pub hold_events: usize,
    pub flash_users: usize,
    pub flash_seats: usize,
    pub map_duration: Duration,
    pub login_duration: Duration,
    pub login_users: usize,
    /// Tickets of the event the gates scan (each scanned twice).
    pub door_tickets: usize,
    /// Tickets of the event whose manifest is read.
    pub manifest_tickets: usize,
    pub startup_runs: usize,
    pub steady_samples: usize,
    /// Seats of the on-sale venue (the hot event, the fresh store, the sell-out).
    pub hot_seats: usize,
    /// How long the fresh store is measured from its first hold.
    pub fresh_duration: Duration,
    pub sellout_buyers: usize,
    /// The sell-out's buyers arrive evenly over this long.
    pub sellout_arrival: Duration,
    pub sellout_tries: usize,
    /// The sell-out stops here whether sold out or not.
    pub sellout_limit: Duration,
    /// The waiting room's on-sale: buyers (each an account of its own) and seats.
    pub queue_buyers: usize,
    pub queue_seats: usize,
    /// When the sale opens, from the event's creation: after every join and the polls.
    pub queue_opens_in: Duration,
    /// How long the status polls are measured, before the opening.
    pub queue_poll_duration: Duration,
    /// The sale through the queue stops here whether sold out or not.
    pub queue_limit: Duration,
}

impl Plan {
    pub fn full() -> Self {
        Self {
            clients: 64,
            hold_warmup: Duration::from_secs(2),
            hold_duration: Duration::from_secs(10),
            // 2,000 seats each: room for 160,000 distinct holds, more than 12 s at the target rate.
            hold_events: 80,
            flash_users: 500,
            flash_seats: 100,
            map_duration: Duration::from_secs(4),
            login_duration: Duration::from_secs(3),
            login_users: 8,
            door_tickets: 2_000,
            manifest_tickets: 20_000,
            startup_runs: 10,
            steady_samples: 10,
            hot_seats: 20_000,
            fresh_duration: Duration::from_secs(10),
            sellout_buyers: 100_000,
            sellout_arrival: Duration::from_secs(10),
            sellout_tries: 3,
            sellout_limit: Duration::from_secs(90),
            queue_buyers: 5_000,
            queue_seats: 2_000,
            queue_opens_in: Duration::from_secs(20),
            queue_poll_duration: Duration::from_secs(4),
            queue_limit: Duration::from_secs(120),
        }
    }

    pub fn quick() -> Self {
        Self {
            hold_warmup: Duration::from_millis(500),
            hold_duration: Duration::from_secs(2),
            hold_events: 12,
            flash_users: 100,
            flash_seats: 20,
            map_duration: Duration::from_secs(1),
            login_duration: Duration::from_secs(1),
            door_tickets: 200,
            manifest_tickets: 1_000,
            startup_runs: 3,
            steady_samples: 3,
            hot_seats: 2_000,
            fresh_duration: Duration::from_secs(2),
            sellout_buyers: 10_000,
            sellout_arrival: Duration::from_secs(2),
            sellout_limit: Duration::from_secs(30),
            queue_buyers: 500,
            queue_seats: 200,
            queue_opens_in: Duration::from_secs(8),
            queue_poll_duration: Duration::from_secs(1),
            queue_limit: Duration::from_secs(30),
            ..Self::full()
        }
    }

    /// Accounts to sign up: the flash sale's buyers; the hold clients and the logins reuse them.
    pub fn users(&self) -> usize {
        self.flash_users.max(self.clients).max(self.login_users)
    }
}

/// Figures of one backend, by metric key (see `report::METRICS`), and what looked wrong.
#[derive(Default)]
pub struct Figures {
    pub values: BTreeMap<&'static str, f64>,
    pub notes: Vec<String>,
}

impl Figures {
    pub fn set(&mut self, key: &'static str, value: Option<f64>) {
        if let Some(value) = value {
            self.values.insert(key, value);
        }
    }
}

/// The hold run's figures.
pub struct HoldRun {
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub held: u64,
    pub unexpected: Unexpected,
    pub rss_max_mb: Option<f64>,
    pub rss_after_mb: Option<f64>,
    pub hwm_mb: Option<f64>,
    pub ran_out_of_seats: bool,
}

/// The spread-out hold run: the 2,000-seat events of the big venue, one after the other.
pub async fn holds(fx: &Fixture, plan: &Plan, server_pid: u32) -> Res<HoldRun> {
    let load = HoldLoad {
        events: fx.hold_events.clone(),
        seats: fx.big_seats.clone(),
        warmup: plan.hold_warmup,
        duration: plan.hold_duration,
    };
    hold_run(fx, plan, &load, server_pid).await
}

/// What a hold run asks for: every seat of `events[0]`, then of `events[1]`, and so on, measured
/// for `duration` after `warmup`.
pub struct HoldLoad {
    pub events: Arc<Vec<String>>,
    pub seats: Arc<Vec<String>>,
    pub warmup: Duration,
    pub duration: Duration,
}

/// 64 clients, each with its own connection, each request a seat never asked for before; the
/// server's memory is sampled meanwhile.
pub async fn hold_run(fx: &Fixture, plan: &Plan, load: &HoldLoad, server_pid: u32) -> Res<HoldRun> {
    let capacity = load.events.len() * load.seats.len();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        clients.push(Client::connect(fx.addr).await?);
    }
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut max: Option<f64> = None;
            while sampling.load(Ordering::Relaxed) {
                if let Some((rss, _)) = procs::memory_mb(server_pid) {
                    max = Some(max.map_or(rss, |m: f64| m.max(rss)));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            max
        })
    };
    let started = Instant::now();
    let measure_from = started + load.warmup;
    let measure_until = measure_from + load.duration;
    // Each hold is for the next account in turn, so an account holds a few seats of an event (as
    // buyers do; a hold's cost grows with the seats its account already holds there), not the
    // thirty that one account per client would.
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|buyer| buyer.token.clone()).collect());
    let mut tasks = Vec::with_capacity(plan.clients);
    for mut client in clients {
        let tokens = tokens.clone();
        let (events, seats, next) = (load.events.clone(), load.seats.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(16_384);
            let mut unexpected = Unexpected::default();
            let (mut held, mut last_done) = (0u64, None);
            loop {
                let now = Instant::now();
                if now >= measure_until {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= capacity {
                    break;
                }
                let (event, seat) = (&events[k / seats.len()], &seats[k % seats.len()]);
                let body = Bytes::from(format!(r#"{{"event_id":"{event}","seat_id":"{seat}"}}"#));
                let call = Call::post("/reservations/reservations/reserve", body).token(&tokens[k % tokens.len()]);
                let answer = send(&mut client, call).await;
                let done = Instant::now();
                let measured = now >= measure_from && done <= measure_until;
                match answer {
                    Ok(answer) if measured => {
                        latencies.record(answer.took);
                        if answer.status == 201 {
                            held += 1;
                            last_done = Some(done);
                        } else {
                            unexpected.status(&answer);
                        }
                    }
                    Ok(answer) if answer.status != 201 => unexpected.status(&answer),
                    Ok(_) => {}
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected, held, last_done)
        }));
    }
    let mut latencies = Latencies::with_capacity(200_000);
    let mut unexpected = Unexpected::default();
    let (mut held, mut last_done) = (0u64, measure_from);
    for task in tasks {
        let (l, u, h, last) = task.await.context("a hold client panicked")?;
        latencies.merge(l);
        unexpected.merge(u);
        held += h;
        if let Some(last) = last {
            last_done = last_done.max(last);
        }
    }
    sampling.store(false, Ordering::Relaxed);
    let rss_max = sampler.await.context("the memory sampler panicked")?;
    let after = procs::memory_mb(server_pid);
    let ran_out = next.load(Ordering::Relaxed) >= capacity;
    // When the seats ran out before the window closed, the rate is over the time actually used.
    let window = if ran_out { last_done.saturating_duration_since(measure_from) } else { load.duration };
    Ok(HoldRun {
        per_second: held as f64 / window.as_secs_f64().max(1e-3),
        p50_ms: latencies.quantile_ms(0.50),
        p99_ms: latencies.quantile_ms(0.99),
        held,
        unexpected,
        rss_max_mb: rss_max.map(|m| after.map_or(m, |(rss, _)| m.max(rss))),
        rss_after_mb: after.map(|(rss, _)| rss),
        hwm_mb: after.map(|(_, hwm)| hwm),
        ran_out_of_seats: ran_out,
    })
}

/// The flash sale's figures.
pub struct FlashSale {
    pub users: usize,
    pub answered_201: u64,
    pub answered_409: u64,
    pub losers_409: u64,
    pub buyers_with_a_seat: u64,
    pub seats_taken_on_map: u64,
    pub active_reservations_listed: u64,
    pub oversold: u64,
    pub p99_ms: Option<f64>,
    pub took: Duration,
    pub unexpected: Unexpected,
}

/// Every buyer tries at once; on 409 the buyer reads the seat map again and tries another free
/// seat, until it has one or none is left (how a real on-sale spike looks).
pub async fn flash_sale(fx: &Fixture, plan: &Plan) -> Res<FlashSale> {
    let users = plan.flash_users.min(fx.buyers.len());
    let (start_tx, start_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(users);
    for (i, buyer) in fx.buyers.iter().take(users).enumerate() {
        // Connections first, so the spike is requests, not handshakes.
        let mut client = Client::connect(fx.addr).await?;
        let token = buyer.token.clone();
        let (event, seats) = (fx.flash_event.clone(), fx.flash_seats.clone());
        let mut start = start_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(i as u64 + 1);
            let mut latencies = Latencies::with_capacity(8);
            let mut unexpected = Unexpected::default();
            let (mut ok, mut conflicts, mut won, mut lost) = (0u64, 0u64, false, false);
            let mut free: Vec<String> = seats.to_vec();
            let map_path = format!("/events/events/{event}/seats");
            let _ = start.wait_for(|go| *go).await;
            for _ in 0..seats.len() {
                if free.is_empty() {
                    lost = true;
                    break;
                }
                let seat = free.swap_remove(rng.below(free.len()));
                let body = format!(r#"{{"event_id":"{event}","seat_id":"{seat}"}}"#);
                match send(&mut client, Call::post("/reservations/reservations/reserve", body).token(&token)).await {
                    Ok(answer) => {
                        latencies.record(answer.took);
                        match answer.status {
                            201 => {
                                ok += 1;
                                won = true;
                                break;
                            }
                            409 => conflicts += 1,
                            _ => {
                                unexpected.status(&answer);
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
                match send(&mut client, Call::get(&map_path)).await.and_then(|a| available(&a)) {
                    Ok(now_free) => free = now_free,
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected, ok, conflicts, won, lost)
        }));
    }
    let started = Instant::now();
    start_tx.send(true).context("starting the flash sale")?;
    let mut latencies = Latencies::with_capacity(users * 4);
    let mut unexpected = Unexpected::default();
    let (mut ok, mut conflicts, mut winners, mut losers) = (0, 0, 0, 0);
    for task in tasks {
        let (l, u, o, c, won, lost) = task.await.context("a flash-sale buyer panicked")?;
        latencies.merge(l);
        unexpected.merge(u);
        ok += o;
        conflicts += c;
        winners += u64::from(won);
        losers += u64::from(lost);
    }
    let took = started.elapsed();
    // What the API reports afterwards: the seat map, and every active reservation of the event.
    let mut client = Client::connect(fx.addr).await?;
    let map = send(&mut client, Call::get(&format!("/events/events/{}/seats", fx.flash_event))).await?;
    let free_now = available(&map)?.len();
    let on_map = map.json()?.as_array().map_or(0, Vec::len);
    let taken_on_map = on_map.saturating_sub(free_now) as u64;
    let (listed, oversold) = count_active(fx, &fx.flash_event).await?;
    Ok(FlashSale {
        users,
        answered_201: ok,
        answered_409: conflicts,
        losers_409: losers,
        buyers_with_a_seat: winners,
        seats_taken_on_map: taken_on_map,
        active_reservations_listed: listed,
        oversold,
        p99_ms: latencies.quantile_ms(0.99),
        took,
        unexpected,
    })
}

/// Holds some seats of the seat-map event so its map has every status, not 2,000 alike.
pub async fn mark_map_event(fx: &Fixture) -> Res<()> {
    let mut client = Client::connect(fx.addr).await?;
    for (i, seat) in fx.big_seats.iter().step_by(7).take(250).enumerate() {
        let buyer = &fx.buyers[i % fx.buyers.len()];
        let body = format!(r#"{{"event_id":"{}","seat_id":"{seat}"}}"#, fx.map_event);
        expect(&mut client, Call::post("/reservations/reservations/reserve", body).token(&buyer.token), 201).await?;
    }
    Ok(())
}

/// 64 clients reading the 2,000-seat map: whole bodies, or revalidations with `If-None-Match`.
pub async fn seat_maps(fx: &Fixture, plan: &Plan, revalidate: bool) -> Res<Rate> {
    reads(fx.addr, format!("/events/events/{}/seats", fx.map_event), None, plan, revalidate).await
}

/// 64 clients revalidating `path` with its `ETag` (and `header`, such as `Accept-Encoding`) for
/// `map_duration`: 304s a second.
pub async fn revalidations(
    addr: std::net::SocketAddr,
    path: String,
    header: Option<(&'static str, &'static str)>,
    plan: &Plan,
) -> Res<Rate> {
    reads(addr, path, header, plan, true).await
}

async fn reads(
    addr: std::net::SocketAddr,
    path: String,
    header: Option<(&'static str, &'static str)>,
    plan: &Plan,
    revalidate: bool,
) -> Res<Rate> {
    let path = Arc::new(path);
    fn call<'a>(path: &'a str, header: Option<(&'static str, &'static str)>) -> Call<'a> {
        match header {
            Some((name, value)) => Call::get(path).header(name, value),
            None => Call::get(path),
        }
    }
    let mut clients = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        let mut client = Client::connect(addr).await?;
        // One read each before the clock starts: connections warm, and the ETag in hand.
        let first = send(&mut client, call(&path, header)).await?;
        if first.status != 200 || first.etag.is_none() {
            return Err(format!("{path}: {} without an ETag: {}", first.status, first.snippet()));
        }
        clients.push((client, first.etag));
    }
    let until = Instant::now() + plan.map_duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.clients);
    for (mut client, mut etag) in clients {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(65_536);
            let mut unexpected = Unexpected::default();
            let (mut count, mut changed) = (0u64, 0u64);
            while Instant::now() < until {
                let request = match (&etag, revalidate) {
                    (Some(tag), true) => call(&path, header).if_none_match(tag),
                    _ => call(&path, header),
                };
                match send(&mut client, request).await {
                    Ok(answer) => {
                        latencies.record(answer.took);
                        match (answer.status, revalidate) {
                            (200, false) | (304, true) => count += 1,
                            (200, true) => {
                                changed += 1;
                                etag = answer.etag;
                            }
                            _ => unexpected.status(&answer),
                        }
                    }
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected, count, changed)
        }));
    }
    collect_rate(tasks, started).await
}

/// 64 clients logging in over a handful of accounts (argon2id verification each time).
pub async fn logins(fx: &Fixture, plan: &Plan) -> Res<Rate> {
    let emails: Vec<String> = fx.buyers.iter().take(plan.login_users).map(|b| b.email.clone()).collect();
    let mut clients = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        clients.push(Client::connect(fx.addr).await?);
    }
    let until = Instant::now() + plan.login_duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.clients);
    for (i, mut client) in clients.into_iter().enumerate() {
        let body =
            Bytes::from(serde_json::json!({"email": emails[i % emails.len()], "password": PASSWORD}).to_string());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(256);
            let mut unexpected = Unexpected::default();
            let mut count = 0u64;
            while Instant::now() < until {
                match send(&mut client, Call::post("/auth/login", body.clone())).await {
                    Ok(answer) => {
                        latencies.record(answer.took);
                        if answer.status == 200 {
                            count += 1;
                        } else {
                            unexpected.status(&answer);
                        }
                    }
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected, count, 0)
        }));
    }
    collect_rate(tasks, started).await
}

/// Steady state for the fresh-rows comparison: the first (uncached) map read of events never
/// read before, and single holds one at a time, once the store has seen the load.
pub async fn steady(fx: &Fixture) -> Res<(Option<f64>, Option<f64>)> {
    let mut client = Client::connect(fx.addr).await?;
    let mut maps = Latencies::default();
    for event in &fx.steady_events {
        let answer = send(&mut client, Call::get(&format!("/events/events/{event}/seats"))).await?;
        if answer.status != 200 {
            return Err(format!("steady seat map: {} {}", answer.status, answer.snippet()));
        }
        maps.record(answer.took);
    }
    let mut holds = Latencies::default();
    let buyer = fx.buyers.last().context("no buyers")?;
    if let Some(event) = fx.steady_events.first() {
        for seat in fx.big_seats.iter().rev().take(fx.steady_events.len().max(10)) {
            let body = format!(r#"{{"event_id":"{event}","seat_id":"{seat}"}}"#);
            let answer =
                send(&mut client, Call::post("/reservations/reservations/reserve", body).token(&buyer.token)).await?;
            if answer.status != 201 {
                return Err(format!("steady holds: {} {}", answer.status, answer.snippet()));
            }
            holds.record(answer.took);
        }
    }
    Ok((maps.quantile_ms(0.5), holds.quantile_ms(0.5)))
}
