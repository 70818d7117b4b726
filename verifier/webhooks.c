/* Webhooks: routes and the delivery thread (see webhooks.h). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "api_who.h"
#include "buf.h"
#include "err.h"
#include "evbus.h"
#include "log.h"
#include "store_events.h"
#include "webhooks.h"

#define WEBHOOKS_MAX_PER_OWNER 32
#define WEBHOOKS_BATCH 20		/* events per webhook per round */
#define WEBHOOKS_SHOWN 20		/* deliveries shown per webhook */
#define WEBHOOKS_IDLE_MS 500

static struct {
	pthread_mutex_t mu;
	pthread_t th;
	int running, stop;
	struct store *s;
	int allow_private;
	unsigned base_ms, max_ms, max_attempts, timeout_s;
} wh = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int64_t
webhooks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
webhooks_v4_private(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a & 0xffc00000u) == 0x64400000u ||		/* 100.64/10 */
	    (a & 0xffff0000u) == 0xa9fe0000u ||		/* 169.254/16 */
	    (a & 0xfff00000u) == 0xac100000u ||		/* 172.16/12 */
	    (a & 0xffffff00u) == 0xc0000000u ||		/* 192.0.0/24 */
	    (a & 0xffff0000u) == 0xc0a80000u ||		/* 192.168/16 */
	    (a & 0xfffe0000u) == 0xc6120000u ||		/* 198.18/15 */
	    (a >> 28) >= 0xe;				/* multicast, 240/4 */
}

static uint32_t
webhooks_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

/* An IPv6 form that carries an IPv4 address a router or relay turns into
 * an IPv4 connection: the IPv4 address is what the webhook reaches, so the
 * IPv4 rule applies to it. Returns the number of embedded addresses (0, 1,
 * or 2 for Teredo: server, then client) and the form's name, with its
 * article. */
static int
webhooks_v6_embedded(const uint8_t *b, uint32_t v4[2], const char **form)
{
	static const uint8_t zero[12];

	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff) {
		*form = "an IPv4-mapped";			/* ::ffff:0:0/96 */
		v4[0] = webhooks_be32(b + 12);
		return 1;
	}
	if (memcmp(b, zero, 8) == 0 && b[8] == 0xff && b[9] == 0xff &&
	    b[10] == 0 && b[11] == 0) {
		*form = "an IPv4-translated";		/* ::ffff:0:0:0/96 */
		v4[0] = webhooks_be32(b + 12);
		return 1;
	}
	/* ::/96 minus :: and ::1, which the IPv6 rules below refuse. */
	if (memcmp(b, zero, 12) == 0 && webhooks_be32(b + 12) > 1) {
		*form = "an IPv4-compatible";
		v4[0] = webhooks_be32(b + 12);
		return 1;
	}
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
	    memcmp(b + 4, zero, 8) == 0) {
		*form = "a NAT64";			/* 64:ff9b::/96 */
		v4[0] = webhooks_be32(b + 12);
		return 1;
	}
	if (b[0] == 0x20 && b[1] == 0x02) {
		*form = "a 6to4";				/* 2002::/16 */
		v4[0] = webhooks_be32(b + 2);
		return 1;
	}
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) {
		*form = "a Teredo";			/* 2001::/32 */
		v4[0] = webhooks_be32(b + 4);
		v4[1] = ~webhooks_be32(b + 12);
		return 2;
	}
	return 0;
}

