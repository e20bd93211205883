//! The calendar file of a booking's event (`calendar.ics`, RFC 5545): one VEVENT in UTC, with
//! the venue as its location, and its start in the venue's own time and the seats in its
//! description. UTC, not a `TZID`: RFC 5545 wants a `VTIMEZONE` beside every `TZID`, which the
//! `icalendar` crate does not write; a UTC start is the same instant in every calendar, which
//! shows it in its owner's zone, and the description says what the clock at the venue reads.

use icalendar::{Calendar, Component, EventLike};
use sha2::{Digest, Sha256};

use super::{booking_reference, event_time};
use crate::domain::{Event, Ticket};

/// How long an event without a `duration_minutes` is put in the calendar for.
const DEFAULT_DURATION_MINUTES: i64 = 120;

/// A calendar with the event, for the holder of `tickets` (one booking's, or any set of them).
/// Its UID depends only on the event and the tickets' bookings, so importing the file again
/// updates the entry instead of adding a second one.
pub fn event_calendar(event: &Event, tickets: &[Ticket]) -> String {
    let minutes = event.duration_minutes.map_or(DEFAULT_DURATION_MINUTES, i64::from);
    let ends = event.start_time + chrono::Duration::minutes(minutes.max(1));
    // When this was issued: the newest ticket's issue, so the same tickets make the same file.
    let stamp = tickets.iter().map(|t| t.issued_at).max().unwrap_or(event.start_time);
    let mut entry = icalendar::Event::new();
    entry
        .uid(&uid(event, tickets))
        .timestamp(stamp)
        .summary(&event.name)
        .starts(event.start_time)
        .ends(ends)
        .location(&super::venue_line(event))
        .description(&description(event, tickets));
    let mut calendar = Calendar::new();
    calendar.name(&event.name).push(entry.done());
    calendar.done().to_string()
}

/// `<event id>-<booking id>@proeventa` for one booking; tickets of several bookings (or none)
/// are named by a digest of their sorted booking ids.
fn uid(event: &Event, tickets: &[Ticket]) -> String {
    let mut bookings: Vec<uuid::Uuid> = tickets.iter().map(|t| t.booking_id).collect();
    bookings.sort_unstable();
    bookings.dedup();
    match bookings.as_slice() {
        [one] => format!("{}-{}@proeventa", event.id, one),
        many => {
            let mut digest = Sha256::new();
            for booking in many {
                digest.update(booking.as_bytes());
            }
            let digest = crate::hex::encode(&digest.finalize()[..16]);
            format!("{}-{digest}@proeventa", event.id)
        }
    }
}

/// "Starts Sat 14 Mar 2026, 20:30 Madrid time", then "Seats: Row C · Seat 12 (standard), …"
/// and the booking reference(s).
fn description(event: &Event, tickets: &[Ticket]) -> String {
    let starts = format!("Starts {}", event_time(event));
    if tickets.is_empty() {
        return starts;
    }
    let seats: Vec<String> = tickets.iter().map(|t| format!("{} ({})", t.seat.on_ticket(), t.seat.tier)).collect();
    let mut references: Vec<String> = tickets.iter().map(|t| booking_reference(t.booking_id)).collect();
    references.sort_unstable();
    references.dedup();
    let noun = if references.len() == 1 { "Booking reference" } else { "Booking references" };
    format!("{starts}\nSeats: {}\n{noun}: {}", seats.join(", "), references.join(", "))
}
