//! Plans whatever the statistics say, on SQLite: every statement of the hold, checkout and
//! confirm, the cancels, the seat map, the expiry sweep, the waiting room and list and the account
//! reads searches each table it reads through an index (`SEARCH`; never `SCAN <table>`, covering
//! index or not), on a file analyzed while empty, one analyzed while small (statistics a file
//! keeps until someone analyzes it again, however much it grows), and one analyzed with 100,000
//! reservations.

use chrono::Utc;
use uuid::Uuid;

use super::SqliteStore;
use super::rows::millis;
use super::tests::test_db;
use crate::domain::Page;

/// A value bound to a hot statement.
enum HotBind {
    Text(String),
    Number(i64),
}

fn text(value: &str) -> HotBind {
    HotBind::Text(value.to_owned())
}

/// A hot statement with its binds, and fragments of `SEARCH` lines its plan must contain.
struct HotStatement {
    name: &'static str,
    sql: String,
    binds: Vec<HotBind>,
    searches: &'static [&'static str],
}

fn hot(
    name: &'static str,
    sql: impl Into<String>,
    binds: Vec<HotBind>,
    searches: &'static [&'static str],
) -> HotStatement {
    HotStatement { name, sql: sql.into(), binds, searches }
}

fn hot_statements() -> Vec<HotStatement> {
    use super::catalog::seat_map_sql;
    use super::codes::COUNT_CODE_USE_SQL;
    use super::holds::{
        BATCH_ACTIVE_SQL, BATCH_EVENTS_SQL, BATCH_SEATS_SQL, BATCH_SLOTS_SQL, BATCH_TYPE_SLOTS_SQL, CancelScope,
        EXPIRE_BY_ID_SQL, EXPIRE_LAPSED_SQL, UNDO_BOOKINGS_SQL, UNDO_RESERVATIONS_SQL, booking_sql, reservation_sql,
    };
    use super::payments::{
        CHECKOUT_AMOUNT_SQL, CHECKOUT_EXTEND_SQL, CHECKOUT_REFUSAL_SQL, CHECKOUT_SEATS_SQL, CHECKOUT_START_SQL,
        CLEAR_DISCOUNTS_SQL, CONFIRM_CHECK_SQL, CONFIRM_SEATS_SQL, EXPIRE_OTHERS_LAPSED_SQL, FREE_FAILED_SEATS_SQL,
        PAID_PAYMENT_SQL, SET_DISCOUNT_SQL, confirm_payment_sql, decline_sql,
    };
    use super::users::{PASSWORD_HASH_SQL, user_by_email_sql, users_by_id_sql};
    use super::{queue, waitlist};
    use crate::domain::{ReservationFilter, ReservationStatus};

    let now = || HotBind::Number(millis(Utc::now()));
    let number = HotBind::Number;
    // The reads given a filter or an id build their text with it; the ids here only shape it.
    let page = Page { limit: 50, offset: 0 };
    let listing = |user_id, event_id, status| {
        let filter = ReservationFilter { user_id, event_id, status, page };
        super::holds::list_reservations_query(&filter, Utc::now()).sql().to_owned()
    };
    let some = Some(Uuid::nil());
    let (event, user, booking, payment, reservation) =
        (|| text("event0"), || text("user7"), || text("booking7"), || text("payment7"), || text("reservation28"));
    let by_booking = &["reservations_booking_idx (booking_id=?)"];
    vec![
        // The hold batch: its reads, its write-down of lapsed holds, its undo.
        hot("batch_events", BATCH_EVENTS_SQL, vec![text(r#"["event0"]"#)], &["sqlite_autoindex_events_1 (id=?)"]),
        hot("batch_seats", BATCH_SEATS_SQL, vec![text(r#"["seat1", "seat2"]"#)], &["sqlite_autoindex_seats_1 (id=?)"]),
        hot(
            "batch_slots",
            BATCH_SLOTS_SQL,
            vec![text(r#"[["event0", "user7", 0]]"#)],
            &["reservations_hold_slot_uq (event_id=? AND user_id=?"],
        ),
        hot(
            "batch_type_slots",
            BATCH_TYPE_SLOTS_SQL,
            vec![text(r#"["event0", "event1"]"#)],
            &["reservations_type_slot_uq (event_id=?)"],
        ),
        hot(
            "batch_active",
            BATCH_ACTIVE_SQL,
            vec![text(r#"[["event0", "seat1"], ["event0", "seat2"]]"#)],
            &["reservations_active_seat_uq (event_id=? AND seat_id=?)"],
        ),
        hot(
            "expire_by_id",
            format!("{}?{}?{}", EXPIRE_BY_ID_SQL.0, EXPIRE_BY_ID_SQL.1, EXPIRE_BY_ID_SQL.2),
            vec![now(), text(r#"["reservation0", "reservation6"]"#)],
            &["sqlite_autoindex_reservations_1 (id=?)"],
        ),
        hot("undo_reservations", UNDO_RESERVATIONS_SQL, vec![text(r#"["booking7"]"#)], by_booking),
        hot("undo_bookings", UNDO_BOOKINGS_SQL, vec![text(r#"["booking7"]"#)], &["sqlite_autoindex_bookings_1 (id=?)"]),
        // Reads of a reservation and a booking.
        hot("reservation", reservation_sql(), vec![reservation()], &["sqlite_autoindex_reservations_1 (id=?)"]),
        hot("booking", booking_sql(), vec![booking()], by_booking),
        // The cancels.
        hot(
            "cancel_select_reservation",
            CancelScope::Reservation.select_sql(),
            vec![reservation(), now()],
            &["sqlite_autoindex_reservations_1 (id=?)"],
        ),
        hot(
            "cancel_reservation",
            CancelScope::Reservation.cancel_sql(),
            vec![now(), reservation(), now()],
            &["sqlite_autoindex_reservations_1 (id=?)"],
        ),
        hot("cancel_select_booking", CancelScope::Booking.select_sql(), vec![booking(), now()], by_booking),
        hot("cancel_booking", CancelScope::Booking.cancel_sql(), vec![now(), booking(), now()], by_booking),
        hot(
            "cancel_select_event",
            CancelScope::Event.select_sql(),
            vec![event(), now()],
            &["reservations_event_idx (event_id=?)"],
        ),
        hot(
            "cancel_event",
            CancelScope::Event.cancel_sql(),
            vec![now(), event(), now()],
            &["reservations_event_idx (event_id=?)"],
        ),
        hot("paid_payment", PAID_PAYMENT_SQL, vec![booking()], &["payments_booking_open_uq (booking_id=?)"]),
        // Checkout, confirm, a declined card.
        hot("checkout_start", CHECKOUT_START_SQL, vec![booking()], &["sqlite_autoindex_bookings_1 (id=?)"]),
        hot("checkout_extend", CHECKOUT_EXTEND_SQL, vec![now(), now(), booking(), now()], by_booking),
        hot("checkout_refusal", CHECKOUT_REFUSAL_SQL, vec![now(), booking()], by_booking),
        hot("checkout_amount", CHECKOUT_AMOUNT_SQL, vec![booking(), now()], by_booking),
        // A checkout with a code: the seats to spread it over, their shares; without one, the
        // shares of an earlier one cleared; a confirm counts the code's use.
        hot(
            "checkout_seats",
            CHECKOUT_SEATS_SQL,
            vec![booking(), now()],
            &["reservations_booking_idx (booking_id=?)", "sqlite_autoindex_seats_1 (id=?)"],
        ),
        hot(
            "set_discount",
            SET_DISCOUNT_SQL,
            vec![number(0), reservation()],
            &["sqlite_autoindex_reservations_1 (id=?)"],
        ),
        hot("clear_discounts", CLEAR_DISCOUNTS_SQL, vec![booking()], by_booking),
        hot("count_code_use", COUNT_CODE_USE_SQL, vec![text("code1")], &["sqlite_autoindex_codes_1 (id=?)"]),
        hot(
            "confirm_payment",
            confirm_payment_sql(),
            vec![text("ch_1"), text("4242"), now(), payment()],
            &["sqlite_autoindex_payments_1 (id=?)"],
        ),
        hot("confirm_check", CONFIRM_CHECK_SQL, vec![booking(), now(), booking()], by_booking),
        hot(
            "expire_others_lapsed",
            EXPIRE_OTHERS_LAPSED_SQL,
            vec![now(), booking(), booking(), booking(), now()],
            &["reservations_active_seat_uq (event_id=? AND seat_id=?)"],
        ),
        hot("confirm_seats", CONFIRM_SEATS_SQL, vec![now(), booking()], by_booking),
        hot(
            "decline",
            decline_sql(),
            vec![HotBind::Number(3), now(), payment()],
            &["sqlite_autoindex_payments_1 (id=?)"],
        ),
        hot("free_failed_seats", FREE_FAILED_SEATS_SQL, vec![now(), now(), booking()], by_booking),
        hot(
            "issue_tickets",
            super::tickets::ISSUE_TICKETS_SQL,
            vec![now(), text(r#"[["ticket1", "reservation28"], ["ticket2", "reservation29"]]"#)],
            &[
                "sqlite_autoindex_reservations_1 (id=?)",
                "sqlite_autoindex_seats_1 (id=?)",
                "sqlite_autoindex_users_1 (id=?)",
            ],
        ),
        // The event as the cancels (and the event page) read it, with its seats taken.
        hot(
            "event_by_id",
            super::catalog::event_by_id_query(Uuid::nil(), Utc::now()).sql(),
            vec![now(), event()],
            &["sqlite_autoindex_events_1 (id=?)", "seats_venue_order_idx (venue_id=?)", "(event_id=?"],
        ),
        // A buyer's reservations, and an event's by status (the admin's listing).
        hot(
            "list_reservations_by_user",
            listing(some, None, None),
            vec![user(), number(50), number(0)],
            &["reservations_user_idx (user_id=?)", "sqlite_autoindex_seats_1 (id=?)"],
        ),
        hot(
            "list_reservations_held_of_event",
            listing(None, some, Some(ReservationStatus::Held)),
            vec![event(), now(), number(50), number(0)],
            &["(event_id=?", "sqlite_autoindex_seats_1 (id=?)"],
        ),
        hot(
            "list_reservations_confirmed_of_event",
            listing(None, some, Some(ReservationStatus::Confirmed)),
            vec![event(), text("confirmed"), number(50), number(0)],
            &["(event_id=?", "sqlite_autoindex_seats_1 (id=?)"],
        ),
        // The seat map, the sweep, the account reads.
        hot(
            "seat_map",
            seat_map_sql(),
            vec![now(), event()],
            &["seats_venue_order_idx (venue_id=?)", "reservations_active_seat_uq (event_id=? AND seat_id=?)"],
        ),
        // The organiser's sales report (issue 21).
        hot(
            "event_report",
            super::reports::event_report_sql(),
            vec![now(), event(), event()],
            &[
                "seats_venue_order_idx (venue_id=?)",
                "reservations_active_seat_uq (event_id=? AND seat_id=?)",
                "tickets_event_idx (event_id=?)",
            ],
        ),
        hot("expire_lapsed", EXPIRE_LAPSED_SQL, vec![now(), now()], &["reservations_lapsing_idx (expires_at<?)"]),
        hot("users_by_id", users_by_id_sql(), vec![text(r#"["user7"]"#)], &["sqlite_autoindex_users_1 (id=?)"]),
        hot(
            "user_by_email",
            user_by_email_sql(),
            vec![text("user7@example.com")],
            &["sqlite_autoindex_users_2 (email=?)"],
        ),
        hot("password_hash", PASSWORD_HASH_SQL, vec![user()], &["sqlite_autoindex_users_1 (id=?)"]),
        // The waiting room: a join (the event, the draw, the place, the counter), a status poll
        // (the place), an advance (the frontier counting the active places, the admissions).
        hot("queue_event", queue::EVENT_QUEUE_SQL, vec![event()], &["sqlite_autoindex_events_1 (id=?)"]),
        hot(
            "queue_draw",
            queue::DRAW_SQL,
            vec![event()],
            &["queue_entries_undrawn_idx (event_id=?)", "sqlite_autoindex_queue_states_1 (event_id=?)"],
        ),
        hot(
            "queue_place",
            queue::PLACE_SQL,
            vec![event(), user()],
            &[
                "queue_entries USING PRIMARY KEY (event_id=? AND user_id=?)",
                "sqlite_autoindex_queue_states_1 (event_id=?)",
            ],
        ),
        hot(
            "queue_join",
            queue::JOIN_SQL,
            vec![event(), user(), number(42), now()],
            &["sqlite_autoindex_queue_states_1 (event_id=?)"],
        ),
        hot("queue_counter", queue::COUNTER_SQL, vec![event()], &["sqlite_autoindex_queue_states_1 (event_id=?)"]),
        hot(
            "queue_advance",
            queue::ADVANCE_SQL,
            vec![event(), number(10), number(50), number(100), now()],
            &[
                "sqlite_autoindex_queue_states_1 (event_id=?)",
                "queue_entries_position_uq (event_id=? AND position>?)",
                "queue_entries_active_idx (event_id=? AND session_ends_at>?)",
            ],
        ),
        hot(
            "queue_admit",
            queue::ADMIT_SQL,
            vec![now(), now(), event(), number(100), number(110)],
            &["queue_entries_position_uq (event_id=? AND position>? AND position<?)"],
        ),
        // The waiting list: what every cancel and sweep of an event runs to find the next entries
        // (nothing more when nobody waits), the offer it makes, and a buyer's read of the entry.
        hot("waitlist_waiting", waitlist::WAITING_SQL, vec![event(), number(20)], &[WAITING_SEARCH]),
        hot(
            "waitlist_selling_event",
            waitlist::SELLING_EVENT_SQL,
            vec![event()],
            &["sqlite_autoindex_events_1 (id=?)"],
        ),
        hot(
            "waitlist_freed_seats",
            waitlist::FREED_SEATS_SQL,
            vec![event(), text(r#"["seat1", "seat2"]"#)],
            &["sqlite_autoindex_seats_1 (id=?)", "sqlite_autoindex_event_prices_1 (event_id=? AND tier=?)"],
        ),
        hot(
            "waitlist_offer_slots",
            waitlist::OFFER_SLOTS_SQL,
            vec![event(), user()],
            &["reservations_hold_slot_uq (event_id=? AND user_id=?"],
        ),
        hot(
            "waitlist_type_slots",
            waitlist::TYPE_SLOTS_SQL,
            vec![event(), text("student")],
            &["reservations_type_slot_uq (event_id=? AND ticket_type=?"],
        ),
        hot("waitlist_offered", waitlist::OFFERED_SQL, vec![event(), user(), booking(), now()], &[ENTRY_SEARCH]),
        hot("waitlist_passed", waitlist::PASSED_SQL, vec![event(), user()], &[ENTRY_SEARCH]),
        hot("waitlist_entry", waitlist::entry_sql(), vec![event(), user()], &[ENTRY_SEARCH, WAITING_SEARCH]),
    ]
}

/// The waiting list's searches: an event's waiting entries in their order; one account's entry.
const WAITING_SEARCH: &str = "waitlist_entries_waiting_idx (event_id=?";
const ENTRY_SEARCH: &str = "USING PRIMARY KEY (event_id=? AND user_id=?)";

async fn assert_hot_plans(store: &SqliteStore, database: &str) {
    for statement in hot_statements() {
        let explain = format!("EXPLAIN QUERY PLAN {}", statement.sql);
        let mut query = sqlx::query(&explain);
        for bind in statement.binds {
            query = match bind {
                HotBind::Text(text) => query.bind(text),
                HotBind::Number(number) => query.bind(number),
            };
        }
        let rows = query.fetch_all(&store.writer).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|row| sqlx::Row::get::<String, _>(row, "detail")).collect();
        let what = format!("{database}: {}", statement.name);
        // What may be scanned: `json_each` (the ids a statement is given), constant rows, and a
        // subquery materialized from an index search (the queue's draw, `ranked`).
        let scans: Vec<&String> = plan
            .iter()
            .filter(|line| line.starts_with("SCAN "))
            .filter(|line| !line.contains("VIRTUAL TABLE") && !line.contains("CONSTANT ROW"))
            .filter(|line| !line.starts_with("SCAN (subquery-") && line.as_str() != "SCAN ranked")
            .collect();
        assert!(scans.is_empty(), "{what} scans a table: {plan:#?}");
        for search in statement.searches {
            assert!(
                plan.iter().any(|line| line.starts_with("SEARCH ") && line.contains(search)),
                "{what} does not search {search}: {plan:#?}"
            );
        }
    }
}

/// Fills a migrated file: `venues` of `seats` seats, `events` events, `users` buyers; each of the
/// first `filled` events sold in `bookings` bookings of four seats (one per buyer and event), a
/// third of them held (half of those lapsed, with their hold slots), the rest confirmed, and a
/// payment per booking; then analyzed.
fn fill_sql(venues: u32, seats: u32, events: u32, users: u32, bookings: u32, filled: u32) -> String {
    let per_event = 4 * bookings;
    let largest = (venues * seats).max(filled * per_event).max(users).max(events).max(filled * users);
    format!(
        "CREATE TEMP TABLE n AS WITH RECURSIVE c (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {largest}) \
             SELECT i FROM c;
         INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, token_version)
             SELECT 'user' || i, 'user' || i || '@example.com', 'User', 'hash', 'customer', 0, 0, 0 FROM n WHERE i < {users};
         INSERT INTO venues (id, name, location, kind, created_at)
             SELECT 'venue' || i, 'Venue', '', 'arena', 0 FROM n WHERE i < {venues};
         INSERT INTO seats (id, venue_id, row_label, row_index, seat_number, tier)
             SELECT 'seat' || i, 'venue' || (i / {seats}), 'R' || (i % {seats} / 100), i % {seats} / 100, i % 100 + 1,
                    'standard'
             FROM n WHERE i < {venues} * {seats};
         INSERT INTO events (id, venue_id, name, category, description, start_time, status, currency, created_at)
             SELECT 'event' || i, 'venue' || (i % {venues}), 'Event', 'concert', '', 4102444800000, 'on_sale', 'EUR', 0
             FROM n WHERE i < {events};
         INSERT INTO event_prices (event_id, tier, price_cents) SELECT 'event' || i, 'standard', 1000 FROM n WHERE i < {events};
         INSERT INTO bookings (id, user_id, event_id, created_at)
             SELECT 'booking' || i, 'user' || (i % {users}), 'event' || (i / {bookings}), 0 FROM n WHERE i < {filled} * {bookings};
         INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at,
                                   created_at, updated_at, hold_slot)
             SELECT 'reservation' || i, 'booking' || (i / 4), 'user' || (i / 4 % {users}), 'event' || (i / {per_event}),
                    'seat' || (i / {per_event} % {venues} * {seats} + i % {per_event}), 1000, 'EUR',
                    CASE WHEN i % 3 = 0 THEN 'held' ELSE 'confirmed' END,
                    CASE WHEN i % 6 = 0 THEN 0 ELSE 4102444800000 END, 0, 0, CASE WHEN i % 3 = 0 THEN i % 4 + 1 END
             FROM n WHERE i < {filled} * {per_event};
         INSERT INTO payments (id, booking_id, user_id, amount_cents, currency, status, provider, refunded_cents,
                               created_at, updated_at)
             SELECT 'payment' || i, 'booking' || i, 'user' || (i % {users}), 4000, 'EUR',
                    CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'pending' END, 'simulated', 0, 0, 0
             FROM n WHERE i < {filled} * {bookings};
         INSERT INTO queue_states (event_id, drawn, next_position, admitted_through, paced_at)
             SELECT 'event' || i, 1, {users} + 1, {users} / 10, 0 FROM n WHERE i < {filled};
         INSERT INTO queue_entries (event_id, user_id, draw, position, joined_at, admitted_at, session_ends_at)
             SELECT 'event' || (i / {users}), 'user' || (i % {users}), i * 7919 % 100003, i % {users} + 1, 0,
                    CASE WHEN i % {users} < {users} / 10 THEN 0 END,
                    CASE WHEN i % {users} < {users} / 10 THEN 4102444800000 END
             FROM n WHERE i < {filled} * {users};
         INSERT INTO waitlist_entries (event_id, user_id, id, seq, seats, offer_minutes, status, booking_id, joined_at)
             SELECT 'event' || (i / {users}), 'user' || (i % {users}), 'entry' || i, i, i % 4 + 1, 30,
                    CASE WHEN i % 10 = 0 THEN 'offered' ELSE 'waiting' END,
                    CASE WHEN i % 10 = 0 THEN 'offer' || i END, 0
             FROM n WHERE i < {filled} * {users};
         DROP TABLE n;
         ANALYZE"
    )
}

#[tokio::test]
async fn every_hot_statement_searches_its_tables_whatever_the_statistics() {
    let empty = test_db().await;
    sqlx::query("ANALYZE").execute(&empty.store.writer).await.unwrap();
    assert_hot_plans(&empty.store, "every table empty and analyzed").await;

    // 40 reservations of one event: what the statistics say about a file analyzed early.
    let small = test_db().await;
    sqlx::query(&fill_sql(1, 40, 2, 10, 10, 1)).execute(&small.store.writer).await.unwrap();
    assert_hot_plans(&small.store, "40 reservations, analyzed").await;

    let filled = test_db().await;
    sqlx::query(&fill_sql(5, 4000, 50, 1000, 1000, 25)).execute(&filled.store.writer).await.unwrap();
    assert_hot_plans(&filled.store, "100,000 reservations, analyzed").await;
    let reservations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM reservations").fetch_one(&filled.store.writer).await.unwrap();
    assert_eq!(reservations, 100_000, "EXPLAIN wrote nothing");
}
