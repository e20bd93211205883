//! Ticket types (issue 21): per event, the kinds of ticket an organiser sells (`adult`, `child`,
//! `student`, …), each with its own price per seat tier and an optional quota (at most that many
//! tickets of the type held or sold at once). An event without types of its own has one,
//! `standard`, priced by the event's `prices`, so bodies written before types existed keep working.
//!
//! The types are parsed here, at the edge; the stores keep them as one JSON document per event
//! (`encode` / `decode`), read and written whole with the event, and enforce each quota in the
//! hold's own write (see the README, "Ticket types").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Invalid, Price, STANDARD_TICKET_TYPE, check_prices_cover, parse_prices};

/// One ticket type of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketType {
    /// Lowercase, 1 to 32 letters, digits, `_` or `-`; unique within the event.
    #[schema(example = "adult")]
    pub name: String,
    /// The type's price for every tier of the venue.
    pub prices: Vec<Price>,
    /// At most this many seats of this type held or sold at once (1 to 100000); null: no quota.
    #[serde(default)]
    #[schema(example = 50, minimum = 1, maximum = 100000)]
    pub quota: Option<u32>,
    /// A hidden type is not listed publicly and is held only with an access code that unlocks it
    /// (`access_code`, see `Code::unlocked_types`); admins always see it. The first type (the
    /// default one, whose prices are the event's `prices`) cannot be hidden. Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl TicketType {
    pub const MAX_TYPES: usize = 20;
    pub const MAX_QUOTA: u32 = 100_000;

    /// The one type of an event that has none of its own: `standard`, at the event's prices.
    pub fn standard(prices: &[Price]) -> Self {
        Self { name: STANDARD_TICKET_TYPE.to_owned(), prices: prices.to_vec(), quota: None, hidden: false }
    }

    /// The type's price for seats of `tier`.
    pub fn price_of(&self, tier: &str) -> Option<i64> {
        self.prices.iter().find(|p| p.tier == tier).map(|p| p.price_cents)
    }
}

/// A ticket type's name: the rules of a tier name.
pub fn parse_ticket_type_name(raw: &str) -> Result<String, Invalid> {
    super::parse_tier(raw).map_err(|_| Invalid::new("ticket_types.name", "must be 1 to 32 letters, digits, '_' or '-'"))
}

/// An event's types as an organiser gave them: 1 to 20, distinct names, each pricing every tier of
/// the venue (`venue_tiers`), quotas 1 to 100000. Prices are kept sorted by tier.
pub fn parse_ticket_types(raw: Vec<TicketType>, venue_tiers: &BTreeSet<String>) -> Result<Vec<TicketType>, Invalid> {
    if raw.is_empty() || raw.len() > TicketType::MAX_TYPES {
        return Err(Invalid::new("ticket_types", format!("must hold 1 to {} types", TicketType::MAX_TYPES)));
    }
    let mut names = BTreeSet::new();
    let mut parsed = Vec::with_capacity(raw.len());
    for ticket_type in raw {
        let name = parse_ticket_type_name(&ticket_type.name)?;
        if !names.insert(name.clone()) {
            return Err(Invalid::new("ticket_types.name", format!("type {name} is given twice")));
        }
        let mut prices = parse_prices(ticket_type.prices)
            .map_err(|e| Invalid::new("ticket_types.prices", format!("type {name}: {}", e.message)))?;
        check_prices_cover(venue_tiers, &prices)
            .map_err(|e| Invalid::new("ticket_types.prices", format!("type {name}: {}", e.message)))?;
        prices.sort_by(|a, b| a.tier.cmp(&b.tier));
        if let Some(quota) = ticket_type.quota
            && !(1..=TicketType::MAX_QUOTA).contains(&quota)
        {
            let message = format!("type {name}: must be 1 to {}", TicketType::MAX_QUOTA);
            return Err(Invalid::new("ticket_types.quota", message));
        }
        // The first type is every hold's default and its prices are shown as the event's: it is
        // never hidden.
        if ticket_type.hidden && parsed.is_empty() {
            let message = format!("type {name}: the first type is the default one and cannot be hidden");
            return Err(Invalid::new("ticket_types.hidden", message));
        }
        parsed.push(TicketType { name, prices, quota: ticket_type.quota, hidden: ticket_type.hidden });
    }
    Ok(parsed)
}

