/* The PSE pins in the store (db/migrations/0008_pse_pins.sql): per node,
 * the vigil-psed image digest and public keys first seen in PCR 3
 * (appraise_pse.h). An operator's re-enrolment drops them (a trigger in
 * the migration). Same rules as store.h. */
#ifndef VIGIL_STORE_PSE_H
#define VIGIL_STORE_PSE_H

#include "appraise_pse.h"
#include "store.h"

/* 0 with *out (have 1), VIGIL_ENOTFOUND when nothing is pinned. */
int store_pse_pins_get(struct store *s, const char *agent_id,
    struct pse_pins *out);
/* Writes *pins (have 1) as the node's pins, replacing any. */
int store_pse_pins_put(struct store *s, const char *agent_id,
    const struct pse_pins *pins);

/* The id of an active agent other than agent_id that has this platform
 * attestation key pinned (the same platform registered as another agent);
 * VIGIL_ENOTFOUND if none. */
int store_pse_platform_holder(struct store *s, const char *agent_id,
    const uint8_t *platform_pub, size_t len, char id_out[65]);

#endif
