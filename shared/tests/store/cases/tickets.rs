//! Tickets: one per paid seat, issued by the payment's confirm and by nothing else; revoked by the
//! cancel of its seat, booking or event; admitted once at the door, whatever the concurrency, with
//! a replayed offline batch changing nothing; and the listings and counts the buyer and the door
//! read.

use proeventa_core::domain::{
    Admission, CheckIn, Gate, Scan, Ticket, TicketFilter, TicketStatus, TicketTally, Verdict,
};

use super::*;

fn gate(name: &str) -> Gate {
    Gate::parse(Some(name)).expect("a valid gate")
}

/// A scan of `ticket_id` at `gate`, made at `at` (whole milliseconds, which every backend keeps).
fn scan(ticket_id: Uuid, gate_name: &str, at: DateTime<Utc>) -> Scan {
    Scan { id: Uuid::new_v4(), ticket_id, gate: gate(gate_name), at: whole_millis(at) }
}

/// Every ticket of the filter, newest first, page by page.
async fn all_tickets(store: &S, filter: TicketFilter) -> Vec<Ticket> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let page = page(Page::MAX_LIMIT, offset);
        let batch = store
            .list_tickets(&TicketFilter { page, ..filter.clone() })
            .await
            .unwrap_or_else(|e| panic!("list tickets: {e}"));
        let full = batch.len() as i64 == Page::MAX_LIMIT;
        all.extend(batch);
        if !full {
            return all;
        }
        offset += Page::MAX_LIMIT;
    }
}

/// A booking's tickets, in seat order.
async fn booking_tickets(store: &S, booking_id: Uuid) -> Vec<Ticket> {
    all_tickets(store, TicketFilter { booking_id: Some(booking_id), ..Default::default() }).await
}

async fn read_ticket(store: &S, id: Uuid) -> Ticket {
    store.ticket(id).await.unwrap_or_else(|e| panic!("read ticket: {e}")).expect("the ticket exists")
}

async fn check_in(store: &S, scan: &Scan) -> CheckIn {
    store.check_in(scan).await.unwrap_or_else(|e| panic!("check in {scan:?}: {e}"))
}

/// The admission a scan records.
fn admission_of(scan: &Scan) -> Admission {
    Admission { scan_id: scan.id, gate: scan.gate.clone(), at: scan.at }
}

fn statuses(tickets: &[Ticket]) -> Vec<TicketStatus> {
    tickets.iter().map(|t| t.status).collect()
}

