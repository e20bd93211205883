//! Payments: checkout (a pending payment that extends the hold, its amount, the refusals),
//! confirming and failing, refunds when paid seats or events are canceled, webhook events, and
//! the listing.

use super::*;

/// Everything a payment says except its timestamps, which each backend rounds its own way.
type PaymentFields = (Uuid, Uuid, Uuid, i64, String, PaymentStatus, String, Option<String>, i64);

fn payment_fields(p: &Payment) -> PaymentFields {
    (
        p.id,
        p.booking_id,
        p.user_id,
        p.amount_cents,
        p.currency.clone(),
        p.status,
        p.provider.clone(),
        p.card_last4.clone(),
        p.refunded_cents,
    )
}

pub(super) fn refund(payment: &Payment, provider_ref: &str, amount_cents: i64) -> Refund {
    Refund { payment_id: payment.id, provider_ref: provider_ref.to_owned(), amount_cents }
}

fn sorted_refunds(refunds: &[Refund]) -> Vec<Refund> {
    let mut refunds = refunds.to_vec();
    refunds.sort_by_key(|r| r.payment_id);
    refunds
}

/// The effective status of every seat of a booking, by reservation id.
pub(super) async fn reservation_statuses(
    store: &S,
    booking_id: Uuid,
    now: DateTime<Utc>,
) -> BTreeMap<Uuid, ReservationStatus> {
    let booking = store.booking(booking_id, now).await.expect("read booking").expect("booking exists");
    booking.reservations.iter().map(|r| (r.id, r.status)).collect()
}

/// Fails when any seat of the event has more than one active (held unexpired, or confirmed)
/// reservation at `now`.
pub(super) async fn assert_one_active_per_seat(store: &S, event_id: Uuid, now: DateTime<Utc>, what: &str) {
    let rows = all_reservations(store, ReservationFilter { event_id: Some(event_id), ..Default::default() }, now).await;
    let mut active: BTreeMap<Uuid, Vec<(Uuid, ReservationStatus)>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status.effective(r.expires_at, now).is_active()) {
        active.entry(r.seat_id).or_default().push((r.booking_id, r.status));
    }
    let twice: Vec<_> = active.iter().filter(|(_, rs)| rs.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{what}: seats with more than one active reservation (seat, [(booking, status)]): {twice:?}"
    );
}

pub async fn checkout_opens_pending_payment_and_extends_hold(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    let minute = HoldTtl::from_seconds(60).expect("ttl");
    let booking =
        store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 2, 3]), minute), now).await.expect("hold");
    let request = new_payment(&booking, now + Duration::seconds(300));
    let payment = store.create_payment(request.clone(), now).await.expect("checkout");
    assert_eq!(
        payment_fields(&payment),
        (
            request.id,
            booking.id,
            ann.id,
            4000 + 1500 + 1500,
            "EUR".to_owned(),
            PaymentStatus::Pending,
            PROVIDER.to_owned(),
            None,
            0
        ),
        "a pending payment of the seats' tier prices, in the event's currency"
    );
    assert!(close_in_time(payment.created_at, now), "created_at {} is not about now", payment.created_at);
    assert!(close_in_time(payment.updated_at, now), "updated_at {} is not about now", payment.updated_at);
    let read = read_payment(&store, payment.id).await;
    assert_eq!(payment_fields(&read), payment_fields(&payment));
    assert!(close_in_time(read.created_at, payment.created_at));

    let later = Utc::now();
    let extended = store.booking(booking.id, later).await.expect("read").expect("exists");
    assert_eq!(extended.status, ReservationStatus::Held);
    assert!(
        extended.expires_at >= request.hold_until,
        "the hold ends at {}, before hold_until {}",
        extended.expires_at,
        request.hold_until
    );
    for r in &booking.reservations {
        let r = store.reservation(r.id, later).await.expect("read").expect("exists");
        assert_eq!(r.status, ReservationStatus::Held);
        assert!(
            r.expires_at >= request.hold_until,
            "seat {} is held until {}, before hold_until {}",
            r.seat.on_ticket(),
            r.expires_at,
            request.hold_until
        );
    }
    let read_event = store.event(event.id, later).await.expect("read").expect("exists");
    assert_eq!(read_event.seats_available, 1, "the seats stay held while the payment is open");

    // A hold that already outlasts hold_until is never shortened.
    let long = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1])).await.expect("hold");
    let before = store.reservation(long.reservations[0].id, Utc::now()).await.expect("read").expect("exists");
    let now = Utc::now();
    store.create_payment(new_payment(&long, now + Duration::seconds(30)), now).await.expect("checkout");
    let after = store.reservation(before.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(after.status, ReservationStatus::Held);
    assert!(
        after.expires_at >= before.expires_at,
        "checkout shortened the hold from {} to {}",
        before.expires_at,
        after.expires_at
    );
    assert_eq!(store.payment(Uuid::new_v4()).await.expect("read unknown payment"), None);
}

