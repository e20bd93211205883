//! The catalog: venues and their seats numbered per row, their time zones (shown on their
//! events, changed by an admin), events (read back, empty optional text, listing order and
//! filters, paging, changes and prices), and canceling an event.

use super::*;

pub async fn venue_seats_numbered_per_row_in_row_order(store: S) {
    let venue = fixture_venue(&store, &[("c", 3, "VIP"), ("A", 2, "standard"), ("B", 1, "balcony")]).await;
    let layout: Vec<(&str, i32, &str)> =
        venue.seats.iter().map(|s| (s.row.as_str(), s.seat_number, s.tier.as_str())).collect();
    assert_eq!(
        layout,
        [
            ("C", 1, "vip"),
            ("C", 2, "vip"),
            ("C", 3, "vip"),
            ("A", 1, "standard"),
            ("A", 2, "standard"),
            ("B", 1, "balcony")
        ],
        "seats are numbered 1..n per row, rows in the order given"
    );
    assert_eq!(venue.venue.seat_count, 6);
    assert_eq!((venue.venue.name.as_str(), venue.venue.location.as_str()), ("Test Hall", "Main Street 1"));
    assert_eq!(venue.venue.kind, VenueKind::Hall);
    let distinct: BTreeSet<Uuid> = venue.seats.iter().map(|s| s.id).collect();
    assert_eq!(distinct.len(), 6, "seat ids are distinct");

    let read = store.venue(venue.venue.id).await.expect("read venue").expect("venue exists");
    assert_eq!(read, venue);
    let listed = store.list_venues().await.expect("list venues");
    assert_eq!(listed, std::slice::from_ref(&venue.venue));
    let tiers = store.venue_tiers(venue.venue.id).await.expect("tiers").expect("venue exists");
    assert_eq!(tiers, BTreeSet::from(["balcony".to_owned(), "standard".to_owned(), "vip".to_owned()]));
    assert_eq!(store.venue(Uuid::new_v4()).await.expect("unknown venue"), None);
    assert_eq!(store.venue_tiers(Uuid::new_v4()).await.expect("unknown venue tiers"), None);
}

