//! The waiting list of a sold-out event (issue 20, `WaitlistStore`): one entry per account, and
//! offers made by the transaction that frees the seats (a cancel, the sweeper's lapse), in the
//! order of the list, a seat never offered twice, an unpaid offer lapsing to the next entry, a
//! group passed over at most three times, and offers of a quota'd first ticket type keeping its
//! quota.

use super::*;
use proeventa_core::domain::{
    HoldLimit, HoldRequest, MAX_WAITLIST_PASSES, MessageFacts, SeatSelection, TicketType, WaitlistEntry, WaitlistJoin,
    WaitlistSeats, WaitlistStatus,
};

/// How long an offer is held in these cases.
const OFFER_MINUTES: i64 = 30;

fn wish(event: &Event, user: &User, seats: i64) -> WaitlistJoin {
    WaitlistJoin {
        id: Uuid::new_v4(),
        event_id: event.id,
        user_id: user.id,
        seats: WaitlistSeats::parse(seats).expect("valid seats"),
        tier: None,
        offer_minutes: OFFER_MINUTES,
    }
}

async fn join(store: &S, event: &Event, user: &User, seats: i64) -> WaitlistEntry {
    let (entry, created) =
        store.join_waitlist(&wish(event, user, seats), Utc::now()).await.unwrap_or_else(|e| panic!("join: {e}"));
    assert!(created, "a first join makes an entry");
    entry
}

async fn entry_of(store: &S, event: &Event, user: &User) -> WaitlistEntry {
    store
        .waitlist_entry(event.id, user.id)
        .await
        .unwrap_or_else(|e| panic!("read entry: {e}"))
        .unwrap_or_else(|| panic!("{} has an entry", user.email))
}

/// The held booking offered to `user`, with its seats.
async fn offered_booking(store: &S, event: &Event, user: &User, now: DateTime<Utc>) -> Booking {
    let entry = entry_of(store, event, user).await;
    assert_eq!(entry.status, WaitlistStatus::Offered, "{} was offered seats: {entry:?}", user.email);
    let booking_id = entry.booking_id.expect("an offered entry names its booking");
    store.booking(booking_id, now).await.expect("read booking").expect("the offer's booking exists")
}

fn seats_of(booking: &Booking) -> BTreeSet<Uuid> {
    booking.reservations.iter().map(|r| r.seat_id).collect()
}

pub async fn joining_twice_keeps_one_entry_and_leaving_removes_it(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);

    let first = join(&store, &event, &ann, 2).await;
    assert_eq!((first.status, first.position(), first.seats.get()), (WaitlistStatus::Waiting, Some(1), 2));
    let (again, created) = store.join_waitlist(&wish(&event, &ann, 1), Utc::now()).await.expect("join again");
    assert!(!created, "a second join makes no entry");
    assert_eq!((again.id, again.seats.get()), (first.id, 2), "the second join answers the first entry");

    let second = join(&store, &event, &bob, 1).await;
    assert_eq!(second.position(), Some(2), "behind ann");
    assert!(second.seq > first.seq, "entries are ordered by joining");

    assert!(store.leave_waitlist(event.id, ann.id).await.expect("leave"));
    assert!(!store.leave_waitlist(event.id, ann.id).await.expect("leave again"), "nothing left to leave");
    assert!(store.waitlist_entry(event.id, ann.id).await.expect("read").is_none());
    assert_eq!(entry_of(&store, &event, &bob).await.position(), Some(1), "bob moved up");

    let unknown = WaitlistJoin { event_id: Uuid::new_v4(), ..wish(&event, &bob, 1) };
    let err = expect_err(store.join_waitlist(&unknown, Utc::now()).await, "an unknown event");
    assert!(matches!(err, StoreError::NotFound(Entity::Event)), "expected NotFound(Event), got {err:?}");
}

