//! `proeventa-bench` (`make bench`): starts `proeventa serve` on SQLite, PostgreSQL and DynamoDB
//! Local in turn, loads it over loopback, and prints one table next to the FastAPI yardstick
//! and the targets; also `target/bench/results.json` and `target/bench/chart.svg`.

mod backends;
mod best;
mod ceiling;
mod cli;
mod cost;
mod door;
mod fixtures;
mod http;
mod mail;
mod onsale;
mod procs;
mod queue;
mod report;
mod reports;
mod scenarios;
mod search;
mod states;
mod util;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use backends::Backend;
use cli::{Args, Phase, USAGE, parse_args};
use report::Outcome;
use scenarios::Figures;
use util::{Context, Res};

const ADMIN_EMAIL: &str = "bench-admin@proeventa.test";
const ADMIN_PASSWORD: &str = "bench-admin-password";
/// Longest a server may take to answer its first `/health` (PostgreSQL migrations included).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("proeventa-bench: {problem}\n");
            }
            eprintln!("{USAGE}");
            return if problem.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    // One single-threaded runtime: the load generator shares two cores with the server, and
    // keep-alive connections need no more than one core to drive it.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("proeventa-bench: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ctrl-C drops the run, and with it every guard: servers and java stopped, the database dropped.
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(args) => result,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proeventa-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Res<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).context(format!("creating {}", args.out.display()))?;
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("where is this binary")?.with_file_name("proeventa"),
    };
    if !binary.is_file() {
        return Err(format!("no server binary at {} (cargo build -p proeventa, or --server)", binary.display()));
    }
    let machine = machine();
    let (m_cost, t_cost, p_cost) = proeventa_core::auth::ARGON2_COST;
    let argon = format!("argon2id m={m_cost} KiB ({} MiB), t={t_cost}, p={p_cost}", m_cost / 1024);
    say(&format!(
        "server {} · {} · {} · {}",
        binary.display(),
        machine["cpu"].as_str().unwrap_or("?"),
        machine["summary"].as_str().unwrap_or("?"),
        if args.quick { "QUICK run" } else { "full run" }
    ));
    let run_id = format!("{}_{}", std::process::id(), chrono::Utc::now().timestamp());
    let load_before = load_average();
    let mut outcomes = Vec::new();
    for backend in &args.backends {
        let began = Instant::now();
        say(&format!("[{}] preparing", backend.name()));
        let result = measure(*backend, &args, &binary, &run_id).await;
        if let Err(reason) = &result {
            say(&format!("[{}] {reason}", backend.name()));
        }
        outcomes.push(Outcome { backend: *backend, result, seconds: began.elapsed().as_secs_f64() });
    }
    let table = report::table(&args.plan, &outcomes);
    println!();
    println!("{table}");
    println!("login cost: {argon}");
    let load_after = load_average();
    // The bench shares the machine: a load above the core count means the figures are low.
    println!(
        "machine: {}; load average {load_before} before, {load_after} after (other work on the machine lowers every figure)",
        machine["summary"].as_str().unwrap_or("?")
    );
    let mut json = report::json(&args.plan, &outcomes, &machine);
    json["argon2id"] = serde_json::json!({"m_cost_kib": m_cost, "t_cost": t_cost, "p_cost": p_cost});
    json["quick"] = args.quick.into();
    json["machine"]["load_average_before"] = load_before.into();
    json["machine"]["load_average_after"] = load_after.into();
    json["seconds"] = started.elapsed().as_secs_f64().into();
    let json_path = args.out.join("results.json");
    let text = serde_json::to_string_pretty(&json).context("encoding results")?;
    std::fs::write(&json_path, text).context(format!("writing {}", json_path.display()))?;
    let chart_path = args.out.join("chart.svg");
    let subtitle =
        format!("{} · {}", machine["summary"].as_str().unwrap_or("?"), if args.quick { "quick" } else { "full" });
    report::chart(&args.plan, &outcomes, &chart_path, &subtitle)?;
    println!(
        "written: {} and {}  ({:.0} s)",
        json_path.display(),
        chart_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn say(line: &str) {
    eprintln!("bench {}  {line}", chrono::Utc::now().format("%H:%M:%S"));
}

/// The 1-minute load average, from /proc/loadavg.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// `nproc` and the CPU model, for the report.
fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    serde_json::json!({"cores": cores, "cpu": cpu, "summary": format!("{cores} cores, {cpu}")})
}