/// A venue's time zone is stored, read back on the venue and on each event's venue, listed, and
/// changed by `update_venue`, which every event of the venue then shows; a venue made without
/// one is in UTC.
pub async fn venue_time_zone_is_stored_shown_on_its_events_and_changed(store: S) {
    let madrid = TimeZone::parse("Europe/Madrid").expect("a zone");
    let tokyo = TimeZone::parse("Asia/Tokyo").expect("a zone");
    let rows = vec![SeatRow { row: "A".into(), seats: 2, tier: "standard".into() }];
    let new = NewVenue::parse("Teatro", Some("Calle Mayor 5"), VenueKind::Theatre, rows).expect("valid venue");
    let teatro = store.create_venue(new.with_time_zone(madrid)).await.expect("create venue");
    assert_eq!(teatro.venue.time_zone, madrid);
    let utc_hall = fixture_venue(&store, &[("A", 1, "standard")]).await;
    assert_eq!(utc_hall.venue.time_zone, TimeZone::UTC, "a venue made without a zone is in UTC");

    assert_eq!(store.venue(teatro.venue.id).await.expect("read").expect("exists"), teatro);
    let listed = store.list_venues().await.expect("list venues");
    let zones: Vec<(Uuid, TimeZone)> = listed.iter().map(|v| (v.id, v.time_zone)).collect();
    assert!(zones.contains(&(teatro.venue.id, madrid)) && zones.contains(&(utc_hall.venue.id, TimeZone::UTC)));

    let play = fixture_event_with(&store, &teatro, |e| e.start_time = in_days(1.0)).await;
    let other = fixture_event_with(&store, &utc_hall, |e| e.start_time = in_days(2.0)).await;
    assert_eq!((play.venue.time_zone, other.venue.time_zone), (madrid, TimeZone::UTC));
    let play_id = play.id;
    let zones_shown = move |store: S| async move {
        let read = store.event(play_id, Utc::now()).await.expect("read event").expect("exists").venue.time_zone;
        let listed = store.list_events(&EventFilter::default(), Utc::now()).await.expect("list events");
        let listed: Vec<(Uuid, TimeZone)> = listed.iter().map(|e| (e.id, e.venue.time_zone)).collect();
        (read, listed)
    };
    assert_eq!(zones_shown(store.clone()).await, (madrid, vec![(play.id, madrid), (other.id, TimeZone::UTC)]));

    let changed = store
        .update_venue(teatro.venue.id, VenueChanges { time_zone: Some(tokyo), ..Default::default() })
        .await
        .expect("change the zone")
        .expect("venue exists");
    assert_eq!(changed.venue, Venue { time_zone: tokyo, ..teatro.venue.clone() });
    assert_eq!(changed.seats, teatro.seats);
    assert_eq!(store.venue(teatro.venue.id).await.expect("read").expect("exists"), changed);
    assert_eq!(zones_shown(store.clone()).await, (tokyo, vec![(play.id, tokyo), (other.id, TimeZone::UTC)]));
    let moved = store
        .update_event(play.id, EventChanges { name: Some("Yerma".into()), ..Default::default() })
        .await
        .expect("change the event")
        .expect("event exists");
    assert_eq!(moved.venue.time_zone, tokyo, "an event changed afterwards answers with the venue's new zone");
    let later = fixture_event(&store, &teatro).await;
    assert_eq!(later.venue.time_zone, tokyo, "an event made afterwards has the venue's new zone");

    let unchanged = store.update_venue(teatro.venue.id, VenueChanges::default()).await.expect("no change");
    assert_eq!(unchanged, Some(changed));
    let unknown =
        store.update_venue(Uuid::new_v4(), VenueChanges { time_zone: Some(madrid), ..Default::default() }).await;
    assert_eq!(unknown.expect("an unknown venue is no error"), None);
}

pub async fn event_create_and_read_back(store: S) {
    let venue = fixture_venue(&store, &[("A", 3, "vip"), ("B", 4, "standard")]).await;
    let start = in_days(3.0);
    let created = fixture_event_with(&store, &venue, |e| {
        e.name = "Hamlet".into();
        e.category = Category::Theatre;
        e.description = "A Danish prince".into();
        e.image_url = Some("/img/hamlet.jpg".into());
        e.start_time = start;
        e.duration_minutes = Some(180);
        e.currency = "USD".into();
    })
    .await;
    assert_eq!(created.venue_id, venue.venue.id);
    assert_eq!(
        (created.venue.id, created.venue.name.as_str(), created.venue.location.as_str(), created.venue.kind),
        (venue.venue.id, "Test Hall", "Main Street 1", VenueKind::Hall)
    );
    assert_eq!((created.name.as_str(), created.category), ("Hamlet", Category::Theatre));
    assert_eq!(created.description, "A Danish prince");
    assert_eq!(created.image_url.as_deref(), Some("/img/hamlet.jpg"));
    assert_eq!((created.start_time, created.duration_minutes), (start, Some(180)));
    assert_eq!((created.status, created.currency.as_str()), (EventStatus::OnSale, "USD"));
    assert_eq!(sorted_prices(&created.prices), [price("standard", 1500), price("vip", 4000)]);
    assert_eq!((created.seats_total, created.seats_available), (7, 7));

    let read = store.event(created.id, Utc::now()).await.expect("read event").expect("event exists");
    assert_eq!(
        Event { prices: sorted_prices(&read.prices), ..read },
        Event { prices: sorted_prices(&created.prices), ..created.clone() }
    );
    assert_eq!(store.event(Uuid::new_v4(), Utc::now()).await.expect("unknown event"), None);

    let no_image = fixture_event_with(&store, &venue, |e| {
        e.image_url = None;
        e.duration_minutes = None;
    })
    .await;
    let read = store.event(no_image.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.image_url, read.duration_minutes), (None, None));
}

