/* Suspended ?wait= attest connections and the hub that resumes them (see
 * vmwait.h). The hub thread is the only one that resumes: a waiter it
 * finds suspended cannot be closed (and freed) until it is resumed, so
 * the hub may read it outside the lock. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "quota.h"
#include "vmwait.h"

struct vmwait {
	struct vmwait *prev, *next;
	struct MHD_Connection *conn;
	struct store *store;
	vmwait_render render;
	char tenant[64];
	int64_t req_id;
	int64_t until_ms, last_write_ms;	/* monotonic */
	int suspended;		/* with hub.mu */
	int started, final;
	struct buf out;
	size_t off;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stop, ended;
	unsigned n, n_suspended, resuming;
	struct vmwait *list;
} hub = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int64_t
vmwait_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int vmwait_done(const struct vmwait *w);

/* 1 if the waiter should run now: done, over, heartbeat due or ended.
 * Outside the lock (reads the store). */
static int
vmwait_due(const struct vmwait *w, int64_t now, int ended)
{
	return ended || now >= w->until_ms ||
	    now - w->last_write_ms >= VMWAIT_HEARTBEAT_MS || vmwait_done(w);
}

static void *
vmwait_main(void *arg)
{
	struct vmwait **v = NULL, *w;
	struct timespec ts;
	unsigned cap = 0, n, i, k;
	int64_t now;
	int ended;

	(void)arg;
	pthread_mutex_lock(&hub.mu);
	while (!hub.stop) {
		if (hub.n_suspended == 0) {
			pthread_cond_wait(&hub.cv, &hub.mu);
			continue;
		}
		if (hub.n_suspended > cap) {
			struct vmwait **nv = realloc(v, hub.n_suspended *
			    sizeof(*v));

			if (nv != NULL) {
				v = nv;
				cap = hub.n_suspended;
			}
		}
		n = 0;
		for (w = hub.list; w != NULL && n < cap; w = w->next)
			if (w->suspended)
				v[n++] = w;
		ended = hub.ended;
		pthread_mutex_unlock(&hub.mu);
		now = vmwait_now_ms();
		for (i = 0, k = 0; i < n; i++)
			if (vmwait_due(v[i], now, ended))
				v[k++] = v[i];
		pthread_mutex_lock(&hub.mu);
		if (hub.ended && !ended) {
			/* Ended meanwhile: every suspended one goes. */
			k = 0;
			for (w = hub.list; w != NULL && k < cap; w = w->next)
				if (w->suspended)
					v[k++] = w;
		}
		for (i = 0; i < k; i++) {
			v[i]->suspended = 0;
			hub.n_suspended--;
		}
		hub.resuming += k;
		pthread_mutex_unlock(&hub.mu);
		for (i = 0; i < k; i++)
			MHD_resume_connection(v[i]->conn);
		pthread_mutex_lock(&hub.mu);
		hub.resuming -= k;
		pthread_cond_broadcast(&hub.cv);
		if (hub.ended || hub.stop)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += VMWAIT_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!hub.stop && !hub.ended && pthread_cond_timedwait(
		    &hub.cv, &hub.mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&hub.mu);
	free(v);
	return NULL;
}

/* The final body: the request as it stands. */
static int
vmwait_finish(struct vmwait *w)
{
	struct vm_attest_req q;
	json_t *j;
	char *s;
	int e;

	memset(&q, 0, sizeof(q));
	if ((e = store_vm_attest_get(w->store, w->req_id, &q)) != 0) {
		log_err("vms: attestation request %lld: reading it for a "
		    "waiter failed: %s", (long long)w->req_id,
		    vigil_strerror(e));
		return e;
	}
	j = w->render(&q);
	vm_attest_req_clear(&q);
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL)
		return VIGIL_ENOMEM;
	e = buf_add(&w->out, s, strlen(s));
	free(s);
	w->final = 1;
	return e;
}

/* 1 if the request is answered (or cannot be read: the reader then
 * reports that). */
static int
vmwait_done(const struct vmwait *w)
{
	struct vm_attest_req q;
	int done;

	memset(&q, 0, sizeof(q));
	if (store_vm_attest_get(w->store, w->req_id, &q) != 0)
		return 1;
	done = q.done;
	vm_attest_req_clear(&q);
	return done;
}

