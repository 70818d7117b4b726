/* The real server on an ephemeral loopback port with a temporary store,
 * driven with libcurl: routing, problem+json errors, token checks, body
 * limits, and the agent flow (register, activate, evidence) with a
 * software EK (swek) and a software AK (swquote). */
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
#include "events.h"
#include "evlog.h"
#include "log.h"
#include "makecred.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "verifier/agentca.h"
#include "verifier/config.h"
#include "verifier/freshness.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/routes_ui.h"
#include "verifier/tokens.h"
#include "vigil.pb-c.h"

static struct {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];
	char op[TOKEN_HEX_LEN + 1], tenant[TOKEN_HEX_LEN + 1];
	EVP_PKEY *tpm_ca_key;
	X509 *tpm_ca;
} g;

struct reply {
	long status;
	char ctype[64];
	struct buf body;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;

	if (buf_add(&r->body, p, sz * n) != 0)
		return 0;
	return sz * n;
}

/* One request; returns the status. */
static long
req(const char *method, const char *path, const char *token,
    const void *body, size_t len, struct reply *r)
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
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/x-protobuf");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
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

/* The reply is problem+json with this status and type slug, and its
 * detail contains part. */
static void
assert_problem(struct reply *r, long status, const char *slug,
    const char *part)
{
	char type[96];
	json_t *j;

	assert_int_equal(r->status, status);
	assert_string_equal(r->ctype, "application/problem+json");
	assert_non_null(j = json_loads((char *)r->body.data, 0, NULL));
	snprintf(type, sizeof(type), "urn:vigil:problem:%s", slug);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    type);
	assert_int_equal(json_integer_value(json_object_get(j, "status")),
	    status);
	assert_non_null(json_string_value(json_object_get(j, "title")));
	if (part != NULL && strstr(json_string_value(json_object_get(j,
	    "detail")), part) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"",
		    json_string_value(json_object_get(j, "detail")), part);
	json_decref(j);
	buf_free(&r->body);
}

static void
write_pem_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
}

