-- The waiting room (issue 20). An event's sale opens at `on_sale_at` (milliseconds; NULL: on sale
-- at once): the hold batch, under the write lock, refuses holds before it. Its waiting room, if it
-- has one, is the four `queue_*` settings, all set or all NULL.
ALTER TABLE events ADD COLUMN on_sale_at INTEGER;
ALTER TABLE events ADD COLUMN queue_enabled INTEGER;
ALTER TABLE events ADD COLUMN queue_admit_per_minute INTEGER;
ALTER TABLE events ADD COLUMN queue_max_active_buyers INTEGER;
ALTER TABLE events ADD COLUMN queue_session_minutes INTEGER;

