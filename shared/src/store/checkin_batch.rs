//! Scans that arrive together are checked in together (`batch`) on the SQL backends: one
//! conditional update admits every `valid` ticket of the batch (`valid → used`, each recording its
//! own scan), and the tickets it left alone are read back in one query, as the refusals' answer.
//! The update alone decides who is admitted, exactly as it does for a single scan: nothing is read
//! before it.
//!
//! Two scans of one ticket never share a batch (the later one waits for the next), so the update
//! never meets one ticket twice: the first scan's batch admits it, and the second finds it used.

use std::collections::HashMap;

use async_trait::async_trait;
use uuid::Uuid;

use super::batch::{BatchQueue, Batched, Batches};
use super::{Entity, StoreError, StoreResult};
use crate::domain::{CheckIn, Scan, Ticket};

/// What a batch answers to one scan: `TicketStore::check_in`'s answer.
pub type CheckInOutcome = StoreResult<CheckIn>;

/// The queue in front of a backend's check-in batches (its `Batches` of `Scan`s).
pub type CheckInQueue = BatchQueue<Scan, CheckInOutcome>;

impl Batched for Scan {
    type Key = Uuid;
    const QUEUE: &'static str = "checkins";

    fn conflict_keys(&self) -> impl Iterator<Item = Uuid> + '_ {
        std::iter::once(self.ticket_id)
    }
}

/// What a SQL backend runs for a batch of scans.
#[async_trait]
pub trait CheckInStatements: Send + Sync + 'static {
    /// The one decision: admits every `valid` ticket of the batch, each with its own scan, by one
    /// conditional update (nothing read first), and returns them as written.
    async fn admit(&self, batch: &[Scan]) -> StoreResult<Vec<Ticket>>;

    /// Tickets by id, in one query, run after the update: it sees the scans that won them.
    async fn tickets(&self, ids: &[Uuid]) -> StoreResult<Vec<Ticket>>;
}

/// A backend's `CheckInStatements` as the batches of its `CheckInQueue`.
pub struct CheckIns<S>(pub S);

#[async_trait]
impl<S: CheckInStatements> Batches for CheckIns<S> {
    type Request = Scan;
    type Outcome = CheckInOutcome;

    async fn commit(&self, batch: &[Scan]) -> Vec<CheckInOutcome> {
        let admitted = match self.0.admit(batch).await {
            Ok(admitted) => admitted,
            Err(err) => return batch.iter().map(|_| Err(err.clone())).collect(),
        };
        let refused: Vec<Uuid> = batch
            .iter()
            .map(|scan| scan.ticket_id)
            .filter(|id| !admitted.iter().any(|ticket| ticket.id == *id))
            .collect();
        let read = if refused.is_empty() { Ok(Vec::new()) } else { self.0.tickets(&refused).await };
        outcomes(batch, admitted, read)
    }

    fn stopped(why: StoreError) -> CheckInOutcome {
        Err(why)
    }
}

/// Each scan's answer, in the batch's order: `Admitted` with the ticket the update wrote, else
/// `Refused` with the ticket as read after it (a ticket never goes back to `valid`, so that is the
/// state that refused it, or a later one: revoked after use), else `NotFound`. A failed read
/// fails the refused scans only: the admitted ones are written.
fn outcomes(batch: &[Scan], admitted: Vec<Ticket>, refused: StoreResult<Vec<Ticket>>) -> Vec<CheckInOutcome> {
    let mut admitted: HashMap<Uuid, Ticket> = admitted.into_iter().map(|ticket| (ticket.id, ticket)).collect();
    let mut refused =
        refused.map(|tickets| tickets.into_iter().map(|ticket| (ticket.id, ticket)).collect::<HashMap<_, _>>());
    batch
        .iter()
        .map(|scan| {
            if let Some(ticket) = admitted.remove(&scan.ticket_id) {
                return Ok(CheckIn::Admitted(ticket));
            }
            match &mut refused {
                Ok(found) => {
                    found.remove(&scan.ticket_id).map(CheckIn::Refused).ok_or(StoreError::NotFound(Entity::Ticket))
                }
                Err(err) => Err(err.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::Utc;

    use super::*;
    use crate::domain::Gate;
    use crate::store::batch::testing::{Harness, Verdict, committed};

    fn scan_of(ticket_id: Uuid) -> Scan {
        Scan { id: Uuid::new_v4(), ticket_id, gate: Gate::parse(None).unwrap(), at: Utc::now() }
    }

    fn scan_ids(batch: &[Scan]) -> Vec<Uuid> {
        batch.iter().map(|scan| scan.id).collect()
    }

    #[tokio::test]
    async fn two_scans_of_one_ticket_never_share_a_batch() {
        let mut harness = Harness::start(1);
        let tickets: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let first = scan_of(tickets[2]);
        let first_outcome = harness.submit(&first);
        let first_batch = harness.next_batch().await;

        // Two gates scan ticket 0 and ticket 1 at once; ticket 2 is scanned again.
        let queued = [scan_of(tickets[0]), scan_of(tickets[0]), scan_of(tickets[1]), scan_of(tickets[2])];
        let mut outcomes = Vec::new();
        for scan in &queued {
            outcomes.push(harness.submit_queued(scan).await);
        }
        first_batch.end(Verdict::Commit);

        // Ticket 2's own second scan may share the next batch: its first is already committed.
        let second = harness.next_batch().await;
        assert_eq!(scan_ids(&second.requests), [queued[0].id, queued[2].id, queued[3].id]);
        second.end(Verdict::Commit);
        let third = harness.next_batch().await;
        assert_eq!(scan_ids(&third.requests), [queued[1].id]);
        third.end(Verdict::Commit);

        assert_eq!(committed(first_outcome).await, first);
        for (outcome, scan) in outcomes.into_iter().zip(&queued) {
            assert_eq!(&committed(outcome).await, scan, "each gate gets its own scan's answer");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scans_of_one_ticket_never_share_a_batch_under_load() {
        const SCANS: usize = 400;
        let mut harness = Harness::start(4);
        // Every ticket scanned eight times, by gates racing each other.
        let tickets: Vec<Uuid> = (0..SCANS / 8).map(|_| Uuid::new_v4()).collect();
        let scans: Vec<Scan> = (0..SCANS).map(|i| scan_of(tickets[i % tickets.len()])).collect();
        let outcomes: Vec<_> = scans.iter().map(|scan| harness.submit(scan)).collect();

        let mut answered = 0;
        while answered < SCANS {
            let batch = harness.next_batch().await;
            let mut seen = HashSet::new();
            for scan in &batch.requests {
                assert!(seen.insert(scan.ticket_id), "two scans of ticket {} share a batch", scan.ticket_id);
            }
            answered += batch.requests.len();
            batch.end(Verdict::Commit);
        }
        for (outcome, scan) in outcomes.into_iter().zip(&scans) {
            assert_eq!(&committed(outcome).await, scan);
        }
    }
}
