//! The outbox: every change that tells someone something writes its one message in its own
//! transaction (a change refused writes none), and senders claim, settle and retry messages so
//! that each is taken by one sender at a time, whatever the concurrency, and an admin can resend
//! one that failed.

use proeventa_core::domain::{MessageFacts, MessageKind, MessageStatus, OutboxMessage, RefundFacts, Settlement};

use super::*;

/// A lease long enough that no claim in these cases outlives it by accident.
fn lease() -> Duration {
    Duration::seconds(120)
}

/// Every message of the store, newest first, page by page.
async fn all_messages(store: &S, status: Option<MessageStatus>) -> Vec<OutboxMessage> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let batch = store
            .list_messages(status, page(Page::MAX_LIMIT, offset))
            .await
            .unwrap_or_else(|e| panic!("list messages: {e}"));
        let full = batch.len() as i64 == Page::MAX_LIMIT;
        all.extend(batch);
        if !full {
            return all;
        }
        offset += Page::MAX_LIMIT;
    }
}

/// The messages written so far other than the accounts' welcomes (every fixture user has one),
/// as (user, facts), in a stable order.
async fn notices(store: &S) -> Vec<(Option<Uuid>, MessageFacts)> {
    let mut found: Vec<(Option<Uuid>, MessageFacts)> = all_messages(store, None)
        .await
        .into_iter()
        .filter(|m| m.facts.kind() != MessageKind::AccountCreated)
        .map(|m| (m.user_id, m.facts))
        .collect();
    sort_notices(&mut found);
    found
}

fn sort_notices(notices: &mut [(Option<Uuid>, MessageFacts)]) {
    notices.sort_by_key(|(user, facts)| (*user, serde_json::to_string(facts).expect("facts serialize")));
}

fn refund_facts(refund: &Refund) -> RefundFacts {
    RefundFacts { payment_id: refund.payment_id, amount_cents: refund.amount_cents }
}

async fn read_message(store: &S, id: Uuid) -> OutboxMessage {
    store.message(id).await.unwrap_or_else(|e| panic!("read message: {e}")).expect("the message exists")
}

async fn claim(store: &S, limit: u32, now: DateTime<Utc>) -> Vec<OutboxMessage> {
    store.claim_messages(limit, lease(), now).await.unwrap_or_else(|e| panic!("claim messages: {e}"))
}

/// A store whose outbox holds one message (ann's welcome), and that message.
async fn one_message(store: &S) -> OutboxMessage {
    let ann = fixture_user(store, "ann").await;
    let messages = all_messages(store, None).await;
    assert_eq!(messages.len(), 1, "one account, one message: {messages:?}");
    assert_eq!(messages[0].user_id, Some(ann.id));
    messages[0].clone()
}

pub async fn signing_up_writes_one_account_created_message(store: S) {
    let before = Utc::now();
    let ann = fixture_user(&store, "ann").await;
    let messages = all_messages(&store, None).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let welcome = &messages[0];
    assert_eq!((welcome.user_id, &welcome.facts), (Some(ann.id), &MessageFacts::AccountCreated));
    assert_eq!((welcome.status, welcome.attempts, &welcome.last_error), (MessageStatus::Pending, 0, &None));
    assert!(close_in_time(welcome.created_at, before) && welcome.sent_at.is_none(), "{welcome:?}");
    assert!(welcome.next_attempt_at <= Utc::now(), "due at once: {welcome:?}");
    assert_eq!(read_message(&store, welcome.id).await, *welcome, "read by id as listed");

    // A second account with the same address is refused, and writes nothing.
    let err = expect_err(store.create_user(new_user("ann", "Ann again")).await, "a second ann");
    assert!(matches!(err, StoreError::EmailTaken), "{err:?}");
    assert_eq!(all_messages(&store, None).await.len(), 1, "a refused signup writes no message");
}

pub async fn a_confirm_writes_the_booking_confirmed_message(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    let expected = MessageFacts::BookingConfirmed { booking_id: booking.id, payment_id: paid.id };
    assert_eq!(notices(&store).await, [(Some(ann.id), expected.clone())]);

    // A confirm refused (this one: already confirmed) writes nothing more.
    let err = expect_err(store.confirm_payment(paid.id, "ch_ann", CARD_LAST4, Utc::now()).await, "confirm twice");
    assert!(matches!(err, StoreError::InvalidState(_)), "{err:?}");
    assert_eq!(notices(&store).await, [(Some(ann.id), expected)], "a refused confirm writes no message");
}

