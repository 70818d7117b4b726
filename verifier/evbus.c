/* The event hub and GET /v1/events (see evbus.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_who.h"
#include "buf.h"
#include "err.h"
#include "evbus.h"
#include "log.h"
#include "store_events.h"

#define EVBUS_POLL_MS 200		/* the table is polled this often */
#define EVBUS_BATCH 100			/* events read per stream wake-up */
#define EVBUS_BLOCK 16384		/* libmicrohttpd's block size */

struct sse_client {
	struct sse_client *prev, *next;
	struct MHD_Connection *conn;
	int operator;
	char tenant[64];
	int64_t seen;			/* events up to this id were handled */
	int64_t until;			/* ?follow=0: end after this id; or -1 */
	int64_t last_write_ms;
	int suspended;
	struct buf out;
	size_t off;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* new events, or stop */
	pthread_t th;
	int running;
	int stop;
	int streams_ended;
	struct store *s;
	int64_t last_id;		/* newest event id known */
	unsigned max_clients, heartbeat_s;
	unsigned n_clients;
	size_t resuming;		/* MHD_resume_connection calls under way */
	struct sse_client *clients;
} evbus = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int64_t
evbus_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With evbus.mu held. */
static void
evbus_saw(int64_t id)
{
	if (id > evbus.last_id) {
		evbus.last_id = id;
		pthread_cond_broadcast(&evbus.cv);
	}
}

int
events_emit(struct store *s, const char *kind, const char *subject,
    const char *tenant, const char *data_json)
{
	int64_t id = 0;
	int e;

	if ((e = store_event_add(s, kind, subject, tenant, data_json,
	    &id)) != 0) {
		log_err("events: storing kind=%s subject=%s failed: %s", kind,
		    subject, vigil_strerror(e));
		return e;
	}
	log_info("event id=%" PRId64 " kind=%s subject=%s tenant=%s", id,
	    kind, subject, tenant ? tenant : "-");
	pthread_mutex_lock(&evbus.mu);
	evbus_saw(id);
	pthread_mutex_unlock(&evbus.mu);
	return 0;
}

/* With evbus.mu held, returned held: resumes the streams that have
 * something to do. libmicrohttpd is called without our lock (it takes its
 * own): a stream marked not suspended here stays suspended in
 * libmicrohttpd until resumed, so it cannot be closed (and freed) in
 * between; evbus.resuming counts the resumptions under way, which
 * evbus_end_streams waits for. */
static void
evbus_wake_streams(int64_t now_ms)
{
	struct MHD_Connection *stack[64], **wake = stack;
	struct sse_client *c;
	size_t n = 0, i, cap = 64;

	if (evbus.n_clients > cap) {
		if ((wake = calloc(evbus.n_clients, sizeof(*wake))) == NULL) {
			wake = stack;	/* the rest at the next round */
		} else
			cap = evbus.n_clients;
	}
	for (c = evbus.clients; c != NULL && n < cap; c = c->next) {
		if (!c->suspended)
			continue;
		if (evbus.streams_ended || evbus.last_id > c->seen ||
		    now_ms - c->last_write_ms >=
		    (int64_t)evbus.heartbeat_s * 1000) {
			c->suspended = 0;
			wake[n++] = c->conn;
		}
	}
	if (n == 0)
		goto out;
	evbus.resuming += n;
	pthread_mutex_unlock(&evbus.mu);
	for (i = 0; i < n; i++)
		MHD_resume_connection(wake[i]);
	pthread_mutex_lock(&evbus.mu);
	evbus.resuming -= n;
	pthread_cond_broadcast(&evbus.cv);
 out:
	if (wake != stack)
		free(wake);
}

static void *
evbus_main(void *arg)
{
	struct timespec ts;
	int64_t max;
	int e, warned = 0;

	(void)arg;
	pthread_mutex_lock(&evbus.mu);
	while (!evbus.stop) {
		pthread_mutex_unlock(&evbus.mu);
		/* Rows written by the store's trigger are found by polling. */
		e = store_events_max(evbus.s, &max);
		if (e != 0 && !warned)
			log_warn("events: reading the event table failed: %s",
			    vigil_strerror(e));
		warned = e != 0;
		pthread_mutex_lock(&evbus.mu);
		if (e == 0)
			evbus_saw(max);
		evbus_wake_streams(evbus_now_ms());
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += EVBUS_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!evbus.stop && pthread_cond_timedwait(&evbus.cv,
		    &evbus.mu, &ts) != ETIMEDOUT) {
			/* New events: wake the streams now, not at the poll. */
			evbus_wake_streams(evbus_now_ms());
		}
	}
	pthread_mutex_unlock(&evbus.mu);
	return NULL;
}

