//! The door: a sold-out event's tickets scanned by 64 gates at once, every ticket twice (the
//! second scan must be refused with 409 `already_checked_in`), and the offline manifest of a
//! 20,000-ticket event: its size as sent, gzipped, and the time to answer it.
//!
//! The tickets are bought through the API as buyers buy them (hold ten seats, check out, pay with
//! the simulated provider's test card), so each phase also checks that every paid seat got one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{Datelike, Utc};

use crate::fixtures::{Fixture, Unexpected, event_body, expect, fan_out, send, text, venue_body};
use crate::http::{Call, Client};
use crate::util::{Context, Latencies, Res, Rng};

/// Seats per booking when selling out (the most one reserve takes).
const BOOKING_SEATS: usize = 10;

/// The scan run's figures.
pub struct ScanRun {
    pub tickets: usize,
    pub per_second: f64,
    pub p99_ms: Option<f64>,
    pub admitted: u64,
    pub refused: u64,
    pub unexpected: Unexpected,
}

/// The manifest of a big event, as a gate downloads it.
pub struct ManifestProbe {
    pub tickets: usize,
    pub bytes: usize,
    pub gzip_bytes: usize,
    pub ms: f64,
}

/// Sells every one of `seats` for `event_id`, `per_booking` to a booking, the bookings going to
/// the buyers in turn; returns each booking's id and its buyer's token. Each booking is three
/// requests: reserve, checkout, confirm.
pub(crate) async fn sell_out(
    fx: &Fixture,
    clients: usize,
    event_id: &str,
    seats: &[String],
    per_booking: usize,
) -> Res<Vec<(String, String)>> {
    let bookings: Arc<Vec<Vec<String>>> = Arc::new(seats.chunks(per_booking).map(<[String]>::to_vec).collect());
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|b| b.token.clone()).collect());
    let event_id = Arc::new(event_id.to_owned());
    fan_out(fx.addr, bookings.len(), clients, move |mut client, i| {
        let (bookings, tokens, event_id) = (bookings.clone(), tokens.clone(), event_id.clone());
        async move {
            let token = tokens[i % tokens.len()].clone();
            let result = async {
                let reserve = serde_json::json!({"event_id": *event_id, "seat_ids": bookings[i]}).to_string();
                let call = Call::post("/reservations/reservations/reserve", reserve).token(&token);
                let booking_id = text(&expect(&mut client, call, 201).await?, "id")?;
                let checkout = serde_json::json!({"booking_id": booking_id}).to_string();
                let payment =
                    expect(&mut client, Call::post("/payments/checkout", checkout).token(&token), 201).await?;
                let path = format!("/payments/{}/confirm", text(&payment, "id")?);
                let card = serde_json::json!({
                    "card_number": "4242424242424242", "exp_month": 12, "exp_year": Utc::now().year() + 2, "cvc": "123",
                })
                .to_string();
                expect(&mut client, Call::post(&path, card).token(&token), 200).await?;
                Ok((booking_id, token))
            }
            .await;
            (client, result)
        }
    })
    .await
}

/// Every ticket code of the bookings, read by their buyers.
async fn ticket_codes(fx: &Fixture, clients: usize, bookings: Vec<(String, String)>) -> Res<Vec<String>> {
    let bookings = Arc::new(bookings);
    let per_booking = fan_out(fx.addr, bookings.len(), clients, move |mut client, i| {
        let bookings = bookings.clone();
        async move {
            let (booking_id, token) = &bookings[i];
            let path = format!("/reservations/tickets?booking_id={booking_id}&limit=200");
            let result = async {
                let tickets = expect(&mut client, Call::get(&path).token(token), 200).await?;
                let tickets = tickets.as_array().context("the ticket listing is not an array")?;
                tickets.iter().map(|t| text(t, "code")).collect::<Res<Vec<String>>>()
            }
            .await;
            (client, result)
        }
    })
    .await?;
    Ok(per_booking.into_iter().flatten().collect())
}

/// Creates an event on a new venue of `seats` seats (rows of up to 200); returns the event's id
/// and its seats' ids.
pub(crate) async fn new_event(fx: &Fixture, name: &str, seats: usize) -> Res<(String, Vec<String>)> {
    let mut client = Client::connect(fx.addr).await?;
    let rows: Vec<usize> = (0..seats.div_ceil(200)).map(|r| (seats - r * 200).min(200)).collect();
    let call = Call::post("/events/venues", venue_body(name, &rows)).token(&fx.admin_token);
    let venue = expect(&mut client, call, 201).await?;
    let seat_ids = crate::fixtures::seat_ids(&venue)?;
    let call = Call::post("/events/events", event_body(&text(&venue, "id")?, name)).token(&fx.admin_token);
    let event_id = text(&expect(&mut client, call, 201).await?, "id")?;
    Ok((event_id, seat_ids))
}

