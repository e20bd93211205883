//! The metrics of a Lambda function as CloudWatch Embedded Metric Format log lines: the same
//! vocabulary `proeventa serve` shows in Prometheus text (`proeventa_core::metrics`), recorded in
//! memory during an invocation and written to stdout as JSON after it (`flush`). CloudWatch Logs
//! turns each line into metrics: no API call, no agent, nothing added to a request's latency but a
//! line of output.
//!
//! One line per set of labels: its `_aws.CloudWatchMetrics` directive names the namespace
//! (`METRICS_NAMESPACE`, default `ProEventa`; the template sets one per stack), the dimensions
//! (`Function`, then the labels) and each metric with its unit; the line's top-level members give
//! the dimensions' values and the metrics' values. A counter is its increase since the last flush,
//! a histogram the list of its values (at most 100 per line, as CloudWatch takes them), a gauge its
//! last value. See
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//!
//! Several invocations in flight in one execution environment share the recorder; a flush writes
//! whatever was recorded up to then, so every value is written once, by whichever flush comes first.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use serde_json::{Map, Value, json};

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "ProEventa";

/// CloudWatch takes at most 100 values of one metric in one line.
const MAX_VALUES_PER_LINE: usize = 100;

/// Where the lines go: stdout in a function, a buffer in a test.
pub type Sink = Box<dyn Fn(&str) + Send + Sync>;

/// A series: a metric's labels, sorted, as `(name, value)`.
type Labels = Vec<(String, String)>;

#[derive(Debug, Clone)]
enum Values {
    Count(u64),
    Gauge(f64),
    Samples(Vec<f64>),
}

#[derive(Default)]
struct Recorded {
    /// Labels → metric name → what was recorded since the last flush.
    series: BTreeMap<Labels, BTreeMap<String, Values>>,
}

struct Inner {
    function: String,
    namespace: String,
    units: Mutex<HashMap<String, Unit>>,
    recorded: Mutex<Recorded>,
    sink: Sink,
}

/// The recorder a function installs: what the metrics calls record, kept until the next flush.
#[derive(Clone)]
pub struct EmfRecorder {
    inner: Arc<Inner>,
}

static INSTALLED: OnceLock<EmfRecorder> = OnceLock::new();

/// Installs the EMF recorder for `function` (writing to stdout), once per process; later calls
/// keep the first. The namespace is `METRICS_NAMESPACE`'s, or `DEFAULT_NAMESPACE`.
pub fn install(function: &str) {
    let namespace = std::env::var("METRICS_NAMESPACE").ok().filter(|n| !n.trim().is_empty());
    let sink: Sink = Box::new(|line| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    });
    install_with(function, namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE), sink);
}

/// Installs the EMF recorder with its namespace and sink (a test's buffer); once per process.
pub fn install_with(function: &str, namespace: &str, sink: Sink) {
    let recorder = EmfRecorder {
        inner: Arc::new(Inner {
            function: function.to_owned(),
            namespace: namespace.to_owned(),
            units: Mutex::default(),
            recorded: Mutex::default(),
            sink,
        }),
    };
    if INSTALLED.set(recorder.clone()).is_ok() {
        // The OnceLock makes this the only install, so the global recorder is still free.
        let _ = metrics::set_global_recorder(recorder);
        proeventa_core::metrics::describe();
    }
}

/// Writes what was recorded since the last flush as EMF lines, if a recorder is installed.
pub fn flush() {
    if let Some(recorder) = INSTALLED.get() {
        for line in recorder.lines(now_ms()) {
            (recorder.inner.sink)(&line);
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

impl EmfRecorder {
    /// Takes what was recorded and renders it as EMF lines stamped `timestamp_ms`.
    fn lines(&self, timestamp_ms: u64) -> Vec<String> {
        let recorded = std::mem::take(&mut *self.inner.recorded.lock().unwrap_or_else(PoisonError::into_inner));
        let units = self.inner.units.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut lines = Vec::new();
        for (labels, metrics) in recorded.series {
            // Histograms with more values than a line takes go out over several lines.
            let mut rest = metrics;
            while !rest.is_empty() {
                let mut now = Map::new();
                let mut later = BTreeMap::new();
                for (name, values) in rest {
                    let value = match values {
                        Values::Count(0) => continue,
                        Values::Count(n) => json!(n),
                        Values::Gauge(v) => json!(v),
                        Values::Samples(mut samples) => {
                            if samples.len() > MAX_VALUES_PER_LINE {
                                later.insert(name.clone(), Values::Samples(samples.split_off(MAX_VALUES_PER_LINE)));
                            }
                            json!(samples)
                        }
                    };
                    now.insert(name, value);
                }
                if !now.is_empty() {
                    lines.push(self.line(timestamp_ms, &labels, now, &units));
                }
                rest = later;
            }
        }
        lines
    }

    fn line(
        &self,
        timestamp_ms: u64,
        labels: &Labels,
        values: Map<String, Value>,
        units: &HashMap<String, Unit>,
    ) -> String {
        let mut dimensions = vec![Value::from("Function")];
        dimensions.extend(labels.iter().map(|(name, _)| Value::from(name.as_str())));
        let metrics: Vec<Value> =
            values.keys().map(|name| json!({ "Name": name, "Unit": cloudwatch_unit(units.get(name)) })).collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.inner.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": metrics,
                }],
            }),
        );
        document.insert("Function".into(), Value::from(self.inner.function.as_str()));
        for (name, value) in labels {
            document.insert(name.clone(), Value::from(value.as_str()));
        }
        document.extend(values);
        Value::Object(document).to_string()
    }

    fn series(&self, key: &Key) -> Arc<Series> {
        let mut labels: Labels = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
        labels.sort();
        Arc::new(Series { name: key.name().to_owned(), labels, inner: Arc::clone(&self.inner) })
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        if let Some(unit) = unit {
            self.inner.units.lock().unwrap_or_else(PoisonError::into_inner).insert(key.as_str().to_owned(), unit);
        }
    }
}

