//! Best available, held (issue 19): the picker (`domain::SeatView`) chooses a block of adjacent
//! seats from the event's statuses, and the block is held through `HoldStore::hold`, the same
//! all-or-nothing hold a buyer's own `seat_ids` take. Nothing here decides who gets a seat: the
//! store's unique index or conditional write does, for every block tried. A block another buyer
//! won meanwhile is a lost hold like any other; the next try chooses again.
//!
//! The loop, bounded:
//! - the view is the statuses given (the API's cached seat map, when this process has a fresh
//!   one) or read from the store (`CatalogStore::seat_map`);
//! - each try holds one block; a loss marks the seats the store named as taken in the view, and
//!   the next try chooses at random among the next `4^losses` best blocks (1, then 4, 16, up to
//!   64; `SeatView::choices`): buyers who raced for the best block spread over the next ones
//!   instead of all racing again for one;
//! - every second loss, and whenever the view has no block left, the statuses are read again
//!   (at most `MAX_READS` reads), so others' wins show;
//! - "no block" is only answered from a view read from the store during this request;
//! - at most `MAX_TRIES` holds: a request in a sale moving faster than it can follow is answered
//!   (`Outrun`) rather than kept waiting, and its store cost stays bounded (8 holds, 4 reads).

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use super::{Entity, Store, StoreError};
use crate::domain::{
    BestAvailable, Block, Booking, HoldLimit, HoldRequest, HoldTtl, Invalid, SeatSelection, SeatState, SeatView,
};

/// The most blocks one request tries to hold.
pub const MAX_TRIES: usize = 8;
/// The most times one request reads the event's statuses from the store.
pub const MAX_READS: usize = 4;
/// The widest choice after losses.
const MAX_CHOICES: usize = 64;

/// A best-available hold about to be tried: as `HoldRequest`, with the ask instead of the seats.
#[derive(Debug, Clone)]
pub struct BestAvailableRequest {
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub want: BestAvailable,
    pub ttl: HoldTtl,
    pub limit: HoldLimit,
    pub admitted: bool,
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
    /// Every block tried was won by another buyer first, `MAX_TRIES` times (or the reads ran out).
    Outrun { tries: usize },
}

impl From<StoreError> for BestAvailableError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

async fn read(store: &dyn Store, event_id: Uuid) -> Result<SeatView, StoreError> {
    let seats = store.seat_map(event_id, Utc::now()).await?.ok_or(StoreError::NotFound(Entity::Event))?;
    Ok(SeatView::new(Arc::from(seats)))
}

/// Holds the best free block for `request.want`, trying again as described in the module.
pub async fn hold_best_available(
    store: &dyn Store,
    request: &BestAvailableRequest,
    statuses: Option<Arc<[SeatState]>>,
) -> Result<BestHeld, BestAvailableError> {
    let want = &request.want;
    // `fresh`: read from the store by this request (a view marked since only lost free seats).
    let (mut view, mut fresh, mut reads) = match statuses {
        Some(seats) => (SeatView::new(seats), false, 0),
        None => (read(store, request.event_id).await?, true, 1),
    };
    if let Some(tier) = want.tier()
        && !view.has_tier(tier)
    {
        let invalid = Invalid::new("best_available.tier", format!("this event has no seats of tier `{tier}`"));
        return Err(StoreError::Rejected(invalid).into());
    }
    let (mut tries, mut losses) = (0, 0u32);
    loop {
        let choices = view.choices(want, 4usize.pow(losses.min(3)).min(MAX_CHOICES));
        if choices.is_empty() {
            if fresh {
                return Err(BestAvailableError::NoBlock);
            }
            if reads >= MAX_READS {
                return Err(BestAvailableError::Outrun { tries });
            }
            (view, fresh, reads) = (read(store, request.event_id).await?, true, reads + 1);
            continue;
        }
        if tries == MAX_TRIES {
            return Err(BestAvailableError::Outrun { tries });
        }
        tries += 1;
        let block = choices[(Uuid::new_v4().as_u128() % choices.len() as u128) as usize];
        let hold = HoldRequest {
            booking_id: Uuid::new_v4(),
            user_id: request.user_id,
            event_id: request.event_id,
            seats: SeatSelection::parse(view.seat_ids(&block)).map_err(StoreError::Rejected)?,
            ttl: request.ttl,
            limit: request.limit,
            admitted: request.admitted,
        };
        match store.hold(&hold, Utc::now()).await {
            Ok(booking) => return Ok(BestHeld { booking, view, block, tries }),
            Err(StoreError::SeatsUnavailable(lost)) => {
                losses += 1;
                if view.mark_taken(&lost) == 0 {
                    view.take(&block);
                }
                if losses % 2 == 0 && reads < MAX_READS {
                    (view, fresh, reads) = (read(store, request.event_id).await?, true, reads + 1);
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
}
