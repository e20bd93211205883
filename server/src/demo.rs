//! Demo data for `make run`: a cinema in Lyon, a theatre in Madrid and an arena in Hamburg, each
//! in its own time zone, with real seat rows and tiers, and a 4,600-seat arena in Berlin drawn as a
//! layout of blocks around a stage (`demo_arena`); movies with several showtimes, concerts,
//! plays and a comedy night over the coming weeks, each at a time on the venue's own clock; and
//! an admin, a customer and a buyer account whose credentials are printed. The buyer has already
//! paid for a few seats (`DEMO_PURCHASES`), through the store's own checkout and confirm: the
//! confirm issues the tickets and writes the confirmation message in one transaction, and
//! `serve`'s sender then mails them, tickets attached, into the mail folder it names at start.
//! (The customer starts with nothing bought: the browser tests buy as that customer and count
//! what the profile shows.)

use chrono::{DateTime, Datelike, Days, Duration, NaiveTime, Utc};
use proeventa_core::auth::hash_password;
use proeventa_core::domain::{
    Card, Category, Email, Event, EventChanges, HoldLimit, HoldRequest, HoldTtl, NewEvent, NewPayment, NewUser,
    NewVenue, Password, Price, Role, SeatRow, SeatSelection, TimeZone, User, VenueKind, VenueWithSeats,
};
use proeventa_core::payments::PaymentProvider;
use proeventa_core::store::{Store, StoreError};
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@proeventa.test";
pub const ADMIN_PASSWORD: &str = "admin-demo-2026";
pub const CUSTOMER_EMAIL: &str = "ana@proeventa.test";
pub const CUSTOMER_PASSWORD: &str = "customer-demo-2026";
pub const BUYER_EMAIL: &str = "ben@proeventa.test";
pub const BUYER_PASSWORD: &str = "buyer-demo-2026";

/// Seeds the demo when the store has no venue yet; prints the demo accounts either way.
///
/// The demo's purchases are paid through `payments`, the provider the server then refunds them
/// with: a simulated provider knows only the charges it made itself.
pub async fn seed_if_empty(store: &dyn Store, print: bool, payments: &dyn PaymentProvider) -> Result<(), String> {
    let empty = store.list_venues().await.map_err(|e| e.to_string())?.is_empty();
    if empty {
        seed(store, payments).await.map_err(|e| format!("demo seed failed: {e}"))?;
    }
    if print {
        println!("{}", if empty { "Demo data seeded." } else { "Store already has data; demo seed skipped." });
        println!("  admin     {ADMIN_EMAIL} / {ADMIN_PASSWORD}");
        println!("  customer  {CUSTOMER_EMAIL} / {CUSTOMER_PASSWORD}");
        println!(
            "  buyer     {BUYER_EMAIL} / {BUYER_PASSWORD}  (paid for three bookings: their mails are in the mail folder)"
        );
    }
    Ok(())
}

fn letters(range: std::ops::RangeInclusive<char>, seats: i32, tier: &str) -> Vec<(String, i32, String)> {
    range.map(|c| (c.to_string(), seats, tier.to_owned())).collect()
}

fn venue_rows(parts: Vec<Vec<(String, i32, String)>>) -> Vec<SeatRow> {
    parts.into_iter().flatten().map(|(row, seats, tier)| SeatRow { row, seats, tier }).collect()
}

/// The buyer's paid bookings: (event name, seats as row and number). Each is one booking,
/// so one confirmation mail with its tickets.
pub const DEMO_PURCHASES: [(&str, &[(&str, i32)]); 3] = [
    ("Hamlet", &[("D", 7), ("D", 8)]),
    ("Northern Lights Tour", &[("A", 14), ("A", 15), ("A", 16)]),
    ("The Last Lighthouse", &[("J", 6)]),
];

