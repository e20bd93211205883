//! The measured phases: seeding through the API, holds at 64 clients, the flash sale, seat-map
//! reads and revalidations, logins, and first-read latency on freshly created rows (the door's
//! scans and manifest are in `door`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use proeventa_core::auth::TokenKeys;
use proeventa_core::domain::User;

use crate::http::{Answer, Call, Client};
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
            ..Self::full()
        }
    }

    /// Accounts to sign up: the flash sale's buyers; the hold clients and the logins reuse them.
    pub fn users(&self) -> usize {
        self.flash_users.max(self.clients).max(self.login_users)
    }
}

/// The big venue's shape: a 2,000-seat arena (the seat-map figure is for 2,000 seats).
const ROWS: usize = 40;
const SEATS_PER_ROW: usize = 50;
pub const PASSWORD: &str = "bench-password-1";
/// A request taking longer than this counts as an error and ends that client's phase (a login
/// queued behind 64 others on a loaded machine takes a few seconds; a hang should not take the run).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

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

/// Answers that were neither the expected success nor the expected conflict.
#[derive(Default)]
pub struct Unexpected {
    by_status: BTreeMap<u16, u64>,
    transport: u64,
    sample: Option<String>,
}

impl Unexpected {
    pub(crate) fn status(&mut self, answer: &Answer) {
        *self.by_status.entry(answer.status).or_default() += 1;
        if self.sample.is_none() {
            self.sample = Some(format!("{}: {}", answer.status, answer.snippet()));
        }
    }

    pub(crate) fn transport(&mut self, error: String) {
        self.transport += 1;
        if self.sample.is_none() {
            self.sample = Some(error);
        }
    }

    pub(crate) fn merge(&mut self, other: Unexpected) {
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        self.transport += other.transport;
        if self.sample.is_none() {
            self.sample = other.sample;
        }
    }

    pub fn total(&self) -> u64 {
        self.by_status.values().sum::<u64>() + self.transport
    }

    /// `None` when all was as expected; else a line for the report.
    pub fn describe(&self, phase: &str) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let statuses: Vec<String> = self.by_status.iter().map(|(s, n)| format!("{n}×{s}")).collect();
        let transport = if self.transport > 0 { format!(" {}×no answer", self.transport) } else { String::new() };
        Some(format!(
            "{phase}: unexpected answers {}{transport}; first: {}",
            statuses.join(" "),
            self.sample.as_deref().unwrap_or("-")
        ))
    }
}

/// Sends one call with the phase's request timeout.
pub(crate) async fn send(client: &mut Client, call: Call<'_>) -> Res<Answer> {
    let what = format!("{} {}", call.method, call.path);
    tokio::time::timeout(REQUEST_TIMEOUT, client.send(call))
        .await
        .map_err(|_| format!("{what}: no answer in {} s", REQUEST_TIMEOUT.as_secs()))?
}

/// Sends and insists on one status; the body is the JSON answer.
pub(crate) async fn expect(client: &mut Client, call: Call<'_>, status: u16) -> Res<serde_json::Value> {
    let what = format!("{} {}", call.method, call.path);
    let answer = send(client, call).await?;
    if answer.status != status {
        return Err(format!("{what}: expected {status}, got {} {}", answer.status, answer.snippet()));
    }
    answer.json()
}

pub(crate) fn text(value: &serde_json::Value, field: &str) -> Res<String> {
    value.get(field).and_then(|v| v.as_str()).map(str::to_owned).context(format!("answer has no `{field}`"))
}

/// Runs `n` jobs over at most `clients` keep-alive connections, in order of index.
pub(crate) async fn fan_out<T, F, Fut>(addr: SocketAddr, n: usize, clients: usize, job: F) -> Res<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Client, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (Client, Res<T>)> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients.min(n).max(1) {
        let (next, job) = (next.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await?;
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, String>(done);
                }
                let (back, result) = job(client, i).await;
                client = back;
                done.push((i, result?));
            }
        }));
    }
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await.context("a seeding task panicked")??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

