//! Idempotency keys: claim, in flight, replay and mismatch, release, keys per user, the record
//! lapsing after a day, and racing claims of which one wins.

use super::*;

pub async fn idempotency_claim_inflight_replay_mismatch(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let claim = |hash: &'static str| {
        let store = store.clone();
        async move { store.claim_idempotency_key(ann.id, "key-1", hash, Utc::now()).await.expect("claim") }
    };
    assert_eq!(claim("hash-a").await, IdempotencyClaim::Claimed);
    assert_eq!(claim("hash-a").await, IdempotencyClaim::InFlight, "same key and request while it is answered");
    store.complete_idempotency_key(ann.id, "key-1", 201, r#"{"id":"x"}"#).await.expect("complete");
    assert_eq!(claim("hash-a").await, IdempotencyClaim::Replay { status: 201, body: r#"{"id":"x"}"#.to_owned() });
    assert_eq!(
        claim("hash-a").await,
        IdempotencyClaim::Replay { status: 201, body: r#"{"id":"x"}"#.to_owned() },
        "replays every time"
    );
    assert_eq!(claim("hash-b").await, IdempotencyClaim::Mismatch, "same key, other request");
}

pub async fn idempotency_release_makes_key_claimable(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"), IdempotencyClaim::Claimed);
    store.release_idempotency_key(ann.id, "k").await.expect("release");
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim again"),
        IdempotencyClaim::Claimed
    );
    store.release_idempotency_key(ann.id, "k").await.expect("release");
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "other", now).await.expect("claim with another request"),
        IdempotencyClaim::Claimed,
        "a released key remembers nothing"
    );
}

pub async fn idempotency_keys_are_per_user(store: S) {
    let (ann, bob) = (fixture_user(&store, "ann").await, fixture_user(&store, "bob").await);
    let now = Utc::now();
    assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"), IdempotencyClaim::Claimed);
    store.complete_idempotency_key(ann.id, "k", 200, "ann's answer").await.expect("complete");
    assert_eq!(
        store.claim_idempotency_key(bob.id, "k", "h", now).await.expect("claim"),
        IdempotencyClaim::Claimed,
        "another user's key of the same name is unrelated"
    );
    store.complete_idempotency_key(bob.id, "k", 201, "bob's answer").await.expect("complete");
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"),
        IdempotencyClaim::Replay { status: 200, body: "ann's answer".into() }
    );
    assert_eq!(
        store.claim_idempotency_key(bob.id, "k", "h", now).await.expect("claim"),
        IdempotencyClaim::Replay { status: 201, body: "bob's answer".into() }
    );
}

pub async fn idempotency_record_lapses_after_a_day(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let now = Utc::now();
    assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", now).await.expect("claim"), IdempotencyClaim::Claimed);
    store.complete_idempotency_key(ann.id, "k", 201, "first").await.expect("complete");
    let within = now + Duration::hours(proeventa_core::store::IDEMPOTENCY_TTL_HOURS - 1);
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "h", within).await.expect("claim"),
        IdempotencyClaim::Replay { status: 201, body: "first".into() }
    );
    let later = now + Duration::hours(proeventa_core::store::IDEMPOTENCY_TTL_HOURS + 1);
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "other", later).await.expect("claim"),
        IdempotencyClaim::Claimed,
        "a record older than a day is forgotten"
    );
}

/// The boundary is the same on every backend: a record exactly a day old still answers, one a
/// millisecond older is gone.
pub async fn idempotency_record_holds_for_exactly_a_day(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let created = whole_millis(Utc::now());
    assert_eq!(store.claim_idempotency_key(ann.id, "k", "h", created).await.expect("claim"), IdempotencyClaim::Claimed);
    store.complete_idempotency_key(ann.id, "k", 201, "first").await.expect("complete");
    let a_day = created + Duration::hours(proeventa_core::store::IDEMPOTENCY_TTL_HOURS);
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "h", a_day).await.expect("claim"),
        IdempotencyClaim::Replay { status: 201, body: "first".into() },
        "a record exactly a day old still answers"
    );
    assert_eq!(
        store.claim_idempotency_key(ann.id, "k", "h", a_day + Duration::milliseconds(1)).await.expect("claim"),
        IdempotencyClaim::Claimed,
        "a record older than a day is forgotten"
    );
}

pub async fn concurrent_idempotency_claims_one_wins(store: S) {
    let ann = fixture_user(&store, "ann").await;
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim_idempotency_key(ann.id, "race", "h", Utc::now()).await
            })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        match task.await.expect("claim task") {
            Ok(IdempotencyClaim::Claimed) => claimed += 1,
            Ok(IdempotencyClaim::InFlight) => {}
            other => panic!("a concurrent claim must be Claimed or InFlight, got {other:?}"),
        }
    }
    assert_eq!(claimed, 1, "exactly one of 16 concurrent claims may go ahead");
}