/// CloudWatch's name for a unit; a metric described without one is `None` (a plain number).
fn cloudwatch_unit(unit: Option<&Unit>) -> &'static str {
    match unit {
        Some(Unit::Count) => "Count",
        Some(Unit::Seconds) => "Seconds",
        Some(Unit::Milliseconds) => "Milliseconds",
        Some(Unit::Microseconds) => "Microseconds",
        Some(Unit::Bytes) => "Bytes",
        Some(Unit::Percent) => "Percent",
        _ => "None",
    }
}

/// One series' handle, as the `metrics` macros get it: each record lands in the recorder's map.
struct Series {
    name: String,
    labels: Labels,
    inner: Arc<Inner>,
}

impl Series {
    fn update(&self, change: impl FnOnce(Option<Values>) -> Values) {
        let mut recorded = self.inner.recorded.lock().unwrap_or_else(PoisonError::into_inner);
        let metrics = recorded.series.entry(self.labels.clone()).or_default();
        let value = change(metrics.remove(&self.name));
        metrics.insert(self.name.clone(), value);
    }
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        self.update(|old| match old {
            Some(Values::Count(n)) => Values::Count(n.saturating_add(value)),
            _ => Values::Count(value),
        });
    }

    fn absolute(&self, value: u64) {
        self.update(|_| Values::Count(value));
    }
}

impl GaugeFn for Series {
    fn increment(&self, value: f64) {
        self.update(|old| match old {
            Some(Values::Gauge(v)) => Values::Gauge(v + value),
            _ => Values::Gauge(value),
        });
    }

    fn decrement(&self, value: f64) {
        GaugeFn::increment(self, -value);
    }

    fn set(&self, value: f64) {
        self.update(|_| Values::Gauge(value));
    }
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        self.update(|old| match old {
            Some(Values::Samples(mut samples)) => {
                samples.push(value);
                Values::Samples(samples)
            }
            _ => Values::Samples(vec![value]),
        });
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.series(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.series(key))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.series(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> EmfRecorder {
        EmfRecorder {
            inner: Arc::new(Inner {
                function: "api-test".into(),
                namespace: "Test".into(),
                units: Mutex::default(),
                recorded: Mutex::default(),
                sink: Box::new(|_| {}),
            }),
        }
    }

    #[test]
    fn counters_add_up_and_a_flush_empties_the_recorder() {
        let recorder = recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("c_total", Unit::Count, "c");
            metrics::counter!("c_total", "kind" => "a").increment(2);
            metrics::counter!("c_total", "kind" => "a").increment(3);
            metrics::counter!("c_total", "kind" => "b").increment(1);
        });
        let lines: Vec<Value> = recorder.lines(7).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "one line per label set: {lines:?}");
        assert_eq!(lines[0]["kind"], "a");
        assert_eq!(lines[0]["c_total"], 5);
        assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0], json!({"Name": "c_total", "Unit": "Count"}));
        assert_eq!(lines[1]["c_total"], 1);
        assert!(recorder.lines(8).is_empty(), "written once");
    }

    #[test]
    fn a_gauge_writes_its_last_value_once_under_its_labels() {
        let recorder = recorder();
        metrics::with_local_recorder(&recorder, || {
            proeventa_core::metrics::describe();
            let depth = proeventa_core::store::OutboxDepth { pending: 3, failed: 1 };
            proeventa_core::metrics::outbox_depth(depth);
            proeventa_core::metrics::outbox_depth(proeventa_core::store::OutboxDepth { pending: 2, ..depth });
        });
        let lines: Vec<Value> = recorder.lines(7).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let depth = proeventa_core::metrics::OUTBOX_DEPTH;
        let by_status: BTreeMap<&str, &Value> =
            lines.iter().map(|line| (line["status"].as_str().unwrap(), &line[depth])).collect();
        assert_eq!(by_status, BTreeMap::from([("failed", &json!(1.0)), ("pending", &json!(2.0))]), "{lines:?}");
        let directive = &lines[0]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Function", "status"]]));
        assert_eq!(directive["Metrics"][0], json!({"Name": depth, "Unit": "Count"}));
        assert!(recorder.lines(8).is_empty(), "written once, until the next round sets it");
    }

    #[test]
    fn a_histogram_with_more_values_than_a_line_takes_spans_lines() {
        let recorder = recorder();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..250 {
                metrics::histogram!("h_seconds").record(f64::from(i));
            }
        });
        let lines: Vec<Value> = recorder.lines(7).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let sizes: Vec<usize> = lines.iter().map(|l| l["h_seconds"].as_array().unwrap().len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"]]));
    }
}
