//! The on-sale phases (issue 18): holds on one hot event of a 20,000-seat venue, reported beside
//! the spread-out figure; the same from a store just migrated, seeded and analyzed, timed from its
//! first hold; and a sell-out, 20,000 seats of one event to 100,000 buyers arriving over 10 s,
//! each trying up to three seats, with the store's reservations counted afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sqlx::Connection;

use crate::fixtures::{Fixture, Unexpected, count_active, event_body, expect, seat_ids, send, text, venue_body};
use crate::http::{Call, Client};
use crate::scenarios::Plan;
use crate::util::{Context, Latencies, Res, Rng};

/// The hot venue: rows of 500 seats (the most a row may have).
const SEATS_PER_ROW: usize = 500;

/// The on-sale's venue and events, created through the API.
pub struct OnSale {
    pub seats: Arc<Vec<String>>,
    /// Walked one after the other by the fresh-store run: the whole load is on one event at a time.
    pub fresh_events: Arc<Vec<String>>,
    /// The same for the hot-event run.
    pub hot_events: Arc<Vec<String>>,
    /// The same for the store ceiling's run.
    pub ceiling_events: Vec<String>,
    pub sellout_event: String,
}

/// Events enough for `seconds` of holds at `rate` on `seats`-seat events, one after the other.
fn events_for(seats: usize, seconds: f64, rate: f64) -> usize {
    ((seconds * rate) / seats as f64).ceil().max(1.0) as usize
}

/// The most holds a second any run here is provisioned for (above the issue's 10,000 target).
const PROVISIONED_RATE: f64 = 16_000.0;

pub async fn seed(fx: &Fixture, plan: &Plan) -> Res<OnSale> {
    let mut client = Client::connect(fx.addr).await?;
    let rows = vec![SEATS_PER_ROW; plan.hot_seats.div_ceil(SEATS_PER_ROW)];
    let venue = expect(
        &mut client,
        Call::post("/events/venues", venue_body("On-sale Arena", &rows)).token(&fx.admin_token),
        201,
    )
    .await?;
    let venue_id = text(&venue, "id")?;
    let seats = seat_ids(&venue)?;
    let fresh = events_for(seats.len(), plan.fresh_duration.as_secs_f64(), PROVISIONED_RATE);
    let hot = events_for(seats.len(), (plan.hold_warmup + plan.hold_duration).as_secs_f64(), PROVISIONED_RATE);
    let mut events = Vec::with_capacity(fresh + 2 * hot + 1);
    for i in 0..fresh + 2 * hot + 1 {
        let call = Call::post("/events/events", event_body(&venue_id, &format!("On-sale night {i}")));
        events.push(text(&expect(&mut client, call.token(&fx.admin_token), 201).await?, "id")?);
    }
    let sellout_event = events.pop().context("no sell-out event")?;
    let ceiling_events = events.split_off(fresh + hot);
    let hot_events = events.split_off(fresh);
    Ok(OnSale {
        seats: Arc::new(seats),
        fresh_events: Arc::new(events),
        hot_events: Arc::new(hot_events),
        ceiling_events,
        sellout_event,
    })
}

/// `ANALYZE` on the server's SQL store (what a deployment's first autovacuum or an operator does
/// to a store still nearly empty); DynamoDB has no statistics.
pub async fn analyze(database_url: &str) -> Res<()> {
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.context("opening the SQLite file")?;
        sqlx::query("ANALYZE").execute(&mut conn).await.context("ANALYZE on SQLite")?;
        conn.close().await.context("closing the SQLite file")?;
    } else if database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(database_url).await.context("connecting to PostgreSQL")?;
        sqlx::query("ANALYZE").execute(&mut conn).await.context("ANALYZE on PostgreSQL")?;
        conn.close().await.context("closing the PostgreSQL connection")?;
    }
    Ok(())
}

/// The sell-out's figures.
pub struct SellOut {
    pub seats: usize,
    pub buyers_arrived: usize,
    pub sold: u64,
    pub sold_out_after: Option<Duration>,
    pub holds_per_s: f64,
    pub p99_ms: Option<f64>,
    /// Seats with more than one active reservation, from the store's own listing afterwards.
    pub oversold: u64,
    /// Active reservations the store lists for the event.
    pub listed: u64,
    pub unexpected: Unexpected,
}

