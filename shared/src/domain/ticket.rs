//! Tickets: one per paid seat, what the door scans, and the rules of admission that do not depend
//! on the backend (which scan a refusal reports, what the door's counts add up to).
//!
//! A ticket is issued by the payment's confirm, in its own transaction, and revoked by the cancel
//! of its seat, booking or event, in theirs. At the door the store alone decides which scan wins:
//! one conditional write takes a ticket from `valid` to `used`, recording the scan that did it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Invalid, Page, SeatLabel, wire_enum};

wire_enum! {
    /// `valid → used` (admitted at the door, once), `valid → revoked` and `used → revoked`
    /// (its seat was canceled or refunded).
    TicketStatus { Valid => "valid", Used => "used", Revoked => "revoked" }
}

/// Where a ticket is scanned: a name staff pick on the door page ("main", "north", "VIP").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Gate(String);

impl Gate {
    pub const MAX_CHARS: usize = 40;
    /// The gate of a scan that names none.
    pub const DEFAULT: &'static str = "main";

    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let gate = raw.map(str::trim).unwrap_or(Self::DEFAULT);
        if gate.is_empty() || gate.chars().count() > Self::MAX_CHARS || gate.chars().any(char::is_control) {
            return Err(Invalid::new("gate", format!("must be 1 to {} printable characters", Self::MAX_CHARS)));
        }
        Ok(Self(gate.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The scan that admitted a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Admission {
    /// The scan's own id: a gate that syncs the same scan twice is told it was admitted, once.
    pub scan_id: Uuid,
    pub gate: Gate,
    /// When the gate scanned it (for an offline gate, its own clock at the scan).
    pub at: DateTime<Utc>,
}

/// One paid seat's ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Ticket {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub reservation_id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub seat_id: Uuid,
    pub seat: SeatLabel,
    /// What the seat cost (its reservation's price).
    pub price_cents: i64,
    /// The seat's share of its checkout's code discount (0 without a code): what was paid for the
    /// ticket is `price_cents - discount_cents`, what the reports count and a cancel refunds.
    #[serde(default)]
    pub discount_cents: i64,
    pub currency: String,
    /// The account's name when the ticket was issued (its e-mail address when it has none).
    pub holder_name: String,
    pub status: TicketStatus,
    pub issued_at: DateTime<Utc>,
    /// Set once the ticket is `used`, and kept when a used ticket is revoked.
    pub admission: Option<Admission>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which tickets to list, newest first; each `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub user_id: Option<Uuid>,
    pub booking_id: Option<Uuid>,
    pub page: Page,
}

/// One scan of one ticket at one gate: made online by `POST /checkin/scan`, or offline by a gate
/// and sent later by `POST /checkin/sync` with the id and the time the gate gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub gate: Gate,
    pub at: DateTime<Utc>,
}

/// What the store did with a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckIn {
    /// This scan took the ticket from `valid` to `used` (the ticket as written).
    Admitted(Ticket),
    /// The ticket was not `valid`: already used or revoked (the ticket as stored).
    Refused(Ticket),
}

/// A scan's answer at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let them in. Also the answer to the same scan sent again (an offline gate's sync retried).
    Admitted(Ticket),
    /// Another scan admitted this ticket first; the ticket carries that scan (`admission`).
    AlreadyCheckedIn(Ticket),
    /// The seat was canceled or refunded.
    Revoked(Ticket),
}

impl Verdict {
    /// Reads the store's outcome for `scan`: a refusal whose winning scan is this very scan is
    /// the admission of a scan sent twice, not a second one.
    pub fn of(scan: &Scan, outcome: CheckIn) -> Self {
        match outcome {
            CheckIn::Admitted(ticket) => Self::Admitted(ticket),
            CheckIn::Refused(ticket) if ticket.status == TicketStatus::Revoked => Self::Revoked(ticket),
            CheckIn::Refused(ticket) => match &ticket.admission {
                Some(admission) if admission.scan_id == scan.id => Self::Admitted(ticket),
                _ => Self::AlreadyCheckedIn(ticket),
            },
        }
    }
}

/// How many of an event's tickets are in one status and, for used ones, were admitted at one gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketTally {
    pub status: TicketStatus,
    /// The gate that admitted them; `None` for tickets never admitted.
    pub gate: Option<Gate>,
    pub count: u64,
}

/// The door's counts for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CheckinSummary {
    pub event_id: Uuid,
    /// Tickets that let someone in: valid or used (revoked ones are not sold).
    pub sold: u64,
    pub admitted: u64,
    /// Sold and not admitted yet.
    pub to_come: u64,
    pub revoked: u64,
    /// Admitted per gate, by gate name.
    pub gates: Vec<GateCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GateCount {
    pub gate: Gate,
    pub admitted: u64,
}

impl CheckinSummary {
    /// Adds up a store's tallies. A used ticket that was later revoked counts as revoked only.
    pub fn from_tallies(event_id: Uuid, tallies: &[TicketTally]) -> Self {
        let mut summary = Self { event_id, ..Self::default() };
        let mut gates = std::collections::BTreeMap::<Gate, u64>::new();
        for tally in tallies {
            match tally.status {
                TicketStatus::Valid => summary.sold += tally.count,
                TicketStatus::Used => {
                    summary.sold += tally.count;
                    summary.admitted += tally.count;
                    let gate = tally.gate.clone().unwrap_or_else(|| Gate(Gate::DEFAULT.to_owned()));
                    *gates.entry(gate).or_default() += tally.count;
                }
                TicketStatus::Revoked => summary.revoked += tally.count,
            }
        }
        summary.to_come = summary.sold - summary.admitted;
        summary.gates = gates.into_iter().map(|(gate, admitted)| GateCount { gate, admitted }).collect();
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(status: TicketStatus, admission: Option<Admission>) -> Ticket {
        let now = Utc::now();
        Ticket {
            id: Uuid::new_v4(),
            booking_id: Uuid::new_v4(),
            reservation_id: Uuid::new_v4(),
            event_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            seat_id: Uuid::new_v4(),
            seat: SeatLabel { section: None, row: "C".into(), seat_number: 12, tier: "standard".into() },
            price_cents: 1500,
            discount_cents: 0,
            currency: "EUR".into(),
            holder_name: "Ann".into(),
            status,
            issued_at: now,
            admission,
            revoked_at: None,
        }
    }

    fn scan(ticket: &Ticket, gate: &str) -> Scan {
        Scan { id: Uuid::new_v4(), ticket_id: ticket.id, gate: Gate::parse(Some(gate)).unwrap(), at: Utc::now() }
    }

    #[test]
    fn a_gate_is_one_to_forty_printable_characters_main_by_default() {
        assert_eq!(Gate::parse(None).unwrap().as_str(), "main");
        assert_eq!(Gate::parse(Some("  north ")).unwrap().as_str(), "north");
        assert!(Gate::parse(Some("")).is_err());
        assert!(Gate::parse(Some("a\nb")).is_err());
        assert!(Gate::parse(Some(&"g".repeat(41))).is_err());
    }

    #[test]
    fn a_refused_scan_is_revoked_already_checked_in_or_its_own_replay() {
        let first = scan(&ticket(TicketStatus::Valid, None), "north");
        let admission = Admission { scan_id: first.id, gate: first.gate.clone(), at: first.at };
        let used = ticket(TicketStatus::Used, Some(admission));
        assert!(matches!(Verdict::of(&first, CheckIn::Refused(used.clone())), Verdict::Admitted(_)));
        let second = scan(&used, "north");
        assert!(matches!(Verdict::of(&second, CheckIn::Refused(used.clone())), Verdict::AlreadyCheckedIn(_)));
        let revoked = Ticket { status: TicketStatus::Revoked, ..used };
        assert!(matches!(Verdict::of(&first, CheckIn::Refused(revoked)), Verdict::Revoked(_)));
    }

    #[test]
    fn the_summary_counts_sold_admitted_per_gate_and_revoked() {
        let gate = |g: &str| Some(Gate::parse(Some(g)).unwrap());
        let tallies = [
            TicketTally { status: TicketStatus::Valid, gate: None, count: 5 },
            TicketTally { status: TicketStatus::Used, gate: gate("north"), count: 3 },
            TicketTally { status: TicketStatus::Used, gate: gate("south"), count: 2 },
            TicketTally { status: TicketStatus::Revoked, gate: None, count: 1 },
            TicketTally { status: TicketStatus::Revoked, gate: gate("north"), count: 1 },
        ];
        let summary = CheckinSummary::from_tallies(Uuid::nil(), &tallies);
        assert_eq!((summary.sold, summary.admitted, summary.to_come, summary.revoked), (10, 5, 5, 2));
        let per_gate: Vec<(&str, u64)> = summary.gates.iter().map(|g| (g.gate.as_str(), g.admitted)).collect();
        assert_eq!(per_gate, [("north", 3), ("south", 2)]);
    }
}
