/* The access matrix: every route of http_routes[] asked by six callers -
 * no token, a revoked token, an operator, the owning tenant, another
 * tenant, and an agent's client certificate for another agent id - on the
 * real server over HTTPS + mTLS with a temporary store. Each tenant owns
 * one object of each kind (computation, replay, VM, VM attestation
 * request, SMM key, webhook), so ownership is exercised: a tenant sees
 * only its own objects, anything else answers 404 (not 403), and no body
 * ever carries the other tenant's ids or names.
 *
 * Routes listed in access_known[] have every status pinned exactly. A
 * route of the router that is not listed there still gets the generic
 * checks derived from its http_route entry (no token, revoked token and a
 * bare agent certificate: 401 on authenticated routes; tenant on operator
 * routes: 403; agent routes: another agent's certificate 403; never a 5xx,
 * errors always problem+json, no foreign data) and is named on stderr as
 * "generic only". A listed route that vanished from the router, or whose
 * auth changed, fails with its name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "swek.h"
#include "verifier/agentca.h"
#include "verifier/config.h"
#include "verifier/evbus.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/results.h"
#include "verifier/store_smm.h"
#include "verifier/store_vms.h"
#include "verifier/tokens.h"

/* Agent ids: 64 lowercase hex digits. A is a registered, active node;
 * B is only a certificate. */
#define ID_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define ID_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define HEXA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* The callers, in the order they are asked (the owner last, so routes
 * that change an object see the refusals first). */
enum who { W_NONE, W_REVOKED, W_AGENT, W_OTHER, W_OP, W_OWNER, W_N };
static const char *const who_name[W_N] = { "no token", "revoked token",
	"agent certificate for another id", "other tenant", "operator",
	"owning tenant" };

/* The two tenants; acme owns the objects the paths name. */
#define T_ACME 0
#define T_GLOBEX 1
static const char *const tenant_name[2] = { "acme", "globex" };

struct objs {
	char comp[33];
	char replay[40];
	char vm[40];
	char vmatt[24];
	char key[40];
	char webhook[40];
	char blob[65];		/* sha256 of the tenant's blob */
};

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];
	char server_ca[128];
	char op[TOKEN_HEX_LEN + 1], op_revoked[TOKEN_HEX_LEN + 1];
	char tenant[2][TOKEN_HEX_LEN + 1];
	char tenant_revoked[TOKEN_HEX_LEN + 1];
	char cert_a[128], key_a[128];	/* agent A, the path's agent */
	char cert_b[128], key_b[128];	/* agent B: "another id" */
	struct objs o[2];
	/* Strings that identify one tenant's objects (ids, names, URLs),
	 * and [2] the operators' own (an operator-only event): none of them
	 * may appear in a body another caller gets. */
	char secret[3][16][80];
	size_t n_secret[3];
	/* Webhook signing secrets: shown once at creation, then in no body
	 * for anyone, operators and owners included. */
	char hook_secret[2][128];
} g;

struct reply {
	long status;
	char ctype[64];
	struct buf body;
	CURLcode cc;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;

	if (buf_add(&r->body, p, sz * n) != 0)
		return 0;
	return sz * n;
}

/* One HTTPS request with an optional bearer token and an optional client
 * certificate; returns the status. */
