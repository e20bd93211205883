//! The search's candidate statement (`search_candidates_query`) finds events through the FTS5
//! trigram table and reads each one, its venue and its prices by their keys, never scanning
//! `events`, on an empty file before and after ANALYZE and on one holding 10,000 analyzed events.
//! Kept apart from `tests.rs` so the two grow without touching each other.

use chrono::Utc;

use proeventa_testkit::TempSqlite;

use super::SqliteStore;
use super::catalog::search_candidates_query;
use super::rows::millis;
use crate::domain::{EventFilter, SearchQuery};
use crate::store::Store;

async fn assert_search_plan(store: &SqliteStore, what: &str) {
    let query = SearchQuery::parse("Hamlte munchen").expect("a query");
    let now = Utc::now();
    let sql = search_candidates_query(&query, &EventFilter::default(), now).sql().to_owned();
    let plan = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
        .bind(query.trigrams().iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" OR "))
        .bind(millis(now))
        .fetch_all(&store.writer)
        .await
        .unwrap();
    let plan: Vec<String> = plan.iter().map(|row| sqlx::Row::get::<String, _>(row, "detail")).collect();
    assert!(
        plan.iter().any(|line| line.starts_with("SCAN s VIRTUAL TABLE INDEX") && line.contains(":M")),
        "{what}: the FTS5 table is not searched by MATCH: {plan:#?}"
    );
    assert!(
        plan.iter().any(|line| line.starts_with("SEARCH e USING INDEX sqlite_autoindex_events_1 (id=?)")),
        "{what}: the events are not read by their key: {plan:#?}"
    );
    assert!(
        !plan.iter().any(|line| line.starts_with("SCAN e") || line.starts_with("SCAN v") || line.starts_with("SCAN p")),
        "{what}: a table is scanned: {plan:#?}"
    );
}

#[tokio::test]
async fn the_search_finds_events_through_the_trigram_table() {
    // Declared before the store, so the store (and its pool) is dropped before its file.
    let file = TempSqlite::new("proeventa_sqlite_search_plan");
    let store = SqliteStore::connect(&file.url()).await.unwrap();
    store.migrate().await.unwrap();
    assert_search_plan(&store, "empty file").await;
    sqlx::query("ANALYZE").execute(&store.writer).await.unwrap();
    assert_search_plan(&store, "empty file, analyzed").await;

    sqlx::query(
        "INSERT INTO venues (id, name, location, kind, created_at) \
         VALUES ('00000000-0000-4000-8000-000000000001', 'Arena Nord', 'Hafenstraße 1, Hamburg', 'arena', 0)",
    )
    .execute(&store.writer)
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
         INSERT INTO events (id, venue_id, name, category, description, start_time, status, currency, created_at) \
         SELECT lower(hex(randomblob(16))), '00000000-0000-4000-8000-000000000001', 'Show ' || i, 'concert', \
                'Night number ' || i, 4000000000000 + i, 'on_sale', 'EUR', 0 FROM n",
    )
    .execute(&store.writer)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO event_search (event_id, folded) \
         SELECT id, ' ' || lower(name) || ' arena nord hafenstrasse 1 hamburg ' || lower(description) || ' ' FROM events",
    )
    .execute(&store.writer)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(&store.writer).await.unwrap();
    assert_search_plan(&store, "10,000 events, analyzed").await;
}
