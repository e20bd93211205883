//! Outgoing webhooks: endpoints an admin registers, the events the store writes beside the
//! changes they report (in the same transaction, like the outbox's messages), and their
//! deliveries, one per event and subscribed endpoint, each posted at least once with a stable
//! `id`, signed with the endpoint's secret, retried with the outbox's backoff, in order per
//! booking per endpoint.
//!
//! What does not depend on the backend lives here: which events a message's change reports
//! (`events_for_message`), the order events are delivered in (`event_order`), a delivery's id
//! (`delivery_id`, the same wherever it is fanned out, so fanning out twice writes one), the
//! payload and its signature.

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Invalid, MessageFacts, RefundFacts, wire_enum};

wire_enum! {
    /// What happened, as a receiver reads it in the payload's `type`.
    WebhookEventType {
        BookingConfirmed => "booking.confirmed",
        BookingCanceled => "booking.canceled",
        RefundCreated => "refund.created",
        EventCanceled => "event.canceled",
        TicketCheckedIn => "ticket.checked_in",
    }
}

wire_enum! {
    /// `pending → delivered`, or `pending → failed` after `MAX_ATTEMPTS` (or at once for an
    /// answer that will not change); a replay takes a delivered or failed one back to `pending`.
    DeliveryStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" }
}

/// The longest URL an endpoint may have.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// How long a delivery's recorded answer excerpt may be (characters).
pub const ANSWER_EXCERPT_CHARS: usize = 200;

