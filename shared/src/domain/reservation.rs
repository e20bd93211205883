//! Seat holds: the seats a buyer asks for, reservations and bookings, and the rules of their life cycle.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Invalid, Page, wire_enum};

wire_enum! {
    /// `held → confirmed → canceled`, `held → canceled`, `held → expired`.
    ReservationStatus { Held => "held", Confirmed => "confirmed", Canceled => "canceled", Expired => "expired" }
}

impl ReservationStatus {
    /// The status a reader sees: a hold whose time has passed is `expired` at once,
    /// whether or not the sweeper has written that down yet.
    pub fn effective(self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == Self::Held && expires_at <= now { Self::Expired } else { self }
    }

    /// Held (unexpired) or confirmed: the seat is taken.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Held | Self::Confirmed)
    }
}

/// The seats one reserve asks for: 1 to 10 distinct seats, each with the ticket type it names
/// (`None`: the event's first type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSelection(Vec<Uuid>, Vec<Option<String>>);

impl SeatSelection {
    pub const MAX_SEATS: usize = 10;

    pub fn parse(seat_ids: Vec<Uuid>) -> Result<Self, Invalid> {
        if seat_ids.is_empty() || seat_ids.len() > Self::MAX_SEATS {
            return Err(Invalid::new("seat_ids", format!("must hold 1 to {} seats", Self::MAX_SEATS)));
        }
        let distinct: BTreeSet<&Uuid> = seat_ids.iter().collect();
        if distinct.len() != seat_ids.len() {
            return Err(Invalid::new("seat_ids", "lists a seat twice"));
        }
        let types = vec![None; seat_ids.len()];
        Ok(Self(seat_ids, types))
    }

    /// The same seats, each named in `types` (parsed by `parse_seat_types`) of that ticket type.
    pub fn with_types(self, types: &std::collections::BTreeMap<Uuid, String>) -> Self {
        let named = self.0.iter().map(|id| types.get(id).cloned()).collect();
        Self(self.0, named)
    }

    pub fn ids(&self) -> &[Uuid] {
        &self.0
    }

    /// The ticket type the seat `seat_id` names, if it names one.
    pub fn ticket_type(&self, seat_id: Uuid) -> Option<&str> {
        let i = self.0.iter().position(|id| *id == seat_id)?;
        self.1.get(i)?.as_deref()
    }

    /// Per seat (in `ids` order), the ticket type it names, if any.
    pub fn ticket_types(&self) -> &[Option<String>] {
        &self.1
    }
}

/// How long a hold lasts before its seats are free again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTtl(Duration);

impl HoldTtl {
    pub fn from_seconds(seconds: u32) -> Result<Self, Invalid> {
        if seconds == 0 {
            return Err(Invalid::new("HOLD_TTL_SECONDS", "must be at least 1"));
        }
        Ok(Self(Duration::seconds(i64::from(seconds))))
    }