static int
group_setup(void **state)
{
	EVP_PKEY *ak = NULL;
	X509 *ac = NULL;
	char path[128];
	FILE *f;

	log_init("test_http", getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/vigil-test-http.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	config_defaults(&g.cfg);
	g.cfg.port = 0;
	g.cfg.insecure_http = 1;
	g.cfg.threads = 2;
	snprintf(g.cfg.store_path, sizeof(g.cfg.store_path), "%s/v.db",
	    g.dir);
	/* No [server] openapi: GET /v1/openapi.json serves the built-in copy. */
	/* The TPM vendor CA and the agents' CA. */
	assert_int_equal(swek_test_ca("Test TPM CA", &g.tpm_ca_key,
	    &g.tpm_ca), 0);
	snprintf(g.cfg.tpm_ca[0], PATH_MAX, "%s/tpmca.pem", g.dir);
	g.cfg.n_tpm_ca = 1;
	write_pem_cert(g.cfg.tpm_ca[0], g.tpm_ca);
	if (getenv("VIGIL_TEST_CA_DIR") != NULL) {
		/* swtpm's local CA: a root and an intermediate issuer. */
		snprintf(g.cfg.tpm_ca[1], PATH_MAX, "%s/issuercert.pem",
		    getenv("VIGIL_TEST_CA_DIR"));
		snprintf(g.cfg.tpm_ca[2], PATH_MAX,
		    "%s/swtpm-localca-rootca-cert.pem",
		    getenv("VIGIL_TEST_CA_DIR"));
		g.cfg.n_tpm_ca = 3;
	}
	assert_int_equal(swek_test_ca("Test agent CA", &ak, &ac), 0);
	snprintf(g.cfg.ca_cert, PATH_MAX, "%s/agentca.pem", g.dir);
	snprintf(g.cfg.ca_key, PATH_MAX, "%s/agentca.key", g.dir);
	write_pem_cert(g.cfg.ca_cert, ac);
	assert_non_null(f = fopen(g.cfg.ca_key, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, ak, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(f);
	EVP_PKEY_free(ak);
	X509_free(ac);

	g.vc.cfg = &g.cfg;
	assert_int_equal(http_load_tpm_cas(&g.cfg, &g.vc.tpm_cas), 0);
	assert_int_equal(agentca_load(g.cfg.ca_cert, g.cfg.ca_key, &g.vc.ca),
	    0);
	assert_int_equal(nonce_table_new(60000, NULL, &g.vc.nonces), 0);
	assert_int_equal(store_open(g.cfg.store_path, &g.vc.store), 0);
	assert_int_equal(tokens_create(g.vc.store, "operator", NULL, "t",
	    g.op), 0);
	assert_int_equal(tokens_create(g.vc.store, "tenant", "acme", "t",
	    g.tenant), 0);
	assert_int_equal(http_start(&g.vc, &g.srv), 0);
	snprintf(g.base, sizeof(g.base), "http://127.0.0.1:%u",
	    (unsigned)http_port(g.srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(path, sizeof(path), "%s", g.dir);
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
	EVP_PKEY_free(g.tpm_ca_key);
	X509_free(g.tpm_ca);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static void
test_http_healthz_and_readyz_answer(void **state)
{
	struct reply r;

	assert_int_equal(req("GET", "/healthz", NULL, NULL, 0, &r), 200);
	assert_string_equal(r.ctype, "application/json");
	assert_string_equal((char *)r.body.data, "{\"status\":\"ok\"}");
	buf_free(&r.body);
	assert_int_equal(req("GET", "/readyz", NULL, NULL, 0, &r), 200);
	assert_string_equal((char *)r.body.data, "{\"status\":\"ready\"}");
	buf_free(&r.body);
}

static void
test_http_operator_route_needs_a_token(void **state)
{
	struct reply r;

	req("GET", "/v1/nodes", NULL, NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized", "bearer token");
	req("GET", "/v1/nodes", "00112233", NULL, 0, &r);
	assert_problem(&r, 401, "unauthorized", NULL);
	req("GET", "/v1/nodes", g.tenant, NULL, 0, &r);
	assert_problem(&r, 403, "forbidden", "operator");
	assert_int_equal(req("GET", "/v1/nodes", g.op, NULL, 0, &r), 200);
	buf_free(&r.body);
}

static void
test_http_unknown_node_is_404(void **state)
{
	struct reply r;

	req("GET", "/v1/nodes/"
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    g.op, NULL, 0, &r);
	assert_problem(&r, 404, "not-found", "no node with id");
	req("GET", "/v1/nodes/zz/appraisals", g.op, NULL, 0, &r);
	assert_problem(&r, 404, "not-found", NULL);
	req("GET", "/v1/nothing", NULL, NULL, 0, &r);
	assert_problem(&r, 404, "not-found", "no such route");
	req("DELETE", "/healthz", NULL, NULL, 0, &r);
	assert_problem(&r, 405, "method", NULL);
}

static void
test_http_oversize_body_is_413(void **state)
{
	size_t n = HTTP_BODY_MAX + 1;
	uint8_t *big = calloc(1, HTTP_BODY_MAX_PROTO + 1);
	struct reply r;

	assert_non_null(big);
	req("POST", "/v1/agents", NULL, big, n, &r);
	assert_problem(&r, 413, "too-large", "65536");
	req("POST", "/v1/agents/abc/evidence", NULL, big,
	    HTTP_BODY_MAX_PROTO + 1, &r);
	assert_problem(&r, 413, "too-large", "4194304");
	free(big);
	assert_int_equal(req("GET", "/healthz", NULL, NULL, 0, &r), 200);
	buf_free(&r.body);
}

static void
test_http_garbage_protobuf_is_400_and_server_still_serves(void **state)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	struct reply r;

	req("POST", "/v1/agents", NULL, junk, sizeof(junk), &r);
	assert_problem(&r, 400, "bad-request", "RegisterRequest is not a "
	    "valid protobuf message");
	req("POST", "/v1/agents/abc/evidence", NULL, junk, sizeof(junk), &r);
	assert_problem(&r, 400, "bad-request", "Evidence is not a valid "
	    "protobuf message");
	req("POST", "/v1/agents/abc/activate", NULL, junk, sizeof(junk), &r);
	assert_problem(&r, 400, "bad-request", "ActivateRequest");
	assert_int_equal(req("GET", "/healthz", NULL, NULL, 0, &r), 200);
	buf_free(&r.body);
}

static void
test_http_reference_values_round_trip(void **state)
{
	static const char bad[] = "{\"pcrs\":{\"99\":[]}}";
	struct reply r;
	json_t *j;

	req("PUT", "/v1/reference-values", g.op, bad, strlen(bad), &r);
	assert_problem(&r, 400, "reference-values", "pcrs.\"99\"");
	req("PUT", "/v1/reference-values", g.tenant, bad, strlen(bad), &r);
	assert_problem(&r, 403, "forbidden", NULL);
	assert_int_equal(req("GET", "/v1/reference-values", g.op, NULL, 0,
	    &r), 200);
	assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
	assert_non_null(json_object_get(j, "version"));
	assert_non_null(json_object_get(j, "document"));
	json_decref(j);
	buf_free(&r.body);
}

/* ---- the agent flow ---- */

static void
make_log(struct buf *log, const uint8_t *ak, size_t ak_len)
{
	static const uint8_t sep[4];
	struct buf ev = BUF_INIT;
	uint8_t d[32];
	unsigned int dl;
	uint32_t i;

	assert_int_equal(evlog_write_header(log), 0);
	EVP_Digest("fw", 2, d, &dl, EVP_sha256(), NULL);
	assert_int_equal(evlog_write_event(log, 0,
	    EV_EFI_PLATFORM_FIRMWARE_BLOB, d, NULL, 0), 0);
	buf_add_u32le(&ev, VIGIL_TAG_AK_PUBLIC);
	buf_add_u32le(&ev, (uint32_t)ak_len);
	buf_add(&ev, ak, ak_len);
	EVP_Digest(ev.data, ev.len, d, &dl, EVP_sha256(), NULL);
	assert_int_equal(evlog_write_event(log, 5, EV_EVENT_TAG, d, ev.data,
	    (uint32_t)ev.len), 0);
	buf_free(&ev);
	EVP_Digest(sep, 4, d, &dl, EVP_sha256(), NULL);
	for (i = 0; i < 8; i++)
		assert_int_equal(evlog_write_event(log, i, EV_SEPARATOR, d,
		    sep, 4), 0);
}

static uint8_t *
csr_der(size_t *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *rq = X509_REQ_new();
	uint8_t *der = NULL;
	int n;

	assert_non_null(k);
	X509_REQ_set_pubkey(rq, k);
	assert_true(X509_REQ_sign(rq, k, EVP_sha256()) > 0);
	n = i2d_X509_REQ(rq, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_REQ_free(rq);
	EVP_PKEY_free(k);
	return der;
}

struct agent {
	struct swek *ek;
	struct swquote *sq;
	uint8_t ak[1024];
	size_t ak_len;
	TPM2B_NAME ak_name;
	char id[65];
	uint8_t nonce[64];
	size_t nonce_len;
};

static void
agent_register(struct agent *a, long want_status)
{
	Vigil__RegisterRequest rq = VIGIL__REGISTER_REQUEST__INIT;
	Vigil__RegisterResponse *rs;
	Vigil__ActivateRequest ar = VIGIL__ACTIVATE_REQUEST__INIT;
	Vigil__ActivateResponse *as;
	uint8_t ekb[1024], body[8192], secret[64], *csr;
	size_t ekl, n, sl = sizeof(secret), csrl;
	struct buf cert = BUF_INIT;
	TPM2B_PUBLIC pub;
	struct reply r;
	char path[160];
	const unsigned char *p;
	X509 *x;

	assert_int_equal(tpm_public_marshal(swek_public(a->ek), ekb,
	    sizeof(ekb), &ekl), 0);
	assert_int_equal(swek_cert_der(a->ek, &cert), 0);
	assert_int_equal(swquote_ak_public(a->sq, &pub), 0);
	assert_int_equal(tpm_public_marshal(&pub, a->ak, sizeof(a->ak),
	    &a->ak_len), 0);
	assert_int_equal(tpm_public_name(&pub, &a->ak_name), 0);
	rq.ek_public.data = ekb;
	rq.ek_public.len = ekl;
	rq.ek_cert.data = cert.data;
	rq.ek_cert.len = cert.len;
	rq.ak_public.data = a->ak;
	rq.ak_public.len = a->ak_len;
	rq.hostname = "node-1";
	n = vigil__register_request__pack(&rq, body);
	buf_free(&cert);
	if (req("POST", "/v1/agents", NULL, body, n, &r) != 200) {
		assert_int_equal(r.status, want_status);
		assert_string_equal(r.ctype, "application/problem+json");
		buf_free(&r.body);
		return;
	}
	assert_int_equal(200, want_status);
	assert_string_equal(r.ctype, "application/x-protobuf");
	assert_non_null(rs = vigil__register_response__unpack(NULL,
	    r.body.len, r.body.data));
	buf_free(&r.body);
	assert_int_equal(tpm_agent_id(swek_public(a->ek), a->id), 0);
	assert_string_equal(rs->agent_id, a->id);
	assert_int_equal(makecred_activate_sw(swek_public(a->ek),
	    swek_key(a->ek), &a->ak_name, rs->credential_blob.data,
	    rs->credential_blob.len, rs->encrypted_secret.data,
	    rs->encrypted_secret.len, secret, &sl), 0);
	vigil__register_response__free_unpacked(rs, NULL);

	/* A wrong secret is refused, the right one activates. */
	snprintf(path, sizeof(path), "/v1/agents/%s/activate", a->id);
	csr = csr_der(&csrl);
	ar.secret.data = secret;
	ar.secret.len = sl;
	ar.csr.data = csr;
	ar.csr.len = csrl;
	secret[0] ^= 1;
	n = vigil__activate_request__pack(&ar, body);
	req("POST", path, NULL, body, n, &r);
	assert_problem(&r, 403, "credential", "credential secret");
	secret[0] ^= 1;
	n = vigil__activate_request__pack(&ar, body);
	free(csr);
	assert_int_equal(req("POST", path, NULL, body, n, &r), 200);
	assert_non_null(as = vigil__activate_response__unpack(NULL,
	    r.body.len, r.body.data));
	buf_free(&r.body);
	assert_int_equal(as->interval_ms, g.cfg.interval_ms);
	assert_int_equal(as->nonce.len, NONCE_LEN);
	memcpy(a->nonce, as->nonce.data, as->nonce.len);
	a->nonce_len = as->nonce.len;
	p = as->client_cert.data;
	assert_non_null(x = d2i_X509(NULL, &p, (long)as->client_cert.len));
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, path, sizeof(path)), 64);
	assert_string_equal(path, a->id);
	X509_free(x);
	vigil__activate_response__free_unpacked(as, NULL);
}

/* Sends one push with the agent's current nonce; returns the reply or
 * NULL for a non-200 (then *status and r describe it). */
static Vigil__EvidenceReply *
agent_push(struct agent *a, const struct buf *log, uint64_t clock,
    struct reply *r)
{
	Vigil__Evidence ev = VIGIL__EVIDENCE__INIT;
	Vigil__EvidenceItem it = VIGIL__EVIDENCE_ITEM__INIT, *itp = &it;
	Vigil__EventLogChunk ch = VIGIL__EVENT_LOG_CHUNK__INIT;
	Vigil__PcrValue pv[PCR_COUNT], *pvp[PCR_COUNT];
	Vigil__EvidenceReply *rep = NULL;
	struct buf attest = BUF_INIT, sig = BUF_INIT;
	uint8_t pcr[PCR_COUNT][32], chb[4096], *body;
	struct evlog *l = NULL;
	struct pcrs vals;
	uint32_t touched, i;
	size_t n = 0, len;
	char path[160];

	assert_int_equal(evlog_parse(log->data, log->len, &l), 0);
	assert_int_equal(evlog_replay(l, EVLOG_SHA256, pcr, &touched), 0);
	evlog_free(l);
	memset(&vals, 0, sizeof(vals));
	vals.mask = PCR_POLICY_MASK;
	for (i = 0; i < 8; i++)
		memcpy(vals.v[i], pcr[i], 32);
	assert_int_equal(swquote_make(a->sq, a->nonce, a->nonce_len, &vals,
	    PCR_POLICY_MASK, clock, 1, 0, 1, &attest, &sig), 0);
	ev.nonce.data = a->nonce;
	ev.nonce.len = a->nonce_len;
	ev.quote.data = attest.data;
	ev.quote.len = attest.len;
	ev.signature.data = sig.data;
	ev.signature.len = sig.len;
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(PCR_POLICY_MASK & (1u << i)))
			continue;
		vigil__pcr_value__init(&pv[n]);
		pv[n].index = i;
		pv[n].digest.data = vals.v[i];
		pv[n].digest.len = 32;
		pvp[n] = &pv[n];
		n++;
	}
	ev.n_pcrs = n;
	ev.pcrs = pvp;
	ch.boot_count = 1;
	ch.offset = 0;
	ch.data.data = log->data;
	ch.data.len = log->len;
	it.epoch = 7;
	it.seq = 1;
	it.kind = VIGIL__ITEM_KIND__ITEM_EVENT_LOG;
	it.body.data = chb;
	it.body.len = vigil__event_log_chunk__pack(&ch, chb);
	ev.n_items = 1;
	ev.items = &itp;
	len = vigil__evidence__get_packed_size(&ev);
	assert_non_null(body = malloc(len));
	vigil__evidence__pack(&ev, body);
	snprintf(path, sizeof(path), "/v1/agents/%s/evidence", a->id);
	if (req("POST", path, NULL, body, len, r) == 200) {
		assert_non_null(rep = vigil__evidence_reply__unpack(NULL,
		    r->body.len, r->body.data));
		buf_free(&r->body);
	}
	free(body);
	buf_free(&attest);
	buf_free(&sig);
	return rep;
}

static void
test_http_agent_registers_activates_and_pushes_evidence(void **state)
{
	struct agent a;
	struct buf log = BUF_INIT;
	Vigil__EvidenceReply *rep;
	struct reply r;
	char path[160];
	json_t *j;

	memset(&a, 0, sizeof(a));
	assert_int_equal(swek_new(g.tpm_ca_key, g.tpm_ca, &a.ek), 0);
	assert_int_equal(swquote_new(&a.sq), 0);
	agent_register(&a, 200);
	make_log(&log, a.ak, a.ak_len);

	assert_non_null(rep = agent_push(&a, &log, 1000, &r));
	assert_string_equal(rep->status, "warning");	/* no references */
	assert_true(rep->acked_epoch == 7 && rep->acked_seq == 1);
	assert_int_equal(rep->next_nonce.len, NONCE_LEN);
	assert_true(rep->n_reasons >= 1);
	assert_string_equal(rep->reasons[0], "no reference value for PCR 0");
	/* The same nonce again: refused, the agent must ask for another. */
	assert_null(agent_push(&a, &log, 2000, &r));
	assert_problem(&r, 409, "nonce", "already used");
	memcpy(a.nonce, rep->next_nonce.data, NONCE_LEN);
	vigil__evidence_reply__free_unpacked(rep, NULL);
	/* Clock back within the epoch: contraindicated, items still acked. */
	assert_non_null(rep = agent_push(&a, &log, 500, &r));
	assert_string_equal(rep->status, "contraindicated");
	assert_true(rep->acked_seq == 1);
	vigil__evidence_reply__free_unpacked(rep, NULL);

	snprintf(path, sizeof(path), "/v1/nodes/%s", a.id);
	assert_int_equal(req("GET", path, g.op, NULL, 0, &r), 200);
	assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
	buf_free(&r.body);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "active");
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "contraindicated");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    j, "appraisal"), "status")), "contraindicated");
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/nodes/%s/appraisals?limit=1",
	    a.id);
	assert_int_equal(req("GET", path, g.op, NULL, 0, &r), 200);
	assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
	buf_free(&r.body);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	assert_true(json_is_string(json_object_get(j, "next_cursor")));
	json_decref(j);

	/* Without a fresh quote for 3 intervals the node falls to none. */
	{
		unsigned marked = 0;

		assert_int_equal(freshness_sweep(g.vc.store, 10000, 3,
		    (int64_t)time(NULL) + 25, &marked), 0);
		snprintf(path, sizeof(path), "/v1/nodes/%s", a.id);
		req("GET", path, g.op, NULL, 0, &r);
		assert_non_null(strstr((char *)r.body.data,
		    "\"status\":\"contraindicated\""));
		buf_free(&r.body);
		assert_int_equal(freshness_sweep(g.vc.store, 10000, 3,
		    (int64_t)time(NULL) + 31, &marked), 0);
		assert_true(marked >= 1);
		req("GET", path, g.op, NULL, 0, &r);
		assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
		buf_free(&r.body);
		assert_string_equal(json_string_value(json_object_get(j,
		    "status")), "none");
		assert_non_null(strstr(json_string_value(json_array_get(
		    json_object_get(json_object_get(j, "appraisal"),
		    "reasons"), 0)), "no fresh quote for 3 intervals"));
		json_decref(j);
	}
	/* Another agent may not register the same AK. */
	{
		struct agent b = a;

		assert_int_equal(swek_new(g.tpm_ca_key, g.tpm_ca, &b.ek), 0);
		agent_register(&b, 409);
		swek_free(b.ek);
	}
	/* A new AK for an active agent needs the operator's approval. */
	{
		struct agent c = a;

		assert_int_equal(swquote_new(&c.sq), 0);
		agent_register(&c, 409);
		snprintf(path, sizeof(path), "/v1/nodes/%s/re-enrol", a.id);
		req("POST", path, g.tenant, "", 0, &r);
		assert_problem(&r, 403, "forbidden", NULL);
		assert_int_equal(req("POST", path, g.op, "", 0, &r), 200);
		assert_non_null(strstr((char *)r.body.data,
		    "\"reenrol_approved\":true"));
		buf_free(&r.body);
		agent_register(&c, 200);
		swquote_free(c.sq);
	}
	buf_free(&log);
	swquote_free(a.sq);
	swek_free(a.ek);
}

