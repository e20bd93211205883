//! Holds: one seat, several seats in one booking (all or nothing), the rules a hold must pass
//! (known event, the venue's own seats, an event neither canceled nor started), and a lapsed hold
//! held again by another user.

use super::*;

pub async fn hold_single_seat(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let seat = &venue.seats[1];
    let now = Utc::now();
    let request = hold_request(&ann, &event, &[seat.id], long_ttl());
    let booking = store.hold(&request, now).await.expect("hold one seat");
    assert_eq!((booking.id, booking.user_id, booking.event_id), (request.booking_id, ann.id, event.id));
    assert_eq!(
        (booking.status, booking.total_cents, booking.currency.as_str()),
        (ReservationStatus::Held, 4000, "EUR")
    );
    assert_eq!(booking.reservations.len(), 1);
    let r = &booking.reservations[0];
    assert_eq!((r.booking_id, r.user_id, r.event_id, r.seat_id), (booking.id, ann.id, event.id, seat.id));
    assert_eq!((r.seat.row.as_str(), r.seat.seat_number, r.seat.tier.as_str()), ("A", 2, "vip"));
    assert_eq!((r.price_cents, r.currency.as_str(), r.status), (4000, "EUR", ReservationStatus::Held));
    assert!(close_in_time(r.expires_at, now + Duration::seconds(600)), "expires_at {} != now + ttl", r.expires_at);

    let read = store.reservation(r.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.id, read.seat_id, read.status, read.price_cents), (r.id, seat.id, ReservationStatus::Held, 4000));
    let read_booking = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(ids(&read_booking.reservations, |r| r.id), [r.id]);
    assert_eq!((read_booking.status, read_booking.total_cents), (ReservationStatus::Held, 4000));
    assert_eq!(store.reservation(Uuid::new_v4(), Utc::now()).await.expect("unknown"), None);
    assert_eq!(store.booking(Uuid::new_v4(), Utc::now()).await.expect("unknown"), None);
}

pub async fn hold_multi_seat_booking(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 3, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let wanted = seat_ids(&venue, &[0, 2, 4]);
    let now = Utc::now();
    let ttl = HoldTtl::from_seconds(300).expect("ttl");
    let booking = store.hold(&hold_request(&ann, &event, &wanted, ttl), now).await.expect("hold three seats");
    assert_eq!(booking.status, ReservationStatus::Held);
    assert_eq!(booking.total_cents, 4000 + 1500 + 1500, "total is the sum of the seats' tier prices");
    assert!(
        close_in_time(booking.expires_at, now + Duration::seconds(300)),
        "expires_at {} != now + ttl",
        booking.expires_at
    );
    let got: BTreeSet<Uuid> = booking.reservations.iter().map(|r| r.seat_id).collect();
    assert_eq!(got, wanted.iter().copied().collect::<BTreeSet<_>>());
    assert!(booking.reservations.iter().all(|r| r.status == ReservationStatus::Held && r.booking_id == booking.id));

    let read = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.status, read.total_cents, read.reservations.len()), (ReservationStatus::Held, 7000, 3));
}

pub async fn hold_all_or_nothing(store: S) {
    let venue = fixture_grid_venue(&store, 2, 3).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let taken = &venue.seats[4];
    hold_seats(&store, &ann, &event, &[taken.id]).await.expect("ann holds B2");

    let attempt = hold_request(&bob, &event, &seat_ids(&venue, &[0, 4, 5]), long_ttl());
    let err = expect_err(store.hold(&attempt, Utc::now()).await, "hold including a taken seat");
    let StoreError::SeatsUnavailable(labels) = err else { panic!("expected SeatsUnavailable, got {err:?}") };
    assert!(
        labels.iter().any(|l| l.row == taken.row && l.seat_number == taken.seat_number),
        "the error must name the taken seat {}{}: {labels:?}",
        taken.row,
        taken.seat_number
    );

    let now = Utc::now();
    let bobs = all_reservations(&store, ReservationFilter { user_id: Some(bob.id), ..Default::default() }, now).await;
    assert!(bobs.is_empty(), "a failed hold leaves no reservation: {bobs:?}");
    assert_eq!(store.booking(attempt.booking_id, now).await.expect("read"), None, "nor a booking");

    // A single-seat hold that lost (PostgreSQL places those without a transaction) writes nothing either.
    let single = hold_request(&bob, &event, &[taken.id], long_ttl());
    let err = expect_err(store.hold(&single, Utc::now()).await, "single-seat hold of a taken seat");
    assert!(matches!(err, StoreError::SeatsUnavailable(_)), "expected SeatsUnavailable, got {err:?}");
    assert_eq!(
        store.booking(single.booking_id, now).await.expect("read"),
        None,
        "a lost single seat leaves no booking"
    );

    let map = seat_statuses(&store, &event, now).await;
    assert_eq!(map[&venue.seats[0].id], SeatStatus::Available);
    assert_eq!(map[&venue.seats[5].id], SeatStatus::Available);
    assert_eq!(map[&taken.id], SeatStatus::Held);
    let read = store.event(event.id, now).await.expect("read").expect("exists");
    assert_eq!(read.seats_available, 5);
    hold_seats(&store, &bob, &event, &seat_ids(&venue, &[0, 5])).await.expect("the free seats can still be held");
}

