//! Promo and access codes (issue 21): what a code is, the rules its settings follow (parsed at the
//! edge), whether it may be used for an event at an instant, and the discount it gives a booking,
//! spread over the seats it applies to (so a refund of some of them gives back what was paid for
//! them). Written once for every backend: a store only counts the uses, in the confirm's write.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Actor, Invalid, wire_enum};

wire_enum! {
    /// `percent` off, a `fixed` amount off, or `access`: unlocks an event's presale (no discount).
    CodeKind {
        Percent => "percent",
        Fixed => "fixed",
        Access => "access",
    }
}

/// A code as admins see it (`/admin/codes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Code {
    pub id: Uuid,
    /// Upper-cased: codes are matched case-insensitively.
    #[schema(example = "SPRING25")]
    pub code: String,
    pub kind: CodeKind,
    /// Percent (1 to 100) or cents off (fixed); null for an access code.
    pub value: Option<i64>,
    /// The one event it is for; null: every event.
    pub event_id: Option<Uuid>,
    /// Ticket types it applies to (empty: all).
    pub ticket_types: Vec<String>,
    /// Seat tiers it applies to (empty: all).
    pub tiers: Vec<String>,
    /// Confirmed payments it may be used for in all; null: no limit.
    pub max_uses: Option<i64>,
    /// Confirmed payments it may be used for per account; null: no limit.
    pub max_uses_per_user: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    /// The first instant it is no longer valid.
    pub valid_to: Option<DateTime<Utc>>,
    /// Confirmed payments that used it (counted by the store at confirm).
    pub uses: i64,
    pub created_at: DateTime<Utc>,
}

/// A code to create, parsed: every rule below holds.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub id: Uuid,
    pub code: String,
    pub kind: CodeKind,
    pub value: Option<i64>,
    pub event_id: Option<Uuid>,
    pub ticket_types: Vec<String>,
    pub tiers: Vec<String>,
    pub max_uses: Option<i64>,
    pub max_uses_per_user: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// The admin creating it (audited with the creation).
    pub actor: Option<Actor>,
}

/// A code's fields as an admin sends them (creation).
#[derive(Debug, Clone, Default)]
pub struct CodeDraft {
    pub code: String,
    pub kind: Option<CodeKind>,
    pub value: Option<i64>,
    pub event_id: Option<Uuid>,
    pub ticket_types: Vec<String>,
    pub tiers: Vec<String>,
    pub max_uses: Option<i64>,
    pub max_uses_per_user: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// A PATCH of a code: `None` leaves a field as it is; `Some(None)` clears a nullable one. The kind,
/// the name and the event stay as created (delete and create again to change them).
#[derive(Debug, Clone, Default)]
pub struct CodeChanges {
    pub actor: Option<Actor>,
    pub value: Option<i64>,
    pub ticket_types: Option<Vec<String>>,
    pub tiers: Option<Vec<String>>,
    pub max_uses: Option<Option<i64>>,
    pub max_uses_per_user: Option<Option<i64>>,
    pub valid_from: Option<Option<DateTime<Utc>>>,
    pub valid_to: Option<Option<DateTime<Utc>>>,
}

/// A code's name: 3 to 32 letters, digits, `-` or `_`, upper-cased.
pub fn parse_code_name(raw: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    let well_formed = (3..=32).contains(&trimmed.len())
        && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(Invalid::new("code", "must be 3 to 32 letters, digits, `-` or `_`"));
    }
    Ok(trimmed.to_ascii_uppercase())
}

