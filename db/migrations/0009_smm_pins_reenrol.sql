-- An operator's re-enrolment (after a TPM clear, POST /v1/nodes/{id}/re-enrol
-- sets reenrol_approved) and its use (the node registering its new EK/AK
-- clears it) drop the node's SMM pins and chain state, as 0008 does for the
-- PSE: the keys vigil-smmd creates after the clear are pinned anew and its
-- log starts a new chain. Without this a node whose TPM was cleared stayed
-- contraindicated ("SMM key changed") with no way back.
CREATE TRIGGER smm_pins_reenrol AFTER UPDATE OF reenrol_approved ON agents
WHEN NEW.reenrol_approved IS NOT OLD.reenrol_approved
BEGIN
  DELETE FROM smm_pins WHERE agent_id = NEW.id;
END;
