/* The SMM routes on the real server (ephemeral loopback port, temporary
 * store): the attested key-wrapping key, wrapped keys stored only for a
 * fresh affirming node and only when wrapped to its pinned key by their
 * own tenant, the key-use audit for its owner only (404 for anyone else),
 * the operator's smm-log, and reference sets signed by the verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "smm-bridge/keywrap.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/refs.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/store.h"
#include "verifier/store_smm.h"
#include "verifier/tokens.h"

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];
	char op[TOKEN_HEX_LEN + 1], a[TOKEN_HEX_LEN + 1], b[TOKEN_HEX_LEN + 1];
	char node[65], stale[65];
	EVP_PKEY *wrap, *other;
} g;

struct reply {
	long status;
	struct buf body;
	json_t *j;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;

	return buf_add(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

static long
req(const char *method, const char *path, const char *token,
    const char *body, struct reply *r)
{
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	CURL *c;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->body.len > 0)
		r->j = json_loadb((const char *)r->body.data, r->body.len, 0,
		    NULL);
	return r->status;
}

static void
reply_free(struct reply *r)
{
	json_decref(r->j);
	buf_free(&r->body);
}

static uint8_t ek[] = { 0, 4, 1, 2, 3, 4 };
static uint8_t ak[] = { 0, 4, 9, 9, 9, 9 };

/* An active node with SMM pins (wrap: its key-wrapping key) and an
 * appraisal of status at time at. */
