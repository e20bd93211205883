//! The sale's opening and the waiting room's settings (issue 20): stored, changed and cleared on
//! every backend, and a hold before the opening refused by the store itself. Then the queue
//! (`QueueStore`): one place per account, positions a permutation (random before the opening,
//! in order after it), admissions at the pace and never more active buyers than the maximum,
//! whatever the concurrency.

use super::*;
use proeventa_core::domain::{HoldRequest, QueueJoin, QueuePlace, QueueSettings, QueueStats};

fn queue(enabled: bool, admit_per_minute: u32) -> QueueSettings {
    QueueSettings { enabled, admit_per_minute, max_active_buyers: 50, session_minutes: 10 }
}

pub async fn event_opening_and_queue_are_stored_changed_and_cleared(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let plain = fixture_event(&store, &venue).await;
    assert_eq!((plain.on_sale_at, plain.queue), (None, None), "on sale at once, no waiting room");

    let opens = in_days(1.0);
    let event = fixture_event_with(&store, &venue, |e| {
        e.on_sale_at = Some(opens);
        e.queue = Some(queue(true, 120));
    })
    .await;
    assert_eq!((event.on_sale_at, event.queue), (Some(opens), Some(queue(true, 120))));
    let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.on_sale_at, read.queue), (Some(opens), Some(queue(true, 120))));

    // A change of other fields keeps both.
    let renamed = EventChanges { name: Some("Renamed".into()), ..Default::default() };
    let kept = store.update_event(event.id, renamed).await.expect("update").expect("exists");
    assert_eq!((kept.on_sale_at, kept.queue), (Some(opens), Some(queue(true, 120))));

    let later = in_days(2.0);
    let changes =
        EventChanges { on_sale_at: Some(Some(later)), queue: Some(Some(queue(false, 30))), ..Default::default() };
    let changed = store.update_event(event.id, changes).await.expect("update").expect("exists");
    assert_eq!((changed.on_sale_at, changed.queue), (Some(later), Some(queue(false, 30))));

    let cleared = EventChanges { on_sale_at: Some(None), queue: Some(None), ..Default::default() };
    let cleared = store.update_event(event.id, cleared).await.expect("update").expect("exists");
    assert_eq!((cleared.on_sale_at, cleared.queue), (None, None));
    let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.on_sale_at, read.queue), (None, None));
    let listed = store.list_events(&EventFilter::default(), Utc::now()).await.expect("list");
    assert!(listed.iter().all(|e| e.on_sale_at.is_none() && e.queue.is_none()), "{listed:?}");
}

pub async fn hold_before_the_opening_is_not_on_sale(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let opens = in_days(0.5);
    let event = fixture_event_with(&store, &venue, |e| e.on_sale_at = Some(opens)).await;
    let ann = fixture_user(&store, "ann").await;

    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await, "hold before the opening");
    match err {
        StoreError::NotOnSale { on_sale_at } => assert_eq!(on_sale_at, opens, "the refusal names the opening"),
        other => panic!("expected NotOnSale, got {other:?}"),
    }
    let mine =
        all_reservations(&store, ReservationFilter { user_id: Some(ann.id), ..Default::default() }, Utc::now()).await;
    assert!(mine.is_empty(), "a hold before the opening writes nothing: {mine:?}");
    let map = seat_statuses(&store, &event, Utc::now()).await;
    assert!(map.values().all(|s| *s == SeatStatus::Available), "{map:?}");

    // The store judges the hold's own clock: just before the opening no, at it yes.
    let before = hold_request(&ann, &event, &seat_ids(&venue, &[0]), long_ttl());
    let err = expect_err(store.hold(&before, opens - Duration::milliseconds(1)).await, "a millisecond early");
    assert!(matches!(err, StoreError::NotOnSale { .. }), "expected NotOnSale, got {err:?}");
    let at = hold_request(&ann, &event, &seat_ids(&venue, &[0]), long_ttl());
    store.hold(&at, opens).await.expect("a hold at the opening");

    // Moving the opening into the past opens the sale now; moving it back later closes it again.
    let opened = EventChanges { on_sale_at: Some(Some(in_days(-0.1))), ..Default::default() };
    store.update_event(event.id, opened).await.expect("update").expect("exists");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1])).await.expect("a hold once the sale opened");
    let closed = EventChanges { on_sale_at: Some(Some(in_days(0.25))), ..Default::default() };
    store.update_event(event.id, closed).await.expect("update").expect("exists");
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[2])).await, "an opening moved later");
    assert!(matches!(err, StoreError::NotOnSale { .. }), "expected NotOnSale, got {err:?}");
    let cleared = EventChanges { on_sale_at: Some(None), ..Default::default() };
    store.update_event(event.id, cleared).await.expect("update").expect("exists");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[2])).await.expect("a hold once the opening is cleared");
}

