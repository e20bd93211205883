//! The demo's real arena (issue 19): "Spree Arena", drawn as a layout. Sixteen blocks in two
//! rings around a stage at the top: blocks 101 to 108 (15 curved rows each) and, behind them,
//! blocks 201 to 208 (19 rows each), with a gap (an aisle) between neighbouring blocks whose edge
//! seats are marked `aisle`; each upper block's front row has two wheelchair spaces, each with its
//! companion seat beside it; the outermost blocks' front rows have a restricted view. 4,608
//! seats in three tiers (`vip` at the front of the lower ring, `standard`, `upper`).

use std::f64::consts::PI;

use proeventa_core::domain::{LayoutInput, LayoutRowInput, LayoutSeatInput, SectionInput, Stage};

/// Where the stage's centre is: every row is an arc around it.
const CENTRE: (f64, f64) = (100.0, 12.0);
/// Units between seats along a row, and between rows.
const SEAT_PITCH: f64 = 1.1;
const ROW_PITCH: f64 = 1.6;
/// The blocks of a ring share the half circle below the stage, from 8° to 172°, 2° apart.
const FIRST_ANGLE: f64 = 8.0;
const LAST_ANGLE: f64 = 172.0;
const GAP: f64 = 2.0;
const BLOCKS_PER_RING: usize = 8;

/// One ring of blocks: their numbers start at `first_block`; rows from `radius` outwards.
struct Ring {
    first_block: u32,
    radius: f64,
    rows: usize,
}

const RINGS: [Ring; 2] =
    [Ring { first_block: 101, radius: 30.0, rows: 15 }, Ring { first_block: 201, radius: 58.0, rows: 19 }];

pub fn spree_arena_layout() -> LayoutInput {
    let span = (LAST_ANGLE - FIRST_ANGLE - GAP * (BLOCKS_PER_RING - 1) as f64) / BLOCKS_PER_RING as f64;
    let mut sections = Vec::new();
    for ring in &RINGS {
        for b in 0..BLOCKS_PER_RING {
            let from = FIRST_ANGLE + b as f64 * (span + GAP);
            let outermost = b == 0 || b == BLOCKS_PER_RING - 1;
            sections.push(block(ring, ring.first_block + b as u32, from, from + span, outermost));
        }
    }
    LayoutInput {
        width: 200.0,
        height: 105.0,
        stage: Some(Stage {
            label: "Stage".into(),
            shape: vec![[80.0, 2.0], [120.0, 2.0], [120.0, 10.0], [80.0, 10.0]],
        }),
        sections,
    }
}

fn block(ring: &Ring, number: u32, from: f64, to: f64, outermost: bool) -> SectionInput {
    let upper = ring.first_block >= 200;
    let rows = (0..ring.rows)
        .map(|r| {
            let radius = ring.radius + r as f64 * ROW_PITCH;
            let arc = radians(to - from) * radius;
            let count = (arc / SEAT_PITCH).floor() as i32;
            // Seats centred on the block's arc, numbered from the lower angle.
            let step = SEAT_PITCH / radius;
            let start = radians(from) + (radians(to - from) - step * f64::from(count - 1)) / 2.0;
            let seats = (0..count)
                .map(|i| {
                    let angle = start + step * f64::from(i);
                    let number = i + 1;
                    let mut attributes = Vec::new();
                    if number == 1 || number == count {
                        attributes.push("aisle".to_owned());
                    }
                    if upper && r == 0 {
                        // Two wheelchair spaces in the front row, each with its companion seat.
                        if number == 2 || number == count - 2 {
                            attributes.push("wheelchair".to_owned());
                        }
                        if number == 3 || number == count - 1 {
                            attributes.push("companion".to_owned());
                        }
                    }
                    if outermost && r < 3 {
                        attributes.push("restricted_view".to_owned());
                    }
                    LayoutSeatInput {
                        number,
                        x: round(CENTRE.0 + radius * angle.cos()),
                        y: round(CENTRE.1 + radius * angle.sin()),
                        tier: None,
                        attributes: (!attributes.is_empty()).then_some(attributes),
                    }
                })
                .collect();
            let tier = match (upper, r) {
                (false, 0..5) => "vip",
                (false, _) => "standard",
                (true, _) => "upper",
            };
            LayoutRowInput { row: (r + 1).to_string(), tier: Some(tier.into()), seats }
        })
        .collect();
    let inner = ring.radius - 0.8;
    let outer = ring.radius + (ring.rows - 1) as f64 * ROW_PITCH + 0.8;
    SectionInput { name: format!("Block {number}"), shape: sector(inner, outer, from - 0.5, to + 0.5), rows }
}

/// The outline of a ring's sector: its outer arc, then its inner arc back, 9 corners each.
fn sector(inner: f64, outer: f64, from: f64, to: f64) -> Vec<[f64; 2]> {
    let corner = |radius: f64, i: usize| {
        let angle = radians(from + (to - from) * i as f64 / 8.0);
        [round(CENTRE.0 + radius * angle.cos()), round(CENTRE.1 + radius * angle.sin())]
    };
    let mut shape: Vec<[f64; 2]> = (0..=8).map(|i| corner(outer, i)).collect();
    shape.extend((0..=8).rev().map(|i| corner(inner, i)));
    shape
}

fn radians(degrees: f64) -> f64 {
    degrees * PI / 180.0
}

/// Two decimals: a layout people read, and every corner still outside its seats.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proeventa_core::domain::{SeatAttribute, VenueLayout};

    #[test]
    fn the_arena_is_a_valid_layout_of_about_4600_seats() {
        let layout = VenueLayout::parse(spree_arena_layout()).expect("the demo arena is a valid layout");
        let seats = layout.seats.len();
        assert_eq!(seats, 4_608);
        assert_eq!(layout.outline.sections.len(), 16);
        let with = |a: SeatAttribute| layout.seats.iter().filter(|s| s.attributes.contains(&a)).count();
        assert_eq!(with(SeatAttribute::Wheelchair), 16, "two in each upper block");
        assert_eq!(with(SeatAttribute::Companion), 16);
        assert!(with(SeatAttribute::Aisle) > 16 * 15);
        assert!(with(SeatAttribute::RestrictedView) > 0);
    }
}