pub async fn a_ticket_is_issued_per_confirmed_seat(store: S) {
    let venue = fixture_venue(&store, &[("A", 5, "vip"), ("B", 5, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let mut wanted = seat_ids(&venue, &(0..10).collect::<Vec<_>>());
    Rng::new(0x071C_6E75).shuffle(&mut wanted);
    let before = Utc::now();
    let (booking, paid) = paid_booking(&store, &ann, &event, &wanted, "ch_ann").await;
    let after = Utc::now();
    assert_eq!(paid.status, PaymentStatus::Succeeded);

    let tickets = booking_tickets(&store, booking.id).await;
    assert_eq!(tickets.len(), 10, "one ticket per confirmed seat: {tickets:?}");
    // The booking's seats come in seat order (row, then number): so must its tickets.
    let expected: Vec<(Uuid, Uuid, String, i64)> =
        booking.reservations.iter().map(|r| (r.id, r.seat_id, r.seat.on_ticket(), r.price_cents)).collect();
    let issued: Vec<(Uuid, Uuid, String, i64)> =
        tickets.iter().map(|t| (t.reservation_id, t.seat_id, t.seat.on_ticket(), t.price_cents)).collect();
    assert_eq!(issued, expected, "each ticket names its seat and its price, in seat order");
    let in_venue_order: Vec<Uuid> = venue.seats.iter().map(|s| s.id).collect();
    assert_eq!(ids(&tickets, |t| t.seat_id), in_venue_order, "seat order is row by row, then by number");
    for (ticket, reservation) in tickets.iter().zip(&booking.reservations) {
        assert_eq!(ticket.seat, reservation.seat, "seat label and tier of {}", reservation.seat.on_ticket());
        assert_eq!(
            (ticket.booking_id, ticket.event_id, ticket.user_id, ticket.currency.as_str()),
            (booking.id, event.id, ann.id, "EUR")
        );
        assert_eq!(ticket.holder_name, "User ann", "the holder is the buyer's name");
        assert_eq!(ticket.status, TicketStatus::Valid);
        assert_eq!((&ticket.admission, ticket.revoked_at), (&None, None), "a new ticket was never used or revoked");
        assert!(
            ticket.issued_at >= whole_millis(before) && ticket.issued_at <= after,
            "issued at the confirm, not {}",
            ticket.issued_at
        );
        assert_eq!(&read_ticket(&store, ticket.id).await, ticket, "the ticket reads back as listed");
    }
    let distinct: BTreeSet<Uuid> = tickets.iter().map(|t| t.id).collect();
    assert_eq!(distinct.len(), 10, "every ticket has its own id");
    let prices: Vec<i64> = tickets.iter().map(|t| t.price_cents).collect();
    assert_eq!(prices, [[4000; 5], [1500; 5]].concat(), "each ticket costs its tier's price");
    assert_eq!(store.ticket(Uuid::new_v4()).await.expect("read an unknown ticket"), None);
}

pub async fn a_ticket_names_the_buyer_as_at_the_confirm_or_the_e_mail_when_nameless(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let nameless = store.create_user(new_user("nameless", "")).await.expect("a user without a name");
    let (ann_booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_ann").await;
    let (nameless_booking, _) = paid_booking(&store, &nameless, &event, &seat_ids(&venue, &[1]), "ch_x").await;
    let renamed = UserChanges { name: Some("Ann Other".into()), ..Default::default() };
    store.update_user(ann.id, renamed).await.expect("rename").expect("the user exists");

    let ann_ticket = &booking_tickets(&store, ann_booking.id).await[0];
    assert_eq!(ann_ticket.holder_name, "User ann", "a later rename does not change an issued ticket");
    let nameless_ticket = &booking_tickets(&store, nameless_booking.id).await[0];
    assert_eq!(nameless_ticket.holder_name, "nameless@example.com", "no name: the e-mail address");
}

pub async fn no_ticket_without_a_confirmed_payment(store: S) {
    let venue = fixture_grid_venue(&store, 2, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;

    // Held only, and checked out but not paid.
    let held = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
    let pending = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1])).await.expect("hold");
    checkout(&store, &pending).await.expect("checkout");
    // A payment that failed.
    let failed = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[2])).await.expect("hold");
    let failing = checkout(&store, &failed).await.expect("checkout");
    store.fail_payment(failing.id, 0, Utc::now()).await.expect("fail the payment");
    let err = expect_err(
        store.confirm_payment(failing.id, "ch_late", CARD_LAST4, Utc::now()).await,
        "confirming a failed payment",
    );
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    // A confirm refused after a priced-in seat was canceled.
    let shrunk = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[3, 4])).await.expect("hold");
    let shrunk_payment = checkout(&store, &shrunk).await.expect("checkout");
    store.cancel_reservation(shrunk.reservations[0].id, Utc::now(), None).await.expect("cancel a held seat");
    let err = expect_err(
        store.confirm_payment(shrunk_payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        "confirm after a seat was canceled",
    );
    assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    // A confirm refused because the lapsed hold's seat went to someone else.
    let t0 = Utc::now();
    let lapsed =
        store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[5]), short_ttl()), t0).await.expect("short hold");
    let lapsed_payment =
        store.create_payment(new_payment(&lapsed, t0 + Duration::milliseconds(60)), t0).await.expect("checkout");
    let lapse = store.booking(lapsed.id, t0).await.expect("read").expect("exists").expires_at;
    sleep_past(lapse).await;
    let bob = fixture_user(&store, "bob").await;
    hold_seats(&store, &bob, &event, &seat_ids(&venue, &[5])).await.expect("bob takes the lapsed seat");
    let err = expect_err(
        store.confirm_payment(lapsed_payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        "confirm after the seat was taken",
    );
    assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");

    for booking in [&held, &pending, &failed, &shrunk, &lapsed] {
        assert_eq!(
            booking_tickets(&store, booking.id).await,
            Vec::<Ticket>::new(),
            "no ticket for booking {}",
            booking.id
        );
    }
    let mine = all_tickets(&store, TicketFilter { user_id: Some(ann.id), ..Default::default() }).await;
    assert_eq!(mine, Vec::<Ticket>::new(), "no ticket without money");
    assert_eq!(store.event_tickets(event.id).await.expect("event tickets"), Vec::<Ticket>::new());
    assert_eq!(store.ticket_tallies(event.id).await.expect("tallies"), Vec::<TicketTally>::new());
}