static void
test_http_register_refuses_ek_cert_from_unknown_ca(void **state)
{
	EVP_PKEY *k;
	X509 *x;
	struct agent a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(swek_test_ca("Rogue CA", &k, &x), 0);
	assert_int_equal(swek_new(k, x, &a.ek), 0);
	assert_int_equal(swquote_new(&a.sq), 0);
	agent_register(&a, 403);
	swquote_free(a.sq);
	swek_free(a.ek);
	EVP_PKEY_free(k);
	X509_free(x);
}

/* Registration with the EKs and certificates of a provisioned swtpm
 * (read with tpm2-tools), the AK a software one: the EK chain through
 * swtpm's local CA and MakeCredential for RSA and ECC P-384 EKs. */
static void
register_tpm_ek(uint32_t ek_handle, uint32_t cert_nv)
{
	Vigil__RegisterRequest rq = VIGIL__REGISTER_REQUEST__INIT;
	Vigil__RegisterResponse *rs;
	char cmd[512], pubf[128], certf[128];
	uint8_t *ekb = NULL, *cert = NULL, ak[1024], body[8192];
	size_t ekl = 0, certl = 0, akl, n;
	struct swquote *sq;
	TPM2B_PUBLIC pub;
	struct reply r;

	snprintf(pubf, sizeof(pubf), "%s/ek-%x.pub", g.dir, ek_handle);
	snprintf(certf, sizeof(certf), "%s/ek-%x.der", g.dir, ek_handle);
	snprintf(cmd, sizeof(cmd), "TPM2TOOLS_TCTI='%s' tpm2_readpublic -c "
	    "0x%x -o %s >/dev/null 2>&1 && TPM2TOOLS_TCTI='%s' tpm2_nvread "
	    "0x%x -o %s >/dev/null 2>&1", getenv("VIGIL_TEST_TCTI"),
	    ek_handle, pubf, getenv("VIGIL_TEST_TCTI"), cert_nv, certf);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(file_read(pubf, 4096, &ekb, &ekl), 0);
	assert_int_equal(file_read(certf, 8192, &cert, &certl), 0);
	assert_int_equal(swquote_new(&sq), 0);
	assert_int_equal(swquote_ak_public(sq, &pub), 0);
	assert_int_equal(tpm_public_marshal(&pub, ak, sizeof(ak), &akl), 0);
	swquote_free(sq);
	rq.ek_public.data = ekb;
	rq.ek_public.len = ekl;
	rq.ek_cert.data = cert;
	rq.ek_cert.len = certl;
	rq.ak_public.data = ak;
	rq.ak_public.len = akl;
	rq.hostname = "swtpm-node";
	n = vigil__register_request__pack(&rq, body);
	if (req("POST", "/v1/agents", NULL, body, n, &r) != 200)
		fail_msg("register: %ld %s", r.status, (char *)r.body.data);
	assert_non_null(rs = vigil__register_response__unpack(NULL,
	    r.body.len, r.body.data));
	assert_int_equal(strlen(rs->agent_id), 64);
	assert_true(rs->credential_blob.len > 2);
	assert_true(rs->encrypted_secret.len > 2);
	vigil__register_response__free_unpacked(rs, NULL);
	buf_free(&r.body);
	free(ekb);
	free(cert);
}

