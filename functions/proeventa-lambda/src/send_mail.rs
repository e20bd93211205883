//! `job-send-mail`: delivers the outbox, then the outgoing webhooks (their events are written
//! beside the outbox's messages, so the same wake-ups find them). Invoked by the DynamoDB table's stream when outbox items
//! are written (filtered to their `MSG#` keys) and by an EventBridge schedule every minute (the
//! safety net, and the only trigger on PostgreSQL). Either way the event only says "look": each
//! run drains what is due from the store, which is the truth (a record in the event may be
//! claimed already by another run; a message due for a retry has no new record at all).

use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{LambdaEvent, service_fn};
use proeventa_core::config::MailUrl;
use proeventa_core::mail::{Drained, Sender, sender_for};
use proeventa_core::store::Writes;
use proeventa_core::tickets::TicketKeys;
use proeventa_core::webhooks::{Delivered, WebhookSender};

use crate::init::{InitError, open_store};
use crate::{init_logging, lambda_config};

/// The store writes the job makes (see `Group::store_writes`): claiming and settling messages.
/// It delivers the outgoing webhooks too (fan-out, claims, settlements).
pub const SEND_MAIL_WRITES: &[Writes] = &[Writes::Messages, Writes::WebhookDeliveries];

/// Opens the store and the transport once, then drains the outbox on every event. The job signs
/// ticket codes (the confirmation's QR and PDFs), so it needs the shared `TICKET_SIGNING_KEY`, and
/// a `MAIL_URL` (on AWS `ses://`).
pub async fn run_send_mail() -> Result<(), lambda_runtime::Error> {
    let started = Instant::now();
    let config = lambda_config(|key| std::env::var(key).ok())?;
    init_logging(config.log_format);
    crate::emf::install("job-send-mail");
    let secret = config.ticket_signing_key.clone().ok_or_else(|| {
        InitError::new("TICKET_SIGNING_KEY is not set: job-send-mail signs the tickets it mails with the shared key")
    })?;
    let tickets = Arc::new(TicketKeys::from_secret(&secret).map_err(|e| InitError::new(e.to_string()))?);
    let mail_url = config.mail_url.clone().unwrap_or(MailUrl::None);
    let store = open_store(&config).await?;
    // The outgoing webhooks' delivery runs in the same job, after the mail (see README, "Webhooks").
    let webhooks = match WebhookSender::new(store.clone()) {
        Ok(webhooks) => Some(webhooks),
        Err(error) => {
            tracing::error!(%error, "no webhook deliveries: the system's TLS roots could not be read");
            None
        }
    };
    let sender = sender_for(&config, &mail_url, store, tickets)
        .await
        .map_err(InitError::new)?
        .ok_or_else(|| InitError::new("MAIL_URL is not set (or none): job-send-mail has nothing to send with"))?;
    tracing::info!(function = "job-send-mail", %mail_url, init_ms = started.elapsed().as_secs_f64() * 1000.0, "initialized");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (sender, webhooks) = (sender.clone(), webhooks.clone());
        async move {
            let drained = send_mail(&sender, event).await;
            if let Some(webhooks) = &webhooks {
                deliver_webhooks(webhooks).await?;
            }
            // The run's outbox counts and the depth it left leave as EMF lines (`crate::emf`),
            // whether it failed or not.
            crate::emf::flush();
            drained
        }
    }))
    .await
}

/// The webhooks' part of a run: every event fanned out and every due delivery posted.
pub async fn deliver_webhooks(webhooks: &WebhookSender) -> Result<Delivered, lambda_runtime::Error> {
    let delivered = webhooks.drain().await?;
    tracing::info!(
        fanned_out = delivered.fanned_out,
        claimed = delivered.claimed,
        delivered = delivered.delivered,
        retrying = delivered.retrying,
        failed = delivered.failed,
        "webhooks delivered"
    );
    Ok(delivered)
}

/// One run: whatever woke it (stream records or the schedule), everything due is delivered.
pub async fn send_mail(
    sender: &Sender,
    event: LambdaEvent<serde_json::Value>,
) -> Result<Drained, lambda_runtime::Error> {
    let trigger = if event.payload.get("Records").is_some() { "stream" } else { "schedule" };
    let drained = sender.drain().await?;
    tracing::info!(
        trigger,
        claimed = drained.claimed,
        sent = drained.sent,
        retrying = drained.retrying,
        failed = drained.failed,
        "outbox drained"
    );
    Ok(drained)
}
