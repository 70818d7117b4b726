/* Routes of repeatable computations (docs/interfaces.md "Repeatable
 * computations", docs/computations.md) and the hook that appraises the
 * checkpoint items of an evidence push. Tenants see only their own
 * computations and replays (anything else is 404); operators see all. */
#ifndef VIGIL_ROUTES_COMPUTATIONS_H
#define VIGIL_ROUTES_COMPUTATIONS_H

#include <stddef.h>

#include "http.h"
#include "store.h"

#define COMP_BLOB_BODY_MAX STORE_BLOB_MAX	/* PUT /v1/blobs/{sha256} */

int routes_comp_create(struct http_req *req, struct http_resp *resp);
int routes_comp_list(struct http_req *req, struct http_resp *resp);
int routes_comp_get(struct http_req *req, struct http_resp *resp);
int routes_comp_replay(struct http_req *req, struct http_resp *resp);
int routes_replay_get(struct http_req *req, struct http_resp *resp);
int routes_blob_put(struct http_req *req, struct http_resp *resp);

/* After an evidence push whose quote was accepted and whose items were
 * committed (outcomes[i] per item): records the push quote in the quote
 * history with the node's status, then appraises every new or re-sent
 * ITEM_CHECKPOINT / ITEM_COMPUTATION_END item in order and stores the
 * verdicts. Failures are logged, never returned: the items are evidence
 * and stay acknowledged. */
void routes_comp_evidence(struct vctx *vc, const struct agent_rec *a,
    const struct item_in *items, size_t n, const enum item_outcome *outcomes,
    const struct quote_state *qs, const char *status);

#endif