/// Buyers arrive evenly over `plan.sellout_arrival`; each tries up to `plan.sellout_tries`
/// random seats until one is held. Buyers are served by `plan.clients` connections (a buyer who
/// arrives while all are busy waits for one, as behind a gateway); the accounts take turns. Once
/// every seat is held the later buyers are told so without asking the API (the site's sold-out
/// page), which bounds the phase.
pub async fn sell_out(fx: &Fixture, onsale: &OnSale, plan: &Plan) -> Res<SellOut> {
    let seats = onsale.seats.clone();
    let capacity = seats.len() as u64;
    let buyers = plan.sellout_buyers;
    let gap = plan.sellout_arrival.as_secs_f64() / buyers as f64;
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|b| b.token.clone()).collect());
    let event = Arc::new(onsale.sellout_event.clone());
    let (next, sold, arrived) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicUsize::new(0)));
    let sold_out_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let over = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        clients.push(Client::connect(fx.addr).await?);
    }
    let started = Instant::now();
    let limit = started + plan.sellout_limit;
    let mut tasks = Vec::with_capacity(plan.clients);
    for (c, mut client) in clients.into_iter().enumerate() {
        let (seats, tokens, event) = (seats.clone(), tokens.clone(), event.clone());
        let (next, sold, arrived, sold_out_at, over) =
            (next.clone(), sold.clone(), arrived.clone(), sold_out_at.clone(), over.clone());
        let tries = plan.sellout_tries;
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(c as u64 + 17);
            let mut latencies = Latencies::with_capacity(16_384);
            let mut unexpected = Unexpected::default();
            'buyers: loop {
                let buyer = next.fetch_add(1, Ordering::Relaxed);
                if buyer >= buyers || over.load(Ordering::Relaxed) || Instant::now() >= limit {
                    break;
                }
                let arrival = started + Duration::from_secs_f64(gap * buyer as f64);
                tokio::time::sleep_until(arrival.into()).await;
                arrived.fetch_add(1, Ordering::Relaxed);
                let token = &tokens[buyer % tokens.len()];
                for _ in 0..tries {
                    if over.load(Ordering::Relaxed) {
                        break 'buyers;
                    }
                    let seat = &seats[rng.below(seats.len())];
                    let body = Bytes::from(format!(r#"{{"event_id":"{event}","seat_id":"{seat}"}}"#));
                    let call = Call::post("/reservations/reservations/reserve", body).token(token);
                    match send(&mut client, call).await {
                        Ok(answer) => {
                            latencies.record(answer.took);
                            match answer.status {
                                201 => {
                                    if sold.fetch_add(1, Ordering::Relaxed) + 1 == capacity {
                                        *sold_out_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                                        over.store(true, Ordering::Relaxed);
                                    }
                                    break;
                                }
                                409 => {}
                                _ => {
                                    unexpected.status(&answer);
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            unexpected.transport(e);
                            break 'buyers;
                        }
                    }
                }
            }
            (latencies, unexpected)
        }));
    }
    let mut latencies = Latencies::with_capacity(buyers);
    let mut unexpected = Unexpected::default();
    for task in tasks {
        let (l, u) = task.await.context("a sell-out client panicked")?;
        latencies.merge(l);
        unexpected.merge(u);
    }
    let ended = Instant::now();
    let sold_out_at = *sold_out_at.lock().unwrap_or_else(|e| e.into_inner());
    let sold = sold.load(Ordering::Relaxed);
    let window = sold_out_at.unwrap_or(ended).saturating_duration_since(started);
    let (listed, oversold) = count_active(fx, &onsale.sellout_event).await?;
    Ok(SellOut {
        seats: seats.len(),
        buyers_arrived: arrived.load(Ordering::Relaxed),
        sold,
        sold_out_after: sold_out_at.map(|at| at.saturating_duration_since(started)),
        holds_per_s: sold as f64 / window.as_secs_f64().max(1e-3),
        p99_ms: latencies.quantile_ms(0.99),
        oversold,
        listed,
        unexpected,
    })
}
