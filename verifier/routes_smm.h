/* The SMM runtime evidence in an evidence push (called from
 * routes_agents.c) and the SMM routes (docs/smm.md, docs/openapi.json):
 *
 *   GET  /v1/nodes/{id}/smm-key   operator, tenant: the attested
 *                                 key-wrapping public key and node status
 *   GET  /v1/nodes/{id}/smm-log   operator: accepted entries, ?after_seq=
 *   POST /v1/keys                 tenant: a wrapped key for a node
 *   GET  /v1/keys/{id}/uses       the owning tenant (others: 404)
 *   GET  /v1/smm/reference-set    operator: the newest set and the
 *                                 verifier's reference-set public key
 *   PUT  /v1/smm/reference-set    operator: {"regions": [...]}; the next
 *                                 version, signed with that key */
#ifndef VIGIL_ROUTES_SMM_H
#define VIGIL_ROUTES_SMM_H

#include <stddef.h>
#include <stdint.h>

#include "appraise_quote.h"
#include "appraise_smm.h"
#include "ear.h"
#include "http.h"
#include "refvals.h"
#include "vigil.pb-c.h"

#define ROUTES_SMM_MAX_ENTRIES	4096u	/* per push */
#define ROUTES_SMM_MAX_KEYS	8u	/* wrapped keys per reply */
#define ROUTES_SMM_REFS_KEY	"smm-refs.pem"	/* in [results] key_dir */

struct smm_push {
	Vigil__SmmLogEntries **msgs;	/* one per item (NULL if not SMM) */
	size_t n_items;
	const uint8_t **entries;	/* flattened, in item order */
	size_t *lens;
	uint64_t *seqs;
	size_t n;
	int appraised;
	uint64_t accepted;		/* last entry accepted (0: none) */
	int pinned;			/* the node has SMM pins */
	struct appraise_smm_out out;
	/* for the reply */
	uint8_t *keys[ROUTES_SMM_MAX_KEYS];
	size_t key_lens[ROUTES_SMM_MAX_KEYS];
	char key_tenants[ROUTES_SMM_MAX_KEYS][65];
	char key_ids[ROUTES_SMM_MAX_KEYS][65];
	size_t n_keys;
	char *refs_json;
	uint8_t *refs_sig;
	size_t refs_sig_len;
};

/* Sets up p for n_items items (all zero). */
int routes_smm_push_init(struct smm_push *p, size_t n_items);
void routes_smm_push_free(struct smm_push *p);
/* Checks and unpacks item i, an ITEM_SMM_LOG (why set on refusal). */
int routes_smm_item(struct smm_push *p, size_t i,
    const Vigil__EvidenceItem *it, char *why, size_t whylen);
/* After appraise_quote accepted the quote: the SMM appraisal, into
 * ao->ear (refvals: the reference document, for "smm_images"; may be
 * NULL). 0, or an internal failure. */
int routes_smm_appraise(struct vctx *vc, const char *agent_id,
    const struct refvals *refvals, const Vigil__Evidence *ev,
    struct appraise_out *ao, struct smm_push *p);
/* After the evidence commit: the chain state and the accepted entries. */
int routes_smm_commit(struct vctx *vc, const char *agent_id,
    struct smm_push *p);
/* The reply's SMM fields: the newest signed reference set, and the node's
 * undelivered wrapped keys when this push left it `affirming`. The reply
 * points into p, which must outlive its packing. */
void routes_smm_reply(struct vctx *vc, const char *agent_id,
    enum ear_tier tier, struct smm_push *p, Vigil__EvidenceReply *out);

int routes_smm_key(struct http_req *req, struct http_resp *resp);
int routes_smm_log(struct http_req *req, struct http_resp *resp);
int routes_keys_create(struct http_req *req, struct http_resp *resp);
int routes_keys_uses(struct http_req *req, struct http_resp *resp);
int routes_smm_refs_get(struct http_req *req, struct http_resp *resp);
int routes_smm_refs_put(struct http_req *req, struct http_resp *resp);

#endif
