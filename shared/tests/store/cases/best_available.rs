//! Best available under a crowd (issue 19): 200 buyers of 2 to 4 seats at once on one event of
//! 2,000 seats (20 rows of 100), each through `store::best_available` (the picker choosing, the
//! store's own hold refereeing every block). The buyers are served by four processes, each with
//! its desk (`store::best_available_desk`) seeded with the one map read before the race: within a
//! process the buyers choose apart, and the four processes all aim at the same best blocks first,
//! as processes that each served the map before an on-sale do.
//!
//! What is checked, on the final map and on each buyer's answer:
//! - no seat is held twice (by the answers, and by the store's own reservations);
//! - every group is held whole, in one row, on consecutive seat numbers;
//! - a buyer without seats was answered honestly: outrun after at most `MAX_TRIES` blocks won by
//!   others, or still shed by the store; never "no block" while 1,400 seats are left (how many
//!   are outrun depends on the interleaving and the machine's load: it is printed, not bounded);
//! - no stranded seat where the picker promises none. The promise is per buyer, about what it
//!   saw: its block leaves no seat alone beside it in the view it chose from, unless every block
//!   of its size in that view does. Two buyers choosing at once from views that do not show each
//!   other can leave a seat alone between them; so the checker walks the final map, and every
//!   lone free seat must be explained: a buyer holding a seat beside it chose from a view in which
//!   its block did not leave that seat alone (the seat on the other side was still free then), or
//!   had no choice that stranded nothing. A lone seat no buyer's view explains fails the case.

use super::*;
use proeventa_core::domain::{BestAvailable, HoldLimit, Reservation, SeatState, SeatView};
use proeventa_core::store::best_available::{
    BestAvailableError, BestAvailableRequest, BestHeld, MAX_TRIES, hold_best_available,
};
use proeventa_core::store::best_available_desk::Desk;

const ROWS: usize = 20;
const SEATS_PER_ROW: i32 = 100;
const BUYERS: usize = 200;
/// The processes serving the buyers, each with its own desk.
const PROCESSES: usize = 4;

struct Buyer {
    user_id: Uuid,
    want: BestAvailable,
    outcome: Result<BestHeld, BestAvailableError>,
    /// How many times the store shed this buyer's request (`Unavailable`) before it was decided.
    shed: u64,
}