pub async fn a_started_or_canceled_event_is_refused_as_such_before_its_opening(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event_with(&store, &venue, |e| e.on_sale_at = Some(in_days(1.0))).await;
    let ann = fixture_user(&store, "ann").await;
    store.cancel_event(event.id, Utc::now(), None).await.expect("cancel").expect("exists");
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await, "hold on a canceled event");
    assert!(matches!(err, StoreError::Rejected(_)), "canceled comes first: {err:?}");
}

pub async fn a_hold_of_an_event_behind_its_waiting_room_needs_an_admission(store: S) {
    let venue = fixture_grid_venue(&store, 1, 6).await;
    let event = fixture_event_with(&store, &venue, |e| e.queue = Some(queue(true, 60))).await;
    let ann = fixture_user(&store, "ann").await;

    // Without an admission: refused, one seat or several, and nothing written.
    for seats in [&[0][..], &[0, 1][..]] {
        let err =
            expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, seats)).await, "a hold with no admission");
        assert!(matches!(err, StoreError::QueueRequired), "expected QueueRequired, got {err:?}");
    }
    let mine =
        all_reservations(&store, ReservationFilter { user_id: Some(ann.id), ..Default::default() }, Utc::now()).await;
    assert!(mine.is_empty(), "a refused hold writes nothing: {mine:?}");

    // Admitted (the API checked the token): held, one seat or several.
    for seats in [&[0][..], &[1, 2][..]] {
        let admitted =
            HoldRequest { admitted: true, ..hold_request(&ann, &event, &seat_ids(&venue, seats), long_ttl()) };
        store.hold(&admitted, Utc::now()).await.expect("an admitted hold");
    }

    // The queue switched off lets anyone hold; switched on again (a change, not a create), it
    // needs the admission again.
    let off = EventChanges { queue: Some(Some(queue(false, 60))), ..Default::default() };
    store.update_event(event.id, off).await.expect("update").expect("exists");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[3])).await.expect("a hold with the queue off");
    let on = EventChanges { queue: Some(Some(queue(true, 60))), ..Default::default() };
    store.update_event(event.id, on).await.expect("update").expect("exists");
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[4])).await, "the queue on again");
    assert!(matches!(err, StoreError::QueueRequired), "expected QueueRequired, got {err:?}");
    let removed = EventChanges { queue: Some(None), ..Default::default() };
    store.update_event(event.id, removed).await.expect("update").expect("exists");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[4])).await.expect("a hold with the queue removed");

    // The opening comes first: before it, even an admitted hold is not on sale.
    let later = fixture_event_with(&store, &venue, |e| {
        e.on_sale_at = Some(in_days(1.0));
        e.queue = Some(queue(true, 60));
    })
    .await;
    let err = expect_err(hold_seats(&store, &ann, &later, &seat_ids(&venue, &[5])).await, "before the opening");
    assert!(matches!(err, StoreError::NotOnSale { .. }), "expected NotOnSale, got {err:?}");
}

