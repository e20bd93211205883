//! Holds that arrive together are committed together (`batch`): a batch of holds is one
//! transaction, in which the unique index still decides every seat and each booking stays
//! all-or-nothing.
//!
//! Two holds of the same seat never share a batch (the later one waits for the next), so a seat
//! is only ever refused because a committed or concurrently committing hold has it. Nor do two
//! holds of the same user for the same event: each takes its hold slots (one per held seat, up to
//! the user's `HoldLimit`) after the previous one's are written, so neither is refused for slots
//! that the other asked for but then did not get (a seat it lost).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::batch::{BatchQueue, Batched};
use super::{StoreError, StoreResult};
use crate::domain::{Booking, HoldRequest};

/// One hold waiting for a batch.
#[derive(Clone)]
pub struct PendingHold {
    pub request: HoldRequest,
    pub now: DateTime<Utc>,
}

/// What two holds of one batch may not share.
#[derive(PartialEq, Eq, Hash)]
pub enum HoldKey {
    /// A seat of an event.
    Seat { event_id: Uuid, seat_id: Uuid },
    /// A user's hold slots for an event.
    Holder { event_id: Uuid, user_id: Uuid },
}

impl Batched for PendingHold {
    type Key = HoldKey;
    const QUEUE: &'static str = "holds";

    fn conflict_keys(&self) -> impl Iterator<Item = HoldKey> + '_ {
        let HoldRequest { event_id, user_id, .. } = self.request;
        let seats = self.request.seats.ids().iter().map(move |&seat_id| HoldKey::Seat { event_id, seat_id });
        seats.chain(std::iter::once(HoldKey::Holder { event_id, user_id }))
    }
}

/// What a batch did with one hold; the same on every backend.
pub enum HoldOutcome {
    /// Every seat is held, by the batch's commit.
    Held(Booking),
    /// Nothing was written for this hold, for the reason given: seats taken (named), the user's
    /// limit of held seats, or a rule the store knows (unknown event, seat not in the venue,
    /// event canceled or started).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Refused(StoreError),
    /// Nothing was written for this hold, and the batch cannot tell why: PostgreSQL's one
    /// statement only sees that the hold got no booking (and a deadlock rolls a batch back).
    /// The backend asks the store, after the batch, which refusal applies.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Undecided,
    /// The batch itself failed (the store is unreachable): every hold in it gets this.
    Failed(StoreError),
}

impl HoldOutcome {
    /// The caller's answer, or `None` for an `Undecided` hold, whose refusal the backend still
    /// has to find out (or which it places again when nothing refuses it).
    pub fn decided(self) -> Option<StoreResult<Booking>> {
        match self {
            HoldOutcome::Held(booking) => Some(Ok(booking)),
            HoldOutcome::Refused(refusal) => Some(Err(refusal)),
            HoldOutcome::Undecided => None,
            HoldOutcome::Failed(err) => Some(Err(err)),
        }
    }
}

/// The queue in front of a backend's hold batches (its `Batches` of `PendingHold`s).
pub type HoldQueue = BatchQueue<PendingHold, HoldOutcome>;

impl HoldQueue {
    /// Places one hold through the next batch and waits for the commit that covers it.
    pub async fn hold(&self, request: HoldRequest, now: DateTime<Utc>) -> HoldOutcome {
        self.submit(PendingHold { request, now }).await
    }
}

#[cfg(test)]
mod tests {
    //! The hold's conflict keys, through the queue in front of a scripted backend (`batch::testing`).

    use std::collections::HashSet;

    use super::*;
    use crate::domain::{HoldLimit, HoldTtl, SeatSelection};
    use crate::store::batch::testing::{Batch, Harness, Verdict, committed};

    fn hold_of(event_id: Uuid, seats: &[Uuid]) -> PendingHold {
        let request = HoldRequest {
            booking_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            event_id,
            seats: SeatSelection::parse(seats.to_vec()).expect("a valid seat selection"),
            ttl: HoldTtl::from_seconds(600).expect("a valid ttl"),
            limit: HoldLimit::default(),
            admitted: false,
            presale: false,
            unlocked_types: Vec::new(),
            accessible: false,
        };
        PendingHold { request, now: Utc::now() }
    }

    /// A hold by `user` (the other helpers make a new user per hold).
    fn hold_by(user_id: Uuid, event_id: Uuid, seats: &[Uuid]) -> PendingHold {
        let hold = hold_of(event_id, seats);
        PendingHold { request: HoldRequest { user_id, ..hold.request }, ..hold }
    }

    fn seats(count: usize) -> Vec<Uuid> {
        (0..count).map(|_| Uuid::new_v4()).collect()
    }

    fn bookings(batch: &Batch<PendingHold>) -> Vec<Uuid> {
        batch.requests.iter().map(|hold| hold.request.booking_id).collect()
    }