    /// Any positive length, for tests that need holds lapsing within a race.
    pub fn from_millis(millis: u32) -> Result<Self, Invalid> {
        if millis == 0 {
            return Err(Invalid::new("HOLD_TTL_SECONDS", "must be positive"));
        }
        Ok(Self(Duration::milliseconds(i64::from(millis))))
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

/// How much the one extension of a booking's hold adds to it (`HOLD_EXTENSION_SECONDS`): 30
/// seconds to 30 minutes, 5 minutes by default. Bounded so that one buyer cannot keep seats from
/// everyone else for long: a hold lasts at most `HOLD_TTL_SECONDS` plus this (the payment window
/// aside), since a booking is extended once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldExtension(Duration);

impl HoldExtension {
    pub const DEFAULT_SECONDS: u32 = 300;
    pub const MIN_SECONDS: u32 = 30;
    pub const MAX_SECONDS: u32 = 1800;

    pub fn from_seconds(seconds: u32) -> Result<Self, Invalid> {
        if !(Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
            return Err(Invalid::new(
                "HOLD_EXTENSION_SECONDS",
                format!("must be {} to {} seconds", Self::MIN_SECONDS, Self::MAX_SECONDS),
            ));
        }
        Ok(Self(Duration::seconds(i64::from(seconds))))
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

impl Default for HoldExtension {
    fn default() -> Self {
        Self(Duration::seconds(i64::from(Self::DEFAULT_SECONDS)))
    }
}

/// The most seats one user may hold at once for one event (`MAX_HELD_SEATS_PER_USER`): held and
/// not lapsed. Confirmed, canceled, expired and lapsed holds do not count. The store enforces it
/// in the hold's own write, so one account cannot keep a show sold out by re-holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimit(u32);

impl HoldLimit {
    pub const DEFAULT: u32 = 10;
    /// The largest limit accepted: each held seat takes one of `1..=limit` slots in the store.
    pub const MAX: u32 = 1000;

    pub fn new(seats: u32) -> Result<Self, Invalid> {
        if !(1..=Self::MAX).contains(&seats) {
            return Err(Invalid::new("MAX_HELD_SEATS_PER_USER", format!("must be 1 to {}", Self::MAX)));
        }
        Ok(Self(seats))
    }

    /// The largest limit: for callers (tests about seats, not about the limit) that must not meet it.
    pub fn max() -> Self {
        Self(Self::MAX)
    }

    pub fn seats(self) -> u32 {
        self.0
    }
}

impl Default for HoldLimit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// A hold about to be placed: every seat or none.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub seats: SeatSelection,
    pub ttl: HoldTtl,
    /// How many seats of this event the user may hold at once, this hold's included.
    pub limit: HoldLimit,
    /// The request carries an admission of the event's waiting room for this account (its token
    /// checked by the API). An event whose queue is enabled holds seats only for such a request:
    /// the store decides it where it decides the opening, so a queue switched on at the last
    /// second still holds.
    pub admitted: bool,
    /// The request carries an access code that unlocks this event's presale (checked by the API:
    /// `Code::unlocks_presale`): the store holds seats for it before the event's `on_sale_at`,
    /// deciding it where it decides the opening.
    pub presale: bool,
    /// The hidden ticket types of the event that the hold's access code unlocks (checked by the
    /// API: `Code::unlocked_types`). A seat naming a hidden type not among them is refused by the
    /// store in the hold itself, as a type the event does not sell.
    pub unlocked_types: Vec<String>,
    /// The buyer asks for wheelchair spaces and companion seats as a wheelchair user (issue 19):
    /// before the event's accessible release such seats are held only for a hold that says so
    /// and whose seats are an accessible party (`domain::is_accessible_party`), decided by the
    /// store in the hold's own write.
    pub accessible: bool,
}

/// Where a reserved seat is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct SeatLabel {
    /// The seat's section; null in a venue of plain rows.
    #[serde(default)]
    pub section: Option<String>,
    pub row: String,
    pub seat_number: i32,
    pub tier: String,
}

impl SeatLabel {
    /// The label printed on a ticket and signed into its code: "Row C · Seat 12" (or "Block 104 ·
    /// Row 11 · Seat 1" in a venue of sections), which no two seats share (row 1 seat 11 and row 11
    /// seat 1 written together would both read "111").
    pub fn on_ticket(&self) -> String {
        super::seat_label(self.section.as_deref(), &self.row, self.seat_number)
    }
}

/// One seat of one booking for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Reservation {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub seat_id: Uuid,
    pub seat: SeatLabel,
    /// The seat's ticket type (`standard` for an event without types of its own).
    #[serde(default = "standard_type")]
    #[schema(example = "adult")]
    pub ticket_type: String,
    /// The type's price for the seat's tier, computed by the store when the seat was held.
    pub price_cents: i64,
    pub currency: String,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

fn standard_type() -> String {
    super::STANDARD_TICKET_TYPE.to_owned()
}

/// The seats one buyer reserved together for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Booking {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub total_cents: i64,
    pub currency: String,
    pub reservations: Vec<Reservation>,
    pub created_at: DateTime<Utc>,
}

impl Booking {
    /// Builds a booking from its reservations (all of one booking, at least one), whose
    /// statuses are already effective: any seat confirmed makes it confirmed, else any
    /// held makes it held, else any canceled makes it canceled, else it expired.
    pub fn from_reservations(id: Uuid, created_at: DateTime<Utc>, reservations: Vec<Reservation>) -> Option<Self> {
        let first = reservations.first()?;
        let (user_id, event_id, currency) = (first.user_id, first.event_id, first.currency.clone());
        let has = |s: ReservationStatus| reservations.iter().any(|r| r.status == s);
        let status = [ReservationStatus::Confirmed, ReservationStatus::Held, ReservationStatus::Canceled]
            .into_iter()
            .find(|s| has(*s))
            .unwrap_or(ReservationStatus::Expired);
        let expires_at = reservations.iter().map(|r| r.expires_at).max().unwrap_or(created_at);
        let total_cents = reservations.iter().filter(|r| r.status.is_active()).map(|r| r.price_cents).sum();
        Some(Self { id, user_id, event_id, status, expires_at, total_cents, currency, reservations, created_at })
    }
}

/// Which reservations to list; each `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ReservationFilter {
    pub user_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub status: Option<ReservationStatus>,
    pub page: Page,
}