int
webhooks_addr_why(const struct sockaddr *sa, char *why, size_t cap)
{
	const struct sockaddr_in6 *s6;
	const char *form = NULL;
	const uint8_t *b;
	uint32_t v4[2];
	int i, n;

	if (cap > 0)
		why[0] = '\0';
	if (sa->sa_family == AF_INET)
		return webhooks_v4_private(ntohl(
		    ((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family != AF_INET6) {
		snprintf(why, cap, "not an IP address");
		return 1;
	}
	s6 = (const struct sockaddr_in6 *)sa;
	b = s6->sin6_addr.s6_addr;
	n = webhooks_v6_embedded(b, v4, &form);
	for (i = 0; i < n; i++) {
		struct in_addr ia = { .s_addr = htonl(v4[i]) };
		char shown[INET_ADDRSTRLEN];

		if (!webhooks_v4_private(v4[i]))
			continue;
		inet_ntop(AF_INET, &ia, shown, sizeof(shown));
		snprintf(why, cap, "%s address embedding %s%s", form,
		    n == 2 ? (i == 0 ? "the server " : "the client ") : "",
		    shown);
		return 1;
	}
	if (n > 0)
		return 0;
	return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
	    IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
	    IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) ||
	    IN6_IS_ADDR_SITELOCAL(&s6->sin6_addr) ||
	    IN6_IS_ADDR_MULTICAST(&s6->sin6_addr) ||
	    (b[0] & 0xfe) == 0xfc ||			/* fc00::/7 */
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
	    /* 64:ff9b:1::/48, local-use NAT64 (RFC 8215): its embedding
	     * depends on the site's prefix length, so refused whole. */
	    (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
	    b[4] == 0x00 && b[5] == 0x01) ||
	    /* 100::/64, discard-only (RFC 6666). */
	    (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, "\0\0\0\0\0\0",
	    6) == 0);
}

int
webhooks_addr_private(const struct sockaddr *sa)
{
	char why[1];

	return webhooks_addr_why(sa, why, sizeof(why));
}

int
webhooks_url_check(const char *url, int allow_private, char *why,
    size_t cap)
{
	struct addrinfo hints, *res = NULL, *ai;
	char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL;
	char shown[INET6_ADDRSTRLEN];
	CURLU *u;
	int e = VIGIL_EINVAL, g;

	why[0] = '\0';
	if (strlen(url) > WEBHOOK_URL_MAX) {
		snprintf(why, cap, "url is over %d bytes", WEBHOOK_URL_MAX);
		return VIGIL_EINVAL;
	}
	if ((u = curl_url()) == NULL)
		return VIGIL_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, cap, "url is not an absolute URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(why, cap, "url scheme must be http or https");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(why, cap, "url must not hold credentials");
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	/* [::1] arrives bracketed. */
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']') {
			snprintf(why, cap, "url host is malformed");
			goto out;
		}
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((g = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, cap, "url host %s does not resolve: %s", host,
		    gai_strerror(g));
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		char form[96];

		if (allow_private ||
		    !webhooks_addr_why(ai->ai_addr, form, sizeof(form)))
			continue;
		if (ai->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)
			    ai->ai_addr)->sin_addr, shown, sizeof(shown));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
			    ai->ai_addr)->sin6_addr, shown, sizeof(shown));
		snprintf(why, cap, "url host %s resolves to %s%s%s%s, a "
		    "private, loopback or link-local address (an operator may "
		    "allow these with [webhooks] allow_private)", host, shown,
		    form[0] != '\0' ? " (" : "", form,
		    form[0] != '\0' ? ")" : "");
		e = VIGIL_EDENIED;
		goto out;
	}
	e = 0;
 out:
	if (res != NULL)
		freeaddrinfo(res);
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(port);
	curl_url_cleanup(u);
	return e;
}

int
webhooks_sign(const char *secret, int64_t ts, const char *body, size_t len,
    char out[WEBHOOKS_SIG_LEN + 1])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct buf m = BUF_INIT;
	char head[32];
	int e;

	snprintf(head, sizeof(head), "%" PRId64 ".", ts);
	if ((e = buf_add(&m, head, strlen(head))) != 0 ||
	    (e = buf_add(&m, body, len)) != 0)
		goto out;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), m.data, m.len, md,
	    &mdlen) == NULL || mdlen != 32) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	memcpy(out, "sha256=", 7);
	hex_encode(md, 32, out + 7);
	out[WEBHOOKS_SIG_LEN] = '\0';
 out:
	buf_free(&m);
	return e;
}

/* ---- delivery ---- */

static curl_socket_t
webhooks_opensocket(void *cls, curlsocktype purpose,
    struct curl_sockaddr *a)
{
	char why[96];

