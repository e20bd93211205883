//! `cargo lambda watch` (the project-local cargo-lambda from `make venv`) started on a free port
//! with SQLite and the root `Cargo.toml`'s router: one request per function on its real path,
//! answered as API.md says, then the watcher and every function it started are stopped.
//!
//! The watcher starts a function with `cargo run --bin <function>`, which builds it with that
//! package's own features (not the workspace's union), so a first request used to wait for a
//! compile of the core crate. The test builds each function the same way first, with cargo's own
//! output on failure, so a request waits only for a process to start and a silent function shows
//! up within a minute, with the watcher's log, instead of at a ten-minute deadline.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{JWT_SECRET, TICKET_SIGNING_KEY, WEBHOOK_SECRET, workspace};
use proeventa_testkit::TempSqlite;
use serde_json::{Value, json};

/// How long to wait for the watcher to listen, and for one answer (the function is built already;
/// its first request starts it). Deadlines for giving up, never measurements.
const LISTEN_WITHIN: Duration = Duration::from_secs(120);
const ANSWER_WITHIN: Duration = Duration::from_secs(90);

/// The functions the test calls, in the order it calls them.
const FUNCTIONS: [&str; 9] = [
    "api-meta",
    "api-auth",
    "api-catalog",
    "api-reservations",
    "api-tickets",
    "api-payments",
    "api-checkin",
    "api-queue",
    "api-admin",
];

