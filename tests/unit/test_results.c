/* Signed results: the ES256 JWT (libjose) against the verifier's JWK set,
 * its exact EAR claims, the `jose` command-line tool's check of it, key
 * rotation (a token of the previous key still verifies), and who may read
 * which result (404 otherwise). The real server on a loopback port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli/events.h"
#include "err.h"
#include "jwt.h"
#include "log.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/results.h"
#include "verifier/sigkeys.h"
#include "verifier/store_comp.h"
#include "verifier/store_vms.h"
#include "verifier/tokens.h"

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];
	char op[TOKEN_HEX_LEN + 1], acme[TOKEN_HEX_LEN + 1];
	char other[TOKEN_HEX_LEN + 1];
	char node[65];
	int64_t node_at;	/* its appraisal */
} g;

static const uint8_t ek[] = { 1, 2, 3 }, ak[] = { 4, 5, 6 };
static const char vector[] =
    "{\"configuration\":2,\"executables\":2,\"hardware\":2,"
    "\"instance-identity\":2}";

struct reply {
	long status;
	char ctype[64];
	struct buf body;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;

	return buf_add(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

static long
get(const char *path, const char *token, struct reply *r)
{
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	const char *ct = NULL;
	CURL *c;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	buf_add_u8(&r->body, 0);
	r->body.len--;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

static json_t *
get_jwks(void)
{
	struct reply r;
	json_t *j;

	assert_int_equal(get("/v1/verifier/jwks", NULL, &r), 200);
	assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
	buf_free(&r.body);
	return j;
}

/* A JWT for a path (200 expected); malloc'd. */
static char *
get_jwt(const char *path, const char *token)
{
	struct reply r;
	char *s;

	assert_int_equal(get(path, token, &r), 200);
	assert_string_equal(r.ctype, "application/jwt");
	assert_non_null(s = strdup((char *)r.body.data));
	buf_free(&r.body);
	return s;
}

/* An active node "tag..." (no appraisal yet). */
static void
register_node(char tag, char id[65])
{
	struct agent_rec a;

	memset(&a, 0, sizeof(a));
	memset(a.id, tag, 64);
	snprintf(a.hostname, sizeof(a.hostname), "node-%c", tag);
	a.ek_pub = (uint8_t *)ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = (uint8_t *)ak;
	a.ak_pub_len = sizeof(ak);
	a.ak_name[0] = 0x00;
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, tag, 32);
	a.ak_name_len = 34;
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	assert_int_equal(store_agent_activate(g.vc.store, a.id, a.secret_hash,
	    NULL, NULL), 0);
	memcpy(id, a.id, 65);
}

/* A push of node id accepted at `at`: its quote (the freshness of the
 * node) and an appraisal of status. */
static void
node_report(const char *id, const char *status, int64_t at)
{
	struct quote_state qs = { 1, 0, 0, 1, at };
	struct evidence_commit c;
	struct evidence_result res;
	struct appraisal ap;

	memset(&ap, 0, sizeof(ap));
	snprintf(ap.status, sizeof(ap.status), "%s", status);
	ap.vector_json = (char *)vector;
	ap.reasons_json = (char *)"[]";
	ap.at = at;
	memset(&c, 0, sizeof(c));
	memset(&res, 0, sizeof(res));
	c.agent_id = id;
	c.bundle = (const uint8_t *)"bundle";
	c.bundle_len = 6;
	c.qs = &qs;
	c.appraisal = &ap;
	assert_int_equal(store_commit_evidence(g.vc.store, &c, &res), 0);
}

static void
add_node(void)
{
	register_node('a', g.node);
	g.node_at = (int64_t)time(NULL);
	node_report(g.node, "affirming", g.node_at);
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_results", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG :
	    LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-results.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 1;
	g.cfg.threads = 2;
	g.cfg.results_ttl_s = 120;
	snprintf(g.cfg.store_path, sizeof(g.cfg.store_path), "%s/v.db",
	    g.dir);
	snprintf(g.cfg.results_key_dir, sizeof(g.cfg.results_key_dir),
	    "%s/keys", g.dir);
	g.vc.cfg = &g.cfg;
	assert_int_equal(store_open(g.cfg.store_path, &g.vc.store), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "t",
	    g.op), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "t",
	    g.acme), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "other", "t",
	    g.other), 0);
	add_node();
	assert_int_equal(results_start(&g.cfg), 0);
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
	results_stop();
	store_close(g.vc.store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static void
test_results_jwt_signs_and_verifies_with_the_jwks(void **state)
{
	json_t *key, *pub, *set, *claims, *got = NULL;
	char kid[JWT_KID_MAX + 1];
	char *tok = NULL;

	(void)state;
	assert_int_equal(jwt_key_generate(&key), 0);
	assert_int_equal(jwt_key_check(key), 0);
	assert_int_equal(jwt_key_public(key, &pub), 0);
	assert_null(json_object_get(pub, "d"));
	set = json_pack("{s:[o]}", "keys", pub);
	claims = json_pack("{s:s, s:i}", "sub", "x", "iat", 7);
	assert_int_equal(jwt_sign_es256(key, claims, &tok), 0);
	/* ES256 in JOSE: raw r||s, 64 bytes = 86 base64url characters. */
	assert_int_equal(strlen(strrchr(tok, '.') + 1), 86);
	assert_int_equal(jwt_verify_es256(tok, set, &got, kid), 0);
	assert_true(json_equal(got, claims));
	assert_string_equal(kid,
	    json_string_value(json_object_get(key, "kid")));
	json_decref(got);
	free(tok);
	json_decref(claims);
	json_decref(set);
	json_decref(key);
}

static void
test_results_jwt_refuses_tampered_payload_and_unknown_kid(void **state)
{
	json_t *key, *pub, *set, *empty, *claims, *got = NULL;
	char *tok = NULL, *dot, *bad;
	size_t n;

	(void)state;
	assert_int_equal(jwt_key_generate(&key), 0);
	assert_int_equal(jwt_key_public(key, &pub), 0);
	set = json_pack("{s:[o]}", "keys", pub);
	empty = json_pack("{s:[]}", "keys");
	claims = json_pack("{s:s}", "sub", "node/a");
	assert_int_equal(jwt_sign_es256(key, claims, &tok), 0);
	/* The payload of {"sub":"node/b"} in place of node/a's. */
	n = strlen(tok) + 64;
	bad = malloc(n);
	dot = strchr(tok, '.');
	snprintf(bad, n, "%.*s.eyJzdWIiOiJub2RlL2IifQ%s",
	    (int)(dot - tok), tok, strchr(dot + 1, '.'));
	assert_int_equal(jwt_verify_es256(bad, set, &got, NULL),
	    VIGIL_ECRYPTO);
	assert_null(got);
	assert_int_equal(jwt_verify_es256(tok, empty, &got, NULL),
	    VIGIL_ENOTFOUND);
	assert_int_equal(jwt_verify_es256("a.b", set, &got, NULL),
	    VIGIL_EINVAL);
	assert_int_equal(jwt_verify_es256("a.b.c.d", set, &got, NULL),
	    VIGIL_EINVAL);
	/* alg none is refused whatever the rest says:
	 * {"alg":"none","kid":"x"}. */
	assert_int_equal(jwt_verify_es256(
	    "eyJhbGciOiJub25lIiwia2lkIjoieCJ9.e30.AA", set, &got, NULL),
	    VIGIL_EINVAL);
	free(bad);
	free(tok);
	json_decref(claims);
	json_decref(empty);
	json_decref(set);
	json_decref(key);
}

static void
test_results_node_result_claims_are_exact(void **state)
{
	json_t *set, *claims = NULL, *want;
	char path[256], kid[JWT_KID_MAX + 1], sub[80];
	const char *k;
	json_t *v;
	char *tok;
	int64_t iat;
	size_t keys = 0;

	(void)state;
	snprintf(path, sizeof(path),
	    "/v1/results/node/%s?nonce=bm9uY2UtMTIzNDU2Nzg", g.node);
	tok = get_jwt(path, g.op);
	set = get_jwks();
	assert_int_equal(jwt_verify_es256(tok, set, &claims, kid), 0);
	assert_string_equal(kid, json_string_value(json_object_get(
	    json_array_get(json_object_get(set, "keys"), 0), "kid")));
	iat = json_integer_value(json_object_get(claims, "iat"));
	assert_true(iat > 0 && llabs(iat - (int64_t)time(NULL)) < 60);
	snprintf(sub, sizeof(sub), "node/%s", g.node);
	want = json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:s}, s:{s:s, s:s}, "
	    "s:s, s:I, s:{s:{s:s, s:o, s:I}}}",
	    "eat_profile", "tag:github.com,2023:veraison/ear",
	    "iat", (json_int_t)iat, "exp", (json_int_t)(iat + 120),
	    "sub", sub,
	    "ear.verifier-id", "developer", RESULTS_DEVELOPER, "build",
	    RESULTS_BUILD,
	    "ear_verifier_id", "developer", RESULTS_DEVELOPER, "build",
	    RESULTS_BUILD,
	    "eat_nonce", "bm9uY2UtMTIzNDU2Nzg",
	    "vigil.appraised-at", (json_int_t)g.node_at,
	    "submods", "tpm", "ear.status", "affirming",
	    "ear.trustworthiness-vector", json_loads(vector, 0, NULL),
	    "vigil.appraised-at", (json_int_t)g.node_at);
	assert_non_null(want);
	json_object_foreach(claims, k, v) {
		(void)v;
		keys++;
		if (json_object_get(want, k) == NULL)
			fail_msg("unexpected claim %s", k);
	}
	assert_int_equal(keys, json_object_size(want));
	if (!json_equal(claims, want))
		fail_msg("claims differ: %s", json_dumps(claims, 0));
	json_decref(want);
	json_decref(claims);
	json_decref(set);
	free(tok);
}

