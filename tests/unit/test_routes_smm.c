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
#include "tests/unit/helpers/tsrv.h"

static struct tsrv g;
static struct {
	char node[65], stale[65];
	EVP_PKEY *wrap, *other;
} w;

static long
req(const char *method, const char *path, const char *token,
    const char *body, struct treply *r)
{
	return treq(&g, method, path, token, body,
	    body != NULL ? strlen(body) : 0, r);
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
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	assert_int_equal(store_agent_activate(g.vc.store, a.id, a.secret_hash, NULL, NULL), 0);
	memset(&p, 0, sizeof(p));
	p.have = 1;
	assert_true((n = i2d_PUBKEY(w.wrap, &der)) > 0);
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
	tsrv_prepare(&g, "test-routes-smm");
	snprintf(g.cfg.results_key_dir, sizeof(g.cfg.results_key_dir),
	    "%s/keys", g.dir);
	tsrv_listen(&g);
	assert_non_null(w.wrap = EVP_EC_gen("P-256"));
	assert_non_null(w.other = EVP_EC_gen("P-256"));
	add_node('a', "affirming", (int64_t)time(NULL), w.node);
	add_node('b', "affirming", (int64_t)time(NULL) - 3600, w.stale);
	return 0;
}

static int
group_teardown(void **state)
{
	EVP_PKEY_free(w.wrap);
	EVP_PKEY_free(w.other);
	return tsrv_stop(&g);
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
	struct treply r;
	long st = req("POST", "/v1/keys", token, body, &r);

	treply_free(&r);
	free(body);
	return st;
}

static void
test_smm_key_route_gives_the_pinned_key_and_status(void **state)
{
	struct treply r;
	unsigned char *der = NULL;
	uint8_t fp[32];
	char path[160], hex[65];
	unsigned int dl;
	int n;

	snprintf(path, sizeof(path), "/v1/nodes/%s/smm-key", w.node);
	assert_int_equal(req("GET", path, g.a, NULL, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "status")), "affirming");
	assert_true(json_is_true(json_object_get(r.j, "fresh")));
	assert_true((n = i2d_PUBKEY(w.wrap, &der)) > 0);
	EVP_Digest(der, (size_t)n, fp, &dl, EVP_sha256(), NULL);
	OPENSSL_free(der);
	hex_encode(fp, sizeof(fp), hex);
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "fingerprint")), hex);
	assert_non_null(strstr(json_string_value(json_object_get(r.j,
	    "wrap_pub_pem")), "BEGIN PUBLIC KEY"));
	treply_free(&r);
	assert_int_equal(req("GET", path, NULL, NULL, &r), 401);
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/nodes/%064d/smm-key", 0);
	assert_int_equal(req("GET", path, g.op, NULL, &r), 404);
	treply_free(&r);
}

static void
test_keys_stored_only_for_own_tenant_pinned_key_fresh_node(void **state)
{
	assert_int_equal(post_key(g.a, key_body(w.node, "ka1", "acme",
	    w.wrap)), 201);
	/* The same id again, by anyone. */
	assert_int_equal(post_key(g.a, key_body(w.node, "ka1", "acme",
	    w.wrap)), 409);
	/* A blob naming another tenant. */
	assert_int_equal(post_key(g.b, key_body(w.node, "ka2", "acme",
	    w.wrap)), 403);
	/* Wrapped to a key that is not the node's attested one. */
	assert_int_equal(post_key(g.a, key_body(w.node, "ka3", "acme",
	    w.other)), 409);
	/* A node whose last appraisal is an hour old. */
	assert_int_equal(post_key(g.a, key_body(w.stale, "ka4", "acme",
	    w.wrap)), 409);
	/* Operators hold no keys. */
	assert_int_equal(post_key(g.op, key_body(w.node, "ka5", "acme",
	    w.wrap)), 403);
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
	struct treply r;

	/* k1 exists (stored above or now). */
	(void)post_key(g.a, key_body(w.node, "k1", "acme", w.wrap));
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
	assert_int_equal(store_smm_pins_get(g.vc.store, w.node, &p), 0);
	p.seq = 1;
	assert_int_equal(store_smm_commit(g.vc.store, w.node, &p, ep, el, es,
	    1), 0);
	buf_free(&b);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.a, NULL, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.j, "entries")), 1);
	assert_false(json_is_true(json_object_get(json_array_get(
	    json_object_get(r.j, "entries"), 0), "granted")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(r.j, "entries"), 0), "status")), "tampered");
	treply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.b, NULL, &r), 404);
	treply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.op, NULL, &r), 404);
	treply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/nope/uses", g.a, NULL, &r),
	    404);
	treply_free(&r);
	/* The operator's smm-log has it; a tenant may not read it. */
	{
		char path[160];

		snprintf(path, sizeof(path), "/v1/nodes/%s/smm-log?after_seq=0",
		    w.node);
		assert_int_equal(req("GET", path, g.op, NULL, &r), 200);
		assert_int_equal(json_array_size(json_object_get(r.j,
		    "entries")), 1);
		treply_free(&r);
		assert_int_equal(req("GET", path, g.a, NULL, &r), 403);
		treply_free(&r);
		snprintf(path, sizeof(path), "/v1/nodes/%s/smm-log?after_seq=x",
		    w.node);
		assert_int_equal(req("GET", path, g.op, NULL, &r), 400);
		treply_free(&r);
	}
}

static void
test_reference_sets_numbered_and_signed_by_the_verifier(void **state)
{
	static const char set[] = "{\"regions\": [{\"target\": \"hv\", "
	    "\"region\": \"/usr/sbin/hv@0x1000\", \"roots\": [\""
	    "abababababababababababababababababababababababababababababababab"
	    "\"]}]}";
	struct treply r, g2;
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
	treply_free(&r);
	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.op, set, &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "version")),
	    2);
	treply_free(&r);
	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.a, set, &r),
	    403);
	treply_free(&r);
	assert_int_equal(req("PUT", "/v1/smm/reference-set", g.op,
	    "{\"regions\": [{\"target\": \"hv\"}]}", &r), 400);
	treply_free(&r);
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
	treply_free(&g2);
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