/// An endpoint's URL: absolute `http://` or `https://` with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_WEBHOOK_URL_CHARS {
            return Err(Invalid::new("url", format!("must be at most {MAX_WEBHOOK_URL_CHARS} characters")));
        }
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))
            .ok_or_else(|| Invalid::new("url", "must start with http:// or https://"))?;
        let uri: axum::http::Uri = raw.parse().map_err(|_| Invalid::new("url", "is not a valid URL"))?;
        let host = uri.host().unwrap_or_default();
        if host.is_empty() || rest.starts_with('/') || raw.chars().any(char::is_whitespace) {
            return Err(Invalid::new("url", "must name a host"));
        }
        if uri.authority().is_some_and(|authority| authority.as_str().contains('@')) {
            return Err(Invalid::new("url", "must not carry a user name or password"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// As stored: trusted without parsing again.
    pub fn stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret an endpoint's deliveries are signed with: 16 to 256 characters. Printed as `***`
/// by `Debug` and never serialized, so it never reaches an answer or a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub const MIN_CHARS: usize = 16;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(Invalid::new(
                "secret",
                format!("must be {} to {} characters", Self::MIN_CHARS, Self::MAX_CHARS),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(Invalid::new("secret", "must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// As stored: trusted without parsing again.
    pub fn stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// An endpoint to register, parsed at the edge.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub secret: WebhookSecret,
    /// The event types it wants, at least one, each once, in the order given.
    pub events: Vec<WebhookEventType>,
}

impl NewWebhook {
    pub fn parse(url: &str, secret: &str, events: &[String]) -> Result<Self, Invalid> {
        let url = WebhookUrl::parse(url)?;
        let secret = WebhookSecret::parse(secret)?;
        if events.is_empty() {
            return Err(Invalid::new("events", "must name at least one event type"));
        }
        let mut parsed = Vec::with_capacity(events.len());
        for raw in events {
            let event: WebhookEventType = raw.parse().map_err(|_| {
                let known: Vec<&str> = WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();
                Invalid::new("events", format!("unknown event type `{raw}`; expected one of: {}", known.join(", ")))
            })?;
            if !parsed.contains(&event) {
                parsed.push(event);
            }
        }
        Ok(Self { url, secret, events: parsed })
    }
}

/// A registered endpoint. Its secret is kept by the store for signing and never answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    #[schema(value_type = String, example = "https://example.com/proeventa")]
    #[serde(serialize_with = "serialize_url")]
    pub url: WebhookUrl,
    pub events: Vec<WebhookEventType>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub secret: WebhookSecret,
}

fn serialize_url<S: serde::Serializer>(url: &WebhookUrl, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(url.as_str())
}

impl Webhook {
    pub fn wants(&self, event_type: WebhookEventType) -> bool {
        self.events.contains(&event_type)
    }
}

/// Something that happened, written by the change itself, fanned out into deliveries later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The payload's `id`: the same on every attempt, replay and endpoint.
    pub id: Uuid,
    pub event_type: WebhookEventType,
    /// What its deliveries are ordered by: the booking (the event, for `event.canceled`).
    pub subject_id: Uuid,
    /// Where it sorts among its subject's events (`event_order`).
    pub order: String,
    /// The payload's `data`.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// The sort key of an event: its time (milliseconds), then its place among the events one change
/// wrote (a cancel's `booking.canceled` before its `refund.created`), then its id. Text, so
/// every backend compares it the same way (the SQL triggers of a check-in write it too).
pub fn event_order(created_at: DateTime<Utc>, position: u32, id: Uuid) -> String {
    format!("{:015}#{position:03}#{id}", created_at.timestamp_millis().max(0))
}

impl WebhookEvent {
    fn new(
        event_type: WebhookEventType,
        subject_id: Uuid,
        position: u32,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        let id = Uuid::new_v4();
        Self { id, event_type, subject_id, order: event_order(now, position, id), data, created_at: now }
    }

    /// `event.canceled`, written by `cancel_event` in the transaction that closes the event.
    pub fn event_canceled(event_id: Uuid, now: DateTime<Utc>) -> Self {
        Self::new(WebhookEventType::EventCanceled, event_id, 0, json!({ "event_id": event_id }), now)
    }

    /// `ticket.checked_in`, as the SQL triggers write it (the same shape, here for DynamoDB):
    /// its id is the admitting scan's, so it is written once per admission.
    pub fn ticket_checked_in(
        scan_id: Uuid,
        ticket_id: Uuid,
        booking_id: Uuid,
        event_id: Uuid,
        gate: &str,
        at: DateTime<Utc>,
    ) -> Self {
        let data = json!({
            "ticket_id": ticket_id,
            "booking_id": booking_id,
            "event_id": event_id,
            "gate": gate,
            "checked_in_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        Self {
            id: scan_id,
            event_type: WebhookEventType::TicketCheckedIn,
            subject_id: booking_id,
            order: event_order(at, 0, scan_id),
            data,
            created_at: at,
        }
    }

    /// The body posted: `{id, type, created_at, data}`.
    pub fn payload(&self) -> String {
        json!({
            "id": self.id,
            "type": self.event_type.as_str(),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

/// The webhook events a change reports with the message it writes (same transaction): a
/// confirm's `booking.confirmed`; a paid booking canceled (by its buyer or with its event)
/// `booking.canceled` then `refund.created`; seats canceled or a failed confirm given back,
/// `refund.created`. Messages of no webhook type (a welcome, a reset, ...) write none.
pub fn events_for_message(user_id: Option<Uuid>, facts: &MessageFacts, now: DateTime<Utc>) -> Vec<WebhookEvent> {
    let refund = |booking_id: Uuid, refund: &RefundFacts, reservation_ids: Option<&Vec<Uuid>>, position| {
        let mut data = json!({
            "booking_id": booking_id,
            "payment_id": refund.payment_id,
            "amount_cents": refund.amount_cents,
        });
        if let Some(ids) = reservation_ids {
            data["reservation_ids"] = json!(ids);
        }
        WebhookEvent::new(WebhookEventType::RefundCreated, booking_id, position, data, now)
    };
    let canceled = |booking_id: Uuid, event_id: Option<Uuid>| {
        let mut data = json!({ "booking_id": booking_id, "user_id": user_id });
        if let Some(event_id) = event_id {
            data["event_id"] = json!(event_id);
        }
        WebhookEvent::new(WebhookEventType::BookingCanceled, booking_id, 0, data, now)
    };
    match facts {
        MessageFacts::BookingConfirmed { booking_id, payment_id } => vec![WebhookEvent::new(
            WebhookEventType::BookingConfirmed,
            *booking_id,
            0,
            json!({ "booking_id": booking_id, "payment_id": payment_id, "user_id": user_id }),
            now,
        )],
        MessageFacts::BookingCanceled { booking_id, refund: facts } => {
            vec![canceled(*booking_id, None), refund(*booking_id, facts, None, 1)]
        }
        MessageFacts::EventCanceled { event_id, booking_id, refund: facts } => {
            vec![canceled(*booking_id, Some(*event_id)), refund(*booking_id, facts, None, 1)]
        }
        MessageFacts::SeatCanceled { booking_id, reservation_ids, refund: facts } => {
            vec![refund(*booking_id, facts, Some(reservation_ids), 0)]
        }
        MessageFacts::PaymentRefunded { booking_id, refund: facts } => vec![refund(*booking_id, facts, None, 0)],
        MessageFacts::AccountCreated
        | MessageFacts::EventRescheduled { .. }
        | MessageFacts::PasswordReset { .. }
        | MessageFacts::WaitlistOffered { .. } => Vec::new(),
    }
}

/// A delivery's id, derived from its event and endpoint: every fan-out of an event computes the
/// same ids, so writing them is idempotent by the id alone (DynamoDB's conditional put) as well
/// as by the unique (event, webhook) of SQL.
pub fn delivery_id(event_id: Uuid, webhook_id: Uuid) -> Uuid {
    let digest = Sha256::new().chain_update(event_id.as_bytes()).chain_update(webhook_id.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// One attempt's delivery to an endpoint: what the admin list shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The payload's `id`.
    pub event_id: Uuid,
    pub event_type: WebhookEventType,
    pub status: DeliveryStatus,
    /// Attempts made so far (claims); a claim counts one before it posts.
    pub attempts: u32,
    /// When a delivery job may next try it (pending only): at once when fanned out, a retry's
    /// backoff after a failed attempt, a lease's end while a job holds it.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer, if the endpoint answered at all.
    pub last_status_code: Option<u16>,
    /// The first characters of the last answer's body, or why no answer came.
    pub last_response: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery a job claimed, with what it needs to post it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub url: WebhookUrl,
    pub secret: WebhookSecret,
    pub event: WebhookEvent,
}

/// How a claimed attempt ended, with the answer to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub settlement: super::Settlement,
    pub status_code: Option<u16>,
    /// The answer's excerpt, or why none came (at most `ANSWER_EXCERPT_CHARS`).
    pub response: String,
}

/// The first `ANSWER_EXCERPT_CHARS` characters of an answer's body, control characters as
/// spaces (it is shown in an admin's list).
pub fn answer_excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(ANSWER_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The `x-proeventa-signature` header of `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` keyed with the secret's bytes.
pub fn signature_header(secret: &WebhookSecret, timestamp: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={timestamp},v1={}", crate::hex::encode(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(WebhookUrl::parse("https://example.com/hooks").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://",
            "https:///x",
            "http://user:pw@host/",
            "javascript:alert(1)",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn secrets_are_sixteen_to_256_characters_and_never_printed() {
        assert!(WebhookSecret::parse("short").is_err());
        assert!(WebhookSecret::parse(&"x".repeat(257)).is_err());
        let secret = WebhookSecret::parse("0123456789abcdef").unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // The vector of RFC 4231's second test case: key "Jefe", data "what do ya want for nothing?".
        let secret = WebhookSecret::stored("Jefe".into());
        let header = signature_header(&secret, 0, "what do ya want for nothing?");
        // Signed text is "0.what do ya want for nothing?", so compare with an independent MAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(header, format!("t=0,v1={hex}"));
    }

    #[test]
    fn a_paid_booking_canceled_reports_the_cancel_before_the_refund() {
        let (booking, payment) = (Uuid::new_v4(), Uuid::new_v4());
        let facts = MessageFacts::BookingCanceled {
            booking_id: booking,
            refund: RefundFacts { payment_id: payment, amount_cents: 1800 },
        };
        let events = events_for_message(Some(Uuid::new_v4()), &facts, Utc::now());
        let types: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(types, [WebhookEventType::BookingCanceled, WebhookEventType::RefundCreated]);
        assert!(events[0].order < events[1].order);
        assert!(events.iter().all(|e| e.subject_id == booking));
        assert!(events_for_message(None, &MessageFacts::AccountCreated, Utc::now()).is_empty());
    }

    #[test]
    fn a_delivery_id_depends_on_its_event_and_endpoint_only() {
        let (event, hook) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(delivery_id(event, hook), delivery_id(event, hook));
        assert_ne!(delivery_id(event, hook), delivery_id(hook, event));
    }
}
