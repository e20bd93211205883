-- Tickets (PostgreSQL: ids uuid, times timestamptz): one per paid seat, kept by
-- tickets_reservation_key. The payment's confirm issues them and the cancel of a seat, booking or
-- event revokes them, each in its own transaction; the door admits a ticket by one conditional
-- update (`status = 'valid'` to `'used'`, recording the scan), so the first scan wins.
-- The seat's label, row position, tier, price and currency are copied from the reservation and its
-- seat when the ticket is issued (none of them ever change): every read of a ticket, and the row
-- the door's update returns, is then this one table.
CREATE TABLE tickets (
    id               uuid PRIMARY KEY,
    reservation_id   uuid NOT NULL REFERENCES reservations (id),
    booking_id       uuid NOT NULL,
    event_id         uuid NOT NULL,
    user_id          uuid NOT NULL,
    seat_id          uuid NOT NULL,
    row_label        text NOT NULL,
    row_index        integer NOT NULL,
    seat_number      integer NOT NULL,
    tier             text NOT NULL,
    price_cents      bigint NOT NULL,
    currency         text NOT NULL,
    holder_name      text NOT NULL,
    status           text NOT NULL CHECK (status IN ('valid', 'used', 'revoked')),
    issued_at        timestamptz NOT NULL,
    admitted_scan_id uuid,
    admitted_gate    text,
    admitted_at      timestamptz,
    revoked_at       timestamptz,
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
