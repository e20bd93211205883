-- The audit log (issue 21): one row per admin action, written in the transaction of the change it
-- describes (`domain::AuditRecord`). `before` and `after` are JSON objects of the changed fields
-- (NULL where there is none). Times are milliseconds. The log only grows, so every listing reads
-- one of the indexes below, newest first: all entries, by kind, by entity, by actor, by actor and kind. A listing
-- orders by the index's leading (equal) columns too, so the planner takes the index that filters.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_kind_idx ON audit_log (entity_kind, at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_kind, entity_id, at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC, id DESC);
CREATE INDEX audit_log_actor_kind_idx ON audit_log (actor_id, entity_kind, at DESC, id DESC);
