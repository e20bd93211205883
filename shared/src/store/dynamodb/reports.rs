//! Sales reports on DynamoDB, added up in the process from the event's own partitions (there is
//! no `GROUP BY`): the seat map's reads (the event, its venue's seats partition, its 4 seat-state
//! partitions) and one paginated Query of the event's tickets on `gsi2`, projected to the
//! attributes counted (the price and the discount: revenue is what was paid). Both run at once.
//! A 20,000-seat event read in full is about 20,000 small items of seats, 20,000 of seat states and one per ticket: a few MB, some 500 read capacity
//! units at eventual consistency, in pages of 1 MB.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use uuid::Uuid;

use super::catalog::{EVENTS_INDEX, event_from};
use super::items::*;
use super::{DynamoStore, Query};
use crate::domain::{
    EventReport, ReportCount, STANDARD_TICKET_TYPE, SalesCount, SalesReport, SalesWindow, SeatStatus, TicketStatus,
};
use crate::store::{CatalogStore, ReportStore, StoreError, StoreResult};

/// What was paid for a ticket: its price less its share of a code's discount (`disc`, absent on
/// tickets issued without one).
fn paid_cents(item: &Item) -> StoreResult<i64> {
    Ok(get_n(item, "price")? - opt_n(item, "disc")?.unwrap_or(0))
}

#[async_trait]
impl ReportStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn event_report(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<EventReport>> {
        let pk = event_tickets_pk(event_id);
        let (seats, tickets) = tokio::join!(
            self.seat_map(event_id, now),
            self.query_all(Query::gsi2(&pk).only("#tier, #ttype, #price, #disc, #issued, #st"))
        );
        let Some(seats) = seats? else {
            return Ok(None);
        };
        let mut tiers = HashMap::<String, (u64, u64, u64)>::new();
        for seat in seats {
            let line = tiers.entry(seat.tier).or_default();
            line.0 += 1;
            match seat.status {
                SeatStatus::Sold => line.1 += 1,
                SeatStatus::Held => line.2 += 1,
                SeatStatus::Available => {}
            }
        }
        let mut sales = HashMap::<(String, String, DateTime<Utc>, bool), (u64, i64)>::new();
        for item in &tickets? {
            let issued = get_time(item, "issued")?;
            let hour = issued
                .duration_trunc(TimeDelta::hours(1))
                .map_err(|err| StoreError::Internal(format!("a ticket's hour: {err}")))?;
            let revoked = get_enum::<TicketStatus>(item, "st")? == TicketStatus::Revoked;
            // Tickets issued before ticket types existed are `standard`.
            let ticket_type = opt_s(item, "ttype").unwrap_or_else(|| STANDARD_TICKET_TYPE.to_owned());
            let line = sales.entry((get_s(item, "tier")?.to_owned(), ticket_type, hour, revoked)).or_default();
            line.0 += 1;
            line.1 += paid_cents(item)?;
        }
        let counts: Vec<ReportCount> =
            tiers
                .into_iter()
                .map(|(tier, (seats, sold, held))| ReportCount::Seats { tier, seats, sold, held })
                .chain(sales.into_iter().map(|((tier, ticket_type, hour, revoked), (tickets, cents))| {
                    ReportCount::Sales { tier, ticket_type, hour, revoked, tickets, cents }
                }))
                .collect();
        Ok(Some(EventReport::from_counts(event_id, &counts)))
    }

    /// There is no index of tickets by time across events: the events that start at or after the
    /// window's start (only they can have sold a ticket in it: a sale closes at the start) are
    /// taken from the events' index partition, which every listing reads whole, and each one's
    /// tickets partition is read at once (five attributes projected; at most as many Queries in
    /// flight as the store's read slots) and counted here. A refund an admin makes after the
    /// event started, of an event that started before the window, is not found (see README,
    /// "Sales reports").
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn sales_report(&self, window: SalesWindow) -> StoreResult<SalesReport> {
        let mut tasks = tokio::task::JoinSet::new();
        for item in self.query_all(Query::gsi1(EVENTS_INDEX)).await? {
            let event = event_from(&item)?.event;
            if event.start_time < window.from {
                continue;
            }
            let (client, slots, table) = (self.client.clone(), self.slots.clone(), self.table.clone());
            tasks.spawn(async move {
                let pk = event_tickets_pk(event.id);
                let query = Query::gsi2(&pk).only("#price, #disc, #issued, #revoked, #currency");
                let tickets = super::query::query_all_on(&client, &slots, &table, query).await;
                (event, tickets)
            });
        }
        let mut sums = HashMap::<(Uuid, String, chrono::NaiveDate, bool), (String, u64, i64)>::new();
        while let Some(done) = tasks.join_next().await {
            let (event, tickets) = done.map_err(|e| StoreError::Internal(format!("a report task failed: {e}")))?;
            for item in &tickets? {
                let price = paid_cents(item)?;
                let issued = Some(get_time(item, "issued")?);
                let revoked = opt_n(item, "revoked")?.map(from_ms).transpose()?;
                for (at, refunded) in [(issued, false), (revoked, true)] {
                    let Some(at) = at.filter(|at| window.contains(*at)) else { continue };
                    let key = (event.id, text(item, "currency"), at.date_naive(), refunded);
                    let line = sums.entry(key).or_insert_with(|| (event.name.clone(), 0, 0));
                    line.1 += 1;
                    line.2 += price;
                }
            }
        }
        let counts: Vec<SalesCount> = sums
            .into_iter()
            .map(|((event_id, currency, day, refunded), (event_name, tickets, cents))| SalesCount {
                event_id,
                event_name,
                currency,
                day,
                refunded,
                tickets,
                cents,
            })
            .collect();
        Ok(SalesReport::from_counts(window, &counts))
    }
}
