-- The audit log (issue 21): one row per admin action, written in the transaction of the change it
-- describes (`domain::AuditRecord`). `before` and `after` are JSON objects of the changed fields
-- (NULL where there is none). The log only grows, so every listing reads one of the indexes
-- below, newest first: all entries, by kind, by entity, by actor, by actor and kind. A listing
-- orders by the index's leading (equal) columns too, so the planner takes the index that filters.
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    uuid NOT NULL,
    actor_email text NOT NULL,
    action      text NOT NULL,
    entity_kind text NOT NULL,
    entity_id   uuid NOT NULL,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_kind_idx ON audit_log (entity_kind, at DESC, id DESC);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_kind, entity_id, at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC, id DESC);
CREATE INDEX audit_log_actor_kind_idx ON audit_log (actor_id, entity_kind, at DESC, id DESC);
