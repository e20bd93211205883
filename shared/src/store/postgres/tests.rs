//! Tests of the PostgreSQL backend alone: lock order and deadlock retries under racing writers,
//! waits on row locks, what only this backend's statements do (a hold writing a lapse down, a
//! refused checkout undoing its extension, a confirm expiring someone else's lapsed hold), and
//! details that `shared/tests/store/`, run on every backend, does not check yet.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use uuid::Uuid;

use proeventa_testkit::TempPostgres;

use super::PostgresStore;
use crate::domain::{
    Booking, Category, Email, EventStatus, HoldLimit, HoldRequest, HoldTtl, NewEvent, NewPayment, NewUser, NewVenue,
    Page, Payment, PaymentStatus, Price, Refund, ReservationStatus, Role, Seat, SeatLabel, SeatRow as NewSeatRow,
    SeatSelection, SeatState, SeatStatus, VenueKind,
};
use crate::store::{CatalogStore, Entity, HoldStore, PaymentStore, Store, StoreError, StoreSettings, UserStore};

/// Runs `body` against a migrated store on a fresh database, dropped afterwards even if the body panics.
pub(super) async fn with_store<F, Fut>(body: F)
where
    F: FnOnce(Arc<PostgresStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let database = TempPostgres::create("proeventa_unit").await;
    let store = Arc::new(PostgresStore::connect(database.url(), StoreSettings::default()).await.unwrap());
    store.migrate().await.unwrap();

    let outcome = tokio::spawn(body(Arc::clone(&store))).await;
    store.pool.close().await;
    drop(database);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

pub(super) struct Fixture {
    pub(super) user_id: Uuid,
    pub(super) event_id: Uuid,
    /// Row A: three `standard` seats at 1200; row B: two `vip` seats at 3000.
    seats: Vec<Seat>,
}

impl Fixture {
    pub(super) fn seat(&self, label: &str) -> Uuid {
        self.seats.iter().find(|s| format!("{}{}", s.row, s.seat_number) == label).unwrap().id
    }

    fn hold(&self, labels: &[&str], ttl: HoldTtl) -> HoldRequest {
        HoldRequest {
            booking_id: Uuid::new_v4(),
            user_id: self.user_id,
            event_id: self.event_id,
            seats: SeatSelection::parse(labels.iter().map(|l| self.seat(l)).collect()).unwrap(),
            ttl,
            limit: HoldLimit::default(),
            admitted: false,
            presale: false,
            unlocked_types: Vec::new(),
            accessible: false,
        }
    }
}

fn ten_minutes() -> HoldTtl {
    HoldTtl::from_seconds(600).unwrap()
}

fn label(row: &str, seat_number: i32, tier: &str) -> SeatLabel {
    SeatLabel { section: None, row: row.into(), seat_number, tier: tier.into() }
}

async fn new_user(store: &PostgresStore, name: &str) -> Uuid {
    let user = store
        .create_user(NewUser {
            email: Email::parse(&format!("{}@example.com", Uuid::new_v4().simple())).unwrap(),
            name: name.into(),
            password_hash: "hash".into(),
            role: Role::Customer,
        })
        .await
        .unwrap();
    user.id
}

pub(super) async fn fixture(store: &PostgresStore) -> Fixture {
    let user_id = new_user(store, "Ann").await;
    let rows = vec![
        NewSeatRow { row: "A".into(), seats: 3, tier: "standard".into() },
        NewSeatRow { row: "B".into(), seats: 2, tier: "vip".into() },
    ];
    let venue =
        store.create_venue(NewVenue::parse("Hall", Some("Town"), VenueKind::Hall, rows).unwrap()).await.unwrap();
    let event = store
        .create_event(NewEvent {
            actor: None,
            venue_id: venue.venue.id,
            name: "Concert".into(),
            category: Category::Concert,
            description: String::new(),
            image_url: None,
            start_time: Utc::now() + Duration::days(7),
            duration_minutes: Some(90),
            on_sale_at: None,
            queue: None,
            accessible_release_hours: None,
            currency: "EUR".into(),
            prices: vec![
                Price { tier: "vip".into(), price_cents: 3000 },
                Price { tier: "standard".into(), price_cents: 1200 },
            ],
            ticket_types: Vec::new(),
        })
        .await
        .unwrap();
    Fixture { user_id, event_id: event.id, seats: venue.seats }
}

pub(super) async fn count_reservations(store: &PostgresStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM reservations").fetch_one(&store.pool).await.unwrap()
}

#[tokio::test]
async fn a_two_seat_hold_is_one_booking_read_back_alike() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = Utc::now();
        let booking = store.hold(&f.hold(&["B2", "A1"], ten_minutes()), now).await.unwrap();

        assert_eq!(booking.status, ReservationStatus::Held);
        assert_eq!(booking.total_cents, 4200);
        let seats: Vec<SeatLabel> = booking.reservations.iter().map(|r| r.seat.clone()).collect();
        assert_eq!(seats, vec![label("A", 1, "standard"), label("B", 2, "vip")]);
        assert_eq!(store.booking(booking.id, now).await.unwrap(), Some(booking.clone()));

        let event = store.event(f.event_id, now).await.unwrap().unwrap();
        assert_eq!((event.seats_total, event.seats_available), (5, 3));
        assert_eq!(event.prices.iter().map(|p| p.tier.as_str()).collect::<Vec<_>>(), ["standard", "vip"]);
        let map = store.seat_map(f.event_id, now).await.unwrap().unwrap();
        let held: Vec<String> = map
            .iter()
            .filter(|s| s.status == SeatStatus::Held)
            .map(|s| format!("{}{}", s.row, s.seat_number))
            .collect();
        assert_eq!(held, ["A1", "B2"]);
    })
    .await;
}