pub async fn canceling_a_paid_seat_revokes_its_ticket_only(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2]), "ch_ann").await;
    let canceled = booking.reservations[1].id;
    let at = whole_millis(Utc::now());
    store.cancel_reservation(canceled, at, None).await.expect("cancel a paid seat");

    let tickets = booking_tickets(&store, booking.id).await;
    assert_eq!(statuses(&tickets), [TicketStatus::Valid, TicketStatus::Revoked, TicketStatus::Valid]);
    let revoked = &tickets[1];
    assert_eq!((revoked.reservation_id, revoked.revoked_at), (canceled, Some(at)), "revoked by the cancel, then");
    assert!(tickets.iter().filter(|t| t.id != revoked.id).all(|t| t.revoked_at.is_none()));
}

pub async fn canceling_a_booking_revokes_its_tickets_only(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (doomed, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_one").await;
    let (kept, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[2, 3]), "ch_two").await;
    let at = whole_millis(Utc::now());
    store.cancel_booking(doomed.id, at, None).await.expect("cancel a paid booking");

    let revoked = booking_tickets(&store, doomed.id).await;
    assert_eq!(statuses(&revoked), [TicketStatus::Revoked; 2]);
    assert!(revoked.iter().all(|t| t.revoked_at == Some(at)), "revoked at the cancel: {revoked:?}");
    assert_eq!(statuses(&booking_tickets(&store, kept.id).await), [TicketStatus::Valid; 2], "the other booking's");
}

