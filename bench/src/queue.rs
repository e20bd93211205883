//! The waiting room's on-sale (issue 20): `queue_buyers` buyers, each an account of its own, join
//! the queue of a `queue_seats`-seat event before its opening (joins/s); they poll their place as
//! the waiting-room page does, with the `ETag` they have (polls/s); from the opening each buyer let
//! through holds the next seat with the admission, checks out and pays with it (which ends the
//! session): the time from the opening to sold out, the seats sold and oversold (the store's
//! reservations), and the most buyers active at once, read from the organiser's figures every
//! 100 ms, which the store keeps at or under `max_active_buyers`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};

use crate::fixtures::{
    Fixture, Unexpected, count_active, event_body, expect, fan_out, seat_ids, send, sign_up_as, text, venue_body,
};
use crate::http::{Call, Client};
use crate::scenarios::Plan;
use crate::util::{Context, Latencies, Res};

/// Rows of the queue's venue hold this many seats (the most a row may have).
const SEATS_PER_ROW: usize = 500;
/// The waiting room's settings: a pace that is not the bottleneck (1,000 a second), so the phase
/// measures the queue's machinery, and a cap the sampler must never see exceeded.
const ADMIT_PER_MINUTE: u32 = 60_000;
pub const MAX_ACTIVE_BUYERS: u32 = 200;
/// How often a waiting buyer asks again (the page asks every 2 s near the front).
const POLL_EVERY: Duration = Duration::from_millis(250);

/// What the phase measured.
pub struct QueueSale {
    pub buyers: usize,
    pub joins_per_s: f64,
    pub polls_per_s: f64,
    pub poll_p99_ms: Option<f64>,
    pub seats: usize,
    pub sold: u64,
    pub sold_out_after: Option<Duration>,
    pub oversold: u64,
    pub max_active: u64,
    pub unexpected: Unexpected,
}

/// One buyer of the phase: its bearer token and the queue ticket its join answered.
struct Waiting {
    token: String,
    ticket: String,
}

