//! Plans of the hot statements whatever the statistics say (issue 18).
//!
//! Every statement of the hold, checkout and confirm, cancels, seat map, expiry and account reads,
//! explained on the pool's own connections (sequential scans off, see `mod.rs`) in the generic
//! plan and in a custom one, on three databases: every table analyzed while empty (a new
//! deployment); then 100,000 reservations added with those statistics still in place (what the
//! generic plans made at the start of an on-sale meet); then the same analyzed. Each read of any
//! table must be an index (or bitmap) scan with an index condition: no sequential scan, and no
//! index read whole, which costs the same.

use chrono::Utc;
use uuid::Uuid;

use super::super::tests::{count_reservations, with_store};
use super::{PlanRead, reads_of};
use crate::domain::Page;

/// Every table a hot statement may read; index names start with their table's name.
const TABLES: [&str; 13] = [
    "reservations",
    "bookings",
    "seats",
    "events",
    "event_prices",
    "venues",
    "payments",
    "users",
    "tickets",
    "queue_states",
    "queue_entries",
    "waitlist_entries",
    "codes",
];

/// A hot statement with literal arguments for `EXECUTE`, and the index reads it must contain:
/// (an index, or the start of the names of the indexes either of which may serve, and a fragment
/// of the read's condition).
struct HotStatement {
    name: &'static str,
    sql: String,
    arguments: String,
    probes: &'static [(&'static str, &'static str)],
}

fn hot(
    name: &'static str,
    sql: &str,
    arguments: &str,
    probes: &'static [(&'static str, &'static str)],
) -> HotStatement {
    HotStatement { name, sql: sql.to_owned(), arguments: arguments.to_owned(), probes }
}

/// The ids the arguments name: the first event (4,000 reservations once filled), a buyer of it, the
/// buyer's booking and payment, one of its reservations, and seats of its venue.
const EVENT: &str = "md5('event0')::uuid";
const USER: &str = "md5('user7')::uuid";
const BOOKING: &str = "md5('booking7')::uuid";
const PAYMENT: &str = "md5('payment7')::uuid";
const RESERVATION: &str = "md5('reservation28')::uuid";
const SEATS: &str = "ARRAY[md5('seat1')::uuid, md5('seat2')::uuid, md5('seat3')::uuid]";

/// The hold's probes: of a seat, of a buyer's hold slots.
const SEAT_PROBE: (&str, &str) = ("reservations_active_seat_uq", "seat_id");
const SLOT_PROBE: (&str, &str) = ("reservations_hold_slot_uq", "user_id");

/// The type slot index's range: a ticket type's active seats of one event (its quota, migration 0024).
const TYPE_SLOT_PROBE: (&str, &str) = ("reservations_type_slot_uq", "ticket_type");

/// The waiting list's probe: an event's waiting entries in their order.
const WAITING_PROBE: (&str, &str) = ("waitlist_entries_waiting_idx", "event_id");

