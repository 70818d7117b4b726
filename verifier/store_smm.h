/* The SMM runtime evidence in the store (db/migrations/0004_smm.sql):
 * per-node pins and chain state, accepted log entries, wrapped tenant keys
 * and the reference sets the verifier signed. */
#ifndef VIGIL_STORE_SMM_H
#define VIGIL_STORE_SMM_H

#include <stddef.h>
#include <stdint.h>

#include "appraise_smm.h"
#include "store.h"

#define STORE_SMM_PAGE_MAX	256u	/* rows per smm-log page */
#define STORE_SMM_ISSUED_MAX	64u	/* newest refsets compared */

/* 0 with *out, VIGIL_ENOTFOUND when nothing is pinned for the node. */
int store_smm_pins_get(struct store *s, const char *agent_id,
    struct smm_pins *out);

/* In one job: the pins and chain state, and the accepted entries (n may
 * be 0; an entry already stored under its seq is left as it is). */
int store_smm_commit(struct store *s, const char *agent_id,
    const struct smm_pins *pins, const uint8_t *const *entries,
    const size_t *lens, const uint64_t *seqs, size_t n);

/* One accepted entry (malloc'd), VIGIL_ENOTFOUND if none. */
int store_smm_entry_get(struct store *s, const char *agent_id, uint64_t seq,
    uint8_t **out, size_t *len);

struct smm_log_row {
	char agent_id[65];
	uint64_t seq;
	int64_t received_at;
	uint8_t *entry;		/* malloc'd */
	size_t entry_len;
};
void store_smm_rows_free(struct smm_log_row *rows, size_t n);

/* Entries of a node after after_seq, ascending, at most limit
 * (1..STORE_SMM_PAGE_MAX). */
int store_smm_log_page(struct store *s, const char *agent_id,
    uint64_t after_seq, size_t limit, struct smm_log_row **rows, size_t *n);
/* KEY_USE entries of (agent_id, tenant, key_id) only: in the log of
 * the node the key belongs to, attributed to its tenant (a version-2
 * entry's tenant; a version-1 entry's by db/migrations/0014), after
 * after_seq, ascending. Another node's entries, and another tenant's
 * key of the same id on the same node, are not this key's. */
int store_smm_key_uses(struct store *s, const char *agent_id,
    const char *tenant, const char *key_id, uint64_t after_seq,
    size_t limit, struct smm_log_row **rows, size_t *n);

/* Wrapped keys. */
struct smm_key_rec {
	char id[65];
	char tenant[65];
	char agent_id[65];
	int64_t created_at;
	int64_t delivered_at;
};
/* Key ids are per tenant (db/migrations/0011, 0014): VIGIL_EEXIST when
 * the tenant has a key of that id. Another tenant's keys, on this node or
 * any, make no difference (a node's SMM service names keys by (tenant,
 * id), docs/smm.md). */
int store_smm_key_add(struct store *s, const char *id, const char *tenant,
    const char *agent_id, const uint8_t *blob, size_t len);
/* The tenant's key id; VIGIL_ENOTFOUND if the tenant has none. */
int store_smm_key_get(struct store *s, const char *tenant, const char *id,
    struct smm_key_rec *out);
/* tenant's key id on the node; with tenant NULL (a version-1 KEY_USE
 * entry, which names none) the node's only key of that id: none or
 * several are VIGIL_ENOTFOUND. */
int store_smm_key_on_node(struct store *s, const char *agent_id,
    const char *tenant, const char *id, struct smm_key_rec *out);
/* Blobs of the node's keys not yet delivered (malloc'd each; at most
 * max), their tenants and ids in tenants[i], ids[i] (65 bytes each). */
int store_smm_keys_pending(struct store *s, const char *agent_id, size_t max,
    uint8_t **blobs, size_t *lens, char (*tenants)[65], char (*ids)[65],
    size_t *n);
int store_smm_key_delivered(struct store *s, const char *agent_id,
    const char *tenant, const char *id);

/* Reference sets. */
int store_smm_refset_add(struct store *s, uint64_t version, const char *json,
    const uint8_t *sig, size_t sig_len, const uint8_t digest[32]);
/* The newest set (json and sig malloc'd), VIGIL_ENOTFOUND if none. */
int store_smm_refset_latest(struct store *s, uint64_t *version, char **json,
    uint8_t **sig, size_t *sig_len);
/* Digests of the newest STORE_SMM_ISSUED_MAX sets (*out malloc'd). */
int store_smm_refset_digests(struct store *s,
    uint8_t (**out)[SMMLOG_HASH_LEN], size_t *n);

#endif
