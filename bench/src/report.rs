//! What a run shows: the metrics with the FastAPI yardstick and the targets, as one table on
//! stdout, as JSON, and as an SVG chart.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;

use crate::backends::Backend;
use crate::scenarios::{Figures, Plan};
use crate::util::{Context, Res};

/// What a target asks of a figure.
#[derive(Clone, Copy)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
    Exactly(f64),
}

impl Goal {
    fn met(self, value: f64) -> bool {
        match self {
            Goal::AtLeast(t) => value >= t,
            Goal::AtMost(t) => value <= t,
            Goal::Below(t) => value < t,
            Goal::Exactly(t) => (value - t).abs() < 1e-9,
        }
    }

    fn value(self) -> f64 {
        match self {
            Goal::AtLeast(t) | Goal::AtMost(t) | Goal::Below(t) | Goal::Exactly(t) => t,
        }
    }

    fn show(self) -> String {
        match self {
            Goal::AtLeast(t) => format!("≥ {}", number(t)),
            Goal::AtMost(t) => format!("≤ {}", number(t)),
            Goal::Below(t) => format!("< {}", number(t)),
            Goal::Exactly(t) => format!("= {}", number(t)),
        }
    }
}

/// One row of the table.
pub struct Metric {
    pub key: &'static str,
    pub label: String,
    /// The original FastAPI stack on this machine.
    pub yardstick: Option<f64>,
    pub goal: Option<Goal>,
    /// The goal is set for the SQL stores only (holds).
    pub sql_only: bool,
    /// Drawn in the chart, with this unit.
    pub chart: Option<&'static str>,
}

/// The FastAPI stack's figures on this machine, from the issue.
const FASTAPI_HOLDS_PER_S: f64 = 1_750.0;
const FASTAPI_HOLD_P99_MS: f64 = 140.0;
const FASTAPI_MAP_READS_PER_S: f64 = 240.0;
const FASTAPI_MAP_P99_MS: f64 = 800.0;
const FASTAPI_START_MS: f64 = 520.0;
const FASTAPI_RSS_MB: f64 = 180.0;
/// Issue 18's targets for one hot event on this machine class.
const HOT_HOLDS_PER_S: f64 = 10_000.0;
const HOT_P99_MS: f64 = 15.0;

