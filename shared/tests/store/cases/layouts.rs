//! Venue layouts (issue 19): a venue drawn as sections round-trips through the store (sections,
//! positions, attributes, the outline, a version), its labels name their section wherever the
//! store writes them (holds, lost seats, tickets), two sections may both have a "Row 1 · Seat 1",
//! a venue of plain rows still reads as before with a generated layout, and a saved venue's
//! layout is replaced only while no event of it is on sale.

use super::*;
use proeventa_core::domain::{
    LayoutInput, LayoutRowInput, LayoutSeatInput, NewLayout, SeatAttribute, SectionInput, Stage, VenueLayout,
    VenueLayoutDocument,
};

/// What a seat keeps: section, row, number, tier, x, y, attributes.
type StoredSeat<'a> = (Option<&'a str>, &'a str, i32, &'a str, Option<f64>, Option<f64>, &'a [SeatAttribute]);

/// Two sections, "Left" and "Right", each two curved rows of three seats; seat 1 of each row
/// on the aisle, seat 3 of row 1 a wheelchair space with seat 2 its companion.
fn two_sections() -> LayoutInput {
    let section = |name: &str, centre: f64| SectionInput {
        name: name.into(),
        shape: vec![[centre - 10.0, 5.0], [centre + 10.0, 5.0], [centre + 10.0, 30.0], [centre - 10.0, 30.0]],
        rows: (0..2)
            .map(|r| LayoutRowInput {
                row: (r + 1).to_string(),
                tier: Some(if r == 0 { "vip" } else { "standard" }.into()),
                seats: (0..3)
                    .map(|i| {
                        let offset = (f64::from(i) - 1.0) * 2.0;
                        let attributes = match (r, i) {
                            (_, 0) => Some(vec!["aisle".into()]),
                            (0, 1) => Some(vec!["companion".into()]),
                            (0, 2) => Some(vec!["wheelchair".into(), "restricted_view".into()]),
                            _ => None,
                        };
                        LayoutSeatInput {
                            number: i + 1,
                            x: centre + offset,
                            // Rows curve: the ends sit further back than the middle.
                            y: 10.0 + 2.0 * f64::from(r) + offset.abs() * 0.25,
                            tier: None,
                            attributes,
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    LayoutInput {
        width: 80.0,
        height: 40.0,
        stage: Some(Stage { label: "Stage".into(), shape: vec![[30.0, 0.0], [50.0, 0.0], [50.0, 4.0], [30.0, 4.0]] }),
        sections: vec![section("Left", 20.0), section("Right", 60.0)],
    }
}

pub async fn a_layout_round_trips_with_sections_positions_attributes_and_labels(store: S) {
    let new =
        NewVenue::parse_layout("Arena", Some("Hamburg"), VenueKind::Arena, two_sections()).expect("a valid layout");
    let version = new.layout_version.clone();
    let stage = VenueLayout::parse(two_sections()).expect("a valid layout").outline.stage;
    let created = store.create_venue(new.clone()).await.expect("create");
    assert_eq!(created.venue.seat_count, 12);
    let read = store.venue(created.venue.id).await.expect("read").expect("exists");
    assert_eq!(read, created, "the venue reads back as it was created");
    let stored: Vec<StoredSeat> = read
        .seats
        .iter()
        .map(|s| {
            (s.section.as_deref(), s.row.as_str(), s.seat_number, s.tier.as_str(), s.x, s.y, s.attributes.as_slice())
        })
        .collect();
    let sent: Vec<StoredSeat> = new
        .seats
        .iter()
        .map(|s| {
            let (x, y) = (s.position.map(|p| p[0]), s.position.map(|p| p[1]));
            (s.section.as_deref(), s.row.as_str(), s.seat_number, s.tier.as_str(), x, y, s.attributes.as_slice())
        })
        .collect();
    assert_eq!(stored, sent, "every seat keeps its section, row, number, tier, position and attributes, in order");
    assert_eq!(read.seats[2].attributes, [SeatAttribute::Wheelchair, SeatAttribute::RestrictedView]);

    let layout = layout_of(&store, created.venue.id).await;
    assert_eq!(layout.version, version);
    assert_eq!((layout.width, layout.height), (80.0, 40.0));
    assert_eq!(layout.stage, stage);
    let sections: Vec<(Option<&str>, usize, usize)> =
        layout.sections.iter().map(|s| (s.name.as_deref(), s.shape.len(), s.rows.len())).collect();
    assert_eq!(sections, [(Some("Left"), 4, 2), (Some("Right"), 4, 2)]);
    let labels: Vec<&str> =
        layout.sections.iter().flat_map(|s| &s.rows).flat_map(|r| &r.seats).map(|s| s.label.as_str()).collect();
    assert_eq!(labels[0], "Left · Row 1 · Seat 1");
    assert_eq!(labels[6], "Right · Row 1 · Seat 1");
    let ids: Vec<Uuid> = layout.sections.iter().flat_map(|s| &s.rows).flat_map(|r| &r.seats).map(|s| s.id).collect();
    assert_eq!(ids, ids_of(&read), "the layout lists every seat in the venue's order");

    // Both "Row 1 · Seat 1"s are seats of their own: each is held and sold under its own label.
    let event = fixture_event(&store, &read).await;
    let map = store.seat_map(event.id, Utc::now()).await.expect("seat map").expect("known");
    assert_eq!(
        map.iter().map(|s| (s.seat_id, s.section.clone(), s.x, s.y)).collect::<Vec<_>>(),
        read.seats.iter().map(|s| (s.id, s.section.clone(), s.x, s.y)).collect::<Vec<_>>()
    );
    assert_eq!(map[2].attributes, read.seats[2].attributes);
    let (left_1, right_1) = (read.seats[0].id, read.seats[6].id);
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &[left_1, right_1], "ch_layout").await;
    let held: Vec<String> = booking.reservations.iter().map(|r| r.seat.on_ticket()).collect();
    assert_eq!(held, ["Left · Row 1 · Seat 1", "Right · Row 1 · Seat 1"]);
    let mut tickets: Vec<String> =
        store.event_tickets(event.id).await.expect("tickets").iter().map(|t| t.seat.on_ticket()).collect();
    tickets.sort();
    assert_eq!(tickets, ["Left · Row 1 · Seat 1", "Right · Row 1 · Seat 1"], "tickets keep the section");
    let bob = fixture_user(&store, "bob").await;
    match hold_seats(&store, &bob, &event, &[right_1]).await {
        Err(StoreError::SeatsUnavailable(lost)) => {
            assert_eq!(lost.iter().map(|l| l.on_ticket()).collect::<Vec<_>>(), ["Right · Row 1 · Seat 1"]);
        }
        other => panic!("a sold seat is unavailable, named with its section: {other:?}"),
    }
}

pub async fn a_venue_of_plain_rows_still_reads_as_before_with_a_generated_layout(store: S) {
    let venue = fixture_venue(&store, &[("A", 3, "vip"), ("B", 2, "standard")]).await;
    assert!(
        venue.seats.iter().all(|s| s.section.is_none() && s.x.is_none() && s.y.is_none() && s.attributes.is_empty())
    );
    let read = store.venue(venue.venue.id).await.expect("read").expect("exists");
    assert_eq!(read, venue);
    let layout = layout_of(&store, venue.venue.id).await;
    assert_eq!(layout.sections.len(), 1);
    assert_eq!(layout.sections[0].name, None);
    let rows: Vec<(&str, Vec<&str>)> = layout.sections[0]
        .rows
        .iter()
        .map(|r| (r.row.as_str(), r.seats.iter().map(|s| s.label.as_str()).collect()))
        .collect();
    assert_eq!(
        rows,
        [
            ("A", vec!["Row A · Seat 1", "Row A · Seat 2", "Row A · Seat 3"]),
            ("B", vec!["Row B · Seat 1", "Row B · Seat 2"])
        ]
    );
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[4])).await.expect("hold");
    assert_eq!(booking.reservations[0].seat.on_ticket(), "Row B · Seat 2");
    assert_eq!(booking.reservations[0].seat.section, None);
    assert_eq!(store.venue_layout(Uuid::new_v4()).await.expect("unknown venue"), None);
}

/// The venue's static layout, from what the store keeps.
async fn layout_of(store: &S, venue_id: Uuid) -> VenueLayoutDocument {
    let stored = store.venue_layout(venue_id).await.expect("layout").expect("a known venue");
    assert_eq!(stored.venue_id, venue_id);
    VenueLayoutDocument::from_stored(stored).expect("a stored layout reads back")
}

fn ids_of(venue: &VenueWithSeats) -> Vec<Uuid> {
    venue.seats.iter().map(|s| s.id).collect()
}

/// A saved venue's new layout (`VenueChanges::layout`, issue 19): refused while an event of the
/// venue is on sale and yet to start; once none is, seats are matched by label and keep their ids
/// (a past booking and its tickets still read), seats left out are deleted unless an earlier
/// reservation names one (refused, naming it), the version changes, and nothing changes on a refusal.
pub async fn a_layout_is_replaced_by_label_only_while_no_event_is_on_sale(store: S) {
    let rows = |spec: &[(&str, i32, &str)]| -> NewLayout {
        let rows = spec
            .iter()
            .map(|(row, seats, tier)| SeatRow { row: (*row).to_owned(), seats: *seats, tier: (*tier).to_owned() })
            .collect();
        NewLayout::from_rows(rows).expect("valid rows")
    };
    let replace = |layout: NewLayout| VenueChanges { layout: Some(layout), ..Default::default() };
    let venue = fixture_venue(&store, &[("A", 3, "vip"), ("B", 2, "standard")]).await;
    let version = layout_of(&store, venue.venue.id).await.version;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let a1 = venue.seats[0].id;
    let (booking, _) = paid_booking(&store, &ann, &event, &[a1], "ch_relayout").await;

    let bigger = [("A", 4, "vip"), ("B", 2, "standard"), ("C", 3, "standard")];
    match store.update_venue(venue.venue.id, replace(rows(&bigger))).await {
        Err(StoreError::VenueInUse(detail)) => {
            assert!(detail.contains("\"Test Concert\"") && detail.contains("is on sale at this venue"), "{detail}");
        }
        other => panic!("a new layout while an event is on sale must be venue_in_use: {other:?}"),
    }
    assert_eq!(store.venue(venue.venue.id).await.expect("read").expect("exists"), venue, "nothing changed");
    assert_eq!(layout_of(&store, venue.venue.id).await.version, version);

    // Once the event is in the past, the layout may change.
    let past = EventChanges { start_time: Some(in_days(-0.5)), ..Default::default() };
    store.update_event(event.id, past).await.expect("move into the past").expect("exists");
    let replaced = store.update_venue(venue.venue.id, replace(rows(&bigger))).await.expect("replace").expect("known");
    assert_eq!(replaced.venue.seat_count, 9);
    let labels: Vec<String> = replaced.seats.iter().map(|s| format!("{}{}", s.row, s.seat_number)).collect();
    assert_eq!(labels, ["A1", "A2", "A3", "A4", "B1", "B2", "C1", "C2", "C3"]);
    assert_eq!(&ids_of(&replaced)[..3], &ids_of(&venue)[..3], "seats in both layouts keep their ids");
    assert_eq!(&ids_of(&replaced)[4..6], &ids_of(&venue)[3..5]);
    assert_eq!(store.venue(venue.venue.id).await.expect("read").expect("exists"), replaced);
    let layout = layout_of(&store, venue.venue.id).await;
    assert_ne!(layout.version, version, "a new layout is a new version");
    assert_eq!(layout.seat_count(), 9);

    // The past booking and its ticket still read, with their seat.
    let read = store.booking(booking.id, Utc::now()).await.expect("booking").expect("exists");
    assert_eq!(read.reservations[0].seat_id, a1);
    assert_eq!(read.reservations[0].seat.on_ticket(), "Row A · Seat 1");
    let tickets = store.event_tickets(event.id).await.expect("tickets");
    assert_eq!(tickets.iter().map(|t| t.seat.on_ticket()).collect::<Vec<_>>(), ["Row A · Seat 1"]);

    // A layout without the booked seat is refused, naming it; nothing changes.
    match store.update_venue(venue.venue.id, replace(rows(&[("B", 2, "standard"), ("C", 3, "standard")]))).await {
        Err(StoreError::VenueInUse(detail)) => assert!(detail.contains("Row A · Seat 1 was booked"), "{detail}"),
        other => panic!("leaving out a booked seat must be venue_in_use: {other:?}"),
    }
    assert_eq!(store.venue(venue.venue.id).await.expect("read").expect("exists"), replaced, "nothing changed");

    // Seats nobody booked go; a kept seat takes its new tier.
    let smaller = rows(&[("A", 1, "standard"), ("C", 3, "standard")]);
    let smaller = store.update_venue(venue.venue.id, replace(smaller)).await.expect("replace").expect("known");
    let kept: Vec<(Uuid, &str)> = smaller.seats.iter().map(|s| (s.id, s.tier.as_str())).take(1).collect();
    assert_eq!(kept, [(a1, "standard")]);
    assert_eq!(smaller.venue.seat_count, 4);
    assert_eq!(layout_of(&store, venue.venue.id).await.seat_count(), 4);

    // A new event sells the new seats.
    let next = fixture_event(&store, &smaller).await;
    let bob = fixture_user(&store, "bob").await;
    hold_seats(&store, &bob, &next, &[smaller.seats[3].id]).await.expect("a new seat is held");
    assert_eq!(store.update_venue(Uuid::new_v4(), replace(rows(&bigger))).await.expect("unknown venue"), None);
}

/// An event created while the venue's layout is being replaced: either the replacement sees the
/// event and is refused (the layout unchanged), or the event is created after the new layout
/// (its seats are the new ones), or the event's creation is refused; never an event on sale
/// whose venue changed under it. Ten rounds of the two at once.
pub async fn an_event_created_during_a_new_layout_sees_it_or_stops_it(store: S) {
    for round in 0..10 {
        let venue = fixture_venue(&store, &[("A", 3, "standard")]).await;
        let rows = vec![SeatRow { row: "A".into(), seats: 5, tier: "standard".into() }];
        let layout = NewLayout::from_rows(rows).expect("valid rows");
        let replace = store.update_venue(venue.venue.id, VenueChanges { layout: Some(layout), ..Default::default() });
        let (replaced, created) = tokio::join!(replace, store.create_event(new_event(&venue)));
        let seats = store.venue(venue.venue.id).await.expect("read").expect("exists").venue.seat_count;
        match (replaced, created) {
            (Ok(Some(_)), Ok(event)) => {
                assert_eq!(seats, 5, "round {round}: replaced");
                let read = store.event(event.id, Utc::now()).await.expect("event").expect("exists");
                assert_eq!(read.seats_total, 5, "round {round}: an event created beside a new layout has its seats");
            }
            (Err(StoreError::VenueInUse(_)), Ok(_)) => assert_eq!(seats, 3, "round {round}: refused, unchanged"),
            (Ok(Some(_)), Err(StoreError::VenueInUse(_))) => assert_eq!(seats, 5, "round {round}"),
            other => panic!("round {round}: {other:?}"),
        }
    }
}
