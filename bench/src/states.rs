//! The live seat states (issue 19): one event of a 20,000-seat venue (its own, 40 rows of 500)
//! taken half-way through an on-sale by the API itself: buyers hold blocks of 1 to 6 adjacent
//! seats with gaps of 0 to 3 free seats between them (a fixed seed), 64 at a time, until half the
//! seats are held. The venue's static layout is read once plain and once gzipped first (its sizes). Then `GET /events/events/{id}/seat-states` is read once
//! plain and once gzipped (its sizes), and 64 clients revalidate it with its `ETag` and
//! `Accept-Encoding: gzip`, as a browser's cache does, for `map_duration` (304s a second).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::fixtures::{Fixture, Rate, Unexpected, event_body, expect, seat_ids, send, text, venue_body};
use crate::http::{Call, Client};
use crate::scenarios::{Plan, revalidations};
use crate::util::{Context, Res, Rng};

const SEATS_PER_ROW: usize = 500;

/// The phase's figures.
pub struct States {
    pub seats: usize,
    pub taken: usize,
    pub plain_bytes: usize,
    pub gzipped_bytes: usize,
    /// The venue's static layout (`GET /events/venues/{id}/layout`), plain and gzipped: what a
    /// browser fetches once and keeps, beside the live states it polls.
    pub layout_plain_bytes: usize,
    pub layout_gzipped_bytes: usize,
    pub revalidations: Rate,
    pub unexpected: Unexpected,
}

pub async fn phase(fx: &Fixture, plan: &Plan) -> Res<States> {
    let mut client = Client::connect(fx.addr).await?;
    let rows = vec![SEATS_PER_ROW; plan.hot_seats.div_ceil(SEATS_PER_ROW)];
    let venue = Call::post("/events/venues", venue_body("Live-state Arena", &rows)).token(&fx.admin_token);
    let venue = expect(&mut client, venue, 201).await?;
    let seats = seat_ids(&venue)?;
    let layout_path = format!("/events/venues/{}/layout", text(&venue, "id")?);
    let layout_plain = send(&mut client, Call::get(&layout_path)).await?;
    let layout_gzipped = send(&mut client, Call::get(&layout_path).header("accept-encoding", "gzip")).await?;
    if layout_plain.status != 200 || layout_gzipped.status != 200 {
        return Err(format!("layout: {} / {}: {}", layout_plain.status, layout_gzipped.status, layout_plain.snippet()));
    }
    let event = Call::post("/events/events", event_body(&text(&venue, "id")?, "Live-state night"));
    let event = text(&expect(&mut client, event.token(&fx.admin_token), 201).await?, "id")?;

    // Half the seats in blocks, the same blocks on every backend.
    let mut rng = Rng::new(19);
    let (mut blocks, mut at, mut taken) = (Vec::new(), 0, 0);
    while taken < seats.len() / 2 {
        let length = 1 + rng.below(6);
        let block: Vec<&String> = seats.iter().skip(at).take(length).collect();
        taken += block.len();
        at += length + rng.below(4);
        blocks.push(serde_json::json!({"event_id": event, "seat_ids": block}).to_string());
    }
    let unexpected = hold_all(fx, plan, Arc::new(blocks)).await?;

    let path = format!("/events/events/{event}/seat-states");
    let plain = send(&mut client, Call::get(&path)).await?;
    let gzipped = send(&mut client, Call::get(&path).header("accept-encoding", "gzip")).await?;
    if plain.status != 200 || gzipped.status != 200 {
        return Err(format!("seat states: {} / {}: {}", plain.status, gzipped.status, plain.snippet()));
    }
    let revalidations = revalidations(fx.addr, path, Some(("accept-encoding", "gzip")), plan).await?;
    Ok(States {
        seats: seats.len(),
        taken,
        plain_bytes: plain.body.len(),
        gzipped_bytes: gzipped.body.len(),
        layout_plain_bytes: layout_plain.body.len(),
        layout_gzipped_bytes: layout_gzipped.body.len(),
        revalidations,
        unexpected,
    })
}

/// Holds every block (a reserve each, the buyers in turn), `plan.clients` at a time.
async fn hold_all(fx: &Fixture, plan: &Plan, blocks: Arc<Vec<String>>) -> Res<Unexpected> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        let (blocks, next) = (blocks.clone(), next.clone());
        let tokens: Vec<String> = fx.buyers.iter().map(|b| b.token.clone()).collect();
        let mut client = Client::connect(fx.addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut unexpected = Unexpected::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(block) = blocks.get(i) else { break };
                let call = Call::post("/reservations/reservations/reserve", block.clone());
                match send(&mut client, call.token(&tokens[i % tokens.len()])).await {
                    Ok(answer) if answer.status == 201 => {}
                    Ok(answer) => unexpected.status(&answer),
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            unexpected
        }));
    }
    let mut unexpected = Unexpected::default();
    for task in tasks {
        unexpected.merge(task.await.context("a holding client panicked")?);
    }
    Ok(unexpected)
}
