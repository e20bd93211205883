//! `serve`'s metrics: the Prometheus recorder every `proeventa_core::metrics` call records into,
//! rendered as Prometheus text on `GET /metrics` on its own listener (`METRICS_HOST`:`METRICS_PORT`,
//! loopback by default), never on the public API port. The exporter's own HTTP listener is not
//! built in: axum serves the text, as it serves everything else here.

use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use proeventa_core::metrics::{BATCH_SIZE, DYNAMODB_CAPACITY_UNITS};
use tokio::sync::watch;

/// The port `/metrics` is served on when `METRICS_PORT` is unset (OpenTelemetry's Prometheus
/// exporter uses it too, so scrape configs often have it already).
pub const DEFAULT_PORT: u16 = 9464;

/// How often histograms are rolled over and idle series dropped; the exporter leaves it to its user.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Upper bounds of the latency and queue-wait buckets, in seconds: from a batch's half-millisecond
/// gather to a slow store's seconds.
const SECONDS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds of the batch-size buckets: a batch takes at most `store::batch::MAX_BATCH` (64).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// Upper bounds of the DynamoDB capacity buckets, in request units per answer: from an eventually
/// consistent read (0.5) to the largest booking's transaction (at most 100 items, 2 units each).
const CAPACITY_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Where `/metrics` listens, as the environment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsListen {
    pub host: IpAddr,
    pub port: u16,
    /// Whether `METRICS_PORT` was set: a port asked for must be had; the default may be busy
    /// (another local server), and then `/metrics` is left out with a warning.
    pub asked: bool,
}

impl MetricsListen {
    /// `METRICS_HOST` (default 127.0.0.1, whatever `HOST` is: metrics are for the operator, not
    /// the public) and `METRICS_PORT` (default `DEFAULT_PORT`; a free port when the API's own
    /// `PORT` is 0, as the tests and the bench start servers side by side).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, api_port: u16) -> Result<Self, String> {
        let get = |key: &str| lookup(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let host = match get("METRICS_HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(v) => v.parse().map_err(|_| format!("METRICS_HOST must be an IP address, got `{v}`"))?,
        };
        let (port, asked) = match get("METRICS_PORT") {
            None if api_port == 0 => (0, false),
            None => (DEFAULT_PORT, false),
            Some(v) => (v.parse().map_err(|_| format!("METRICS_PORT must be a port number, got `{v}`"))?, true),
        };
        if asked && port != 0 && port == api_port {
            return Err(format!(
                "METRICS_PORT ({port}) must differ from PORT: metrics are never served on the API port"
            ));
        }
        Ok(Self { host, port, asked })
    }
}

/// Installs the Prometheus recorder as the process's recorder (once per process) and describes
/// every metric; the handle renders them.
pub fn install() -> Result<PrometheusHandle, String> {
    let buckets = |builder: PrometheusBuilder| -> Result<PrometheusBuilder, String> {
        builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_BUCKETS))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(DYNAMODB_CAPACITY_UNITS.into()), CAPACITY_BUCKETS))
            .map_err(|e| format!("metrics buckets: {e}"))
    };
    let handle = buckets(PrometheusBuilder::new())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    proeventa_core::metrics::describe();
    Ok(handle)
}

/// `GET /metrics`: every metric in Prometheus text format 0.0.4.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text) }
        }),
    )
}

/// Rolls the histograms over every `UPKEEP_EVERY` until the server stops.
pub async fn upkeep(handle: PrometheusHandle, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => handle.run_upkeep(),
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn listen(pairs: &[(&str, &str)], api_port: u16) -> Result<MetricsListen, String> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        MetricsListen::from_lookup(|k| map.get(k).map(|v| v.to_string()), api_port)
    }

    #[test]
    fn metrics_listen_on_loopback_and_their_own_port() {
        let loopback = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(listen(&[], 8000), Ok(MetricsListen { host: loopback, port: DEFAULT_PORT, asked: false }));
        assert_eq!(listen(&[], 0), Ok(MetricsListen { host: loopback, port: 0, asked: false }));
        assert_eq!(
            listen(&[("METRICS_PORT", "9100")], 0),
            Ok(MetricsListen { host: loopback, port: 9100, asked: true })
        );
        let anywhere = listen(&[("METRICS_HOST", "0.0.0.0")], 8000).unwrap();
        assert!(anywhere.host.is_unspecified());
        assert!(listen(&[("METRICS_PORT", "8000")], 8000).unwrap_err().contains("never served on the API port"));
        assert!(listen(&[("METRICS_PORT", "http")], 8000).unwrap_err().contains("METRICS_PORT"));
        assert!(listen(&[("METRICS_HOST", "localhost")], 8000).unwrap_err().contains("METRICS_HOST"));
    }
}
