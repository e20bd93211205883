//! Webhooks' rules that do not depend on the backend, written once: the deliveries an event
//! fans out into, and what a settlement writes on the delivery it claimed. Each backend decides
//! *whether* a write happens (a unique key or a conditional write); these say what is written.

use chrono::{DateTime, Utc};

use crate::domain::{DeliveryOutcome, DeliveryStatus, Settlement, Webhook, WebhookDelivery, WebhookEvent, delivery_id};

/// The pending deliveries of `event`, one per endpoint of `webhooks` subscribed to its type, due
/// at `now`. Their ids depend on the event and the endpoint only, so a second fan-out of the same
/// event computes the same ones (and the store writes each once).
pub(crate) fn deliveries_for(event: &WebhookEvent, webhooks: &[Webhook], now: DateTime<Utc>) -> Vec<WebhookDelivery> {
    webhooks
        .iter()
        .filter(|webhook| webhook.wants(event.event_type))
        .map(|webhook| WebhookDelivery {
            id: delivery_id(event.id, webhook.id),
            webhook_id: webhook.id,
            event_id: event.id,
            event_type: event.event_type,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(now),
            last_status_code: None,
            last_response: None,
            created_at: now,
            delivered_at: None,
        })
        .collect()
}

/// What a settlement writes (always conditioned on the claim being the delivery's latest:
/// status `pending` and the claim's attempt count). The answer is recorded in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeliverySettled<'a> {
    pub status: DeliveryStatus,
    /// A retry's new due time; `None` keeps the one the claim set.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub status_code: Option<u16>,
    pub response: &'a str,
    pub delivered_at: Option<DateTime<Utc>>,
}

pub(crate) fn delivery_settled(outcome: &DeliveryOutcome, now: DateTime<Utc>) -> DeliverySettled<'_> {
    let (status, next_attempt_at, delivered_at) = match &outcome.settlement {
        Settlement::Sent => (DeliveryStatus::Delivered, None, Some(now)),
        Settlement::RetryAt { at, .. } => (DeliveryStatus::Pending, Some(*at), None),
        Settlement::Failed { .. } => (DeliveryStatus::Failed, None, None),
    };
    DeliverySettled {
        status,
        next_attempt_at,
        status_code: outcome.status_code,
        response: &outcome.response,
        delivered_at,
    }
}