/// A rate limit no scenario reaches (see `measure`).
const CROWD_LIMIT: &str = "100000000";

/// One backend from an empty store to its figures. `Err` means it could not be measured at all.
async fn measure(backend: Backend, args: &Args, binary: &std::path::Path, run_id: &str) -> Result<Figures, String> {
    let name = backend.name();
    let plan = &args.plan;
    let runs = |phase: Phase| args.phases.contains(&phase);
    let prepared = backend.prepare(run_id).await.map_err(|e| format!("not available: {e}"))?;
    let jwt_secret = format!("bench-{}", proeventa_core::auth::random_secret());
    let ticket_key = proeventa_core::tickets::TicketKeys::generate_secret();
    let server_log_level = std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned());
    let mut env = prepared.env.clone();
    env.extend(
        [
            ("JWT_SECRET", jwt_secret.as_str()),
            ("TICKET_SIGNING_KEY", ticket_key.as_str()),
            ("WEBHOOK_SECRET", "bench-webhook-secret"),
            // No sender runs: the phases measure the API and the store as before the outbox; the
            // messages they write stay pending.
            ("MAIL_URL", "none"),
            ("RUST_LOG", server_log_level.as_str()),
            ("LOG_FORMAT", "pretty"),
            ("NO_COLOR", "1"),
            // The bench is a crowd behind one address (loopback): the per-address limits are
            // raised out of its way, while every request still counts in the store as usual.
            ("LOGIN_LIMIT_PER_ADDRESS", CROWD_LIMIT),
            ("SIGNUP_LIMIT_PER_HOUR", CROWD_LIMIT),
            ("RESERVE_LIMIT_PER_ADDRESS_PER_MINUTE", CROWD_LIMIT),
            ("RESERVE_LIMIT_PER_MINUTE", CROWD_LIMIT),
            // The hold run's accounts take turns: each holds ~4 seats of an event (2,000 seats,
            // 500 accounts), ~20 with --quick's 100, and the steady-state holds are one account's:
            // the limit is raised so that they can. Every hold still reads and takes its
            // account's hold slots.
            ("MAX_HELD_SEATS_PER_USER", "1000"),
            // The door's phases buy thousands of tickets through 64 connections from loopback:
            // every confirm counts a card try before the provider sees the card.
            ("DECLINE_LIMIT_PER_HOUR", CROWD_LIMIT),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    if backend == Backend::Dynamodb && runs(Phase::Cost) {
        // The cost phase prices the units DynamoDB reports (bench/src/cost.rs).
        env.push(("DYNAMODB_CONSUMED_CAPACITY".to_owned(), "1".to_owned()));
    }
    let spec = procs::ServerSpec { binary: binary.to_owned(), env, log_dir: args.out.clone() };
    spec.run(&["migrate"], &format!("{name}-migrate.log")).map_err(|e| format!("not available: {e}"))?;
    spec.run(&["create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD], &format!("{name}-admin.log"))
        .map_err(|e| format!("failed: create-admin: {e}"))?;
    let server_log = format!("{name}-server.log");
    let _ = std::fs::remove_file(args.out.join(&server_log));
    // The cost phase reads the server's /metrics: the measured server gets a port of its own.
    let metrics_addr =
        if runs(Phase::Cost) { Some(std::net::SocketAddr::from(([127, 0, 0, 1], procs::free_port()?))) } else { None };
    let mut measured = spec.clone();
    if let Some(addr) = metrics_addr {
        measured.env.push(("METRICS_PORT".to_owned(), addr.port().to_string()));
    }
    let mut server = measured.start(&server_log, READY_TIMEOUT).map_err(|e| format!("failed: serve: {e}"))?;
    let addr = server.addr;
    let pid = server.process.pid();
    let mut figures = Figures::default();

    let setup = async {
        let admin_token = fixtures::admin_login(addr, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        // The hold run and the flash sale take turns over all the accounts; the other phases need
        // one a client (the logins, a few of them).
        let many = [Phase::Holds, Phase::Hot, Phase::Flash, Phase::SellOut].into_iter().any(runs);
        let users = if many { plan.users() } else { plan.clients.max(plan.login_users) };
        say(&format!("[{name}] signing up {users} buyers (argon2id each)"));
        let buyers = fixtures::sign_up(addr, users, plan.clients, &jwt_secret).await?;
        let first = buyers.first().context("no buyers")?.clone();
        let (venue, seats, probe) = fixtures::create_big_venue_and_probe(addr, &admin_token, &first).await?;
        let fixture = fixtures::seed_rest(addr, plan, &admin_token, buyers, venue, seats).await?;
        Ok::<_, String>((fixture, probe))
    };
    let (fx, probe) = within("seeding", Duration::from_secs(300), setup).await.map_err(|e| {
        // The server's own account of a failure (a 500 says only that it was logged).
        let logged = procs::log_problems(&server.log).into_iter().find(|l| l.contains("ERROR"));
        format!("failed: {e}{}", logged.map(|l| format!("; server log: {l}")).unwrap_or_default())
    })?;
    figures.set("rss_seeded_mb", procs::memory_mb(pid).map(|(rss, _)| rss));
    figures.set("fresh_map_ms", Some(probe.first_map_ms));
    figures.set("fresh_hold_ms", Some(probe.first_hold_ms));
    figures.set("fresh_holds_max_ms", Some(probe.first_holds_max_ms));

    let onsale = if [Phase::Fresh, Phase::Hot, Phase::Ceiling, Phase::SellOut].into_iter().any(runs) {
        say(&format!("[{name}] on-sale venue: {} seats", plan.hot_seats));
        match within("on-sale seeding", Duration::from_secs(300), onsale::seed(&fx, plan)).await {
            Ok(onsale) => Some(onsale),
            Err(e) => {
                figures.notes.push(e);
                None
            }
        }
    } else {
        None
    };
    let database_url = prepared.env.iter().find(|(k, _)| k == "DATABASE_URL").map(|(_, v)| v.clone());
    let mut fresh_rate = None;
    if let (true, Some(onsale)) = (runs(Phase::Fresh), &onsale) {
        say(&format!(
            "[{name}] fresh store: ANALYZE of the seeded store, then holds on one event, {:?} from the first",
            plan.fresh_duration
        ));
        let fresh = async {
            onsale::analyze(database_url.as_deref().unwrap_or_default()).await?;
            let load = scenarios::HoldLoad {
                events: onsale.fresh_events.clone(),
                seats: onsale.seats.clone(),
                warmup: Duration::ZERO,
                duration: plan.fresh_duration,
            };
            scenarios::hold_run(&fx, plan, &load, pid).await
        };
        match within("fresh store", plan.fresh_duration + Duration::from_secs(60), fresh).await {
            Ok(run) => {
                say(&format!(
                    "[{name}]   {:.0} holds/s, p99 {:.1} ms, {} held",
                    run.per_second,
                    run.p99_ms.unwrap_or(f64::NAN),
                    run.held
                ));
                fresh_rate = Some(run.per_second);
                figures.set("fresh_holds_per_s", Some(run.per_second));
                figures.set("fresh_hold_p99_ms", run.p99_ms);
                figures.notes.extend(run.unexpected.describe("fresh store"));
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Holds) {
        say(&format!(
            "[{name}] holds: {} clients, {:?} after {:?} warm-up",
            plan.clients, plan.hold_duration, plan.hold_warmup
        ));
        match within(
            "holds",
            plan.hold_warmup + plan.hold_duration + Duration::from_secs(60),
            scenarios::holds(&fx, plan, pid),
        )
        .await
        {
            Ok(run) => {
                say(&format!(
                    "[{name}]   {:.0} holds/s, p99 {:.1} ms, {} held{}",
                    run.per_second,
                    run.p99_ms.unwrap_or(f64::NAN),
                    run.held,
                    if run.ran_out_of_seats { " (ran out of seats before the end)" } else { "" }
                ));
                figures.set("holds_per_s", Some(run.per_second));
                figures.set("hold_p50_ms", run.p50_ms);
                figures.set("hold_p99_ms", run.p99_ms);
                figures.set("hold_unexpected", Some(run.unexpected.total() as f64));
                figures.set("rss_max_mb", run.rss_max_mb);
                figures.set("rss_after_mb", run.rss_after_mb);
                figures.set("hwm_mb", run.hwm_mb);
                figures.notes.extend(run.unexpected.describe("holds"));
                if run.ran_out_of_seats {
                    figures
                        .notes
                        .push(format!("holds: all {} prepared seats were held before the window closed", run.held));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if let (true, Some(onsale)) = (runs(Phase::Hot), &onsale) {
        say(&format!(
            "[{name}] hot event: {} clients on one {}-seat event at a time, {:?} after {:?} warm-up",
            plan.clients,
            onsale.seats.len(),
            plan.hold_duration,
            plan.hold_warmup
        ));
        let load = scenarios::HoldLoad {
            events: onsale.hot_events.clone(),
            seats: onsale.seats.clone(),
            warmup: plan.hold_warmup,
            duration: plan.hold_duration,
        };
        let limit = plan.hold_warmup + plan.hold_duration + Duration::from_secs(60);
        match within("hot event", limit, scenarios::hold_run(&fx, plan, &load, pid)).await {
            Ok(run) => {
                say(&format!(
                    "[{name}]   {:.0} holds/s, p99 {:.1} ms, {} held",
                    run.per_second,
                    run.p99_ms.unwrap_or(f64::NAN),
                    run.held
                ));
                figures.set("hot_holds_per_s", Some(run.per_second));
                figures.set("hot_hold_p50_ms", run.p50_ms);
                figures.set("hot_hold_p99_ms", run.p99_ms);
                figures.set("hot_unexpected", Some(run.unexpected.total() as f64));
                figures.set("fresh_of_steady_pct", fresh_rate.map(|fresh| 100.0 * fresh / run.per_second.max(1e-9)));
                figures.notes.extend(run.unexpected.describe("hot event"));
                if run.ran_out_of_seats {
                    figures
                        .notes
                        .push(format!("hot event: all {} prepared seats held before the window closed", run.held));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Best) {
        best::run(&fx, plan, name, &mut figures).await;
    }

    if let (true, Some(onsale), Some(url)) = (runs(Phase::Ceiling), &onsale, &database_url)
        && backend.holds_are_judged()
    {
        say(&format!(
            "[{name}] store ceiling: {} callers on the store itself, no HTTP, {:?} after {:?} warm-up",
            plan.clients, plan.hold_duration, plan.hold_warmup
        ));
        let load = ceiling::CeilingLoad {
            database_url: url.clone(),
            events: onsale.ceiling_events.clone(),
            seats: onsale.seats.to_vec(),
            users: fx.buyers.iter().map(|b| b.id.clone()).collect(),
            callers: plan.clients,
            warmup: plan.hold_warmup,
            duration: plan.hold_duration,
        };
        let limit = plan.hold_warmup + plan.hold_duration + Duration::from_secs(60);
        match within("store ceiling", limit, ceiling::measure(load)).await {
            Ok(ceiling) => {
                let fraction =
                    figures.values.get("hot_holds_per_s").map(|http| 100.0 * http / ceiling.per_second.max(1e-9));
                say(&format!(
                    "[{name}]   {:.0} holds/s, p99 {:.1} ms ({} held, {} refused); HTTP hot event = {}",
                    ceiling.per_second,
                    ceiling.p99_ms.unwrap_or(f64::NAN),
                    ceiling.held,
                    ceiling.refused,
                    fraction.map_or("-".to_owned(), |f| format!("{f:.0} % of it"))
                ));
                figures.set("ceiling_holds_per_s", Some(ceiling.per_second));
                figures.set("ceiling_p99_ms", ceiling.p99_ms);
                figures.set("http_of_ceiling_pct", fraction);
                if ceiling.refused > 0 {
                    figures.notes.push(format!("store ceiling: {} holds refused", ceiling.refused));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Flash) {
        say(&format!("[{name}] flash sale: {} buyers, {} seats", plan.flash_users, plan.flash_seats));
        match within("flash sale", Duration::from_secs(120), scenarios::flash_sale(&fx, plan)).await {
            Ok(sale) => {
                say(&format!(
                    "[{name}]   sold {} (201s {}), oversold {}, 409 losers {}, {} ms",
                    sale.active_reservations_listed,
                    sale.answered_201,
                    sale.oversold,
                    sale.losers_409,
                    sale.took.as_millis()
                ));
                let mismatch = sale
                    .answered_201
                    .abs_diff(sale.active_reservations_listed)
                    .max(sale.answered_201.abs_diff(sale.seats_taken_on_map));
                figures.set("flash_sold", Some(sale.active_reservations_listed as f64));
                figures.set("flash_oversold", Some(sale.oversold as f64));
                figures.set("flash_mismatch", Some(mismatch as f64));
                figures.set("flash_losers_409", Some(sale.losers_409 as f64));
                figures.set("flash_p99_ms", sale.p99_ms);
                figures.set("flash_ms", Some(sale.took.as_secs_f64() * 1000.0));
                figures.notes.extend(sale.unexpected.describe("flash sale"));
                if mismatch > 0 {
                    figures.notes.push(format!(
                        "flash sale: {} answers 201, {} active reservations listed, {} seats taken on the map",
                        sale.answered_201, sale.active_reservations_listed, sale.seats_taken_on_map
                    ));
                }
                let accounted = sale.buyers_with_a_seat + sale.losers_409;
                if accounted != sale.users as u64 {
                    figures.notes.push(format!(
                        "flash sale: {} of {} buyers ended neither with a seat nor with a 409 ({} conflicts seen)",
                        sale.users as u64 - accounted,
                        sale.users,
                        sale.answered_409
                    ));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if let (true, Some(onsale)) = (runs(Phase::SellOut), &onsale) {
        say(&format!(
            "[{name}] sell-out: {} seats, {} buyers arriving over {:?}, up to {} seats tried each",
            onsale.seats.len(),
            plan.sellout_buyers,
            plan.sellout_arrival,
            plan.sellout_tries
        ));
        match within("sell-out", plan.sellout_limit + Duration::from_secs(120), onsale::sell_out(&fx, onsale, plan))
            .await
        {
            Ok(sale) => {
                say(&format!(
                    "[{name}]   sold {} of {} in {}, {:.0} holds/s, p99 {:.1} ms, {} buyers arrived, oversold {}",
                    sale.sold,
                    sale.seats,
                    sale.sold_out_after.map_or("(not sold out)".to_owned(), |d| format!("{} ms", d.as_millis())),
                    sale.holds_per_s,
                    sale.p99_ms.unwrap_or(f64::NAN),
                    sale.buyers_arrived,
                    sale.oversold
                ));
                figures.set("sellout_ms", sale.sold_out_after.map(|d| d.as_secs_f64() * 1000.0));
                figures.set("sellout_holds_per_s", Some(sale.holds_per_s));
                figures.set("sellout_p99_ms", sale.p99_ms);
                figures.set("sellout_sold", Some(sale.sold as f64));
                figures.set("sellout_oversold", Some(sale.oversold as f64));
                figures.set("sellout_mismatch", Some(sale.sold.abs_diff(sale.listed) as f64));
                figures.notes.extend(sale.unexpected.describe("sell-out"));
                if sale.sold_out_after.is_none() {
                    figures.notes.push(format!(
                        "sell-out: {} of {} seats sold when the phase ended ({} buyers arrived)",
                        sale.sold, sale.seats, sale.buyers_arrived
                    ));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Queue) {
        say(&format!(
            "[{name}] waiting room: {} buyers join before the opening of a {}-seat event, poll, and buy as let through",
            plan.queue_buyers, plan.queue_seats
        ));
        let budget = plan.queue_opens_in + plan.queue_limit + Duration::from_secs(300);
        match within("waiting room", budget, queue::on_sale(&fx, plan, &jwt_secret)).await {
            Ok(sale) => {
                say(&format!(
                    "[{name}]   {:.0} joins/s, {:.0} polls/s (p99 {:.2} ms), sold {} of {} in {}, oversold {}, at most {} active (cap {})",
                    sale.joins_per_s,
                    sale.polls_per_s,
                    sale.poll_p99_ms.unwrap_or(f64::NAN),
                    sale.sold,
                    sale.seats,
                    sale.sold_out_after.map_or("(not sold out)".to_owned(), |d| format!("{} ms", d.as_millis())),
                    sale.oversold,
                    sale.max_active,
                    queue::MAX_ACTIVE_BUYERS
                ));
                figures.set("queue_joins_per_s", Some(sale.joins_per_s));
                figures.set("queue_polls_per_s", Some(sale.polls_per_s));
                figures.set("queue_poll_p99_ms", sale.poll_p99_ms);
                figures.set("queue_sold", Some(sale.sold as f64));
                figures.set("queue_sellout_ms", sale.sold_out_after.map(|d| d.as_secs_f64() * 1000.0));
                figures.set("queue_oversold", Some(sale.oversold as f64));
                figures.set("queue_max_active", Some(sale.max_active as f64));
                figures.notes.extend(sale.unexpected.describe("waiting room"));
                if sale.buyers != plan.queue_buyers {
                    figures.notes.push(format!("waiting room: {} of {} buyers joined", sale.buyers, plan.queue_buyers));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Maps) {
        let maps = async {
            scenarios::mark_map_event(&fx).await?;
            say(&format!("[{name}] seat maps: full bodies, then revalidations, {:?} each", plan.map_duration));
            let full = scenarios::seat_maps(&fx, plan, false).await?;
            let reval = scenarios::seat_maps(&fx, plan, true).await?;
            Ok::<_, String>((full, reval))
        };
        match within("seat maps", 2 * plan.map_duration + Duration::from_secs(90), maps).await {
            Ok((full, reval)) => {
                say(&format!(
                    "[{name}]   {:.0} full/s (p99 {:.1} ms), {:.0} revalidations/s (p99 {:.2} ms)",
                    full.per_second,
                    full.p99_ms.unwrap_or(f64::NAN),
                    reval.per_second,
                    reval.p99_ms.unwrap_or(f64::NAN)
                ));
                figures.set("map_full_per_s", Some(full.per_second));
                figures.set("map_full_p99_ms", full.p99_ms);
                figures.set("map_304_per_s", Some(reval.per_second));
                figures.set("map_304_p99_ms", reval.p99_ms);
                figures.notes.extend(full.unexpected.describe("seat maps (full)"));
                figures.notes.extend(reval.unexpected.describe("seat maps (revalidation)"));
                if reval.changed > 0 {
                    figures
                        .notes
                        .push(format!("seat maps: {} revalidations answered 200 (the map changed)", reval.changed));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::States) {
        let seats = plan.hot_seats;
        say(&format!("[{name}] live seat states: a {seats}-seat event half held in blocks, then revalidations"));
        match within("seat states", plan.map_duration + Duration::from_secs(300), states::phase(&fx, plan)).await {
            Ok(live) => {
                say(&format!(
                    "[{name}]   layout {} bytes, {} gzipped; {} of {} seats held: {} bytes, {} gzipped; \
                     {:.0} revalidations/s (p99 {:.2} ms)",
                    live.layout_plain_bytes,
                    live.layout_gzipped_bytes,
                    live.taken,
                    live.seats,
                    live.plain_bytes,
                    live.gzipped_bytes,
                    live.revalidations.per_second,
                    live.revalidations.p99_ms.unwrap_or(f64::NAN)
                ));
                figures.set("states_gzip_kb", Some(live.gzipped_bytes as f64 / 1024.0));
                figures.set("states_plain_kb", Some(live.plain_bytes as f64 / 1024.0));
                figures.set("layout_gzip_kb", Some(live.layout_gzipped_bytes as f64 / 1024.0));
                figures.set("layout_plain_kb", Some(live.layout_plain_bytes as f64 / 1024.0));
                figures.set("states_304_per_s", Some(live.revalidations.per_second));
                figures.set("states_304_p99_ms", live.revalidations.p99_ms);
                figures.notes.extend(live.unexpected.describe("seat states (holds)"));
                figures.notes.extend(live.revalidations.unexpected.describe("seat states (revalidation)"));
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Logins) {
        say(&format!(
            "[{name}] logins: {} clients over {} accounts, {:?}",
            plan.clients, plan.login_users, plan.login_duration
        ));
        match within("logins", plan.login_duration + Duration::from_secs(60), scenarios::logins(&fx, plan)).await {
            Ok(rate) => {
                say(&format!(
                    "[{name}]   {:.0} logins/s, p99 {:.0} ms",
                    rate.per_second,
                    rate.p99_ms.unwrap_or(f64::NAN)
                ));
                figures.set("login_per_s", Some(rate.per_second));
                figures.set("login_p99_ms", rate.p99_ms);
                figures.notes.extend(rate.unexpected.describe("logins"));
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Door) {
        say(&format!(
            "[{name}] door: {} tickets sold, then each scanned twice by {} gates",
            plan.door_tickets, plan.clients
        ));
        match within("door scans", Duration::from_secs(240), door::scans(&fx, plan.clients, plan.door_tickets)).await {
            Ok(run) => {
                say(&format!(
                    "[{name}]   {:.0} scans/s, p99 {:.1} ms, {} admitted, {} refused as already checked in",
                    run.per_second,
                    run.p99_ms.unwrap_or(f64::NAN),
                    run.admitted,
                    run.refused
                ));
                figures.set("scans_per_s", Some(run.per_second));
                figures.set("scan_p99_ms", run.p99_ms);
                figures.set("scan_admitted_twice", Some(run.admitted.saturating_sub(run.tickets as u64) as f64));
                figures.notes.extend(run.unexpected.describe("door scans"));
                if run.admitted != run.tickets as u64 || run.refused != run.tickets as u64 {
                    figures.notes.push(format!(
                        "door scans: {} tickets scanned twice gave {} admissions and {} refusals",
                        run.tickets, run.admitted, run.refused
                    ));
                }
            }
            Err(e) => figures.notes.push(e),
        }
    }
    if runs(Phase::Manifest) {
        say(&format!("[{name}] manifest: an event of {} tickets", plan.manifest_tickets));
        match within("manifest", Duration::from_secs(600), door::manifest(&fx, plan.clients, plan.manifest_tickets))
            .await
        {
            Ok(probe) => {
                say(&format!(
                    "[{name}]   {} tickets: {} KB, {} KB gzipped, {:.1} ms",
                    probe.tickets,
                    probe.bytes / 1024,
                    probe.gzip_bytes / 1024,
                    probe.ms
                ));
                figures.set("manifest_kb", Some(probe.bytes as f64 / 1024.0));
                figures.set("manifest_gzip_kb", Some(probe.gzip_bytes as f64 / 1024.0));
                figures.set("manifest_ms", Some(probe.ms));
            }
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Cost) {
        let counted = (backend == Backend::Dynamodb).then_some(metrics_addr).flatten();
        let priced = if backend == Backend::Dynamodb {
            Some(cost::Database::DynamoDbOnDemand)
        } else if backend == Backend::Postgres {
            Some(cost::Database::Rds { proxy: false })
        } else {
            None
        };
        say(&format!(
            "[{name}] cost: the purchase flow for a new event, bookings of {} seats, {} clients",
            cost::SEATS_PER_BOOKING,
            plan.clients
        ));
        let flow = cost::purchase(&fx, plan.clients, args.quick, pid, counted);
        match within("cost", Duration::from_secs(600), flow).await {
            Ok(usage) => cost::record(name, &usage, priced, &mut figures),
            Err(e) => figures.notes.push(e),
        }
    }

    if runs(Phase::Mail) {
        mail::phase(&fx, &spec, name, plan.clients, args.quick, &mut figures).await;
    }

    if runs(Phase::Search)
        && let Err(e) =
            within("search", search::BUDGET, search::phase(&fx, plan.clients, args.quick, name, &mut figures)).await
    {
        figures.notes.push(e);
    }

    if runs(Phase::Reports) {
        reports::phase(&fx, plan.clients, name, &mut figures).await;
    }

    if runs(Phase::Steady) {
        match within("steady state", Duration::from_secs(60), scenarios::steady(&fx)).await {
            Ok((map, hold)) => {
                figures.set("steady_map_ms", map);
                figures.set("steady_hold_ms", hold);
            }
            Err(e) => figures.notes.push(e),
        }
    }

    // Start-up is timed on this store as the run left it: migrated, seeded, 100k+ reservations.
    server.process.stop(Duration::from_secs(10));
    let problems = procs::log_problems(&server.log);
    if !problems.is_empty() {
        figures.notes.push(format!(
            "server log: {} WARN/ERROR lines, first: {}",
            problems.len(),
            problems.first().map(String::as_str).unwrap_or("")
        ));
    }
    if runs(Phase::Start) {
        say(&format!("[{name}] start-up: {} runs on the existing store", plan.startup_runs));
        let mut starts = util::Latencies::default();
        for run in 0..plan.startup_runs {
            let port = procs::free_port()?;
            let mut process = spec.spawn(port, &format!("{name}-startup.log"))?;
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            match procs::wait_healthy(addr, &mut process, Duration::from_secs(30)) {
                Ok(_) => starts.record(process.spawned_at.elapsed().min(Duration::from_secs(30))),
                Err(e) => {
                    figures.notes.push(format!("start-up run {run}: {e}"));
                    break;
                }
            }
            process.stop(Duration::from_secs(10));
        }
        figures.set("start_ms", starts.quantile_ms(0.5));
        say(&format!("[{name}]   start to first 200: {:.1} ms (median)", starts.quantile_ms(0.5).unwrap_or(f64::NAN)));
    }
    drop(server);
    drop(prepared);
    Ok(figures)
}

/// A phase bounded in time: a server that stops answering cannot hang the bench.
async fn within<T>(phase: &str, limit: Duration, work: impl std::future::Future<Output = Res<T>>) -> Res<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result.map_err(|e| format!("{phase}: {e}")),
        Err(_) => Err(format!("{phase}: not finished after {limit:?}")),
    }
}
