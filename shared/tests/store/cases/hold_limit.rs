//! The per-user limit of held seats (`HoldLimit`, `MAX_HELD_SEATS_PER_USER`): a squatter who holds
//! seat after seat is stopped at the limit by the store itself, also when the holds race, and a
//! refused hold writes nothing; seats no longer held (lapsed, canceled, bought) stop counting, a
//! hold extended by checkout keeps counting, and nobody else is limited by the squatter.
//!
//! A hold on DynamoDB is 2 × seats + 3 items (the slots item is one of them), and DynamoDB Local
//! of January 2020 takes at most 10 items per transaction: bookings here are at most 3 seats.

use super::*;

/// The refusal a hold over the limit gets, naming the limit.
fn assert_limit_reached(result: StoreResult<Booking>, limit: u32, what: &str) {
    match result {
        Err(StoreError::HoldLimitReached { limit: named }) => assert_eq!(named, limit, "{what}: the limit named"),
        other => panic!("{what}: expected HoldLimitReached {{ limit: {limit} }}, got {other:?}"),
    }
}

/// The seats `user` holds (held, not lapsed) for `event` at `now`.
async fn held_by(store: &S, user: &User, event: &Event, now: DateTime<Utc>) -> usize {
    let filter = ReservationFilter {
        user_id: Some(user.id),
        event_id: Some(event.id),
        status: Some(ReservationStatus::Held),
        ..Default::default()
    };
    all_reservations(store, filter, now).await.len()
}

pub async fn hold_limit_stops_a_squatter(store: S) {
    let venue = fixture_grid_venue(&store, 3, 10).await;
    let event = fixture_event(&store, &venue).await;
    let squatter = fixture_user(&store, "squatter").await;
    let bob = fixture_user(&store, "bob").await;
    let now = Utc::now();
    let hold = |positions: &[usize]| limited_hold(&squatter, &event, &seat_ids(&venue, positions), long_ttl(), 10);

    for positions in [[0, 1, 2], [3, 4, 5], [6, 7, 8]] {
        store.hold(&hold(&positions), now).await.unwrap_or_else(|e| panic!("holding {positions:?} (9 in all): {e}"));
    }
    // Three more would make 12: refused whole, though one of them would still fit.
    assert_limit_reached(store.hold(&hold(&[9, 10, 11]), now).await, 10, "three seats more than nine");
    let map = seat_statuses(&store, &event, now).await;
    for position in [9, 10, 11] {
        assert_eq!(map[&venue.seats[position].id], SeatStatus::Available, "the refused hold wrote seat {position}");
    }
    assert_eq!(held_by(&store, &squatter, &event, now).await, 9);

    // Up to the limit exactly, and not one seat more.
    store.hold(&hold(&[9]), now).await.expect("the tenth seat is within the limit");
    assert_limit_reached(store.hold(&hold(&[10]), now).await, 10, "an eleventh seat");
    // At the limit, a seat someone else holds is refused for the limit too: it comes first.
    hold_seats(&store, &bob, &event, &seat_ids(&venue, &[20])).await.expect("bob holds a seat");
    assert_limit_reached(store.hold(&hold(&[20]), now).await, 10, "at the limit, a seat bob holds");

    // The refusals wrote nothing at all: only the ten held seats are the squatter's.
    let mine =
        all_reservations(&store, ReservationFilter { user_id: Some(squatter.id), ..Default::default() }, now).await;
    assert_eq!(mine.len(), 10, "reservations of the squatter: {mine:?}");
    assert!(mine.iter().all(|r| r.status == ReservationStatus::Held));
    let read = store.event(event.id, now).await.expect("read the event").expect("it exists");
    assert_eq!(read.seats_available, 30 - 11, "the squatter's ten seats and bob's one are taken");
}

