//! Sales reports (`ReportStore`): an event's seats by tier and status, its revenue and refunds,
//! and its sales per hour, counted by the store alike on every backend.

use chrono::Timelike;
use proeventa_core::domain::{EventReport, SalesWindow, TierSales};

use super::*;

pub async fn event_report_counts_seats_revenue_refunds_by_tier_and_hour(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 3, "standard")]).await;
    let (event, other) = (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let (ann, bob, cy) =
        (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await, fixture_user(&store, "cy").await);
    paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 2]), "ch_ann").await;
    let (refunded, _) = paid_booking(&store, &bob, &event, &seat_ids(&venue, &[3]), "ch_bob").await;
    store.cancel_reservation(refunded.reservations[0].id, Utc::now(), None).await.expect("cancel a paid seat");
    hold_seats(&store, &bob, &event, &seat_ids(&venue, &[4])).await.expect("a held seat");
    let lapsed = hold_briefly(&store, &cy, &event, &seat_ids(&venue, &[1])).await;
    // Another event of the venue, sold out: none of it is this event's.
    paid_booking(&store, &ann, &other, &seat_ids(&venue, &[0, 1, 2, 3, 4]), "ch_other").await;
    sleep_past(lapsed.expires_at).await;

    let report: EventReport =
        store.event_report(event.id, Utc::now()).await.expect("a report").expect("the event exists");
    let (vip, standard) = (tier_price("vip"), tier_price("standard"));
    assert_eq!(report.event_id, event.id);
    assert_eq!((report.seats, report.sold, report.held, report.available), (5, 2, 1, 2), "{report:?}");
    assert_eq!((report.revenue_cents, report.refunded_cents), (vip + standard, standard));
    assert_eq!(
        report.by_tier,
        vec![
            TierSales { tier: "standard".into(), seats: 3, sold: 1, held: 1, available: 1, revenue_cents: standard },
            TierSales { tier: "vip".into(), seats: 2, sold: 1, held: 0, available: 1, revenue_cents: vip },
        ]
    );
    assert_eq!(report.by_type.len(), 1);
    assert_eq!((report.by_type[0].ticket_type.as_str(), report.by_type[0].sold), ("standard", 2));
    assert_eq!(report.by_type[0].revenue_cents, vip + standard);
    // Every seat sold counts in its hour, the one refunded since too.
    let sold: u64 = report.sales_per_hour.iter().map(|h| h.sold).sum();
    let cents: i64 = report.sales_per_hour.iter().map(|h| h.revenue_cents).sum();
    assert_eq!((sold, cents), (3, vip + 2 * standard), "{:?}", report.sales_per_hour);
    for hour in &report.sales_per_hour {
        assert_eq!((hour.hour.minute(), hour.hour.second(), hour.hour.nanosecond()), (0, 0, 0), "{hour:?}");
        assert!(hour.hour <= Utc::now() && Utc::now() - hour.hour < Duration::hours(2), "{hour:?}");
    }
    assert!(report.sales_per_hour.windows(2).all(|w| w[0].hour < w[1].hour), "oldest first");

    assert_eq!(store.event_report(Uuid::new_v4(), Utc::now()).await.expect("a read"), None, "an unknown event");
}

pub async fn event_report_of_an_event_with_no_sale_has_every_seat_available(store: S) {
    let venue = fixture_venue(&store, &[("A", 4, "standard")]).await;
    let event = fixture_event(&store, &venue).await;
    let report = store.event_report(event.id, Utc::now()).await.expect("a report").expect("the event exists");
    assert_eq!((report.seats, report.sold, report.held, report.available), (4, 0, 0, 4));
    assert_eq!((report.revenue_cents, report.refunded_cents), (0, 0));
    assert!(report.sales_per_hour.is_empty());
}

pub async fn sales_window_counts_the_sales_and_refunds_in_it_by_event_and_day(store: S) {
    let venue = fixture_venue(&store, &[("A", 2, "vip"), ("B", 3, "standard")]).await;
    let (event, other, unsold) =
        (fixture_event(&store, &venue).await, fixture_event(&store, &venue).await, fixture_event(&store, &venue).await);
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let before = Utc::now() - Duration::seconds(1);
    paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 2]), "ch_ann").await;
    let (refunded, _) = paid_booking(&store, &bob, &event, &seat_ids(&venue, &[3]), "ch_bob").await;
    store.cancel_reservation(refunded.reservations[0].id, Utc::now(), None).await.expect("cancel a paid seat");
    paid_booking(&store, &ann, &other, &seat_ids(&venue, &[4]), "ch_other").await;
    hold_seats(&store, &bob, &unsold, &seat_ids(&venue, &[0])).await.expect("a hold is no sale");
    let after = Utc::now() + Duration::seconds(1);
    let (vip, standard) = (tier_price("vip"), tier_price("standard"));

    let window = SalesWindow { from: before, to: after };
    let report = store.sales_report(window).await.expect("a report");
    assert_eq!((report.from, report.to), (before, after));
    assert_eq!((report.sold, report.refunded), (4, 1), "{report:?}");
    assert_eq!(report.by_currency.len(), 1, "{report:?}");
    let money = &report.by_currency[0];
    assert_eq!(
        (money.currency.as_str(), money.revenue_cents, money.refunded_cents),
        ("EUR", vip + 3 * standard, standard)
    );
    let events: Vec<_> =
        report.by_event.iter().map(|e| (e.event_id, e.name.as_str(), e.sold, e.revenue_cents, e.refunded)).collect();
    assert_eq!(
        events,
        vec![
            (event.id, event.name.as_str(), 3, vip + 2 * standard, 1),
            (other.id, other.name.as_str(), 1, standard, 0)
        ]
    );
    let days: u64 = report.per_day.iter().map(|d| d.sold).sum();
    assert_eq!(days, 4, "{:?}", report.per_day);
    assert!(report.per_day.iter().all(|d| d.day == Utc::now().date_naive() || d.day == before.date_naive()));

    // A window that ends before the sales sees none of them.
    let earlier = SalesWindow { from: before - Duration::days(2), to: before - Duration::days(1) };
    let empty = store.sales_report(earlier).await.expect("a report");
    assert_eq!((empty.sold, empty.refunded), (0, 0));
    assert!(empty.by_currency.is_empty() && empty.by_event.is_empty() && empty.per_day.is_empty());
}