pub async fn a_confirm_that_lost_its_seat_writes_the_refund_notice_not_the_confirmation(store: S) {
    let venue = fixture_grid_venue(&store, 1, 3).await;
    let event = fixture_event(&store, &venue).await;
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let t0 = Utc::now();
    let booking =
        store.hold(&hold_request(&ann, &event, &seat_ids(&venue, &[0, 1]), short_ttl()), t0).await.expect("hold");
    let payment =
        store.create_payment(new_payment(&booking, t0 + Duration::milliseconds(60)), t0).await.expect("checkout");
    let lapse = store.booking(booking.id, t0).await.expect("read").expect("exists").expires_at;
    sleep_past(lapse).await;
    hold_seats(&store, &bob, &event, &seat_ids(&venue, &[1])).await.expect("a lapsed hold never blocks");

    let err = expect_err(
        store.confirm_payment(payment.id, "ch_ann", CARD_LAST4, Utc::now()).await,
        "confirm after a seat was taken",
    );
    assert!(matches!(err, StoreError::HoldExpired), "expected HoldExpired, got {err:?}");
    assert_eq!(notices(&store).await, [], "a confirm that lost its seat writes no confirmation");

    // The API gives the charge back and fails the payment: that is what the buyer is told.
    let failed = store.fail_payment(payment.id, payment.amount_cents, Utc::now()).await.expect("fail the payment");
    assert_eq!(failed.refunded_cents, payment.amount_cents);
    let refund = RefundFacts { payment_id: payment.id, amount_cents: payment.amount_cents };
    assert_eq!(
        notices(&store).await,
        [(Some(ann.id), MessageFacts::PaymentRefunded { booking_id: booking.id, refund })]
    );
}

pub async fn a_failed_payment_with_nothing_given_back_writes_no_message(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let booking = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
    let payment = checkout(&store, &booking).await.expect("checkout");
    store.fail_payment(payment.id, 0, Utc::now()).await.expect("fail the payment");
    assert_eq!(notices(&store).await, [], "a voided charge tells nobody anything");
    // Failing it again is refused, and writes nothing either.
    let err = expect_err(store.fail_payment(payment.id, 500, Utc::now()).await, "fail twice");
    assert!(matches!(err, StoreError::InvalidState(_)), "{err:?}");
    assert_eq!(notices(&store).await, []);
}

pub async fn canceling_paid_seats_writes_their_refund_notice(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let (booking, paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1, 2]), "ch_ann").await;
    let confirmed = MessageFacts::BookingConfirmed { booking_id: booking.id, payment_id: paid.id };

    let seat = booking.reservations[0].id;
    let one = store.cancel_reservation(seat, Utc::now(), None).await.expect("cancel a paid seat");
    assert_eq!(one.refunds.len(), 1, "{one:?}");
    let seat_canceled = MessageFacts::SeatCanceled {
        booking_id: booking.id,
        reservation_ids: vec![seat],
        refund: refund_facts(&one.refunds[0]),
    };
    let rest = store.cancel_booking(booking.id, Utc::now(), None).await.expect("cancel the rest");
    assert_eq!(rest.refunds.len(), 1, "{rest:?}");
    let booking_canceled =
        MessageFacts::BookingCanceled { booking_id: booking.id, refund: refund_facts(&rest.refunds[0]) };
    let mut expected = vec![(Some(ann.id), confirmed), (Some(ann.id), seat_canceled), (Some(ann.id), booking_canceled)];
    sort_notices(&mut expected);
    assert_eq!(notices(&store).await, expected);
    assert_eq!(one.refunds[0].amount_cents + rest.refunds[0].amount_cents, paid.amount_cents);

    // Canceling again is refused, and writes nothing.
    expect_err(store.cancel_booking(booking.id, Utc::now(), None).await, "cancel twice");
    assert_eq!(notices(&store).await, expected, "a refused cancel writes no message");
}

pub async fn canceling_a_hold_writes_no_message(store: S) {
    let venue = fixture_grid_venue(&store, 1, 4).await;
    let event = fixture_event(&store, &venue).await;
    let ann = fixture_user(&store, "ann").await;
    let one = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[0])).await.expect("hold");
    let two = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[1, 2])).await.expect("hold");
    let canceled =
        store.cancel_reservation(one.reservations[0].id, Utc::now(), None).await.expect("cancel a held seat");
    assert_eq!(canceled.refunds, []);
    let canceled = store.cancel_booking(two.id, Utc::now(), None).await.expect("cancel a held booking");
    assert_eq!(canceled.refunds, []);
    // A checked-out hold is not paid either.
    let three = hold_seats(&store, &ann, &event, &seat_ids(&venue, &[3])).await.expect("hold");
    checkout(&store, &three).await.expect("checkout");
    store.cancel_booking(three.id, Utc::now(), None).await.expect("cancel a checked-out booking");
    assert_eq!(notices(&store).await, [], "no money moved, nothing to tell");
}