pub async fn checkout_amount_counts_held_seats_only(store: S) {
    let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
    let vip = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("vip seat");
    store.cancel_reservation(vip.id, Utc::now(), None).await.expect("cancel the vip seat");
    let payment = checkout(&store, &booking).await.expect("checkout");
    assert_eq!(payment.amount_cents, 3000, "a canceled seat is not charged");
}

pub async fn checkout_twice_is_invalid_state(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
    let first = checkout(&store, &booking).await.expect("first checkout");
    let err = expect_err(checkout(&store, &booking).await, "second checkout of the same booking");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let listed = store.list_payments(Some(ann.id), Page::default()).await.expect("list payments");
    assert_eq!(ids(&listed, |p| p.id), [first.id], "the refused checkout left no payment");
    assert_eq!(read_payment(&store, first.id).await.status, PaymentStatus::Pending, "the first stays open");

    store.confirm_payment(first.id, "ch_ann", CARD_LAST4, Utc::now()).await.expect("confirm");
    let err = expect_err(checkout(&store, &booking).await, "checkout of a paid booking");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let listed = store.list_payments(Some(ann.id), Page::default()).await.expect("list payments");
    assert_eq!(ids(&listed, |p| p.id), [first.id]);
}

pub async fn checkout_of_lapsed_hold_is_hold_expired(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
    sleep_past(booking.expires_at).await;
    let err = expect_err(checkout(&store, &booking).await, "checkout of a lapsed hold");
    assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
    let now = Utc::now();
    assert!(store.list_payments(Some(ann.id), Page::default()).await.expect("list").is_empty(), "no payment");
    let read = store.booking(booking.id, now).await.expect("read").expect("exists");
    assert_eq!(read.status, ReservationStatus::Expired, "a refused checkout extends nothing");
    assert!(seat_statuses(&store, &event, now).await.values().all(|s| *s == SeatStatus::Available));
}

pub async fn checkout_of_canceled_booking_is_invalid_state(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
    store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel");
    let err = expect_err(checkout(&store, &booking).await, "checkout of a canceled booking");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    assert!(store.list_payments(Some(ann.id), Page::default()).await.expect("list").is_empty(), "no payment");
}

pub async fn checkout_of_unknown_booking_is_not_found(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
    let now = Utc::now();
    let mut request = new_payment(&booking, now + Duration::seconds(300));
    request.booking_id = Uuid::new_v4();
    let err = expect_err(store.create_payment(request, now).await, "checkout of an unknown booking");
    assert!(matches!(err, StoreError::NotFound(Entity::Booking)), "expected NotFound(Booking), got {err:?}");
    assert!(store.list_payments(None, Page::default()).await.expect("list").is_empty(), "no payment");
}

pub async fn confirm_payment_confirms_every_seat_and_sells_them(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 2])).await.expect("hold");
    let payment = checkout(&store, &booking).await.expect("checkout");
    let now = Utc::now();
    let paid = store.confirm_payment(payment.id, "ch_ann", "4242", now).await.expect("confirm");
    assert_eq!(
        payment_fields(&paid),
        (
            payment.id,
            booking.id,
            ann.id,
            5500,
            "EUR".to_owned(),
            PaymentStatus::Succeeded,
            PROVIDER.to_owned(),
            Some("4242".to_owned()),
            0
        )
    );
    assert!(close_in_time(paid.updated_at, now), "updated_at {} is not about now", paid.updated_at);
    assert_eq!(payment_fields(&read_payment(&store, payment.id).await), payment_fields(&paid));

    let now = Utc::now();
    let read = store.booking(booking.id, now).await.expect("read").expect("exists");
    assert_eq!((read.status, read.total_cents), (ReservationStatus::Confirmed, 5500));
    assert!(read.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed), "{read:?}");
    let map = seat_statuses(&store, &event, now).await;
    let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
    use SeatStatus::{Available as A, Sold};
    assert_eq!(statuses, [Sold, A, Sold, A]);
    assert_eq!(store.event(event.id, now).await.expect("read").expect("exists").seats_available, 2);

    // A confirmed seat never lapses.
    let much_later = now + Duration::hours(1);
    for r in &booking.reservations {
        let r = store.reservation(r.id, much_later).await.expect("read").expect("exists");
        assert_eq!(r.status, ReservationStatus::Confirmed, "a confirmed seat stays confirmed past its hold");
    }
    assert_eq!(seat_statuses(&store, &event, much_later).await[&venue.seats[0].id], SeatStatus::Sold);

    let err = expect_err(store.confirm_payment(Uuid::new_v4(), "ch_x", "4242", Utc::now()).await, "confirm unknown");
    assert!(matches!(err, StoreError::NotFound(Entity::Payment)), "expected NotFound(Payment), got {err:?}");
}