/// Customers may cancel a confirmed seat only until this long before the event starts.
pub const CUSTOMER_CANCEL_CUTOFF_HOURS: i64 = 24;

/// Whether a customer may still cancel a confirmed seat of an event starting at `start_time`.
pub fn customer_may_cancel_confirmed(start_time: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now + Duration::hours(CUSTOMER_CANCEL_CUTOFF_HOURS) <= start_time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lapsed_hold_reads_as_expired() {
        let now = Utc::now();
        assert_eq!(ReservationStatus::Held.effective(now, now), ReservationStatus::Expired);
        assert_eq!(ReservationStatus::Held.effective(now + Duration::seconds(1), now), ReservationStatus::Held);
        assert_eq!(ReservationStatus::Confirmed.effective(now - Duration::days(1), now), ReservationStatus::Confirmed);
    }

    #[test]
    fn seat_selection_is_one_to_ten_distinct_seats() {
        assert!(SeatSelection::parse(vec![]).is_err());
        let ids: Vec<Uuid> = (0..11).map(|_| Uuid::new_v4()).collect();
        assert!(SeatSelection::parse(ids[..10].to_vec()).is_ok());
        assert!(SeatSelection::parse(ids).is_err());
        let a = Uuid::new_v4();
        assert_eq!(SeatSelection::parse(vec![a, a]).unwrap_err().message, "lists a seat twice");
    }

    #[test]
    fn hold_limit_is_one_to_a_thousand_seats() {
        assert_eq!(HoldLimit::default().seats(), 10);
        assert!(HoldLimit::new(0).is_err());
        assert_eq!(HoldLimit::new(1).unwrap().seats(), 1);
        assert_eq!(HoldLimit::new(1000).unwrap(), HoldLimit::max());
        assert_eq!(HoldLimit::new(1001).unwrap_err().field, "MAX_HELD_SEATS_PER_USER");
    }

    #[test]
    fn a_hold_extension_is_half_a_minute_to_half_an_hour() {
        assert_eq!(HoldExtension::default().duration(), Duration::minutes(5));
        assert!(HoldExtension::from_seconds(29).is_err());
        assert_eq!(HoldExtension::from_seconds(30).unwrap().duration(), Duration::seconds(30));
        assert_eq!(HoldExtension::from_seconds(1800).unwrap().duration(), Duration::minutes(30));
        assert_eq!(HoldExtension::from_seconds(1801).unwrap_err().field, "HOLD_EXTENSION_SECONDS");
    }

    #[test]
    fn customers_cancel_until_24_hours_before_the_start() {
        let now = Utc::now();
        assert!(customer_may_cancel_confirmed(now + Duration::hours(24), now));
        assert!(!customer_may_cancel_confirmed(now + Duration::hours(23), now));
    }
}
