//! Capacity accounting: what DynamoDB says each request cost, in read and write request units.
//!
//! With `StoreSettings::dynamodb_consumed_capacity` (`DYNAMODB_CONSUMED_CAPACITY=1`) the store's
//! client carries one interceptor, `CapacityMeter`, which asks every request it sends for
//! `ReturnConsumedCapacity: TOTAL` and adds up the units each answer reports, per table: into
//! the process's metrics (`proeventa_dynamodb_capacity_units`, one value per answer, labelled by
//! operation, read or write, and table) and into totals the store hands out
//! (`DynamoStore::consumed_capacity`). One interceptor rather than a field on every request
//! builder: a new call in `store/dynamodb/` is counted without anyone remembering to ask.
//! Without the setting the interceptor is not installed: nothing is asked, nothing is counted,
//! and the requests are exactly as before.
//!
//! What it cannot see: DynamoDB bills a write whose condition refused it (and a canceled
//! transaction's items), but an error answer carries no `ConsumedCapacity`, so those units are
//! missing from the totals. With `TOTAL` the units of an index are included in its table's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput},
    delete_item::{DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    scan::{ScanInput, ScanOutput},
    transact_get_items::{TransactGetItemsInput, TransactGetItemsOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

/// Read and write request units, as DynamoDB reports them (halves for eventually consistent
/// reads, doubles for transactions).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CapacityUnits {
    pub read: f64,
    pub write: f64,
}

impl CapacityUnits {
    fn add(&mut self, other: CapacityUnits) {
        self.read += other.read;
        self.write += other.write;
    }
}

/// Which kind of units an operation consumes when DynamoDB reports only `CapacityUnits`: a
/// write's condition and the item it brings back are part of the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

/// Asks every request for its consumed capacity and adds up the answers (see the module's docs).
/// Clones share their totals.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter {
    by_table: Arc<Mutex<BTreeMap<String, CapacityUnits>>>,
}

impl CapacityMeter {
    /// The units counted so far, over every table.
    pub fn total(&self) -> CapacityUnits {
        let mut total = CapacityUnits::default();
        for units in self.lock().values() {
            total.add(*units);
        }
        total
    }

    /// The units counted so far, per table as DynamoDB named it.
    pub fn by_table(&self) -> BTreeMap<String, CapacityUnits> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CapacityUnits>> {
        self.by_table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, operation: &'static str, kind: Kind, reports: &[ConsumedCapacity]) {
        let mut by_table = self.lock();
        for report in reports {
            let table = report.table_name().unwrap_or("unnamed");
            let units = units_of(report, kind);
            by_table.entry(table.to_owned()).or_default().add(units);
            for (capacity, value) in [("read", units.read), ("write", units.write)] {
                if value > 0.0 {
                    crate::metrics::dynamodb_capacity(operation, capacity, table, value);
                }
            }
        }
    }
}

/// A report's units: its read and write units when DynamoDB splits them, else its
/// `CapacityUnits` counted as the operation's kind (never both, which would count them twice).
fn units_of(report: &ConsumedCapacity, kind: Kind) -> CapacityUnits {
    match (report.read_capacity_units(), report.write_capacity_units()) {
        (None, None) => {
            let units = report.capacity_units().unwrap_or(0.0);
            match kind {
                Kind::Read => CapacityUnits { read: units, write: 0.0 },
                Kind::Write => CapacityUnits { read: 0.0, write: units },
            }
        }
        (read, write) => CapacityUnits { read: read.unwrap_or(0.0), write: write.unwrap_or(0.0) },
    }
}

/// The operations the store sends that can report their capacity: for each, its input, its
/// output, its name and the kind of units it consumes. Another one needs only a line here.
macro_rules! each_operation {
    ($apply:ident!($($args:tt)*)) => {
        $apply!($($args)*
            (GetItemInput, GetItemOutput, "GetItem", Kind::Read, one),
            (BatchGetItemInput, BatchGetItemOutput, "BatchGetItem", Kind::Read, many),
            (QueryInput, QueryOutput, "Query", Kind::Read, one),
            (ScanInput, ScanOutput, "Scan", Kind::Read, one),
            (TransactGetItemsInput, TransactGetItemsOutput, "TransactGetItems", Kind::Read, many),
            (PutItemInput, PutItemOutput, "PutItem", Kind::Write, one),
            (UpdateItemInput, UpdateItemOutput, "UpdateItem", Kind::Write, one),
            (DeleteItemInput, DeleteItemOutput, "DeleteItem", Kind::Write, one),
            (BatchWriteItemInput, BatchWriteItemOutput, "BatchWriteItem", Kind::Write, many),
            (TransactWriteItemsInput, TransactWriteItemsOutput, "TransactWriteItems", Kind::Write, many),
        )
    };
}

macro_rules! ask_total {
    ($input:ident; $(($in:ty, $out:ty, $name:literal, $kind:expr, $shape:ident),)*) => {
        $(if let Some(request) = $input.downcast_mut::<$in>() {
            if request.return_consumed_capacity.is_none() {
                request.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
            }
            return Ok(());
        })*
    };
}

macro_rules! read_reports {
    ($output:ident, $meter:ident; $(($in:ty, $out:ty, $name:literal, $kind:expr, $shape:ident),)*) => {
        $(if let Some(answer) = $output.downcast_ref::<$out>() {
            $meter.record($name, $kind, read_reports!(@$shape answer));
            return Ok(());
        })*
    };
    (@one $answer:ident) => { $answer.consumed_capacity.as_slice() };
    (@many $answer:ident) => { $answer.consumed_capacity.as_deref().unwrap_or_default() };
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        each_operation!(ask_total!(input;));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Ok(output), meter) = (context.output_or_error(), self) else { return Ok(()) };
        each_operation!(read_reports!(output, meter;));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(total: Option<f64>, read: Option<f64>, write: Option<f64>) -> ConsumedCapacity {
        ConsumedCapacity::builder()
            .table_name("t")
            .set_capacity_units(total)
            .set_read_capacity_units(read)
            .set_write_capacity_units(write)
            .build()
    }

    #[test]
    fn units_are_read_or_write_by_what_dynamodb_says_else_by_the_operation() {
        assert_eq!(units_of(&report(Some(6.0), None, None), Kind::Write), CapacityUnits { read: 0.0, write: 6.0 });
        assert_eq!(units_of(&report(Some(0.5), None, None), Kind::Read), CapacityUnits { read: 0.5, write: 0.0 });
        // Split by DynamoDB: its split, and the total not counted again.
        assert_eq!(
            units_of(&report(Some(5.0), Some(1.0), Some(4.0)), Kind::Write),
            CapacityUnits { read: 1.0, write: 4.0 }
        );
        assert_eq!(units_of(&report(None, None, None), Kind::Read), CapacityUnits::default());
    }

    #[test]
    fn the_meter_adds_up_per_table() {
        let meter = CapacityMeter::default();
        meter.record("TransactWriteItems", Kind::Write, &[report(Some(14.0), None, None)]);
        meter.record("GetItem", Kind::Read, &[report(Some(1.0), None, None)]);
        meter.record(
            "BatchGetItem",
            Kind::Read,
            &[report(Some(2.0), None, None), ConsumedCapacity::builder().table_name("u").capacity_units(0.5).build()],
        );
        assert_eq!(meter.total(), CapacityUnits { read: 3.5, write: 14.0 });
        assert_eq!(meter.by_table()["t"], CapacityUnits { read: 3.0, write: 14.0 });
        assert_eq!(meter.by_table()["u"], CapacityUnits { read: 0.5, write: 0.0 });
    }
}