#[tokio::test]
async fn a_lapsed_hold_reads_expired_and_is_re_held_by_one_call() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let first = store.hold(&f.hold(&["A1"], HoldTtl::from_millis(30).unwrap()), Utc::now()).await.unwrap();
        tokio::time::sleep(StdDuration::from_millis(50)).await;
        let now = Utc::now();

        let lapsed = store.reservation(first.reservations[0].id, now).await.unwrap().unwrap();
        assert_eq!(lapsed.status, ReservationStatus::Expired);
        let again = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
        assert_eq!(again.status, ReservationStatus::Held);

        // The hold itself wrote the lapse down; no sweeper ran.
        let stored: String = sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
            .bind(first.reservations[0].id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(stored, "expired");
        assert_eq!(store.expire_lapsed_holds(now).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_refused_hold_says_why() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = Utc::now();
        let mut unknown_event = f.hold(&["A1"], ten_minutes());
        unknown_event.event_id = Uuid::new_v4();
        assert!(matches!(store.hold(&unknown_event, now).await, Err(StoreError::NotFound(Entity::Event))));

        let stranger = Uuid::new_v4();
        let mut foreign_seat = f.hold(&["A1"], ten_minutes());
        foreign_seat.seats = SeatSelection::parse(vec![f.seat("A1"), stranger]).unwrap();
        match store.hold(&foreign_seat, now).await {
            Err(StoreError::Rejected(invalid)) => {
                assert_eq!(invalid.field, "seat_ids");
                assert!(invalid.message.contains(&stranger.to_string()));
            }
            other => panic!("expected Rejected, got {other:?}"),
        }

        store.cancel_event(f.event_id, now, None).await.unwrap().unwrap();
        match store.hold(&f.hold(&["A1"], ten_minutes()), now).await {
            Err(StoreError::Rejected(invalid)) => {
                assert_eq!(invalid.message, "this event was canceled")
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
        assert_eq!(count_reservations(&store).await, 0);
    })
    .await;
}

#[tokio::test]
async fn racing_overlapping_holds_have_one_winner_and_only_seat_conflicts() {
    with_store(|store| async move {
        let f = Arc::new(fixture(&store).await);
        let now = Utc::now();
        let racers: Vec<_> = (0..24)
            .map(|i| {
                let (store, f) = (Arc::clone(&store), Arc::clone(&f));
                // Half ask in one order, half in the other: the statement must not deadlock them out.
                let labels: &[&str] = if i % 2 == 0 { &["A1", "B1", "B2"] } else { &["B2", "B1", "A1"] };
                tokio::spawn(async move { store.hold(&f.hold(labels, ten_minutes()), now).await })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(_) => winners += 1,
                Err(StoreError::SeatsUnavailable(lost)) => assert!(!lost.is_empty()),
                Err(other) => panic!("a loser got {other:?}"),
            }
        }
        assert_eq!(winners, 1);
        assert_eq!(count_reservations(&store).await, 3);
    })
    .await;
}

// --- Payments --------------------------------------------------------------------------------

/// The clock as PostgreSQL stores it (microseconds), so written instants compare equal on reading.
fn clock() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

fn checkout(booking: &Booking, hold_until: DateTime<Utc>) -> NewPayment {
    NewPayment {
        id: Uuid::new_v4(),
        booking_id: booking.id,
        user_id: booking.user_id,
        provider: "simulated".into(),
        hold_until,
        code: None,
    }
}

/// A booking of `labels` held at `now` for ten minutes, checked out and paid with `provider_ref`.
async fn paid_booking(
    store: &PostgresStore,
    f: &Fixture,
    labels: &[&str],
    provider_ref: &str,
    now: DateTime<Utc>,
) -> (Booking, Payment) {
    let booking = store.hold(&f.hold(labels, ten_minutes()), now).await.unwrap();
    let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
    let paid = store.confirm_payment(payment.id, provider_ref, "4242", now).await.unwrap();
    (booking, paid)
}

fn seat_statuses(map: &[SeatState]) -> Vec<(String, SeatStatus)> {
    map.iter().map(|s| (format!("{}{}", s.row, s.seat_number), s.status)).collect()
}

async fn stored_status(store: &PostgresStore, reservation_id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM reservations WHERE id = $1")
        .bind(reservation_id)
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn checkout_extends_the_hold_and_charges_the_held_seats_once() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();

        let payment = store.create_payment(checkout(&booking, now + minutes(15)), now).await.unwrap();
        assert_eq!((payment.amount_cents, payment.currency.as_str()), (4200, "EUR"));
        assert_eq!((payment.status, payment.refunded_cents), (PaymentStatus::Pending, 0));
        assert_eq!((payment.booking_id, payment.user_id), (booking.id, f.user_id));
        assert_eq!((payment.provider.as_str(), payment.card_last4.as_deref()), ("simulated", None));
        assert_eq!(store.payment(payment.id).await.unwrap(), Some(payment.clone()));
        let extended = store.booking(booking.id, now).await.unwrap().unwrap();
        assert!(extended.reservations.iter().all(|r| r.expires_at == now + minutes(15)));

        // The index refuses a second open payment, and the second extension goes with it.
        match store.create_payment(checkout(&booking, now + minutes(30)), now).await {
            Err(StoreError::InvalidState(message)) => assert_eq!(message, "this booking already has a payment"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        let kept = store.booking(booking.id, now).await.unwrap().unwrap();
        assert!(kept.reservations.iter().all(|r| r.expires_at == now + minutes(15)));

        // A hold that already runs longer than the payment window is not shortened.
        let long = store.hold(&f.hold(&["A2"], ten_minutes()), now).await.unwrap();
        let second = store.create_payment(checkout(&long, now + minutes(1)), now + minutes(1)).await.unwrap();
        let long = store.booking(long.id, now).await.unwrap().unwrap();
        assert_eq!(long.expires_at, now + minutes(10));

        assert_eq!(store.list_payments(Some(f.user_id), Page::default()).await.unwrap(), [second.clone(), payment]);
        assert_eq!(store.list_payments(None, Page { limit: 1, offset: 0 }).await.unwrap(), [second]);
        assert!(store.list_payments(Some(Uuid::new_v4()), Page::default()).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn checkout_of_a_lapsed_canceled_or_unknown_booking_is_refused() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let lapsed = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
        let later = now + minutes(11);
        assert!(matches!(
            store.create_payment(checkout(&lapsed, later + minutes(5)), later).await,
            Err(StoreError::HoldExpired)
        ));
        // Written down as expired by the sweeper, it is still a lapsed hold.
        store.expire_lapsed_holds(later).await.unwrap();
        assert!(matches!(
            store.create_payment(checkout(&lapsed, later + minutes(5)), later).await,
            Err(StoreError::HoldExpired)
        ));

        let canceled = store.hold(&f.hold(&["A2"], ten_minutes()), now).await.unwrap();
        store.cancel_booking(canceled.id, now, None).await.unwrap();
        match store.create_payment(checkout(&canceled, now + minutes(5)), now).await {
            Err(StoreError::InvalidState(message)) => {
                assert_eq!(message, "this booking has no held seats to pay for")
            }
            other => panic!("expected InvalidState, got {other:?}"),
        }

        let mut unknown = checkout(&canceled, now + minutes(5));
        unknown.booking_id = Uuid::new_v4();
        assert!(matches!(store.create_payment(unknown, now).await, Err(StoreError::NotFound(Entity::Booking))));
        assert!(store.list_payments(None, Page::default()).await.unwrap().is_empty());

        // A paid booking has nothing held any more.
        let (paid, _) = paid_booking(&store, &f, &["B1"], "ch_1", now).await;
        assert!(matches!(
            store.create_payment(checkout(&paid, now + minutes(5)), now).await,
            Err(StoreError::InvalidState(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn confirm_sells_the_seats_and_keeps_only_the_last_four_digits() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();

        let paid = store.confirm_payment(payment.id, "ch_1", "4242", now + minutes(1)).await.unwrap();
        assert_eq!((paid.status, paid.card_last4.as_deref()), (PaymentStatus::Succeeded, Some("4242")));
        assert_eq!(paid.updated_at, now + minutes(1));
        assert_eq!(store.payment(payment.id).await.unwrap(), Some(paid.clone()));
        let provider_ref: Option<String> = sqlx::query_scalar("SELECT provider_ref FROM payments WHERE id = $1")
            .bind(payment.id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(provider_ref.as_deref(), Some("ch_1"));

        let confirmed = store.booking(booking.id, now + minutes(20)).await.unwrap().unwrap();
        assert_eq!(confirmed.status, ReservationStatus::Confirmed);
        let map = store.seat_map(f.event_id, now + minutes(20)).await.unwrap().unwrap();
        let sold: Vec<_> = seat_statuses(&map).into_iter().filter(|(_, status)| *status == SeatStatus::Sold).collect();
        assert_eq!(sold, [("A1".to_owned(), SeatStatus::Sold), ("B1".to_owned(), SeatStatus::Sold)]);

        match store.confirm_payment(payment.id, "ch_2", "1111", now).await {
            Err(StoreError::InvalidState(message)) => assert_eq!(message, "this payment is already succeeded"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        assert!(matches!(
            store.confirm_payment(Uuid::new_v4(), "ch", "4242", now).await,
            Err(StoreError::NotFound(Entity::Payment))
        ));
        assert!(matches!(store.fail_payment(payment.id, 0, now).await, Err(StoreError::InvalidState(_))));
    })
    .await;
}

#[tokio::test]
async fn confirm_after_a_lapse_takes_back_seats_nobody_holds() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let later = now + minutes(11);

        // Lapsed, still written `held`: nobody touched it.
        let untouched = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
        let first = store.create_payment(checkout(&untouched, now + minutes(5)), now).await.unwrap();
        let paid = store.confirm_payment(first.id, "ch_1", "4242", later).await.unwrap();
        assert_eq!(paid.status, PaymentStatus::Succeeded);

        // Lapsed and swept, then held by someone else whose hold lapsed too: that one yields.
        let swept = store.hold(&f.hold(&["A2", "A3"], ten_minutes()), now).await.unwrap();
        let second = store.create_payment(checkout(&swept, now + minutes(5)), now).await.unwrap();
        store.expire_lapsed_holds(later).await.unwrap();
        let mut bobs_request = f.hold(&["A3"], HoldTtl::from_seconds(60).unwrap());
        bobs_request.user_id = new_user(&store, "Bob").await;
        let bobs = store.hold(&bobs_request, later).await.unwrap();
        let latest = later + minutes(2);
        let paid = store.confirm_payment(second.id, "ch_2", "4242", latest).await.unwrap();
        assert_eq!(paid.status, PaymentStatus::Succeeded);
        assert_eq!(stored_status(&store, bobs.reservations[0].id).await, "expired");

        let map = store.seat_map(f.event_id, latest).await.unwrap().unwrap();
        assert!(seat_statuses(&map)[..3].iter().all(|(_, status)| *status == SeatStatus::Sold));
    })
    .await;
}

#[tokio::test]
async fn canceling_paid_seats_records_and_returns_their_refunds() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let (booking, payment) = paid_booking(&store, &f, &["A1", "B1"], "ch_1", now).await;
        let a1 = booking.reservations[0].id;
        let b1 = booking.reservations[1].id;

        let first = store.cancel_reservation(a1, now + minutes(1), None).await.unwrap();
        assert_eq!(first.canceled.status, ReservationStatus::Canceled);
        assert_eq!(first.refunds, [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 1200 }]);
        let partly = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1200));
        assert_eq!(partly.updated_at, now + minutes(1));

        let last = store.cancel_reservation(b1, now + minutes(2), None).await.unwrap();
        assert_eq!(last.refunds, [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 3000 }]);
        let refunded = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::Refunded, 4200));
        assert!(matches!(store.cancel_booking(booking.id, now, None).await, Err(StoreError::InvalidState(_))));
        assert!(matches!(store.record_refund(payment.id, 1, now).await, Err(StoreError::InvalidState(_))));
    })
    .await;
}

