//! The mail phase (issue 17): the outbox's sender handing mails to a real SMTP server on
//! loopback (`tools/mail/smtp_sink.py`, aiosmtpd from the project venv), and what its draining
//! does to holds served by the same process.
//!
//! - Throughput: `confirmations` bookings of two seats are paid through the API of the bench's
//!   server (which runs no sender, so their confirmations wait in the outbox), then one
//!   `proeventa send-mail` renders each (text, HTML, a PDF per ticket, an `.ics`) and hands it to
//!   the sink: mails received by the sink per second of that run (process start and migration
//!   check included: a few milliseconds).
//! - Holds before and during a burst: a second server on the same store, with its sender pointed
//!   at the sink, answers a steady trickle of single-seat holds (`HOLD_CLIENTS` clients, each one
//!   hold every `HOLD_EVERY`) for `window` with nothing to send: p99 *before*. It is stopped, a
//!   burst of `burst` confirmations is paid through the bench's server (pending), and it is started
//!   again: its sender drains the burst while the same trickle of holds runs, p99 *during*, until
//!   the sink has every mail of the burst. Both windows start right after a start, so both see
//!   the same fresh process.
//!
//! What the earlier phases left in the outbox (their accounts' welcomes and the door's
//! confirmations) is first written to a folder by `send-mail` with `MAIL_URL=file://…`, not
//! measured, so that the sink receives only this phase's mails.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::door::sold_out_event;
use crate::fixtures::{Fixture, Unexpected, event_body, expect, send, text, venue_body};
use crate::http::{Call, Client};
use crate::procs::{self, Guarded, ServerSpec};
use crate::scenarios::Figures;
use crate::util::{Context, Latencies, Res};

/// Clients of the trickle of holds, and how often each holds a seat: a steady load well below
/// the store's capacity, so that a change of p99 is the sender's doing, not a queue's.
const HOLD_CLIENTS: usize = 4;
const HOLD_EVERY: Duration = Duration::from_millis(50);
/// Not measured at the start of each window: the process's first connections.
const HOLD_WARMUP: Duration = Duration::from_millis(300);
/// Seats of the event the trickle holds (one seat a hold, never the same twice).
const HOLD_SEATS: usize = 16_000;
/// Seats of each paid booking.
const BOOKING_SEATS: usize = 2;
/// Longest the sender may take to drain the burst.
const DRAIN_LIMIT: Duration = Duration::from_secs(900);

/// The phase's sizes: the issue's with a full run, smaller with `--quick`.
pub struct MailSizes {
    pub confirmations: usize,
    pub burst: usize,
    pub window: Duration,
}

impl MailSizes {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self { confirmations: 50, burst: 200, window: Duration::from_secs(3) }
        } else {
            Self { confirmations: 200, burst: 2_000, window: Duration::from_secs(5) }
        }
    }
}

/// The phase's figures.
pub struct MailRun {
    /// Messages the earlier phases left, written to a folder first.
    pub backlog: usize,
    pub sent: usize,
    pub per_second: f64,
    pub hold_p99_before_ms: Option<f64>,
    pub holds_before: usize,
    pub hold_p99_during_ms: Option<f64>,
    pub holds_during: usize,
    /// From the restart until the sink had every mail of the burst.
    pub drain_s: f64,
    /// The trickle took every seat of its event before the drain ended: "during" covers its first part.
    pub holds_ran_out: bool,
    pub unexpected: Unexpected,
}

/// The SMTP sink, stopped when dropped.
struct Sink {
    _process: Guarded,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start(out: &Path, name: &str) -> Res<Self> {
        let port = procs::free_port()?;
        let dir = out.join(format!("{name}-mail-sink"));
        let _ = std::fs::remove_dir_all(&dir);
        let python = [".venv/bin/python", "../.venv/bin/python"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("no .venv/bin/python (make venv): the SMTP sink runs on aiosmtpd")?;
        let mut command = Command::new(python);
        command
            .arg("tools/mail/smtp_sink.py")
            .arg(port.to_string())
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut process = Guarded::spawn(command, "the SMTP sink")?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if process.exited().is_some() || started.elapsed() > Duration::from_secs(20) {
                return Err("the SMTP sink (tools/mail/smtp_sink.py) did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { _process: process, port, dir })
    }

    /// Mails received so far (the sink renames each into place once whole).
    fn received(&self) -> usize {
        eml_files(&self.dir)
    }
}

fn eml_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()
    })
}

