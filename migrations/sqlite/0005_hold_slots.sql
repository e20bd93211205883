-- Hold slots: the per-user limit on held seats (MAX_HELD_SEATS_PER_USER) kept by an index, as the
-- one promise is. Each held reservation takes one of its user's slots 1..=limit for its event, and
-- reservations_hold_slot_uq lets one held reservation have each slot, so a user holds at most
-- `limit` seats of an event at once. A confirm, cancel or expiry frees the slot with the status
-- change (the index covers held rows only); a hold first expires its user's lapsed holds of the
-- event, whose slots are then free too.
ALTER TABLE reservations ADD COLUMN hold_slot INTEGER;

-- Holds placed before this migration get slots 1, 2, ... per user and event, oldest first.
UPDATE reservations SET hold_slot = numbered.slot
FROM (
    SELECT id, row_number() OVER (PARTITION BY event_id, user_id ORDER BY created_at, id) AS slot
    FROM reservations
    WHERE status = 'held'
) AS numbered
WHERE reservations.id = numbered.id;

-- `hold_slot IS NOT NULL` changes nothing the index allows (NULLs never conflict), but keeps the
-- index out of plans that do not name the slot: a hold's probe of one seat (event_id, seat_id,
-- status 'held') must use reservations_active_seat_uq, not scan the event's held rows here.
CREATE UNIQUE INDEX reservations_hold_slot_uq ON reservations (event_id, user_id, hold_slot)
    WHERE status = 'held' AND hold_slot IS NOT NULL;
