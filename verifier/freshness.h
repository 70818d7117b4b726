/* The freshness sweep (DESIGN.md, trust chain 3): a thread that every
 * second turns each active node with no accepted fresh quote for
 * stale_intervals * interval_ms to status `none`. */
#ifndef VIGIL_FRESHNESS_H
#define VIGIL_FRESHNESS_H

#include <stdint.h>

#include "store.h"

struct freshness;

int freshness_start(struct store *s, uint32_t interval_ms,
    uint32_t stale_intervals, struct freshness **out);
/* Stops and joins the thread. NULL is a no-op. */
void freshness_stop(struct freshness *f);
/* One sweep at unix time now (the thread calls it; tests too). *marked
 * gets the number of nodes turned `none`. */
int freshness_sweep(struct store *s, uint32_t interval_ms,
    uint32_t stale_intervals, int64_t now, unsigned *marked);

#endif
