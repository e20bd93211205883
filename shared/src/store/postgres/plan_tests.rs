//! Plans of the hot statements on PostgreSQL, in the generic plan the pool forces and in a custom
//! plan, on a fresh table and on an analyzed one holding thousands of other events' rows (the
//! table an on-sale spike meets): the hold probes `reservations` by seat and by user through its
//! indexes, and a buyer's and a booking's listing, an event's manifest and counts read `tickets`
//! through an index, never by a sequential scan; the door's check-in batches, on the door's own
//! connections, read it through its primary key whatever the statistics say.
//! `EXPLAIN` only plans, so nothing here is written by the statements explained. The outbox's
//! claim and depth, the door's statements, and every hot statement whatever the statistics say
//! (`plan_tests/hot.rs`) are explained in `plan_tests/`.

mod audit;
mod door;
mod hot;
mod outbox_claim;
mod outbox_depth;
mod sales;

use chrono::{Duration, Utc};
use uuid::Uuid;

use super::PostgresStore;
use super::tests::{count_reservations, fixture, with_store};
use super::tickets::{EVENT_TICKETS_SQL, REVOKE_SQL, TALLIES_SQL, list_tickets_query};
use crate::domain::{
    Category, Email, NewEvent, NewUser, NewVenue, Page, Price, Role, SeatRow, TicketFilter, VenueKind,
};
use crate::store::{CatalogStore, UserStore};

/// One read of a table in a plan: its node type, the index it uses and the index condition.
#[derive(Debug)]
struct PlanRead {
    node: String,
    index: Option<String>,
    condition: String,
}

/// Every read of `table` or one of its indexes (named `<table>_…`) in an `EXPLAIN (FORMAT JSON)`
/// plan.
fn reads_of(plan: &serde_json::Value, table: &str, reads: &mut Vec<PlanRead>) {
    if let Some(object) = plan.as_object() {
        let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let node = text("Node Type").unwrap_or_default();
        let index = text("Index Name");
        let of_table = text("Relation Name").as_deref() == Some(table)
            || index.as_deref().is_some_and(|i| i.strip_prefix(table).is_some_and(|rest| rest.starts_with('_')));
        if of_table && node != "ModifyTable" {
            // A `Tid Scan` fetches the rows its `TID Cond` names (row ids an index probe found
            // just before, as the queue's draw does): a read by address, as narrow as a probe.
            let condition =
                text("Index Cond").or_else(|| text("Recheck Cond")).or_else(|| text("TID Cond")).unwrap_or_default();
            reads.push(PlanRead { node, index, condition });
        }
        object.values().for_each(|value| reads_of(value, table, reads));
    } else if let Some(items) = plan.as_array() {
        items.iter().for_each(|item| reads_of(item, table, reads));
    }
}

/// A statement as the store runs it, with literal arguments for `EXECUTE` and the indexes that
/// may serve it (each read must use one of them, with a condition on `key`).
struct Statement {
    name: &'static str,
    sql: String,
    arguments: String,
    indexes: &'static [&'static str],
    key: &'static str,
}

fn statements() -> Vec<Statement> {
    let (user, booking, event) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let page = Page { limit: 50, offset: 0 };
    let by_user = TicketFilter { user_id: Some(user), booking_id: None, page };
    let by_booking = TicketFilter { user_id: None, booking_id: Some(booking), page };
    vec![
        Statement {
            name: "list_by_user",
            sql: list_tickets_query(&by_user).sql().to_owned(),
            arguments: format!("'{user}', 50, 0"),
            indexes: &["tickets_user_idx"],
            key: "user_id",
        },
        Statement {
            name: "list_by_booking",
            sql: list_tickets_query(&by_booking).sql().to_owned(),
            arguments: format!("'{booking}', 50, 0"),
            indexes: &["tickets_booking_idx"],
            key: "booking_id",
        },
        Statement {
            name: "event_tickets",
            sql: EVENT_TICKETS_SQL.to_owned(),
            arguments: format!("'{event}'"),
            indexes: &["tickets_event_idx", "tickets_event_tally_idx"],
            key: "event_id",
        },
        Statement {
            name: "ticket_tallies",
            sql: TALLIES_SQL.to_owned(),
            arguments: format!("'{event}'"),
            indexes: &["tickets_event_tally_idx", "tickets_event_idx"],
            key: "event_id",
        },
    ]
}

