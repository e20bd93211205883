-- The waiting room (issue 20). An event's sale opens at `on_sale_at` (NULL: on sale at once): the
-- hold statement itself refuses holds before it. Its waiting room, if it has one, is the four
-- `queue_*` settings, all set or all NULL.
ALTER TABLE events ADD COLUMN on_sale_at timestamptz;
ALTER TABLE events ADD COLUMN queue_enabled boolean;
ALTER TABLE events ADD COLUMN queue_admit_per_minute integer;
ALTER TABLE events ADD COLUMN queue_max_active_buyers integer;
ALTER TABLE events ADD COLUMN queue_session_minutes integer;
ALTER TABLE events ADD CONSTRAINT events_queue_whole CHECK (
    (queue_enabled IS NULL) = (queue_admit_per_minute IS NULL)
    AND (queue_enabled IS NULL) = (queue_max_active_buyers IS NULL)
    AND (queue_enabled IS NULL) = (queue_session_minutes IS NULL));