static void
test_results_without_nonce_have_no_eat_nonce(void **state)
{
	json_t *set, *claims = NULL;
	char path[256];
	char *tok;

	(void)state;
	snprintf(path, sizeof(path), "/v1/results/node/%s", g.node);
	tok = get_jwt(path, g.op);
	set = get_jwks();
	assert_int_equal(jwt_verify_es256(tok, set, &claims, NULL), 0);
	assert_null(json_object_get(claims, "eat_nonce"));
	json_decref(claims);
	json_decref(set);
	free(tok);
}

/* Writes s to dir/name; returns the path in out. */
static void
write_file(const char *name, const char *s, char out[128])
{
	FILE *f;

	snprintf(out, 128, "%s/%s", g.dir, name);
	assert_non_null(f = fopen(out, "w"));
	assert_int_equal(fputs(s, f) >= 0, 1);
	fclose(f);
}

static int
run_jose(const char *tokpath, const char *keypath)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "jose jws ver -i %s -k %s -O /dev/null "
	    ">/dev/null 2>&1", tokpath, keypath);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_results_jose_tool_verifies_the_token(void **state)
{
	char path[256], tp[128], kp[128], bp[128];
	json_t *set;
	char *tok, *key, *bad;
	size_t n;

	(void)state;
	if (system("command -v jose >/dev/null 2>&1") != 0)
		skip();
	snprintf(path, sizeof(path), "/v1/results/node/%s", g.node);
	tok = get_jwt(path, g.op);
	set = get_jwks();
	key = json_dumps(json_array_get(json_object_get(set, "keys"), 0), 0);
	write_file("token.jwt", tok, tp);
	write_file("key.jwk", key, kp);
	assert_int_equal(run_jose(tp, kp), 0);
	/* One signature byte changed: the tool refuses it. */
	bad = strdup(tok);
	n = strlen(bad);
	bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
	write_file("bad.jwt", bad, bp);
	assert_int_not_equal(run_jose(bp, kp), 0);
	free(bad);
	free(key);
	json_decref(set);
	free(tok);
}

