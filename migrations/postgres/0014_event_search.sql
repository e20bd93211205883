-- Event search (domain::search): each event's title, venue name, venue address and description,
-- folded (lowercase, no accents, words between single spaces, a space at each end), in
-- `search_text`, which the store writes with every event it creates or renames. A trigram index
-- (pg_trgm, a trusted extension) finds the events holding one of a query's trigrams.
-- Existing events are folded here by unaccent, which spells accented letters as the store does.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
ALTER TABLE events ADD COLUMN search_text text NOT NULL DEFAULT ' ';
UPDATE events e
SET search_text = ' ' || btrim(regexp_replace(lower(unaccent(e.name || ' ' || v.name || ' ' || v.location || ' ' || e.description)),
                                              '[^[:alnum:]]+', ' ', 'g')) || ' '
FROM venues v WHERE v.id = e.venue_id;
CREATE INDEX events_search_trgm_idx ON events USING gin (search_text gin_trgm_ops);
