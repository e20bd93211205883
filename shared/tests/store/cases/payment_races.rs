//! Payments under concurrency: a confirm racing the sweeper and another buyer's hold of its seat
//! around the lapse, and a confirm racing a cancel; a seat is never taken twice, a paid seat never
//! lost without its refund; and a burst of declined cards, counted up to the limit and no further.

use super::payments::{assert_one_active_per_seat, refund, reservation_statuses};
use super::*;

/// Per round: a booking of two seats held for 30 ms and checked out with a window that also
/// lapses (40 ms); then its confirm, the sweeper and another buyer's hold of one of its seats
/// each start somewhere from 10 ms before the lapse to 10 ms after it. Exactly one of the
/// confirm and the other hold wins, and no seat is ever taken twice.
pub async fn concurrent_confirm_sweeper_and_rehold(store: S) {
    const ROUNDS: usize = 30;
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let ttl = HoldTtl::from_millis(30).expect("ttl");
    let mut rng = Rng::new(0xC0FF_EE5E_A7ED);
    let (mut paid_rounds, mut lost_rounds) = (0, 0);
    for round in 0..ROUNDS {
        let event = fixture_event(&store, &venue).await;
        let seats = seat_ids(&venue, &[0, 1]);
        let contested = seats[rng.below(seats.len())];
        let t0 = Utc::now();
        let booking = store.hold(&hold_request(&ann, &event, &seats, ttl), t0).await.expect("hold");
        let payment = store
            .create_payment(new_payment(&booking, t0 + Duration::milliseconds(40)), t0)
            .await
            .unwrap_or_else(|e| panic!("round {round}: checkout: {e}"));
        let lapse = store.booking(booking.id, t0).await.expect("read").expect("exists").expires_at;
        let mut start = || lapse + Duration::milliseconds(rng.below(21) as i64 - 10);
        let (confirm_at, sweep_at, rehold_at) = (start(), start(), start());
        let provider_ref = format!("ch_{round}");

        let confirm = {
            let (store, provider_ref) = (store.clone(), provider_ref.clone());
            tokio::spawn(async move {
                sleep_until(confirm_at).await;
                store.confirm_payment(payment.id, &provider_ref, CARD_LAST4, Utc::now()).await
            })
        };
        let sweeper = {
            let store = store.clone();
            tokio::spawn(async move {
                sleep_until(sweep_at).await;
                store.expire_lapsed_holds(Utc::now()).await
            })
        };
        let rehold = {
            let (store, request) = (store.clone(), hold_request(&bob, &event, &[contested], long_ttl()));
            tokio::spawn(async move {
                sleep_until(rehold_at).await;
                store.hold(&request, Utc::now()).await
            })
        };
        let confirmed = confirm.await.expect("confirm task");
        let reheld = rehold.await.expect("hold task");
        sweeper.await.expect("sweeper task").unwrap_or_else(|e| panic!("round {round}: the sweep failed: {e}"));

        let now = Utc::now();
        let anns = reservation_statuses(&store, booking.id, now).await;
        let map = seat_statuses(&store, &event, now).await;
        match (&confirmed, &reheld) {
            (Ok(paid), Err(StoreError::SeatsUnavailable(_))) => {
                paid_rounds += 1;
                assert_eq!(paid.status, PaymentStatus::Succeeded, "round {round}");
                assert_eq!(read_payment(&store, payment.id).await.status, PaymentStatus::Succeeded);
                assert!(
                    anns.values().all(|s| *s == ReservationStatus::Confirmed),
                    "round {round}: the payment succeeded but not every seat is confirmed: {anns:?}"
                );
                for seat in &seats {
                    assert_eq!(map[seat], SeatStatus::Sold, "round {round}: a paid seat is not sold");
                }
            }
            (Err(StoreError::HoldExpired), Ok(bobs)) => {
                lost_rounds += 1;
                let read = read_payment(&store, payment.id).await;
                assert_eq!(
                    (read.status, read.refunded_cents, read.card_last4.as_deref()),
                    (PaymentStatus::Pending, 0, None),
                    "round {round}: a refused confirm changes nothing"
                );
                assert!(
                    !anns.values().any(|s| *s == ReservationStatus::Confirmed),
                    "round {round}: the confirm was refused but a seat is confirmed: {anns:?}"
                );
                let bob_row = store.reservation(bobs.reservations[0].id, now).await.expect("read").expect("exists");
                assert_eq!(bob_row.status, ReservationStatus::Held, "round {round}: the other hold is intact");
                assert_eq!(map[&contested], SeatStatus::Held, "round {round}");
                let failed = store
                    .fail_payment(payment.id, 0, Utc::now())
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: fail the refused payment: {e}"));
                assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 0), "round {round}");
                assert_eq!(read_payment(&store, payment.id).await.status, PaymentStatus::Failed);
            }
            (Ok(_), Ok(_)) => panic!(
                "round {round}: both the confirm and the other buyer's hold of the same seat won \
                 (booking {anns:?}, seat map {map:?})"
            ),
            (confirmed, reheld) => panic!(
                "round {round}: expected exactly one of the confirm (Ok or HoldExpired) and the other hold \
                 (Ok or SeatsUnavailable) to win; confirm: {confirmed:?}, other hold: {reheld:?}"
            ),
        }
        assert_one_active_per_seat(&store, event.id, now, &format!("round {round}")).await;
    }
    assert_eq!(paid_rounds + lost_rounds, ROUNDS);
    eprintln!("{ROUNDS} rounds: the confirm won {paid_rounds}, the other hold won {lost_rounds}");
}