/// Optional text left empty (an account without a name, a venue without a location, an event
/// without a description, an answer without a body) is stored and read back as empty.
pub async fn empty_optional_text_round_trips(store: S) {
    let nameless = store.create_user(new_user("nameless", "")).await.expect("create user without a name");
    assert_eq!(nameless.name, "");
    assert_eq!(store.user(nameless.id).await.expect("read user"), Some(nameless.clone()));
    let ann = fixture_user(&store, "ann").await;
    let cleared = store
        .update_user(ann.id, UserChanges { name: Some(String::new()), ..Default::default() })
        .await
        .expect("clear the name")
        .expect("ann exists");
    assert_eq!(cleared.name, "");
    assert_eq!(store.user(ann.id).await.expect("read").expect("ann exists").name, "");

    let rows = vec![SeatRow { row: "A".into(), seats: 2, tier: "standard".into() }];
    let venue = NewVenue::parse("Barn", None, VenueKind::Other, rows).expect("valid venue");
    let venue = store.create_venue(venue).await.expect("create venue without a location");
    assert_eq!(venue.venue.location, "");
    assert_eq!(store.venue(venue.venue.id).await.expect("read venue"), Some(venue.clone()));

    let event = fixture_event_with(&store, &venue, |e| e.description = String::new()).await;
    assert_eq!((event.description.as_str(), event.venue.location.as_str()), ("", ""));
    let read = store.event(event.id, Utc::now()).await.expect("read event").expect("event exists");
    assert_eq!((read.description.as_str(), read.venue.location.as_str()), ("", ""));
    let described = fixture_event(&store, &venue).await;
    let cleared = store
        .update_event(described.id, EventChanges { description: Some(String::new()), ..Default::default() })
        .await
        .expect("clear the description")
        .expect("event exists");
    assert_eq!(cleared.description, "");
    let read = store.event(described.id, Utc::now()).await.expect("read event").expect("event exists");
    assert_eq!(read.description, "");

    assert_eq!(
        store.claim_idempotency_key(ann.id, "key-1", "hash", Utc::now()).await.expect("claim"),
        IdempotencyClaim::Claimed
    );
    store.complete_idempotency_key(ann.id, "key-1", 204, "").await.expect("complete with an empty body");
    assert_eq!(
        store.claim_idempotency_key(ann.id, "key-1", "hash", Utc::now()).await.expect("claim again"),
        IdempotencyClaim::Replay { status: 204, body: String::new() }
    );
}

fn price(tier: &str, price_cents: i64) -> Price {
    Price { tier: tier.to_owned(), price_cents }
}

fn sorted_prices(prices: &[Price]) -> Vec<Price> {
    let mut prices = prices.to_vec();
    prices.sort_by(|a, b| a.tier.cmp(&b.tier));
    prices
}

pub async fn list_events_soonest_first_hides_past_and_canceled(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let day3 = fixture_event_with(&store, &venue, |e| e.start_time = in_days(3.0)).await;
    let day1 = fixture_event_with(&store, &venue, |e| e.start_time = in_days(1.0)).await;
    let day2 = fixture_event_with(&store, &venue, |e| e.start_time = in_days(2.0)).await;
    let started = fixture_event_with(&store, &venue, |e| e.start_time = in_days(1.5)).await;
    let past_start = in_days(-0.5);
    let moved = store
        .update_event(started.id, EventChanges { start_time: Some(past_start), ..Default::default() })
        .await
        .expect("move start into the past")
        .expect("event exists");
    assert_eq!(moved.start_time, past_start);
    let canceled = fixture_event_with(&store, &venue, |e| e.start_time = in_days(2.5)).await;
    let cancellation = store.cancel_event(canceled.id, Utc::now(), None).await.expect("cancel").expect("event exists");
    assert!(cancellation.refunds.is_empty(), "nothing was paid: {:?}", cancellation.refunds);

    let upcoming = store.list_events(&EventFilter::default(), Utc::now()).await.expect("list");
    assert_eq!(ids(&upcoming, |e| e.id), [day1.id, day2.id, day3.id], "soonest first, no past or canceled");

    let everything = EventFilter { include_past: true, ..Default::default() };
    let all = store.list_events(&everything, Utc::now()).await.expect("list with past");
    assert_eq!(ids(&all, |e| e.id), [started.id, day1.id, day2.id, canceled.id, day3.id]);
    let canceled_row = all.iter().find(|e| e.id == canceled.id).expect("canceled is listed");
    assert_eq!(canceled_row.status, EventStatus::Canceled);
}

