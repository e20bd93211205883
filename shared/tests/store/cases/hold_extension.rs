//! The one extension of a booking's hold: every held seat runs `HOLD_EXTENSION_SECONDS` longer,
//! once per booking, never for a lapsed, paid or canceled booking; the extended seats stay held
//! for the sweeper and the per-user limit until the new time, and not a moment past it; of
//! several extensions at once exactly one wins.

use proeventa_core::domain::HoldExtension;

use super::*;

fn five_minutes() -> HoldExtension {
    HoldExtension::from_seconds(300).expect("extension")
}

/// Every reservation's expiry, by id.
fn expiries(booking: &Booking) -> BTreeMap<Uuid, DateTime<Utc>> {
    booking.reservations.iter().map(|r| (r.id, r.expires_at)).collect()
}

pub async fn a_hold_is_extended_once_and_not_past_the_limit(store: S) {
    let venue = fixture_grid_venue(&store, 1, 10).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let t0 = whole_millis(Utc::now());
    let at = |seconds: i64| t0 + Duration::seconds(seconds);
    let minute = HoldTtl::from_seconds(60).expect("ttl");
    let hold = |positions: &[usize]| limited_hold(&ann, &event, &seat_ids(&venue, positions), minute, 2);

    let booking = store.hold(&hold(&[0, 1]), t0).await.expect("hold two seats for a minute");
    let extended = store.extend_hold(booking.id, five_minutes(), at(30)).await.expect("the first extension");
    assert_eq!(extended.status, ReservationStatus::Held);
    let before = expiries(&booking);
    for (id, expires_at) in expiries(&extended) {
        assert_eq!(expires_at, before[&id] + Duration::seconds(300), "each seat runs five minutes longer");
    }
    assert_eq!(extended.expires_at, at(360));

    let err = expect_err(store.extend_hold(booking.id, five_minutes(), at(40)).await, "a second extension");
    assert!(matches!(err, StoreError::ExtensionUsed), "expected ExtensionUsed, got {err:?}");
    let read = store.booking(booking.id, at(40)).await.expect("read").expect("exists");
    assert_eq!(expiries(&read), expiries(&extended), "a refused extension changes nothing");

    // Past the first end, before the new one: the sweeper leaves the seats held, they are not for
    // sale, and they still count against the holder's limit.
    assert_eq!(store.expire_lapsed_holds(at(120)).await.expect("sweep"), 0, "the sweeper waits for the new time");
    let taken = seat_statuses(&store, &event, at(120)).await;
    assert_eq!(taken[&venue.seats[0].id], SeatStatus::Held);
    match store.hold(&hold(&[2]), at(120)).await {
        Err(StoreError::HoldLimitReached { limit: 2 }) => {}
        other => panic!("the extended seats still count against the limit: {other:?}"),
    }
    // Not a moment past it: the extended hold lapses at its new time, and is not extended again.
    let lapsed = store.booking(booking.id, at(360)).await.expect("read").expect("exists");
    assert_eq!(lapsed.status, ReservationStatus::Expired, "the extended hold ends at its new time");
    let err = expect_err(store.extend_hold(booking.id, five_minutes(), at(361)).await, "extend after the end");
    assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
    assert_eq!(store.expire_lapsed_holds(at(361)).await.expect("sweep"), 2, "swept once the new time passed");
    store.hold(&hold(&[0, 1]), at(362)).await.expect("the seats are for sale again");
}

pub async fn an_extension_is_refused_for_a_lapsed_paid_canceled_or_unknown_booking(store: S) {
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;

    let lapsing = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
    let after_end = lapsing.expires_at + Duration::milliseconds(1);
    let err = expect_err(store.extend_hold(lapsing.id, five_minutes(), after_end).await, "extend a lapsed hold");
    assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
    let read = store.booking(lapsing.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(expiries(&read), expiries(&lapsing), "a refused extension changes nothing");
    // Refused for a lapsed hold, the extension was not spent: the running hold may still use it.
    store.extend_hold(lapsing.id, five_minutes(), Utc::now()).await.expect("extend while it runs");

    let (paid, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[1]), "ch_ext").await;
    let err = expect_err(store.extend_hold(paid.id, five_minutes(), Utc::now()).await, "extend a paid booking");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");

    let canceled = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[2, 3])).await.expect("hold");
    store.cancel_booking(canceled.id, Utc::now(), None).await.expect("cancel");
    let err = expect_err(store.extend_hold(canceled.id, five_minutes(), Utc::now()).await, "extend a canceled one");
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");

    let err = expect_err(store.extend_hold(Uuid::new_v4(), five_minutes(), Utc::now()).await, "extend unknown");
    assert!(matches!(err, StoreError::NotFound(Entity::Booking)), "expected NotFound(Booking), got {err:?}");
}

pub async fn concurrent_extensions_one_wins(store: S) {
    const RACERS: usize = 8;
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
    let now = Utc::now();
    let barrier = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.extend_hold(booking.id, five_minutes(), now).await
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("racer") {
            Ok(_) => won += 1,
            Err(StoreError::ExtensionUsed) => {}
            Err(other) => panic!("a losing extension is ExtensionUsed, got {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one extension wins");
    let read = store.booking(booking.id, now).await.expect("read").expect("exists");
    let before = expiries(&booking);
    for (id, expires_at) in expiries(&read) {
        assert_eq!(expires_at, before[&id] + Duration::seconds(300), "extended once, not {RACERS} times");
    }
}
