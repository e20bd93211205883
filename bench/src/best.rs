//! Best available (issue 19): `plan.clients` clients (64) ask for 2 to 4 seats at a time with
//! `best_available` on one event of a 20,000-seat venue of its own (40 rows of 500), for
//! `plan.hold_duration` or until no block is left. Reported: holds/s and seats/s (201 answers),
//! p99, the answers whose seats were not one row's consecutive numbers (split: 0), and the store's
//! own count of seats with two active reservations afterwards (oversold: 0).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::fixtures::{Fixture, Unexpected, count_active, event_body, expect, send, text, venue_body};
use crate::http::{Call, Client};
use crate::scenarios::{Figures, Plan};
use crate::util::{Context, Latencies, Res, Rng};

const SEATS_PER_ROW: usize = 500;

/// The phase's figures.
pub struct Best {
    pub seats: usize,
    pub holds: u64,
    pub seats_held: u64,
    pub no_block: u64,
    /// 409s of a request whose every block tried was won by others first.
    pub outrun: u64,
    pub holds_per_s: f64,
    pub seats_per_s: f64,
    pub p99_ms: Option<f64>,
    pub split: u64,
    pub oversold: u64,
    pub listed: u64,
    pub unexpected: Unexpected,
}

/// Runs the phase and puts its figures in the report (main.rs stays short).
pub async fn run(fx: &Fixture, plan: &Plan, name: &str, figures: &mut Figures) {
    crate::say(&format!(
        "[{name}] best available: {} clients ask for 2-4 seats on one {}-seat event, {:?}",
        plan.clients, plan.hot_seats, plan.hold_duration
    ));
    match crate::within("best available", plan.hold_duration + Duration::from_secs(300), phase(fx, plan)).await {
        Ok(best) => {
            crate::say(&format!(
                "[{name}]   {:.0} holds/s, {:.0} seats/s, p99 {:.1} ms; {} holds of {} seats ({} of {} seats), \
                 409: {} no block, {} outrun; split {}, oversold {}",
                best.holds_per_s,
                best.seats_per_s,
                best.p99_ms.unwrap_or(f64::NAN),
                best.holds,
                best.seats,
                best.seats_held,
                best.listed,
                best.no_block,
                best.outrun,
                best.split,
                best.oversold
            ));
            figures.set("best_holds_per_s", Some(best.holds_per_s));
            figures.set("best_seats_per_s", Some(best.seats_per_s));
            figures.set("best_p99_ms", best.p99_ms);
            figures.set("best_outrun", Some(best.outrun as f64));
            figures.set("best_split", Some(best.split as f64));
            figures.set("best_oversold", Some(best.oversold as f64));
            figures.set("best_mismatch", Some(best.seats_held.abs_diff(best.listed) as f64));
            figures.notes.extend(best.unexpected.describe("best available"));
        }
        Err(e) => figures.notes.push(e),
    }
}

fn contains(body: &[u8], text: &[u8]) -> bool {
    body.windows(text.len()).any(|w| w == text)
}

/// Whether a 201's reservations are one row's consecutive seat numbers, and how many.
fn one_block(body: &[u8]) -> Option<usize> {
    let booking: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut seats: Vec<(String, i64)> = booking["reservations"]
        .as_array()?
        .iter()
        .map(|r| Some((r["seat"]["row"].as_str()?.to_owned(), r["seat"]["seat_number"].as_i64()?)))
        .collect::<Option<_>>()?;
    seats.sort();
    let whole = seats.windows(2).all(|w| w[0].0 == w[1].0 && w[1].1 == w[0].1 + 1);
    whole.then_some(seats.len())
}

pub async fn phase(fx: &Fixture, plan: &Plan) -> Res<Best> {
    let mut client = Client::connect(fx.addr).await?;
    let rows = vec![SEATS_PER_ROW; plan.hot_seats.div_ceil(SEATS_PER_ROW)];
    let venue = Call::post("/events/venues", venue_body("Best-available Arena", &rows)).token(&fx.admin_token);
    let venue = expect(&mut client, venue, 201).await?;
    let seats = venue.get("seats").and_then(|s| s.as_array()).map_or(0, Vec::len);
    let event = Call::post("/events/events", event_body(&text(&venue, "id")?, "Best-available night"));
    let event = Arc::new(text(&expect(&mut client, event.token(&fx.admin_token), 201).await?, "id")?);
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|b| b.token.clone()).collect());
    let over = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let until = started + plan.hold_duration;
    let (mut tasks, stride) = (Vec::with_capacity(plan.clients), plan.clients);
    for c in 0..plan.clients {
        let mut client = Client::connect(fx.addr).await?;
        let (event, tokens, over) = (event.clone(), tokens.clone(), over.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(c as u64 + 31);
            let mut latencies = Latencies::with_capacity(16_384);
            let (mut unexpected, mut holds, mut held, mut no_block, mut split, mut outrun) =
                (Unexpected::default(), 0u64, 0u64, 0u64, 0u64, 0u64);
            let mut turn = c;
            while Instant::now() < until && !over.load(Ordering::Relaxed) {
                let count = 2 + rng.below(3);
                let body = format!(r#"{{"event_id":"{event}","best_available":{{"count":{count}}}}}"#);
                let call = Call::post("/reservations/reservations/reserve", Bytes::from(body));
                // The clients take turns over the accounts: no account asks twice at once.
                turn += stride;
                match send(&mut client, call.token(&tokens[turn % tokens.len()])).await {
                    Ok(answer) => {
                        latencies.record(answer.took);
                        match answer.status {
                            201 => {
                                holds += 1;
                                match one_block(&answer.body) {
                                    Some(n) if n == count => held += n as u64,
                                    _ => split += 1,
                                }
                            }
                            // No block of that size left ("No 3 adjacent seats are free in one row.");
                            // once no pair fits, the event is as full as it gets. Any other 409:
                            // every block tried was won by others first (outrun).
                            409 if contains(&answer.body, b"adjacent seats are free") => {
                                no_block += 1;
                                if count == 2 {
                                    over.store(true, Ordering::Relaxed);
                                }
                            }
                            409 => outrun += 1,
                            _ => unexpected.status(&answer),
                        }
                    }
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected, holds, held, no_block, split, outrun)
        }));
    }
    let mut latencies = Latencies::with_capacity(65_536);
    let mut best = Best {
        seats,
        holds: 0,
        seats_held: 0,
        no_block: 0,
        outrun: 0,
        holds_per_s: 0.0,
        seats_per_s: 0.0,
        p99_ms: None,
        split: 0,
        oversold: 0,
        listed: 0,
        unexpected: Unexpected::default(),
    };
    for task in tasks {
        let (l, u, holds, held, no_block, split, outrun) = task.await.context("a best-available client panicked")?;
        latencies.merge(l);
        best.unexpected.merge(u);
        (best.holds, best.seats_held, best.no_block, best.split) =
            (best.holds + holds, best.seats_held + held, best.no_block + no_block, best.split + split);
        best.outrun += outrun;
    }
    let window = started.elapsed().as_secs_f64().max(1e-3);
    best.holds_per_s = best.holds as f64 / window;
    best.seats_per_s = best.seats_held as f64 / window;
    best.p99_ms = latencies.quantile_ms(0.99);
    (best.listed, best.oversold) = count_active(fx, event.as_str()).await?;
    Ok(best)
}
