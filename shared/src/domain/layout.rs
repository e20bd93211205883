//! Venue geometry (issue 19): a venue drawn as sections around a stage, each section rows of
//! seats, each seat at its own position (so rows may curve) with a tier and attributes. Parsed at
//! the edge from `POST /events/venues`'s `layout` into the seats a store writes and the outline
//! (size, stage, section shapes) it keeps beside them; checked whole before anything is written.
//!
//! Units are the venue's own: a seat is about one unit wide, so two seats closer than
//! `MIN_SEAT_SPACING` overlap.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Invalid, NewSeat, parse_row_label, parse_tier, wire_enum};

wire_enum! {
    /// What a seat is besides a place to sit: a wheelchair space, a companion seat beside one, a
    /// seat with a restricted view, a seat on an aisle.
    SeatAttribute {
        Wheelchair => "wheelchair",
        Companion => "companion",
        RestrictedView => "restricted_view",
        Aisle => "aisle",
    }
}

impl SeatAttribute {
    /// As the SQL stores keep them: wire names joined by commas, '' for none.
    pub fn join(attributes: &[SeatAttribute]) -> String {
        attributes.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(",")
    }

    /// The attributes `join` wrote (a name this build does not know is left out).
    pub fn split(stored: &str) -> Vec<SeatAttribute> {
        stored.split(',').filter_map(|name| name.parse().ok()).collect()
    }
}

/// A seat's section as the stores read it: they keep '' for "no section" (so a unique
/// constraint treats every plain-rows seat alike), which is `None` here.
pub fn section_from_stored(stored: String) -> Option<String> {
    Some(stored).filter(|s| !s.is_empty())
}

/// A point in venue units: `[x, y]`, y growing away from the top of the drawing.
pub type Point = [f64; 2];

/// The stage or screen, drawn as a polygon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stage {
    #[schema(example = "Stage")]
    pub label: String,
    /// The polygon's corners, `[[x, y], ...]`, at least 3.
    #[schema(value_type = Vec<Vec<f64>>, example = json!([[40, 0], [110, 0], [110, 12], [40, 12]]))]
    pub shape: Vec<Point>,
}

/// A section's name and outline, as a venue keeps them beside its seats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SectionOutline {
    #[schema(example = "Block 104")]
    pub name: String,
    #[schema(value_type = Vec<Vec<f64>>, example = json!([[0, 20], [40, 20], [40, 50], [0, 50]]))]
    pub shape: Vec<Point>,
}

/// What a venue keeps of its drawing besides the seats: its size, the stage and the sections in
/// their order (stored as JSON beside the venue; a few KB even for an arena).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VenueOutline {
    pub width: f64,
    pub height: f64,
    pub stage: Option<Stage>,
    pub sections: Vec<SectionOutline>,
}

/// `POST /events/venues`'s `layout`, as sent: checked by `VenueLayout::parse`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LayoutInput {
    /// The drawing's size in venue units (a seat is about one unit wide).
    #[schema(example = 150)]
    pub width: f64,
    #[schema(example = 100)]
    pub height: f64,
    pub stage: Option<Stage>,
    pub sections: Vec<SectionInput>,
}

/// One section of a layout, as sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SectionInput {
    /// 1 to 40 characters, distinct in the venue.
    #[schema(example = "Block 104")]
    pub name: String,
    /// The section's outline, `[[x, y], ...]`, 3 to 256 corners: every seat of the section is inside it.
    #[schema(value_type = Vec<Vec<f64>>, example = json!([[0, 20], [40, 20], [40, 50], [0, 50]]))]
    pub shape: Vec<Point>,
    pub rows: Vec<LayoutRowInput>,
}

/// One row of a section, as sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LayoutRowInput {
    /// 1 to 8 letters or digits, distinct in the section.
    #[schema(example = "11")]
    pub row: String,
    /// The row's seats' tier unless a seat says otherwise; default `standard`.
    #[schema(example = "standard")]
    pub tier: Option<String>,
    pub seats: Vec<LayoutSeatInput>,
}

/// One seat of a row, as sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LayoutSeatInput {
    /// 1 to 10000, distinct in the row.
    #[schema(example = 1)]
    pub number: i32,
    #[schema(example = 12.5)]
    pub x: f64,
    #[schema(example = 31.0)]
    pub y: f64,
    /// Overrides the row's tier.
    pub tier: Option<String>,
    /// Any of `wheelchair`, `companion`, `restricted_view`, `aisle`.
    #[schema(example = json!(["aisle"]))]
    pub attributes: Option<Vec<String>>,
}

