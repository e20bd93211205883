//! An event's poster: the store keeps its two addresses, shows them on every read of the event
//! (one and the list), keeps them through other changes and drops both at once.

use super::*;
use proeventa_core::domain::Poster;

pub async fn event_poster_is_set_shown_kept_and_removed(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    assert_eq!(event.poster, None, "a new event has no poster");
    let poster = Poster { small: "/posters/a-480.jpg".into(), large: "/posters/a-1200.jpg".into() };

    let set = store
        .update_event(event.id, EventChanges { poster: Some(Some(poster.clone())), ..Default::default() })
        .await
        .expect("set the poster")
        .expect("event exists");
    assert_eq!(set, Event { poster: Some(poster.clone()), ..event.clone() }, "only the poster changed");
    let read = store.event(event.id, Utc::now()).await.expect("read").expect("exists");
    assert_eq!(read.poster.as_ref(), Some(&poster));
    let listed = store.list_events(&EventFilter::default(), Utc::now()).await.expect("list");
    assert_eq!(listed.iter().map(|e| e.poster.clone()).collect::<Vec<_>>(), vec![Some(poster.clone())]);

    let renamed = store
        .update_event(event.id, EventChanges { name: Some("Renamed".into()), ..Default::default() })
        .await
        .expect("rename")
        .expect("event exists");
    assert_eq!(renamed.poster.as_ref(), Some(&poster), "another change keeps the poster");

    let newer = Poster { small: "/posters/b-480.jpg".into(), large: "/posters/b-1200.jpg".into() };
    let replaced = store
        .update_event(event.id, EventChanges { poster: Some(Some(newer.clone())), ..Default::default() })
        .await
        .expect("replace")
        .expect("event exists");
    assert_eq!(replaced.poster, Some(newer));

    let removed = store
        .update_event(event.id, EventChanges { poster: Some(None), ..Default::default() })
        .await
        .expect("remove")
        .expect("event exists");
    assert_eq!(removed.poster, None);
    assert_eq!(store.event(event.id, Utc::now()).await.expect("read").expect("exists").poster, None);

    let unknown = store
        .update_event(Uuid::new_v4(), EventChanges { poster: Some(Some(poster)), ..Default::default() })
        .await
        .expect("an unknown event is no error");
    assert_eq!(unknown, None);
}
