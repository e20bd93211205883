//! The sender: one pass claims a batch of due messages (each by one conditional write in the
//! store, so two senders at once never take the same one), renders each, hands its mails to the
//! transport and settles it: sent; pending again after `retry_delay` when the failure is worth
//! retrying (until `MAX_ATTEMPTS`); failed when it never will pass (a permanent refusal, or what
//! it is about is gone, logged). A claim that an admin's resend or a later claim superseded
//! changes nothing when settled. After each round (`drain`) it counts the outbox's depth for the
//! `proeventa_outbox_depth` gauges.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::render::{Renderer, Unrenderable};
use super::transport::{SendError, Transport};
use crate::domain::{CLAIM_LEASE, OutboxMessage, Settlement, after_transient_failure};
use crate::store::{Store, StoreResult};

/// Messages claimed per pass.
pub const CLAIM_BATCH: u32 = 20;

/// What passes did, as `proeventa send-mail` and job-send-mail report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Drained {
    pub claimed: u32,
    /// Settled `sent` (every mail of the message handed over).
    pub sent: u32,
    /// Pending again, to be retried later.
    pub retrying: u32,
    /// Settled `failed`, visible to admins.
    pub failed: u32,
    /// Mails handed to the transport (a rescheduled event's message is one per booking).
    pub mails: u32,
    /// Settlements refused because a resend or a later claim came first.
    pub superseded: u32,
}

impl Drained {
    fn add(&mut self, other: Drained) {
        self.claimed += other.claimed;
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.mails += other.mails;
        self.superseded += other.superseded;
    }
}

impl std::fmt::Display for Drained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} message(s) claimed: {} sent ({} mail(s)), {} to retry, {} failed",
            self.claimed, self.sent, self.mails, self.retrying, self.failed
        )?;
        if self.superseded > 0 {
            write!(f, ", {} superseded", self.superseded)?;
        }
        Ok(())
    }
}

/// Delivers the outbox.
#[derive(Clone)]
pub struct Sender {
    store: Arc<dyn Store>,
    renderer: Renderer,
    transport: Transport,
}

impl Sender {
    pub fn new(store: Arc<dyn Store>, renderer: Renderer, transport: Transport) -> Self {
        Self { store, renderer, transport }
    }

    /// Passes until one claims less than a full batch: everything due now is delivered or
    /// settled for later. A batch claimed is always settled before the next is claimed. Then the
    /// round counts what it left (`metrics::outbox_depth`).
    pub async fn drain(&self) -> StoreResult<Drained> {
        let mut total = Drained::default();
        loop {
            let pass = self.pass(Utc::now()).await?;
            total.add(pass);
            if pass.claimed < CLAIM_BATCH {
                self.count_depth().await;
                return Ok(total);
            }
        }
    }

    /// Sets the depth gauges from the store's count. A count that fails is logged and leaves
    /// the gauges as they were: monitoring never fails a round whose mail went out.
    async fn count_depth(&self) {
        match self.store.outbox_depth().await {
            Ok(depth) => crate::metrics::outbox_depth(depth),
            Err(error) => tracing::warn!(%error, "counting the outbox failed; its depth gauges keep their last values"),
        }
    }

    /// One pass at `now`: claim up to `CLAIM_BATCH` due messages, deliver and settle each.
    pub async fn pass(&self, now: DateTime<Utc>) -> StoreResult<Drained> {
        let claimed = self.store.claim_messages(CLAIM_BATCH, CLAIM_LEASE, now).await?;
        let mut done = Drained { claimed: u32::try_from(claimed.len()).unwrap_or(u32::MAX), ..Drained::default() };
        for message in claimed {
            let (settlement, mails) = self.deliver(&message, now).await;
            match &settlement {
                Settlement::Sent => done.sent += 1,
                Settlement::RetryAt { .. } => done.retrying += 1,
                Settlement::Failed { .. } => done.failed += 1,
            }
            done.mails += mails;
            if !self.store.settle_message(message.id, message.attempts, &settlement, Utc::now()).await? {
                done.superseded += 1;
                tracing::info!(message_id = %message.id, "settlement superseded by a resend or a later claim");
            }
        }
        crate::metrics::outbox_pass(done.claimed, done.sent, done.retrying, done.failed, done.superseded);
        Ok(done)
    }

    /// Renders and sends one claimed message: how the attempt ended, and the mails handed over.
    async fn deliver(&self, message: &OutboxMessage, now: DateTime<Utc>) -> (Settlement, u32) {
        let kind = message.facts.kind();
        let mails = match self.renderer.render(message, now).await {
            Ok(mails) => mails,
            Err(Unrenderable::Gone(reason)) => {
                tracing::warn!(message_id = %message.id, kind = %kind.as_str(), %reason, "message cannot be delivered: failed");
                return (Settlement::Failed { reason }, 0);
            }
            Err(Unrenderable::Store(error)) => {
                let reason = format!("reading the store: {error}");
                tracing::warn!(message_id = %message.id, kind = %kind.as_str(), %reason, "message not rendered: retrying");
                return (after_transient_failure(message.attempts, reason, Utc::now()), 0);
            }
        };
        let mut handed = 0;
        for mail in &mails {
            // A failure after some of a fan-out's mails left sends those again on the retry:
            // at least once, with the same Message-ID each time.
            match self.transport.send(&mail.message).await {
                Ok(()) => handed += 1,
                Err(SendError::Permanent(reason)) => {
                    tracing::warn!(message_id = %message.id, kind = %kind.as_str(), booking_id = ?mail.booking_id, %reason, "mail refused for good: failed");
                    return (Settlement::Failed { reason }, handed);
                }
                Err(SendError::Transient(reason)) => {
                    tracing::info!(message_id = %message.id, kind = %kind.as_str(), attempt = message.attempts, %reason, "mail not sent: retrying later");
                    return (after_transient_failure(message.attempts, reason, Utc::now()), handed);
                }
            }
        }
        tracing::info!(message_id = %message.id, kind = %kind.as_str(), mails = handed, "message sent");
        (Settlement::Sent, handed)
    }
}