static void
add_node(char tag, const char *status, int64_t at, char id[65])
{
	struct agent_rec a;
	struct smm_pins p;
	struct appraisal ap;
	unsigned char *der = NULL;
	int n;

	memset(&a, 0, sizeof(a));
	memset(a.id, tag, 64);
	snprintf(a.hostname, sizeof(a.hostname), "node-%c", tag);
	a.ek_pub = ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, tag, 32);
	a.ak_name_len = 34;
	assert_int_equal(store_agent_register(g.vc.store, &a), 0);
	assert_int_equal(store_agent_activate(g.vc.store, a.id), 0);
	memset(&p, 0, sizeof(p));
	p.have = 1;
	assert_true((n = i2d_PUBKEY(g.wrap, &der)) > 0);
	memcpy(p.wrap_pub, der, (size_t)n);
	p.wrap_pub_len = (size_t)n;
	memcpy(p.log_pub, der, (size_t)n);
	p.log_pub_len = (size_t)n;
	OPENSSL_free(der);
	assert_int_equal(store_smm_commit(g.vc.store, a.id, &p, NULL, NULL,
	    NULL, 0), 0);
	memset(&ap, 0, sizeof(ap));
	snprintf(ap.status, sizeof(ap.status), "%s", status);
	ap.vector_json = "{}";
	ap.reasons_json = "[]";
	ap.at = at;
	assert_int_equal(store_appraisal_add(g.vc.store, a.id, &ap), 0);
	memcpy(id, a.id, 65);
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_routes_smm", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG :
	    LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-rsmm.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 1;
	g.cfg.threads = 2;
	snprintf(g.cfg.store_path, sizeof(g.cfg.store_path), "%s/v.db",
	    g.dir);
	snprintf(g.cfg.results_key_dir, sizeof(g.cfg.results_key_dir),
	    "%s/keys", g.dir);
	snprintf(g.cfg.openapi, sizeof(g.cfg.openapi), "docs/openapi.json");
	g.vc.cfg = &g.cfg;
	assert_int_equal(nonce_table_new(60000, NULL, &g.vc.nonces), 0);
	assert_int_equal(store_open(g.cfg.store_path, &g.vc.store), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "t",
	    g.op), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "t",
	    g.a), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "globex", "t",
	    g.b), 0);
	assert_non_null(g.wrap = EVP_EC_gen("P-256"));
	assert_non_null(g.other = EVP_EC_gen("P-256"));
	add_node('a', "affirming", (int64_t)time(NULL), g.node);
	add_node('b', "affirming", (int64_t)time(NULL) - 3600, g.stale);
	assert_int_equal(http_start(&g.vc, &g.srv), 0);
	snprintf(g.base, sizeof(g.base), "http://127.0.0.1:%u",
	    (unsigned)http_port(g.srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	http_stop(g.srv);
	store_close(g.vc.store);
	nonce_table_free(g.vc.nonces);
	EVP_PKEY_free(g.wrap);
	EVP_PKEY_free(g.other);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* {"node", "wrapped"} for a key id of tenant, wrapped to `to`. */
static char *
key_body(const char *node, const char *id, const char *tenant, EVP_PKEY *to)
{
	struct keywrap_key k;
	struct buf blob = BUF_INIT;
	char b64[1024], *s;
	json_t *o;

	memset(&k, 0, sizeof(k));
	snprintf(k.pol.key_id, sizeof(k.pol.key_id), "%s", id);
	snprintf(k.pol.tenant, sizeof(k.pol.tenant), "%s", tenant);
	k.pol.ops = 1u << MM_OP_HMAC;
	k.pol.n_callers = 1;
	k.pol.type = KEYWRAP_TYPE_SECRET;
	memset(k.material, 0x42, 32);
	k.material_len = 32;
	assert_int_equal(keywrap_wrap(to, &k, &blob), 0);
	EVP_EncodeBlock((unsigned char *)b64, blob.data, (int)blob.len);
	assert_non_null(o = json_pack("{s:s, s:s}", "node", node, "wrapped",
	    b64));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	buf_free(&blob);
	return s;
}

static long
post_key(const char *token, char *body)
{
	struct reply r;
	long st = req("POST", "/v1/keys", token, body, &r);

	reply_free(&r);
	free(body);
	return st;
}

static void
test_smm_key_route_gives_the_pinned_key_and_status(void **state)
{
	struct reply r;
	unsigned char *der = NULL;
	uint8_t fp[32];
	char path[160], hex[65];
	unsigned int dl;
	int n;

	snprintf(path, sizeof(path), "/v1/nodes/%s/smm-key", g.node);
	assert_int_equal(req("GET", path, g.a, NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "status")), "affirming");
	assert_true(json_is_true(json_object_get(r.j, "fresh")));
	assert_true((n = i2d_PUBKEY(g.wrap, &der)) > 0);
	EVP_Digest(der, (size_t)n, fp, &dl, EVP_sha256(), NULL);
	OPENSSL_free(der);
	hex_encode(fp, sizeof(fp), hex);
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "fingerprint")), hex);
	assert_non_null(strstr(json_string_value(json_object_get(r.j,
	    "wrap_pub_pem")), "BEGIN PUBLIC KEY"));
	reply_free(&r);
	assert_int_equal(req("GET", path, NULL, NULL, &r), 401);
	reply_free(&r);
	snprintf(path, sizeof(path), "/v1/nodes/%064d/smm-key", 0);
	assert_int_equal(req("GET", path, g.op, NULL, &r), 404);
	reply_free(&r);
}

static void
test_keys_stored_only_for_own_tenant_pinned_key_fresh_node(void **state)
{
	assert_int_equal(post_key(g.a, key_body(g.node, "ka1", "acme",
	    g.wrap)), 201);
	/* The same id again, by anyone. */
	assert_int_equal(post_key(g.a, key_body(g.node, "ka1", "acme",
	    g.wrap)), 409);
	/* A blob naming another tenant. */
	assert_int_equal(post_key(g.b, key_body(g.node, "ka2", "acme",
	    g.wrap)), 403);
	/* Wrapped to a key that is not the node's attested one. */
	assert_int_equal(post_key(g.a, key_body(g.node, "ka3", "acme",
	    g.other)), 409);
	/* A node whose last appraisal is an hour old. */
	assert_int_equal(post_key(g.a, key_body(g.stale, "ka4", "acme",
	    g.wrap)), 409);
	/* Operators hold no keys. */
	assert_int_equal(post_key(g.op, key_body(g.node, "ka5", "acme",
	    g.wrap)), 403);
	assert_int_equal(post_key(g.a, strdup("{\"node\": 1}")), 400);
}

