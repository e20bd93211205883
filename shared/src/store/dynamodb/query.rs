//! Reading partitions of the one table: `Query` names a partition of the table or of an index (and
//! optionally a sort-key prefix or bound and a projection), read page after page past DynamoDB's
//! 1 MB per answer, whole (`query_all`), counted (`count`) or several at once (`query_partitions`),
//! each page through the store's line of requests in flight (`Slots`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::{DynamoStore, Item, Slots, Values, names_in, sdk_error, values_map};
use crate::store::{StoreError, StoreResult};

impl DynamoStore {
    /// Every item of one partition of the table or of an index, page after page.
    pub(super) async fn query_all(&self, query: Query<'_>) -> StoreResult<Vec<Item>> {
        query_all_on(&self.client, &self.slots, &self.table, query).await
    }

    /// How many items one partition of the table or of an index holds, without reading them out.
    pub(super) async fn count(&self, query: Query<'_>) -> StoreResult<u64> {
        count_on(&self.client, &self.slots, &self.table, query).await
    }

    /// Several partitions of the table at once (an event's seat-state partitions), in order.
    pub(super) async fn query_partitions(&self, pks: Vec<String>, prefix: &'static str) -> StoreResult<Vec<Item>> {
        let mut tasks = tokio::task::JoinSet::new();
        for (position, pk) in pks.into_iter().enumerate() {
            let (client, slots, table) = (self.client.clone(), self.slots.clone(), self.table.clone());
            tasks.spawn(async move {
                let items = query_all_on(&client, &slots, &table, Query::table(&pk).prefix(prefix)).await;
                (position, items)
            });
        }
        let mut parts = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (position, items) = done.map_err(|e| StoreError::Internal(format!("a query task failed: {e}")))?;
            parts.push((position, items?));
        }
        parts.sort_by_key(|(position, _)| *position);
        Ok(parts.into_iter().flat_map(|(_, items)| items).collect())
    }
}

/// Every item of one partition of the table (strongly consistent) or of an index (as fresh as the
/// index), page after page past DynamoDB's 1 MB per answer.
pub(super) async fn query_all_on(
    client: &Client,
    slots: &Slots,
    table: &str,
    query: Query<'_>,
) -> StoreResult<Vec<Item>> {
    let mut items = Vec::new();
    query_pages_on(client, slots, table, &query, None, |page| items.extend(page.items().iter().cloned())).await?;
    Ok(items)
}

/// How many items one partition of the table or of an index holds (`Select: COUNT`, page after
/// page past 1 MB): DynamoDB reads them (and charges for what it read) but sends only the count.
async fn count_on(client: &Client, slots: &Slots, table: &str, query: Query<'_>) -> StoreResult<u64> {
    let mut count: u64 = 0;
    query_pages_on(client, slots, table, &query, Some(Select::Count), |page| {
        count += u64::try_from(page.count()).unwrap_or(0);
    })
    .await?;
    Ok(count)
}

/// Queries one partition page after page, each page to `page`, until DynamoDB says there is no
/// more; `select` `None` is DynamoDB's default (the items, or the projection's attributes).
async fn query_pages_on(
    client: &Client,
    slots: &Slots,
    table: &str,
    query: &Query<'_>,
    select: Option<Select>,
    mut page: impl FnMut(QueryOutput),
) -> StoreResult<()> {
    let mut start: Option<Item> = None;
    loop {
        let (key_condition, values) = query.key_condition();
        let slot = slots.take().await?;
        let out = client
            .query()
            .table_name(table)
            .set_index_name(query.index.map(str::to_owned))
            .key_condition_expression(&key_condition)
            .set_projection_expression(query.projection.map(str::to_owned))
            .set_expression_attribute_names(names_in(&[&key_condition, query.projection.unwrap_or("")]))
            .set_expression_attribute_values(values_map(values))
            .consistent_read(query.index.is_none())
            .set_select(select.clone())
            .scan_index_forward(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        drop(slot);
        let next = out.last_evaluated_key().filter(|last| !last.is_empty()).cloned();
        page(out);
        match next {
            Some(last) => start = Some(last),
            None => return Ok(()),
        }
    }
}

/// One partition to read: of the table (`pk`/`sk`) or of an index (`gsi1pk`/`gsi1sk`...).
pub(super) struct Query<'a> {
    index: Option<&'static str>,
    pk_name: &'static str,
    sk_name: &'static str,
    pk: &'a str,
    sk_prefix: Option<&'a str>,
    sk_below: Option<&'a str>,
    /// Only these attributes (`#name, #other`) of each item, when set.
    projection: Option<&'a str>,
}

impl<'a> Query<'a> {
    pub(super) fn table(pk: &'a str) -> Self {
        Self { index: None, pk_name: "pk", sk_name: "sk", pk, sk_prefix: None, sk_below: None, projection: None }
    }

    pub(super) fn gsi1(pk: &'a str) -> Self {
        Self {
            index: Some("gsi1"),
            pk_name: "gsi1pk",
            sk_name: "gsi1sk",
            pk,
            sk_prefix: None,
            sk_below: None,
            projection: None,
        }
    }

    pub(super) fn gsi2(pk: &'a str) -> Self {
        Self {
            index: Some("gsi2"),
            pk_name: "gsi2pk",
            sk_name: "gsi2sk",
            pk,
            sk_prefix: None,
            sk_below: None,
            projection: None,
        }
    }

    /// The key condition expression and its values.
    fn key_condition(&self) -> (String, Values) {
        let key_condition = match self.sk_prefix {
            Some(_) => format!("#{} = :pk AND begins_with(#{}, :sk)", self.pk_name, self.sk_name),
            None if self.sk_below.is_some() => format!("#{} = :pk AND #{} < :sk", self.pk_name, self.sk_name),
            None => format!("#{} = :pk", self.pk_name),
        };
        let mut values: Values = vec![(":pk", AttributeValue::S(self.pk.to_owned()))];
        if let Some(sk) = self.sk_prefix.or(self.sk_below) {
            values.push((":sk", AttributeValue::S(sk.to_owned())));
        }
        (key_condition, values)
    }

    pub(super) fn prefix(mut self, prefix: &'a str) -> Self {
        self.sk_prefix = Some(prefix);
        self
    }

    pub(super) fn below(mut self, bound: &'a str) -> Self {
        self.sk_below = Some(bound);
        self
    }

    pub(super) fn only(mut self, projection: &'a str) -> Self {
        self.projection = Some(projection);
        self
    }
}