static long
req_as(const char *method, const char *path, const char *token,
    const char *cert, const char *key, const void *body, size_t len,
    struct reply *r)
{
	struct curl_slist *h = NULL;
	char url[1024], auth[128];
	const char *ct = NULL;
	CURL *c;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_CAINFO, g.server_ca);
	if (cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r->cc = curl_easy_perform(c);
	if (r->cc != CURLE_OK)
		fail_msg("%s %s: transfer failed: %s", method, path,
		    curl_easy_strerror(r->cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	buf_add_u8(&r->body, 0);
	r->body.len--;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

static long
req_tok(const char *method, const char *path, const char *token,
    const char *body, struct reply *r)
{
	return req_as(method, path, token, NULL, NULL, body,
	    body != NULL ? strlen(body) : 0, r);
}

/* The string member of a JSON body, copied to out (fails if absent). */
static void
json_member(const struct reply *r, const char *name, char *out, size_t cap)
{
	json_t *j, *v;

	if ((j = json_loads((const char *)r->body.data, 0, NULL)) == NULL)
		fail_msg("not JSON: %s", (const char *)r->body.data);
	v = json_object_get(j, name);
	if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
	else
		fail_msg("no \"%s\" in %s", name, (const char *)r->body.data);
	json_decref(j);
}

/* tmpl with its first "%s" replaced by v (tables hold the templates). */
static void
subst(const char *tmpl, const char *v, char *out, size_t cap)
{
	const char *p = strstr(tmpl, "%s");

	if (p == NULL)
		snprintf(out, cap, "%s", tmpl);
	else
		snprintf(out, cap, "%.*s%s%s", (int)(p - tmpl), tmpl, v, p + 2);
}

static void
add_secret(int t, const char *s)
{
	assert_true(g.n_secret[t] < 16);
	snprintf(g.secret[t][g.n_secret[t]++], sizeof(g.secret[0][0]), "%s",
	    s);
}

/* ---- the server ---- */

static void
write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (x != NULL)
		assert_int_equal(PEM_write_X509(f, x), 1);
	if (k != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0,
		    NULL, NULL), 1);
	fclose(f);
}

/* An agent certificate for id from the agent CA, written to cert/key. */
static void
issue_agent(const char *id, const char *cert, const char *key)
{
	const unsigned char *p;
	uint8_t *csr = NULL, *der;
	size_t der_len;
	X509_REQ *rq;
	EVP_PKEY *k;
	X509 *x;
	int n;

	assert_non_null(k = EVP_EC_gen("P-256"));
	assert_non_null(rq = X509_REQ_new());
	assert_int_equal(X509_REQ_set_pubkey(rq, k), 1);
	assert_true(X509_REQ_sign(rq, k, EVP_sha256()) > 0);
	assert_true((n = i2d_X509_REQ(rq, &csr)) > 0);
	X509_REQ_free(rq);
	assert_int_equal(agentca_issue(g.vc.ca, csr, (size_t)n, id, &der,
	    &der_len), 0);
	p = der;
	assert_non_null(x = d2i_X509(NULL, &p, (long)der_len));
	write_pem(cert, x, NULL);
	write_pem(key, NULL, k);
	X509_free(x);
	EVP_PKEY_free(k);
	OPENSSL_free(csr);
	free(der);
}

/* Node A, registered and active, straight into the store. */
static void
make_node(void)
{
	char vec[] = "{\"configuration\":2,\"executables\":2,"
	    "\"hardware\":2,\"instance-identity\":2}", reasons[] = "[]";
	uint8_t ek[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, ak[8] = { 9, 9, 9 };
	struct appraisal ap;
	struct agent_rec a;

	memset(&a, 0, sizeof(a));
	snprintf(a.id, sizeof(a.id), "%s", ID_A);
	snprintf(a.hostname, sizeof(a.hostname), "node-a");
	a.state = AGENT_PENDING;
	a.ek_pub = ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	memset(a.ak_name, 0xa1, 34);
	a.ak_name_len = 34;
	a.created_at = 1;
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	assert_int_equal(store_agent_activate(g.vc.store, ID_A, a.secret_hash, NULL, NULL), 0);
	/* An appraisal, so that the node's signed result exists. */
	memset(&ap, 0, sizeof(ap));
	snprintf(ap.status, sizeof(ap.status), "affirming");
	ap.vector_json = vec;
	ap.reasons_json = reasons;
	ap.at = (int64_t)time(NULL);
	assert_int_equal(store_appraisal_add(g.vc.store, ID_A, &ap), 0);
}

#define RECIPE_FMT "{\"name\":\"comp-%s-secret\",\"argv\":[\"prog\"]," \
	"\"executable\":{\"path\":\"prog\",\"sha256\":\"" HEXA "\"}}"

#define VM_RESULT "{\"status\":\"affirming\",\"guest\":{\"status\":" \
	"\"affirming\",\"trustworthiness-vector\":{\"instance-identity\":2}," \
	"\"reasons\":[]},\"host\":{\"status\":\"affirming\"," \
	"\"trustworthiness-vector\":{\"hardware\":2},\"reasons\":[]}}"

/* One object of each kind for tenant t, through the API where the API
 * can make it, through the store where it needs a live node. */
static void
make_objects(int t)
{
	struct objs *o = &g.o[t];
	const char *tok = g.tenant[t];
	struct vm_result_commit rc;
	struct vm_attest_req q;
	struct reply r;
	char body[512], path[128];
	uint8_t sha[32];
	unsigned i;

	snprintf(body, sizeof(body), RECIPE_FMT, tenant_name[t]);
	if (req_tok("POST", "/v1/computations", tok, body, &r) != 201)
		fail_msg("create computation: %ld %s", r.status,
		    (char *)r.body.data);
	json_member(&r, "id", o->comp, sizeof(o->comp));
	buf_free(&r.body);
	add_secret(t, o->comp);
	snprintf(body, sizeof(body), "comp-%s-secret", tenant_name[t]);
	add_secret(t, body);

	snprintf(body, sizeof(body), "/v1/computations/%s/replays", o->comp);
	if (req_tok("POST", body, tok, "", &r) != 202)
		fail_msg("create replay: %ld %s", r.status,
		    (char *)r.body.data);
	json_member(&r, "id", o->replay, sizeof(o->replay));
	buf_free(&r.body);
	add_secret(t, o->replay);

	snprintf(body, sizeof(body), "{\"name\": \"vm-%s-secret\"}",
	    tenant_name[t]);
	if (req_tok("POST", "/v1/vms", tok, body, &r) != 201)
		fail_msg("create vm: %ld %s", r.status, (char *)r.body.data);
	json_member(&r, "id", o->vm, sizeof(o->vm));
	buf_free(&r.body);
	add_secret(t, o->vm);
	snprintf(body, sizeof(body), "vm-%s-secret", tenant_name[t]);
	add_secret(t, body);

	/* An attestation request needs a VM placed on a node; the store
	 * makes one for the VM as if the tenant had asked. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_vm_attest_add(g.vc.store, o->vm, ID_A, 600,
	    &q), 0);
	snprintf(o->vmatt, sizeof(o->vmatt), "%lld", (long long)q.id);
	vm_attest_req_clear(&q);
	/* A second request, answered: the VM's appraised result. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_vm_attest_add(g.vc.store, o->vm, ID_A, 600,
	    &q), 0);
	memset(&rc, 0, sizeof(rc));
	rc.req_id = q.id;
	rc.vm_id = o->vm;
	rc.node_id = ID_A;
	rc.status = "affirming";
	rc.result_json = VM_RESULT;
	assert_int_equal(store_vm_result(g.vc.store, &rc), 0);
	vm_attest_req_clear(&q);

	/* An SMM key needs a fresh, affirming node with a pinned wrap key:
	 * stored directly. */
	snprintf(o->key, sizeof(o->key), "key-%s-secret", tenant_name[t]);
	assert_int_equal(store_smm_key_add(g.vc.store, o->key,
	    tenant_name[t], ID_A, (const uint8_t *)"blob", 4), 0);
	add_secret(t, o->key);

	snprintf(body, sizeof(body), "{\"url\": \"http://127.0.0.1:9/"
	    "hook-%s-secret\"}", tenant_name[t]);
	if (req_tok("PUT", "/v1/webhooks", tok, body, &r) != 201)
		fail_msg("create webhook: %ld %s", r.status,
		    (char *)r.body.data);
	json_member(&r, "id", o->webhook, sizeof(o->webhook));
	json_member(&r, "secret", g.hook_secret[t], sizeof(g.hook_secret[t]));
	assert_true(strlen(g.hook_secret[t]) >= 16);
	buf_free(&r.body);
	add_secret(t, o->webhook);
	snprintf(body, sizeof(body), "hook-%s-secret", tenant_name[t]);
	add_secret(t, body);

	/* An event for the tenant (and operators). */
	snprintf(body, sizeof(body), "{\"status\": \"match\", \"note\": "
	    "\"event-%s-secret\"}", tenant_name[t]);
	snprintf(path, sizeof(path), "computation/%s", o->comp);
	assert_int_equal(events_emit(g.vc.store, "replay.result", path,
	    tenant_name[t], body), 0);
	snprintf(body, sizeof(body), "event-%s-secret", tenant_name[t]);
	add_secret(t, body);

	snprintf(body, sizeof(body), "blob-%s-secret", tenant_name[t]);
	SHA256((const uint8_t *)body, strlen(body), sha);
	for (i = 0; i < 32; i++)
		snprintf(o->blob + 2 * i, 3, "%02x", sha[i]);
}

static int
group_setup(void **state)
{
	char cmd[256], id[TOKEN_ID_LEN + 1];
	EVP_PKEY *k = NULL;
	X509 *x = NULL;

	log_init("test_access", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG :
	    LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-access.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	snprintf(cmd, sizeof(cmd), "deploy/pki/make-server-cert.sh --out %s "
	    ">/dev/null 2>&1", g.dir);
	assert_int_equal(system(cmd), 0);
	snprintf(g.server_ca, sizeof(g.server_ca), "%s/server-ca.pem", g.dir);

	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 0;
	g.cfg.threads = 4;
	g.cfg.expensive_per_minute = 0;		/* test_tls pins 429 */
	g.cfg.metrics_token_required = 1;
	g.cfg.webhooks_allow_private = 1;
	snprintf(g.cfg.store_path, sizeof(g.cfg.store_path), "%s/v.db",
	    g.dir);
	snprintf(g.cfg.openapi, sizeof(g.cfg.openapi), "docs/openapi.json");
	snprintf(g.cfg.tls_cert, PATH_MAX, "%s/verifier.pem", g.dir);
	snprintf(g.cfg.tls_key, PATH_MAX, "%s/verifier.key", g.dir);
	snprintf(g.cfg.results_key_dir, sizeof(g.cfg.results_key_dir),
	    "%s/keys", g.dir);
	assert_int_equal(swek_test_ca("agentca", &k, &x), 0);
	snprintf(g.cfg.ca_cert, PATH_MAX, "%s/agentca.pem", g.dir);
	snprintf(g.cfg.ca_key, PATH_MAX, "%s/agentca.key", g.dir);
	write_pem(g.cfg.ca_cert, x, NULL);
	write_pem(g.cfg.ca_key, NULL, k);
	EVP_PKEY_free(k);
	X509_free(x);

	g.vc.cfg = &g.cfg;
	assert_int_equal(agentca_load(g.cfg.ca_cert, g.cfg.ca_key, &g.vc.ca),
	    0);
	snprintf(g.cert_a, sizeof(g.cert_a), "%s/a.crt", g.dir);
	snprintf(g.key_a, sizeof(g.key_a), "%s/a.key", g.dir);
	snprintf(g.cert_b, sizeof(g.cert_b), "%s/b.crt", g.dir);
	snprintf(g.key_b, sizeof(g.key_b), "%s/b.key", g.dir);
	issue_agent(ID_A, g.cert_a, g.key_a);
	issue_agent(ID_B, g.cert_b, g.key_b);
	assert_int_equal(http_load_tpm_cas(&g.cfg, &g.vc.tpm_cas), 0);
	assert_int_equal(nonce_table_new(60000, NULL, &g.vc.nonces), 0);
	assert_int_equal(store_open(g.cfg.store_path, &g.vc.store), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "ops",
	    g.op), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "gone",
	    g.op_revoked), 0);
	assert_int_equal(tokens_revoke(g.vc.store, "gone", id), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "acme",
	    g.tenant[T_ACME]), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme",
	    "acme-gone", g.tenant_revoked), 0);
	assert_int_equal(tokens_revoke(g.vc.store, "acme-gone", id), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "globex",
	    "globex", g.tenant[T_GLOBEX]), 0);
	assert_int_equal(results_start(&g.cfg), 0);
	assert_int_equal(evbus_start(g.vc.store, &g.cfg), 0);
	assert_int_equal(http_start(&g.vc, &g.srv), 0);
	snprintf(g.base, sizeof(g.base), "https://127.0.0.1:%u",
	    (unsigned)http_port(g.srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	make_node();
	make_objects(T_ACME);
	make_objects(T_GLOBEX);
	/* An event for operators only. */
	assert_int_equal(events_emit(g.vc.store, "smm.refusal", "node/" ID_A,
	    NULL, "{\"note\": \"event-operators-secret\"}"), 0);
	add_secret(2, "event-operators-secret");
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	http_stop(g.srv);
	evbus_stop();
	results_stop();
	store_close(g.vc.store);
	nonce_table_free(g.vc.nonces);
	agentca_free(g.vc.ca);
	X509_STORE_free(g.vc.tpm_cas);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- the known routes ---- */

/* What the {id} of a path names (always acme's object, or node A). */
enum idk { ID_NONE, ID_NODE, ID_COMP, ID_REPLAY, ID_VM, ID_VMATT, ID_KEY,
	ID_BLOB };

/* Expected statuses per caller, in enum who order:
 * none, revoked, agent-cert, other tenant, operator, owning tenant.
 * On agent routes the "owning tenant" column is agent A's own
 * certificate, and "operator" an operator token without a certificate. */
struct known {
	const char *method, *pattern;
	enum http_auth auth;
	enum idk idk;
	const char *query;	/* appended to the path, or NULL */
	const char *body;	/* "%s": the tenant name; NULL: none */
	int destructive;	/* removes acme's webhook named by query + id:
				 * a fresh one for the operator and owner */
	long want[W_N];
};

#define B_RECIPE RECIPE_FMT
/* Statuses, for reading the table. */
#define S200 200
#define S201 201
#define S202 202
#define S400 400
#define S401 401
#define S403 403
#define S404 404
#define S409 409

static const struct known access_known[] = {
	/* Enrolment: no credentials at all. An empty body is a malformed
	 * registration; an empty activation is a wrong secret (403). */
	{ "POST", "/v1/agents", HTTP_AUTH_AGENT, ID_NONE, NULL, "", 0,
	    { S400, S400, S400, S400, S400, S400 } },
	{ "POST", "/v1/agents/{id}/activate", HTTP_AUTH_AGENT, ID_NODE, NULL,
	    "", 0, { S403, S403, S403, S403, S403, S403 } },
	/* Agent routes: agent A's certificate only. */
	{ "POST", "/v1/agents/{id}/nonce", HTTP_AUTH_AGENT, ID_NODE, NULL,
	    "", 0, { S401, S401, S403, S401, S401, S200 } },
	{ "POST", "/v1/agents/{id}/evidence", HTTP_AUTH_AGENT, ID_NODE, NULL,
	    "", 0, { S401, S401, S403, S401, S401, S400 } },
	{ "POST", "/v1/agents/{id}/vtpms", HTTP_AUTH_AGENT, ID_NODE, NULL,
	    "", 0, { S401, S401, S403, S401, S401, S400 } },
	{ "POST", "/v1/agents/{id}/vtpms/activate", HTTP_AUTH_AGENT, ID_NODE,
	    NULL, "", 0, { S401, S401, S403, S401, S401, S400 } },
	{ "POST", "/v1/agents/{id}/vtpms/migrate", HTTP_AUTH_AGENT, ID_NODE,
	    NULL, "", 0, { S401, S401, S403, S401, S401, S400 } },
	{ "POST", "/v1/agents/{id}/mige-key", HTTP_AUTH_AGENT, ID_NODE, NULL,
	    "", 0, { S401, S401, S403, S401, S401, S400 } },
	/* Operator routes: tenants are refused the route itself (403). */
	{ "GET", "/v1/nodes", HTTP_AUTH_OPERATOR, ID_NONE, "?limit=5", NULL,
	    0, { S401, S401, S401, S403, S200, S403 } },
	{ "GET", "/v1/nodes/{id}", HTTP_AUTH_OPERATOR, ID_NODE, NULL, NULL, 0,
	    { S401, S401, S401, S403, S200, S403 } },
	{ "GET", "/v1/nodes/{id}/appraisals", HTTP_AUTH_OPERATOR, ID_NODE,
	    NULL, NULL, 0, { S401, S401, S401, S403, S200, S403 } },
	{ "POST", "/v1/nodes/{id}/re-enrol", HTTP_AUTH_OPERATOR, ID_NODE,
	    NULL, "", 0, { S401, S401, S401, S403, S200, S403 } },
	{ "GET", "/v1/reference-values", HTTP_AUTH_OPERATOR, ID_NONE, NULL,
	    NULL, 0, { S401, S401, S401, S403, S200, S403 } },
	{ "PUT", "/v1/reference-values", HTTP_AUTH_OPERATOR, ID_NONE, NULL,
	    "{\"pcrs\": {}}", 0, { S401, S401, S401, S403, S200, S403 } },
	/* Node A has no migration key: 409. */
	{ "GET", "/v1/nodes/{id}/mige-key", HTTP_AUTH_OPERATOR, ID_NODE,
	    NULL, NULL, 0, { S401, S401, S401, S403, S409, S403 } },
	{ "GET", "/v1/nodes/{id}/smm-log", HTTP_AUTH_OPERATOR, ID_NODE, NULL,
	    NULL, 0, { S401, S401, S401, S403, S200, S403 } },
	{ "GET", "/v1/audit", HTTP_AUTH_OPERATOR, ID_NONE, NULL, NULL, 0,
	    { S401, S401, S401, S403, S200, S403 } },
	{ "GET", "/v1/smm/reference-set", HTTP_AUTH_OPERATOR, ID_NONE, NULL,
	    NULL, 0, { S401, S401, S401, S403, S200, S403 } },
	{ "PUT", "/v1/smm/reference-set", HTTP_AUTH_OPERATOR, ID_NONE, NULL,
	    "{}", 0, { S401, S401, S401, S403, S400, S403 } },
	/* Tenant objects: the owner and operators; others 404. */
	{ "POST", "/v1/computations", HTTP_AUTH_NONE, ID_NONE, NULL,
	    B_RECIPE, 0, { S401, S401, S401, S201, S403, S201 } },
	{ "GET", "/v1/computations", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S401, S401, S401, S200, S200, S200 } },
	{ "GET", "/v1/computations/{id}", HTTP_AUTH_NONE, ID_COMP, NULL, NULL,
	    0, { S401, S401, S401, S404, S200, S200 } },
	{ "POST", "/v1/computations/{id}/replays", HTTP_AUTH_NONE, ID_COMP,
	    NULL, "", 0, { S401, S401, S401, S404, S202, S202 } },
	{ "GET", "/v1/replays/{id}", HTTP_AUTH_NONE, ID_REPLAY, NULL, NULL, 0,
	    { S401, S401, S401, S404, S200, S200 } },
	/* Blobs are content-addressed across tenants: the owner's PUT of
	 * bytes the other tenant stored first answers 200 "known" (an
	 * existence oracle, reported); the owner's column is not pinned. */
	{ "PUT", "/v1/blobs/{id}", HTTP_AUTH_NONE, ID_BLOB, NULL,
	    "blob-acme-secret", 0, { S401, S401, S401, S201, S403, 0 } },
	{ "POST", "/v1/vms", HTTP_AUTH_NONE, ID_NONE, NULL,
	    "{\"name\": \"vm-%s-new\"}", 0,
	    { S401, S401, S401, S201, S403, S201 } },
	{ "GET", "/v1/vms", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S401, S401, S401, S200, S200, S200 } },
	{ "GET", "/v1/vms/{id}", HTTP_AUTH_NONE, ID_VM, NULL, NULL, 0,
	    { S401, S401, S401, S404, S200, S200 } },
	/* Attesting is the tenant's; A's VM is not placed yet: 409. */
	{ "POST", "/v1/vms/{id}/attest", HTTP_AUTH_NONE, ID_VM, NULL, "", 0,
	    { S401, S401, S401, S404, S403, S409 } },
	{ "GET", "/v1/vm-attestations/{id}", HTTP_AUTH_NONE, ID_VMATT, NULL,
	    NULL, 0, { S401, S401, S401, S404, S200, S200 } },
	{ "GET", "/v1/guest-reference-values", HTTP_AUTH_NONE, ID_NONE, NULL,
	    NULL, 0, { S401, S401, S401, S404, S403, S404 } },
	{ "PUT", "/v1/guest-reference-values", HTTP_AUTH_NONE, ID_NONE, NULL,
	    "{\"pcrs\": {}}", 0, { S401, S401, S401, S200, S403, S200 } },
	/* Node results: operators only; tenants 404. */
	{ "GET", "/v1/results/node/{id}", HTTP_AUTH_NONE, ID_NODE, NULL, NULL,
	    0, { S401, S401, S401, S404, S200, S404 } },
	{ "GET", "/v1/results/vm/{id}", HTTP_AUTH_NONE, ID_VM, NULL, NULL, 0,
	    { S401, S401, S401, S404, S200, S200 } },
	{ "GET", "/v1/results/computation/{id}", HTTP_AUTH_NONE, ID_COMP,
	    NULL, NULL, 0, { S401, S401, S401, S404, S200, S200 } },
	{ "GET", "/v1/events", HTTP_AUTH_NONE, ID_NONE, "?after=0&follow=0",
	    NULL, 0,
	    { S401, S401, S401, S200, S200, S200 } },
	{ "GET", "/v1/webhooks", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S401, S401, S401, S200, S200, S200 } },
	{ "PUT", "/v1/webhooks", HTTP_AUTH_NONE, ID_NONE, NULL,
	    "{\"url\": \"http://127.0.0.1:9/new-%s\"}", 0,
	    { S401, S401, S401, S201, S201, S201 } },
	{ "DELETE", "/v1/webhooks", HTTP_AUTH_NONE, ID_NONE, "?id=", NULL, 1,
	    { S401, S401, S401, S404, S200, S200 } },
	{ "GET", "/v1/nodes/{id}/smm-key", HTTP_AUTH_NONE, ID_NODE, NULL,
	    NULL, 0, { S401, S401, S401, S404, S404, S404 } },
	{ "POST", "/v1/keys", HTTP_AUTH_NONE, ID_NONE, NULL, "{}", 0,
	    { S401, S401, S401, S400, S403, S400 } },
	/* Key uses: the key's tenant only (docs/interfaces.md). */
	{ "GET", "/v1/keys/{id}/uses", HTTP_AUTH_NONE, ID_KEY, NULL, NULL, 0,
	    { S401, S401, S401, S404, S404, S200 } },
	{ "GET", "/metrics", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S401, S401, S401, S403, S200, S403 } },
	/* Public: the same answer for everyone. */
	{ "GET", "/v1/verifier/jwks", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S200, S200, S200, S200, S200, S200 } },
	{ "GET", "/v1/openapi.json", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S200, S200, S200, S200, S200, S200 } },
	{ "GET", "/healthz", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S200, S200, S200, S200, S200, S200 } },
	{ "GET", "/readyz", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S200, S200, S200, S200, S200, S200 } },
	/* The dashboard's static files (routes_ui.c): the same for all. */
	{ "GET", "/ui", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { 301, 301, 301, 301, 301, 301 } },
	{ "GET", "/ui/", HTTP_AUTH_NONE, ID_NONE, NULL, NULL, 0,
	    { S200, S200, S200, S200, S200, S200 } },
};
#define N_KNOWN (sizeof(access_known) / sizeof(access_known[0]))

