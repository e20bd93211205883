//! What a ticket costs on AWS (issue 18, point 5): the purchase flow (reserve, checkout, confirm
//! with the simulated provider's test card, bookings of `SEATS_PER_BOOKING`) run through the API
//! for a new event, measured, and priced at public on-demand list prices of one region.
//!
//! The model, per ticket sold:
//! - **API Gateway HTTP API**: every request of the flow is one API request (three a booking).
//! - **Lambda**: every request is one invocation of an arm64 function of the template's memory
//!   size. Its billed duration is stood in for by the CPU time `proeventa serve` spent per request
//!   here (from `/proc/<pid>/stat` over the phase), stretched to the share of a vCPU that memory
//!   size gets (1,769 MB is one vCPU) and rounded up to Lambda's 1 ms. Time spent waiting on the
//!   database is not in it (it costs little at 256 MB: 10 ms of waiting is $0.00000003).
//! - **DynamoDB on demand**: the read and write request units the store's requests consumed, as
//!   DynamoDB Local reports them (`ReturnConsumedCapacity: TOTAL`, counted by the server with
//!   `DYNAMODB_CONSUMED_CAPACITY=1` and read from its `/metrics`).
//! - **RDS for PostgreSQL** (`RDS_INSTANCE`): an instance bills by the hour whether it sells or not,
//!   so its share of a ticket depends on how busy it is. Two figures: busy selling all hour at the
//!   rate this run measured (the least it can cost), and one month of the instance spread over
//!   `MONTHLY_TICKETS`. The template's RDS Proxy is off by default (`DatabaseProxy: none`), so it
//!   is not in the total; `rds_proxy_hourly` prices it when it is on.
//!
//! Left out: data transfer, storage (tables, database, logs), CloudWatch, X-Ray traces (the
//! template turns tracing on), the confirmation e-mail, the free tiers, and the requests a buyer
//! makes around the purchase (login, event pages, seat map, tickets).

use std::net::SocketAddr;
use std::time::Instant;

use crate::fixtures::Fixture;
use crate::http::{Call, Client};
use crate::scenarios::Figures;
use crate::util::{Context, Res};

/// Seats in each booking of the measured flow: a couple's order. Units per ticket fall as bookings
/// grow (a booking's own items are shared by its seats).
pub const SEATS_PER_BOOKING: usize = 2;
/// Requests of one booking's purchase: reserve, checkout, confirm.
const REQUESTS_PER_BOOKING: usize = 3;
/// Tickets sold by the phase (`--quick`: a tenth).
const TICKETS: usize = 2_000;
const QUICK_TICKETS: usize = 200;

// Prices: AWS on-demand list prices in US East (N. Virginia), us-east-1, in US dollars, looked up
// on 2026-12-06 through stored copies of the pages named; the free tiers are left out.

/// DynamoDB on-demand: a million write request units, a million read request units.
/// https://aws.amazon.com/dynamodb/pricing/on-demand/ (its stored copy shows the units' rules but
/// not the table); the figures as quoted from that page by a project that checked it on
/// 2026-10-04, by AWS's Price List for us-west-2 on 2026-08-09 (same price), and by
/// airbyte.com's pricing guide (2025-07-21), all after the 50 % cut of 2024-11-01.
pub const DYNAMODB_WRITE_PER_MILLION: f64 = 0.625;
pub const DYNAMODB_READ_PER_MILLION: f64 = 0.125;
/// Lambda, arm64: a million requests; a GB-second of duration (first 7.5 billion GB-s a month).
/// https://aws.amazon.com/lambda/pricing/; figures as in AWS's Price List (us-west-2, 2026-08-09,
/// the same in us-east-1) and cloudchipr.com's Lambda pricing guide (us-east-1, 2024).
pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
pub const LAMBDA_ARM_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// API Gateway HTTP API: a million requests (first 300 million a month).
/// https://aws.amazon.com/api-gateway/pricing/; figure as quoted by learnaws.org (us-east-1),
/// awsforengineers.com (2025-05-19) and AWS's Price List (us-west-2, 2026-08-09).
pub const HTTP_API_PER_MILLION: f64 = 1.00;
/// RDS for PostgreSQL, the instance the PostgreSQL deployment is priced on: Single-AZ, on demand.
/// https://aws.amazon.com/rds/postgresql/pricing/; figure from infratally.com's RDS pricing article
/// (2026, us-east-1, PostgreSQL). NOT CONFIRMED on AWS's own page here: other 2026 pages give
/// $0.068 for the class. A burstable class: 2 Graviton2 vCPUs with a 20 % baseline each; a sale
/// keeping it busier runs on CPU credits, whose surplus is billed extra (not modelled).
pub const RDS_INSTANCE: &str = "db.t4g.medium";
pub const RDS_INSTANCE_HOURLY: f64 = 0.065;
pub const RDS_INSTANCE_VCPUS: f64 = 2.0;
/// RDS Proxy: per vCPU-hour of the instance behind it, at least 2 vCPUs. Figure from
/// usage.ai's RDS Proxy cost guide and other third-party pages; NOT CONFIRMED on AWS's own page
/// (https://aws.amazon.com/rds/proxy/pricing/) here.
pub const RDS_PROXY_PER_VCPU_HOUR: f64 = 0.015;
/// The month the RDS figure is spread over: 730 hours, this many tickets.
pub const MONTHLY_TICKETS: f64 = 100_000.0;
const HOURS_PER_MONTH: f64 = 730.0;

