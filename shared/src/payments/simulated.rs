//! The `simulated` provider: test cards decide the outcome, charges live in memory, and webhooks
//! are signed `sha256=<hex HMAC-SHA256 of the raw body>` with `WEBHOOK_SECRET`.
//!
//! A real provider keeps its charges across our restarts; this one keeps their amount in the
//! reference it hands out (`sim_<id>_<amount>`), so a server started anew on the same store (`make
//! run` again) can still capture, void or refund a charge an earlier process made, up to its
//! amount. What it forgets is what was refunded before: the store, which records every refund
//! and never refunds more than was paid, is the one that stops a second refund.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::{Authorization, PaymentProvider, ProviderError};
use crate::domain::Card;

pub const DECLINED_CARD: &str = "4000000000000002";
pub const INSUFFICIENT_FUNDS_CARD: &str = "4000000000009995";

/// What happened to one simulated charge, for tests and for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulatedCharge {
    pub payment_id: Uuid,
    pub amount_cents: i64,
    pub captured: bool,
    pub voided: bool,
    pub refunded_cents: i64,
}

pub struct SimulatedProvider {
    webhook_secret: Option<Vec<u8>>,
    charges: Mutex<HashMap<String, SimulatedCharge>>,
    /// Cards refused (declined or short of funds), by payment: what a provider's dashboard shows.
    refused: Mutex<HashMap<Uuid, usize>>,
}

