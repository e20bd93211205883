//! Writes that arrive together are committed together: a few workers each take whatever requests
//! are waiting (up to `MAX_BATCH`) and hand them to the backend as one transaction or one
//! statement, in which the store itself still decides every request (a unique index, a
//! conditional write). Under light load a batch is one request and nothing waits; under a spike
//! one commit covers many. Holds (`hold_batch`) and the door's check-ins (`checkin_batch`) go
//! through it on the SQL backends.
//!
//! While another batch is being committed, a worker with a small batch waits `GATHER` for more
//! requests before it starts: the store is busy anyway, and one statement for more requests costs
//! it less than several (measured for holds on PostgreSQL at 64 clients, three runs each: 8,765-9,173
//! holds/s and p99 11.1-11.5 ms with 0.5 ms, 7,604-8,590 and 13.1-14.7 ms without, 7,207-8,228
//! with 1 ms). Check-ins use the same constants, not tuned apart: with them, 64 gates scanning on
//! this 2-core machine made batches of 14 scans on SQLite and 21 on PostgreSQL on average (a scan's
//! batch held 24-33 at the median). Under light load no other batch is in flight, so nothing waits.
//!
//! Each request names its conflict keys, and two requests that share one never share a batch (the
//! later one waits for the next): two holds of one seat, two holds of one user for one event, two
//! scans of one ticket. So a request is only ever refused because of a request committed before,
//! or committing at the same time in another worker's batch, never because of one beside it.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::StoreError;

/// The most requests one batch takes.
pub const MAX_BATCH: usize = 64;
/// How long a worker waits for more requests while another batch is in flight (Tokio's timer
/// rounds it up to its next millisecond tick, so this is 0.5 to 1.5 ms).
const GATHER: std::time::Duration = std::time::Duration::from_micros(500);
/// A batch at least this big starts at once.
const GATHERED_ENOUGH: usize = MAX_BATCH / 2;

/// A request that may share a batch with any other that names none of its conflict keys.
pub trait Batched: Send + Sync + 'static {
    type Key: Eq + Hash + Send;

    /// The queue's name in the metrics (`proeventa_batch_size{queue}`, `crate::metrics`).
    const QUEUE: &'static str = "other";

    /// What no two requests of one batch may share.
    fn conflict_keys(&self) -> impl Iterator<Item = Self::Key> + '_;
}

/// A backend's way of committing several requests at once.
#[async_trait]
pub trait Batches: Send + Sync + 'static {
    type Request: Batched;
    type Outcome: Send + 'static;

    /// One outcome per request, in order. No two requests share a conflict key.
    async fn commit(&self, batch: &[Self::Request]) -> Vec<Self::Outcome>;

    /// The outcome of a request no batch will take: the workers have stopped.
    fn stopped(why: StoreError) -> Self::Outcome;
}

struct Job<R, O> {
    request: R,
    reply: oneshot::Sender<Committed<O>>,
}

/// A batch's answer to one request, with when its batch started committing and how big it was, so
/// the caller can log its queueing and committing apart.
struct Committed<O> {
    outcome: O,
    committing_since: Instant,
    batch_size: usize,
}

/// The queue in front of the batch workers. Dropping it stops them once the queue is drained.
pub struct BatchQueue<R, O> {
    sender: mpsc::Sender<Job<R, O>>,
    stopped: fn(StoreError) -> O,
}

