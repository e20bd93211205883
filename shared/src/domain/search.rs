//! Event search, the same on every backend: what a query matches and in which order the matches
//! come. Text is compared folded (`fold`: lowercase, accents and punctuation gone, so "München",
//! "MUNCHEN" and "munchen" are one word). Each word of the query matches a word of the event's
//! title, venue name, venue address or description exactly, as its beginning (three letters or
//! more), or with one typo (two from eight letters): a letter wrong, missing, extra or two
//! swapped, provided the two words still share one of their edge-padded trigrams (`trigrams`).
//! That proviso is what lets a SQL backend find every possible match through a trigram index
//! (PostgreSQL `pg_trgm`, SQLite FTS5 `trigram`): an event can match only if its folded text
//! holds one of the query's trigrams, so the backend reads those events (`SearchCandidate`) and
//! `rank` decides here. A query word that matches nothing ("tickets") does not exclude an event;
//! an event that matches no word is left out.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use uuid::Uuid;

use super::{Invalid, Page, wire_enum};

wire_enum! {
    /// The order of an event listing: soonest first, cheapest seat first, or by name; a search
    /// without one lists the best matches first.
    EventSort { Date => "date", Price => "price", Name => "name" }
}

/// Words of a query beyond this many are ignored (a pasted paragraph stays cheap).
pub const MAX_QUERY_WORDS: usize = 8;
/// Letters of a query word beyond this many are ignored.
const MAX_WORD_CHARS: usize = 40;

/// How much a match in each field weighs: the title most, where the event is next, the
/// description least, so a title match ranks above a description match.
const TITLE_WEIGHT: u32 = 8;
const VENUE_WEIGHT: u32 = 4;
const ADDRESS_WEIGHT: u32 = 4;
const DESCRIPTION_WEIGHT: u32 = 1;

/// How well one query word matches one word of a field.
const EXACT: u32 = 4;
const PREFIX: u32 = 3;
const TYPO: u32 = 2;

/// `text` folded for comparison: lowercase, accents removed (NFD without combining marks; a few
/// letters that do not decompose are spelled out: ß, æ, œ, ø, ł, đ, þ), every run of other
/// characters than letters and digits one space, with a space at each end so every word is
/// bounded by spaces (" hamlet in hamburg "). The empty text folds to " ".
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len() + 2);
    folded.push(' ');
    for c in text.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase) {
        let spelled = match c {
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            'ø' => "o",
            'ł' => "l",
            'đ' | 'ð' => "d",
            'þ' => "th",
            'ı' => "i",
            _ if c.is_alphanumeric() => {
                folded.push(c);
                continue;
            }
            _ => {
                if !folded.ends_with(' ') {
                    folded.push(' ');
                }
                continue;
            }
        };
        folded.push_str(spelled);
    }
    if !folded.ends_with(' ') {
        folded.push(' ');
    }
    folded
}

/// The folded text an event is found by: its title, venue name, venue address and description.
/// Backends with a trigram index store it with the event.
pub fn event_search_text(name: &str, venue_name: &str, venue_location: &str, description: &str) -> String {
    fold(&format!("{name} {venue_name} {venue_location} {description}"))
}

/// A search query: its distinct folded words, at most `MAX_QUERY_WORDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// `None` when the text has no letter or digit: a search for "%" finds nothing.
    pub fn parse(text: &str) -> Option<Self> {
        let mut words: Vec<String> = Vec::new();
        for word in fold(text).split_whitespace() {
            let word: String = word.chars().take(MAX_WORD_CHARS).collect();
            if !words.contains(&word) && words.len() < MAX_QUERY_WORDS {
                words.push(word);
            }
        }
        (!words.is_empty()).then_some(Self { words })
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Every trigram of the query's words, padded with a space at each end: an event matches only
    /// if its `event_search_text` contains one of them (so each is a `LIKE '%…%'` pattern or an
    /// FTS5 phrase). Folded text has only letters, digits and spaces, so none needs escaping.
    pub fn trigrams(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.words.iter().flat_map(|w| trigrams(w)).collect();
        set.into_iter().collect()
    }
}

/// The trigrams of " word ": a word of n letters has n of them.
fn trigrams(word: &str) -> Vec<String> {
    let padded: Vec<char> = format!(" {word} ").chars().collect();
    padded.windows(3).map(|w| w.iter().collect()).collect()
}

/// What `rank` needs of an event that may match: read by the backend's trigram index (or, on
/// DynamoDB, from the listing it already reads).
#[derive(Debug, Clone)]
pub struct SearchCandidate {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub venue_name: String,
    pub venue_location: String,
    pub start_time: DateTime<Utc>,
    /// The cheapest seat, for `sort=price`.
    pub min_price_cents: i64,
}

impl SearchCandidate {
    /// How well the event matches: per query word, its best weighted match over the fields,
    /// summed; 0 when no word matches.
    pub fn score(&self, query: &SearchQuery) -> u32 {
        let fields = [
            (fold(&self.name), TITLE_WEIGHT),
            (fold(&self.venue_name), VENUE_WEIGHT),
            (fold(&self.venue_location), ADDRESS_WEIGHT),
            (fold(&self.description), DESCRIPTION_WEIGHT),
        ];
        query
            .words
            .iter()
            .map(|word| {
                fields
                    .iter()
                    .map(|(text, weight)| {
                        weight * text.split_whitespace().map(|w| word_match(word, w)).max().unwrap_or(0)
                    })
                    .max()
                    .unwrap_or(0)
            })
            .sum()
    }
}