static void
test_http_registers_swtpm_rsa_and_ecc_eks(void **state)
{
	if (getenv("VIGIL_TEST_TCTI") == NULL ||
	    getenv("VIGIL_TEST_CA_DIR") == NULL)
		skip();
	register_tpm_ek(0x81010001, 0x01c00002);
	register_tpm_ek(0x81010016, 0x01c00016);
}

static void
test_http_nonce_for_unknown_agent_is_404(void **state)
{
	struct reply r;

	req("POST", "/v1/agents/"
	    "0000000000000000000000000000000000000000000000000000000000000001"
	    "/nonce", NULL, "", 0, &r);
	assert_problem(&r, 404, "unknown-agent", "register first");
}

static void
test_http_router_table_is_well_formed(void **state)
{
	const struct http_route *rt;
	char id[130];
	size_t i;

	for (i = 0; i < http_routes_n; i++) {
		assert_non_null(http_routes[i].fn);
		assert_true(http_routes[i].pattern[0] == '/');
		assert_true(http_routes[i].body_max > 0);
	}
	assert_int_equal(http_route_find("GET", "/v1/nodes/abc/appraisals",
	    &rt, id, sizeof(id)), 0);
	assert_string_equal(id, "abc");
	assert_ptr_equal(rt->fn, routes_nodes_appraisals);
	assert_int_equal(http_route_find("GET", "/v1/nodes/a/b", &rt, id,
	    sizeof(id)), VIGIL_ENOTFOUND);
	assert_int_equal(http_route_find("GET", "/v1/nodes/../x", &rt, id,
	    sizeof(id)), VIGIL_ENOTFOUND);
	assert_int_equal(http_route_find("PUT", "/v1/nodes", &rt, id,
	    sizeof(id)), VIGIL_EDENIED);
}