/// A list of names (ticket types, tiers): each 1 to 64 characters of letters, digits, `-`, `_`
/// or spaces, trimmed, without repeats, at most 50.
fn parse_names(field: &'static str, raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > 50 {
        return Err(Invalid::new(field, "may name at most 50 entries"));
    }
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        let name = name.trim();
        let well_formed =
            (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '));
        if !well_formed {
            return Err(Invalid::new(field, "each entry must be 1 to 64 letters, digits, `-`, `_` or spaces"));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The rules every code's settings follow, at creation and after each change.
fn check_settings(code: &Code) -> Result<(), Invalid> {
    match (code.kind, code.value) {
        (CodeKind::Percent, Some(value)) if !(1..=100).contains(&value) => {
            return Err(Invalid::new("value", "a percent code takes off 1 to 100 percent"));
        }
        (CodeKind::Fixed, Some(value)) if value <= 0 => {
            return Err(Invalid::new("value", "a fixed code takes off a positive number of cents"));
        }
        (CodeKind::Percent | CodeKind::Fixed, None) => {
            return Err(Invalid::new("value", "a percent or fixed code needs a value"));
        }
        (CodeKind::Access, Some(_)) => return Err(Invalid::new("value", "an access code takes no value")),
        _ => {}
    }
    if code.kind == CodeKind::Access && code.event_id.is_none() {
        return Err(Invalid::new("event_id", "an access code unlocks one event's presale, so it needs its event"));
    }
    if code.max_uses.is_some_and(|max| max < 1) {
        return Err(Invalid::new("max_uses", "must be at least 1"));
    }
    if code.max_uses.is_some_and(|max| max < code.uses) {
        return Err(Invalid::new("max_uses", format!("this code was used {} times already", code.uses)));
    }
    if code.max_uses_per_user.is_some_and(|max| max < 1) {
        return Err(Invalid::new("max_uses_per_user", "must be at least 1"));
    }
    if let (Some(from), Some(to)) = (code.valid_from, code.valid_to)
        && from >= to
    {
        return Err(Invalid::new("valid_to", "must be after valid_from"));
    }
    Ok(())
}

/// Times go to the stores whole milliseconds, as every backend keeps them.
fn whole_millis(at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at.and_then(|at| DateTime::from_timestamp_millis(at.timestamp_millis()))
}

impl NewCode {
    pub fn parse(draft: CodeDraft, actor: Option<Actor>) -> Result<Self, Invalid> {
        let code = parse_code_name(&draft.code)?;
        let kind = draft.kind.ok_or_else(|| Invalid::new("kind", "must be percent, fixed or access"))?;
        let new = Self {
            id: Uuid::new_v4(),
            code,
            kind,
            value: draft.value,
            event_id: draft.event_id,
            ticket_types: parse_names("ticket_types", &draft.ticket_types)?,
            tiers: parse_names("tiers", &draft.tiers)?,
            max_uses: draft.max_uses,
            max_uses_per_user: draft.max_uses_per_user,
            valid_from: whole_millis(draft.valid_from),
            valid_to: whole_millis(draft.valid_to),
            actor,
        };
        check_settings(&new.created(Utc::now()))?;
        Ok(new)
    }

    /// The code as stored when created at `now` (whole milliseconds).
    pub fn created(&self, now: DateTime<Utc>) -> Code {
        Code {
            id: self.id,
            code: self.code.clone(),
            kind: self.kind,
            value: self.value,
            event_id: self.event_id,
            ticket_types: self.ticket_types.clone(),
            tiers: self.tiers.clone(),
            max_uses: self.max_uses,
            max_uses_per_user: self.max_uses_per_user,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            uses: 0,
            created_at: whole_millis(Some(now)).unwrap_or(now),
        }
    }
}

impl CodeChanges {
    /// Checks the lists' names (at the edge, before any read).
    pub fn parse(mut self) -> Result<Self, Invalid> {
        if let Some(types) = &self.ticket_types {
            self.ticket_types = Some(parse_names("ticket_types", types)?);
        }
        if let Some(tiers) = &self.tiers {
            self.tiers = Some(parse_names("tiers", tiers)?);
        }
        self.valid_from = self.valid_from.map(whole_millis);
        self.valid_to = self.valid_to.map(whole_millis);
        Ok(self)
    }

    /// The code with these changes, if it still follows every rule (run by the store on the code
    /// as it read it under the change's lock or condition, so `uses` is the stored count).
    pub fn apply(&self, code: &Code) -> Result<Code, Invalid> {
        let mut next = code.clone();
        if let Some(value) = self.value {
            next.value = Some(value);
        }
        if let Some(types) = &self.ticket_types {
            next.ticket_types = types.clone();
        }
        if let Some(tiers) = &self.tiers {
            next.tiers = tiers.clone();
        }
        if let Some(max) = self.max_uses {
            next.max_uses = max;
        }
        if let Some(max) = self.max_uses_per_user {
            next.max_uses_per_user = max;
        }
        if let Some(from) = self.valid_from {
            next.valid_from = from;
        }
        if let Some(to) = self.valid_to {
            next.valid_to = to;
        }
        check_settings(&next)?;
        Ok(next)
    }
}

/// Why a code cannot be used here and now: a sentence for the buyer (`invalid_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRefusal(pub String);

impl Code {
    /// Whether the code may be used for `event_id` at `now`: within its window and for this event
    /// (or every event). A deleted code is never read (the store answers none).
    pub fn usable_for(&self, event_id: Uuid, now: DateTime<Utc>) -> Result<(), CodeRefusal> {
        if self.valid_from.is_some_and(|from| now < from) {
            return Err(CodeRefusal("This code is not valid yet.".into()));
        }
        if self.valid_to.is_some_and(|to| now >= to) {
            return Err(CodeRefusal("This code has expired.".into()));
        }
        if self.event_id.is_some_and(|id| id != event_id) {
            return Err(CodeRefusal("This code is not valid for this event.".into()));
        }
        Ok(())
    }

    /// Whether the code unlocks `event_id`'s presale at `now`: an access code, usable, with uses left
    /// (the uses themselves are counted when the payment confirms).
    pub fn unlocks_presale(&self, event_id: Uuid, now: DateTime<Utc>) -> Result<(), CodeRefusal> {
        if self.kind != CodeKind::Access {
            return Err(CodeRefusal("This code is not an access code.".into()));
        }
        self.usable_for(event_id, now)?;
        if self.max_uses.is_some_and(|max| self.uses >= max) {
            return Err(CodeRefusal("This access code has been used up.".into()));
        }
        Ok(())
    }

    /// The hidden ticket types of an event (`types`) that the code unlocks at `now`: an access code
    /// that unlocks the event at all (`unlocks_presale`'s checks), and of its hidden types those it
    /// names in `ticket_types`, or every one when it names none.
    pub fn unlocked_types(
        &self,
        event_id: Uuid,
        types: &[super::TicketType],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, CodeRefusal> {
        self.unlocks_presale(event_id, now)?;
        Ok(types
            .iter()
            .filter(|t| t.hidden && (self.ticket_types.is_empty() || self.ticket_types.contains(&t.name)))
            .map(|t| t.name.clone())
            .collect())
    }

    /// What a checkout needs of the code.
    pub fn terms(&self) -> CodeTerms {
        CodeTerms {
            id: self.id,
            code: self.code.clone(),
            kind: self.kind,
            value: self.value.unwrap_or(0),
            ticket_types: self.ticket_types.clone(),
            tiers: self.tiers.clone(),
        }
    }
}

/// A code as a checkout applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTerms {
    pub id: Uuid,
    pub code: String,
    pub kind: CodeKind,
    pub value: i64,
    pub ticket_types: Vec<String>,
    pub tiers: Vec<String>,
}

/// Whether a code applies to a seat of `seat_tier` booked as `seat_type` (a seat of no known type
/// matches no code tied to ticket types).
pub fn applies_to(code: &CodeTerms, seat_tier: &str, seat_type: Option<&str>) -> bool {
    let tier_ok = code.tiers.is_empty() || code.tiers.iter().any(|tier| tier == seat_tier);
    let type_ok = code.ticket_types.is_empty() || seat_type.is_some_and(|t| code.ticket_types.iter().any(|x| x == t));
    tier_ok && type_ok
}

/// One held seat as a checkout prices it.
#[derive(Debug, Clone, Copy)]
pub struct PricedSeat<'a> {
    pub tier: &'a str,
    pub ticket_type: Option<&'a str>,
    pub price_cents: i64,
}

/// Each seat's share of the discount the code gives these seats (in their order), or `None` when
/// it applies to none of them. Percent: that part of the applicable seats' prices, rounded down to
/// the cent; fixed: the value, at most the applicable seats' prices; access: nothing off. The
/// discount is spread over the applicable seats in proportion to their prices, rounded down, the
/// remainder cents going to the last of them, so the shares add up to the discount and a seat's
/// share never exceeds its price.
pub fn discount_shares(code: &CodeTerms, seats: &[PricedSeat<'_>]) -> Option<Vec<i64>> {
    let applicable: Vec<bool> = seats.iter().map(|s| applies_to(code, s.tier, s.ticket_type)).collect();
    if !applicable.iter().any(|a| *a) {
        return None;
    }
    let base: i64 = seats.iter().zip(&applicable).filter(|(_, a)| **a).map(|(s, _)| s.price_cents).sum();
    let discount = match code.kind {
        CodeKind::Percent => base * code.value.clamp(0, 100) / 100,
        CodeKind::Fixed => code.value.clamp(0, base),
        CodeKind::Access => 0,
    };
    let mut shares = vec![0; seats.len()];
    if discount == 0 || base == 0 {
        return Some(shares);
    }
    let last = applicable.iter().rposition(|a| *a).unwrap_or(0);
    let mut given = 0;
    for (i, seat) in seats.iter().enumerate() {
        if !applicable[i] || i == last {
            continue;
        }
        // i128: price times discount may exceed i64 for absurd prices; never for real ones.
        let share = (i128::from(seat.price_cents) * i128::from(discount) / i128::from(base)) as i64;
        shares[i] = share;
        given += share;
    }
    shares[last] = discount - given;
    Some(shares)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(kind: CodeKind, value: i64, tiers: &[&str]) -> CodeTerms {
        CodeTerms {
            id: Uuid::nil(),
            code: "X".into(),
            kind,
            value,
            ticket_types: vec![],
            tiers: tiers.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn seat(tier: &str, price_cents: i64) -> PricedSeat<'_> {
        PricedSeat { tier, ticket_type: None, price_cents }
    }

    #[test]
    fn names_are_checked_and_upper_cased() {
        assert_eq!(parse_code_name(" spring-25_x ").unwrap(), "SPRING-25_X");
        for bad in ["ab", "a b c", "ü-code", &"x".repeat(33)] {
            assert_eq!(parse_code_name(bad).unwrap_err().field, "code", "{bad}");
        }
    }

    #[test]
    fn settings_follow_the_rules() {
        let draft = |kind, value| CodeDraft { code: "ABC".into(), kind: Some(kind), value, ..CodeDraft::default() };
        assert!(NewCode::parse(draft(CodeKind::Percent, Some(100)), None).is_ok());
        assert_eq!(NewCode::parse(draft(CodeKind::Percent, Some(0)), None).unwrap_err().field, "value");
        assert_eq!(NewCode::parse(draft(CodeKind::Percent, Some(101)), None).unwrap_err().field, "value");
        assert_eq!(NewCode::parse(draft(CodeKind::Fixed, Some(0)), None).unwrap_err().field, "value");
        assert_eq!(NewCode::parse(draft(CodeKind::Fixed, None), None).unwrap_err().field, "value");
        let access = CodeDraft { event_id: Some(Uuid::nil()), ..draft(CodeKind::Access, Some(5)) };
        assert_eq!(NewCode::parse(access.clone(), None).unwrap_err().field, "value");
        assert!(NewCode::parse(CodeDraft { value: None, ..access }, None).is_ok());
        assert_eq!(NewCode::parse(draft(CodeKind::Access, None), None).unwrap_err().field, "event_id");
        let now = Utc::now();
        let window = CodeDraft { valid_from: Some(now), valid_to: Some(now), ..draft(CodeKind::Fixed, Some(5)) };
        assert_eq!(NewCode::parse(window, None).unwrap_err().field, "valid_to");
        let uses = CodeDraft { max_uses: Some(0), ..draft(CodeKind::Fixed, Some(5)) };
        assert_eq!(NewCode::parse(uses, None).unwrap_err().field, "max_uses");
    }

    #[test]
    fn a_change_cannot_set_max_uses_below_the_uses() {
        let mut code = NewCode::parse(
            CodeDraft { code: "ABC".into(), kind: Some(CodeKind::Fixed), value: Some(5), ..Default::default() },
            None,
        )
        .unwrap()
        .created(Utc::now());
        code.uses = 3;
        let changes = CodeChanges { max_uses: Some(Some(2)), ..Default::default() };
        assert_eq!(changes.apply(&code).unwrap_err().field, "max_uses");
        let changes = CodeChanges { max_uses: Some(Some(3)), value: Some(7), ..Default::default() };
        let next = changes.apply(&code).unwrap();
        assert_eq!((next.max_uses, next.value), (Some(3), Some(7)));
    }

    #[test]
    fn percent_is_rounded_down_and_spread_with_the_remainder_last() {
        let seats = [seat("standard", 1500), seat("vip", 4000), seat("standard", 1499)];
        let shares = discount_shares(&terms(CodeKind::Percent, 15, &[]), &seats).unwrap();
        // 15% of 6999 = 1049.85 → 1049.
        assert_eq!(shares.iter().sum::<i64>(), 1049);
        assert_eq!(shares[0], 1500 * 1049 / 6999);
        assert_eq!(shares[1], 4000 * 1049 / 6999);
        assert_eq!(shares[2], 1049 - shares[0] - shares[1]);
        for (share, seat) in shares.iter().zip(&seats) {
            assert!(*share <= seat.price_cents);
        }
    }

    #[test]
    fn only_the_applicable_tiers_share_and_fixed_is_capped() {
        let seats = [seat("standard", 1500), seat("vip", 4000)];
        assert_eq!(discount_shares(&terms(CodeKind::Fixed, 10_000, &["vip"]), &seats).unwrap(), vec![0, 4000]);
        assert_eq!(discount_shares(&terms(CodeKind::Fixed, 500, &["standard"]), &seats).unwrap(), vec![500, 0]);
        assert_eq!(discount_shares(&terms(CodeKind::Percent, 10, &["balcony"]), &seats), None);
        assert_eq!(discount_shares(&terms(CodeKind::Access, 0, &[]), &seats).unwrap(), vec![0, 0]);
    }

    #[test]
    fn a_code_tied_to_ticket_types_applies_to_seats_of_those_types_only() {
        let mut code = terms(CodeKind::Percent, 10, &[]);
        code.ticket_types = vec!["student".into()];
        assert!(!applies_to(&code, "standard", None));
        assert!(applies_to(&code, "standard", Some("student")));
        assert!(!applies_to(&code, "standard", Some("adult")));
    }

    #[test]
    fn windows_and_events_are_checked() {
        let now = Utc::now();
        let event = Uuid::new_v4();
        let mut code = NewCode::parse(
            CodeDraft {
                code: "ABC".into(),
                kind: Some(CodeKind::Access),
                event_id: Some(event),
                max_uses: Some(1),
                ..Default::default()
            },
            None,
        )
        .unwrap()
        .created(now);
        assert!(code.unlocks_presale(event, now).is_ok());
        assert!(code.unlocks_presale(Uuid::new_v4(), now).is_err());
        code.valid_to = Some(now);
        assert_eq!(code.usable_for(event, now).unwrap_err().0, "This code has expired.");
        code.valid_to = None;
        code.uses = 1;
        assert!(code.unlocks_presale(event, now).is_err());
    }
}
