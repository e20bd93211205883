-- A venue's IANA time zone, in which its events' times are shown. Venues made before it get UTC:
-- their real zone is unknown here, and UTC is the time their tickets have printed so far. An admin
-- sets the real one (PATCH /events/venues/{venue_id}). A constant default: no table rewrite.
ALTER TABLE venues ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
