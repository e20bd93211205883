//! The template and infrastructure tests, one test binary (each `tests/*.rs` links the whole
//! crate, so one binary instead of four builds and links faster): they read `infra/template.yaml`
//! (and `infra/grafana/`, the root `Cargo.toml`) and hold it to the code. None of them changes
//! process state (environment variables, a global recorder, a runtime stand-in), so they run
//! side by side in one process; the tests that do keep binaries of their own (`emf`,
//! `concurrent_runtime`, `watch_smoke`).
//!
//! - `cloud_edge`: each function's IAM policy against the store writes its code makes (and what
//!   its router sends DynamoDB Local), throttles, reserved concurrency, access logs, mail;
//! - `monitoring`: the alarms and both dashboards against the metrics vocabulary;
//! - `route_parity`: every route of the template served by its function's router, and back;
//! - `template_scale`: the PostgreSQL connection budget, the RDS Proxy and the compute choice.

#[path = "../common/mod.rs"]
mod common;

mod cloud_edge;
mod monitoring;
mod route_parity;
mod template_scale;