/// The bench's server configuration with another `MAIL_URL`.
fn with_mail(spec: &ServerSpec, mail_url: String) -> ServerSpec {
    let mut spec = spec.clone();
    spec.env.retain(|(key, _)| key != "MAIL_URL");
    spec.env.push(("MAIL_URL".into(), mail_url));
    spec
}

pub async fn run(fx: &Fixture, spec: &ServerSpec, name: &str, clients: usize, sizes: &MailSizes) -> Res<MailRun> {
    let backlog_dir = spec.log_dir.join(format!("{name}-mail-backlog"));
    let _ = std::fs::remove_dir_all(&backlog_dir);
    let absolute = std::path::absolute(&backlog_dir).context("the backlog folder")?;
    with_mail(spec, format!("file://{}", absolute.display()))
        .run(&["send-mail"], &format!("{name}-mail-backlog.log"))?;
    let backlog = eml_files(&backlog_dir);

    let sink = Sink::start(&spec.log_dir, name)?;
    let smtp = with_mail(spec, format!("smtp://127.0.0.1:{}", sink.port));

    // Throughput: confirmations waiting, then one send-mail.
    sold_out_event(fx, clients, "Mail night", sizes.confirmations * BOOKING_SEATS, BOOKING_SEATS).await?;
    let started = Instant::now();
    smtp.run(&["send-mail"], &format!("{name}-mail-send.log"))?;
    let took = started.elapsed().as_secs_f64().max(1e-3);
    let sent = sink.received();
    if sent != sizes.confirmations {
        return Err(format!("send-mail handed {sent} mails to the sink for {} confirmations", sizes.confirmations));
    }

    // Holds before and during a burst, on a server whose sender mails to the sink.
    let (event_id, seats) = hold_event(fx).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let log = format!("{name}-mail-server.log");
    let server = smtp.start(&log, Duration::from_secs(60))?;
    let before = trickle(fx, server.addr, &event_id, &seats, &next, Until::Elapsed(sizes.window)).await;
    drop(server);
    let (before, before_unexpected, _) = before?;

    let burst_before = sink.received();
    sold_out_event(fx, clients, "Mail burst", sizes.burst * BOOKING_SEATS, BOOKING_SEATS).await?;
    let restarted = Instant::now();
    let server = smtp.start(&log, Duration::from_secs(60))?;
    let until = Until::Received { sink: &sink, count: burst_before + sizes.burst, limit: DRAIN_LIMIT };
    let during = trickle(fx, server.addr, &event_id, &seats, &next, until).await;
    // Holds that ran out of seats measured the drain's first part only; the drain is waited for.
    while sink.received() < burst_before + sizes.burst && restarted.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_s = restarted.elapsed().as_secs_f64();
    drop(server);
    let (during, during_unexpected, holds_ran_out) = during?;
    if sink.received() < burst_before + sizes.burst {
        return Err(format!(
            "the sender mailed {} of the burst's {} confirmations in {} s",
            sink.received() - burst_before,
            sizes.burst,
            DRAIN_LIMIT.as_secs()
        ));
    }
    let mut unexpected = before_unexpected;
    unexpected.merge(during_unexpected);
    let (mut before, mut during) = (before, during);
    Ok(MailRun {
        backlog,
        sent,
        per_second: sent as f64 / took,
        holds_before: before.count(),
        hold_p99_before_ms: before.quantile_ms(0.99),
        holds_during: during.count(),
        hold_p99_during_ms: during.quantile_ms(0.99),
        drain_s,
        holds_ran_out,
        unexpected,
    })
}

/// A new event whose seats only the trickle of holds takes.
async fn hold_event(fx: &Fixture) -> Res<(String, Arc<Vec<String>>)> {
    let mut client = Client::connect(fx.addr).await?;
    let rows = vec![200; HOLD_SEATS / 200];
    let call = Call::post("/events/venues", venue_body("Mail holds", &rows)).token(&fx.admin_token);
    let venue = expect(&mut client, call, 201).await?;
    let seats = crate::fixtures::seat_ids(&venue)?;
    let call = Call::post("/events/events", event_body(&text(&venue, "id")?, "Mail holds")).token(&fx.admin_token);
    let event_id = text(&expect(&mut client, call, 201).await?, "id")?;
    Ok((event_id, Arc::new(seats)))
}

