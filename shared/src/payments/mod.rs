//! Payment providers: the seam where a card processor plugs in (authorize, capture, void,
//! refund, webhook signatures), and the built-in `simulated` provider with its test cards.

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::Card;

mod simulated;

pub use simulated::{SimulatedCharge, SimulatedProvider};

/// Money reserved on a card, not yet taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The provider's reference for this charge, kept on the payment for capture and refunds.
    pub provider_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the card was declined")]
    Declined,
    #[error("the card has insufficient funds")]
    InsufficientFunds,
    #[error("the payment provider failed: {0}")]
    Unavailable(String),
}

/// A card processor. Authorize first, confirm the seats in the store, then capture — or void
/// when the seats were lost — so money is never kept without a ticket.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// The name stored on each payment, e.g. `simulated`.
    fn name(&self) -> &'static str;
    /// Reserves `amount_cents` on the card. `payment_id` makes a retried call idempotent.
    async fn authorize(
        &self,
        payment_id: Uuid,
        amount_cents: i64,
        currency: &str,
        card: &Card,
    ) -> Result<Authorization, ProviderError>;
    async fn capture(&self, provider_ref: &str) -> Result<(), ProviderError>;
    /// Releases an authorization that was never captured: no money moves.
    async fn void(&self, provider_ref: &str) -> Result<(), ProviderError>;
    /// Gives back part or all of a captured charge.
    async fn refund(&self, provider_ref: &str, amount_cents: i64) -> Result<(), ProviderError>;
    /// Whether `signature` (the `x-signature` header) signs `raw_body`; compared in constant time.
    fn verify_webhook(&self, raw_body: &[u8], signature: Option<&str>) -> bool;
}

/// Opens the provider named by `PAYMENT_PROVIDER`.
pub fn provider(name: &str, webhook_secret: Option<&str>) -> Option<std::sync::Arc<dyn PaymentProvider>> {
    match name {
        "simulated" => Some(std::sync::Arc::new(SimulatedProvider::new(webhook_secret))),
        _ => None,
    }
}
