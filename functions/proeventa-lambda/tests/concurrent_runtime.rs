//! The function's real runtime, `run_concurrent`, in its own process against a local Runtime API
//! stand-in (`common::runtime_api`), as on Lambda Managed Instances with
//! `AWS_LAMBDA_MAX_CONCURRENCY=8`: eight workers poll at once, eight holds sent together are each
//! answered with their own seat and request id, and two holds of one seat in flight at once give
//! exactly one winner; without the variable (classic Lambda) one worker polls and answers.
//!
//! Its own `main` (no test harness): the function's process is this executable started again
//! (`common::start_function`).

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::runtime_api::{Answer, RuntimeApi};
use common::{
    body_json, buyers, event_with_seats, header, reserve_event, run_as_function_if_asked, start_function, status,
    test_state,
};
use proeventa_core::domain::SeatStatus;
use proeventa_lambda::Group;
use serde_json::Value;

/// How long a started function may take to poll: a deadline for giving up, never a measurement.
const POLLING_WITHIN: Duration = Duration::from_secs(60);

fn main() {
    run_as_function_if_asked();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    check(&runtime, "eight_concurrent_invocations_are_each_answered_by_their_own_request", eight_at_once());
    check(&runtime, "two_holds_of_one_seat_in_flight_at_once_give_exactly_one_winner", one_winner());
    check(&runtime, "without_max_concurrency_one_worker_polls_as_on_classic_lambda", classic());
}

fn check(runtime: &tokio::runtime::Runtime, name: &str, test: impl Future<Output = ()>) {
    print!("test {name} ... ");
    runtime.block_on(test);
    println!("ok");
}

async fn wait_for_polls(api: &RuntimeApi, polls: usize) {
    let started = Instant::now();
    while api.polling() < polls {
        assert!(api.init_errors().is_empty(), "the function failed to start: {:?}", api.init_errors());
        assert!(started.elapsed() < POLLING_WITHIN, "{} of {polls} workers poll", api.polling());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn response(answer: &Answer) -> Value {
    match answer {
        Answer::Response(body) => serde_json::from_slice(body).expect("an API Gateway response"),
        Answer::Error(body) => panic!("the handler failed: {}", String::from_utf8_lossy(body)),
    }
}

async fn eight_at_once() {
    let t = test_state().await;
    let (event, seats) = event_with_seats(&t.state.store, 8).await;
    let buyers = buyers(&t.state, 8).await;
    let api = RuntimeApi::start().await;
    let _function = start_function(Group::Reservations, &api, &t.database_url, Some(8), &[]);
    wait_for_polls(&api, 8).await;

    let holds =
        buyers.iter().zip(&seats).map(|((_, token), seat)| api.invoke_owned(reserve_event(token, event.id, *seat)));
    let answers = futures_join_all(holds).await;
    for (((user, _), seat), (request_id, answer)) in buyers.iter().zip(&seats).zip(&answers) {
        let response = response(answer);
        assert_eq!(status(&response), 201, "{response}");
        let hold = body_json(&response);
        assert_eq!(hold["seat_id"], seat.to_string(), "{hold}");
        assert_eq!(hold["user_id"], user.id.to_string(), "{hold}");
        assert_eq!(header(&response, "x-request-id"), Some(request_id.as_str()), "the answer is its own invocation's");
    }
    // Every worker is back polling once the eight are answered.
    wait_for_polls(&api, 8).await;
}

async fn one_winner() {
    let t = test_state().await;
    let rounds = 6;
    let (event, seats) = event_with_seats(&t.state.store, rounds).await;
    let buyers = buyers(&t.state, 2).await;
    let api = RuntimeApi::start().await;
    let _function = start_function(Group::Reservations, &api, &t.database_url, Some(8), &[]);
    wait_for_polls(&api, 8).await;

    for seat in &seats {
        let first = api.invoke_owned(reserve_event(&buyers[0].1, event.id, *seat));
        let second = api.invoke_owned(reserve_event(&buyers[1].1, event.id, *seat));
        let (first, second) = tokio::join!(first, second);
        let mut statuses: Vec<u64> = [&first.1, &second.1].into_iter().map(|a| status(&response(a))).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "seat {seat}: one hold wins, the other finds it taken");
        let loser = if status(&response(&first.1)) == 409 { &first.1 } else { &second.1 };
        assert_eq!(body_json(&response(loser))["error"], "seat_unavailable");
    }
    let map = t.state.store.seat_map(event.id, chrono::Utc::now()).await.expect("the seat map").expect("the event");
    let free = map.iter().filter(|s| s.status == SeatStatus::Available).count();
    assert_eq!(free, 0, "each seat is held, once: {map:?}");
}

async fn classic() {
    let t = test_state().await;
    let (event, seats) = event_with_seats(&t.state.store, 2).await;
    let buyers = buyers(&t.state, 1).await;
    let api = RuntimeApi::start().await;
    let _function = start_function(Group::Reservations, &api, &t.database_url, None, &[]);
    wait_for_polls(&api, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(api.polling(), 1, "one worker without AWS_LAMBDA_MAX_CONCURRENCY");
    let holds = seats.iter().map(|seat| api.invoke_owned(reserve_event(&buyers[0].1, event.id, *seat)));
    for (_, answer) in futures_join_all(holds).await {
        assert_eq!(status(&response(&answer)), 201);
    }
}

/// Runs the futures at once and gives their outputs in order.
async fn futures_join_all<F: Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("an invocation"));
    }
    outputs
}
