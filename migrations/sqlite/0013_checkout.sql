-- Issue 22, a checkout that cannot surprise (SQLite: times INTEGER milliseconds).
--
-- A booking's hold may be extended once: `extended_at` is set by the extension's own conditional
-- UPDATE (`WHERE extended_at IS NULL` and a running hold), so a second extension finds it set.
ALTER TABLE bookings ADD COLUMN extended_at INTEGER;