static void
test_http_openapi_document_names_every_route(void **state)
{
	struct reply r;
	json_t *j, *paths, *p;
	char method[8];
	size_t i, k;

	assert_int_equal(req("GET", "/v1/openapi.json", NULL, NULL, 0, &r),
	    200);
	assert_non_null(j = json_loads((char *)r.body.data, 0, NULL));
	buf_free(&r.body);
	paths = json_object_get(j, "paths");
	for (i = 0; i < http_routes_n; i++) {
		p = json_object_get(paths, http_routes[i].pattern);
		if (p == NULL)
			fail_msg("openapi lacks path %s",
			    http_routes[i].pattern);
		for (k = 0; http_routes[i].method[k] && k < 7; k++)
			method[k] = (char)(http_routes[i].method[k] | 0x20);
		method[k] = '\0';
		if (json_object_get(p, method) == NULL)
			fail_msg("openapi lacks %s %s", method,
			    http_routes[i].pattern);
	}
	json_decref(j);
}

/* GET /ui/ and its files (routes_ui.c): the compiled-in bytes, the type by
 * suffix, the security headers on every answer; an unknown file is a 404
 * problem; a matching If-None-Match is 304. */
static size_t
ui_on_header(char *p, size_t sz, size_t n, void *u)
{
	if (buf_add(u, p, sz * n) != 0)
		return 0;
	return sz * n;
}

