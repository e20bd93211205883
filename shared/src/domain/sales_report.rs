//! Sales across events over a window of time (`GET /admin/reports/sales?from&to`, issue 21): the
//! tickets sold and the tickets refunded in the window, per currency, per event and per day. A
//! store counts them with one read (`store::ReportStore::sales_report`) and answers `SalesCount`s;
//! the report is put together from them here, once for every backend.
//!
//! Money is never added across currencies: every sum is per currency (an event sells in one).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Invalid;

/// The longest window one report covers: a year and a bit, so a yearly report fits.
pub const MAX_SALES_WINDOW_DAYS: i64 = 400;
/// The window when a request names neither end: the last 30 days.
pub const DEFAULT_SALES_WINDOW_DAYS: i64 = 30;

/// The instants a report covers, both ends included (`from <= to`, at most
/// `MAX_SALES_WINDOW_DAYS` apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl SalesWindow {
    /// The window a request names: a missing `to` is `now`, a missing `from` is 30 days before `to`.
    pub fn parse(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<Self, Invalid> {
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(DEFAULT_SALES_WINDOW_DAYS));
        if from > to {
            return Err(Invalid::new("from", "must not be after `to`"));
        }
        if to - from > Duration::days(MAX_SALES_WINDOW_DAYS) {
            return Err(Invalid::new("to", format!("must be at most {MAX_SALES_WINDOW_DAYS} days after `from`")));
        }
        Ok(Self { from, to })
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at <= self.to
    }
}

/// What a store counted for one event, one UTC day and one kind of line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesCount {
    pub event_id: Uuid,
    /// The event's name (as it is now).
    pub event_name: String,
    pub currency: String,
    pub day: NaiveDate,
    /// `true`: tickets revoked in the window (their seats canceled after the sale, the money given
    /// back); `false`: tickets issued in the window (revoked since or not).
    pub refunded: bool,
    pub tickets: u64,
    pub cents: i64,
}

