//! Event search and the listing's orders (`domain::search`): the same matches in the same order
//! on every backend, whichever index finds them: the city and the venue are searched, a word the
//! events lack does not hide the one they have, one typo is forgiven, accents and case are
//! ignored, a title match ranks above a description match; renaming an event re-indexes it; the
//! `sort` orders and the city's venues filter searches and listings alike.

use super::*;

/// A venue named `name` at `location`, with two seats of one tier.
async fn venue_at(store: &S, name: &str, location: &str) -> VenueWithSeats {
    let rows = vec![SeatRow { row: "A".into(), seats: 2, tier: "standard".into() }];
    let venue = NewVenue::parse(name, Some(location), VenueKind::Theatre, rows).expect("valid venue");
    store.create_venue(venue).await.expect("create venue")
}

/// An event at `venue`, `days` ahead, with one price.
async fn event_at(store: &S, venue: &VenueWithSeats, name: &str, description: &str, days: f64, cents: i64) -> Event {
    fixture_event_with(store, venue, |e| {
        e.name = name.into();
        e.description = description.into();
        e.start_time = in_days(days);
        e.prices = vec![Price { tier: "standard".into(), price_cents: cents }];
    })
    .await
}

pub async fn search_finds_city_venue_title_and_typos_best_first(store: S) {
    let hamburg = venue_at(&store, "Arena Nord", "Hafenstraße 1, Hamburg").await;
    let munich = venue_at(&store, "Olympiahalle", "Spiridon-Louis-Ring 21, München").await;
    let madrid = venue_at(&store, "Teatro Aurora", "Calle Mayor 5, Madrid").await;
    let rock = event_at(&store, &hamburg, "Rock Night", "Loud guitars", 3.0, 4500).await;
    let jazz = event_at(&store, &hamburg, "Jazz Night", "Soft saxophones", 1.0, 3000).await;
    let hamlet = event_at(&store, &madrid, "Hamlet", "The prince of Denmark", 2.0, 2500).await;
    let macbeth = event_at(&store, &madrid, "Macbeth", "Shakespeare after Hamlet", 1.5, 2000).await;
    let oktoberfest = event_at(&store, &munich, "Brass Band", "Lederhosen and brass", 4.0, 1500).await;
    let now = Utc::now();
    let search = |text: &str| {
        let (store, filter) = (store.clone(), EventFilter { text: Some(text.into()), ..Default::default() });
        async move { ids(&store.list_events(&filter, now).await.expect("search"), |e| e.id) }
    };

    assert_eq!(search("Hamburg").await, [jazz.id, rock.id], "the city finds its events, soonest first");
    assert_eq!(search("arena nord").await, [jazz.id, rock.id], "the venue's name finds its events");
    assert_eq!(search("hamlet tickets").await, [hamlet.id, macbeth.id], "a word no event has hides nothing");
    assert_eq!(search("Hamlte").await, [hamlet.id, macbeth.id], "one typo is forgiven");
    assert_eq!(search("HAMLET").await, search("hamlet").await, "case is ignored");
    assert_eq!(search("münchen").await, [oktoberfest.id], "accents are ignored");
    assert_eq!(search("munchen").await, [oktoberfest.id]);
    assert_eq!(search("MUNCHEN").await, [oktoberfest.id]);
    assert_eq!(
        search("ham").await,
        [hamlet.id, jazz.id, rock.id, macbeth.id],
        "a word's beginning matches: in the title, then the city, then the description"
    );
    assert!(search("zzzz").await.is_empty());
    assert!(search("%").await.is_empty(), "a search of no letter finds nothing");
    assert!(search("hmlte").await.is_empty(), "two typos in six letters are too many");

    let paged = EventFilter { text: Some("hamlet".into()), page: page(1, 1), ..Default::default() };
    assert_eq!(ids(&store.list_events(&paged, now).await.expect("search"), |e| e.id), [macbeth.id], "pages of matches");

    let renamed = EventChanges { name: Some("Othello".into()), ..Default::default() };
    store.update_event(hamlet.id, renamed).await.expect("rename").expect("exists");
    assert_eq!(search("othello").await, [hamlet.id], "a renamed event is found by its new name");
    assert_eq!(search("hamlet").await, [macbeth.id], "and no longer by its old one");
}

pub async fn listing_sorts_and_filters_by_city(store: S) {
    let hamburg = venue_at(&store, "Arena Nord", "Hafenstraße 1, Hamburg").await;
    let lyon = venue_at(&store, "Cine Lumière", "12 Rue des Arts, Lyon").await;
    let cheap = event_at(&store, &hamburg, "Zebra Parade", "A parade", 3.0, 1000).await;
    let dear = event_at(&store, &lyon, "apple pie", "A film", 1.0, 9000).await;
    let middle = event_at(&store, &hamburg, "Mango Tango", "A dance", 2.0, 5000).await;
    let now = Utc::now();
    let list = |filter: EventFilter| {
        let store = store.clone();
        async move { ids(&store.list_events(&filter, now).await.expect("list"), |e| e.id) }
    };

    let sorted = |sort| EventFilter { sort: Some(sort), ..Default::default() };
    assert_eq!(list(sorted(EventSort::Date)).await, [dear.id, middle.id, cheap.id]);
    assert_eq!(list(sorted(EventSort::Price)).await, [cheap.id, middle.id, dear.id]);
    assert_eq!(list(sorted(EventSort::Name)).await, [dear.id, middle.id, cheap.id], "names in any case");
    let in_hamburg = EventFilter { venues: Some(vec![hamburg.venue.id]), ..Default::default() };
    assert_eq!(list(in_hamburg.clone()).await, [middle.id, cheap.id]);
    assert_eq!(list(EventFilter { sort: Some(EventSort::Price), ..in_hamburg.clone() }).await, [cheap.id, middle.id]);
    assert!(list(EventFilter { venues: Some(vec![]), ..Default::default() }).await.is_empty(), "a city with no venue");

    let searched = EventFilter { text: Some("a".into()), ..Default::default() };
    assert_eq!(list(searched.clone()).await, [dear.id, middle.id, cheap.id], "a word of the descriptions");
    assert_eq!(
        list(EventFilter { sort: Some(EventSort::Price), ..searched.clone() }).await,
        [cheap.id, middle.id, dear.id]
    );
    assert_eq!(list(EventFilter { venues: Some(vec![lyon.venue.id]), ..searched }).await, [dear.id]);
}