pub fn metrics(plan: &Plan) -> Vec<Metric> {
    let m = |key, label: &str, yardstick, goal, sql_only, chart| Metric {
        key,
        label: label.to_owned(),
        yardstick,
        goal,
        sql_only,
        chart,
    };
    let (users, seats) = (plan.flash_users as f64, plan.flash_seats as f64);
    vec![
        m(
            "holds_per_s",
            &format!("holds/s ({} clients, distinct seats)", plan.clients),
            Some(FASTAPI_HOLDS_PER_S),
            Some(Goal::AtLeast(5.0 * FASTAPI_HOLDS_PER_S)),
            true,
            Some("holds/s"),
        ),
        m("hold_p50_ms", "  hold p50 (ms)", None, None, false, None),
        m(
            "hold_p99_ms",
            "  hold p99 (ms)",
            Some(FASTAPI_HOLD_P99_MS),
            Some(Goal::AtMost(FASTAPI_HOLD_P99_MS / 5.0)),
            true,
            Some("hold p99, ms"),
        ),
        m("hold_unexpected", "  hold answers other than 201", None, Some(Goal::Exactly(0.0)), false, None),
        m(
            "hot_holds_per_s",
            &format!("holds/s on one hot event ({} seats, {} clients)", number(plan.hot_seats as f64), plan.clients),
            None,
            Some(Goal::AtLeast(HOT_HOLDS_PER_S)),
            true,
            Some("hot-event holds/s"),
        ),
        m("hot_hold_p50_ms", "  hot-event hold p50 (ms)", None, None, false, None),
        m("hot_hold_p99_ms", "  hot-event hold p99 (ms)", None, Some(Goal::AtMost(HOT_P99_MS)), true, None),
        m("hot_unexpected", "  hot-event answers other than 201", None, Some(Goal::Exactly(0.0)), false, None),
        m(
            "best_holds_per_s",
            &format!("best available: holds/s ({} clients, 2-4 seats each)", plan.clients),
            None,
            None,
            false,
            None,
        ),
        m("best_seats_per_s", "  best-available seats/s", None, None, false, None),
        m("best_p99_ms", "  best-available hold p99 (ms)", None, None, false, None),
        m("best_outrun", "  409s after 8 blocks won by others first", None, None, false, None),
        m("best_split", "  groups not in one row's consecutive seats", None, Some(Goal::Exactly(0.0)), false, None),
        m("best_oversold", "  seats oversold (store's reservations)", None, Some(Goal::Exactly(0.0)), false, None),
        m("best_mismatch", "  seats in 201 answers ≠ reservations listed", None, Some(Goal::Exactly(0.0)), false, None),
        m("ceiling_holds_per_s", "store ceiling: holds/s, no HTTP (64 callers)", None, None, false, None),
        m("ceiling_p99_ms", "  store ceiling hold p99 (ms)", None, None, false, None),
        m(
            "http_of_ceiling_pct",
            "  hot-event HTTP figure, % of the ceiling",
            None,
            Some(Goal::AtLeast(50.0)),
            true,
            None,
        ),
        m(
            "fresh_holds_per_s",
            &format!("fresh store: holds/s in its first {} s (analyzed)", plan.fresh_duration.as_secs()),
            None,
            None,
            false,
            None,
        ),
        m("fresh_hold_p99_ms", "  fresh-store hold p99 (ms)", None, None, false, None),
        m(
            "fresh_of_steady_pct",
            "  fresh store, % of the hot-event figure",
            None,
            Some(Goal::AtLeast(80.0)),
            true,
            None,
        ),
        m(
            "sellout_sold",
            &format!(
                "sell-out: seats sold ({} seats, {} buyers over {} s)",
                number(plan.hot_seats as f64),
                number(plan.sellout_buyers as f64),
                plan.sellout_arrival.as_secs()
            ),
            None,
            Some(Goal::Exactly(plan.hot_seats as f64)),
            false,
            None,
        ),
        m("sellout_ms", "  sold out after (ms)", None, None, false, None),
        m("sellout_holds_per_s", "  holds/s until sold out", None, None, false, None),
        m("sellout_p99_ms", "  sell-out hold p99 (ms)", None, None, false, None),
        m("sellout_oversold", "  seats oversold (store's reservations)", None, Some(Goal::Exactly(0.0)), false, None),
        m("sellout_mismatch", "  201 answers ≠ reservations listed", None, Some(Goal::Exactly(0.0)), false, None),
        m(
            "queue_sold",
            &format!(
                "waiting room: seats sold ({} seats, {} buyers joined before the opening)",
                number(plan.queue_seats as f64),
                number(plan.queue_buyers as f64)
            ),
            None,
            Some(Goal::Exactly(plan.queue_seats as f64)),
            false,
            None,
        ),
        m("queue_joins_per_s", "  queue joins/s", None, None, false, None),
        m("queue_polls_per_s", "  status polls/s (with the ETag)", None, Some(Goal::AtLeast(20_000.0)), false, None),
        m("queue_poll_p99_ms", "  status poll p99 (ms)", None, None, false, None),
        m("queue_sellout_ms", "  opening to sold out (ms)", None, None, false, None),
        m("queue_oversold", "  seats oversold (store's reservations)", None, Some(Goal::Exactly(0.0)), false, None),
        m(
            "queue_max_active",
            "  most buyers active at once",
            None,
            Some(Goal::AtMost(f64::from(crate::queue::MAX_ACTIVE_BUYERS))),
            false,
            None,
        ),
        m(
            "flash_sold",
            &format!("flash sale: seats sold ({} buyers, {} seats)", plan.flash_users, plan.flash_seats),
            None,
            Some(Goal::Exactly(seats)),
            false,
            None,
        ),
        m("flash_oversold", "  seats oversold (API's reservations)", Some(0.0), Some(Goal::Exactly(0.0)), false, None),
        m("flash_mismatch", "  201 answers ≠ seats held (difference)", None, Some(Goal::Exactly(0.0)), false, None),
        m(
            "flash_losers_409",
            "  buyers turned away with 409",
            None,
            Some(Goal::Exactly((users - seats).max(0.0))),
            false,
            None,
        ),
        m("flash_p99_ms", "  flash-sale hold p99 (ms)", None, None, false, None),
        m("flash_ms", "  flash sale over in (ms)", None, None, false, None),
        m(
            "map_full_per_s",
            "seat-map reads/s, full body (2,000 seats)",
            Some(FASTAPI_MAP_READS_PER_S),
            Some(Goal::AtLeast(10.0 * FASTAPI_MAP_READS_PER_S)),
            false,
            Some("full seat maps/s"),
        ),
        m("map_full_p99_ms", "  full read p99 (ms)", Some(FASTAPI_MAP_P99_MS), None, false, None),
        m(
            "map_304_per_s",
            "seat-map revalidations/s (304)",
            None,
            Some(Goal::AtLeast(20_000.0)),
            false,
            Some("revalidations/s"),
        ),
        m("map_304_p99_ms", "  revalidation p99 (ms)", None, None, false, None),
        m(
            "states_gzip_kb",
            &format!("live seat states, {} seats half held, gzipped (KB)", number(plan.hot_seats as f64)),
            None,
            Some(Goal::Below(8.0)),
            false,
            None,
        ),
        m("states_plain_kb", "  not compressed (KB)", None, None, false, None),
        m("states_304_per_s", "  revalidations/s (304, gzip)", None, Some(Goal::AtLeast(20_000.0)), false, None),
        m("states_304_p99_ms", "  revalidation p99 (ms)", None, None, false, None),
        m("layout_gzip_kb", "  its venue's static layout, gzipped (KB; read once)", None, None, false, None),
        m("layout_plain_kb", "  not compressed (KB)", None, None, false, None),
        m(
            "login_per_s",
            &format!("logins/s ({} clients, {} accounts)", plan.clients, plan.login_users),
            None,
            None,
            false,
            None,
        ),
        m("login_p99_ms", "  login p99 (ms)", None, None, false, None),
        m(
            "scans_per_s",
            &format!(
                "door scans/s ({} clients, {} tickets each scanned twice)",
                plan.clients,
                number(plan.door_tickets as f64)
            ),
            None,
            Some(Goal::AtLeast(5_000.0)),
            true,
            Some("scans/s"),
        ),
        m("scan_p99_ms", "  scan p99 (ms)", None, Some(Goal::Below(20.0)), true, None),
        m("scan_admitted_twice", "  tickets admitted twice", Some(0.0), Some(Goal::Exactly(0.0)), false, None),
        m(
            "manifest_gzip_kb",
            &format!("door manifest, {} tickets, gzipped (KB)", number(plan.manifest_tickets as f64)),
            None,
            Some(Goal::Below(1024.0)),
            false,
            None,
        ),
        m("manifest_kb", "  as sent (KB)", None, None, false, None),
        m("manifest_ms", "  answered in (ms, best of 3)", None, None, false, None),
        m(
            "cost_usd_per_1000",
            &format!(
                "cost: US$ per 1,000 tickets on AWS, us-east-1 (bookings of {}; PostgreSQL: RDS busy all hour)",
                crate::cost::SEATS_PER_BOOKING
            ),
            None,
            None,
            false,
            None,
        ),
        m(
            "cost_usd_per_1000_month",
            &format!("  the same, RDS's month over {} tickets", number(crate::cost::MONTHLY_TICKETS)),
            None,
            None,
            false,
            None,
        ),
        m("cost_usd_api_gateway", "  API Gateway HTTP API (US$ per 1,000 tickets)", None, None, false, None),
        m("cost_usd_lambda", "  Lambda arm64, 256 MB (US$ per 1,000 tickets)", None, None, false, None),
        m("cost_usd_database", "  DynamoDB on demand / RDS busy (US$ per 1,000 tickets)", None, None, false, None),
        m("cost_requests_per_ticket", "  API requests a ticket (reserve, checkout, confirm)", None, None, false, None),
        m("cost_write_units_per_ticket", "  DynamoDB write request units a ticket", None, None, false, None),
        m("cost_read_units_per_ticket", "  DynamoDB read request units a ticket", None, None, false, None),
        m("cost_cpu_ms_per_request", "  server CPU a request (ms, the Lambda stand-in)", None, None, false, None),
        m("cost_lambda_billed_ms", "  Lambda billed a request at 256 MB (ms)", None, None, false, None),
        m("cost_tickets_per_s", "  purchase flow, tickets/s", None, None, false, None),
        m("search_p99_ms", "search p99 (ms, 10,000 events; 1,000 with --quick)", None, None, false, None),
        m("search_p50_ms", "  search p50 (ms)", None, None, false, None),
        m("search_count", "  searches measured", None, None, false, None),
        m("search_create_s", "  events created through the API in (s)", None, None, false, None),
        m(
            "report_p99_ms",
            "event sales report p99 (ms, 20,000 seats, a tenth sold, a tenth held)",
            None,
            Some(Goal::Below(100.0)),
            false,
            None,
        ),
        m("report_p50_ms", "  event sales report p50 (ms)", None, None, false, None),
        m(
            "start_ms",
            &format!("start to first /health 200 (ms, median of {})", plan.startup_runs),
            Some(FASTAPI_START_MS),
            Some(Goal::Below(20.0)),
            false,
            Some("start, ms"),
        ),
        m(
            "rss_max_mb",
            "resident memory under hold load, max (MB)",
            Some(FASTAPI_RSS_MB),
            Some(Goal::Below(40.0)),
            false,
            Some("resident, MB"),
        ),
        m("rss_seeded_mb", "  resident after seeding, before the holds (MB)", None, None, false, None),
        m("rss_after_mb", "  resident after the hold run (MB)", None, None, false, None),
        m("hwm_mb", "  peak resident, VmHWM at the end (MB)", None, None, false, None),
        m("fresh_map_ms", "fresh rows: first seat-map read (ms)", None, None, false, None),
        m("steady_map_ms", "  steady: first read of an untouched event (ms)", None, None, false, None),
        m("fresh_hold_ms", "  fresh rows: first hold (ms)", None, None, false, None),
        m("fresh_holds_max_ms", "  fresh rows: slowest of the first 10 holds (ms)", None, None, false, None),
        m("steady_hold_ms", "  steady: one hold at a time (ms, median)", None, None, false, None),
    ]
}

