/* Per-tenant counts of requests under way (blob uploads, attest waits),
 * in this process's memory, against the [limits] of docs/verifier.md
 * ("Quotas and size limits"). */
#ifndef VIGIL_QUOTA_H
#define VIGIL_QUOTA_H

enum quota_kind {
	QUOTA_UPLOADS = 0,	/* PUT /v1/blobs bodies being received */
	QUOTA_WAITS,		/* POST /v1/vms/{id}/attest?wait= open */
	QUOTA_KINDS
};

/* Takes one of the tenant's limit slots of kind k (limit 0: no limit).
 * 0 when taken; VIGIL_EDENIED when the tenant holds limit already (*held
 * gets the count; may be NULL); VIGIL_ENOMEM. */
int quota_take(enum quota_kind k, const char *tenant, unsigned limit,
    unsigned *held);
/* Gives one back. */
void quota_put(enum quota_kind k, const char *tenant);
/* How many the tenant holds now. */
unsigned quota_held(enum quota_kind k, const char *tenant);

#endif