fn hot_statements() -> Vec<HotStatement> {
    use super::super::catalog::{SEAT_MAP_SEATS_SQL, SEAT_MAP_TAKEN_SQL};
    use super::super::hold_refusals::{
        EVENT_STATE_SQL, EVENT_TYPES_SQL, HELD_SLOTS_SQL, LOST_SEATS_SQL, SEAT_KINDS_SQL, SELLABLE_SEATS_SQL,
        TYPE_ACTIVE_SQL,
    };
    use super::super::holds::{
        BOOKING_SQL, CANCEL_LOCKED_SQL, CancelScope, EXPIRE_LAPSED_SQL, HOLD_BATCH_SQL, RESERVATION_SQL,
        UNDO_BOOKINGS_SQL, UNDO_RESERVATIONS_SQL,
    };
    use super::super::payments::{
        APPLY_CODE_SQL, CHECKOUT_REFUSAL_SQL, CHECKOUT_SEATS_SQL, CLEAR_DISCOUNTS_SQL, CONFIRM_PAYMENT_SQL,
        CONFIRM_SEATS_SQL, CREATE_PAYMENT_SQL, DECLINE_SQL, EVENT_FOR_SHARE_SQL, EXPIRE_OTHERS_LAPSED_SQL,
        FREE_FAILED_SEATS_SQL, LOCK_BOOKING_SEATS_SQL, PAID_PAYMENTS_SQL, PAYMENT_TARGET_SQL, RECORD_REFUNDS_SQL,
        SET_DISCOUNTS_SQL,
    };
    use super::super::users::{PASSWORD_HASH_SQL, USER_BY_EMAIL_SQL, USERS_BY_ID_SQL};
    use super::super::{queue, waitlist};
    use crate::domain::{ReservationFilter, ReservationStatus};

    let now = "now()";
    // The reads built from a filter or an id: the values here only shape the text.
    let listing = |user_id, event_id, status| {
        let filter = ReservationFilter { user_id, event_id, status, page: Page { limit: 50, offset: 0 } };
        super::super::holds::list_reservations_query(&filter, Utc::now()).sql().to_owned()
    };
    let some = Some(Uuid::nil());
    let event_read = super::super::catalog::event_by_id_query(Uuid::nil(), Utc::now()).sql().to_owned();
    let later = "now() + interval '10 minutes'";
    // A batch of two holds of the event: two seats for one buyer, one seat for another.
    let hold = format!(
        "ARRAY[0, 0, 1]::int4[], {SEATS}, ARRAY[0, 1]::int4[], ARRAY[gen_random_uuid(), gen_random_uuid()], \
         ARRAY[{USER}, md5('user8')::uuid], ARRAY[{EVENT}, {EVENT}], ARRAY[{now}, {now}], ARRAY[{later}, {later}], \
         ARRAY[2, 1]::int4[], ARRAY[10, 10]::int4[], ARRAY[1, 2, 1]::int4[], ARRAY[false, false]::bool[], \
         ARRAY[NULL, 'student', NULL]::text[], ARRAY[false, false]::bool[], ARRAY[false, false, false]::bool[], \
         ARRAY[false, true]::bool[]"
    );
    vec![
        // The hold and the reads that explain a refused one.
        hot(
            "hold_batch",
            HOLD_BATCH_SQL,
            &hold,
            &[
                SEAT_PROBE,
                SLOT_PROBE,
                TYPE_SLOT_PROBE,
                ("reservations_pkey", "id = ANY (lapse.ids)"),
                ("seats_pkey", "id"),
                ("events_pkey", "id"),
            ],
        ),
        hot("held_slots", HELD_SLOTS_SQL, &format!("{EVENT}, {USER}, {now}"), &[SLOT_PROBE]),
        hot("event_state", EVENT_STATE_SQL, EVENT, &[("events_pkey", "id")]),
        hot("event_types", EVENT_TYPES_SQL, EVENT, &[("events_pkey", "id")]),
        hot("type_active", TYPE_ACTIVE_SQL, &format!("{EVENT}, 'student', {now}"), &[TYPE_SLOT_PROBE]),
        hot("sellable_seats", SELLABLE_SEATS_SQL, &format!("{EVENT}, {SEATS}"), &[("seats_pkey", "id")]),
        hot("seat_kinds", SEAT_KINDS_SQL, SEATS, &[("seats_pkey", "id")]),
        hot("lost_seats", LOST_SEATS_SQL, &format!("{EVENT}, {SEATS}, {now}"), &[SEAT_PROBE, ("seats_pkey", "id")]),
        hot(
            "undo_reservations",
            UNDO_RESERVATIONS_SQL,
            &format!("ARRAY[{BOOKING}]"),
            &[("reservations_booking_idx", "booking_id")],
        ),
        hot("undo_bookings", UNDO_BOOKINGS_SQL, &format!("ARRAY[{BOOKING}]"), &[("bookings_pkey", "id")]),
        // Deleting a booking makes PostgreSQL check, with these queries of its own (as
        // `ri_triggers.c` writes them), that no reservation or payment still names it.
        hot(
            "booking_still_reserved",
            r#"SELECT 1 FROM ONLY "public"."reservations" x WHERE $1 OPERATOR(pg_catalog.=) "booking_id" FOR KEY SHARE OF x"#,
            BOOKING,
            &[("reservations_booking_idx", "booking_id")],
        ),
        hot(
            "booking_still_paid",
            r#"SELECT 1 FROM ONLY "public"."payments" x WHERE $1 OPERATOR(pg_catalog.=) "booking_id" FOR KEY SHARE OF x"#,
            BOOKING,
            &[("payments_booking_idx", "booking_id")],
        ),
        // Reads of a reservation and a booking (the cancels' answers).
        hot("reservation", RESERVATION_SQL, RESERVATION, &[("reservations_pkey", "id"), ("seats_pkey", "id")]),
        hot("booking", BOOKING_SQL, BOOKING, &[("reservations_booking_idx", "booking_id"), ("seats_pkey", "id")]),
        // Cancels of a seat, a booking, an event: lock, cancel, refund, revoke.
        hot(
            "lock_reservation",
            CancelScope::Reservation.lock_sql(),
            &format!("{RESERVATION}, {now}"),
            &[("reservations_pkey", "id")],
        ),
        hot(
            "lock_booking",
            CancelScope::Booking.lock_sql(),
            &format!("{BOOKING}, {now}"),
            &[("reservations_booking_idx", "booking_id"), ("reservations_pkey", "id")],
        ),
        hot("lock_event", CancelScope::Event.lock_sql(), &format!("{EVENT}, {now}"), &[("reservations_pkey", "id")]),
        hot(
            "cancel_locked",
            CANCEL_LOCKED_SQL,
            &format!("ARRAY[{RESERVATION}], {now}"),
            &[("reservations_pkey", "id")],
        ),
        hot("paid_payments", PAID_PAYMENTS_SQL, &format!("ARRAY[{BOOKING}]"), &[("payments_booking_", "booking_id")]),
        hot(
            "record_refunds",
            RECORD_REFUNDS_SQL,
            &format!("ARRAY[{PAYMENT}], ARRAY[500]::int8[], {now}"),
            &[("payments_pkey", "id")],
        ),
        hot(
            "revoke_tickets",
            super::super::tickets::REVOKE_SQL,
            &format!("ARRAY[{RESERVATION}], {now}"),
            &[("tickets_reservation_key", "reservation_id")],
        ),
        // Checkout and confirm (and a declined card).
        hot(
            "create_payment",
            CREATE_PAYMENT_SQL,
            &format!("{BOOKING}, gen_random_uuid(), {USER}, 'simulated', {later}, {now}"),
            &[("reservations_booking_idx", "booking_id"), ("reservations_pkey", "id"), ("bookings_pkey", "id")],
        ),
        // A checkout with a code: the seats to spread it over, their shares, the payment's
        // amount; without one, the shares of an earlier one cleared; a confirm counts its use.
        hot(
            "checkout_seats",
            CHECKOUT_SEATS_SQL,
            &format!("{BOOKING}, {now}"),
            &[("reservations_booking_idx", "booking_id"), ("seats_pkey", "id")],
        ),
        hot(
            "set_discounts",
            SET_DISCOUNTS_SQL,
            &format!("ARRAY[{RESERVATION}], ARRAY[100]::int8[]"),
            &[("reservations_pkey", "id")],
        ),
        hot("clear_discounts", CLEAR_DISCOUNTS_SQL, BOOKING, &[("reservations_booking_idx", "booking_id")]),
        hot(
            "apply_code",
            APPLY_CODE_SQL,
            &format!("{PAYMENT}, 100, gen_random_uuid(), 'CODE'"),
            &[("payments_pkey", "id")],
        ),
        hot("count_code_use", super::super::codes::COUNT_CODE_USE_SQL, "gen_random_uuid()", &[("codes_pkey", "id")]),
        hot(
            "checkout_refusal",
            CHECKOUT_REFUSAL_SQL,
            &format!("{BOOKING}, {now}"),
            &[("reservations_booking_idx", "booking_id")],
        ),
        hot("payment_target", PAYMENT_TARGET_SQL, PAYMENT, &[("payments_pkey", "id"), ("bookings_pkey", "id")]),
        hot("event_for_share", EVENT_FOR_SHARE_SQL, EVENT, &[("events_pkey", "id")]),
        hot(
            "lock_booking_seats",
            LOCK_BOOKING_SEATS_SQL,
            BOOKING,
            &[("reservations_booking_idx", "booking_id"), ("reservations_pkey", "id")],
        ),
        hot(
            "confirm_payment",
            CONFIRM_PAYMENT_SQL,
            &format!("{PAYMENT}, 'ch_1', '4242', {now}"),
            &[("payments_pkey", "id")],
        ),
        hot(
            "expire_others_lapsed",
            EXPIRE_OTHERS_LAPSED_SQL,
            &format!("{BOOKING}, {EVENT}, {now}"),
            &[("reservations_booking_idx", "booking_id"), SEAT_PROBE, ("reservations_pkey", "id")],
        ),
        hot(
            "confirm_seats",
            CONFIRM_SEATS_SQL,
            &format!("{BOOKING}, {now}"),
            &[("reservations_booking_idx", "booking_id")],
        ),
        hot(
            "issue_tickets",
            super::super::tickets::ISSUE_TICKETS_SQL,
            &format!("ARRAY[{RESERVATION}, md5('reservation29')::uuid], {now}"),
            &[("reservations_pkey", "id"), ("seats_pkey", "id"), ("users_pkey", "id")],
        ),
        // The event as the cancels (and the event page) read it, with its seats taken.
        hot(
            "event_by_id",
            &event_read,
            &format!("{now}, {EVENT}"),
            &[
                ("events_pkey", "id"),
                ("venues_pkey", "id"),
                // It counts the venue's seats: both seat indexes lead with `venue_id` (the listing
                // order's and, since the layouts, the label key's), and either is an index read.
                ("seats_", "venue_id"),
                ("reservations_", "event_id"),
            ],
        ),
        // A buyer's reservations, and an event's by status (the admin's listing).
        hot(
            "list_reservations_by_user",
            &listing(some, None, None),
            &format!("{USER}, 50, 0"),
            &[("reservations_user_idx", "user_id"), ("seats_pkey", "id")],
        ),
        hot(
            "list_reservations_held_of_event",
            &listing(None, some, Some(ReservationStatus::Held)),
            &format!("{EVENT}, {now}, 50, 0"),
            &[("reservations_", "event_id"), ("seats_pkey", "id")],
        ),
        hot(
            "list_reservations_confirmed_of_event",
            &listing(None, some, Some(ReservationStatus::Confirmed)),
            &format!("{EVENT}, 'confirmed', 50, 0"),
            &[("reservations_", "event_id"), ("seats_pkey", "id")],
        ),
        hot("decline", DECLINE_SQL, &format!("{PAYMENT}, 3, {now}"), &[("payments_pkey", "id")]),
        hot(
            "free_failed_seats",
            FREE_FAILED_SEATS_SQL,
            &format!("{BOOKING}, {now}"),
            &[("reservations_booking_idx", "booking_id")],
        ),
        // The seat map.
        // The venue's seats, through either seat index leading with `venue_id` (a bitmap read of
        // the label key and a sort is one the planner may choose since the layouts added it).
        hot("seat_map_seats", SEAT_MAP_SEATS_SQL, EVENT, &[("seats_", "venue_id")]),
        hot("seat_map_taken", SEAT_MAP_TAKEN_SQL, EVENT, &[]),
        // The organiser's sales report (issue 21): the venue's seats, the event's reservations
        // and its tickets, each through an index on the event or its venue.
        hot(
            "event_report",
            super::super::reports::EVENT_REPORT_SQL,
            &format!("{EVENT}, {now}"),
            // The venue's seats by tier, through either seat index leading with `venue_id`.
            &[("seats_", "venue_id"), ("tickets_event_", "event_id"), ("events_pkey", "id")],
        ),
        // The expiry sweep.
        hot("expire_lapsed", EXPIRE_LAPSED_SQL, now, &[("reservations_lapsing_idx", "expires_at")]),
        // Account reads: by id (every authenticated request), by e-mail (a login), a password check.
        hot("users_by_id", USERS_BY_ID_SQL, &format!("ARRAY[{USER}]"), &[("users_pkey", "id")]),
        hot("user_by_email", USER_BY_EMAIL_SQL, "'user7@example.com'", &[("users_email_key", "email")]),
        hot("password_hash", PASSWORD_HASH_SQL, USER, &[("users_pkey", "id")]),
        // The waiting room: a join (the event, the state's lock, the draw, the place, the
        // counter), a status poll (the place), an advance (the frontier counting the active
        // places, the admissions).
        hot("queue_event", queue::EVENT_QUEUE_SQL, EVENT, &[("events_pkey", "id")]),
        hot("queue_lock_state", queue::LOCK_STATE_SQL, EVENT, &[("queue_states_pkey", "event_id")]),
        hot(
            "queue_draw",
            queue::DRAW_SQL,
            &format!("{EVENT}, {now}"),
            &[
                ("queue_states_pkey", "event_id"),
                ("queue_entries_undrawn_idx", "event_id"),
                ("queue_entries_pkey", "user_id"),
            ],
        ),
        hot(
            "queue_place",
            queue::PLACE_SQL,
            &format!("{EVENT}, {USER}"),
            &[("queue_entries_pkey", "user_id"), ("queue_states_pkey", "event_id")],
        ),
        hot(
            "queue_join",
            queue::JOIN_SQL,
            &format!("{EVENT}, {USER}, 42, {now}"),
            &[("queue_states_pkey", "event_id")],
        ),
        hot(
            "queue_advance",
            queue::ADVANCE_SQL,
            &format!("{EVENT}, 10, 50, 100, {now}"),
            &[
                ("queue_states_pkey", "event_id"),
                ("queue_entries_position_uq", "position"),
                ("queue_entries_active_idx", "session_ends_at"),
            ],
        ),
        hot(
            "queue_admit",
            queue::ADMIT_SQL,
            &format!("{EVENT}, 100, 110, {now}, {later}"),
            &[("queue_entries_position_uq", "position")],
        ),
        // The waiting list: what every cancel and sweep of an event runs to find the next entries
        // (nothing more when nobody waits), the offer it makes, and a buyer's read of the entry.
        hot("waitlist_waiting", waitlist::WAITING_SQL, &format!("{EVENT}, 20"), &[WAITING_PROBE]),
        hot("waitlist_waited_events", waitlist::WAITED_EVENTS_SQL, &format!("ARRAY[{EVENT}]"), &[WAITING_PROBE]),
        hot("waitlist_selling_event", waitlist::SELLING_EVENT_SQL, EVENT, &[("events_pkey", "id")]),
        hot(
            "waitlist_freed_seats",
            waitlist::FREED_SEATS_SQL,
            &format!("{EVENT}, {SEATS}"),
            &[("seats_pkey", "id"), ("event_prices_pkey", "event_id")],
        ),
        hot("waitlist_offer_slots", waitlist::OFFER_SLOTS_SQL, &format!("{EVENT}, {USER}"), &[SLOT_PROBE]),
        hot("waitlist_type_slots", waitlist::TYPE_SLOTS_SQL, &format!("{EVENT}, 'student'"), &[TYPE_SLOT_PROBE]),
        hot(
            "waitlist_offered",
            waitlist::OFFERED_SQL,
            &format!("{EVENT}, {USER}, {BOOKING}, {now}"),
            &[("waitlist_entries_pkey", "user_id")],
        ),
        hot(
            "waitlist_passed",
            waitlist::PASSED_SQL,
            &format!("{EVENT}, {USER}"),
            &[("waitlist_entries_pkey", "user_id")],
        ),
        hot(
            "waitlist_entry",
            &waitlist::entry_sql(),
            &format!("{EVENT}, {USER}"),
            &[("waitlist_entries_pkey", "user_id"), WAITING_PROBE],
        ),
    ]
}

