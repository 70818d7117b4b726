/* PCR 3's PSE data pinned per node in an evidence push (routes_pse.h). */
#include <string.h>

#include "err.h"
#include "log.h"
#include "routes_pse.h"
#include "store_pse.h"

int
routes_pse_appraise(struct vctx *vc, const char *agent_id,
    const struct refvals *refs, struct appraise_out *ao)
{
	struct appraise_pse_in in;
	struct pse_pins prev, next;
	int e, changed = 0;

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
	if ((e = appraise_pse(&in, &ao->ear, &next, &changed)) != 0)
		return e;
	if (!changed)
		return 0;
	if ((e = store_pse_pins_put(vc->store, agent_id, &next)) != 0) {
		log_err("pse: agent=%s pins not stored: %s", agent_id,
		    vigil_strerror(e));
		return e;
	}
	log_info("pse: agent=%s image and keys pinned", agent_id);
	return 0;
}
