//! Ticket types (issue 21): each seat held is priced by its type's price for its tier, an event
//! without types sells `standard` at its prices, and a type's quota is a limit the store keeps in
//! the hold's own write, also under 200 concurrent holds: canceled and expired holds free their
//! slot, a confirmed seat keeps it.
//!
//! DynamoDB Local of January 2020 takes at most 10 items per transaction, and a typed hold of a
//! quota'd type is 3 × seats + 3 items there: the holds here are of one or two seats.

use proeventa_core::domain::{HoldLimit, HoldRequest, SeatSelection, TicketType};

use super::*;

fn priced(name: &str, standard: i64, vip: i64, quota: Option<u32>) -> TicketType {
    TicketType {
        name: name.to_owned(),
        prices: vec![
            Price { tier: "standard".into(), price_cents: standard },
            Price { tier: "vip".into(), price_cents: vip },
        ],
        quota,
        hidden: false,
    }
}

/// A venue of two rows, `A` standard and `B` vip, ten seats each.
async fn two_tier_venue(store: &S) -> VenueWithSeats {
    fixture_venue(store, &[("A", 10, "standard"), ("B", 10, "vip")]).await
}

/// The fixture event of `venue` selling `types` (the first one's prices are the event's).
async fn typed_event(store: &S, venue: &VenueWithSeats, types: Vec<TicketType>) -> Event {
    fixture_event_with(store, venue, |event| {
        event.prices = types[0].prices.clone();
        event.ticket_types = types;
    })
    .await
}

/// A hold of `seats` for `user`, each seat named in `types` being of that type.
fn typed_hold(user: &User, event: &Event, seats: &[Uuid], types: &[(Uuid, &str)], ttl: HoldTtl) -> HoldRequest {
    let named: BTreeMap<Uuid, String> = types.iter().map(|(seat, name)| (*seat, (*name).to_owned())).collect();
    HoldRequest {
        booking_id: Uuid::new_v4(),
        user_id: user.id,
        event_id: event.id,
        seats: SeatSelection::parse(seats.to_vec()).expect("valid seat selection").with_types(&named),
        ttl,
        limit: HoldLimit::max(),
        admitted: false,
        presale: false,
        unlocked_types: Vec::new(),
        accessible: false,
    }
}

/// A hold of one seat of `ticket_type`.
fn one_of(user: &User, event: &Event, seat: Uuid, ticket_type: &str, ttl: HoldTtl) -> HoldRequest {
    typed_hold(user, event, &[seat], &[(seat, ticket_type)], ttl)
}

fn assert_sold_out(result: StoreResult<Booking>, ticket_type: &str, what: &str) {
    match result {
        Err(StoreError::TypeSoldOut { ticket_type: named }) => assert_eq!(named, ticket_type, "{what}: the type named"),
        other => panic!("{what}: expected TypeSoldOut {{ {ticket_type} }}, got {other:?}"),
    }
}

pub async fn ticket_types_price_each_seat_by_type_and_tier(store: S) {
    let venue = two_tier_venue(&store).await;
    let types = vec![priced("adult", 2500, 5000, None), priced("child", 1000, 2000, Some(5))];
    let event = typed_event(&store, &venue, types.clone()).await;
    let now = Utc::now();
    let read = store.event(event.id, now).await.expect("read the event").expect("it exists");
    assert_eq!(read.ticket_types, types, "the event answers its types as given");
    let prices: BTreeMap<&str, i64> = read.prices.iter().map(|p| (p.tier.as_str(), p.price_cents)).collect();
    assert_eq!(prices, BTreeMap::from([("standard", 2500), ("vip", 5000)]), "`prices` are the first type's");

    let ann = fixture_user(&store, "ann").await;
    let (standard_seat, vip_seat, vip_child) = (venue.seats[0].id, venue.seats[10].id, venue.seats[11].id);
    // Held in two bookings: DynamoDB Local's 10 items per transaction (see above).
    let adult = store
        .hold(&typed_hold(&ann, &event, &[vip_seat], &[], long_ttl()), now)
        .await
        .expect("a seat naming no type is of the first type");
    let r = &adult.reservations[0];
    assert_eq!((r.ticket_type.as_str(), r.price_cents), ("adult", 5000), "the first type's vip price");
    let children = store
        .hold(
            &typed_hold(
                &ann,
                &event,
                &[standard_seat, vip_child],
                &[(standard_seat, "child"), (vip_child, "child")],
                long_ttl(),
            ),
            now,
        )
        .await
        .expect("two child seats");
    let priced_seats: BTreeMap<Uuid, (String, i64)> =
        children.reservations.iter().map(|r| (r.seat_id, (r.ticket_type.clone(), r.price_cents))).collect();
    assert_eq!(priced_seats[&standard_seat], ("child".to_owned(), 1000));
    assert_eq!(priced_seats[&vip_child], ("child".to_owned(), 2000));
    assert_eq!(children.total_cents, 3000, "the booking adds up its seats' type prices");
    let stored = store.booking(children.id, now).await.expect("read the booking").expect("it exists");
    assert_eq!(stored.reservations.iter().map(|r| r.ticket_type.as_str()).collect::<Vec<_>>(), ["child", "child"]);

    // A type the event does not sell is refused, and writes nothing.
    let bob = fixture_user(&store, "bob").await;
    let refused = store.hold(&one_of(&bob, &event, venue.seats[1].id, "senior", long_ttl()), now).await;
    assert!(matches!(refused, Err(StoreError::Rejected(_))), "an unknown type: {refused:?}");
    assert_eq!(seat_statuses(&store, &event, now).await[&venue.seats[1].id], SeatStatus::Available);

    // An event without types of its own sells `standard` at its prices.
    let plain = fixture_event(&store, &venue).await;
    assert_eq!(plain.ticket_types.len(), 1);
    assert_eq!(plain.ticket_types[0].name, "standard");
    assert_eq!(plain.ticket_types[0].quota, None);
    let held = hold_seats(&store, &bob, &plain, &[venue.seats[12].id]).await.expect("a plain hold");
    let r = &held.reservations[0];
    assert_eq!((r.ticket_type.as_str(), r.price_cents), ("standard", tier_price("vip")));
    let named = store.hold(&one_of(&bob, &plain, venue.seats[13].id, "standard", long_ttl()), now).await;
    assert_eq!(named.expect("`standard` named").reservations[0].ticket_type, "standard");
}

