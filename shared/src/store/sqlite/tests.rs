//! SQLite-only cases: what the hold batches, the transactions on the single writer and the
//! millisecond times promise beyond the conformance suite (`shared/tests/store/`),
//! which runs every store promise on every backend; and that the ticket statements search
//! `tickets` through their indexes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use proeventa_testkit::TempSqlite;

use super::SqliteStore;
use super::rows::{from_millis, millis};
use crate::domain::{
    Booking, Category, Email, HoldLimit, HoldRequest, HoldTtl, NewEvent, NewPayment, NewUser, NewVenue, Page, Payment,
    PaymentStatus, Price, ReservationFilter, ReservationStatus, Role, Seat, SeatRow, SeatSelection, SeatStatus,
    VenueKind,
};
use crate::store::{CatalogStore, Entity, HoldStore, OutboxStore, PaymentStore, Store, StoreError, UserStore};

/// A fresh database file, removed with its WAL files when the test ends.
pub(super) struct TestDb {
    // Fields drop in order: the store (and its pool) goes before its file.
    pub(super) store: SqliteStore,
    _file: TempSqlite,
}

pub(super) async fn test_db() -> TestDb {
    let file = TempSqlite::new("proeventa_sqlite_unit");
    let store = SqliteStore::connect(&file.url()).await.unwrap();
    store.migrate().await.unwrap();
    TestDb { store, _file: file }
}

async fn customer(store: &SqliteStore, email: &str) -> Uuid {
    let user = NewUser {
        email: Email::parse(email).unwrap(),
        name: "Test".into(),
        password_hash: "hash".into(),
        role: Role::Customer,
    };
    store.create_user(user).await.unwrap().id
}

/// A one-row venue (A1..A3, tier `standard`) and an event there tomorrow at 1500 cents a seat.
async fn event_with_seats(store: &SqliteStore) -> (Uuid, Vec<Seat>) {
    let rows = vec![SeatRow { row: "A".into(), seats: 3, tier: "standard".into() }];
    let venue = store.create_venue(NewVenue::parse("Hall", None, VenueKind::Hall, rows).unwrap()).await.unwrap();
    let event = NewEvent {
        actor: None,
        venue_id: venue.venue.id,
        name: "Concert".into(),
        category: Category::Concert,
        description: String::new(),
        image_url: None,
        start_time: Utc::now() + chrono::Duration::days(1),
        duration_minutes: Some(90),
        on_sale_at: None,
        queue: None,
        accessible_release_hours: None,
        currency: "EUR".into(),
        prices: vec![Price { tier: "standard".into(), price_cents: 1500 }],
        ticket_types: Vec::new(),
    };
    let event = store.create_event(event).await.unwrap();
    (event.id, venue.seats)
}

fn request(user_id: Uuid, event_id: Uuid, seats: &[&Seat], ttl: HoldTtl) -> HoldRequest {
    HoldRequest {
        booking_id: Uuid::new_v4(),
        user_id,
        event_id,
        seats: SeatSelection::parse(seats.iter().map(|s| s.id).collect()).unwrap(),
        ttl,
        limit: HoldLimit::default(),
        admitted: false,
        presale: false,
        unlocked_types: Vec::new(),
        accessible: false,
    }
}

fn ten_minutes() -> HoldTtl {
    HoldTtl::from_seconds(600).unwrap()
}

#[tokio::test]
async fn a_two_seat_hold_holds_both_seats() {
    let db = test_db().await;
    let store = &db.store;
    let user = customer(store, "ann@example.com").await;
    let (event_id, seats) = event_with_seats(store).await;
    let now = Utc::now();

    let booking = store.hold(&request(user, event_id, &[&seats[1], &seats[0]], ten_minutes()), now).await.unwrap();
    assert_eq!(booking.status, ReservationStatus::Held);
    assert_eq!(booking.total_cents, 3000);
    let numbers: Vec<i32> = booking.reservations.iter().map(|r| r.seat.seat_number).collect();
    assert_eq!(numbers, vec![1, 2]);
    assert_eq!(store.booking(booking.id, now).await.unwrap(), Some(booking));

    let map = store.seat_map(event_id, now).await.unwrap().unwrap();
    let states: Vec<SeatStatus> = map.iter().map(|s| s.status).collect();
    assert_eq!(states, vec![SeatStatus::Held, SeatStatus::Held, SeatStatus::Available]);
    assert_eq!(store.event(event_id, now).await.unwrap().unwrap().seats_available, 1);
}