/// `infra/template.yaml`'s `MemorySize` for classic Lambda (Globals).
pub const LAMBDA_MEMORY_MB: f64 = 256.0;
/// Lambda gives a function one vCPU at 1,769 MB, and a share in proportion below it
/// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
const LAMBDA_ONE_VCPU_MB: f64 = 1_769.0;
/// The clock ticks of `/proc/<pid>/stat`'s times: USER_HZ, which Linux keeps at 100.
const USER_HZ: f64 = 100.0;

/// What the flow used, over the whole phase.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    pub tickets: f64,
    /// HTTP requests sent: API Gateway requests and Lambda invocations alike.
    pub requests: f64,
    /// CPU time of the server process (user + system).
    pub server_cpu_seconds: f64,
    /// DynamoDB request units; zero on PostgreSQL.
    pub read_units: f64,
    pub write_units: f64,
    /// Wall-clock time of the flow.
    pub seconds: f64,
}

impl Usage {
    fn per_ticket(&self, value: f64) -> f64 {
        value / self.tickets.max(1.0)
    }

    pub fn requests_per_ticket(&self) -> f64 {
        self.per_ticket(self.requests)
    }

    pub fn cpu_ms_per_request(&self) -> f64 {
        1000.0 * self.server_cpu_seconds / self.requests.max(1.0)
    }

    pub fn tickets_per_second(&self) -> f64 {
        self.tickets / self.seconds.max(1e-9)
    }
}

/// Where the data lives, as priced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Database {
    DynamoDbOnDemand,
    /// `RDS_INSTANCE`, with an RDS Proxy in front when `proxy`.
    Rds {
        proxy: bool,
    },
}

/// Dollars per 1,000 tickets, by service.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    pub api_gateway: f64,
    pub lambda: f64,
    /// DynamoDB's request units, or the RDS instance busy all hour at the measured rate.
    pub database: f64,
    /// The same with the RDS instance's month spread over `MONTHLY_TICKETS` (DynamoDB: as above).
    pub database_month: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.api_gateway + self.lambda + self.database
    }

    pub fn total_month(&self) -> f64 {
        self.api_gateway + self.lambda + self.database_month
    }
}

/// The billed duration of one invocation that needs `cpu_ms` of a whole core: stretched to the
/// share of a vCPU `LAMBDA_MEMORY_MB` gets, rounded up to the millisecond.
pub fn lambda_billed_ms(cpu_ms: f64) -> f64 {
    (cpu_ms * (LAMBDA_ONE_VCPU_MB / LAMBDA_MEMORY_MB).max(1.0)).ceil().max(1.0)
}

/// RDS's cost an hour: the instance, and the proxy when there is one.
pub fn rds_hourly(proxy: bool) -> f64 {
    RDS_INSTANCE_HOURLY + if proxy { RDS_PROXY_PER_VCPU_HOUR * RDS_INSTANCE_VCPUS.max(2.0) } else { 0.0 }
}

/// The model of the module's docs: `usage` priced per 1,000 tickets.
pub fn per_thousand_tickets(usage: &Usage, database: Database) -> Cost {
    const MILLION: f64 = 1e6;
    let requests = usage.requests_per_ticket();
    let gb_seconds = lambda_billed_ms(usage.cpu_ms_per_request()) / 1000.0 * LAMBDA_MEMORY_MB / 1024.0;
    let per_invocation = LAMBDA_PER_MILLION_REQUESTS / MILLION + gb_seconds * LAMBDA_ARM_PER_GB_SECOND;
    let (database, database_month) = match database {
        Database::DynamoDbOnDemand => {
            let units = usage.per_ticket(usage.write_units) * DYNAMODB_WRITE_PER_MILLION / MILLION
                + usage.per_ticket(usage.read_units) * DYNAMODB_READ_PER_MILLION / MILLION;
            (units, units)
        }
        Database::Rds { proxy } => {
            let hourly = rds_hourly(proxy);
            (hourly / (usage.tickets_per_second() * 3600.0), hourly * HOURS_PER_MONTH / MONTHLY_TICKETS)
        }
    };
    let thousand = |per_ticket: f64| 1000.0 * per_ticket;
    Cost {
        api_gateway: thousand(requests * HTTP_API_PER_MILLION / MILLION),
        lambda: thousand(requests * per_invocation),
        database: thousand(database),
        database_month: thousand(database_month),
    }
}