/// Whether `prices` (as given beside `ticket_types`) are the first type's: the event's `prices`
/// always answer the first type's, so any other would be lost.
pub fn check_prices_match_first_type(prices: &[Price], types: &[TicketType]) -> Result<(), Invalid> {
    let mut given = prices.to_vec();
    given.sort_by(|a, b| a.tier.cmp(&b.tier));
    match types.first() {
        Some(first) if first.prices == given => Ok(()),
        _ => {
            Err(Invalid::new("prices", "must be the first ticket type's prices when both are given (or leave it out)"))
        }
    }
}

/// The types as the stores keep them: one JSON array; `None` (nothing stored) for no types, which
/// reads back as `standard` at the event's prices.
pub fn encode_ticket_types(types: &[TicketType]) -> Option<String> {
    if types.is_empty() {
        return None;
    }
    serde_json::to_string(types).ok()
}

/// The stored types of an event (`None`: it has none of its own, so `standard` at `prices`).
pub fn decode_ticket_types(stored: Option<&str>, prices: &[Price]) -> Result<Vec<TicketType>, String> {
    match stored {
        None => Ok(vec![TicketType::standard(prices)]),
        Some(json) => match serde_json::from_str::<Vec<TicketType>>(json) {
            Ok(types) if !types.is_empty() => Ok(types),
            Ok(_) => Ok(vec![TicketType::standard(prices)]),
            Err(e) => Err(format!("stored ticket types are unreadable: {e}")),
        },
    }
}

/// Which type each seat of a hold is (`ticket_types` of a reserve): seat id → type name. A seat
/// not named is of the event's first type.
pub fn parse_seat_types(raw: BTreeMap<Uuid, String>, seats: &[Uuid]) -> Result<BTreeMap<Uuid, String>, Invalid> {
    let mut parsed = BTreeMap::new();
    for (seat_id, name) in raw {
        if !seats.contains(&seat_id) {
            return Err(Invalid::new("ticket_types", format!("seat {seat_id} is not among the seats held")));
        }
        let name = parse_ticket_type_name(&name).map_err(|e| Invalid::new("ticket_types", e.message))?;
        parsed.insert(seat_id, name);
    }
    Ok(parsed)
}

/// The type of each seat of a hold, resolved against the event's types (`types`, the first the
/// default): (type, price) per seat tier, or the refusal of a name the event does not sell. A
/// hidden type not among `unlocked` (the hidden types an access code unlocks for this hold) is
/// refused with the very same words as a type the event does not have, so a refusal never tells
/// that it exists.
pub fn resolve_seat_type<'a>(
    types: &'a [TicketType],
    named: Option<&str>,
    unlocked: &[String],
) -> Result<&'a TicketType, Invalid> {
    let found = match named {
        None => types.first(),
        Some(name) => types.iter().find(|t| t.name == name),
    };
    match found {
        Some(found) if !found.hidden || unlocked.contains(&found.name) => Ok(found),
        _ => Err(match named {
            None => Invalid::new("ticket_types", "this event sells no ticket type"),
            Some(name) => Invalid::new("ticket_types", format!("this event has no ticket type {name}")),
        }),
    }
}

