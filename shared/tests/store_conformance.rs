//! Storage conformance: one set of test bodies, run on every backend, proves each keeps the same
//! promises as the store traits' doc comments, above all the one hard promise: no seat ever has
//! two active reservations, whatever the concurrency, and a lapsed hold never blocks a seat.
//!
//! The bodies live in `cases`; `backend_tests!` expands every one of them into a module per
//! backend, so the tests read `sqlite::hold_all_or_nothing`, `postgres::hold_all_or_nothing`.
//! A new backend is one more `backend_tests!` line with a function that opens a fresh store.

mod support;

/// Generates one `#[tokio::test]` per case for a backend; `concurrent` cases run on four workers.
/// A case left out of these lists is a function never used, which `clippy -D warnings` refuses.
macro_rules! backend_tests {
    ($backend:ident, $open:path) => {
        mod $backend {
            backend_tests!(@each $open, [tokio::test], [
                user_create_and_read_back,
                user_duplicate_email_is_email_taken,
                user_with_password_hash_finds_by_email,
                update_user_changes_fields,
                list_users_query_and_paging_oldest_first,
                venue_seats_numbered_per_row_in_row_order,
                event_create_and_read_back,
                empty_optional_text_round_trips,
                list_events_soonest_first_hides_past_and_canceled,
                list_events_filters_and_pages,
                update_event_changes_fields_and_prices,
                cancel_event_cancels_its_holds_only,
                seat_map_shows_available_and_held,
                lapsed_hold_is_available_and_expired_before_any_sweep,
                hold_single_seat,
                hold_multi_seat_booking,
                hold_all_or_nothing,
                hold_unknown_event_is_not_found,
                hold_seat_of_other_venue_is_rejected,
                hold_on_canceled_event_is_rejected,
                hold_on_started_event_is_rejected,
                lapsed_hold_is_reheld_by_another_user,
                cancel_held_reservation_frees_seat_at_once,
                cancel_lapsed_hold_is_invalid_state,
                cancel_unknown_is_not_found,
                cancel_booking_cancels_all_active_seats,
                list_reservations_newest_first_with_filters,
                expire_lapsed_holds_counts_each_once,
                idempotency_claim_inflight_replay_mismatch,
                idempotency_release_makes_key_claimable,
                idempotency_keys_are_per_user,
                idempotency_record_lapses_after_a_day,
                checkout_opens_pending_payment_and_extends_hold,
                checkout_amount_counts_held_seats_only,
                checkout_twice_is_invalid_state,
                checkout_of_lapsed_hold_is_hold_expired,
                checkout_of_canceled_booking_is_invalid_state,
                checkout_of_unknown_booking_is_not_found,
                confirm_payment_confirms_every_seat_and_sells_them,
                confirm_twice_is_invalid_state,
                confirm_after_lapse_with_seats_free_succeeds,
                confirm_after_lapse_and_seat_reheld_is_hold_expired,
                fail_payment_only_from_pending,
                cancel_confirmed_seats_refunds_their_price,
                cancel_event_refunds_every_paid_booking_of_it_only,
                cancel_of_held_seats_refunds_nothing,
                confirm_after_a_seat_was_canceled_is_invalid_state_whatever_its_clock,
                record_refund_caps_at_the_amount,
                record_refund_of_unpaid_payment_is_invalid_state,
                webhook_events_are_recorded_once_until_forgotten,
                list_payments_newest_first_per_user,
            ]);
            backend_tests!(@each $open, [tokio::test(flavor = "multi_thread", worker_threads = 4)], [
                concurrent_signups_same_email_one_wins,
                concurrent_expiry_runs_count_once,
                concurrent_idempotency_claims_one_wins,
                concurrent_holds_one_winner_per_seat,
                concurrent_holds_with_lapsing_holds,
                concurrent_confirm_sweeper_and_rehold,
                concurrent_confirm_and_cancel,
            ]);
        }
    };
    (@each $open:path, [$attr:meta], [$($case:ident),* $(,)?]) => {
        $(
            #[$attr]
            async fn $case() {
                let test_store = $open().await;
                super::cases::$case(test_store.store()).await;
            }
        )*
    };
}

backend_tests!(sqlite, crate::support::sqlite_store);
backend_tests!(postgres, crate::support::postgres_store);
backend_tests!(dynamodb, crate::support::dynamodb_store);

mod cases {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration as StdDuration;

    use chrono::{DateTime, Duration, Utc};
    use proeventa_core::domain::{
        Booking, Category, Email, Event, EventChanges, EventFilter, EventStatus, HoldTtl, NewVenue, Page, Payment,
        PaymentStatus, Price, Refund, ReservationFilter, ReservationStatus, Role, SeatRow, SeatStatus, User,
        UserChanges, VenueKind, VenueWithSeats,
    };
    use proeventa_core::store::{IdempotencyClaim, Store, StoreError};
    use tokio::sync::Barrier;
    use uuid::Uuid;

    use crate::support::*;

    type S = Arc<dyn Store>;

    fn page(limit: i64, offset: i64) -> Page {
        Page { limit, offset }
    }

    fn ids<T>(items: &[T], id: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
        items.iter().map(id).collect()
    }

    fn close_in_time(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        (a - b).num_milliseconds().abs() <= 1000
    }

    // ---------------------------------------------------------------------------------------
    // Users
    // ---------------------------------------------------------------------------------------

    pub async fn user_create_and_read_back(store: S) {
        let before = Utc::now();
        let created = store.create_user(new_user("ann", "Ann Smith")).await.expect("create user");
        assert_eq!(created.email, "ann@example.com");
        assert_eq!(created.name, "Ann Smith");
        assert_eq!(created.role, Role::Customer);
        assert!(!created.disabled);
        assert!(close_in_time(created.created_at, before), "created_at {} is not about now", created.created_at);

        let read = store.user(created.id).await.expect("read user").expect("user exists");
        assert_eq!(
            (&read.email, &read.name, read.role, read.disabled),
            (&created.email, &created.name, created.role, created.disabled)
        );
        assert_eq!(read.id, created.id);
        assert!(close_in_time(read.created_at, created.created_at));
        assert_eq!(
            store.password_hash(created.id).await.expect("password hash").as_deref(),
            Some("$argon2id$fake$ann")
        );
        assert_eq!(store.user(Uuid::new_v4()).await.expect("read unknown user"), None);
        assert_eq!(store.password_hash(Uuid::new_v4()).await.expect("hash of unknown user"), None);
    }

    pub async fn user_duplicate_email_is_email_taken(store: S) {
        fixture_user(&store, "ann").await;
        let mut again = new_user("ann", "Another Ann");
        again.email = Email::parse("  ANN@Example.com ").expect("valid e-mail");
        let err = expect_err(store.create_user(again).await, "second signup with the same e-mail");
        assert!(matches!(err, StoreError::EmailTaken), "expected EmailTaken, got {err:?}");
        let users = store.list_users(None, Page::default()).await.expect("list users");
        assert_eq!(users.len(), 1, "the refused signup left an account behind");
    }

    pub async fn concurrent_signups_same_email_one_wins(store: S) {
        let barrier = Arc::new(Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create_user(new_user("race", &format!("Racer {i}"))).await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.expect("signup task") {
                Ok(_) => won += 1,
                Err(StoreError::EmailTaken) => {}
                Err(other) => panic!("a losing signup must be EmailTaken, got {other:?}"),
            }
        }
        assert_eq!(won, 1, "exactly one of 20 concurrent signups must win");
        let users = store.list_users(None, Page::default()).await.expect("list users");
        assert_eq!(users.len(), 1);
    }

    pub async fn user_with_password_hash_finds_by_email(store: S) {
        let ann = fixture_user(&store, "ann").await;
        fixture_user(&store, "bob").await;
        let email = Email::parse("Ann@Example.com").expect("valid e-mail");
        let (user, hash) = store.user_with_password_hash(&email).await.expect("lookup").expect("ann exists");
        assert_eq!(user.id, ann.id);
        assert_eq!(hash, "$argon2id$fake$ann");
        let nobody = Email::parse("nobody@example.com").expect("valid e-mail");
        assert!(store.user_with_password_hash(&nobody).await.expect("lookup").is_none());
    }

    pub async fn update_user_changes_fields(store: S) {
        let ann = fixture_user(&store, "ann").await;
        let renamed = store
            .update_user(ann.id, UserChanges { name: Some("Ann Jones".into()), ..Default::default() })
            .await
            .expect("rename")
            .expect("ann exists");
        assert_eq!(renamed.name, "Ann Jones");
        assert_eq!((renamed.role, renamed.disabled, &renamed.email), (Role::Customer, false, &ann.email));

        let promoted = store
            .update_user(ann.id, UserChanges { role: Some(Role::Admin), disabled: Some(true), ..Default::default() })
            .await
            .expect("promote and disable")
            .expect("ann exists");
        assert_eq!((promoted.role, promoted.disabled, promoted.name.as_str()), (Role::Admin, true, "Ann Jones"));

        let rehashed = store
            .update_user(ann.id, UserChanges { password_hash: Some("new-hash".into()), ..Default::default() })
            .await
            .expect("new password")
            .expect("ann exists");
        assert_eq!((rehashed.role, rehashed.disabled), (Role::Admin, true), "unchanged fields must stay");
        assert_eq!(store.password_hash(ann.id).await.expect("hash").as_deref(), Some("new-hash"));

        let read = store.user(ann.id).await.expect("read").expect("ann exists");
        assert_eq!((read.name.as_str(), read.role, read.disabled), ("Ann Jones", Role::Admin, true));

        let unknown = store
            .update_user(Uuid::new_v4(), UserChanges { name: Some("Ghost".into()), ..Default::default() })
            .await
            .expect("update unknown");
        assert_eq!(unknown, None);
    }