static long
ui_get(const char *path, const char *inm, struct buf *hdr, struct reply *r)
{
	struct curl_slist *h = NULL;
	char url[512], line[128];
	const char *ct = NULL;
	CURL *c;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ui_on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, hdr);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (inm != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %s", inm);
		h = curl_slist_append(h, line);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	buf_add_u8(hdr, 0);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

static void
test_http_ui_files_have_csp_nosniff_and_types(void **state)
{
	static const struct {
		const char *path, *file, *type;
	} want[] = {
		{ "/ui/", "index.html", "text/html; charset=utf-8" },
		{ "/ui/app.js", "app.js", "text/javascript; charset=utf-8" },
		{ "/ui/style.css", "style.css", "text/css; charset=utf-8" },
	};
	const struct ui_file *f;
	struct buf hdr = BUF_INIT;
	struct reply r;
	char csp[1024];
	size_t i;

	snprintf(csp, sizeof(csp), "Content-Security-Policy: %s\r\n",
	    routes_ui_csp);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(f = routes_ui_find(want[i].file));
		assert_int_equal(ui_get(want[i].path, NULL, &hdr, &r), 200);
		assert_string_equal(r.ctype, want[i].type);
		assert_int_equal(r.body.len, f->len);
		assert_memory_equal(r.body.data, f->data, f->len);
		assert_non_null(strstr((char *)hdr.data, csp));
		assert_non_null(strstr((char *)hdr.data,
		    "X-Content-Type-Options: nosniff\r\n"));
		assert_non_null(strstr((char *)hdr.data,
		    "X-Frame-Options: DENY\r\n"));
		buf_free(&hdr);
		buf_free(&r.body);
		/* Revalidation: the same bytes answer 304. */
		assert_int_equal(ui_get(want[i].path, f->etag, &hdr, &r), 304);
		buf_free(&hdr);
		buf_free(&r.body);
	}
	assert_non_null(strstr(routes_ui_csp, "default-src 'self'"));
	assert_non_null(strstr(routes_ui_csp, "frame-ancestors 'none'"));
	assert_null(strstr(routes_ui_csp, "unsafe-inline"));
	assert_int_equal(ui_get("/ui/evil.js", NULL, &hdr, &r), 404);
	assert_string_equal(r.ctype, "application/problem+json");
	assert_non_null(strstr((char *)r.body.data,
	    "the dashboard has no file evil.js"));
	buf_free(&hdr);
	buf_free(&r.body);
	assert_int_equal(ui_get("/ui", NULL, &hdr, &r), 301);
	assert_non_null(strstr((char *)hdr.data, "Location: /ui/\r\n"));
	buf_free(&hdr);
	buf_free(&r.body);
	/* A file of an unknown type is not served even if compiled in. */
	assert_null(routes_ui_type("embed.sh"));
}

