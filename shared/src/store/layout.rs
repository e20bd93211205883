//! How every backend keeps a venue's layout (issue 19): the outline (`VenueOutline`) as JSON text
//! beside the venue, its version, and each seat's section, position and attributes beside the seat.

use uuid::Uuid;

use super::{StoreError, StoreResult};
use crate::domain::{LEGACY_LAYOUT_VERSION, NewSeat, NewVenue, Seat, VenueOutline};

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

/// The venue's outline as stored: JSON, or `None` for plain rows.
pub fn outline_json(venue: &NewVenue) -> StoreResult<Option<String>> {
    let encoded = venue.outline.as_ref().map(serde_json::to_string).transpose();
    encoded.map_err(|e| StoreError::Internal(format!("a venue's layout could not be encoded: {e}")))
}

/// The outline `outline_json` stored.
pub fn stored_outline(stored: Option<String>) -> StoreResult<Option<VenueOutline>> {
    let decoded = stored.as_deref().map(serde_json::from_str).transpose();
    decoded.map_err(|e| StoreError::Internal(format!("a stored venue layout could not be read: {e}")))
}

/// The stored layout version, or the one of a venue made before versions were kept.
pub fn stored_layout_version(stored: Option<String>) -> String {
    stored.unwrap_or_else(|| LEGACY_LAYOUT_VERSION.to_owned())
}
