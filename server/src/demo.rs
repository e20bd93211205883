//! Demo data for `make run`: a cinema in Lyon, a theatre in Madrid and an arena in Hamburg, each
//! in its own time zone, with real seat rows and tiers; movies with several showtimes, concerts,
//! plays and a comedy night over the coming weeks, each at a time on the venue's own clock; and
//! an admin and a customer account whose credentials are printed.

use chrono::{DateTime, Days, NaiveTime, Utc};
use proeventa_core::auth::hash_password;
use proeventa_core::domain::{
    Category, Email, NewEvent, NewUser, NewVenue, Password, Price, Role, SeatRow, TimeZone, VenueKind, VenueWithSeats,
};
use proeventa_core::store::{Store, StoreError};

pub const ADMIN_EMAIL: &str = "admin@proeventa.test";
pub const ADMIN_PASSWORD: &str = "admin-demo-2026";
pub const CUSTOMER_EMAIL: &str = "ana@proeventa.test";
pub const CUSTOMER_PASSWORD: &str = "customer-demo-2026";

/// Seeds the demo when the store has no venue yet; prints the demo accounts either way.
pub async fn seed_if_empty(store: &dyn Store, print: bool) -> Result<(), String> {
    let empty = store.list_venues().await.map_err(|e| e.to_string())?.is_empty();
    if empty {
        seed(store).await.map_err(|e| format!("demo seed failed: {e}"))?;
    }
    if print {
        println!("{}", if empty { "Demo data seeded." } else { "Store already has data; demo seed skipped." });
        println!("  admin     {ADMIN_EMAIL} / {ADMIN_PASSWORD}");
        println!("  customer  {CUSTOMER_EMAIL} / {CUSTOMER_PASSWORD}");
    }
    Ok(())
}

fn letters(range: std::ops::RangeInclusive<char>, seats: i32, tier: &str) -> Vec<(String, i32, String)> {
    range.map(|c| (c.to_string(), seats, tier.to_owned())).collect()
}

fn venue_rows(parts: Vec<Vec<(String, i32, String)>>) -> Vec<SeatRow> {
    parts.into_iter().flatten().map(|(row, seats, tier)| SeatRow { row, seats, tier }).collect()
}

async fn seed(store: &dyn Store) -> Result<(), StoreError> {
    add_account(store, ADMIN_EMAIL, "Demo Admin", ADMIN_PASSWORD, Role::Admin).await?;
    add_account(store, CUSTOMER_EMAIL, "Ana Demo", CUSTOMER_PASSWORD, Role::Customer).await?;

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
            event(
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
        }
    }
    let theatre_prices = [("stalls_premium", 6800), ("stalls", 4500), ("balcony", 2500)];
    for (name, description, day) in [
        ("Hamlet", "Shakespeare's tragedy in a new staging, in English with surtitles.", 5),
        ("The Seagull", "Chekhov's comedy of art, love and missed chances.", 12),
        ("Hamlet", "Shakespeare's tragedy in a new staging, in English with surtitles.", 13),
    ] {
        event(store, &theatre, name, Category::Theatre, description, at(&theatre, day, (19, 30)), 165, &theatre_prices)
            .await?;
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
        event(store, &arena, name, Category::Concert, description, at(&arena, day, (20, 0)), 150, &arena_prices)
            .await?;
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
    Ok(())
}

/// `days` from today at `hh:mm` on the venue's clock.
fn at(venue: &VenueWithSeats, days: u32, (hour, minute): (u32, u32)) -> DateTime<Utc> {
    let date =
        Utc::now().date_naive().checked_add_days(Days::new(u64::from(days))).unwrap_or_else(|| Utc::now().date_naive());
    venue.venue.time_zone.instant_of(date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default()))
}

async fn add_account(store: &dyn Store, email: &str, name: &str, password: &str, role: Role) -> Result<(), StoreError> {
    let invalid = |e: proeventa_core::domain::Invalid| StoreError::Internal(e.to_string());
    let password = Password::parse(password.into()).map_err(invalid)?;
    let password_hash = hash_password(&password).await.map_err(|e| StoreError::Internal(e.to_string()))?;
    let user = NewUser { email: Email::parse(email).map_err(invalid)?, name: name.into(), password_hash, role };
    match store.create_user(user).await {
        Ok(_) | Err(StoreError::EmailTaken) => Ok(()),
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
) -> Result<(), StoreError> {
    let prices =
        prices.iter().map(|(tier, price_cents)| Price { tier: (*tier).into(), price_cents: *price_cents }).collect();
    store
        .create_event(NewEvent {
            venue_id: venue.venue.id,
            name: name.into(),
            category,
            description: description.into(),
            image_url: None,
            start_time,
            duration_minutes: Some(duration_minutes),
            currency: "EUR".into(),
            prices,
        })
        .await
        .map(|_| ())
}
