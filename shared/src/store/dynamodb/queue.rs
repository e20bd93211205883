//! The waiting room's queue on DynamoDB, under one partition per event (`QUEUE#<event>`): the
//! state item (`STATE`), one place per account (`USER#<user>`), one item per position given out
//! (`POS#<position>`) and one per active buyer (`ACTIVE#<user>`); see `docs/dynamodb.md`.
//!
//! Every promise is a conditional write:
//! - one place per account: the place is put with `attribute_not_exists`;
//! - positions: a joiner before the opening puts its place in a transaction that checks the state
//!   is not drawn; the draw flips `drawn` once (conditioned on it being false), which freezes that
//!   set, and then gives out `1..=n` in the order of the draws, each position's `POS#` item put
//!   with a condition (idempotent, so any process may finish a draw another one started); a later
//!   joiner takes the state's counter (`ADD next`, conditioned on the draw being placed) and puts
//!   its `POS#` item, which can exist only once;
//! - admissions: each is one transaction that moves the frontier (`through = :prev`) and adds one
//!   to the active counter conditioned on `active < :max`, with the place and its `ACTIVE#` item;
//!   a finish or a session end deletes the `ACTIVE#` item and subtracts one in one transaction,
//!   so the counter is decremented once per admission.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::catalog::event_from;
use super::items::*;
use super::{Budget, DynamoStore, OPTIMISTIC_ATTEMPTS, Query, Returned, TxItem, Updated};
use crate::domain::{QueueJoin, QueuePace, QueuePlace, QueueStats, QueuedEvent, queue_pace_start};
use crate::store::{Entity, QueueStore, StoreError, StoreResult};

/// Places given out per transaction by the draw: two items each, under DynamoDB's 100.
const DRAW_CHUNK: usize = 40;
/// A place joined after the draw takes its position in two more calls after it is written (the
/// counter, then the `POS#` item with the place's position). A join that failed between them
/// (503: DynamoDB busy or unreachable) leaves a place without one, which a later join of the same
/// account finishes once the place is this old: longer than any join can still be running (each
/// of its calls gives up within `QUEUE_WAIT` + `OPERATION_TIMEOUT` + `RETRY_BUDGET`, 13 s), so
/// two joins never take the counter for one place.
const UNPLACED_LEASE: Duration = Duration::seconds(60);

struct State {
    drawn: bool,
    placed: bool,
    next: i64,
    through: i64,
    paced: Option<i64>,
}

fn state_from(item: &Item) -> StoreResult<State> {
    Ok(State {
        drawn: get_bool(item, "drawn")?,
        placed: get_bool(item, "placed")?,
        next: get_n(item, "next")?,
        through: get_n(item, "through")?,
        paced: opt_n(item, "paced")?,
    })
}

fn place_from(item: &Item, state: Option<&Item>) -> StoreResult<QueuePlace> {
    let through = match state {
        Some(state) => get_n(state, "through")?,
        None => 0,
    };
    let time = |name: &str| opt_n(item, name)?.map(from_ms).transpose();
    Ok(QueuePlace {
        event_id: get_uuid(item, "event_id")?,
        user_id: get_uuid(item, "user_id")?,
        position: opt_n(item, "position")?.map(|p| u64::try_from(p).unwrap_or(0)),
        joined_at: get_time(item, "joined")?,
        admitted_at: time("admitted")?,
        session_ends_at: time("ends")?,
        finished_at: time("finished")?,
        admitted_through: u64::try_from(through).unwrap_or(0),
    })
}

impl DynamoStore {
    async fn queue_event(&self, event_id: Uuid) -> StoreResult<QueuedEvent> {
        let item = self.get(event_key(event_id)).await?.ok_or(StoreError::NotFound(Entity::Event))?;
        let event = event_from(&item)?.event;
        Ok(QueuedEvent { on_sale_at: event.on_sale_at, queue: event.queue })
    }