/// One backend's outcome: figures, or why it could not be measured.
pub struct Outcome {
    pub backend: Backend,
    pub result: Result<Figures, String>,
    pub seconds: f64,
}

fn applies(metric: &Metric, backend: Backend) -> Option<Goal> {
    metric.goal.filter(|_| !metric.sql_only || backend.holds_are_judged())
}

/// `Some(true|false)` when the figure is judged.
fn verdict(metric: &Metric, backend: Backend, value: Option<f64>) -> Option<bool> {
    Some(applies(metric, backend)?.met(value?))
}

/// A figure with thousands separators and sensible precision.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.abs() >= 100.0 {
        let whole = v.round() as i64;
        let digits = whole.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if whole < 0 { format!("-{out}") } else { out }
    } else if v.abs() >= 10.0 || v == v.trunc() {
        format!("{v:.1}").trim_end_matches(".0").to_owned()
    } else if v.abs() < 0.1 {
        // Three significant digits: a few cents (the cost rows) would otherwise read as 0.01.
        let decimals = (2 - v.abs().log10().floor() as i32).max(2) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2}")
    }
}

/// The table printed at the end: one row per metric, one column pair (figure, met) per backend.
pub fn table(plan: &Plan, outcomes: &[Outcome]) -> String {
    let metrics = metrics(plan);
    let mut header = vec!["metric".to_owned(), "FastAPI".to_owned(), "target".to_owned()];
    for o in outcomes {
        header.push(o.backend.name().to_owned());
        header.push("met?".to_owned());
    }
    let mut rows = vec![header];
    for metric in &metrics {
        let mut row = vec![
            metric.label.clone(),
            metric.yardstick.map(number).unwrap_or_else(|| "–".into()),
            metric
                .goal
                .map(|g| format!("{}{}", g.show(), if metric.sql_only { " (SQL)" } else { "" }))
                .unwrap_or_default(),
        ];
        for o in outcomes {
            match &o.result {
                Ok(figures) => {
                    let value = figures.values.get(metric.key).copied();
                    row.push(value.map(number).unwrap_or_else(|| "–".into()));
                    row.push(match verdict(metric, o.backend, value) {
                        Some(true) => "met".into(),
                        Some(false) => "MISSED".into(),
                        None => String::new(),
                    });
                }
                Err(_) => {
                    row.push("n/a".into());
                    row.push(String::new());
                }
            }
        }
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(
                |(c, cell)| {
                    if c == 0 { format!("{cell:<w$}", w = widths[c]) } else { format!("{cell:>w$}", w = widths[c]) }
                },
            )
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 2 * (columns - 1)));
        }
    }
    for o in outcomes {
        match &o.result {
            Err(reason) => {
                let _ = writeln!(out, "{}: {reason}", o.backend.name());
            }
            Ok(figures) => {
                for note in &figures.notes {
                    let _ = writeln!(out, "{}: {note}", o.backend.name());
                }
            }
        }
    }
    out
}