    pub async fn list_users_query_and_paging_oldest_first(store: S) {
        let mut created = Vec::new();
        for (handle, name) in [
            ("ann", "Ann Smith"),
            ("bob", "Bob Jones"),
            ("cara", "Cara SMITHSON"),
            ("dan", "Dan Brown"),
            ("eve", "Eve"),
        ] {
            created.push(store.create_user(new_user(handle, name)).await.expect("create user"));
            tick().await;
        }
        let all = store.list_users(None, Page::default()).await.expect("list");
        assert_eq!(ids(&all, |u| u.id), ids(&created, |u| u.id), "accounts must list oldest first");

        let smiths = store.list_users(Some("sMiTh"), Page::default()).await.expect("query by name");
        let names: Vec<&str> = smiths.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["Ann Smith", "Cara SMITHSON"], "query matches names case-insensitively");

        let by_email = store.list_users(Some("BOB@EXAMPLE"), Page::default()).await.expect("query by e-mail");
        assert_eq!(ids(&by_email, |u| u.id), [created[1].id], "query matches e-mails case-insensitively");

        let paged = store.list_users(None, page(2, 1)).await.expect("page");
        assert_eq!(ids(&paged, |u| u.id), [created[1].id, created[2].id]);
        let last = store.list_users(None, page(2, 4)).await.expect("last page");
        assert_eq!(ids(&last, |u| u.id), [created[4].id]);
        assert!(store.list_users(None, page(2, 5)).await.expect("past the end").is_empty());
        let paged_query = store.list_users(Some("smith"), page(1, 1)).await.expect("paged query");
        assert_eq!(ids(&paged_query, |u| u.id), [created[2].id]);
    }

    // ---------------------------------------------------------------------------------------
    // Catalog
    // ---------------------------------------------------------------------------------------

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
        let cancellation = store.cancel_event(canceled.id, Utc::now()).await.expect("cancel").expect("event exists");
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
        assert_eq!(
            list(EventFilter { venue_id: Some(hall.venue.id), ..Default::default() }).await,
            [hamlet.id, gig.id]
        );
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
        assert_eq!(
            list(EventFilter { to: Some(in_days(3.5)), ..Default::default() }).await,
            [hamlet.id, movie.id, gig.id]
        );
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

        let cancellation = store.cancel_event(doomed.id, Utc::now()).await.expect("cancel event").expect("exists");
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

        assert_eq!(store.cancel_event(Uuid::new_v4(), Utc::now()).await.expect("cancel unknown"), None);
    }

    // ---------------------------------------------------------------------------------------
    // Seat map
    // ---------------------------------------------------------------------------------------

    pub async fn seat_map_shows_available_and_held(store: S) {
        let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 3, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let map = store.seat_map(event.id, Utc::now()).await.expect("seat map").expect("known event");
        let layout: Vec<(Uuid, &str, i32, &str, i64)> =
            map.iter().map(|s| (s.seat_id, s.row.as_str(), s.seat_number, s.tier.as_str(), s.price_cents)).collect();
        let expected: Vec<(Uuid, &str, i32, &str, i64)> = venue
            .seats
            .iter()
            .map(|s| (s.id, s.row.as_str(), s.seat_number, s.tier.as_str(), tier_price(&s.tier)))
            .collect();
        assert_eq!(layout, expected, "the seat map lists every seat row by row with its tier's price");
        assert!(map.iter().all(|s| s.status == SeatStatus::Available));

        let ann = fixture_user(&store, "ann").await;
        hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1, 3])).await.expect("hold");
        let now = Utc::now();
        let statuses: Vec<SeatStatus> =
            store.seat_map(event.id, now).await.expect("seat map").expect("known").iter().map(|s| s.status).collect();
        use SeatStatus::{Available as A, Held as H};
        assert_eq!(statuses, [A, H, A, H, A]);
        let read = store.event(event.id, now).await.expect("read").expect("exists");
        assert_eq!((read.seats_total, read.seats_available), (5, 3));
        assert_eq!(store.seat_map(Uuid::new_v4(), now).await.expect("unknown event"), None);
    }

    pub async fn lapsed_hold_is_available_and_expired_before_any_sweep(store: S) {
        let venue = fixture_grid_venue(&store, 1, 3).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
        assert_eq!(booking.status, ReservationStatus::Held);
        let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!(read.seats_available, 1);

        sleep_past(booking.expires_at).await;
        let now = Utc::now();
        let map = seat_statuses(&store, &event, now).await;
        assert!(map.values().all(|s| *s == SeatStatus::Available), "a lapsed hold frees its seats at once: {map:?}");
        for r in &booking.reservations {
            let r = store.reservation(r.id, now).await.expect("read").expect("exists");
            assert_eq!(r.status, ReservationStatus::Expired, "a lapsed hold reads expired before any sweep");
        }
        let b = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!(b.status, ReservationStatus::Expired);
        assert_eq!(b.total_cents, 0, "an expired booking holds nothing");
        let read = store.event(event.id, now).await.expect("read").expect("exists");
        assert_eq!(read.seats_available, 3, "seats_available counts lapsed holds as free");
    }

    // ---------------------------------------------------------------------------------------
    // Holds
    // ---------------------------------------------------------------------------------------

    pub async fn hold_single_seat(store: S) {
        let venue = fixture_venue(&store, &[("A", 2, "vip")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let seat = &venue.seats[1];
        let now = Utc::now();
        let request = hold_request(&ann, &event, &[seat.id], long_ttl());
        let booking = store.hold(&request, now).await.expect("hold one seat");
        assert_eq!((booking.id, booking.user_id, booking.event_id), (request.booking_id, ann.id, event.id));
        assert_eq!(
            (booking.status, booking.total_cents, booking.currency.as_str()),
            (ReservationStatus::Held, 4000, "EUR")
        );
        assert_eq!(booking.reservations.len(), 1);
        let r = &booking.reservations[0];
        assert_eq!((r.booking_id, r.user_id, r.event_id, r.seat_id), (booking.id, ann.id, event.id, seat.id));
        assert_eq!((r.seat.row.as_str(), r.seat.seat_number, r.seat.tier.as_str()), ("A", 2, "vip"));
        assert_eq!((r.price_cents, r.currency.as_str(), r.status), (4000, "EUR", ReservationStatus::Held));
        assert!(close_in_time(r.expires_at, now + Duration::seconds(600)), "expires_at {} != now + ttl", r.expires_at);

        let read = store.reservation(r.id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!(
            (read.id, read.seat_id, read.status, read.price_cents),
            (r.id, seat.id, ReservationStatus::Held, 4000)
        );
        let read_booking = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!(ids(&read_booking.reservations, |r| r.id), [r.id]);
        assert_eq!((read_booking.status, read_booking.total_cents), (ReservationStatus::Held, 4000));
        assert_eq!(store.reservation(Uuid::new_v4(), Utc::now()).await.expect("unknown"), None);
        assert_eq!(store.booking(Uuid::new_v4(), Utc::now()).await.expect("unknown"), None);
    }

    pub async fn hold_multi_seat_booking(store: S) {
        let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 3, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let wanted = seat_ids(&venue, &[0, 2, 4]);
        let now = Utc::now();
        let ttl = HoldTtl::from_seconds(300).expect("ttl");
        let booking = store.hold(&hold_request(&ann, &event, &wanted, ttl), now).await.expect("hold three seats");
        assert_eq!(booking.status, ReservationStatus::Held);
        assert_eq!(booking.total_cents, 4000 + 1500 + 1500, "total is the sum of the seats' tier prices");
        assert!(
            close_in_time(booking.expires_at, now + Duration::seconds(300)),
            "expires_at {} != now + ttl",
            booking.expires_at
        );
        let got: BTreeSet<Uuid> = booking.reservations.iter().map(|r| r.seat_id).collect();
        assert_eq!(got, wanted.iter().copied().collect::<BTreeSet<_>>());
        assert!(booking.reservations.iter().all(|r| r.status == ReservationStatus::Held && r.booking_id == booking.id));

        let read = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!((read.status, read.total_cents, read.reservations.len()), (ReservationStatus::Held, 7000, 3));
    }

    pub async fn hold_all_or_nothing(store: S) {
        let venue = fixture_grid_venue(&store, 2, 3).await;
        let event = fixture_event(&store, &venue).await;
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let taken = &venue.seats[4];
        hold_seats(&store, &ann, &event, &[taken.id]).await.expect("ann holds B2");

        let attempt = hold_request(&bob, &event, &seat_ids(&venue, &[0, 4, 5]), long_ttl());
        let err = expect_err(store.hold(&attempt, Utc::now()).await, "hold including a taken seat");
        let StoreError::SeatsUnavailable(labels) = err else { panic!("expected SeatsUnavailable, got {err:?}") };
        assert!(
            labels.iter().any(|l| l.row == taken.row && l.seat_number == taken.seat_number),
            "the error must name the taken seat {}{}: {labels:?}",
            taken.row,
            taken.seat_number
        );

        let now = Utc::now();
        let bobs =
            all_reservations(&store, ReservationFilter { user_id: Some(bob.id), ..Default::default() }, now).await;
        assert!(bobs.is_empty(), "a failed hold leaves no reservation: {bobs:?}");
        assert_eq!(store.booking(attempt.booking_id, now).await.expect("read"), None, "nor a booking");

        // A single-seat hold that lost (PostgreSQL places those without a transaction) writes nothing either.
        let single = hold_request(&bob, &event, &[taken.id], long_ttl());
        let err = expect_err(store.hold(&single, Utc::now()).await, "single-seat hold of a taken seat");
        assert!(matches!(err, StoreError::SeatsUnavailable(_)), "expected SeatsUnavailable, got {err:?}");
        assert_eq!(
            store.booking(single.booking_id, now).await.expect("read"),
            None,
            "a lost single seat leaves no booking"
        );

        let map = seat_statuses(&store, &event, now).await;
        assert_eq!(map[&venue.seats[0].id], SeatStatus::Available);
        assert_eq!(map[&venue.seats[5].id], SeatStatus::Available);
        assert_eq!(map[&taken.id], SeatStatus::Held);
        let read = store.event(event.id, now).await.expect("read").expect("exists");
        assert_eq!(read.seats_available, 5);
        hold_seats(&store, &bob, &event, &seat_ids(&venue, &[0, 5])).await.expect("the free seats can still be held");
    }

    pub async fn hold_unknown_event_is_not_found(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let ann = fixture_user(&store, "ann").await;
        let mut request = hold_request(&ann, &fixture_event(&store, &venue).await, &seat_ids(&venue, &[0]), long_ttl());
        request.event_id = Uuid::new_v4();
        let err = expect_err(store.hold(&request, Utc::now()).await, "hold for an unknown event");
        assert!(matches!(err, StoreError::NotFound), "expected NotFound, got {err:?}");
    }

    pub async fn hold_seat_of_other_venue_is_rejected(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let elsewhere = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        for (what, seats) in [
            ("a seat of another venue", vec![venue.seats[0].id, elsewhere.seats[0].id]),
            ("a seat that does not exist", vec![Uuid::new_v4()]),
        ] {
            let err = expect_err(hold_seats(&store, &ann, &event, &seats).await, what);
            match err {
                StoreError::Rejected(invalid) => {
                    assert_eq!(invalid.field, "seat_ids", "{what}: {invalid}")
                }
                other => panic!("{what}: expected Rejected, got {other:?}"),
            }
        }
        let mine =
            all_reservations(&store, ReservationFilter { user_id: Some(ann.id), ..Default::default() }, Utc::now())
                .await;
        assert!(mine.is_empty(), "a rejected hold leaves no reservation");
    }

    pub async fn hold_on_canceled_event_is_rejected(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let cancellation = store.cancel_event(event.id, Utc::now()).await.expect("cancel").expect("exists");
        assert_eq!(cancellation.canceled.status, EventStatus::Canceled);
        assert!(cancellation.refunds.is_empty(), "nothing was paid: {:?}", cancellation.refunds);
        let err =
            expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await, "hold on a canceled event");
        assert!(matches!(err, StoreError::Rejected(_)), "expected Rejected, got {err:?}");
    }

    pub async fn hold_on_started_event_is_rejected(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        store
            .update_event(event.id, EventChanges { start_time: Some(in_days(-0.01)), ..Default::default() })
            .await
            .expect("move the start into the past")
            .expect("exists");
        let err =
            expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await, "hold on a started event");
        assert!(matches!(err, StoreError::Rejected(_)), "expected Rejected, got {err:?}");
    }

    pub async fn lapsed_hold_is_reheld_by_another_user(store: S) {
        let venue = fixture_grid_venue(&store, 1, 3).await;
        let event = fixture_event(&store, &venue).await;
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let old = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
        sleep_past(old.expires_at).await;

        let new =
            hold_seats(&store, &bob, &event, &seat_ids(&venue, &[1, 2])).await.expect("a lapsed hold never blocks");
        assert_eq!(new.status, ReservationStatus::Held);
        let now = Utc::now();
        for r in &old.reservations {
            let r = store.reservation(r.id, now).await.expect("read").expect("exists");
            assert_eq!(r.status, ReservationStatus::Expired);
        }
        let old_booking = store.booking(old.id, now).await.expect("read").expect("exists");
        assert_eq!(old_booking.status, ReservationStatus::Expired);
        let held = all_reservations(
            &store,
            ReservationFilter { event_id: Some(event.id), status: Some(ReservationStatus::Held), ..Default::default() },
            now,
        )
        .await;
        assert_eq!(
            held.iter().map(|r| r.id).collect::<BTreeSet<_>>(),
            new.reservations.iter().map(|r| r.id).collect::<BTreeSet<_>>()
        );
        let map = seat_statuses(&store, &event, now).await;
        let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
        assert_eq!(statuses, [SeatStatus::Available, SeatStatus::Held, SeatStatus::Held]);
    }

    // ---------------------------------------------------------------------------------------
    // Cancel
    // ---------------------------------------------------------------------------------------

    pub async fn cancel_held_reservation_frees_seat_at_once(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
        let id = booking.reservations[0].id;

        let cancellation = store.cancel_reservation(id, Utc::now()).await.expect("cancel");
        let canceled = &cancellation.canceled;
        assert_eq!((canceled.id, canceled.status), (id, ReservationStatus::Canceled));
        assert!(cancellation.refunds.is_empty(), "a held seat was never paid: {:?}", cancellation.refunds);
        let now = Utc::now();
        assert_eq!(
            store.reservation(id, now).await.expect("read").expect("exists").status,
            ReservationStatus::Canceled
        );
        assert_eq!(seat_statuses(&store, &event, now).await[&venue.seats[0].id], SeatStatus::Available);
        hold_seats(&store, &bob, &event, &seat_ids(&venue, &[0])).await.expect("the seat is free at once");

        let err = expect_err(store.cancel_reservation(id, Utc::now()).await, "second cancel");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    }

    pub async fn cancel_lapsed_hold_is_invalid_state(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
        sleep_past(booking.expires_at).await;
        let err =
            expect_err(store.cancel_reservation(booking.reservations[0].id, Utc::now()).await, "cancel a lapsed hold");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let err = expect_err(store.cancel_booking(booking.id, Utc::now()).await, "cancel a lapsed booking");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let r = store.reservation(booking.reservations[0].id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!(r.status, ReservationStatus::Expired, "a refused cancel changes nothing");
    }

    pub async fn cancel_unknown_is_not_found(store: S) {
        let err = expect_err(store.cancel_reservation(Uuid::new_v4(), Utc::now()).await, "cancel unknown reservation");
        assert!(matches!(err, StoreError::NotFound), "expected NotFound, got {err:?}");
        let err = expect_err(store.cancel_booking(Uuid::new_v4(), Utc::now()).await, "cancel unknown booking");
        assert!(matches!(err, StoreError::NotFound), "expected NotFound, got {err:?}");
    }

    pub async fn cancel_booking_cancels_all_active_seats(store: S) {
        let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold three");
        let vip = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("vip seat");
        let one = store.cancel_reservation(vip.id, Utc::now()).await.expect("cancel one seat");
        assert_eq!((one.canceled.id, one.canceled.status), (vip.id, ReservationStatus::Canceled));
        assert!(one.refunds.is_empty(), "a held seat was never paid: {:?}", one.refunds);

        let partly = store.booking(booking.id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!(partly.status, ReservationStatus::Held, "a booking with a held seat is held");
        assert_eq!(partly.total_cents, 3000, "the total counts active seats only");

        let cancellation = store.cancel_booking(booking.id, Utc::now()).await.expect("cancel booking");
        assert!(cancellation.refunds.is_empty(), "held seats were never paid: {:?}", cancellation.refunds);
        let canceled = cancellation.canceled;
        assert_eq!((canceled.id, canceled.status), (booking.id, ReservationStatus::Canceled));
        assert_eq!(canceled.reservations.len(), 3);
        assert!(canceled.reservations.iter().all(|r| r.status == ReservationStatus::Canceled), "{canceled:?}");
        let now = Utc::now();
        let read = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!((read.status, read.total_cents), (ReservationStatus::Canceled, 0));
        assert!(seat_statuses(&store, &event, now).await.values().all(|s| *s == SeatStatus::Available));

        let err = expect_err(store.cancel_booking(booking.id, Utc::now()).await, "second cancel of a booking");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    }

    // ---------------------------------------------------------------------------------------
    // Listing and expiry
    // ---------------------------------------------------------------------------------------

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
        let cancellation = store.cancel_reservation(ann_canceled, Utc::now()).await.expect("cancel");
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
        assert_eq!(
            list(ReservationFilter { page: page(2, 1), ..Default::default() }).await,
            [bob_lapsed_id, ann_second]
        );
        let listed = store.list_reservations(&ReservationFilter::default(), now).await.expect("list");
        let lapsed = listed.iter().find(|r| r.id == bob_lapsed_id).expect("listed");
        assert_eq!(lapsed.status, ReservationStatus::Expired, "listed rows carry their effective status");
    }

    pub async fn expire_lapsed_holds_counts_each_once(store: S) {
        let venue = fixture_grid_venue(&store, 1, 6).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let mut lapsing = Vec::new();
        for i in 0..3 {
            lapsing.push(hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[i])).await);
        }
        let lasting = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[3])).await.expect("hold");
        let canceled = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[4])).await;
        let cancellation = store.cancel_booking(canceled.id, Utc::now()).await.expect("cancel");
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
        let users = fixture_users(&store, "u", 4).await;
        let mut latest = Utc::now();
        for i in 0..20 {
            let booking = hold_briefly(&store, &users[i % 4], &event, &seat_ids(&venue, &[i])).await;
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

    // ---------------------------------------------------------------------------------------
    // Idempotency
    // ---------------------------------------------------------------------------------------

    pub async fn idempotency_claim_inflight_replay_mismatch(store: S) {
        let ann = fixture_user(&store, "ann").await;
        let claim = |hash: &'static str| {
            let store = store.clone();
            async move { store.claim_idempotency_key(ann.id, "key-1", hash, Utc::now()).await.expect("claim") }
        };
        assert_eq!(claim("hash-a").await, IdempotencyClaim::Claimed);
        assert_eq!(claim("hash-a").await, IdempotencyClaim::InFlight, "same key and request while it is answered");
        store.complete_idempotency_key(ann.id, "key-1", 201, r#"{"id":"x"}"#).await.expect("complete");
        assert_eq!(claim("hash-a").await, IdempotencyClaim::Replay { status: 201, body: r#"{"id":"x"}"#.to_owned() });
        assert_eq!(
            claim("hash-a").await,
            IdempotencyClaim::Replay { status: 201, body: r#"{"id":"x"}"#.to_owned() },
            "replays every time"
        );
        assert_eq!(claim("hash-b").await, IdempotencyClaim::Mismatch, "same key, other request");
    }

    pub async fn idempotency_release_makes_key_claimable(store: S) {
        let ann = fixture_user(&store, "ann").await;
        let now = Utc::now();
        assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"), IdempotencyClaim::Claimed);
        store.release_idempotency_key(ann.id, "k").await.expect("release");
        assert_eq!(
            store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim again"),
            IdempotencyClaim::Claimed
        );
        store.release_idempotency_key(ann.id, "k").await.expect("release");
        assert_eq!(
            store.claim_idempotency_key(ann.id, "k", "other", now).await.expect("claim with another request"),
            IdempotencyClaim::Claimed,
            "a released key remembers nothing"
        );
    }

    pub async fn idempotency_keys_are_per_user(store: S) {
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let now = Utc::now();
        assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"), IdempotencyClaim::Claimed);
        store.complete_idempotency_key(ann.id, "k", 200, "ann's answer").await.expect("complete");
        assert_eq!(
            store.claim_idempotency_key(bob.id, "k", "h", now).await.expect("claim"),
            IdempotencyClaim::Claimed,
            "another user's key of the same name is unrelated"
        );
        store.complete_idempotency_key(bob.id, "k", 201, "bob's answer").await.expect("complete");
        assert_eq!(
            store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"),
            IdempotencyClaim::Replay { status: 200, body: "ann's answer".into() }
        );
        assert_eq!(
            store.claim_idempotency_key(bob.id, "k", "h", now).await.expect("claim"),
            IdempotencyClaim::Replay { status: 201, body: "bob's answer".into() }
        );
    }

    pub async fn idempotency_record_lapses_after_a_day(store: S) {
        let ann = fixture_user(&store, "ann").await;
        let now = Utc::now();
        assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"), IdempotencyClaim::Claimed);
        store.complete_idempotency_key(ann.id, "k", 201, "first").await.expect("complete");
        let within = now + Duration::hours(proeventa_core::store::IDEMPOTENCY_TTL_HOURS - 1);
        assert_eq!(
            store.claim_idempotency_key(ann.id, "k", "h", within).await.expect("claim"),
            IdempotencyClaim::Replay { status: 201, body: "first".into() }
        );
        let later = now + Duration::hours(proeventa_core::store::IDEMPOTENCY_TTL_HOURS + 1);
        assert_eq!(
            store.claim_idempotency_key(ann.id, "k", "other", later).await.expect("claim"),
            IdempotencyClaim::Claimed,
            "a record older than a day is forgotten"
        );
    }

    pub async fn concurrent_idempotency_claims_one_wins(store: S) {
        let ann = fixture_user(&store, "ann").await;
        let barrier = Arc::new(Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.claim_idempotency_key(ann.id, "race", "h", Utc::now()).await
                })
            })
            .collect();
        let mut claimed = 0;
        for task in tasks {
            match task.await.expect("claim task") {
                Ok(IdempotencyClaim::Claimed) => claimed += 1,
                Ok(IdempotencyClaim::InFlight) => {}
                other => panic!("a concurrent claim must be Claimed or InFlight, got {other:?}"),
            }
        }
        assert_eq!(claimed, 1, "exactly one of 16 concurrent claims may go ahead");
    }

    // ---------------------------------------------------------------------------------------
    // Payments
    // ---------------------------------------------------------------------------------------

    /// Everything a payment says except its timestamps, which each backend rounds its own way.
    type PaymentFields = (Uuid, Uuid, Uuid, i64, String, PaymentStatus, String, Option<String>, i64);

    fn payment_fields(p: &Payment) -> PaymentFields {
        (
            p.id,
            p.booking_id,
            p.user_id,
            p.amount_cents,
            p.currency.clone(),
            p.status,
            p.provider.clone(),
            p.card_last4.clone(),
            p.refunded_cents,
        )
    }

    fn refund(payment: &Payment, provider_ref: &str, amount_cents: i64) -> Refund {
        Refund { payment_id: payment.id, provider_ref: provider_ref.to_owned(), amount_cents }
    }

    fn sorted_refunds(refunds: &[Refund]) -> Vec<Refund> {
        let mut refunds = refunds.to_vec();
        refunds.sort_by_key(|r| r.payment_id);
        refunds
    }

    /// The effective status of every seat of a booking, by reservation id.
    async fn reservation_statuses(
        store: &S,
        booking_id: Uuid,
        now: DateTime<Utc>,
    ) -> BTreeMap<Uuid, ReservationStatus> {
        let booking = store.booking(booking_id, now).await.expect("read booking").expect("booking exists");
        booking.reservations.iter().map(|r| (r.id, r.status)).collect()
    }

    /// Fails when any seat of the event has more than one active (held unexpired, or confirmed)
    /// reservation at `now`.
    async fn assert_one_active_per_seat(store: &S, event_id: Uuid, now: DateTime<Utc>, what: &str) {
        let rows =
            all_reservations(store, ReservationFilter { event_id: Some(event_id), ..Default::default() }, now).await;
        let mut active: BTreeMap<Uuid, Vec<(Uuid, ReservationStatus)>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.status.effective(r.expires_at, now).is_active()) {
            active.entry(r.seat_id).or_default().push((r.booking_id, r.status));
        }
        let twice: Vec<_> = active.iter().filter(|(_, rs)| rs.len() > 1).collect();
        assert!(
            twice.is_empty(),
            "{what}: seats with more than one active reservation (seat, [(booking, status)]): {twice:?}"
        );
    }

    pub async fn checkout_opens_pending_payment_and_extends_hold(store: S) {
        let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 2, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let now = Utc::now();
        let minute = HoldTtl::from_seconds(60).expect("ttl");
        let booking =
            store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 2, 3]), minute), now).await.expect("hold");
        let request = new_payment(&booking, now + Duration::seconds(300));
        let payment = store.create_payment(request.clone(), now).await.expect("checkout");
        assert_eq!(
            payment_fields(&payment),
            (
                request.id,
                booking.id,
                ann.id,
                4000 + 1500 + 1500,
                "EUR".to_owned(),
                PaymentStatus::Pending,
                PROVIDER.to_owned(),
                None,
                0
            ),
            "a pending payment of the seats' tier prices, in the event's currency"
        );
        assert!(close_in_time(payment.created_at, now), "created_at {} is not about now", payment.created_at);
        assert!(close_in_time(payment.updated_at, now), "updated_at {} is not about now", payment.updated_at);
        let read = read_payment(&store, payment.id).await;
        assert_eq!(payment_fields(&read), payment_fields(&payment));
        assert!(close_in_time(read.created_at, payment.created_at));

        let later = Utc::now();
        let extended = store.booking(booking.id, later).await.expect("read").expect("exists");
        assert_eq!(extended.status, ReservationStatus::Held);
        assert!(
            extended.expires_at >= request.hold_until,
            "the hold ends at {}, before hold_until {}",
            extended.expires_at,
            request.hold_until
        );
        for r in &booking.reservations {
            let r = store.reservation(r.id, later).await.expect("read").expect("exists");
            assert_eq!(r.status, ReservationStatus::Held);
            assert!(
                r.expires_at >= request.hold_until,
                "seat {} is held until {}, before hold_until {}",
                r.seat,
                r.expires_at,
                request.hold_until
            );
        }
        let read_event = store.event(event.id, later).await.expect("read").expect("exists");
        assert_eq!(read_event.seats_available, 1, "the seats stay held while the payment is open");

        // A hold that already outlasts hold_until is never shortened.
        let long = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1])).await.expect("hold");
        let before = store.reservation(long.reservations[0].id, Utc::now()).await.expect("read").expect("exists");
        let now = Utc::now();
        store.create_payment(new_payment(&long, now + Duration::seconds(30)), now).await.expect("checkout");
        let after = store.reservation(before.id, Utc::now()).await.expect("read").expect("exists");
        assert_eq!(after.status, ReservationStatus::Held);
        assert!(
            after.expires_at >= before.expires_at,
            "checkout shortened the hold from {} to {}",
            before.expires_at,
            after.expires_at
        );
        assert_eq!(store.payment(Uuid::new_v4()).await.expect("read unknown payment"), None);
    }

    pub async fn checkout_amount_counts_held_seats_only(store: S) {
        let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
        let vip = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("vip seat");
        store.cancel_reservation(vip.id, Utc::now()).await.expect("cancel the vip seat");
        let payment = checkout(&store, &booking).await.expect("checkout");
        assert_eq!(payment.amount_cents, 3000, "a canceled seat is not charged");
    }

    pub async fn checkout_twice_is_invalid_state(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
        let first = checkout(&store, &booking).await.expect("first checkout");
        let err = expect_err(checkout(&store, &booking).await, "second checkout of the same booking");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let listed = store.list_payments(Some(ann.id), Page::default()).await.expect("list payments");
        assert_eq!(ids(&listed, |p| p.id), [first.id], "the refused checkout left no payment");
        assert_eq!(read_payment(&store, first.id).await.status, PaymentStatus::Pending, "the first stays open");

        store.confirm_payment(first.id, "ch_ann", CARD_LAST4, Utc::now()).await.expect("confirm");
        let err = expect_err(checkout(&store, &booking).await, "checkout of a paid booking");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let listed = store.list_payments(Some(ann.id), Page::default()).await.expect("list payments");
        assert_eq!(ids(&listed, |p| p.id), [first.id]);
    }

    pub async fn checkout_of_lapsed_hold_is_hold_expired(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_briefly(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await;
        sleep_past(booking.expires_at).await;
        let err = expect_err(checkout(&store, &booking).await, "checkout of a lapsed hold");
        assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
        let now = Utc::now();
        assert!(store.list_payments(Some(ann.id), Page::default()).await.expect("list").is_empty(), "no payment");
        let read = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!(read.status, ReservationStatus::Expired, "a refused checkout extends nothing");
        assert!(seat_statuses(&store, &event, now).await.values().all(|s| *s == SeatStatus::Available));
    }

    pub async fn checkout_of_canceled_booking_is_invalid_state(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
        store.cancel_booking(booking.id, Utc::now()).await.expect("cancel");
        let err = expect_err(checkout(&store, &booking).await, "checkout of a canceled booking");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        assert!(store.list_payments(Some(ann.id), Page::default()).await.expect("list").is_empty(), "no payment");
    }

    pub async fn checkout_of_unknown_booking_is_not_found(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
        let now = Utc::now();
        let mut request = new_payment(&booking, now + Duration::seconds(300));
        request.booking_id = Uuid::new_v4();
        let err = expect_err(store.create_payment(request, now).await, "checkout of an unknown booking");
        assert!(matches!(err, StoreError::NotFound), "expected NotFound, got {err:?}");
        assert!(store.list_payments(None, Page::default()).await.expect("list").is_empty(), "no payment");
    }

    pub async fn confirm_payment_confirms_every_seat_and_sells_them(store: S) {
        let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 2, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 2])).await.expect("hold");
        let payment = checkout(&store, &booking).await.expect("checkout");
        let now = Utc::now();
        let paid = store.confirm_payment(payment.id, "ch_ann", "4242", now).await.expect("confirm");
        assert_eq!(
            payment_fields(&paid),
            (
                payment.id,
                booking.id,
                ann.id,
                5500,
                "EUR".to_owned(),
                PaymentStatus::Succeeded,
                PROVIDER.to_owned(),
                Some("4242".to_owned()),
                0
            )
        );
        assert!(close_in_time(paid.updated_at, now), "updated_at {} is not about now", paid.updated_at);
        assert_eq!(payment_fields(&read_payment(&store, payment.id).await), payment_fields(&paid));

        let now = Utc::now();
        let read = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!((read.status, read.total_cents), (ReservationStatus::Confirmed, 5500));
        assert!(read.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed), "{read:?}");
        let map = seat_statuses(&store, &event, now).await;
        let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
        use SeatStatus::{Available as A, Sold};
        assert_eq!(statuses, [Sold, A, Sold, A]);
        assert_eq!(store.event(event.id, now).await.expect("read").expect("exists").seats_available, 2);

        // A confirmed seat never lapses.
        let much_later = now + Duration::hours(1);
        for r in &booking.reservations {
            let r = store.reservation(r.id, much_later).await.expect("read").expect("exists");
            assert_eq!(r.status, ReservationStatus::Confirmed, "a confirmed seat stays confirmed past its hold");
        }
        assert_eq!(seat_statuses(&store, &event, much_later).await[&venue.seats[0].id], SeatStatus::Sold);

        let err =
            expect_err(store.confirm_payment(Uuid::new_v4(), "ch_x", "4242", Utc::now()).await, "confirm unknown");
        assert!(matches!(err, StoreError::NotFound), "expected NotFound, got {err:?}");
    }

    pub async fn confirm_twice_is_invalid_state(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_first").await;
        let err = expect_err(store.confirm_payment(paid.id, "ch_second", "1111", Utc::now()).await, "second confirm");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let read = read_payment(&store, paid.id).await;
        assert_eq!(payment_fields(&read), payment_fields(&paid), "a refused confirm changes nothing");

        // The refund of a later cancellation still names the first confirm's charge.
        let booking = store.booking(paid.booking_id, Utc::now()).await.expect("read").expect("exists");
        let cancellation = store.cancel_booking(booking.id, Utc::now()).await.expect("cancel");
        assert_eq!(cancellation.refunds, [refund(&paid, "ch_first", 1500)]);
    }

    pub async fn confirm_after_lapse_with_seats_free_succeeds(store: S) {
        let venue = fixture_grid_venue(&store, 1, 4).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        // Held and checked out at the same instant, so the checkout always finds the hold alive.
        let t0 = Utc::now();
        let swept_later = store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 1]), short_ttl()), t0).await;
        let swept_first = store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[2]), short_ttl()), t0).await;
        let (unswept, swept) = (swept_later.expect("hold"), swept_first.expect("hold"));
        let window = t0 + Duration::milliseconds(60);
        let unswept_payment = store.create_payment(new_payment(&unswept, window), t0).await.expect("checkout");
        let swept_payment = store.create_payment(new_payment(&swept, window), t0).await.expect("checkout");
        let bookings = [unswept.id, swept.id];
        let mut latest = t0;
        for id in bookings {
            latest = latest.max(store.booking(id, t0).await.expect("read").expect("exists").expires_at);
        }
        sleep_past(latest).await;
        let now = Utc::now();
        for id in bookings {
            let b = store.booking(id, now).await.expect("read").expect("exists");
            assert_eq!(b.status, ReservationStatus::Expired, "precondition: the hold has lapsed");
        }

        let paid = store
            .confirm_payment(unswept_payment.id, "ch_1", CARD_LAST4, Utc::now())
            .await
            .expect("a lapsed hold whose seats nobody took can still be paid");
        assert_eq!(paid.status, PaymentStatus::Succeeded);
        assert_eq!(store.expire_lapsed_holds(Utc::now()).await.expect("sweep"), 1, "only the unpaid lapsed hold");
        let paid_after_sweep = store
            .confirm_payment(swept_payment.id, "ch_2", CARD_LAST4, Utc::now())
            .await
            .expect("a swept hold whose seat nobody took can still be paid");
        assert_eq!(paid_after_sweep.status, PaymentStatus::Succeeded);

        let now = Utc::now();
        for booking in [&unswept, &swept] {
            let read = store.booking(booking.id, now).await.expect("read").expect("exists");
            assert_eq!(read.status, ReservationStatus::Confirmed);
            assert!(read.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed), "{read:?}");
        }
        let map = seat_statuses(&store, &event, now).await;
        let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
        use SeatStatus::{Available as A, Sold};
        assert_eq!(statuses, [Sold, Sold, Sold, A]);
    }

    pub async fn confirm_after_lapse_and_seat_reheld_is_hold_expired(store: S) {
        let venue = fixture_grid_venue(&store, 1, 3).await;
        let event = fixture_event(&store, &venue).await;
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let t0 = Utc::now();
        let booking =
            store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 1]), short_ttl()), t0).await.expect("hold");
        let payment =
            store.create_payment(new_payment(&booking, t0 + Duration::milliseconds(60)), t0).await.expect("checkout");
        let lapse = store.booking(booking.id, t0).await.expect("read").expect("exists").expires_at;
        sleep_past(lapse).await;
        let bobs = hold_seats(&store, &bob, &event, &seat_ids(&venue, &[1])).await.expect("a lapsed hold never blocks");

        let err = expect_err(
            store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
            "confirm after a seat was taken",
        );
        assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
        let now = Utc::now();
        let read = read_payment(&store, payment.id).await;
        assert_eq!(payment_fields(&read), payment_fields(&payment), "a refused confirm changes nothing");
        let anns = reservation_statuses(&store, booking.id, now).await;
        assert!(anns.values().all(|s| *s == ReservationStatus::Expired), "nothing was confirmed: {anns:?}");
        let bob_row = store.reservation(bobs.reservations[0].id, now).await.expect("read").expect("exists");
        assert_eq!(bob_row.status, ReservationStatus::Held, "the other buyer's hold is intact");
        let map = seat_statuses(&store, &event, now).await;
        let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
        assert_eq!(statuses, [SeatStatus::Available, SeatStatus::Held, SeatStatus::Available]);
        assert_one_active_per_seat(&store, event.id, now, "after the refused confirm").await;

        let failed = store.fail_payment(payment.id, 0, Utc::now()).await.expect("fail the payment");
        assert_eq!((failed.id, failed.status, failed.refunded_cents), (payment.id, PaymentStatus::Failed, 0));
        assert_eq!(read_payment(&store, payment.id).await.status, PaymentStatus::Failed);
        let err = expect_err(
            store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
            "confirm of a failed payment",
        );
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
    }

    pub async fn fail_payment_only_from_pending(store: S) {
        let venue = fixture_grid_venue(&store, 1, 3).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0]), "ch_ann").await;
        let err = expect_err(store.fail_payment(paid.id, 0, Utc::now()).await, "fail a succeeded payment");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        assert_eq!(payment_fields(&read_payment(&store, paid.id).await), payment_fields(&paid));
        let err = expect_err(store.fail_payment(Uuid::new_v4(), 0, Utc::now()).await, "fail an unknown payment");
        assert!(matches!(err, StoreError::NotFound | StoreError::InvalidState(_)), "got {err:?}");

        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1, 2])).await.expect("hold");
        let pending = checkout(&store, &booking).await.expect("checkout");
        let failed = store.fail_payment(pending.id, 0, Utc::now()).await.expect("fail a pending payment");
        assert_eq!(
            (failed.status, failed.refunded_cents, failed.card_last4.as_deref()),
            (PaymentStatus::Failed, 0, None)
        );
        let err = expect_err(store.fail_payment(pending.id, 0, Utc::now()).await, "fail a failed payment");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        assert_eq!(read_payment(&store, pending.id).await.status, PaymentStatus::Failed);

        // A failed payment is not open: the booking, still held, may be checked out again.
        let again = checkout(&store, &booking).await.expect("checkout after a failed payment");
        assert_ne!(again.id, pending.id);
        assert_eq!((again.status, again.amount_cents), (PaymentStatus::Pending, 3000));
    }

    pub async fn cancel_confirmed_seats_refunds_their_price(store: S) {
        let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let (booking, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2]), "ch_ann").await;
        assert_eq!(paid.amount_cents, 7000);
        let vip = booking.reservations.iter().find(|r| r.seat_id == venue.seats[0].id).expect("vip seat");

        let one = store.cancel_reservation(vip.id, Utc::now()).await.expect("cancel a confirmed seat");
        assert_eq!((one.canceled.id, one.canceled.status), (vip.id, ReservationStatus::Canceled));
        assert_eq!(one.refunds, [refund(&paid, "ch_ann", 4000)], "the seat's price goes back to the charge");
        let read = read_payment(&store, paid.id).await;
        assert_eq!(
            (read.status, read.refunded_cents, read.amount_cents),
            (PaymentStatus::PartiallyRefunded, 4000, 7000)
        );
        let now = Utc::now();
        let partly = store.booking(booking.id, now).await.expect("read").expect("exists");
        assert_eq!((partly.status, partly.total_cents), (ReservationStatus::Confirmed, 3000));
        let map = seat_statuses(&store, &event, now).await;
        let statuses: Vec<SeatStatus> = venue.seats.iter().map(|s| map[&s.id]).collect();
        assert_eq!(statuses, [SeatStatus::Available, SeatStatus::Sold, SeatStatus::Sold], "the seat is free at once");

        let rest = store.cancel_booking(booking.id, Utc::now()).await.expect("cancel the rest");
        assert_eq!((rest.canceled.id, rest.canceled.status), (booking.id, ReservationStatus::Canceled));
        assert!(rest.canceled.reservations.iter().all(|r| r.status == ReservationStatus::Canceled));
        assert_eq!(rest.refunds, [refund(&paid, "ch_ann", 3000)], "only what was not refunded yet");
        let read = read_payment(&store, paid.id).await;
        assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Refunded, 7000));
        assert!(seat_statuses(&store, &event, Utc::now()).await.values().all(|s| *s == SeatStatus::Available));
    }

    pub async fn cancel_event_refunds_every_paid_booking_of_it_only(store: S) {
        let venue = fixture_grid_venue(&store, 1, 6).await;
        let (doomed, other) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
        let users = fixture_users(&store, "buyer", 4).await;
        let (ann, bob, cara, dan) = (&users[0], &users[1], &users[2], &users[3]);
        let (_, ann_paid) = paid_booking(&store, ann, &doomed, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
        let (_, bob_paid) = paid_booking(&store, bob, &doomed, &seat_ids(&venue, &[2]), "ch_bob").await;
        let cara_held = hold_seats(&store, cara, &doomed, &seat_ids(&venue, &[3])).await.expect("hold");
        let dan_held = hold_seats(&store, dan, &doomed, &seat_ids(&venue, &[4])).await.expect("hold");
        let dan_pending = checkout(&store, &dan_held).await.expect("checkout");
        let (elsewhere, other_paid) = paid_booking(&store, ann, &other, &seat_ids(&venue, &[0]), "ch_other").await;

        let cancellation = store.cancel_event(doomed.id, Utc::now()).await.expect("cancel event").expect("exists");
        assert_eq!((cancellation.canceled.id, cancellation.canceled.status), (doomed.id, EventStatus::Canceled));
        assert_eq!(
            sorted_refunds(&cancellation.refunds),
            sorted_refunds(&[refund(&ann_paid, "ch_ann", 3000), refund(&bob_paid, "ch_bob", 1500)]),
            "every paid booking of the event is refunded in full, and nothing else"
        );
        for (paid, amount) in [(&ann_paid, 3000), (&bob_paid, 1500)] {
            let read = read_payment(&store, paid.id).await;
            assert_eq!(
                (read.status, read.refunded_cents, read.amount_cents),
                (PaymentStatus::Refunded, amount, amount)
            );
        }
        let unpaid = read_payment(&store, dan_pending.id).await;
        assert_eq!(unpaid.refunded_cents, 0, "a pending payment took no money to give back");
        assert!(
            !matches!(
                unpaid.status,
                PaymentStatus::Refunded | PaymentStatus::PartiallyRefunded | PaymentStatus::Succeeded
            ),
            "a pending payment of a canceled event is {}",
            unpaid.status
        );
        let now = Utc::now();
        for booking in [ann_paid.booking_id, bob_paid.booking_id, cara_held.id, dan_held.id] {
            let b = store.booking(booking, now).await.expect("read").expect("exists");
            assert_eq!(b.status, ReservationStatus::Canceled);
        }
        assert!(seat_statuses(&store, &doomed, now).await.values().all(|s| *s == SeatStatus::Available));

        let untouched = read_payment(&store, other_paid.id).await;
        assert_eq!(payment_fields(&untouched), payment_fields(&other_paid), "another event's payment is left alone");
        let kept = store.booking(elsewhere.id, now).await.expect("read").expect("exists");
        assert_eq!(kept.status, ReservationStatus::Confirmed);
        assert_eq!(seat_statuses(&store, &other, now).await[&venue.seats[0].id], SeatStatus::Sold);
    }

    pub async fn cancel_of_held_seats_refunds_nothing(store: S) {
        let venue = fixture_grid_venue(&store, 1, 3).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
        let pending = checkout(&store, &booking).await.expect("checkout");

        let one = store.cancel_reservation(booking.reservations[0].id, Utc::now()).await.expect("cancel a held seat");
        assert!(one.refunds.is_empty(), "a held seat was never paid: {:?}", one.refunds);
        let read = read_payment(&store, pending.id).await;
        assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Pending, 0));

        let err = expect_err(
            store.confirm_payment(pending.id, "ch_ann", CARD_LAST4, Utc::now()).await,
            "confirm of a booking with a canceled seat",
        );
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let now = Utc::now();
        let statuses = reservation_statuses(&store, booking.id, now).await;
        assert!(!statuses.values().any(|s| *s == ReservationStatus::Confirmed), "nothing was confirmed: {statuses:?}");
        assert_eq!(
            read_payment(&store, pending.id).await.status,
            PaymentStatus::Pending,
            "a refused confirm changes nothing"
        );

        let rest = store.cancel_booking(booking.id, Utc::now()).await.expect("cancel the rest");
        assert!(rest.refunds.is_empty(), "held seats were never paid: {:?}", rest.refunds);
        assert_eq!(read_payment(&store, pending.id).await.refunded_cents, 0);
    }

    /// A cancel request may read its clock before a checkout request does and still commit after
    /// it: the seat was priced into the payment, so the payment must not succeed.
    pub async fn confirm_after_a_seat_was_canceled_is_invalid_state_whatever_its_clock(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
        let cancel_clock = Utc::now();
        tick().await;
        let pending = checkout(&store, &booking).await.expect("checkout");
        assert_eq!(pending.amount_cents, 3000, "both seats are priced in");
        let canceled = booking.reservations[0].id;
        let one = store.cancel_reservation(canceled, cancel_clock).await.expect("cancel a held seat after checkout");
        assert!(one.refunds.is_empty(), "a held seat was never paid: {:?}", one.refunds);

        let result = store.confirm_payment(pending.id, "ch_ann", CARD_LAST4, Utc::now()).await;
        let now = Utc::now();
        let statuses = reservation_statuses(&store, booking.id, now).await;
        let after = read_payment(&store, pending.id).await;
        match result {
            Err(StoreError::InvalidState(_)) => {}
            other => panic!(
                "a confirm after a priced-in seat was canceled must be InvalidState, got {other:?}; \
                 the payment is now {after:?} and the seats {statuses:?}"
            ),
        }
        assert_eq!((after.status, after.refunded_cents), (PaymentStatus::Pending, 0), "nothing changes");
        assert!(!statuses.values().any(|s| *s == ReservationStatus::Confirmed), "nothing was confirmed: {statuses:?}");
    }

    pub async fn record_refund_caps_at_the_amount(store: S) {
        let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let (_, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
        assert_eq!(paid.amount_cents, 5500);

        let partly = store.record_refund(paid.id, 1000, Utc::now()).await.expect("partial refund");
        assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1000));
        let more = store.record_refund(paid.id, 1000, Utc::now()).await.expect("another partial refund");
        assert_eq!((more.status, more.refunded_cents), (PaymentStatus::PartiallyRefunded, 2000));
        let capped = store.record_refund(paid.id, 10_000, Utc::now()).await.expect("refund past the amount");
        assert_eq!((capped.status, capped.refunded_cents), (PaymentStatus::Refunded, 5500), "capped at the amount");
        let read = read_payment(&store, paid.id).await;
        assert_eq!((read.status, read.refunded_cents, read.amount_cents), (PaymentStatus::Refunded, 5500, 5500));
        let err = expect_err(store.record_refund(paid.id, 1, Utc::now()).await, "refund of a refunded payment");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        assert_eq!(read_payment(&store, paid.id).await.refunded_cents, 5500);

        let (_, whole) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[2]), "ch_whole").await;
        let refunded = store.record_refund(whole.id, 1500, Utc::now()).await.expect("refund of the whole amount");
        assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::Refunded, 1500));
    }

    pub async fn record_refund_of_unpaid_payment_is_invalid_state(store: S) {
        let venue = fixture_grid_venue(&store, 1, 2).await;
        let event = fixture_event(&store, &venue).await;
        let ann = fixture_user(&store, "ann").await;
        let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
        let pending = checkout(&store, &booking).await.expect("checkout");
        let err = expect_err(store.record_refund(pending.id, 500, Utc::now()).await, "refund of a pending payment");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        assert_eq!(payment_fields(&read_payment(&store, pending.id).await), payment_fields(&pending));

        store.fail_payment(pending.id, 0, Utc::now()).await.expect("fail");
        let err = expect_err(store.record_refund(pending.id, 500, Utc::now()).await, "refund of a failed payment");
        assert!(matches!(err, StoreError::InvalidState(_)), "expected InvalidState, got {err:?}");
        let read = read_payment(&store, pending.id).await;
        assert_eq!((read.status, read.refunded_cents), (PaymentStatus::Failed, 0));
    }

    pub async fn webhook_events_are_recorded_once_until_forgotten(store: S) {
        let now = Utc::now();
        assert!(store.record_webhook_event("evt_1", now).await.expect("record"), "first sight of evt_1");
        assert!(!store.record_webhook_event("evt_1", now).await.expect("record again"), "evt_1 seen before");
        assert!(store.record_webhook_event("evt_2", now).await.expect("record"), "another event id is new");
        assert!(!store.record_webhook_event("evt_1", Utc::now()).await.expect("record"), "still seen before");
        assert!(!store.record_webhook_event("evt_2", Utc::now()).await.expect("record"));

        store.forget_webhook_event("evt_1").await.expect("forget");
        assert!(store.record_webhook_event("evt_1", Utc::now()).await.expect("record"), "a forgotten event is new");
        assert!(!store.record_webhook_event("evt_1", Utc::now()).await.expect("record"), "and then seen again");
        assert!(!store.record_webhook_event("evt_2", Utc::now()).await.expect("record"), "others are remembered");
        store.forget_webhook_event("evt_never_seen").await.expect("forget an unknown event");
    }

    pub async fn list_payments_newest_first_per_user(store: S) {
        let venue = fixture_grid_venue(&store, 1, 4).await;
        let event = fixture_event(&store, &venue).await;
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let seat = |i: usize| seat_ids(&venue, &[i]);
        let ann_first = hold_seats(&store, &ann, &event, &seat(0)).await.expect("hold");
        let ann_first = checkout(&store, &ann_first).await.expect("checkout");
        tick().await;
        let bob_only = hold_seats(&store, &bob, &event, &seat(1)).await.expect("hold");
        let bob_only = checkout(&store, &bob_only).await.expect("checkout");
        tick().await;
        let (_, ann_paid) = paid_booking(&store, &ann, &event, &seat(2), "ch_ann").await;

        let list = |user: Option<Uuid>, page: Page| {
            let store = store.clone();
            async move { store.list_payments(user, page).await.expect("list payments") }
        };
        let anns = list(Some(ann.id), Page::default()).await;
        assert_eq!(ids(&anns, |p| p.id), [ann_paid.id, ann_first.id], "a user's payments, newest first");
        assert_eq!(
            anns.iter().map(|p| p.status).collect::<Vec<_>>(),
            [PaymentStatus::Succeeded, PaymentStatus::Pending],
            "listed with their current status"
        );
        assert_eq!(ids(&list(Some(bob.id), Page::default()).await, |p| p.id), [bob_only.id]);
        assert_eq!(
            ids(&list(None, Page::default()).await, |p| p.id),
            [ann_paid.id, bob_only.id, ann_first.id],
            "everyone's payments, newest first"
        );
        assert_eq!(ids(&list(None, page(1, 1)).await, |p| p.id), [bob_only.id]);
        assert_eq!(ids(&list(Some(ann.id), page(1, 1)).await, |p| p.id), [ann_first.id]);
        assert!(list(None, page(2, 3)).await.is_empty());
        assert!(list(Some(Uuid::new_v4()), Page::default()).await.is_empty());
    }

    // ---------------------------------------------------------------------------------------
    // Concurrency: the one promise
    // ---------------------------------------------------------------------------------------

    /// One racer: who, which seats (by position in the venue), and how it ended.
    struct Attempt {
        seats: Vec<usize>,
        now: DateTime<Utc>,
        outcome: Result<Booking, StoreError>,
    }

    /// A plan of racers: every seat in `seats` asked for alone `singles_per_seat` times, plus
    /// `multis` overlapping requests of 2 to 4 neighbouring seats; shuffled, repeatably.
    fn race_plan(rng: &mut Rng, seats: &[usize], singles_per_seat: usize, multis: usize) -> Vec<Vec<usize>> {
        let mut plan: Vec<Vec<usize>> = Vec::new();
        for _ in 0..singles_per_seat {
            plan.extend(seats.iter().map(|&s| vec![s]));
        }
        for _ in 0..multis {
            let size = 2 + rng.below(3);
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
                        let asked = attempt.seats.iter().any(|&i| {
                            venue.seats[i].row == label.row && venue.seats[i].seat_number == label.seat_number
                        });
                        assert!(asked, "SeatsUnavailable names seat {label} that the request did not ask for");
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
            assert!(seen.insert(r.seat_id), "seat {} has two active reservations at {after}", r.seat);
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

    // ---------------------------------------------------------------------------------------
    // Concurrency: payments
    // ---------------------------------------------------------------------------------------

    /// Per round: a booking of two seats held for 30 ms and checked out with a window that also
    /// lapses (40 ms); then its confirm, the sweeper and another buyer's hold of one of its seats
    /// each start somewhere from 10 ms before the lapse to 10 ms after it. Exactly one of the
    /// confirm and the other hold wins, and no seat is ever taken twice.
    pub async fn concurrent_confirm_sweeper_and_rehold(store: S) {
        const ROUNDS: usize = 30;
        let venue = fixture_grid_venue(&store, 1, 3).await;
        let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
        let ttl = HoldTtl::from_millis(30).expect("ttl");
        let mut rng = Rng::new(0xC0FF_EE5E_A7ED);
        let (mut paid_rounds, mut lost_rounds) = (0, 0);
        for round in 0..ROUNDS {
            let event = fixture_event(&store, &venue).await;
            let seats = seat_ids(&venue, &[0, 1]);
            let contested = seats[rng.below(seats.len())];
            let t0 = Utc::now();
            let booking = store.hold(&hold_request(&ann, &event, &seats, ttl), t0).await.expect("hold");
            let payment = store
                .create_payment(new_payment(&booking, t0 + Duration::milliseconds(40)), t0)
                .await
                .unwrap_or_else(|e| panic!("round {round}: checkout: {e}"));
            let lapse = store.booking(booking.id, t0).await.expect("read").expect("exists").expires_at;
            let mut start = || lapse + Duration::milliseconds(rng.below(21) as i64 - 10);
            let (confirm_at, sweep_at, rehold_at) = (start(), start(), start());
            let provider_ref = format!("ch_{round}");

            let confirm = {
                let (store, provider_ref) = (store.clone(), provider_ref.clone());
                tokio::spawn(async move {
                    sleep_until(confirm_at).await;
                    store.confirm_payment(payment.id, &provider_ref, CARD_LAST4, Utc::now()).await
                })
            };
            let sweeper = {
                let store = store.clone();
                tokio::spawn(async move {
                    sleep_until(sweep_at).await;
                    store.expire_lapsed_holds(Utc::now()).await
                })
            };
            let rehold = {
                let (store, request) = (store.clone(), hold_request(&bob, &event, &[contested], long_ttl()));
                tokio::spawn(async move {
                    sleep_until(rehold_at).await;
                    store.hold(&request, Utc::now()).await
                })
            };
            let confirmed = confirm.await.expect("confirm task");
            let reheld = rehold.await.expect("hold task");
            sweeper.await.expect("sweeper task").unwrap_or_else(|e| panic!("round {round}: the sweep failed: {e}"));

            let now = Utc::now();
            let anns = reservation_statuses(&store, booking.id, now).await;
            let map = seat_statuses(&store, &event, now).await;
            match (&confirmed, &reheld) {
                (Ok(paid), Err(StoreError::SeatsUnavailable(_))) => {
                    paid_rounds += 1;
                    assert_eq!(paid.status, PaymentStatus::Succeeded, "round {round}");
                    assert_eq!(read_payment(&store, payment.id).await.status, PaymentStatus::Succeeded);
                    assert!(
                        anns.values().all(|s| *s == ReservationStatus::Confirmed),
                        "round {round}: the payment succeeded but not every seat is confirmed: {anns:?}"
                    );
                    for seat in &seats {
                        assert_eq!(map[seat], SeatStatus::Sold, "round {round}: a paid seat is not sold");
                    }
                }
                (Err(StoreError::HoldExpired), Ok(bobs)) => {
                    lost_rounds += 1;
                    let read = read_payment(&store, payment.id).await;
                    assert_eq!(
                        (read.status, read.refunded_cents, read.card_last4.as_deref()),
                        (PaymentStatus::Pending, 0, None),
                        "round {round}: a refused confirm changes nothing"
                    );
                    assert!(
                        !anns.values().any(|s| *s == ReservationStatus::Confirmed),
                        "round {round}: the confirm was refused but a seat is confirmed: {anns:?}"
                    );
                    let bob_row = store.reservation(bobs.reservations[0].id, now).await.expect("read").expect("exists");
                    assert_eq!(bob_row.status, ReservationStatus::Held, "round {round}: the other hold is intact");
                    assert_eq!(map[&contested], SeatStatus::Held, "round {round}");
                    let failed = store
                        .fail_payment(payment.id, 0, Utc::now())
                        .await
                        .unwrap_or_else(|e| panic!("round {round}: fail the refused payment: {e}"));
                    assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 0), "round {round}");
                    assert_eq!(read_payment(&store, payment.id).await.status, PaymentStatus::Failed);
                }
                (Ok(_), Ok(_)) => panic!(
                    "round {round}: both the confirm and the other buyer's hold of the same seat won \
                     (booking {anns:?}, seat map {map:?})"
                ),
                (confirmed, reheld) => panic!(
                    "round {round}: expected exactly one of the confirm (Ok or HoldExpired) and the other hold \
                     (Ok or SeatsUnavailable) to win; confirm: {confirmed:?}, other hold: {reheld:?}"
                ),
            }
            assert_one_active_per_seat(&store, event.id, now, &format!("round {round}")).await;
        }
        assert_eq!(paid_rounds + lost_rounds, ROUNDS);
        eprintln!("{ROUNDS} rounds: the confirm won {paid_rounds}, the other hold won {lost_rounds}");
    }

    /// Per round: a paid-for hold of three seats whose confirm races a cancel of the whole
    /// booking (even rounds) or of one seat (odd rounds). In either order, every canceled seat
    /// that had been paid is refunded on its payment, in the same step, and nothing else is.
    pub async fn concurrent_confirm_and_cancel(store: S) {
        const ROUNDS: usize = 30;
        let venue = fixture_venue(&store, &[("A", 1, "vip"), ("B", 2, "standard")]).await;
        let ann = fixture_user(&store, "ann").await;
        let mut rng = Rng::new(0xCA_9CE1);
        let (mut paid_rounds, mut refused_rounds) = (0, 0);
        let mut refunded_by_cancels = 0;
        for round in 0..ROUNDS {
            let event = fixture_event(&store, &venue).await;
            let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2])).await.expect("hold");
            let payment = checkout(&store, &booking).await.unwrap_or_else(|e| panic!("round {round}: checkout: {e}"));
            let whole = round % 2 == 0;
            let victim = booking.reservations[rng.below(booking.reservations.len())].id;
            let (confirm_delay, cancel_delay) = (rng.below(3) as u64, rng.below(3) as u64);
            let provider_ref = format!("ch_{round}");
            let barrier = Arc::new(Barrier::new(2));

            let confirm = {
                let (store, barrier, provider_ref) = (store.clone(), barrier.clone(), provider_ref.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    tokio::time::sleep(StdDuration::from_millis(confirm_delay)).await;
                    store.confirm_payment(payment.id, &provider_ref, CARD_LAST4, Utc::now()).await
                })
            };
            let cancel = {
                let (store, barrier, booking_id) = (store.clone(), barrier.clone(), booking.id);
                tokio::spawn(async move {
                    barrier.wait().await;
                    tokio::time::sleep(StdDuration::from_millis(cancel_delay)).await;
                    if whole {
                        store.cancel_booking(booking_id, Utc::now()).await.map(|c| {
                            let canceled = c
                                .canceled
                                .reservations
                                .iter()
                                .filter(|r| r.status == ReservationStatus::Canceled)
                                .map(|r| r.id)
                                .collect::<BTreeSet<Uuid>>();
                            (canceled, c.refunds)
                        })
                    } else {
                        store.cancel_reservation(victim, Utc::now()).await.map(|c| {
                            assert_eq!(c.canceled.status, ReservationStatus::Canceled);
                            (BTreeSet::from([c.canceled.id]), c.refunds)
                        })
                    }
                })
            };
            let confirmed = confirm.await.expect("confirm task");
            let (canceled, refunds) = cancel
                .await
                .expect("cancel task")
                .unwrap_or_else(|e| panic!("round {round}: the cancel must succeed in either order, got {e:?}"));

            let expected_canceled: BTreeSet<Uuid> =
                if whole { booking.reservations.iter().map(|r| r.id).collect() } else { BTreeSet::from([victim]) };
            assert_eq!(canceled, expected_canceled, "round {round}: the seats the cancel reports");
            let canceled_price: i64 =
                booking.reservations.iter().filter(|r| canceled.contains(&r.id)).map(|r| r.price_cents).sum();
            let now = Utc::now();
            let after = read_payment(&store, payment.id).await;
            let statuses = reservation_statuses(&store, booking.id, now).await;
            let map = seat_statuses(&store, &event, now).await;
            for r in &booking.reservations {
                if canceled.contains(&r.id) {
                    assert_eq!(statuses[&r.id], ReservationStatus::Canceled, "round {round}");
                    assert_eq!(map[&r.seat_id], SeatStatus::Available, "round {round}: a canceled seat is free");
                }
            }
            let refunded: i64 = refunds.iter().map(|r| r.amount_cents).sum();
            assert_eq!(
                after.refunded_cents, refunded,
                "round {round}: the payment records exactly what the cancellation owes back ({refunds:?})"
            );
            refunded_by_cancels += refunded;
            match confirmed {
                Ok(paid) => {
                    // The confirm came first: every canceled seat had been paid.
                    paid_rounds += 1;
                    assert_eq!(paid.status, PaymentStatus::Succeeded, "round {round}");
                    assert_eq!(
                        refunds,
                        [refund(&paid, &provider_ref, canceled_price)],
                        "round {round}: a paid seat was canceled without its refund \
                         (payment now {after:?}, seats now {statuses:?})"
                    );
                    let status = if whole { PaymentStatus::Refunded } else { PaymentStatus::PartiallyRefunded };
                    assert_eq!((after.status, after.refunded_cents), (status, canceled_price), "round {round}");
                    for r in booking.reservations.iter().filter(|r| !canceled.contains(&r.id)) {
                        assert_eq!(statuses[&r.id], ReservationStatus::Confirmed, "round {round}: a paid seat");
                        assert_eq!(map[&r.seat_id], SeatStatus::Sold, "round {round}");
                    }
                }
                Err(StoreError::InvalidState(_)) => {
                    // The cancel came first: nothing was paid, nothing is owed.
                    refused_rounds += 1;
                    assert!(refunds.is_empty(), "round {round}: a refund for seats never paid: {refunds:?}");
                    assert_eq!(
                        (after.status, after.refunded_cents, after.card_last4.as_deref()),
                        (PaymentStatus::Pending, 0, None),
                        "round {round}: a refused confirm changes nothing"
                    );
                    assert!(
                        !statuses.values().any(|s| *s == ReservationStatus::Confirmed),
                        "round {round}: the confirm was refused but a seat is confirmed: {statuses:?}"
                    );
                    for r in booking.reservations.iter().filter(|r| !canceled.contains(&r.id)) {
                        assert_eq!(statuses[&r.id], ReservationStatus::Held, "round {round}: an unpaid seat");
                    }
                }
                Err(other) => {
                    panic!("round {round}: a confirm racing a cancel must succeed or be InvalidState, got {other:?}")
                }
            }
            assert_one_active_per_seat(&store, event.id, now, &format!("round {round}")).await;
        }
        let all = store.list_payments(Some(ann.id), Page { limit: Page::MAX_LIMIT, offset: 0 }).await.expect("list");
        assert_eq!(all.len(), ROUNDS);
        assert_eq!(
            all.iter().map(|p| p.refunded_cents).sum::<i64>(),
            refunded_by_cancels,
            "money recorded as refunded equals what the cancellations owed back"
        );
        assert_eq!(paid_rounds + refused_rounds, ROUNDS);
        eprintln!("{ROUNDS} rounds: the confirm came first {paid_rounds} times, the cancel {refused_rounds}");
    }
}
