//! The catalog: venues with their seat rows and tiers, events with their prices, and the live seat map.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Actor, EventSort, Invalid, LayoutInput, Page, Point, SeatAttribute, TimeZone, VenueLayout, wire_enum};

wire_enum! {
    /// What kind of place a venue is.
    VenueKind { Cinema => "cinema", Theatre => "theatre", Arena => "arena", Hall => "hall", Other => "other" }
}

wire_enum! {
    /// What kind of event; a movie showtime is an event with category `movie`.
    Category { Movie => "movie", Theatre => "theatre", Concert => "concert", Sport => "sport", Comedy => "comedy", Other => "other" }
}

wire_enum! {
    /// Whether an event still sells seats.
    EventStatus { OnSale => "on_sale", Canceled => "canceled" }
}

wire_enum! {
    /// A seat's state for one event, as the seat map shows it.
    SeatStatus { Available => "available", Held => "held", Sold => "sold" }
}

/// A venue as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Venue {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    pub kind: VenueKind,
    pub seat_count: i64,
    /// Where the venue's clocks are: every time of its events is shown in it, labelled.
    #[schema(value_type = String, example = "Europe/Madrid")]
    pub time_zone: TimeZone,
}

/// A venue with every seat, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct VenueWithSeats {
    #[serde(flatten)]
    pub venue: Venue,
    pub seats: Vec<Seat>,
}

/// One physical seat of a venue.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Seat {
    pub id: Uuid,
    /// The seat's section; null in a venue of plain rows (one unnamed section).
    #[schema(example = "Block 104")]
    pub section: Option<String>,
    pub row: String,
    pub seat_number: i32,
    pub tier: String,
    /// Where the seat is, in venue units; null in a venue of plain rows (its generated layout,
    /// `GET /events/venues/{venue_id}/layout`, places them in straight rows).
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// `wheelchair`, `companion`, `restricted_view`, `aisle`; empty for most seats.
    pub attributes: Vec<SeatAttribute>,
}

/// How a seat is named wherever a person reads it: "Block 104 · Row 11 · Seat 1" in a venue of
/// sections, "Row C · Seat 12" in a venue of plain rows; never numbers run together.
pub fn seat_label(section: Option<&str>, row: &str, seat_number: i32) -> String {
    match section {
        Some(section) => format!("{section} · Row {row} · Seat {seat_number}"),
        None => format!("Row {row} · Seat {seat_number}"),
    }
}

/// The short venue view embedded in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct VenueSummary {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    pub kind: VenueKind,
    /// The venue's time zone: the event's times are shown in it.
    #[schema(value_type = String, example = "Europe/Madrid")]
    pub time_zone: TimeZone,
}

/// The price of one seat tier for one event, in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Price {
    pub tier: String,
    pub price_cents: i64,
}

/// An event (or one showtime of a movie) with its prices and availability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    pub venue_id: Uuid,
    pub venue: VenueSummary,
    pub name: String,
    pub category: Category,
    pub description: String,
    pub image_url: Option<String>,
    /// The poster an admin uploaded, in two sizes (`PUT /events/events/{event_id}/poster`);
    /// null when there is none.
    pub poster: Option<Poster>,
    pub start_time: DateTime<Utc>,
    pub duration_minutes: Option<i32>,
    pub status: EventStatus,
    /// When holds open (`POST /reservations/reservations/reserve` answers 409 `not_on_sale`
    /// before it); null: on sale now.
    pub on_sale_at: Option<DateTime<Utc>>,
    /// The event's waiting room; null: none (anyone may hold seats once the sale opens).
    pub queue: Option<QueueSettings>,
    /// Until this many hours before the start, wheelchair spaces and companion seats are held
    /// only for wheelchair users and their companions (`accessible: true` holds); null: never
    /// held back.
    #[schema(minimum = 0, maximum = 8760, example = 48)]
    pub accessible_release_hours: Option<u32>,
    pub currency: String,
    /// The first ticket type's prices (`ticket_types`), by tier.
    pub prices: Vec<Price>,
    /// The event's ticket types, the first the default; one `standard` at `prices` when the
    /// organiser gave none.
    pub ticket_types: Vec<super::TicketType>,
    pub seats_total: i64,
    pub seats_available: i64,
}

