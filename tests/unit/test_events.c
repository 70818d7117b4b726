/* Events: the durable table (tenant scoping, node status changes recorded
 * by the store), and GET /v1/events as server-sent events: a client that
 * disconnects and comes back with Last-Event-ID gets exactly what it
 * missed, a tenant's stream carries only its events, and 200 idle streams
 * neither hold the request threads nor slow an ordinary request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/config.h"
#include "verifier/evbus.h"
#include "verifier/http.h"
#include "verifier/store_events.h"
#include "verifier/tokens.h"

#define IDLE_STREAMS 200

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	uint16_t port;
	char base[64];
	char op[TOKEN_HEX_LEN + 1], acme[TOKEN_HEX_LEN + 1];
	char other[TOKEN_HEX_LEN + 1];
} g;

static const uint8_t ek[] = { 1, 2, 3 }, ak[] = { 4, 5, 6 };

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a raw SSE client ---- */

struct sse {
	int fd;
	struct buf in;
};

static void
sse_open(struct sse *s, const char *token, const char *extra)
{
	struct sockaddr_in a;
	char req[512];
	size_t n, off = 0;
	ssize_t w;

	memset(s, 0, sizeof(*s));
	assert_true((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >=
	    0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(g.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = (size_t)snprintf(req, sizeof(req), "GET /v1/events%s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n%s\r\n",
	    extra != NULL && extra[0] == '?' ? extra : "", token,
	    extra != NULL && extra[0] != '?' ? extra : "");
	while (off < n) {
		assert_true((w = write(s->fd, req + off, n - off)) > 0);
		off += (size_t)w;
	}
}

/* Reads what arrives within ms (or until needle is in the input). */
static void
sse_read(struct sse *s, int ms, const char *needle)
{
	struct pollfd p = { s->fd, POLLIN, 0 };
	int64_t end = now_ms() + ms;
	char b[4096];
	ssize_t n;

	for (;;) {
		if (needle != NULL && s->in.len > 0) {
			buf_add_u8(&s->in, 0);
			s->in.len--;
			if (strstr((char *)s->in.data, needle) != NULL)
				return;
		}
		if (now_ms() >= end)
			return;
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			continue;
		if ((n = read(s->fd, b, sizeof(b))) <= 0)
			return;
		assert_int_equal(buf_add(&s->in, b, (size_t)n), 0);
	}
}

/* The "id: N" lines received, in order. */
static size_t
sse_ids(struct sse *s, int64_t *ids, size_t cap)
{
	const char *p;
	size_t k = 0;

	buf_add_u8(&s->in, 0);
	s->in.len--;
	p = (const char *)s->in.data;
	while (p != NULL && (p = strstr(p, "\nid: ")) != NULL && k < cap) {
		ids[k++] = strtoll(p + 5, NULL, 10);
		p += 5;
	}
	return k;
}

static int
sse_status(struct sse *s)
{
	buf_add_u8(&s->in, 0);
	s->in.len--;
	if (s->in.len < 12 || strncmp((char *)s->in.data, "HTTP/1.", 7) != 0)
		return 0;
	return (int)strtol((char *)s->in.data + 9, NULL, 10);
}

static void
sse_close(struct sse *s)
{
	close(s->fd);
	buf_free(&s->in);
}

static int64_t
emit(const char *kind, const char *subject, const char *tenant)
{
	int64_t id = 0;

	assert_int_equal(events_emit(g.vc.store, kind, subject, tenant,
	    "{\"x\":1}"), 0);
	assert_int_equal(store_events_max(g.vc.store, &id), 0);
	return id;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_events", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG :
	    LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-events.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 1;
	g.cfg.threads = 2;
	/* Streams closed by earlier tests are noticed by the server only at
	 * their next heartbeat: room for them. */
	g.cfg.sse_max_clients = IDLE_STREAMS + 20;
	g.cfg.sse_heartbeat_s = 1;	/* 15 in production */
	snprintf(g.cfg.store_path, sizeof(g.cfg.store_path), "%s/v.db",
	    g.dir);
	g.vc.cfg = &g.cfg;
	assert_int_equal(store_open(g.cfg.store_path, &g.vc.store), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "t",
	    g.op), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "t",
	    g.acme), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "other", "t",
	    g.other), 0);
	assert_int_equal(evbus_start(g.vc.store, &g.cfg), 0);
	assert_int_equal(http_start(&g.vc, &g.srv), 0);
	g.port = http_port(g.srv);
	snprintf(g.base, sizeof(g.base), "http://127.0.0.1:%u",
	    (unsigned)g.port);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	http_stop(g.srv);
	evbus_stop();
	store_close(g.vc.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_events_table_scopes_by_tenant(void **state)
{
	struct event_row *rows = NULL;
	int64_t base = 0;
	size_t n = 0;

	(void)state;
	assert_int_equal(store_events_max(g.vc.store, &base), 0);
	emit("smm.refusal", "node-1", NULL);
	emit("replay.result", "comp-a", "acme");
	emit("replay.result", "comp-o", "other");
	assert_int_equal(store_events_after(g.vc.store, base, 0, "acme", 100,
	    &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].subject, "comp-a");
	assert_string_equal(rows[0].tenant, "acme");
	assert_string_equal(rows[0].data, "{\"x\":1}");
	event_rows_free(rows, n);
	assert_int_equal(store_events_after(g.vc.store, base, 0, NULL, 100,
	    &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].tenant, "");
	assert_true(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
	event_rows_free(rows, n);
	/* Malformed events are refused. */
	assert_int_equal(events_emit(g.vc.store, "k", "s", NULL, "[1]"),
	    VIGIL_EINVAL);
	assert_int_equal(events_emit(g.vc.store, "", "s", NULL, NULL),
	    VIGIL_EINVAL);
}

static void
add_appraisal(const char *id, const char *status, const char *reasons)
{
	struct appraisal ap;

	memset(&ap, 0, sizeof(ap));
	snprintf(ap.status, sizeof(ap.status), "%s", status);
	ap.vector_json = (char *)"{\"hardware\":2}";
	ap.reasons_json = (char *)reasons;
	ap.at = (int64_t)time(NULL);
	assert_int_equal(store_appraisal_add(g.vc.store, id, &ap), 0);
}

static void
test_events_node_status_changes_are_recorded_once(void **state)
{
	struct event_row *rows = NULL;
	struct agent_rec a;
	int64_t base = 0;
	size_t n = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(a.id, 'c', 64);
	snprintf(a.hostname, sizeof(a.hostname), "node-c");
	a.ek_pub = (uint8_t *)ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = (uint8_t *)ak;
	a.ak_pub_len = sizeof(ak);
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, 'c', 32);
	a.ak_name_len = 34;
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	assert_int_equal(store_events_max(g.vc.store, &base), 0);
	add_appraisal(a.id, "affirming", "[]");
	add_appraisal(a.id, "affirming", "[]");		/* same: no row */
	add_appraisal(a.id, "affirming", "[\"r\"]");	/* same status */
	add_appraisal(a.id, "contraindicated", "[\"pcr 0 differs\"]");
	assert_int_equal(store_events_after(g.vc.store, base, 0, NULL, 100,
	    &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].kind, "node.status");
	assert_string_equal(rows[0].subject, a.id);
	assert_string_equal(rows[0].tenant, "");
	assert_string_equal(rows[0].data,
	    "{\"status\":\"affirming\",\"previous\":null,\"reasons\":[]}");
	assert_string_equal(rows[1].data, "{\"status\":\"contraindicated\","
	    "\"previous\":\"affirming\",\"reasons\":[\"pcr 0 differs\"]}");
	event_rows_free(rows, n);
	/* A tenant never sees node events. */
	assert_int_equal(store_events_after(g.vc.store, base, 0, "acme", 100,
	    &rows, &n), 0);
	assert_int_equal(n, 0);
	event_rows_free(rows, n);
}

static void
test_events_stream_resumes_with_last_event_id_exactly(void **state)
{
	int64_t ids[16] = { 0 }, e1, e2, e3, e4;
	char hdr[64], want[32];
	struct sse s;
	size_t n;

	(void)state;
	sse_open(&s, g.op, NULL);
	sse_read(&s, 3000, "retry: 3000");
	assert_int_equal(sse_status(&s), 200);
	assert_non_null(strstr((char *)s.in.data,
	    "Content-Type: text/event-stream"));
	e1 = emit("replay.result", "c1", "acme");
	e2 = emit("smm.migration", "n1", NULL);
	snprintf(want, sizeof(want), "\nid: %" PRId64 "\n", e2);
	sse_read(&s, 5000, want);
	n = sse_ids(&s, ids, 16);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], e1);
	assert_int_equal(ids[1], e2);
	assert_non_null(strstr((char *)s.in.data, "event: smm.migration\n"
	    "data: {\"id\":"));
	sse_close(&s);

	/* Missed while away. */
	e3 = emit("replay.result", "c2", "acme");
	e4 = emit("replay.result", "c3", "other");
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %" PRId64 "\r\n", e2);
	sse_open(&s, g.op, hdr);
	snprintf(want, sizeof(want), "\nid: %" PRId64 "\n", e4);
	sse_read(&s, 5000, want);
	sse_read(&s, 600, NULL);	/* nothing more may come */
	n = sse_ids(&s, ids, 16);
	if (n != 2)
		fail_msg("after %" PRId64 ": %s", e2, (char *)s.in.data);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], e3);
	assert_int_equal(ids[1], e4);
	sse_close(&s);
}