async fn seed(store: &dyn Store, payments: &dyn PaymentProvider) -> Result<(), StoreError> {
    add_account(store, ADMIN_EMAIL, "Demo Admin", ADMIN_PASSWORD, Role::Admin).await?;
    add_account(store, CUSTOMER_EMAIL, "Ana Demo", CUSTOMER_PASSWORD, Role::Customer).await?;
    let buyer = add_account(store, BUYER_EMAIL, "Ben Demo", BUYER_PASSWORD, Role::Customer).await?;
    let mut events: Vec<(Event, VenueWithSeats)> = Vec::new();

    let cinema = venue(
        store,
        "Cine Lumière",
        "12 Rue des Arts, Lyon",
        "Europe/Paris",
        VenueKind::Cinema,
        venue_rows(vec![letters('A'..='H', 14, "standard"), letters('J'..='K', 12, "premium")]),
    )
    .await?;
    let theatre = venue(
        store,
        "Teatro Aurora",
        "Calle Mayor 5, Madrid",
        "Europe/Madrid",
        VenueKind::Theatre,
        venue_rows(vec![
            letters('A'..='C', 16, "stalls_premium"),
            letters('D'..='L', 18, "stalls"),
            letters('M'..='P', 20, "balcony"),
        ]),
    )
    .await?;
    let arena = venue(
        store,
        "Arena Nord",
        "Hafenstraße 1, Hamburg",
        "Europe/Berlin",
        VenueKind::Arena,
        venue_rows(vec![
            letters('A'..='D', 30, "floor"),
            letters('E'..='R', 40, "standard"),
            letters('S'..='T', 24, "vip"),
        ]),
    )
    .await?;

    let movies: [(&str, &str, i32, &[u32]); 3] = [
        ("The Last Lighthouse", "A keeper and a storm that will not end. Drama, 12+.", 118, &[1, 2, 4, 6, 9]),
        (
            "Orbit of Ash",
            "Stranded miners race to fix their ship before the sun rises. Sci-fi, 12+.",
            131,
            &[1, 3, 5, 8],
        ),
        ("Paper Tigers", "Three retired forgers plan one last, honest job. Comedy, all ages.", 97, &[2, 3, 7, 10]),
    ];
    for (name, description, minutes, days) in movies {
        for (i, day) in days.iter().enumerate() {
            let time = if i % 2 == 0 { (18, 0) } else { (21, 0) };
            let showing = event(
                store,
                &cinema,
                name,
                Category::Movie,
                description,
                at(&cinema, *day, time),
                minutes,
                &[("standard", 1150), ("premium", 1590)],
            )
            .await?;
            events.push((showing, cinema.clone()));
        }
    }
    let theatre_prices = [("stalls_premium", 6800), ("stalls", 4500), ("balcony", 2500)];
    for (name, description, day) in [
        ("Hamlet", "Shakespeare's tragedy in a new staging, in English with surtitles.", 5),
        ("The Seagull", "Chekhov's comedy of art, love and missed chances.", 12),
        ("Hamlet", "Shakespeare's tragedy in a new staging, in English with surtitles.", 13),
    ] {
        let play = event(
            store,
            &theatre,
            name,
            Category::Theatre,
            description,
            at(&theatre, day, (19, 30)),
            165,
            &theatre_prices,
        )
        .await?;
        events.push((play, theatre.clone()));
    }
    event(
        store,
        &theatre,
        "Stand-up Night: Lena Ortiz",
        Category::Comedy,
        "Ninety minutes of new material.",
        at(&theatre, 8, (20, 30)),
        90,
        &theatre_prices,
    )
    .await?;
    let arena_prices = [("floor", 8900), ("standard", 5900), ("vip", 14900)];
    for (name, description, day) in [
        ("Northern Lights Tour", "The synth-pop trio's first arena tour.", 11),
        ("Symphony of the Seas", "The Hamburg Philharmonic plays film music.", 16),
        ("Midnight Static", "Indie rock, with support from Hollow Coast.", 20),
    ] {
        let concert =
            event(store, &arena, name, Category::Concert, description, at(&arena, day, (20, 0)), 150, &arena_prices)
                .await?;
        events.push((concert, arena.clone()));
    }
    event(
        store,
        &arena,
        "Hamburg Hawks vs. Berlin Bears",
        Category::Sport,
        "Basketball, league match.",
        at(&arena, 14, (18, 30)),
        120,
        &arena_prices,
    )
    .await?;
    let spree = store
        .create_venue(
            NewVenue::parse_layout(
                "Spree Arena",
                Some("Mühlenstraße 10, Berlin"),
                VenueKind::Arena,
                crate::demo_arena::spree_arena_layout(),
            )
            .map_err(|e| StoreError::Internal(e.to_string()))?
            .with_time_zone(TimeZone::parse("Europe/Berlin").map_err(|e| StoreError::Internal(e.to_string()))?),
        )
        .await?;
    let festival = event(
        store,
        &spree,
        "Spree Lights Festival",
        Category::Concert,
        "Four bands on one stage, in an arena of sixteen blocks.",
        at(&spree, 12, (19, 30)),
        210,
        &[("vip", 12900), ("standard", 6900), ("upper", 3900)],
    )
    .await?;
    // Its wheelchair spaces and companion seats are kept for wheelchair users until two days before.
    let held_back = EventChanges { accessible_release_hours: Some(Some(48)), ..Default::default() };
    store.update_event(festival.id, held_back).await?;
    for (name, seats) in DEMO_PURCHASES {
        // The first showing of that name.
        let (show, venue) = events
            .iter()
            .filter(|(event, _)| event.name == name)
            .min_by_key(|(event, _)| event.start_time)
            .ok_or_else(|| StoreError::Internal(format!("no demo event named {name}")))?;
        buy(store, &buyer, show, venue, seats, payments).await?;
    }
    Ok(())
}

