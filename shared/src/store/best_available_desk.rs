//! What one process knows of an event's seats for best available (`Desk`): the statuses last
//! read from the store, and the blocks this process's requests are holding right now (their
//! claims). A request chooses its block and claims it in one step under the desk's lock, so the
//! requests of one process choose different blocks instead of racing each other for the best
//! one; and the statuses are read again at most once a second (`MAX_AGE`), by one request while
//! the others wait for that read, instead of once per request. Only a hint: the store's unique
//! index or conditional write still referees every hold, including those of other processes and
//! of buyers who pick their own seats, which a desk sees at its next read or when a hold loses.
//!
//! `Desks` keeps one desk per event, for the events best available was asked of lately.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Entity, Store, StoreError};
use crate::domain::{BestAvailable, Block, SeatLabel, SeatState, SeatView, accessible_release_at};

/// How old a desk's statuses may be when a request starts from them.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// The most events a process keeps a desk for; the one asked of least lately makes room.
const MAX_DESKS: usize = 64;

/// One event's desk in one process.
pub struct Desk {
    state: Mutex<DeskState>,
    /// Held while the statuses are read, so one request reads and the others wait for it.
    reading: tokio::sync::Mutex<()>,
    /// Told whenever a claim ends, for a request that found every block claimed.
    settled: tokio::sync::Notify,
}

#[derive(Default)]
struct DeskState {
    read: Option<Read>,
    claims: HashMap<u64, Block>,
    next_claim: u64,
}

/// Statuses read from the store: `base` as read (less the seats found taken since), `view` the
/// same with every current claim taken, which is what a request chooses from.
struct Read {
    at: Instant,
    base: SeatView,
    view: SeatView,
    /// The event's accessible release, read with the statuses: until then a general ask never
    /// gets a wheelchair space or companion seat (`BestAvailable::holding_back`). `None`: never
    /// held back.
    release_at: Option<DateTime<Utc>>,
}

/// A block claimed for one request: chosen from `view`, to be held, then settled.
#[derive(Debug)]
pub struct Claim {
    id: u64,
    pub block: Block,
    pub seat_ids: Vec<Uuid>,
    /// The view the block was chosen from (other requests' claims shown taken).
    pub view: SeatView,
}

/// What choosing from a desk found.
#[derive(Debug)]
pub enum Pick {
    Claimed(Claim),
    /// No block for the ask in the desk's view. `read_at` is when its statuses were read;
    /// `claimed` whether blocks held by this process's requests in flight might free one.
    Nothing {
        read_at: Option<Instant>,
        claimed: bool,
    },
}

/// How a claimed block's hold ended.
pub enum Outcome<'a> {
    /// Held: its seats stay taken.
    Won,
    /// Lost: the store named these seats taken by others; the block's other seats are free again.
    Lost(&'a [SeatLabel]),
    /// Not held for another reason: the block's seats are free again.
    Dropped,
}

impl Default for Desk {
    fn default() -> Self {
        Self { state: Mutex::default(), reading: tokio::sync::Mutex::new(()), settled: tokio::sync::Notify::new() }
    }
}

impl Desk {
    /// A desk that starts from statuses already read (at `at`), as a process that served a seat
    /// map does.
    pub fn seeded(seats: Arc<[SeatState]>, at: Instant) -> Self {
        let desk = Self::default();
        desk.install(seats, None, at);
        desk
    }

    fn lock(&self) -> MutexGuard<'_, DeskState> {
        // A panic while the lock was held left a hint at worst: the store referees every hold.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the desk's statuses were read, if ever.
    pub fn read_at(&self) -> Option<Instant> {
        self.lock().read.as_ref().map(|read| read.at)
    }

    /// Whether any seat of the desk's statuses has this tier (`None` before the first read).
    pub fn has_tier(&self, tier: &str) -> Option<bool> {
        self.lock().read.as_ref().map(|read| read.base.has_tier(tier))
    }

    /// Whether any seat of the desk's statuses is in this section (`None` before the first read).
    pub fn has_section(&self, section: &str) -> Option<bool> {
        self.lock().read.as_ref().map(|read| read.base.has_section(section))
    }