/// Per round: a paid-for hold of three seats whose confirm races a cancel of the whole
/// booking (even rounds) or of one seat (odd rounds). In either order, every canceled seat
/// that had been paid is refunded on its payment, in the same step, and nothing else is.
pub async fn concurrent_confirm_and_cancel(store: S) {
    const ROUNDS: usize = 30;
    let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
    let ann = fixture_user(&store, "ann").await;
    let mut rng = Rng::new(0xCA_9CE1);
    let (mut paid_rounds, mut refused_rounds) = (0, 0);
    let mut refunded_by_cancels = 0;
    for round in 0..ROUNDS {
        let event = fixture_event(&store, &venue).await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
        let payment = checkout(&store, &booking).await.unwrap_or_else(|e| panic!("round {round}: checkout: {e}"));
        let whole = round % 2 == 0;
        let victim = booking.reservations[rng.below(booking.reservations.len())].id;
        let (confirm_delay, cancel_delay) = (rng.below(3) as u64, rng.below(3) as u64);
        let provider_ref = format!("ch_{round}");
        let barrier = Arc::new(Barrier::new(2));

        let confirm = {
            let (store, barrier, provider_ref) = (store.clone(), barrier.clone(), provider_ref.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                tokio::time::sleep(StdDuration::from_millis(confirm_delay)).await;
                store.confirm_payment(payment.id, &provider_ref, CARD_LAST4, Utc::now()).await
            })
        };
        let cancel = {
            let (store, barrier, booking_id) = (store.clone(), barrier.clone(), booking.id);
            tokio::spawn(async move {
                barrier.wait().await;
                tokio::time::sleep(StdDuration::from_millis(cancel_delay)).await;
                if whole {
                    store.cancel_booking(booking_id, Utc::now(), None).await.map(|c| {
                        let canceled = c
                            .canceled
                            .reservations
                            .iter()
                            .filter(|r| r.status == ReservationStatus::Canceled)
                            .map(|r| r.id)
                            .collect::<BTreeSet<Uuid>>();
                        (canceled, c.refunds)
                    })
                } else {
                    store.cancel_reservation(victim, Utc::now(), None).await.map(|c| {
                        assert_eq!(c.canceled.status, ReservationStatus::Canceled);
                        (BTreeSet::from([c.canceled.id]), c.refunds)
                    })
                }
            })
        };
        let confirmed = confirm.await.expect("confirm task");
        let (canceled, refunds) = cancel
            .await
            .expect("cancel task")
            .unwrap_or_else(|e| panic!("round {round}: the cancel must succeed in either order, got {e:?}"));

        let expected_canceled: BTreeSet<Uuid> =
            if whole { booking.reservations.iter().map(|r| r.id).collect() } else { BTreeSet::from([victim]) };
        assert_eq!(canceled, expected_canceled, "round {round}: the seats the cancel reports");
        let canceled_price: i64 =
            booking.reservations.iter().filter(|r| canceled.contains(&r.id)).map(|r| r.price_cents).sum();
        let now = Utc::now();
        let after = read_payment(&store, payment.id).await;
        let statuses = reservation_statuses(&store, booking.id, now).await;
        let map = seat_statuses(&store, &event, now).await;
        for r in &booking.reservations {
            if canceled.contains(&r.id) {
                assert_eq!(statuses[&r.id], ReservationStatus::Canceled, "round {round}");
                assert_eq!(map[&r.seat_id], SeatStatus::Available, "round {round}: a canceled seat is free");
            }
        }
        let refunded: i64 = refunds.iter().map(|r| r.amount_cents).sum();
        assert_eq!(
            after.refunded_cents, refunded,
            "round {round}: the payment records exactly what the cancellation owes back ({refunds:?})"
        );
        refunded_by_cancels += refunded;
        match confirmed {
            Ok(paid) => {
                // The confirm came first: every canceled seat had been paid.
                paid_rounds += 1;
                assert_eq!(paid.status, PaymentStatus::Succeeded, "round {round}");
                assert_eq!(
                    refunds,
                    [refund(&paid, &provider_ref, canceled_price)],
                    "round {round}: a paid seat was canceled without its refund \
                     (payment now {after:?}, seats now {statuses:?})"
                );
                let status = if whole { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
                assert_eq!((after.status, after.refunded_cents), (status, canceled_price), "round {round}");
                for r in booking.reservations.iter().filter(|r| !canceled.contains(&r.id)) {
                    assert_eq!(statuses[&r.id], ReservationStatus::Confirmed, "round {round}: a paid seat");
                    assert_eq!(map[&r.seat_id], SeatStatus::Sold, "round {round}");
                }
            }
            Err(StoreError::InvalidState(_)) => {
                // The cancel came first: nothing was paid, nothing is owed.
                refused_rounds += 1;
                assert!(refunds.is_empty(), "round {round}: a refund for seats never paid: {refunds:?}");
                assert_eq!(
                    (after.status, after.refunded_cents, after.card_last4.as_deref()),
                    (PaymentStatus::Pending, 0, None),
                    "round {round}: a refused confirm changes nothing"
                );
                assert!(
                    !statuses.values().any(|s| *s == ReservationStatus::Confirmed),
                    "round {round}: the confirm was refused but a seat is confirmed: {statuses:?}"
                );
                for r in booking.reservations.iter().filter(|r| !canceled.contains(&r.id)) {
                    assert_eq!(statuses[&r.id], ReservationStatus::Held, "round {round}: an unpaid seat");
                }
            }
            Err(other) => {
                panic!("round {round}: a confirm racing a cancel must succeed or be InvalidState, got {other:?}")
            }
        }
        assert_one_active_per_seat(&store, event.id, now, &format!("round {round}")).await;
    }
    let all = store.list_payments(Some(ann.id), Page { limit: Page::MAX_LIMIT, offset: 0 }).await.expect("list");
    assert_eq!(all.len(), ROUNDS);
    assert_eq!(
        all.iter().map(|p| p.refunded_cents).sum::<i64>(),
        refunded_by_cancels,
        "money recorded as refunded equals what the cancellations owed back"
    );
    assert_eq!(paid_rounds + refused_rounds, ROUNDS);
    eprintln!("{ROUNDS} rounds: the confirm came first {paid_rounds} times, the cancel {refused_rounds}");
}

