-- A venue's IANA time zone, in which its events' times are shown. Venues made before it get UTC:
-- their real zone is unknown here, and UTC is the time their tickets have printed so far. An admin
-- sets the real one (PATCH /events/venues/{venue_id}).
ALTER TABLE venues ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
