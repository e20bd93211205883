-- Event search (domain::search): each event's title, venue name, venue address and description,
-- folded (lowercase, no accents, words between single spaces, a space at each end), in an FTS5
-- table with the trigram tokenizer, which the store writes with every event it creates or
-- renames; a query reads the events holding one of its trigrams. Existing events are folded here
-- by SQLite's lower(), which leaves accents and punctuation: their next change folds them fully.
CREATE VIRTUAL TABLE event_search USING fts5(event_id UNINDEXED, folded, tokenize = 'trigram');
INSERT INTO event_search (event_id, folded)
SELECT e.id, ' ' || lower(e.name || ' ' || v.name || ' ' || v.location || ' ' || e.description) || ' '
FROM events e JOIN venues v ON v.id = e.venue_id;
