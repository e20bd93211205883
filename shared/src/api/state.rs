//! `AppState`: what every handler shares, built once at start (never per request).

use std::sync::Arc;

use super::seat_maps::SeatMapCache;
use crate::auth::TokenKeys;
use crate::config::Config;
use crate::payments::{self, PaymentProvider, SimulatedProvider};
use crate::posters::{NoPosterStorage, PosterStorage};
use crate::queue_tokens::QueueTokenKeys;
use crate::store::Store;
use crate::store::best_available_desk::Desks;
use crate::tickets::TicketKeys;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenKeys>,
    /// Signs and checks the waiting room's queue tickets and admission tokens (a key derived from
    /// the same secret, for that use alone).
    pub queue_tokens: Arc<QueueTokenKeys>,
    pub payments: Arc<dyn PaymentProvider>,
    pub seat_maps: Arc<SeatMapCache>,
    /// Best available's desks: per event, the statuses and the blocks this process is holding.
    pub best_available: Arc<Desks>,
    /// Signs ticket codes and checks the codes scanned at the door.
    pub tickets: Arc<TicketKeys>,
    /// What the queue's polls remember of events and waiting places, a second at most.
    pub queue_polls: Arc<super::queue::QueuePolls>,
    /// Where uploaded posters go: none until `with_posters` sets a folder or a bucket.
    pub posters: Arc<dyn PosterStorage>,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, jwt_secret: &str) -> Self {
        let tokens = TokenKeys::new(jwt_secret.as_bytes(), config.token_ttl_seconds);
        // `Config` accepts only provider names that exist, so the fallback is never taken.
        // `Config` checked a set key; tests set none and get a key of their own. `serve` and the
        // Lambda functions always set one before, so codes outlive a restart and agree across
        // functions.
        let ticket_secret = config.ticket_signing_key.clone().unwrap_or_else(TicketKeys::generate_secret);
        let tickets = TicketKeys::from_secret(&ticket_secret).expect("Config checks TICKET_SIGNING_KEY");
        let payments = payments::provider(&config.payment_provider, config.webhook_secret.as_deref())
            .unwrap_or_else(|| Arc::new(SimulatedProvider::new(config.webhook_secret.as_deref())));
        Self {
            config: Arc::new(config),
            store,
            tokens: Arc::new(tokens),
            queue_tokens: Arc::new(QueueTokenKeys::new(jwt_secret.as_bytes())),
            payments,
            seat_maps: Arc::new(SeatMapCache::default()),
            best_available: Arc::default(),
            tickets: Arc::new(tickets),
            queue_polls: Arc::default(),
            posters: Arc::new(NoPosterStorage),
        }
    }

    /// The same state with its posters stored there (a folder, an S3 bucket).
    pub fn with_posters(mut self, posters: Arc<dyn PosterStorage>) -> Self {
        self.posters = posters;
        self
    }

    /// The same state with another payment provider (tests keep a handle on a simulated one).
    pub fn with_payment_provider(mut self, payments: Arc<dyn PaymentProvider>) -> Self {
        self.payments = payments;
        self
    }
}
