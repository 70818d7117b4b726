/* The verifier over HTTPS with the demo PKI made in the test
 * (deploy/pki/make-server-cert.sh for the server, an agent CA made with
 * OpenSSL): mTLS on agent routes (no certificate, another CA, another
 * agent), token revocation, rate limits (429 + Retry-After), /metrics,
 * the audit log and token listing. Driven with libcurl. */
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
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "swek.h"
#include "verifier/agentca.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/ratelimit.h"
#include "verifier/store_tokens.h"
#include "verifier/tls.h"
#include "verifier/tokens.h"

#define PER_MINUTE 4
/* Agent ids: 64 lowercase hex digits. */
#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];
	char server_ca[128];
	char op[TOKEN_HEX_LEN + 1];
	char cert_a[128], key_a[128];	/* agent A, from the agent CA */
	char cert_b[128], key_b[128];	/* agent B, from the agent CA */
	char cert_f[128], key_f[128];	/* "agent A" from a foreign CA */
	char foreign_ca[128];
} g;

struct reply {
	long status;
	char ctype[64];
	char retry_after[16];
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

static size_t
on_header(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;
	size_t len = sz * n, k;

	if (len > 13 && strncasecmp(p, "Retry-After: ", 13) == 0) {
		k = len - 13;
		while (k > 0 && (p[12 + k] == '\r' || p[12 + k] == '\n'))
			k--;
		if (k < sizeof(r->retry_after)) {
			memcpy(r->retry_after, p + 13, k);
			r->retry_after[k] = '\0';
		}
	}
	return len;
}

/* One HTTPS request, trusting ca (NULL: only a foreign CA) and sending
 * the client certificate cert/key if given. Returns the status (0 if the
 * transfer failed: r->cc says why). */
static long
req_tls(const char *method, const char *path, const char *token,
    const char *body, const char *ca, const char *cert, const char *key,
    struct reply *r)
{
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	const char *ct = NULL;
	CURL *c;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	else
		curl_easy_setopt(c, CURLOPT_CAINFO, g.foreign_ca);
	if (cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
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
	r->cc = curl_easy_perform(c);
	if (r->cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	}
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	buf_add_u8(&r->body, 0);
	r->body.len--;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

static long
req(const char *method, const char *path, const char *token,
    const char *body, struct reply *r)
{
	return req_tls(method, path, token, body, g.server_ca, NULL, NULL, r);
}

/* The reply is problem+json with this status and type slug. */
static void
assert_problem(struct reply *r, long status, const char *slug)
{
	char type[96];
	json_t *j;

	assert_int_equal(r->status, status);
	assert_string_equal(r->ctype, "application/problem+json");
	assert_non_null(j = json_loads((char *)r->body.data, 0, NULL));
	snprintf(type, sizeof(type), "urn:vigil:problem:%s", slug);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    type);
	json_decref(j);
	buf_free(&r->body);
}

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

/* A P-256 key and a CSR for it, DER. */
static void
make_csr(EVP_PKEY **key, uint8_t **der, int *len)
{
	X509_REQ *rq;
	X509_NAME *nm;

	assert_non_null(*key = EVP_EC_gen("P-256"));
	assert_non_null(rq = X509_REQ_new());
	assert_non_null(nm = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"agent", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(rq, nm), 1);
	assert_int_equal(X509_REQ_set_pubkey(rq, *key), 1);
	assert_true(X509_REQ_sign(rq, *key, EVP_sha256()) > 0);
	*der = NULL;
	assert_true((*len = i2d_X509_REQ(rq, der)) > 0);
	X509_NAME_free(nm);
	X509_REQ_free(rq);
}

/* An agent certificate for id issued by ca, written to cert/key. */
static void
issue_agent(struct agentca *ca, const char *id, const char *cert,
    const char *key)
{
	const unsigned char *p;
	uint8_t *csr, *der;
	size_t der_len;
	EVP_PKEY *k;
	X509 *x;
	int n;

	make_csr(&k, &csr, &n);
	assert_int_equal(agentca_issue(ca, csr, (size_t)n, id, &der,
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

/* A CA made with OpenSSL, written as DIR/NAME.pem and DIR/NAME.key. */
static void
make_ca(const char *name, char *cert, char *key, size_t cap)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;

	assert_int_equal(swek_test_ca(name, &k, &x), 0);
	snprintf(cert, cap, "%s/%s.pem", g.dir, name);
	snprintf(key, cap, "%s/%s.key", g.dir, name);
	write_pem(cert, x, NULL);
	write_pem(key, NULL, k);
	EVP_PKEY_free(k);
	X509_free(x);
}

/* An agent certificate for ID_A signed by the agent CA whose validity
 * ended yesterday, written to DIR/old.crt and DIR/old.key. */
static void
make_expired(char *cert, char *key, size_t cap)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509_NAME *nm;
	EVP_PKEY *cak, *k;
	X509 *ca, *x;
	FILE *f;

	assert_non_null(f = fopen(g.cfg.ca_cert, "r"));
	assert_non_null(ca = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_non_null(f = fopen(g.cfg.ca_key, "r"));
	assert_non_null(cak = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_non_null(k = EVP_EC_gen("P-256"));
	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -2 * 86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), -86400));
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
	nm = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)ID_A, -1, -1, 0), 1);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_ext_key_usage, "clientAuth"));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, cak, EVP_sha256()) > 0);
	snprintf(cert, cap, "%s/old.crt", g.dir);
	snprintf(key, cap, "%s/old.key", g.dir);
	write_pem(cert, x, NULL);
	write_pem(key, NULL, k);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
}

