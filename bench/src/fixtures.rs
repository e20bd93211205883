//! What every phase shares: the buyers, venues and events seeded through the API (`Fixture`),
//! requests with the bench's timeout (`send`, `expect`, `fan_out`), the bodies of a venue and an
//! event, and the tally of unexpected answers. A new phase lives in its own file and uses these.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use proeventa_core::auth::TokenKeys;
use proeventa_core::domain::User;

use crate::http::{Answer, Call, Client};
use crate::scenarios::Plan;
use crate::util::{Context, Latencies, Res};

/// The big venue's shape: a 2,000-seat arena (the seat-map figure is for 2,000 seats).
const ROWS: usize = 40;
const SEATS_PER_ROW: usize = 50;
pub const PASSWORD: &str = "bench-password-1";
/// A request taking longer than this counts as an error and ends that client's phase (a login
/// queued behind 64 others on a loaded machine takes a few seconds; a hang should not take the run).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// The account's id (the store ceiling holds seats in its name).
    pub id: String,
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
    sign_up_as(addr, "bench", n, clients, jwt_secret).await
}

/// `sign_up` with addresses `<prefix>-<i>@proeventa.test`, for a phase that needs its own buyers.
pub async fn sign_up_as(
    addr: SocketAddr,
    prefix: &'static str,
    n: usize,
    clients: usize,
    jwt_secret: &str,
) -> Res<Vec<Buyer>> {
    let keys = Arc::new(TokenKeys::new(jwt_secret.as_bytes(), 4 * 3600));
    fan_out(addr, n, clients, move |mut client, i| {
        let keys = keys.clone();
        async move {
            let email = format!("{prefix}-{i}@proeventa.test");
            let body = serde_json::json!({"email": email, "password": PASSWORD, "name": format!("Buyer {i}")});
            let result = async {
                let answer = expect(&mut client, Call::post("/auth/signup", body.to_string()), 201).await?;
                let user: User = serde_json::from_value(answer).context("signup answer is not a User")?;
                let token = keys.issue(&user).map_err(|e| format!("issuing a token: {e:?}"))?;
                Ok(Buyer { id: user.id.to_string(), email, token })
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

/// The seats a seat map shows `available`.
pub(crate) fn available(map: &Answer) -> Res<Vec<String>> {
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

pub(crate) async fn collect_rate(
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

/// The event's held and confirmed reservations as the store lists them (admin API, pages of
/// 200): how many, and how many seats appear more than once.
pub(crate) async fn count_active(fx: &Fixture, event: &str) -> Res<(u64, u64)> {
    let mut client = Client::connect(fx.addr).await?;
    let mut per_seat: HashMap<String, u64> = HashMap::new();
    let mut listed = 0u64;
    for status in ["held", "confirmed"] {
        let mut offset = 0;
        loop {
            let path = format!("/reservations/reservations/event/{event}?status={status}&limit=200&offset={offset}");
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
    Ok((listed, per_seat.values().filter(|n| **n > 1).count() as u64))
}
