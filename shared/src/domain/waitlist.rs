//! The waiting list of a sold-out event (issue 20): buyers ask for a number of seats (and perhaps a
//! tier), and seats that free up later become **offers**, held bookings of the next buyers on the
//! list, made by the store in the very transaction that freed them (a cancel, a refund, the
//! sweeper's lapse). Who gets which freed seats is decided here, once for every backend
//! (`plan_offers`); each store only reads the waiting entries, applies the plan and lets its seat
//! referee (unique index or conditional write) take each seat once.
//!
//! **Groups are not skipped forever.** Entries are served in the order they joined. An entry that
//! wants more seats than were freed together is passed over by the entries behind it, and each
//! time seats it would have taken go to someone behind it counts as one pass. After
//! `MAX_WAITLIST_PASSES` passes the list waits for it: seats it would take are offered to nobody
//! behind it (they go back on sale to everyone) until enough free up at once for it.
//!
//! **Offers keep the quota.** An offer is of the event's first ticket type, at its prices; when
//! that type has a quota, each offered seat takes one of its type slots like a held seat does, so
//! the plan is given the slots left (`room`) and an entry they do not cover stays waiting.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Invalid, wire_enum};

/// How often an entry may be passed over by entries behind it before the list waits for it.
pub const MAX_WAITLIST_PASSES: u32 = 3;
/// The most seats one entry may ask for (a booking's size).
pub const MAX_WAITLIST_SEATS: u8 = 10;
/// How many waiting entries, from the head of the list, one freeing transaction considers: the
/// entries behind them wait for the next one. It bounds a transaction's size (DynamoDB takes 100
/// items in one), and every backend applies it alike.
pub const WAITLIST_LOOKAHEAD: usize = 20;
/// How long an offer is held when `WAITLIST_OFFER_MINUTES` is unset.
pub const DEFAULT_WAITLIST_OFFER_MINUTES: i64 = 30;

/// How many seats, 1 to `MAX_WAITLIST_SEATS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitlistSeats(u8);

impl WaitlistSeats {
    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        match u8::try_from(raw) {
            Ok(seats) if (1..=MAX_WAITLIST_SEATS).contains(&seats) => Ok(Self(seats)),
            _ => Err(Invalid::new("seats", format!("must be 1 to {MAX_WAITLIST_SEATS}"))),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn count(self) -> usize {
        usize::from(self.0)
    }
}

/// What a buyer asks of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistJoin {
    pub id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub seats: WaitlistSeats,
    /// Seats of this tier only; `None`: any tier.
    pub tier: Option<String>,
    /// How long an offer to this entry is held (`WAITLIST_OFFER_MINUTES` when it joined): kept on
    /// the entry, so the cancel or sweep that makes the offer needs no setting of its own.
    pub offer_minutes: i64,
}

wire_enum! {
    /// Where an entry stands: `waiting` for seats, or `offered` seats (held for the buyer as its
    /// `booking_id`; paid, lapsed or canceled since, as that booking tells).
    WaitlistStatus { Waiting => "waiting", Offered => "offered" }
}

/// One account's entry on an event's waiting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
    pub seats: WaitlistSeats,
    pub tier: Option<String>,
    pub offer_minutes: i64,
    /// The order of joining: entries are served by it (unique per event, gaps allowed).
    pub seq: i64,
    /// Waiting entries ahead of this one when it was read (0 once offered).
    pub ahead: u64,
    pub status: WaitlistStatus,
    /// How often entries behind it were served with seats it wanted (see the module's doc).
    pub passes: u32,
    /// The offer's held booking.
    pub booking_id: Option<Uuid>,
    pub joined_at: DateTime<Utc>,
    pub offered_at: Option<DateTime<Utc>>,
}

impl WaitlistEntry {
    /// When an offer made at `now` to this entry lapses.
    pub fn offer_ends(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + chrono::Duration::minutes(self.offer_minutes)
    }

    /// 1-based place among the waiting entries; `None` once offered.
    pub fn position(&self) -> Option<u64> {
        (self.status == WaitlistStatus::Waiting).then_some(self.ahead + 1)
    }

    /// Whether a seat of `tier` is what this entry asked for.
    pub fn accepts(&self, tier: &str) -> bool {
        self.tier.as_deref().is_none_or(|wanted| wanted == tier)
    }
}

/// What a freeing transaction does with the seats it freed together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfferPlan {
    /// Per offer: the entry's index in the waiting entries given, and the indexes of its seats in
    /// the freed seats given (in their order).
    pub offers: Vec<(usize, Vec<usize>)>,
    /// The entries passed over (by index): their `passes` goes up by one.
    pub passed: Vec<usize>,
}

impl OfferPlan {
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty() && self.passed.is_empty()
    }
}