pub async fn hold_unknown_event_is_not_found(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let ann = fixture_user(&store, "ann").await;
    let mut request = hold_request(&ann, &fixture_event(&store, &venue).await, &seat_ids(&venue, &[0]), long_ttl());
    request.event_id = Uuid::new_v4();
    let err = expect_err(store.hold(&request, Utc::now()).await, "hold for an unknown event");
    assert!(matches!(err, StoreError::NotFound(Entity::Event)), "expected NotFound(Event), got {err:?}");
}

pub async fn hold_seat_of_other_venue_is_rejected(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let elsewhere = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    for (what, seats) in [
        ("a seat of another venue", vec![venue.seats[0].id, elsewhere.seats[0].id]),
        ("a seat that does not exist", vec![Uuid::new_v4()]),
    ] {
        let err = expect_err(hold_seats(&store, &ann, &event, &seats).await, what);
        match err {
            StoreError::Rejected(invalid) => {
                assert_eq!(invalid.field, "seat_ids", "{what}: {invalid}")
            }
            other => panic!("{what}: expected Rejected, got {other:?}"),
        }
    }
    let mine =
        all_reservations(&store, ReservationFilter { user_id: Some(ann.id), ..Default::default() }, Utc::now()).await;
    assert!(mine.is_empty(), "a rejected hold leaves no reservation");
}

pub async fn hold_on_canceled_event_is_rejected(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let cancellation = store.cancel_event(event.id, Utc::now(), None).await.expect("cancel").expect("exists");
    assert_eq!(cancellation.canceled.status, EventStatus::Canceled);
    assert!(cancellation.refunds.is_empty(), "nothing was paid: {:?}", cancellation.refunds);
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await, "hold on a canceled event");
    assert!(matches!(err, StoreError::Rejected(_)), "expected Rejected, got {err:?}");
}

pub async fn hold_on_started_event_is_rejected(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    store
        .update_event(event.id, EventChanges { start_time: Some(in_days(-0.01)), ..Default::default() })
        .await
        .expect("move the start into the past")
        .expect("exists");
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await, "hold on a started event");
    assert!(matches!(err, StoreError::Rejected(_)), "expected Rejected, got {err:?}");
}

pub async fn lapsed_hold_is_reheld_by_another_user(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let old = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
    sleep_past(old.expires_at).await;

    let new = hold_seats(&store, &bob, &event, &seat_ids(&venue, &[1, 2])).await.expect("a lapsed hold never blocks");
    assert_eq!(new.status, ReservationStatus::Held);
    let now = Utc::now();
    for r in &old.reservations {
        let r = store.reservation(r.id, now).await.expect("read").expect("exists");
        assert_eq!(r.status, ReservationStatus::Expired);
    }
    let old_booking = store.booking(old.id, now).await.expect("read").expect("exists");
    assert_eq!(old_booking.status, ReservationStatus::Expired);
    let held = all_reservations(
        &store,
        ReservationFilter { event_id: Some(event.id), status: Some(ReservationStatus::Held), ..Default::default() },
        now,
    )
    .await;
    assert_eq!(
        held.iter().map(|r| r.id).collect::<BTreeSet<_>>(),
        new.reservations.iter().map(|r| r.id).collect::<BTreeSet<_>>()
    );
    let map = seat_statuses(&store, &event, now).await;
    let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
    assert_eq!(statuses, [SeatStatus::Available, SeatStatus::Held, SeatStatus::Held]);
}