pub async fn confirm_twice_is_invalid_state(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_first").await;
    let err = expect_err(store.confirm_payment(paid.id, "ch_second", "1111", Utc::now()).await, "second confirm");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let read = read_payment(&store, paid.id).await;
    assert_eq!(payment_fields(&read), payment_fields(&paid), "a refused confirm changes nothing");

    // The refund of a later cancellation still names the first confirm's charge.
    let booking = store.booking(paid.booking_id, Utc::now()).await.expect("read").expect("exists");
    let cancellation = store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel");
    assert_eq!(cancellation.refunds, [refund(&paid, "ch_first", 1500)]);
}

pub async fn confirm_after_lapse_with_seats_free_succeeds(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    // Held and checked out at the same instant, so the checkout always finds the hold alive.
    let t0 = Utc::now();
    let swept_later = store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 1]), short_ttl()), t0).await;
    let swept_first = store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[2]), short_ttl()), t0).await;
    let (unswept, swept) = (swept_later.expect("hold"), swept_first.expect("hold"));
    let window = t0 + Duration::milliseconds(60);
    let unswept_payment = store.create_payment(new_payment(&unswept, window), t0).await.expect("checkout");
    let swept_payment = store.create_payment(new_payment(&swept, window), t0).await.expect("checkout");
    let bookings = [unswept.id, swept.id];
    let mut latest = t0;
    for id in bookings {
        latest = latest.max(store.booking(id, t0).await.expect("read").expect("exists").expires_at);
    }
    sleep_past(latest).await;
    let now = Utc::now();
    for id in bookings {
        let b = store.booking(id, now).await.expect("read").expect("exists");
        assert_eq!(b.status, ReservationStatus::Expired, "precondition: the hold has lapsed");
    }

    let paid = store
        .confirm_payment(unswept_payment.id, "ch_1", CARD_LAST4, Utc::now())
        .await
        .expect("a lapsed hold whose seats nobody took can still be paid");
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(store.expire_lapsed_holds(Utc::now()).await.expect("sweep"), 1, "only the unpaid lapsed hold");
    let paid_after_sweep = store
        .confirm_payment(swept_payment.id, "ch_2", CARD_LAST4, Utc::now())
        .await
        .expect("a swept hold whose seat nobody took can still be paid");
    assert_eq!(paid_after_sweep.status, PaymentStatus::Succeeded);

    let now = Utc::now();
    for booking in [&unswept, &swept] {
        let read = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!(read.status, ReservationStatus::Confirmed);
        assert!(read.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed), "{read:?}");
    }
    let map = seat_statuses(&store, &event, now).await;
    let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
    use SeatStatus::{Available as A, Sold};
    assert_eq!(statuses, [Sold, Sold, Sold, A]);
}