/// The reads of every table in `statement`'s plan under `plan_cache_mode = mode`, by table.
async fn table_reads(
    conn: &mut sqlx::PgConnection,
    statement: &HotStatement,
    mode: &str,
) -> Vec<(&'static str, PlanRead)> {
    sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
    sqlx::query(&format!("PREPARE {} AS {}", statement.name, statement.sql)).execute(&mut *conn).await.unwrap();
    let plan: serde_json::Value =
        sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {}({})", statement.name, statement.arguments))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    sqlx::query(&format!("DEALLOCATE {}", statement.name)).execute(&mut *conn).await.unwrap();
    let mut reads = Vec::new();
    for table in TABLES {
        let mut of_table = Vec::new();
        reads_of(&plan, table, &mut of_table);
        reads.extend(of_table.into_iter().map(|read| (table, read)));
    }
    reads
}

async fn assert_hot_plans(conn: &mut sqlx::PgConnection, database: &str) {
    for mode in ["force_generic_plan", "force_custom_plan"] {
        for statement in hot_statements() {
            let reads = table_reads(conn, &statement, mode).await;
            let what = format!("{database}, {mode}: {}", statement.name);
            assert!(!reads.is_empty(), "{what} reads no table?");
            for (table, read) in &reads {
                assert!(
                    (read.node.starts_with("Index") || read.node.starts_with("Bitmap") || read.node == "Tid Scan")
                        && !read.condition.is_empty(),
                    "{what} reads {table} other than by an index condition: {reads:#?}"
                );
            }
            for (index, key) in statement.probes {
                assert!(
                    reads.iter().any(|(_, read)| {
                        read.index.as_deref().is_some_and(|name| name.starts_with(index))
                            && read.condition.contains(key)
                    }),
                    "{what} does not probe {index} on {key}: {reads:#?}"
                );
            }
        }
    }
}