static void
test_results_rotation_keeps_old_tokens_verifiable(void **state)
{
	json_t *set, *claims = NULL, *keys;
	char path[256], kid1[JWT_KID_MAX + 1], kid2[JWT_KID_MAX + 1];
	char newkid[JWT_KID_MAX + 1], keyfile[PATH_MAX + 32];
	struct stat st;
	char *t1, *t2;

	(void)state;
	snprintf(path, sizeof(path), "/v1/results/node/%s", g.node);
	t1 = get_jwt(path, g.op);
	set = get_jwks();
	assert_int_equal(jwt_verify_es256(t1, set, &claims, kid1), 0);
	json_decref(claims);
	json_decref(set);
	assert_int_equal(sigkeys_rotate(g.cfg.results_key_dir, newkid), 0);
	assert_string_not_equal(newkid, kid1);
	snprintf(keyfile, sizeof(keyfile), "%s/previous.jwk",
	    g.cfg.results_key_dir);
	assert_int_equal(stat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	set = get_jwks();
	keys = json_object_get(set, "keys");
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(keys, 0), "kid")), newkid);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(keys, 1), "kid")), kid1);
	assert_null(json_object_get(json_array_get(keys, 0), "d"));
	assert_null(json_object_get(json_array_get(keys, 1), "d"));
	/* The old token still verifies; a new one is signed by the new key. */
	assert_int_equal(jwt_verify_es256(t1, set, &claims, kid2), 0);
	assert_string_equal(kid2, kid1);
	json_decref(claims);
	t2 = get_jwt(path, g.op);
	assert_int_equal(jwt_verify_es256(t2, set, &claims, kid2), 0);
	assert_string_equal(kid2, newkid);
	json_decref(claims);
	json_decref(set);
	free(t1);
	free(t2);
}