int
evbus_start(struct store *s, const struct vconfig *cfg)
{
	int64_t max = 0;
	int e;

	if ((e = store_events_max(s, &max)) != 0)
		return e;
	pthread_mutex_lock(&evbus.mu);
	if (evbus.running) {
		pthread_mutex_unlock(&evbus.mu);
		return VIGIL_EEXIST;
	}
	evbus.s = s;
	evbus.stop = 0;
	evbus.streams_ended = 0;
	evbus.last_id = max;
	evbus.max_clients = cfg->sse_max_clients;
	evbus.heartbeat_s = cfg->sse_heartbeat_s ? cfg->sse_heartbeat_s : 15;
	if (pthread_create(&evbus.th, NULL, evbus_main, NULL) != 0) {
		pthread_mutex_unlock(&evbus.mu);
		return VIGIL_EIO;
	}
	evbus.running = 1;
	pthread_mutex_unlock(&evbus.mu);
	return 0;
}

void
evbus_end_streams(void)
{
	pthread_mutex_lock(&evbus.mu);
	evbus.streams_ended = 1;
	evbus_wake_streams(evbus_now_ms());
	/* No stream may still be suspended when the daemon stops. */
	while (evbus.resuming > 0)
		pthread_cond_wait(&evbus.cv, &evbus.mu);
	pthread_mutex_unlock(&evbus.mu);
}

void
evbus_stop(void)
{
	pthread_mutex_lock(&evbus.mu);
	if (!evbus.running) {
		pthread_mutex_unlock(&evbus.mu);
		return;
	}
	evbus.streams_ended = 1;
	evbus_wake_streams(evbus_now_ms());
	while (evbus.resuming > 0)
		pthread_cond_wait(&evbus.cv, &evbus.mu);
	evbus.stop = 1;
	pthread_cond_broadcast(&evbus.cv);
	pthread_mutex_unlock(&evbus.mu);
	pthread_join(evbus.th, NULL);
	pthread_mutex_lock(&evbus.mu);
	evbus.running = 0;
	pthread_mutex_unlock(&evbus.mu);
}

int64_t
evbus_wait(int64_t seen, unsigned timeout_ms)
{
	struct timespec ts;
	int64_t id;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&evbus.mu);
	while (!evbus.stop && evbus.last_id <= seen &&
	    pthread_cond_timedwait(&evbus.cv, &evbus.mu, &ts) != ETIMEDOUT)
		;
	id = evbus.last_id;
	pthread_mutex_unlock(&evbus.mu);
	return id;
}

unsigned
evbus_streams(void)
{
	unsigned n;

	pthread_mutex_lock(&evbus.mu);
	n = evbus.n_clients;
	pthread_mutex_unlock(&evbus.mu);
	return n;
}

int
evbus_event_json(const struct event_row *ev, char **out)
{
	char at[32];
	json_t *o, *d;

	*out = NULL;
	d = json_loads(ev->data, 0, NULL);
	http_time(ev->at, at);
	o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "id",
	    (json_int_t)ev->id, "at", at, "kind", ev->kind, "subject",
	    ev->subject, "tenant",
	    ev->tenant[0] ? json_string(ev->tenant) : json_null(),
	    "data", d != NULL ? d : json_object());
	if (o == NULL)
		return VIGIL_ENOMEM;
	*out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *out != NULL ? 0 : VIGIL_ENOMEM;
}

/* One event as an SSE message: id, event (the kind) and one data line. */
static int
evbus_format(struct buf *b, const struct event_row *ev)
{
	char head[128];
	char *s;
	int e;

	if ((e = evbus_event_json(ev, &s)) != 0)
		return e;
	snprintf(head, sizeof(head), "id: %" PRId64 "\nevent: %s\ndata: ",
	    ev->id, ev->kind);
	if ((e = buf_add(b, head, strlen(head))) == 0 &&
	    (e = buf_add(b, s, strlen(s))) == 0)
		e = buf_add(b, "\n\n", 2);
	free(s);
	return e;
}

/* Fills c->out with what the stream may see after c->seen. */
static int
evbus_fill(struct sse_client *c, int64_t top)
{
	struct event_row *rows = NULL;
	size_t n = 0, i;
	int e;

	if ((e = store_events_after(evbus.s, c->seen, top,
	    c->operator ? NULL : c->tenant, EVBUS_BATCH, &rows, &n)) != 0)
		return e;
	for (i = 0; i < n && e == 0; i++)
		e = evbus_format(&c->out, &rows[i]);
	if (e == 0)
		c->seen = n == EVBUS_BATCH ? rows[n - 1].id : top;
	event_rows_free(rows, n);
	return e;
}