// ---------------------------------------------------------------------------------------------
// The queue

/// The draws of the joiners: a fixed sequence (SplitMix64), so every run draws alike.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn joining(event: &Event, user_id: Uuid, draw: u64) -> QueueJoin {
    QueueJoin { event_id: event.id, user_id, draw }
}

fn settings(admit_per_minute: u32, max_active_buyers: u32, session_minutes: u32) -> QueueSettings {
    QueueSettings { enabled: true, admit_per_minute, max_active_buyers, session_minutes }
}

/// An event with its waiting room on, opening at `opens`.
async fn queued_event(store: &S, opens: DateTime<Utc>, queue: QueueSettings) -> Event {
    let venue = fixture_grid_venue(store, 1, 2).await;
    fixture_event_with(store, &venue, |e| {
        e.on_sale_at = Some(opens);
        e.queue = Some(queue);
    })
    .await
}

async fn place_of(store: &S, event: &Event, user_id: Uuid) -> QueuePlace {
    store.queue_place(event.id, user_id).await.expect("read a place").expect("the place exists")
}

async fn places_of(store: &S, event: &Event, users: &[Uuid]) -> Vec<QueuePlace> {
    let mut places = Vec::with_capacity(users.len());
    for &user in users {
        places.push(place_of(store, event, user).await);
    }
    places
}

fn positions(places: &[QueuePlace]) -> Vec<u64> {
    places.iter().map(|p| p.position.expect("a position")).collect()
}

fn active_at(places: &[QueuePlace], now: DateTime<Utc>) -> usize {
    places.iter().filter(|p| p.is_active(now)).count()
}

