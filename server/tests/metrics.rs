//! `GET /metrics` of a real `proeventa serve --demo`: Prometheus text that the reference parser
//! (`prometheus_client` from the project venv, `make venv`) accepts, whose counters move by
//! exactly what a known sequence of requests did (three holds won, one lost, one payment), whose
//! outbox depth gauges show what the sender left after a known sequence of mail (one welcome
//! delivered, one refused for good, one for now, by a real SMTP server), served on its own
//! loopback port and never on the API's.
//!
//! The server and the SMTP server are killed when the test ends, even by a panic; the SQLite file
//! is a temp file.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proeventa_testkit::TempSqlite;
use proeventa_testkit::smtp::{SmtpSink, free_port};
use serde_json::{Value, json};
use support::{ADMIN, Answer, CUSTOMER, Server, call, free_seats, login};

/// How long the sender may take to settle the messages of the sequence (it passes every 2 s): a
/// deadline for giving up, never a measurement.
const SETTLED_WITHIN: Duration = Duration::from_secs(60);

async fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    call(addr, method, path, token, body).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Every sample of a scrape as `name{label="value",…}` → value, read by `prometheus_client`'s
/// parser: a text it refuses fails the test.
fn parse_with_prometheus_client(text: &str) -> BTreeMap<String, f64> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python3");
    assert!(python.exists(), "{} is missing: run `make venv` (it installs prometheus-client)", python.display());
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("feed the scrape");
    let output = child.wait_with_output().expect("the parser ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("No module named 'prometheus_client'"), "prometheus-client is missing: run `make venv`");
    assert!(output.status.success(), "prometheus_client refused the scrape: {stderr}\n{text}");
    serde_json::from_slice(&output.stdout).expect("the parser's JSON")
}

async fn scrape(server: &Server) -> BTreeMap<String, f64> {
    let answer = request(&server.metrics, "GET", "/metrics", None, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.content_type.starts_with("text/plain; version=0.0.4"), "{}", answer.content_type);
    parse_with_prometheus_client(&answer.text)
}

/// How much a sample grew between two scrapes (a sample absent before counts from 0).
fn grew(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, sample: &str) -> f64 {
    after.get(sample).copied().unwrap_or(0.0) - before.get(sample).copied().unwrap_or(0.0)
}

const PENDING: &str = r#"proeventa_outbox_depth{status="pending"}"#;
const FAILED: &str = r#"proeventa_outbox_depth{status="failed"}"#;

