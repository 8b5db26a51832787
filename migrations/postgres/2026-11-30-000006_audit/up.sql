-- Every state-changing request and every staff read of personal data, written in the same
-- transaction as the change. Append-only, like the ledger.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    actor_id TEXT NOT NULL REFERENCES users (id),
    actor_role TEXT NOT NULL,
    request_id TEXT NOT NULL,
    -- The method and route pattern, such as 'POST /v1/donations/{id}/reverse'.
    action TEXT NOT NULL,
    entity_type TEXT,
    entity_id TEXT,
    fund_id TEXT REFERENCES funds (id),
    -- The unit the entity belongs to, for scoping what an auditor sees; NULL for national data.
    unit_edition INTEGER,
    unit_path TEXT,
    -- JSON: what changed (the entity as written, or the fields read).
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (occurred_at, id);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, occurred_at);
CREATE INDEX audit_events_unit ON audit_events (unit_edition, unit_path);

-- Signed chain heads: an Ed25519 signature over a fund's (seq, hash) at a time.
CREATE TABLE checkpoints (
    id TEXT PRIMARY KEY,
    fund_id TEXT NOT NULL REFERENCES funds (id),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    UNIQUE (fund_id, seq, key_id)
);
CREATE INDEX checkpoints_fund ON checkpoints (fund_id, seq);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION relief_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION relief_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION relief_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION relief_append_only();
