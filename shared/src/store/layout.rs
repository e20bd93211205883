//! How every backend keeps a venue's layout (issue 19): the outline as JSON text beside the venue
//! (encoded by `NewVenue`, decoded by the layout route: the stores, which every Lambda function
//! links, only move the text), its version, and each seat's section, position and attributes;
//! and how a saved venue's layout is replaced (`Relayout`), the same on every backend.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::domain::{LEGACY_LAYOUT_VERSION, NewLayout, NewSeat, Seat, seat_label};

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

/// A saved venue's seats after its layout is replaced (`VenueChanges::layout`), worked out the
/// same way on every backend: seats are matched by label (section, row, number), so a seat in
/// both layouts keeps its id (what past reservations and tickets name) and takes its new row
/// position, tier, position and attributes.
#[derive(Debug, Clone)]
pub struct Relayout {
    /// Every seat of the new layout in the venue's order, with its row's position: kept seats with
    /// their ids, new seats with new ones.
    pub seats: Vec<(i32, Seat)>,
    /// The ids among `seats` that the venue had before.
    pub kept: HashSet<Uuid>,
    /// The venue's seats that the new layout leaves out.
    pub removed: Vec<Seat>,
}

impl Relayout {
    pub fn plan(current: &[Seat], layout: &NewLayout) -> Self {
        let key = |section: &Option<String>, row: &str, number: i32| {
            (section.clone().unwrap_or_default(), row.to_owned(), number)
        };
        let mut by_label: HashMap<(String, String, i32), &Seat> =
            current.iter().map(|seat| (key(&seat.section, &seat.row, seat.seat_number), seat)).collect();
        let mut kept = HashSet::new();
        let seats = layout
            .seats
            .iter()
            .map(|new| {
                let mut seat = new_seat(new);
                if let Some(old) = by_label.remove(&key(&new.section, &new.row, new.seat_number)) {
                    seat.id = old.id;
                    kept.insert(old.id);
                }
                (new.row_index, seat)
            })
            .collect();
        let removed = current.iter().filter(|seat| !kept.contains(&seat.id)).cloned().collect();
        Self { seats, kept, removed }
    }

    /// The seats that are new to the venue.
    pub fn added(&self) -> impl Iterator<Item = &(i32, Seat)> {
        self.seats.iter().filter(|(_, seat)| !self.kept.contains(&seat.id))
    }

    pub fn removed_ids(&self) -> Vec<Uuid> {
        self.removed.iter().map(|seat| seat.id).collect()
    }

    pub fn seat_count(&self) -> i64 {
        self.seats.len() as i64
    }
}

/// The refusal of a new layout while an event of the venue is on sale and yet to start.
pub fn on_sale_at_venue(event_name: &str, start: DateTime<Utc>) -> StoreError {
    StoreError::VenueInUse(format!(
        "\"{event_name}\" ({} UTC) is on sale at this venue; its layout can be changed once no event of it is on \
         sale (after the event, or once it is canceled)",
        start.format("%Y-%m-%d %H:%M")
    ))
}

/// The refusal of a new layout that leaves out a seat some reservation (of a past or canceled
/// event) names: the seat must stay, so its bookings and tickets still read.
pub fn seat_still_booked(seat: &Seat) -> StoreError {
    StoreError::VenueInUse(format!(
        "{} was booked for an earlier event, so it must stay in the layout (it can be moved or given another tier)",
        seat_label(seat.section.as_deref(), &seat.row, seat.seat_number)
    ))
}