impl<R: Batched, O: Send + 'static> BatchQueue<R, O> {
    /// Starts `workers` batch workers on the current Tokio runtime.
    pub fn start<B: Batches<Request = R, Outcome = O>>(batches: B, workers: usize) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * workers.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let batches = Arc::new(batches);
        let in_flight = Arc::new(AtomicUsize::new(0));
        for _ in 0..workers.max(1) {
            tokio::spawn(work(Arc::clone(&batches), Arc::clone(&receiver), Arc::clone(&in_flight)));
        }
        Self { sender, stopped: B::stopped }
    }

    /// Commits one request through the next batch and waits for the commit that covers it. At
    /// debug level it logs, in the request's span, how long the request waited for a batch, how
    /// long that batch took to commit and how big it was: a slow request shows which it was.
    pub async fn submit(&self, request: R) -> O {
        let asked = Instant::now();
        let (reply, answer) = oneshot::channel();
        if self.sender.send(Job { request, reply }).await.is_err() {
            return (self.stopped)(StoreError::Unavailable("the batch workers have stopped".into()));
        }
        match answer.await {
            Ok(Committed { outcome, committing_since, batch_size }) => {
                crate::metrics::batch_waited(R::QUEUE, committing_since.saturating_duration_since(asked));
                tracing::debug!(
                    queued_us = committing_since.saturating_duration_since(asked).as_micros() as u64,
                    committing_us = committing_since.elapsed().as_micros() as u64,
                    batch_size,
                    "batch answered"
                );
                outcome
            }
            Err(_) => (self.stopped)(StoreError::Unavailable("a batch worker stopped".into())),
        }
    }
}

type Receiver<B> = Arc<Mutex<mpsc::Receiver<Job<<B as Batches>::Request, <B as Batches>::Outcome>>>>;

async fn work<B: Batches>(batches: Arc<B>, receiver: Receiver<B>, in_flight: Arc<AtomicUsize>) {
    // Requests this worker put off because an earlier request of its batch shared a key with them.
    let mut carried: VecDeque<Job<B::Request, B::Outcome>> = VecDeque::new();
    loop {
        let mut waiting: Vec<_> = carried.drain(..).collect();
        // The worker that waits for new requests keeps the receiver while it waits. One that still
        // has put-off requests must not queue behind it (they would wait for a request that may
        // never come): it only tops its batch up when the receiver is free.
        let taken = if waiting.is_empty() { Some(receiver.lock().await) } else { receiver.try_lock().ok() };
        if let Some(mut receiver) = taken {
            if waiting.is_empty() {
                match receiver.recv().await {
                    Some(job) => waiting.push(job),
                    None => return,
                }
            }
            take_waiting(&mut receiver, &mut waiting);
            if waiting.len() < GATHERED_ENOUGH && in_flight.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(GATHER).await;
                take_waiting(&mut receiver, &mut waiting);
            }
        }
        let mut keys = HashSet::new();
        let (mut requests, mut replies) = (Vec::with_capacity(waiting.len()), Vec::with_capacity(waiting.len()));
        for job in waiting {
            if job.request.conflict_keys().any(|key| keys.contains(&key)) {
                carried.push_back(job);
                continue;
            }
            keys.extend(job.request.conflict_keys());
            requests.push(job.request);
            replies.push(job.reply);
        }
        in_flight.fetch_add(1, Ordering::AcqRel);
        let committing_since = Instant::now();
        let outcomes = batches.commit(&requests).await;
        in_flight.fetch_sub(1, Ordering::AcqRel);
        let batch_size = requests.len();
        crate::metrics::batch_committed(B::Request::QUEUE, batch_size);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A caller that went away needs no answer (a hold it placed lapses).
            let _ = reply.send(Committed { outcome, committing_since, batch_size });
        }
    }
}

