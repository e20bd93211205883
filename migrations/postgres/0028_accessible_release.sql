-- Accessible seating (issue 19): until this many hours before the start, an event's wheelchair
-- spaces and companion seats are held only by accessible holds (the hold statement reads it on the
-- event row it already locks). NULL: never held back. Nullable, no default: no table rewrite.
ALTER TABLE events ADD COLUMN accessible_release_hours integer
    CHECK (accessible_release_hours BETWEEN 0 AND 8760);
