//! The search's candidate statement (`SEARCH_CANDIDATES_SQL`) reads `events` through its trigram
//! index (`events_search_trgm_idx`), in the generic plan the pool forces (on a fresh table and on
//! one holding 10,000 analyzed events) and in a custom plan on the analyzed one; no table is ever
//! read whole (venues and prices by their keys).
//! Kept apart from `plan_tests.rs` so the two grow without touching each other.

use super::catalog::SEARCH_CANDIDATES_SQL;
use super::tests::with_store;
use crate::domain::{NewVenue, SearchQuery, SeatRow, VenueKind};
use crate::store::CatalogStore;
use chrono::Utc;

/// Every scan node of `plan` with the relation or index it reads.
fn scans(plan: &serde_json::Value, found: &mut Vec<(String, String)>) {
    if let Some(object) = plan.as_object() {
        let text = |key: &str| object.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let node = text("Node Type");
        if node.contains("Scan") {
            let read = [text("Index Name"), text("Relation Name")].into_iter().find(|s| !s.is_empty());
            found.push((node, read.unwrap_or_default()));
        }
        object.values().for_each(|value| scans(value, found));
    } else if let Some(items) = plan.as_array() {
        items.iter().for_each(|item| scans(item, found));
    }
}

async fn candidate_scans(conn: &mut sqlx::PgConnection, mode: &str) -> Vec<(String, String)> {
    let query = SearchQuery::parse("Hamlte munchen").expect("a query");
    let patterns: Vec<String> = query.trigrams().iter().map(|t| format!("'%{t}%'")).collect();
    sqlx::query(&format!("SET plan_cache_mode = {mode}")).execute(&mut *conn).await.unwrap();
    sqlx::query(&format!("PREPARE search_candidates AS {SEARCH_CANDIDATES_SQL}")).execute(&mut *conn).await.unwrap();
    let plan: serde_json::Value = sqlx::query_scalar(&format!(
        "EXPLAIN (FORMAT JSON) EXECUTE search_candidates(ARRAY[{}], false, '{}', NULL, NULL, NULL, NULL, NULL)",
        patterns.join(", "),
        Utc::now().to_rfc3339()
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sqlx::query("DEALLOCATE search_candidates").execute(&mut *conn).await.unwrap();
    let mut found = Vec::new();
    scans(&plan, &mut found);
    found
}

/// No table is read whole; with `trigram`, the events are found through the trigram index.
fn assert_index_driven(found: &[(String, String)], trigram: bool, what: &str) {
    assert!(
        !trigram || found.iter().any(|(node, read)| node == "Bitmap Index Scan" && read == "events_search_trgm_idx"),
        "{what}: events are not found through the trigram index: {found:#?}"
    );
    assert!(!found.iter().any(|(node, _)| node == "Seq Scan"), "{what}: a sequential scan: {found:#?}");
}

#[tokio::test]
async fn the_search_reads_events_through_the_trigram_index() {
    with_store(|store| async move {
        let mut conn = store.pool.acquire().await.unwrap();
        // On a table never analyzed, a custom plan knowing `now` may start from the start-time
        // index instead (an index still); the generic plan the pool forces takes the trigrams.
        for (mode, trigram) in [("force_generic_plan", true), ("force_custom_plan", false)] {
            assert_index_driven(&candidate_scans(&mut conn, mode).await, trigram, &format!("fresh table, {mode}"));
        }

        // Events the query's trigrams are rare in, as most events are for most searches.
        let rows = vec![SeatRow { row: "A".into(), seats: 10, tier: "standard".into() }];
        let venue = NewVenue::parse("Konzerthaus", Some("Gendarmenmarkt 2, Berlin"), VenueKind::Hall, rows).unwrap();
        let venue = store.create_venue(venue).await.unwrap();
        sqlx::query(
            "INSERT INTO events (id, venue_id, name, category, description, start_time, status, currency, created_at,
                                 search_text)
             SELECT gen_random_uuid(), $1, 'Show ' || i, 'concert', 'Night number ' || i,
                    now() + i * interval '1 hour', 'on_sale', 'EUR', now(),
                    ' show ' || i || ' konzerthaus gendarmenmarkt 2 berlin night number ' || i || ' '
             FROM generate_series(1, 10000) AS i",
        )
        .bind(venue.venue.id)
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query("ANALYZE events").execute(&mut *conn).await.unwrap();
        for mode in ["force_generic_plan", "force_custom_plan"] {
            let what = format!("10,000 events analyzed, {mode}");
            assert_index_driven(&candidate_scans(&mut conn, mode).await, true, &what);
        }
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&mut *conn).await.unwrap();
        assert_eq!(events, 10_000, "EXPLAIN wrote nothing");
    })
    .await;
}