/// An event's waiting room (issue 20): buyers join a queue (`POST /queue/events/{event_id}/join`)
/// and are let through to the seats at a pace, never more at once than the venue's staff and the
/// store are meant to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct QueueSettings {
    /// Whether the waiting room is in front of the event now; `false` keeps the settings for later.
    pub enabled: bool,
    /// How many buyers are let through per minute, 1 to 100000.
    #[schema(example = 120, minimum = 1, maximum = 100000)]
    pub admit_per_minute: u32,
    /// The most buyers admitted and not yet done at once, 1 to 100000: a buyer who pays or whose
    /// session ends frees a place.
    #[schema(example = 500, minimum = 1, maximum = 100000)]
    pub max_active_buyers: u32,
    /// How long an admitted buyer may pick and hold seats, 1 to 120 minutes.
    #[schema(example = 10, minimum = 1, maximum = 120)]
    pub session_minutes: u32,
}

impl QueueSettings {
    pub const MAX_ADMIT_PER_MINUTE: u32 = 100_000;
    pub const MAX_ACTIVE_BUYERS: u32 = 100_000;
    pub const MAX_SESSION_MINUTES: u32 = 120;

    /// Checks each setting's range.
    pub fn parse(self) -> Result<Self, Invalid> {
        if !(1..=Self::MAX_ADMIT_PER_MINUTE).contains(&self.admit_per_minute) {
            let message = format!("must be 1 to {}", Self::MAX_ADMIT_PER_MINUTE);
            return Err(Invalid::new("queue.admit_per_minute", message));
        }
        if !(1..=Self::MAX_ACTIVE_BUYERS).contains(&self.max_active_buyers) {
            return Err(Invalid::new("queue.max_active_buyers", format!("must be 1 to {}", Self::MAX_ACTIVE_BUYERS)));
        }
        if !(1..=Self::MAX_SESSION_MINUTES).contains(&self.session_minutes) {
            let message = format!("must be 1 to {}", Self::MAX_SESSION_MINUTES);
            return Err(Invalid::new("queue.session_minutes", message));
        }
        Ok(self)
    }

    /// The settings of a waiting room that is on: `None` when there is none or it is off.
    pub fn active(settings: Option<Self>) -> Option<Self> {
        settings.filter(|s| s.enabled)
    }
}

/// Checks that a sale opens before the event starts (an opening in the past is fine: on sale now).
pub fn check_on_sale_at(on_sale_at: Option<DateTime<Utc>>, start_time: DateTime<Utc>) -> Result<(), Invalid> {
    match on_sale_at {
        Some(opens) if opens >= start_time => Err(Invalid::new("on_sale_at", "must be before start_time")),
        _ => Ok(()),
    }
}

/// An event's poster: the addresses of its two sizes (JPEG), as the site shows them in `srcset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Poster {
    /// About 480 px wide: cards and lists.
    #[schema(example = "/posters/1b4e28ba-2fa1-11d2-883f-0016d3cca427-5f2c9a-480.jpg")]
    pub small: String,
    /// About 1200 px wide: the event's page.
    #[schema(example = "/posters/1b4e28ba-2fa1-11d2-883f-0016d3cca427-5f2c9a-1200.jpg")]
    pub large: String,
}

/// One seat of the live seat map of an event.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct SeatState {
    pub seat_id: Uuid,
    /// The seat's section; null in a venue of plain rows.
    pub section: Option<String>,
    pub row: String,
    pub seat_number: i32,
    pub tier: String,
    pub price_cents: i64,
    pub status: SeatStatus,
    /// Where the seat is, in venue units; null in a venue of plain rows.
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub attributes: Vec<SeatAttribute>,
}

/// One row of seats of a venue about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRow {
    pub row: String,
    pub seats: i32,
    pub tier: String,
}

/// One seat of a venue about to be created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSeat {
    /// `None` in a venue of plain rows.
    pub section: Option<String>,
    pub row: String,
    /// The row's place in the venue (sections in order, then their rows), which the seat map follows.
    pub row_index: i32,
    pub seat_number: i32,
    pub tier: String,
    /// `None` in a venue of plain rows.
    pub position: Option<Point>,
    pub attributes: Vec<SeatAttribute>,
}