/// Creates an event on a new venue of `seats` seats and sells it out, `per_booking` seats to a
/// booking.
pub(crate) async fn sold_out_event(
    fx: &Fixture,
    clients: usize,
    name: &str,
    seats: usize,
    per_booking: usize,
) -> Res<(String, Vec<(String, String)>)> {
    let (event_id, seat_ids) = new_event(fx, name, seats).await?;
    let bookings = sell_out(fx, clients, &event_id, &seat_ids, per_booking).await?;
    Ok((event_id, bookings))
}

/// Sells out an event of `tickets` seats, then `clients` gates scan every ticket twice, in a
/// shuffled order: each ticket's first scan admits it, the second is refused.
pub async fn scans(fx: &Fixture, clients: usize, tickets: usize) -> Res<ScanRun> {
    let (event_id, bookings) = sold_out_event(fx, clients, "Door night", tickets, BOOKING_SEATS).await?;
    let codes = ticket_codes(fx, clients, bookings).await?;
    if codes.len() != tickets {
        return Err(format!("{tickets} seats were paid for but {} tickets were issued", codes.len()));
    }
    let mut scans: Vec<String> = codes
        .iter()
        .flat_map(|code| {
            let body = serde_json::json!({"code": code, "event_id": event_id}).to_string();
            [body.clone(), body]
        })
        .collect();
    Rng::new(16).shuffle(&mut scans);
    let scans = Arc::new(scans);
    let next = Arc::new(AtomicUsize::new(0));
    let mut gates = Vec::with_capacity(clients);
    for gate in 0..clients {
        gates.push((Client::connect(fx.addr).await?, gate));
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (mut client, _) in gates {
        let (scans, next, token) = (scans.clone(), next.clone(), fx.admin_token.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(scans.len() / clients + 1);
            let mut unexpected = Unexpected::default();
            let (mut admitted, mut refused) = (0u64, 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = scans.get(i) else { break };
                match send(&mut client, Call::post("/checkin/scan", body.clone()).token(&token)).await {
                    Ok(answer) => {
                        latencies.record(answer.took);
                        match answer.status {
                            200 => admitted += 1,
                            409 => refused += 1,
                            _ => unexpected.status(&answer),
                        }
                    }
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected, admitted, refused)
        }));
    }
    let mut latencies = Latencies::with_capacity(scans.len());
    let mut run =
        ScanRun { tickets, per_second: 0.0, p99_ms: None, admitted: 0, refused: 0, unexpected: Unexpected::default() };
    for task in tasks {
        let (l, u, a, r) = task.await.context("a gate panicked")?;
        latencies.merge(l);
        run.unexpected.merge(u);
        run.admitted += a;
        run.refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-3);
    run.per_second = (run.admitted + run.refused) as f64 / elapsed;
    run.p99_ms = latencies.quantile_ms(0.99);
    Ok(run)
}

/// Sells out an event of `tickets` seats and reads its manifest as a gate does (the best of three
/// reads, so a first read warming caches does not stand for the rest).
pub async fn manifest(fx: &Fixture, clients: usize, tickets: usize) -> Res<ManifestProbe> {
    let (event_id, _) = sold_out_event(fx, clients, "Manifest night", tickets, BOOKING_SEATS).await?;
    let path = format!("/checkin/events/{event_id}/manifest");
    let mut client = Client::connect(fx.addr).await?;
    let mut best: Option<(f64, bytes::Bytes)> = None;
    for _ in 0..3 {
        let answer = send(&mut client, Call::get(&path).token(&fx.admin_token)).await?;
        if answer.status != 200 {
            return Err(format!("manifest: {} {}", answer.status, answer.snippet()));
        }
        let ms = answer.took.as_secs_f64() * 1000.0;
        if best.as_ref().is_none_or(|(fastest, _)| ms < *fastest) {
            best = Some((ms, answer.body));
        }
    }
    let (ms, body) = best.context("no manifest read")?;
    let manifest: serde_json::Value = serde_json::from_slice(&body).context("the manifest is not JSON")?;
    let listed = manifest.get("tickets").and_then(|t| t.as_array()).map_or(0, Vec::len);
    if listed != tickets {
        return Err(format!("the manifest lists {listed} tickets of {tickets} sold"));
    }
    Ok(ManifestProbe { tickets, bytes: body.len(), gzip_bytes: gzip_size(&body)?, ms })
}

/// The size of `body` gzipped at gzip's default level, as a gateway or CDN would send it.
fn gzip_size(body: &[u8]) -> Res<usize> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).context("gzipping the manifest")?;
    Ok(encoder.finish().context("gzipping the manifest")?.len())
}