/// A checked layout: the outline a venue keeps and its seats in the venue's order (sections as
/// sent, rows as sent, seats by number).
#[derive(Debug, Clone, PartialEq)]
pub struct VenueLayout {
    pub outline: VenueOutline,
    pub seats: Vec<NewSeat>,
}

impl VenueLayout {
    pub const MAX_SEATS: usize = 100_000;
    pub const MAX_SECTIONS: usize = 500;
    pub const MAX_ROWS_PER_SECTION: usize = 200;
    pub const MAX_SEATS_PER_ROW: usize = 500;
    pub const MAX_SEAT_NUMBER: i32 = 10_000;
    pub const MAX_SHAPE_POINTS: usize = 256;
    /// All shapes together: keeps the outline well under DynamoDB's 400 KB item (~20 bytes a point).
    pub const MAX_TOTAL_SHAPE_POINTS: usize = 10_000;
    pub const MAX_SIZE: f64 = 100_000.0;
    /// Two seats' centres closer than this overlap.
    pub const MIN_SEAT_SPACING: f64 = 1.0;

    pub fn parse(input: LayoutInput) -> Result<Self, Invalid> {
        let (width, height) = (input.width, input.height);
        let in_size = |v: f64| v.is_finite() && v > 0.0 && v <= Self::MAX_SIZE;
        if !in_size(width) || !in_size(height) {
            let message = format!("must be more than 0 and at most {} units", Self::MAX_SIZE);
            return Err(Invalid::new("layout.width", message));
        }
        let inside_venue = |p: &Point| {
            p.iter().all(|v| v.is_finite()) && (0.0..=width).contains(&p[0]) && (0.0..=height).contains(&p[1])
        };
        let mut shape_points = 0;
        let stage = match input.stage {
            Some(stage) => {
                let label = super::required_text("layout.stage.label", &stage.label, 40)?;
                check_shape("layout.stage.shape", &format!("The stage ({label})"), &stage.shape, &inside_venue)?;
                shape_points += stage.shape.len();
                Some(Stage { label, shape: stage.shape })
            }
            None => None,
        };
        if input.sections.is_empty() || input.sections.len() > Self::MAX_SECTIONS {
            return Err(Invalid::new("layout.sections", format!("must have 1 to {} sections", Self::MAX_SECTIONS)));
        }
        let seat_count: usize = input.sections.iter().flat_map(|s| &s.rows).map(|r| r.seats.len()).sum();
        if seat_count > Self::MAX_SEATS {
            let message = format!("has {seat_count} seats; a venue has at most {}", Self::MAX_SEATS);
            return Err(Invalid::new("layout", message));
        }
        let mut names = BTreeSet::new();
        let mut sections = Vec::with_capacity(input.sections.len());
        let mut seats = Vec::with_capacity(seat_count);
        let mut row_index = 0_i32;
        for section in input.sections {
            let name = super::required_text("layout.sections.name", &section.name, 40)?;
            if !names.insert(name.clone()) {
                return Err(Invalid::new("layout.sections.name", format!("section {name} appears twice")));
            }
            check_shape("layout.sections.shape", &format!("Section {name}"), &section.shape, &inside_venue)?;
            shape_points += section.shape.len();
            if section.rows.is_empty() || section.rows.len() > Self::MAX_ROWS_PER_SECTION {
                let message = format!("section {name} must have 1 to {} rows", Self::MAX_ROWS_PER_SECTION);
                return Err(Invalid::new("layout.sections.rows", message));
            }
            let mut rows_seen = BTreeSet::new();
            for row in section.rows {
                let label =
                    parse_row_label(&row.row).map_err(|e| Invalid::new("layout.sections.rows.row", e.message))?;
                if !rows_seen.insert(label.clone()) {
                    let message = format!("row {label} appears twice in section {name}");
                    return Err(Invalid::new("layout.sections.rows.row", message));
                }
                let where_row = format!("{name} · Row {label}");
                if row.seats.is_empty() || row.seats.len() > Self::MAX_SEATS_PER_ROW {
                    let message = format!("{where_row} must have 1 to {} seats", Self::MAX_SEATS_PER_ROW);
                    return Err(Invalid::new("layout.sections.rows.seats", message));
                }
                let row_tier = parse_tier(row.tier.as_deref().unwrap_or("standard"))
                    .map_err(|e| Invalid::new("layout.sections.rows.tier", format!("of {where_row} {}", e.message)))?;
                let mut row_seats = Vec::with_capacity(row.seats.len());
                for seat in row.seats {
                    row_seats.push(parse_seat(seat, &name, &label, row_index, &row_tier, &section.shape)?);
                }
                row_seats.sort_by_key(|s: &NewSeat| s.seat_number);
                if let Some(pair) = row_seats.windows(2).find(|w| w[0].seat_number == w[1].seat_number) {
                    let message = format!("{} appears twice", pair[0].label());
                    return Err(Invalid::new("layout.sections.rows.seats.number", message));
                }
                seats.extend(row_seats);
                row_index += 1;
            }
            sections.push(SectionOutline { name, shape: section.shape });
        }
        if shape_points > Self::MAX_TOTAL_SHAPE_POINTS {
            let message = format!("has {shape_points} shape corners in all; at most {}", Self::MAX_TOTAL_SHAPE_POINTS);
            return Err(Invalid::new("layout", message));
        }
        check_spacing(&seats)?;
        Ok(Self { outline: VenueOutline { width, height, stage, sections }, seats })
    }
}