/// Per round: a burst of declined cards on one payment, all released at once, and in odd rounds a
/// good card's confirm among them. Never more than `MAX_DECLINES_PER_PAYMENT` declines are
/// counted, each count once; the payment ends either paid with every seat confirmed (the confirm
/// came first) or failed at exactly the last decline with every seat free, never pending, never
/// both.
pub async fn concurrent_declines_count_at_most_the_limit(store: S) {
    const ROUNDS: usize = 8;
    const BURST: usize = 10;
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let ann = fixture_user(&store, "ann").await;
    let max = MAX_DECLINES_PER_PAYMENT as usize;
    let mut rng = Rng::new(0xDEC1_14E5);
    let (mut paid_rounds, mut failed_rounds) = (0, 0);
    for round in 0..ROUNDS {
        let event = fixture_event(&store, &venue).await;
        let seats = seat_ids(&venue, &[0, 1]);
        let booking = hold_seats(&store, &ann, &event, &seats).await.expect("hold");
        let payment = checkout(&store, &booking).await.unwrap_or_else(|e| panic!("round {round}: checkout: {e}"));
        let with_confirm = round % 2 == 1;
        let racers = BURST + usize::from(with_confirm);
        let barrier = Arc::new(Barrier::new(racers));
        let declines: Vec<_> = (0..BURST)
            .map(|_| {
                let (store, barrier, delay) = (store.clone(), barrier.clone(), rng.below(3) as u64);
                tokio::spawn(async move {
                    barrier.wait().await;
                    tokio::time::sleep(StdDuration::from_millis(delay)).await;
                    store.record_decline(payment.id, Utc::now()).await
                })
            })
            .collect();
        let confirm = with_confirm.then(|| {
            let (store, barrier, delay) = (store.clone(), barrier.clone(), rng.below(3) as u64);
            tokio::spawn(async move {
                barrier.wait().await;
                tokio::time::sleep(StdDuration::from_millis(delay)).await;
                store.confirm_payment(payment.id, "ch_good", CARD_LAST4, Utc::now()).await
            })
        });
        let mut counted = Vec::new();
        for task in declines {
            match task.await.expect("decline task") {
                Ok(decline) => counted.push(decline),
                Err(StoreError::InvalidState(_)) => {}
                Err(other) => panic!("round {round}: a decline must be counted or InvalidState, got {other:?}"),
            }
        }
        let confirmed = match confirm {
            Some(task) => Some(task.await.expect("confirm task")),
            None => None,
        };

        let mut numbers: Vec<u32> = counted.iter().map(|d| d.declines).collect();
        numbers.sort_unstable();
        assert!(numbers.len() <= max, "round {round}: {} declines counted: {numbers:?}", numbers.len());
        assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>(), "round {round}: each count once");
        let closing: Vec<u32> =
            counted.iter().filter(|d| d.payment.status == PaymentStatus::Failed).map(|d| d.declines).collect();
        let now = Utc::now();
        let after = read_payment(&store, payment.id).await;
        let statuses = reservation_statuses(&store, booking.id, now).await;
        let map = seat_statuses(&store, &event, now).await;
        match confirmed {
            Some(Ok(paid)) => {
                paid_rounds += 1;
                assert_eq!((paid.status, after.status), (PaymentStatus::Succeeded, PaymentStatus::Succeeded));
                assert!(closing.is_empty(), "round {round}: a paid payment was also failed by a decline");
                assert!(numbers.len() < max, "round {round}: paid after its last decline: {numbers:?}");
                assert!(statuses.values().all(|s| *s == ReservationStatus::Confirmed), "round {round}: {statuses:?}");
                assert!(seats.iter().all(|s| map[s] == SeatStatus::Sold), "round {round}: {map:?}");
            }
            None | Some(Err(StoreError::InvalidState(_))) => {
                failed_rounds += 1;
                assert_eq!(numbers.len(), max, "round {round}: the burst stopped before the limit: {numbers:?}");
                assert_eq!(closing, [MAX_DECLINES_PER_PAYMENT], "round {round}: exactly the last decline closes it");
                assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Failed, 0), "round {round}");
                assert!(statuses.values().all(|s| *s == ReservationStatus::Expired), "round {round}: {statuses:?}");
                assert!(seats.iter().all(|s| map[s] == SeatStatus::Available), "round {round}: {map:?}");
            }
            Some(Err(other)) => {
                panic!("round {round}: a confirm racing declines must pay or be InvalidState: {other:?}")
            }
        }
        assert_one_active_per_seat(&store, event.id, now, &format!("round {round}")).await;
    }
    assert_eq!(paid_rounds + failed_rounds, ROUNDS);
    eprintln!("{ROUNDS} rounds: the confirm came first {paid_rounds} times, the last decline {failed_rounds}");
}
