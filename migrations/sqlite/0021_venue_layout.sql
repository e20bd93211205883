-- Venue layouts (issue 19): a seat may belong to a section and have a position and attributes,
-- and a venue keeps its drawing (size, stage, section shapes; JSON) and the layout's version.
-- A seat's label is now unique per section: SQLite cannot change a table's UNIQUE constraint in
-- place, and sqlx runs each migration in a transaction, where `PRAGMA foreign_keys = OFF` does
-- nothing. So the table is rebuilt under the same name with its foreign keys deferred (as 0007 did
-- for users): dropping it leaves the reservations of its seats pointing at missing rows for a
-- moment, and putting every row back before the commit resolves each of them.
-- `section` is '' (not NULL) for a venue of plain rows, so the constraint treats them all alike.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE seats_before_layout AS SELECT * FROM seats;
DROP TABLE seats;
CREATE TABLE seats (
    id          TEXT PRIMARY KEY,
    venue_id    TEXT NOT NULL REFERENCES venues (id),
    section     TEXT NOT NULL DEFAULT '',
    row_label   TEXT NOT NULL,
    row_index   INTEGER NOT NULL,
    seat_number INTEGER NOT NULL,
    tier        TEXT NOT NULL,
    -- Venue units; NULL for plain rows (their layout is generated).
    x           REAL,
    y           REAL,
    -- Comma-separated `SeatAttribute` wire names; '' for none.
    attributes  TEXT NOT NULL DEFAULT '',
    CONSTRAINT seats_position_key UNIQUE (venue_id, section, row_label, seat_number)
);
INSERT INTO seats (id, venue_id, row_label, row_index, seat_number, tier)
    SELECT id, venue_id, row_label, row_index, seat_number, tier FROM seats_before_layout;
DROP TABLE seats_before_layout;
CREATE INDEX seats_venue_order_idx ON seats (venue_id, row_index, seat_number);

-- The drawing (`domain::VenueOutline` as JSON) of a venue made from a layout; NULL for plain rows.
ALTER TABLE venues ADD COLUMN layout TEXT;
-- `NewVenue::layout_version`; NULL for venues made before this migration (plain rows).
ALTER TABLE venues ADD COLUMN layout_version TEXT;

-- A ticket keeps its seat's label as it was sold; now with the section ('' for plain rows).
ALTER TABLE tickets ADD COLUMN section TEXT NOT NULL DEFAULT '';
