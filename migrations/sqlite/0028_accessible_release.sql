-- Accessible seating (issue 19): until this many hours before the start, an event's wheelchair
-- spaces and companion seats are held only by accessible holds (the hold batch reads it with the
-- event, under its write lock). NULL: never held back.
ALTER TABLE events ADD COLUMN accessible_release_hours INTEGER
    CHECK (accessible_release_hours BETWEEN 0 AND 8760);