#[tokio::test]
async fn a_conflicting_hold_names_the_lost_seat_and_leaves_nothing() {
    let db = test_db().await;
    let store = &db.store;
    let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
    let (event_id, seats) = event_with_seats(store).await;
    let now = Utc::now();
    store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();

    let losing = request(bob, event_id, &[&seats[1], &seats[2]], ten_minutes());
    match store.hold(&losing, now).await {
        Err(StoreError::SeatsUnavailable(labels)) => {
            assert_eq!(
                labels.iter().map(crate::domain::SeatLabel::on_ticket).collect::<Vec<_>>(),
                vec!["Row A · Seat 2"]
            );
        }
        other => panic!("expected SeatsUnavailable, got {other:?}"),
    }
    assert_eq!(store.booking(losing.booking_id, now).await.unwrap(), None);
    let bobs = ReservationFilter { user_id: Some(bob), ..Default::default() };
    assert!(store.list_reservations(&bobs, now).await.unwrap().is_empty());
    let map = store.seat_map(event_id, now).await.unwrap().unwrap();
    assert_eq!(map[2].status, SeatStatus::Available);
}

#[tokio::test]
async fn a_lapsed_hold_reads_expired_and_frees_the_seat() {
    let db = test_db().await;
    let store = &db.store;
    let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
    let (event_id, seats) = event_with_seats(store).await;
    let first =
        store.hold(&request(ann, event_id, &[&seats[0]], HoldTtl::from_millis(30).unwrap()), Utc::now()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let now = Utc::now();
    let lapsed = store.reservation(first.reservations[0].id, now).await.unwrap().unwrap();
    assert_eq!(lapsed.status, ReservationStatus::Expired);
    let expired = ReservationFilter { status: Some(ReservationStatus::Expired), ..Default::default() };
    assert_eq!(store.list_reservations(&expired, now).await.unwrap().len(), 1);
    assert_eq!(store.seat_map(event_id, now).await.unwrap().unwrap()[0].status, SeatStatus::Available);

    let second = store.hold(&request(bob, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
    assert_eq!(second.status, ReservationStatus::Held);
    assert_eq!(store.expire_lapsed_holds(now).await.unwrap(), 0, "the hold wrote the lapsed one down");
}

// -----------------------------------------------------------------------------------------
// Payments. Times are chosen, not waited for: `now` is a parameter of every store call.

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// `now` as the store keeps it: whole milliseconds.
fn ms(at: DateTime<Utc>) -> DateTime<Utc> {
    from_millis(millis(at)).unwrap()
}

fn new_payment(booking: &Booking, hold_until: DateTime<Utc>) -> NewPayment {
    NewPayment {
        id: Uuid::new_v4(),
        booking_id: booking.id,
        user_id: booking.user_id,
        provider: "simulated".into(),
        hold_until,
        code: None,
    }
}

/// Ann's two-seat booking (A1, A2) held for ten minutes at `now`, checked out with a hold
/// extended to now + 15 minutes, and paid.
async fn paid_booking(store: &SqliteStore, now: DateTime<Utc>) -> (Uuid, Vec<Seat>, Booking, Payment) {
    let ann = customer(store, "ann@example.com").await;
    let (event_id, seats) = event_with_seats(store).await;
    let booking = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();
    let payment = store.create_payment(new_payment(&booking, now + minutes(15)), now).await.unwrap();
    let payment = store.confirm_payment(payment.id, "ch_1", "4242", now + minutes(1)).await.unwrap();
    (event_id, seats, booking, payment)
}

#[tokio::test]
async fn a_second_checkout_is_refused_and_extends_nothing() {
    let db = test_db().await;
    let store = &db.store;
    let ann = customer(store, "ann@example.com").await;
    let (event_id, seats) = event_with_seats(store).await;
    let now = ms(Utc::now());
    let booking = store.hold(&request(ann, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
    let first = store.create_payment(new_payment(&booking, now + minutes(15)), now).await.unwrap();

    match store.create_payment(new_payment(&booking, now + minutes(30)), now + minutes(1)).await {
        Err(StoreError::InvalidState(detail)) => assert_eq!(detail, "this booking already has a payment"),
        other => panic!("expected InvalidState, got {other:?}"),
    }
    let booking_now = store.booking(booking.id, now).await.unwrap().unwrap();
    assert_eq!(booking_now.expires_at, now + minutes(15), "the refused checkout's extension was rolled back");

    // A failed payment is closed: the buyer may check out again.
    let failed = store.fail_payment(first.id, 0, now + minutes(2)).await.unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert!(matches!(store.fail_payment(first.id, 0, now).await, Err(StoreError::InvalidState(_))));
    let again = store.create_payment(new_payment(&booking, now + minutes(20)), now + minutes(3)).await.unwrap();
    assert_eq!((again.status, again.amount_cents), (PaymentStatus::Pending, 1500));
}

#[tokio::test]
async fn checkout_tells_a_lapsed_hold_from_nothing_held() {
    let db = test_db().await;
    let store = &db.store;
    let ann = customer(store, "ann@example.com").await;
    let (event_id, seats) = event_with_seats(store).await;
    let now = ms(Utc::now());
    let lapsing = store.hold(&request(ann, event_id, &[&seats[0]], ten_minutes()), now).await.unwrap();
    let canceled = store.hold(&request(ann, event_id, &[&seats[1]], ten_minutes()), now).await.unwrap();
    store.cancel_booking(canceled.id, now, None).await.unwrap();

    let later = now + minutes(11);
    assert!(matches!(
        store.create_payment(new_payment(&lapsing, later + minutes(5)), later).await,
        Err(StoreError::HoldExpired)
    ));
    store.expire_lapsed_holds(later).await.unwrap();
    assert!(matches!(
        store.create_payment(new_payment(&lapsing, later + minutes(5)), later).await,
        Err(StoreError::HoldExpired)
    ));
    assert!(matches!(
        store.create_payment(new_payment(&canceled, now + minutes(5)), now).await,
        Err(StoreError::InvalidState(_))
    ));
    let mut unknown = new_payment(&lapsing, now);
    unknown.booking_id = Uuid::new_v4();
    assert!(matches!(store.create_payment(unknown, now).await, Err(StoreError::NotFound(Entity::Booking))));
    assert!(store.list_payments(None, Page::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn confirm_after_a_lapse_sells_seats_nobody_took() {
    let db = test_db().await;
    let store = &db.store;
    let (ann, bob) = (customer(store, "ann@example.com").await, customer(store, "bob@example.com").await);
    let (event_id, seats) = event_with_seats(store).await;
    let now = ms(Utc::now());
    let anns = store.hold(&request(ann, event_id, &[&seats[0], &seats[1]], ten_minutes()), now).await.unwrap();
    let payment = store.create_payment(new_payment(&anns, now + minutes(15)), now).await.unwrap();
    // Ann's hold lapses; Bob holds A2 for a minute (writing Ann's A2 down as expired, her A1
    // stays `held` in the table) and lets it lapse too: nobody has the seats any more.
    let one_minute = HoldTtl::from_seconds(60).unwrap();
    let bobs = store.hold(&request(bob, event_id, &[&seats[1]], one_minute), now + minutes(17)).await.unwrap();

    let later = now + minutes(20);
    let confirmed = store.confirm_payment(payment.id, "ch_1", "4242", later).await.unwrap();
    assert_eq!(confirmed.status, PaymentStatus::Succeeded);
    let anns_now = store.booking(anns.id, later).await.unwrap().unwrap();
    assert!(anns_now.reservations.iter().all(|r| r.status == ReservationStatus::Confirmed));
    assert_eq!(anns_now.status, ReservationStatus::Confirmed);
    assert_eq!(store.booking(bobs.id, later).await.unwrap().unwrap().status, ReservationStatus::Expired);
    let map = store.seat_map(event_id, later).await.unwrap().unwrap();
    let states: Vec<SeatStatus> = map.iter().map(|s| s.status).collect();
    assert_eq!(states, vec![SeatStatus::Sold, SeatStatus::Sold, SeatStatus::Available]);
}

#[tokio::test]
async fn refunds_from_the_provider_are_capped_and_webhooks_counted_once() {
    let db = test_db().await;
    let store = &db.store;
    let now = ms(Utc::now());
    let (_, _, booking, payment) = paid_booking(store, now).await;

    let partly = store.record_refund(payment.id, 1000, now).await.unwrap();
    assert_eq!((partly.status, partly.refunded_cents), (PaymentStatus::PartiallyRefunded, 1000));
    // A cancellation after a partial refund pays back only what is left.
    let canceled = store.cancel_booking(booking.id, now, None).await.unwrap();
    assert_eq!(canceled.refunds.iter().map(|r| r.amount_cents).collect::<Vec<_>>(), vec![2000]);
    let full = store.payment(payment.id).await.unwrap().unwrap();
    assert_eq!((full.status, full.refunded_cents), (PaymentStatus::Refunded, 3000));
    assert!(matches!(store.record_refund(Uuid::new_v4(), 1, now).await, Err(StoreError::NotFound(Entity::Payment))));
    assert!(matches!(store.fail_payment(payment.id, 0, now).await, Err(StoreError::InvalidState(_))));

    assert!(store.record_webhook_event("evt_1", now).await.unwrap());
    assert!(!store.record_webhook_event("evt_1", now).await.unwrap());
    assert!(store.record_webhook_event("evt_2", now).await.unwrap());
}

// -----------------------------------------------------------------------------------------
// Ticket plans: the door's check-in, a buyer's and a booking's listing, an event's manifest and
// counts, and the cancels' revocation search `tickets` through an index (never `SCAN tickets`,
// which is also what SQLite calls reading a whole index), on an empty table before and after
// ANALYZE and on an analyzed one holding other events' tickets. The listings come out of their
// index in order, with no sort.

/// The `detail` lines of `EXPLAIN QUERY PLAN` for `sql` with `binds` (ids as text, numbers).
async fn query_plan(store: &SqliteStore, sql: &str, binds: Vec<TicketBind>) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(&explain);
    for bind in binds {
        query = match bind {
            TicketBind::Text(text) => query.bind(text),
            TicketBind::Number(number) => query.bind(number),
        };
    }
    let rows = query.fetch_all(&store.writer).await.unwrap();
    rows.iter().map(|row| sqlx::Row::get::<String, _>(row, "detail")).collect()
}

/// A value bound to a ticket statement.
enum TicketBind {
    Text(String),
    Number(i64),
}

async fn assert_ticket_plans(store: &SqliteStore, what: &str) {
    use super::tickets::{
        REVOKE_SQL, TALLIES_SQL, check_in_batch_sql, event_tickets_sql, list_tickets_query, tickets_by_id_sql,
    };
    use crate::domain::TicketFilter;

    let id = || TicketBind::Text(Uuid::new_v4().to_string());
    let at = || TicketBind::Number(millis(Utc::now()));
    let limit = || TicketBind::Number(50);
    let offset = || TicketBind::Number(0);
    let ids = || TicketBind::Text(format!("[\"{}\", \"{}\"]", Uuid::new_v4(), Uuid::new_v4()));
    let page = Page { limit: 50, offset: 0 };
    let by_user = TicketFilter { user_id: Some(Uuid::new_v4()), booking_id: None, page };
    let by_booking = TicketFilter { user_id: None, booking_id: Some(Uuid::new_v4()), page };
    let list_by_user = list_tickets_query(&by_user).sql().to_owned();
    let list_by_booking = list_tickets_query(&by_booking).sql().to_owned();
    // The door's batch of scans: [ticket id, scan id, gate, time] each.
    let scans = || {
        let scans: Vec<serde_json::Value> = (0..64)
            .map(|_| {
                serde_json::json!([Uuid::new_v4().to_string(), Uuid::new_v4().to_string(), "north", millis(Utc::now())])
            })
            .collect();
        TicketBind::Text(serde_json::Value::Array(scans).to_string())
    };
    let check_in_batch = check_in_batch_sql();
    let tickets_by_id = tickets_by_id_sql();
    let event_tickets = event_tickets_sql();
    let by_id = "USING INDEX sqlite_autoindex_tickets_1 (id=?)";
    // (name, statement, its binds, the index it must search, whether its order needs a sort)
    let statements: [(&str, &str, Vec<TicketBind>, &str, bool); 7] = [
        ("check_in_batch", &check_in_batch, vec![scans()], by_id, false),
        ("tickets_by_id", &tickets_by_id, vec![ids()], by_id, false),
        (
            "list_by_user",
            &list_by_user,
            vec![id(), limit(), offset()],
            "USING INDEX tickets_user_idx (user_id=?)",
            false,
        ),
        (
            "list_by_booking",
            &list_by_booking,
            vec![id(), limit(), offset()],
            "USING INDEX tickets_booking_idx (booking_id=?)",
            false,
        ),
        ("event_tickets", &event_tickets, vec![id()], "USING INDEX tickets_event_idx (event_id=?)", false),
        ("ticket_tallies", TALLIES_SQL, vec![id()], "USING COVERING INDEX tickets_event_tally_idx (event_id=?)", true),
        ("revoke", REVOKE_SQL, vec![at(), ids()], "USING INDEX sqlite_autoindex_tickets_2 (reservation_id=?)", true),
    ];
    for (name, sql, binds, index, may_sort) in statements {
        let plan = query_plan(store, sql, binds).await;
        let reads: Vec<&String> = plan.iter().filter(|line| line.contains(" tickets")).collect();
        assert!(
            !reads.is_empty() && reads.iter().all(|line| line.starts_with("SEARCH tickets ") && line.ends_with(index)),
            "{what}: {name} must search tickets {index}: {plan:#?}"
        );
        assert!(may_sort || !plan.iter().any(|line| line.contains("TEMP B-TREE")), "{what}: {name} sorts: {plan:#?}");
    }
}

#[tokio::test]
async fn the_ticket_statements_search_tickets_through_their_indexes() {
    let db = test_db().await;
    let store = &db.store;
    assert_ticket_plans(store, "empty table").await;
    sqlx::query("ANALYZE").execute(&store.writer).await.unwrap();
    assert_ticket_plans(store, "empty table, analyzed").await;

    // 4,000 tickets of twenty events, by 200 buyers in bookings of four, then analyzed.
    let buyer = customer(store, "buyer@example.com").await;
    let rows = vec![SeatRow { row: "A".into(), seats: 200, tier: "standard".into() }];
    let venue = store.create_venue(NewVenue::parse("Arena", None, VenueKind::Arena, rows).unwrap()).await.unwrap();
    for day in 1..=20 {
        let event = NewEvent {
            actor: None,
            venue_id: venue.venue.id,
            name: format!("Day {day}"),
            category: Category::Concert,
            description: String::new(),
            image_url: None,
            start_time: Utc::now() + chrono::Duration::days(day),
            duration_minutes: None,
            on_sale_at: None,
            queue: None,
            accessible_release_hours: None,
            currency: "EUR".into(),
            prices: vec![Price { tier: "standard".into(), price_cents: 1500 }],
            ticket_types: Vec::new(),
        };
        let event = store.create_event(event).await.unwrap();
        let booking = Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO bookings (id, user_id, event_id, created_at) VALUES (?1, ?2, ?3, 0); \
             INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, \
                 expires_at, created_at, updated_at) \
             SELECT lower(hex(randomblob(16))), ?1, ?2, ?3, s.id, 1500, 'EUR', 'confirmed', 0, 0, 0 \
             FROM seats s WHERE s.venue_id = ?4",
        )
        .bind(&booking)
        .bind(buyer.to_string())
        .bind(event.id.to_string())
        .bind(venue.venue.id.to_string())
        .execute(&store.writer)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, row_label, row_index, \
             seat_number, tier, price_cents, currency, holder_name, status, issued_at) \
         SELECT lower(hex(randomblob(16))), r.id, r.event_id || (s.seat_number / 4), r.event_id, \
                'buyer' || s.seat_number, r.seat_id, s.row_label, s.row_index, s.seat_number, s.tier, \
                r.price_cents, r.currency, 'Buyer', 'valid', 1000000 - s.seat_number \
         FROM reservations r JOIN seats s ON s.id = r.seat_id; \
         ANALYZE",
    )
    .execute(&store.writer)
    .await
    .unwrap();
    assert_ticket_plans(store, "4,000 tickets, analyzed").await;
    let tickets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(&store.writer).await.unwrap();
    assert_eq!(tickets, 4000, "EXPLAIN wrote nothing");
}

// The outbox's claim searches `outbox` through its partial index of pending messages (by due
// time, in the order it claims them, so with no sort) and updates the rows it picked by primary
// key, on an empty table before and after ANALYZE and on an analyzed one holding tens of
// thousands of sent (and some failed) messages: never a scan.

/// A day of mail, then analyzed: 50,000 messages, one in 500 still pending (100), one in 1,000
/// failed (50), the rest sent, each with one attempt.
async fn a_day_of_mail(store: &SqliteStore) {
    sqlx::query(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) \
         INSERT INTO outbox (id, user_id, kind, facts, status, attempts, next_attempt_at, created_at, sent_at) \
         SELECT lower(hex(randomblob(16))), NULL, 'account_created', '{\"kind\":\"account_created\"}', \
                CASE WHEN i % 500 = 0 THEN 'pending' WHEN i % 1000 = 1 THEN 'failed' ELSE 'sent' END, 1, \
                1000000 + i, 1000000 + i, \
                CASE WHEN i % 500 = 0 OR i % 1000 = 1 THEN NULL ELSE 2000000 END \
         FROM n; \
         ANALYZE",
    )
    .execute(&store.writer)
    .await
    .unwrap();
}

async fn assert_claim_plan(store: &SqliteStore, what: &str) {
    let now = Utc::now();
    let plan = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", super::messages::CLAIM_SQL))
        .bind(millis(now + chrono::Duration::seconds(120)))
        .bind(millis(now))
        .bind(20_i64)
        .fetch_all(&store.writer)
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|row| sqlx::Row::get::<String, _>(row, "detail")).collect();
    let reads: Vec<&String> = plan.iter().filter(|line| line.contains(" outbox")).collect();
    assert!(reads.iter().all(|line| line.starts_with("SEARCH outbox ")), "{what}: the claim scans outbox: {plan:#?}");
    assert!(
        reads.iter().any(|line| line.contains("outbox_due_idx (next_attempt_at<?)")),
        "{what}: the due messages are not searched through the pending index: {plan:#?}"
    );
    assert!(
        reads.iter().any(|line| line.contains("sqlite_autoindex_outbox_1 (id=?)")),
        "{what}: the claimed rows are not updated by primary key: {plan:#?}"
    );
    assert!(!plan.iter().any(|line| line.contains("TEMP B-TREE")), "{what}: the claim sorts: {plan:#?}");
}

#[tokio::test]
async fn the_claim_searches_due_messages_through_the_pending_index() {
    let db = test_db().await;
    let store = &db.store;
    assert_claim_plan(store, "empty table").await;
    sqlx::query("ANALYZE").execute(&store.writer).await.unwrap();
    assert_claim_plan(store, "empty table, analyzed").await;

    a_day_of_mail(store).await;
    assert_claim_plan(store, "50,000 messages, analyzed").await;
    let claimed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts = 1")
        .fetch_one(&store.writer)
        .await
        .unwrap();
    assert_eq!(claimed, 100, "EXPLAIN wrote nothing");
}

// The outbox's depth searches the status index for the pending and failed messages only (a
// covering index: the table is not read), on an empty table before and after ANALYZE and on an
// analyzed one holding tens of thousands of sent messages: never a scan.

async fn assert_depth_plan(store: &SqliteStore, what: &str) {
    let plan = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", super::messages::DEPTH_SQL))
        .fetch_all(&store.reader)
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|row| sqlx::Row::get::<String, _>(row, "detail")).collect();
    let reads: Vec<&String> = plan.iter().filter(|line| line.contains(" outbox")).collect();
    assert!(!reads.is_empty(), "{what}: the depth reads no outbox? {plan:#?}");
    assert!(
        reads.iter().all(|line| line.starts_with("SEARCH outbox USING COVERING INDEX outbox_status_idx (status=?)")),
        "{what}: the depth reads outbox other than by searching the status index: {plan:#?}"
    );
}

#[tokio::test]
async fn the_depth_searches_pending_and_failed_messages_through_the_status_index() {
    let db = test_db().await;
    let store = &db.store;
    assert_depth_plan(store, "empty table").await;
    sqlx::query("ANALYZE").execute(&store.writer).await.unwrap();
    assert_depth_plan(store, "empty table, analyzed").await;

    a_day_of_mail(store).await;
    assert_depth_plan(store, "50,000 messages, analyzed").await;
    let depth = store.outbox_depth().await.unwrap();
    assert_eq!((depth.pending, depth.failed), (100, 50), "the statement counts what the plan reads");
}