impl NewSeat {
    pub fn label(&self) -> String {
        seat_label(self.section.as_deref(), &self.row, self.seat_number)
    }
}

/// A venue about to be created; its seats are valid and distinct, in the venue's order. Its time
/// zone is UTC unless one is set (`with_time_zone`).
#[derive(Debug, Clone)]
pub struct NewVenue {
    pub name: String,
    pub location: String,
    pub kind: VenueKind,
    pub seats: Vec<NewSeat>,
    /// The drawing (size, stage, sections: `VenueOutline`) of a venue made from a layout, as the
    /// stores keep it (JSON, encoded here so that no store links the encoding); `None` for plain rows.
    pub outline_json: Option<String>,
    /// The version of the venue's layout (`GET /events/venues/{venue_id}/layout`): a digest of its
    /// outline and seats, so any change to either gives another version.
    pub layout_version: String,
    pub time_zone: TimeZone,
    /// The admin creating it (`by`): the store writes its audit row with it (none: not audited).
    pub actor: Option<Actor>,
}

impl NewVenue {
    pub const MAX_SEATS_PER_ROW: i32 = 500;
    pub const MAX_ROWS: usize = 200;

    pub fn parse(name: &str, location: Option<&str>, kind: VenueKind, rows: Vec<SeatRow>) -> Result<Self, Invalid> {
        let name = required_text("name", name, 200)?;
        let location = optional_text("location", location, 200)?;
        let NewLayout { seats, outline_json, layout_version } = NewLayout::from_rows(rows)?;
        let time_zone = TimeZone::default();
        Ok(Self { name, location, kind, seats, outline_json, layout_version, time_zone, actor: None })
    }

    /// A venue drawn as sections of positioned seats (see `domain::layout`).
    pub fn parse_layout(
        name: &str,
        location: Option<&str>,
        kind: VenueKind,
        layout: LayoutInput,
    ) -> Result<Self, Invalid> {
        let name = required_text("name", name, 200)?;
        let location = optional_text("location", location, 200)?;
        let NewLayout { seats, outline_json, layout_version } = NewLayout::from_layout(layout)?;
        let time_zone = TimeZone::default();
        Ok(Self { name, location, kind, seats, outline_json, layout_version, time_zone, actor: None })
    }

    /// The distinct tiers of the venue's seats.
    pub fn tiers(&self) -> BTreeSet<&str> {
        self.seats.iter().map(|s| s.tier.as_str()).collect()
    }

    pub fn with_time_zone(self, time_zone: TimeZone) -> Self {
        Self { time_zone, ..self }
    }

    /// The admin creating the venue, for its audit row.
    pub fn by(self, actor: Actor) -> Self {
        Self { actor: Some(actor), ..self }
    }
}

/// A venue's seats and drawing, checked whole: what a venue is created with, or what replaces a
/// saved venue's layout (`VenueChanges::layout`).
#[derive(Debug, Clone)]
pub struct NewLayout {
    /// Valid and distinct, in the venue's order.
    pub seats: Vec<NewSeat>,
    /// The drawing as stored (see `NewVenue::outline_json`); `None` for plain rows.
    pub outline_json: Option<String>,
    /// See `NewVenue::layout_version`.
    pub layout_version: String,
}

impl NewLayout {
    /// Plain rows (seats numbered 1..n in each row), one section without a name.
    pub fn from_rows(rows: Vec<SeatRow>) -> Result<Self, Invalid> {
        if rows.is_empty() || rows.len() > NewVenue::MAX_ROWS {
            return Err(Invalid::new("rows", format!("must have 1 to {} rows", NewVenue::MAX_ROWS)));
        }
        let mut seen = BTreeSet::new();
        let mut seats = Vec::new();
        for (row_index, row) in (0_i32..).zip(rows) {
            let label = parse_row_label(&row.row)?;
            if !seen.insert(label.clone()) {
                return Err(Invalid::new("rows.row", format!("row {label} appears twice")));
            }
            if !(1..=NewVenue::MAX_SEATS_PER_ROW).contains(&row.seats) {
                return Err(Invalid::new("rows.seats", format!("must be 1 to {}", NewVenue::MAX_SEATS_PER_ROW)));
            }
            let tier = parse_tier(&row.tier)?;
            seats.extend((1..=row.seats).map(|seat_number| NewSeat {
                section: None,
                row: label.clone(),
                row_index,
                seat_number,
                tier: tier.clone(),
                position: None,
                attributes: Vec::new(),
            }));
        }
        let layout_version = layout_version(None, &seats);
        Ok(Self { seats, outline_json: None, layout_version })
    }