pub async fn hold_limit_counts_only_seats_still_held(store: S) {
    let venue = fixture_grid_venue(&store, 2, 10).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let t0 = whole_millis(Utc::now());
    let at = |seconds: i64| t0 + Duration::seconds(seconds);
    let minute = HoldTtl::from_seconds(60).expect("ttl");
    let hold = |positions: &[usize], ttl| limited_hold(&ann, &event, &seat_ids(&venue, positions), ttl, 4);

    store.hold(&hold(&[0, 1], minute), t0).await.expect("a hold that lapses after a minute");
    let canceled = store.hold(&hold(&[2, 3], long_ttl()), t0).await.expect("a hold to cancel");
    assert_limit_reached(store.hold(&hold(&[4], long_ttl()), at(1)).await, 4, "a fifth seat");

    // A lapsed hold no longer counts, swept or not.
    let bought =
        store.hold(&hold(&[4, 5], long_ttl()), at(61)).await.expect("the seats of a lapsed hold no longer count");
    assert_limit_reached(store.hold(&hold(&[6], long_ttl()), at(62)).await, 4, "after the lapse, at the limit again");

    // A canceled one neither.
    store.cancel_booking(canceled.id, at(63), None).await.expect("cancel a booking");
    store.hold(&hold(&[6, 7], long_ttl()), at(64)).await.expect("canceled seats no longer count");
    assert_limit_reached(store.hold(&hold(&[8], long_ttl()), at(65)).await, 4, "after the cancel, at the limit again");

    // Nor one bought.
    let payment =
        store.create_payment(new_payment(&bought, at(66) + Duration::minutes(5)), at(66)).await.expect("checkout");
    store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, at(67)).await.expect("confirm");
    store.hold(&hold(&[8, 9], long_ttl()), at(68)).await.expect("bought seats no longer count");
    assert_limit_reached(store.hold(&hold(&[10], long_ttl()), at(69)).await, 4, "after the purchase, at the limit");
    assert_eq!(held_by(&store, &ann, &event, at(70)).await, 4);

    // The sweeper writing lapsed holds down (those a hold has not already) changes nothing about it.
    store.expire_lapsed_holds(at(70)).await.expect("sweep");
    assert_limit_reached(store.hold(&hold(&[10], long_ttl()), at(71)).await, 4, "after the sweep, at the limit");
}

pub async fn a_hold_extended_by_checkout_keeps_counting(store: S) {
    let venue = fixture_grid_venue(&store, 1, 10).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let t0 = whole_millis(Utc::now());
    let at = |seconds: i64| t0 + Duration::seconds(seconds);
    let minute = HoldTtl::from_seconds(60).expect("ttl");
    let hold = |positions: &[usize]| limited_hold(&ann, &event, &seat_ids(&venue, positions), minute, 2);

    let booking = store.hold(&hold(&[0, 1]), t0).await.expect("hold two seats for a minute");
    store.create_payment(new_payment(&booking, at(300)), at(10)).await.expect("checkout keeps them five minutes");
    // Past the hold's first end, before the one checkout gave it: both seats still count.
    assert_limit_reached(store.hold(&hold(&[2]), at(120)).await, 2, "while checkout keeps the hold");
    store.hold(&hold(&[2, 3]), at(301)).await.expect("once the extended hold lapsed, its seats no longer count");
}

pub async fn a_squatter_limits_nobody_else(store: S) {
    let venue = fixture_grid_venue(&store, 1, 10).await;
    let event = fixture_event(&store, &venue).await;
    let other_event = fixture_event(&store, &venue).await;
    let squatter = fixture_user(&store, "squatter").await;
    let bob = fixture_user(&store, "bob").await;
    let now = Utc::now();
    let hold = |user: &User, event: &Event, positions: &[usize]| {
        limited_hold(user, event, &seat_ids(&venue, positions), long_ttl(), 3)
    };

    store.hold(&hold(&squatter, &event, &[0, 1, 2]), now).await.expect("the squatter holds three");
    assert_limit_reached(store.hold(&hold(&squatter, &event, &[3]), now).await, 3, "the squatter's fourth seat");
    // Another buyer of the same event holds up to the same limit.
    store.hold(&hold(&bob, &event, &[3, 4, 5]), now).await.expect("bob is not limited by the squatter");
    assert_limit_reached(store.hold(&hold(&bob, &event, &[6]), now).await, 3, "bob's own fourth seat");
    // The limit is per event: the squatter may hold seats of another one.
    store.hold(&hold(&squatter, &other_event, &[0, 1, 2]), now).await.expect("another event is not limited");
    assert_eq!(held_by(&store, &squatter, &event, now).await, 3);
    assert_eq!(held_by(&store, &bob, &event, now).await, 3);
    assert_eq!(held_by(&store, &squatter, &other_event, now).await, 3);
}