    /// The event's queue state, created (with its entry in the `QUEUES` list) when missing.
    async fn queue_state(&self, event_id: Uuid) -> StoreResult<State> {
        if let Some(item) = self.get(queue_state_key(event_id)).await? {
            return state_from(&item);
        }
        let mut state = queue_state_key(event_id);
        state.extend([
            ("drawn".to_owned(), b(false)),
            ("placed".to_owned(), b(false)),
            ("next".to_owned(), n(1)),
            ("through".to_owned(), n(0)),
            ("active".to_owned(), n(0)),
        ]);
        let mut listed = queues_key(event_id);
        listed.insert("event_id".to_owned(), s(event_id.to_string()));
        let writes = vec![
            TxItem::put(&self.table, state, Some("attribute_not_exists(pk)"), vec![])?,
            TxItem::put(&self.table, listed, None, vec![])?,
        ];
        // Refused: another joiner created it first, which is as good.
        let _created = self.transact(&mut Budget::new(), writes).await?;
        let item = self
            .get(queue_state_key(event_id))
            .await?
            .ok_or_else(|| StoreError::Internal("a queue state just written was not found".into()))?;
        state_from(&item)
    }

    /// One conditional update of the state item, waiting out transactions in flight on it;
    /// `false` when its condition refused it.
    async fn update_state_if(
        &self,
        event_id: Uuid,
        update: &str,
        condition: &str,
        values: super::Values,
    ) -> StoreResult<Option<Item>> {
        let mut budget = Budget::new();
        loop {
            match self.update_if(queue_state_key(event_id), update, condition, values.clone(), Returned::New).await? {
                Updated::Written(item) => return Ok(Some(item.unwrap_or_default())),
                Updated::Refused(_) => return Ok(None),
                Updated::InTransaction(_) => budget.pause("a queue's state").await?,
            }
        }
    }

    /// The state once the queue is drawn (when it opened by `now`) and the draw's positions given out.
    async fn open_queue(&self, event_id: Uuid, event: &QueuedEvent, now: DateTime<Utc>) -> StoreResult<State> {
        let mut state = self.queue_state(event_id).await?;
        if !state.drawn {
            let Some(opened) = event.opened_at(now) else { return Ok(state) };
            let paced = ms(queue_pace_start(opened, event.admit_per_minute()));
            let values = vec![(":t", b(true)), (":f", b(false)), (":paced", n(paced))];
            // Refused: drawn by someone else meanwhile.
            self.update_state_if(event_id, "SET #drawn = :t, #paced = :paced", "#drawn = :f", values).await?;
            state.drawn = true;
        }
        if !state.placed {
            self.place_drawn(event_id).await?;
            let item = self.get(queue_state_key(event_id)).await?.unwrap_or_default();
            state = state_from(&item)?;
        }
        Ok(state)
    }

    /// Gives out `1..=n` to the `n` joiners before the opening, in the order of their draws, and
    /// opens the counter after them. Idempotent: each write is conditioned on finding nothing or
    /// the same value, so two processes finishing one draw agree.
    async fn place_drawn(&self, event_id: Uuid) -> StoreResult<()> {
        let pk = queue_pk(event_id);
        let places = self.query_all(Query::table(&pk).prefix("USER#")).await?;
        let mut early = Vec::new();
        for place in &places {
            if get_bool(place, "pre")? {
                early.push((get_n(place, "draw")?, get_uuid(place, "user_id")?, opt_n(place, "position")?));
            }
        }
        early.sort_unstable();
        let ranked: Vec<(i64, Uuid)> = early
            .iter()
            .enumerate()
            .filter(|(_, (_, _, position))| position.is_none())
            .map(|(rank, (_, user, _))| (i64::try_from(rank).unwrap_or(i64::MAX) + 1, *user))
            .collect();
        for chunk in ranked.chunks(DRAW_CHUNK) {
            let mut writes = Vec::with_capacity(2 * chunk.len());
            for &(position, user) in chunk {
                writes.push(TxItem::update(
                    &self.table,
                    queue_position_key(event_id, position),
                    "SET #user_id = :u",
                    Some("attribute_not_exists(pk) OR #user_id = :u"),
                    vec![(":u", s(user.to_string()))],
                )?);
                writes.push(TxItem::update(
                    &self.table,
                    queue_place_key(event_id, user),
                    "SET #position = :p",
                    Some("attribute_not_exists(#position) OR #position = :p"),
                    vec![(":p", n(position))],
                )?);
            }
            if self.transact(&mut Budget::new(), writes).await?.is_err() {
                return Err(StoreError::Internal("a queue's draw found positions given out otherwise".into()));
            }
        }
        let next = i64::try_from(early.len()).unwrap_or(i64::MAX) + 1;
        let values = vec![(":t", b(true)), (":f", b(false)), (":next", n(next))];
        // Refused: placed by someone else meanwhile, with the same count.
        self.update_state_if(event_id, "SET #placed = :t, #next = :next", "#placed = :f", values).await?;
        Ok(())
    }