pub async fn a_type_quota_frees_canceled_and_expired_slots_and_keeps_sold_ones(store: S) {
    let venue = two_tier_venue(&store).await;
    let event =
        typed_event(&store, &venue, vec![priced("adult", 2500, 5000, None), priced("child", 1000, 2000, Some(2))])
            .await;
    let users = fixture_users(&store, "buyer", 5).await;
    let t0 = whole_millis(Utc::now());
    let at = |seconds: i64| t0 + Duration::seconds(seconds);
    let minute = HoldTtl::from_seconds(60).expect("ttl");
    let seat = |i: usize| venue.seats[i].id;

    let sold = store.hold(&one_of(&users[0], &event, seat(0), "child", long_ttl()), t0).await.expect("child 1 of 2");
    store.hold(&one_of(&users[1], &event, seat(1), "child", minute), t0).await.expect("child 2 of 2, for a minute");
    assert_sold_out(
        store.hold(&one_of(&users[2], &event, seat(2), "child", long_ttl()), at(1)).await,
        "child",
        "a third",
    );
    // The refusal wrote nothing, and other types are not limited by it.
    assert_eq!(seat_statuses(&store, &event, at(1)).await[&seat(2)], SeatStatus::Available);
    store.hold(&one_of(&users[2], &event, seat(2), "adult", long_ttl()), at(1)).await.expect("an adult seat");

    // An expired hold frees its slot.
    store.expire_lapsed_holds(at(61)).await.expect("sweep");
    let later = store.hold(&one_of(&users[3], &event, seat(3), "child", long_ttl()), at(62)).await;
    let later = later.expect("the expired hold's child slot is free again");

    // A confirmed seat keeps its slot.
    let payment = store.create_payment(new_payment(&sold, at(363)), at(63)).await.expect("checkout");
    store.confirm_payment(payment.id, "ch_child", CARD_LAST4, at(64)).await.expect("confirm");
    assert_sold_out(
        store.hold(&one_of(&users[4], &event, seat(4), "child", long_ttl()), at(65)).await,
        "child",
        "after the sale",
    );

    // A canceled hold frees its slot.
    store.cancel_booking(later.id, at(66), None).await.expect("cancel");
    let again = store.hold(&one_of(&users[4], &event, seat(4), "child", long_ttl()), at(67)).await;
    assert_eq!(again.expect("the canceled hold's slot is free").reservations[0].ticket_type, "child");
    assert_sold_out(
        store.hold(&one_of(&users[2], &event, seat(5), "child", long_ttl()), at(68)).await,
        "child",
        "full again",
    );
}