/// Sales across events between two instants (`GET /admin/reports/sales`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SalesReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Tickets issued in the window, whatever happened to them since.
    pub sold: u64,
    /// Tickets revoked in the window (whenever they were sold).
    pub refunded: u64,
    /// The money, per currency, in the currency's name order.
    pub by_currency: Vec<CurrencySales>,
    /// Per event, most revenue first (then name).
    pub by_event: Vec<EventSales>,
    /// Per UTC day and currency, oldest first, only days with a sale or a refund.
    pub per_day: Vec<DaySales>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencySales {
    pub currency: String,
    pub sold: u64,
    /// What the tickets issued in the window cost.
    pub revenue_cents: i64,
    pub refunded: u64,
    /// What the tickets revoked in the window cost (given back).
    pub refunded_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventSales {
    pub event_id: Uuid,
    pub name: String,
    pub currency: String,
    pub sold: u64,
    pub revenue_cents: i64,
    pub refunded: u64,
    pub refunded_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DaySales {
    /// The UTC day.
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub currency: String,
    pub sold: u64,
    pub revenue_cents: i64,
    pub refunded: u64,
    pub refunded_cents: i64,
}

/// The four sums every line of the report has.
#[derive(Default)]
struct Sums {
    sold: u64,
    revenue_cents: i64,
    refunded: u64,
    refunded_cents: i64,
}

impl Sums {
    fn add(&mut self, count: &SalesCount) {
        if count.refunded {
            self.refunded += count.tickets;
            self.refunded_cents += count.cents;
        } else {
            self.sold += count.tickets;
            self.revenue_cents += count.cents;
        }
    }
}

impl SalesReport {
    /// Adds up a store's counts (in any order, any number of lines per event or day).
    pub fn from_counts(window: SalesWindow, counts: &[SalesCount]) -> Self {
        let mut currencies = BTreeMap::<&str, Sums>::new();
        let mut events = BTreeMap::<Uuid, (&SalesCount, Sums)>::new();
        let mut days = BTreeMap::<(NaiveDate, &str), Sums>::new();
        for count in counts {
            currencies.entry(&count.currency).or_default().add(count);
            events.entry(count.event_id).or_insert_with(|| (count, Sums::default())).1.add(count);
            days.entry((count.day, &count.currency)).or_default().add(count);
        }
        let mut by_event: Vec<EventSales> = events
            .into_values()
            .map(|(first, sums)| EventSales {
                event_id: first.event_id,
                name: first.event_name.clone(),
                currency: first.currency.clone(),
                sold: sums.sold,
                revenue_cents: sums.revenue_cents,
                refunded: sums.refunded,
                refunded_cents: sums.refunded_cents,
            })
            .collect();
        by_event.sort_by(|a, b| b.revenue_cents.cmp(&a.revenue_cents).then_with(|| a.name.cmp(&b.name)));
        Self {
            from: window.from,
            to: window.to,
            sold: currencies.values().map(|s| s.sold).sum(),
            refunded: currencies.values().map(|s| s.refunded).sum(),
            by_currency: currencies
                .into_iter()
                .map(|(currency, s)| CurrencySales {
                    currency: currency.to_owned(),
                    sold: s.sold,
                    revenue_cents: s.revenue_cents,
                    refunded: s.refunded,
                    refunded_cents: s.refunded_cents,
                })
                .collect(),
            by_event,
            per_day: days
                .into_iter()
                .map(|((day, currency), s)| DaySales {
                    day,
                    currency: currency.to_owned(),
                    sold: s.sold,
                    revenue_cents: s.revenue_cents,
                    refunded: s.refunded,
                    refunded_cents: s.refunded_cents,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn count(
        event: Uuid,
        name: &str,
        currency: &str,
        day: u32,
        refunded: bool,
        tickets: u64,
        cents: i64,
    ) -> SalesCount {
        SalesCount {
            event_id: event,
            event_name: name.into(),
            currency: currency.into(),
            day: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
            refunded,
            tickets,
            cents,
        }
    }

    #[test]
    fn a_window_defaults_to_the_last_30_days_and_refuses_reversed_or_overlong_ends() {
        let now = at(31, 12);
        let window = SalesWindow::parse(None, None, now).unwrap();
        assert_eq!((window.from, window.to), (now - Duration::days(30), now));
        assert_eq!(SalesWindow::parse(Some(at(2, 0)), Some(at(1, 0)), now).unwrap_err().field, "from");
        let long = SalesWindow::parse(Some(at(1, 0) - Duration::days(401)), Some(at(1, 0)), now).unwrap_err();
        assert_eq!(long.field, "to");
        assert!(SalesWindow::parse(Some(at(1, 0)), Some(at(1, 0)), now).unwrap().contains(at(1, 0)));
    }

    #[test]
    fn counts_add_up_per_currency_per_event_and_per_day_without_mixing_currencies() {
        let (concert, play) = (Uuid::new_v4(), Uuid::new_v4());
        let window = SalesWindow { from: at(1, 0), to: at(10, 0) };
        let report = SalesReport::from_counts(
            window,
            &[
                count(concert, "Concert", "EUR", 2, false, 3, 7500),
                count(concert, "Concert", "EUR", 3, false, 1, 2500),
                count(concert, "Concert", "EUR", 3, true, 1, 2500),
                count(play, "Play", "GBP", 3, false, 2, 4000),
            ],
        );
        assert_eq!((report.sold, report.refunded), (6, 1));
        let money: Vec<_> = report
            .by_currency
            .iter()
            .map(|c| (c.currency.as_str(), c.sold, c.revenue_cents, c.refunded_cents))
            .collect();
        assert_eq!(money, vec![("EUR", 4, 10_000, 2500), ("GBP", 2, 4000, 0)]);
        let events: Vec<_> = report.by_event.iter().map(|e| (e.name.as_str(), e.sold, e.revenue_cents)).collect();
        assert_eq!(events, vec![("Concert", 4, 10_000), ("Play", 2, 4000)]);
        let days: Vec<_> = report
            .per_day
            .iter()
            .map(|d| (d.day.format("%d").to_string(), d.currency.as_str(), d.sold, d.refunded))
            .collect();
        assert_eq!(days, vec![("02".into(), "EUR", 3, 0), ("03".into(), "EUR", 1, 1), ("03".into(), "GBP", 2, 0)]);
    }
}