/// The cancels' revocation, by reservation id. Checked on the analyzed table only: on one never
/// analyzed, PostgreSQL guesses ten pages and an array of unknown length, and a hash join over
/// those few rows costs less to it than probing the index.
fn revocation() -> Statement {
    Statement {
        name: "revoke",
        sql: REVOKE_SQL.to_owned(),
        arguments: format!("ARRAY['{}', '{}']::uuid[], '{}'", Uuid::new_v4(), Uuid::new_v4(), Utc::now().to_rfc3339()),
        indexes: &["tickets_reservation_key"],
        key: "reservation_id",
    }
}

/// A day of mail, then analyzed: 50,000 messages, one in 500 still pending (100), one in 1,000
/// failed (50), the rest sent, each with one attempt.
async fn a_day_of_mail(conn: &mut sqlx::PgConnection) {
    sqlx::query(
        "INSERT INTO outbox (id, user_id, kind, facts, status, attempts, next_attempt_at, created_at, sent_at,
             last_error)
         SELECT gen_random_uuid(), NULL, 'account_created', '{\"kind\": \"account_created\"}',
                CASE WHEN n % 500 = 0 THEN 'pending' WHEN n % 1000 = 1 THEN 'failed' ELSE 'sent' END, 1,
                now() - n * interval '1 second', now() - n * interval '1 second',
                CASE WHEN n % 500 = 0 OR n % 1000 = 1 THEN NULL ELSE now() END,
                CASE WHEN n % 1000 = 1 THEN '550 no such mailbox' END
         FROM generate_series(1, 50000) AS n",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("ANALYZE outbox").execute(&mut *conn).await.unwrap();
}

async fn plan_reads(conn: &mut sqlx::PgConnection, statement: &Statement, mode: &str) -> Vec<PlanRead> {
    sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
    sqlx::query(&format!("PREPARE {} AS {}", statement.name, statement.sql)).execute(&mut *conn).await.unwrap();
    let plan: serde_json::Value =
        sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {}({})", statement.name, statement.arguments))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    sqlx::query(&format!("DEALLOCATE {}", statement.name)).execute(&mut *conn).await.unwrap();
    let mut reads = Vec::new();
    reads_of(&plan, "tickets", &mut reads);
    reads
}

fn assert_index_driven(statement: &Statement, reads: &[PlanRead], what: &str) {
    assert!(!reads.is_empty(), "{what}: {} reads no tickets?", statement.name);
    for read in reads {
        let by_index = read.node.starts_with("Index") || read.node.starts_with("Bitmap");
        let named = read.index.as_deref().is_none_or(|index| statement.indexes.contains(&index));
        assert!(
            by_index && named && read.condition.contains(statement.key),
            "{what}: {} reads tickets other than through {:?} on {}: {reads:#?}",
            statement.name,
            statement.indexes,
            statement.key
        );
    }
}

/// 4,000 tickets of twenty events, by 200 buyers in bookings of four (the statistics not updated).
async fn four_thousand_tickets(store: &PostgresStore, conn: &mut sqlx::PgConnection) {
    let buyer = store
        .create_user(NewUser {
            email: Email::parse("buyer@example.com").unwrap(),
            name: "Buyer".into(),
            password_hash: "hash".into(),
            role: Role::Customer,
        })
        .await
        .unwrap();
    let rows = vec![SeatRow { row: "A".into(), seats: 200, tier: "standard".into() }];
    let venue = store.create_venue(NewVenue::parse("Arena", None, VenueKind::Arena, rows).unwrap()).await.unwrap();
    for day in 1..=20 {
        let event = store
            .create_event(NewEvent {
                actor: None,
                venue_id: venue.venue.id,
                name: format!("Day {day}"),
                category: Category::Concert,
                description: String::new(),
                image_url: None,
                start_time: Utc::now() + Duration::days(day),
                duration_minutes: None,
                on_sale_at: None,
                queue: None,
                accessible_release_hours: None,
                currency: "EUR".into(),
                prices: vec![Price { tier: "standard".into(), price_cents: 1000 }],
                ticket_types: Vec::new(),
            })
            .await
            .unwrap();
        let booking = Uuid::new_v4();
        sqlx::query("INSERT INTO bookings (id, user_id, event_id, created_at) VALUES ($1, $2, $3, now())")
            .bind(booking)
            .bind(buyer.id)
            .bind(event.id)
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency, status,
                 expires_at, created_at, updated_at)
             SELECT gen_random_uuid(), $1, $2, $3, s.id, 1000, 'EUR', 'confirmed', now(), now(), now()
             FROM seats s WHERE s.venue_id = $4",
        )
        .bind(booking)
        .bind(buyer.id)
        .bind(event.id)
        .bind(venue.venue.id)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO tickets (id, reservation_id, booking_id, event_id, user_id, seat_id, row_label, row_index,
             seat_number, tier, price_cents, currency, holder_name, status, issued_at)
         SELECT gen_random_uuid(), r.id, md5(r.event_id::text || (s.seat_number / 4))::uuid, r.event_id,
                md5('buyer' || s.seat_number)::uuid, r.seat_id, s.row_label, s.row_index, s.seat_number,
                s.tier, r.price_cents, r.currency, 'Buyer', 'valid', now() - s.seat_number * interval '1 second'
         FROM reservations r JOIN seats s ON s.id = r.seat_id",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_ticket_statements_read_tickets_through_their_indexes() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        for mode in ["force_generic_plan", "force_custom_plan"] {
            for statement in statements() {
                let reads = plan_reads(&mut conn, &statement, mode).await;
                assert_index_driven(&statement, &reads, &format!("fresh table, {mode}"));
            }
        }

        // 4,000 tickets of twenty events, by 200 buyers in bookings of four, then analyzed.
        four_thousand_tickets(&store, &mut conn).await;
        sqlx::query("ANALYZE tickets").execute(&mut *conn).await.unwrap();

        for mode in ["force_generic_plan", "force_custom_plan"] {
            for statement in statements().into_iter().chain([revocation()]) {
                let reads = plan_reads(&mut conn, &statement, mode).await;
                assert_index_driven(&statement, &reads, &format!("analyzed table, {mode}"));
            }
        }
        let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(tickets, 4000, "EXPLAIN wrote nothing");
    })
    .await;
}

