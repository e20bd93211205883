//! The waiting room's values (issue 20): a buyer's place in an event's queue as the store keeps
//! it, what a join asks for, and the pace at which places are let through.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::QueueSettings;

/// What the queue reads of its event: the sale's opening and the waiting room's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedEvent {
    pub on_sale_at: Option<DateTime<Utc>>,
    pub queue: Option<QueueSettings>,
}

impl QueuedEvent {
    /// When the sale opened, as of `now` (`now` itself for an event on sale at once); `None` before.
    pub fn opened_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.on_sale_at {
            Some(opens) if opens > now => None,
            Some(opens) => Some(opens),
            None => Some(now),
        }
    }

    /// The pace the queue is drawn with (a minute's default when it has no settings yet: the
    /// first advance with settings uses theirs).
    pub fn admit_per_minute(&self) -> u32 {
        self.queue.map_or(60, |q| q.admit_per_minute)
    }

    /// The settings of a waiting room that is on and has opened by `now`: what an advance needs.
    pub fn admitting(&self, now: DateTime<Utc>) -> Option<QueueSettings> {
        QueueSettings::active(self.queue).filter(|_| self.opened_at(now).is_some())
    }
}

/// A request to join an event's queue. `draw` is the joiner's random draw: it orders everyone who
/// joins before the opening (`on_sale_at`) when their positions are given out at the opening. The
/// caller supplies it (a random number in production, a seeded sequence in tests), so the store
/// holds no randomness of its own and a test of fairness can be repeated exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueJoin {
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub draw: u64,
}

/// One account's place in an event's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePlace {
    pub event_id: Uuid,
    pub user_id: Uuid,
    /// 1-based; `None` until the opening for those who joined before it.
    pub position: Option<u64>,
    pub joined_at: DateTime<Utc>,
    /// When the buyer was let through to the seats, and when that session ends.
    pub admitted_at: Option<DateTime<Utc>>,
    pub session_ends_at: Option<DateTime<Utc>>,
    /// When the buyer was done (paid, or left the queue); a finished place counts as active no more.
    pub finished_at: Option<DateTime<Utc>>,
    /// The queue's admission frontier when this was read: every position up to it has had its turn.
    pub admitted_through: u64,
}

impl QueuePlace {
    /// How many places are ahead of this one and not yet let through; `None` before the opening.
    pub fn ahead(&self) -> Option<u64> {
        self.position.map(|p| p.saturating_sub(self.admitted_through).saturating_sub(1))
    }

    /// Admitted, not done, and the session still running at `now`: one of the event's active buyers.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.admitted_at.is_some() && self.finished_at.is_none() && self.session_ends_at.is_some_and(|end| end > now)
    }
}

/// An event's queue at a glance, for its organiser: how many joined, how many had their turn (let
/// through, or passed over having left before it), how many still wait, and how many buyers are
/// active (let through, not done, session running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub joined: u64,
    pub let_through: u64,
    pub waiting: u64,
    pub active: u64,
}

impl QueueStats {
    /// The same figures from the same three counts on every backend.
    pub fn new(joined: u64, let_through: u64, active: u64) -> Self {
        Self { joined, let_through, waiting: joined.saturating_sub(let_through), active }
    }
}

/// The admission pace of a queue: `admit_per_minute` turns per minute, credited continuously from
/// `paced_at` (the time up to which turns were used), at most one minute's worth at once, so a
/// queue that waited idle (or was held back by `max_active_buyers`) never lets a crowd through in
/// one go. Every backend computes it the same way, here; the store's own write then decides
/// whether the turns are taken (see `QueueStore::advance_queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePace {
    /// Turns available at `now`.
    pub turns: u64,
    /// Where the credit starts from (`paced_at`, or a minute ago when it is older).
    pub from: DateTime<Utc>,
    /// The time one turn takes, in milliseconds (at least 1).
    pub turn_ms: i64,
}

impl QueuePace {
    pub fn at(paced_at: DateTime<Utc>, now: DateTime<Utc>, admit_per_minute: u32) -> Self {
        let per_minute = i64::from(admit_per_minute.max(1));
        let from = paced_at.max(now - Duration::minutes(1));
        let elapsed_ms = (now - from).num_milliseconds().max(0);
        let turns = u64::try_from(elapsed_ms * per_minute / 60_000).unwrap_or(0);
        Self { turns, from, turn_ms: (60_000 / per_minute).max(1) }
    }

    /// The new `paced_at` once `used` turns were taken.
    pub fn after(&self, used: u64) -> DateTime<Utc> {
        self.from + Duration::milliseconds(self.turn_ms.saturating_mul(i64::try_from(used).unwrap_or(i64::MAX)))
    }
}

/// Where the pace of a queue starts: one turn before its opening (or before the moment it was
/// drawn, for an event without one), so the first buyer in line is let through at once.
pub fn queue_pace_start(opened_at: DateTime<Utc>, admit_per_minute: u32) -> DateTime<Utc> {
    opened_at - Duration::milliseconds((60_000 / i64::from(admit_per_minute.max(1))).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_credits_turns_continuously_and_at_most_a_minute() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let pace = QueuePace::at(t0, t0 + Duration::seconds(10), 60);
        assert_eq!(pace.turns, 10);
        assert_eq!(pace.after(4), t0 + Duration::seconds(4));
        let idle = QueuePace::at(t0, t0 + Duration::hours(1), 60);
        assert_eq!(idle.turns, 60, "an idle queue lets at most a minute's worth through at once");
        assert_eq!(QueuePace::at(t0, t0 + Duration::milliseconds(999), 60).turns, 0);
        assert_eq!(queue_pace_start(t0, 120), t0 - Duration::milliseconds(500));
    }

    #[test]
    fn ahead_counts_the_places_not_yet_let_through() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut place = QueuePlace {
            event_id: Uuid::nil(),
            user_id: Uuid::nil(),
            position: Some(10),
            joined_at: t0,
            admitted_at: None,
            session_ends_at: None,
            finished_at: None,
            admitted_through: 3,
        };
        assert_eq!(place.ahead(), Some(6));
        place.admitted_through = 12;
        assert_eq!(place.ahead(), Some(0));
        place.position = None;
        assert_eq!(place.ahead(), None);
    }
}
