//! Accessible seating (issue 19): an event may keep its wheelchair spaces and companion seats (the
//! "held-back seats") for wheelchair users and their companions until `accessible_release_hours`
//! before its start. Until then such a seat is held only by an accessible hold: one that says so
//! (`HoldRequest::accessible`) and whose seats are at least one wheelchair space with at most
//! `MAX_COMPANIONS_PER_SPACE` companion seats per space. After the release they sell as any seat.
//!
//! Each store decides this in the hold's own write (PostgreSQL's hold statement, SQLite's batch
//! under its write lock, DynamoDB's condition on the event's gate); these functions are the rule
//! and its wording, written once.

use chrono::{DateTime, Duration, Utc};

use super::{Invalid, SeatAttribute, SeatLabel};

/// The longest hold-back: a year before the start.
pub const MAX_RELEASE_HOURS: i64 = 8760;
/// How many companion seats one wheelchair space brings along.
pub const MAX_COMPANIONS_PER_SPACE: usize = 3;

/// `accessible_release_hours` as sent: 0 to `MAX_RELEASE_HOURS` whole hours, or none (the spaces
/// are never held back).
pub fn parse_accessible_release_hours(raw: Option<i64>) -> Result<Option<u32>, Invalid> {
    match raw {
        None => Ok(None),
        Some(hours) if (0..=MAX_RELEASE_HOURS).contains(&hours) => Ok(u32::try_from(hours).ok()),
        Some(_) => Err(Invalid::new(
            "accessible_release_hours",
            format!("must be 0 to {MAX_RELEASE_HOURS} hours before the start"),
        )),
    }
}

/// When an event's held-back seats go on general sale: `hours` before `start`; `None` when they
/// are never held back.
pub fn accessible_release_at(start: DateTime<Utc>, hours: Option<u32>) -> Option<DateTime<Utc>> {
    hours.map(|hours| start - Duration::hours(i64::from(hours)))
}

/// Whether the seats of an event starting at `start` with this setting are held back at `now`.
pub fn holds_back(start: DateTime<Utc>, hours: Option<u32>, now: DateTime<Utc>) -> bool {
    accessible_release_at(start, hours).is_some_and(|release| now < release)
}

/// Whether a seat with these attributes is a wheelchair space or a companion seat.
pub fn is_accessible_seat(attributes: &[SeatAttribute]) -> bool {
    attributes.iter().any(|a| matches!(a, SeatAttribute::Wheelchair | SeatAttribute::Companion))
}

/// Whether seats with these attributes make an accessible party: at least one wheelchair space,
/// and at most `MAX_COMPANIONS_PER_SPACE` companion seats per space (a seat marked both counts as
/// a space).
pub fn is_accessible_party<'a>(seats: impl IntoIterator<Item = &'a [SeatAttribute]>) -> bool {
    let (mut spaces, mut companions) = (0, 0);
    for attributes in seats {
        if attributes.contains(&SeatAttribute::Wheelchair) {
            spaces += 1;
        } else if attributes.contains(&SeatAttribute::Companion) {
            companions += 1;
        }
    }
    spaces >= 1 && companions <= MAX_COMPANIONS_PER_SPACE * spaces
}

/// Whether a hold of seats with these attributes may take them while they are held back: it names
/// no held-back seat, or it is an accessible hold of an accessible party.
pub fn may_hold_held_back(seats: &[&[SeatAttribute]], accessible: bool) -> bool {
    !seats.iter().any(|a| is_accessible_seat(a)) || (accessible && is_accessible_party(seats.iter().copied()))
}

