//! The one hard promise under concurrency: racing holds (also around lapsing holds) leave each
//! seat with at most one active reservation, and every loser is told which of its seats were taken.

use super::*;

/// One racer: who, which seats (by position in the venue), and how it ended.
struct Attempt {
    seats: Vec<usize>,
    now: DateTime<Utc>,
    outcome: Result<Booking, StoreError>,
}

/// A plan of racers: every seat in `seats` asked for alone `singles_per_seat` times, plus
/// `multis` overlapping requests of 2 or 3 neighbouring seats; shuffled, repeatably. (A hold on
/// DynamoDB is 2 × seats + 3 items, and DynamoDB Local of January 2020 takes 10.)
fn race_plan(rng: &mut Rng, seats: &[usize], singles_per_seat: usize, multis: usize) -> Vec<Vec<usize>> {
    let mut plan: Vec<Vec<usize>> = Vec::new();
    for _ in 0..singles_per_seat {
        plan.extend(seats.iter().map(|&s| vec![s]));
    }
    for _ in 0..multis {
        let size = 2 + rng.below(2);
        let start = rng.below(seats.len());
        let mut window: Vec<usize> = (0..6).map(|k| seats[(start + k) % seats.len()]).collect();
        rng.shuffle(&mut window);
        plan.push(window[..size].to_vec());
    }
    rng.shuffle(&mut plan);
    plan
}

/// Runs every request of `plan` at once (released together by a barrier) and collects the outcomes.
async fn race(
    store: &S,
    venue: &VenueWithSeats,
    event: &Event,
    users: &[User],
    plan: &[Vec<usize>],
    ttl: HoldTtl,
) -> Vec<Attempt> {
    let barrier = Arc::new(Barrier::new(plan.len()));
    let tasks: Vec<_> = plan
        .iter()
        .enumerate()
        .map(|(i, seats)| {
            let request = hold_request(&users[i % users.len()], event, &seat_ids(venue, seats), ttl);
            let (store, barrier, seats) = (store.clone(), barrier.clone(), seats.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let now = Utc::now();
                let outcome = store.hold(&request, now).await;
                Attempt { seats, now, outcome }
            })
        })
        .collect();
    let mut attempts = Vec::with_capacity(tasks.len());
    for task in tasks {
        attempts.push(task.await.expect("racer task"));
    }
    attempts
}

/// Checks each attempt's own outcome: a winner holds all its seats, a loser got
/// `SeatsUnavailable` naming only seats it asked for. Returns the winners.
fn check_outcomes<'a>(venue: &VenueWithSeats, attempts: &'a [Attempt]) -> Vec<&'a Attempt> {
    let mut winners = Vec::new();
    for attempt in attempts {
        let wanted: BTreeSet<Uuid> = seat_ids(venue, &attempt.seats).into_iter().collect();
        match &attempt.outcome {
            Ok(booking) => {
                let got: BTreeSet<Uuid> = booking.reservations.iter().map(|r| r.seat_id).collect();
                assert_eq!(got, wanted, "a winning booking holds exactly the seats it asked for");
                assert_eq!(booking.reservations.len(), wanted.len());
                assert!(booking.reservations.iter().all(|r| r.status == ReservationStatus::Held));
                winners.push(attempt);
            }
            Err(StoreError::SeatsUnavailable(labels)) => {
                for label in labels {
                    let asked = attempt
                        .seats
                        .iter()
                        .any(|&i| venue.seats[i].row == label.row && venue.seats[i].seat_number == label.seat_number);
                    assert!(
                        asked,
                        "SeatsUnavailable names seat {} that the request did not ask for",
                        label.on_ticket()
                    );
                }
            }
            Err(other) => {
                panic!("a losing racer must get SeatsUnavailable, got {other:?} for seats {:?}", attempt.seats)
            }
        }
    }
    winners
}

pub async fn concurrent_holds_one_winner_per_seat(store: S) {
    let venue = fixture_grid_venue(&store, 5, 10).await;
    let event = fixture_event(&store, &venue).await;
    let users = fixture_users(&store, "racer", 80).await;
    let all_seats: Vec<usize> = (0..50).collect();
    let plan = race_plan(&mut Rng::new(0x5EA7_5EA7), &all_seats, 2, 150);
    assert!(plan.len() >= 200);

    let attempts = race(&store, &venue, &event, &users, &plan, long_ttl()).await;
    let winners = check_outcomes(&venue, &attempts);

    let mut won_by: BTreeMap<usize, usize> = BTreeMap::new();
    for winner in &winners {
        for &seat in &winner.seats {
            *won_by.entry(seat).or_default() += 1;
        }
    }
    let twice: Vec<_> = won_by.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "seats won by more than one racer (seat position, winners): {twice:?}");
    for attempt in attempts.iter().filter(|a| a.outcome.is_err()) {
        assert!(
            attempt.seats.iter().any(|s| won_by.contains_key(s)),
            "racer for seats {:?} lost although none of them was won by anybody",
            attempt.seats
        );
    }

    let now = Utc::now();
    let rows =
        all_reservations(&store, ReservationFilter { event_id: Some(event.id), ..Default::default() }, now).await;
    let winning_seats: usize = winners.iter().map(|w| w.seats.len()).sum();
    assert_eq!(rows.len(), winning_seats, "every reservation belongs to a winner; losers left no rows");
    let winning_ids: BTreeSet<Uuid> = winners
        .iter()
        .filter_map(|w| w.outcome.as_ref().ok())
        .flat_map(|b| b.reservations.iter().map(|r| r.id))
        .collect();
    assert_eq!(rows.iter().map(|r| r.id).collect::<BTreeSet<_>>(), winning_ids);
    let mut per_seat: BTreeMap<Uuid, usize> = BTreeMap::new();
    for r in &rows {
        assert_eq!(r.status, ReservationStatus::Held);
        *per_seat.entry(r.seat_id).or_default() += 1;
    }
    assert!(per_seat.values().all(|n| *n == 1), "a seat has two active reservations");

    let map = seat_statuses(&store, &event, now).await;
    for (position, seat) in venue.seats.iter().enumerate() {
        let expected = if won_by.contains_key(&position) { SeatStatus::Held } else { SeatStatus::Available };
        assert_eq!(map[&seat.id], expected, "seat {}{}", seat.row, seat.seat_number);
    }
    let read = store.event(event.id, now).await.expect("read").expect("exists");
    assert_eq!(read.seats_available, 50 - won_by.len() as i64);
}

