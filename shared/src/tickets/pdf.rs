//! The printable ticket: one A4 page per ticket, with the event, where and when, the seat, what
//! it cost, who holds it and its QR drawn as vector squares (sharp at any print size).
//!
//! Made with krilla: it subsets and embeds the font (DejaVu Sans, `shared/assets/fonts`, its
//! license beside it), so a page prints the same anywhere, holder names in any script DejaVu
//! covers included.
//!
//! The whole font is built in, every glyph, but deflated (`shared/build.rs`): 759,720 bytes of
//! TrueType are about 384 KB in a zlib stream, which keeps api-reservations' Lambda bootstrap under
//! `make package`'s 15 MB. It is inflated once, on the first PDF a process makes, and kept.

use std::io::Read;
use std::sync::LazyLock;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::qr::QrModules;
use super::{booking_reference, event_time, money, venue_line};
use crate::domain::{Event, Ticket};

/// One ticket as printed: the ticket, the exact code its QR carries, and its event.
#[derive(Debug, Clone, Copy)]
pub struct PrintedTicket<'a> {
    pub ticket: &'a Ticket,
    pub code: &'a str,
    pub event: &'a Event,
}

/// A4 in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
/// The QR's side with its quiet zone: about 8.5 cm, read by a phone from arm's length.
const QR_SIDE: f32 = 240.0;
/// Modules of white around the QR that scanners need.
const QUIET_ZONE_MODULES: usize = 4;

static FONT: LazyLock<Font> =
    LazyLock::new(|| Font::new(dejavu_sans().into(), 0).expect("DejaVu Sans is a valid TrueType font"));

/// DejaVu Sans' TrueType file, inflated from what `shared/build.rs` deflated (the stream's
/// checksum checked).
fn dejavu_sans() -> Vec<u8> {
    let deflated: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSans.ttf.zz"));
    let mut font = Vec::new();
    flate2::read::ZlibDecoder::new(deflated)
        .read_to_end(&mut font)
        .expect("the font shared/build.rs deflated inflates");
    font
}

const INK: (u8, u8, u8) = (0x11, 0x11, 0x11);
const MUTED: (u8, u8, u8) = (0x5f, 0x63, 0x68);
const RULE: (u8, u8, u8) = (0xd0, 0xd4, 0xd9);

/// One A4 page per ticket, in the order given.
pub fn tickets_pdf(pages: &[PrintedTicket<'_>]) -> Vec<u8> {
    let mut document = Document::new();
    let title = match pages.first() {
        Some(first) if pages.len() == 1 => format!("Ticket: {}", first.event.name),
        Some(first) => format!("Tickets: {}", first.event.name),
        None => "Tickets".to_owned(),
    };
    document.set_metadata(Metadata::new().title(title).creator("ProEventa".to_owned()));
    for printed in pages {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).expect("A4 is a valid page size");
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        draw_ticket(&mut surface, printed);
        surface.finish();
        page.finish();
    }
    // krilla refuses a document only under a validator (PDF/A and the like), and none is asked.
    document.finish().expect("a plain PDF of text and rectangles is always written")
}

fn draw_ticket(surface: &mut Surface<'_>, printed: &PrintedTicket<'_>) {
    let PrintedTicket { ticket, code, event } = *printed;
    let mut y = MARGIN + 12.0;
    text(surface, MARGIN, y, 11.0, MUTED, "PROEVENTA · TICKET");
    y += 40.0;
    for line in wrapped(&event.name, 34, 3) {
        text(surface, MARGIN, y, 26.0, INK, &line);
        y += 32.0;
    }
    y += 4.0;
    text(surface, MARGIN, y, 15.0, INK, &event_time(event));
    y += 24.0;
    for line in wrapped(&venue_line(event), 60, 2) {
        text(surface, MARGIN, y, 13.0, MUTED, &line);
        y += 18.0;
    }
    y += 14.0;
    rectangle(surface, Rect::from_xywh(MARGIN, y, PAGE_WIDTH - 2.0 * MARGIN, 1.0), RULE);
    y += 24.0;

    let qr_top = y;
    draw_qr(surface, code, MARGIN, qr_top);
    let column = MARGIN + QR_SIDE + 28.0;
    let mut row = qr_top + 22.0;
    let details = [
        ("Seat", ticket.seat.on_ticket()),
        ("Tier", ticket.seat.tier.clone()),
        ("Price", money(ticket.price_cents, &ticket.currency)),
        ("Booking reference", booking_reference(ticket.booking_id)),
        ("Holder", ticket.holder_name.clone()),
    ];
    for (label, value) in details {
        text(surface, column, row, 10.0, MUTED, label);
        row += 19.0;
        for line in wrapped(&value, 24, 2) {
            text(surface, column, row, 16.0, INK, &line);
            row += 20.0;
        }
        row += 12.0;
    }

    let mut y = qr_top + QR_SIDE + 26.0;
    text(surface, MARGIN, y, 10.0, MUTED, "Ticket");
    y += 16.0;
    text(surface, MARGIN, y, 12.0, INK, &ticket.id.to_string());
    y += 40.0;
    rectangle(surface, Rect::from_xywh(MARGIN, y, PAGE_WIDTH - 2.0 * MARGIN, 1.0), RULE);
    y += 26.0;
    for line in [
        "Show this code at the door, printed or on your phone: it admits one person, once.",
        "A copy admits no one else: the first scan of a ticket is the only one let in.",
    ] {
        text(surface, MARGIN, y, 10.0, MUTED, line);
        y += 15.0;
    }
}

