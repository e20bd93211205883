//! Listing reservations (newest first, with filters) and the expiry sweep, which counts each
//! lapsed hold once, also when runs overlap.

use super::*;

pub async fn list_reservations_newest_first_with_filters(store: S) {
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let (first, second) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let seat = |i: usize| seat_ids(&venue, &[i]);
    let ann_first = hold_seats(&store, &ann, &first, &seat(0)).await.expect("hold").reservations[0].id;
    tick().await;
    let bob_first = hold_seats(&store, &bob, &first, &seat(1)).await.expect("hold").reservations[0].id;
    tick().await;
    let ann_second = hold_seats(&store, &ann, &second, &seat(0)).await.expect("hold").reservations[0].id;
    tick().await;
    let bob_lapsed = hold_briefly(&store, &bob, &second, &seat(1)).await;
    let bob_lapsed_id = bob_lapsed.reservations[0].id;
    tick().await;
    let ann_canceled = hold_seats(&store, &ann, &first, &seat(2)).await.expect("hold").reservations[0].id;
    let cancellation = store.cancel_reservation(ann_canceled, Utc::now(), None).await.expect("cancel");
    assert!(cancellation.refunds.is_empty(), "a held seat was never paid: {:?}", cancellation.refunds);
    sleep_past(bob_lapsed.expires_at).await;

    let now = Utc::now();
    let list = |filter: ReservationFilter| {
        let store = store.clone();
        async move { ids(&store.list_reservations(&filter, now).await.expect("list"), |r| r.id) }
    };
    assert_eq!(
        list(ReservationFilter::default()).await,
        [ann_canceled, bob_lapsed_id, ann_second, bob_first, ann_first],
        "newest first"
    );
    assert_eq!(
        list(ReservationFilter { user_id: Some(ann.id), ..Default::default() }).await,
        [ann_canceled, ann_second, ann_first]
    );
    assert_eq!(
        list(ReservationFilter { event_id: Some(second.id), ..Default::default() }).await,
        [bob_lapsed_id, ann_second]
    );
    assert_eq!(
        list(ReservationFilter { status: Some(ReservationStatus::Held), ..Default::default() }).await,
        [ann_second, bob_first, ann_first],
        "a lapsed hold is not held"
    );
    assert_eq!(
        list(ReservationFilter { status: Some(ReservationStatus::Expired), ..Default::default() }).await,
        [bob_lapsed_id],
        "expired matches lapsed held rows before any sweep"
    );
    assert_eq!(
        list(ReservationFilter { status: Some(ReservationStatus::Canceled), ..Default::default() }).await,
        [ann_canceled]
    );
    assert_eq!(
        list(ReservationFilter {
            user_id: Some(bob.id),
            event_id: Some(second.id),
            status: Some(ReservationStatus::Expired),
            ..Default::default()
        })
        .await,
        [bob_lapsed_id]
    );
    assert_eq!(list(ReservationFilter { page: page(2, 1), ..Default::default() }).await, [bob_lapsed_id, ann_second]);
    let listed = store.list_reservations(&ReservationFilter::default(), now).await.expect("list");
    let lapsed = listed.iter().find(|r| r.id == bob_lapsed_id).expect("listed");
    assert_eq!(lapsed.status, ReservationStatus::Expired, "listed rows carry their effective status");
}

pub async fn expire_lapsed_holds_counts_each_once(store: S) {
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let event = fixture_event(&store, &venue).await;
    // One buyer per lapsing hold: a buyer's next hold of the event writes down that buyer's lapsed
    // ones (their hold slots are free again), and these must be left to the sweep.
    let users = fixture_users(&store, "u", 4).await;
    let ann = &users[3];
    let mut lapsing = Vec::new();
    for (i, user) in users[..3].iter().enumerate() {
        lapsing.push(hold_briefly(&store, user, &event, &seat_ids(&venue, &[i])).await);
    }
    let lasting = hold_seats(&store, ann, &event, &seat_ids(&venue, &[3])).await.expect("hold");
    let canceled = hold_briefly(&store, ann, &event, &seat_ids(&venue, &[4])).await;
    // Canceled at the instant it was made, while it surely ran: a loaded machine may take longer
    // than its 50 ms to get here, and a lapsed hold cannot be canceled.
    let cancellation = store.cancel_booking(canceled.id, canceled.created_at, None).await.expect("cancel");
    assert!(cancellation.refunds.is_empty(), "a held seat was never paid: {:?}", cancellation.refunds);
    let latest = lapsing.iter().map(|b| b.expires_at).max().expect("three holds");
    sleep_past(latest.max(canceled.expires_at)).await;

    let now = Utc::now();
    assert_eq!(store.expire_lapsed_holds(now).await.expect("sweep"), 3, "three lapsed holds");
    assert_eq!(store.expire_lapsed_holds(now).await.expect("sweep again"), 0, "nothing left to expire");
    for booking in &lapsing {
        let r = store.reservation(booking.reservations[0].id, now).await.expect("read").expect("exists");
        assert_eq!(r.status, ReservationStatus::Expired);
    }
    let kept = store.reservation(lasting.reservations[0].id, now).await.expect("read").expect("exists");
    assert_eq!(kept.status, ReservationStatus::Held, "an unexpired hold is left alone");
    let still_canceled = store.reservation(canceled.reservations[0].id, now).await.expect("read").expect("exists");
    assert_eq!(still_canceled.status, ReservationStatus::Canceled, "a canceled hold stays canceled");
}

pub async fn concurrent_expiry_runs_count_once(store: S) {
    let venue = fixture_grid_venue(&store, 2, 10).await;
    let event = fixture_event(&store, &venue).await;
    // One buyer per hold: a buyer's next hold of the event writes down that buyer's lapsed ones
    // (their hold slots are free again), and these must be left to the sweeps.
    let users = fixture_users(&store, "u", 20).await;
    let mut latest = Utc::now();
    for (i, user) in users.iter().enumerate() {
        let booking = hold_briefly(&store, user, &event, &seat_ids(&venue, &[i])).await;
        latest = latest.max(booking.expires_at);
    }
    sleep_past(latest).await;
    let now = Utc::now();
    let (a, b) = (store.clone(), store.clone());
    let (x, y) = tokio::join!(
        tokio::spawn(async move { a.expire_lapsed_holds(now).await }),
        tokio::spawn(async move { b.expire_lapsed_holds(now).await }),
    );
    let (x, y) = (x.expect("task").expect("sweep"), y.expect("task").expect("sweep"));
    assert_eq!(x + y, 20, "two sweeps at once count each lapsed hold once ({x} + {y})");
    assert_eq!(store.expire_lapsed_holds(Utc::now()).await.expect("sweep"), 0);
}