/* Routes without a token that still answer everyone (auth NONE in the
 * router and no api_who in the handler). Every other HTTP_AUTH_NONE route
 * must refuse a request without a valid token with 401. */
static const char *const access_public[] = {
	"GET /healthz", "GET /readyz", "GET /v1/openapi.json",
	"GET /v1/verifier/jwks", "GET /ui", "GET /ui/", "GET /ui/{id}",
};

static const struct known *
known_of(const struct http_route *rt)
{
	size_t i;

	for (i = 0; i < N_KNOWN; i++)
		if (strcmp(access_known[i].method, rt->method) == 0 &&
		    strcmp(access_known[i].pattern, rt->pattern) == 0)
			return &access_known[i];
	return NULL;
}

static int
is_public(const struct http_route *rt)
{
	char k[160];
	size_t i;

	snprintf(k, sizeof(k), "%s %s", rt->method, rt->pattern);
	for (i = 0; i < sizeof(access_public) / sizeof(access_public[0]); i++)
		if (strcmp(access_public[i], k) == 0)
			return 1;
	return 0;
}

/* The pattern with {id} replaced by id. */
static void
fill_path(const char *pattern, const char *id, const char *query,
    char *out, size_t cap)
{
	const char *p = strstr(pattern, "{id}");

	if (p == NULL)
		snprintf(out, cap, "%s%s", pattern, query ? query : "");
	else
		snprintf(out, cap, "%.*s%s%s%s", (int)(p - pattern), pattern,
		    id, p + 4, query ? query : "");
}