/// The whole run as JSON: machine, plan, yardstick and targets, and each backend's figures.
pub fn json(plan: &Plan, outcomes: &[Outcome], machine: &serde_json::Value) -> serde_json::Value {
    let metrics = metrics(plan);
    let described: Vec<serde_json::Value> = metrics
        .iter()
        .map(|m| {
            serde_json::json!({
                "key": m.key,
                "label": m.label.trim(),
                "fastapi": m.yardstick,
                "target": m.goal.map(|g| g.show()),
                "target_for": if m.goal.is_none() { None } else if m.sql_only { Some("sqlite, postgres") } else { Some("every backend") },
            })
        })
        .collect();
    let mut backends = serde_json::Map::new();
    for o in outcomes {
        let entry = match &o.result {
            Ok(figures) => {
                let met: serde_json::Map<String, serde_json::Value> = metrics
                    .iter()
                    .filter_map(|m| {
                        verdict(m, o.backend, figures.values.get(m.key).copied()).map(|v| (m.key.to_owned(), v.into()))
                    })
                    .collect();
                serde_json::json!({
                    "available": true,
                    "figures": figures.values,
                    "met": met,
                    "notes": figures.notes,
                    "seconds": o.seconds,
                })
            }
            Err(reason) => serde_json::json!({"available": false, "reason": reason, "seconds": o.seconds}),
        };
        backends.insert(o.backend.name().to_owned(), entry);
    }
    serde_json::json!({
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "machine": machine,
        "plan": format!("{plan:?}"),
        "metrics": described,
        "backends": backends,
    })
}

