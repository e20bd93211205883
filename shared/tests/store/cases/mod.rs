//! The bodies of the conformance cases, one module per capability of the store traits. Each takes
//! a fresh, migrated store and panics on a broken promise; `backend_tests!` (in `main.rs`) runs
//! every one of them on every backend. The modules share this one's imports and helpers.

mod accessible;
mod audit;
mod best_available;
mod cancel;
mod catalog;
mod codes;
mod full_bookings;
mod hold_extension;
mod hold_limit;
mod hold_races;
mod holds;
mod idempotency;
mod layouts;
mod limits;
mod listing_and_expiry;
mod messages;
mod password_resets;
mod payment_races;
mod payments;
mod posters;
mod refusals;
mod reports;
mod search;
mod seat_map;
mod ticket_types;
mod tickets;
mod users;
mod waiting_room;
mod waitlist;
mod webhooks;

pub use accessible::*;
pub use audit::*;
pub use best_available::*;
pub use cancel::*;
pub use catalog::*;
pub use codes::*;
pub use full_bookings::*;
pub use hold_extension::*;
pub use hold_limit::*;
pub use hold_races::*;
pub use holds::*;
pub use idempotency::*;
pub use layouts::*;
pub use limits::*;
pub use listing_and_expiry::*;
pub use messages::*;
pub use password_resets::*;
pub use payment_races::*;
pub use payments::*;
pub use posters::*;
pub use refusals::*;
pub use reports::*;
pub use search::*;
pub use seat_map::*;
pub use ticket_types::*;
pub use tickets::*;
pub use users::*;
pub use waiting_room::*;
pub use waitlist::*;
pub use webhooks::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use proeventa_core::domain::{
    Booking, Category, Email, Event, EventChanges, EventFilter, EventSort, EventStatus, HoldTtl, NewVenue, Page,
    Payment, PaymentStatus, Price, Refund, ReservationFilter, ReservationStatus, Role, SeatRow, SeatStatus, TimeZone,
    User, UserChanges, Venue, VenueChanges, VenueKind, VenueWithSeats,
};
use proeventa_core::store::{Entity, IdempotencyClaim, MAX_DECLINES_PER_PAYMENT, Store, StoreError, StoreResult};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::*;

/// The store under test.
type S = Arc<dyn Store>;

fn page(limit: i64, offset: i64) -> Page {
    Page { limit, offset }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    items.iter().map(id).collect()
}

fn close_in_time(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_milliseconds().abs() <= 1000
}
