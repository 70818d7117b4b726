/* A node's status as the API answers it now (DESIGN.md trust chain 3,
 * docs/appraisal.md "Effective status"): its latest appraisal, but `none`
 * when it has no accepted fresh quote for [attestation] stale_intervals
 * intervals, whether or not the freshness sweep has run since. A VM's
 * status is its last attestation made worse by its host's status now.
 * GET /v1/vms, GET /v1/vms/{id} and the signed results
 * (GET /v1/results/{kind}/{id}) all take it from here, so a result is
 * never better than what the API shows at the time it is signed. */
#ifndef VIGIL_NODE_STATUS_H
#define VIGIL_NODE_STATUS_H

#include <stdint.h>

#include "config.h"
#include "store.h"

struct node_status {
	char status[24];	/* affirming|warning|contraindicated|none */
	int fresh;		/* an accepted quote within the window */
	int64_t appraised_at;	/* the latest appraisal's last_at; 0: none */
	int64_t quote_at;	/* the last accepted quote; 0: none */
};

/* The status of node_id at now ("none", nothing else set, for "" or a node
 * without an appraisal). 0, or a store error (out is then "none"). */
int node_status_now(struct store *s, const struct vconfig *cfg,
    const char *node_id, int64_t now, struct node_status *out);

/* A VM's status: vm_status (its last attestation) made worse by its
 * host's status; contraindicated wins, then none (either unknown). */
const char *node_status_vm(const char *vm_status, const char *host_status);

#endif