const GREY: RGBColor = RGBColor(150, 150, 150);
const PALETTE: [RGBColor; 3] = [RGBColor(31, 119, 180), RGBColor(44, 160, 44), RGBColor(255, 127, 14)];

/// Grouped bars: one panel per charted metric, the FastAPI yardstick in grey, one bar per
/// measured backend, the target as a red line.
pub fn chart(plan: &Plan, outcomes: &[Outcome], path: &Path, subtitle: &str) -> Res<()> {
    let metrics = metrics(plan);
    let charted: Vec<&Metric> = metrics.iter().filter(|m| m.chart.is_some()).collect();
    let root = SVGBackend::new(path, (1200, 760)).into_drawing_area();
    root.fill(&WHITE).context("chart")?;
    let root = root.titled(&format!("ProEventa · make bench · {subtitle}"), ("sans-serif", 20)).context("chart")?;
    let panels = root.split_evenly((2, charted.len().div_ceil(2)));
    for (area, metric) in panels.iter().zip(charted) {
        let mut bars: Vec<(String, f64, RGBColor)> = Vec::new();
        if let Some(y) = metric.yardstick {
            bars.push(("FastAPI".into(), y, GREY));
        }
        for (i, o) in outcomes.iter().enumerate() {
            if let Ok(figures) = &o.result
                && let Some(v) = figures.values.get(metric.key)
            {
                bars.push((o.backend.name().into(), *v, PALETTE[i % PALETTE.len()]));
            }
        }
        let target = metric.goal.map(Goal::value);
        let top = bars.iter().map(|b| b.1).chain(target).fold(1.0, f64::max) * 1.35;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        let caption = metric.chart.unwrap_or(metric.key);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(60)
            // A segmented range 0..m has m + 1 slots: one per bar (at least two, so it is never empty).
            .build_cartesian_2d((0..bars.len().max(2) - 1).into_segmented(), 0f64..top)
            .context("chart")?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| number(*v))
            .draw()
            .context("chart")?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, color))| {
                let mut bar =
                    Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)], color.filled());
                bar.set_margin(0, 0, 10, 10);
                bar
            }))
            .context("chart")?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, _))| {
                Text::new(number(*v), (SegmentValue::CenterOf(i), *v + top * 0.06), ("sans-serif", 13).into_font())
            }))
            .context("chart")?;
        if let Some(goal) = metric.goal {
            let t = goal.value();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(SegmentValue::Exact(0), t), (SegmentValue::Exact(bars.len().max(2)), t)],
                    RED.stroke_width(2),
                )))
                .context("chart")?
                .label(format!("target {}", goal.show()))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .draw()
                .context("chart")?;
        }
    }
    root.present().context("writing the chart")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(12345.6), "12,346");
        assert_eq!(number(140.0), "140");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(0.016_125), "0.0161");
        assert_eq!(number(0.000_180_55), "0.000181");
        assert_eq!(number(0.05), "0.0500");
    }

    #[test]
    fn goals_judge() {
        assert!(Goal::AtLeast(10.0).met(10.0));
        assert!(!Goal::Below(20.0).met(20.0));
        assert!(Goal::Exactly(0.0).met(0.0));
    }
}
