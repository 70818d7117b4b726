/* Webhooks: targets in private, loopback or link-local ranges refused
 * unless allowed; events delivered to a local receiver with a valid
 * HMAC-SHA256 signature; a receiver that was down gets the event on a
 * retry, and the delivery log (GET /v1/webhooks) shows both; tenants
 * see and delete only their own webhooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/config.h"
#include "verifier/evbus.h"
#include "verifier/http.h"
#include "verifier/tokens.h"
#include "verifier/webhooks.h"

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];
	char op[TOKEN_HEX_LEN + 1], acme[TOKEN_HEX_LEN + 1];
	char other[TOKEN_HEX_LEN + 1];
} g;

/* ---- a tiny HTTP receiver ---- */

#define RX_MAX 16

struct rx_req {
	char sig[128], ts[32], event_id[32];
	char body[4096];
};

static struct {
	int fd;
	uint16_t port;
	pthread_t th;
	int stop;
	pthread_mutex_t mu;
	size_t n;
	struct rx_req reqs[RX_MAX];
} rx = { .fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static void
rx_header(const char *head, const char *name, char *out, size_t cap)
{
	const char *p = strcasestr(head, name), *e;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(name);
	while (*p == ' ')
		p++;
	if ((e = strstr(p, "\r\n")) == NULL || (size_t)(e - p) >= cap)
		return;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

static void
rx_serve_one(int cfd)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n";
	struct rx_req r;
	char b[8192], cl[16], *hend;
	size_t len = 0;
	ssize_t n;
	long want;

	memset(&r, 0, sizeof(r));
	for (;;) {
		if (len == sizeof(b) - 1)
			return;
		if ((n = read(cfd, b + len, sizeof(b) - 1 - len)) <= 0)
			return;
		len += (size_t)n;
		b[len] = '\0';
		if ((hend = strstr(b, "\r\n\r\n")) == NULL)
			continue;
		rx_header(b, "\r\nContent-Length:", cl, sizeof(cl));
		want = strtol(cl, NULL, 10);
		if ((long)(len - (size_t)(hend + 4 - b)) >= want)
			break;
	}
	*hend = '\0';
	rx_header(b, "\r\nX-Vigil-Signature:", r.sig, sizeof(r.sig));
	rx_header(b, "\r\nX-Vigil-Timestamp:", r.ts, sizeof(r.ts));
	rx_header(b, "\r\nX-Vigil-Event-Id:", r.event_id, sizeof(r.event_id));
	snprintf(r.body, sizeof(r.body), "%.*s", (int)want, hend + 4);
	if (write(cfd, ok, sizeof(ok) - 1) < 0)
		return;
	pthread_mutex_lock(&rx.mu);
	if (rx.n < RX_MAX)
		rx.reqs[rx.n++] = r;
	pthread_mutex_unlock(&rx.mu);
}

static void *
rx_main(void *arg)
{
	struct pollfd p;
	int cfd;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&rx.mu);
		if (rx.stop) {
			pthread_mutex_unlock(&rx.mu);
			break;
		}
		pthread_mutex_unlock(&rx.mu);
		p.fd = rx.fd;
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((cfd = accept(rx.fd, NULL, NULL)) < 0)
			continue;
		rx_serve_one(cfd);
		close(cfd);
	}
	return NULL;
}