fn parse_seat(
    seat: LayoutSeatInput,
    section: &str,
    row: &str,
    row_index: i32,
    row_tier: &str,
    shape: &[Point],
) -> Result<NewSeat, Invalid> {
    let where_seat = format!("{section} · Row {row} · Seat {}", seat.number);
    if !(1..=VenueLayout::MAX_SEAT_NUMBER).contains(&seat.number) {
        let message = format!("{where_seat}: seat numbers must be 1 to {}", VenueLayout::MAX_SEAT_NUMBER);
        return Err(Invalid::new("layout.sections.rows.seats.number", message));
    }
    if !seat.x.is_finite() || !seat.y.is_finite() || !point_in_polygon([seat.x, seat.y], shape) {
        let message = format!("{where_seat} at ({}, {}) is outside its section's shape", seat.x, seat.y);
        return Err(Invalid::new("layout.sections.rows.seats", message));
    }
    let tier = match seat.tier.as_deref() {
        Some(raw) => parse_tier(raw)
            .map_err(|e| Invalid::new("layout.sections.rows.seats.tier", format!("of {where_seat} {}", e.message)))?,
        None => row_tier.to_owned(),
    };
    let mut attributes = Vec::new();
    for raw in seat.attributes.unwrap_or_default() {
        let attribute: SeatAttribute = raw.trim().parse().map_err(|_| {
            let expected: Vec<&str> = SeatAttribute::ALL.iter().map(|a| a.as_str()).collect();
            let message =
                format!("{where_seat} has an unknown attribute `{raw}`; expected one of {}", expected.join(", "));
            Invalid::new("layout.sections.rows.seats.attributes", message)
        })?;
        if !attributes.contains(&attribute) {
            attributes.push(attribute);
        }
    }
    Ok(NewSeat {
        section: Some(section.to_owned()),
        row: row.to_owned(),
        row_index,
        seat_number: seat.number,
        tier,
        position: Some([seat.x, seat.y]),
        attributes,
    })
}

/// A polygon has 3 to `MAX_SHAPE_POINTS` corners, each inside the venue.
fn check_shape(
    field: &'static str,
    what: &str,
    shape: &[Point],
    inside_venue: &dyn Fn(&Point) -> bool,
) -> Result<(), Invalid> {
    if !(3..=VenueLayout::MAX_SHAPE_POINTS).contains(&shape.len()) {
        let message = format!("{what} must have 3 to {} corners", VenueLayout::MAX_SHAPE_POINTS);
        return Err(Invalid::new(field, message));
    }
    if let Some(p) = shape.iter().find(|p| !inside_venue(p)) {
        let message = format!("{what} has a corner ({}, {}) outside the venue's width and height", p[0], p[1]);
        return Err(Invalid::new(field, message));
    }
    Ok(())
}