static const char *
obj_id(enum idk k)
{
	const struct objs *o = &g.o[T_ACME];

	switch (k) {
	case ID_NODE: return ID_A;
	case ID_COMP: return o->comp;
	case ID_REPLAY: return o->replay;
	case ID_VM: return o->vm;
	case ID_VMATT: return o->vmatt;
	case ID_KEY: return o->key;
	case ID_BLOB: return o->blob;
	default: return "";
	}
}

/* Asks the route as caller w. For agent routes the owner is agent A's
 * own certificate. */
static long
ask(const struct http_route *rt, enum who w, const char *path,
    const char *body, struct reply *r)
{
	const char *tok = NULL, *cert = NULL, *key = NULL;

	switch (w) {
	case W_NONE:
		break;
	case W_REVOKED:
		tok = g.op_revoked;
		break;
	case W_AGENT:
		cert = g.cert_b;
		key = g.key_b;
		break;
	case W_OTHER:
		tok = g.tenant[T_GLOBEX];
		break;
	case W_OP:
		tok = g.op;
		break;
	case W_OWNER:
		if (rt->auth == HTTP_AUTH_AGENT) {
			cert = g.cert_a;
			key = g.key_a;
		} else {
			tok = g.tenant[T_ACME];
		}
		break;
	default:
		break;
	}
	return req_as(rt->method, path, tok, cert, key, body,
	    body != NULL ? strlen(body) : 0, r);
}