pub async fn canceling_an_event_writes_one_notice_per_refund(store: S) {
    let venue = fixture_grid_venue(&store, 2, 4).await;
    let event = fixture_event(&store, &venue).await;
    let other = fixture_event(&store, &venue).await;
    let (ann, bob, cid) =
        (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await, fixture_user(&store, "cid").await);
    let (anns, ann_paid) = paid_booking(&store, &ann, &event, &seat_ids(&venue, &[0, 1]), "ch_ann").await;
    let (bobs, bob_paid) = paid_booking(&store, &bob, &event, &seat_ids(&venue, &[4]), "ch_bob").await;
    // Held only, and a paid booking of another event: neither is told anything.
    hold_seats(&store, &cid, &event, &seat_ids(&venue, &[2])).await.expect("hold");
    let (cids, cid_paid) = paid_booking(&store, &cid, &other, &seat_ids(&venue, &[0]), "ch_cid").await;

    let canceled = store.cancel_event(event.id, Utc::now(), None).await.expect("cancel").expect("the event exists");
    assert_eq!(canceled.refunds.len(), 2, "{canceled:?}");
    let refund_of = |payment_id: Uuid| {
        let refund = canceled.refunds.iter().find(|r| r.payment_id == payment_id).expect("refunded");
        refund_facts(refund)
    };
    let mut expected = vec![
        (Some(ann.id), MessageFacts::BookingConfirmed { booking_id: anns.id, payment_id: ann_paid.id }),
        (Some(bob.id), MessageFacts::BookingConfirmed { booking_id: bobs.id, payment_id: bob_paid.id }),
        (Some(cid.id), MessageFacts::BookingConfirmed { booking_id: cids.id, payment_id: cid_paid.id }),
        (
            Some(ann.id),
            MessageFacts::EventCanceled { event_id: event.id, booking_id: anns.id, refund: refund_of(ann_paid.id) },
        ),
        (
            Some(bob.id),
            MessageFacts::EventCanceled { event_id: event.id, booking_id: bobs.id, refund: refund_of(bob_paid.id) },
        ),
    ];
    sort_notices(&mut expected);
    assert_eq!(notices(&store).await, expected);
}

pub async fn moving_an_event_writes_one_rescheduled_message(store: S) {
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let renamed = EventChanges { name: Some("Renamed".into()), ..Default::default() };
    store.update_event(event.id, renamed).await.expect("rename").expect("exists");
    let same_start = EventChanges { start_time: Some(event.start_time), ..Default::default() };
    store.update_event(event.id, same_start).await.expect("same start").expect("exists");
    assert_eq!(notices(&store).await, [], "a change that moves nobody tells nobody");

    let later = event.start_time + Duration::days(1);
    let moved = EventChanges { start_time: Some(later), ..Default::default() };
    store.update_event(event.id, moved).await.expect("move").expect("exists");
    let expected =
        MessageFacts::EventRescheduled { event_id: event.id, previous_start: event.start_time, start: later };
    assert_eq!(notices(&store).await, [(None, expected)], "one message for the event, fanned out at delivery");

    let unknown = EventChanges { start_time: Some(later), ..Default::default() };
    assert!(store.update_event(Uuid::new_v4(), unknown).await.expect("update unknown").is_none());
    assert_eq!(notices(&store).await.len(), 1, "no event, no message");
}

pub async fn a_claimed_message_is_leased_then_claimable_again(store: S) {
    let written = one_message(&store).await;
    let t0 = whole_millis(Utc::now());
    let first = claim(&store, 10, t0).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!((first[0].id, first[0].attempts, first[0].status), (written.id, 1, MessageStatus::Pending));
    assert_eq!(first[0].next_attempt_at, t0 + lease(), "leased until the lease ends");
    assert_eq!(read_message(&store, written.id).await, first[0], "returned as stored");
    assert_eq!(claim(&store, 10, t0).await, [], "nobody else claims it during the lease");
    assert_eq!(claim(&store, 10, t0 + lease() - Duration::milliseconds(1)).await, []);

    // The sender died: once its lease ends, another claims it, counting a second attempt.
    let again = claim(&store, 10, t0 + lease()).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].id, again[0].attempts), (written.id, 2));

    // The first claim is superseded: settling it changes nothing.
    let late = t0 + lease() + Duration::seconds(1);
    assert!(!store.settle_message(written.id, 1, &Settlement::Sent, late).await.expect("settle"));
    assert_eq!(read_message(&store, written.id).await, again[0], "a superseded settlement changes nothing");

    assert!(store.settle_message(written.id, 2, &Settlement::Sent, late).await.expect("settle"));
    let sent = read_message(&store, written.id).await;
    assert_eq!((sent.status, sent.attempts, sent.sent_at), (MessageStatus::Sent, 2, Some(late)));
    assert_eq!(claim(&store, 10, late + Duration::days(1)).await, [], "a sent message is never claimed again");
    assert!(!store.settle_message(written.id, 2, &Settlement::Sent, late).await.expect("settle twice"));
}