	(void)cls;
	(void)purpose;
	if (!wh.allow_private && webhooks_addr_why(&a->addr, why, sizeof(why))) {
		log_warn("webhooks: refused to connect to a private address%s%s "
		    "(DNS changed since the webhook was made?)",
		    why[0] != '\0' ? ", " : "", why);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
webhooks_sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One POST; *status gets the HTTP status (0: none). 0 when 2xx. */
static int
webhooks_post(const struct webhook_rec *w, const struct event_row *ev,
    long *status, char *err, size_t cap)
{
	struct curl_slist *h = NULL;
	char line[160], sig[WEBHOOKS_SIG_LEN + 1];
	char *body = NULL;
	int64_t ts = (int64_t)time(NULL);
	CURLcode cc;
	CURL *c = NULL;
	int e;

	*status = 0;
	err[0] = '\0';
	if ((e = evbus_event_json(ev, &body)) != 0 ||
	    (e = webhooks_sign(w->secret, ts, body, strlen(body), sig)) != 0) {
		snprintf(err, cap, "formatting the event: %s",
		    vigil_strerror(e));
		goto out;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	snprintf(line, sizeof(line), "X-Vigil-Event: %s", ev->kind);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Vigil-Event-Id: %" PRId64, ev->id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Vigil-Webhook: %s", w->id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Vigil-Timestamp: %" PRId64, ts);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Vigil-Signature: %s", sig);
	h = curl_slist_append(h, line);
	if (h == NULL || (c = curl_easy_init()) == NULL) {
		e = VIGIL_ENOMEM;
		snprintf(err, cap, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)wh.timeout_s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil-verifier");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, webhooks_sink);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, webhooks_opensocket);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(err, cap, "%s", curl_easy_strerror(cc));
		e = VIGIL_ENET;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status > 299) {
		snprintf(err, cap, "answered HTTP %ld", *status);
		e = VIGIL_ENET;
		goto out;
	}
	e = 0;
 out:
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(body);
	return e;
}

static int64_t
webhooks_backoff_ms(unsigned attempt)
{
	int64_t d = wh.base_ms;
	unsigned i;

	for (i = 1; i < attempt && d < (int64_t)wh.max_ms; i++)
		d *= 2;
	return d < (int64_t)wh.max_ms ? d : (int64_t)wh.max_ms;
}

/* Posts what is due for one webhook, in order; stops at a failure. */
static void
webhooks_run_one(struct webhook_rec *w, int64_t now_ms)
{
	struct event_row *rows = NULL;
	const char *outcome;
	char err[256];
	long status;
	size_t n = 0, i;
	unsigned attempt;
	int64_t next;
	int e;

	if (w->next_at_ms > now_ms)
		return;
	if ((e = store_events_after(wh.s, w->cursor, 0,
	    w->tenant[0] ? w->tenant : NULL, WEBHOOKS_BATCH, &rows, &n)) !=
	    0) {
		log_warn("webhooks: reading events for %s failed: %s", w->id,
		    vigil_strerror(e));
		return;
	}
	for (i = 0; i < n; i++) {
		attempt = w->attempts + 1;
		e = webhooks_post(w, &rows[i], &status, err, sizeof(err));
		next = 0;
		if (e == 0) {
			outcome = "delivered";
			w->cursor = rows[i].id;
			w->attempts = 0;
		} else if (attempt >= wh.max_attempts) {
			outcome = "gave-up";
			w->cursor = rows[i].id;
			w->attempts = 0;
		} else {
			outcome = "retry";
			w->attempts = attempt;
			next = webhooks_now_ms() + webhooks_backoff_ms(attempt);
		}
		if (e == 0)
			log_info("webhooks: %s event=%" PRId64 " delivered "
			    "(HTTP %ld, attempt %u)", w->id, rows[i].id, status,
			    attempt);
		else
			log_warn("webhooks: %s event=%" PRId64 " attempt %u "
			    "failed: %s: %s", w->id, rows[i].id, attempt, err,
			    outcome);
		w->next_at_ms = next;
		if ((e = store_webhook_attempt(wh.s, w->id, rows[i].id,
		    attempt, status, outcome, err, w->cursor, w->attempts,
		    next)) != 0) {
			log_err("webhooks: recording an attempt of %s failed: "
			    "%s", w->id, vigil_strerror(e));
			break;
		}
		if (next != 0)
			break;
	}
	event_rows_free(rows, n);
}

static void *
webhooks_main(void *arg)
{
	struct webhook_rec *hooks = NULL;
	int64_t seen = 0;
	size_t n = 0, i;
	int e;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&wh.mu);
		if (wh.stop) {
			pthread_mutex_unlock(&wh.mu);
			break;
		}
		pthread_mutex_unlock(&wh.mu);
		if ((e = store_webhook_list(wh.s, NULL, &hooks, &n)) != 0)
			log_warn("webhooks: listing failed: %s",
			    vigil_strerror(e));
		for (i = 0; i < n; i++)
			webhooks_run_one(&hooks[i], webhooks_now_ms());
		free(hooks);
		hooks = NULL;
		n = 0;
		seen = evbus_wait(seen, WEBHOOKS_IDLE_MS);
	}
	return NULL;
}

