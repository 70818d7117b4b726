-- Events (GET /v1/events, webhooks): a durable, append-only log. tenant
-- NULL: for operators only; otherwise the tenant who owns the subject.
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  tenant TEXT,
  data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data))
);
CREATE INDEX events_by_tenant ON events(tenant, id);

-- A node's status change is an event, written in the same transaction as
-- the appraisal row that changed it (the writer appends a row only when the
-- result differs from the latest; the status may still be the same). It
-- must never fail the appraisal's insert: reasons that are not JSON become
-- [].
CREATE TRIGGER events_node_status AFTER INSERT ON appraisals
WHEN NEW.status IS NOT (SELECT a.status FROM appraisals a
                        WHERE a.agent_id = NEW.agent_id AND a.id < NEW.id
                        ORDER BY a.id DESC LIMIT 1)
BEGIN
  INSERT INTO events (at, kind, subject, tenant, data)
  VALUES (NEW.first_at, 'node.status', NEW.agent_id, NULL,
          json_object('status', NEW.status,
                      'previous', (SELECT a.status FROM appraisals a
                                   WHERE a.agent_id = NEW.agent_id
                                     AND a.id < NEW.id
                                   ORDER BY a.id DESC LIMIT 1),
                      'reasons', CASE WHEN json_valid(NEW.reasons_json)
                                 THEN json(NEW.reasons_json)
                                 ELSE json_array() END));
END;

-- Webhooks: where events are posted. tenant NULL: an operator's (all
-- events); otherwise that tenant's events only. The secret is kept to sign
-- bodies (HMAC needs it); it is shown once, at creation.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  tenant TEXT,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  cursor INTEGER NOT NULL DEFAULT 0,        -- last event id settled
  attempts INTEGER NOT NULL DEFAULT 0,      -- failed tries of the next one
  next_at_ms INTEGER NOT NULL DEFAULT 0     -- no try before this
) WITHOUT ROWID;

-- Every delivery attempt.
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  http_status INTEGER NOT NULL,             -- 0: no HTTP answer
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'gave-up')),
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries(webhook_id, id);
