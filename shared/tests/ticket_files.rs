//! The files a buyer is given, read back by the tools a person's phone, printer and calendar
//! stand for: the QR of `qr.svg` and of each PDF page decodes (zbarimg) to the exact signed
//! code, the PDF has its fonts embedded (pdffonts) and says what it should (pdftotext), the time
//! at the venue among it, and the `.ics` parses with Python's `icalendar` with the right start
//! and place, and the venue's time in its description.
//!
//! Needs Debian's zbar-tools, poppler-utils and librsvg2-bin (`make render-tools`) and the
//! project venv (`make venv`); a missing one fails the test saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use proeventa_core::domain::{
    Category, Event, EventStatus, SeatLabel, Ticket, TicketStatus, TimeZone, VenueKind, VenueSummary,
};
use proeventa_core::tickets::{PrintedTicket, TicketKeys, event_calendar, qr_svg, tickets_pdf};
use uuid::Uuid;

/// A folder of its own under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("proeventa-{name}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `program` (from Debian's `package`), which must succeed.
fn run(program: &str, package: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {program} ({e}): install Debian's {package} (`make render-tools`, or `apt-get install {package}`)"
        )
    });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The codes zbarimg reads in an image, one per QR.
fn decoded_qr_codes(png: &Path) -> Vec<String> {
    let output = run("zbarimg", "zbar-tools", &["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path_str(png)]);
    String::from_utf8(output.stdout).expect("a QR code is text").lines().map(str::to_owned).collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// An event at 19:30 UTC on 14 March 2026: 15:30 at its venue in New York (daylight saving time
/// began there on 8 March), which the PDF and the calendar's description must say.
fn event() -> Event {
    let venue_id = Uuid::new_v4();
    Event {
        id: Uuid::new_v4(),
        venue_id,
        venue: VenueSummary {
            id: venue_id,
            name: "Royal Concert Hall".into(),
            location: "1 Main Street, Springfield".into(),
            kind: VenueKind::Hall,
            time_zone: TimeZone::parse("America/New_York").unwrap(),
        },
        name: "The Magic Flute; a night at the opera".into(),
        category: Category::Theatre,
        description: String::new(),
        image_url: None,
        poster: None,
        start_time: "2026-03-14T19:30:00Z".parse().unwrap(),
        duration_minutes: Some(150),
        status: EventStatus::OnSale,
        on_sale_at: None,
        queue: None,
        accessible_release_hours: None,
        currency: "EUR".into(),
        prices: Vec::new(),
        ticket_types: Vec::new(),
        seats_total: 100,
        seats_available: 98,
    }
}

fn ticket(event: &Event, booking_id: Uuid, row: &str, seat_number: i32, holder: &str) -> Ticket {
    Ticket {
        id: Uuid::new_v4(),
        booking_id,
        reservation_id: Uuid::new_v4(),
        event_id: event.id,
        user_id: Uuid::new_v4(),
        seat_id: Uuid::new_v4(),
        seat: SeatLabel { section: None, row: row.into(), seat_number, tier: "premium".into() },
        price_cents: 4550,
        discount_cents: 0,
        currency: "EUR".into(),
        holder_name: holder.into(),
        status: TicketStatus::Valid,
        issued_at: "2026-02-01T10:00:00Z".parse().unwrap(),
        admission: None,
        revoked_at: None,
    }
}

#[test]
fn the_qr_svg_decodes_to_the_exact_signed_code() {
    let keys = TicketKeys::from_secret(&TicketKeys::generate_secret()).unwrap();
    let event = event();
    let ticket = ticket(&event, Uuid::new_v4(), "C", 12, "Ann Example");
    let code = keys.code(&ticket);
    let scratch = Scratch::new("qr-svg");
    let (svg, png) = (scratch.path("ticket.svg"), scratch.path("ticket.png"));
    std::fs::write(&svg, qr_svg(&code)).unwrap();
    run(
        "rsvg-convert",
        "librsvg2-bin",
        &["--width", "600", "--background-color", "white", "-o", path_str(&png), path_str(&svg)],
    );
    assert_eq!(decoded_qr_codes(&png), std::slice::from_ref(&code));
    let claims = keys.verify(&code).unwrap();
    assert_eq!(
        (claims.ticket_id, claims.event_id, claims.seat_label.as_str()),
        (ticket.id, event.id, "Row C · Seat 12")
    );
}

#[test]
fn each_pdf_page_is_one_ticket_whose_qr_decodes_with_its_fonts_embedded() {
    let keys = TicketKeys::from_secret(&TicketKeys::generate_secret()).unwrap();
    let event = event();
    let booking = Uuid::parse_str("3fa85f64-5717-4562-b3fc-2c963f66afa6").unwrap();
    let tickets = [ticket(&event, booking, "C", 12, "Zoë Ångström"), ticket(&event, booking, "C", 13, "Юлия Иванова")];
    let codes: Vec<String> = tickets.iter().map(|t| keys.code(t)).collect();
    let pages: Vec<PrintedTicket<'_>> =
        tickets.iter().zip(&codes).map(|(ticket, code)| PrintedTicket { ticket, code, event: &event }).collect();
    let scratch = Scratch::new("ticket-pdf");
    let pdf = scratch.path("tickets.pdf");
    std::fs::write(&pdf, tickets_pdf(&pages)).unwrap();
    // `TICKET_PDF_OUT=/tmp/t.pdf cargo test ...` keeps a copy to look at.
    if let Some(keep) = std::env::var_os("TICKET_PDF_OUT") {
        std::fs::copy(&pdf, keep).expect("a copy of the PDF");
    }

    let info = String::from_utf8(run("pdfinfo", "poppler-utils", &[path_str(&pdf)]).stdout).unwrap();
    assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 2")), "{info}");
    assert!(info.contains("595.28 x 841.89 pts (A4)") || info.contains("(A4)"), "A4 pages: {info}");

    let prefix = scratch.path("page");
    run("pdftoppm", "poppler-utils", &["-r", "150", "-png", path_str(&pdf), path_str(&prefix)]);
    for (page, code) in codes.iter().enumerate() {
        let png = scratch.path(&format!("page-{}.png", page + 1));
        assert_eq!(decoded_qr_codes(&png), std::slice::from_ref(code), "page {}", page + 1);
        assert_eq!(keys.verify(code).unwrap().ticket_id, tickets[page].id);
    }

    let fonts = String::from_utf8(run("pdffonts", "poppler-utils", &[path_str(&pdf)]).stdout).unwrap();
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "the PDF uses a font: {fonts}");
    for row in rows {
        // name type encoding emb sub uni object ID: `emb` is the fourth column from the end.
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(columns[columns.len() - 5], "yes", "every font is embedded: {fonts}");
        assert!(columns[0].contains("DejaVuSans"), "{fonts}");
    }

    let text = String::from_utf8(run("pdftotext", "poppler-utils", &[path_str(&pdf), "-"]).stdout).unwrap();
    // Lines wrap where the page is narrow: compare words, not line breaks.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!text.contains("19:30"), "the time is the venue's, not UTC: {text}");
    for expected in [
        "The Magic Flute; a night at the opera",
        "Sat 14 Mar 2026, 15:30 New York time",
        "Royal Concert Hall, 1 Main Street, Springfield",
        "Row C · Seat 12",
        "Row C · Seat 13",
        "premium",
        "45.50 EUR",
        "3FA85F64",
        "Zoë Ångström",
        "Юлия Иванова",
        &tickets[0].id.to_string(),
        &tickets[1].id.to_string(),
    ] {
        assert!(text.contains(expected), "the PDF says {expected:?}: {text}");
    }
}

#[test]
fn the_calendar_file_parses_strictly_with_the_right_start_and_place() {
    let event = event();
    let booking = Uuid::new_v4();
    let tickets = [ticket(&event, booking, "C", 12, "Ann"), ticket(&event, booking, "C", 13, "Ann")];
    let ics = event_calendar(&event, &tickets);
    assert_eq!(ics, event_calendar(&event, &tickets), "the same tickets make the same file");
    assert!(ics.contains("\r\n"), "RFC 5545 lines end in CRLF");
    let scratch = Scratch::new("calendar");
    let file = scratch.path("event.ics");
    std::fs::write(&file, &ics).unwrap();

    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python3");
    assert!(python.exists(), "{} is missing: run `make venv` (it installs icalendar)", python.display());
    // Every parse problem icalendar would otherwise record and skip is an error here.
    let script = r#"
import json, sys
import icalendar
text = open(sys.argv[1], 'rb').read()
calendar = icalendar.Calendar.from_ical(text)
problems = [(c.name, c.errors) for c in calendar.walk() if c.errors]
if problems:
    sys.exit(f"parse errors: {problems}")
events = calendar.walk('VEVENT')
assert len(events) == 1, events
vevent = events[0]
print(json.dumps({
    "version": str(calendar['VERSION']),
    "uid": str(vevent['UID']),
    "summary": str(vevent['SUMMARY']),
    "location": str(vevent['LOCATION']),
    "description": str(vevent['DESCRIPTION']),
    "dtstart": vevent['DTSTART'].dt.isoformat(),
    "dtend": vevent['DTEND'].dt.isoformat(),
    "dtstamp": vevent['DTSTAMP'].dt.isoformat(),
}))
"#;
    let output = Command::new(&python).args(["-c", script, path_str(&file)]).output().expect("the venv's python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("No module named 'icalendar'"), "icalendar is missing from the venv: run `make venv`");
    assert!(output.status.success(), "the .ics does not parse strictly: {stderr}\n{ics}");
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let time = |field: &str| parsed[field].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(parsed["version"], "2.0");
    assert_eq!(time("dtstart"), event.start_time);
    assert!(parsed["dtstart"].as_str().unwrap().ends_with("+00:00"), "DTSTART is in UTC: {parsed}");
    assert_eq!(time("dtend"), event.start_time + chrono::Duration::minutes(150));
    assert_eq!(time("dtstamp"), tickets[0].issued_at);
    assert_eq!(parsed["summary"], "The Magic Flute; a night at the opera");
    assert_eq!(parsed["location"], "Royal Concert Hall, 1 Main Street, Springfield");
    assert_eq!(parsed["uid"], format!("{}-{booking}@proeventa", event.id));
    let description = parsed["description"].as_str().unwrap();
    assert!(description.contains("Row C · Seat 12 (premium), Row C · Seat 13 (premium)"), "{description}");
    assert!(description.starts_with("Starts Sat 14 Mar 2026, 15:30 New York time\n"), "{description}");

    let without_duration = Event { duration_minutes: None, ..event.clone() };
    let ics = event_calendar(&without_duration, &tickets);
    assert!(ics.contains("DTEND:20260314T213000Z"), "two hours when the event gives no duration: {ics}");
    assert!(ics.contains("DTSTART:20260314T193000Z"), "{ics}");
}