    /// Reads the event's statuses unless a read started at or after `fresh_since` is already in
    /// (made while this request waited for another's read). Whether this request read.
    pub async fn refresh(&self, store: &dyn Store, event_id: Uuid, fresh_since: Instant) -> Result<bool, StoreError> {
        let _reading = self.reading.lock().await;
        if self.read_at().is_some_and(|at| at >= fresh_since) {
            return Ok(false);
        }
        let at = Instant::now();
        let now = Utc::now();
        let event = store.event(event_id, now).await?.ok_or(StoreError::NotFound(Entity::Event))?;
        let release_at = accessible_release_at(event.start_time, event.accessible_release_hours);
        let seats = store.seat_map(event_id, now).await?.ok_or(StoreError::NotFound(Entity::Event))?;
        self.install(Arc::from(seats), release_at, at);
        Ok(true)
    }

    /// Puts statuses read at `at` in, with the claims in flight taken on them.
    fn install(&self, seats: Arc<[SeatState]>, release_at: Option<DateTime<Utc>>, at: Instant) {
        let base = SeatView::new(seats);
        let mut state = self.lock();
        // Positions are the seat map's; a map of another length (the venue changed) voids them.
        if state.read.as_ref().is_some_and(|read| read.base.seats().len() != base.seats().len()) {
            state.claims.clear();
        }
        let mut view = base.clone();
        for block in state.claims.values() {
            view.take(block);
        }
        state.read = Some(Read { at, base, view, release_at });
    }

    /// Chooses a block for `want` at random among the `choices` best in the desk's view and
    /// claims it (its seats taken in the view until it is settled).
    pub fn claim(&self, want: &BestAvailable, choices: usize) -> Pick {
        let mut state = self.lock();
        let claimed = !state.claims.is_empty();
        let Some(read) = state.read.as_mut() else { return Pick::Nothing { read_at: None, claimed } };
        let want = want.clone().holding_back(read.release_at.is_some_and(|release| Utc::now() < release));
        let blocks = read.view.choices(&want, choices);
        if blocks.is_empty() {
            return Pick::Nothing { read_at: Some(read.at), claimed };
        }
        let block = blocks[(Uuid::new_v4().as_u128() % blocks.len() as u128) as usize];
        let view = read.view.clone();
        read.view.take(&block);
        let seat_ids = view.seat_ids(&block);
        let id = state.next_claim;
        state.next_claim += 1;
        state.claims.insert(id, block);
        Pick::Claimed(Claim { id, block, seat_ids, view })
    }

    /// Ends a claim with its hold's outcome.
    pub fn settle(&self, claim: &Claim, outcome: Outcome<'_>) {
        let mut state = self.lock();
        let voided = state.claims.remove(&claim.id).is_none();
        if let Some(read) = state.read.as_mut().filter(|_| !voided) {
            match outcome {
                Outcome::Won => read.base.take(&claim.block),
                Outcome::Lost(taken) => {
                    read.base.mark_taken(taken);
                    read.view.mark_taken(taken);
                    read.view.free_as_in(&claim.block, &read.base);
                }
                Outcome::Dropped => read.view.free_as_in(&claim.block, &read.base),
            }
        }
        drop(state);
        self.settled.notify_waiters();
    }

    /// Waits until a claim is settled, or `at_most`.
    pub async fn wait_for_a_settle(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.settled.notified()).await;
    }
}

/// One desk per event, for the events best available was asked of lately in this process.
#[derive(Default)]
pub struct Desks {
    desks: Mutex<HashMap<Uuid, (Arc<Desk>, Instant)>>,
}