/// Five venues of 4,000 seats, 50 events, 1,000 buyers; the first 25 events hold 100,000
/// reservations in 25,000 bookings of four seats (one per buyer and event), a third of them held
/// (half of those lapsed, with their hold slots), the rest confirmed; a payment per booking.
const FILL_SQL: &str = "
INSERT INTO users (id, email, name, password_hash, role, disabled, created_at)
SELECT md5('user' || g)::uuid, 'user' || g || '@example.com', 'User', 'hash', 'customer', false, now()
FROM generate_series(0, 999) g;
INSERT INTO venues (id, name, location, kind, created_at)
SELECT md5('venue' || g)::uuid, 'Venue ' || g, '', 'arena', now() FROM generate_series(0, 4) g;
INSERT INTO seats (id, venue_id, row_label, row_index, seat_number, tier)
SELECT md5('seat' || g)::uuid, md5('venue' || (g / 4000))::uuid, 'R' || (g % 4000 / 100), g % 4000 / 100, g % 100 + 1,
       'standard'
FROM generate_series(0, 19999) g;
INSERT INTO events (id, venue_id, name, category, start_time, created_at)
SELECT md5('event' || g)::uuid, md5('venue' || (g % 5))::uuid, 'Event ' || g, 'concert', now() + interval '30 days', now()
FROM generate_series(0, 49) g;
INSERT INTO event_prices (event_id, tier, price_cents)
SELECT md5('event' || g)::uuid, 'standard', 1000 FROM generate_series(0, 49) g;
INSERT INTO bookings (id, user_id, event_id, created_at)
SELECT md5('booking' || b)::uuid, md5('user' || (b % 1000))::uuid, md5('event' || (b / 1000))::uuid, now()
FROM generate_series(0, 24999) b;
INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at,
                          created_at, updated_at, hold_slot)
