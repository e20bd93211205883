//! Canceling: a held reservation frees its seat at once, a whole booking cancels every active
//! seat, and lapsed or unknown reservations are refused.

use super::*;

pub async fn cancel_held_reservation_frees_seat_at_once(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
    let id = booking.reservations[0].id;

    let cancellation = store.cancel_reservation(id, Utc::now(), None).await.expect("cancel");
    let canceled = &cancellation.canceled;
    assert_eq!((canceled.id, canceled.status), (id, ReservationStatus::Canceled));
    assert!(cancellation.refunds.is_empty(), "a held seat was never paid: {:?}", cancellation.refunds);
    let now = Utc::now();
    assert_eq!(store.reservation(id, now).await.expect("read").expect("exists").status, ReservationStatus::Canceled);
    assert_eq!(seat_statuses(&store, &event, now).await[&venue.seats[0].id], SeatStatus::Available);
    hold_seats(&store, &bob, &event, &seat_ids(&venue, &[0])).await.expect("the seat is free at once");

    let err = expect_err(store.cancel_reservation(id, Utc::now(), None).await, "second cancel");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
}

pub async fn cancel_lapsed_hold_is_invalid_state(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
    sleep_past(booking.expires_at).await;
    let err = expect_err(
        store.cancel_reservation(booking.reservations[0].id, Utc::now(), None).await,
        "cancel a lapsed hold",
    );
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let err = expect_err(store.cancel_booking(booking.id, Utc::now(), None).await, "cancel a lapsed booking");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let r = store.reservation(booking.reservations[0].id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(r.status, ReservationStatus::Expired, "a refused cancel changes nothing");
}

pub async fn cancel_unknown_is_not_found(store: S) {
    let err =
        expect_err(store.cancel_reservation(Uuid::new_v4(), Utc::now(), None).await, "cancel unknown reservation");
    assert!(matches!(err, StoreError::NotFound(Entity::Reservation)), "expected NotFound(Reservation), got {err:?}");
    let err = expect_err(store.cancel_booking(Uuid::new_v4(), Utc::now(), None).await, "cancel unknown booking");
    assert!(matches!(err, StoreError::NotFound(Entity::Booking)), "expected NotFound(Booking), got {err:?}");
}

pub async fn cancel_booking_cancels_all_active_seats(store: S) {
    let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold three");
    let vip = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("vip seat");
    let one = store.cancel_reservation(vip.id, Utc::now(), None).await.expect("cancel one seat");
    assert_eq!((one.canceled.id, one.canceled.status), (vip.id, ReservationStatus::Canceled));
    assert!(one.refunds.is_empty(), "a held seat was never paid: {:?}", one.refunds);

    let partly = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(partly.status, ReservationStatus::Held, "a booking with a held seat is held");
    assert_eq!(partly.total_cents, 3000, "the total counts active seats only");

    let cancellation = store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel booking");
    assert!(cancellation.refunds.is_empty(), "held seats were never paid: {:?}", cancellation.refunds);
    let canceled = cancellation.canceled;
    assert_eq!((canceled.id, canceled.status), (booking.id, ReservationStatus::Canceled));
    assert_eq!(canceled.reservations.len(), 3);
    assert!(canceled.reservations.iter().all(|r| r.status == ReservationStatus::Canceled), "{canceled:?}");
    let now = Utc::now();
    let read = store.booking(booking.id, now).await.expect("read").expect("exists");
    assert_eq!((read.status, read.total_cents), (ReservationStatus::Canceled, 0));
    assert!(seat_statuses(&store, &event, now).await.values().all(|s| *s == SeatStatus::Available));

    let err = expect_err(store.cancel_booking(booking.id, Utc::now(), None).await, "second cancel of a booking");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
}
