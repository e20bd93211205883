//! What the tests of the real `proeventa` process share (`faults.rs`, `metrics.rs`): a
//! `proeventa serve --demo` on free ports, killed when dropped, and a tiny HTTP/1.1 client of its
//! API and metrics ports, one request per connection, bounded in time.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const JWT_SECRET: &str = "server-test-secret-0123456789abcdef0123456789";
/// Set so that no server of these tests makes and keeps a key file in the crate's directory.
pub const TICKET_SIGNING_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub const CUSTOMER: (&str, &str) = ("ana@proeventa.test", "customer-demo-2026");
pub const ADMIN: (&str, &str) = ("admin@proeventa.test", "admin-demo-2026");
/// No request may take longer than this, whatever the store does.
pub const REQUEST_BOUND: Duration = Duration::from_secs(20);
/// Starting includes migrations and seeding the demo (argon2 hashes of its accounts).
pub const START_BOUND: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The server process

/// A running `proeventa serve --demo`, SIGKILLed and reaped when dropped (also on a panic).
pub struct Server {
    child: Child,
    /// The API's `host:port`.
    pub addr: String,
    /// The `host:port` of `GET /metrics`.
    pub metrics: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// A server on `database_url` with no mail (messages wait in the outbox) and the API, site and
    /// metrics on free loopback ports; `env` sets more variables, or overrides these.
    pub fn start_with(database_url: &str, env: &[(&str, &str)]) -> Self {
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
            .env("WEBHOOK_SECRET", "server-test-webhook-secret")
            .env("MAIL_URL", "none")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the proeventa binary");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines_rx) = mpsc::channel();
        // Both pipes are drained for the whole life of the process, or a full pipe would block it.
        drain(child.stdout.take().expect("stdout"), output.clone(), Some(lines_tx));
        drain(child.stderr.take().expect("stderr"), output.clone(), None);
        let mut server = Self { child, addr: String::new(), metrics: String::new(), output };
        // `serve` prints "  API      http://…" and "  metrics  http://…/metrics  (…)" once it listens.
        while server.addr.is_empty() || server.metrics.is_empty() {
            let Ok(line) = lines_rx.recv_timeout(START_BOUND) else {
                panic!("proeventa did not start within {START_BOUND:?}:\n{}", server.log());
            };
            if let Some(url) = line.strip_prefix("API") {
                server.addr = url.trim().trim_start_matches("http://").to_owned();
            }
            if let Some(rest) = line.strip_prefix("metrics") {
                let url = rest.split_whitespace().next().expect("the metrics URL");
                server.metrics = url.trim_start_matches("http://").trim_end_matches("/metrics").to_owned();
            }
        }
        server
    }

    /// Everything the process wrote so far, stdout and stderr.
    pub fn log(&self) -> String {
        self.output.lock().map(|lines| lines.join("\n")).unwrap_or_default()
    }

    /// SIGKILL: no graceful shutdown, no flush, as a crash or an OOM kill would end it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies a pipe's lines into `output`, and sends each (trimmed) to `lines` when given.
fn drain(pipe: impl Read + Send + 'static, output: Arc<Mutex<Vec<String>>>, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(tx) = &lines {
                let _ = tx.send(line.trim().to_owned());
            }
            if let Ok(mut kept) = output.lock() {
                kept.push(line);
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client: one request per connection, bounded in time.

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// The body as JSON; a body that is not JSON as a JSON string, none as `null`.
    pub body: Value,
    /// The body as text.
    pub text: String,
}

pub async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<Answer, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(|e| format!("receive: {e}"))?;
        parse_response(&raw)
    };
    tokio::time::timeout(REQUEST_BOUND, exchange)
        .await
        .map_err(|_| format!("{method} {path}: no answer within {REQUEST_BOUND:?}"))?
        .map_err(|e| format!("{method} {path}: {e}"))
}

fn parse_response(raw: &[u8]) -> Result<Answer, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no complete response head")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim()))
        .unwrap_or("")
        .to_owned();
    let text = String::from_utf8_lossy(&payload).into_owned();
    let body = if payload.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&payload).unwrap_or_else(|_| Value::String(text.clone()))
    };
    Ok(Answer { status, content_type, body, text })
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

/// A demo account's access token.
pub async fn login(addr: &str, (email, password): (&str, &str)) -> String {
    let answer = call(addr, "POST", "/auth/login", None, Some(json!({"email": email, "password": password})))
        .await
        .unwrap_or_else(|e| panic!("login {email}: {e}"));
    assert_eq!(answer.status, 200, "login {email}: {:?}", answer.body);
    answer.body["access_token"].as_str().expect("access_token").to_owned()
}

/// Up to `at_most` seats of an event its seat map shows available, by id.
pub async fn free_seats(addr: &str, event_id: &str, at_most: usize) -> Vec<String> {
    let map = call(addr, "GET", &format!("/events/events/{event_id}/seats"), None, None).await.expect("seat map");
    map.body
        .as_array()
        .expect("a seat map")
        .iter()
        .filter(|s| s["status"] == "available")
        .filter_map(|s| s["seat_id"].as_str().map(str::to_owned))
        .take(at_most)
        .collect()
}
