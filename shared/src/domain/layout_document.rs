//! The static layout of a venue as `GET /events/venues/{venue_id}/layout` sends it (issue 19):
//! sections with their shapes, rows, and every seat with its id, label, position, tier and
//! attributes. A venue made of plain rows gets a generated one (one section of straight, centred
//! rows under a stage), so every venue has a layout.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Point, Seat, SeatAttribute, Stage, VenueOutline, seat_label};

/// Names the generator of plain rows' layouts; part of every layout version, so a change to how
/// layouts are generated (or stored) is a new version for every venue.
pub const LAYOUT_GENERATOR: &str = "layout-1";

/// The version of a layout stored before layout versions were (migration 0021): such a venue is
/// plain rows, whose layout is generated.
pub const LEGACY_LAYOUT_VERSION: &str = "rows-layout-1";

/// A venue's layout as a store reads it: the outline as stored (JSON; `None` for plain rows), the
/// version, and the seats in the venue's order. Decoded into a `VenueLayoutDocument` by the one
/// route that answers it, so no store (linked by every Lambda function) carries the decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLayout {
    pub venue_id: Uuid,
    pub version: String,
    pub outline_json: Option<String>,
    pub seats: Vec<Seat>,
}

/// A venue's static layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VenueLayoutDocument {
    pub venue_id: Uuid,
    /// Changes whenever the venue's layout or seats change; ask `?version=<this>` to get an
    /// answer cacheable for a year.
    #[schema(example = "3f9c2a1b7d4e5f60")]
    pub version: String,
    /// The drawing's size in venue units (a seat is about one unit wide).
    pub width: f64,
    pub height: f64,
    pub stage: Option<Stage>,
    pub sections: Vec<LayoutSection>,
}

/// One section of a layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LayoutSection {
    /// Null for the one generated section of a venue of plain rows.
    #[schema(example = "Block 104")]
    pub name: Option<String>,
    #[schema(value_type = Vec<Vec<f64>>)]
    pub shape: Vec<Point>,
    pub rows: Vec<LayoutRow>,
}

/// One row of a layout's section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LayoutRow {
    #[schema(example = "11")]
    pub row: String,
    pub seats: Vec<LayoutSeat>,
}

/// One seat of a layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LayoutSeat {
    pub id: Uuid,
    pub number: i32,
    #[schema(example = "Block 104 · Row 11 · Seat 1")]
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub tier: String,
    pub attributes: Vec<SeatAttribute>,
}

/// Units between generated seats, between generated rows, and around them.
const SEAT_PITCH: f64 = 2.0;
const ROW_PITCH: f64 = 3.0;
const MARGIN: f64 = 2.0;
/// Where the generated rows start: below a stage band at the top.
const FIRST_ROW_Y: f64 = 9.0;

impl VenueLayoutDocument {
    /// The layout of a stored venue; `Err` names why a stored outline could not be read.
    pub fn from_stored(stored: StoredLayout) -> Result<Self, String> {
        let outline = match stored.outline_json.as_deref() {
            Some(json) => Some(
                serde_json::from_str::<VenueOutline>(json)
                    .map_err(|e| format!("a stored venue layout could not be read: {e}"))?,
            ),
            None => None,
        };
        Ok(Self::of(stored.venue_id, stored.version, outline, &stored.seats))
    }

    /// The layout of a venue from its outline (`None`: plain rows, generated) and its seats in
    /// the venue's order.
    pub fn of(venue_id: Uuid, version: String, outline: Option<VenueOutline>, seats: &[Seat]) -> Self {
        match outline {
            Some(outline) => Self::drawn(venue_id, version, outline, seats),
            None => Self::generated(venue_id, version, seats),
        }
    }

    fn drawn(venue_id: Uuid, version: String, outline: VenueOutline, seats: &[Seat]) -> Self {
        let mut sections: Vec<LayoutSection> = outline
            .sections
            .into_iter()
            .map(|s| LayoutSection { name: Some(s.name), shape: s.shape, rows: Vec::new() })
            .collect();
        for seat in seats {
            let index = match sections.iter().position(|s| s.name == seat.section) {
                Some(index) => index,
                None => {
                    // A seat of a section the outline does not draw: listed, without a shape.
                    sections.push(LayoutSection { name: seat.section.clone(), shape: Vec::new(), rows: Vec::new() });
                    sections.len() - 1
                }
            };
            let position = [seat.x.unwrap_or(0.0), seat.y.unwrap_or(0.0)];
            push_seat(&mut sections[index].rows, seat, position);
        }
        Self { venue_id, version, width: outline.width, height: outline.height, stage: outline.stage, sections }
    }