/* What every reply must satisfy: no 5xx, errors as problem+json with
 * the same status, and for non-operators no string of a tenant other than
 * the caller's (the path's own id, which the caller sent, excepted). */
static void
check_reply(const struct http_route *rt, enum who w, const char *path,
    const struct reply *r)
{
	int seen_by;		/* whose data w may see; -1: nobody's */
	const char *body = (const char *)r->body.data;
	json_t *j;
	size_t t, i;

	if (r->status >= 500)
		fail_msg("%s %s as %s: %ld %s", rt->method, path, who_name[w],
		    r->status, body);
	if (r->status >= 400) {
		if (strcmp(r->ctype, "application/problem+json") != 0)
			fail_msg("%s %s as %s: %ld with content type \"%s\"",
			    rt->method, path, who_name[w], r->status,
			    r->ctype);
		j = json_loads(body, 0, NULL);
		if (j == NULL || json_integer_value(json_object_get(j,
		    "status")) != r->status)
			fail_msg("%s %s as %s: problem body %s", rt->method,
			    path, who_name[w], body);
		json_decref(j);
	}
	for (t = 0; t < 2; t++)
		if (strstr(body, g.hook_secret[t]) != NULL)
			fail_msg("%s %s as %s: body holds %s's webhook secret: "
			    "%s", rt->method, path, who_name[w],
			    tenant_name[t], body);
	if (w == W_OP)
		return;
	seen_by = w == W_OWNER && rt->auth != HTTP_AUTH_AGENT ? T_ACME :
	    w == W_OTHER ? T_GLOBEX : -1;
	for (t = 0; t < 3; t++) {
		if ((int)t == seen_by)
			continue;
		for (i = 0; i < g.n_secret[t]; i++) {
			if (strstr(path, g.secret[t][i]) != NULL)
				continue;
			if (strstr(body, g.secret[t][i]) != NULL)
				fail_msg("%s %s as %s: body holds %s's \"%s\": "
				    "%s", rt->method, path, who_name[w],
				    t < 2 ? tenant_name[t] : "the operators'",
				    g.secret[t][i], body);
		}
	}
}