#[tokio::test]
async fn cancels_cap_refunds_at_what_is_left_and_cancel_event_refunds_every_paid_booking() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        // The provider already gave back 4000 of 4200: canceling the booking owes only 200.
        let (booking, payment) = paid_booking(&store, &f, &["A1", "B1"], "ch_1", now).await;
        let partly = store.record_refund(payment.id, 4000, now).await.unwrap();
        assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 4000));
        let whole = store.cancel_booking(booking.id, now, None).await.unwrap();
        assert_eq!(whole.canceled.status, ReservationStatus::Canceled);
        assert_eq!(whole.refunds, [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 200 }]);
        let done = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((done.status, done.refunded_cents), (PaymentStatus::Refunded, 4200));

        let (_, first) = paid_booking(&store, &f, &["A2"], "ch_2", now).await;
        let (_, second) = paid_booking(&store, &f, &["B2"], "ch_3", now).await;
        let held = store.hold(&f.hold(&["A3"], ten_minutes()), now).await.unwrap();
        let pending = store.create_payment(checkout(&held, now + minutes(5)), now).await.unwrap();

        let cancellation = store.cancel_event(f.event_id, now, None).await.unwrap().unwrap();
        assert_eq!(cancellation.canceled.status, EventStatus::Canceled);
        let mut refunds = cancellation.refunds.clone();
        refunds.sort_by_key(|r| r.amount_cents);
        assert_eq!(
            refunds,
            [
                Refund { payment_id: first.id, provider_ref: "ch_2".into(), amount_cents: 1200 },
                Refund { payment_id: second.id, provider_ref: "ch_3".into(), amount_cents: 3000 },
            ]
        );
        assert_eq!(store.payment(first.id).await.unwrap().unwrap().status, PaymentStatus::Refunded);
        assert_eq!(store.payment(pending.id).await.unwrap().unwrap().status, PaymentStatus::Pending);
        assert_eq!(store.booking(held.id, now).await.unwrap().unwrap().status, ReservationStatus::Canceled);
        assert!(store.cancel_event(Uuid::new_v4(), now, None).await.unwrap().is_none());
        // The held booking's payment can never be confirmed now.
        assert!(matches!(
            store.confirm_payment(pending.id, "ch_4", "4242", now).await,
            Err(StoreError::InvalidState(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn an_event_canceled_while_a_hold_had_lapsed_sells_nothing() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let booking = store.hold(&f.hold(&["A1"], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
        let later = now + minutes(11);
        store.cancel_event(f.event_id, later, None).await.unwrap().unwrap();
        match store.confirm_payment(payment.id, "ch_1", "4242", later).await {
            Err(StoreError::InvalidState(message)) => assert_eq!(message, "this event was canceled"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        assert_eq!(store.payment(payment.id).await.unwrap().unwrap().status, PaymentStatus::Pending);
    })
    .await;
}

#[tokio::test]
async fn failed_payments_refunds_and_webhook_events_are_recorded_once() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let booking = store.hold(&f.hold(&["A1", "A2"], ten_minutes()), now).await.unwrap();
        let first = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
        assert!(matches!(store.record_refund(first.id, 100, now).await, Err(StoreError::InvalidState(_))));
        let failed = store.fail_payment(first.id, 99_999, now).await.unwrap();
        assert_eq!((failed.status, failed.refunded_cents), (PaymentStatus::Failed, 2400));
        match store.fail_payment(first.id, 0, now).await {
            Err(StoreError::InvalidState(message)) => assert_eq!(message, "this payment is already failed"),
            other => panic!("expected InvalidState, got {other:?}"),
        }
        assert!(matches!(store.fail_payment(Uuid::new_v4(), 0, now).await, Err(StoreError::NotFound(Entity::Payment))));
        assert!(matches!(
            store.record_refund(Uuid::new_v4(), 1, now).await,
            Err(StoreError::NotFound(Entity::Payment))
        ));

        // A failed payment does not block the next one.
        let second = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();
        store.confirm_payment(second.id, "ch_1", "4242", now).await.unwrap();
        let partly = store.record_refund(second.id, 400, now).await.unwrap();
        assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 400));
        let capped = store.record_refund(second.id, 10_000, now).await.unwrap();
        assert_eq!((capped.status, capped.refunded_cents), (PaymentStatus::Refunded, 2400));

        assert!(store.record_webhook_event("evt_1", now).await.unwrap());
        assert!(!store.record_webhook_event("evt_1", now).await.unwrap());
        assert!(store.record_webhook_event("evt_2", now).await.unwrap());
    })
    .await;
}

