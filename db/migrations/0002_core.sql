-- The verifier's core tables. Times are unix seconds. 64-bit unsigned values
-- from the wire (spool epochs, TPM clock) are stored as the signed integer
-- with the same bits; equality and lookups are unaffected.

-- Content-addressed bytes: raw evidence bundles, item bodies, input blobs.
CREATE TABLE blobs (
  sha256 BLOB PRIMARY KEY CHECK (length(sha256) = 32),
  size INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Registered agents (nodes), with the cached result of their latest appraisal.
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  state INTEGER NOT NULL CHECK (state IN (0, 1)),   -- 0 pending, 1 active
  reenrol_approved INTEGER NOT NULL DEFAULT 0,
  ek_pub BLOB NOT NULL,
  ek_cert BLOB,
  ak_pub BLOB NOT NULL,
  ak_name BLOB NOT NULL UNIQUE,                      -- an AK belongs to one agent
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'none',
  last_appraisal_at INTEGER NOT NULL DEFAULT 0,
  last_seen_at INTEGER NOT NULL DEFAULT 0,
  cur_epoch INTEGER                                  -- spool epoch of the latest push
);

-- Every evidence push as received (the bundle bytes are in blobs).
CREATE TABLE bundles (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  sha256 BLOB NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX bundles_by_agent ON bundles(agent_id, id);
CREATE INDEX bundles_by_time ON bundles(received_at);
CREATE INDEX bundles_by_sha ON bundles(sha256);

-- Evidence items, idempotent on (agent, epoch, seq); bodies are in blobs.
CREATE TABLE items (
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  kind INTEGER NOT NULL,
  body_sha256 BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, epoch, seq)
) WITHOUT ROWID;
CREATE INDEX items_by_kind ON items(agent_id, kind, epoch, seq);
CREATE INDEX items_by_body ON items(body_sha256);

-- Per (agent, epoch): all items 1..acked_seq are stored.
CREATE TABLE epochs (
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  acked_seq INTEGER NOT NULL DEFAULT 0,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, epoch)
) WITHOUT ROWID;

-- Items that arrived with a known key but other content, or event-log
-- chunks that did not fit the stored log. The offered body is in blobs.
CREATE TABLE item_conflicts (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  body_sha256 BLOB NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX item_conflicts_by_agent ON item_conflicts(agent_id, id);
CREATE INDEX item_conflicts_by_key ON item_conflicts(agent_id, epoch, seq);
CREATE INDEX item_conflicts_by_body ON item_conflicts(body_sha256);

-- The TCG event log of each boot, as appended chunks; evlogs caches its length.
CREATE TABLE evlogs (
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  boot_count INTEGER NOT NULL,
  length INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, boot_count)
) WITHOUT ROWID;
CREATE TABLE evlog_chunks (
  agent_id TEXT NOT NULL,
  boot_count INTEGER NOT NULL,
  start_off INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (agent_id, boot_count, start_off),
  FOREIGN KEY (agent_id, boot_count) REFERENCES evlogs(agent_id, boot_count)
    ON DELETE CASCADE
) WITHOUT ROWID;

-- The last accepted quote's clock state, per agent.
CREATE TABLE quote_state (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  clock INTEGER NOT NULL,
  reset_count INTEGER NOT NULL,
  restart_count INTEGER NOT NULL,
  safe INTEGER NOT NULL,
  at INTEGER NOT NULL
) WITHOUT ROWID;

-- Appraisal history; an unchanged result only moves last_at of the latest row.
CREATE TABLE appraisals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  status TEXT NOT NULL
    CHECK (status IN ('affirming', 'warning', 'contraindicated', 'none')),
  vector_json TEXT NOT NULL,
  reasons_json TEXT NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL
);
CREATE INDEX appraisals_by_agent ON appraisals(agent_id, id);
CREATE INDEX appraisals_by_last_at ON appraisals(last_at);

-- Reference values: each PUT is a new version, never overwritten.
CREATE TABLE refvals (
  version INTEGER PRIMARY KEY AUTOINCREMENT,
  doc TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- API tokens: only the SHA-256 of a token is stored.
CREATE TABLE tokens (
  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
  role TEXT NOT NULL CHECK (role IN ('operator', 'tenant')),
  tenant TEXT NOT NULL DEFAULT '',
  label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  CHECK ((role = 'tenant') = (tenant <> ''))
) WITHOUT ROWID;
CREATE INDEX tokens_by_tenant ON tokens(tenant);

-- Who changed what.
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  who TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_at ON audit(at);