/// When a trickle stops.
enum Until<'a> {
    Elapsed(Duration),
    /// The sink has received `count` mails (or `limit` has passed).
    Received {
        sink: &'a Sink,
        count: usize,
        limit: Duration,
    },
}

/// `HOLD_CLIENTS` clients each holding the next free seat every `HOLD_EVERY` against `addr`,
/// until `until` or until the event has no seat left (`true`); the latencies after `HOLD_WARMUP`.
async fn trickle(
    fx: &Fixture,
    addr: SocketAddr,
    event_id: &str,
    seats: &Arc<Vec<String>>,
    next: &Arc<AtomicUsize>,
    until: Until<'_>,
) -> Res<(Latencies, Unexpected, bool)> {
    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tokens: Arc<Vec<String>> = Arc::new(fx.buyers.iter().map(|buyer| buyer.token.clone()).collect());
    let mut tasks = Vec::with_capacity(HOLD_CLIENTS);
    for _ in 0..HOLD_CLIENTS {
        let mut client = Client::connect(addr).await?;
        let (seats, next, stop, tokens) = (seats.clone(), next.clone(), stop.clone(), tokens.clone());
        let event_id = event_id.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::with_capacity(4_096);
            let mut unexpected = Unexpected::default();
            let mut tick = tokio::time::interval(HOLD_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(seat) = seats.get(k) else { break };
                let body = Bytes::from(format!(r#"{{"event_id":"{event_id}","seat_id":"{seat}"}}"#));
                let call = Call::post("/reservations/reservations/reserve", body).token(&tokens[k % tokens.len()]);
                match send(&mut client, call).await {
                    Ok(answer) if answer.status == 201 => {
                        if started.elapsed() >= HOLD_WARMUP {
                            latencies.record(answer.took);
                        }
                    }
                    Ok(answer) => unexpected.status(&answer),
                    Err(e) => {
                        unexpected.transport(e);
                        break;
                    }
                }
            }
            (latencies, unexpected)
        }));
    }
    loop {
        let done = match &until {
            Until::Elapsed(window) => started.elapsed() >= *window,
            Until::Received { sink, count, limit } => sink.received() >= *count || started.elapsed() >= *limit,
        };
        if done || next.load(Ordering::Relaxed) >= seats.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Latencies::default();
    let mut unexpected = Unexpected::default();
    for task in tasks {
        let (l, u) = task.await.context("a hold client panicked")?;
        latencies.merge(l);
        unexpected.merge(u);
    }
    Ok((latencies, unexpected, next.load(Ordering::Relaxed) >= seats.len()))
}

/// Runs the phase on one backend and writes its figures (or why it failed) into `figures`.
pub async fn phase(fx: &Fixture, spec: &ServerSpec, name: &str, clients: usize, quick: bool, figures: &mut Figures) {
    let sizes = MailSizes::new(quick);
    crate::say(&format!(
        "[{name}] mail: {} confirmations sent to an SMTP sink; holds before and during a burst of {}",
        sizes.confirmations, sizes.burst
    ));
    match crate::within("mail", DRAIN_LIMIT + Duration::from_secs(600), run(fx, spec, name, clients, &sizes)).await {
        Ok(run) => {
            crate::say(&format!(
                "[{name}]   {:.1} mails/s to SMTP ({} sent; {} left by earlier phases written to a folder first); \
                 hold p99 {:.1} ms before ({} holds), {:.1} ms while {} confirmations drained ({} holds, {:.1} s)",
                run.per_second,
                run.sent,
                run.backlog,
                run.hold_p99_before_ms.unwrap_or(f64::NAN),
                run.holds_before,
                run.hold_p99_during_ms.unwrap_or(f64::NAN),
                sizes.burst,
                run.holds_during,
                run.drain_s
            ));
            figures.set("mail_per_s", Some(run.per_second));
            figures.set("mail_hold_p99_before_ms", run.hold_p99_before_ms);
            figures.set("mail_hold_p99_during_ms", run.hold_p99_during_ms);
            figures.set("mail_burst_drain_s", Some(run.drain_s));
            figures.notes.extend(run.unexpected.describe("mail phase holds"));
            if run.holds_ran_out {
                figures.notes.push(format!(
                    "mail: the holds took all {HOLD_SEATS} seats of their event before the burst was drained; \
                     the p99 during covers the drain's first {} holds",
                    run.holds_during
                ));
            }
        }
        Err(e) => figures.notes.push(e),
    }
}