pub async fn confirm_after_lapse_and_seat_reheld_is_hold_expired(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let t0 = Utc::now();
    let booking =
        store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 1]), short_ttl()), t0).await.expect("hold");
    let payment =
        store.create_payment(new_payment(&booking, t0 + Duration::milliseconds(60)), t0).await.expect("checkout");
    let lapse = store.booking(booking.id, t0).await.expect("read").expect("exists").expires_at;
    sleep_past(lapse).await;
    let bobs = hold_seats(&store, &bob, &event, &seat_ids(&venue, &[1])).await.expect("a lapsed hold never blocks");

    let err = expect_err(
        store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        "confirm after a seat was taken",
    );
    assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
    let now = Utc::now();
    let read = read_payment(&store, payment.id).await;
    assert_eq!(payment_fields(&read), payment_fields(&payment), "a refused confirm changes nothing");
    let anns = reservation_statuses(&store, booking.id, now).await;
    assert!(anns.values().all(|s| *s == ReservationStatus::Expired), "nothing was confirmed: {anns:?}");
    let bob_row = store.reservation(bobs.reservations[0].id, now).await.expect("read").expect("exists");
    assert_eq!(bob_row.status, ReservationStatus::Held, "the other buyer's hold is intact");
    let map = seat_statuses(&store, &event, now).await;
    let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
    assert_eq!(statuses, [SeatStatus::Available, SeatStatus::Held, SeatStatus::Available]);
    assert_one_active_per_seat(&store, event.id, now, "after the refused confirm").await;

    let failed = store.fail_payment(payment.id, 0, Utc::now()).await.expect("fail the payment");
    assert_eq!((failed.id, failed.status, failed.refunded_cents), (payment.id, PaymentStatus::Failed, 0));
    assert_eq!(read_payment(&store, payment.id).await.status, PaymentStatus::Failed);
    let err = expect_err(
        store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        "confirm of a failed payment",
    );
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
}

pub async fn fail_payment_only_from_pending(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_ann").await;
    let err = expect_err(store.fail_payment(paid.id, 0, Utc::now()).await, "fail a succeeded payment");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    assert_eq!(payment_fields(&read_payment(&store, paid.id).await), payment_fields(&paid));
    let err = expect_err(store.fail_payment(Uuid::new_v4(), 0, Utc::now()).await, "fail an unknown payment");
    assert!(matches!(err, StoreError::NotFound(Entity::Payment) | StoreError::InvalidState(_)), "got {err:?}");

    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1, 2])).await.expect("hold");
    let pending = checkout(&store, &booking).await.expect("checkout");
    let failed = store.fail_payment(pending.id, 0, Utc::now()).await.expect("fail a pending payment");
    assert_eq!((failed.status, failed.refunded_cents, failed.card_last4.as_deref()), (PaymentStatus::Failed, 0, None));
    let err = expect_err(store.fail_payment(pending.id, 0, Utc::now()).await, "fail a failed payment");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    assert_eq!(read_payment(&store, pending.id).await.status, PaymentStatus::Failed);

    // A failed payment is not open: the booking, still held, may be checked out again.
    let again = checkout(&store, &booking).await.expect("checkout after a failed payment");
    assert_ne!(again.id, pending.id);
    assert_eq!((again.status, again.amount_cents), (PaymentStatus::Pending, 3000));
}

pub async fn cancel_confirmed_seats_refunds_their_price(store: S) {
    let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2]), "ch_ann").await;
    assert_eq!(paid.amount_cents, 7000);
    let vip = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("vip seat");

    let one = store.cancel_reservation(vip.id, Utc::now(), None).await.expect("cancel a confirmed seat");
    assert_eq!((one.canceled.id, one.canceled.status), (vip.id, ReservationStatus::Canceled));
    assert_eq!(one.refunds, [refund(&paid, "ch_ann", 4000)], "the seat's price goes back to the charge");
    let read = read_payment(&store, paid.id).await;
    assert_eq!((read.status, read.refunded_cents, read.amount_cents), (PaymentStatus::PartiallyRefunded, 4000, 7000));
    let now = Utc::now();
    let partly = store.booking(booking.id, now).await.expect("read").expect("exists");
    assert_eq!((partly.status, partly.total_cents), (ReservationStatus::Confirmed, 3000));
    let map = seat_statuses(&store, &event, now).await;
    let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
    assert_eq!(statuses, [SeatStatus::Available, SeatStatus::Sold, SeatStatus::Sold], "the seat is free at once");

    let rest = store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel the rest");
    assert_eq!((rest.canceled.id, rest.canceled.status), (booking.id, ReservationStatus::Canceled));
    assert!(rest.canceled.reservations.iter().all(|r| r.status == ReservationStatus::Canceled));
    assert_eq!(rest.refunds, [refund(&paid, "ch_ann", 3000)], "only what was not refunded yet");
    let read = read_payment(&store, paid.id).await;
    assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Refunded, 7000));
    assert!(seat_statuses(&store, &event, Utc::now()).await.values().all(|s| *s == SeatStatus::Available));
}

