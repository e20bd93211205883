//! How every backend keeps a venue's layout (issue 19): the outline as JSON text beside the venue
//! (encoded by `NewVenue`, decoded by the layout route: the stores, which every Lambda function
//! links, only move the text), its version, and each seat's section, position and attributes.

use uuid::Uuid;

use crate::domain::{LEGACY_LAYOUT_VERSION, NewSeat, Seat};

/// The seat a store creates for `seat`, with a new id.
pub fn new_seat(seat: &NewSeat) -> Seat {
    Seat {
        id: Uuid::new_v4(),
        section: seat.section.clone(),
        row: seat.row.clone(),
        seat_number: seat.seat_number,
        tier: seat.tier.clone(),
        x: seat.position.map(|p| p[0]),
        y: seat.position.map(|p| p[1]),
        attributes: seat.attributes.clone(),
    }
}

/// The stored layout version, or the one of a venue made before versions were kept.
pub fn stored_layout_version(stored: Option<String>) -> String {
    stored.unwrap_or_else(|| LEGACY_LAYOUT_VERSION.to_owned())
}
