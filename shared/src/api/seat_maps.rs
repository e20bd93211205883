//! Seat maps kept in memory between changes, so polling a busy event's map (and revalidating it
//! with `If-None-Match`) does not cost a store query per request.
//!
//! A map is served from memory for at most `MAX_AGE`. Every write this process makes to an
//! event's seats (hold, cancel, confirm, event change) drops that event's map at once, so one
//! process always answers what its own writes did. Writes made by another process (another
//! Lambda instance, another server on the same database) and holds that lapse on their own show
//! within `MAX_AGE`. The store stays the only referee of who gets a seat: a stale map can only
//! make a seat look taken or free for that long, never sell it twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::SeatState;

/// How long a map may be served without asking the store again.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Above this many bytes of cached bodies, older maps are dropped (a 2,000-seat map is ~200 KB).
const MAX_CACHED_BYTES: usize = 8 * 1024 * 1024;

/// One encoded seat map and its validator, the same map's live states (`/seat-states`, see
/// `domain::encode_seat_states`) encoded once with it, and the seats themselves (what best
/// available chooses from, without decoding the body again).
#[derive(Clone)]
pub struct CachedSeatMap {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub states: CachedStates,
    pub seats: Arc<[SeatState]>,
    fetched: Instant,
}

/// The live states' body as sent (JSON), gzipped for clients that accept it, and their validators
/// (one per encoding, as a strong validator must be).
#[derive(Clone)]
pub struct CachedStates {
    pub plain: Bytes,
    pub etag: HeaderValue,
    pub gzipped: Bytes,
    pub gzipped_etag: HeaderValue,
}

impl CachedSeatMap {
    /// The map's JSON body and its states' JSON body, as `/seats` and `/seat-states` send them,
    /// and the seats they encode.
    pub fn new(body: Bytes, states: Bytes, seats: Arc<[SeatState]>) -> Self {
        let etag = etag_of(&body);
        let gzipped = Bytes::from(crate::gzip::compress(&states));
        let states =
            CachedStates { etag: etag_of(&states), gzipped_etag: tagged(&states, "-gzip"), plain: states, gzipped };
        Self { body, etag, states, seats, fetched: Instant::now() }
    }

    fn is_fresh(&self, now: Instant) -> bool {
        now.duration_since(self.fetched) < MAX_AGE
    }

    /// The bytes this entry keeps, for the cache's budget.
    fn size(&self) -> usize {
        // A seat's strings (row, tier) are short: a few dozen bytes beside the struct.
        let seats = self.seats.len() * (std::mem::size_of::<SeatState>() + 32);
        self.body.len() + self.states.plain.len() + self.states.gzipped.len() + seats
    }
}

/// A strong validator: the first 128 bits of the body's SHA-256, quoted.
fn etag_of(body: &[u8]) -> HeaderValue {
    tagged(body, "")
}