static int
group_setup(void **state)
{
	char cmd[256], fca[128], fkey[128];
	struct agentca *foreign = NULL;

	log_init("test_tls", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-tls.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	/* The server CA and certificate, as the demo makes them. */
	snprintf(cmd, sizeof(cmd), "deploy/pki/make-server-cert.sh --out %s "
	    ">/dev/null 2>&1", g.dir);
	assert_int_equal(system(cmd), 0);
	snprintf(g.server_ca, sizeof(g.server_ca), "%s/server-ca.pem", g.dir);

	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 0;
	g.cfg.threads = 2;
	g.cfg.expensive_per_minute = PER_MINUTE;
	snprintf(g.cfg.store_path, sizeof(g.cfg.store_path), "%s/v.db",
	    g.dir);
	snprintf(g.cfg.openapi, sizeof(g.cfg.openapi), "docs/openapi.json");
	snprintf(g.cfg.tls_cert, PATH_MAX, "%s/verifier.pem", g.dir);
	snprintf(g.cfg.tls_key, PATH_MAX, "%s/verifier.key", g.dir);
	make_ca("agentca", g.cfg.ca_cert, g.cfg.ca_key, PATH_MAX);
	make_ca("foreignca", fca, fkey, sizeof(fca));
	snprintf(g.foreign_ca, sizeof(g.foreign_ca), "%s", fca);

	g.vc.cfg = &g.cfg;
	assert_int_equal(agentca_load(g.cfg.ca_cert, g.cfg.ca_key, &g.vc.ca),
	    0);
	assert_int_equal(agentca_load(fca, fkey, &foreign), 0);
	snprintf(g.cert_a, sizeof(g.cert_a), "%s/a.crt", g.dir);
	snprintf(g.key_a, sizeof(g.key_a), "%s/a.key", g.dir);
	snprintf(g.cert_b, sizeof(g.cert_b), "%s/b.crt", g.dir);
	snprintf(g.key_b, sizeof(g.key_b), "%s/b.key", g.dir);
	snprintf(g.cert_f, sizeof(g.cert_f), "%s/f.crt", g.dir);
	snprintf(g.key_f, sizeof(g.key_f), "%s/f.key", g.dir);
	issue_agent(g.vc.ca, ID_A, g.cert_a, g.key_a);
	issue_agent(g.vc.ca, ID_B, g.cert_b, g.key_b);
	issue_agent(foreign, ID_A, g.cert_f, g.key_f);
	agentca_free(foreign);

	assert_int_equal(http_load_tpm_cas(&g.cfg, &g.vc.tpm_cas), 0);
	assert_int_equal(nonce_table_new(60000, NULL, &g.vc.nonces), 0);
	assert_int_equal(store_open(g.cfg.store_path, &g.vc.store), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "ops",
	    g.op), 0);
	assert_int_equal(http_start(&g.vc, &g.srv), 0);
	snprintf(g.base, sizeof(g.base), "https://127.0.0.1:%u",
	    (unsigned)http_port(g.srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	http_stop(g.srv);
	store_close(g.vc.store);
	nonce_table_free(g.vc.nonces);
	agentca_free(g.vc.ca);
	X509_STORE_free(g.vc.tpm_cas);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static void
test_tls_https_serves_with_the_demo_server_ca(void **state)
{
	struct reply r;

	assert_int_equal(req("GET", "/healthz", NULL, NULL, &r), 200);
	buf_free(&r.body);
	/* A client that does not trust the demo server CA refuses. */
	assert_int_equal(req_tls("GET", "/healthz", NULL, NULL, NULL, NULL,
	    NULL, &r), 0);
	assert_int_equal(r.cc, CURLE_PEER_FAILED_VERIFICATION);
	buf_free(&r.body);
}

static void
test_tls_config_refuses_plain_http_off_loopback_and_tls_without_keys(
    void **state)
{
	struct vconfig c;

	config_defaults(&c);
	c.insecure_http = 1;
	snprintf(c.listen, sizeof(c.listen), "0.0.0.0");
	assert_int_equal(config_check_listen(&c), VIGIL_ECONFIG);
	snprintf(c.listen, sizeof(c.listen), "127.0.0.1");
	assert_int_equal(config_check_listen(&c), 0);
	c.insecure_http = 0;
	assert_int_equal(config_check_listen(&c), VIGIL_ECONFIG);
	snprintf(c.tls_cert, PATH_MAX, "/x.pem");
	snprintf(c.tls_key, PATH_MAX, "/x.key");
	assert_int_equal(config_check_listen(&c), VIGIL_ECONFIG);
	snprintf(c.ca_cert, PATH_MAX, "/ca.pem");
	assert_int_equal(config_check_listen(&c), 0);
	assert_string_equal(config_client_ca(&c), "/ca.pem");
}

static void
test_tls_evidence_without_client_certificate_is_401(void **state)
{
	struct reply r;

	req("POST", "/v1/agents/" ID_A "/evidence", NULL, "x", &r);
	assert_problem(&r, 401, "client-certificate");
	req("POST", "/v1/agents/" ID_A "/nonce", NULL, "", &r);
	assert_problem(&r, 401, "client-certificate");
}

static void
test_tls_evidence_with_certificate_from_another_ca_is_401(void **state)
{
	struct reply r;

	req_tls("POST", "/v1/agents/" ID_A "/evidence", NULL, "x",
	    g.server_ca, g.cert_f, g.key_f, &r);
	assert_problem(&r, 401, "client-certificate");
}

static void
test_tls_evidence_with_expired_certificate_is_401(void **state)
{
	char cert[128], key[128];
	struct reply r;

	make_expired(cert, key, sizeof(cert));
	req_tls("POST", "/v1/agents/" ID_A "/evidence", NULL, "x",
	    g.server_ca, cert, key, &r);
	assert_problem(&r, 401, "client-certificate");
}

static void
test_tls_evidence_with_another_agents_certificate_is_403(void **state)
{
	struct reply r;

	req_tls("POST", "/v1/agents/" ID_A "/evidence", NULL, "x",
	    g.server_ca, g.cert_b, g.key_b, &r);
	assert_problem(&r, 403, "wrong-agent");
	req_tls("POST", "/v1/agents/" ID_A "/nonce", NULL, "", g.server_ca,
	    g.cert_b, g.key_b, &r);
	assert_problem(&r, 403, "wrong-agent");
}

static void
test_tls_evidence_with_own_certificate_passes_the_gate(void **state)
{
	struct reply r;

	/* Past the certificate check: a garbage body is the handler's 400,
	 * an unknown agent's nonce its 404. */
	req_tls("POST", "/v1/agents/" ID_A "/evidence", NULL, "x",
	    g.server_ca, g.cert_a, g.key_a, &r);
	assert_int_equal(r.status, 400);
	buf_free(&r.body);
	req_tls("POST", "/v1/agents/" ID_A "/nonce", NULL, "", g.server_ca,
	    g.cert_a, g.key_a, &r);
	assert_problem(&r, 404, "unknown-agent");
}

static void
test_tls_activation_needs_no_client_certificate(void **state)
{
	struct reply r;

	req("POST", "/v1/agents/" ID_A "/activate", NULL, "x", &r);
	assert_int_not_equal(r.status, 401);
	assert_int_not_equal(r.status, 403);
	assert_true(r.status >= 400 && r.status < 500);
	buf_free(&r.body);
}

static void
test_tls_revoked_token_is_refused_at_the_next_request(void **state)
{
	char tok[TOKEN_HEX_LEN + 1], id[TOKEN_ID_LEN + 1];
	struct reply r;

	assert_int_equal(tokens_create(g.vc.store, "operator", NULL,
	    "to-revoke", tok), 0);
	assert_int_equal(req("GET", "/v1/nodes", tok, NULL, &r), 200);
	buf_free(&r.body);
	assert_int_equal(tokens_revoke(g.vc.store, "to-revoke", id), 0);
	assert_int_equal(strlen(id), TOKEN_ID_LEN);
	req("GET", "/v1/nodes", tok, NULL, &r);
	assert_problem(&r, 401, "unauthorized");
	/* Revoking again by id finds it; an unknown label does not. */
	assert_int_equal(tokens_revoke(g.vc.store, id, id), 0);
	assert_int_equal(tokens_revoke(g.vc.store, "no-such-label", id),
	    VIGIL_ENOTFOUND);
}

static void
test_tls_token_revoke_refuses_an_ambiguous_label(void **state)
{
	char t1[TOKEN_HEX_LEN + 1], t2[TOKEN_HEX_LEN + 1];
	char id[TOKEN_ID_LEN + 1];
	struct reply r;

	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "twin",
	    t1), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "twin",
	    t2), 0);
	assert_int_equal(tokens_revoke(g.vc.store, "twin", id), VIGIL_EEXIST);
	/* Nothing was revoked. */
	req("GET", "/v1/nodes", t1, NULL, &r);
	assert_problem(&r, 403, "forbidden");
}

