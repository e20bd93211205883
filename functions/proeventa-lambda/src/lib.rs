//! What every ProEventa Lambda function shares: the endpoint groups and their routers, the state
//! built once per execution environment, JSON logs carrying the request id, metrics as CloudWatch
//! EMF log lines (`emf`), and the two handlers
//! the functions' `main`s run (API Gateway HTTP API events, and the EventBridge schedule).
//!
//! The routers are the very ones `proeventa serve` runs (`proeventa_core::api`); nothing here
//! knows about a route.
//!
//! The cargo features (`sqlite`, `postgres`, `dynamodb`, `swagger-ui`, `redoc`, `mail`, `ses`; all by default) are
//! proeventa-core's, passed on: what a function is built without is not in its bootstrap.

pub mod emf;
mod group;
mod http;
mod init;
mod job;
#[cfg(feature = "mail")]
mod send_mail;

pub use group::Group;
pub use http::{handler, run_http};
pub use init::{
    InitError, LAMBDA_DATABASE_IDLE_TIMEOUT_SECONDS, LAMBDA_DATABASE_MAX_CONNECTIONS, lambda_config, open_store,
    state_for,
};
pub use job::{EXPIRE_HOLDS_WRITES, Expired, expire_holds, run_expire_holds};
pub use proeventa_core::logging::init_logging;
#[cfg(feature = "mail")]
pub use send_mail::{SEND_MAIL_WRITES, run_send_mail, send_mail};

/// What a function's `main` returns on failure; Lambda logs it as the init error.
pub use lambda_runtime::Error;
