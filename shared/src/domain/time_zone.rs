//! A venue's time zone: an IANA name ("Europe/Madrid"), parsed at the edge, and the one way an
//! instant is written for people in it: "Sat 12 Dec 2026, 20:30 Madrid time". The tz database
//! is compiled in (crate `chrono-tz`), so no `/usr/share/zoneinfo` is needed, on Lambda either.
//!
//! Accepted: `UTC` and the database's geographic names (`Area/Location`, such as
//! `America/New_York` or `America/Argentina/Buenos_Aires`). Refused: the legacy and fixed-offset
//! names (`EST`, `US/Eastern`, `Etc/GMT+5`, whose sign is the reverse of what people read), which
//! name no place and so give no label a visitor would recognise.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;

use super::Invalid;

/// The areas of the tz database whose zones are named after a place.
const GEOGRAPHIC_AREAS: &[&str] =
    &["Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"];

/// An IANA time zone, `UTC` or a place's (`Europe/Madrid`); `UTC` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TimeZone(Tz);

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(Tz::UTC);

    /// A zone by its IANA name, exactly as the database spells it.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        let geographic = name.split_once('/').is_some_and(|(area, _)| GEOGRAPHIC_AREAS.contains(&area));
        match name.parse::<Tz>() {
            Ok(zone) if name == "UTC" || geographic => Ok(Self(zone)),
            _ => Err(Invalid::new(
                "time_zone",
                "must be an IANA time zone named after a place, such as Europe/Madrid or America/New_York, or UTC",
            )),
        }
    }

    /// The IANA name: "Europe/Madrid".
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// What people call the zone's time: "Madrid time", "New York time", or "UTC".
    pub fn label(self) -> String {
        match self.name().rsplit_once('/') {
            Some((_, place)) => format!("{} time", place.replace('_', " ")),
            None => self.name().to_owned(),
        }
    }

    /// An instant as people in this zone read it, labelled: "Sat 12 Dec 2026, 20:30 Madrid time".
    /// The site writes the same words (`Format.zoned` in `booking/data.js`).
    pub fn for_people(self, instant: DateTime<Utc>) -> String {
        format!("{} {}", instant.with_timezone(&self.0).format("%a %-d %b %Y, %H:%M"), self.label())
    }

    /// The instant a wall-clock time in this zone names: the earlier of two in the hour a clock
    /// goes back, the first one after a gap when a clock goes forward.
    pub fn instant_of(self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
            // No clock moves by more than a day; an hour later is past any gap.
            LocalResult::None => self.instant_of(local + chrono::Duration::hours(1)),
        }
    }
}

impl FromStr for TimeZone {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// For reading answers back (clients, tests); requests take the name as text and parse it in
/// the handler, so an unknown zone is a 422 with a sentence, not a JSON error.
impl<'de> serde::Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        rfc3339.parse().expect("an RFC 3339 time")
    }

    #[test]
    fn places_and_utc_are_zones_and_the_rest_are_refused() {
        for name in ["Europe/Madrid", "America/New_York", "America/Argentina/Buenos_Aires", "Asia/Tokyo", "UTC"] {
            assert_eq!(TimeZone::parse(name).map(TimeZone::name), Ok(name));
        }
        for name in [
            "",
            "Mars/Olympus_Mons",
            "Europe/Hamburg",
            "europe/madrid",
            "EST",
            "US/Eastern",
            "Etc/GMT+5",
            "GMT",
            "Madrid",
        ] {
            let refused = TimeZone::parse(name).unwrap_err();
            assert_eq!(refused.field, "time_zone", "{name}");
            assert!(refused.message.contains("Europe/Madrid"), "the sentence shows a valid name: {refused}");
        }
        assert_eq!(TimeZone::parse(" Europe/Berlin ").map(TimeZone::name), Ok("Europe/Berlin"));
        assert_eq!(TimeZone::default(), TimeZone::UTC);
    }

    #[test]
    fn the_label_is_the_place_s_time() {
        let label = |name: &str| TimeZone::parse(name).unwrap().label();
        assert_eq!(label("Europe/Madrid"), "Madrid time");
        assert_eq!(label("America/New_York"), "New York time");
        assert_eq!(label("America/Argentina/Buenos_Aires"), "Buenos Aires time");
        assert_eq!(label("UTC"), "UTC");
    }

    #[test]
    fn an_instant_is_written_in_the_zone_with_its_label_summer_and_winter() {
        let madrid = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(madrid.for_people(at("2026-12-12T19:30:00Z")), "Sat 12 Dec 2026, 20:30 Madrid time");
        assert_eq!(madrid.for_people(at("2026-07-04T18:30:00Z")), "Sat 4 Jul 2026, 20:30 Madrid time");
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(new_york.for_people(at("2026-12-13T01:30:00Z")), "Sat 12 Dec 2026, 20:30 New York time");
        assert_eq!(TimeZone::UTC.for_people(at("2026-03-14T19:30:00Z")), "Sat 14 Mar 2026, 19:30 UTC");
    }

    #[test]
    fn a_wall_clock_time_names_one_instant_even_when_clocks_move() {
        let hamburg = TimeZone::parse("Europe/Berlin").unwrap();
        let local = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(hamburg.instant_of(local("2026-12-12 20:00")), at("2026-12-12T19:00:00Z"));
        assert_eq!(hamburg.instant_of(local("2026-07-01 20:00")), at("2026-07-01T18:00:00Z"));
        // 29 March 2026: 02:00 becomes 03:00; 25 October: 03:00 becomes 02:00 again.
        assert_eq!(hamburg.instant_of(local("2026-03-29 02:30")), at("2026-03-29T01:30:00Z"));
        assert_eq!(hamburg.instant_of(local("2026-10-25 02:30")), at("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn the_wire_form_is_the_name() {
        let madrid = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(serde_json::to_string(&madrid).unwrap(), "\"Europe/Madrid\"");
        assert_eq!(serde_json::from_str::<TimeZone>("\"Europe/Madrid\"").unwrap(), madrid);
        assert!(serde_json::from_str::<TimeZone>("\"Mars/Olympus_Mons\"").is_err());
    }
}
