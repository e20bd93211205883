//! Init: the configuration, the store clients and the state, built once per execution
//! environment (a cold start), never per request; and the logs, JSON by default on Lambda.

use std::fmt;
use std::sync::Arc;

use proeventa_core::api::AppState;
use proeventa_core::config::Config;
use proeventa_core::store::{self, Store};

use crate::Group;

/// Why a function could not start. Returned from `main`, so Lambda reports it as an init error
/// and the message lands in the function's log.
#[derive(Debug)]
pub struct InitError(String);

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InitError {}

impl InitError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// A Lambda execution environment's PostgreSQL pool, unless `DATABASE_MAX_CONNECTIONS` says
/// otherwise: every environment holds its own pool, so the database sees environments × this
/// (README "PostgreSQL connections at Lambda scale"); two let a hold batch and a read overlap.
pub const LAMBDA_DATABASE_MAX_CONNECTIONS: &str = "2";
/// How long an environment keeps an unused PostgreSQL connection, unless
/// `DATABASE_IDLE_TIMEOUT_SECONDS` says otherwise: after a burst, environments that stay warm give
/// their connections back within a minute instead of sqlx's ten.
pub const LAMBDA_DATABASE_IDLE_TIMEOUT_SECONDS: &str = "60";

/// The configuration from an environment lookup, with Lambda's defaults: JSON logs unless
/// `LOG_FORMAT` says otherwise (CloudWatch indexes JSON fields; `make watch` asks for `pretty`),
/// and a small PostgreSQL pool that lets its idle connections go soon (see the constants above).
pub fn lambda_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, InitError> {
    Config::from_lookup(|key| match lookup(key) {
        None if key == "LOG_FORMAT" => Some("json".into()),
        None if key == "DATABASE_MAX_CONNECTIONS" => Some(LAMBDA_DATABASE_MAX_CONNECTIONS.into()),
        None if key == "DATABASE_IDLE_TIMEOUT_SECONDS" => Some(LAMBDA_DATABASE_IDLE_TIMEOUT_SECONDS.into()),
        value => value,
    })
    .map_err(|e| InitError(format!("configuration: {e}")))
}

/// Opens the store named by `DATABASE_URL`. Migrations are a deployment step (`proeventa
/// migrate`, or the template's table), never a cold-start one: no function needs schema rights.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, InitError> {
    store::connect_with(&config.database_url, config.store).await.map_err(|e| {
        let scheme = config.database_url.split("://").next().unwrap_or("");
        InitError(format!("cannot open the store at DATABASE_URL ({scheme}://…): {e}"))
    })
}

/// The state every handler shares. A function whose routes take tokens signs and checks them
/// with the shared `JWT_SECRET`, so unlike `proeventa serve` it never makes one up: instances must
/// agree on it. The gateway function (`api-meta`) serves no route that takes a token and is given
/// no secret at all (least privilege): it signs with a throwaway key no other token matches.
pub async fn state_for(group: Group, config: Config) -> Result<AppState, InitError> {
    let secret = if group.checks_tokens() {
        config.jwt_secret.clone().ok_or_else(|| {
            InitError(
                "JWT_SECRET is not set: every API function that checks tokens needs the shared signing secret \
                 (infra/template.yaml passes it from Secrets Manager; `make watch` sets a dev value)"
                    .into(),
            )
        })?
    } else {
        proeventa_core::auth::random_secret()
    };
    // Codes are signed by one function and checked by another (and by the door page with the
    // served public key): a key made up here would match no other. A group that serves no
    // ticket keeps none (least privilege) and `AppState` gives it a throwaway one.
    if group.serves_tickets() && config.ticket_signing_key.is_none() {
        return Err(InitError(
            "TICKET_SIGNING_KEY is not set: every API function that issues or checks tickets needs the shared \
             Ed25519 seed (infra/template.yaml passes it from Secrets Manager; `make watch` sets a dev value)"
                .into(),
        ));
    }
    let store = open_store(&config).await?;
    let state = AppState::new(config, store, &secret);
    Ok(with_poster_bucket(group, state).await)
}

/// The catalog function stores uploaded posters in `POSTER_BUCKET` (under `posters/`), which
/// CloudFront serves at `POSTER_BASE_URL` (infra/template.yaml); no other function writes them.
#[cfg(feature = "s3-posters")]
async fn with_poster_bucket(group: Group, state: AppState) -> AppState {
    let bucket = std::env::var("POSTER_BUCKET").ok().filter(|b| !b.is_empty());
    match bucket {
        Some(bucket) if group == Group::Catalog => {
            let base = std::env::var("POSTER_BASE_URL").unwrap_or_else(|_| "/posters".into());
            let storage = proeventa_core::posters::PosterBucket::new(&bucket, &base).await;
            state.with_posters(std::sync::Arc::new(storage))
        }
        _ => state,
    }
}

#[cfg(not(feature = "s3-posters"))]
async fn with_poster_bucket(_group: Group, state: AppState) -> AppState {
    state
}
