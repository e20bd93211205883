//! What a buyer is given for each paid seat and what the door checks: the signed code
//! (`code`), the QR that carries it (`qr`), the printable PDF (`pdf`) and the calendar file
//! (`ics`). Pure functions of a ticket and its event: no store, no HTTP.

mod code;
mod ics;
mod pdf;
mod qr;

pub use code::{InvalidCode, MAX_LABEL_BYTES, PublicTicketKey, TicketClaims, TicketKeys, check_secret};
pub use ics::event_calendar;
pub use pdf::{PrintedTicket, tickets_pdf};
pub use qr::qr_svg;

use uuid::Uuid;

use crate::domain::Event;

/// When an event starts, as printed: in the venue's time zone, labelled, wherever the reader
/// is ("Sat 14 Mar 2026, 20:30 Madrid time").
pub fn event_time(event: &Event) -> String {
    event.venue.time_zone.for_people(event.start_time)
}

/// "Concert Hall, 1 Main Street": the venue as a calendar's location and a ticket print it.
pub fn venue_line(event: &Event) -> String {
    match event.venue.location.trim() {
        "" => event.venue.name.clone(),
        location => format!("{}, {location}", event.venue.name),
    }
}

/// The short form of a booking id people read and say: its first 8 hex digits, in capitals
/// (the payment page shows the same).
pub fn booking_reference(booking_id: Uuid) -> String {
    booking_id.simple().to_string()[..8].to_uppercase()
}

/// 4500, "EUR" → "45.00 EUR"; minor units as the currency defines them (as the site prints it).
pub fn money(cents: i64, currency: &str) -> String {
    let currency = currency.to_uppercase();
    let digits: u32 = match currency.as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    };
    let unit = 10_i64.pow(digits);
    let sign = if cents < 0 { "-" } else { "" };
    let whole = (cents / unit).unsigned_abs();
    let grouped = whole
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    if digits == 0 {
        format!("{sign}{grouped} {currency}")
    } else {
        let fraction = (cents % unit).unsigned_abs();
        format!("{sign}{grouped}.{fraction:0width$} {currency}", width = digits as usize)
    }
}

/// An event on 14 March 2026 at 19:30 UTC (20:30 in its venue, in Madrid), for the tests of
/// every file made from one.
#[cfg(test)]
pub(crate) fn test_event() -> Event {
    use crate::domain::{Category, EventStatus, TimeZone, VenueKind, VenueSummary};
    let venue_id = Uuid::new_v4();
    Event {
        id: Uuid::new_v4(),
        venue_id,
        venue: VenueSummary {
            id: venue_id,
            name: "Royal Concert Hall".into(),
            location: "1 Main Street, Springfield".into(),
            kind: VenueKind::Theatre,
            time_zone: TimeZone::parse("Europe/Madrid").unwrap(),
        },
        name: "The Magic Flute".into(),
        category: Category::Theatre,
        description: String::new(),
        image_url: None,
        poster: None,
        start_time: "2026-03-14T19:30:00Z".parse().unwrap(),
        duration_minutes: Some(150),
        status: EventStatus::OnSale,
        on_sale_at: None,
        queue: None,
        accessible_release_hours: None,
        currency: "EUR".into(),
        prices: Vec::new(),
        ticket_types: Vec::new(),
        seats_total: 100,
        seats_available: 90,
    }
}

/// A ticket as issued, for the tests of every file made from one.
#[cfg(test)]
pub(crate) fn test_ticket(row: &str, seat_number: i32) -> crate::domain::Ticket {
    use crate::domain::{SeatLabel, Ticket, TicketStatus};
    use uuid::Uuid;
    Ticket {
        id: Uuid::new_v4(),
        booking_id: Uuid::new_v4(),
        reservation_id: Uuid::new_v4(),
        event_id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        seat_id: Uuid::new_v4(),
        seat: SeatLabel { section: None, row: row.into(), seat_number, tier: "standard".into() },
        price_cents: 4500,
        discount_cents: 0,
        currency: "EUR".into(),
        holder_name: "Ann Example".into(),
        status: TicketStatus::Valid,
        issued_at: chrono::Utc::now(),
        admission: None,
        revoked_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_printed_in_the_currency_s_minor_units() {
        assert_eq!(money(4500, "EUR"), "45.00 EUR");
        assert_eq!(money(123_456_789, "usd"), "1,234,567.89 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(1500, "JPY"), "1,500 JPY");
        assert_eq!(money(1500, "KWD"), "1.500 KWD");
        assert_eq!(money(-250, "EUR"), "-2.50 EUR");
    }

    #[test]
    fn the_booking_reference_is_the_id_s_first_eight_hex_digits() {
        let id = Uuid::parse_str("3fa85f64-5717-4562-b3fc-2c963f66afa6").unwrap();
        assert_eq!(booking_reference(id), "3FA85F64");
    }

    #[test]
    fn the_time_is_printed_in_the_venue_s_zone_and_says_which() {
        let event = test_event();
        assert_eq!(event_time(&event), "Sat 14 Mar 2026, 20:30 Madrid time");
        let mut in_utc = test_event();
        in_utc.venue.time_zone = crate::domain::TimeZone::UTC;
        assert_eq!(event_time(&in_utc), "Sat 14 Mar 2026, 19:30 UTC");
        assert_eq!(venue_line(&event), "Royal Concert Hall, 1 Main Street, Springfield");
    }
}