/// Scrapes until `settled` holds for a scrape (the sender passes every 2 s), and returns that
/// scrape; past `SETTLED_WITHIN`, the last one, for the assertions to show.
async fn scrape_until(server: &Server, settled: impl Fn(&BTreeMap<String, f64>) -> bool) -> BTreeMap<String, f64> {
    let started = Instant::now();
    loop {
        let scraped = scrape(server).await;
        if settled(&scraped) || started.elapsed() > SETTLED_WITHIN {
            return scraped;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn signup(server: &Server, email: &str) {
    let body = json!({"email": email, "password": "metrics-password-1"});
    let answer = request(&server.addr, "POST", "/auth/signup", None, Some(body)).await;
    assert_eq!(answer.status, 201, "signup {email}: {:?}", answer.body);
}

#[tokio::test]
async fn metrics_count_holds_payments_and_the_outbox_in_prometheus_text_on_their_own_port() {
    let db = TempSqlite::new("proeventa_metrics");
    // Mail goes to a real SMTP server, which refuses `refused-…` addresses for good and
    // `busy-…` ones for now (tools/mail/smtp_sink.py).
    let mailbox = std::env::temp_dir().join(format!("proeventa-metrics-mail-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&mailbox).expect("a mail folder");
    let smtp_port = free_port();
    let _smtp = SmtpSink::start(smtp_port, &mailbox);
    let mail_url = format!("smtp://127.0.0.1:{smtp_port}");
    let server = Server::start_with(&db.url(), &[("MAIL_URL", mail_url.as_str())]);
    let customer = login(&server.addr, CUSTOMER).await;
    let admin = login(&server.addr, ADMIN).await;

    // Three free seats of one event; a fourth the admin holds first.
    let events = request(&server.addr, "GET", "/events/events?limit=50", None, None).await;
    let mut found = None;
    for event in events.body.as_array().expect("an event list") {
        let Some(id) = event["id"].as_str() else { continue };
        let free = free_seats(&server.addr, id, 4).await;
        if free.len() == 4 {
            found = Some((id.to_owned(), free));
            break;
        }
    }
    let (event, seats) = found.expect("an event with four free seats");
    let reserve = |token: String, seat: String| {
        let (api, body) = (server.addr.clone(), json!({"event_id": event, "seat_id": seat}));
        async move { request(&api, "POST", "/reservations/reservations/reserve", Some(&token), Some(body)).await }
    };
    let answer = reserve(admin.clone(), seats[3].clone()).await;
    assert_eq!(answer.status, 201);

    let before = scrape(&server).await;
    let mut bookings = Vec::new();
    for seat in &seats[..3] {
        let reservation = reserve(customer.clone(), seat.clone()).await;
        assert_eq!(reservation.status, 201, "{:?}", reservation.body);
        bookings.push(reservation.body["booking_id"].as_str().expect("booking_id").to_owned());
    }
    let lost = reserve(customer.clone(), seats[3].clone()).await;
    assert_eq!((lost.status, lost.body["error"].as_str()), (409, Some("seat_unavailable")), "{:?}", lost.body);
    let checkout = json!({"booking_id": bookings[0]});
    let payment = request(&server.addr, "POST", "/payments/checkout", Some(&customer), Some(checkout)).await;
    assert_eq!(payment.status, 201, "{:?}", payment.body);
    let payment_id = payment.body["id"].as_str().expect("payment id").to_owned();
    let card = json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2039, "cvc": "123"});
    let confirm = format!("/payments/{payment_id}/confirm");
    let paid = request(&server.addr, "POST", &confirm, Some(&customer), Some(card)).await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    let after = scrape(&server).await;

    let reserve_route = r#"method="POST",route="/reservations/reservations/reserve""#;
    for (sample, by) in [
        ("proeventa_holds_won_total{}".to_owned(), 3.0),
        ("proeventa_holds_lost_total{}".to_owned(), 1.0),
        ("proeventa_seats_held_total{}".to_owned(), 3.0),
        (r#"proeventa_payments_total{outcome="succeeded"}"#.to_owned(), 1.0),
        ("proeventa_seats_sold_total{}".to_owned(), 1.0),
        (format!(r#"proeventa_http_requests_total{{{reserve_route},status="201"}}"#), 3.0),
        (format!(r#"proeventa_http_requests_total{{{reserve_route},status="409"}}"#), 1.0),
        (format!(r#"proeventa_http_request_duration_seconds_count{{{reserve_route},status="201"}}"#), 3.0),
        (
            r#"proeventa_http_requests_total{method="POST",route="/payments/{payment_id}/confirm",status="200"}"#
                .into(),
            1.0,
        ),
        (r#"proeventa_store_errors_total{kind="seats_unavailable"}"#.to_owned(), 1.0),
    ] {
        assert_eq!(grew(&before, &after, &sample), by, "{sample}");
    }
    // SQLite commits holds in batches (store/batch.rs): the four holds made one to four of them,
    // and each hold's wait for its batch was timed.
    let batches = grew(&before, &after, r#"proeventa_batch_size_count{queue="holds"}"#);
    assert!((1.0..=4.0).contains(&batches), "hold batches: {batches}");
    assert_eq!(grew(&before, &after, r#"proeventa_batch_queue_wait_seconds_count{queue="holds"}"#), 4.0);
    assert_eq!(grew(&before, &after, r#"proeventa_payments_total{outcome="declined"}"#), 0.0);
    // Raw paths never become labels: the confirm is counted under its template only.
    assert!(after.keys().all(|k| !k.contains(&payment_id)), "a raw path leaked into a label");

    // The outbox's depth. Once the sender has counted nothing pending, three accounts sign up:
    // one welcome is delivered, one refused for good (failed) and one refused for now (pending,
    // retried in 30 s or more). Whatever the demo and the payment wrote is settled by the round
    // that counts exactly that (sent, as the demo's mail never fails).
    let delivered = scrape_until(&server, |s| s.get(PENDING) == Some(&0.0) && s.contains_key(FAILED)).await;
    assert_eq!(delivered.get(PENDING), Some(&0.0), "the demo's and the payment's mail delivered: {delivered:?}");
    let unique = uuid::Uuid::new_v4().simple().to_string();
    for who in ["welcome", "refused", "busy"] {
        signup(&server, &format!("{who}-{unique}@proeventa.test")).await;
    }
    let failed_before = delivered[FAILED];
    let settled =
        scrape_until(&server, |s| s.get(PENDING) == Some(&1.0) && s.get(FAILED) == Some(&(failed_before + 1.0))).await;
    assert_eq!(settled.get(PENDING), Some(&1.0), "the busy address's welcome waits for a retry: {settled:?}");
    assert_eq!(settled.get(FAILED), Some(&(failed_before + 1.0)), "the refused address's welcome failed");
    let outcome = |outcome: &str| format!(r#"proeventa_outbox_messages_total{{outcome="{outcome}"}}"#);
    assert_eq!(grew(&delivered, &settled, &outcome("failed")), 1.0);
    assert!(grew(&delivered, &settled, &outcome("retrying")) >= 1.0, "the busy welcome is retried");
    // Sent: the deliverable welcome reached the SMTP server, and only it of the three.
    let received: Vec<String> = std::fs::read_dir(&mailbox)
        .expect("the mail folder")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    for (who, mails) in [("welcome", 1), ("refused", 0), ("busy", 0)] {
        let to = format!("{who}-{unique}@proeventa.test");
        assert_eq!(received.iter().filter(|mail| mail.contains(&to)).count(), mails, "mails to {to}");
    }

    // Not on the API port; nothing but /metrics on the metrics port.
    let on_api = request(&server.addr, "GET", "/metrics", None, None).await;
    assert_eq!(on_api.status, 404, "the API port must not serve metrics");
    let health = request(&server.metrics, "GET", "/health", None, None).await;
    assert_eq!(health.status, 404, "the metrics port serves only /metrics");
    assert!(server.metrics.starts_with("127.0.0.1:"), "metrics listen on loopback: {}", server.metrics);
    drop(server);
    let _ = std::fs::remove_dir_all(&mailbox);
}