/// How well query word `q` matches text word `w` (both folded): `EXACT`, `PREFIX`, `TYPO` or 0.
fn word_match(q: &str, w: &str) -> u32 {
    if q == w {
        return EXACT;
    }
    let q_len = q.chars().count();
    if q_len >= 3 && w.starts_with(q) {
        return PREFIX;
    }
    let allowed = match q_len {
        0..=3 => return 0,
        4..=7 => 1,
        _ => 2,
    };
    let w_len = w.chars().count();
    if w_len.abs_diff(q_len) > allowed {
        return 0;
    }
    let shares_trigram = {
        let ours = trigrams(q);
        trigrams(w).iter().any(|t| ours.contains(t))
    };
    if shares_trigram && typos(q, w) <= allowed { TYPO } else { 0 }
}

/// The optimal string alignment distance: letters substituted, inserted, deleted, or two
/// neighbours swapped, each one edit.
fn typos(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The matches among `candidates`, in `sort`'s order (best match first when `None`; ties by
/// time, then id), paged: the ids of the page's events, in order.
pub fn rank(query: &SearchQuery, candidates: Vec<SearchCandidate>, sort: Option<EventSort>, page: Page) -> Vec<Uuid> {
    let mut matches: Vec<(u32, SearchCandidate)> =
        candidates.into_iter().map(|c| (c.score(query), c)).filter(|(score, _)| *score > 0).collect();
    match sort {
        None => matches.sort_by_key(|(score, c)| (Reverse(*score), c.start_time, c.id)),
        Some(EventSort::Date) => matches.sort_by_key(|(_, c)| (c.start_time, c.id)),
        Some(EventSort::Price) => matches.sort_by_key(|(_, c)| (c.min_price_cents, c.start_time, c.id)),
        Some(EventSort::Name) => matches.sort_by_key(|(_, c)| (c.name.to_lowercase(), c.start_time, c.id)),
    }
    let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit).unwrap_or(0);
    matches.into_iter().skip(offset).take(limit).map(|(_, c)| c.id).collect()
}

/// `events` in the order of `ids` (a ranked page read back in any order).
pub fn in_order(events: Vec<super::Event>, ids: &[Uuid]) -> Vec<super::Event> {
    let mut by_id: std::collections::HashMap<Uuid, super::Event> = events.into_iter().map(|e| (e.id, e)).collect();
    ids.iter().filter_map(|id| by_id.remove(id)).collect()
}

/// The city of a venue's address: its last comma-separated part ("Hafenstraße 1, Hamburg" is in
/// Hamburg), folded, so the `city` filter ignores case and accents.
pub fn city_of(location: &str) -> String {
    fold(location.rsplit(',').next().unwrap_or("")).trim().to_owned()
}

/// A `city` filter's value, folded; `Invalid` when it has no letter.
pub fn parse_city(raw: &str) -> Result<String, Invalid> {
    let city = fold(raw).trim().to_owned();
    if city.is_empty() || city.chars().count() > 100 {
        return Err(Invalid::new("city", "must name a city"));
    }
    Ok(city)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, venue: &str, location: &str, description: &str) -> SearchCandidate {
        SearchCandidate {
            id: Uuid::new_v4(),
            name: name.into(),
            description: description.into(),
            venue_name: venue.into(),
            venue_location: location.into(),
            start_time: Utc::now(),
            min_price_cents: 0,
        }
    }

    fn score(query: &str, c: &SearchCandidate) -> u32 {
        c.score(&SearchQuery::parse(query).expect("a query"))
    }

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("München"), " munchen ");
        assert_eq!(fold("MUNCHEN"), fold("münchen"));
        assert_eq!(fold("Hafenstraße 1, Hamburg!"), " hafenstrasse 1 hamburg ");
        assert_eq!(fold("Cine Lumière"), " cine lumiere ");
        assert_eq!(fold(""), " ");
    }

    #[test]
    fn one_typo_is_forgiven_in_a_word_of_four_letters_two_from_eight() {
        let hamlet = candidate("Hamlet", "Teatro", "Madrid", "");
        for typo in ["hamlte", "hamlet", "hamelt", "hamle", "hamlett", "hemlet"] {
            assert!(score(typo, &hamlet) > 0, "{typo}");
        }
        assert_eq!(score("hmlte", &hamlet), 0, "two typos in six letters");
        let long = candidate("Interstellar", "", "", "");
        assert!(score("intrestelar", &long) > 0, "two typos in eleven letters");
        assert_eq!(score("cat", &candidate("Car", "", "", "")), 0, "no typo in three letters");
    }

    #[test]
    fn a_title_match_ranks_above_a_description_match() {
        let in_title = candidate("Hamlet", "Teatro", "Madrid", "");
        let in_description = candidate("Macbeth", "Teatro", "Madrid", "After Hamlet, the Scottish play");
        assert!(score("hamlet", &in_title) > score("hamlet", &in_description));
        let ids = rank(
            &SearchQuery::parse("hamlet tickets").expect("a query"),
            vec![in_description.clone(), in_title.clone(), candidate("Other", "", "", "")],
            None,
            Page::default(),
        );
        assert_eq!(ids, vec![in_title.id, in_description.id]);
    }

    #[test]
    fn every_possible_match_holds_one_of_the_query_trigrams() {
        let query = SearchQuery::parse("Hamlte munchen").expect("a query");
        let text = event_search_text("Hamlet", "Arena", "Straße 1, München", "");
        assert!(query.trigrams().iter().any(|t| text.contains(t.as_str())));
        assert!(query.trigrams().contains(&" ha".to_owned()));
    }

    #[test]
    fn the_city_is_the_last_part_of_the_address() {
        assert_eq!(city_of("Hafenstraße 1, Hamburg"), "hamburg");
        assert_eq!(city_of("Lyon"), "lyon");
        assert_eq!(parse_city(" MÜNCHEN ").expect("a city"), "munchen");
        assert!(parse_city("--").is_err());
    }
}