    /// Straight rows, each centred under a stage across the top, in one section.
    fn generated(venue_id: Uuid, version: String, seats: &[Seat]) -> Self {
        let mut rows: Vec<&[Seat]> = Vec::new();
        let mut start = 0;
        for i in 1..=seats.len() {
            if i == seats.len() || seats[i].row != seats[start].row {
                rows.push(&seats[start..i]);
                start = i;
            }
        }
        let widest = rows.iter().map(|r| r.len()).max().unwrap_or(0) as f64;
        let width = 2.0 * MARGIN + widest.max(1.0) * SEAT_PITCH;
        let height = FIRST_ROW_Y + rows.len() as f64 * ROW_PITCH + MARGIN;
        let stage = Stage { label: "Stage".into(), shape: rectangle(MARGIN, 1.0, width - MARGIN, 4.0) };
        let mut layout_rows = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            let offset = (widest - row.len() as f64) * SEAT_PITCH / 2.0;
            let y = FIRST_ROW_Y + r as f64 * ROW_PITCH;
            for (i, seat) in row.iter().enumerate() {
                let x = MARGIN + offset + (i as f64 + 0.5) * SEAT_PITCH;
                push_seat(&mut layout_rows, seat, [x, y]);
            }
        }
        let shape = rectangle(1.0, FIRST_ROW_Y - 2.0, width - 1.0, height - 1.0);
        let sections = vec![LayoutSection { name: None, shape, rows: layout_rows }];
        Self { venue_id, version, width, height, stage: Some(stage), sections }
    }

    /// How many seats the layout has.
    pub fn seat_count(&self) -> usize {
        self.sections.iter().flat_map(|s| &s.rows).map(|r| r.seats.len()).sum()
    }
}

/// Adds a seat to the last row when it is the seat's row, else to a new row.
fn push_seat(rows: &mut Vec<LayoutRow>, seat: &Seat, [x, y]: Point) {
    let layout_seat = LayoutSeat {
        id: seat.id,
        number: seat.seat_number,
        label: seat_label(seat.section.as_deref(), &seat.row, seat.seat_number),
        x,
        y,
        tier: seat.tier.clone(),
        attributes: seat.attributes.clone(),
    };
    match rows.last_mut() {
        Some(row) if row.row == seat.row => row.seats.push(layout_seat),
        _ => rows.push(LayoutRow { row: seat.row.clone(), seats: vec![layout_seat] }),
    }
}

fn rectangle(left: f64, top: f64, right: f64, bottom: f64) -> Vec<Point> {
    vec![[left, top], [right, top], [right, bottom], [left, bottom]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(section: Option<&str>, row: &str, seat_number: i32, position: Option<Point>) -> Seat {
        Seat {
            id: Uuid::new_v4(),
            section: section.map(Into::into),
            row: row.into(),
            seat_number,
            tier: "standard".into(),
            x: position.map(|p| p[0]),
            y: position.map(|p| p[1]),
            attributes: Vec::new(),
        }
    }

    #[test]
    fn plain_rows_get_a_generated_layout_of_centred_straight_rows() {
        let seats = vec![seat(None, "A", 1, None), seat(None, "A", 2, None), seat(None, "B", 1, None)];
        let layout = VenueLayoutDocument::of(Uuid::nil(), "v".into(), None, &seats);
        assert_eq!(layout.sections.len(), 1);
        assert_eq!(layout.sections[0].name, None);
        let rows = &layout.sections[0].rows;
        assert_eq!(rows.iter().map(|r| r.seats.len()).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(rows[0].seats[1].label, "Row A · Seat 2");
        // Row B's one seat sits under the middle of row A's two.
        let middle = (rows[0].seats[0].x + rows[0].seats[1].x) / 2.0;
        assert_eq!(rows[1].seats[0].x, middle);
        assert!(rows[1].seats[0].y > rows[0].seats[0].y);
    }

    #[test]
    fn a_drawn_layout_groups_seats_by_section_in_the_outline_order() {
        let outline = VenueOutline {
            width: 100.0,
            height: 100.0,
            stage: None,
            sections: vec![
                super::super::SectionOutline { name: "B".into(), shape: rectangle(0.0, 0.0, 10.0, 10.0) },
                super::super::SectionOutline { name: "A".into(), shape: rectangle(20.0, 0.0, 30.0, 10.0) },
            ],
        };
        let seats = vec![seat(Some("B"), "1", 1, Some([5.0, 5.0])), seat(Some("A"), "1", 1, Some([25.0, 5.0]))];
        let layout = VenueLayoutDocument::of(Uuid::nil(), "v".into(), Some(outline), &seats);
        assert_eq!(layout.sections[1].rows[0].seats[0].label, "A · Row 1 · Seat 1");
        assert_eq!(layout.sections[1].rows[0].seats[0].x, 25.0);
        assert_eq!(layout.seat_count(), 2);
    }
}