// --- The hold ----------------------------------------------------------------------------------

/// The hold statement's plan for `arguments` under `plan_cache_mode = mode`, as its scans of
/// `reservations` and its conflict arbiters, on a connection where it is prepared as `hold_batch`.
async fn hold_plan(conn: &mut sqlx::PgConnection, mode: &str, arguments: &str) -> (Vec<PlanRead>, serde_json::Value) {
    sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
    let plan: serde_json::Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE hold_batch({arguments})"))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let mut scans = Vec::new();
    reads_of(&plan, "reservations", &mut scans);
    (scans, plan)
}

#[tokio::test]
async fn the_hold_statement_probes_indexes_for_seats_and_slots_in_either_plan() {
    with_store(|store| async move {
        let f = fixture(&store).await;
        let mut conn = store.pool.acquire().await.unwrap();
        sqlx::query(&format!("PREPARE hold_batch AS {}", super::holds::HOLD_BATCH_SQL))
            .execute(&mut *conn)
            .await
            .unwrap();
        // Two holds of a new event: ann's two seats and one seat of a buyer who holds many.
        let now = Utc::now();
        let arguments = format!(
            "ARRAY[0, 0, 1]::int4[], ARRAY['{a1}', '{a2}', '{b1}']::uuid[], ARRAY[0, 1]::int4[], \
             ARRAY['{booking}', '{other}']::uuid[], ARRAY['{user}', {heavy}]::uuid[], \
             ARRAY['{event}', '{event}']::uuid[], ARRAY['{now}', '{now}']::timestamptz[], \
             ARRAY['{until}', '{until}']::timestamptz[], ARRAY[2, 1]::int4[], ARRAY[10, 10]::int4[], \
             ARRAY[1, 2, 1]::int4[], ARRAY[false, false]::bool[], ARRAY[NULL, 'student', NULL]::text[], \
             ARRAY[false, false]::bool[], ARRAY[false, false, false]::bool[], ARRAY[false, true]::bool[]",
            a1 = f.seat("A1"),
            a2 = f.seat("A2"),
            b1 = f.seat("B1"),
            booking = Uuid::new_v4(),
            other = Uuid::new_v4(),
            user = f.user_id,
            // One of the 64 buyers who hold ~31 seats each in the analyzed table below.
            heavy = "md5('heavy1')::uuid",
            event = f.event_id,
            now = now.to_rfc3339(),
            until = (now + Duration::minutes(10)).to_rfc3339(),
        );

        // A fresh table, and then one with 2,000 held seats of another event, 64 buyers holding ~31
        // each, and statistics that know nothing of the new event (an on-sale spike).
        for table in ["fresh", "analyzed"] {
            if table == "analyzed" {
                let rows = (1..=4).map(|r| SeatRow { row: format!("R{r}"), seats: 500, tier: "standard".into() });
                let venue = NewVenue::parse("Arena", None, VenueKind::Arena, rows.collect()).unwrap();
                let venue = store.create_venue(venue).await.unwrap();
                let busy = store
                    .create_event(NewEvent {
                        actor: None,
                        venue_id: venue.venue.id,
                        name: "Busy".into(),
                        category: Category::Concert,
                        description: String::new(),
                        image_url: None,
                        start_time: now + Duration::days(7),
                        duration_minutes: None,
                        on_sale_at: None,
                        queue: None,
                        accessible_release_hours: None,
                        currency: "EUR".into(),
                        prices: vec![Price { tier: "standard".into(), price_cents: 1000 }],
                        ticket_types: Vec::new(),
                    })
                    .await
                    .unwrap();
                let booking = Uuid::new_v4();
                sqlx::query("INSERT INTO bookings (id, user_id, event_id, created_at) VALUES ($1, $2, $3, now())")
                    .bind(booking)
                    .bind(f.user_id)
                    .bind(busy.id)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                sqlx::query(
                    "INSERT INTO reservations (id, booking_id, user_id, event_id, seat_id, price_cents, currency,
                         status, expires_at, created_at, updated_at, hold_slot)
                     SELECT gen_random_uuid(), $1, md5('heavy' || (s.seat_number % 64))::uuid, $2, s.id, 1000,
                            'EUR', 'held', now() + interval '10 minutes', now(), now(),
                            row_number() OVER (PARTITION BY s.seat_number % 64 ORDER BY s.id)
                     FROM seats s WHERE s.venue_id = $3",
                )
                .bind(booking)
                .bind(busy.id)
                .bind(venue.venue.id)
                .execute(&mut *conn)
                .await
                .unwrap();
                sqlx::query("ANALYZE reservations").execute(&mut *conn).await.unwrap();
            }
            for mode in ["force_custom_plan", "force_generic_plan"] {
                let (scans, plan) = hold_plan(&mut conn, mode, &arguments).await;
                let what = format!("{table} table, {mode}");
                assert!(
                    scans.iter().all(|scan| scan.node.starts_with("Index") || scan.node.starts_with("Bitmap")),
                    "{what}: a scan of reservations that is not driven by an index: {scans:#?}"
                );
                // Every index of reservations is probed with a condition: a scan of a whole index
                // (say all held rows, through the lapsing index) is as bad as a scan of the table.
                assert!(
                    scans.iter().filter(|s| s.node.ends_with("Index Scan")).all(|s| !s.condition.is_empty()),
                    "{what}: an index of reservations read whole: {scans:#?}"
                );
                // The user's slots are read by user (the slot index or the user's), and with held
                // rows about, never through the lapsing index: it holds every unexpired hold of
                // the table (on an empty one the planner may take it for anything).
                assert!(
                    scans.iter().any(|s| s.condition.contains("user_id")),
                    "{what}: no probe of the user's holds: {scans:#?}"
                );
                if table == "analyzed" {
                    assert!(
                        scans.iter().all(|s| s.index.as_deref() != Some("reservations_lapsing_idx")),
                        "{what}: a probe through the lapsing index: {scans:#?}"
                    );
                }
                // The lapsed holds the user's slots were found in are written down by primary key.
                assert!(
                    scans.iter().any(|s| s.index.as_deref() == Some("reservations_pkey")
                        && s.condition.contains("id = ANY (lapse.ids)")),
                    "{what}: the user's lapsed holds are not updated by id: {scans:#?}"
                );
                assert!(
                    scans
                        .iter()
                        .filter(|s| s.index.as_deref() == Some("reservations_hold_slot_uq"))
                        .all(|s| s.condition.contains("user_id")),
                    "{what}: the slot index scanned without the user: {scans:#?}"
                );
                if table == "analyzed" {
                    assert!(
                        scans.iter().any(|s| s.index.as_deref() == Some("reservations_active_seat_uq")
                            && s.condition.contains("seat_id")),
                        "{what}: no per-seat probe of the seat index: {scans:#?}"
                    );
                }
                // `ON CONFLICT DO NOTHING` with no target: every unique index referees the insert.
                assert!(plan.to_string().contains(r#""Conflict Resolution":"NOTHING""#), "{what}: {plan}");
            }
        }
        sqlx::query("DEALLOCATE hold_batch").execute(&mut *conn).await.unwrap();
        assert_eq!(count_reservations(&store).await, 2000, "EXPLAIN wrote nothing");
    })
    .await;
}