/// Moves the requests queued now into `waiting`, up to `MAX_BATCH`.
fn take_waiting<R, O>(receiver: &mut mpsc::Receiver<Job<R, O>>, waiting: &mut Vec<Job<R, O>>) {
    while waiting.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => waiting.push(job),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! A queue in front of a scripted backend: the test receives each batch as a worker hands it
    //! over and decides when and how it ends, so what shares a batch is shown without timing
    //! anything. One worker makes it exact: a batch is whatever was queued while the previous one
    //! was being committed. The hold and check-in tests use it with their own requests.

    use super::*;

    /// How the test ends a batch.
    pub enum Verdict {
        /// Every request of the batch is committed.
        Commit,
        /// The batch failed as a backend reports it: every request of it gets the error.
        Fail,
    }

    /// What the scripted backend answers: the request itself once committed.
    pub type Echo<R> = Result<R, StoreError>;

    /// A batch as the backend received it, waiting for the test's verdict.
    pub struct Batch<R> {
        pub requests: Vec<R>,
        verdict: oneshot::Sender<Verdict>,
    }

    impl<R> Batch<R> {
        pub fn end(self, verdict: Verdict) {
            let _ = self.verdict.send(verdict);
        }
    }

    /// Hands every batch to the test and answers as the test decides.
    struct ScriptedBatches<R> {
        batches: mpsc::UnboundedSender<Batch<R>>,
    }

    #[async_trait]
    impl<R: Batched + Clone> Batches for ScriptedBatches<R> {
        type Request = R;
        type Outcome = Echo<R>;

        async fn commit(&self, batch: &[R]) -> Vec<Echo<R>> {
            let (verdict, decided) = oneshot::channel();
            let requests = batch.to_vec();
            self.batches.send(Batch { requests, verdict }).unwrap_or_else(|_| panic!("the test stopped listening"));
            match decided.await {
                Ok(Verdict::Commit) => batch.iter().cloned().map(Ok).collect(),
                Ok(Verdict::Fail) | Err(_) => {
                    batch.iter().map(|_| Err(StoreError::Unavailable("the store is gone".into()))).collect()
                }
            }
        }

        fn stopped(why: StoreError) -> Echo<R> {
            Err(why)
        }
    }

    /// A queue with `workers` workers in front of a `ScriptedBatches`, and the batches it hands over.
    pub struct Harness<R> {
        queue: Arc<BatchQueue<R, Echo<R>>>,
        batches: mpsc::UnboundedReceiver<Batch<R>>,
    }

    impl<R: Batched + Clone> Harness<R> {
        pub fn start(workers: usize) -> Self {
            let (sender, batches) = mpsc::unbounded_channel();
            Self { queue: Arc::new(BatchQueue::start(ScriptedBatches { batches: sender }, workers)), batches }
        }

        /// Submits a request from its own task (as a request handler does); its outcome once answered.
        pub fn submit(&self, request: &R) -> tokio::task::JoinHandle<Echo<R>> {
            let (queue, request) = (Arc::clone(&self.queue), request.clone());
            tokio::spawn(async move { queue.submit(request).await })
        }

        /// Submits a request while every worker is busy, and returns once it waits in the queue, so
        /// requests queue in the order they are submitted.
        pub async fn submit_queued(&self, request: &R) -> tokio::task::JoinHandle<Echo<R>> {
            let before = self.queued();
            let outcome = self.submit(request);
            while self.queued() == before {
                tokio::task::yield_now().await;
            }
            outcome
        }

        /// Requests waiting in the queue, not yet taken by a worker.
        fn queued(&self) -> usize {
            self.queue.sender.max_capacity() - self.queue.sender.capacity()
        }

        pub async fn next_batch(&mut self) -> Batch<R> {
            self.batches.recv().await.expect("a worker hands over another batch")
        }
    }

    /// The committed request an outcome carries; panics on any other outcome.
    pub async fn committed<R>(outcome: tokio::task::JoinHandle<Echo<R>>) -> R {
        match outcome.await.expect("the submitting task") {
            Ok(request) => request,
            Err(err) => panic!("expected the request to be committed, it failed: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Harness, Verdict, committed};
    use super::*;

    /// A request keyed by its `key`, told apart by its `id`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Keyed {
        id: usize,
        key: u32,
    }

    impl Batched for Keyed {
        type Key = u32;

        fn conflict_keys(&self) -> impl Iterator<Item = u32> + '_ {
            std::iter::once(self.key)
        }
    }

    fn ids(batch: &[Keyed]) -> Vec<usize> {
        batch.iter().map(|request| request.id).collect()
    }

    #[tokio::test]
    async fn requests_arriving_together_are_committed_together_up_to_max_batch() {
        let mut harness = Harness::start(1);
        let first = Keyed { id: 0, key: 0 };
        let first_outcome = harness.submit(&first);
        let first_batch = harness.next_batch().await;
        assert_eq!(ids(&first_batch.requests), [0], "alone, a request does not wait for company");

        // A spike: more requests with distinct keys arrive than one batch takes.
        let spike: Vec<Keyed> = (1..=MAX_BATCH + 6).map(|i| Keyed { id: i, key: i as u32 }).collect();
        let mut outcomes = Vec::new();
        for request in &spike {
            outcomes.push(harness.submit_queued(request).await);
        }
        first_batch.end(Verdict::Commit);

        let full = harness.next_batch().await;
        assert_eq!(full.requests, spike[..MAX_BATCH]);
        full.end(Verdict::Commit);
        let rest = harness.next_batch().await;
        assert_eq!(rest.requests, spike[MAX_BATCH..]);
        rest.end(Verdict::Commit);

        assert_eq!(committed(first_outcome).await, first);
        for (outcome, request) in outcomes.into_iter().zip(&spike) {
            assert_eq!(&committed(outcome).await, request, "each caller gets its own outcome");
        }
    }

    #[tokio::test]
    async fn two_requests_sharing_a_key_never_share_a_batch() {
        let mut harness = Harness::start(1);
        let first = Keyed { id: 0, key: 9 };
        let first_outcome = harness.submit(&first);
        let first_batch = harness.next_batch().await;

        // 1, 3 and 4 share key 1: each waits for the batch after the previous one's.
        let queued = [(1, 1), (2, 2), (3, 1), (4, 1), (5, 3)].map(|(id, key)| Keyed { id, key });
        let mut outcomes = Vec::new();
        for request in &queued {
            outcomes.push(harness.submit_queued(request).await);
        }
        first_batch.end(Verdict::Commit);
        for expected in [vec![1, 2, 5], vec![3], vec![4]] {
            let batch = harness.next_batch().await;
            assert_eq!(ids(&batch.requests), expected);
            batch.end(Verdict::Commit);
        }

        assert_eq!(committed(first_outcome).await, first);
        for (outcome, request) in outcomes.into_iter().zip(&queued) {
            assert_eq!(&committed(outcome).await, request);
        }
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_request_in_it_and_no_other() {
        let mut harness = Harness::start(1);
        let first = Keyed { id: 0, key: 0 };
        let first_outcome = harness.submit(&first);
        let first_batch = harness.next_batch().await;

        let doomed = [1, 2, 3].map(|id| Keyed { id, key: id as u32 });
        let mut doomed_outcomes = Vec::new();
        for request in &doomed {
            doomed_outcomes.push(harness.submit_queued(request).await);
        }
        first_batch.end(Verdict::Commit);
        let failing = harness.next_batch().await;
        assert_eq!(failing.requests, doomed);
        failing.end(Verdict::Fail);
        for outcome in doomed_outcomes {
            match outcome.await.expect("the submitting task") {
                Err(StoreError::Unavailable(_)) => {}
                Err(other) => panic!("a request of the failed batch failed otherwise: {other}"),
                Ok(request) => panic!("request {} of the failed batch did not fail", request.id),
            }
        }

        // The requests before and after it are untouched by the failure.
        assert_eq!(committed(first_outcome).await, first);
        let after = Keyed { id: 4, key: 1 };
        let after_outcome = harness.submit(&after);
        let after_batch = harness.next_batch().await;
        assert_eq!(after_batch.requests, std::slice::from_ref(&after));
        after_batch.end(Verdict::Commit);
        assert_eq!(committed(after_outcome).await, after);
    }

    #[tokio::test]
    async fn a_request_after_the_workers_stopped_is_told_so() {
        struct Stopping;

        #[async_trait]
        impl Batches for Stopping {
            type Request = Keyed;
            type Outcome = Result<(), StoreError>;

            async fn commit(&self, _: &[Keyed]) -> Vec<Result<(), StoreError>> {
                panic!("the worker stops while committing")
            }

            fn stopped(why: StoreError) -> Result<(), StoreError> {
                Err(why)
            }
        }

        let queue = BatchQueue::start(Stopping, 1);
        assert!(matches!(queue.submit(Keyed { id: 0, key: 0 }).await, Err(StoreError::Unavailable(_))));
        assert!(matches!(queue.submit(Keyed { id: 1, key: 0 }).await, Err(StoreError::Unavailable(_))));
    }
}