pub async fn a_retry_is_pending_again_at_the_time_given(store: S) {
    let written = one_message(&store).await;
    let t0 = whole_millis(Utc::now());
    claim(&store, 10, t0).await;
    let at = t0 + Duration::seconds(30);
    let retry = Settlement::RetryAt { at, reason: "connection refused".into() };
    assert!(store.settle_message(written.id, 1, &retry, t0).await.expect("settle"));
    let waiting = read_message(&store, written.id).await;
    assert_eq!(
        (waiting.status, waiting.attempts, waiting.next_attempt_at, waiting.last_error.as_deref()),
        (MessageStatus::Pending, 1, at, Some("connection refused"))
    );
    assert_eq!(claim(&store, 10, at - Duration::milliseconds(1)).await, [], "not before its time");
    let again = claim(&store, 10, at).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].id, again[0].attempts), (written.id, 2));
}

pub async fn a_failed_message_is_listed_by_status_and_resent(store: S) {
    let written = one_message(&store).await;
    tick().await;
    fixture_user(&store, "bob").await;
    let t0 = whole_millis(Utc::now());
    let claimed = claim(&store, 1, t0).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, written.id, "the oldest due first");
    let failed = Settlement::Failed { reason: "550 no such mailbox".into() };
    assert!(store.settle_message(written.id, 1, &failed, t0).await.expect("settle"));

    let listed = all_messages(&store, Some(MessageStatus::Failed)).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].id, listed[0].last_error.as_deref()), (written.id, Some("550 no such mailbox")));
    let pending = all_messages(&store, Some(MessageStatus::Pending)).await;
    assert!(pending.iter().all(|m| m.id != written.id) && pending.len() == 1, "{pending:?}");
    assert_eq!(claim(&store, 10, t0 + Duration::days(1)).await.iter().filter(|m| m.id == written.id).count(), 0);

    let t1 = t0 + Duration::seconds(5);
    let resent = store.resend_message(written.id, t1, None).await.expect("resend");
    assert_eq!(
        (resent.id, resent.status, resent.attempts, resent.next_attempt_at),
        (written.id, MessageStatus::Pending, 0, t1)
    );
    assert_eq!(read_message(&store, written.id).await, resent);
    assert!(all_messages(&store, Some(MessageStatus::Failed)).await.is_empty());
    // The failed attempt's settlement, arriving late, no longer applies.
    assert!(!store.settle_message(written.id, 1, &Settlement::Sent, t1).await.expect("settle"));

    let err = expect_err(store.resend_message(written.id, t1, None).await, "resend a pending message");
    assert!(matches!(err, StoreError::InvalidState(_)), "{err:?}");
    let err = expect_err(store.resend_message(Uuid::new_v4(), t1, None).await, "resend an unknown message");
    assert!(matches!(err, StoreError::NotFound(Entity::Message)), "{err:?}");

    let again = claim(&store, 10, t1).await;
    assert!(again.iter().any(|m| m.id == written.id && m.attempts == 1), "claimable at once: {again:?}");
}

async fn depth(store: &S) -> (u64, u64) {
    let depth = store.outbox_depth().await.unwrap_or_else(|e| panic!("outbox depth: {e}"));
    (depth.pending, depth.failed)
}