pub async fn canceling_an_event_revokes_its_tickets_only(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let (doomed, other) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    paid_booking(&store, &ann, &doomed, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    paid_booking(&store, &bob, &doomed, &seat_ids(&venue, &[2]), "ch_bob").await;
    hold_seats(&store, &bob, &doomed, &seat_ids(&venue, &[3])).await.expect("a held seat, with no ticket");
    let (elsewhere, _) = paid_booking(&store, &ann, &other, &seat_ids(&venue, &[0, 1]), "ch_other").await;
    let at = whole_millis(Utc::now());
    store.cancel_event(doomed.id, at, None).await.expect("cancel the event").expect("the event exists");

    let revoked = store.event_tickets(doomed.id).await.expect("the event's tickets");
    assert_eq!(statuses(&revoked), [TicketStatus::Revoked; 3], "every ticket of the event: {revoked:?}");
    assert!(revoked.iter().all(|t| t.revoked_at == Some(at)));
    let untouched = booking_tickets(&store, elsewhere.id).await;
    assert_eq!(statuses(&untouched), [TicketStatus::Valid; 2], "another event's tickets stay valid");
    let mut by_id = untouched;
    by_id.sort_by_key(|t| t.id);
    assert_eq!(store.event_tickets(other.id).await.expect("the other event's tickets"), by_id, "by id");
}

pub async fn a_used_ticket_canceled_is_revoked_and_keeps_its_admission(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    let tickets = booking_tickets(&store, booking.id).await;
    let entry = scan(tickets[0].id, "north", Utc::now());
    assert!(matches!(check_in(&store, &entry).await, CheckIn::Admitted(_)));
    let at = whole_millis(Utc::now());
    store.cancel_booking(booking.id, at, None).await.expect("cancel the booking");

    let used = read_ticket(&store, tickets[0].id).await;
    assert_eq!(
        (used.status, used.revoked_at, used.admission.clone()),
        (TicketStatus::Revoked, Some(at), Some(admission_of(&entry))),
        "revoked, and it still says who came in"
    );
    let unused = read_ticket(&store, tickets[1].id).await;
    assert_eq!((unused.status, unused.admission), (TicketStatus::Revoked, None));

    // The door hears "revoked" for both, even for the scan that admitted the used one.
    for (ticket_id, replayed) in [(tickets[0].id, Some(&entry)), (tickets[1].id, None)] {
        let attempt = replayed.cloned().unwrap_or_else(|| scan(ticket_id, "north", Utc::now()));
        let outcome = check_in(&store, &attempt).await;
        assert!(matches!(&outcome, CheckIn::Refused(t) if t.status == TicketStatus::Revoked), "{outcome:?}");
        assert!(matches!(Verdict::of(&attempt, outcome), Verdict::Revoked(_)));
    }
    assert_eq!(read_ticket(&store, tickets[0].id).await, used, "a refused scan changes nothing");
}

pub async fn check_in_admits_a_valid_ticket_once_and_refuses_the_rest(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    let tickets = booking_tickets(&store, booking.id).await;
    let (ticket, other) = (&tickets[0], &tickets[1]);

    // Admitted: the ticket comes back used, with this scan's id, gate and time to the millisecond.
    let first = scan(ticket.id, "north", Utc::now() - Duration::milliseconds(1234));
    let admitted = match check_in(&store, &first).await {
        CheckIn::Admitted(admitted) => admitted,
        refused => panic!("a valid ticket must be admitted, got {refused:?}"),
    };
    assert_eq!(admitted.status, TicketStatus::Used);
    assert_eq!(admitted.admission, Some(admission_of(&first)));
    assert_eq!(Ticket { status: TicketStatus::Valid, admission: None, ..admitted.clone() }, *ticket, "nothing else");
    assert_eq!(read_ticket(&store, ticket.id).await, admitted, "stored as returned");

    // A second scan, at another gate: refused, naming the first.
    let second = scan(ticket.id, "south", Utc::now());
    let refused = check_in(&store, &second).await;
    assert_eq!(refused, CheckIn::Refused(admitted.clone()), "refused with the ticket as the first scan left it");
    assert_eq!(Verdict::of(&second, refused), Verdict::AlreadyCheckedIn(admitted.clone()));
    // The first scan sent again (a gate retrying) is told it was admitted, and changes nothing.
    let replayed = check_in(&store, &first).await;
    assert_eq!(Verdict::of(&first, replayed), Verdict::Admitted(admitted.clone()));
    assert_eq!(read_ticket(&store, ticket.id).await, admitted, "refused scans change nothing");

    // A revoked ticket is refused as revoked, never admitted.
    store.cancel_reservation(other.reservation_id, Utc::now(), None).await.expect("cancel the other seat");
    let late = scan(other.id, "north", Utc::now());
    match check_in(&store, &late).await {
        CheckIn::Refused(revoked) => {
            assert_eq!((revoked.id, revoked.status, revoked.admission), (other.id, TicketStatus::Revoked, None))
        }
        admitted => panic!("a revoked ticket must be refused, got {admitted:?}"),
    }

    let unknown = scan(Uuid::new_v4(), "north", Utc::now());
    let err = expect_err(store.check_in(&unknown).await, "scanning an unknown ticket");
    assert!(matches!(err, StoreError::NotFound(Entity::Ticket)), "expected NotFound(Ticket), got {err:?}");
}

pub async fn concurrent_scans_of_one_ticket_admit_it_once(store: S) {
    const SCANS: usize = 50;
    const ROUNDS: usize = 3;
    let venue = fixture_grid_venue(&store, 1, ROUNDS as i32).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let seats = seat_ids(&venue, &(0..ROUNDS).collect::<Vec<_>>());
    let (booking, _) = paid_booking(&store, &ann, &event, &seats, "ch_ann").await;
    let mut rng = Rng::new(0x5CA9_5CA9);
    for ticket in booking_tickets(&store, booking.id).await {
        let barrier = Arc::new(Barrier::new(SCANS));
        let racers: Vec<_> = (0..SCANS)
            .map(|i| {
                let attempt = scan(ticket.id, &format!("gate-{}", i % 4), Utc::now());
                let (store, barrier, delay) = (store.clone(), barrier.clone(), rng.below(3) as u64);
                tokio::spawn(async move {
                    barrier.wait().await;
                    tokio::time::sleep(StdDuration::from_millis(delay)).await;
                    let outcome = store.check_in(&attempt).await;
                    (attempt, outcome)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut refused = Vec::new();
        for racer in racers {
            let (attempt, outcome) = racer.await.expect("scan task");
            match outcome.unwrap_or_else(|e| panic!("a scan must be answered, got {e:?}")) {
                CheckIn::Admitted(t) => winners.push((attempt, t)),
                CheckIn::Refused(t) => refused.push((attempt, t)),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one of {SCANS} scans admits ticket {}: {winners:?}", ticket.id);
        let (winner, admitted) = &winners[0];
        assert_eq!(admitted.admission, Some(admission_of(winner)));
        for (attempt, seen) in &refused {
            assert_eq!(
                seen.admission.as_ref().map(|a| a.scan_id),
                Some(winner.id),
                "every other scan is refused naming the winner"
            );
            assert!(matches!(Verdict::of(attempt, CheckIn::Refused(seen.clone())), Verdict::AlreadyCheckedIn(_)));
        }
        assert_eq!(&read_ticket(&store, ticket.id).await, admitted, "the store keeps the winner's admission");
    }
}

pub async fn concurrent_scans_of_many_tickets_admit_each_once_and_name_the_winner(store: S) {
    const TICKETS: usize = 40;
    const SCANS_PER_TICKET: usize = 3;
    let venue = fixture_grid_venue(&store, TICKETS / 10, 10).await;
    let event = fixture_event(&store, &venue).await;
    let buyers = fixture_users(&store, "door", TICKETS / 10).await;
    let mut tickets = Vec::new();
    for (i, buyer) in buyers.iter().enumerate() {
        let seats = seat_ids(&venue, &(i * 10..(i + 1) * 10).collect::<Vec<_>>());
        let (booking, _) = paid_booking(&store, buyer, &event, &seats, &format!("ch_door_{i}")).await;
        tickets.extend(booking_tickets(&store, booking.id).await);
    }
    // Two of them canceled before the doors open, and two codes of tickets that do not exist.
    let (revoked, valid) = tickets.split_at(2);
    for ticket in revoked {
        store.cancel_reservation(ticket.reservation_id, Utc::now(), None).await.expect("cancel a paid seat");
    }
    let unknown = [Uuid::new_v4(), Uuid::new_v4()];
    let scanned = tickets.iter().map(|t| t.id).chain(unknown);

    // Every one scanned three times, at three gates, all at once in a shuffled order.
    let mut attempts: Vec<Scan> = scanned
        .flat_map(|id| (0..SCANS_PER_TICKET).map(move |gate| scan(id, &format!("gate-{gate}"), Utc::now())))
        .collect();
    Rng::new(0xD00D_5CA9).shuffle(&mut attempts);
    let barrier = Arc::new(Barrier::new(attempts.len()));
    let racers: Vec<_> = attempts
        .into_iter()
        .map(|attempt| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = store.check_in(&attempt).await;
                (attempt, outcome)
            })
        })
        .collect();
    let mut by_ticket: BTreeMap<Uuid, Vec<(Scan, StoreResult<CheckIn>)>> = BTreeMap::new();
    for racer in racers {
        let (attempt, outcome) = racer.await.expect("scan task");
        by_ticket.entry(attempt.ticket_id).or_default().push((attempt, outcome));
    }

    for ticket in valid {
        let answers = &by_ticket[&ticket.id];
        let winners: Vec<(&Scan, &Ticket)> = answers
            .iter()
            .filter_map(|(attempt, outcome)| match outcome {
                Ok(CheckIn::Admitted(admitted)) => Some((attempt, admitted)),
                _ => None,
            })
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one of {SCANS_PER_TICKET} scans admits ticket {}: {answers:?}",
            ticket.id
        );
        let (winner, admitted) = winners[0];
        assert_eq!(admitted.admission, Some(admission_of(winner)), "admitted with its own scan");
        assert_eq!(
            Ticket { status: TicketStatus::Valid, admission: None, ..admitted.clone() },
            *ticket,
            "the winner gets its own ticket back, changed in nothing else"
        );
        for (attempt, outcome) in answers.iter().filter(|(attempt, _)| attempt.id != winner.id) {
            match outcome {
                Ok(CheckIn::Refused(seen)) => {
                    assert_eq!(seen, admitted, "a duplicate is refused naming the winning scan");
                    assert!(matches!(
                        Verdict::of(attempt, CheckIn::Refused(seen.clone())),
                        Verdict::AlreadyCheckedIn(_)
                    ));
                }
                other => panic!("a second scan of ticket {} must be refused, got {other:?}", ticket.id),
            }
        }
        assert_eq!(&read_ticket(&store, ticket.id).await, admitted, "the store keeps the winner's admission");
    }
    for ticket in revoked {
        for (_, outcome) in &by_ticket[&ticket.id] {
            assert!(
                matches!(outcome, Ok(CheckIn::Refused(seen)) if seen.status == TicketStatus::Revoked && seen.admission.is_none()),
                "a revoked ticket is refused as revoked: {outcome:?}"
            );
        }
    }
    for id in unknown {
        for (_, outcome) in &by_ticket[&id] {
            assert!(matches!(outcome, Err(StoreError::NotFound(Entity::Ticket))), "an unknown ticket: {outcome:?}");
        }
    }
}

pub async fn concurrent_scans_and_a_cancel_leave_the_ticket_revoked_admitted_at_most_once(store: S) {
    const SCANS: usize = 10;
    const ROUNDS: usize = 6;
    let venue = fixture_grid_venue(&store, 1, ROUNDS as i32).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let seats = seat_ids(&venue, &(0..ROUNDS).collect::<Vec<_>>());
    let (booking, _) = paid_booking(&store, &ann, &event, &seats, "ch_ann").await;
    let mut rng = Rng::new(0xCA9C_E15C);
    for ticket in booking_tickets(&store, booking.id).await {
        let barrier = Arc::new(Barrier::new(SCANS + 1));
        let scans: Vec<_> = (0..SCANS)
            .map(|_| {
                let attempt = scan(ticket.id, "north", Utc::now());
                let (store, barrier, delay) = (store.clone(), barrier.clone(), rng.below(3) as u64);
                tokio::spawn(async move {
                    barrier.wait().await;
                    tokio::time::sleep(StdDuration::from_millis(delay)).await;
                    let outcome = store.check_in(&attempt).await;
                    (attempt, outcome)
                })
            })
            .collect();
        let cancel = {
            let (store, barrier, delay) = (store.clone(), barrier.clone(), rng.below(3) as u64);
            tokio::spawn(async move {
                barrier.wait().await;
                tokio::time::sleep(StdDuration::from_millis(delay)).await;
                store.cancel_reservation(ticket.reservation_id, Utc::now(), None).await
            })
        };
        let mut winners = Vec::new();
        let mut refused = Vec::new();
        for task in scans {
            let (attempt, outcome) = task.await.expect("scan task");
            match outcome.unwrap_or_else(|e| panic!("a scan must be answered, got {e:?}")) {
                CheckIn::Admitted(_) => winners.push(attempt.id),
                CheckIn::Refused(t) => refused.push(t),
            }
        }
        cancel.await.expect("cancel task").expect("the paid seat is canceled");
        let stored = read_ticket(&store, ticket.id).await;
        assert_eq!(stored.status, TicketStatus::Revoked, "the cancel revokes the ticket, used or not");
        assert!(winners.len() <= 1, "at most one scan admits ticket {}: {winners:?}", ticket.id);
        let winner = winners.first().copied();
        assert_eq!(stored.admission.as_ref().map(|a| a.scan_id), winner, "the stored admission is the winner's");
        for seen in &refused {
            let named = seen.admission.as_ref().map(|a| a.scan_id);
            assert!(
                seen.status == TicketStatus::Revoked || (seen.status == TicketStatus::Used && named == winner),
                "a refused scan saw the ticket revoked, or used by the winner: {seen:?}"
            );
        }
    }
}

pub async fn a_sync_batch_replayed_twice_changes_nothing(store: S) {
    let venue = fixture_grid_venue(&store, 1, 5).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2, 3, 4]), "ch_ann").await;
    let tickets = booking_tickets(&store, booking.id).await;
    // Scans an offline gate made over the last minutes, with its own clock, at two gates.
    let offline_start = Utc::now() - Duration::minutes(10);
    let batch: Vec<Scan> = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| scan(t.id, ["north", "south"][i % 2], offline_start + Duration::seconds(37 * i as i64)))
        .collect();

    for attempt in &batch {
        let outcome = check_in(&store, attempt).await;
        assert!(matches!(Verdict::of(attempt, outcome), Verdict::Admitted(_)), "first sync of {attempt:?}");
    }
    let after_first = booking_tickets(&store, booking.id).await;
    for (ticket, attempt) in after_first.iter().zip(&batch) {
        assert_eq!((ticket.status, &ticket.admission), (TicketStatus::Used, &Some(admission_of(attempt))));
    }

    for attempt in &batch {
        let outcome = check_in(&store, attempt).await;
        assert!(matches!(outcome, CheckIn::Refused(_)), "the replay is no second admission: {outcome:?}");
        match Verdict::of(attempt, outcome) {
            Verdict::Admitted(ticket) => assert_eq!(ticket.admission, Some(admission_of(attempt))),
            other => panic!("a replayed scan is answered admitted, got {other:?}"),
        }
    }
    assert_eq!(booking_tickets(&store, booking.id).await, after_first, "the replay changed nothing");

    // Another gate's scan of one of them is a duplicate naming the batch's scan.
    let duplicate = scan(tickets[0].id, "east", Utc::now());
    match Verdict::of(&duplicate, check_in(&store, &duplicate).await) {
        Verdict::AlreadyCheckedIn(ticket) => assert_eq!(ticket.admission, Some(admission_of(&batch[0]))),
        other => panic!("a second scan is a duplicate, got {other:?}"),
    }
}