/// A signed-up customer and a token for it.
#[derive(Clone)]
pub struct Buyer {
    pub email: String,
    pub token: String,
}

/// Everything the phases use, created through the API.
pub struct Fixture {
    pub addr: SocketAddr,
    pub admin_token: String,
    pub buyers: Vec<Buyer>,
    pub big_seats: Arc<Vec<String>>,
    pub hold_events: Arc<Vec<String>>,
    pub map_event: String,
    pub steady_events: Vec<String>,
    pub flash_event: String,
    pub flash_seats: Arc<Vec<String>>,
}

pub(crate) fn event_body(venue: &str, name: &str) -> String {
    let start = (Utc::now() + chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    serde_json::json!({
        "venue_id": venue, "name": name, "category": "concert", "start_time": start,
        "description": "A night of load.", "duration_minutes": 120, "prices": [{"tier": "standard", "price_cents": 5000}],
    })
    .to_string()
}

/// A venue whose rows have these many seats each.
pub(crate) fn venue_body(name: &str, rows: &[usize]) -> String {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(r, seats)| serde_json::json!({"row": format!("R{:02}", r + 1), "seats": seats}))
        .collect();
    serde_json::json!({"name": name, "location": "loopback", "kind": "arena", "rows": rows}).to_string()
}

pub(crate) fn seat_ids(venue: &serde_json::Value) -> Res<Vec<String>> {
    let seats = venue.get("seats").and_then(|s| s.as_array()).context("venue answer has no `seats`")?;
    seats.iter().map(|s| text(s, "id")).collect()
}

/// Signs up the buyers (argon2id each: the slowest part of seeding) and issues their tokens
/// with the server's own `TokenKeys`, so 500 logins are not paid for twice.
pub async fn sign_up(addr: SocketAddr, n: usize, clients: usize, jwt_secret: &str) -> Res<Vec<Buyer>> {
    let keys = Arc::new(TokenKeys::new(jwt_secret.as_bytes(), 4 * 3600));
    fan_out(addr, n, clients, move |mut client, i| {
        let keys = keys.clone();
        async move {
            let email = format!("bench-{i}@proeventa.test");
            let body = serde_json::json!({"email": email, "password": PASSWORD, "name": format!("Buyer {i}")});
            let result = async {
                let answer = expect(&mut client, Call::post("/auth/signup", body.to_string()), 201).await?;
                let user: User = serde_json::from_value(answer).context("signup answer is not a User")?;
                let token = keys.issue(&user).map_err(|e| format!("issuing a token: {e:?}"))?;
                Ok(Buyer { email, token })
            }
            .await;
            (client, result)
        }
    })
    .await
}

pub async fn admin_login(addr: SocketAddr, email: &str, password: &str) -> Res<String> {
    let mut client = Client::connect(addr).await?;
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let answer = expect(&mut client, Call::post("/auth/login", body), 200).await?;
    text(&answer, "access_token")
}

/// First reads on rows the store has just been given (planner statistics not yet gathered).
pub struct FreshProbe {
    pub first_map_ms: f64,
    pub first_hold_ms: f64,
    pub first_holds_max_ms: f64,
}