static void
test_events_stream_of_a_tenant_has_only_its_events(void **state)
{
	int64_t ids[64] = { 0 }, base = 0, mine;
	char q[64], want[32];
	struct sse s;
	size_t n, i;

	(void)state;
	assert_int_equal(store_events_max(g.vc.store, &base), 0);
	emit("replay.result", "o1", "other");
	emit("smm.refusal", "n2", NULL);
	mine = emit("replay.result", "a1", "acme");
	snprintf(q, sizeof(q), "?after=%" PRId64, base);
	sse_open(&s, g.acme, q);
	snprintf(want, sizeof(want), "\nid: %" PRId64 "\n", mine);
	sse_read(&s, 5000, want);
	n = sse_ids(&s, ids, 64);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], mine);
	assert_null(strstr((char *)s.in.data, "\"other\""));
	for (i = 0; i < n; i++)
		assert_true(ids[i] > base);
	sse_close(&s);
}

static void
test_events_follow_0_ends_after_the_stored_events(void **state)
{
	int64_t ids[8] = { 0 }, base = 0, e1;
	char q[64];
	struct sse s;

	(void)state;
	assert_int_equal(store_events_max(g.vc.store, &base), 0);
	e1 = emit("replay.result", "f1", "acme");
	snprintf(q, sizeof(q), "?after=%" PRId64 "&follow=0", base);
	sse_open(&s, g.acme, q);
	/* The server ends the stream: read returns 0 well before 5 s. */
	sse_read(&s, 5000, "\r\n0\r\n\r\n");
	assert_non_null(strstr((char *)s.in.data, "\r\n0\r\n\r\n"));
	assert_int_equal(sse_ids(&s, ids, 8), 1);
	assert_int_equal(ids[0], e1);
	sse_close(&s);
}

