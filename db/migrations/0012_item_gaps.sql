-- Gaps an agent's spool reported (ITEM_GAP items: it had to drop items
-- first_seq..last_seq of the epoch), kept so that GET /v1/nodes/{id} shows
-- them beside the item conflicts (docs/appraisal.md, "Conflicts and gaps").
CREATE TABLE item_gaps (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  seq INTEGER NOT NULL,          -- the gap item's own sequence number
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL,
  UNIQUE (agent_id, epoch, seq)
);
CREATE INDEX item_gaps_by_agent ON item_gaps(agent_id, id);