pub async fn list_tickets_newest_first_per_user_and_booking_with_paging(store: S) {
    let venue = fixture_venue(&store, &[("A", 3, "vip"), ("B", 3, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let (older, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[4, 0]), "ch_1").await;
    tick().await;
    let (newer, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[5, 3, 1]), "ch_2").await;
    tick().await;
    let (bobs, _) = paid_booking(&store, &bob, &event, &seat_ids(&venue, &[2]), "ch_3").await;

    let seats_of = |tickets: &[Ticket]| ids(tickets, |t| t.seat_id);
    let anns = all_tickets(&store, TicketFilter { user_id: Some(ann.id), ..Default::default() }).await;
    assert_eq!(
        seats_of(&anns),
        seat_ids(&venue, &[1, 3, 5, 0, 4]),
        "the newer booking first, each booking's tickets in seat order"
    );
    assert!(anns.windows(2).all(|w| w[0].issued_at >= w[1].issued_at), "newest first");
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        let page = page(2, offset);
        let part = store.list_tickets(&TicketFilter { user_id: Some(ann.id), booking_id: None, page }).await;
        paged.extend(part.expect("a page of tickets"));
    }
    assert_eq!(paged, anns, "pages of two add up to the listing");

    let booking_only = booking_tickets(&store, older.id).await;
    assert_eq!(seats_of(&booking_only), seat_ids(&venue, &[0, 4]), "one booking's tickets in seat order");
    assert!(booking_only.iter().all(|t| t.booking_id == older.id));
    let both = TicketFilter { user_id: Some(ann.id), booking_id: Some(newer.id), ..Default::default() };
    assert_eq!(seats_of(&all_tickets(&store, both).await), seat_ids(&venue, &[1, 3, 5]));
    let not_hers = TicketFilter { user_id: Some(ann.id), booking_id: Some(bobs.id), ..Default::default() };
    assert_eq!(all_tickets(&store, not_hers).await, Vec::<Ticket>::new(), "bob's booking holds none of ann's tickets");

    let everyone = all_tickets(&store, TicketFilter::default()).await;
    assert_eq!(seats_of(&everyone), seat_ids(&venue, &[2, 1, 3, 5, 0, 4]), "every buyer's, newest first");
}

