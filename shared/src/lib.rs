//! ProEventa core: the domain, every HTTP router and every storage backend. The same routers run
//! in `proeventa serve`, under `cargo lambda watch` and as AWS Lambda functions.
//!
//! Layers, each using only those below it: `api` (routers, the HTTP state, the API error and the
//! extractors: everything that knows HTTP) → `store` (traits by capability, one folder per
//! backend), `auth` (hashing, tokens), `limits` (rate limits counted in the store), `payments` → `domain` (types parsed at
//! the edge) and `config`. `metrics` names every metric the others record.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod gzip;
pub mod hex;
pub mod limits;
pub mod logging;
#[cfg(feature = "mail")]
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod payments;
pub mod posters;
pub mod queue_tokens;
pub mod store;
pub mod tickets;
#[cfg(feature = "webhooks")]
pub mod webhooks;
