/* Quotas and size limits ([limits], docs/verifier.md "Quotas and size
 * limits") on the real server: a blob over blob_max_bytes, a tenant over
 * blob_quota_bytes, more than blob_uploads_per_tenant bodies under way, an
 * evidence push over evidence_max_bytes or evidence_max_items, an event-log
 * chunk over evlog_chunk_max_bytes: each answers its exact status and a
 * detail naming the key and its value, and the server keeps serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "tests/unit/helpers/tsrv.h"
#include "verifier/quota.h"
#include "verifier/store.h"
#include "verifier/store_comp.h"
#include "vigil.pb-c.h"

#define NODE "abababababababababababababababababababababababababababababababab"

static struct tsrv g;

static int
group_setup(void **state)
{
	(void)state;
	tsrv_prepare(&g, "test-quotas");
	g.cfg.blob_max_bytes = 1000;
	g.cfg.blob_quota_bytes = 2500;
	g.cfg.blob_uploads_per_tenant = 1;
	g.cfg.evidence_max_bytes = 70000;
	g.cfg.evidence_max_items = 2;
	g.cfg.evlog_chunk_max_bytes = 1024;
	tsrv_listen(&g);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return tsrv_stop(&g);
}

static void
assert_serving(void)
{
	struct treply r;

	assert_int_equal(treq(&g, "GET", "/healthz", NULL, NULL, 0, &r), 200);
	treply_free(&r);
}

/* r is the problem status/slug whose detail holds part. */
static void
assert_problem(struct treply *r, long status, const char *slug,
    const char *part)
{
	char want[96];

	assert_int_equal(r->status, status);
	snprintf(want, sizeof(want), "urn:vigil:problem:%s", slug);
	assert_string_equal(json_string_value(json_object_get(r->j, "type")),
	    want);
	if (strstr(treply_detail(r), part) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", treply_detail(r), part);
	treply_free(r);
}

/* n bytes of fill; path gets /v1/blobs/<their sha256>. */
static uint8_t *
blob(size_t n, uint8_t fill, char path[96])
{
	uint8_t *p = malloc(n > 0 ? n : 1), md[32];
	unsigned mdlen = 0;
	char hex[65];

	assert_non_null(p);
	memset(p, fill, n);
	assert_int_equal(EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL), 1);
	hex_encode(md, 32, hex);
	snprintf(path, 96, "/v1/blobs/%s", hex);
	return p;
}

static long
put_blob(const char *token, size_t n, uint8_t fill, struct treply *r)
{
	char path[96];
	uint8_t *p = blob(n, fill, path);
	long st = treq(&g, "PUT", path, token, p, n, r);

	free(p);
	return st;
}

static void
test_quota_blob_over_blob_max_bytes_is_413_naming_it(void **state)
{
	struct treply r;

	(void)state;
	put_blob(g.a, 1001, 0x01, &r);
	assert_problem(&r, 413, "too-large", "[limits] blob_max_bytes = 1000");
	assert_serving();
	assert_int_equal(put_blob(g.b, 1000, 0x02, &r), 201);
	treply_free(&r);
}

static void
test_quota_blob_bytes_per_tenant_are_413_naming_the_quota(void **state)
{
	uint8_t *p, sha[32];
	struct treply r;
	uint64_t held = 0;
	char path[96];

	(void)state;
	assert_int_equal(put_blob(g.a, 1000, 0x11, &r), 201);
	treply_free(&r);
	assert_int_equal(put_blob(g.a, 1000, 0x12, &r), 201);
	treply_free(&r);
	/* 2000 held, 1000 more passes 2500. */
	put_blob(g.a, 1000, 0x13, &r);
	assert_problem(&r, 413, "quota-exceeded",
	    "[limits] blob_quota_bytes = 2500");
	put_blob(g.a, 1000, 0x13, &r);
	assert_problem(&r, 413, "quota-exceeded", "holds 2000 bytes");
	/* Bytes it holds already cost nothing more. */
	assert_int_equal(put_blob(g.a, 1000, 0x11, &r), 201);
	treply_free(&r);
	assert_int_equal(put_blob(g.a, 400, 0x14, &r), 201);
	treply_free(&r);
	/* Another tenant has its own quota, and is charged for bytes the
	 * first one holds too (nothing tells it they were there). */
	assert_int_equal(put_blob(g.b, 1000, 0x13, &r), 201);
	treply_free(&r);
	assert_int_equal(put_blob(g.b, 400, 0x14, &r), 201);
	treply_free(&r);
	assert_int_equal(store_tenant_blob_bytes(g.vc.store, "globex", &held),
	    0);
	assert_int_equal(held, 2400);	/* 1000 from the size test */
	put_blob(g.b, 1000, 0x11, &r);
	assert_problem(&r, 413, "quota-exceeded", "holds 2400 bytes");
	/* The handler's own check, in the store's transaction. */
	p = blob(200, 0x15, path);
	assert_int_equal(hex_decode(path + 10, sha, sizeof(sha)), 0);
	assert_int_equal(store_tenant_blob_put(g.vc.store, "acme", sha, p, 200,
	    2500, &held), VIGIL_ETOOBIG);
	assert_int_equal(held, 2400);
	assert_int_equal(store_tenant_blob_put(g.vc.store, "acme", sha, p, 100,
	    2500, &held), 0);
	free(p);
	assert_serving();
}

/* Opens a PUT of a blob declaring len bytes and sends only some: the
 * upload stays under way. Returns the socket. */
