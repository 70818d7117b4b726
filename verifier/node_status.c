/* A node's status as the API answers it now (node_status.h). */
#include <stdio.h>
#include <string.h>

#include "ear.h"
#include "err.h"
#include "log.h"
#include "node_status.h"

int
node_status_now(struct store *s, const struct vconfig *cfg,
    const char *node_id, int64_t now, struct node_status *out)
{
	struct appraisal_row row;
	struct quote_state qs;
	int64_t limit_s;
	int e;

	memset(out, 0, sizeof(*out));
	snprintf(out->status, sizeof(out->status), "none");
	if (node_id[0] == '\0')
		return 0;
	memset(&row, 0, sizeof(row));
	e = store_appraisal_latest(s, node_id, &row);
	if (e == VIGIL_ENOTFOUND)
		return 0;
	if (e != 0)
		return e;
	snprintf(out->status, sizeof(out->status), "%s", row.a.status);
	out->appraised_at = row.last_at;
	appraisal_row_clear(&row);
	e = store_quote_state_get(s, node_id, &qs);
	if (e != 0 && e != VIGIL_ENOTFOUND) {
		snprintf(out->status, sizeof(out->status), "none");
		return e;
	}
	/* The freshness sweep's window (freshness.c), applied here too: a
	 * reader between two sweeps, or with the sweep behind, must not see
	 * a stale node as trusted. */
	limit_s = ((int64_t)cfg->interval_ms * (cfg->stale_intervals ?
	    cfg->stale_intervals : 3) + 999) / 1000;
	if (e == 0) {
		out->quote_at = qs.at;
		out->fresh = qs.at >= now - limit_s;
	}
	if (!out->fresh)
		snprintf(out->status, sizeof(out->status), "none");
	return 0;
}

const char *
node_status_vm(const char *vm_status, const char *host_status)
{
	enum ear_tier v = EAR_TIER_NONE, h = EAR_TIER_NONE;

	if (ear_tier_parse(vm_status, &v) != 0)
		v = EAR_TIER_NONE;
	if (ear_tier_parse(host_status, &h) != 0)
		h = EAR_TIER_NONE;
	if (v == EAR_TIER_CONTRAINDICATED || h == EAR_TIER_CONTRAINDICATED)
		return "contraindicated";
	if (v == EAR_TIER_NONE || h == EAR_TIER_NONE)
		return "none";
	return ear_tier_name(v > h ? v : h);
}