static void
test_results_key_file_is_private(void **state)
{
	char keyfile[PATH_MAX + 32];
	struct stat st;

	(void)state;
	snprintf(keyfile, sizeof(keyfile), "%s/current.jwk",
	    g.cfg.results_key_dir);
	assert_int_equal(stat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(g.cfg.results_key_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void
test_results_node_is_404_for_tenants_and_unknown_ids(void **state)
{
	char path[256];
	struct reply r;

	(void)state;
	snprintf(path, sizeof(path), "/v1/results/node/%s", g.node);
	assert_int_equal(get(path, g.acme, &r), 404);
	assert_null(strstr((char *)r.body.data, "affirming"));
	buf_free(&r.body);
	assert_int_equal(get("/v1/results/node/bbbb", g.op, &r), 404);
	buf_free(&r.body);
	assert_int_equal(get(path, NULL, &r), 401);
	buf_free(&r.body);
	assert_int_equal(get("/v1/results/toaster/x", g.op, &r), 404);
	buf_free(&r.body);
	snprintf(path, sizeof(path), "/v1/results/node/%s?nonce=short",
	    g.node);
	assert_int_equal(get(path, g.op, &r), 400);
	buf_free(&r.body);
}

static void
test_results_computation_is_its_tenants(void **state)
{
	static const char id[] = "0123456789abcdef0123456789abcdef";
	json_t *set, *claims = NULL, *want;
	struct comp_rec c;
	struct reply r;
	char path[128];
	char *tok;

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.tenant, sizeof(c.tenant), "acme");
	snprintf(c.name, sizeof(c.name), "build");
	c.recipe_json = (char *)"{}";
	assert_int_equal(store_comp_add(g.vc.store, &c), 0);
	snprintf(path, sizeof(path), "/v1/results/computation/%s", id);
	assert_int_equal(get(path, g.other, &r), 404);
	buf_free(&r.body);
	tok = get_jwt(path, g.acme);
	set = get_jwks();
	assert_int_equal(jwt_verify_es256(tok, set, &claims, NULL), 0);
	assert_int_equal(store_comp_get(g.vc.store, id, &c), 0);
	want = json_pack("{s:{s:s, s:{}, s:I}}", "checkpoints", "ear.status",
	    "none", "ear.trustworthiness-vector", "vigil.appraised-at",
	    (json_int_t)c.created_at);
	comp_rec_clear(&c);
	assert_true(json_equal(json_object_get(claims, "submods"), want));
	assert_int_equal(json_integer_value(json_object_get(claims,
	    "vigil.appraised-at")), c.created_at);
	json_decref(want);
	json_decref(claims);
	free(tok);
	tok = get_jwt(path, g.op);
	free(tok);
	json_decref(set);
}

static void
test_results_vm_has_guest_and_host_submodules_for_its_tenant(void **state)
{
	static const char result[] = "{\"vm\":\"x\",\"status\":\"warning\","
	    "\"guest\":{\"status\":\"affirming\",\"trustworthiness-vector\":"
	    "{\"instance-identity\":2},\"reasons\":[]},\"host\":{\"status\":"
	    "\"warning\",\"trustworthiness-vector\":{\"hardware\":32},"
	    "\"reasons\":[\"r\"]}}";
	struct vm_result_commit rc;
	struct vm_attest_req ar;
	struct vm_rec vm;
	char id[VM_ID_LEN + 1], path[128];
	json_t *set, *claims = NULL, *want;
	struct reply r;
	int64_t at;
	char *tok;

	(void)state;
	assert_int_equal(store_vm_create(g.vc.store, "acme", "web", id), 0);
	snprintf(path, sizeof(path), "/v1/results/vm/%s", id);
	/* Not attested yet. */
	assert_int_equal(get(path, g.acme, &r), 404);
	buf_free(&r.body);
	memset(&ar, 0, sizeof(ar));
	assert_int_equal(store_vm_attest_add(g.vc.store, id, g.node, 60, &ar),
	    0);
	memset(&rc, 0, sizeof(rc));
	rc.req_id = ar.id;
	rc.vm_id = id;
	rc.node_id = g.node;
	rc.status = "warning";
	rc.result_json = result;
	rc.move = 1;		/* placed on g.node, fresh and affirming */
	assert_int_equal(store_vm_result(g.vc.store, &rc), 0);
	vm_attest_req_clear(&ar);
	assert_int_equal(store_vm_get(g.vc.store, id, NULL, &vm), 0);
	at = vm.last_appraisal_at;
	vm_rec_free(&vm);
	assert_int_equal(get(path, g.other, &r), 404);
	buf_free(&r.body);
	tok = get_jwt(path, g.acme);
	set = get_jwks();
	assert_int_equal(jwt_verify_es256(tok, set, &claims, NULL), 0);
	want = json_pack("{s:{s:s, s:{s:i}, s:I}, s:{s:s, s:{s:i}, s:I}}",
	    "guest", "ear.status", "affirming", "ear.trustworthiness-vector",
	    "instance-identity", 2, "vigil.appraised-at", (json_int_t)at,
	    "host", "ear.status", "warning", "ear.trustworthiness-vector",
	    "hardware", 32, "vigil.appraised-at", (json_int_t)(at > g.node_at ?
	    at : g.node_at));
	if (!json_equal(json_object_get(claims, "submods"), want))
		fail_msg("submods: %s", json_dumps(json_object_get(claims,
		    "submods"), 0));
	json_decref(want);
	json_decref(claims);
	json_decref(set);
	free(tok);
	tok = get_jwt(path, g.op);
	free(tok);
}

/* The claims of the signed result at path (token's), verified. */
static json_t *
signed_claims(const char *path, const char *token)
{
	json_t *set, *claims = NULL;
	char *tok;

	tok = get_jwt(path, token);
	set = get_jwks();
	assert_int_equal(jwt_verify_es256(tok, set, &claims, NULL), 0);
	json_decref(set);
	free(tok);
	return claims;
}

static const char *
submod_status(const json_t *claims, const char *part)
{
	return json_string_value(json_object_get(json_object_get(
	    json_object_get(claims, "submods"), part), "ear.status"));
}

static int64_t
submod_at(const json_t *claims, const char *part)
{
	return (int64_t)json_integer_value(json_object_get(json_object_get(
	    json_object_get(claims, "submods"), part), "vigil.appraised-at"));
}

/* A node whose last accepted quote is an hour old is signed `none`, with
 * the time of the appraisal it last had (not the signing time). */
static void
test_results_node_without_fresh_quote_is_signed_none(void **state)
{
	int64_t then = (int64_t)time(NULL) - 3600;
	char id[65], path[128];
	json_t *claims;

	(void)state;
	register_node('b', id);
	node_report(id, "affirming", then);
	snprintf(path, sizeof(path), "/v1/results/node/%s", id);
	claims = signed_claims(path, g.op);
	assert_string_equal(submod_status(claims, "tpm"), "none");
	assert_int_equal(submod_at(claims, "tpm"), then);
	assert_int_equal(json_integer_value(json_object_get(claims,
	    "vigil.appraised-at")), then);
	assert_true(json_integer_value(json_object_get(claims, "iat")) >=
	    then + 3600);
	json_decref(claims);
}

/* An attested VM placed on node tag (reported status at `at`): its id. */
static void
vm_on_node(char tag, const char *name, const char *host_status, int64_t at,
    char node[65], char id[VM_ID_LEN + 1])
{
	static const char result[] = "{\"vm\":\"x\",\"status\":"
	    "\"affirming\",\"guest\":{\"status\":\"affirming\","
	    "\"trustworthiness-vector\":{\"instance-identity\":2},"
	    "\"reasons\":[]},\"host\":{\"status\":\"affirming\","
	    "\"trustworthiness-vector\":{\"hardware\":2},\"reasons\":[]}}";
	struct vm_result_commit rc;
	struct vm_attest_req ar;

	register_node(tag, node);
	node_report(node, host_status, at);
	assert_int_equal(store_vm_create(g.vc.store, "acme", name, id), 0);
	memset(&ar, 0, sizeof(ar));
	assert_int_equal(store_vm_attest_add(g.vc.store, id, node, 60, &ar),
	    0);
	memset(&rc, 0, sizeof(rc));
	rc.req_id = ar.id;
	rc.vm_id = id;
	rc.node_id = node;
	rc.status = "affirming";
	rc.result_json = result;
	rc.move = 1;
	assert_int_equal(store_vm_result(g.vc.store, &rc), 0);
	vm_attest_req_clear(&ar);
}

/* The VM attested affirming; then its host turned contraindicated: the
 * result signed now says contraindicated (both parts), and when each was
 * appraised. */
static void
test_results_vm_after_host_turned_contraindicated_is_contraindicated(
    void **state)
{
	int64_t now = (int64_t)time(NULL), later;
	char node[65], id[VM_ID_LEN + 1], path[128];
	struct vm_rec vm;
	json_t *claims;

	(void)state;
	vm_on_node('c', "db", "affirming", now, node, id);
	snprintf(path, sizeof(path), "/v1/results/vm/%s", id);
	claims = signed_claims(path, g.acme);
	assert_string_equal(submod_status(claims, "guest"), "affirming");
	assert_string_equal(submod_status(claims, "host"), "affirming");
	json_decref(claims);
	later = now + 5;	/* the host's next push */
	node_report(node, "contraindicated", later);
	assert_int_equal(store_vm_get(g.vc.store, id, NULL, &vm), 0);
	claims = signed_claims(path, g.acme);
	assert_string_equal(submod_status(claims, "guest"),
	    "contraindicated");
	assert_string_equal(submod_status(claims, "host"), "contraindicated");
	assert_int_equal(submod_at(claims, "guest"), vm.last_appraisal_at);
	assert_int_equal(submod_at(claims, "host"), later);
	assert_int_equal(json_integer_value(json_object_get(claims,
	    "vigil.appraised-at")), vm.last_appraisal_at);
	vm_rec_free(&vm);
	json_decref(claims);
}

/* A VM whose host stopped quoting an hour ago: `none`, though its own
 * last attestation affirmed. */
static void
test_results_vm_on_stale_host_is_none(void **state)
{
	char node[65], id[VM_ID_LEN + 1], path[128];
	json_t *claims;

	(void)state;
	vm_on_node('d', "cache", "affirming", (int64_t)time(NULL) - 3600, node,
	    id);
	snprintf(path, sizeof(path), "/v1/results/vm/%s", id);
	claims = signed_claims(path, g.acme);
	assert_string_equal(submod_status(claims, "guest"), "none");
	assert_string_equal(submod_status(claims, "host"), "none");
	json_decref(claims);
}

static void
test_results_key_dir_defaults_beside_the_store(void **state)
{
	struct vconfig c;
	char dir[PATH_MAX];

	(void)state;
	config_defaults(&c);
	snprintf(c.store_path, sizeof(c.store_path), "/var/lib/v/v.db");
	assert_int_equal(results_key_dir(&c, dir), 0);
	assert_string_equal(dir, "/var/lib/v/keys");
	snprintf(c.store_path, sizeof(c.store_path), "/v.db");
	assert_int_equal(results_key_dir(&c, dir), 0);
	assert_string_equal(dir, "/keys");
	snprintf(c.store_path, sizeof(c.store_path), "v.db");
	assert_int_equal(results_key_dir(&c, dir), 0);
	assert_string_equal(dir, "keys");
	snprintf(c.results_key_dir, sizeof(c.results_key_dir), "/etc/k");
	assert_int_equal(results_key_dir(&c, dir), 0);
	assert_string_equal(dir, "/etc/k");
}

static void
test_results_cli_verify_exits_0_and_2_when_not_found(void **state)
{
	struct cli_ctx c = { g.base, g.op, 1 };
	char *ok[] = { "result", "node", g.node, "--verify", "--nonce",
	    "abcdefgh", NULL };
	char *missing[] = { "result", "node", "bbbb", "--verify", NULL };
	char *bad[] = { "result", "node", NULL };
	char *tenant_audit[] = { "audit", NULL };
	struct cli_ctx t = { g.base, g.acme, 0 };

	(void)state;
	assert_int_equal(cli_result(&c, 6, ok), 0);
	assert_int_equal(cli_result(&c, 4, missing), 2);
	assert_int_equal(cli_result(&c, 2, bad), 2);
	assert_int_equal(cli_audit(&t, 1, tenant_audit), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_results_jwt_signs_and_verifies_with_the_jwks),
		cmocka_unit_test(
		    test_results_jwt_refuses_tampered_payload_and_unknown_kid),
		cmocka_unit_test(test_results_node_result_claims_are_exact),
		cmocka_unit_test(test_results_without_nonce_have_no_eat_nonce),
		cmocka_unit_test(test_results_jose_tool_verifies_the_token),
		cmocka_unit_test(test_results_key_file_is_private),
		cmocka_unit_test(
		    test_results_rotation_keeps_old_tokens_verifiable),
		cmocka_unit_test(
		    test_results_node_is_404_for_tenants_and_unknown_ids),
		cmocka_unit_test(test_results_computation_is_its_tenants),
		cmocka_unit_test(
		    test_results_vm_has_guest_and_host_submodules_for_its_tenant),
		cmocka_unit_test(
		    test_results_cli_verify_exits_0_and_2_when_not_found),
		cmocka_unit_test(
		    test_results_node_without_fresh_quote_is_signed_none),
		cmocka_unit_test(
		    test_results_vm_after_host_turned_contraindicated_is_contraindicated),
		cmocka_unit_test(test_results_vm_on_stale_host_is_none),
		cmocka_unit_test(test_results_key_dir_defaults_beside_the_store),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