static int
held_upload(const char *token, size_t len)
{
	struct sockaddr_in sa;
	char head[512];
	int fd, n;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(strrchr(g.base, ':') + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(head, sizeof(head), "PUT /v1/blobs/%064d HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: Bearer %s\r\nContent-Length: %zu\r\n"
	    "\r\nabc", 0, token, len);
	assert_int_equal(write(fd, head, (size_t)n), n);
	return fd;
}

static void
wait_held(const char *tenant, unsigned want)
{
	struct timespec ms = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500 && quota_held(QUOTA_UPLOADS, tenant) != want; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(quota_held(QUOTA_UPLOADS, tenant), want);
}

static void
test_quota_concurrent_uploads_are_429_naming_the_limit(void **state)
{
	struct treply r;
	int fd;

	(void)state;
	g.cfg.blob_quota_bytes = 0;	/* spent by the test before */
	/* An upload without a valid token is refused before its body. */
	put_blob("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    10, 0x20, &r);
	assert_problem(&r, 401, "unauthorized", "bearer token");
	fd = held_upload(g.a, 500);
	wait_held("acme", 1);
	put_blob(g.a, 10, 0x21, &r);
	assert_problem(&r, 429, "too-many-uploads",
	    "[limits] blob_uploads_per_tenant = 1");
	/* Another tenant's slots are its own. */
	assert_int_equal(put_blob(g.b, 10, 0x22, &r), 201);
	treply_free(&r);
	assert_serving();
	close(fd);
	wait_held("acme", 0);
	assert_int_equal(put_blob(g.a, 10, 0x21, &r), 201);
	treply_free(&r);
}

/* A packed Evidence with a one-byte quote and signature and n event-log
 * items of chunk bytes each. */
static uint8_t *
evidence(size_t n, size_t chunk, size_t *len)
{
	Vigil__Evidence ev = VIGIL__EVIDENCE__INIT;
	Vigil__EvidenceItem it[4], *itp[4];
	Vigil__EventLogChunk ch = VIGIL__EVENT_LOG_CHUNK__INIT;
	static uint8_t data[4096], body[4096 + 64];
	uint8_t one = 1, *out;
	size_t i;

	assert_true(n <= 4 && chunk <= sizeof(data));
	memset(data, 0x5a, chunk);
	ch.boot_count = 1;
	ch.data.data = data;
	ch.data.len = chunk;
	ev.quote.data = &one;
	ev.quote.len = 1;
	ev.signature.data = &one;
	ev.signature.len = 1;
	for (i = 0; i < n; i++) {
		vigil__evidence_item__init(&it[i]);
		it[i].epoch = 1;
		it[i].seq = i + 1;
		it[i].kind = VIGIL__ITEM_KIND__ITEM_EVENT_LOG;
		it[i].body.data = body;
		it[i].body.len = vigil__event_log_chunk__pack(&ch, body);
		itp[i] = &it[i];
	}
	ev.n_items = n;
	ev.items = itp;
	*len = vigil__evidence__get_packed_size(&ev);
	assert_non_null(out = malloc(*len));
	vigil__evidence__pack(&ev, out);
	return out;
}

static void
make_agent(void)
{
	uint8_t ek[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, ak[8] = { 9, 9, 9 };
	struct agent_rec a;

	memset(&a, 0, sizeof(a));
	snprintf(a.id, sizeof(a.id), "%s", NODE);
	snprintf(a.hostname, sizeof(a.hostname), "node-q");
	a.state = AGENT_PENDING;
	a.ek_pub = ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	memset(a.ak_name, 0xa1, 34);
	a.ak_name_len = 34;
	a.created_at = 1;
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	assert_int_equal(store_agent_activate(g.vc.store, NODE, a.secret_hash,
	    NULL, NULL), 0);
}

static void
test_quota_evidence_bundle_items_and_chunks_are_413_naming_them(
    void **state)
{
	const char *path = "/v1/agents/" NODE "/evidence";
	struct treply r;
	uint8_t *big, *p;
	size_t len;

	(void)state;
	make_agent();
	assert_non_null(big = calloc(1, 70001));
	treq(&g, "POST", path, NULL, big, 70001, &r);
	free(big);
	assert_problem(&r, 413, "too-large",
	    "[limits] evidence_max_bytes = 70000");
	p = evidence(3, 16, &len);
	treq(&g, "POST", path, NULL, p, len, &r);
	free(p);
	assert_problem(&r, 413, "too-large",
	    "[limits] evidence_max_items = 2");
	p = evidence(1, 1025, &len);
	treq(&g, "POST", path, NULL, p, len, &r);
	free(p);
	assert_problem(&r, 413, "too-large",
	    "[limits] evlog_chunk_max_bytes = 1024");
	/* At the limits the push gets past these checks (and fails later,
	 * on its made-up quote). */
	p = evidence(2, 1024, &len);
	assert_int_not_equal(treq(&g, "POST", path, NULL, p, len, &r), 413);
	free(p);
	treply_free(&r);
	assert_serving();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_quota_blob_over_blob_max_bytes_is_413_naming_it),
		cmocka_unit_test(
		    test_quota_blob_bytes_per_tenant_are_413_naming_the_quota),
		cmocka_unit_test(
		    test_quota_concurrent_uploads_are_429_naming_the_limit),
		cmocka_unit_test(
		    test_quota_evidence_bundle_items_and_chunks_are_413_naming_them),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
