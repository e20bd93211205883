//! What a buyer is given for each paid seat and what the door checks: the signed code
//! (`code`), the QR that carries it (`qr`), the printable PDF (`pdf`) and the calendar file
//! (`ics`). Pure functions of a ticket and its event: no store, no HTTP.

mod code;

pub use code::{InvalidCode, MAX_LABEL_BYTES, PublicTicketKey, TicketClaims, TicketKeys, check_secret};

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
        seat: SeatLabel { row: row.into(), seat_number, tier: "standard".into() },
        price_cents: 4500,
        currency: "EUR".into(),
        holder_name: "Ann Example".into(),
        status: TicketStatus::Valid,
        issued_at: chrono::Utc::now(),
        admission: None,
        revoked_at: None,
    }
}
