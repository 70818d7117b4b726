-- Which tenant uploaded which input blob (PUT /v1/blobs/{sha256}), for the
-- per-tenant quota of stored blob bytes ([limits] blob_quota_bytes). Blobs
-- stay content-addressed and shared: a tenant uploading bytes another one
-- holds is charged for them too, so the quota tells no tenant what another
-- holds. Blobs uploaded before this migration are charged to no one.
CREATE TABLE tenant_blobs (
  tenant TEXT NOT NULL,
  sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, sha256)
) WITHOUT ROWID;