/// The QR with its quiet zone in a `QR_SIDE` square whose top-left corner is (`left`, `top`):
/// one path of squares, one per dark module.
fn draw_qr(surface: &mut Surface<'_>, code: &str, left: f32, top: f32) {
    let modules = QrModules::of(code);
    let module = QR_SIDE / (modules.width + 2 * QUIET_ZONE_MODULES) as f32;
    let origin = QUIET_ZONE_MODULES as f32 * module;
    let mut path = PathBuilder::new();
    for y in 0..modules.width {
        for x in 0..modules.width {
            if modules.is_dark(x, y) {
                let square = Rect::from_xywh(
                    left + origin + x as f32 * module,
                    top + origin + y as f32 * module,
                    module,
                    module,
                );
                if let Some(square) = square {
                    path.push_rect(square);
                }
            }
        }
    }
    if let Some(path) = path.finish() {
        surface.set_fill(Some(fill((0, 0, 0))));
        surface.draw_path(&path);
    }
}

fn text(surface: &mut Surface<'_>, x: f32, baseline: f32, size: f32, color: (u8, u8, u8), text: &str) {
    surface.set_fill(Some(fill(color)));
    surface.draw_text(Point::from_xy(x, baseline), FONT.clone(), size, text, false, TextDirection::Auto);
}

fn rectangle(surface: &mut Surface<'_>, rect: Option<Rect>, color: (u8, u8, u8)) {
    let mut path = PathBuilder::new();
    if let Some(rect) = rect {
        path.push_rect(rect);
    }
    if let Some(path) = path.finish() {
        surface.set_fill(Some(fill(color)));
        surface.draw_path(&path);
    }
}

fn fill((red, green, blue): (u8, u8, u8)) -> Fill {
    Fill { paint: rgb::Color::new(red, green, blue).into(), ..Fill::default() }
}

/// `text` in lines of at most `width` characters, broken between words (a longer word is cut),
/// at most `max_lines` of them, the last ending in "…" when some was left out.
fn wrapped(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_owned();
        loop {
            let needed = if current.is_empty() {
                word.chars().count()
            } else {
                current.chars().count() + 1 + word.chars().count()
            };
            if needed <= width {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(&word);
                break;
            }
            if current.is_empty() {
                // A word longer than a line: its first `width` characters fill one.
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                lines.push(head);
            } else {
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("max_lines is at least one");
        let kept: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = format!("{}…", kept.trim_end());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_inflates_to_dejavu_sans_as_shipped() {
        let shipped = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/fonts/DejaVuSans.ttf")).unwrap();
        assert!(dejavu_sans() == shipped, "the inflated font differs from shared/assets/fonts/DejaVuSans.ttf");
    }

    #[test]
    fn long_text_wraps_between_words_and_ends_in_an_ellipsis() {
        assert_eq!(wrapped("The Magic Flute", 34, 3), ["The Magic Flute"]);
        assert_eq!(wrapped("aaa bbb ccc", 7, 3), ["aaa bbb", "ccc"]);
        assert_eq!(wrapped("abcdefghij", 4, 3), ["abcd", "efgh", "ij"]);
        assert_eq!(wrapped("aaa bbb ccc ddd", 7, 1), ["aaa bb…"]);
        assert!(wrapped("", 10, 2).is_empty());
    }
}