pub async fn cancel_event_refunds_every_paid_booking_of_it_only(store: S) {
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let (doomed, other) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let users = fixture_users(&store, "buyer", 4).await;
    let (ann, bob, cara, dan) = (&users[0], &users[1], &users[2], &users[3]);
    let (_, ann_paid) = paid_booking(&store, ann, &doomed, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    let (_, bob_paid) = paid_booking(&store, bob, &doomed, &seat_ids(&venue, &[2]), "ch_bob").await;
    let cara_held = hold_seats(&store, cara, &doomed, &seat_ids(&venue, &[3])).await.expect("hold");
    let dan_held = hold_seats(&store, dan, &doomed, &seat_ids(&venue, &[4])).await.expect("hold");
    let dan_pending = checkout(&store, &dan_held).await.expect("checkout");
    let (elsewhere, other_paid) = paid_booking(&store, ann, &other, &seat_ids(&venue, &[0]), "ch_other").await;

    let cancellation = store.cancel_event(doomed.id, Utc::now(), None).await.expect("cancel event").expect("exists");
    assert_eq!((cancellation.canceled.id, cancellation.canceled.status), (doomed.id, EventStatus::Canceled));
    assert_eq!(
        sorted_refunds(&cancellation.refunds),
        sorted_refunds(&[refund(&ann_paid, "ch_ann", 3000), refund(&bob_paid, "ch_bob", 1500)]),
        "every paid booking of the event is refunded in full, and nothing else"
    );
    for (paid, amount) in [(&ann_paid, 3000), (&bob_paid, 1500)] {
        let read = read_payment(&store, paid.id).await;
        assert_eq!((read.status, read.refunded_cents, read.amount_cents), (PaymentStatus::Refunded, amount, amount));
    }
    let unpaid = read_payment(&store, dan_pending.id).await;
    assert_eq!(unpaid.refunded_cents, 0, "a pending payment took no money to give back");
    assert!(
        !matches!(unpaid.status, PaymentStatus::Refunded | PaymentStatus::PartiallyRefunded | PaymentStatus::Succeeded),
        "a pending payment of a canceled event is {}",
        unpaid.status
    );
    let now = Utc::now();
    for booking in [ann_paid.booking_id, bob_paid.booking_id, cara_held.id, dan_held.id] {
        let b = store.booking(booking, now).await.expect("read").expect("exists");
        assert_eq!(b.status, ReservationStatus::Canceled);
    }
    assert!(seat_statuses(&store, &doomed, now).await.values().all(|s| *s == SeatStatus::Available));

    let untouched = read_payment(&store, other_paid.id).await;
    assert_eq!(payment_fields(&untouched), payment_fields(&other_paid), "another event's payment is left alone");
    let kept = store.booking(elsewhere.id, now).await.expect("read").expect("exists");
    assert_eq!(kept.status, ReservationStatus::Confirmed);
    assert_eq!(seat_statuses(&store, &other, now).await[&venue.seats[0].id], SeatStatus::Sold);
}

pub async fn cancel_of_held_seats_refunds_nothing(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
    let pending = checkout(&store, &booking).await.expect("checkout");

    let one = store.cancel_reservation(booking.reservations[0].id, Utc::now(), None).await.expect("cancel a held seat");
    assert!(one.refunds.is_empty(), "a held seat was never paid: {:?}", one.refunds);
    let read = read_payment(&store, pending.id).await;
    assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Pending, 0));

    let err = expect_err(
        store.confirm_payment(pending.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        "confirm of a booking with a canceled seat",
    );
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let now = Utc::now();
    let statuses = reservation_statuses(&store, booking.id, now).await;
    assert!(!statuses.values().any(|s| *s == ReservationStatus::Confirmed), "nothing was confirmed: {statuses:?}");
    assert_eq!(
        read_payment(&store, pending.id).await.status,
        PaymentStatus::Pending,
        "a refused confirm changes nothing"
    );

    let rest = store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel the rest");
    assert!(rest.refunds.is_empty(), "held seats were never paid: {:?}", rest.refunds);
    assert_eq!(read_payment(&store, pending.id).await.refunded_cents, 0);
}

