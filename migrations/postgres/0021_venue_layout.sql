-- Venue layouts (issue 19): a seat may belong to a section and have a position and attributes,
-- and a venue keeps its drawing (size, stage, section shapes; JSON) and the layout's version.
-- Constant defaults and nullable columns: no table rewrite. A seat's label is now unique per
-- section; `section` is '' (not NULL) for a venue of plain rows, so the constraint treats them alike.
ALTER TABLE seats
    ADD COLUMN section text NOT NULL DEFAULT '',
    -- Venue units; NULL for plain rows (their layout is generated).
    ADD COLUMN x double precision,
    ADD COLUMN y double precision,
    -- Comma-separated `SeatAttribute` wire names; '' for none.
    ADD COLUMN attributes text NOT NULL DEFAULT '';
ALTER TABLE seats DROP CONSTRAINT seats_position_key;
ALTER TABLE seats ADD CONSTRAINT seats_position_key UNIQUE (venue_id, section, row_label, seat_number);

-- The drawing (`domain::VenueOutline` as JSON) of a venue made from a layout; NULL for plain rows.
-- `NewVenue::layout_version`; NULL for venues made before this migration (plain rows).
ALTER TABLE venues ADD COLUMN layout text, ADD COLUMN layout_version text;

-- A ticket keeps its seat's label as it was sold; now with the section ('' for plain rows).
ALTER TABLE tickets ADD COLUMN section text NOT NULL DEFAULT '';