    /// A venue drawn as sections of positioned seats (see `domain::layout`).
    pub fn from_layout(layout: LayoutInput) -> Result<Self, Invalid> {
        let layout = VenueLayout::parse(layout)?;
        let outline_json = serde_json::to_string(&layout.outline)
            .map_err(|e| Invalid::new("layout", format!("could not be encoded: {e}")))?;
        let layout_version = layout_version(Some(&outline_json), &layout.seats);
        Ok(Self { seats: layout.seats, outline_json: Some(outline_json), layout_version })
    }

    /// The distinct tiers of the layout's seats.
    pub fn tiers(&self) -> BTreeSet<&str> {
        self.seats.iter().map(|s| s.tier.as_str()).collect()
    }
}

/// A venue as its audit row records it: its own fields, its layout's version and seat count,
/// never the layout itself (up to 100,000 seats). The count is named apart from `seat_count`,
/// which audit rows leave out as derived.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedVenue {
    #[serde(flatten)]
    pub venue: Venue,
    pub layout_version: String,
    pub layout_seats: i64,
}

impl AuditedVenue {
    pub fn new(venue: Venue, layout_version: String) -> Self {
        let layout_seats = venue.seat_count;
        Self { venue, layout_version, layout_seats }
    }
}

/// Changes to a venue; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VenueChanges {
    pub time_zone: Option<TimeZone>,
    /// A new layout: allowed only while no event of the venue is on sale and yet to start (else
    /// `StoreError::VenueInUse`). Seats are matched by label (section, row, number): a seat in both
    /// keeps its id and takes the new position, tier and attributes; a seat only in the old layout
    /// is deleted, or refused (`VenueInUse`) when a reservation of any event names it.
    pub layout: Option<NewLayout>,
    /// The admin making the change: the store writes its audit row with it (none: not audited).
    pub actor: Option<Actor>,
}

/// A digest of a venue's outline (as stored) and seats: its layout's version.
fn layout_version(outline_json: Option<&str>, seats: &[NewSeat]) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(crate::domain::LAYOUT_GENERATOR.as_bytes());
    digest.update(outline_json.unwrap_or("").as_bytes());
    for seat in seats {
        let attributes: Vec<&str> = seat.attributes.iter().map(|a| a.as_str()).collect();
        let line = format!(
            "\n{}|{}|{}|{}|{}|{:?}|{}",
            seat.section.as_deref().unwrap_or(""),
            seat.row,
            seat.row_index,
            seat.seat_number,
            seat.tier,
            seat.position,
            attributes.join(",")
        );
        digest.update(line.as_bytes());
    }
    crate::hex::encode(&digest.finalize()[..8])
}

/// A row label: 1 to 8 letters or digits, uppercased.
pub fn parse_row_label(raw: &str) -> Result<String, Invalid> {
    let label = raw.trim().to_uppercase();
    if label.is_empty() || label.chars().count() > 8 || !label.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Invalid::new("rows.row", "must be 1 to 8 letters or digits"));
    }
    Ok(label)
}

/// A tier name: lowercase, 1 to 32 characters of letters, digits, `_` or `-`.
pub fn parse_tier(raw: &str) -> Result<String, Invalid> {
    let tier = raw.trim().to_lowercase();
    if tier.is_empty() || tier.len() > 32 || !tier.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Invalid::new("tier", "must be 1 to 32 letters, digits, '_' or '-'"));
    }
    Ok(tier)
}

/// An ISO 4217 currency code, three uppercase letters.
pub fn parse_currency(raw: Option<&str>) -> Result<String, Invalid> {
    let code = raw.unwrap_or("EUR").trim().to_uppercase();
    if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Invalid::new("currency", "must be a three-letter ISO 4217 code such as EUR"));
    }
    Ok(code)
}

pub fn required_text(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(Invalid::new(field, format!("must be 1 to {max} characters")));
    }
    Ok(text.to_owned())
}

