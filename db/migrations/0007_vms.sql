-- VMs and their vTPMs (DESIGN.md, trust chain step 5; docs/pse.md).
-- A tenant declares a VM; a node enrols its vTPM (EK certified by the
-- node's PSE, AK bound by credential activation); the verifier asks the
-- host node for VM attestations and keeps where the VM ran.

CREATE TABLE vms (
  id TEXT PRIMARY KEY,                 -- 32 lowercase hex, random
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  host_node TEXT,                      -- node the vTPM is placed on, or NULL
  vtpm_state INTEGER NOT NULL DEFAULT 0
    CHECK (vtpm_state IN (0, 1, 2)),   -- 0 none, 1 pending activation, 2 enrolled
  ek_pub BLOB,                         -- vTPM RSA EK, marshaled TPM2B_PUBLIC
  ek_cert BLOB,                        -- DER, issued by the host's PSE
  ak_pub BLOB,                         -- vTPM AK, marshaled TPM2B_PUBLIC
  ak_name BLOB,
  secret_hash BLOB,                    -- SHA-256 of the credential secret
  status TEXT NOT NULL DEFAULT 'none',
  result_json TEXT,                    -- latest VM result (guest and host)
  last_appraisal_at INTEGER NOT NULL DEFAULT 0,
  clock INTEGER,                       -- vTPM clock info of the last accepted quote
  reset_count INTEGER,
  restart_count INTEGER,
  migrate_to TEXT,                     -- target node of a migration under way
  UNIQUE (tenant, name)
);
CREATE INDEX vms_by_host ON vms(host_node);
CREATE UNIQUE INDEX vms_by_ak_name ON vms(ak_name) WHERE ak_name IS NOT NULL;

-- Placement history: every start and every migration is an event.
CREATE TABLE vm_placements (
  id INTEGER PRIMARY KEY,
  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  node_id TEXT NOT NULL,
  event TEXT NOT NULL CHECK (event IN ('start', 'migrate')),
  at INTEGER NOT NULL
);
CREATE INDEX vm_placements_by_vm ON vm_placements(vm_id, id);

-- Attestation requests: one single-use nonce each, sent to the host node in
-- push replies until answered or expired.
CREATE TABLE vm_attest_requests (
  id INTEGER PRIMARY KEY,
  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  node_id TEXT NOT NULL,
  nonce BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
  status TEXT,                         -- the VM result's status when done
  result_json TEXT
);
CREATE INDEX vm_attest_requests_by_node ON vm_attest_requests(node_id, done);

-- Migration blobs (encrypted to the target MigE; the verifier relays them).
CREATE TABLE vm_migrations (
  id INTEGER PRIMARY KEY,
  vm_id TEXT NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  source_node TEXT NOT NULL,
  target_node TEXT NOT NULL,
  blob BLOB NOT NULL,
  state INTEGER NOT NULL DEFAULT 0
    CHECK (state IN (0, 1, 2)),        -- 0 queued, 1 delivered, 2 confirmed
  created_at INTEGER NOT NULL
);
CREATE INDEX vm_migrations_by_target ON vm_migrations(target_node, state);

-- Guest reference values per tenant: versioned JSON documents in the
-- reference-values format (verifier/refvals.h), applied to the vTPM's PCRs.
CREATE TABLE vm_refvals (
  tenant TEXT NOT NULL,
  version INTEGER NOT NULL,
  doc TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, version)
) WITHOUT ROWID;
