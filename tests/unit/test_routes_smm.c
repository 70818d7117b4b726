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
#include "verifier/routes_smm.h"
#include "verifier/store.h"
#include "verifier/store_events.h"
#include "verifier/store_smm.h"
#include "verifier/tokens.h"
#include "tests/unit/helpers/tsrv.h"

static struct tsrv g;
static struct {
	char node[65], stale[65], node_c[65];
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
	add_node('c', "affirming", (int64_t)time(NULL), w.node_c);
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

/* key_body, freed by the caller's request (a static copy). */
static const char *
key_body_keep(const char *node, const char *id, const char *tenant,
    EVP_PKEY *to)
{
	static char keep[2048];
	char *s = key_body(node, id, tenant, to);

	snprintf(keep, sizeof(keep), "%s", s);
	free(s);
	return keep;
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
	e.u.k.tenant = "acme";
	e.u.k.tenant_len = 4;
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

/* Commits KEY_USE entries of tenant's key_id (granted, or refused as
 * tampered), seqs first.., to node's log as an accepted push does
 * (routes_smm_commit: stored, and an smm.refusal per refusal). */
static void
log_key_uses_as(const char *node, const char *tenant, const char *key_id,
    uint64_t first, size_t n, int granted)
{
	struct smmlog_entry e;
	struct buf b[4] = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
	const uint8_t *ep[4];
	size_t el[4], i;
	uint64_t es[4];
	struct smm_push push;

	assert_true(n <= 4);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.kind = SMMLOG_KIND_KEY_USE;
		e.seq = first + i;
		e.u.k.tenant = tenant;
		e.u.k.tenant_len = strlen(tenant);
		e.u.k.key_id = key_id;
		e.u.k.key_id_len = strlen(key_id);
		e.u.k.op = MM_OP_HMAC;
		e.u.k.granted = (uint8_t)granted;
		e.u.k.status = granted ? MM_ST_OK : MM_ST_TAMPERED;
		assert_int_equal(smmlog_entry_encode(&e, &b[i]), 0);
		ep[i] = b[i].data;
		el[i] = b[i].len;
		es[i] = first + i;
	}
	memset(&push, 0, sizeof(push));
	assert_int_equal(store_smm_pins_get(g.vc.store, node,
	    &push.out.next), 0);
	push.out.next.seq = first + n - 1;
	push.out.next.have = 1;
	push.out.changed = 1;
	push.out.n_new = n;
	push.appraised = 1;
	push.entries = ep;
	push.lens = el;
	push.seqs = es;
	push.n = n;
	assert_int_equal(routes_smm_commit(&g.vc, node, &push), 0);
	for (i = 0; i < n; i++)
		buf_free(&b[i]);
}

static void
log_key_uses(const char *node, const char *key_id, uint64_t first,
    size_t n)
{
	/* Both keys of id "shared" below are on their own nodes. */
	log_key_uses_as(node, strcmp(node, w.node) == 0 ? "acme" : "globex",
	    key_id, first, n, 1);
}

/* The smm.refusal events tenant sees for key_id (its data.key_id). */
static size_t
refusals_for(const char *tenant, const char *key_id, const char *node)
{
	struct event_row *rows = NULL;
	size_t n = 0, i, k = 0;
	int64_t max = 0;
	json_t *d;

	assert_int_equal(store_events_max(g.vc.store, &max), 0);
	assert_int_equal(store_events_after(g.vc.store, 0, max, tenant, 256,
	    &rows, &n), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].kind, "smm.refusal") != 0)
			continue;
		d = json_loads(rows[i].data, 0, NULL);
		assert_non_null(d);
		if (strcmp(json_string_value(json_object_get(d, "key_id")),
		    key_id) == 0 && strcmp(json_string_value(json_object_get(
		    d, "node")), node) == 0) {
			assert_string_equal(rows[i].tenant, tenant);
			assert_string_equal(json_string_value(json_object_get(d,
			    "tenant")), tenant);
			k++;
		}
		json_decref(d);
	}
	event_rows_free(rows, n);
	return k;
}

/* A second tenant may name its key as the first did (on another node):
 * 201, no "taken", and each audit holds only its own node's entries; a
 * node logging uses under another node's key id is not in that key's
 * audit. */