pub fn optional_text(field: &'static str, raw: Option<&str>, max: usize) -> Result<String, Invalid> {
    let text = raw.unwrap_or("").trim();
    if text.chars().count() > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters")));
    }
    Ok(text.to_owned())
}

/// Prices for an event: non-negative, one per tier.
pub fn parse_prices(prices: Vec<Price>) -> Result<Vec<Price>, Invalid> {
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::with_capacity(prices.len());
    for price in prices {
        let tier = parse_tier(&price.tier).map_err(|e| Invalid::new("prices.tier", e.message))?;
        if !(0..=100_000_000).contains(&price.price_cents) {
            return Err(Invalid::new("prices.price_cents", "must be between 0 and 100000000"));
        }
        if !seen.insert(tier.clone()) {
            return Err(Invalid::new("prices.tier", format!("tier {tier} is priced twice")));
        }
        parsed.push(Price { tier, price_cents: price.price_cents });
    }
    Ok(parsed)
}

/// Checks that every tier of the venue has a price.
pub fn check_prices_cover(venue_tiers: &BTreeSet<String>, prices: &[Price]) -> Result<(), Invalid> {
    let priced: BTreeSet<&str> = prices.iter().map(|p| p.tier.as_str()).collect();
    let missing: Vec<&str> = venue_tiers.iter().map(String::as_str).filter(|t| !priced.contains(t)).collect();
    if !missing.is_empty() {
        return Err(Invalid::new("prices", format!("tier(s) {} of the venue have no price", missing.join(", "))));
    }
    Ok(())
}

/// An event about to be created; checked against its venue before it is stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub venue_id: Uuid,
    pub name: String,
    pub category: Category,
    pub description: String,
    pub image_url: Option<String>,
    pub start_time: DateTime<Utc>,
    pub duration_minutes: Option<i32>,
    pub currency: String,
    /// The first ticket type's prices.
    pub prices: Vec<Price>,
    /// The event's ticket types (the first's prices are `prices`); empty: none of its own, so one
    /// `standard` at `prices`.
    pub ticket_types: Vec<super::TicketType>,
    /// When holds open; `None`: on sale at once.
    pub on_sale_at: Option<DateTime<Utc>>,
    /// The waiting room; `None`: none.
    pub queue: Option<QueueSettings>,
    /// Hours before the start until which accessible seats are held back; `None`: never.
    pub accessible_release_hours: Option<u32>,
    /// The admin creating it: the store writes its audit row with it (none: not audited).
    pub actor: Option<Actor>,
}

/// Changes to an event; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EventChanges {
    pub name: Option<String>,
    pub category: Option<Category>,
    pub description: Option<String>,
    pub image_url: Option<Option<String>>,
    pub start_time: Option<DateTime<Utc>>,
    pub duration_minutes: Option<Option<i32>>,
    pub currency: Option<String>,
    pub prices: Option<Vec<Price>>,
    /// New ticket types, whole (the first's prices are then `prices`, which must be given too).
    pub ticket_types: Option<Vec<super::TicketType>>,
    /// `Some(None)` removes the poster.
    pub poster: Option<Option<Poster>>,
    /// `Some(None)`: on sale at once.
    pub on_sale_at: Option<Option<DateTime<Utc>>>,
    /// `Some(None)` removes the waiting room.
    pub queue: Option<Option<QueueSettings>>,
    /// `Some(None)`: accessible seats are never held back.
    pub accessible_release_hours: Option<Option<u32>>,
    /// The admin making the change: the store writes its audit row with it (none: not audited).
    pub actor: Option<Actor>,
}