impl SimulatedProvider {
    pub fn new(webhook_secret: Option<&str>) -> Self {
        Self {
            webhook_secret: webhook_secret.map(|s| s.as_bytes().to_vec()),
            charges: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Every charge so far, by provider reference.
    pub fn charges(&self) -> HashMap<String, SimulatedCharge> {
        self.charges.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many cards this provider refused for a payment.
    pub fn refused_cards(&self, payment_id: Uuid) -> usize {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).get(&payment_id).copied().unwrap_or(0)
    }

    /// `sha256=<hex>` for a body, as a provider would send it (used by tests and tools).
    pub fn sign(secret: &[u8], raw_body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(raw_body);
        format!("sha256={}", crate::hex::encode(&mac.finalize().into_bytes()))
    }

    /// Runs `f` on a charge; one an earlier process made is recalled from its reference, as
    /// captured or not (`recalled_captured`) as the operation asked of it implies.
    fn with_charge<T>(
        &self,
        provider_ref: &str,
        recalled_captured: bool,
        f: impl FnOnce(&mut SimulatedCharge) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut charges = self.charges.lock().unwrap_or_else(|p| p.into_inner());
        if !charges.contains_key(provider_ref) {
            let amount_cents = remembered_amount(provider_ref)
                .ok_or_else(|| ProviderError::Unavailable(format!("unknown charge {provider_ref}")))?;
            // Made by an earlier process: only the store asks about it, and only as its payment
            // stands (a capture of an authorized one, a refund of a captured one).
            let charge = SimulatedCharge { amount_cents, captured: recalled_captured, ..SimulatedCharge::default() };
            charges.insert(provider_ref.to_owned(), charge);
        }
        let charge = charges.get_mut(provider_ref).expect("inserted above");
        f(charge)
    }
}

/// The amount kept in a reference of this provider (`sim_<32 hex digits>_<amount>`).
fn remembered_amount(provider_ref: &str) -> Option<i64> {
    let (id, amount) = provider_ref.strip_prefix("sim_")?.split_once('_')?;
    let well_formed = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    amount.parse().ok().filter(|amount| well_formed && *amount > 0)
}

#[async_trait]
impl PaymentProvider for SimulatedProvider {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn authorize(
        &self,
        payment_id: Uuid,
        amount_cents: i64,
        _currency: &str,
        card: &Card,
    ) -> Result<Authorization, ProviderError> {
        let refusal = match card.number() {
            DECLINED_CARD => Some(ProviderError::Declined),
            INSUFFICIENT_FUNDS_CARD => Some(ProviderError::InsufficientFunds),
            _ => None,
        };
        if let Some(refusal) = refusal {
            *self.refused.lock().unwrap_or_else(|p| p.into_inner()).entry(payment_id).or_default() += 1;
            return Err(refusal);
        }
        let provider_ref = format!("sim_{}_{amount_cents}", Uuid::new_v4().simple());
        let charge = SimulatedCharge { payment_id, amount_cents, ..SimulatedCharge::default() };
        self.charges.lock().unwrap_or_else(|p| p.into_inner()).insert(provider_ref.clone(), charge);
        Ok(Authorization { provider_ref })
    }

    async fn capture(&self, provider_ref: &str) -> Result<(), ProviderError> {
        self.with_charge(provider_ref, false, |charge| {
            if charge.voided {
                return Err(ProviderError::Unavailable("cannot capture a voided charge".into()));
            }
            charge.captured = true;
            Ok(())
        })
    }

    async fn void(&self, provider_ref: &str) -> Result<(), ProviderError> {
        self.with_charge(provider_ref, false, |charge| {
            if charge.captured {
                return Err(ProviderError::Unavailable("cannot void a captured charge".into()));
            }
            charge.voided = true;
            Ok(())
        })
    }

    async fn refund(&self, provider_ref: &str, amount_cents: i64) -> Result<(), ProviderError> {
        self.with_charge(provider_ref, true, |charge| {
            if !charge.captured || charge.refunded_cents + amount_cents > charge.amount_cents {
                return Err(ProviderError::Unavailable("refund exceeds the captured amount".into()));
            }
            charge.refunded_cents += amount_cents;
            Ok(())
        })
    }

    fn verify_webhook(&self, raw_body: &[u8], signature: Option<&str>) -> bool {
        let (Some(secret), Some(signature)) = (&self.webhook_secret, signature) else { return false };
        let Some(hex) = signature.trim().strip_prefix("sha256=") else { return false };
        let Some(expected) = crate::hex::decode(hex) else { return false };
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => return false,
        };
        mac.update(raw_body);
        mac.verify_slice(&expected).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Utc};

    use super::*;

    fn card(number: &str) -> Card {
        let now = Utc::now();
        Card::parse(number, 12, now.year() + 2, "123", now).unwrap()
    }

    #[tokio::test]
    async fn test_cards_decide_the_outcome() {
        let provider = SimulatedProvider::new(None);
        let id = Uuid::new_v4();
        assert!(provider.authorize(id, 100, "EUR", &card("4242424242424242")).await.is_ok());
        assert_eq!(provider.authorize(id, 100, "EUR", &card(DECLINED_CARD)).await, Err(ProviderError::Declined));
        assert_eq!(
            provider.authorize(id, 100, "EUR", &card(INSUFFICIENT_FUNDS_CARD)).await,
            Err(ProviderError::InsufficientFunds)
        );
        assert!(provider.authorize(id, 100, "EUR", &card("5555555555554444")).await.is_ok());
    }

    #[tokio::test]
    async fn a_voided_charge_cannot_be_captured_and_refunds_stop_at_the_amount() {
        let provider = SimulatedProvider::new(None);
        let auth = provider.authorize(Uuid::new_v4(), 100, "EUR", &card("4242424242424242")).await.unwrap();
        provider.void(&auth.provider_ref).await.unwrap();
        assert!(provider.capture(&auth.provider_ref).await.is_err());
        let auth = provider.authorize(Uuid::new_v4(), 100, "EUR", &card("4242424242424242")).await.unwrap();
        provider.capture(&auth.provider_ref).await.unwrap();
        provider.refund(&auth.provider_ref, 60).await.unwrap();
        assert!(provider.refund(&auth.provider_ref, 60).await.is_err());
    }

    #[tokio::test]
    async fn a_provider_started_anew_still_refunds_an_earlier_charge_up_to_its_amount() {
        let earlier = SimulatedProvider::new(None);
        let auth = earlier.authorize(Uuid::new_v4(), 100, "EUR", &card("4242424242424242")).await.unwrap();
        earlier.capture(&auth.provider_ref).await.unwrap();

        let restarted = SimulatedProvider::new(None);
        assert!(restarted.refund(&auth.provider_ref, 101).await.is_err(), "never more than the charge");
        restarted.refund(&auth.provider_ref, 60).await.unwrap();
        assert!(restarted.refund(&auth.provider_ref, 60).await.is_err(), "refunds still add up");
        assert!(restarted.refund("sim_not-ours_100", 10).await.is_err(), "a reference it never made is unknown");
        assert!(restarted.capture("ch_12345").await.is_err());
    }

    #[test]
    fn webhook_signatures_are_checked() {
        let provider = SimulatedProvider::new(Some("whsec"));
        let body = br#"{"id":"evt_1"}"#;
        let good = SimulatedProvider::sign(b"whsec", body);
        assert!(provider.verify_webhook(body, Some(&good)));
        assert!(!provider.verify_webhook(br#"{"id":"evt_2"}"#, Some(&good)));
        assert!(!provider.verify_webhook(body, Some(&SimulatedProvider::sign(b"other", body))));
        assert!(!provider.verify_webhook(body, None));
        assert!(!provider.verify_webhook(body, Some("sha256=zz")));
        assert!(!SimulatedProvider::new(None).verify_webhook(body, Some(&good)));
    }
}