/// Holds `seats` of `show` for `buyer`, checks out and pays with the simulated provider's test
/// card: the same store steps as `POST /reservations/hold`, `/payments/checkout` and
/// `/payments/{id}/confirm`.
async fn buy(
    store: &dyn Store,
    buyer: &User,
    show: &Event,
    venue: &VenueWithSeats,
    seats: &[(&str, i32)],
    provider: &dyn PaymentProvider,
) -> Result<(), StoreError> {
    let internal = |e: &dyn std::fmt::Display| StoreError::Internal(format!("demo purchase: {e}"));
    let seat_ids = seats
        .iter()
        .map(|(row, number)| {
            venue
                .seats
                .iter()
                .find(|seat| seat.row == *row && seat.seat_number == *number)
                .map(|seat| seat.id)
                .ok_or_else(|| internal(&format!("no seat {row}{number} in {}", venue.venue.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = Utc::now();
    let booking = store
        .hold(
            &HoldRequest {
                booking_id: Uuid::new_v4(),
                user_id: buyer.id,
                event_id: show.id,
                seats: SeatSelection::parse(seat_ids).map_err(|e| internal(&e))?,
                ttl: HoldTtl::from_seconds(600).map_err(|e| internal(&e))?,
                limit: HoldLimit::new(HoldLimit::DEFAULT).map_err(|e| internal(&e))?,
                admitted: false,
                presale: false,
                unlocked_types: Vec::new(),
                accessible: false,
            },
            now,
        )
        .await?;
    let payment = NewPayment {
        id: Uuid::new_v4(),
        booking_id: booking.id,
        user_id: buyer.id,
        provider: provider.name().into(),
        hold_until: now + Duration::minutes(10),
        code: None,
    };
    let payment = store.create_payment(payment, now).await?;
    let card = Card::parse("4242424242424242", 12, now.year() + 2, "123", now).map_err(|e| internal(&e))?;
    let authorization = provider
        .authorize(payment.id, payment.amount_cents, &payment.currency, &card)
        .await
        .map_err(|e| internal(&e))?;
    store.confirm_payment(payment.id, &authorization.provider_ref, &card.last4(), Utc::now()).await?;
    provider.capture(&authorization.provider_ref).await.map_err(|e| internal(&e))
}

/// `days` from today at `hh:mm` on the venue's clock.
fn at(venue: &VenueWithSeats, days: u32, (hour, minute): (u32, u32)) -> DateTime<Utc> {
    let date =
        Utc::now().date_naive().checked_add_days(Days::new(u64::from(days))).unwrap_or_else(|| Utc::now().date_naive());
    venue.venue.time_zone.instant_of(date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default()))
}

/// The account, created (or found: the seed runs on a store with no venue, which may have accounts).
async fn add_account(
    store: &dyn Store,
    email: &str,
    name: &str,
    password: &str,
    role: Role,
) -> Result<User, StoreError> {
    let invalid = |e: proeventa_core::domain::Invalid| StoreError::Internal(e.to_string());
    let password = Password::parse(password.into()).map_err(invalid)?;
    let password_hash = hash_password(&password).await.map_err(|e| StoreError::Internal(e.to_string()))?;
    let email = Email::parse(email).map_err(invalid)?;
    let user = NewUser { email: email.clone(), name: name.into(), password_hash, role };
    match store.create_user(user).await {
        Ok(user) => Ok(user),
        Err(StoreError::EmailTaken) => match store.user_with_password_hash(&email).await? {
            Some((user, _)) => Ok(user),
            None => Err(StoreError::Internal("a demo account is taken but not found".into())),
        },
        Err(e) => Err(e),
    }
}

async fn venue(
    store: &dyn Store,
    name: &str,
    location: &str,
    time_zone: &str,
    kind: VenueKind,
    rows: Vec<SeatRow>,
) -> Result<VenueWithSeats, StoreError> {
    let invalid = |e: proeventa_core::domain::Invalid| StoreError::Internal(e.to_string());
    let venue = NewVenue::parse(name, Some(location), kind, rows).map_err(invalid)?;
    store.create_venue(venue.with_time_zone(TimeZone::parse(time_zone).map_err(invalid)?)).await
}

#[allow(clippy::too_many_arguments)]
async fn event(
    store: &dyn Store,
    venue: &VenueWithSeats,
    name: &str,
    category: Category,
    description: &str,
    start_time: DateTime<Utc>,
    duration_minutes: i32,
    prices: &[(&str, i64)],
) -> Result<Event, StoreError> {
    let prices =
        prices.iter().map(|(tier, price_cents)| Price { tier: (*tier).into(), price_cents: *price_cents }).collect();
    store
        .create_event(NewEvent {
            actor: None,
            venue_id: venue.venue.id,
            name: name.into(),
            category,
            description: description.into(),
            image_url: None,
            start_time,
            duration_minutes: Some(duration_minutes),
            on_sale_at: None,
            queue: None,
            accessible_release_hours: None,
            currency: "EUR".into(),
            prices,
            ticket_types: Vec::new(),
        })
        .await
}