/* A free loopback port: bound, then closed (nothing listens on it). */
static uint16_t
free_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
rx_start(uint16_t port)
{
	struct sockaddr_in a;
	int one = 1;

	assert_true((rx.fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	setsockopt(rx.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(rx.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(rx.fd, 16), 0);
	rx.port = port;
	rx.stop = 0;
	assert_int_equal(pthread_create(&rx.th, NULL, rx_main, NULL), 0);
}

static void
rx_stop(void)
{
	if (rx.fd < 0)
		return;
	pthread_mutex_lock(&rx.mu);
	rx.stop = 1;
	pthread_mutex_unlock(&rx.mu);
	pthread_join(rx.th, NULL);
	close(rx.fd);
	rx.fd = -1;
}

static size_t
rx_count(void)
{
	size_t n;

	pthread_mutex_lock(&rx.mu);
	n = rx.n;
	pthread_mutex_unlock(&rx.mu);
	return n;
}

/* ---- the verifier ---- */

struct reply {
	long status;
	struct buf body;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;

	return buf_add(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

static json_t *
call(const char *method, const char *path, const char *token,
    const char *body, long want)
{
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	struct reply r;
	json_t *j;
	CURL *c;

	memset(&r, 0, sizeof(r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r.status != want)
		fail_msg("%s %s: %ld, not %ld: %.*s", method, path, r.status,
		    want, (int)r.body.len, (char *)r.body.data);
	j = json_loadb((char *)r.body.data, r.body.len, 0, NULL);
	buf_free(&r.body);
	assert_non_null(j);
	return j;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_webhooks", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG :
	    LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-webhooks.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 1;
	g.cfg.threads = 2;
	g.cfg.webhooks_allow_private = 1;	/* the receiver is on loopback */
	g.cfg.webhooks_retry_base_ms = 200;
	g.cfg.webhooks_retry_max_ms = 400;
	g.cfg.webhooks_max_attempts = 50;
	g.cfg.webhooks_timeout_s = 3;
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
	curl_global_init(CURL_GLOBAL_DEFAULT);
	assert_int_equal(evbus_start(g.vc.store, &g.cfg), 0);
	assert_int_equal(webhooks_start(g.vc.store, &g.cfg), 0);
	assert_int_equal(http_start(&g.vc, &g.srv), 0);
	snprintf(g.base, sizeof(g.base), "http://127.0.0.1:%u",
	    (unsigned)http_port(g.srv));
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	rx_stop();
	http_stop(g.srv);
	webhooks_stop();
	evbus_stop();
	store_close(g.vc.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_webhooks_private_targets_are_refused(void **state)
{
	static const char *const priv[] = {
		"http://127.0.0.1/x", "http://10.1.2.3/", "http://172.20.0.1/",
		"http://192.168.1.1/", "http://169.254.169.254/latest",
		"http://[::1]:8080/", "http://[fe80::1]/", "http://[fd00::1]/",
		"http://[::ffff:10.0.0.1]/", "http://0.0.0.0/",
		"http://100.64.0.1/",
	};
	char why[256];
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		if (webhooks_url_check(priv[i], 0, why, sizeof(why)) !=
		    VIGIL_EDENIED)
			fail_msg("%s was not refused", priv[i]);
	assert_int_equal(webhooks_url_check("http://127.0.0.1/x", 1, why,
	    sizeof(why)), 0);
	assert_int_equal(webhooks_url_check("http://93.184.216.34/x", 0, why,
	    sizeof(why)), 0);
	assert_int_equal(webhooks_url_check("ftp://93.184.216.34/", 0, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_int_equal(webhooks_url_check("http://u:p@93.184.216.34/", 0,
	    why, sizeof(why)), VIGIL_EINVAL);
	assert_int_equal(webhooks_url_check("not a url", 0, why, sizeof(why)),
	    VIGIL_EINVAL);
	/* Through the API, with the operator's permission withdrawn. */
	g.cfg.webhooks_allow_private = 0;
	j = call("PUT", "/v1/webhooks", g.acme,
	    "{\"url\": \"http://127.0.0.1:9/hook\"}", 403);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    "urn:vigil:problem:private-target");
	json_decref(j);
	g.cfg.webhooks_allow_private = 1;
	j = call("PUT", "/v1/webhooks", g.acme, "{\"url\": 5}", 400);
	json_decref(j);
	j = call("PUT", "/v1/webhooks", g.acme,
	    "{\"url\": \"http://127.0.0.1:9/\", \"x\": 1}", 400);
	json_decref(j);
}

/* IPv6 forms that a relay or translator turns into an IPv4 connection:
 * the embedded IPv4 address is what the webhook reaches, so a private one
 * is refused, naming the form and the address; a public one passes. */
static void
test_webhooks_ipv6_embedding_a_private_ipv4_is_refused(void **state)
{
	static const struct {
		const char *url, *reason;
	} bad[] = {
		{ "http://[2002:7f00:1::1]/", "a 6to4 address embedding 127.0.0.1" },
		{ "http://[2002:a01:203::]/", "a 6to4 address embedding 10.1.2.3" },
		{ "http://[2002:a9fe:a9fe::1]/",
		  "a 6to4 address embedding 169.254.169.254" },
		/* Teredo: server 127.0.0.1 in bits 32-63. */
		{ "http://[2001:0:7f00:1:0:0:5db8:d822]/",
		  "a Teredo address embedding the server 127.0.0.1" },
		/* Teredo: client ~f5fe:fefc = 10.1.1.3, server public. */
		{ "http://[2001:0:5db8:d822:0:0:f5fe:fefc]/",
		  "a Teredo address embedding the client 10.1.1.3" },
		/* Teredo: client ~5601:5601 = 169.254.169.254. */
		{ "http://[2001:0:5db8:d822:8000:0:5601:5601]/",
		  "a Teredo address embedding the client 169.254.169.254" },
		{ "http://[64:ff9b::7f00:1]/", "a NAT64 address embedding 127.0.0.1" },
		{ "http://[64:ff9b::a00:1]/", "a NAT64 address embedding 10.0.0.1" },
		{ "http://[64:ff9b::a9fe:a9fe]/",
		  "a NAT64 address embedding 169.254.169.254" },
		{ "http://[::ffff:127.0.0.1]/",
		  "an IPv4-mapped address embedding 127.0.0.1" },
		{ "http://[::ffff:0:a00:1]/",
		  "an IPv4-translated address embedding 10.0.0.1" },
		{ "http://[::169.254.1.1]/",
		  "an IPv4-compatible address embedding 169.254.1.1" },
		{ "http://[::10.9.8.7]/",
		  "an IPv4-compatible address embedding 10.9.8.7" },
	};
	static const char *const good[] = {
		"http://[2002:5db8:d822::1]/",		/* 93.184.216.34 */
		"http://[2001:0:5db8:d822:0:0:a247:27dd]/", /* client 93.184.216.34 */
		"http://[64:ff9b::5db8:d822]/",
		"http://[::ffff:93.184.216.34]/",
	};
	char why[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (webhooks_url_check(bad[i].url, 0, why, sizeof(why)) !=
		    VIGIL_EDENIED)
			fail_msg("%s was not refused (%s)", bad[i].url, why);
		if (strstr(why, bad[i].reason) == NULL)
			fail_msg("%s: reason \"%s\" lacks \"%s\"", bad[i].url,
			    why, bad[i].reason);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (webhooks_url_check(good[i], 0, why, sizeof(why)) != 0)
			fail_msg("%s was refused: %s", good[i], why);
	/* Local-use NAT64 and discard-only are refused whole. */
	assert_int_equal(webhooks_url_check("http://[64:ff9b:1::5db8:d822]/",
	    0, why, sizeof(why)), VIGIL_EDENIED);
	assert_int_equal(webhooks_url_check("http://[100::1]/", 0, why,
	    sizeof(why)), VIGIL_EDENIED);
}

static void
wait_for(size_t n, int ms)
{
	int i;

	for (i = 0; i < ms / 50 && rx_count() < n; i++)
		usleep(50 * 1000);
}

/* The HMAC a receiver computes. */
static void
expected_sig(const char *secret, const char *ts, const char *body,
    char out[80])
{
	uint8_t md[32];
	unsigned len = 0;
	struct buf m = BUF_INIT;

	buf_add(&m, ts, strlen(ts));
	buf_add(&m, ".", 1);
	buf_add(&m, body, strlen(body));
	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    m.data, m.len, md, &len));
	buf_free(&m);
	memcpy(out, "sha256=", 7);
	hex_encode(md, 32, out + 7);
	out[71] = '\0';
}

static void
test_webhooks_delivered_signed_and_retried_after_receiver_was_down(
    void **state)
{
	char url[128], sig[80], path[128];
	const char *secret, *id;
	json_t *created, *list, *hook, *log, *ev;
	int64_t evid = 0;
	size_t i, retries = 0, delivered = 0;

	(void)state;
	rx.port = free_port();	/* nothing listens there yet */
	snprintf(url, sizeof(url), "{\"url\": \"http://127.0.0.1:%u/hook\"}",
	    (unsigned)rx.port);
	created = call("PUT", "/v1/webhooks", g.acme, url, 201);
	secret = json_string_value(json_object_get(created, "secret"));
	id = json_string_value(json_object_get(created, "id"));
	assert_non_null(secret);
	assert_int_equal(strlen(secret), 64);
	/* PUT again: the same webhook, its secret not shown again. */
	list = call("PUT", "/v1/webhooks", g.acme, url, 200);
	assert_string_equal(json_string_value(json_object_get(list, "id")),
	    id);
	assert_null(json_object_get(list, "secret"));
	json_decref(list);

	/* Another tenant's event is not posted to acme's webhook. */
	assert_int_equal(events_emit(g.vc.store, "replay.result", "c-o",
	    "other", "{\"status\":\"match\"}"), 0);
	assert_int_equal(events_emit(g.vc.store, "replay.result", "c-a",
	    "acme", "{\"status\":\"diverged\"}"), 0);
	assert_int_equal(store_events_max(g.vc.store, &evid), 0);
	usleep(900 * 1000);	/* a few attempts fail: receiver down */
	rx_start(rx.port);
	wait_for(1, 10000);
	usleep(300 * 1000);
	assert_int_equal(rx_count(), 1);
	snprintf(path, sizeof(path), "%" PRId64, evid);
	assert_string_equal(rx.reqs[0].event_id, path);
	expected_sig(secret, rx.reqs[0].ts, rx.reqs[0].body, sig);
	assert_string_equal(rx.reqs[0].sig, sig);
	assert_true(llabs(strtoll(rx.reqs[0].ts, NULL, 10) -
	    (long long)time(NULL)) < 60);
	assert_non_null(ev = json_loads(rx.reqs[0].body, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(ev, "subject")),
	    "c-a");
	assert_string_equal(json_string_value(json_object_get(ev, "tenant")),
	    "acme");
	json_decref(ev);

	/* The delivery log: retries (no HTTP answer), then delivered. */
	list = call("GET", "/v1/webhooks", g.acme, NULL, 200);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
	hook = json_array_get(json_object_get(list, "items"), 0);
	assert_null(json_object_get(hook, "secret"));
	assert_int_equal(json_integer_value(json_object_get(hook,
	    "delivered_through")), evid);
	log = json_object_get(hook, "deliveries");
	json_array_foreach(log, i, ev) {
		const char *o = json_string_value(json_object_get(ev,
		    "outcome"));

		assert_int_equal(json_integer_value(json_object_get(ev,
		    "event_id")), evid);
		if (strcmp(o, "retry") == 0) {
			assert_int_equal(json_integer_value(json_object_get(ev,
			    "http_status")), 0);
			retries++;
		} else if (strcmp(o, "delivered") == 0) {
			assert_int_equal(json_integer_value(json_object_get(ev,
			    "http_status")), 200);
			delivered++;
		}
	}
	assert_int_equal(delivered, 1);
	assert_true(retries >= 1);
	/* Newest first: the delivery heads the log. */
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(log, 0), "outcome")), "delivered");
	json_decref(list);

	/* Other tenants neither see nor delete it; operators see it. */
	list = call("GET", "/v1/webhooks", g.other, NULL, 200);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	list = call("GET", "/v1/webhooks", g.op, NULL, 200);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	snprintf(path, sizeof(path), "/v1/webhooks?id=%s", id);
	json_decref(call("DELETE", path, g.other, NULL, 404));
	json_decref(call("DELETE", path, g.acme, NULL, 200));
	list = call("GET", "/v1/webhooks", g.acme, NULL, 200);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
	json_decref(list);
	json_decref(created);
}

static void
test_webhooks_signature_is_hmac_sha256_of_timestamp_and_body(void **state)
{
	char got[WEBHOOKS_SIG_LEN + 1], want[80];

	(void)state;
	assert_int_equal(webhooks_sign("k3y", 1700000000, "{\"a\":1}", 7,
	    got), 0);
	expected_sig("k3y", "1700000000", "{\"a\":1}", want);
	assert_string_equal(got, want);
	assert_int_equal(strncmp(got, "sha256=", 7), 0);
	assert_int_equal(strlen(got), WEBHOOKS_SIG_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhooks_private_targets_are_refused),
		cmocka_unit_test(
		    test_webhooks_ipv6_embedding_a_private_ipv4_is_refused),
		cmocka_unit_test(
		    test_webhooks_signature_is_hmac_sha256_of_timestamp_and_body),
		cmocka_unit_test(
	    test_webhooks_delivered_signed_and_retried_after_receiver_was_down),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
