-- Issue 9 (docs/smm.md "Key ids and the key-use audit"): a node's SMM
-- service names a key by (tenant, key id) now (its vault, the USE_KEY
-- request and version-2 KEY_USE log entries), so two tenants may hold the
-- same key id on the same node.
--
-- 1. smm_keys loses 0011's UNIQUE (agent_id, id), which made POST
--    /v1/keys answer 409 key-id-unavailable and so told a tenant that
--    another used that id on that node. (tenant, id) stays the key.
CREATE TABLE smm_keys_v3 (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  blob BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,                      -- last forwarded
  PRIMARY KEY (tenant, id)
);
INSERT INTO smm_keys_v3 (tenant, id, agent_id, blob, created_at,
  delivered_at)
  SELECT tenant, id, agent_id, blob, created_at, delivered_at FROM smm_keys;
DROP TABLE smm_keys;
ALTER TABLE smm_keys_v3 RENAME TO smm_keys;
CREATE INDEX smm_keys_by_agent ON smm_keys(agent_id, id, tenant);

-- 2. The tenant a KEY_USE entry is attributed to: a version-2 entry's
--    own tenant field; a version-1 entry (written by a vigil-smmd with
--    one key namespace) is attributed to the node's only holder of that
--    key id, NULL when there is none or more than one. The entries
--    stored so far are all version 1, and until now (agent_id, id) was
--    unique in smm_keys, so the node's holder of the id is their tenant.
ALTER TABLE smm_log ADD COLUMN key_tenant TEXT;
UPDATE smm_log SET key_tenant = (
  SELECT k.tenant FROM smm_keys k
  WHERE k.agent_id = smm_log.agent_id AND k.id = smm_log.key_id)
  WHERE key_id IS NOT NULL;
DROP INDEX IF EXISTS smm_log_by_key;
CREATE INDEX smm_log_by_key ON smm_log(agent_id, key_tenant, key_id, seq)
  WHERE key_id IS NOT NULL;