static ssize_t
evbus_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse_client *c = cls;
	static const char hb[] = ": keep-alive\n\n";
	int64_t top, now = evbus_now_ms();
	size_t n;
	int ended, e;

	(void)pos;
	if (c->off == c->out.len) {
		c->off = 0;
		c->out.len = 0;
		pthread_mutex_lock(&evbus.mu);
		ended = evbus.streams_ended;
		top = evbus.last_id;
		pthread_mutex_unlock(&evbus.mu);
		if (ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (c->until >= 0)
			top = c->until;	/* ?follow=0: nothing after it */
		if (top > c->seen && (e = evbus_fill(c, top)) != 0) {
			log_err("events: stream read failed: %s",
			    vigil_strerror(e));
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (c->out.len == 0 && c->until >= 0 && c->seen >= c->until)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (c->out.len == 0 && now - c->last_write_ms >=
		    (int64_t)evbus.heartbeat_s * 1000 &&
		    buf_add(&c->out, hb, sizeof(hb) - 1) != 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (c->off < c->out.len) {
		n = c->out.len - c->off;
		if (n > max)
			n = max;
		memcpy(out, c->out.data + c->off, n);
		c->off += n;
		pthread_mutex_lock(&evbus.mu);
		c->last_write_ms = now;
		pthread_mutex_unlock(&evbus.mu);
		return (ssize_t)n;
	}
	/* Nothing to send: park the connection until the hub resumes it. */
	pthread_mutex_lock(&evbus.mu);
	if (!evbus.streams_ended && evbus.last_id <= c->seen) {
		c->suspended = 1;
		MHD_suspend_connection(c->conn);
	}
	pthread_mutex_unlock(&evbus.mu);
	return 0;
}

static void
evbus_client_free(void *cls)
{
	struct sse_client *c = cls;

	pthread_mutex_lock(&evbus.mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (evbus.clients == c)
		evbus.clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	evbus.n_clients--;
	pthread_mutex_unlock(&evbus.mu);
	log_debug("events: stream closed (seen %" PRId64 ")", c->seen);
	buf_free(&c->out);
	free(c);
}

/* Last-Event-ID header or ?after=: a non-negative decimal event id. */
static int
evbus_resume_point(struct http_req *req, int64_t *out, const char **bad)
{
	const char *v, *h;
	char *end;
	long long n;

	*out = -1;
	h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    "Last-Event-ID");
	v = h != NULL ? h : http_query(req, "after");
	if (v == NULL)
		return 0;
	*bad = h != NULL ? "Last-Event-ID" : "after";
	errno = 0;
	n = strtoll(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 ||
	    strlen(v) > 19)
		return VIGIL_EINVAL;
	*out = (int64_t)n;
	return 0;
}

int
routes_events_get(struct http_req *req, struct http_resp *resp)
{
	struct MHD_Response *r;
	struct sse_client *c;
	struct api_who w;
	const char *bad = "", *follow = http_query(req, "follow");
	static const char hello[] = "retry: 3000\n\n";
	int64_t after, until = -1;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (evbus_resume_point(req, &after, &bad) != 0) {
		log_warn("events: refused: %s is not an event id", bad);
		http_problem(resp, 400, "bad-request", "Bad request",
		    "%s must be a non-negative event id", bad);
		return 0;
	}
	if (follow != NULL && strcmp(follow, "0") != 0 &&
	    strcmp(follow, "1") != 0) {
		log_warn("events: refused: follow is not 0 or 1");
		http_problem(resp, 400, "bad-request", "Bad request",
		    "follow must be 0 (end after the events stored now) or 1");
		return 0;
	}
	/* ?follow=0: the events stored now, then the end of the stream. */
	if (follow != NULL && strcmp(follow, "0") == 0 &&
	    (e = store_events_max(req->vc->store, &until)) != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "reading the event table failed: %s", vigil_strerror(e));
		return 0;
	}
	/* Without a resume point a stream starts with what comes next: the
	 * table's newest id now (the store's trigger writes rows the hub
	 * learns of only at its next poll). */
	if (after < 0 && (e = store_events_max(req->vc->store, &after)) != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "reading the event table failed: %s", vigil_strerror(e));
		return 0;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return VIGIL_ENOMEM;
	c->conn = req->conn;
	c->operator = w.operator;
	snprintf(c->tenant, sizeof(c->tenant), "%s", w.tenant);
	c->last_write_ms = evbus_now_ms();
	if (buf_add(&c->out, hello, sizeof(hello) - 1) != 0) {
		free(c);
		return VIGIL_ENOMEM;
	}
	pthread_mutex_lock(&evbus.mu);
	if (!evbus.running || evbus.streams_ended) {
		pthread_mutex_unlock(&evbus.mu);
		buf_free(&c->out);
		free(c);
		http_problem(resp, 503, "unavailable", "Events unavailable",
		    "the event hub is not running");
		return 0;
	}
	if (evbus.n_clients >= evbus.max_clients) {
		pthread_mutex_unlock(&evbus.mu);
		buf_free(&c->out);
		free(c);
		log_warn("events: refused a stream: %u open, the limit "
		    "([events] max_sse_clients)", evbus.max_clients);
		http_problem(resp, 503, "too-many-streams", "Too many streams",
		    "%u event streams are open, the configured limit",
		    evbus.max_clients);
		return 0;
	}
	c->seen = after;
	c->until = until;
	evbus_saw(after > until ? after : until);
	c->next = evbus.clients;
	if (c->next != NULL)
		c->next->prev = c;
	evbus.clients = c;
	evbus.n_clients++;
	pthread_mutex_unlock(&evbus.mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, EVBUS_BLOCK,
	    evbus_read, c, evbus_client_free);
	if (r == NULL) {
		evbus_client_free(c);
		return VIGIL_ENOMEM;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	log_info("events: stream opened role=%s tenant=%s after=%" PRId64,
	    w.operator ? "operator" : "tenant", w.tenant[0] ? w.tenant : "-",
	    c->seen);
	resp->status = 200;
	resp->stream = r;
	return 0;
}
