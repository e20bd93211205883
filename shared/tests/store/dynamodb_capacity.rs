//! Capacity accounting on the real emulator: a store that counts (`DynamoStore::connect_metered`,
//! what `DYNAMODB_CONSUMED_CAPACITY=1` does for `proeventa serve`) asks every request for its
//! consumed capacity, and DynamoDB Local answers it, so a hold reports the write units its
//! transaction consumed; a store that does not count reports nothing.

use std::sync::Arc;

use proeventa_core::store::Store;
use proeventa_core::store::dynamodb::DynamoStore;
use proeventa_testkit::TempDynamoTable;

use crate::support::*;

#[tokio::test]
async fn a_hold_with_capacity_accounting_on_reports_the_write_units_it_consumed() {
    let table = TempDynamoTable::new("proeventa_capacity");
    let metered = Arc::new(DynamoStore::connect_metered(table.endpoint(), table.name()));
    metered.migrate().await.unwrap_or_else(|e| panic!("create table {} at {}: {e}", table.name(), table.endpoint()));
    let store: Arc<dyn Store> = metered.clone();
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;

    let before = metered.consumed_capacity().expect("a metered store counts");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await.expect("hold");
    let after = metered.consumed_capacity().expect("a metered store counts");

    let written = after.write - before.write;
    // Two seats: one transaction writing six items (two seat states, two reservations, the
    // booking, the user's hold slots), each a transactional write of at least two units. Its
    // condition check of the event's gate writes nothing (DynamoDB Local counts it as nothing).
    assert!(written >= 12.0, "a two-seat hold wrote {written} units ({before:?} → {after:?})");
    assert!(after.read >= before.read, "units only add up: {before:?} → {after:?}");

    let plain = DynamoStore::connect_with(table.endpoint(), table.name());
    assert_eq!(plain.consumed_capacity(), None, "a store that does not count reports nothing");
}