SELECT md5('reservation' || n)::uuid, md5('booking' || (n / 4))::uuid, md5('user' || (n / 4 % 1000))::uuid,
       md5('event' || (n / 4000))::uuid, md5('seat' || (n / 4000 % 5 * 4000 + n % 4000))::uuid, 1000, 'EUR',
       CASE WHEN n % 3 = 0 THEN 'held' ELSE 'confirmed' END,
       now() + CASE WHEN n % 6 = 0 THEN interval '-1 minute' ELSE interval '10 minutes' END, now(), now(),
       CASE WHEN n % 3 = 0 THEN n % 4 + 1 END
FROM generate_series(0, 99999) n;
INSERT INTO payments (id, booking_id, user_id, amount_cents, currency, status, provider, refunded_cents, created_at,
                      updated_at)
SELECT md5('payment' || b)::uuid, md5('booking' || b)::uuid, md5('user' || (b % 1000))::uuid, 4000, 'EUR',
       CASE WHEN b % 2 = 0 THEN 'succeeded' ELSE 'pending' END, 'simulated', 0, now(), now()
FROM generate_series(0, 24999) b;
INSERT INTO queue_states (event_id, drawn, next_position, admitted_through, paced_at)
SELECT md5('event' || g)::uuid, true, 1001, 100, now() FROM generate_series(0, 24) g;
INSERT INTO queue_entries (event_id, user_id, draw, position, joined_at, admitted_at, session_ends_at)
SELECT md5('event' || (q / 1000))::uuid, md5('user' || (q % 1000))::uuid, (q * 7919) % 100003, q % 1000 + 1, now(),
       CASE WHEN q % 1000 < 100 THEN now() END, CASE WHEN q % 1000 < 100 THEN now() + interval '10 minutes' END
