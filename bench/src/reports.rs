//! The organiser's sales report (issue 21): an event of a 20,000-seat venue (with `--quick` too:
//! the size is the target's) with a tenth of its seats sold through the API (reserve, checkout,
//! pay, ten seats a booking) and another tenth held, then `GET /admin/reports/events/{id}` read
//! `REPORTS` times by one admin, one after another; the figures are the p50 and p99 of its
//! answers (the target: under 100 ms).

use std::sync::Arc;

use crate::door::{new_event, sell_out};
use crate::fixtures::{Fixture, Unexpected, expect, fan_out, send};
use crate::http::{Call, Client};
use crate::scenarios::Figures;
use crate::util::{Latencies, Res};

/// The event's seats.
const SEATS: usize = 20_000;
/// Reports read, one at a time.
const REPORTS: usize = 50;
/// Seats a booking (the most one reserve takes).
const BOOKING_SEATS: usize = 10;

/// The phase as `measure` runs it: its lines on the console, its figures and notes.
pub async fn phase(fx: &Fixture, clients: usize, name: &str, figures: &mut Figures) {
    let run = run(fx, clients, name, figures);
    if let Err(e) = crate::within("reports", std::time::Duration::from_secs(600), run).await {
        figures.notes.push(e);
    }
}

/// Sells a tenth of a new event's seats, holds another tenth, then times the event's report.
async fn run(fx: &Fixture, clients: usize, name: &str, figures: &mut Figures) -> Res<()> {
    crate::say(&format!(
        "[{name}] reports: a {SEATS}-seat event, a tenth sold and a tenth held, then {REPORTS} reports"
    ));
    let (event_id, seat_ids) = new_event(fx, "Report Arena", SEATS).await?;
    let tenth = SEATS / 10;
    sell_out(fx, clients.min(16), &event_id, &seat_ids[..tenth], BOOKING_SEATS).await?;
    let holds: Arc<Vec<String>> = Arc::new(
        seat_ids[tenth..2 * tenth]
            .chunks(BOOKING_SEATS)
            .map(|block| serde_json::json!({"event_id": event_id, "seat_ids": block}).to_string())
            .collect(),
    );
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|b| b.token.clone()).collect());
    fan_out(fx.addr, holds.len(), clients.min(16), move |mut client, i| {
        let (holds, tokens) = (holds.clone(), tokens.clone());
        async move {
            let call =
                Call::post("/reservations/reservations/reserve", holds[i].clone()).token(&tokens[i % tokens.len()]);
            let result = expect(&mut client, call, 201).await.map(|_| ());
            (client, result)
        }
    })
    .await?;

    let mut client = Client::connect(fx.addr).await?;
    let path = format!("/admin/reports/events/{event_id}");
    let first = expect(&mut client, Call::get(&path).token(&fx.admin_token), 200).await?;
    let counted = (first["sold"].as_u64(), first["held"].as_u64());
    if counted != (Some(tenth as u64), Some(tenth as u64)) {
        figures.notes.push(format!("reports: {tenth} seats sold and held each, the report counted {counted:?}"));
    }
    let (mut latencies, mut unexpected) = (Latencies::with_capacity(REPORTS), Unexpected::default());
    for _ in 0..REPORTS {
        match send(&mut client, Call::get(&path).token(&fx.admin_token)).await {
            Ok(answer) if answer.status == 200 => latencies.record(answer.took),
            Ok(answer) => unexpected.status(&answer),
            Err(e) => unexpected.transport(e),
        }
    }
    let (p50, p99) = (latencies.quantile_ms(0.5), latencies.quantile_ms(0.99));
    crate::say(&format!(
        "[{name}]   event report of {SEATS} seats: p50 {:.1} ms, p99 {:.1} ms",
        p50.unwrap_or(f64::NAN),
        p99.unwrap_or(f64::NAN)
    ));
    figures.set("report_p50_ms", p50);
    figures.set("report_p99_ms", p99);
    figures.notes.extend(unexpected.describe("reports"));
    Ok(())
}
