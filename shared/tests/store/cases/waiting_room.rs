//! The sale's opening and the waiting room's settings (issue 20): stored, changed and cleared on
//! every backend, and a hold before the opening refused by the store itself.

use super::*;
use proeventa_core::domain::QueueSettings;

fn queue(enabled: bool, admit_per_minute: u32) -> QueueSettings {
    QueueSettings { enabled, admit_per_minute, max_active_buyers: 50, session_minutes: 10 }
}

pub async fn event_opening_and_queue_are_stored_changed_and_cleared(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let plain = fixture_event(&store, &venue).await;
    assert_eq!((plain.on_sale_at, plain.queue), (None, None), "on sale at once, no waiting room");

    let opens = in_days(1.0);
    let event = fixture_event_with(&store, &venue, |e| {
        e.on_sale_at = Some(opens);
        e.queue = Some(queue(true, 120));
    })
    .await;
    assert_eq!((event.on_sale_at, event.queue), (Some(opens), Some(queue(true, 120))));
    let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.on_sale_at, read.queue), (Some(opens), Some(queue(true, 120))));

    // A change of other fields keeps both.
    let renamed = EventChanges { name: Some("Renamed".into()), ..Default::default() };
    let kept = store.update_event(event.id, renamed).await.expect("update").expect("exists");
    assert_eq!((kept.on_sale_at, kept.queue), (Some(opens), Some(queue(true, 120))));

    let later = in_days(2.0);
    let changes =
        EventChanges { on_sale_at: Some(Some(later)), queue: Some(Some(queue(false, 30))), ..Default::default() };
    let changed = store.update_event(event.id, changes).await.expect("update").expect("exists");
    assert_eq!((changed.on_sale_at, changed.queue), (Some(later), Some(queue(false, 30))));

    let cleared = EventChanges { on_sale_at: Some(None), queue: Some(None), ..Default::default() };
    let cleared = store.update_event(event.id, cleared).await.expect("update").expect("exists");
    assert_eq!((cleared.on_sale_at, cleared.queue), (None, None));
    let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!((read.on_sale_at, read.queue), (None, None));
    let listed = store.list_events(&EventFilter::default(), Utc::now()).await.expect("list");
    assert!(listed.iter().all(|e| e.on_sale_at.is_none() && e.queue.is_none()), "{listed:?}");
}

pub async fn hold_before_the_opening_is_not_on_sale(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let opens = in_days(0.5);
    let event = fixture_event_with(&store, &venue, |e| e.on_sale_at = Some(opens)).await;
    let ann = fixture_user(&store, "ann").await;

    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0, 1])).await, "hold before the opening");
    match err {
        StoreError::NotOnSale { on_sale_at } => assert_eq!(on_sale_at, opens, "the refusal names the opening"),
        other => panic!("expected NotOnSale, got {other:?}"),
    }
    let mine =
        all_reservations(&store, ReservationFilter { user_id: Some(ann.id), ..Default::default() }, Utc::now()).await;
    assert!(mine.is_empty(), "a hold before the opening writes nothing: {mine:?}");
    let map = seat_statuses(&store, &event, Utc::now()).await;
    assert!(map.values().all(|s| *s == SeatStatus::Available), "{map:?}");

    // The store judges the hold's own clock: just before the opening no, at it yes.
    let before = hold_request(&ann, &event, &seat_ids(&venue, &[0]), long_ttl());
    let err = expect_err(store.hold(&before, opens - Duration::milliseconds(1)).await, "a millisecond early");
    assert!(matches!(err, StoreError::NotOnSale { .. }), "expected NotOnSale, got {err:?}");
    let at = hold_request(&ann, &event, &seat_ids(&venue, &[0]), long_ttl());
    store.hold(&at, opens).await.expect("a hold at the opening");

    // Moving the opening into the past opens the sale now; moving it back later closes it again.
    let opened = EventChanges { on_sale_at: Some(Some(in_days(-0.1))), ..Default::default() };
    store.update_event(event.id, opened).await.expect("update").expect("exists");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1])).await.expect("a hold once the sale opened");
    let closed = EventChanges { on_sale_at: Some(Some(in_days(0.25))), ..Default::default() };
    store.update_event(event.id, closed).await.expect("update").expect("exists");
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[2])).await, "an opening moved later");
    assert!(matches!(err, StoreError::NotOnSale { .. }), "expected NotOnSale, got {err:?}");
    let cleared = EventChanges { on_sale_at: Some(None), ..Default::default() };
    store.update_event(event.id, cleared).await.expect("update").expect("exists");
    hold_seats(&store, &ann, &event, &seat_ids(&venue, &[2])).await.expect("a hold once the opening is cleared");
}

pub async fn a_started_or_canceled_event_is_refused_as_such_before_its_opening(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event_with(&store, &venue, |e| e.on_sale_at = Some(in_days(1.0))).await;
    let ann = fixture_user(&store, "ann").await;
    store.cancel_event(event.id, Utc::now()).await.expect("cancel").expect("exists");
    let err = expect_err(hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await, "hold on a canceled event");
    assert!(matches!(err, StoreError::Rejected(_)), "canceled comes first: {err:?}");
}