pub async fn concurrent_best_available_never_double_books_splits_or_strands(store: S) {
    let venue = fixture_grid_venue(&store, ROWS, SEATS_PER_ROW).await;
    let event = fixture_event(&store, &venue).await;
    let users = fixture_users(&store, "best", BUYERS).await;
    let before: Arc<[SeatState]> = store.seat_map(event.id, Utc::now()).await.expect("map").expect("event").into();
    let mut rng = Rng::new(0xBE57_A7A1);
    let desks: Vec<Arc<Desk>> =
        (0..PROCESSES).map(|_| Arc::new(Desk::seeded(before.clone(), std::time::Instant::now()))).collect();
    let barrier = Arc::new(Barrier::new(BUYERS));
    let started = std::time::Instant::now();
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(b, user)| {
            let count = 2 + rng.below(3) as i64;
            let want = BestAvailable::parse(count, None, HoldLimit::default()).expect("a valid ask");
            let request = BestAvailableRequest {
                user_id: user.id,
                event_id: event.id,
                want: want.clone(),
                ttl: long_ttl(),
                limit: HoldLimit::default(),
                admitted: false,
                presale: false,
            };
            let (store, barrier, desk) = (store.clone(), barrier.clone(), desks[b % PROCESSES].clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // A store that sheds load (DynamoDB Local lets 8 requests in at once and answers
                // `Unavailable` after 6 s in line) is asked again, as a client does after a 503.
                let mut shed = 0;
                loop {
                    let outcome = hold_best_available(store.as_ref(), &request, &desk).await;
                    match outcome {
                        Err(BestAvailableError::Store(StoreError::Unavailable(_))) if shed < 5 => {
                            shed += 1;
                            tokio::time::sleep(StdDuration::from_millis(200 * shed)).await;
                        }
                        outcome => break Buyer { user_id: request.user_id, want, outcome, shed },
                    }
                }
            })
        })
        .collect();
    let mut buyers = Vec::with_capacity(BUYERS);
    for task in tasks {
        buyers.push(task.await.expect("buyer task"));
    }
    let elapsed = started.elapsed();

    // Each answer: a whole group in one row on consecutive numbers, the block it chose.
    let mut holder: BTreeMap<Uuid, usize> = BTreeMap::new();
    let mut tries = Vec::new();
    for (b, buyer) in buyers.iter().enumerate() {
        let held = match &buyer.outcome {
            Ok(held) => held,
            // Honest answers that hold nothing: other buyers won every block tried (how many
            // depends on the interleaving, so it is reported below, not bounded), or the store
            // still shed the request after it was asked again five times.
            Err(BestAvailableError::Outrun { tries }) => {
                assert!(*tries <= MAX_TRIES, "buyer {b} tried {tries} blocks, over {MAX_TRIES}");
                continue;
            }
            Err(BestAvailableError::Store(StoreError::Unavailable(_))) => continue,
            // "No block" with 1,400 seats left, or any other refusal, is wrong.
            Err(other) => panic!("buyer {b} of {} seats: {other:?}", buyer.want.count()),
        };
        tries.push(held.tries);
        let chosen: Vec<&SeatState> = held.view.seats()[held.block.positions()].iter().collect();
        assert_eq!(chosen.len(), buyer.want.count());
        assert!(
            chosen.windows(2).all(|w| w[0].row == w[1].row && w[1].seat_number == w[0].seat_number + 1),
            "buyer {b}'s block is not adjacent in one row"
        );
        let mut got: Vec<Uuid> = held.booking.reservations.iter().map(|r| r.seat_id).collect();
        let mut asked: Vec<Uuid> = chosen.iter().map(|s| s.seat_id).collect();
        got.sort();
        asked.sort();
        assert_eq!(got, asked, "buyer {b} holds exactly its block");
        for seat in got {
            if let Some(other) = holder.insert(seat, b) {
                panic!("seat {seat} held by buyers {other} and {b}");
            }
        }
        // The promise, in the buyer's own view.
        let forced = held.view.best(&buyer.want).is_some_and(|best| best.strands);
        assert!(!held.view.strands(&held.block) || forced, "buyer {b} stranded a seat it could have spared");
    }
    let outrun = buyers.iter().filter(|b| matches!(b.outcome, Err(BestAvailableError::Outrun { .. }))).count();
    let unanswered = BUYERS - tries.len() - outrun;
    // A floor that shows the race ran, far below any run seen (185 of 200 on DynamoDB Local
    // during a loaded CI run, 200 on the SQL stores), not a figure to tune: those are the bench's.
    assert!(tries.len() * 2 >= BUYERS, "only {} of {BUYERS} buyers got seats, with 1,400 left", tries.len());

    // The store agrees: one active reservation per taken seat, every seat an answer names among
    // them, and every booking whole in one row. A request the store shed may still have held its
    // block (a DynamoDB write that timed out after it committed), so a buyer asked again after a
    // shed request may hold a block no answer names: such seats may only be a shed buyer's.
    let after = store.seat_map(event.id, Utc::now()).await.expect("map").expect("event");
    let taken: BTreeSet<Uuid> = after.iter().filter(|s| s.status != SeatStatus::Available).map(|s| s.seat_id).collect();
    assert!(holder.keys().all(|seat| taken.contains(seat)), "every seat an answer names is taken on the map");
    let active: Vec<Reservation> =
        all_reservations(&store, ReservationFilter { event_id: Some(event.id), ..Default::default() }, Utc::now())
            .await
            .into_iter()
            .filter(|r| r.status.is_active())
            .collect();
    let active_seats: BTreeSet<Uuid> = active.iter().map(|r| r.seat_id).collect();
    assert_eq!(active_seats.len(), active.len(), "a seat has two active reservations");
    assert_eq!(active_seats, taken, "the map shows exactly the seats actively reserved");
    let shed_buyers: BTreeSet<Uuid> = buyers.iter().filter(|b| b.shed > 0).map(|b| b.user_id).collect();
    let mut bookings: BTreeMap<Uuid, Vec<&Reservation>> = BTreeMap::new();
    for reservation in &active {
        assert!(
            holder.contains_key(&reservation.seat_id) || shed_buyers.contains(&reservation.user_id),
            "seat {} is held by a buyer whose answer does not name it and whose request was never shed",
            reservation.seat.on_ticket()
        );
        bookings.entry(reservation.booking_id).or_default().push(reservation);
    }
    for group in bookings.values_mut() {
        group.sort_by_key(|r| r.seat.seat_number);
        assert!(
            group
                .windows(2)
                .all(|w| w[0].seat.row == w[1].seat.row && w[1].seat.seat_number == w[0].seat.seat_number + 1),
            "booking {} is not adjacent seats of one row",
            group[0].booking_id
        );
    }

    // The final map, walked: every lone free seat is explained by a neighbour's view.
    let final_view = SeatView::new(Arc::from(after));
    let mut explained = 0;
    for lone in final_view.lone_free_seats() {
        let here = &final_view.seats()[lone];
        let neighbours = [lone.checked_sub(1), Some(lone + 1)].into_iter().flatten();
        let mut beside = neighbours
            .filter_map(|p| final_view.seats().get(p))
            .filter(|s| s.row == here.row && (s.seat_number - here.seat_number).abs() == 1);
        let explains = beside.any(|seat| {
            let Some(&b) = holder.get(&seat.seat_id) else { return false };
            let Ok(held) = &buyers[b].outcome else { return false };
            let mut seen = held.view.clone();
            seen.take(&held.block);
            let forced = held.view.best(&buyers[b].want).is_some_and(|best| best.strands);
            forced || !seen.lone_free_seats().contains(&lone)
        });
        assert!(explains, "seat {} {} is left alone and no neighbour's view explains it", here.row, here.seat_number);
        explained += 1;
    }
    let shed: u64 = buyers.iter().map(|b| b.shed).sum();
    let most = tries.iter().max().copied().unwrap_or(0);
    let mean = tries.iter().sum::<usize>() as f64 / tries.len().max(1) as f64;
    eprintln!(
        "best available: {} of {BUYERS} buyers held {} seats in {elapsed:?}; tries mean {mean:.1}, most {most}; \
         {outrun} outrun; {shed} requests shed and asked again, {unanswered} still shed; {explained} lone seats, \
         each left by buyers choosing at once",
        tries.len(),
        holder.len()
    );
}