/// `etag_of` with `suffix` after the digest: the validator of another encoding of the same body.
fn tagged(body: &[u8], suffix: &str) -> HeaderValue {
    let digest = Sha256::digest(body);
    HeaderValue::from_str(&format!("\"{}{suffix}\"", crate::hex::encode(&digest[..16])))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

#[derive(Default)]
struct Entries {
    maps: HashMap<Uuid, CachedSeatMap>,
    bytes: usize,
    /// Bumped by every invalidation: a map read from the store before an invalidation that
    /// happened while it was being read must not be cached (it may predate the write).
    generation: u64,
}

/// How many events may have their map read from the store at the same moment (striped by id).
const REFRESH_STRIPES: usize = 64;

/// The per-process seat-map cache shared by every request.
pub struct SeatMapCache {
    entries: Mutex<Entries>,
    /// When a map lapses, the requests that miss it line up here, so one of them reads the
    /// store and the others take its answer, instead of all reading the same map at once.
    refreshing: Vec<tokio::sync::Mutex<()>>,
}

impl Default for SeatMapCache {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            refreshing: (0..REFRESH_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl SeatMapCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves plain data behind; the cache stays usable.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The event's map, when one fresh enough is cached.
    pub fn get(&self, event_id: Uuid) -> Option<CachedSeatMap> {
        let entries = self.lock();
        entries.maps.get(&event_id).filter(|map| map.is_fresh(Instant::now())).cloned()
    }

    /// The right to read this event's map from the store: taken by one request at a time, which
    /// then checks `get` again (the request before it may have just read the map).
    pub async fn refresh_turn(&self, event_id: Uuid) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = (event_id.as_u128() % REFRESH_STRIPES as u128) as usize;
        self.refreshing[stripe].lock().await
    }

    /// Call before reading a map from the store; hand the value back to `put`.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps a map read from the store, unless a write invalidated maps since `generation`.
    pub fn put(&self, event_id: Uuid, map: CachedSeatMap, generation: u64) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.bytes + map.size() > MAX_CACHED_BYTES {
            let now = Instant::now();
            entries.maps.retain(|_, cached| cached.is_fresh(now));
            if entries.bytes_of_maps() + map.size() > MAX_CACHED_BYTES {
                entries.maps.clear();
            }
            entries.bytes = entries.bytes_of_maps();
        }
        entries.bytes += map.size();
        if let Some(old) = entries.maps.insert(event_id, map) {
            entries.bytes -= old.size();
        }
    }

    /// Forgets one event's map: its seats just changed through this process.
    pub fn invalidate(&self, event_id: Uuid) {
        let mut entries = self.lock();
        entries.generation += 1;
        if let Some(old) = entries.maps.remove(&event_id) {
            entries.bytes -= old.size();
        }
    }

    /// Forgets every map (a change whose event is not at hand, such as a payment's confirmation).
    pub fn invalidate_all(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.maps.clear();
        entries.bytes = 0;
    }
}

impl Entries {
    fn bytes_of_maps(&self) -> usize {
        self.maps.values().map(CachedSeatMap::size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> CachedSeatMap {
        CachedSeatMap::new(Bytes::from(text.to_owned()), Bytes::from_static(b"{}"), Arc::from(Vec::new()))
    }

    #[test]
    fn a_cached_map_is_served_until_its_event_is_invalidated() {
        let cache = SeatMapCache::default();
        let (event, other) = (Uuid::new_v4(), Uuid::new_v4());
        cache.put(event, map("[1]"), cache.generation());
        cache.put(other, map("[2]"), cache.generation());
        assert_eq!(cache.get(event).map(|m| m.body), Some(Bytes::from("[1]")));
        cache.invalidate(event);
        assert!(cache.get(event).is_none());
        assert!(cache.get(other).is_some(), "another event's map stays");
        cache.invalidate_all();
        assert!(cache.get(other).is_none());
    }

    #[test]
    fn a_map_read_before_an_invalidation_is_not_kept() {
        let cache = SeatMapCache::default();
        let event = Uuid::new_v4();
        let before = cache.generation();
        cache.invalidate(event); // a hold committed while the map was being read
        cache.put(event, map("[stale]"), before);
        assert!(cache.get(event).is_none());
    }

    #[test]
    fn the_etag_names_the_body() {
        assert_eq!(map("[1]").etag, map("[1]").etag);
        assert_ne!(map("[1]").etag, map("[2]").etag);
        let states = |text: &'static str| {
            CachedSeatMap::new(Bytes::new(), Bytes::from_static(text.as_bytes()), Arc::from(Vec::new())).states
        };
        assert_eq!(states("a").etag, states("a").etag);
        assert_ne!(states("a").etag, states("h").etag);
        assert_ne!(states("a").etag, states("a").gzipped_etag, "each encoding has its own validator");
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget() {
        let cache = SeatMapCache::default();
        let big = "x".repeat(MAX_CACHED_BYTES / 3);
        for _ in 0..10 {
            cache.put(Uuid::new_v4(), map(&big), cache.generation());
        }
        let entries = cache.lock();
        assert!(entries.bytes <= MAX_CACHED_BYTES);
        assert_eq!(entries.bytes, entries.bytes_of_maps());
    }
}