/// Every hold of `plans` (seat positions) by `user` at once, released together by a barrier; the outcomes.
async fn race_one_user(
    store: &S,
    venue: &VenueWithSeats,
    event: &Event,
    user: &User,
    plans: &[Vec<usize>],
    limit: u32,
) -> Vec<StoreResult<Booking>> {
    let barrier = Arc::new(Barrier::new(plans.len()));
    let tasks: Vec<_> = plans
        .iter()
        .map(|positions| {
            let request = limited_hold(user, event, &seat_ids(venue, positions), long_ttl(), limit);
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.hold(&request, Utc::now()).await
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.expect("racer task"));
    }
    outcomes
}

/// The winners of a race; every loser must have heard the limit.
fn winners_of(outcomes: Vec<StoreResult<Booking>>, limit: u32, what: &str) -> Vec<Booking> {
    let mut winners = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(booking) => winners.push(booking),
            refused => assert_limit_reached(refused, limit, what),
        }
    }
    winners
}

pub async fn concurrent_holds_of_one_user_never_exceed_the_limit(store: S) {
    let venue = fixture_grid_venue(&store, 5, 10).await;
    let event = fixture_event(&store, &venue).await;
    let users = fixture_users(&store, "squatter", 3).await;

    // Twenty single seats at once: exactly ten are held, every other hold hears the limit.
    let singles: Vec<Vec<usize>> = (0..20).map(|i| vec![i]).collect();
    let outcomes = race_one_user(&store, &venue, &event, &users[0], &singles, 10).await;
    let winners = winners_of(outcomes, 10, "twenty single seats at once");
    assert_eq!(winners.len(), 10, "single seats held by one user racing with a limit of 10");
    assert_eq!(held_by(&store, &users[0], &event, Utc::now()).await, 10);

    // Eight pairs at once: five are held (ten seats), three hear the limit; none is held in part.
    let pairs: Vec<Vec<usize>> = (0..8).map(|i| vec![20 + 2 * i, 21 + 2 * i]).collect();
    let outcomes = race_one_user(&store, &venue, &event, &users[1], &pairs, 10).await;
    let winners = winners_of(outcomes, 10, "eight pairs at once");
    assert_eq!(winners.len(), 5, "pairs held by one user racing with a limit of 10");
    assert!(winners.iter().all(|b| b.reservations.len() == 2));
    assert_eq!(held_by(&store, &users[1], &event, Utc::now()).await, 10);

    // Within the limit nobody is refused: ten single seats at once, all held.
    let within: Vec<Vec<usize>> = (40..50).map(|i| vec![i]).collect();
    let outcomes = race_one_user(&store, &venue, &event, &users[2], &within, 10).await;
    let winners = winners_of(outcomes, 10, "ten single seats at once, within the limit");
    assert_eq!(winners.len(), 10, "a hold within the limit was refused");
    assert_eq!(held_by(&store, &users[2], &event, Utc::now()).await, 10);

    // Whatever raced, no seat has two holds and every held seat is one of a winner's.
    let rows =
        all_reservations(&store, ReservationFilter { event_id: Some(event.id), ..Default::default() }, Utc::now())
            .await;
    assert_eq!(rows.len(), 30, "the losers left no rows");
    assert_eq!(rows.iter().map(|r| r.seat_id).collect::<BTreeSet<_>>().len(), 30);
}