/* The generic expectations of a route, from its router entry alone;
 * 0 where nothing is implied. */
static long
generic_want(const struct http_route *rt, enum who w)
{
	unsigned fl = http_route_flags_of(rt);

	if (rt->auth == HTTP_AUTH_OPERATOR) {
		if (w == W_NONE || w == W_REVOKED || w == W_AGENT)
			return 401;
		if (w == W_OTHER || (w == W_OWNER))
			return 403;
		return 0;
	}
	if (rt->auth == HTTP_AUTH_AGENT) {
		if (fl & HTTP_ENROL)
			return 0;
		if (w == W_NONE || w == W_REVOKED || w == W_OP ||
		    w == W_OTHER)
			return 401;
		if (w == W_AGENT)
			return strstr(rt->pattern, "{id}") != NULL ? 403 : 0;
		return 0;
	}
	if (is_public(rt))
		return 0;
	if (w == W_NONE || w == W_REVOKED || w == W_AGENT)
		return 401;
	return 0;
}

/* A fresh webhook of acme's for a destructive call (the owner's and the
 * operator's each remove one). */
static void
fresh_webhook(char *id, size_t cap)
{
	struct reply r;
	long st;

	st = req_tok("PUT", "/v1/webhooks", g.tenant[T_ACME],
	    "{\"url\": \"http://127.0.0.1:9/hook-acme-secret\"}", &r);
	if (st != 200 && st != 201)
		fail_msg("webhook: %ld %s", st, (char *)r.body.data);
	json_member(&r, "id", id, cap);
	buf_free(&r.body);
}

