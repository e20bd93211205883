//! A local stand-in for the Lambda Runtime API, the HTTP interface a function's runtime polls for
//! invocations (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): `GET
//! /2018-06-01/runtime/invocation/next` hands out the next invocation (held open until there is
//! one, as Lambda does), `POST …/invocation/{id}/response` and `…/error` answer it. A function
//! process started with `AWS_LAMBDA_RUNTIME_API` naming it runs its real runtime against it, and
//! `invoke` plays Lambda's part: one event in, the function's answer out. Plain HTTP/1.1 with
//! keep-alive over tokio, enough for the runtime's client; nothing else is implemented.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
/// The deadline given with each invocation: generous, the stand-in enforces none.
const DEADLINE: Duration = Duration::from_secs(120);

/// How the function answered one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `…/response`: the handler's result (for an HTTP function, the API Gateway response).
    Response(Vec<u8>),
    /// `…/error`: the handler failed; the runtime's error document.
    Error(Vec<u8>),
}

struct Invocation {
    id: String,
    event: Vec<u8>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// `/next` requests the function has open right now: its runtime's polling workers.
    polling: AtomicUsize,
    init_errors: Mutex<Vec<String>>,
    next_id: AtomicU64,
}

/// A running stand-in, listening on loopback until dropped with its test.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Invocation>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the Runtime API stand-in");
        let addr = listener.local_addr().expect("its address");
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            polling: AtomicUsize::new(0),
            init_errors: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        });
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, accepting.clone()));
            }
        });
        RuntimeApi { addr, shared, sender }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API` for a function polling this stand-in.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// How many `/next` polls the function has open now.
    pub fn polling(&self) -> usize {
        self.shared.polling.load(Ordering::SeqCst)
    }

    /// What the function reported through `/runtime/init/error`.
    pub fn init_errors(&self) -> Vec<String> {
        self.shared.init_errors.lock().expect("init errors").clone()
    }

    /// Hands `event` to the next `/next` poll and waits for the function's answer; returns the
    /// Lambda request id it was given too. The future owns what it needs (it may be spawned).
    pub fn invoke_owned(&self, event: String) -> impl Future<Output = (String, Answer)> + Send + 'static {
        let shared = self.shared.clone();
        let sender = self.sender.clone();
        async move {
            let id = format!("lambda-req-{}", shared.next_id.fetch_add(1, Ordering::SeqCst));
            let (answer, answered) = oneshot::channel();
            shared.waiting.lock().expect("waiting").insert(id.clone(), answer);
            sender.send(Invocation { id: id.clone(), event: event.into_bytes() }).expect("the stand-in runs");
            let answer = answered.await.expect("the function answers before the stand-in stops");
            (id, answer)
        }
    }
}

/// One HTTP/1.1 request, as much of it as the runtime's client sends.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            assert_ne!(
                name, "transfer-encoding",
                "the stand-in reads Content-Length bodies only (a buffered response)"
            );
            if name == "content-length" {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(Request { method, path, body })
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader).await {
        let written = match (request.method.as_str(), request.path.as_str()) {
            ("GET", NEXT) => {
                shared.polling.fetch_add(1, Ordering::SeqCst);
                let next = shared.queue.lock().await.recv().await;
                shared.polling.fetch_sub(1, Ordering::SeqCst);
                let Some(invocation) = next else { return };
                let deadline =
                    (SystemTime::now() + DEADLINE).duration_since(UNIX_EPOCH).expect("after 1970").as_millis();
                let headers = format!(
                    "Lambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:proeventa-test\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                     Content-Type: application/json\r\n",
                    invocation.id
                );
                write(&mut reader, "200 OK", &headers, &invocation.event).await
            }
            ("POST", "/2018-06-01/runtime/init/error") => {
                shared
                    .init_errors
                    .lock()
                    .expect("init errors")
                    .push(String::from_utf8_lossy(&request.body).into_owned());
                write(&mut reader, "202 Accepted", "", b"{}").await
            }
            ("POST", path) if path.starts_with(INVOCATION) => {
                let rest = &path[INVOCATION.len()..];
                let answer = match rest.rsplit_once('/') {
                    Some((id, "response")) => Some((id, Answer::Response(request.body))),
                    Some((id, "error")) => Some((id, Answer::Error(request.body))),
                    _ => None,
                };
                match answer {
                    Some((id, answer)) => {
                        let waiting = shared.waiting.lock().expect("waiting").remove(id);
                        match waiting {
                            Some(sender) => {
                                let _ = sender.send(answer);
                                write(&mut reader, "202 Accepted", "", b"{}").await
                            }
                            None => {
                                write(&mut reader, "400 Bad Request", "", b"{\"errorMessage\":\"unknown request id\"}")
                                    .await
                            }
                        }
                    }
                    None => write(&mut reader, "404 Not Found", "", b"{}").await,
                }
            }
            _ => write(&mut reader, "404 Not Found", "", b"{}").await,
        };
        if written.is_err() {
            return;
        }
    }
}

async fn write(reader: &mut BufReader<TcpStream>, status: &str, headers: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n", body.len());
    let stream = reader.get_mut();
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}