/// A cancel request may read its clock before a checkout request does and still commit after
/// it: the seat was priced into the payment, so the payment must not succeed.
pub async fn confirm_after_a_seat_was_canceled_is_invalid_state_whatever_its_clock(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
    let cancel_clock = Utc::now();
    tick().await;
    let pending = checkout(&store, &booking).await.expect("checkout");
    assert_eq!(pending.amount_cents, 3000, "both seats are priced in");
    let canceled = booking.reservations[0].id;
    let one = store.cancel_reservation(canceled, cancel_clock, None).await.expect("cancel a held seat after checkout");
    assert!(one.refunds.is_empty(), "a held seat was never paid: {:?}", one.refunds);

    let result = store.confirm_payment(pending.id, "ch_ann", CARD_LAST4, Utc::now()).await;
    let now = Utc::now();
    let statuses = reservation_statuses(&store, booking.id, now).await;
    let after = read_payment(&store, pending.id).await;
    match result {
        Err(StoreError::InvalidState(_)) => {}
        other => panic!(
            "a confirm after a priced-in seat was canceled must be InvalidState, got {other:?}; \
             the payment is now {after:?} and the seats {statuses:?}"
        ),
    }
    assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Pending, 0), "nothing changes");
    assert!(!statuses.values().any(|s| *s == ReservationStatus::Confirmed), "nothing was confirmed: {statuses:?}");
}

pub async fn record_refund_caps_at_the_amount(store: S) {
    let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    assert_eq!(paid.amount_cents, 5500);

    let partly = store.record_refund(paid.id, 1000, Utc::now()).await.expect("partial refund");
    assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1000));
    let more = store.record_refund(paid.id, 1000, Utc::now()).await.expect("another partial refund");
    assert_eq!((more.status, more.refunded_cents), (PaymentStatus::PartiallyRefunded, 2000));
    let capped = store.record_refund(paid.id, 10_000, Utc::now()).await.expect("refund past the amount");
    assert_eq!((capped.status, capped.refunded_cents), (PaymentStatus::Refunded, 5500), "capped at the amount");
    let read = read_payment(&store, paid.id).await;
    assert_eq!((read.status, read.refunded_cents, read.amount_cents), (PaymentStatus::Refunded, 5500, 5500));
    let err = expect_err(store.record_refund(paid.id, 1, Utc::now()).await, "refund of a refunded payment");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    assert_eq!(read_payment(&store, paid.id).await.refunded_cents, 5500);

    let (_, whole) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[2]), "ch_whole").await;
    let refunded = store.record_refund(whole.id, 1500, Utc::now()).await.expect("refund of the whole amount");
    assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::Refunded, 1500));
}

pub async fn record_refund_of_unpaid_payment_is_invalid_state(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
    let pending = checkout(&store, &booking).await.expect("checkout");
    let err = expect_err(store.record_refund(pending.id, 500, Utc::now()).await, "refund of a pending payment");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    assert_eq!(payment_fields(&read_payment(&store, pending.id).await), payment_fields(&pending));

    store.fail_payment(pending.id, 0, Utc::now()).await.expect("fail");
    let err = expect_err(store.record_refund(pending.id, 500, Utc::now()).await, "refund of a failed payment");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let read = read_payment(&store, pending.id).await;
    assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Failed, 0));
}

pub async fn webhook_events_are_recorded_once_until_forgotten(store: S) {
    let now = Utc::now();
    assert!(store.record_webhook_event("evt_1", now).await.expect("record"), "first sight of evt_1");
    assert!(!store.record_webhook_event("evt_1", now).await.expect("record again"), "evt_1 seen before");
    assert!(store.record_webhook_event("evt_2", now).await.expect("record"), "another event id is new");
    assert!(!store.record_webhook_event("evt_1", Utc::now()).await.expect("record"), "still seen before");
    assert!(!store.record_webhook_event("evt_2", Utc::now()).await.expect("record"));

    store.forget_webhook_event("evt_1").await.expect("forget");
    assert!(store.record_webhook_event("evt_1", Utc::now()).await.expect("record"), "a forgotten event is new");
    assert!(!store.record_webhook_event("evt_1", Utc::now()).await.expect("record"), "and then seen again");
    assert!(!store.record_webhook_event("evt_2", Utc::now()).await.expect("record"), "others are remembered");
    store.forget_webhook_event("evt_never_seen").await.expect("forget an unknown event");
}