static void
run_route(const struct http_route *rt, const struct known *k,
    unsigned *generic_only)
{
	char path[512], body[512], id[130], q[128];
	const char *b;
	struct reply r;
	long want;
	int w;

	for (w = 0; w < W_N; w++) {
		snprintf(id, sizeof(id), "%s", k != NULL ? obj_id(k->idk) :
		    strstr(rt->pattern, "/agents/") != NULL ||
		    strstr(rt->pattern, "/nodes/") != NULL ? ID_A :
		    "0123456789abcdef0123456789abcdef");
		if (k != NULL && k->destructive) {
			if (w == W_OP || w == W_OWNER)
				fresh_webhook(g.o[T_ACME].webhook,
				    sizeof(g.o[T_ACME].webhook));
			snprintf(q, sizeof(q), "%s%s", k->query,
			    g.o[T_ACME].webhook);
		} else {
			snprintf(q, sizeof(q), "%s", k != NULL &&
			    k->query != NULL ? k->query : "");
		}
		fill_path(rt->pattern, id, q, path, sizeof(path));
		b = NULL;
		if (k != NULL && k->body != NULL) {
			subst(k->body, w == W_OTHER ? "globex" : "acme",
			    body, sizeof(body));
			b = body;
		} else if (k == NULL && (strcmp(rt->method, "POST") == 0 ||
		    strcmp(rt->method, "PUT") == 0)) {
			b = "{}";
		}
		ask(rt, (enum who)w, path, b, &r);
		check_reply(rt, (enum who)w, path, &r);
		want = k != NULL ? k->want[w] : generic_want(rt, (enum who)w);
		if (getenv("VIGIL_TEST_ACCESS_SHOW") != NULL)
			fprintf(stderr, "access: %-6s %-34s %-34s -> %ld\n",
			    rt->method, rt->pattern, who_name[w], r.status);
		if (want != 0 && r.status != want &&
		    getenv("VIGIL_TEST_ACCESS_SHOW") != NULL)
			fprintf(stderr, "access: MISMATCH want %ld\n", want);
		else if (k == NULL && want == 401 && r.status < 400)
			fail_msg("%s %s answers %s with %ld: a new route "
			    "without authentication? If it is meant to be "
			    "public, add it to access_public[] in "
			    "tests/unit/test_access.c", rt->method, rt->pattern,
			    who_name[w], r.status);
		else if (want != 0 && r.status != want)
			fail_msg("%s %s as %s: %ld, want %ld: %s", rt->method,
			    path, who_name[w], r.status, want,
			    (char *)r.body.data);
		buf_free(&r.body);
	}
	if (k == NULL)
		(*generic_only)++;
}

/* Every known route is still in the router with the same auth; a route
 * that changed fails here with its name. */
static void
test_access_known_routes_are_in_the_router_as_listed(void **state)
{
	const struct http_route *rt;
	char id[130], path[512];
	size_t i;
	int bad = 0;

	for (i = 0; i < N_KNOWN; i++) {
		fill_path(access_known[i].pattern, "x", NULL, path,
		    sizeof(path));
		if (http_route_find(access_known[i].method, path, &rt, id,
		    sizeof(id)) != 0 ||
		    strcmp(rt->pattern, access_known[i].pattern) != 0) {
			fprintf(stderr, "access: listed route %s %s is not in "
			    "http_routes[]: update access_known[]\n",
			    access_known[i].method, access_known[i].pattern);
			bad = 1;
		} else if (rt->auth != access_known[i].auth) {
			fprintf(stderr, "access: route %s %s changed its auth "
			    "(%d, listed %d): update access_known[]\n",
			    rt->method, rt->pattern, (int)rt->auth,
			    (int)access_known[i].auth);
			bad = 1;
		}
	}
	assert_int_equal(bad, 0);
}

/* The matrix: every route of the router, six callers. */
static void
test_access_every_route_answers_each_caller_exactly(void **state)
{
	unsigned generic = 0;
	size_t i;

	for (i = 0; i < http_routes_n; i++) {
		const struct known *k = known_of(&http_routes[i]);

		if (k == NULL)
			fprintf(stderr, "access: generic only (not in "
			    "access_known[]): %s %s\n", http_routes[i].method,
			    http_routes[i].pattern);
		run_route(&http_routes[i], k, &generic);
	}
	if (generic > 0)
		fprintf(stderr, "access: %u route(s) got the generic checks "
		    "only\n", generic);
}

/* A revoked tenant token is refused like a revoked operator token, on
 * every route that needs one. */
static void
test_access_revoked_tenant_token_is_401_everywhere(void **state)
{
	char path[512];
	struct reply r;
	size_t i;

	for (i = 0; i < http_routes_n; i++) {
		const struct http_route *rt = &http_routes[i];
		const struct known *k = known_of(rt);

		if (rt->auth == HTTP_AUTH_AGENT || is_public(rt))
			continue;
		fill_path(rt->pattern, k != NULL ? obj_id(k->idk) : ID_A,
		    k != NULL && k->query != NULL && !k->destructive ?
		    k->query : "", path, sizeof(path));
		req_as(rt->method, path, g.tenant_revoked, NULL, NULL,
		    strcmp(rt->method, "GET") != 0 ? "{}" : NULL,
		    strcmp(rt->method, "GET") != 0 ? 2 : 0, &r);
		if (r.status != 401)
			fail_msg("%s %s with a revoked tenant token: %ld %s",
			    rt->method, path, r.status, (char *)r.body.data);
		buf_free(&r.body);
	}
}