pub async fn a_cancel_offers_its_seats_to_the_list_in_the_same_transaction(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob, cid) =
        (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await, fixture_user(&store, "cid").await);
    let held = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2, 3])).await.expect("sold out to ann");
    join(&store, &event, &bob, 2).await;
    join(&store, &event, &cid, 1).await;

    // One seat freed: too few for bob's two, so cid (behind him) is offered it, and bob is passed.
    let one = held.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("seat 0").id;
    let now = Utc::now();
    store.cancel_reservation(one, now, None).await.expect("cancel one seat");
    let offer = offered_booking(&store, &event, &cid, now).await;
    assert_eq!(offer.status, ReservationStatus::Held);
    assert_eq!(seats_of(&offer), BTreeSet::from([venue.seats[0].id]));
    assert!(close_in_time(offer.expires_at, now + Duration::minutes(OFFER_MINUTES)), "{offer:?}");
    assert_eq!(offer.total_cents, tier_price("standard"));
    let bob_entry = entry_of(&store, &event, &bob).await;
    assert_eq!((bob_entry.status, bob_entry.passes, bob_entry.position()), (WaitlistStatus::Waiting, 1, Some(1)));
    let map = seat_statuses(&store, &event, Utc::now()).await;
    assert_eq!(map[&venue.seats[0].id], SeatStatus::Held, "the freed seat went straight to the offer");
    let outbox = store.list_messages(None, page(200, 0)).await.expect("the outbox");
    let mail = MessageFacts::WaitlistOffered { booking_id: offer.id };
    assert!(
        outbox.iter().any(|m| m.user_id == Some(cid.id) && m.facts == mail),
        "the offer's mail is written with it: {outbox:?}"
    );

    // The offer appears among the buyer's reservations, held until the offer ends.
    let cids = all_reservations(&store, ReservationFilter { user_id: Some(cid.id), ..Default::default() }, now).await;
    assert_eq!(cids.len(), 1, "{cids:?}");
    assert_eq!((cids[0].status, cids[0].booking_id), (ReservationStatus::Held, offer.id));

    // The rest of ann's booking freed together: bob gets two of the three, in row order.
    store.cancel_booking(held.id, Utc::now(), None).await.expect("cancel the booking");
    let bobs = offered_booking(&store, &event, &bob, Utc::now()).await;
    assert_eq!(seats_of(&bobs), BTreeSet::from([venue.seats[1].id, venue.seats[2].id]));
    let map = seat_statuses(&store, &event, Utc::now()).await;
    assert_eq!(map[&venue.seats[3].id], SeatStatus::Available, "a seat nobody waits for is back on sale");

    // An offer is paid like any hold.
    let payment = checkout(&store, &offer).await.expect("checkout of the offer");
    store.confirm_payment(payment.id, "ref-offer", CARD_LAST4, Utc::now()).await.expect("confirm the offer");
    let paid = store.booking(offer.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(paid.status, ReservationStatus::Confirmed);
}

pub async fn an_unpaid_offer_lapses_to_the_next_entry_through_the_sweeper(store: S) {
    let venue = fixture_grid_venue(&store, 1, 1).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob, cid) =
        (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await, fixture_user(&store, "cid").await);
    let held = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("sold out to ann");
    join(&store, &event, &bob, 1).await;
    join(&store, &event, &cid, 1).await;

    let t0 = Utc::now();
    store.cancel_booking(held.id, t0, None).await.expect("cancel");
    let bobs = offered_booking(&store, &event, &bob, t0).await;
    assert_eq!(entry_of(&store, &event, &cid).await.position(), Some(1), "cid is next");

    // Before the offer ends the sweeper leaves it alone.
    store.expire_lapsed_holds(t0 + Duration::minutes(OFFER_MINUTES - 1)).await.expect("early sweep");
    assert_eq!(entry_of(&store, &event, &cid).await.status, WaitlistStatus::Waiting);

    // Past it, the sweep that expires bob's offer offers the seat to cid in the same transaction.
    let later = t0 + Duration::minutes(OFFER_MINUTES + 1);
    assert_eq!(store.expire_lapsed_holds(later).await.expect("sweep"), 1, "bob's offer lapsed");
    let lapsed = store.booking(bobs.id, later).await.expect("read").expect("exists");
    assert_eq!(lapsed.status, ReservationStatus::Expired);
    let cids = offered_booking(&store, &event, &cid, later).await;
    assert_eq!(seats_of(&cids), seats_of(&bobs), "the same seat, now cid's");
    assert_eq!(cids.status, ReservationStatus::Held);
    assert!(close_in_time(cids.expires_at, later + Duration::minutes(OFFER_MINUTES)), "{cids:?}");
    let map = seat_statuses(&store, &event, later).await;
    assert_eq!(map[&venue.seats[0].id], SeatStatus::Held);

    // Nobody left: the next lapse frees the seat for everyone.
    let last = later + Duration::minutes(OFFER_MINUTES + 1);
    assert_eq!(store.expire_lapsed_holds(last).await.expect("sweep"), 1);
    let map = seat_statuses(&store, &event, last).await;
    assert_eq!(map[&venue.seats[0].id], SeatStatus::Available);
}

