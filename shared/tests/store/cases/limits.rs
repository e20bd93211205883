//! Rate-limit counters (`LimitStore`): every attempt counted once, atomically, in a window that
//! restarts after it ends; taking back an attempt only touches its own window; and concurrent
//! attempts on one key get distinct counts, so a burst can never pass more than a limit allows.

use super::*;

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

pub async fn attempts_count_per_key_in_a_window_that_restarts(store: S) {
    let (t0, window) = (Utc::now(), Duration::minutes(15));
    let mut seen = Vec::new();
    for i in 0..3 {
        let counts = store.count_attempts(&keys(&["test:a"]), window, t0 + Duration::seconds(i)).await.expect("count");
        seen.push((counts[0].attempts, counts[0].window_ends));
    }
    let ends = seen[0].1;
    assert!(close_in_time(ends, t0 + window), "the window ends {ends}, not 15 minutes after {t0}");
    assert_eq!(seen, vec![(1, ends), (2, ends), (3, ends)], "one window, counted one by one");

    let both =
        store.count_attempts(&keys(&["test:b", "test:a"]), window, t0 + Duration::seconds(5)).await.expect("two");
    assert_eq!(both.iter().map(|c| c.attempts).collect::<Vec<_>>(), vec![1, 4], "counts come back in the order asked");

    let after = ends + Duration::milliseconds(1);
    let restarted = store.count_attempts(&keys(&["test:a"]), window, after).await.expect("count after");
    assert_eq!(restarted[0].attempts, 1, "an ended window starts again from one");
    assert!(close_in_time(restarted[0].window_ends, after + window));
}

pub async fn uncounting_takes_back_one_attempt_of_its_own_window_only(store: S) {
    let (t0, window) = (Utc::now(), Duration::minutes(1));
    let key = keys(&["test:uncount"]);
    store.count_attempts(&key, window, t0).await.expect("first");
    let second = store.count_attempts(&key, window, t0).await.expect("second")[0];
    store.uncount_attempt(&key[0], second.window_ends).await.expect("take back");
    let again = store.count_attempts(&key, window, t0).await.expect("third")[0];
    assert_eq!(again.attempts, 2, "the taken-back attempt no longer counts");

    // Taken back after its window ended and a new one started: the new window is untouched.
    let later = again.window_ends + Duration::seconds(1);
    let fresh = store.count_attempts(&key, window, later).await.expect("new window")[0];
    store.uncount_attempt(&key[0], again.window_ends).await.expect("stale take back");
    let next = store.count_attempts(&key, window, later).await.expect("next")[0];
    assert_eq!((fresh.attempts, next.attempts), (1, 2), "a stale take-back changed the new window");

    // Never below zero, and a key never counted is no error.
    for _ in 0..3 {
        store.uncount_attempt(&key[0], next.window_ends).await.expect("take back");
    }
    assert_eq!(store.count_attempts(&key, window, later).await.expect("count")[0].attempts, 1);
    store.uncount_attempt("test:never", next.window_ends).await.expect("unknown key");
}

pub async fn forgetting_ended_windows_keeps_running_ones(store: S) {
    let t0 = Utc::now();
    store.count_attempts(&keys(&["test:short"]), Duration::minutes(1), t0).await.expect("short");
    store.count_attempts(&keys(&["test:long"]), Duration::hours(1), t0).await.expect("long");
    let later = t0 + Duration::minutes(2);
    store.forget_ended_windows(later).await.expect("forget");
    let short = store.count_attempts(&keys(&["test:short"]), Duration::minutes(1), later).await.expect("short again");
    let long = store.count_attempts(&keys(&["test:long"]), Duration::hours(1), later).await.expect("long again");
    assert_eq!(
        (short[0].attempts, long[0].attempts),
        (1, 2),
        "the running window was forgotten, or the ended one kept"
    );
}

pub async fn concurrent_attempts_are_each_counted_once(store: S) {
    const ATTEMPTS: usize = 40;
    let barrier = Arc::new(Barrier::new(ATTEMPTS));
    let now = Utc::now();
    let tasks: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .count_attempts(&keys(&["test:burst:subject", "test:burst:addr"]), Duration::minutes(15), now)
                    .await
            })
        })
        .collect();
    let (mut subject, mut addr) = (Vec::new(), Vec::new());
    for task in tasks {
        let counts = task.await.expect("task").expect("count");
        subject.push(counts[0].attempts);
        addr.push(counts[1].attempts);
    }
    subject.sort_unstable();
    addr.sort_unstable();
    let expected: Vec<i64> = (1..=ATTEMPTS as i64).collect();
    assert_eq!(subject, expected, "two attempts got the same count, or one was lost");
    assert_eq!(addr, expected, "two attempts got the same count, or one was lost");
}