impl Desks {
    /// The event's desk, made when there is none.
    pub fn get(&self, event_id: Uuid) -> Arc<Desk> {
        let mut desks = self.desks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if let Some((desk, used)) = desks.get_mut(&event_id) {
            *used = now;
            return desk.clone();
        }
        if desks.len() >= MAX_DESKS
            && let Some(oldest) = desks.iter().min_by_key(|(_, (_, used))| *used).map(|(id, _)| *id)
        {
            desks.remove(&oldest);
        }
        let desk = Arc::new(Desk::default());
        desks.insert(event_id, (desk.clone(), now));
        desk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{HoldLimit, SeatStatus};

    fn seats(row: &str, count: i32) -> Arc<[SeatState]> {
        (1..=count)
            .map(|n| SeatState {
                seat_id: Uuid::new_v4(),
                section: None,
                row: row.into(),
                seat_number: n,
                tier: "standard".into(),
                price_cents: 1000,
                status: SeatStatus::Available,
                x: None,
                y: None,
                attributes: Vec::new(),
            })
            .collect()
    }

    fn two() -> BestAvailable {
        BestAvailable::parse(2, None, HoldLimit::default()).expect("an ask")
    }

    fn claimed(pick: Pick) -> Claim {
        match pick {
            Pick::Claimed(claim) => claim,
            other => panic!("no claim: {other:?}"),
        }
    }

    #[test]
    fn requests_of_one_process_claim_different_blocks_until_none_is_left() {
        let desk = Desk::seeded(seats("A", 6), Instant::now());
        let first = claimed(desk.claim(&two(), 1));
        let second = claimed(desk.claim(&two(), 1));
        let third = claimed(desk.claim(&two(), 1));
        let mut starts = vec![first.block.start, second.block.start, third.block.start];
        starts.sort();
        assert_eq!(starts, vec![0, 2, 4], "three blocks of two, none shared");
        assert!(matches!(desk.claim(&two(), 1), Pick::Nothing { claimed: true, .. }));
    }

    #[test]
    fn a_lost_block_frees_its_other_seats_and_keeps_the_taken_one_taken() {
        let desk = Desk::seeded(seats("A", 4), Instant::now());
        // Seats 1-2 (the middle two would leave 1 and 4 alone).
        let claim = claimed(desk.claim(&two(), 1));
        assert_eq!(claim.block.start, 0);
        let taken = [SeatLabel { section: None, row: "A".into(), seat_number: 2, tier: "standard".into() }];
        desk.settle(&claim, Outcome::Lost(&taken));
        // Seat 2 is someone else's, seat 1 free again: 3-4 is the one block of two left.
        let again = claimed(desk.claim(&two(), 1));
        assert_eq!(again.view.seats()[again.block.start].seat_number, 3);
        assert!(again.view.is_free(0) && !again.view.is_free(1), "seat 1 given back, seat 2 taken");
        desk.settle(&again, Outcome::Won);
        assert!(matches!(desk.claim(&two(), 1), Pick::Nothing { claimed: false, .. }));
    }

    #[test]
    fn a_dropped_claim_gives_its_seats_back_and_a_won_one_keeps_them_after_a_new_read() {
        let map = seats("A", 6);
        let desk = Desk::seeded(map.clone(), Instant::now());
        let dropped = claimed(desk.claim(&two(), 1));
        desk.settle(&dropped, Outcome::Dropped);
        let won = claimed(desk.claim(&two(), 1));
        assert_eq!(won.block, dropped.block, "the same best block again");
        // A read made while the hold is in flight does not show it yet: the claim stays taken.
        desk.install(map, None, Instant::now());
        let other = claimed(desk.claim(&two(), 1));
        assert_ne!(other.block.start, won.block.start);
        desk.settle(&won, Outcome::Won);
        desk.settle(&other, Outcome::Won);
        let last = claimed(desk.claim(&two(), 1));
        desk.settle(&last, Outcome::Won);
        assert!(matches!(desk.claim(&two(), 1), Pick::Nothing { claimed: false, .. }));
    }

    #[test]
    fn desks_keep_one_per_event_and_make_room_for_a_new_one() {
        let desks = Desks::default();
        let event = Uuid::new_v4();
        assert!(Arc::ptr_eq(&desks.get(event), &desks.get(event)));
        for _ in 0..MAX_DESKS {
            desks.get(Uuid::new_v4());
        }
        assert_eq!(desks.desks.lock().unwrap().len(), MAX_DESKS);
    }
}