/// Waits until some session of this store's database waits for a row lock.
async fn until_someone_waits_for_a_lock(store: &PostgresStore) {
    for _ in 0..500 {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                            WHERE datname = current_database() AND wait_event_type = 'Lock')",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        if waiting {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    panic!("nobody ever waited for the lock");
}

#[tokio::test]
async fn a_cancel_that_waited_for_a_confirm_refunds_the_seat_it_confirmed() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let now = clock();
        let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
        let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();

        // A confirm caught between its writes and its commit, as `confirm_payment` writes them.
        let mut confirm = store.pool.begin().await.unwrap();
        sqlx::query("SELECT id FROM reservations WHERE booking_id = $1 ORDER BY id FOR UPDATE")
            .bind(booking.id)
            .execute(&mut *confirm)
            .await
            .unwrap();
        sqlx::query("UPDATE payments SET status = 'succeeded', provider_ref = 'ch_1' WHERE id = $1")
            .bind(payment.id)
            .execute(&mut *confirm)
            .await
            .unwrap();
        sqlx::query("UPDATE reservations SET status = 'confirmed' WHERE booking_id = $1")
            .bind(booking.id)
            .execute(&mut *confirm)
            .await
            .unwrap();

        // The cancel reads the seat as held, then waits for the confirm's lock.
        let canceling = {
            let store = Arc::clone(&store);
            let a1 = booking.reservations[0].id;
            tokio::spawn(async move { store.cancel_reservation(a1, now, None).await })
        };
        until_someone_waits_for_a_lock(&store).await;
        confirm.commit().await.unwrap();

        let cancellation = canceling.await.unwrap().unwrap();
        assert_eq!(
            cancellation.refunds,
            [Refund { payment_id: payment.id, provider_ref: "ch_1".into(), amount_cents: 1200 }]
        );
        let refunded = store.payment(payment.id).await.unwrap().unwrap();
        assert_eq!((refunded.status, refunded.refunded_cents), (PaymentStatus::PartiallyRefunded, 1200));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_confirm_racing_a_cancel_never_keeps_money_for_a_canceled_seat() {
    with_store(|store| async move {
        let f = Arc::new(fixture(&store).await);
        for round in 0..24 {
            let now = clock();
            let booking = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
            let payment = store.create_payment(checkout(&booking, now + minutes(5)), now).await.unwrap();

            let confirming = {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.confirm_payment(payment.id, "ch_race", "4242", now).await })
            };
            let canceling = {
                let store = Arc::clone(&store);
                let (booking_id, a1) = (booking.id, booking.reservations[0].id);
                // Started a little later round by round, so that the cancel lands before, inside
                // and after the confirm's transaction in turn (a spin: the timer counts whole ms).
                let delay = StdDuration::from_micros(80 * round);
                tokio::spawn(async move {
                    let start = std::time::Instant::now();
                    while start.elapsed() < delay {
                        std::hint::spin_loop();
                    }
                    if round % 2 == 0 {
                        store.cancel_booking(booking_id, now, None).await.map(|c| c.refunds)
                    } else {
                        store.cancel_reservation(a1, now, None).await.map(|c| c.refunds)
                    }
                })
            };
            let confirmed = confirming.await.unwrap();
            let refunds = canceling.await.unwrap().unwrap();

            let after = store.booking(booking.id, now).await.unwrap().unwrap();
            let canceled_cents: i64 = after
                .reservations
                .iter()
                .filter(|r| r.status == ReservationStatus::Canceled)
                .map(|r| r.price_cents)
                .sum();
            let stored = store.payment(payment.id).await.unwrap().unwrap();
            let refunded_cents: i64 = refunds.iter().map(|r| r.amount_cents).sum();
            match confirmed {
                Ok(_) => {
                    // Paid: every canceled seat was confirmed first, and is refunded.
                    assert_eq!(stored.refunded_cents, canceled_cents, "round {round}");
                    assert_eq!(refunded_cents, canceled_cents, "round {round}");
                    let expected = if canceled_cents == stored.amount_cents {
                        PaymentStatus::Refunded
                    } else {
                        PaymentStatus::PartiallyRefunded
                    };
                    assert_eq!(stored.status, expected, "round {round}");
                }
                Err(StoreError::InvalidState(message)) => {
                    // The cancel came first: nothing was charged or confirmed.
                    assert_eq!(message, "a seat of this booking was canceled", "round {round}");
                    assert_eq!((stored.status, stored.refunded_cents), (PaymentStatus::Pending, 0));
                    assert!(refunds.is_empty(), "round {round}");
                    assert!(after.reservations.iter().all(|r| r.status != ReservationStatus::Confirmed));
                }
                Err(other) => panic!("round {round}: the confirm got {other:?}"),
            }
            // Free the seats for the next round.
            let _ = store.cancel_booking(booking.id, now, None).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lapsed_confirm_racing_new_holds_leaves_the_seats_to_exactly_one_of_them() {
    with_store(|store| async move {
        let f = Arc::new(fixture(&store).await);
        let bob = new_user(&store, "Bob").await;
        for round in 0..12u32 {
            let now = clock();
            let anns = store.hold(&f.hold(&["A1", "B1"], ten_minutes()), now).await.unwrap();
            let payment = store.create_payment(checkout(&anns, now + minutes(5)), now).await.unwrap();
            let later = now + minutes(11);

            let confirming = {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.confirm_payment(payment.id, "ch_race", "4242", later).await })
            };
            // Every hold wants A1, so at most one of them can win, in either seat order.
            let holds: Vec<_> = (0..6)
                .map(|i| {
                    let (store, f) = (Arc::clone(&store), Arc::clone(&f));
                    let labels: &[&str] = if i % 2 == 0 { &["A1"] } else { &["B1", "A1"] };
                    // Later round by round, so that the confirm sometimes commits before any hold
                    // arrives and sometimes meets them mid-transaction.
                    let delay = StdDuration::from_micros(u64::from(300 * round + 50 * i));
                    tokio::spawn(async move {
                        let start = std::time::Instant::now();
                        while start.elapsed() < delay {
                            std::hint::spin_loop();
                        }
                        let mut request = f.hold(labels, ten_minutes());
                        request.user_id = bob;
                        store.hold(&request, later).await
                    })
                })
                .collect();

            let mut winners = Vec::new();
            for hold in holds {
                match hold.await.unwrap() {
                    Ok(booking) => winners.push(booking.id),
                    Err(StoreError::SeatsUnavailable(_)) => {}
                    Err(other) => panic!("round {round}: a hold got {other:?}"),
                }
            }
            match confirming.await.unwrap() {
                Ok(_) => assert!(winners.is_empty(), "round {round}: sold and held at once"),
                Err(StoreError::HoldExpired) => {
                    assert_eq!(winners.len(), 1, "round {round}");
                    let still = store.payment(payment.id).await.unwrap().unwrap();
                    assert_eq!(still.status, PaymentStatus::Pending, "round {round}");
                }
                Err(other) => panic!("round {round}: the confirm got {other:?}"),
            }
            // Free the seats for the next round, whose clock is earlier than `later`: Ann's seats
            // that are still written `held` run at that clock, so they are canceled at `now`.
            let _ = store.cancel_booking(anns.id, now, None).await;
            for winner in winners {
                store.cancel_booking(winner, later, None).await.unwrap();
            }
        }
    })
    .await;
}
