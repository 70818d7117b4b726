-- One TPM, one agent; a registration changes nothing until its activation
-- completes (issue 9; docs/verifier.md "One TPM, one agent" and
-- "Registration and activation").

-- The EK's key (SHA-256 of its DER SubjectPublicKeyInfo: the same for every
-- public area that carries the key) and its certificate (SHA-256 of the
-- DER). Each belongs to one active agent only. Rows from before this
-- migration have NULL until their next activation.
ALTER TABLE agents ADD COLUMN ek_key_sha256 BLOB;
ALTER TABLE agents ADD COLUMN ek_cert_sha256 BLOB;
CREATE UNIQUE INDEX agents_active_ek_key ON agents(ek_key_sha256)
  WHERE state = 1 AND ek_key_sha256 IS NOT NULL;
CREATE UNIQUE INDEX agents_active_ek_cert ON agents(ek_cert_sha256)
  WHERE state = 1 AND ek_cert_sha256 IS NOT NULL;
-- Lookups by host name (migration targets) consider active agents only.
CREATE INDEX agents_by_hostname ON agents(hostname, state);

-- Registrations waiting for their credential activation, several per
-- agent: one registration never replaces another's secret, so nobody who
-- can replay a node's (public) EK, certificate and AK cancels the node's
-- own activation. The agents row (host name, AK, status) changes only when
-- one of these completes; then all of the agent's rows go.
CREATE TABLE agent_activations (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  hostname TEXT NOT NULL,
  ek_cert BLOB,
  ak_pub BLOB NOT NULL,
  ak_name BLOB NOT NULL,
  ek_key_sha256 BLOB,
  ek_cert_sha256 BLOB,
  secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
  created_at INTEGER NOT NULL
);
CREATE INDEX agent_activations_by_agent ON agent_activations(agent_id, id);