/// The types a buyer is shown: every type but the hidden ones not among `unlocked`.
pub fn visible_ticket_types(types: &[TicketType], unlocked: &[String]) -> Vec<TicketType> {
    types.iter().filter(|t| !t.hidden || unlocked.contains(&t.name)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> BTreeSet<String> {
        ["standard", "vip"].into_iter().map(String::from).collect()
    }

    fn priced(name: &str, quota: Option<u32>) -> TicketType {
        TicketType {
            name: name.into(),
            prices: vec![
                Price { tier: "vip".into(), price_cents: 5000 },
                Price { tier: "standard".into(), price_cents: 2500 },
            ],
            quota,
            hidden: false,
        }
    }

    #[test]
    fn types_are_named_unique_priced_for_every_tier_and_bounded() {
        let parsed = parse_ticket_types(vec![priced("Adult", None), priced("student", Some(50))], &tiers()).unwrap();
        assert_eq!(parsed[0].name, "adult");
        assert_eq!(parsed[0].prices[0].tier, "standard");
        assert_eq!(parsed[1].quota, Some(50));
        assert!(parse_ticket_types(vec![], &tiers()).is_err());
        assert!(parse_ticket_types(vec![priced("a", None), priced("A", None)], &tiers()).is_err());
        assert!(parse_ticket_types(vec![priced("a b", None)], &tiers()).is_err());
        assert_eq!(parse_ticket_types(vec![priced("a", Some(0))], &tiers()).unwrap_err().field, "ticket_types.quota");
        let mut cheap = priced("a", None);
        cheap.prices.pop();
        assert!(parse_ticket_types(vec![cheap], &tiers()).unwrap_err().message.contains("standard"));
        let many: Vec<TicketType> = (0..21).map(|i| priced(&format!("t{i}"), None)).collect();
        assert!(parse_ticket_types(many, &tiers()).is_err());
    }

    #[test]
    fn an_event_without_types_sells_standard_at_its_prices() {
        let prices = vec![Price { tier: "standard".into(), price_cents: 1200 }];
        let types = decode_ticket_types(None, &prices).unwrap();
        assert_eq!(types, vec![TicketType::standard(&prices)]);
        assert_eq!(encode_ticket_types(&[]), None);
        let stored = encode_ticket_types(&[priced("adult", Some(3))]);
        assert_eq!(decode_ticket_types(stored.as_deref(), &prices).unwrap()[0].quota, Some(3));
        assert_eq!(resolve_seat_type(&types, None, &[]).unwrap().name, "standard");
        assert!(resolve_seat_type(&types, Some("child"), &[]).is_err());
    }

    #[test]
    fn a_hidden_type_is_sold_and_shown_only_unlocked_and_refused_as_if_it_did_not_exist() {
        let members = TicketType { hidden: true, ..priced("members", None) };
        let types = parse_ticket_types(vec![priced("adult", None), members.clone()], &tiers()).unwrap();
        assert!(types[1].hidden);
        let locked = resolve_seat_type(&types, Some("members"), &[]).unwrap_err();
        let unknown = resolve_seat_type(&types, Some("nosuch"), &[]).unwrap_err();
        assert_eq!(locked.message.replace("members", "X"), unknown.message.replace("nosuch", "X"));
        assert_eq!(resolve_seat_type(&types, Some("members"), &["members".into()]).unwrap().name, "members");
        assert_eq!(visible_ticket_types(&types, &[]).len(), 1);
        assert_eq!(visible_ticket_types(&types, &["members".into()]).len(), 2);
        let first_hidden = parse_ticket_types(vec![members, priced("adult", None)], &tiers()).unwrap_err();
        assert_eq!(first_hidden.field, "ticket_types.hidden");
        // Stored and answered without the flag when it is false, so older documents read alike.
        assert!(!serde_json::to_string(&types[0]).unwrap().contains("hidden"));
        assert!(serde_json::to_string(&types[1]).unwrap().contains("\"hidden\":true"));
    }

    #[test]
    fn seat_types_name_held_seats() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let named = parse_seat_types(BTreeMap::from([(a, "Child".to_owned())]), &[a]).unwrap();
        assert_eq!(named[&a], "child");
        assert!(parse_seat_types(BTreeMap::from([(b, "child".to_owned())]), &[a]).is_err());
    }
}