FROM generate_series(0, 24999) q;
INSERT INTO waitlist_entries (event_id, user_id, id, seq, seats, offer_minutes, status, booking_id, joined_at)
SELECT md5('event' || (w / 1000))::uuid, md5('user' || (w % 1000))::uuid, md5('entry' || w)::uuid, w, w % 4 + 1, 30,
       CASE WHEN w % 10 = 0 THEN 'offered' ELSE 'waiting' END, CASE WHEN w % 10 = 0 THEN md5('offer' || w)::uuid END,
       now()
FROM generate_series(0, 24999) w";

#[tokio::test]
async fn every_hot_statement_reads_its_tables_through_an_index_whatever_the_statistics() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        assert_hot_plans(&mut conn, "every table empty and analyzed").await;

        for statement in FILL_SQL.split(";\n") {
            sqlx::query(statement).execute(&mut *conn).await.unwrap();
        }
        assert_hot_plans(&mut conn, "100,000 reservations, statistics of the empty tables").await;

        sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        assert_hot_plans(&mut conn, "100,000 reservations, analyzed").await;
        assert_eq!(count_reservations(&store).await, 100_000, "EXPLAIN wrote nothing");
    })
    .await;
}

/// What a new deployment's first sales (or the bench's fresh store) leave behind when they are
/// analyzed: ten holds of one buyer on one event. The statistics then say every reservation has
/// that event and that buyer, so a condition on either selects the whole table, and the narrowest
/// index of held rows (the lapsing index, read whole) looked as good as a probe of the buyer's.
const ONE_BUYERS_HOLDS_SQL: &str = "
INSERT INTO users (id, email, name, password_hash, role, disabled, created_at)
VALUES (md5('first')::uuid, 'first@example.com', 'First', 'hash', 'customer', false, now());
INSERT INTO venues (id, name, location, kind, created_at) VALUES (md5('first venue')::uuid, 'First', '', 'arena', now());
INSERT INTO seats (id, venue_id, row_label, row_index, seat_number, tier)
SELECT md5('first seat' || g)::uuid, md5('first venue')::uuid, 'A', 0, g, 'standard' FROM generate_series(1, 10) g;
INSERT INTO events (id, venue_id, name, category, start_time, created_at)
VALUES (md5('first event')::uuid, md5('first venue')::uuid, 'First', 'concert', now() + interval '30 days', now());
INSERT INTO event_prices (event_id, tier, price_cents) VALUES (md5('first event')::uuid, 'standard', 1000);
INSERT INTO bookings (id, user_id, event_id, created_at)
VALUES (md5('first booking')::uuid, md5('first')::uuid, md5('first event')::uuid, now());
INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status, expires_at,
                          created_at, updated_at, hold_slot)
SELECT gen_random_uuid(), md5('first booking')::uuid, md5('first')::uuid, md5('first event')::uuid,
       md5('first seat' || g)::uuid, 1000, 'EUR', 'held', now() + interval '10 minutes', now(), now(), g
FROM generate_series(1, 10) g";

#[tokio::test]
async fn every_hot_statement_reads_its_tables_through_an_index_after_one_buyers_holds_were_analyzed() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        for statement in ONE_BUYERS_HOLDS_SQL.split(";\n") {
            sqlx::query(statement).execute(&mut *conn).await.unwrap();
        }
        sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
        assert_hot_plans(&mut conn, "one buyer's ten holds, analyzed").await;

        for statement in FILL_SQL.split(";\n") {
            sqlx::query(statement).execute(&mut *conn).await.unwrap();
        }
        assert_hot_plans(&mut conn, "100,000 reservations, statistics of one buyer's ten holds").await;
        assert_eq!(count_reservations(&store).await, 100_010, "EXPLAIN wrote nothing");
    })
    .await;
}
