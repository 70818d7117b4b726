-- The SMM runtime evidence (issue 3; DESIGN.md trust chain step 4,
-- docs/smm.md). Digests are 32-byte blobs, times unix seconds unless named
-- _ms.

-- Per node: the SMM service image digest and public keys pinned from PCR 2
-- (first seen), and how far its measurement log chain has been accepted.
CREATE TABLE smm_pins (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  image BLOB NOT NULL CHECK (length(image) = 32),
  log_pub BLOB NOT NULL,                     -- DER SubjectPublicKeyInfo
  wrap_pub BLOB NOT NULL,                    -- DER SubjectPublicKeyInfo
  seq INTEGER NOT NULL DEFAULT 0,            -- last accepted entry
  head BLOB NOT NULL CHECK (length(head) = 32),
  gaps INTEGER NOT NULL DEFAULT 0,           -- gaps / chain failures seen
  taint_key TEXT NOT NULL DEFAULT '',        -- target TAB region still bad
  taint TEXT NOT NULL DEFAULT '',            -- its reason
  pinned_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- The accepted log entries (smm-bridge/smmlog.h bytes), for the smm-log
-- route and the key-use audit.
CREATE TABLE smm_log (
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  kind INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  key_id TEXT,                               -- KEY_USE entries
  entry BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
);
CREATE INDEX smm_log_by_key ON smm_log(key_id, agent_id, seq)
  WHERE key_id IS NOT NULL;

-- Tenant keys wrapped to a node's key-wrapping key (only the blob; the
-- verifier cannot open it), forwarded to the node in a push reply.
CREATE TABLE smm_keys (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  blob BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER                       -- last forwarded
);
CREATE INDEX smm_keys_by_agent ON smm_keys(agent_id, id);

-- Reference sets for vigil-smmd, signed by the verifier's key.
CREATE TABLE smm_refsets (
  version INTEGER PRIMARY KEY CHECK (version >= 1),
  json TEXT NOT NULL,
  sig BLOB NOT NULL,
  digest BLOB NOT NULL CHECK (length(digest) = 32),
  created_at INTEGER NOT NULL
);
