//! The webhooks' delivery job: one pass fans out the events written since the last (one
//! delivery per subscribed endpoint), claims a batch of due deliveries (each by one conditional
//! write in the store, so two jobs at once never post the same attempt, and never a booking's
//! later event to an endpoint while an earlier one is pending), posts them at once, each signed
//! with its endpoint's secret, and settles each with the answer: delivered on a `2xx`; pending
//! again after `retry_delay` otherwise (an unreachable endpoint, a time-out, any other status),
//! failed after `MAX_ATTEMPTS`. A settlement a replay or a later claim superseded changes nothing.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::domain::{
    CLAIM_LEASE, ClaimedDelivery, DeliveryOutcome, Settlement, after_transient_failure, answer_excerpt,
    signature_header,
};
use crate::store::{Store, StoreResult};

/// Events fanned out, and deliveries claimed, per pass.
pub const FAN_OUT_BATCH: u32 = 100;
pub const CLAIM_BATCH: u32 = 20;
/// How long an endpoint has to answer a delivery.
pub const DELIVERY_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// The most of an answer's body read (its excerpt is recorded).
const ANSWER_READ_BYTES: usize = 16 * 1024;
/// The signature's header.
pub const SIGNATURE_HEADER: &str = "x-proeventa-signature";

/// What passes did, as the job reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub fanned_out: u32,
    pub claimed: u32,
    pub delivered: u32,
    pub retrying: u32,
    pub failed: u32,
    pub superseded: u32,
}

impl Delivered {
    fn add(&mut self, other: Delivered) {
        self.fanned_out += other.fanned_out;
        self.claimed += other.claimed;
        self.delivered += other.delivered;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.superseded += other.superseded;
    }
}

impl std::fmt::Display for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} event(s) fanned out, {} delivery(ies) claimed: {} delivered, {} to retry, {} failed",
            self.fanned_out, self.claimed, self.delivered, self.retrying, self.failed
        )?;
        if self.superseded > 0 {
            write!(f, ", {} superseded", self.superseded)?;
        }
        Ok(())
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Delivers webhooks.
#[derive(Clone)]
pub struct WebhookSender {
    store: Arc<dyn Store>,
    client: HttpClient,
}

impl WebhookSender {
    /// A sender posting over HTTP or HTTPS (rustls, the system's roots).
    pub fn new(store: Arc<dyn Store>) -> std::io::Result<Self> {
        let connector =
            hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { store, client })
    }

    /// Passes until one fans out and claims less than a full batch: everything due now is
    /// delivered or settled for later.
    pub async fn drain(&self) -> StoreResult<Delivered> {
        let mut total = Delivered::default();
        loop {
            let pass = self.pass(Utc::now()).await?;
            total.add(pass);
            if pass.fanned_out < FAN_OUT_BATCH && pass.claimed < CLAIM_BATCH {
                return Ok(total);
            }
        }
    }

    /// One pass at `now`: fan out, claim, post every claimed delivery at once, settle each.
    pub async fn pass(&self, now: DateTime<Utc>) -> StoreResult<Delivered> {
        let fanned_out = self.store.fan_out_webhook_events(FAN_OUT_BATCH, now).await?;
        let claimed = self.store.claim_deliveries(CLAIM_BATCH, CLAIM_LEASE, now).await?;
        let mut done =
            Delivered { fanned_out, claimed: u32::try_from(claimed.len()).unwrap_or(u32::MAX), ..Delivered::default() };
        let mut posts = tokio::task::JoinSet::new();
        for claim in claimed {
            let client = self.client.clone();
            posts.spawn(async move {
                let outcome = post(&client, &claim).await;
                (claim, outcome)
            });
        }
        while let Some(posted) = posts.join_next().await {
            let (claim, outcome) =
                posted.map_err(|e| crate::store::StoreError::Internal(format!("a delivery task failed: {e}")))?;
            match &outcome.settlement {
                Settlement::Sent => done.delivered += 1,
                Settlement::RetryAt { .. } => done.retrying += 1,
                Settlement::Failed { .. } => done.failed += 1,
            }
            let delivery = &claim.delivery;
            if !self.store.settle_delivery(delivery.id, delivery.attempts, &outcome, Utc::now()).await? {
                done.superseded += 1;
                tracing::info!(delivery_id = %delivery.id, "webhook settlement superseded by a replay or a later claim");
            }
        }
        Ok(done)
    }
}

/// Posts one claimed delivery: how the attempt ended, with the answer to record. The secret
/// signs the body and appears nowhere else (not in a log line, not in the outcome).
async fn post(client: &HttpClient, claim: &ClaimedDelivery) -> DeliveryOutcome {
    let delivery = &claim.delivery;
    let body = claim.event.payload();
    let signature = signature_header(&claim.secret, Utc::now().timestamp(), &body);
    let request = hyper::Request::post(claim.url.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "ProEventa-Webhooks/1")
        .header(SIGNATURE_HEADER, signature)
        .header("x-proeventa-event-id", claim.event.id.to_string())
        .body(Full::new(Bytes::from(body)));
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            let reason = format!("the URL cannot be requested: {error}");
            return DeliveryOutcome {
                settlement: Settlement::Failed { reason: reason.clone() },
                status_code: None,
                response: answer_excerpt(reason.as_bytes()),
            };
        }
    };
    let answered = tokio::time::timeout(DELIVERY_TIMEOUT, async {
        let answer = client.request(request).await?;
        let status = answer.status().as_u16();
        // Only the first bytes matter (an excerpt is kept); a longer body is cut, not an error.
        let body = match Limited::new(answer.into_body(), ANSWER_READ_BYTES).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok::<_, hyper_util::client::legacy::Error>((status, body))
    })
    .await;
    let (status_code, response, failure) = match answered {
        Ok(Ok((status, body))) if (200..300).contains(&status) => (Some(status), answer_excerpt(&body), None),
        Ok(Ok((status, body))) => (Some(status), answer_excerpt(&body), Some(format!("answered {status}"))),
        Ok(Err(error)) => {
            let reason = format!("no answer: {}", error_chain(&error));
            (None, answer_excerpt(reason.as_bytes()), Some(reason))
        }
        Err(_) => {
            let reason = format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs());
            (None, reason.clone(), Some(reason))
        }
    };
    let settlement = match failure {
        None => {
            tracing::info!(delivery_id = %delivery.id, event_id = %claim.event.id, event_type = %claim.event.event_type, "webhook delivered");
            Settlement::Sent
        }
        Some(reason) => {
            tracing::info!(delivery_id = %delivery.id, attempt = delivery.attempts, %reason, "webhook not delivered: retrying later");
            after_transient_failure(delivery.attempts, reason, Utc::now())
        }
    };
    DeliveryOutcome { settlement, status_code, response }
}

/// An error with its causes (hyper's own says only "client error (Connect)").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
