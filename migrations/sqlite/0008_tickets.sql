-- Tickets (SQLite: ids TEXT, times INTEGER milliseconds): one per paid seat, kept by
-- tickets_reservation_key. The payment's confirm issues them and the cancel of a seat, booking or
-- event revokes them, each in its own transaction; the door admits a ticket by one conditional
-- update (`status = 'valid'` to `'used'`, recording the scan), so the first scan wins.
-- The seat's label, row position, tier, price and currency are copied from the reservation and its
-- seat when the ticket is issued (none of them ever change): every read of a ticket, and the row
-- the door's update returns, is then this one table.
CREATE TABLE tickets (
    id               TEXT PRIMARY KEY,
    reservation_id   TEXT NOT NULL REFERENCES reservations (id),
    booking_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    seat_id          TEXT NOT NULL,
    row_label        TEXT NOT NULL,
    row_index        INTEGER NOT NULL,
    seat_number      INTEGER NOT NULL,
    tier             TEXT NOT NULL,
    price_cents      INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    holder_name      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('valid', 'used', 'revoked')),
    issued_at        INTEGER NOT NULL,
    admitted_scan_id TEXT,
    admitted_gate    TEXT,
    admitted_at      INTEGER,
    revoked_at       INTEGER,
    CONSTRAINT tickets_reservation_key UNIQUE (reservation_id),
    -- An admission is whole or absent, and a used ticket has one (a revoked one keeps it).
    CONSTRAINT tickets_admission_whole CHECK (
        (admitted_scan_id IS NULL) = (admitted_gate IS NULL) AND (admitted_gate IS NULL) = (admitted_at IS NULL)),
    CONSTRAINT tickets_used_admitted CHECK (status <> 'used' OR admitted_scan_id IS NOT NULL),
    CONSTRAINT tickets_revoked_at CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
-- A buyer's tickets newest first, a booking's in seat order.
CREATE INDEX tickets_user_idx ON tickets (user_id, issued_at DESC, booking_id, row_index, seat_number);
-- One booking's tickets, in the same order.
CREATE INDEX tickets_booking_idx ON tickets (booking_id, issued_at DESC, row_index, seat_number);
-- An event's tickets by id: the door's offline manifest.
CREATE INDEX tickets_event_idx ON tickets (event_id, id);
-- The door's live counts by status and gate, read from the index alone.
CREATE INDEX tickets_event_tally_idx ON tickets (event_id, status, admitted_gate);
