/* PCR 3's PSE data pinned per node in an evidence push (routes_pse.h). */
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "routes_pse.h"
#include "store_pse.h"

/* [attestation] ek_kinds = one: a platform (its PSE platform attestation
 * key, measured into PCR 3 of its TPM) is one agent. A second agent of the
 * same TPM, registered with its other EK, shows the same key: it is
 * contraindicated (*dup 1) and pins nothing, so the first keeps its own. */
static int
routes_pse_one_platform(struct vctx *vc, const char *agent_id,
    struct appraise_out *ao, int *dup)
{
	char other[65];
	int e;

	*dup = 0;
	if (vc->cfg == NULL || vc->cfg->ek_kinds != EK_KINDS_ONE ||
	    !ao->pse.have || ao->pse.platform_pub_len == 0)
		return 0;
	e = store_pse_platform_holder(vc->store, agent_id,
	    ao->pse.platform_pub, ao->pse.platform_pub_len, other);
	if (e == VIGIL_ENOTFOUND)
		return 0;
	if (e != 0)
		return e;
	log_warn("pse: agent=%s: its platform attestation key is pinned to "
	    "active agent %s: one platform, two agents", agent_id, other);
	*dup = 1;
	ear_claim(&ao->ear.instance_identity, AR_CONTRA);
	ear_reason(&ao->ear, "platform identity: the PSE platform attestation "
	    "key (PCR 23) is pinned to active agent %s: one TPM registered as "
	    "two agents ([attestation] ek_kinds = one)", other);
	return 0;
}

int
routes_pse_appraise(struct vctx *vc, const char *agent_id,
    const struct refvals *refs, struct appraise_out *ao)
{
	struct appraise_pse_in in;
	struct pse_pins prev, next;
	int e, changed = 0, dup = 0;

	if (!ao->quote_ok || !ao->pse_evaluated)
		return 0;
	e = store_pse_pins_get(vc->store, agent_id, &prev);
	if (e != 0 && e != VIGIL_ENOTFOUND)
		return e;
	/* A node without a PSE, nothing pinned: no store write. */
	if (!ao->pse.have && e == VIGIL_ENOTFOUND)
		return 0;
	memset(&in, 0, sizeof(in));
	in.boot = &ao->pse;
	in.prev = e == 0 ? &prev : NULL;
	refvals_pse_images(refs, &in.images, &in.n_images);
	if ((e = appraise_pse(&in, &ao->ear, &next, &changed)) != 0 ||
	    (e = routes_pse_one_platform(vc, agent_id, ao, &dup)) != 0)
		return e;
	if (!changed || dup)
		return 0;
	if ((e = store_pse_pins_put(vc->store, agent_id, &next)) != 0) {
		log_err("pse: agent=%s pins not stored: %s", agent_id,
		    vigil_strerror(e));
		return e;
	}
	log_info("pse: agent=%s image and keys pinned", agent_id);
	return 0;
}