pub async fn a_group_is_passed_over_at_most_three_times(store: S) {
    let venue = fixture_grid_venue(&store, 1, 7).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let mut singles = Vec::new();
    for seat in 0..5 {
        singles.push(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[seat])).await.expect("a single"));
    }
    let pair = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[5, 6])).await.expect("a pair");
    let group = fixture_user(&store, "group").await;
    join(&store, &event, &group, 2).await;
    let behind = fixture_users(&store, "single", 4).await;
    for user in &behind {
        join(&store, &event, user, 1).await;
    }

    // Three single seats freed one by one go to the singles behind the group; each passes it over.
    for (n, booking) in singles.iter().take(MAX_WAITLIST_PASSES as usize).enumerate() {
        store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel a single");
        offered_booking(&store, &event, &behind[n], Utc::now()).await;
        assert_eq!(entry_of(&store, &event, &group).await.passes, n as u32 + 1);
    }
    // Now the list waits for the group: the next single seat is offered to nobody behind it.
    let fourth = &singles[MAX_WAITLIST_PASSES as usize];
    store.cancel_booking(fourth.id, Utc::now(), None).await.expect("cancel a fourth single");
    let waiting = entry_of(&store, &event, &behind[3]).await;
    assert_eq!(waiting.status, WaitlistStatus::Waiting, "not offered past the group: {waiting:?}");
    let map = seat_statuses(&store, &event, Utc::now()).await;
    assert_eq!(map[&venue.seats[3].id], SeatStatus::Available, "back on sale to everyone");

    // Two seats freed together: the group's.
    store.cancel_booking(pair.id, Utc::now(), None).await.expect("cancel the pair");
    let offer = offered_booking(&store, &event, &group, Utc::now()).await;
    assert_eq!(seats_of(&offer), BTreeSet::from([venue.seats[5].id, venue.seats[6].id]));
    // And the list moves on.
    store.cancel_booking(singles[4].id, Utc::now(), None).await.expect("cancel the last single");
    offered_booking(&store, &event, &behind[3], Utc::now()).await;
}

pub async fn a_canceled_event_makes_no_offers(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("sold out to ann");
    join(&store, &event, &bob, 1).await;
    store.cancel_event(event.id, Utc::now(), None).await.expect("cancel the event").expect("exists");
    let entry = entry_of(&store, &event, &bob).await;
    assert_eq!(entry.status, WaitlistStatus::Waiting, "no offer of a canceled event: {entry:?}");
    let bobs =
        all_reservations(&store, ReservationFilter { user_id: Some(bob.id), ..Default::default() }, Utc::now()).await;
    assert!(bobs.is_empty(), "{bobs:?}");
}