/// The depth counts what waits (written, claimed, waiting for a retry, resent) and what failed,
/// and nothing sent.
pub async fn the_depth_counts_pending_and_failed_messages_as_they_move(store: S) {
    assert_eq!(depth(&store).await, (0, 0), "an empty outbox");
    let ann = one_message(&store).await;
    tick().await;
    fixture_user(&store, "bob").await;
    assert_eq!(depth(&store).await, (2, 0), "two welcomes written");

    // Each claim at the time it is made: every message written so far is due.
    let first = claim(&store, 1, Utc::now()).await;
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), [ann.id], "the oldest first");
    assert_eq!(depth(&store).await, (2, 0), "a claimed message is still pending");
    assert!(store.settle_message(ann.id, 1, &Settlement::Sent, Utc::now()).await.expect("settle"));
    assert_eq!(depth(&store).await, (1, 0), "a sent message is not counted");

    let second = claim(&store, 10, Utc::now()).await;
    assert_eq!(second.len(), 1, "{second:?}");
    let bob = second[0].id;
    let failed = Settlement::Failed { reason: "550 no such mailbox".into() };
    assert!(store.settle_message(bob, 1, &failed, Utc::now()).await.expect("settle"));
    assert_eq!(depth(&store).await, (0, 1), "failed");

    fixture_user(&store, "cid").await;
    let third = claim(&store, 10, Utc::now()).await;
    assert_eq!(third.len(), 1, "{third:?}");
    let retry = Settlement::RetryAt { at: Utc::now() + Duration::seconds(30), reason: "connection refused".into() };
    assert!(store.settle_message(third[0].id, 1, &retry, Utc::now()).await.expect("settle"));
    assert_eq!(depth(&store).await, (1, 1), "a retry waits, pending");

    store.resend_message(bob, Utc::now(), None).await.expect("resend");
    assert_eq!(depth(&store).await, (2, 0), "a resent message is pending again");
}

pub async fn concurrent_claims_take_each_message_once(store: S) {
    const MESSAGES: usize = 30;
    const SENDERS: usize = 6;
    fixture_users(&store, "buyer", MESSAGES).await;
    let now = Utc::now();
    let barrier = Arc::new(Barrier::new(SENDERS));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (store, barrier) = (store.clone(), barrier.clone());
        senders.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut taken = Vec::new();
            loop {
                let batch = store.claim_messages(4, lease(), now).await.unwrap_or_else(|e| panic!("claim: {e}"));
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch);
            }
        }));
    }
    let mut claimed: Vec<OutboxMessage> = Vec::new();
    for sender in senders {
        claimed.extend(sender.await.expect("a sender"));
    }
    let ids: BTreeSet<Uuid> = claimed.iter().map(|m| m.id).collect();
    assert_eq!(claimed.len(), MESSAGES, "each message claimed exactly once: {} claims", claimed.len());
    assert_eq!(ids.len(), MESSAGES);
    assert!(claimed.iter().all(|m| m.attempts == 1), "one attempt each");
    assert_eq!(claim(&store, 100, now).await, [], "every message is leased");
}

/// Reschedules of one event at once: each notice's "was" is the start its own change replaced,
/// so the notices chain from the first start to the one the event ends with, each start
/// replaced once (a notice read from a start another reschedule had already moved would repeat
/// a "was" and break the chain).
pub async fn concurrent_reschedules_chain_their_notices(store: S) {
    const MOVES: i64 = 6;
    let venue = fixture_grid_venue(&store, 1, 2).await;
    let event = fixture_event(&store, &venue).await;
    let barrier = Arc::new(Barrier::new(MOVES as usize));
    let mut moves = Vec::new();
    for hours in 1..=MOVES {
        let (store, barrier) = (store.clone(), barrier.clone());
        let start = event.start_time + Duration::hours(hours);
        moves.push(tokio::spawn(async move {
            barrier.wait().await;
            let moved = EventChanges { start_time: Some(start), ..Default::default() };
            store.update_event(event.id, moved).await
        }));
    }
    let mut committed = 0;
    for moved in moves {
        match moved.await.expect("a reschedule") {
            Ok(Some(_)) => committed += 1,
            // A store may give up on a change that kept meeting others; then it wrote nothing.
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("a reschedule: {other:?}"),
        }
    }
    let last = store.event(event.id, Utc::now()).await.expect("read").expect("exists").start_time;
    let mut was_to_start: BTreeMap<DateTime<Utc>, DateTime<Utc>> = BTreeMap::new();
    for (_, facts) in notices(&store).await {
        let MessageFacts::EventRescheduled { event_id, previous_start, start } = facts else {
            panic!("only reschedules were made: {facts:?}");
        };
        assert_eq!(event_id, event.id);
        assert!(was_to_start.insert(previous_start, start).is_none(), "two notices say the start was {previous_start}");
    }
    assert_eq!(was_to_start.len(), committed, "one notice per committed reschedule");
    let mut at = event.start_time;
    while let Some(next) = was_to_start.get(&at) {
        at = *next;
    }
    assert_eq!(at, last, "the notices chain from the first start to the last: {was_to_start:?}");
}