static void
test_tls_token_list_shows_labels_never_tokens(void **state)
{
	struct token_info *rows = NULL;
	char hex[2 * SHA256_LEN + 1];
	size_t n = 0, i;
	int seen = 0;

	assert_int_equal(store_token_list(g.vc.store, &rows, &n), 0);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		hex_encode(rows[i].hash, SHA256_LEN, hex);
		/* The hash is not the token. */
		assert_string_not_equal(hex, g.op);
		if (strcmp(rows[i].label, "ops") == 0) {
			assert_string_equal(rows[i].role, "operator");
			assert_string_equal(rows[i].tenant, "");
			assert_int_equal(rows[i].revoked_at, 0);
			assert_true(rows[i].created_at > 1600000000);
			seen = 1;
		}
	}
	assert_true(seen);
	free(rows);
}

static void
test_tls_ratelimit_bucket_refills_after_retry_after(void **state)
{
	struct ratelimit *rl;
	unsigned ra = 0;

	assert_int_equal(ratelimit_new(2, &rl), 0);
	assert_int_equal(ratelimit_take(rl, "k", 0, &ra), 0);
	assert_int_equal(ratelimit_take(rl, "k", 0, &ra), 0);
	assert_int_equal(ratelimit_take(rl, "k", 0, &ra), VIGIL_EDENIED);
	assert_int_equal(ra, 30);
	/* Another key has its own bucket. */
	assert_int_equal(ratelimit_take(rl, "other", 0, &ra), 0);
	assert_int_equal(ratelimit_take(rl, "k", 29999, &ra), VIGIL_EDENIED);
	assert_int_equal(ra, 1);
	assert_int_equal(ratelimit_take(rl, "k", 30000, &ra), 0);
	ratelimit_free(rl);
}