/// Seats freed by cancels running at once go to the list in its order, each seat to one entry and
/// each entry offered once.
pub async fn concurrent_cancels_offer_each_seat_once_in_the_lists_order(store: S) {
    const SEATS: usize = 6;
    let venue = fixture_grid_venue(&store, 1, SEATS as i32).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let mut bookings = Vec::new();
    for seat in 0..SEATS {
        bookings.push(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[seat])).await.expect("a single"));
    }
    let waiting = fixture_users(&store, "waiting", SEATS + 3).await;
    for user in &waiting {
        join(&store, &event, user, 1).await;
    }

    let barrier = Arc::new(Barrier::new(SEATS));
    let mut tasks = Vec::new();
    for booking in bookings {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.cancel_booking(booking.id, Utc::now(), None).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("every cancel goes through");
    }

    let now = Utc::now();
    let mut offered = BTreeSet::new();
    for user in &waiting[..SEATS] {
        let offer = offered_booking(&store, &event, user, now).await;
        assert_eq!(offer.reservations.len(), 1);
        assert!(offered.insert(offer.reservations[0].seat_id), "a seat offered twice");
    }
    assert_eq!(offered.len(), SEATS, "every freed seat offered");
    for (n, user) in waiting[SEATS..].iter().enumerate() {
        let entry = entry_of(&store, &event, user).await;
        assert_eq!((entry.status, entry.position()), (WaitlistStatus::Waiting, Some(n as u64 + 1)));
    }
    let active = all_reservations(&store, ReservationFilter { event_id: Some(event.id), ..Default::default() }, now)
        .await
        .into_iter()
        .filter(|r| r.status == ReservationStatus::Held)
        .count();
    assert_eq!(active, SEATS, "one held reservation per seat, the offers'");
}

/// A ticket type pricing the fixture tier `standard`.
fn standard_type(name: &str, price_cents: i64, quota: Option<u32>) -> TicketType {
    TicketType {
        name: name.to_owned(),
        prices: vec![Price { tier: "standard".into(), price_cents }],
        quota,
        hidden: false,
    }
}

/// A hold of the seats for `user`, each of the ticket type named beside it.
fn typed_hold(user: &User, event: &Event, seats: &[(Uuid, &str)]) -> HoldRequest {
    let ids: Vec<Uuid> = seats.iter().map(|(id, _)| *id).collect();
    let named: BTreeMap<Uuid, String> = seats.iter().map(|(id, name)| (*id, (*name).to_owned())).collect();
    HoldRequest {
        booking_id: Uuid::new_v4(),
        user_id: user.id,
        event_id: event.id,
        seats: SeatSelection::parse(ids).expect("valid seat selection").with_types(&named),
        ttl: long_ttl(),
        limit: HoldLimit::max(),
        admitted: false,
        presale: false,
        unlocked_types: Vec::new(),
        accessible: false,
    }
}

/// How many seats of `ticket_type` the store has held or sold at `now`.
async fn active_of_type(store: &S, event: &Event, ticket_type: &str, now: DateTime<Utc>) -> usize {
    let filter = ReservationFilter { event_id: Some(event.id), ..Default::default() };
    let all = all_reservations(store, filter, now).await;
    all.iter().filter(|r| r.status.is_active() && r.ticket_type == ticket_type).count()
}

/// A hold of one `member` seat, which the full quota must refuse.
async fn assert_members_full(store: &S, event: &Event, user: &User, seat: Uuid, now: DateTime<Utc>) {
    match store.hold(&typed_hold(user, event, &[(seat, "member")]), now).await {
        Err(StoreError::TypeSoldOut { ticket_type }) => assert_eq!(ticket_type, "member"),
        other => panic!("a member seat past the quota: expected TypeSoldOut, got {other:?}"),
    }
}

