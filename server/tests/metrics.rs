//! `GET /metrics` of a real `proeventa serve --demo`: Prometheus text that the reference parser
//! (`prometheus_client` from the project venv, `make venv`) accepts, whose counters move by
//! exactly what a known sequence of requests did (three holds won, one lost, one payment), served
//! on its own loopback port and never on the API's.
//!
//! The server is killed when the test ends, even by a panic; its SQLite file is a temp file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use proeventa_testkit::TempSqlite;
use serde_json::{Value, json};

const JWT_SECRET: &str = "metrics-test-secret-0123456789abcdef0123456789";
const TICKET_SIGNING_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const CUSTOMER: (&str, &str) = ("ana@proeventa.test", "customer-demo-2026");
const ADMIN: (&str, &str) = ("admin@proeventa.test", "admin-demo-2026");
/// Starting includes migrations and seeding the demo (argon2 hashes of its accounts).
const START_BOUND: Duration = Duration::from_secs(60);
const REQUEST_BOUND: Duration = Duration::from_secs(20);

/// A running `proeventa serve --demo` on free ports, SIGKILLed when dropped.
struct Server {
    child: Child,
    api: String,
    metrics: String,
}

impl Server {
    fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_proeventa"))
            .args(["serve", "--demo"])
            .env("DATABASE_URL", database_url)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("SITE_PORT", "0")
            .env("METRICS_PORT", "0")
            .env_remove("METRICS_HOST")
            .env("JWT_SECRET", JWT_SECRET)
            .env("TICKET_SIGNING_KEY", TICKET_SIGNING_KEY)
            .env("MAIL_URL", "none")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the proeventa binary");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let line = line.trim().to_owned();
                let _ = tx.send(line);
            }
        });
        let (mut api, mut metrics) = (None, None);
        while api.is_none() || metrics.is_none() {
            let line = rx.recv_timeout(START_BOUND).expect("proeventa prints its API and metrics addresses");
            if let Some(url) = line.strip_prefix("API") {
                api = Some(url.trim().trim_start_matches("http://").to_owned());
            }
            if let Some(rest) = line.strip_prefix("metrics") {
                let url = rest.split_whitespace().next().expect("the metrics URL");
                metrics = Some(url.trim_start_matches("http://").trim_end_matches("/metrics").to_owned());
            }
        }
        Self { child, api: api.unwrap_or_default(), metrics: metrics.unwrap_or_default() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection: the status, the content type and the body.
fn call(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(REQUEST_BOUND)).expect("a read timeout");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("receive");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim()))
        .unwrap_or("")
        .to_owned();
    (status, content_type, String::from_utf8_lossy(&payload).into_owned())
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < line_end + 2 + size {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[(line_end + 4 + size).min(data.len())..];
    }
    out
}

fn json_call(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let (status, _, text) = call(addr, method, path, token, body);
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn login(addr: &str, (email, password): (&str, &str)) -> String {
    let (status, body) =
        json_call(addr, "POST", "/auth/login", None, Some(json!({"email": email, "password": password})));
    assert_eq!(status, 200, "login {email}: {body}");
    body["access_token"].as_str().expect("access_token").to_owned()
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

fn scrape(server: &Server) -> BTreeMap<String, f64> {
    let (status, content_type, text) = call(&server.metrics, "GET", "/metrics", None, None);
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse_with_prometheus_client(&text)
}

/// How much a sample grew between two scrapes (a sample absent before counts from 0).
fn grew(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, sample: &str) -> f64 {
    after.get(sample).copied().unwrap_or(0.0) - before.get(sample).copied().unwrap_or(0.0)
}

#[test]
fn metrics_count_holds_and_payments_in_prometheus_text_on_their_own_port() {
    let db = TempSqlite::new("proeventa_metrics");
    let server = Server::start(&db.url());
    let customer = login(&server.api, CUSTOMER);
    let admin = login(&server.api, ADMIN);

    // Three free seats of one event; a fourth the admin holds first.
    let (_, events) = json_call(&server.api, "GET", "/events/events?limit=50", None, None);
    let (event, seats) = events
        .as_array()
        .expect("an event list")
        .iter()
        .filter_map(|event| {
            let id = event["id"].as_str()?.to_owned();
            let (_, map) = json_call(&server.api, "GET", &format!("/events/events/{id}/seats"), None, None);
            let free: Vec<String> = map
                .as_array()?
                .iter()
                .filter(|s| s["status"] == "available")
                .filter_map(|s| s["seat_id"].as_str().map(str::to_owned))
                .take(4)
                .collect();
            (free.len() == 4).then_some((id, free))
        })
        .next()
        .expect("an event with four free seats");
    let reserve = |token: &str, seat: &str| {
        json_call(
            &server.api,
            "POST",
            "/reservations/reservations/reserve",
            Some(token),
            Some(json!({"event_id": event, "seat_id": seat})),
        )
    };
    let (status, _) = reserve(&admin, &seats[3]);
    assert_eq!(status, 201);

    let before = scrape(&server);
    let mut bookings = Vec::new();
    for seat in &seats[..3] {
        let (status, reservation) = reserve(&customer, seat);
        assert_eq!(status, 201, "{reservation}");
        bookings.push(reservation["booking_id"].as_str().expect("booking_id").to_owned());
    }
    let (status, lost) = reserve(&customer, &seats[3]);
    assert_eq!((status, lost["error"].as_str()), (409, Some("seat_unavailable")), "{lost}");
    let (status, payment) =
        json_call(&server.api, "POST", "/payments/checkout", Some(&customer), Some(json!({"booking_id": bookings[0]})));
    assert_eq!(status, 201, "{payment}");
    let card = json!({"card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2039, "cvc": "123"});
    let confirm = format!("/payments/{}/confirm", payment["id"].as_str().expect("payment id"));
    let (status, paid) = json_call(&server.api, "POST", &confirm, Some(&customer), Some(card));
    assert_eq!(status, 200, "{paid}");
    let after = scrape(&server);

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
    assert!(after.keys().all(|k| !k.contains(payment["id"].as_str().unwrap_or("?"))), "a raw path leaked into a label");

    // Not on the API port; nothing but /metrics on the metrics port.
    let (status, _, _) = call(&server.api, "GET", "/metrics", None, None);
    assert_eq!(status, 404, "the API port must not serve metrics");
    let (status, _, _) = call(&server.metrics, "GET", "/health", None, None);
    assert_eq!(status, 404, "the metrics port serves only /metrics");
    assert!(server.metrics.starts_with("127.0.0.1:"), "metrics listen on loopback: {}", server.metrics);
}