pub async fn list_payments_newest_first_per_user(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let seat = |i: usize| seat_ids(&venue, &[i]);
    let ann_first = hold_seats(&store, &ann, &event, &seat(0)).await.expect("hold");
    let ann_first = checkout(&store, &ann_first).await.expect("checkout");
    tick().await;
    let bob_only = hold_seats(&store, &bob, &event, &seat(1)).await.expect("hold");
    let bob_only = checkout(&store, &bob_only).await.expect("checkout");
    tick().await;
    let (_, ann_paid) = paid_booking(&store, &ann, &event, &seat(2), "ch_ann").await;

    let list = |user: Option<Uuid>, page: Page| {
        let store = store.clone();
        async move { store.list_payments(user, page).await.expect("list payments") }
    };
    let anns = list(Some(ann.id), Page::default()).await;
    assert_eq!(ids(&anns, |p| p.id), [ann_paid.id, ann_first.id], "a user's payments, newest first");
    assert_eq!(
        anns.iter().map(|p| p.status).collect::<Vec<_>>(),
        [PaymentStatus::Succeeded, PaymentStatus::Pending],
        "listed with their current status"
    );
    assert_eq!(ids(&list(Some(bob.id), Page::default()).await, |p| p.id), [bob_only.id]);
    assert_eq!(
        ids(&list(None, Page::default()).await, |p| p.id),
        [ann_paid.id, bob_only.id, ann_first.id],
        "everyone's payments, newest first"
    );
    assert_eq!(ids(&list(None, page(1, 1)).await, |p| p.id), [bob_only.id]);
    assert_eq!(ids(&list(Some(ann.id), page(1, 1)).await, |p| p.id), [ann_first.id]);
    assert!(list(None, page(2, 3)).await.is_empty());
    assert!(list(Some(Uuid::new_v4()), Page::default()).await.is_empty());
}

/// A hold placed a minute before the show and checked out before it, so at the start the hold is
/// still running: only the start can refuse what follows. The booking, its pending payment, and
/// the start.
async fn held_and_checked_out_before_the_start(
    store: &S,
    event: &Event,
    buyer: &User,
    seats: &[Uuid],
) -> (Booking, Payment, DateTime<Utc>) {
    let start = event.start_time;
    let booking =
        store.hold(&hold_request(buyer, event, seats, long_ttl()), start - Duration::seconds(60)).await.expect("hold");
    let before = start - Duration::seconds(30);
    let payment =
        store.create_payment(new_payment(&booking, before + Duration::seconds(300)), before).await.expect("checkout");
    (booking, payment, start)
}

/// The buyer must not be charged for a show that began: a confirm on a clock at (or past) the
/// event's start is refused with nothing changed — the payment stays pending (the API voids the
/// authorization and fails it) and the seats stay held.
pub async fn confirm_after_the_event_started_is_refused_and_changes_nothing(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, payment, start) =
        held_and_checked_out_before_the_start(&store, &event, &ann, &seat_ids(&venue, &[0, 1])).await;

    for (clock, when) in [(start, "at the start"), (start + Duration::seconds(1), "a second after the start")] {
        let err = expect_err(store.confirm_payment(payment.id, "ch_late", CARD_LAST4, clock).await, when);
        assert!(matches!(err, StoreError::InvalidState(_)), "{when}: expected InvalidState, got {err:?}");
        let read = read_payment(&store, payment.id).await;
        assert_eq!(payment_fields(&read), payment_fields(&payment), "{when}: a refused confirm changes nothing");
        let statuses = reservation_statuses(&store, booking.id, clock).await;
        assert!(statuses.values().all(|s| *s == ReservationStatus::Held), "{when}: the seats stay held: {statuses:?}");
        let map = seat_statuses(&store, &event, clock).await;
        let seats: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
        assert_eq!(seats, [SeatStatus::Held, SeatStatus::Held, SeatStatus::Available], "{when}");
    }

    // The start alone refused it: on a clock just before the start the same payment goes through.
    let paid = store
        .confirm_payment(payment.id, "ch_in_time", CARD_LAST4, start - Duration::milliseconds(1))
        .await
        .expect("a confirm before the start");
    assert_eq!(paid.status, PaymentStatus::Succeeded);
}