/// CPU time (user + system, every thread) a process has used, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_seconds_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn cpu_seconds_of(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces; fields 14 and 15 (utime,
    // stime) are the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some((ticks(11)? + ticks(12)?) as f64 / USER_HZ)
}

/// DynamoDB's read and write units so far, summed over `proeventa_dynamodb_capacity_units` in a
/// server's Prometheus text.
fn capacity_units(metrics: &str) -> (f64, f64) {
    let (mut read, mut write) = (0.0, 0.0);
    for line in metrics.lines().filter(|l| l.starts_with("proeventa_dynamodb_capacity_units_sum{")) {
        let value: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        if line.contains("capacity=\"read\"") {
            read += value;
        } else if line.contains("capacity=\"write\"") {
            write += value;
        }
    }
    (read, write)
}

async fn read_capacity(metrics: SocketAddr) -> Res<(f64, f64)> {
    let mut client = Client::connect(metrics).await?;
    let answer = client.send(Call::get("/metrics")).await?;
    if answer.status != 200 {
        return Err(format!("/metrics answered {}", answer.status));
    }
    Ok(capacity_units(std::str::from_utf8(&answer.body).context("/metrics is not text")?))
}

/// Sells a new event's seats through the purchase flow, `clients` at a time, and measures it:
/// the server's CPU time (`pid`) and, with `metrics` (the server's `/metrics` with capacity
/// accounting on), DynamoDB's units.
pub async fn purchase(fx: &Fixture, clients: usize, quick: bool, pid: u32, metrics: Option<SocketAddr>) -> Res<Usage> {
    let tickets = if quick { QUICK_TICKETS } else { TICKETS };
    let (event_id, seats) = crate::door::new_event(fx, "Cost night", tickets).await?;
    let units_before = match metrics {
        Some(addr) => read_capacity(addr).await?,
        None => (0.0, 0.0),
    };
    let cpu_before = cpu_seconds(pid).context("the server's CPU time (/proc)")?;
    let started = Instant::now();
    let bookings = crate::door::sell_out(fx, clients, &event_id, &seats, SEATS_PER_BOOKING).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = cpu_seconds(pid).context("the server's CPU time (/proc)")?;
    let units_after = match metrics {
        Some(addr) => read_capacity(addr).await?,
        None => (0.0, 0.0),
    };
    Ok(Usage {
        tickets: seats.len() as f64,
        requests: (bookings.len() * REQUESTS_PER_BOOKING) as f64,
        server_cpu_seconds: cpu_after - cpu_before,
        read_units: units_after.0 - units_before.0,
        write_units: units_after.1 - units_before.1,
        seconds,
    })
}

