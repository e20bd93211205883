//! Sales reports for the organiser (issue 21): an event's seats sold, held and available, its
//! revenue and refunds, by ticket type and by tier, and its sales hour by hour. A store counts
//! with one read per report (`store::ReportStore`) and answers `ReportCount`s; the report is
//! put together from them here, once for every backend.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The type of every seat of an event without ticket types of its own, and of every reservation
/// made before types existed.
pub const STANDARD_TICKET_TYPE: &str = "standard";

/// One line of what a store counted for an event's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportCount {
    /// The seats of one tier of the event's venue, by their status at the report's time (a hold
    /// past its end counts as available).
    Seats { tier: String, seats: u64, sold: u64, held: u64 },
    /// The tickets of one tier issued in one hour (UTC, the hour's start), the revoked ones (their
    /// seats canceled after the sale, their price given back) apart from the others.
    Sales { tier: String, ticket_type: String, hour: DateTime<Utc>, revoked: bool, tickets: u64, cents: i64 },
}

/// An event's sales at a glance (`GET /admin/reports/events/{event_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventReport {
    pub event_id: Uuid,
    /// Seats of the event's venue.
    pub seats: u64,
    /// Seats sold (paid, not canceled).
    pub sold: u64,
    /// Seats held and not paid yet, whose hold has not ended.
    pub held: u64,
    /// Seats neither sold nor held: `seats - sold - held`.
    pub available: u64,
    /// What the sold seats cost, in the event's currency's minor units (canceled seats not
    /// included: their money went back, see `refunded_cents`).
    pub revenue_cents: i64,
    /// What canceling seats after their sale gave back: the prices of the revoked tickets.
    pub refunded_cents: i64,
    /// By ticket type (issue 21), in the types' name order: the tickets sold (not revoked) of each
    /// type and what they cost; before any sale, one line `standard` of nothing.
    pub by_type: Vec<TypeSales>,
    /// By tier of the venue, in the tiers' name order.
    pub by_tier: Vec<TierSales>,
    /// Tickets issued hour by hour (UTC), oldest first, only the hours with a sale; seats
    /// canceled later are counted in the hour they were sold.
    pub sales_per_hour: Vec<HourSales>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TypeSales {
    /// The ticket type's name (`standard` for an event without types of its own).
    pub ticket_type: String,
    pub sold: u64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierSales {
    pub tier: String,
    pub seats: u64,
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HourSales {
    /// The hour's start (UTC).
    pub hour: DateTime<Utc>,
    /// Tickets issued in the hour, those revoked since included.
    pub sold: u64,
    pub revenue_cents: i64,
}

impl EventReport {
    /// Adds up a store's counts (in any order, any number of lines per tier or hour).
    pub fn from_counts(event_id: Uuid, counts: &[ReportCount]) -> Self {
        let mut tiers = BTreeMap::<&str, TierSales>::new();
        let mut types = BTreeMap::<&str, TypeSales>::new();
        let mut hours = BTreeMap::<DateTime<Utc>, HourSales>::new();
        let mut refunded_cents = 0;
        for count in counts {
            match count {
                ReportCount::Seats { tier, seats, sold, held } => {
                    let line = tier_line(&mut tiers, tier);
                    line.seats += seats;
                    line.sold += sold;
                    line.held += held;
                }
                ReportCount::Sales { tier, ticket_type, hour, revoked, tickets, cents } => {
                    let line = hours.entry(*hour).or_insert(HourSales { hour: *hour, sold: 0, revenue_cents: 0 });
                    line.sold += tickets;
                    line.revenue_cents += cents;
                    if *revoked {
                        refunded_cents += cents;
                    } else {
                        tier_line(&mut tiers, tier).revenue_cents += cents;
                        let line = types.entry(ticket_type).or_insert_with(|| TypeSales {
                            ticket_type: ticket_type.clone(),
                            sold: 0,
                            revenue_cents: 0,
                        });
                        line.sold += tickets;
                        line.revenue_cents += cents;
                    }
                }
            }
        }
        let mut by_tier: Vec<TierSales> = tiers.into_values().collect();
        for tier in &mut by_tier {
            tier.available = tier.seats.saturating_sub(tier.sold + tier.held);
        }
        let sum = |f: fn(&TierSales) -> u64| by_tier.iter().map(f).sum::<u64>();
        let (seats, sold, held) = (sum(|t| t.seats), sum(|t| t.sold), sum(|t| t.held));
        let revenue_cents = by_tier.iter().map(|t| t.revenue_cents).sum();
        Self {
            event_id,
            seats,
            sold,
            held,
            available: seats.saturating_sub(sold + held),
            revenue_cents,
            refunded_cents,
            by_type: if types.is_empty() {
                // No sale yet: one line of nothing, for the default type.
                vec![TypeSales { ticket_type: STANDARD_TICKET_TYPE.into(), sold: 0, revenue_cents: 0 }]
            } else {
                types.into_values().collect()
            },
            by_tier,
            sales_per_hour: hours.into_values().collect(),
        }
    }
}

fn tier_line<'m, 'a>(tiers: &'m mut BTreeMap<&'a str, TierSales>, tier: &'a str) -> &'m mut TierSales {
    tiers.entry(tier).or_insert_with(|| TierSales {
        tier: tier.to_owned(),
        seats: 0,
        sold: 0,
        held: 0,
        available: 0,
        revenue_cents: 0,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn seats(tier: &str, seats: u64, sold: u64, held: u64) -> ReportCount {
        ReportCount::Seats { tier: tier.into(), seats, sold, held }
    }

    fn sales(tier: &str, hour: u32, revoked: bool, tickets: u64, cents: i64) -> ReportCount {
        let hour = Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap();
        ReportCount::Sales { tier: tier.into(), ticket_type: "standard".into(), hour, revoked, tickets, cents }
    }

    #[test]
    fn sales_add_up_by_ticket_type() {
        let hour = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let typed = |ticket_type: &str, revoked: bool, tickets: u64, cents: i64| ReportCount::Sales {
            tier: "standard".into(),
            ticket_type: ticket_type.into(),
            hour,
            revoked,
            tickets,
            cents,
        };
        let report = EventReport::from_counts(
            Uuid::new_v4(),
            &[typed("student", false, 2, 2000), typed("adult", false, 3, 7500), typed("adult", true, 1, 2500)],
        );
        assert_eq!(
            report.by_type,
            vec![
                TypeSales { ticket_type: "adult".into(), sold: 3, revenue_cents: 7500 },
                TypeSales { ticket_type: "student".into(), sold: 2, revenue_cents: 2000 },
            ]
        );
    }

    #[test]
    fn counts_add_up_by_tier_by_type_and_by_hour_with_revoked_tickets_as_refunds() {
        let event_id = Uuid::new_v4();
        let report = EventReport::from_counts(
            event_id,
            &[
                seats("vip", 10, 2, 1),
                seats("standard", 100, 5, 3),
                sales("standard", 9, false, 4, 4000),
                sales("vip", 9, false, 2, 6000),
                sales("standard", 11, false, 1, 1000),
                sales("standard", 11, true, 1, 1000),
            ],
        );
        assert_eq!((report.seats, report.sold, report.held, report.available), (110, 7, 4, 99));
        assert_eq!((report.revenue_cents, report.refunded_cents), (11_000, 1000));
        assert_eq!(report.by_type, vec![TypeSales { ticket_type: "standard".into(), sold: 7, revenue_cents: 11_000 }]);
        let tiers: Vec<_> = report
            .by_tier
            .iter()
            .map(|t| (t.tier.as_str(), t.seats, t.sold, t.held, t.available, t.revenue_cents))
            .collect();
        assert_eq!(tiers, vec![("standard", 100, 5, 3, 92, 5000), ("vip", 10, 2, 1, 7, 6000)]);
        let hours: Vec<_> =
            report.sales_per_hour.iter().map(|h| (h.hour.format("%H").to_string(), h.sold, h.revenue_cents)).collect();
        assert_eq!(hours, vec![("09".to_string(), 6, 10_000), ("11".to_string(), 2, 2000)]);
    }

    #[test]
    fn an_event_with_no_sale_reports_every_seat_available_and_no_hour() {
        let report = EventReport::from_counts(Uuid::new_v4(), &[seats("standard", 20, 0, 0)]);
        assert_eq!((report.seats, report.sold, report.held, report.available), (20, 0, 0, 20));
        assert_eq!((report.revenue_cents, report.refunded_cents), (0, 0));
        assert!(report.sales_per_hour.is_empty());
        assert_eq!(report.by_type[0].ticket_type, "standard");
    }
}
