//! Logging, set up once per process the same way for `proeventa` and every Lambda function: to
//! stderr (CloudWatch takes both streams), filtered by `RUST_LOG`. JSON lines carry the spans, so
//! every line of a request names its `request_id` (and on Lambda the invocation's `requestId`).
//! Store methods and the hold queue log their timings at debug level
//! (`RUST_LOG=info,proeventa_core::store=debug`).

use crate::config::LogFormat;

/// What is logged when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=warn";

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests build several states in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().with_ansi(false).with_current_span(false).with_span_list(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
