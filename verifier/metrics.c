/* GET /metrics (see metrics.h). Counters are plain uint64 updated with
 * relaxed atomics; a scrape reads each once, so a scrape is a consistent
 * enough snapshot for monitoring, not a transaction. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define METRICS_ROUTES 128		/* routes counted one by one */
#define METRICS_NB 14			/* latency buckets, +Inf last */

/* The statuses counted by name; anything else is "other". */
static const unsigned metrics_statuses[] = {
	200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 409, 410, 413,
	415, 422, 429, 500, 503,
};
#define METRICS_NS (sizeof(metrics_statuses) / sizeof(metrics_statuses[0]))

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double metrics_le[METRICS_NB - 1] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10,
};

static uint64_t metrics_req[METRICS_ROUTES + 1][METRICS_NS + 1];

struct metrics_h {
	uint64_t b[METRICS_NB];	/* non-cumulative */
	uint64_t sum_us;
	uint64_t count;
};
static struct metrics_h metrics_hists[METRICS_NHIST];

static const char *const metrics_hist_name[METRICS_NHIST] = {
	"vigil_ingest_duration_seconds",
	"vigil_appraisal_duration_seconds",
};
static const char *const metrics_hist_help[METRICS_NHIST] = {
	"Time to take in one evidence push (parse, appraise, commit).",
	"Time to appraise the quote and event log of one push.",
};

static void
metrics_inc(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

static uint64_t
metrics_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void
metrics_request(size_t route, unsigned status)
{
	size_t i;

	if (route >= http_routes_n || route >= METRICS_ROUTES)
		route = METRICS_ROUTES;		/* "unmatched" */
	for (i = 0; i < METRICS_NS; i++)
		if (metrics_statuses[i] == status)
			break;
	metrics_inc(&metrics_req[route][i], 1);
}

void
metrics_observe(enum metrics_hist h, double seconds)
{
	struct metrics_h *m;
	size_t i;

	if ((unsigned)h >= METRICS_NHIST)
		return;
	if (seconds < 0)
		seconds = 0;
	m = &metrics_hists[h];
	for (i = 0; i < METRICS_NB - 1; i++)
		if (seconds <= metrics_le[i])
			break;
	metrics_inc(&m->b[i], 1);
	metrics_inc(&m->sum_us, (uint64_t)(seconds * 1e6));
	metrics_inc(&m->count, 1);
}

static int
metrics_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
metrics_printf(struct buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return VIGIL_ETOOBIG;
	return buf_add(b, line, (size_t)n);
}

static int
metrics_requests(struct buf *b)
{
	char st[8];
	const char *method, *pattern;
	size_t r, i;
	uint64_t v;
	int e;

	if ((e = metrics_printf(b, "# HELP vigil_http_requests_total HTTP "
	    "requests answered, by route pattern and status.\n"
	    "# TYPE vigil_http_requests_total counter\n")) != 0)
		return e;
	for (r = 0; r <= METRICS_ROUTES; r++) {
		if (r < METRICS_ROUTES && r >= http_routes_n)
			continue;
		method = r < METRICS_ROUTES ? http_routes[r].method : "";
		pattern = r < METRICS_ROUTES ? http_routes[r].pattern :
		    "unmatched";
		for (i = 0; i <= METRICS_NS; i++) {
			if ((v = metrics_get(&metrics_req[r][i])) == 0)
				continue;
			if (i < METRICS_NS)
				snprintf(st, sizeof(st), "%u",
				    metrics_statuses[i]);
			else
				snprintf(st, sizeof(st), "other");
			if ((e = metrics_printf(b, "vigil_http_requests_total"
			    "{method=\"%s\",route=\"%s\",status=\"%s\"} "
			    "%llu\n", method, pattern, st,
			    (unsigned long long)v)) != 0)
				return e;
		}
	}
	return 0;
}

static int
metrics_latency(struct buf *b, enum metrics_hist h)
{
	const struct metrics_h *m = &metrics_hists[h];
	const char *n = metrics_hist_name[h];
	uint64_t cum = 0;
	size_t i;
	int e;

	if ((e = metrics_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", n,
	    metrics_hist_help[h], n)) != 0)
		return e;
	for (i = 0; i < METRICS_NB; i++) {
		cum += metrics_get(&m->b[i]);
		if (i < METRICS_NB - 1)
			e = metrics_printf(b, "%s_bucket{le=\"%g\"} %llu\n", n,
			    metrics_le[i], (unsigned long long)cum);
		else
			e = metrics_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n",
			    n, (unsigned long long)cum);
		if (e != 0)
			return e;
	}
	return metrics_printf(b, "%s_sum %.6f\n%s_count %llu\n", n,
	    (double)metrics_get(&m->sum_us) / 1e6, n,
	    (unsigned long long)cum);
}

