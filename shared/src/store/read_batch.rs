//! Reads by key that arrive together are answered by one query. Every authenticated request reads
//! its account (so disabling it takes effect at once); under load those reads were most of the
//! database's statements. A few workers each take whatever keys are waiting (up to `MAX_KEYS`) and
//! read them in one round trip. Each read still starts after its request arrived, so it sees every
//! write committed before that: nothing is cached. Under light load a batch is one key.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{StoreError, StoreResult};

/// The most keys one query asks for.
pub const MAX_KEYS: usize = 64;
/// How many workers a SQL backend runs to read accounts (each request's bearer check), one query
/// per batch each.
pub const USER_READ_WORKERS: usize = 2;

/// A backend's way of reading several keys in one query.
#[async_trait]
pub trait BatchedRead: Send + Sync + 'static {
    type Key: Copy + Eq + Hash + Send + Sync + 'static;
    type Value: Clone + Send + 'static;

    /// The values of the keys that exist; a missing key is simply absent. Keys are distinct.
    async fn read_batch(&self, keys: &[Self::Key]) -> StoreResult<HashMap<Self::Key, Self::Value>>;
}

type Reply<V> = oneshot::Sender<StoreResult<Option<V>>>;
/// One waiting read: its key and where its answer goes.
type Waiting<R> = (<R as BatchedRead>::Key, Reply<<R as BatchedRead>::Value>);

/// The queue in front of the read workers. Dropping it stops them once the queue is drained.
pub struct ReadQueue<R: BatchedRead> {
    sender: mpsc::Sender<Waiting<R>>,
}

impl<R: BatchedRead> ReadQueue<R> {
    /// Starts `workers` read workers on the current Tokio runtime.
    pub fn start(reads: R, workers: usize) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_KEYS * workers.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let reads = Arc::new(reads);
        for _ in 0..workers.max(1) {
            tokio::spawn(work(Arc::clone(&reads), Arc::clone(&receiver)));
        }
        Self { sender }
    }

    /// Reads one key through the next batch.
    pub async fn read(&self, key: R::Key) -> StoreResult<Option<R::Value>> {
        let (reply, answer) = oneshot::channel();
        if self.sender.send((key, reply)).await.is_err() {
            return Err(StoreError::Unavailable("the read workers have stopped".into()));
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Unavailable("a read worker stopped".into())))
    }
}

async fn work<R: BatchedRead>(reads: Arc<R>, receiver: Arc<Mutex<mpsc::Receiver<Waiting<R>>>>) {
    loop {
        let mut waiting = Vec::new();
        {
            // The worker that waits for new reads keeps the receiver while it waits, then takes
            // what else is queued; the others wait for the receiver meanwhile.
            let mut receiver = receiver.lock().await;
            match receiver.recv().await {
                Some(read) => waiting.push(read),
                None => return,
            }
            while waiting.len() < MAX_KEYS {
                match receiver.try_recv() {
                    Ok(read) => waiting.push(read),
                    Err(_) => break,
                }
            }
        }
        let mut keys: Vec<R::Key> = waiting.iter().map(|(key, _)| *key).collect();
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        keys.retain(|key| seen.insert(*key));
        let found = reads.read_batch(&keys).await;
        for (key, reply) in waiting {
            // A caller that went away needs no answer.
            let _ = reply.send(match &found {
                Ok(values) => Ok(values.get(&key).cloned()),
                Err(err) => Err(err.clone()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Squares of even numbers; odd ones do not exist. Counts its queries.
    struct Squares {
        queries: Arc<AtomicUsize>,
        fail: bool,
    }

    #[async_trait]
    impl BatchedRead for Squares {
        type Key = u32;
        type Value = u64;

        async fn read_batch(&self, keys: &[u32]) -> StoreResult<HashMap<u32, u64>> {
            self.queries.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if self.fail {
                return Err(StoreError::Unavailable("down".into()));
            }
            Ok(keys.iter().filter(|k| *k % 2 == 0).map(|k| (*k, u64::from(*k) * u64::from(*k))).collect())
        }
    }

    #[tokio::test]
    async fn concurrent_reads_share_queries_and_each_gets_its_own_value() {
        let queries = Arc::new(AtomicUsize::new(0));
        let queue = Arc::new(ReadQueue::start(Squares { queries: queries.clone(), fail: false }, 1));
        let reads: Vec<_> = (0..40u32)
            .map(|k| {
                let queue = queue.clone();
                tokio::spawn(async move { (k % 10, queue.read(k % 10).await) })
            })
            .collect();
        for read in reads {
            let (key, value) = read.await.unwrap();
            let expected = (key % 2 == 0).then(|| u64::from(key) * u64::from(key));
            assert_eq!(value.unwrap(), expected, "key {key}");
        }
        let queries = queries.load(Ordering::SeqCst);
        assert!(queries < 40, "40 concurrent reads took {queries} queries");
    }

    #[tokio::test]
    async fn a_failed_query_fails_every_read_in_its_batch() {
        let queue = ReadQueue::start(Squares { queries: Arc::default(), fail: true }, 2);
        assert!(matches!(queue.read(2).await, Err(StoreError::Unavailable(_))));
    }
}
