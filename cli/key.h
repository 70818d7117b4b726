/* `vigil key`: tenant keys for a node's SMM service (docs/smm.md).
 *
 *   vigil key wrap --node ID --ops OPS --uid UID[,UID...] --in KEYFILE
 *             [--id KEYID] [--tenant T] [--out FILE]
 *       wraps KEYFILE (a PEM P-256 private key: sign; otherwise 16..64
 *       raw bytes: hmac, and unwrap for 32 bytes) on this machine to the
 *       node's attested key-wrapping key (GET /v1/nodes/ID/smm-key);
 *       the key never leaves in clear. KEYID defaults to KEYFILE's base
 *       name, T to $VIGIL_TENANT, FILE to KEYFILE.vgkw.
 *   vigil key provision --node ID --in FILE.vgkw
 *       POST /v1/keys: the verifier keeps the blob and forwards it to
 *       the node while it is fresh and affirming.
 *   vigil key uses KEYID
 *       the key-use audit (owner only).
 */
#ifndef VIGIL_CLI_KEY_H
#define VIGIL_CLI_KEY_H

#include "cli/http.h"

/* argv[0] is "key". Returns the process exit status: 0, or 2 on error. */
int cli_key(const struct cli_ctx *c, int argc, char **argv);

#endif
