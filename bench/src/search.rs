//! The search phase: 10,000 events (1,000 with `--quick`) over six venues in six cities, created
//! through the API, then `GET /events/events?q=` searched by every client at once with a mix of
//! queries as visitors type them (a city, a venue, a title, a typo, an accent left out, a word no
//! event has, two words); the figure is the p99 of a search's answer. Every answer must be 200,
//! and the typo must still find its title first. On DynamoDB Local one client searches, one search
//! after another (see `SEARCHES_DYNAMODB_LOCAL`).

use std::sync::Arc;

use crate::fixtures::{Fixture, Unexpected, expect, fan_out, send, text};
use crate::http::{Call, Client};
use crate::scenarios::Figures;
use crate::util::{Latencies, Res};

/// Titles the events are named after (with a number), and the first query's typo of one.
const TITLES: [&str; 10] = [
    "Hamlet",
    "Jazz Night",
    "Symphony",
    "Comedy Club",
    "Rock Anthems",
    "Swan Lake",
    "Derby",
    "Opera Gala",
    "Film Noir",
    "Magic Show",
];
/// Venues with their addresses: the city is the last part.
const VENUES: [(&str, &str, &str); 6] = [
    ("Arena Nord", "Hafenstraße 1, Hamburg", "Europe/Berlin"),
    ("Cine Lumière", "12 Rue des Arts, Lyon", "Europe/Paris"),
    ("Teatro Aurora", "Calle Mayor 5, Madrid", "Europe/Madrid"),
    ("Olympiahalle", "Spiridon-Louis-Ring 21, München", "Europe/Berlin"),
    ("Konzerthaus", "Gendarmenmarkt 2, Berlin", "Europe/Berlin"),
    ("Sala Verdi", "Via Roma 3, Milano", "Europe/Rome"),
];
/// What visitors type.
const QUERIES: [&str; 8] =
    ["Hamlte", "hamburg", "munchen", "jazz night", "cine lumiere", "symphony 42", "hamlet tickets", "derby madrid"];
/// Searches each client sends (a tenth of them with `--quick`).
const SEARCHES_PER_CLIENT: usize = 100;
/// On DynamoDB Local, one client sends this many, one after another: a search there reads the
/// events' index partition whole (10,000 items, several 1 MB pages) and the emulator answers one
/// request at a time, so 16 clients at once measure its queue (13 s at the median, a quarter of
/// them past the client's 15 s) rather than a search.
const SEARCHES_DYNAMODB_LOCAL: usize = 20;

/// The longest the phase may take, the creation of its events included (on DynamoDB Local about
/// four minutes of it).
pub const BUDGET: std::time::Duration = std::time::Duration::from_secs(900);

/// The search run's figures.
pub struct SearchRun {
    pub events: usize,
    /// Seconds the events took to create through the API (not part of the measured figure).
    pub create_s: f64,
    pub searches: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub unexpected: Unexpected,
    /// The typo query's first answer, when it was not a Hamlet.
    pub typo_miss: Option<String>,
}

