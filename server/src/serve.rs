//! `proeventa serve`: the API on `PORT`, the booking site on `SITE_PORT` (with a `/config.js`
//! naming the API address really in use), the hold sweeper every 15 s, the outbox's sender
//! every 2 s (mail to `MAIL_URL`, by default `.eml` files in `./mail`), the webhooks' delivery
//! every 2 s too, the metrics in Prometheus
//! text on `METRICS_PORT` (loopback), and a clean stop on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use proeventa_core::api;
use proeventa_core::api::queue::QueuePolls;
use proeventa_core::api::{AppState, security};
use proeventa_core::config::{Config, JWT_SECRET_MIN_BYTES, MailUrl};
use proeventa_core::mail::{self, Sender};
use proeventa_core::payments::PaymentProvider;
use proeventa_core::posters::PosterFolder;
use proeventa_core::store::Store;
use proeventa_core::tickets::{self, TicketKeys};
use proeventa_core::webhooks::WebhookSender;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::services::{ServeDir, ServeFile};

use crate::metrics::MetricsListen;

/// How often lapsed holds are written down as expired. Correctness never waits for it:
/// reads and new holds treat a lapsed hold as expired at once.
const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// The waiting rooms' pace: each tick lets through what `admit_per_minute` credits since the last,
/// so locally a queue moves every second (on Lambda, on `job-expire-holds`' schedule).
const QUEUE_PACE_EVERY: Duration = Duration::from_secs(1);

/// How often the outbox is drained: a buyer's confirmation leaves within seconds of paying.
const SEND_MAIL_EVERY: Duration = Duration::from_secs(2);

/// Where local mail goes when `MAIL_URL` is unset: a folder of `.eml` files, named at start.
const LOCAL_MAIL_DIR: &str = "mail";

/// Where uploaded posters go when `POSTER_DIR` is unset, and where the site port serves them:
/// the site shows them from its own origin, as CloudFront does on AWS.
const LOCAL_POSTER_DIR: &str = "posters";
const POSTER_PATH: &str = "/posters";

/// Where the local secrets are kept when their variables are not set.
const LOCAL_JWT_SECRET: LocalSecret = LocalSecret {
    variable: "JWT_SECRET",
    file: ".proeventa-jwt-secret",
    make: proeventa_core::auth::random_secret,
    usable: |secret| secret.len() >= JWT_SECRET_MIN_BYTES,
};
pub(crate) const LOCAL_TICKET_KEY: LocalSecret = LocalSecret {
    variable: "TICKET_SIGNING_KEY",
    file: ".proeventa-ticket-key",
    make: TicketKeys::generate_secret,
    usable: |secret| tickets::check_secret(secret).is_ok(),
};

