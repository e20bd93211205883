//! The seat map: available and held seats, and a lapsed hold that reads available (and its
//! reservation expired) before any sweep.

use super::*;

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
    // Read while the 50 ms hold still runs, on its own clock: on a busy machine the hold itself
    // (DynamoDB Local above all) can take longer than that, and "now" would already be past it.
    let while_held = booking.expires_at - Duration::milliseconds(1);
    let read = store.event(event.id, while_held).await.expect("read").expect("exists");
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