/// The cost phase's figures, and its breakdown on stderr; `priced` is how the backend is deployed
/// on AWS (SQLite is not).
pub fn record(name: &str, usage: &Usage, priced: Option<Database>, figures: &mut Figures) {
    crate::say(&format!(
        "[{name}]   {} tickets in {:.1} s ({:.0} tickets/s), {:.2} requests a ticket, {:.3} ms server CPU a request{}",
        usage.tickets,
        usage.seconds,
        usage.tickets_per_second(),
        usage.requests_per_ticket(),
        usage.cpu_ms_per_request(),
        if usage.write_units + usage.read_units > 0.0 {
            format!(
                ", {:.1} write and {:.1} read units a ticket",
                usage.write_units / usage.tickets,
                usage.read_units / usage.tickets
            )
        } else {
            String::new()
        }
    ));
    figures.set("cost_tickets_per_s", Some(usage.tickets_per_second()));
    figures.set("cost_requests_per_ticket", Some(usage.requests_per_ticket()));
    figures.set("cost_cpu_ms_per_request", Some(usage.cpu_ms_per_request()));
    figures.set("cost_lambda_billed_ms", Some(lambda_billed_ms(usage.cpu_ms_per_request())));
    if let Some(Database::DynamoDbOnDemand) = priced {
        figures.set("cost_write_units_per_ticket", Some(usage.write_units / usage.tickets.max(1.0)));
        figures.set("cost_read_units_per_ticket", Some(usage.read_units / usage.tickets.max(1.0)));
        if usage.write_units <= 0.0 {
            figures.notes.push("cost: the server reported no DynamoDB write units".to_owned());
        }
    }
    let Some(database) = priced else { return };
    let dollars = per_thousand_tickets(usage, database);
    crate::say(&format!(
        "[{name}]   US$ per 1,000 tickets (us-east-1): API Gateway {:.5}, Lambda {:.5}, {} {:.5} ({:.4} with a month over {} tickets): {:.4} ({:.4})",
        dollars.api_gateway,
        dollars.lambda,
        match database {
            Database::DynamoDbOnDemand => "DynamoDB".to_owned(),
            Database::Rds { .. } => format!("RDS {} busy all hour", RDS_INSTANCE),
        },
        dollars.database,
        dollars.database_month,
        MONTHLY_TICKETS,
        dollars.total(),
        dollars.total_month()
    ));
    figures.set("cost_usd_api_gateway", Some(dollars.api_gateway));
    figures.set("cost_usd_lambda", Some(dollars.lambda));
    figures.set("cost_usd_database", Some(dollars.database));
    figures.set("cost_usd_per_1000", Some(dollars.total()));
    figures.set("cost_usd_per_1000_month", Some(dollars.total_month()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
    }

    /// 1,000 tickets in bookings of two: 1,500 requests, 1 ms of CPU each, 23 write and 2 read
    /// units a ticket, sold in 10 s.
    fn usage() -> Usage {
        Usage {
            tickets: 1000.0,
            requests: 1500.0,
            server_cpu_seconds: 1.5,
            read_units: 2_000.0,
            write_units: 23_000.0,
            seconds: 10.0,
        }
    }

    #[test]
    fn known_units_and_prices_give_known_dollars() {
        let cost = per_thousand_tickets(&usage(), Database::DynamoDbOnDemand);
        // 1,500 API requests at $1.00 a million.
        assert!(close(cost.api_gateway, 0.0015), "{cost:?}");
        // 1 ms of a core is 1769/256 = 6.9 ms at 256 MB, billed 7 ms: 0.007 s × 0.25 GB.
        assert_eq!(lambda_billed_ms(1.0), 7.0);
        assert!(close(cost.lambda, 1500.0 * (0.20e-6 + 0.007 * 0.25 * 0.000_013_333_4)), "{cost:?}");
        // 23,000 write units at $0.625 and 2,000 read units at $0.125 a million.
        assert!(close(cost.database, 0.014_375 + 0.000_25), "{cost:?}");
        assert_eq!(cost.database, cost.database_month, "on demand has no idle hours");
        assert!(close(cost.total(), 0.0015 + cost.lambda + 0.014_625));
    }

    #[test]
    fn an_rds_instance_costs_by_the_hour() {
        // 100 tickets a second is 360,000 an hour: $0.065 / 360 per 1,000 tickets.
        let cost = per_thousand_tickets(&usage(), Database::Rds { proxy: false });
        assert!(close(cost.database, 0.065 / 360.0), "{cost:?}");
        // A month (730 h) over 100,000 tickets: $47.45 / 100.
        assert!(close(cost.database_month, 0.4745), "{cost:?}");
        // The proxy: $0.015 for each of the instance's 2 vCPUs, every hour.
        assert!(close(rds_hourly(true), 0.095));
        let proxied = per_thousand_tickets(&usage(), Database::Rds { proxy: true });
        assert!(close(proxied.database_month, 0.095 * 730.0 / 100.0), "{proxied:?}");
        assert_eq!(proxied.api_gateway, cost.api_gateway);
    }

    #[test]
    fn billed_lambda_time_is_at_least_a_millisecond() {
        assert_eq!(lambda_billed_ms(0.0), 1.0);
        assert_eq!(lambda_billed_ms(0.1), 1.0);
        assert_eq!(lambda_billed_ms(2.0), 14.0);
    }

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let stat = "4242 (proeventa (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_seconds_of(stat), Some(3.25));
        assert_eq!(cpu_seconds_of("garbage"), None);
    }

    #[test]
    fn capacity_is_summed_from_the_prometheus_text() {
        let text = "\
# TYPE proeventa_dynamodb_capacity_units histogram
proeventa_dynamodb_capacity_units_bucket{operation=\"GetItem\",capacity=\"read\",table=\"t\",le=\"1\"} 3
proeventa_dynamodb_capacity_units_sum{operation=\"GetItem\",capacity=\"read\",table=\"t\"} 3
proeventa_dynamodb_capacity_units_sum{operation=\"Query\",capacity=\"read\",table=\"t\"} 1.5
proeventa_dynamodb_capacity_units_sum{operation=\"TransactWriteItems\",capacity=\"write\",table=\"t\"} 140
proeventa_dynamodb_capacity_units_count{operation=\"TransactWriteItems\",capacity=\"write\",table=\"t\"} 10
";
        assert_eq!(capacity_units(text), (4.5, 140.0));
        assert_eq!(capacity_units(""), (0.0, 0.0));
    }
}