pub async fn serve(
    mut config: Config,
    store: Arc<dyn Store>,
    payments: Arc<dyn PaymentProvider>,
) -> Result<(), String> {
    let started = Instant::now();
    let metrics_listen = MetricsListen::from_lookup(|key| std::env::var(key).ok(), config.port)?;
    let jwt_secret = LOCAL_JWT_SECRET.or_set(config.jwt_secret.as_deref())?;
    config.ticket_signing_key = Some(LOCAL_TICKET_KEY.or_set(config.ticket_signing_key.as_deref())?);
    let api_listener = bind(config.host, config.port, "PORT").await?;
    let site_listener = bind(config.host, config.site_port, "SITE_PORT").await?;
    let metrics_listener = match bind(metrics_listen.host, metrics_listen.port, "METRICS_PORT").await {
        Ok(listener) => Some(listener),
        Err(e) if !metrics_listen.asked => {
            tracing::warn!(error = %e, "metrics are not served: the default METRICS_PORT is busy (set METRICS_PORT)");
            None
        }
        Err(e) => return Err(e),
    };
    let metrics = crate::metrics::install()?;
    let api_addr = local_addr(&api_listener)?;
    let site_addr = local_addr(&site_listener)?;
    // Ports may be 0 (pick a free one): from here on the configuration names the real ones.
    config.port = api_addr.port();
    config.site_port = site_addr.port();
    let api_base = format!("http://{}", browser_addr(api_addr));
    let site_dir = config.site_dir.clone();
    let mail_url = local_mail_url(&config);
    let poster_dir = std::env::var("POSTER_DIR").ok().filter(|d| !d.trim().is_empty());
    let poster_dir = std::path::PathBuf::from(poster_dir.unwrap_or_else(|| LOCAL_POSTER_DIR.into()));
    let state = AppState::new(config, store.clone(), &jwt_secret)
        .with_payment_provider(payments)
        .with_posters(Arc::new(PosterFolder::new(&poster_dir, POSTER_PATH)));
    let sender = mail::sender_for(&state.config, &mail_url, store.clone(), state.tickets.clone()).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping");
        let _ = stop_tx.send(true);
    });
    tokio::spawn(pace_queues(store.clone(), state.queue_polls.clone(), stop_rx.clone()));
    tokio::spawn(sweep_holds(store.clone(), stop_rx.clone()));
    match WebhookSender::new(store) {
        Ok(webhooks) => {
            tokio::spawn(deliver_webhooks(webhooks, stop_rx.clone()));
        }
        Err(error) => tracing::warn!(%error, "no webhook deliveries: the system's TLS roots could not be read"),
    }
    tokio::spawn(crate::metrics::upkeep(metrics.clone(), stop_rx.clone()));
    if let Some(sender) = sender {
        tokio::spawn(send_mail(sender, stop_rx.clone()));
    }

    let api = api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let site = site_router(Path::new(&site_dir), &api_base).nest_service(POSTER_PATH, ServeDir::new(&poster_dir));
    println!("ProEventa is up ({} ms)", started.elapsed().as_millis());
    println!("  API      {api_base}");
    println!("  docs     {api_base}/docs   {api_base}/redoc");
    println!("  site     http://{}/Home.html", browser_addr(site_addr));
    match &mail_url {
        MailUrl::File(dir) => {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            println!("  mail     {}  (one .eml file per mail; MAIL_URL to change)", dir.display());
        }
        MailUrl::None => println!("  mail     none: messages wait in the outbox (MAIL_URL to send them)"),
        other => println!("  mail     {other}"),
    }
    let metrics_server = async {
        let Some(listener) = metrics_listener else { return Ok(()) };
        println!(
            "  metrics  http://{}/metrics  (Prometheus text; METRICS_PORT to change)",
            browser_addr(local_addr(&listener)?)
        );
        let server =
            axum::serve(listener, crate::metrics::router(metrics)).with_graceful_shutdown(stopped(stop_rx.clone()));
        server.await.map_err(|e| format!("metrics server error: {e}"))
    };
    let posters = std::path::absolute(&poster_dir).unwrap_or_else(|_| poster_dir.clone());
    println!("  posters  {}  (uploads, served at {POSTER_PATH}; POSTER_DIR to change)", posters.display());
    let api_server = axum::serve(api_listener, api).with_graceful_shutdown(stopped(stop_rx.clone()));
    let site_server = axum::serve(site_listener, site).with_graceful_shutdown(stopped(stop_rx.clone()));
    let servers = async {
        tokio::try_join!(api_server.into_future(), site_server.into_future()).map_err(|e| format!("server error: {e}"))
    };
    tokio::try_join!(servers, metrics_server)?;
    Ok(())
}

async fn bind(host: std::net::IpAddr, port: u16, name: &str) -> Result<TcpListener, String> {
    TcpListener::bind((host, port)).await.map_err(|e| format!("cannot listen on {host}:{port} ({name}): {e}"))
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, String> {
    listener.local_addr().map_err(|e| format!("listener address: {e}"))
}

/// The address a browser on this machine uses: an unspecified bind address becomes loopback.
fn browser_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr }
}

/// A secret `serve` makes and keeps in a file when its variable is not set, so tokens and ticket
/// codes survive restarts.
pub(crate) struct LocalSecret {
    variable: &'static str,
    file: &'static str,
    /// A new random secret.
    make: fn() -> String,
    /// Whether a kept secret may still be used (one of an older, weaker form is made anew).
    usable: fn(&str) -> bool,
}

impl LocalSecret {
    /// The variable's value, or for local use the secret kept in the file (warned about once).
    pub(crate) fn or_set(&self, value: Option<&str>) -> Result<String, String> {
        if let Some(secret) = value {
            return Ok(secret.to_owned());
        }
        let secret = self.kept_in(Path::new(self.file))?;
        tracing::warn!(
            "{variable} is not set: using a local secret kept in {file} (set {variable} in production)",
            variable = self.variable,
            file = self.file
        );
        Ok(secret)
    }

    /// The secret kept in `path`, made when there is none. The file is only ever readable by its
    /// owner: one that others may read is refused, never used.
    fn kept_in(&self, path: &Path) -> Result<String, String> {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            if metadata.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{} can be read by other users: remove it (a new secret is made) or `chmod 600` it, or set {}",
                    path.display(),
                    self.variable
                ));
            }
            let existing = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let existing = existing.trim();
            if (self.usable)(existing) {
                return Ok(existing.to_owned());
            }
        }
        let secret = (self.make)();
        write_private(path, &secret)
            .map_err(|e| format!("cannot keep a local {} in {}: {e}", self.variable, path.display()))?;
        Ok(secret)
    }
}

/// Writes `contents` to `path` readable by its owner only, also when the file was there before
/// with wider permissions (`mode` at creation alone would keep those).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())
}