/// Creates the big venue and a first event, then at once reads its map and holds ten seats.
pub async fn create_big_venue_and_probe(
    addr: SocketAddr,
    admin_token: &str,
    buyer: &Buyer,
) -> Res<(String, Vec<String>, FreshProbe)> {
    let mut client = Client::connect(addr).await?;
    let venue = expect(
        &mut client,
        Call::post("/events/venues", venue_body("Bench Arena", &[SEATS_PER_ROW; ROWS])).token(admin_token),
        201,
    )
    .await?;
    let venue_id = text(&venue, "id")?;
    let seats = seat_ids(&venue)?;
    let event =
        expect(&mut client, Call::post("/events/events", event_body(&venue_id, "Fresh probe")).token(admin_token), 201)
            .await?;
    let event_id = text(&event, "id")?;
    let path = format!("/events/events/{event_id}/seats");
    let first_map = send(&mut client, Call::get(&path)).await?;
    if first_map.status != 200 {
        return Err(format!("first seat map: {} {}", first_map.status, first_map.snippet()));
    }
    let mut holds = Vec::new();
    for seat in seats.iter().take(10) {
        let body = format!(r#"{{"event_id":"{event_id}","seat_id":"{seat}"}}"#);
        let answer =
            send(&mut client, Call::post("/reservations/reservations/reserve", body).token(&buyer.token)).await?;
        if answer.status != 201 {
            return Err(format!("first holds: {} {}", answer.status, answer.snippet()));
        }
        holds.push(answer.took.as_secs_f64() * 1000.0);
    }
    let probe = FreshProbe {
        first_map_ms: first_map.took.as_secs_f64() * 1000.0,
        first_hold_ms: holds.first().copied().unwrap_or(0.0),
        first_holds_max_ms: holds.iter().copied().fold(0.0, f64::max),
    };
    Ok((venue_id, seats, probe))
}

/// Creates the rest: hold events, the seat-map event, untouched events for steady-state first
/// reads, and the flash sale's small venue and event.
pub async fn seed_rest(
    addr: SocketAddr,
    plan: &Plan,
    admin_token: &str,
    buyers: Vec<Buyer>,
    big_venue: String,
    big_seats: Vec<String>,
) -> Res<Fixture> {
    let n_events = plan.hold_events + 1 + plan.steady_samples;
    let (token, venue) = (Arc::new(admin_token.to_owned()), Arc::new(big_venue.clone()));
    let events = fan_out(addr, n_events, plan.clients, move |mut client, i| {
        let (token, venue) = (token.clone(), venue.clone());
        async move {
            let call = Call::post("/events/events", event_body(&venue, &format!("Bench night {i}"))).token(&token);
            let result = expect(&mut client, call, 201).await.and_then(|e| text(&e, "id"));
            (client, result)
        }
    })
    .await?;
    let mut client = Client::connect(addr).await?;
    // Exactly `flash_seats` seats, 25 to a row: a buyer re-reading the map finds no others.
    let rows: Vec<usize> = (0..plan.flash_seats.div_ceil(25)).map(|r| (plan.flash_seats - r * 25).min(25)).collect();
    let flash_venue =
        expect(&mut client, Call::post("/events/venues", venue_body("Flash Hall", &rows)).token(admin_token), 201)
            .await?;
    let flash_venue_id = text(&flash_venue, "id")?;
    let flash_seats = seat_ids(&flash_venue)?;
    let flash_event = expect(
        &mut client,
        Call::post("/events/events", event_body(&flash_venue_id, "Flash sale")).token(admin_token),
        201,
    )
    .await
    .and_then(|e| text(&e, "id"))?;
    let hold_events = events[..plan.hold_events].to_vec();
    let map_event = events[plan.hold_events].clone();
    let steady_events = events[plan.hold_events + 1..].to_vec();
    Ok(Fixture {
        addr,
        admin_token: admin_token.to_owned(),
        buyers,
        big_seats: Arc::new(big_seats),
        hold_events: Arc::new(hold_events),
        map_event,
        steady_events,
        flash_event,
        flash_seats: Arc::new(flash_seats),
    })
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

/// 64 clients, each with its own buyer and connection, each request a seat never asked for
/// before; the server's memory is sampled meanwhile.
pub async fn holds(fx: &Fixture, plan: &Plan, server_pid: u32) -> Res<HoldRun> {
    let capacity = fx.hold_events.len() * fx.big_seats.len();
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
    let measure_from = started + plan.hold_warmup;
    let measure_until = measure_from + plan.hold_duration;
    // Each hold is for the next account in turn, so an account holds a few seats of an event (as
    // buyers do; a hold's cost grows with the seats its account already holds there), not the
    // thirty that one account per client would.
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|buyer| buyer.token.clone()).collect());
    let mut tasks = Vec::with_capacity(plan.clients);
    for mut client in clients {
        let tokens = tokens.clone();
        let (events, seats, next) = (fx.hold_events.clone(), fx.big_seats.clone(), next.clone());
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
    let window = if ran_out { last_done.saturating_duration_since(measure_from) } else { plan.hold_duration };
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
    let mut per_seat: HashMap<String, u64> = HashMap::new();
    let mut listed = 0u64;
    for status in ["held", "confirmed"] {
        let mut offset = 0;
        loop {
            let path = format!(
                "/reservations/reservations/event/{}?status={status}&limit=200&offset={offset}",
                fx.flash_event
            );
            let page = expect(&mut client, Call::get(&path).token(&fx.admin_token), 200).await?;
            let page = page.as_array().context("reservations answer is not an array")?;
            for reservation in page {
                *per_seat.entry(text(reservation, "seat_id")?).or_default() += 1;
                listed += 1;
            }
            if page.len() < 200 {
                break;
            }
            offset += 200;
        }
    }
    Ok(FlashSale {
        users,
        answered_201: ok,
        answered_409: conflicts,
        losers_409: losers,
        buyers_with_a_seat: winners,
        seats_taken_on_map: taken_on_map,
        active_reservations_listed: listed,
        oversold: per_seat.values().filter(|n| **n > 1).count() as u64,
        p99_ms: latencies.quantile_ms(0.99),
        took,
        unexpected,
    })
}

/// The seats a seat map shows `available`.
fn available(map: &Answer) -> Res<Vec<String>> {
    if map.status != 200 {
        return Err(format!("seat map: {} {}", map.status, map.snippet()));
    }
    let seats = map.json()?;
    let seats = seats.as_array().context("seat map is not an array")?;
    Ok(seats
        .iter()
        .filter(|s| s.get("status").and_then(|v| v.as_str()) == Some("available"))
        .filter_map(|s| s.get("seat_id").and_then(|v| v.as_str()).map(str::to_owned))
        .collect())
}

/// A rate and its latencies.
pub struct Rate {
    pub per_second: f64,
    pub p99_ms: Option<f64>,
    pub unexpected: Unexpected,
    /// Revalidations answered 200 because the map had changed (expected: none, nothing writes).
    pub changed: u64,
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
    let path = Arc::new(format!("/events/events/{}/seats", fx.map_event));
    let mut clients = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        let mut client = Client::connect(fx.addr).await?;
        // One read each before the clock starts: connections warm, and the ETag in hand.
        let first = send(&mut client, Call::get(&path)).await?;
        if first.status != 200 || first.etag.is_none() {
            return Err(format!("seat map: {} without an ETag: {}", first.status, first.snippet()));
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
                let call = match (&etag, revalidate) {
                    (Some(tag), true) => Call::get(&path).if_none_match(tag),
                    _ => Call::get(&path),
                };
                match send(&mut client, call).await {
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

async fn collect_rate(
    tasks: Vec<tokio::task::JoinHandle<(Latencies, Unexpected, u64, u64)>>,
    started: Instant,
) -> Res<Rate> {
    let mut latencies = Latencies::with_capacity(100_000);
    let mut unexpected = Unexpected::default();
    let (mut count, mut changed) = (0, 0);
    for task in tasks {
        let (l, u, c, ch) = task.await.context("a client panicked")?;
        latencies.merge(l);
        unexpected.merge(u);
        count += c;
        changed += ch;
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-3);
    Ok(Rate { per_second: count as f64 / elapsed, p99_ms: latencies.quantile_ms(0.99), unexpected, changed })
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