/// Spearman's rank correlation of two rankings of the same items (both permutations of 0..n).
fn rank_correlation(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as f64;
    let d2: f64 = a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

pub async fn joining_twice_keeps_one_place(store: S) {
    let opens = in_days(0.5);
    let event = queued_event(&store, opens, settings(60, 10, 10)).await;
    let (ann, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let early = opens - Duration::hours(1);

    let first = store.join_queue(&joining(&event, ann, 7), early).await.expect("join");
    assert_eq!(
        (first.event_id, first.user_id, first.position),
        (event.id, ann, None),
        "no position before the opening"
    );
    assert_eq!(first.ahead(), None);
    let again = store.join_queue(&joining(&event, ann, 99), early + Duration::minutes(1)).await.expect("join again");
    assert_eq!(again, first, "joining twice returns the same place");
    assert!(store.queue_place(event.id, bob).await.expect("read").is_none(), "bob has not joined");

    // The first join after the opening draws the queue: ann, alone before it, is first.
    let late = store.join_queue(&joining(&event, bob, 1), opens + Duration::seconds(5)).await.expect("join late");
    assert_eq!(late.position, Some(2), "after the opening, in order after the drawn places");
    let drawn = place_of(&store, &event, ann).await;
    assert_eq!(drawn.position, Some(1));
    assert_eq!(drawn.joined_at, first.joined_at);
    let ann_again = store.join_queue(&joining(&event, ann, 3), opens + Duration::seconds(9)).await.expect("rejoin");
    assert_eq!(ann_again.position, Some(1), "joining after the opening keeps the drawn place");

    let unknown = QueueJoin { event_id: Uuid::new_v4(), user_id: ann, draw: 1 };
    let err = expect_err(store.join_queue(&unknown, opens).await, "join an unknown event");
    assert!(matches!(err, StoreError::NotFound(Entity::Event)), "{err:?}");
}

pub async fn positions_are_drawn_at_random_before_the_opening_and_in_order_after(store: S) {
    let opens = in_days(0.5);
    let event = queued_event(&store, opens, settings(60, 10, 10)).await;
    let mut draws = Draws(20);
    // Arrival order: `early[i]` joined i-th, a second apart, an hour before the opening.
    let early: Vec<(Uuid, u64)> = (0..120).map(|_| (Uuid::new_v4(), draws.next())).collect();
    for (i, &(user, draw)) in early.iter().enumerate() {
        let at = opens - Duration::hours(1) + Duration::seconds(i as i64);
        let place = store.join_queue(&joining(&event, user, draw), at).await.expect("join early");
        assert_eq!(place.position, None);
    }
    // Nothing is drawn before the opening, by an advance either.
    assert_eq!(store.advance_queue(event.id, opens - Duration::seconds(1)).await.expect("advance early"), 0);
    assert_eq!(place_of(&store, &event, early[0].0).await.position, None);

    // After it, arrivals queue in order.
    let late: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    for (i, &user) in late.iter().enumerate() {
        let at = opens + Duration::seconds(1 + i as i64);
        store.join_queue(&joining(&event, user, draws.next()), at).await.expect("join late");
    }

    let early_places = places_of(&store, &event, &early.iter().map(|(u, _)| *u).collect::<Vec<_>>()).await;
    let early_positions = positions(&early_places);
    let mut sorted = early_positions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=120).collect::<Vec<u64>>(), "the early joiners take 1..=120, each once");
    // In the order of their draws (as signed 64-bit numbers, the order every backend stores)...
    let mut by_draw: Vec<(i64, u64)> =
        early.iter().zip(&early_positions).map(|((_, d), p)| (i64::from_ne_bytes(d.to_ne_bytes()), *p)).collect();
    by_draw.sort_unstable();
    assert!(by_draw.windows(2).all(|w| w[0].1 < w[1].1), "positions follow the draws");
    // ...so arriving earlier gives no edge: the rank correlation of arrival and position is near 0
    // (its spread for 120 random places is 1/sqrt(119) = 0.09; arrival order would be 1.0). The
    // draws are a fixed sequence, so this cannot flake.
    let arrival: Vec<usize> = (0..120).collect();
    let drawn: Vec<usize> = early_positions.iter().map(|p| (*p - 1) as usize).collect();
    let rho = rank_correlation(&arrival, &drawn);
    assert!(rho.abs() < 0.4, "arrival order shows through the draw: rank correlation {rho}");

    let late_positions = positions(&places_of(&store, &event, &late).await);
    assert_eq!(late_positions, (121..=150).collect::<Vec<u64>>(), "after the opening, first come first served");
}

pub async fn concurrent_joins_give_every_account_one_position_of_a_permutation(store: S) {
    let opens = in_days(0.5);
    let event = queued_event(&store, opens, settings(60, 10, 10)).await;
    let users: Vec<Uuid> = (0..500).map(|_| Uuid::new_v4()).collect();
    let mut draws = Draws(500);
    // Half of them join before the opening and half after, all at once, and 40 of them twice at
    // once: the draw happens in the middle of the race.
    let mut joins: Vec<(QueueJoin, DateTime<Utc>)> = users
        .iter()
        .enumerate()
        .map(|(i, &user)| {
            let at = if i % 2 == 0 { opens - Duration::minutes(1) } else { opens + Duration::minutes(1) };
            (joining(&event, user, draws.next()), at)
        })
        .collect();
    let twice: Vec<(QueueJoin, DateTime<Utc>)> = joins.iter().take(40).copied().collect();
    joins.extend(twice);
    Rng::new(0x0005_EA75).shuffle(&mut joins);

    let barrier = Arc::new(Barrier::new(joins.len()));
    let tasks: Vec<_> = joins
        .iter()
        .map(|&(join, at)| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // A store shedding load answers "try again" (503), and the buyer does, later:
                // joining is idempotent, and a join cut short after writing its place is
                // finished by the next one once the first can no longer be running.
                let mut retry_at = at;
                for _ in 0..5 {
                    match store.join_queue(&join, retry_at).await {
                        Err(StoreError::Unavailable(_)) => retry_at += Duration::minutes(2),
                        answered => return answered,
                    }
                }
                store.join_queue(&join, retry_at).await
            })
        })
        .collect();
    let mut joined: BTreeMap<Uuid, Vec<QueuePlace>> = BTreeMap::new();
    for task in tasks {
        let place = task.await.expect("join task").unwrap_or_else(|e| panic!("a join failed: {e}"));
        joined.entry(place.user_id).or_default().push(place);
    }
    assert_eq!(joined.len(), 500, "every account has a place");

    // A place joined early may have its position from the draw after its join answered.
    let last =
        store.join_queue(&joining(&event, Uuid::new_v4(), 0), opens + Duration::hours(1)).await.expect("one more");
    let places = places_of(&store, &event, &users).await;
    let mut all = positions(&places);
    all.sort_unstable();
    assert_eq!(all, (1..=500).collect::<Vec<u64>>(), "positions are a permutation: none shared, none lost");
    assert_eq!(last.position, Some(501), "the counter went on after them, none taken twice");
    for place in &places {
        for answer in &joined[&place.user_id] {
            assert_eq!(answer.joined_at, place.joined_at, "one place per account");
            if let Some(position) = answer.position {
                assert_eq!(Some(position), place.position, "a position once given never changes");
            }
        }
    }
}