/// The static booking site (a missing file answers `404.html` with status 404), with `/config.js` answered here so the site finds this API on any port,
/// and the site's security headers (`api::security::site_headers`) on every answer.
fn site_router(site_dir: &Path, api_base: &str) -> Router {
    let config_js = format!("window.API_BASE_URL = {};\n", serde_json::Value::from(api_base));
    let security_headers = security::site_headers(security::origin_of(api_base));
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/Home.html") }))
        .route(
            "/config.js",
            get(move || {
                let body = config_js.clone();
                async move {
                    (
                        [
                            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
                            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        )
        // A missing page is the site's own 404 page (answered 404), not the browser's.
        .fallback_service(ServeDir::new(site_dir).not_found_service(ServeFile::new(site_dir.join("404.html"))))
        .layer(axum::middleware::map_response(move |mut response: Response| {
            let headers = security_headers.clone();
            async move {
                response.headers_mut().extend(headers);
                response
            }
        }))
}

/// Advances every open waiting room every `QUEUE_PACE_EVERY` until the server stops. The store
/// decides each admission, so two servers on one database pace one queue together safely. After
/// letting buyers through, this server's polls forget the frontiers they knew, so its own
/// admissions show at the next poll (another server's within a second).
async fn pace_queues(store: Arc<dyn Store>, polls: Arc<QueuePolls>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(QUEUE_PACE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                match store.advance_queues(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => {
                        polls.forget_frontiers();
                        tracing::info!(admitted = n, "buyers admitted from the waiting rooms");
                    }
                    Err(e) => tracing::warn!(error = %e, "advancing the waiting rooms failed"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

async fn sweep_holds(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                match store.expire_lapsed_holds(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "lapsed holds expired"),
                    Err(e) => tracing::warn!(error = %e, "hold sweep failed"),
                }
                // Rate-limit counters whose window ended count nothing any more.
                if let Err(e) = store.forget_ended_windows(chrono::Utc::now()).await {
                    tracing::warn!(error = %e, "forgetting ended rate-limit windows failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// `MAIL_URL`, or locally the folder `./mail`.
pub(crate) fn local_mail_url(config: &Config) -> MailUrl {
    config.mail_url.clone().unwrap_or_else(|| MailUrl::File(LOCAL_MAIL_DIR.into()))
}

/// Drains the outbox every `SEND_MAIL_EVERY` until the server stops. A failed pass (the store
/// unreachable) is logged and tried at the next tick: messages wait safely in the outbox.
async fn send_mail(sender: Sender, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SEND_MAIL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                match sender.drain().await {
                    Ok(drained) if drained.claimed == 0 => {}
                    Ok(drained) => tracing::info!(%drained, "outbox drained"),
                    Err(e) => tracing::warn!(error = %e, "sending mail failed; retrying at the next tick"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Delivers outgoing webhooks every `SEND_MAIL_EVERY`, like the mail sender, until the server
/// stops. A failed pass (the store unreachable) is logged and tried at the next tick.
async fn deliver_webhooks(sender: WebhookSender, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SEND_MAIL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                match sender.drain().await {
                    Ok(done) if done.claimed == 0 && done.fanned_out == 0 => {}
                    Ok(done) => tracing::info!(%done, "webhooks delivered"),
                    Err(e) => tracing::warn!(error = %e, "delivering webhooks failed; retrying at the next tick"),
                }
            }
            _ = stop.changed() => return,
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn the_local_secrets_are_made_private_and_a_readable_one_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("proeventa-secret-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        for local in [LOCAL_JWT_SECRET, LOCAL_TICKET_KEY] {
            let path = dir.join(local.file);
            let made = local.kept_in(&path).unwrap();
            assert!((local.usable)(&made), "{}: {made}", local.variable);
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(local.kept_in(&path).unwrap(), made, "kept across restarts");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = local.kept_in(&path).unwrap_err();
            assert!(refused.contains("can be read by other users"), "{refused}");
            assert!(refused.contains(local.variable), "{refused}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_kept_ticket_key_of_another_form_is_made_anew() {
        let dir = std::env::temp_dir().join(format!("proeventa-secret-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(LOCAL_TICKET_KEY.file);
        write_private(&path, "not-a-key").unwrap();
        let made = LOCAL_TICKET_KEY.kept_in(&path).unwrap();
        assert!(TicketKeys::from_secret(&made).is_ok(), "{made}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), made);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A page that does not exist answers 404 with the site's own page, headers included.
    #[tokio::test]
    async fn a_missing_page_is_the_sites_own_404_page() {
        let site_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../booking");
        let site = site_router(&site_dir, "http://127.0.0.1:8000");
        let response = site.oneshot(Request::get("/no-such-page.html").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("We couldn't find that page"), "{text}");
    }

    /// Every file of the site, and `/config.js`, carries the site's security headers.
    #[tokio::test]
    async fn the_site_is_served_with_its_security_headers() {
        let site_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../booking");
        for path in ["/Home.html", "/config.js", "/style.css", "/terms.html", "/privacy.html"] {
            let site = site_router(&site_dir, "http://127.0.0.1:8000");
            let response = site.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            let csp = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("");
            assert_eq!(csp, security::site_csp("http://127.0.0.1:8000"), "{path}");
            assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff", "{path}");
            assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), security::SITE_REFERRER_POLICY, "{path}");
        }
    }
}