static void
test_key_uses_for_its_owner_only(void **state)
{
	struct smmlog_entry e;
	struct buf b = BUF_INIT;
	struct smm_pins p;
	const uint8_t *ep[1];
	size_t el[1];
	uint64_t es[1] = { 1 };
	struct reply r;

	/* k1 exists (stored above or now). */
	(void)post_key(g.a, key_body(g.node, "k1", "acme", g.wrap));
	memset(&e, 0, sizeof(e));
	e.kind = SMMLOG_KIND_KEY_USE;
	e.seq = 1;
	e.u.k.key_id = "k1";
	e.u.k.key_id_len = 2;
	e.u.k.op = MM_OP_HMAC;
	e.u.k.status = MM_ST_TAMPERED;
	assert_int_equal(smmlog_entry_encode(&e, &b), 0);
	ep[0] = b.data;
	el[0] = b.len;
	assert_int_equal(store_smm_pins_get(g.vc.store, g.node, &p), 0);
	p.seq = 1;
	assert_int_equal(store_smm_commit(g.vc.store, g.node, &p, ep, el, es,
	    1), 0);
	buf_free(&b);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.a, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.j, "entries")), 1);
	assert_false(json_is_true(json_object_get(json_array_get(
	    json_object_get(r.j, "entries"), 0), "granted")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(r.j, "entries"), 0), "status")), "tampered");
	reply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.b, NULL, &r), 404);
	reply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.op, NULL, &r), 404);
	reply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/nope/uses", g.a, NULL, &r),
	    404);
	reply_free(&r);
	/* The operator's smm-log has it; a tenant may not read it. */
	{
		char path[160];

		snprintf(path, sizeof(path), "/v1/nodes/%s/smm-log?after_seq=0",
		    g.node);
		assert_int_equal(req("GET", path, g.op, NULL, &r), 200);
		assert_int_equal(json_array_size(json_object_get(r.j,
		    "entries")), 1);
		reply_free(&r);
		assert_int_equal(req("GET", path, g.a, NULL, &r), 403);
		reply_free(&r);
		snprintf(path, sizeof(path), "/v1/nodes/%s/smm-log?after_seq=x",
		    g.node);
		assert_int_equal(req("GET", path, g.op, NULL, &r), 400);
		reply_free(&r);
	}
}

static void
test_reference_sets_numbered_and_signed_by_the_verifier(void **state)
{
	static const char set[] = "{\"regions\": [{\"target\": \"hv\", "
	    "\"region\": \"/usr/sbin/hv@0x1000\", \"roots\": [\""
	    "abababababababababababababababababababababababababababababababab"
	    "\"]}]}";
	struct reply r, g2;
	struct refs *refs = NULL;
	uint8_t *sig = NULL;
	uint64_t v;
	size_t sl;
	char *json = NULL;
	EVP_PKEY *pub;
	BIO *bio;

	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.op, set, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "version")),
	    1);
	reply_free(&r);
	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.op, set, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "version")),
	    2);
	reply_free(&r);
	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.a, set, &r),
	    403);
	reply_free(&r);
	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.op,
	    "{\"regions\": [{\"target\": \"hv\"}]}", &r), 400);
	reply_free(&r);
	/* What vigil-smmd gets verifies with the published public key. */
	assert_int_equal(req("GET", "/v1/smm/reference-set", g.op, NULL, &g2),
	    200);
	assert_non_null(bio = BIO_new_mem_buf(json_string_value(
	    json_object_get(g2.j, "verifier_key_pem")), -1));
	assert_non_null(pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL));
	assert_int_equal(store_smm_refset_latest(g.vc.store, &v, &json, &sig,
	    &sl), 0);
	assert_int_equal(v, 2);
	assert_int_equal(refs_verify_parse((const uint8_t *)json,
	    strlen(json), sig, sl, pub, &refs), 0);
	assert_int_equal(refs->version, 2);
	assert_int_equal(refs->n, 1);
	refs_free(refs);
	free(json);
	free(sig);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	reply_free(&g2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_smm_key_route_gives_the_pinned_key_and_status),
		cmocka_unit_test(
		    test_keys_stored_only_for_own_tenant_pinned_key_fresh_node),
		cmocka_unit_test(test_key_uses_for_its_owner_only),
		cmocka_unit_test(
		    test_reference_sets_numbered_and_signed_by_the_verifier),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
