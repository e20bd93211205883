-- Ticket types (issue 21). An event's types are one JSON document (text, read as jsonb by the
-- hold), [{name, prices: [{tier, price_cents}], quota}], read and written whole with the event:
-- no statement reads one type alone, and the hold finds them on the event row it already locks,
-- so they need no table or index of their own. NULL: the event has one type, `standard`, priced by
-- event_prices (every event created before this migration). event_prices stays the first type's
-- prices, which the seat map, best available and the listings read as before.
ALTER TABLE events ADD COLUMN ticket_types text;

-- Every reservation has a type; those made before types existed are `standard`.
ALTER TABLE reservations ADD COLUMN ticket_type text NOT NULL DEFAULT 'standard';

-- Type slots: a type's quota kept by an index, as the one promise and the hold limit are. Each
-- active (held or confirmed) reservation of a type with a quota takes one of the type's slots
-- 1..=quota for its event, and this index lets one active reservation have each slot, so no more
-- than `quota` seats of the type are held or sold at once, whatever the concurrency. A cancel or
-- an expiry frees the slot with the status change (the index covers active rows only); a hold
-- first expires the lapsed holds of the types it takes, whose slots it counted free. Types without
-- a quota leave type_slot NULL (NULLs never conflict), which also keeps this index out of plans
-- that do not name the slot.
ALTER TABLE reservations ADD COLUMN type_slot integer;
CREATE UNIQUE INDEX reservations_type_slot_uq ON reservations (event_id, ticket_type, type_slot)
    WHERE status IN ('held', 'confirmed') AND type_slot IS NOT NULL;