/// Fails when any seat of the event has two reservations active at once, as seen in one read.
async fn assert_no_double_hold(store: &S, event_id: Uuid) {
    let before = Utc::now();
    let filter = ReservationFilter {
        event_id: Some(event_id),
        status: Some(ReservationStatus::Held),
        page: Page { limit: Page::MAX_LIMIT, offset: 0 },
        ..Default::default()
    };
    let held = store.list_reservations(&filter, before).await.expect("list held reservations");
    // Judged at a time after the read, so a hold that lapsed while it ran is not counted.
    let after = Utc::now();
    assert!((held.len() as i64) < Page::MAX_LIMIT, "more held reservations than seats: {}", held.len());
    let mut seen = BTreeSet::new();
    for r in held.iter().filter(|r| r.expires_at > after) {
        assert!(seen.insert(r.seat_id), "seat {} has two active reservations at {after}", r.seat.on_ticket());
    }
}

/// When a winning hold began (the `now` it was placed at) and when it was due to end.
type HoldWindow = (DateTime<Utc>, DateTime<Utc>);

pub async fn concurrent_holds_with_lapsing_holds(store: S) {
    const WAVES: usize = 5;
    let ttl = HoldTtl::from_millis(40).expect("ttl");
    let venue = fixture_grid_venue(&store, 5, 10).await;
    let event = fixture_event(&store, &venue).await;
    let users = fixture_users(&store, "racer", 60).await;
    let contested: Vec<usize> = (0..50).step_by(4).collect();
    let mut rng = Rng::new(0xBAD_5EA7);

    let racing = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (store, racing) = (store.clone(), racing.clone());
        tokio::spawn(async move {
            let mut checks = 0u32;
            while racing.load(Ordering::Relaxed) {
                assert_no_double_hold(&store, event.id).await;
                checks += 1;
                tokio::time::sleep(StdDuration::from_millis(2)).await;
            }
            checks
        })
    };

    // Per seat position: when each winning hold began and when it was due to end.
    let mut windows: BTreeMap<usize, Vec<HoldWindow>> = BTreeMap::new();
    let mut total_attempts = 0;
    let mut winning_seats = 0;
    for wave in 0..WAVES {
        let plan = race_plan(&mut rng, &contested, 2, 24);
        total_attempts += plan.len();
        let attempts = race(&store, &venue, &event, &users, &plan, ttl).await;
        let winners = check_outcomes(&venue, &attempts);
        assert_no_double_hold(&store, event.id).await;

        let mut won_this_wave = BTreeSet::new();
        for winner in &winners {
            let booking = winner.outcome.as_ref().expect("winner");
            winning_seats += winner.seats.len();
            for &seat in &winner.seats {
                won_this_wave.insert(seat);
                windows.entry(seat).or_default().push((winner.now, booking.expires_at));
            }
        }
        for &seat in &contested {
            assert!(
                won_this_wave.contains(&seat),
                "wave {wave}: seat position {seat} was free (previous holds lapsed) yet nobody won it"
            );
        }
        let latest = winners.iter().filter_map(|w| w.outcome.as_ref().ok()).map(|b| b.expires_at).max();
        sleep_past(latest.unwrap_or_else(Utc::now)).await;
    }
    racing.store(false, Ordering::Relaxed);
    let checks = watcher.await.expect("the watcher saw no seat held twice");
    assert!(checks > 0, "the watcher never ran");
    assert!(total_attempts >= 200);

    for (seat, mut held) in windows {
        held.sort();
        for pair in held.windows(2) {
            let ((_, first_ends), (second_starts, _)) = (pair[0], pair[1]);
            assert!(
                second_starts >= first_ends,
                "seat position {seat} was won again at {second_starts} while a hold ran until {first_ends}"
            );
        }
    }

    let now = Utc::now();
    let map = seat_statuses(&store, &event, now).await;
    assert!(map.values().all(|s| *s == SeatStatus::Available), "every hold has lapsed");
    let rows =
        all_reservations(&store, ReservationFilter { event_id: Some(event.id), ..Default::default() }, now).await;
    assert_eq!(rows.len(), winning_seats, "losers left no rows");
    assert!(rows.iter().all(|r| r.status == ReservationStatus::Expired), "every winning hold now reads expired");
}
