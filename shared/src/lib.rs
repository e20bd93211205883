//! ProEventa core: the domain, every HTTP router and every storage backend. The same routers run
//! in `proeventa serve`, under `cargo lambda watch` and as AWS Lambda functions.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod hex;
pub mod memory;
pub mod payments;
pub mod state;
pub mod store;