/// Builds `function` as the watcher's `cargo run --bin <function>` will, so that run finds it
/// fresh; a compile error fails the test with cargo's message.
fn build_like_the_watcher(function: &str) {
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args(["build", "--manifest-path", "Cargo.toml", "--bin", function])
        .stdin(Stdio::null())
        .output()
        .expect("cargo build runs");
    assert!(
        output.status.success(),
        "`cargo build --bin {function}` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn cargo_lambda() -> PathBuf {
    let path = workspace().join(".venv/bin/cargo-lambda");
    assert!(
        path.is_file(),
        "cargo-lambda is not installed at {}: run `make venv` (it installs tools/requirements.txt into .venv/)",
        path.display()
    );
    path
}

/// The watcher's process group, stopped as a whole when the test ends, however it ends.
struct Watch {
    child: Child,
    log: PathBuf,
}

impl Drop for Watch {
    fn drop(&mut self) {
        // The group holds cargo-lambda, the `cargo run`s it starts and the functions.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn start_watch(port: u16, database_url: &str) -> Watch {
    let bin_dir = cargo_lambda().parent().map(PathBuf::from).unwrap_or_default();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let log = std::env::temp_dir().join(format!("proeventa_watch_{port}.log"));
    let log_file = std::fs::File::create(&log).expect("a log file");
    let child = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .env("PATH", path)
        .args(["lambda", "watch", "--ignore-changes", "--disable-cors", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--env-var", &format!("DATABASE_URL={database_url}")])
        .args(["--env-var", &format!("JWT_SECRET={JWT_SECRET}")])
        .args(["--env-var", &format!("WEBHOOK_SECRET={WEBHOOK_SECRET}")])
        .args(["--env-var", &format!("TICKET_SIGNING_KEY={TICKET_SIGNING_KEY}")])
        .args(["--env-var", "LOG_FORMAT=json"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .expect("cargo lambda watch starts");
    Watch { child, log }
}

impl Watch {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// One HTTP/1.0 exchange (the answer ends when the connection closes): status and JSON body.
fn request(
    watch: &Watch,
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the watcher");
    stream.set_read_timeout(Some(ANSWER_WITHIN)).expect("a read timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.0\r\nhost: 127.0.0.1:{port}\r\naccept: application/json\r\n");
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).expect("send the request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .unwrap_or_else(|e| panic!("{method} {path}: no answer ({e}); the watcher's log:\n{}", watch.log()));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("{method} {path}: {answer}"));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {path} → {status}: not JSON ({e}): {body}"));
    (status, json)
}

#[test]
fn watch_serves_every_function_on_its_real_path() {
    for function in FUNCTIONS {
        build_like_the_watcher(function);
    }
    let db = TempSqlite::new("proeventa_lambda");
    // Migrating is a deployment step (`proeventa migrate`); the functions only open the store.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let store = proeventa_core::store::connect(&db.url()).await.expect("open the test store");
        store.migrate().await.expect("migrate the test store");
    });

    let port = free_port();
    let watch = start_watch(port, &db.url());
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < LISTEN_WITHIN, "cargo lambda watch never listened:\n{}", watch.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    // api-meta: `/health` and the API's JSON 404 for a path no function owns.
    let (status, health) = request(&watch, port, "GET", "/health", None, None);
    assert_eq!((status, &health), (200, &json!({"status": "ok", "storage": "sqlite"})), "{}", watch.log());
    let (status, missing) = request(&watch, port, "GET", "/no/such/thing", None, None);
    assert_eq!((status, missing["error"].as_str()), (404, Some("not_found")));

    // api-auth
    let signup = json!({"email": "watch@example.com", "password": "watch-password-1", "name": "Watch"});
    let (status, user) = request(&watch, port, "POST", "/auth/signup", None, Some(&signup));
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "watch@example.com");
    let login = json!({"email": "watch@example.com", "password": "watch-password-1"});
    let (status, tokens) = request(&watch, port, "POST", "/auth/login", None, Some(&login));
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().expect("a token");

    // api-catalog
    let (status, events) = request(&watch, port, "GET", "/events/events?category=concert", None, None);
    assert_eq!((status, events), (200, json!([])));

    // api-reservations: the token api-auth signed is good here too.
    let mine = format!("/reservations/reservations/user/{}", user["id"].as_str().unwrap_or(""));
    let (status, reservations) = request(&watch, port, "GET", &mine, Some(token), None);
    assert_eq!((status, reservations), (200, json!([])));

    // api-tickets: under /reservations too, on its own function; and one of a booking's paths.
    let (status, tickets) = request(&watch, port, "GET", "/reservations/tickets", Some(token), None);
    assert_eq!((status, tickets), (200, json!([])));
    let booking_pdf = format!("/reservations/bookings/{}/tickets.pdf", uuid::Uuid::nil());
    let (status, missing) = request(&watch, port, "GET", &booking_pdf, Some(token), None);
    assert_eq!((status, missing["error"].as_str()), (404, Some("not_found")), "{missing}");

    // api-payments, on its bare prefix and below it.
    let (status, payments) = request(&watch, port, "GET", "/payments", Some(token), None);
    assert_eq!((status, payments), (200, json!([])));
    let (status, refused) = request(&watch, port, "POST", "/payments/webhook", None, Some(&json!({"id": "evt_1"})));
    assert_eq!((status, refused["error"].as_str()), (401, Some("unauthorized")), "bad signature");

    // api-checkin: the public key is public; a customer may not scan.
    let (status, key) = request(&watch, port, "GET", "/checkin/key", None, None);
    assert_eq!((status, key["algorithm"].as_str()), (200, Some("Ed25519")), "{key}");
    let (status, refused) =
        request(&watch, port, "POST", "/checkin/scan", Some(token), Some(&json!({"code": "PE1.x"})));
    assert_eq!((status, refused["error"].as_str()), (403, Some("forbidden")), "{refused}");

    // api-queue: a poll needs the queue ticket a join hands out.
    let status_path = format!("/queue/events/{}/status", uuid::Uuid::nil());
    let (status, refused) = request(&watch, port, "GET", &status_path, None, None);
    assert_eq!((status, refused["error"].as_str()), (403, Some("queue_required")), "{refused}");

    // api-admin: the outbox is for admins only.
    let (status, refused) = request(&watch, port, "GET", "/admin/messages?status=failed", Some(token), None);
    assert_eq!((status, refused["error"].as_str()), (403, Some("forbidden")), "{refused}");

    // Logs are JSON lines naming the invocation's request id.
    let log = watch.log();
    assert!(log.contains("\"requestId\""), "JSON logs with the Lambda request id:\n{log}");
}