/* Lists answer each tenant its own objects only, operators all. */
static void
test_access_lists_hold_only_the_callers_objects(void **state)
{
	static const char *const lists[] = { "/v1/computations", "/v1/vms",
		"/v1/webhooks", "/v1/events?after=0&follow=0" };
	struct reply r;
	size_t i;
	int t;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (t = 0; t < 2; t++) {
			assert_int_equal(req_tok("GET", lists[i], g.tenant[t],
			    NULL, &r), 200);
			if (strstr((char *)r.body.data, tenant_name[t]) == NULL)
				fail_msg("%s for %s lacks its own objects: %s",
				    lists[i], tenant_name[t],
				    (char *)r.body.data);
			if (strstr((char *)r.body.data,
			    tenant_name[1 - t]) != NULL)
				fail_msg("%s for %s holds %s's: %s", lists[i],
				    tenant_name[t], tenant_name[1 - t],
				    (char *)r.body.data);
			buf_free(&r.body);
		}
		assert_int_equal(req_tok("GET", lists[i], g.op, NULL, &r),
		    200);
		if (strcmp(lists[i], "/v1/webhooks") != 0 &&
		    (strstr((char *)r.body.data, "acme") == NULL ||
		    strstr((char *)r.body.data, "globex") == NULL))
			fail_msg("%s for the operator lacks a tenant: %s",
			    lists[i], (char *)r.body.data);
		buf_free(&r.body);
	}
}

/* Paging a list one item at a time, from the start and from a cursor
 * that is the other tenant's object id, never reaches the other tenant's
 * objects. */
static void
test_access_paging_never_crosses_tenants(void **state)
{
	static const struct { const char *path; enum idk k; } lists[] = {
		{ "/v1/computations", ID_COMP }, { "/v1/vms", ID_VM },
	};
	char path[256], cur[128];
	struct reply r;
	size_t i, pages;
	json_t *j, *nc;
	int start;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (start = 0; start < 2; start++) {
			snprintf(cur, sizeof(cur), "%s", start ? obj_id(
			    lists[i].k) : "");
			for (pages = 0; pages < 50; pages++) {
				snprintf(path, sizeof(path), "%s?limit=1%s%s",
				    lists[i].path, cur[0] ? "&cursor=" : "",
				    cur);
				req_tok("GET", path, g.tenant[T_GLOBEX], NULL,
				    &r);
				if (r.status != 200 && r.status != 400)
					fail_msg("%s: %ld %s", path, r.status,
					    (char *)r.body.data);
				if (strstr((char *)r.body.data, "acme") !=
				    NULL)
					fail_msg("%s for globex: %s", path,
					    (char *)r.body.data);
				j = json_loads((char *)r.body.data, 0, NULL);
				buf_free(&r.body);
				nc = json_object_get(j, "next_cursor");
				if (r.status != 200 || !json_is_string(nc)) {
					json_decref(j);
					break;
				}
				snprintf(cur, sizeof(cur), "%s",
				    json_string_value(nc));
				json_decref(j);
			}
			assert_true(pages < 50);
		}
	}
}

/* Another tenant's object answers exactly like an unknown one. */
static void
test_access_foreign_object_answers_like_an_unknown_one(void **state)
{
	static const struct { const char *fmt; enum idk k; } objs[] = {
		{ "/v1/computations/%s", ID_COMP },
		{ "/v1/replays/%s", ID_REPLAY },
		{ "/v1/vms/%s", ID_VM },
		{ "/v1/vm-attestations/%s", ID_VMATT },
		{ "/v1/keys/%s/uses", ID_KEY },
		{ "/v1/results/computation/%s", ID_COMP },
		{ "/v1/results/vm/%s", ID_VM },
	};
	char path[256], unknown[256];
	struct reply r1, r2;
	json_t *j1, *j2;
	size_t i;

	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		subst(objs[i].fmt, obj_id(objs[i].k), path, sizeof(path));
		subst(objs[i].fmt, objs[i].k == ID_VMATT ? "999999" :
		    objs[i].k == ID_KEY ? "key-nobody" :
		    "0000000000000000000000000000000f", unknown,
		    sizeof(unknown));
		req_tok("GET", path, g.tenant[T_GLOBEX], NULL, &r1);
		req_tok("GET", unknown, g.tenant[T_GLOBEX], NULL, &r2);
		assert_int_equal(r1.status, 404);
		assert_int_equal(r2.status, 404);
		assert_non_null(j1 = json_loads((char *)r1.body.data, 0, NULL));
		assert_non_null(j2 = json_loads((char *)r2.body.data, 0, NULL));
		assert_string_equal(json_string_value(json_object_get(j1,
		    "type")), json_string_value(json_object_get(j2, "type")));
		assert_string_equal(json_string_value(json_object_get(j1,
		    "title")), json_string_value(json_object_get(j2,
		    "title")));
		json_decref(j1);
		json_decref(j2);
		buf_free(&r1.body);
		buf_free(&r2.body);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_access_known_routes_are_in_the_router_as_listed),
		cmocka_unit_test(
		    test_access_every_route_answers_each_caller_exactly),
		cmocka_unit_test(
		    test_access_revoked_tenant_token_is_401_everywhere),
		cmocka_unit_test(
		    test_access_lists_hold_only_the_callers_objects),
		cmocka_unit_test(test_access_paging_never_crosses_tenants),
		cmocka_unit_test(
		    test_access_foreign_object_answers_like_an_unknown_one),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