int
webhooks_start(struct store *s, const struct vconfig *cfg)
{
	pthread_mutex_lock(&wh.mu);
	if (wh.running) {
		pthread_mutex_unlock(&wh.mu);
		return VIGIL_EEXIST;
	}
	wh.s = s;
	wh.stop = 0;
	wh.allow_private = cfg->webhooks_allow_private;
	wh.base_ms = cfg->webhooks_retry_base_ms;
	wh.max_ms = cfg->webhooks_retry_max_ms;
	wh.max_attempts = cfg->webhooks_max_attempts;
	wh.timeout_s = cfg->webhooks_timeout_s;
	if (pthread_create(&wh.th, NULL, webhooks_main, NULL) != 0) {
		pthread_mutex_unlock(&wh.mu);
		return VIGIL_EIO;
	}
	wh.running = 1;
	pthread_mutex_unlock(&wh.mu);
	if (cfg->webhooks_allow_private)
		log_warn("config: [webhooks] allow_private = yes: webhooks may "
		    "target private and loopback addresses");
	return 0;
}

void
webhooks_stop(void)
{
	pthread_mutex_lock(&wh.mu);
	if (!wh.running) {
		pthread_mutex_unlock(&wh.mu);
		return;
	}
	wh.stop = 1;
	pthread_mutex_unlock(&wh.mu);
	pthread_join(wh.th, NULL);
	pthread_mutex_lock(&wh.mu);
	wh.running = 0;
	pthread_mutex_unlock(&wh.mu);
}

/* ---- routes ---- */

static json_t *
webhooks_json(struct http_req *req, const struct webhook_rec *w)
{
	struct delivery_row *d = NULL;
	json_t *o, *log;
	char at[32], next[32];
	size_t n = 0, i;

	http_time(w->created_at, at);
	o = json_pack("{s:s, s:s, s:o, s:s, s:I, s:i}", "id", w->id, "url",
	    w->url, "tenant", w->tenant[0] ? json_string(w->tenant) :
	    json_null(), "created_at", at, "delivered_through",
	    (json_int_t)w->cursor, "failed_attempts", (int)w->attempts);
	if (o == NULL)
		return NULL;
	if (w->next_at_ms > 0) {
		http_time(w->next_at_ms / 1000, next);
		json_object_set_new(o, "next_attempt_at", json_string(next));
	}
	if ((log = json_array()) == NULL) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "deliveries", log);
	if (store_webhook_deliveries(req->vc->store, w->id, WEBHOOKS_SHOWN,
	    &d, &n) != 0)
		return o;	/* logged by the store; the list stays empty */
	for (i = 0; i < n; i++) {
		http_time(d[i].at, at);
		json_array_append_new(log, json_pack("{s:I, s:s, s:i, s:i, "
		    "s:s, s:s}", "event_id", (json_int_t)d[i].event_id, "at",
		    at, "attempt", (int)d[i].attempt, "http_status",
		    (int)d[i].http_status, "outcome", d[i].outcome, "error",
		    d[i].error));
	}
	free(d);
	return o;
}

#define WEBHOOKS_PAGE_DEFAULT 100
#define WEBHOOKS_PAGE_MAX 500

static const char *
webhooks_row_id(const void *rows, size_t i)
{
	return ((const struct webhook_rec *)rows)[i].id;
}

int
routes_webhooks_get(struct http_req *req, struct http_resp *resp)
{
	struct webhook_rec *rows = NULL;
	struct api_who w;
	json_t *items, *next;
	const char *cursor;
	size_t n = 0, i, limit, first, count;
	int e, more;

	if (api_who(req, resp, &w) != 0 || http_page_args(req, resp,
	    WEBHOOKS_PAGE_DEFAULT, WEBHOOKS_PAGE_MAX, &limit, &cursor) != 0)
		return 0;
	if ((e = store_webhook_list(req->vc->store, api_who_scope(&w), &rows,
	    &n)) != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "listing webhooks failed: %s", vigil_strerror(e));
		return 0;
	}
	if ((items = json_array()) == NULL) {
		free(rows);
		return VIGIL_ENOMEM;
	}
	http_page_take(n, webhooks_row_id, rows, cursor, limit, &first,
	    &count, &more);
	for (i = first; i < first + count; i++)
		json_array_append_new(items, webhooks_json(req, &rows[i]));
	next = more ? json_string(rows[first + count - 1].id) : json_null();
	free(rows);
	return http_json(resp, 200, json_pack("{s:o, s:o}", "items", items,
	    "next_cursor", next));
}

static void
webhooks_bad(struct http_resp *resp, const char *msg)
{
	log_warn("webhooks: refused: %s", msg);
	http_problem(resp, 400, "bad-request", "Bad request", "%s", msg);
}

/* The body {"url"} of a PUT, validated; *body (to free) holds *url. 0, or
 * the refusal in resp. */
