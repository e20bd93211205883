//! Accessible seating (issue 19): until `accessible_release_hours` before the start, wheelchair
//! spaces and companion seats are held only by an accessible hold of at least one wheelchair space
//! with at most 3 companion seats per space, decided in the hold's own write on every backend; any
//! other hold naming one gets nothing. After the release they sell as any seat, and a change of the
//! hours or of the start moves the release.

use super::*;
use proeventa_core::domain::{HoldRequest, LayoutInput, LayoutRowInput, LayoutSeatInput, SectionInput};

/// Seat positions in `accessible_venue`: row 1 is seat 1 plain, 2 a wheelchair space, 3 to 6
/// companion seats, 7 a wheelchair space, 8 plain; row 2 is eight plain seats.
const PLAIN: usize = 0;
const SPACE: usize = 1;
const COMPANIONS: [usize; 4] = [2, 3, 4, 5];
const OTHER_SPACE: usize = 6;
const ROW_TWO: [usize; 2] = [8, 9];

/// One section, "Floor", of two rows of eight seats (see the positions above).
async fn accessible_venue(store: &S) -> VenueWithSeats {
    let row = |r: i32| LayoutRowInput {
        row: r.to_string(),
        tier: Some("standard".into()),
        seats: (1..=8)
            .map(|n| LayoutSeatInput {
                number: n,
                x: 10.0 + 2.0 * f64::from(n),
                y: 10.0 + 3.0 * f64::from(r),
                tier: None,
                attributes: match (r, n) {
                    (1, 2 | 7) => Some(vec!["wheelchair".into()]),
                    (1, 3..=6) => Some(vec!["companion".into()]),
                    _ => None,
                },
            })
            .collect(),
    };
    let layout = LayoutInput {
        width: 40.0,
        height: 30.0,
        stage: None,
        sections: vec![SectionInput {
            name: "Floor".into(),
            shape: vec![[5.0, 5.0], [35.0, 5.0], [35.0, 25.0], [5.0, 25.0]],
            rows: vec![row(1), row(2)],
        }],
    };
    let venue = NewVenue::parse_layout("Accessible Hall", None, VenueKind::Hall, layout).expect("a valid layout");
    store.create_venue(venue).await.expect("create the venue")
}

/// The fixture event (a week ahead) holding its accessible seats back `hours` before the start.
async fn event_holding_back(store: &S, venue: &VenueWithSeats, hours: Option<u32>) -> Event {
    fixture_event_with(store, venue, |e| e.accessible_release_hours = hours).await
}

fn accessible(request: HoldRequest) -> HoldRequest {
    HoldRequest { accessible: true, ..request }
}

/// The refusal's sentence, for a hold that must have been refused as held back.
fn held_back(result: StoreResult<Booking>, what: &str) -> String {
    match result {
        Err(StoreError::HeldBack(detail)) => detail,
        other => panic!("{what}: expected a held-back refusal, got {other:?}"),
    }
}

pub async fn held_back_seats_go_only_to_an_accessible_party_before_the_release(store: S) {
    let venue = accessible_venue(&store).await;
    let event = event_holding_back(&store, &venue, Some(24)).await;
    assert_eq!(event.accessible_release_hours, Some(24));
    assert_eq!(store.event(event.id, Utc::now()).await.unwrap().unwrap().accessible_release_hours, Some(24));
    let ann = fixture_user(&store, "ann").await;
    let ids = |positions: &[usize]| seat_ids(&venue, positions);
    let plain = |positions: &[usize]| hold_request(&ann, &event, &ids(positions), long_ttl());

    let space = held_back(store.hold(&plain(&[SPACE]), Utc::now()).await, "a plain hold of a wheelchair space");
    assert!(space.starts_with("Floor · Row 1 · Seat 2 is a wheelchair space"), "{space}");
    assert!(space.contains("24 hours before the show"), "{space}");
    let companion = held_back(store.hold(&plain(&[COMPANIONS[0]]), Utc::now()).await, "a plain companion hold");
    assert!(companion.starts_with("Floor · Row 1 · Seat 3 is a companion seat"), "{companion}");
    // All or none: the plain seat beside it is not held either.
    held_back(store.hold(&plain(&[PLAIN, SPACE]), Utc::now()).await, "a plain seat with a wheelchair space");
    // An accessible hold needs a wheelchair space, and a space brings at most 3 companions.
    let alone = accessible(plain(&COMPANIONS[..2]));
    held_back(store.hold(&alone, Utc::now()).await, "companion seats alone");
    let four = accessible(plain(&[SPACE, COMPANIONS[0], COMPANIONS[1], COMPANIONS[2], COMPANIONS[3]]));
    let too_many = held_back(store.hold(&four, Utc::now()).await, "a space with four companions");
    assert!(too_many.contains("at most 3 companion seats"), "{too_many}");
    let statuses = seat_statuses(&store, &event, Utc::now()).await;
    assert!(venue.seats.iter().all(|s| statuses[&s.id] == SeatStatus::Available), "nothing was written");

    let party = accessible(plain(&[SPACE, COMPANIONS[0], COMPANIONS[1], COMPANIONS[2]]));
    let booking = store.hold(&party, Utc::now()).await.expect("a wheelchair space with 3 companions");
    assert_eq!(booking.reservations.len(), 4);
    store.hold(&accessible(plain(&[OTHER_SPACE])), Utc::now()).await.expect("a wheelchair space alone");
    // Seats that are not held back go to anyone, and to an accessible hold with its space.
    store.hold(&plain(&[PLAIN]), Utc::now()).await.expect("a plain seat");
    store.hold(&plain(&ROW_TWO), Utc::now()).await.expect("row 2");
}