static ssize_t
vmwait_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct vmwait *w = cls;
	int64_t now = vmwait_now_ms();
	size_t n;
	int ended;

	(void)pos;
	if (max == 0)
		return 0;
	pthread_mutex_lock(&hub.mu);
	ended = hub.ended;
	pthread_mutex_unlock(&hub.mu);
	if (!w->final && w->started && (ended || now >= w->until_ms ||
	    vmwait_done(w)) && vmwait_finish(w) != 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (w->off < w->out.len) {
		n = w->out.len - w->off;
		if (n > max)
			n = max;
		memcpy(out, w->out.data + w->off, n);
		w->off += n;
		return (ssize_t)n;
	}
	if (w->final)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (!w->started || now - w->last_write_ms >= VMWAIT_HEARTBEAT_MS) {
		/* The headers and a space at once; a space a heartbeat. */
		w->started = 1;
		w->last_write_ms = now;
		out[0] = ' ';
		return 1;
	}
	/* Nothing to send: park the connection until the hub resumes it. */
	pthread_mutex_lock(&hub.mu);
	if (!hub.ended) {
		w->suspended = 1;
		hub.n_suspended++;
		MHD_suspend_connection(w->conn);
		pthread_cond_broadcast(&hub.cv);
	}
	pthread_mutex_unlock(&hub.mu);
	return 0;
}

static void
vmwait_unlink(struct vmwait *w)
{
	pthread_mutex_lock(&hub.mu);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else if (hub.list == w)
		hub.list = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	hub.n--;
	pthread_mutex_unlock(&hub.mu);
}

static void
vmwait_free(void *cls)
{
	struct vmwait *w = cls;

	vmwait_unlink(w);
	quota_put(QUOTA_WAITS, w->tenant);
	buf_free(&w->out);
	free(w);
}

int
vmwait_reserve(struct http_req *req, struct http_resp *resp,
    const char *tenant)
{
	unsigned limit = req->vc->cfg->attest_waits_per_tenant, held = 0;
	int e;

	if ((e = quota_take(QUOTA_WAITS, tenant, limit, &held)) == 0)
		return 0;
	if (e != VIGIL_EDENIED)
		return http_problem(resp, 500, "internal", "Internal error",
		    "counting waits failed: %s", vigil_strerror(e));
	log_warn("vms: refused a wait: tenant=%s has %u open ([limits] "
	    "attest_waits_per_tenant = %u)", tenant, held, limit);
	http_problem(resp, 429, "too-many-waits", "Too many waits",
	    "%u attest requests of this tenant are waiting (?wait=), the "
	    "limit ([limits] attest_waits_per_tenant = %u); ask without "
	    "?wait and poll GET /v1/vm-attestations/{id}", held, limit);
	return VIGIL_EDENIED;
}

void
vmwait_release(const char *tenant)
{
	quota_put(QUOTA_WAITS, tenant);
}

int
vmwait_stream(struct http_req *req, struct http_resp *resp,
    const char *tenant, int64_t req_id, long wait_s, vmwait_render render)
{
	struct MHD_Response *r;
	struct vmwait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return VIGIL_ENOMEM;
	w->conn = req->conn;
	w->store = req->vc->store;
	w->render = render;
	w->req_id = req_id;
	snprintf(w->tenant, sizeof(w->tenant), "%s", tenant);
	w->last_write_ms = vmwait_now_ms();
	w->until_ms = w->last_write_ms + (int64_t)wait_s * 1000;
	pthread_mutex_lock(&hub.mu);
	if (hub.ended) {
		pthread_mutex_unlock(&hub.mu);
		free(w);
		return VIGIL_ESTALE;
	}
	if (!hub.running) {
		hub.stop = 0;
		if (pthread_create(&hub.th, NULL, vmwait_main, NULL) != 0) {
			pthread_mutex_unlock(&hub.mu);
			free(w);
			log_err("vms: cannot start the wait hub thread");
			return VIGIL_EIO;
		}
		hub.running = 1;
	}
	w->next = hub.list;
	if (w->next != NULL)
		w->next->prev = w;
	hub.list = w;
	hub.n++;
	pthread_mutex_unlock(&hub.mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
	    vmwait_read, w, vmwait_free);
	if (r == NULL) {
		vmwait_unlink(w);	/* the slot stays the caller's */
		free(w);
		return VIGIL_ENOMEM;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	resp->stream = r;
	resp->status = 200;
	return 0;
}

void
vmwait_begin(void)
{
	pthread_mutex_lock(&hub.mu);
	hub.ended = 0;
	pthread_mutex_unlock(&hub.mu);
}

void
vmwait_end(void)
{
	int join;

	pthread_mutex_lock(&hub.mu);
	hub.ended = 1;
	pthread_cond_broadcast(&hub.cv);
	while (hub.n_suspended > 0 || hub.resuming > 0)
		pthread_cond_wait(&hub.cv, &hub.mu);
	join = hub.running;
	hub.stop = 1;
	hub.running = 0;
	pthread_cond_broadcast(&hub.cv);
	pthread_mutex_unlock(&hub.mu);
	if (join)
		pthread_join(hub.th, NULL);
}

unsigned
vmwait_suspended(void)
{
	unsigned n;

	pthread_mutex_lock(&hub.mu);
	n = hub.n_suspended;
	pthread_mutex_unlock(&hub.mu);
	return n;
}
