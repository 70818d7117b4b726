/* VM routes (docs/interfaces.md "VMs", docs/pse.md): tenants declare and
 * attest VMs; agents enrol vTPMs, hand over migration blobs and answer
 * VM attestation requests carried in their push replies. */
#ifndef VIGIL_ROUTES_VMS_H
#define VIGIL_ROUTES_VMS_H

#include <stddef.h>

#include "http.h"
#include "store.h"
#include "vigil.pb-c.h"

/* Tenant and operator routes (HTTP_AUTH_NONE, api_who inside; a VM of
 * another tenant is 404). */
int routes_vms_create(struct http_req *req, struct http_resp *resp);
int routes_vms_list(struct http_req *req, struct http_resp *resp);
int routes_vms_get(struct http_req *req, struct http_resp *resp);
int routes_vms_attest(struct http_req *req, struct http_resp *resp);
int routes_vms_attestation_get(struct http_req *req, struct http_resp *resp);
int routes_vms_refvals_get(struct http_req *req, struct http_resp *resp);
int routes_vms_refvals_put(struct http_req *req, struct http_resp *resp);
/* Operator: GET /v1/nodes/{id}/mige-key. */
int routes_nodes_mige_key(struct http_req *req, struct http_resp *resp);

/* Agent routes (protobuf, mTLS naming {id}). */
int routes_vms_vtpm_register(struct http_req *req, struct http_resp *resp);
int routes_vms_vtpm_activate(struct http_req *req, struct http_resp *resp);
int routes_vms_migrate(struct http_req *req, struct http_resp *resp);
int routes_vms_agent_mige_key(struct http_req *req, struct http_resp *resp);

/* Called by the evidence route after a push committed: appraises the
 * push's new ITEM_VM_ATTESTATION items (outcomes[i] == ITEM_NEW) with the
 * node's status of this push (fresh: its quote was accepted now). */
void routes_vms_evidence(struct vctx *vc, const struct agent_rec *a,
    const struct item_in *items, size_t n,
    const enum item_outcome *outcomes, const char *status, int fresh);

/* Work for the agent in its EvidenceReply: attestation requests, migration
 * blobs for its MigE, VMs released after a confirmed migration. The
 * memory stays in *keep until routes_vms_reply_free (after packing). */
struct routes_vms_reply;
int routes_vms_reply_fill(struct vctx *vc, const char *agent_id,
    Vigil__EvidenceReply *out, struct routes_vms_reply **keep);
void routes_vms_reply_free(struct routes_vms_reply *keep);

#endif