pub async fn on_sale(fx: &Fixture, plan: &Plan, jwt_secret: &str) -> Res<QueueSale> {
    let buyers = sign_up_as(fx.addr, "queue", plan.queue_buyers, plan.clients, jwt_secret).await?;
    let mut client = Client::connect(fx.addr).await?;
    let rows = vec![SEATS_PER_ROW; plan.queue_seats.div_ceil(SEATS_PER_ROW)];
    let venue =
        expect(&mut client, Call::post("/events/venues", venue_body("Queue Arena", &rows)).token(&fx.admin_token), 201)
            .await?;
    let seats: Arc<Vec<String>> = Arc::new(seat_ids(&venue)?.into_iter().take(plan.queue_seats).collect());
    let opens_at = Utc::now() + chrono::Duration::from_std(plan.queue_opens_in).context("the opening")?;
    let opening = Instant::now() + plan.queue_opens_in;
    let mut body: serde_json::Value =
        serde_json::from_str(&event_body(&text(&venue, "id")?, "Queue night")).context("an event body")?;
    body["on_sale_at"] = serde_json::json!(opens_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    body["queue"] = serde_json::json!({
        "enabled": true, "admit_per_minute": ADMIT_PER_MINUTE, "max_active_buyers": MAX_ACTIVE_BUYERS, "session_minutes": 10,
    });
    let event = text(
        &expect(&mut client, Call::post("/events/events", body.to_string()).token(&fx.admin_token), 201).await?,
        "id",
    )?;

    // Everyone joins before the opening.
    let join_path = Arc::new(format!("/queue/events/{event}/join"));
    let tokens: Arc<Vec<String>> = Arc::new(buyers.iter().map(|b| b.token.clone()).collect());
    let started = Instant::now();
    let tickets = fan_out(fx.addr, tokens.len(), plan.clients, {
        let (join_path, tokens) = (join_path.clone(), tokens.clone());
        move |mut client, i| {
            let (join_path, tokens) = (join_path.clone(), tokens.clone());
            async move {
                let result = async {
                    let joined = expect(&mut client, Call::post(&join_path, "{}").token(&tokens[i]), 200).await?;
                    text(&joined, "queue_token")
                }
                .await;
                (client, result)
            }
        }
    })
    .await?;
    let joins_per_s = tickets.len() as f64 / started.elapsed().as_secs_f64().max(1e-3);
    let waiting: Arc<Vec<Waiting>> =
        Arc::new(tokens.iter().zip(tickets).map(|(token, ticket)| Waiting { token: token.clone(), ticket }).collect());
    let status_path = Arc::new(format!("/queue/events/{event}/status"));

    // Polls while everyone waits, each with the ETag its buyer has.
    let (polls_per_s, poll_p99_ms, mut unexpected) = polls(fx, plan, &waiting, &status_path, opening).await?;

    // The opening, and the sale through the queue.
    tokio::time::sleep_until(opening.into()).await;
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_active(fx.addr, fx.admin_token.clone(), event.clone(), done.clone()));
    let next_seat = Arc::new(AtomicUsize::new(0));
    let sold = Arc::new(AtomicU64::new(0));
    let sold_out_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let limit = Instant::now() + plan.queue_limit;
    let mut tasks = Vec::with_capacity(plan.clients);
    for c in 0..plan.clients {
        let mine: Vec<usize> = (c..waiting.len()).step_by(plan.clients).collect();
        let (waiting, status_path, seats, event) = (waiting.clone(), status_path.clone(), seats.clone(), event.clone());
        let (next_seat, sold, sold_out_at, done) = (next_seat.clone(), sold.clone(), sold_out_at.clone(), done.clone());
        let addr = fx.addr;
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await?;
            let mut unexpected = Unexpected::default();
            let mut pending = mine;
            let year = Utc::now().year() + 2;
            while !pending.is_empty() && !done.load(Ordering::Relaxed) && Instant::now() < limit {
                let round = Instant::now();
                let mut still = Vec::with_capacity(pending.len());
                for buyer in pending {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let who = &waiting[buyer];
                    let call = Call::get(&status_path).header("x-queue-token", &who.ticket);
                    let answer = match send(&mut client, call).await {
                        Ok(answer) if answer.status == 200 => answer,
                        Ok(answer) => {
                            unexpected.status(&answer);
                            continue;
                        }
                        Err(e) => {
                            unexpected.transport(e);
                            continue;
                        }
                    };
                    let admission = answer.json().ok().and_then(|s| s["admission_token"].as_str().map(str::to_owned));
                    let Some(admission) = admission else {
                        still.push(buyer);
                        continue;
                    };
                    let seat = next_seat.fetch_add(1, Ordering::Relaxed);
                    if seat >= seats.len() {
                        done.store(true, Ordering::Relaxed);
                        break;
                    }
                    match buy(&mut client, &who.token, &admission, &event, &seats[seat], year).await {
                        Ok(()) => {
                            if sold.fetch_add(1, Ordering::Relaxed) + 1 == seats.len() as u64 {
                                *sold_out_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                                done.store(true, Ordering::Relaxed);
                            }
                        }
                        Err(e) => unexpected.transport(e),
                    }
                }
                pending = still;
                tokio::time::sleep_until((round + POLL_EVERY).into()).await;
            }
            Ok::<_, String>(unexpected)
        }));
    }
    for task in tasks {
        unexpected.merge(task.await.context("a queue client panicked")??);
    }
    done.store(true, Ordering::Relaxed);
    let max_active = sampler.await.context("the sampler panicked")??;
    let sold_out_at = *sold_out_at.lock().unwrap_or_else(|e| e.into_inner());
    let (_, oversold) = count_active(fx, &event).await?;
    Ok(QueueSale {
        buyers: waiting.len(),
        joins_per_s,
        polls_per_s,
        poll_p99_ms,
        seats: seats.len(),
        sold: sold.load(Ordering::Relaxed),
        sold_out_after: sold_out_at.map(|at| at.saturating_duration_since(opening)),
        oversold,
        max_active,
        unexpected,
    })
}

