//! Plans of the ticket statements on PostgreSQL: the door's check-in, a buyer's and a booking's
//! listing, an event's manifest and counts read `tickets` through an index, never by a sequential
//! scan, in the generic plan the pool forces and in a custom plan, on a fresh table and on an
//! analyzed one holding thousands of other events' tickets (the table an on-sale spike meets).
//! `EXPLAIN` only plans, so nothing here is written by the statements explained.

use chrono::{Duration, Utc};
use uuid::Uuid;

use super::tests::with_store;
use super::tickets::{CHECK_IN_SQL, EVENT_TICKETS_SQL, REVOKE_SQL, TALLIES_SQL, list_tickets_query};
use crate::domain::{
    Category, Email, NewEvent, NewUser, NewVenue, Page, Price, Role, SeatRow, TicketFilter, VenueKind,
};
use crate::store::{CatalogStore, UserStore};

/// One read of `tickets` in a plan: its node type, the index it uses and the index condition.
#[derive(Debug)]
struct TicketRead {
    node: String,
    index: Option<String>,
    condition: String,
}

/// Every read of `tickets` or one of its indexes in an `EXPLAIN (FORMAT JSON)` plan.
fn ticket_reads(plan: &serde_json::Value, reads: &mut Vec<TicketRead>) {
    if let Some(object) = plan.as_object() {
        let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let node = text("Node Type").unwrap_or_default();
        let index = text("Index Name");
        let of_tickets = text("Relation Name").as_deref() == Some("tickets")
            || index.as_deref().is_some_and(|i| i.starts_with("tickets_"));
        if of_tickets && node != "ModifyTable" {
            let condition = text("Index Cond").or_else(|| text("Recheck Cond")).unwrap_or_default();
            reads.push(TicketRead { node, index, condition });
        }
        object.values().for_each(|value| ticket_reads(value, reads));
    } else if let Some(items) = plan.as_array() {
        items.iter().for_each(|item| ticket_reads(item, reads));
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
            name: "check_in",
            sql: CHECK_IN_SQL.to_owned(),
            arguments: format!("'{}', '{}', 'north', '{}'", Uuid::new_v4(), Uuid::new_v4(), Utc::now().to_rfc3339()),
            indexes: &["tickets_pkey"],
            key: "id",
        },
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

async fn plan_reads(conn: &mut sqlx::PgConnection, statement: &Statement, mode: &str) -> Vec<TicketRead> {
    sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
    sqlx::query(&format!("PREPARE {} AS {}", statement.name, statement.sql)).execute(&mut *conn).await.unwrap();
    let plan: serde_json::Value =
        sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {}({})", statement.name, statement.arguments))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    sqlx::query(&format!("DEALLOCATE {}", statement.name)).execute(&mut *conn).await.unwrap();
    let mut reads = Vec::new();
    ticket_reads(&plan, &mut reads);
    reads
}

fn assert_index_driven(statement: &Statement, reads: &[TicketRead], what: &str) {
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
                    venue_id: venue.venue.id,
                    name: format!("Day {day}"),
                    category: Category::Concert,
                    description: String::new(),
                    image_url: None,
                    start_time: Utc::now() + Duration::days(day),
                    duration_minutes: None,
                    currency: "EUR".into(),
                    prices: vec![Price { tier: "standard".into(), price_cents: 1000 }],
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