pub async fn list_events_filters_and_pages(store: S) {
    let hall = fixture_grid_venue(&store, 1, 4).await;
    let cinema = fixture_venue(&store, &[("A", 2, "standard")]).await;
    let hamlet = fixture_event_with(&store, &hall, |e| {
        e.name = "Hamlet".into();
        e.description = "A Danish prince takes revenge".into();
        e.category = Category::Theatre;
        e.start_time = in_days(1.0);
    })
    .await;
    let movie = fixture_event_with(&store, &cinema, |e| {
        e.name = "Space Movie".into();
        e.description = "Stars and ships".into();
        e.category = Category::Movie;
        e.start_time = in_days(2.0);
    })
    .await;
    let gig = fixture_event_with(&store, &hall, |e| {
        e.name = "Jazz Night".into();
        e.description = "Saxophones and a PRINCELY piano".into();
        e.category = Category::Concert;
        e.start_time = in_days(3.0);
    })
    .await;
    let late_movie = fixture_event_with(&store, &cinema, |e| {
        e.name = "Space Movie".into();
        e.description = "Late showing".into();
        e.category = Category::Movie;
        e.start_time = in_days(4.0);
    })
    .await;
    let now = Utc::now();
    let list = |filter: EventFilter| {
        let store = store.clone();
        async move { ids(&store.list_events(&filter, now).await.expect("list events"), |e| e.id) }
    };

    assert_eq!(
        list(EventFilter { category: Some(Category::Movie), ..Default::default() }).await,
        [movie.id, late_movie.id]
    );
    assert_eq!(list(EventFilter { venue_id: Some(hall.venue.id), ..Default::default() }).await, [hamlet.id, gig.id]);
    assert_eq!(list(EventFilter { text: Some("hAmLeT".into()), ..Default::default() }).await, [hamlet.id]);
    assert_eq!(
        list(EventFilter { text: Some("prince".into()), ..Default::default() }).await,
        [hamlet.id, gig.id],
        "text matches the description too, case-insensitively"
    );
    assert!(list(EventFilter { text: Some("zzz".into()), ..Default::default() }).await.is_empty());
    assert_eq!(
        list(EventFilter { from: Some(in_days(1.5)), ..Default::default() }).await,
        [movie.id, gig.id, late_movie.id]
    );
    assert_eq!(list(EventFilter { to: Some(in_days(3.5)), ..Default::default() }).await, [hamlet.id, movie.id, gig.id]);
    assert_eq!(
        list(EventFilter { from: Some(in_days(1.5)), to: Some(in_days(3.5)), ..Default::default() }).await,
        [movie.id, gig.id]
    );
    assert_eq!(
        list(EventFilter { category: Some(Category::Movie), from: Some(in_days(2.5)), ..Default::default() }).await,
        [late_movie.id],
        "filters combine"
    );
    assert_eq!(list(EventFilter { page: page(2, 1), ..Default::default() }).await, [movie.id, gig.id]);
    assert_eq!(list(EventFilter { page: page(2, 3), ..Default::default() }).await, [late_movie.id]);
}