/// Status polls from every client for `queue_poll_duration` (and never past the opening), each
/// buyer's with the `ETag` it last got: requests answered per second, and their p99.
async fn polls(
    fx: &Fixture,
    plan: &Plan,
    waiting: &Arc<Vec<Waiting>>,
    status_path: &Arc<String>,
    opening: Instant,
) -> Res<(f64, Option<f64>, Unexpected)> {
    let until = (Instant::now() + plan.queue_poll_duration).min(opening);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(plan.clients);
    let clients = plan.clients;
    for c in 0..clients {
        let (waiting, status_path, addr) = (waiting.clone(), status_path.clone(), fx.addr);
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await?;
            let mine: Vec<usize> = (c..waiting.len()).step_by(clients).collect();
            let mut etags = vec![None; mine.len()];
            let (mut latencies, mut unexpected, mut answered) =
                (Latencies::with_capacity(65_536), Unexpected::default(), 0u64);
            'polls: loop {
                for (k, &buyer) in mine.iter().enumerate() {
                    if Instant::now() >= until {
                        break 'polls;
                    }
                    let mut call = Call::get(&status_path).header("x-queue-token", &waiting[buyer].ticket);
                    if let Some(etag) = &etags[k] {
                        call = call.if_none_match(etag);
                    }
                    match send(&mut client, call).await {
                        Ok(answer) if answer.status == 200 || answer.status == 304 => {
                            latencies.record(answer.took);
                            answered += 1;
                            if answer.etag.is_some() {
                                etags[k] = answer.etag;
                            }
                        }
                        Ok(answer) => unexpected.status(&answer),
                        Err(e) => {
                            unexpected.transport(e);
                            break 'polls;
                        }
                    }
                }
                if mine.is_empty() {
                    break;
                }
            }
            Ok::<_, String>((latencies, unexpected, answered))
        }));
    }
    let (mut latencies, mut unexpected, mut answered) = (Latencies::with_capacity(1 << 20), Unexpected::default(), 0);
    for task in tasks {
        let (l, u, a) = task.await.context("a polling client panicked")??;
        latencies.merge(l);
        unexpected.merge(u);
        answered += a;
    }
    Ok((answered as f64 / started.elapsed().as_secs_f64().max(1e-3), latencies.quantile_ms(0.99), unexpected))
}

/// Hold, checkout and pay for one seat with the admission (which ends the buyer's session).
async fn buy(client: &mut Client, token: &str, admission: &str, event: &str, seat: &str, year: i32) -> Res<()> {
    let reserve = serde_json::json!({"event_id": event, "seat_id": seat}).to_string();
    let call =
        Call::post("/reservations/reservations/reserve", reserve).token(token).header("x-admission-token", admission);
    let held = expect(client, call, 201).await?;
    let checkout = serde_json::json!({"booking_id": text(&held, "booking_id")?}).to_string();
    let payment = expect(client, Call::post("/payments/checkout", checkout).token(token), 201).await?;
    let path = format!("/payments/{}/confirm", text(&payment, "id")?);
    let card = serde_json::json!({"card_number": "4242424242424242", "exp_month": 12, "exp_year": year, "cvc": "123"});
    let call = Call::post(&path, card.to_string()).token(token).header("x-admission-token", admission);
    expect(client, call, 200).await?;
    Ok(())
}

/// The organiser's `active` figure every 100 ms until `done`: the most seen.
async fn sample_active(addr: std::net::SocketAddr, admin: String, event: String, done: Arc<AtomicBool>) -> Res<u64> {
    let mut client = Client::connect(addr).await?;
    let path = format!("/queue/events/{event}/stats");
    let mut most = 0;
    while !done.load(Ordering::Relaxed) {
        let stats = expect(&mut client, Call::get(&path).token(&admin), 200).await?;
        most = most.max(stats["active"].as_u64().context("stats without `active`")?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(most)
}
