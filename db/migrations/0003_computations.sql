-- Repeatable computations (issue 5; DESIGN.md "Repeatable computations",
-- trust chain step 6). Digests are 32-byte blobs; times are unix seconds;
-- the TPM clock (u64 milliseconds) is stored as the signed integer with the
-- same bits.

-- A recipe uploaded by a tenant, and the evidence its run left.
CREATE TABLE computations (
  id TEXT PRIMARY KEY,                        -- 32 lowercase hex
  tenant TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  recipe_json TEXT NOT NULL,                  -- canonical: sorted keys, compact
  recipe_sha256 BLOB NOT NULL CHECK (length(recipe_sha256) = 32),
  c0 BLOB NOT NULL CHECK (length(c0) = 32),
  agent_id TEXT,                              -- set by the first checkpoint
  status TEXT NOT NULL DEFAULT 'recording'
    CHECK (status IN ('recording', 'complete', 'invalid')),
  exit_status INTEGER,
  count INTEGER,
  final_cumulative BLOB,
  end_agent TEXT,                             -- the node that sent the end
  reason TEXT NOT NULL DEFAULT '',             -- why invalid
  created_at INTEGER NOT NULL
);
CREATE INDEX computations_by_tenant ON computations(tenant, id);

-- One row per appraised checkpoint (the evidence item itself stays in items).
CREATE TABLE checkpoints (
  computation_id TEXT NOT NULL REFERENCES computations(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL CHECK (idx >= 1),
  agent_id TEXT NOT NULL,
  state BLOB NOT NULL CHECK (length(state) = 32),
  cumulative BLOB NOT NULL CHECK (length(cumulative) = 32),
  commitment_ok INTEGER NOT NULL DEFAULT 0,
  clock INTEGER NOT NULL DEFAULT 0,
  reset_count INTEGER NOT NULL DEFAULT 0,
  restart_count INTEGER NOT NULL DEFAULT 0,
  verdict TEXT NOT NULL CHECK (verdict IN ('valid', 'flagged', 'rejected')),
  reason TEXT NOT NULL DEFAULT '',
  -- 1: its clock had no accepted quote after it yet; re-checked once at the
  -- node's next accepted quote
  pending INTEGER NOT NULL DEFAULT 0,
  at INTEGER NOT NULL,
  PRIMARY KEY (computation_id, idx)
) WITHOUT ROWID;
CREATE INDEX checkpoints_pending ON checkpoints(agent_id) WHERE pending = 1;

-- Replays of a computation by the sandboxed workers.
CREATE TABLE replays (
  id TEXT PRIMARY KEY,                        -- 32 lowercase hex
  computation_id TEXT NOT NULL REFERENCES computations(id) ON DELETE CASCADE,
  tenant TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'match', 'diverged', 'error')),
  checkpoints_compared INTEGER NOT NULL DEFAULT 0,
  divergence TEXT,                            -- JSON object or NULL
  error TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX replays_by_computation ON replays(computation_id, created_at);
CREATE INDEX replays_by_status ON replays(status, created_at);

-- Every accepted push quote's clock and the node's status then: the windows
-- a checkpoint's TPM clock must fall in. Rows older than 30 days are
-- deleted as new ones arrive.
CREATE TABLE quote_history (
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  reset_count INTEGER NOT NULL,
  restart_count INTEGER NOT NULL,
  clock INTEGER NOT NULL,
  status TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX quote_history_by_epoch
  ON quote_history(agent_id, reset_count, restart_count, clock);
CREATE INDEX quote_history_by_at ON quote_history(agent_id, at);