pub async fn event_tickets_list_every_status_by_id(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let (event, other) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let ann = fixture_user(&store, "ann").await;
    let (booking, _) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2, 3]), "ch_ann").await;
    paid_booking(&store, &ann, &other, &seat_ids(&venue, &[0]), "ch_other").await;
    let tickets = booking_tickets(&store, booking.id).await;
    // valid, used, revoked, used then revoked.
    check_in(&store, &scan(tickets[1].id, "north", Utc::now())).await;
    check_in(&store, &scan(tickets[3].id, "north", Utc::now())).await;
    for canceled in [&tickets[2], &tickets[3]] {
        store.cancel_reservation(canceled.reservation_id, Utc::now(), None).await.expect("cancel a paid seat");
    }

    let listed = store.event_tickets(event.id).await.expect("the event's tickets");
    let mut by_id: Vec<Ticket> = Vec::new();
    for ticket in &tickets {
        by_id.push(read_ticket(&store, ticket.id).await);
    }
    by_id.sort_by_key(|t| t.id);
    assert_eq!(listed, by_id, "every ticket of the event, in any status, by id, as stored");
    let mut seen: Vec<(Uuid, TicketStatus, bool)> =
        listed.iter().map(|t| (t.seat_id, t.status, t.admission.is_some())).collect();
    seen.sort_by_key(|(seat, ..)| venue.seats.iter().position(|s| s.id == *seat));
    let expected = [
        (venue.seats[0].id, TicketStatus::Valid, false),
        (venue.seats[1].id, TicketStatus::Used, true),
        (venue.seats[2].id, TicketStatus::Revoked, false),
        (venue.seats[3].id, TicketStatus::Revoked, true),
    ];
    assert_eq!(seen, expected);
    assert_eq!(store.event_tickets(Uuid::new_v4()).await.expect("an unknown event's tickets"), Vec::<Ticket>::new());
}

