-- ProEventa core schema for SQLite: the same tables, constraints and partial unique index as
-- PostgreSQL. Ids are TEXT (hyphenated UUIDs); times are INTEGER milliseconds since the Unix epoch;
-- booleans are INTEGER 0/1. reservations_active_seat_uq keeps the one promise.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE venues (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    location   TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL CHECK (kind IN ('cinema', 'theatre', 'arena', 'hall', 'other')),
    created_at INTEGER NOT NULL
);

CREATE TABLE seats (
    id          TEXT PRIMARY KEY,
    venue_id    TEXT NOT NULL REFERENCES venues (id),
    row_label   TEXT NOT NULL,
    row_index   INTEGER NOT NULL,
    seat_number INTEGER NOT NULL,
    tier        TEXT NOT NULL,
    CONSTRAINT seats_position_key UNIQUE (venue_id, row_label, seat_number)
);
CREATE INDEX seats_venue_order_idx ON seats (venue_id, row_index, seat_number);

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    venue_id         TEXT NOT NULL REFERENCES venues (id),
    name             TEXT NOT NULL,
    category         TEXT NOT NULL CHECK (category IN ('movie', 'theatre', 'concert', 'sport', 'comedy', 'other')),
    description      TEXT NOT NULL DEFAULT '',
    image_url        TEXT,
    start_time       INTEGER NOT NULL,
    duration_minutes INTEGER,
    status           TEXT NOT NULL DEFAULT 'on_sale' CHECK (status IN ('on_sale', 'canceled')),
    currency         TEXT NOT NULL DEFAULT 'EUR',
    created_at       INTEGER NOT NULL
);
CREATE INDEX events_start_time_idx ON events (start_time);
CREATE INDEX events_venue_idx ON events (venue_id);

CREATE TABLE event_prices (
    event_id    TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    tier        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    PRIMARY KEY (event_id, tier)
);

CREATE TABLE bookings (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    event_id   TEXT NOT NULL REFERENCES events (id),
    created_at INTEGER NOT NULL
);

CREATE TABLE reservations (
    id          TEXT PRIMARY KEY,
    booking_id  TEXT NOT NULL REFERENCES bookings (id),
    user_id     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    seat_id     TEXT NOT NULL REFERENCES seats (id),
    price_cents INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'canceled', 'expired')),
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX reservations_active_seat_uq ON reservations (event_id, seat_id)
    WHERE status IN ('held', 'confirmed');
CREATE INDEX reservations_booking_idx ON reservations (booking_id);
CREATE INDEX reservations_user_idx ON reservations (user_id, created_at DESC);
CREATE INDEX reservations_event_idx ON reservations (event_id, created_at DESC);
CREATE INDEX reservations_lapsing_idx ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER,
    response_body TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