/// Offers are of the event's first ticket type (issue 21 × issue 20) and keep its quota, on the
/// cancel's and the sweep's paths: a seat of another type freed while the first is full is offered
/// to nobody, two seats freed with one slot free make one offer, and a seat of the first type
/// freed is offered with the slot it frees. Every cancel and sweep goes through.
pub async fn offers_keep_the_first_ticket_types_quota(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let types = vec![standard_type("member", 2000, Some(2)), standard_type("guest", 3000, None)];
    let event = fixture_event_with(&store, &venue, |event| {
        event.prices = types[0].prices.clone();
        event.ticket_types = types;
    })
    .await;
    let mut users = Vec::new();
    for name in ["ann", "bob", "cid", "dan", "eve", "fay"] {
        users.push(fixture_user(&store, name).await);
    }
    let [ann, bob, cid, dan, eve, fay] = &users[..] else { unreachable!("six users") };
    let seat = |i: usize| venue.seats[i].id;
    let t0 = Utc::now();

    // Sold out with the members' quota full: ann's member seat paid, bob's member and guest seats
    // held in one booking, cid's guest seat held.
    let anns = store.hold(&typed_hold(ann, &event, &[(seat(0), "member")]), t0).await.expect("member 1 of 2");
    let payment = checkout(&store, &anns).await.expect("checkout");
    store.confirm_payment(payment.id, "ch_member", CARD_LAST4, t0).await.expect("confirm");
    let bobs = store
        .hold(&typed_hold(bob, &event, &[(seat(1), "member"), (seat(2), "guest")]), t0)
        .await
        .expect("member 2 of 2, and a guest");
    let cids = store.hold(&typed_hold(cid, &event, &[(seat(3), "guest")]), t0).await.expect("a guest");
    join(&store, &event, dan, 1).await;
    join(&store, &event, eve, 1).await;
    assert_eq!(active_of_type(&store, &event, "member", t0).await, 2);

    // A guest seat freed while the members are full: the cancel goes through, nobody is offered
    // it (an offer is a member seat), and it is back on sale.
    store.cancel_booking(cids.id, t0, None).await.expect("the cancel goes through");
    let dans = entry_of(&store, &event, dan).await;
    assert_eq!((dans.status, dans.position()), (WaitlistStatus::Waiting, Some(1)), "no offer past the quota");
    assert_eq!(active_of_type(&store, &event, "member", t0).await, 2, "the quota kept");
    assert_eq!(seat_statuses(&store, &event, t0).await[&seat(3)], SeatStatus::Available);

    // Bob's member and guest seats freed together free one member slot: one offer, dan's, of the
    // first seat in row order; eve keeps waiting, and the guest seat is back on sale.
    store.cancel_booking(bobs.id, t0, None).await.expect("the cancel goes through");
    let offer = offered_booking(&store, &event, dan, t0).await;
    assert_eq!(seats_of(&offer), BTreeSet::from([seat(1)]));
    let offered = &offer.reservations[0];
    assert_eq!((offered.ticket_type.as_str(), offered.price_cents), ("member", 2000), "the first type, at its price");
    let eves = entry_of(&store, &event, eve).await;
    assert_eq!((eves.status, eves.passes, eves.position()), (WaitlistStatus::Waiting, 0, Some(1)));
    assert_eq!(active_of_type(&store, &event, "member", t0).await, 2, "the offer took the freed slot");
    assert_eq!(seat_statuses(&store, &event, t0).await[&seat(2)], SeatStatus::Available);
    // The store counts the offer against the quota: a member hold is refused.
    assert_members_full(&store, &event, fay, seat(3), t0).await;

    // Dan's offer lapses: the sweep that expires it offers its seat, and its slot, to eve.
    let later = t0 + Duration::minutes(OFFER_MINUTES + 1);
    assert!(store.expire_lapsed_holds(later).await.expect("the sweep goes through") >= 1, "dan's offer lapsed");
    let offer = offered_booking(&store, &event, eve, later).await;
    assert_eq!(seats_of(&offer), BTreeSet::from([seat(1)]));
    assert_eq!(offer.reservations[0].ticket_type, "member");
    assert_eq!(active_of_type(&store, &event, "member", later).await, 2, "the quota kept");
    assert_members_full(&store, &event, fay, seat(3), later).await;
}