/* Without any config the verifier serves the document it was built with,
 * byte for byte docs/openapi.json (no file installed anywhere). */
static void
test_http_openapi_is_built_in_and_equals_docs(void **state)
{
	struct reply r;
	uint8_t *doc = NULL;
	size_t len = 0;

	assert_string_equal(g.cfg.openapi, "");
	assert_int_equal(file_read("docs/openapi.json", 4 * 1024 * 1024, &doc,
	    &len), 0);
	assert_int_equal(req("GET", "/v1/openapi.json", NULL, NULL, 0, &r),
	    200);
	assert_string_equal(r.ctype, "application/json");
	assert_int_equal(r.body.len, len);
	assert_memory_equal(r.body.data, doc, len);
	buf_free(&r.body);
	free(doc);
}

/* [server] openapi overrides the built-in copy; an override that cannot be
 * read is a 500 naming the file, never the built-in copy instead. */
static void
test_http_openapi_override_file_and_unreadable_override(void **state)
{
	struct reply r;
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/openapi-local.json", g.dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("{\"openapi\": \"3.0.3\", \"local\": true}", f);
	fclose(f);
	snprintf(g.cfg.openapi, sizeof(g.cfg.openapi), "%s", path);
	assert_int_equal(req("GET", "/v1/openapi.json", NULL, NULL, 0, &r),
	    200);
	assert_string_equal((char *)r.body.data,
	    "{\"openapi\": \"3.0.3\", \"local\": true}");
	buf_free(&r.body);
	unlink(path);
	assert_int_equal(req("GET", "/v1/openapi.json", NULL, NULL, 0, &r),
	    500);
	assert_problem(&r, 500, "openapi-unreadable", path);
	g.cfg.openapi[0] = '\0';
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_healthz_and_readyz_answer),
		cmocka_unit_test(test_http_operator_route_needs_a_token),
		cmocka_unit_test(test_http_unknown_node_is_404),
		cmocka_unit_test(test_http_oversize_body_is_413),
		cmocka_unit_test(
		    test_http_garbage_protobuf_is_400_and_server_still_serves),
		cmocka_unit_test(test_http_reference_values_round_trip),
		cmocka_unit_test(
		    test_http_agent_registers_activates_and_pushes_evidence),
		cmocka_unit_test(
		    test_http_register_refuses_ek_cert_from_unknown_ca),
		cmocka_unit_test(test_http_registers_swtpm_rsa_and_ecc_eks),
		cmocka_unit_test(test_http_nonce_for_unknown_agent_is_404),
		cmocka_unit_test(test_http_router_table_is_well_formed),
		cmocka_unit_test(test_http_openapi_document_names_every_route),
		cmocka_unit_test(test_http_openapi_is_built_in_and_equals_docs),
		cmocka_unit_test(
		    test_http_openapi_override_file_and_unreadable_override),
		cmocka_unit_test(test_http_ui_files_have_csp_nosniff_and_types),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
