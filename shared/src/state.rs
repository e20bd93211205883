//! `AppState`: what every handler shares, built once at start (never per request).

use std::sync::Arc;

use crate::auth::{LoginLimiter, TokenKeys};
use crate::config::Config;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenKeys>,
    pub login_limiter: Arc<LoginLimiter>,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, jwt_secret: &str) -> Self {
        let tokens = TokenKeys::new(jwt_secret.as_bytes(), config.token_ttl_seconds);
        Self {
            config: Arc::new(config),
            store,
            tokens: Arc::new(tokens),
            login_limiter: Arc::new(LoginLimiter::default()),
        }
    }
}