pub async fn after_the_release_held_back_seats_sell_as_any_seat(store: S) {
    let venue = accessible_venue(&store).await;
    // A start a week ahead and 8 days of hold-back: released a day ago.
    let released = event_holding_back(&store, &venue, Some(8 * 24)).await;
    let ann = fixture_user(&store, "ann").await;
    let seats = seat_ids(&venue, &[SPACE, COMPANIONS[0]]);
    store.hold(&hold_request(&ann, &released, &seats, long_ttl()), Utc::now()).await.expect("released seats");
    // An event that never holds its seats back.
    let never = event_holding_back(&store, &venue, None).await;
    assert_eq!(never.accessible_release_hours, None);
    store.hold(&hold_request(&ann, &never, &seats, long_ttl()), Utc::now()).await.expect("never held back");

    // The hours, then the start, moved: the release moves with them.
    let event = event_holding_back(&store, &venue, None).await;
    let change = |hours| EventChanges { accessible_release_hours: Some(hours), ..Default::default() };
    let changed = store.update_event(event.id, change(Some(24))).await.unwrap().expect("the event");
    assert_eq!(changed.accessible_release_hours, Some(24));
    let companion = seat_ids(&venue, &[COMPANIONS[1]]);
    held_back(store.hold(&hold_request(&ann, &event, &companion, long_ttl()), Utc::now()).await, "after a PATCH to 24");
    let sooner = EventChanges { start_time: Some(in_days(0.5)), ..Default::default() };
    store.update_event(event.id, sooner).await.unwrap().expect("the event");
    store
        .hold(&hold_request(&ann, &event, &companion, long_ttl()), Utc::now())
        .await
        .expect("a start 12 hours away is past a release 24 hours before it");
    let later = EventChanges { start_time: Some(in_days(7.0)), ..Default::default() };
    store.update_event(event.id, later).await.unwrap().expect("the event");
    let next = seat_ids(&venue, &[COMPANIONS[2]]);
    held_back(store.hold(&hold_request(&ann, &event, &next, long_ttl()), Utc::now()).await, "the start moved back");
    let cleared = store.update_event(event.id, change(None)).await.unwrap().expect("the event");
    assert_eq!(cleared.accessible_release_hours, None);
    store.hold(&hold_request(&ann, &event, &next, long_ttl()), Utc::now()).await.expect("the hold-back removed");
}

/// Many buyers at once hold held-back seats with plain holds while one wheelchair user holds a
/// space and a companion seat: every plain hold gets nothing and is refused as held back, the
/// accessible one gets its seats.
pub async fn concurrent_plain_holds_of_held_back_seats_all_get_nothing(store: S) {
    const BUYERS: usize = 24;
    let venue = accessible_venue(&store).await;
    let event = event_holding_back(&store, &venue, Some(48)).await;
    let users = fixture_users(&store, "buyer", BUYERS + 1).await;
    let barrier = Arc::new(Barrier::new(BUYERS + 1));
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let (store, barrier) = (store.clone(), barrier.clone());
        let request = if i == BUYERS {
            accessible(hold_request(user, &event, &seat_ids(&venue, &[SPACE, COMPANIONS[0]]), long_ttl()))
        } else {
            // A held-back seat, alone or beside a plain one.
            let mut positions = vec![[SPACE, COMPANIONS[0], COMPANIONS[2], OTHER_SPACE][i % 4]];
            if i % 3 == 0 {
                positions.push(ROW_TWO[i % 2]);
            }
            hold_request(user, &event, &seat_ids(&venue, &positions), long_ttl())
        };
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (request.accessible, store.hold(&request, Utc::now()).await)
        }));
    }
    let mut held = Vec::new();
    for task in tasks {
        match task.await.expect("a hold task") {
            (true, result) => held.push(result.expect("the accessible hold")),
            (false, result) => {
                held_back(result, "a plain hold of a held-back seat");
            }
        }
    }
    let statuses = seat_statuses(&store, &event, Utc::now()).await;
    let taken: Vec<Uuid> =
        venue.seats.iter().filter(|s| statuses[&s.id] != SeatStatus::Available).map(|s| s.id).collect();
    assert_eq!(taken, seat_ids(&venue, &[SPACE, COMPANIONS[0]]), "only the accessible hold's seats are taken");
    assert_eq!(held.len(), 1);
}
