//! Best available, held (issue 19): the picker (`domain::SeatView`) chooses a block of adjacent
//! seats from the event's statuses, and the block is held through `HoldStore::hold`, the same
//! all-or-nothing hold a buyer's own `seat_ids` take. Nothing here decides who gets a seat: the
//! store's unique index or conditional write does, for every block tried. A block another buyer
//! won meanwhile is a lost hold like any other; the next try chooses again.
//!
//! The loop, bounded:
//! - the statuses are the process's desk for the event (`best_available_desk`): read from the
//!   store at most once a second (`desk::MAX_AGE`) by one request while the others wait, and
//!   showing the blocks this process's requests are holding right now, so they choose apart;
//! - each try claims one block on the desk and holds it; a loss marks the seats the store named
//!   as taken, and the next try chooses at random among the next `4^losses` best blocks (1, then
//!   4, 16, up to 64; `SeatView::choices`): buyers of other processes who raced for the best
//!   block spread over the next ones instead of all racing again for one;
//! - every second loss, and whenever the desk has no block left, the statuses are read again
//!   unless a read began after the loss (at most `MAX_READS` reads by one request), so others'
//!   wins show;
//! - "no block" is only answered from statuses read after the request began, with no block of
//!   this process still being held that could free one;
//! - at most `MAX_TRIES` holds: a request in a sale moving faster than it can follow is answered
//!   (`Outrun`) rather than kept waiting, and its store cost stays bounded (8 holds, 4 reads).

use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use super::best_available_desk::{Desk, MAX_AGE, Outcome, Pick};
use super::{Store, StoreError};
use crate::domain::{BestAvailable, Block, Booking, HoldLimit, HoldRequest, HoldTtl, Invalid, SeatSelection, SeatView};

/// The most blocks one request tries to hold.
pub const MAX_TRIES: usize = 8;
/// The most times one request reads the event's statuses from the store.
pub const MAX_READS: usize = 4;
/// The widest choice after losses.
const MAX_CHOICES: usize = 64;
/// How often, and how long each time, a request waits for this process's other requests to settle
/// their blocks when every block left is one of theirs.
const MAX_WAITS: usize = 20;
const SETTLE_WAIT: Duration = Duration::from_millis(250);

/// A best-available hold about to be tried: as `HoldRequest`, with the ask instead of the seats.
#[derive(Debug, Clone)]
pub struct BestAvailableRequest {
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub want: BestAvailable,
    pub ttl: HoldTtl,
    pub limit: HoldLimit,
    pub admitted: bool,
    /// An access code unlocks the event's presale (see `HoldRequest::presale`).
    pub presale: bool,
}

/// A block held, with the view it was chosen from (before the hold) and how many tries it took.
#[derive(Debug)]
pub struct BestHeld {
    pub booking: Booking,
    pub view: SeatView,
    pub block: Block,
    pub tries: usize,
}

#[derive(Debug)]
pub enum BestAvailableError {
    /// The store refused a hold for a reason other than a lost seat (hold limit, not on sale,
    /// queue, event canceled or started, unknown event), or the tier is not the event's.
    Store(StoreError),
    /// No `count` adjacent free seats (of the tier) in one row, in statuses read from the store
    /// during this request (less the seats it found taken since).
    NoBlock,
    /// Every block tried was won by another buyer first, `MAX_TRIES` times (or the reads ran out,
    /// or this process's other requests kept every block left for longer than it waits).
    Outrun { tries: usize },
}

impl From<StoreError> for BestAvailableError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Holds the best free block for `request.want`, trying again as described in the module.
pub async fn hold_best_available(
    store: &dyn Store,
    request: &BestAvailableRequest,
    desk: &Desk,
) -> Result<BestHeld, BestAvailableError> {
    let want = &request.want;
    let began = Instant::now();
    let mut reads = 0;
    // Statuses up to `MAX_AGE` old are good to start from; a read begun within that is waited for.
    let recent = began.checked_sub(MAX_AGE).unwrap_or(began);
    if desk.read_at().is_none_or(|at| at < recent) && desk.refresh(store, request.event_id, recent).await? {
        reads += 1;
    }
    if let Some(tier) = want.tier()
        && desk.has_tier(tier) == Some(false)
    {
        let invalid = Invalid::new("best_available.tier", format!("this event has no seats of tier `{tier}`"));
        return Err(StoreError::Rejected(invalid).into());
    }
    if let Some(section) = want.section()
        && desk.has_section(section) == Some(false)
    {
        let invalid = Invalid::new("best_available.section", format!("this event's venue has no section `{section}`"));
        return Err(StoreError::Rejected(invalid).into());
    }
    let (mut tries, mut losses, mut waits) = (0, 0u32, 0);
    loop {
        let claim = match desk.claim(want, 4usize.pow(losses.min(3)).min(MAX_CHOICES)) {
            Pick::Claimed(claim) => claim,
            Pick::Nothing { read_at, claimed } => {
                let fresh = read_at.is_some_and(|at| at >= began);
                if !fresh && reads < MAX_READS {
                    if desk.refresh(store, request.event_id, began).await? {
                        reads += 1;
                    }
                    continue;
                }
                // Blocks this process's other requests are holding may come back.
                if claimed && waits < MAX_WAITS {
                    waits += 1;
                    desk.wait_for_a_settle(SETTLE_WAIT).await;
                    continue;
                }
                return Err(if fresh && !claimed {
                    BestAvailableError::NoBlock
                } else {
                    BestAvailableError::Outrun { tries }
                });
            }
        };
        if tries == MAX_TRIES {
            desk.settle(&claim, Outcome::Dropped);
            return Err(BestAvailableError::Outrun { tries });
        }
        tries += 1;
        let claimed_at = Instant::now();
        let seats = match SeatSelection::parse(claim.seat_ids.clone()) {
            Ok(seats) => seats,
            Err(invalid) => {
                desk.settle(&claim, Outcome::Dropped);
                return Err(StoreError::Rejected(invalid).into());
            }
        };
        let hold = HoldRequest {
            booking_id: Uuid::new_v4(),
            user_id: request.user_id,
            event_id: request.event_id,
            seats,
            ttl: request.ttl,
            limit: request.limit,
            admitted: request.admitted,
            presale: request.presale,
            // Best available holds the event's first type, which is never hidden.
            unlocked_types: Vec::new(),
            accessible: want.accessible(),
        };
        match store.hold(&hold, Utc::now()).await {
            Ok(booking) => {
                desk.settle(&claim, Outcome::Won);
                return Ok(BestHeld { booking, view: claim.view, block: claim.block, tries });
            }
            Err(StoreError::SeatsUnavailable(lost)) => {
                losses += 1;
                desk.settle(&claim, Outcome::Lost(&lost));
                if losses % 2 == 0 && reads < MAX_READS && desk.refresh(store, request.event_id, claimed_at).await? {
                    reads += 1;
                }
            }
            Err(other) => {
                desk.settle(&claim, Outcome::Dropped);
                return Err(other.into());
            }
        }
    }
}