/// Why a hold of `seats` (label and attributes) gets nothing at `now`, the event starting at
/// `start` with `hours` of hold-back: the sentence a buyer reads, or `None` when the rule lets it
/// through. Each store decides it in its write; this only says what the answer is.
pub fn held_back_refusal(
    seats: &[(&SeatLabel, &[SeatAttribute])],
    accessible: bool,
    start: DateTime<Utc>,
    hours: Option<u32>,
    now: DateTime<Utc>,
) -> Option<String> {
    let hours = hours.filter(|_| holds_back(start, hours, now))?;
    let attributes: Vec<&[SeatAttribute]> = seats.iter().map(|(_, a)| *a).collect();
    if may_hold_held_back(&attributes, accessible) {
        return None;
    }
    let until = match hours {
        1 => "1 hour before the show".to_owned(),
        hours => format!("{hours} hours before the show"),
    };
    let (spaces, companions) = seats.iter().fold((0, 0), |(w, c), (_, a)| {
        if a.contains(&SeatAttribute::Wheelchair) {
            (w + 1, c)
        } else if a.contains(&SeatAttribute::Companion) {
            (w, c + 1)
        } else {
            (w, c)
        }
    });
    if !accessible || spaces == 0 {
        let (label, attributes) = seats.iter().find(|(_, a)| is_accessible_seat(a))?;
        let name = label.on_ticket();
        return Some(if attributes.contains(&SeatAttribute::Wheelchair) {
            format!(
                "{name} is a wheelchair space, kept for wheelchair users until {until}; ask for it as a wheelchair user (accessible) to book it."
            )
        } else if accessible {
            format!(
                "{name} is a companion seat, kept for the companions of a wheelchair user until {until}; book it together with a wheelchair space."
            )
        } else {
            format!("{name} is a companion seat, kept for the companions of a wheelchair user until {until}.")
        });
    }
    Some(format!(
        "A wheelchair space comes with at most {MAX_COMPANIONS_PER_SPACE} companion seats; these seats are {companions} companion seats for {spaces} wheelchair {}.",
        if spaces == 1 { "space" } else { "spaces" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: &[SeatAttribute] = &[SeatAttribute::Wheelchair];
    const C: &[SeatAttribute] = &[SeatAttribute::Companion];
    const PLAIN: &[SeatAttribute] = &[];

    fn label(n: i32) -> SeatLabel {
        SeatLabel { section: None, row: "3".into(), seat_number: n, tier: "standard".into() }
    }

    #[test]
    fn the_setting_is_zero_to_a_year_of_hours() {
        assert_eq!(parse_accessible_release_hours(None), Ok(None));
        assert_eq!(parse_accessible_release_hours(Some(0)), Ok(Some(0)));
        assert_eq!(parse_accessible_release_hours(Some(8760)), Ok(Some(8760)));
        assert_eq!(parse_accessible_release_hours(Some(-1)).unwrap_err().field, "accessible_release_hours");
        assert!(parse_accessible_release_hours(Some(8761)).is_err());
    }

    #[test]
    fn a_wheelchair_space_brings_up_to_three_companions() {
        assert!(is_accessible_party([W]));
        assert!(is_accessible_party([W, C, C, C]));
        assert!(!is_accessible_party([W, C, C, C, C]));
        assert!(is_accessible_party([W, W, C, C, C, C]));
        assert!(!is_accessible_party([C, C]));
        assert!(may_hold_held_back(&[PLAIN, PLAIN], false));
        assert!(!may_hold_held_back(&[W], false));
        assert!(may_hold_held_back(&[W, C, PLAIN], true));
    }

    #[test]
    fn the_refusal_names_the_seat_and_the_release() {
        let start = Utc::now() + Duration::days(3);
        let now = Utc::now();
        let (one, two) = (label(1), label(2));
        let plain = held_back_refusal(&[(&one, W)], false, start, Some(24), now).unwrap();
        assert_eq!(
            plain,
            "Row 3 · Seat 1 is a wheelchair space, kept for wheelchair users until 24 hours before the show; ask for it as a wheelchair user (accessible) to book it."
        );
        let alone = held_back_refusal(&[(&two, C)], true, start, Some(24), now).unwrap();
        assert!(alone.starts_with("Row 3 · Seat 2 is a companion seat"), "{alone}");
        assert_eq!(held_back_refusal(&[(&one, W), (&two, C)], true, start, Some(24), now), None);
        // Released (72 hours before a start 3 days away is past), or never held back.
        assert_eq!(held_back_refusal(&[(&one, W)], false, start, Some(100), now), None);
        assert_eq!(held_back_refusal(&[(&one, W)], false, start, None, now), None);
    }
}