/// Decides which waiting entries (in the order they joined; the first `WAITLIST_LOOKAHEAD` of
/// them) get which of the seats freed together
/// (`tiers`, one per seat, in seat order): each entry in turn takes the first seats it accepts when
/// there are enough of them for it, and is passed over otherwise; an entry passed over
/// `MAX_WAITLIST_PASSES` times keeps the seats it accepts from everyone behind it. Seats no entry
/// takes stay free.
///
/// `room`: how many more seats the offered ticket type (the event's first) may take, when it has a
/// quota (its free type slots). Offers never take more: room is scarce like the freed seats, so an
/// entry wanting more seats than the room left is served no more than one wanting more seats than
/// were freed (it stays waiting, passed over when someone behind it is served instead).
pub fn plan_offers(waiting: &[WaitlistEntry], tiers: &[&str], room: Option<usize>) -> OfferPlan {
    let mut room = room.unwrap_or(usize::MAX);
    let mut free: Vec<bool> = vec![true; tiers.len()];
    let mut plan = OfferPlan::default();
    // Entries that wanted some of the free seats but too few were free for them.
    let mut short: Vec<usize> = Vec::new();
    for (index, entry) in waiting.iter().enumerate().take(WAITLIST_LOOKAHEAD) {
        if !free.contains(&true) || room == 0 {
            break;
        }
        let accepted: Vec<usize> = (0..tiers.len()).filter(|&seat| free[seat] && entry.accepts(tiers[seat])).collect();
        if accepted.is_empty() {
            continue;
        }
        if accepted.len() >= entry.seats.count() && room >= entry.seats.count() {
            room -= entry.seats.count();
            let taken: Vec<usize> = accepted.into_iter().take(entry.seats.count()).collect();
            for &seat in &taken {
                free[seat] = false;
            }
            // Those ahead that would have taken one of these seats are passed over by this offer.
            for &ahead in &short {
                if !plan.passed.contains(&ahead) && taken.iter().any(|&seat| waiting[ahead].accepts(tiers[seat])) {
                    plan.passed.push(ahead);
                }
            }
            plan.offers.push((index, taken));
        } else if entry.passes >= MAX_WAITLIST_PASSES {
            // The list waits for this entry: nobody behind it gets the seats it would take.
            for seat in accepted {
                free[seat] = false;
            }
        } else {
            short.push(index);
        }
    }
    plan.passed.sort_unstable();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seats: u8, tier: Option<&str>, passes: u32) -> WaitlistEntry {
        WaitlistEntry {
            id: Uuid::new_v4(),
            event_id: Uuid::nil(),
            user_id: Uuid::new_v4(),
            seats: WaitlistSeats::parse(i64::from(seats)).unwrap(),
            tier: tier.map(str::to_owned),
            offer_minutes: 30,
            seq: 0,
            ahead: 0,
            status: WaitlistStatus::Waiting,
            passes,
            booking_id: None,
            joined_at: DateTime::UNIX_EPOCH,
            offered_at: None,
        }
    }

    #[test]
    fn seats_are_one_to_ten() {
        assert!(WaitlistSeats::parse(0).is_err());
        assert!(WaitlistSeats::parse(11).is_err());
        assert!(WaitlistSeats::parse(-1).is_err());
        assert_eq!(WaitlistSeats::parse(10).unwrap().get(), 10);
    }

    #[test]
    fn entries_are_served_in_order_each_with_the_first_seats_it_accepts() {
        let waiting = [entry(1, None, 0), entry(2, None, 0), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["a", "a", "a"], None);
        assert_eq!(plan.offers, vec![(0, vec![0]), (1, vec![1, 2])]);
        assert!(plan.passed.is_empty());
    }

    #[test]
    fn a_group_too_big_for_the_freed_seats_is_passed_over_and_counted() {
        let waiting = [entry(3, None, 0), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["a"], None);
        assert_eq!(plan.offers, vec![(1, vec![0])]);
        assert_eq!(plan.passed, vec![0]);
    }

    #[test]
    fn a_group_passed_over_enough_keeps_its_seats_from_those_behind_it() {
        let waiting = [entry(3, None, MAX_WAITLIST_PASSES), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["a", "a"], None);
        assert!(plan.is_empty(), "{plan:?}");
        // Enough at once: the group is served.
        let plan = plan_offers(&waiting, &["a", "a", "a", "a"], None);
        assert_eq!(plan.offers, vec![(0, vec![0, 1, 2]), (1, vec![3])]);
    }

    #[test]
    fn a_tier_wish_takes_only_its_tier_and_is_not_passed_for_other_tiers() {
        let waiting = [entry(1, Some("vip"), 0), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["standard"], None);
        assert_eq!(plan.offers, vec![(1, vec![0])]);
        assert!(plan.passed.is_empty(), "a seat the entry does not want passes nobody over");
        let plan = plan_offers(&waiting, &["standard", "vip"], None);
        assert_eq!(plan.offers, vec![(0, vec![1]), (1, vec![0])]);
    }

    #[test]
    fn a_blocked_group_still_lets_seats_it_does_not_want_through() {
        let waiting = [entry(2, Some("vip"), MAX_WAITLIST_PASSES), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["vip", "standard"], None);
        assert_eq!(plan.offers, vec![(1, vec![1])]);
    }

    #[test]
    fn offers_take_no_more_seats_than_the_offered_types_room() {
        let waiting = [entry(1, None, 0), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["a", "a"], Some(1));
        assert_eq!(plan.offers, vec![(0, vec![0])], "one slot left: one offer, the other entry waits");
        assert!(plan.passed.is_empty());
        assert!(plan_offers(&waiting, &["a", "a"], Some(0)).is_empty(), "a full type makes no offers");
        let plan = plan_offers(&waiting, &["a", "a"], Some(5));
        assert_eq!(plan.offers, vec![(0, vec![0]), (1, vec![1])], "room enough: as without a quota");
    }

    #[test]
    fn a_group_wanting_more_than_the_room_is_passed_over_like_one_wanting_more_seats() {
        let waiting = [entry(2, None, 0), entry(1, None, 0)];
        let plan = plan_offers(&waiting, &["a", "a"], Some(1));
        assert_eq!(plan.offers, vec![(1, vec![0])]);
        assert_eq!(plan.passed, vec![0]);
        // Passed over enough, it keeps the seats from those behind it, room or not.
        let waiting = [entry(2, None, MAX_WAITLIST_PASSES), entry(1, None, 0)];
        assert!(plan_offers(&waiting, &["a", "a"], Some(1)).is_empty());
    }
}