    async fn read_place(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>> {
        let found = self.batch_get(vec![queue_place_key(event_id, user_id), queue_state_key(event_id)]).await?;
        let state = found.iter().find(|item| is_sk(item, "STATE"));
        let user_sk = format!("USER#{user_id}");
        found.iter().find(|item| is_sk(item, &user_sk)).map(|place| place_from(place, state)).transpose()
    }

    /// Claims a place joined after the draw that a failed join left without a position, once it
    /// is older than `UNPLACED_LEASE` (and any earlier claim too), by one conditional write: of
    /// two joins at once, one takes it over.
    async fn take_over_unplaced(&self, join: &QueueJoin, now: DateTime<Utc>) -> StoreResult<bool> {
        let stale = n(ms(now - UNPLACED_LEASE));
        let updated = self
            .update_if(
                queue_place_key(join.event_id, join.user_id),
                "SET #claimed = :now",
                "attribute_not_exists(#position) AND #pre = :f AND #joined < :stale \
                 AND (attribute_not_exists(#claimed) OR #claimed < :stale)",
                vec![(":now", n(ms(now))), (":f", b(false)), (":stale", stale)],
                Returned::Nothing,
            )
            .await?;
        match updated {
            Updated::Written(_) => Ok(true),
            Updated::Refused(_) | Updated::InTransaction(_) => Ok(false),
        }
    }

    fn new_place(join: &QueueJoin, early: bool, now: DateTime<Utc>) -> Item {
        let mut place = queue_place_key(join.event_id, join.user_id);
        place.extend([
            ("event_id".to_owned(), s(join.event_id.to_string())),
            ("user_id".to_owned(), s(join.user_id.to_string())),
            ("draw".to_owned(), n(i64::from_ne_bytes(join.draw.to_ne_bytes()))),
            ("pre".to_owned(), b(early)),
            ("joined".to_owned(), n(ms(now))),
        ]);
        place
    }

    /// The next position from the counter, for a place joined after the draw, and its `POS#` item;
    /// or `pending`, the position an earlier join of the place took from the counter before it was
    /// cut short. A join that cannot finish leaves the position it took on the place (`pending`,
    /// best effort), so the join that later finishes the place takes that one and the counter
    /// leaves no position unheld.
    async fn give_next_position(&self, event_id: Uuid, user_id: Uuid, pending: Option<i64>) -> StoreResult<()> {
        let position = match pending {
            Some(position) => position,
            None => {
                let values = vec![(":one", n(1)), (":t", b(true))];
                let state =
                    self.update_state_if(event_id, "ADD #next :one", "#placed = :t", values).await?.ok_or_else(
                        || StoreError::Internal("a queue's counter was taken before its draw was placed".into()),
                    )?;
                get_n(&state, "next")? - 1
            }
        };
        let placed = self.place_at(event_id, user_id, position).await;
        if placed.is_err() {
            let values = vec![(":p", n(position))];
            let update = "SET #pending = :p";
            let key = queue_place_key(event_id, user_id);
            if let Err(err) =
                self.update_if(key, update, "attribute_not_exists(#position)", values, Returned::Nothing).await
            {
                tracing::warn!(error = %err, position, "a queue position taken by a join cut short was not kept");
            }
        }
        placed
    }

    /// The position `pending` an earlier, cut-short join left on the account's place, if any.
    async fn pending_position(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<i64>> {
        match self.get(queue_place_key(event_id, user_id)).await? {
            Some(place) => opt_n(&place, "pending"),
            None => Ok(None),
        }
    }

    /// Gives the place `position` with its `POS#` item, in one transaction.
    async fn place_at(&self, event_id: Uuid, user_id: Uuid, position: i64) -> StoreResult<()> {
        let mut taken = queue_position_key(event_id, position);
        taken.insert("user_id".to_owned(), s(user_id.to_string()));
        let writes = vec![
            TxItem::put(&self.table, taken, Some("attribute_not_exists(pk)"), vec![])?,
            TxItem::update(
                &self.table,
                queue_place_key(event_id, user_id),
                "SET #position = :p",
                Some("attribute_not_exists(#position)"),
                vec![(":p", n(position))],
            )?,
        ];
        let mut budget = Budget::new();
        loop {
            let reasons = match self.transact(&mut budget, writes.clone()).await? {
                Ok(()) => return Ok(()),
                Err(reasons) if !reasons.condition_failed(0) && reasons.condition_failed(1) => reasons,
                // Both taken: the earlier join of this place got through with this position after all.
                Err(reasons)
                    if reasons.condition_failed(0)
                        && self.read_place(event_id, user_id).await?.and_then(|p| p.position)
                            == u64::try_from(position).ok() =>
                {
                    return Ok(());
                }
                Err(reasons) => {
                    return Err(StoreError::Internal(format!("a queue position was refused: {reasons:?}")));
                }
            };
            // The place's condition failed. Seen once under 540 concurrent joins on DynamoDB
            // Local with the place still unpositioned when read again: then the write is tried
            // again, with the same position. If the place did get a position meanwhile, it keeps
            // that one, and the position taken from the counter is marked skipped, so the pace
            // passes over it instead of waiting for a buyer who never comes.
            match self.read_place(event_id, user_id).await? {
                Some(place) if place.position.is_none() => budget.pause("a queue position").await?,
                Some(_) => {
                    let mut skipped = queue_position_key(event_id, position);
                    skipped.insert("skip".to_owned(), b(true));
                    let skip = vec![TxItem::put(&self.table, skipped, Some("attribute_not_exists(pk)"), vec![])?];
                    return match self.transact(&mut Budget::new(), skip).await? {
                        Ok(()) => Ok(()),
                        Err(_) => Err(StoreError::Internal(format!("a queue position was refused: {reasons:?}"))),
                    };
                }
                None => return Err(StoreError::Internal("a queue place just written was not found".into())),
            }
        }
    }

    /// Moves the admission frontier from `through` over `position` without admitting anyone, by one
    /// conditional write; `false` when another advance moved it first.
    async fn pass_over(&self, event_id: Uuid, position: i64, through: i64) -> StoreResult<bool> {
        let pass = vec![TxItem::update(
            &self.table,
            queue_state_key(event_id),
            "SET #through = :p",
            Some("#through = :prev"),
            vec![(":p", n(position)), (":prev", n(through))],
        )?];
        Ok(self.transact(&mut Budget::new(), pass).await?.is_ok())
    }

    /// The writes that free an active buyer's slot: its `ACTIVE#` item deleted (it must exist, so
    /// a slot is freed once) and one subtracted from the counter.
    fn free_slot(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<[TransactWriteItem; 2]> {
        Ok([
            TxItem::delete(&self.table, queue_active_key(event_id, user_id), "attribute_exists(pk)", vec![])?,
            TxItem::update(
                &self.table,
                queue_state_key(event_id),
                "ADD #active :minus",
                None,
                vec![(":minus", n(-1))],
            )?,
        ])
    }

    /// Ends the sessions that ran out by `now`: each `ACTIVE#` item deleted with one subtracted
    /// from the counter, in one transaction (a finish at the same time deletes it only once).
    async fn end_sessions(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let pk = queue_pk(event_id);
        for active in self.query_all(Query::table(&pk).prefix("ACTIVE#")).await? {
            if get_n(&active, "ends")? > ms(now) {
                continue;
            }
            let user = get_uuid(&active, "user_id")?;
            let writes = self.free_slot(event_id, user)?.to_vec();
            // Refused: finished or ended by someone else meanwhile.
            let _ended = self.transact(&mut Budget::new(), writes).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl QueueStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn join_queue(&self, join: &QueueJoin, now: DateTime<Utc>) -> StoreResult<QueuePlace> {
        let event = self.queue_event(join.event_id).await?;
        let mut budget = Budget::new();
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            let state = self.open_queue(join.event_id, &event, now).await?;
            if let Some(found) = self.read_place(join.event_id, join.user_id).await? {
                if found.position.is_some() || !state.placed || !self.take_over_unplaced(join, now).await? {
                    return Ok(found);
                }
                let pending = self.pending_position(join.event_id, join.user_id).await?;
                self.give_next_position(join.event_id, join.user_id, pending).await?;
                return self
                    .read_place(join.event_id, join.user_id)
                    .await?
                    .ok_or_else(|| StoreError::Internal("a queue place just read was not found".into()));
            }
            if !state.drawn {
                // Before the draw: the place joins the set the draw orders, if the draw has not
                // frozen it meanwhile (then the loop takes a position after it).
                let writes = vec![
                    TxItem::check(&self.table, queue_state_key(join.event_id), "#drawn = :f", vec![(":f", b(false))])?,
                    TxItem::put(
                        &self.table,
                        Self::new_place(join, true, now),
                        Some("attribute_not_exists(pk)"),
                        vec![],
                    )?,
                ];
                if self.transact(&mut budget, writes).await?.is_err() {
                    continue;
                }
            } else {
                let writes = vec![TxItem::put(
                    &self.table,
                    Self::new_place(join, false, now),
                    Some("attribute_not_exists(pk)"),
                    vec![],
                )?];
                // Refused: the account joined at the same moment; the loop reads that place.
                if self.transact(&mut budget, writes).await?.is_err() {
                    continue;
                }
                self.give_next_position(join.event_id, join.user_id, None).await?;
            }
            return self
                .read_place(join.event_id, join.user_id)
                .await?
                .ok_or_else(|| StoreError::Internal("a queue place just written was not found".into()));
        }
        Err(StoreError::Unavailable("the queue kept changing under concurrent joins; try again".into()))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn queue_place(&self, event_id: Uuid, user_id: Uuid) -> StoreResult<Option<QueuePlace>> {
        self.read_place(event_id, user_id).await
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn queue_stats(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<QueueStats> {
        let pk = queue_pk(event_id);
        // The places are counted where they are (DynamoDB sends the count, not the items); the
        // active ones are read, few as they are (at most `max_active_buyers`), so a session that
        // ran out and was not yet counted out by the pace does not count.
        let joined = self.count(Query::table(&pk).prefix("USER#")).await?;
        let through = match self.get(queue_state_key(event_id)).await? {
            Some(state) => u64::try_from(get_n(&state, "through")?).unwrap_or(0),
            None => 0,
        };
        let mut active = 0;
        for item in self.query_all(Query::table(&pk).prefix("ACTIVE#")).await? {
            if get_n(&item, "ends")? > ms(now) {
                active += 1;
            }
        }
        Ok(QueueStats::new(joined, through, active))
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn advance_queue(&self, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<u64> {
        let event = self.queue_event(event_id).await?;
        let Some(settings) = event.admitting(now) else { return Ok(0) };
        self.open_queue(event_id, &event, now).await?;
        self.end_sessions(event_id, now).await?;
        let item = self.get(queue_state_key(event_id)).await?.unwrap_or_default();
        let state = state_from(&item)?;
        let paced = state.paced.map(from_ms).transpose()?.unwrap_or(now);
        let pace = QueuePace::at(paced, now, settings.admit_per_minute);
        let waiting = u64::try_from(state.next - 1 - state.through).unwrap_or(0);
        let ends = ms(now + Duration::minutes(i64::from(settings.session_minutes)));
        let (mut through, mut admitted) = (state.through, 0);
        let turns = pace.turns.min(waiting);
        while admitted < turns && through < state.next - 1 {
            let position = through + 1;
            let Some(taken) = self.get(queue_position_key(event_id, position)).await? else { break };
            if get_bool(&taken, "skip").unwrap_or(false) {
                // A position nobody holds (see `give_next_position`): passed over, taking no turn.
                if !self.pass_over(event_id, position, through).await? {
                    break;
                }
                through = position;
                continue;
            }
            let user = get_uuid(&taken, "user_id")?;
            let step = vec![(":p", n(position)), (":prev", n(through)), (":paced", n(ms(pace.after(admitted + 1))))];
            let mut admit = step.clone();
            admit.extend([(":one", n(1)), (":max", n(i64::from(settings.max_active_buyers)))]);
            let mut active = queue_active_key(event_id, user);
            active.extend([("user_id".to_owned(), s(user.to_string())), ("ends".to_owned(), n(ends))]);
            let writes = vec![
                TxItem::update(
                    &self.table,
                    queue_state_key(event_id),
                    "SET #through = :p, #paced = :paced ADD #active :one",
                    Some("#through = :prev AND #active < :max"),
                    admit,
                )?,
                TxItem::update(
                    &self.table,
                    queue_place_key(event_id, user),
                    "SET #admitted = :now, #ends = :ends",
                    Some("attribute_not_exists(#finished) AND attribute_not_exists(#admitted)"),
                    vec![(":now", n(ms(now))), (":ends", n(ends))],
                )?,
                TxItem::put(&self.table, active, None, vec![])?,
            ];
            match self.transact(&mut Budget::new(), writes).await? {
                Ok(()) => admitted += 1,
                Err(reasons) if !reasons.condition_failed(0) && reasons.condition_failed(1) => {
                    // The place left before its turn: the frontier passes over it, taking no turn.
                    if !self.pass_over(event_id, position, through).await? {
                        break;
                    }
                }
                // Another advance moved the frontier, or no room is left under the maximum.
                Err(_) => break,
            }
            through = position;
        }
        Ok(admitted)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn advance_queues(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let listed = QUEUES.pk(&[]);
        let mut admitted = 0;
        for queue in self.query_all(Query::table(&listed)).await? {
            match self.advance_queue(get_uuid(&queue, "event_id")?, now).await {
                Ok(count) => admitted += count,
                Err(StoreError::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(admitted)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn finish_queue_place(&self, event_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let finished = vec![(":now", n(ms(now)))];
        for _ in 0..OPTIMISTIC_ATTEMPTS {
            // An active buyer: finished, and its slot freed, in one transaction.
            let mut writes = vec![TxItem::update(
                &self.table,
                queue_place_key(event_id, user_id),
                "SET #finished = :now",
                Some("attribute_exists(pk) AND attribute_not_exists(#finished)"),
                finished.clone(),
            )?];
            writes.extend(self.free_slot(event_id, user_id)?);
            match self.transact(&mut Budget::new(), writes).await? {
                Ok(()) => return Ok(true),
                Err(reasons) if reasons.condition_failed(0) => return Ok(false),
                Err(_) => {}
            }
            // Not active: not admitted yet, or its session ended and was counted out.
            let updated = self
                .update_if(
                    queue_place_key(event_id, user_id),
                    "SET #finished = :now",
                    "attribute_exists(pk) AND attribute_not_exists(#finished) \
                     AND (attribute_not_exists(#admitted) OR #ends <= :now)",
                    finished.clone(),
                    Returned::NewOrOld,
                )
                .await?;
            match updated {
                Updated::Written(_) => return Ok(true),
                Updated::Refused(Some(place)) if !place.contains_key("finished") => {} // admitted meanwhile
                Updated::Refused(_) => return Ok(false),
                Updated::InTransaction(_) => {}
            }
        }
        Err(StoreError::Unavailable("a queue place kept changing; try again".into()))
    }
}