/// Whether `p` is inside the polygon (even-odd rule; a point on an edge may fall either way).
pub fn point_in_polygon(p: Point, polygon: &[Point]) -> bool {
    let [x, y] = p;
    let mut inside = false;
    let mut j = polygon.len().wrapping_sub(1);
    for (i, &[xi, yi]) in polygon.iter().enumerate() {
        let [xj, yj] = polygon[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// No two seats of the venue closer than `MIN_SEAT_SPACING`: each seat is compared with the seats
/// of its grid cell (one spacing wide) and the eight around it, so 100,000 seats take linear time.
fn check_spacing(seats: &[NewSeat]) -> Result<(), Invalid> {
    let spacing = VenueLayout::MIN_SEAT_SPACING;
    let cell_of = |p: Point| ((p[0] / spacing).floor() as i64, (p[1] / spacing).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::with_capacity(seats.len());
    for (i, seat) in seats.iter().enumerate() {
        let Some(p) = seat.position else { continue };
        let (cx, cy) = cell_of(p);
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &other in grid.get(&(cx + dx, cy + dy)).into_iter().flatten() {
                    let Some(q) = seats[other].position else { continue };
                    let distance = (p[0] - q[0]).hypot(p[1] - q[1]);
                    if distance < spacing {
                        let message = format!(
                            "{} and {} are {distance:.2} units apart; seats must be at least {spacing} unit apart",
                            seats[other].label(),
                            seat.label()
                        );
                        return Err(Invalid::new("layout.sections.rows.seats", message));
                    }
                }
            }
        }
        grid.entry((cx, cy)).or_default().push(i);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(number: i32, x: f64, y: f64) -> LayoutSeatInput {
        LayoutSeatInput { number, x, y, tier: None, attributes: None }
    }

    fn square(x0: f64, y0: f64, size: f64) -> Vec<Point> {
        vec![[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size]]
    }

    fn layout(seats: Vec<LayoutSeatInput>) -> LayoutInput {
        LayoutInput {
            width: 100.0,
            height: 100.0,
            stage: Some(Stage { label: "Stage".into(), shape: square(40.0, 0.0, 10.0) }),
            sections: vec![SectionInput {
                name: "Block 104".into(),
                shape: square(0.0, 20.0, 50.0),
                rows: vec![LayoutRowInput { row: "11".into(), tier: None, seats }],
            }],
        }
    }

    fn error(input: LayoutInput) -> String {
        let invalid = VenueLayout::parse(input).unwrap_err();
        format!("{} {}", invalid.field, invalid.message)
    }

    #[test]
    fn a_layout_parses_into_seats_in_order_with_positions_and_attributes() {
        let mut seats = vec![seat(2, 12.0, 30.0), seat(1, 10.0, 30.0)];
        seats[0].attributes = Some(vec!["wheelchair".into(), "aisle".into(), "aisle".into()]);
        seats[1].tier = Some("VIP".into());
        let parsed = VenueLayout::parse(layout(seats)).unwrap();
        assert_eq!(parsed.seats.len(), 2);
        assert_eq!(parsed.seats[0].label(), "Block 104 · Row 11 · Seat 1");
        assert_eq!(parsed.seats[0].tier, "vip");
        assert_eq!(parsed.seats[1].tier, "standard");
        assert_eq!(parsed.seats[1].position, Some([12.0, 30.0]));
        assert_eq!(parsed.seats[1].attributes, vec![SeatAttribute::Wheelchair, SeatAttribute::Aisle]);
        assert_eq!(parsed.outline.sections[0].name, "Block 104");
    }

    #[test]
    fn overlapping_seats_are_named() {
        let message = error(layout(vec![seat(1, 10.0, 30.0), seat(2, 10.5, 30.0)]));
        assert!(message.contains("Block 104 · Row 11 · Seat 1 and Block 104 · Row 11 · Seat 2"), "{message}");
    }

    #[test]
    fn duplicate_labels_are_named() {
        let message = error(layout(vec![seat(1, 10.0, 30.0), seat(1, 14.0, 30.0)]));
        assert!(message.contains("Block 104 · Row 11 · Seat 1 appears twice"), "{message}");
    }

    #[test]
    fn a_seat_outside_its_section_is_named() {
        let message = error(layout(vec![seat(1, 10.0, 30.0), seat(2, 60.0, 30.0)]));
        assert!(message.contains("Block 104 · Row 11 · Seat 2 at (60, 30) is outside"), "{message}");
    }

    #[test]
    fn unknown_attributes_and_empty_rows_and_sections_are_refused() {
        let mut seats = vec![seat(1, 10.0, 30.0)];
        seats[0].attributes = Some(vec!["vip_lounge".into()]);
        assert!(error(layout(seats)).contains("unknown attribute `vip_lounge`"));
        assert!(error(layout(vec![])).contains("Block 104 · Row 11 must have 1 to 500 seats"));
        let mut no_rows = layout(vec![seat(1, 10.0, 30.0)]);
        no_rows.sections[0].rows.clear();
        assert!(error(no_rows).contains("section Block 104 must have 1 to"));
    }

    #[test]
    fn more_than_100000_seats_are_refused() {
        let mut input = layout(vec![]);
        input.sections[0].rows = (0..201)
            .map(|r| LayoutRowInput {
                row: r.to_string(),
                tier: None,
                seats: (1..=500).map(|n| seat(n, 1.0, 1.0)).collect(),
            })
            .collect();
        assert!(error(input).contains("has 100500 seats; a venue has at most 100000"));
    }

    #[test]
    fn points_in_polygons() {
        let triangle = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        assert!(point_in_polygon([2.0, 2.0], &triangle));
        assert!(!point_in_polygon([8.0, 8.0], &triangle));
    }
}