pub async fn admission_follows_the_pace(store: S) {
    let opens = in_days(0.5);
    let event = queued_event(&store, opens, settings(60, 100, 10)).await;
    let mut draws = Draws(60);
    let users: Vec<Uuid> = (0..30).map(|_| Uuid::new_v4()).collect();
    for &user in &users {
        store.join_queue(&joining(&event, user, draws.next()), opens - Duration::minutes(5)).await.expect("join");
    }
    assert_eq!(store.advance_queue(event.id, opens - Duration::milliseconds(1)).await.expect("advance"), 0);

    // One a second: the first at the opening, then as the seconds pass.
    assert_eq!(store.advance_queue(event.id, opens).await.expect("advance"), 1, "the first at once");
    assert_eq!(store.advance_queue(event.id, opens + Duration::milliseconds(500)).await.expect("advance"), 0);
    assert_eq!(store.advance_queue(event.id, opens + Duration::seconds(10)).await.expect("advance"), 10);
    assert_eq!(store.advance_queue(event.id, opens + Duration::seconds(10)).await.expect("advance"), 0);
    assert_eq!(store.advance_queue(event.id, opens + Duration::seconds(11)).await.expect("advance"), 1);

    let places = places_of(&store, &event, &users).await;
    let admitted: BTreeSet<u64> =
        places.iter().filter(|p| p.admitted_at.is_some()).map(|p| p.position.expect("a position")).collect();
    assert_eq!(admitted, (1..=12).collect(), "admitted in position order");
    let first = places.iter().find(|p| p.position == Some(1)).expect("first");
    assert_eq!(first.session_ends_at, Some(opens + Duration::minutes(10)), "a session of session_minutes");
    let last = places.iter().find(|p| p.position == Some(30)).expect("last");
    assert_eq!((last.admitted_through, last.ahead()), (12, Some(17)));

    // The organiser's figures: 30 joined, 12 let through and active, 18 waiting; one buyer done
    // and the rest's sessions run out, as the store counts them.
    let at = opens + Duration::seconds(11);
    assert_eq!(store.queue_stats(event.id, at).await.expect("stats"), QueueStats::new(30, 12, 12));
    assert!(store.finish_queue_place(event.id, first.user_id, at).await.expect("finish"));
    assert_eq!(store.queue_stats(event.id, at).await.expect("stats").active, 11);
    let later = opens + Duration::minutes(11);
    assert_eq!(store.queue_stats(event.id, later).await.expect("stats"), QueueStats::new(30, 12, 0));
    let nobody = fixture_event(&store, &fixture_grid_venue(&store, 1, 1).await).await;
    assert_eq!(store.queue_stats(nobody.id, at).await.expect("stats"), QueueStats::default());

    // An event whose waiting room is off admits nobody.
    let off = queued_event(&store, opens, QueueSettings { enabled: false, ..settings(60, 100, 10) }).await;
    store.join_queue(&joining(&off, users[0], 1), opens).await.expect("join");
    assert_eq!(store.advance_queue(off.id, opens + Duration::minutes(1)).await.expect("advance"), 0);
    assert!(!store.finish_queue_place(off.id, Uuid::new_v4(), opens).await.expect("finish"), "no place to finish");
}