static void
test_tls_expensive_route_answers_429_with_retry_after(void **state)
{
	struct reply r;
	unsigned long ra;
	int i, got = 0;

	/* Registration is expensive: at most PER_MINUTE a minute from one
	 * address (fewer if earlier tests registered). */
	for (i = 0; i <= PER_MINUTE; i++) {
		req("POST", "/v1/agents", NULL, "x", &r);
		if (r.status == 429) {
			got = 1;
			break;
		}
		assert_int_equal(r.status, 400);
		buf_free(&r.body);
	}
	assert_true(got);
	ra = strtoul(r.retry_after, NULL, 10);
	assert_true(ra >= 1 && ra <= 60 / PER_MINUTE);
	assert_problem(&r, 429, "rate-limited");
	/* Other routes are not limited. */
	assert_int_equal(req("GET", "/healthz", NULL, NULL, &r), 200);
	buf_free(&r.body);
}

/* The value of the sample whose line starts with prefix (-1 if none);
 * every line must be a comment or "name{labels} value". */
static double
metrics_value(const char *text, const char *prefix)
{
	const char *p = text, *nl, *sp;
	double v = -1;
	char line[512], *end;
	size_t n;

	for (; *p != '\0'; p = nl + 1) {
		assert_non_null(nl = strchr(p, '\n'));
		n = (size_t)(nl - p);
		assert_true(n > 0 && n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		if (line[0] == '#') {
			assert_true(strncmp(line, "# HELP vigil_", 13) == 0 ||
			    strncmp(line, "# TYPE vigil_", 13) == 0);
			continue;
		}
		assert_true(strncmp(line, "vigil_", 6) == 0);
		assert_non_null(sp = strrchr(line, ' '));
		if (strchr(line, '{') != NULL)
			assert_true(sp[-1] == '}');
		strtod(sp + 1, &end);
		assert_true(end != sp + 1 && *end == '\0');
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			v = strtod(sp + 1, NULL);
	}
	return v;
}

static void
test_tls_metrics_parse_and_count_a_request(void **state)
{
	static const char key[] = "vigil_http_requests_total{method=\"GET\","
	    "route=\"/v1/openapi.json\",status=\"200\"} ";
	struct reply r;
	double before, after;

	assert_int_equal(req("GET", "/metrics", NULL, NULL, &r), 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; "
	    "charset=utf-8");
	before = metrics_value((char *)r.body.data, key);
	assert_true(metrics_value((char *)r.body.data,
	    "vigil_store_queue_depth ") >= 0);
	assert_true(metrics_value((char *)r.body.data,
	    "vigil_nodes{status=\"affirming\"} ") == 0);
	buf_free(&r.body);
	assert_int_equal(req("GET", "/v1/openapi.json", NULL, NULL, &r), 200);
	buf_free(&r.body);
	assert_int_equal(req("GET", "/metrics", NULL, NULL, &r), 200);
	after = metrics_value((char *)r.body.data, key);
	buf_free(&r.body);
	assert_true(after == (before < 0 ? 0 : before) + 1);
}

static void
test_tls_audit_lists_a_reference_values_put(void **state)
{
	static const char doc[] = "{\"pcrs\":{\"7\":[\"" \
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    "\"]}}";
	char hdr[TOKEN_HEX_LEN + 8], id[TOKEN_ID_LEN + 1], who[64];
	struct reply r;
	json_t *j, *it;
	const char *at;

	assert_int_equal(req("PUT", "/v1/reference-values", g.op, doc, &r),
	    200);
	buf_free(&r.body);
	assert_int_equal(req("GET", "/v1/audit?limit=1", g.op, NULL, &r),
	    200);
	assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
	buf_free(&r.body);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	it = json_array_get(json_object_get(j, "items"), 0);
	assert_string_equal(json_string_value(json_object_get(it, "action")),
	    "reference-values.put");
	snprintf(hdr, sizeof(hdr), "Bearer %s", g.op);
	assert_int_equal(tokens_id_of_header(hdr, id), 0);
	snprintf(who, sizeof(who), "operator token=%s ", id);
	assert_non_null(strstr(json_string_value(json_object_get(it, "who")),
	    who));
	assert_non_null(at = json_string_value(json_object_get(it, "at")));
	assert_int_equal(strlen(at), 20);
	assert_int_equal(at[19], 'Z');
	assert_non_null(json_string_value(json_object_get(j,
	    "next_cursor")));
	json_decref(j);
	/* Operators only; a bad cursor is 400. */
	req("GET", "/v1/audit", NULL, NULL, &r);
	assert_problem(&r, 401, "unauthorized");
	req("GET", "/v1/audit?cursor=x", g.op, NULL, &r);
	assert_problem(&r, 400, "bad-query");
}

static void
test_tls_route_flags_name_existing_routes(void **state)
{
	const struct http_route *rt;
	char id[130];
	size_t i, k;

	for (i = 0; i < http_route_flags_n; i++) {
		for (k = 0; k < http_routes_n; k++)
			if (strcmp(http_routes[k].method,
			    http_route_flags[i].method) == 0 &&
			    strcmp(http_routes[k].pattern,
			    http_route_flags[i].pattern) == 0)
				break;
		if (k == http_routes_n)
			fail_msg("http_route_flags names %s %s, not a route",
			    http_route_flags[i].method,
			    http_route_flags[i].pattern);
	}
	assert_int_equal(http_route_find("POST", "/v1/agents", &rt, id,
	    sizeof(id)), 0);
	assert_int_equal(http_route_flags_of(rt),
	    HTTP_ENROL | HTTP_RL_EXPENSIVE);
	assert_int_equal(http_route_find("POST", "/v1/agents/x/evidence",
	    &rt, id, sizeof(id)), 0);
	assert_int_equal(http_route_flags_of(rt), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_https_serves_with_the_demo_server_ca),
		cmocka_unit_test(
		    test_tls_config_refuses_plain_http_off_loopback_and_tls_without_keys),
		cmocka_unit_test(
		    test_tls_evidence_without_client_certificate_is_401),
		cmocka_unit_test(
		    test_tls_evidence_with_certificate_from_another_ca_is_401),
		cmocka_unit_test(test_tls_evidence_with_expired_certificate_is_401),
		cmocka_unit_test(
		    test_tls_evidence_with_another_agents_certificate_is_403),
		cmocka_unit_test(
		    test_tls_evidence_with_own_certificate_passes_the_gate),
		cmocka_unit_test(test_tls_activation_needs_no_client_certificate),
		cmocka_unit_test(
		    test_tls_revoked_token_is_refused_at_the_next_request),
		cmocka_unit_test(test_tls_token_revoke_refuses_an_ambiguous_label),
		cmocka_unit_test(test_tls_token_list_shows_labels_never_tokens),
		cmocka_unit_test(
		    test_tls_ratelimit_bucket_refills_after_retry_after),
		cmocka_unit_test(
		    test_tls_expensive_route_answers_429_with_retry_after),
		cmocka_unit_test(test_tls_metrics_parse_and_count_a_request),
		cmocka_unit_test(test_tls_audit_lists_a_reference_values_put),
		cmocka_unit_test(test_tls_route_flags_name_existing_routes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
