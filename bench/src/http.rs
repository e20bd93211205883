//! A keep-alive HTTP/1.1 client over one loopback connection (hyper's low-level client), which
//! reconnects once when the server closed the connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HOST, IF_NONE_MATCH};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::util::{Context, Res};

/// What the load generator looks at in an answer.
pub struct Answer {
    pub status: u16,
    pub etag: Option<hyper::header::HeaderValue>,
    pub body: Bytes,
    pub took: Duration,
}

impl Answer {
    pub fn json(&self) -> Res<serde_json::Value> {
        serde_json::from_slice(&self.body).context("answer is not JSON")
    }

    /// The body as text, cut short, for error messages.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }
}

/// One request to send: small enough to build per request without an allocation storm.
pub struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub if_none_match: Option<&'a hyper::header::HeaderValue>,
    /// One more header (the waiting room's tokens).
    pub header: Option<(&'static str, &'a str)>,
    pub body: Option<Bytes>,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a str) -> Self {
        Self { method: Method::GET, path, token: None, if_none_match: None, header: None, body: None }
    }

    pub fn post(path: &'a str, body: impl Into<Bytes>) -> Self {
        Self { method: Method::POST, path, token: None, if_none_match: None, header: None, body: Some(body.into()) }
    }

    pub fn token(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }

    pub fn if_none_match(mut self, etag: &'a hyper::header::HeaderValue) -> Self {
        self.if_none_match = Some(etag);
        self
    }

    pub fn header(mut self, name: &'static str, value: &'a str) -> Self {
        self.header = Some((name, value));
        self
    }
}

/// A client owning one keep-alive connection to the API.
pub struct Client {
    addr: SocketAddr,
    host: hyper::header::HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        let host = hyper::header::HeaderValue::from_str(&addr.to_string())
            .unwrap_or_else(|_| hyper::header::HeaderValue::from_static("127.0.0.1"));
        Self { addr, host, sender: None }
    }

    /// Opens the connection now, so a measured phase does not pay for the handshake.
    pub async fn connect(addr: SocketAddr) -> Res<Self> {
        let mut client = Self::new(addr);
        client.sender = Some(open(addr).await?);
        Ok(client)
    }

    /// Sends one request and reads the whole answer; latency covers both.
    pub async fn send(&mut self, call: Call<'_>) -> Res<Answer> {
        // A connection the server closed (idle timeout, error) is opened again once.
        for attempt in 0..2 {
            let request = self.request(&call)?;
            if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
                self.sender = Some(open(self.addr).await?);
            }
            let sender = self.sender.as_mut().context("connection just opened")?;
            let started = Instant::now();
            let outcome = async {
                sender.ready().await.context("connection not ready")?;
                let response = sender.send_request(request).await.context("request failed")?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await.context("reading the answer")?.to_bytes();
                Ok::<_, String>(Answer {
                    status: parts.status.as_u16(),
                    etag: parts.headers.get(ETAG).cloned(),
                    body,
                    took: started.elapsed(),
                })
            }
            .await;
            match outcome {
                Ok(answer) => return Ok(answer),
                // The server may have closed an idle keep-alive connection: one fresh try.
                Err(_) if attempt == 0 => self.sender = None,
                Err(e) => return Err(format!("{} {}: {e}", call.method, call.path)),
            }
        }
        Err(format!("{} {}: no answer", call.method, call.path))
    }

    fn request(&self, call: &Call<'_>) -> Res<Request<Full<Bytes>>> {
        let mut builder = Request::builder().method(call.method.clone()).uri(call.path).header(HOST, &self.host);
        if let Some(token) = call.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(etag) = call.if_none_match {
            builder = builder.header(IF_NONE_MATCH, etag);
        }
        if let Some((name, value)) = call.header {
            builder = builder.header(name, value);
        }
        let body = match &call.body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                body.clone()
            }
            None => Bytes::new(),
        };
        builder.body(Full::new(body)).context("building a request")
    }
}

async fn open(addr: SocketAddr) -> Res<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.context(format!("connecting to {addr}"))?;
    // Small requests on a keep-alive connection: Nagle would add delay to every one.
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        // Ends when the server or the client drops the connection; nothing to report then.
        let _ = connection.await;
    });
    Ok(sender)
}