pub async fn concurrent_advances_never_admit_more_than_the_maximum(store: S) {
    let opens = in_days(0.5);
    let max = 7;
    let event = queued_event(&store, opens, settings(100_000, max, 10)).await;
    let mut draws = Draws(7);
    let users: Vec<Uuid> = (0..40).map(|_| Uuid::new_v4()).collect();
    for (i, &user) in users.iter().enumerate() {
        let at = opens + Duration::milliseconds(i as i64);
        store.join_queue(&joining(&event, user, draws.next()), at).await.expect("join");
    }

    // 200 status polls and advances at once, at the same moment a minute after the opening.
    let now = opens + Duration::minutes(1);
    let barrier = Arc::new(Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (store, barrier, user) = (store.clone(), barrier.clone(), users[i % users.len()]);
            let event_id = event.id;
            tokio::spawn(async move {
                barrier.wait().await;
                store.queue_place(event_id, user).await.expect("poll");
                store.advance_queue(event_id, now).await
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        // An advance that kept meeting the others may give up ("try again"): it admitted nothing.
        match task.await.expect("advance task") {
            Ok(count) => admitted += count,
            Err(StoreError::Unavailable(_)) => {}
            Err(err) => panic!("an advance failed: {err}"),
        }
    }
    store.advance_queue(event.id, now).await.expect("one more advance");
    let places = places_of(&store, &event, &users).await;
    assert_eq!(active_at(&places, now), max as usize, "exactly the maximum is active");
    assert!(admitted <= u64::from(max), "{admitted} admissions reported");
    let admitted_positions: BTreeSet<u64> =
        places.iter().filter(|p| p.admitted_at.is_some()).map(|p| p.position.expect("a position")).collect();
    assert_eq!(admitted_positions, (1..=7).collect());

    // Three finish (pay): three more are let through, never more.
    let by_position = |p: u64| places.iter().find(|x| x.position == Some(p)).expect("place").user_id;
    for p in [1, 2, 3] {
        assert!(store.finish_queue_place(event.id, by_position(p), now).await.expect("finish"));
        assert!(!store.finish_queue_place(event.id, by_position(p), now).await.expect("finish"), "only once");
    }
    // Position 9 leaves the queue before its turn: passed over, and no slot taken.
    assert!(store.finish_queue_place(event.id, by_position(9), now).await.expect("leave"));
    assert_eq!(store.advance_queue(event.id, now).await.expect("advance"), 3);
    let places = places_of(&store, &event, &users).await;
    assert_eq!(active_at(&places, now), max as usize);
    let admitted_positions: BTreeSet<u64> =
        places.iter().filter(|p| p.admitted_at.is_some()).map(|p| p.position.expect("a position")).collect();
    assert_eq!(admitted_positions, BTreeSet::from([1, 2, 3, 4, 5, 6, 7, 8, 10, 11]));

    // The sessions end: the next seven take their slots.
    let later = now + Duration::minutes(11);
    assert_eq!(store.advance_queue(event.id, later).await.expect("advance"), u64::from(max));
    let places = places_of(&store, &event, &users).await;
    assert_eq!(active_at(&places, later), max as usize);
    assert_eq!(places.iter().filter(|p| p.admitted_at.is_some()).count(), 17);
}
