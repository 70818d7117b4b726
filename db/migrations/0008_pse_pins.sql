-- The PSE's PCR 3 data pinned per node (issue 4; docs/appraisal.md "PSE
-- pins"): the vigil-psed image digest, the platform attestation key and the
-- MigE transport key, first seen. A different one later contraindicates
-- the node.
CREATE TABLE pse_pins (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  image BLOB NOT NULL CHECK (length(image) = 32),
  platform_pub BLOB NOT NULL,                -- DER SubjectPublicKeyInfo
  transport_pub BLOB NOT NULL,               -- DER SubjectPublicKeyInfo
  pinned_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- An operator's re-enrolment (POST /v1/nodes/{id}/re-enrol sets
-- reenrol_approved) and its use (the node registering its new EK/AK clears
-- it) both drop the node's PSE pins: the next boot's keys are pinned anew.
CREATE TRIGGER pse_pins_reenrol AFTER UPDATE OF reenrol_approved ON agents
WHEN NEW.reenrol_approved IS NOT OLD.reenrol_approved
BEGIN
  DELETE FROM pse_pins WHERE agent_id = NEW.id;
END;