impl EventChanges {
    /// The event as these changes leave it (for a store that must know the result before it
    /// writes, to put the audit row in the same transaction).
    pub fn applied_to(&self, event: &Event) -> Event {
        let mut changed = event.clone();
        if let Some(name) = &self.name {
            changed.name = name.clone();
        }
        if let Some(category) = self.category {
            changed.category = category;
        }
        if let Some(description) = &self.description {
            changed.description = description.clone();
        }
        if let Some(image_url) = &self.image_url {
            changed.image_url = image_url.clone().filter(|url| !url.is_empty());
        }
        if let Some(start_time) = self.start_time {
            changed.start_time = start_time;
        }
        if let Some(duration_minutes) = self.duration_minutes {
            changed.duration_minutes = duration_minutes;
        }
        if let Some(currency) = &self.currency {
            changed.currency = currency.clone();
        }
        if let Some(prices) = &self.prices {
            changed.prices = prices.clone();
            changed.prices.sort_by(|a, b| a.tier.cmp(&b.tier));
        }
        if let Some(types) = &self.ticket_types {
            changed.ticket_types = types.clone();
        }
        if let Some(poster) = &self.poster {
            changed.poster = poster.clone();
        }
        if let Some(on_sale_at) = self.on_sale_at {
            changed.on_sale_at = on_sale_at;
        }
        if let Some(queue) = self.queue {
            changed.queue = queue;
        }
        if let Some(hours) = self.accessible_release_hours {
            changed.accessible_release_hours = hours;
        }
        changed
    }
}

pub fn parse_duration_minutes(raw: Option<i32>) -> Result<Option<i32>, Invalid> {
    match raw {
        Some(m) if !(1..=24 * 60).contains(&m) => Err(Invalid::new("duration_minutes", "must be 1 to 1440")),
        other => Ok(other),
    }
}

pub fn parse_image_url(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(url) if url.len() > 2048 => Err(Invalid::new("image_url", "must be at most 2048 characters")),
        Some(url) if url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/') => {
            Ok(Some(url.to_owned()))
        }
        Some(_) => Err(Invalid::new("image_url", "must be an http(s) URL or a path starting with /")),
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub category: Option<Category>,
    pub venue_id: Option<Uuid>,
    /// Only events at one of these venues (the venues of the `city` filter).
    pub venues: Option<Vec<Uuid>>,
    /// A search (see `domain::search`): matching events only, best match first unless `sort` says.
    pub text: Option<String>,
    /// The order; `None` is soonest first, or best match first for a search.
    pub sort: Option<EventSort>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Also list events that started or were canceled.
    pub include_past: bool,
    pub page: Page,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(row: &str, seats: i32, tier: &str) -> SeatRow {
        SeatRow { row: row.into(), seats, tier: tier.into() }
    }

    #[test]
    fn venue_rows_are_normalised_and_distinct() {
        let v = NewVenue::parse("Hall", None, VenueKind::Hall, vec![row(" a ", 3, "Standard")]).unwrap();
        let seats: Vec<(String, i32, i32, String)> =
            v.seats.iter().map(|s| (s.row.clone(), s.row_index, s.seat_number, s.tier.clone())).collect();
        assert_eq!(seats, [1, 2, 3].map(|n| ("A".to_owned(), 0, n, "standard".to_owned())));
        assert_eq!(v.seats[2].label(), "Row A · Seat 3");
        let dup = NewVenue::parse("Hall", None, VenueKind::Hall, vec![row("A", 3, "x"), row("a", 2, "x")]);
        assert_eq!(dup.unwrap_err().field, "rows.row");
    }

    #[test]
    fn venue_needs_rows_with_seats() {
        assert_eq!(NewVenue::parse("Hall", None, VenueKind::Hall, vec![]).unwrap_err().field, "rows");
        let zero = NewVenue::parse("Hall", None, VenueKind::Hall, vec![row("A", 0, "x")]);
        assert_eq!(zero.unwrap_err().field, "rows.seats");
    }

    #[test]
    fn every_venue_tier_needs_a_price() {
        let tiers: BTreeSet<String> = ["standard".into(), "vip".into()].into();
        let prices = vec![Price { tier: "standard".into(), price_cents: 1200 }];
        assert!(check_prices_cover(&tiers, &prices).unwrap_err().message.contains("vip"));
    }

    #[test]
    fn negative_prices_are_refused() {
        let err = parse_prices(vec![Price { tier: "a".into(), price_cents: -1 }]).unwrap_err();
        assert_eq!(err.field, "prices.price_cents");
    }

    #[test]
    fn currency_defaults_to_eur() {
        assert_eq!(parse_currency(None).unwrap(), "EUR");
        assert_eq!(parse_currency(Some("usd")).unwrap(), "USD");
        assert!(parse_currency(Some("EURO")).is_err());
    }
}