static int
metrics_store(struct buf *b, struct store *s)
{
	struct store_stats st;
	uint64_t cum = 0;
	size_t i;
	int e;

	store_stats(s, &st);
	if ((e = metrics_printf(b,
	    "# HELP vigil_store_queue_depth Writer jobs waiting now.\n"
	    "# TYPE vigil_store_queue_depth gauge\n"
	    "vigil_store_queue_depth %llu\n"
	    "# HELP vigil_store_running_jobs Jobs of the batch running now.\n"
	    "# TYPE vigil_store_running_jobs gauge\n"
	    "vigil_store_running_jobs %llu\n",
	    (unsigned long long)st.queued,
	    (unsigned long long)st.running)) != 0 ||
	    (e = metrics_printf(b,
	    "# HELP vigil_store_commits_total Batches committed.\n"
	    "# TYPE vigil_store_commits_total counter\n"
	    "vigil_store_commits_total %llu\n"
	    "# HELP vigil_store_commit_failures_total Batches whose commit "
	    "failed.\n"
	    "# TYPE vigil_store_commit_failures_total counter\n"
	    "vigil_store_commit_failures_total %llu\n",
	    (unsigned long long)st.commits,
	    (unsigned long long)st.commit_failures)) != 0 ||
	    (e = metrics_printf(b,
	    "# HELP vigil_store_jobs_total Writer jobs run.\n"
	    "# TYPE vigil_store_jobs_total counter\n"
	    "vigil_store_jobs_total %llu\n"
	    "# HELP vigil_store_job_failures_total Writer jobs that failed.\n"
	    "# TYPE vigil_store_job_failures_total counter\n"
	    "vigil_store_job_failures_total %llu\n",
	    (unsigned long long)st.jobs,
	    (unsigned long long)st.job_failures)) != 0)
		return e;
	/* Bucket i holds batches of 2^i .. 2^(i+1)-1 jobs. The sum is not
	 * kept by the store; jobs_total is its closest figure. */
	if ((e = metrics_printf(b, "# HELP vigil_store_commit_batch_size "
	    "Jobs per committed batch (no _sum: see "
	    "vigil_store_jobs_total).\n"
	    "# TYPE vigil_store_commit_batch_size histogram\n")) != 0)
		return e;
	for (i = 0; i < STORE_BATCH_BUCKETS; i++) {
		cum += st.batch_hist[i];
		if ((e = metrics_printf(b,
		    "vigil_store_commit_batch_size_bucket{le=\"%llu\"} %llu\n",
		    (1ull << (i + 1)) - 1,
		    (unsigned long long)cum)) != 0)
			return e;
	}
	return metrics_printf(b, "vigil_store_commit_batch_size_bucket"
	    "{le=\"+Inf\"} %llu\nvigil_store_commit_batch_size_count %llu\n",
	    (unsigned long long)cum, (unsigned long long)cum);
}

/* Nodes by status tier, paging through the node list. */
static int
metrics_nodes(struct buf *b, struct store *s)
{
	static const char *const tiers[] = { "affirming", "warning",
	    "contraindicated", "none" };
	uint64_t count[5] = { 0 };
	struct node_row *rows = NULL;
	char after[65] = "";
	size_t n, i, k;
	int e;

	for (;;) {
		if ((e = store_nodes_list(s, after, 1000, &rows, &n)) != 0)
			return e;
		for (i = 0; i < n; i++) {
			for (k = 0; k < 4; k++)
				if (strcmp(rows[i].status, tiers[k]) == 0)
					break;
			count[k]++;
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", rows[n - 1].id);
		free(rows);
		rows = NULL;
		if (n < 1000)
			break;
	}
	if ((e = metrics_printf(b, "# HELP vigil_nodes Nodes by status "
	    "tier of their latest appraisal.\n"
	    "# TYPE vigil_nodes gauge\n")) != 0)
		return e;
	for (k = 0; k < 5; k++)
		if ((e = metrics_printf(b, "vigil_nodes{status=\"%s\"} %llu\n",
		    k < 4 ? tiers[k] : "other",
		    (unsigned long long)count[k])) != 0)
			return e;
	return 0;
}

int
metrics_render(struct vctx *vc, struct buf *out)
{
	int e;

	if ((e = metrics_requests(out)) != 0 ||
	    (e = metrics_latency(out, METRICS_INGEST)) != 0 ||
	    (e = metrics_latency(out, METRICS_APPRAISAL)) != 0 ||
	    (e = metrics_store(out, vc->store)) != 0)
		return e;
	if ((e = metrics_nodes(out, vc->store)) != 0)
		log_warn("metrics: node counts unavailable: %s",
		    vigil_strerror(e));
	return 0;
}