static void
test_key_ids_are_per_tenant_and_audits_per_node(void **state)
{
	struct treply r;
	json_t *ents;
	size_t i;

	assert_int_equal(post_key(g.a, key_body(w.node, "shared", "acme",
	    w.wrap)), 201);
	assert_int_equal(req("POST", "/v1/keys", g.b, key_body_keep(
	    w.node_c, "shared", "globex", w.wrap), &r), 201);
	assert_string_equal(json_string_value(json_object_get(r.j, "id")),
	    "shared");
	assert_string_equal(json_string_value(json_object_get(r.j, "node")),
	    w.node_c);
	treply_free(&r);
	/* acme's key: one use on its node; node c logs three under the same
	 * id (globex's key, or a hostile node pushing acme's off the
	 * pages). */
	log_key_uses(w.node, "shared", 2, 1);
	log_key_uses(w.node_c, "shared", 1, 3);
	assert_int_equal(req("GET", "/v1/keys/shared/uses?limit=2", g.a, NULL,
	    &r), 200);
	ents = json_object_get(r.j, "entries");
	assert_int_equal(json_array_size(ents), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(ents, 0), "node")), w.node);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    ents, 0), "seq")), 2);
	treply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/shared/uses", g.b, NULL, &r),
	    200);
	ents = json_object_get(r.j, "entries");
	assert_int_equal(json_array_size(ents), 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(ents, i), "node")), w.node_c);
	treply_free(&r);
	/* Again by its owner: 409, naming it as theirs. */
	assert_int_equal(req("POST", "/v1/keys", g.b, key_body_keep(
	    w.node_c, "shared", "globex", w.wrap), &r), 409);
	assert_string_equal(treply_detail(&r),
	    "you already have a key with id shared");
	treply_free(&r);
}

/* Two tenants' key "k1" on the same node (its SMM service names keys by
 * (tenant, id)): both 201, neither told of the other; each audit lists
 * its own tenant's entries only, and each refusal is an smm.refusal for
 * the tenant the entry names. */
static void
test_two_tenants_same_key_id_same_node(void **state)
{
	struct treply r;
	json_t *ents;
	size_t i, before_a, before_b;

	/* acme's k1 on w.node exists (test_key_uses_for_its_owner_only,
	 * with its refusal at seq 1). */
	(void)post_key(g.a, key_body(w.node, "k1", "acme", w.wrap));
	assert_int_equal(req("POST", "/v1/keys", g.b, key_body_keep(
	    w.node, "k1", "globex", w.wrap), &r), 201);
	assert_string_equal(json_string_value(json_object_get(r.j, "id")),
	    "k1");
	assert_string_equal(json_string_value(json_object_get(r.j, "tenant")),
	    "globex");
	assert_string_equal(json_string_value(json_object_get(r.j, "node")),
	    w.node);
	treply_free(&r);
	before_a = refusals_for("acme", "k1", w.node);
	before_b = refusals_for("globex", "k1", w.node);
	/* On w.node: globex uses its k1 twice and is refused once; acme is
	 * refused once more. */
	log_key_uses_as(w.node, "globex", "k1", 10, 2, 1);
	log_key_uses_as(w.node, "globex", "k1", 12, 1, 0);
	log_key_uses_as(w.node, "acme", "k1", 13, 1, 0);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.b, NULL, &r), 200);
	ents = json_object_get(r.j, "entries");
	assert_int_equal(json_array_size(ents), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(json_integer_value(json_object_get(
		    json_array_get(ents, i), "seq")), 10 + (json_int_t)i);
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(ents, i), "tenant")), "globex");
	}
	treply_free(&r);
	assert_int_equal(req("GET", "/v1/keys/k1/uses", g.a, NULL, &r), 200);
	ents = json_object_get(r.j, "entries");
	assert_int_equal(json_array_size(ents), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    ents, 0), "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    ents, 1), "seq")), 13);
	for (i = 0; i < 2; i++)
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(ents, i), "tenant")), "acme");
	treply_free(&r);
	assert_int_equal(refusals_for("globex", "k1", w.node), before_b + 1);
	assert_int_equal(refusals_for("acme", "k1", w.node), before_a + 1);
	/* Again by globex: its own key, 409 exists. */
	assert_int_equal(req("POST", "/v1/keys", g.b, key_body_keep(
	    w.node, "k1", "globex", w.wrap), &r), 409);
	assert_string_equal(json_string_value(json_object_get(r.j, "type")),
	    "urn:vigil:problem:exists");
	treply_free(&r);
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
		    test_key_ids_are_per_tenant_and_audits_per_node),
		cmocka_unit_test(test_two_tenants_same_key_id_same_node),
		cmocka_unit_test(
		    test_reference_sets_numbered_and_signed_by_the_verifier),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
