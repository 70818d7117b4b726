/* The PSE pins in an evidence push (called from routes_agents.c after
 * appraise_quote): PCR 3's vigil-psed image digest against the reference
 * document's "pse_images", and its platform attestation key and MigE
 * transport key pinned per node (appraise_pse.h, store_pse.h). */
#ifndef VIGIL_ROUTES_PSE_H
#define VIGIL_ROUTES_PSE_H

#include "appraise_quote.h"
#include "http.h"
#include "refvals.h"

/* Adds its reasons and claims to ao->ear and stores new pins when the
 * quote was accepted. 0, or a negative code for a store failure. Nothing
 * when the event log was not recomputed (ao->pse_evaluated 0). */
int routes_pse_appraise(struct vctx *vc, const char *agent_id,
    const struct refvals *refs, struct appraise_out *ao);

#endif