/// Checkout is refused once the event started, even while the hold still runs, and changes nothing.
pub async fn checkout_after_the_event_started_is_refused_and_changes_nothing(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let start = event.start_time;
    let booking = store
        .hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 1]), long_ttl()), start - Duration::seconds(60))
        .await
        .expect("hold");
    for (clock, when) in [(start, "at the start"), (start + Duration::seconds(1), "a second after the start")] {
        let request = new_payment(&booking, clock + Duration::seconds(300));
        let err = expect_err(store.create_payment(request, clock).await, when);
        assert!(matches!(err, StoreError::InvalidState(_)), "{when}: expected InvalidState, got {err:?}");
        assert!(store.list_payments(Some(ann.id), Page::default()).await.expect("list").is_empty(), "{when}");
        let read = store.booking(booking.id, clock).await.expect("read").expect("exists");
        assert_eq!(read.status, ReservationStatus::Held, "{when}: the hold is left as it was");
        assert_eq!(read.expires_at, booking.expires_at, "{when}: a refused checkout extends nothing");
    }
}

/// Card testing: each declined card is counted on the payment; the 5th fails it and frees its held
/// seats (written down `expired`, anyone's at once) in the same step, and nothing is counted after.
pub async fn five_declines_fail_the_payment_and_free_its_seats(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
    let payment = checkout(&store, &booking).await.expect("checkout");
    let canceled = booking.reservations.iter().find(|r| r.seat_id == venue.seats[2].id).expect("seat 3").id;
    store.cancel_reservation(canceled, Utc::now(), None).await.expect("cancel one held seat after checkout");

    for attempt in 1..=MAX_DECLINES_PER_PAYMENT - 1 {
        let decline = store.record_decline(payment.id, Utc::now()).await.expect("count a decline");
        assert_eq!(decline.declines, attempt);
        assert_eq!(payment_fields(&decline.payment), payment_fields(&payment), "decline {attempt} keeps it pending");
        assert_eq!(payment_fields(&read_payment(&store, payment.id).await), payment_fields(&payment));
        let map = seat_statuses(&store, &event, Utc::now()).await;
        assert_eq!(map[&venue.seats[0].id], SeatStatus::Held, "after decline {attempt} the hold stays");
    }

    let last = store.record_decline(payment.id, Utc::now()).await.expect("count the last decline");
    assert_eq!(last.declines, MAX_DECLINES_PER_PAYMENT);
    assert_eq!(
        (last.payment.id, last.payment.status, last.payment.refunded_cents),
        (payment.id, PaymentStatus::Failed, 0)
    );
    assert_eq!(payment_fields(&read_payment(&store, payment.id).await), payment_fields(&last.payment));
    let now = Utc::now();
    let statuses = reservation_statuses(&store, booking.id, now).await;
    for r in &booking.reservations {
        let expected = if r.id == canceled { ReservationStatus::Canceled } else { ReservationStatus::Expired };
        assert_eq!(statuses[&r.id], expected, "seat {}: {statuses:?}", r.seat.on_ticket());
    }
    assert!(seat_statuses(&store, &event, now).await.values().all(|s| *s == SeatStatus::Available), "seats freed");
    assert_eq!(store.event(event.id, now).await.expect("read").expect("exists").seats_available, 4);

    let err = expect_err(store.record_decline(payment.id, Utc::now()).await, "a decline after the last");
    assert_eq!(format!("{err:?}"), format!("{:?}", StoreError::payment_already(PaymentStatus::Failed)));
    let err = expect_err(
        store.confirm_payment(payment.id, "ch_late", CARD_LAST4, Utc::now()).await,
        "a confirm after the last decline",
    );
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    let err = expect_err(checkout(&store, &booking).await, "a checkout of the freed booking");
    assert!(matches!(err, StoreError::HoldExpired), "the buyer picks seats again: {err:?}");
    let bobs = hold_seats(&store, &bob, &event, &seat_ids(&venue, &[0, 1])).await.expect("the freed seats");
    assert_eq!(bobs.status, ReservationStatus::Held);
    assert_one_active_per_seat(&store, event.id, Utc::now(), "after the last decline").await;

    let err = expect_err(store.record_decline(Uuid::new_v4(), Utc::now()).await, "a decline of no payment");
    assert!(matches!(err, StoreError::NotFound(Entity::Payment)), "expected NotFound(Payment), got {err:?}");
    let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[3]), "ch_paid").await;
    let err = expect_err(store.record_decline(paid.id, Utc::now()).await, "a decline of a paid payment");
    assert_eq!(format!("{err:?}"), format!("{:?}", StoreError::payment_already(PaymentStatus::Succeeded)));
    assert_eq!(payment_fields(&read_payment(&store, paid.id).await), payment_fields(&paid));
}
