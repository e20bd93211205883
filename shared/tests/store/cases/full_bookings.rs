//! The largest booking a request may ask for (`SeatSelection::MAX_SEATS` seats) through its whole
//! life: held, checked out, confirmed, canceled with its refund, and canceled with its event. On
//! DynamoDB each of these steps is one transaction that grows by two items a seat, so this is
//! where a store (or an emulator) that cannot take a full booking in one step shows it.

use proeventa_core::domain::SeatSelection;

use super::*;

pub async fn largest_booking_is_held_checked_out_and_confirmed(store: S) {
    let venue = fixture_venue(&store, &[("A", 4, "vip"), ("B", 8, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let positions: Vec<usize> = (0..SeatSelection::MAX_SEATS).collect();
    let wanted = seat_ids(&venue, &positions);
    let total = 4 * tier_price("vip") + (SeatSelection::MAX_SEATS as i64 - 4) * tier_price("standard");

    let booking = hold_seats(&store, &ann, &event, &wanted).await.expect("hold the largest booking");
    assert_eq!((booking.status, booking.total_cents), (ReservationStatus::Held, total));
    let held: BTreeSet<Uuid> = booking.reservations.iter().map(|r| r.seat_id).collect();
    assert_eq!(held, wanted.iter().copied().collect::<BTreeSet<_>>(), "every seat asked for is held");
    let left = venue.seats.len() as i64 - SeatSelection::MAX_SEATS as i64;
    assert_eq!(store.event(event.id, Utc::now()).await.expect("read").expect("exists").seats_available, left);

    let now = Utc::now();
    let request = new_payment(&booking, now + Duration::seconds(300));
    let payment = store.create_payment(request.clone(), now).await.expect("checkout of the largest booking");
    assert_eq!((payment.status, payment.amount_cents), (PaymentStatus::Pending, total));
    let extended = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(extended.reservations.len(), SeatSelection::MAX_SEATS);
    for r in &extended.reservations {
        assert_eq!(r.status, ReservationStatus::Held, "seat {} is held while the payment is open", r.seat.on_ticket());
        assert!(
            r.expires_at >= request.hold_until,
            "seat {} is held until {}, before hold_until",
            r.seat.on_ticket(),
            r.expires_at
        );
    }

    let paid = store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await.expect("confirm");
    assert_eq!((paid.status, paid.amount_cents), (PaymentStatus::Succeeded, total));
    let now = Utc::now();
    let sold = store.booking(booking.id, now).await.expect("read").expect("exists");
    assert_eq!((sold.status, sold.total_cents), (ReservationStatus::Confirmed, total));
    assert!(sold.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed), "{sold:?}");
    let map = seat_statuses(&store, &event, now).await;
    let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
    let mut expected = vec![SeatStatus::Sold; SeatSelection::MAX_SEATS];
    expected.resize(venue.seats.len(), SeatStatus::Available);
    assert_eq!(statuses, expected, "the booking's seats are sold, the others free");

    let err =
        expect_err(hold_seats(&store, &bob, &event, &wanted[SeatSelection::MAX_SEATS - 1..]).await, "hold a sold seat");
    assert!(matches!(err, StoreError::SeatsUnavailable(_)), "expected SeatsUnavailable, got {err:?}");
}

pub async fn largest_paid_bookings_are_canceled_with_their_refunds(store: S) {
    let seats_per_row = i32::try_from(SeatSelection::MAX_SEATS).expect("a row's seats");
    let venue = fixture_grid_venue(&store, 2, seats_per_row).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let (row_a, row_b): (Vec<usize>, Vec<usize>) =
        ((0..SeatSelection::MAX_SEATS).collect(), (SeatSelection::MAX_SEATS..2 * SeatSelection::MAX_SEATS).collect());
    let (ann_booking, ann_paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &row_a), "ch_ann").await;
    let (bob_booking, bob_paid) = paid_booking(&store, &bob, &event, &seat_ids(&venue, &row_b), "ch_bob").await;
    let full = SeatSelection::MAX_SEATS as i64 * tier_price("standard");
    assert_eq!((ann_paid.amount_cents, bob_paid.amount_cents), (full, full));

    let canceled =
        store.cancel_booking(ann_booking.id, Utc::now(), None).await.expect("cancel the largest paid booking");
    assert_eq!(canceled.refunds, [refund(&ann_paid, "ch_ann", full)], "every seat's price goes back to the charge");
    assert_eq!(canceled.canceled.reservations.len(), SeatSelection::MAX_SEATS);
    assert!(canceled.canceled.reservations.iter().all(|r| r.status == ReservationStatus::Canceled));
    let read = read_payment(&store, ann_paid.id).await;
    assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Refunded, full));
    let map = seat_statuses(&store, &event, Utc::now()).await;
    for (i, seat) in venue.seats.iter().enumerate() {
        let expected = if i < SeatSelection::MAX_SEATS { SeatStatus::Available } else { SeatStatus::Sold };
        assert_eq!(map[&seat.id], expected, "seat {}{} after ann's cancel", seat.row, seat.seat_number);
    }

    let cancellation = store.cancel_event(event.id, Utc::now(), None).await.expect("cancel event").expect("exists");
    assert_eq!(cancellation.refunds, [refund(&bob_paid, "ch_bob", full)], "the other paid booking is refunded whole");
    let read = read_payment(&store, bob_paid.id).await;
    assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Refunded, full));
    let now = Utc::now();
    let bob_read = store.booking(bob_booking.id, now).await.expect("read").expect("exists");
    assert_eq!((bob_read.status, bob_read.reservations.len()), (ReservationStatus::Canceled, SeatSelection::MAX_SEATS));
    assert!(seat_statuses(&store, &event, now).await.values().all(|s| *s == SeatStatus::Available));
}