static int
webhooks_put_url(struct http_req *req, struct http_resp *resp, json_t **body,
    const char **url)
{
	json_error_t je;
	const char *k;
	char why[256];
	void *it;
	int e;

	if ((*body = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, &je)) == NULL || !json_is_object(*body)) {
		webhooks_bad(resp,
		    "body must be a JSON object {\"url\": \"https://...\"}");
		return VIGIL_EINVAL;
	}
	for (it = json_object_iter(*body); it != NULL;
	    it = json_object_iter_next(*body, it)) {
		k = json_object_iter_key(it);
		if (strcmp(k, "url") != 0) {
			log_warn("webhooks: refused: unknown field %.64s", k);
			http_problem(resp, 400, "bad-request", "Bad request",
			    "unknown field \"%.64s\"", k);
			return VIGIL_EINVAL;
		}
	}
	if ((*url = json_string_value(json_object_get(*body, "url"))) ==
	    NULL) {
		webhooks_bad(resp, "field \"url\" must be a string");
		return VIGIL_EINVAL;
	}
	e = webhooks_url_check(*url, req->vc->cfg->webhooks_allow_private,
	    why, sizeof(why));
	if (e != 0) {
		log_warn("webhooks: refused url: %s", why);
		http_problem(resp, e == VIGIL_EDENIED ? 403 : 400,
		    e == VIGIL_EDENIED ? "private-target" : "bad-request",
		    e == VIGIL_EDENIED ? "Target refused" : "Bad request",
		    "field \"url\": %s", why);
	}
	return e;
}

int
routes_webhooks_put(struct http_req *req, struct http_resp *resp)
{
	struct webhook_rec rec, *rows = NULL;
	uint8_t rnd[32];
	struct api_who w;
	json_t *b = NULL, *o;
	const char *url = NULL;
	size_t n = 0, i;
	int e = 0;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (webhooks_put_url(req, resp, &b, &url) != 0)
		goto out;
	if ((e = store_webhook_list(req->vc->store, w.tenant, &rows, &n)) !=
	    0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "listing webhooks failed: %s", vigil_strerror(e));
		e = 0;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].url, url) != 0)
			continue;
		/* PUT is idempotent: the same URL is the same webhook (its
		 * secret is not shown again). */
		e = http_json(resp, 200, webhooks_json(req, &rows[i]));
		goto out;
	}
	if (n >= WEBHOOKS_MAX_PER_OWNER) {
		http_problem(resp, 409, "too-many", "Too many webhooks",
		    "at most %d webhooks per owner", WEBHOOKS_MAX_PER_OWNER);
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	hex_encode(rnd, sizeof(rnd), rec.secret);
	if (RAND_bytes(rnd, 16) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	hex_encode(rnd, 16, rec.id);
	snprintf(rec.tenant, sizeof(rec.tenant), "%s", w.tenant);
	snprintf(rec.url, sizeof(rec.url), "%s", url);
	if ((e = store_webhook_add(req->vc->store, &rec)) != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "storing the webhook failed: %s", vigil_strerror(e));
		e = 0;
		goto out;
	}
	http_audit(req, "webhook.create", rec.id, "url=%s", rec.url);
	log_info("webhooks: created %s owner=%s url=%s", rec.id,
	    w.tenant[0] ? w.tenant : "operators", rec.url);
	if ((o = webhooks_json(req, &rec)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	json_object_set_new(o, "secret", json_string(rec.secret));
	e = http_json(resp, 201, o);
 out:
	free(rows);
	json_decref(b);
	return e;
}

int
routes_webhooks_delete(struct http_req *req, struct http_resp *resp)
{
	const char *id = http_query(req, "id");
	struct api_who w;
	size_t i;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (id == NULL || strlen(id) != WEBHOOK_ID_LEN) {
		webhooks_bad(resp, "query id must be a webhook id");
		return 0;
	}
	for (i = 0; i < WEBHOOK_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f'))) {
			webhooks_bad(resp, "query id must be a webhook id");
			return 0;
		}
	e = store_webhook_delete(req->vc->store, id, api_who_scope(&w));
	if (e == VIGIL_ENOTFOUND) {
		http_problem(resp, 404, "not-found", "Not found",
		    "no webhook %s", id);
		return 0;
	}
	if (e != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "deleting the webhook failed: %s", vigil_strerror(e));
		return 0;
	}
	http_audit(req, "webhook.delete", id, "%s", "");
	log_info("webhooks: deleted %s", id);
	return http_json(resp, 200, json_pack("{s:s, s:b}", "id", id,
	    "deleted", 1));
}