static void
test_events_idle_stream_gets_heartbeats_and_closed_ones_are_reaped(
    void **state)
{
	struct sse s;
	unsigned before;
	int i;

	(void)state;
	sse_open(&s, g.acme, NULL);
	sse_read(&s, 3000, "retry: 3000");
	before = evbus_streams();
	sse_read(&s, 4000, ": keep-alive\n\n");
	assert_non_null(strstr((char *)s.in.data, ": keep-alive\n\n"));
	sse_close(&s);
	/* The server finds it gone when its next heartbeat fails. */
	for (i = 0; i < 60 && evbus_streams() >= before; i++)
		usleep(100 * 1000);
	assert_true(evbus_streams() < before);
}

static long
healthz_ms(void)
{
	char url[128];
	int64_t t0;
	long status = 0;
	FILE *null;
	CURL *c;

	assert_non_null(c = curl_easy_init());
	assert_non_null(null = fopen("/dev/null", "w"));
	snprintf(url, sizeof(url), "%s/healthz", g.base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	t0 = now_ms();
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	curl_easy_cleanup(c);
	fclose(null);
	return (long)(now_ms() - t0);
}

static void
test_events_bad_resume_point_and_no_token_are_refused(void **state)
{
	struct sse s;

	(void)state;
	sse_open(&s, g.op, "Last-Event-ID: 12x\r\n");
	sse_read(&s, 3000, "\r\n\r\n");
	assert_int_equal(sse_status(&s), 400);
	sse_close(&s);
	sse_open(&s, "0000", NULL);
	sse_read(&s, 3000, "\r\n\r\n");
	assert_int_equal(sse_status(&s), 401);
	sse_close(&s);
}

static void
test_events_200_idle_streams_do_not_slow_healthz(void **state)
{
	struct sse *ss, extra;
	long worst = 0, ms;
	size_t i;

	(void)state;
	assert_non_null(ss = calloc(IDLE_STREAMS, sizeof(*ss)));
	for (i = 0; i < IDLE_STREAMS; i++) {
		sse_open(&ss[i], g.other, NULL);
		sse_read(&ss[i], 5000, "retry: 3000");
		assert_int_equal(sse_status(&ss[i]), 200);
	}
	assert_true(evbus_streams() >= IDLE_STREAMS);
	/* The request threads (2) are free: each stream is parked. */
	for (i = 0; i < 10; i++) {
		ms = healthz_ms();
		if (ms > worst)
			worst = ms;
	}
	if (worst >= 500)
		fail_msg("GET /healthz took %ld ms with %d idle streams", worst,
		    IDLE_STREAMS);
	/* One stream over the cap is refused. */
	while (evbus_streams() < g.cfg.sse_max_clients) {
		sse_open(&extra, g.other, NULL);
		sse_read(&extra, 5000, "retry: 3000");
		assert_int_equal(sse_status(&extra), 200);
		sse_close(&extra);
	}
	sse_open(&extra, g.other, NULL);
	sse_read(&extra, 3000, "\r\n\r\n");
	assert_int_equal(sse_status(&extra), 503);
	sse_close(&extra);
	/* An event still reaches the parked streams. */
	emit("replay.result", "o2", "other");
	sse_read(&ss[0], 5000, "\"o2\"");
	assert_non_null(strstr((char *)ss[0].in.data, "\"o2\""));
	sse_read(&ss[IDLE_STREAMS - 1], 5000, "\"o2\"");
	assert_non_null(strstr((char *)ss[IDLE_STREAMS - 1].in.data, "\"o2\""));
	for (i = 0; i < IDLE_STREAMS; i++)
		sse_close(&ss[i]);
	free(ss);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_table_scopes_by_tenant),
		cmocka_unit_test(
		    test_events_node_status_changes_are_recorded_once),
		cmocka_unit_test(
		    test_events_stream_resumes_with_last_event_id_exactly),
		cmocka_unit_test(
		    test_events_stream_of_a_tenant_has_only_its_events),
		cmocka_unit_test(
		    test_events_bad_resume_point_and_no_token_are_refused),
		cmocka_unit_test(
		    test_events_follow_0_ends_after_the_stored_events),
		cmocka_unit_test(
	    test_events_idle_stream_gets_heartbeats_and_closed_ones_are_reaped),
		cmocka_unit_test(
		    test_events_200_idle_streams_do_not_slow_healthz),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
