-- ProEventa core schema: accounts, venues and seats, events and prices, bookings and seat holds.
-- The one promise lives in reservations_active_seat_uq: at most one held or confirmed
-- reservation per (event, seat), whatever the concurrency.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('customer', 'admin')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE venues (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    location   text NOT NULL DEFAULT '',
    kind       text NOT NULL CHECK (kind IN ('cinema', 'theatre', 'arena', 'hall', 'other')),
    created_at timestamptz NOT NULL
);

CREATE TABLE seats (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues (id),
    row_label   text NOT NULL,
    row_index   integer NOT NULL,
    seat_number integer NOT NULL,
    tier        text NOT NULL,
    CONSTRAINT seats_position_key UNIQUE (venue_id, row_label, seat_number)
);
CREATE INDEX seats_venue_order_idx ON seats (venue_id, row_index, seat_number);

CREATE TABLE events (
    id               uuid PRIMARY KEY,
    venue_id         uuid NOT NULL REFERENCES venues (id),
    name             text NOT NULL,
    category         text NOT NULL CHECK (category IN ('movie', 'theatre', 'concert', 'sport', 'comedy', 'other')),
    description      text NOT NULL DEFAULT '',
    image_url        text,
    start_time       timestamptz NOT NULL,
    duration_minutes integer,
    status           text NOT NULL DEFAULT 'on_sale' CHECK (status IN ('on_sale', 'canceled')),
    currency         text NOT NULL DEFAULT 'EUR',
    created_at       timestamptz NOT NULL
);
CREATE INDEX events_start_time_idx ON events (start_time);
CREATE INDEX events_venue_idx ON events (venue_id);

CREATE TABLE event_prices (
    event_id    uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    tier        text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    PRIMARY KEY (event_id, tier)
);

CREATE TABLE bookings (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    event_id   uuid NOT NULL REFERENCES events (id),
    created_at timestamptz NOT NULL
);

CREATE TABLE reservations (
    id          uuid PRIMARY KEY,
    booking_id  uuid NOT NULL REFERENCES bookings (id),
    user_id     uuid NOT NULL,
    event_id    uuid NOT NULL,
    seat_id     uuid NOT NULL REFERENCES seats (id),
    price_cents bigint NOT NULL,
    currency    text NOT NULL,
    status      text NOT NULL CHECK (status IN ('held', 'confirmed', 'canceled', 'expired')),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX reservations_active_seat_uq ON reservations (event_id, seat_id)
    WHERE status IN ('held', 'confirmed');
CREATE INDEX reservations_booking_idx ON reservations (booking_id);
CREATE INDEX reservations_user_idx ON reservations (user_id, created_at DESC);
CREATE INDEX reservations_event_idx ON reservations (event_id, created_at DESC);
CREATE INDEX reservations_lapsing_idx ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE idempotency_keys (
    user_id       uuid NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status_code   integer,
    response_body text,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);