pub async fn concurrent_holds_never_exceed_a_type_quota(store: S) {
    let venue = fixture_grid_venue(&store, 10, 30).await;
    let types = vec![
        TicketType {
            name: "adult".into(),
            prices: vec![Price { tier: "standard".into(), price_cents: 3000 }],
            quota: None,
            hidden: false,
        },
        TicketType {
            name: "student".into(),
            prices: vec![Price { tier: "standard".into(), price_cents: 1500 }],
            quota: Some(50),
            hidden: false,
        },
    ];
    let event = typed_event(&store, &venue, types).await;
    let users = fixture_users(&store, "student", 200).await;

    // 200 single-seat student holds of 200 different seats at once: exactly 50 are held.
    let barrier = Arc::new(Barrier::new(users.len()));
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let request = one_of(user, &event, venue.seats[i].id, "student", long_ttl());
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // A store too busy for the rush answers `Unavailable` (a 503: try again), as a
                // client would; it wrote nothing. Only a hold or `TypeSoldOut` is an answer here.
                loop {
                    match store.hold(&request, Utc::now()).await {
                        Err(StoreError::Unavailable(_)) => tokio::time::sleep(StdDuration::from_millis(50)).await,
                        answer => break answer,
                    }
                }
            })
        })
        .collect();
    let mut held = 0;
    for task in tasks {
        match task.await.expect("racer task") {
            Ok(booking) => {
                assert_eq!((booking.reservations[0].ticket_type.as_str(), booking.total_cents), ("student", 1500));
                held += 1;
            }
            refused => assert_sold_out(refused, "student", "a student hold past the quota"),
        }
    }
    assert_eq!(held, 50, "student seats held by 200 racing holds with a quota of 50");
    let now = Utc::now();
    let filter = ReservationFilter { event_id: Some(event.id), ..Default::default() };
    let active: Vec<_> =
        all_reservations(&store, filter, now).await.into_iter().filter(|r| r.status.is_active()).collect();
    assert_eq!(active.len(), 50, "the store holds exactly the quota");
    assert!(active.iter().all(|r| r.ticket_type == "student"));

    // The other type is not limited by the sold-out one.
    let adult = store.hold(&one_of(&users[0], &event, venue.seats[250].id, "adult", long_ttl()), now).await;
    assert_eq!(adult.expect("an adult seat").reservations[0].price_cents, 3000);
}

/// A hidden type is held only when the hold's access code unlocked it (`unlocked_types`, the
/// API's check of the code): without it the store refuses the hold in the hold itself with the
/// words it has for a type the event does not sell, writing nothing; unlocked, the seat is held at
/// the hidden type's price, and the type's quota still holds.
pub async fn a_hidden_type_is_held_only_when_unlocked_and_keeps_its_quota(store: S) {
    let venue = two_tier_venue(&store).await;
    let members = TicketType { hidden: true, ..priced("members", 900, 2000, Some(1)) };
    let event = typed_event(&store, &venue, vec![priced("adult", 3000, 5000, None), members]).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let seat = |i: usize| venue.seats[i].id;
    let now = Utc::now();

    let locked = store.hold(&one_of(&ann, &event, seat(0), "members", long_ttl()), now).await;
    let unknown = store.hold(&one_of(&ann, &event, seat(0), "nosuch", long_ttl()), now).await;
    match (&locked, &unknown) {
        (Err(StoreError::Rejected(locked)), Err(StoreError::Rejected(unknown))) => {
            assert_eq!((locked.field, unknown.field), ("ticket_types", "ticket_types"));
            assert_eq!(locked.message.replace("members", "X"), unknown.message.replace("nosuch", "X"));
        }
        other => panic!("a hidden type without its code is refused as an unknown one: {other:?}"),
    }
    // Another hidden type's unlocking is no unlocking of this one.
    let elsewhere =
        HoldRequest { unlocked_types: vec!["crew".into()], ..one_of(&ann, &event, seat(0), "members", long_ttl()) };
    assert!(matches!(store.hold(&elsewhere, now).await, Err(StoreError::Rejected(_))));
    // Nothing was written.
    let filter = ReservationFilter { event_id: Some(event.id), page: page(200, 0), ..Default::default() };
    assert!(all_reservations(&store, filter, now).await.is_empty(), "no reservation");
    assert_eq!(seat_statuses(&store, &event, now).await[&seat(0)], SeatStatus::Available);

    let unlocked = |user: &User, seat: Uuid| HoldRequest {
        unlocked_types: vec!["members".into()],
        ..one_of(user, &event, seat, "members", long_ttl())
    };
    let booking = store.hold(&unlocked(&ann, seat(0)), now).await.expect("held with its code");
    let held = &booking.reservations[0];
    assert_eq!((held.ticket_type.as_str(), held.price_cents), ("members", 900));
    // Its quota of one is taken.
    assert_sold_out(store.hold(&unlocked(&bob, seat(1)), now).await, "members", "the hidden type's quota");
    // The visible type is held as ever without any code.
    store.hold(&one_of(&bob, &event, seat(1), "adult", long_ttl()), now).await.expect("an adult seat");
}