/// Creates the venues and `events` events (16 clients at a time), then searches with `clients`
/// clients, `per_client` times each.
pub async fn search(fx: &Fixture, clients: usize, events: usize, per_client: usize) -> Res<SearchRun> {
    let mut admin = Client::connect(fx.addr).await?;
    let mut venue_ids = Vec::new();
    for (name, location, time_zone) in VENUES {
        let body = serde_json::json!({
            "name": name, "location": location, "kind": "hall", "time_zone": time_zone,
            "rows": [{"row": "A", "seats": 10, "tier": "standard"}],
        });
        let venue =
            expect(&mut admin, Call::post("/events/venues", body.to_string()).token(&fx.admin_token), 201).await?;
        venue_ids.push(text(&venue, "id")?);
    }
    let venue_ids = Arc::new(venue_ids);
    let token = Arc::new(fx.admin_token.clone());
    let creating = std::time::Instant::now();
    fan_out(fx.addr, events, 16, move |mut client, i| {
        let (venue_ids, token) = (venue_ids.clone(), token.clone());
        async move {
            let start = chrono::Utc::now() + chrono::Duration::hours(24 + i as i64);
            let body = serde_json::json!({
                "venue_id": venue_ids[i % venue_ids.len()],
                "name": format!("{} {}", TITLES[i % TITLES.len()], i / TITLES.len()),
                "category": "concert",
                "description": format!("Evening number {i}: music, drama and a surprise guest."),
                "start_time": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "prices": [{"tier": "standard", "price_cents": 1000 + (i % 50) as i64 * 100}],
            });
            let result = expect(&mut client, Call::post("/events/events", body.to_string()).token(&token), 201).await;
            (client, result.map(|_| ()))
        }
    })
    .await?;
    let create_s = creating.elapsed().as_secs_f64();

    let typo = expect(&mut admin, Call::get("/events/events?q=Hamlte&limit=1"), 200).await?;
    let first = typo.as_array().and_then(|list| list.first()).and_then(|e| e.get("name")).and_then(|n| n.as_str());
    let typo_miss = (!first.is_some_and(|name| name.starts_with("Hamlet"))).then(|| format!("{first:?}"));

    let mut tasks = Vec::new();
    for c in 0..clients {
        let addr = fx.addr;
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await?;
            let mut latencies = Latencies::with_capacity(per_client);
            let mut unexpected = Unexpected::default();
            for n in 0..per_client {
                let query = QUERIES[(c + n) % QUERIES.len()];
                let path = format!("/events/events?q={}", query.replace(' ', "+"));
                match send(&mut client, Call::get(&path)).await {
                    Ok(answer) if answer.status == 200 => latencies.record(answer.took),
                    Ok(answer) => unexpected.status(&answer),
                    Err(e) => unexpected.transport(e),
                }
            }
            Ok::<_, String>((latencies, unexpected))
        }));
    }
    let mut latencies = Latencies::default();
    let mut unexpected = Unexpected::default();
    for task in tasks {
        let (l, u) = task.await.map_err(|e| format!("a search client failed: {e}"))??;
        latencies.merge(l);
        unexpected.merge(u);
    }
    Ok(SearchRun {
        events,
        create_s,
        searches: clients * per_client,
        p50_ms: latencies.quantile_ms(0.5),
        p99_ms: latencies.quantile_ms(0.99),
        unexpected,
        typo_miss,
    })
}

/// The phase as `measure` runs it: the run, its line on the console, its figures and notes.
pub async fn phase(fx: &Fixture, clients: usize, quick: bool, name: &str, figures: &mut Figures) -> Res<()> {
    let events = if quick { 1_000 } else { 10_000 };
    let (clients, per_client) =
        if name == "dynamodb" { (1, SEARCHES_DYNAMODB_LOCAL) } else { (clients.min(16), SEARCHES_PER_CLIENT) };
    let per_client = if quick { per_client.div_ceil(10) } else { per_client };
    crate::say(&format!("[{name}] search: {events} events, then {clients} clients searching {per_client} times each"));
    let run = search(fx, clients, events, per_client).await?;
    crate::say(&format!("[{name}]   {} events created in {:.0} s", run.events, run.create_s));
    crate::say(&format!(
        "[{name}]   {} searches over {} events: p50 {:.1} ms, p99 {:.1} ms",
        run.searches,
        run.events,
        run.p50_ms.unwrap_or(f64::NAN),
        run.p99_ms.unwrap_or(f64::NAN)
    ));
    figures.set("search_p50_ms", run.p50_ms);
    figures.set("search_p99_ms", run.p99_ms);
    figures.set("search_count", Some(run.searches as f64));
    figures.set("search_create_s", Some(run.create_s));
    figures.notes.extend(run.unexpected.describe("search"));
    if let Some(first) = run.typo_miss {
        figures.notes.push(format!("search: \"Hamlte\" found {first} first, not a Hamlet"));
    }
    Ok(())
}