pub async fn ticket_tallies_count_by_status_and_gate(store: S) {
    let venue = fixture_grid_venue(&store, 1, 7).await;
    let (event, other) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let ann = fixture_user(&store, "ann").await;
    let seats = seat_ids(&venue, &(0..7).collect::<Vec<_>>());
    let (booking, _) = paid_booking(&store, &ann, &event, &seats, "ch_ann").await;
    paid_booking(&store, &ann, &other, &seats[..3], "ch_other").await;
    let tickets = booking_tickets(&store, booking.id).await;
    // 0, 1 valid; 2, 3 used at north; 4 used at south; 5 revoked unused; 6 used at north, revoked.
    for (i, gate_name) in [(2, "north"), (3, "north"), (4, "south"), (6, "north")] {
        check_in(&store, &scan(tickets[i].id, gate_name, Utc::now())).await;
    }
    for i in [5, 6] {
        store.cancel_reservation(tickets[i].reservation_id, Utc::now(), None).await.expect("cancel a paid seat");
    }

    let tally = |status, gate_name: Option<&str>, count| TicketTally { status, gate: gate_name.map(gate), count };
    let key = |t: &TicketTally| (t.status.as_str(), t.gate.clone());
    let mut counted = store.ticket_tallies(event.id).await.expect("tallies");
    counted.sort_by_key(key);
    let mut expected = vec![
        tally(TicketStatus::Valid, None, 2),
        tally(TicketStatus::Used, Some("north"), 2),
        tally(TicketStatus::Used, Some("south"), 1),
        tally(TicketStatus::Revoked, None, 1),
        tally(TicketStatus::Revoked, Some("north"), 1),
    ];
    expected.sort_by_key(key);
    assert_eq!(counted, expected, "counted by status and admitting gate, this event's only");
    assert_eq!(
        store.ticket_tallies(Uuid::new_v4()).await.expect("an unknown event's tallies"),
        Vec::<TicketTally>::new()
    );
}