    /// The booking of a committed hold; panics on any other outcome.
    async fn held(outcome: tokio::task::JoinHandle<Result<PendingHold, StoreError>>) -> Uuid {
        committed(outcome).await.request.booking_id
    }

    #[tokio::test]
    async fn two_holds_of_one_seat_never_share_a_batch() {
        let mut harness = Harness::start(1);
        let (event, other_event) = (Uuid::new_v4(), Uuid::new_v4());
        let seat = seats(5);
        // The worker is busy with a first batch while the holds below queue up behind it.
        let first = hold_of(event, &[seat[4]]);
        let first_outcome = harness.submit(&first);
        let first_batch = harness.next_batch().await;
        assert_eq!(bookings(&first_batch), [first.request.booking_id]);

        let a = hold_of(event, &[seat[0]]);
        let b = hold_of(event, &[seat[0]]); // a's seat
        let c = hold_of(event, &[seat[1], seat[2]]);
        let d = hold_of(event, &[seat[2], seat[3]]); // shares seat[2] with c
        let e = hold_of(other_event, &[seat[0]]); // a's seat id, but of another event
        let mut outcomes = Vec::new();
        for hold in [&a, &b, &c, &d, &e] {
            outcomes.push(harness.submit_queued(hold).await);
        }
        first_batch.end(Verdict::Commit);

        // All five were waiting together: the later hold of each shared seat waits for the next batch.
        let second = harness.next_batch().await;
        assert_eq!(bookings(&second), [a.request.booking_id, c.request.booking_id, e.request.booking_id]);
        second.end(Verdict::Commit);
        let third = harness.next_batch().await;
        assert_eq!(bookings(&third), [b.request.booking_id, d.request.booking_id]);
        third.end(Verdict::Commit);

        assert_eq!(held(first_outcome).await, first.request.booking_id);
        for (outcome, hold) in outcomes.into_iter().zip([&a, &b, &c, &d, &e]) {
            assert_eq!(held(outcome).await, hold.request.booking_id, "each caller gets its own booking");
        }
    }

    #[tokio::test]
    async fn two_holds_of_one_user_for_one_event_never_share_a_batch() {
        let mut harness = Harness::start(1);
        let (event, other_event) = (Uuid::new_v4(), Uuid::new_v4());
        let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let seat = seats(5);
        let first = hold_of(event, &[seat[4]]);
        let first_outcome = harness.submit(&first);
        let first_batch = harness.next_batch().await;

        let a = hold_by(ann, event, &[seat[0]]);
        let b = hold_by(ann, event, &[seat[1]]); // ann again, same event
        let c = hold_by(bob, event, &[seat[2]]);
        let d = hold_by(ann, other_event, &[seat[3]]); // ann, another event
        let mut outcomes = Vec::new();
        for hold in [&a, &b, &c, &d] {
            outcomes.push(harness.submit_queued(hold).await);
        }
        first_batch.end(Verdict::Commit);

        let second = harness.next_batch().await;
        assert_eq!(bookings(&second), [a.request.booking_id, c.request.booking_id, d.request.booking_id]);
        second.end(Verdict::Commit);
        let third = harness.next_batch().await;
        assert_eq!(bookings(&third), [b.request.booking_id]);
        third.end(Verdict::Commit);

        assert_eq!(held(first_outcome).await, first.request.booking_id);
        for (outcome, hold) in outcomes.into_iter().zip([&a, &b, &c, &d]) {
            assert_eq!(held(outcome).await, hold.request.booking_id);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn holds_of_one_seat_never_share_a_batch_under_load() {
        const HOLDS: usize = 300;
        let mut harness = Harness::start(4);
        let events = [Uuid::new_v4(), Uuid::new_v4()];
        let seat = seats(6);
        // Every hold wants one or two of six seats: most of them collide with others.
        let holds: Vec<PendingHold> = (0..HOLDS)
            .map(|i| {
                let wanted = if i % 3 == 0 { vec![seat[i % 6], seat[(i + 1) % 6]] } else { vec![seat[i % 6]] };
                hold_of(events[i % 2], &wanted)
            })
            .collect();
        let outcomes: Vec<_> = holds.iter().map(|hold| harness.submit(hold)).collect();

        let mut answered = 0;
        while answered < HOLDS {
            let batch = harness.next_batch().await;
            let mut taken = HashSet::new();
            for hold in &batch.requests {
                for seat in hold.request.seats.ids() {
                    assert!(taken.insert((hold.request.event_id, *seat)), "two holds of seat {seat} share a batch");
                }
            }
            answered += batch.requests.len();
            batch.end(Verdict::Commit);
        }
        for (outcome, hold) in outcomes.into_iter().zip(&holds) {
            assert_eq!(held(outcome).await, hold.request.booking_id);
        }
    }
}
