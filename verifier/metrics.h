/* Process-wide counters for GET /metrics (Prometheus text format 0.0.4):
 * requests by route pattern and status, ingest and appraisal latency
 * histograms. Lock-free (atomics): safe from every request thread. The
 * store's writer statistics and node counts are read when rendering. */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stddef.h>

#include "buf.h"

struct vctx;

enum metrics_hist {
	METRICS_INGEST = 0,	/* POST /v1/agents/{id}/evidence, handler */
	METRICS_APPRAISAL,	/* appraise_quote of one push */
	METRICS_NHIST,
};

/* Counts one answered request; route is an index into http_routes, or
 * http_routes_n for a path no route matched. */
void metrics_request(size_t route, unsigned status);
void metrics_observe(enum metrics_hist h, double seconds);
/* Appends the whole exposition to out. */
int metrics_render(struct vctx *vc, struct buf *out);

#endif