pub async fn update_event_changes_fields_and_prices(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let before = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold before the change");

    let start = in_days(10.0);
    let changes = EventChanges {
        name: Some("Renamed".into()),
        category: Some(Category::Comedy),
        description: Some("Now funny".into()),
        image_url: Some(Some("https://example.com/x.png".into())),
        start_time: Some(start),
        duration_minutes: Some(Some(90)),
        currency: Some("GBP".into()),
        prices: Some(vec![price("standard", 999), price("vip", 5555)]),
        ticket_types: None,
        poster: None,
        on_sale_at: None,
        queue: None,
        accessible_release_hours: None,
        actor: None,
    };
    let updated = store.update_event(event.id, changes).await.expect("update").expect("event exists");
    assert_eq!(
        (updated.name.as_str(), updated.category, updated.description.as_str()),
        ("Renamed", Category::Comedy, "Now funny")
    );
    assert_eq!(updated.image_url.as_deref(), Some("https://example.com/x.png"));
    assert_eq!((updated.start_time, updated.duration_minutes, updated.currency.as_str()), (start, Some(90), "GBP"));
    assert_eq!(sorted_prices(&updated.prices), [price("standard", 999), price("vip", 5555)]);
    assert_eq!((updated.seats_total, updated.seats_available), (4, 3));

    let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(sorted_prices(&read.prices), [price("standard", 999), price("vip", 5555)], "prices are replaced");
    assert_eq!((read.name.as_str(), read.start_time), ("Renamed", start));

    let map = store.seat_map(event.id, Utc::now()).await.expect("seat map").expect("exists");
    let seat_prices: Vec<i64> = map.iter().map(|s| s.price_cents).collect();
    assert_eq!(seat_prices, [5555, 5555, 999, 999], "the seat map charges the new prices");
    let kept = store.reservation(before.reservations[0].id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(kept.price_cents, 4000, "a hold taken before keeps the price it was taken at");

    let cleared = store
        .update_event(
            event.id,
            EventChanges { image_url: Some(None), duration_minutes: Some(None), ..Default::default() },
        )
        .await
        .expect("clear optional fields")
        .expect("exists");
    assert_eq!((cleared.image_url, cleared.duration_minutes), (None, None));
    assert_eq!(cleared.name, "Renamed", "fields left out stay as they are");

    let unknown = store
        .update_event(Uuid::new_v4(), EventChanges { name: Some("Ghost".into()), ..Default::default() })
        .await
        .expect("update unknown");
    assert_eq!(unknown, None);
}

pub async fn cancel_event_cancels_its_holds_only(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let doomed = fixture_event(&store, &venue).await;
    let other = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let ann_booking = hold_seats(&store, &ann, &doomed, &seat_ids(&venue, &[0, 1])).await.expect("ann holds");
    let bob_booking = hold_seats(&store, &bob, &doomed, &seat_ids(&venue, &[2])).await.expect("bob holds");
    let elsewhere = hold_seats(&store, &ann, &other, &seat_ids(&venue, &[0])).await.expect("hold other event");

    let cancellation = store.cancel_event(doomed.id, Utc::now(), None).await.expect("cancel event").expect("exists");
    assert_eq!((cancellation.canceled.id, cancellation.canceled.status), (doomed.id, EventStatus::Canceled));
    assert!(cancellation.refunds.is_empty(), "held seats were never paid: {:?}", cancellation.refunds);
    let read = store.event(doomed.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(read.status, EventStatus::Canceled);

    let now = Utc::now();
    for booking in [&ann_booking, &bob_booking] {
        for r in &booking.reservations {
            let r = store.reservation(r.id, now).await.expect("read").expect("exists");
            assert_eq!(r.status, ReservationStatus::Canceled, "held seats of a canceled event are canceled");
        }
        let b = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!(b.status, ReservationStatus::Canceled);
    }
    let map = seat_statuses(&store, &doomed, now).await;
    assert!(map.values().all(|s| *s == SeatStatus::Available), "every seat of a canceled event is free: {map:?}");

    let untouched = store.reservation(elsewhere.reservations[0].id, now).await.expect("read").expect("exists");
    assert_eq!(untouched.status, ReservationStatus::Held, "other events' holds are left alone");
    let other_map = seat_statuses(&store, &other, now).await;
    assert_eq!(other_map[&venue.seats[0].id], SeatStatus::Held);

    assert_eq!(store.cancel_event(Uuid::new_v4(), Utc::now(), None).await.expect("cancel unknown"), None);
}
