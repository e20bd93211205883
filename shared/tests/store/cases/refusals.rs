//! Every refusal a store gives, caused on purpose: each backend must answer the same cause with
//! the same variant and the same words, those of the named constructor in `store/rules.rs`.

use super::*;

/// `got` must be exactly `expected` (variant and wording), for `cause`.
fn assert_refusal<T: std::fmt::Debug>(got: StoreResult<T>, expected: StoreError, cause: &str) {
    let err = expect_err(got, cause);
    assert_eq!(format!("{err:?}"), format!("{expected:?}"), "{cause}: the refusal differs from the shared one");
}

pub async fn refusals_are_worded_alike_on_every_backend(store: S) {
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let seats = seat_ids(&venue, &[0, 1, 2, 3, 4, 5]);

    let mut nowhere = new_event(&venue);
    nowhere.venue_id = Uuid::new_v4();
    assert_refusal(store.create_event(nowhere).await, StoreError::no_such_venue(), "an event in no venue");

    let stranger = Uuid::new_v4();
    let request = hold_request(&ann, &event, &[seats[0], stranger], long_ttl());
    assert_refusal(store.hold(&request, Utc::now()).await, StoreError::seat_not_in_venue(stranger), "a foreign seat");
    let request = hold_request(&ann, &event, &[seats[0]], long_ttl());
    let after_start = event.start_time + Duration::seconds(1);
    assert_refusal(store.hold(&request, after_start).await, StoreError::event_started(), "a hold after the start");

    // Cancels: a reservation, then a booking, that are no longer active.
    let booking = hold_seats(&store, &ann, &event, &[seats[0]]).await.expect("hold");
    let reservation = booking.reservations[0].id;
    store.cancel_reservation(reservation, Utc::now(), None).await.expect("first cancel");
    assert_refusal(
        store.cancel_reservation(reservation, Utc::now(), None).await,
        StoreError::reservation_not_active(ReservationStatus::Canceled),
        "a second cancel of a reservation",
    );
    assert_refusal(
        store.cancel_booking(booking.id, Utc::now(), None).await,
        StoreError::no_active_seats_left(),
        "a cancel of a booking with nothing active",
    );
    assert_refusal(checkout(&store, &booking).await, StoreError::no_held_seats_to_pay_for(), "paying for nothing");

    // Payments: a second checkout, a second confirm, a confirm after a seat was canceled.
    let booking = hold_seats(&store, &ann, &event, &[seats[1], seats[2]]).await.expect("hold");
    let payment = checkout(&store, &booking).await.expect("checkout");
    assert_refusal(checkout(&store, &booking).await, StoreError::payment_already_open(), "a second checkout");
    store.cancel_reservation(booking.reservations[0].id, Utc::now(), None).await.expect("cancel one held seat");
    assert_refusal(
        store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        StoreError::seat_canceled_since_checkout(),
        "a confirm after a seat was canceled",
    );
    let (_, paid) = paid_booking(&store, &ann, &event, &[seats[3]], "ch_paid").await;
    assert_refusal(
        store.confirm_payment(paid.id, "ch_paid", CARD_LAST4, Utc::now()).await,
        StoreError::payment_already(PaymentStatus::Succeeded),
        "a second confirm",
    );

    // The show began: a hold placed just before the start still runs, but it is paid for no more.
    let show = fixture_event(&store, &venue).await;
    let start = show.start_time;
    let request = hold_request(&ann, &show, &[seats[0]], long_ttl());
    let booking = store.hold(&request, start - Duration::seconds(60)).await.expect("hold just before the start");
    assert_refusal(
        store.create_payment(new_payment(&booking, start + Duration::seconds(300)), start).await,
        StoreError::checkout_after_start(),
        "a checkout at the start",
    );
    let before = start - Duration::seconds(30);
    let payment = store.create_payment(new_payment(&booking, start), before).await.expect("checkout before the start");
    assert_refusal(
        store.confirm_payment(payment.id, "ch_late", CARD_LAST4, start).await,
        StoreError::confirm_after_start(),
        "a confirm at the start",
    );

    // The event canceled between checkout and confirm: its cancel canceled the booking's seats in
    // the same transaction, so the confirm finds a seat canceled since checkout (the event's own
    // refusal, `paid_event_canceled`, is only seen by a confirm that read the seats before it).
    let booking = hold_seats(&store, &ann, &event, &[seats[4]]).await.expect("hold");
    let payment = checkout(&store, &booking).await.expect("checkout");
    store.cancel_event(event.id, Utc::now(), None).await.expect("cancel the event").expect("it exists");
    assert_refusal(
        store.confirm_payment(payment.id, "ch_late", CARD_LAST4, Utc::now()).await,
        StoreError::seat_canceled_since_checkout(),
        "a confirm after the event was canceled",
    );
    let request = hold_request(&ann, &event, &[seats[5]], long_ttl());
    assert_refusal(store.hold(&request, Utc::now()).await, StoreError::event_canceled(), "a hold on a canceled event");
}
