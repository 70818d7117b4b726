-- Issue 9 (docs/smm.md "Tampering per region", "Key ids and the key-use
-- audit").
--
-- 1. Hypervisor taint per (target, region). 0004 kept one slot per node
--    (smm_pins.taint_key, taint): a mismatch on region B overwrote region
--    A's and a later match on B cleared it, so A's tampering was forgotten.
--    Now each region that did not match has its row here until a later
--    measurement of that same region matches. pos keeps the order the
--    reasons are reported in. The rows go with the node's pins (an approved
--    re-enrolment deletes smm_pins: 0009), by the foreign key.
--    smm_pins.taint now holds only the overflow reason (more regions
--    tainted at once than the verifier tracks, appraise_smm.h
--    SMM_MAX_TAINTS; it stands until re-enrolment); taint_key stays ''.
CREATE TABLE smm_taints (
  agent_id TEXT NOT NULL REFERENCES smm_pins(agent_id) ON DELETE CASCADE,
  target TEXT NOT NULL,
  region TEXT NOT NULL,
  pos INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (agent_id, target, region)
);
INSERT INTO smm_taints (agent_id, target, region, pos, reason)
  SELECT agent_id, substr(taint_key, 1, instr(taint_key, char(9)) - 1),
         substr(taint_key, instr(taint_key, char(9)) + 1), 0, taint
  FROM smm_pins WHERE taint <> '' AND instr(taint_key, char(9)) > 0;
UPDATE smm_pins SET taint_key = '', taint = '';

-- 2. Key ids per tenant. 0004's smm_keys.id was global, so POST /v1/keys
--    told one tenant that another held a key id. Now (tenant, id) is the
--    key; (agent_id, id) stays unique because a node's SMM service has one
--    key namespace (vigil-smmd's vault and its KEY_USE entries name a key
--    by id alone).
CREATE TABLE smm_keys_v2 (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  blob BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,                      -- last forwarded
  PRIMARY KEY (tenant, id),
  UNIQUE (agent_id, id)
);
INSERT INTO smm_keys_v2 (tenant, id, agent_id, blob, created_at,
  delivered_at)
  SELECT tenant, id, agent_id, blob, created_at, delivered_at FROM smm_keys;
DROP TABLE smm_keys;
ALTER TABLE smm_keys_v2 RENAME TO smm_keys;
