/* Agent routes (protobuf): registration, credential activation, nonces,
 * evidence. DESIGN.md "Flows" and "Trust chain" 1-3. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentca.h"
#include "buf.h"
#include "appraise_items.h"
#include "appraise_quote.h"
#include "routes_pse.h"
#include "routes_smm.h"
#include "routes_vms.h"
#include "ear.h"
#include "err.h"
#include "evbus.h"
#include "http.h"
#include "log.h"
#include "makecred.h"
#include "metrics.h"
#include "nonce.h"
#include "refvals.h"
#include "routes_computations.h"
#include "store.h"
#include "tpm_cas.h"
#include "tpm_parse.h"
#include "vigil.pb-c.h"

#define AGENTS_MAX_PUBLIC 1024
#define AGENTS_MAX_CERT 8192
#define AGENTS_MAX_CSR 16384
#define AGENTS_MAX_QUOTE 2048
#define AGENTS_MAX_SIG 1024
#define AGENTS_SECRET_LEN 32

static void
agents_bad(struct http_resp *resp, const char *route, const char *what)
{
	log_warn("%s: refused: %s", route, what);
	http_problem(resp, 400, "bad-request", "Malformed request", "%s",
	    what);
}

/* A protobuf message is strict when it carries no field this verifier
 * does not know. */
static int
agents_strict(const ProtobufCMessage *m)
{
	return m->n_unknown_fields == 0;
}

static int
agents_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 &&
	    len == SHA256_LEN ? 0 : VIGIL_ECRYPTO;
}

static int
agents_hostname_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (n == 0 || n > 255)
		return 0;
	for (i = 0; i < n; i++)
		if (h[i] < 0x21 || h[i] > 0x7e)
			return 0;
	return 1;
}

static void
agents_store_error(struct http_resp *resp, const char *what, int e)
{
	log_err("store: %s failed: %s", what, vigil_strerror(e));
	http_problem(resp, 503, "store", "Store unavailable", "%s failed: %s",
	    what, vigil_strerror(e));
}

static void
agents_refuse(struct http_resp *resp, unsigned status, const char *slug,
    const char *title, const char *check, const char *why)
{
	log_warn("register: refused: %s: %s", check, why);
	http_problem(resp, status, slug, title, "%s: %s", check, why);
}

/* The EK is exactly a TCG EK Credential Profile template: the same key in
 * another public area would be another agent id for the same TPM. */
static int
agents_ek_template(const TPM2B_PUBLIC *ek, struct http_resp *resp)
{
	const char *why = NULL;
	unsigned t = 0;

	if (tpm_ek_template(ek, &t, &why) == 0)
		return 0;
	if (t == 0) {
		log_warn("register: refused: EK template: the EK public area "
		    "matches no TCG EK Credential Profile template: %s", why);
		http_problem(resp, 400, "ek-template", "EK refused",
		    "EK template: the EK public area matches no TCG EK "
		    "Credential Profile template (L-1, L-2, H-1, H-2, H-3): %s",
		    why);
	} else {
		log_warn("register: refused: EK template: the EK public area "
		    "is not template %s (%s): %s", tpm_ek_template_name(t),
		    tpm_ek_template_desc(t), why);
		http_problem(resp, 400, "ek-template", "EK refused",
		    "EK template: the EK public area is not TCG EK Credential "
		    "Profile template %s (%s): %s", tpm_ek_template_name(t),
		    tpm_ek_template_desc(t), why);
	}
	return VIGIL_EVERIFY;
}

/* The identity checks of registration (DESIGN.md, trust chain 1), in
 * order; 0, or the refusal in resp. */
static int
agents_register_verify(struct vctx *vc, const Vigil__RegisterRequest *m,
    struct http_resp *resp, TPM2B_PUBLIC *ek, TPM2B_PUBLIC *ak)
{
	const char *why = NULL;
	char chain[1024];

	if (tpm_public_parse(m->ek_public.data, m->ek_public.len, ek) != 0) {
		agents_refuse(resp, 400, "ek", "Bad EK", "EK public",
		    "not a marshaled TPM2B_PUBLIC");
		return VIGIL_EVERIFY;
	}
	if (agents_ek_template(ek, resp) != 0)
		return VIGIL_EVERIFY;
	if (m->ek_cert.len == 0) {
		agents_refuse(resp, 403, "ek-cert", "EK certificate refused",
		    "EK certificate", "none was sent: the TPM holds none in "
		    "NV and the agent was given none ([agent] ek_cert_file)");
		return VIGIL_EVERIFY;
	}
	if (tpm_cas_verify(vc->tpm_cas, m->ek_cert.data, m->ek_cert.len,
	    chain, sizeof(chain)) != 0) {
		agents_refuse(resp, 403, "ek-cert", "EK certificate refused",
		    "EK certificate does not chain to a trusted TPM vendor CA "
		    "([attestation] tpm_ca, tpm_ca_dir)", chain);
		return VIGIL_EVERIFY;
	}
	why = NULL;
	if (tpm_ek_matches_cert(ek, m->ek_cert.data, m->ek_cert.len,
	    &why) != 0) {
		agents_refuse(resp, 403, "ek-cert", "EK certificate refused",
		    "EK certificate does not certify this EK",
		    why ? why : "key differs");
		return VIGIL_EVERIFY;
	}
	if (tpm_public_parse(m->ak_public.data, m->ak_public.len, ak) != 0) {
		agents_refuse(resp, 400, "ak", "Bad AK", "AK public",
		    "not a marshaled TPM2B_PUBLIC");
		return VIGIL_EVERIFY;
	}
	why = NULL;
	if (tpm_ak_check(ak, &why) != 0) {
		agents_refuse(resp, 400, "ak", "Bad AK", "AK attributes",
		    why ? why : "refused");
		return VIGIL_EVERIFY;
	}
	return 0;
}

/* No other active agent has this EK key or certificate. 0, or the
 * refusal in resp. */
static int
agents_register_ek_unique(struct vctx *vc, const struct agent_rec *rec,
    struct http_resp *resp)
{
	char other[65], fp[2 * SHA256_LEN + 1];
	int e, cert = 0;

	e = store_agent_by_ek(vc->store, rec->id, rec->ek_key_fp,
	    rec->ek_cert_fp, other, &cert);
	if (e == VIGIL_ENOTFOUND)
		return 0;
	if (e != 0) {
		agents_store_error(resp, "EK lookup", e);
		return e;
	}
	hex_encode(cert ? rec->ek_cert_fp : rec->ek_key_fp, SHA256_LEN, fp);
	log_warn("register: refused: EK uniqueness: agent=%s: the %s "
	    "(SHA-256 %s) belongs to active agent %s", rec->id,
	    cert ? "EK certificate" : "EK key", fp, other);
	http_problem(resp, 409, "ek-in-use", "EK already registered",
	    "EK uniqueness: this %s (SHA-256 %s) belongs to active agent %s; "
	    "one TPM registers one agent", cert ? "EK certificate" : "EK key",
	    fp, other);
	return VIGIL_EEXIST;
}

/* The AK is not another agent's, and an active agent keeps its AK unless
 * an operator approved re-enrolment. 0, or the refusal in resp. */
static int
agents_register_unique(struct vctx *vc, const char *id,
    const TPM2B_NAME *name, const Vigil__RegisterRequest *m,
    struct http_resp *resp, int *have_old)
{
	struct agent_rec old;
	char other[65];
	int e;

	*have_old = 0;
	e = store_agent_by_ak_name(vc->store, name->name, name->size, other);
	if (e == 0 && strcmp(other, id) != 0) {
		agents_refuse(resp, 409, "ak-in-use", "AK already registered",
		    "AK uniqueness", "this AK is registered to another agent");
		return VIGIL_EEXIST;
	}
	if (e != 0 && e != VIGIL_ENOTFOUND) {
		agents_store_error(resp, "AK lookup", e);
		return e;
	}
	memset(&old, 0, sizeof(old));
	e = store_agent_get(vc->store, id, &old);
	if (e == VIGIL_ENOTFOUND)
		return 0;
	if (e != 0) {
		agents_store_error(resp, "agent lookup", e);
		return e;
	}
	*have_old = 1;
	if (old.state == AGENT_ACTIVE && !old.reenrol_approved &&
	    (old.ak_pub_len != m->ak_public.len || memcmp(old.ak_pub,
	    m->ak_public.data, old.ak_pub_len) != 0)) {
		agents_refuse(resp, 409, "reenrol", "Re-enrolment not approved",
		    "identity", "an active agent registered with another AK; "
		    "an operator must approve re-enrolment "
		    "(POST /v1/nodes/{id}/re-enrol)");
		e = VIGIL_EEXIST;
	}
	agent_rec_free(&old);
	return e;
}

static int
agents_register_reply(struct http_resp *resp, const char *id,
    const uint8_t *cred, size_t credlen, const uint8_t *sec, size_t seclen)
{
	Vigil__RegisterResponse out = VIGIL__REGISTER_RESPONSE__INIT;
	uint8_t *packed;
	size_t plen;
	int e;

	out.agent_id = (char *)id;
	out.credential_blob.data = (uint8_t *)cred;
	out.credential_blob.len = credlen;
	out.encrypted_secret.data = (uint8_t *)sec;
	out.encrypted_secret.len = seclen;
	plen = vigil__register_response__get_packed_size(&out);
	if ((packed = malloc(plen)) == NULL)
		return VIGIL_ENOMEM;
	vigil__register_response__pack(&out, packed);
	e = http_proto(resp, packed, plen);
	free(packed);
	return e;
}

int
routes_agents_register(struct http_req *req, struct http_resp *resp)
{
	Vigil__RegisterRequest *m = NULL;
	struct vctx *vc = req->vc;
	struct agent_rec rec;
	TPM2B_PUBLIC ek, ak;
	TPM2B_NAME name;
	TPM2B_ID_OBJECT cred;
	TPM2B_ENCRYPTED_SECRET esec;
	uint8_t secret[AGENTS_SECRET_LEN], credb[sizeof(TPM2B_ID_OBJECT)];
	uint8_t secb[sizeof(TPM2B_ENCRYPTED_SECRET)];
	size_t credlen = 0, seclen = 0;
	int64_t retry_s = 0;
	int e, have_old = 0;

	memset(&rec, 0, sizeof(rec));
	m = vigil__register_request__unpack(NULL, req->body_len, req->body);
	if (m == NULL || !agents_strict(&m->base)) {
		agents_bad(resp, "register", "RegisterRequest is not a "
		    "valid protobuf message");
		goto done;
	}
	if (m->ek_public.len == 0 || m->ek_public.len > AGENTS_MAX_PUBLIC ||
	    m->ak_public.len == 0 || m->ak_public.len > AGENTS_MAX_PUBLIC ||
	    m->ek_cert.len > AGENTS_MAX_CERT) {
		agents_bad(resp, "register", "ek_public or ak_public is "
		    "empty or over its size limit, or ek_cert over its "
		    "size limit");
		goto done;
	}
	if (!agents_hostname_ok(m->hostname)) {
		agents_bad(resp, "register", "hostname must be 1-255 "
		    "printable characters without spaces");
		goto done;
	}
	if (agents_register_verify(vc, m, resp, &ek, &ak) != 0)
		goto done;
	if ((e = tpm_agent_id(&ek, rec.id)) != 0 ||
	    (e = tpm_public_name(&ak, &name)) != 0 ||
	    (e = tpm_public_key_fp(&ek, rec.ek_key_fp)) != 0 ||
	    (e = agents_sha256(m->ek_cert.data, m->ek_cert.len,
	    rec.ek_cert_fp)) != 0)
		goto fail;
	rec.have_ek_key_fp = rec.have_ek_cert_fp = 1;
	if (agents_register_ek_unique(vc, &rec, resp) != 0 ||
	    agents_register_unique(vc, rec.id, &name, m, resp, &have_old) != 0)
		goto done;
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		e = VIGIL_ECRYPTO;
		goto fail;
	}
	if ((e = makecred(&ek, &name, secret, sizeof(secret), &cred,
	    &esec)) != 0 ||
	    (e = makecred_marshal(&cred, &esec, credb, sizeof(credb),
	    &credlen, secb, sizeof(secb), &seclen)) != 0)
		goto fail;
	snprintf(rec.hostname, sizeof(rec.hostname), "%s", m->hostname);
	rec.state = AGENT_PENDING;
	rec.ek_pub = m->ek_public.data;
	rec.ek_pub_len = m->ek_public.len;
	rec.ek_cert = m->ek_cert.data;
	rec.ek_cert_len = m->ek_cert.len;
	rec.ak_pub = m->ak_public.data;
	rec.ak_pub_len = m->ak_public.len;
	memcpy(rec.ak_name, name.name, name.size);
	rec.ak_name_len = name.size;
	rec.created_at = (int64_t)time(NULL);
	if ((e = agents_sha256(secret, sizeof(secret), rec.secret_hash)) != 0)
		goto fail;
	e = store_agent_register(vc->store, &rec, &retry_s);
	if (e == VIGIL_EEXIST) {
		agents_refuse(resp, 409, "reenrol", "Re-enrolment not approved",
		    "identity", "the agent is active with another AK, or its AK "
		    "is another agent's; an operator must approve re-enrolment "
		    "(POST /v1/nodes/{id}/re-enrol)");
		goto done;
	}
	if (e == VIGIL_ETOOBIG) {
		log_warn("register: refused: agent=%s has %d registrations "
		    "waiting for activation", rec.id, STORE_ACTIVATIONS_MAX);
		http_problem(resp, 429, "activations", "Too many registrations",
		    "agent %s has %d registrations waiting for their "
		    "activation (the limit); the oldest expires in %lld s",
		    rec.id, STORE_ACTIVATIONS_MAX, (long long)retry_s);
		goto done;
	}
	if (e != 0) {
		agents_store_error(resp, "registering the agent", e);
		goto done;
	}
	if ((e = agents_register_reply(resp, rec.id, credb, credlen, secb,
	    seclen)) != 0)
		goto fail;
	log_info("register: agent=%s hostname=%s pending activation%s",
	    rec.id, m->hostname, have_old ? " (re-registration: the agent's "
	    "record changes only when this one is activated)" : "");
	goto done;
 fail:
	log_err("register: internal failure: %s", vigil_strerror(e));
	http_problem(resp, 500, "internal", "Internal error",
	    "registration failed: %s", vigil_strerror(e));
 done:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (m != NULL)
		vigil__register_request__free_unpacked(m, NULL);
	return 0;
}

/* The agent named by the path, which must exist (404) and, when
 * want_active, be active (409). 0 or a refusal already in resp. */
static int
agents_get(struct http_req *req, struct http_resp *resp, int want_active,
    struct agent_rec *a, const char *route)
{
	int e;

	if ((e = store_agent_get(req->vc->store, req->id, a)) ==
	    VIGIL_ENOTFOUND) {
		log_warn("%s: refused: unknown agent %.70s", route, req->id);
		http_problem(resp, 404, "unknown-agent", "Unknown agent",
		    "no agent with id %.70s; register first", req->id);
		return e;
	}
	if (e != 0) {
		agents_store_error(resp, "agent lookup", e);
		return e;
	}
	if (want_active && a->state != AGENT_ACTIVE) {
		log_warn("%s: refused: agent=%s is pending activation", route,
		    a->id);
		http_problem(resp, 409, "pending", "Agent not activated",
		    "agent %s has not completed credential activation",
		    a->id);
		return VIGIL_EDENIED;
	}
	return 0;
}

static void
agents_activate_refused(struct http_resp *resp, const struct agent_rec *a)
{
	log_warn("activate: refused: agent=%s credential secret matches no "
	    "registration waiting for activation", a->id);
	http_problem(resp, 403, "credential", "Activation refused",
	    "the credential secret matches no registration of agent %s "
	    "waiting for activation (issued at registration, valid %d s)",
	    a->id, STORE_ACTIVATION_TTL_S);
}

/* The appraisal an approved re-enrolment starts with: nothing appraised
 * with the new AK yet, and the pins of the old boot chain dropped. */
static int
agents_reenrol_appraisal(struct appraisal *ap)
{
	struct ear e;

	ear_init(&e);
	e.force_none = 1;
	ear_reason(&e, "re-enrolled (approved by an operator): no quote "
	    "appraised with the new identity yet");
	return ear_to_appraisal(&e, (int64_t)time(NULL), ap);
}

/* Completes the registration whose secret hashes to h (store.h); 0, or
 * the refusal in resp. On 0 *a is re-read: the record as activated. */
static int
agents_activate_commit(struct vctx *vc, struct http_resp *resp,
    struct agent_rec *a, const uint8_t h[SHA256_LEN],
    struct agent_activation *act)
{
	struct appraisal ap;
	char id[65];
	int e;

	memset(&ap, 0, sizeof(ap));
	if ((e = agents_reenrol_appraisal(&ap)) != 0) {
		agents_store_error(resp, "building the appraisal", e);
		return e;
	}
	e = store_agent_activate(vc->store, a->id, h, &ap, act);
	ear_appraisal_free(&ap);
	if (e == VIGIL_EDENIED) {
		agents_activate_refused(resp, a);
		return e;
	}
	if (e == VIGIL_EEXIST) {
		log_warn("activate: refused: agent=%s: %s", a->id, act->why);
		http_problem(resp, 409, "identity", "Activation refused", "%s",
		    act->why);
		return e;
	}
	if (e != 0) {
		agents_store_error(resp, "activating the agent", e);
		return e;
	}
	snprintf(id, sizeof(id), "%s", a->id);
	agent_rec_free(a);
	if ((e = store_agent_get(vc->store, id, a)) != 0) {
		agents_store_error(resp, "re-reading the agent", e);
		return e;
	}
	return 0;
}

int
routes_agents_activate(struct http_req *req, struct http_resp *resp)
{
	Vigil__ActivateRequest *m = NULL;
	Vigil__ActivateResponse out = VIGIL__ACTIVATE_RESPONSE__INIT;
	struct vctx *vc = req->vc;
	struct agent_activation act;
	struct agent_rec a;
	uint8_t h[SHA256_LEN], nonce[NONCE_LEN], *cert = NULL, *packed = NULL;
	size_t certlen = 0, plen;
	int e;

	memset(&a, 0, sizeof(a));
	m = vigil__activate_request__unpack(NULL, req->body_len, req->body);
	if (m == NULL || !agents_strict(&m->base)) {
		agents_bad(resp, "activate", "ActivateRequest is not a "
		    "valid protobuf message");
		goto done;
	}
	if (agents_get(req, resp, 0, &a, "activate") != 0)
		goto done;
	if (m->secret.len != AGENTS_SECRET_LEN ||
	    agents_sha256(m->secret.data, m->secret.len, h) != 0) {
		agents_activate_refused(resp, &a);
		goto done;
	}
	if (vc->ca != NULL) {
		e = VIGIL_EINVAL;
		if (m->csr.len > 0 && m->csr.len <= AGENTS_MAX_CSR)
			e = agentca_issue(vc->ca, m->csr.data, m->csr.len,
			    a.id, &cert, &certlen);
		if (e == VIGIL_EINVAL) {
			agents_bad(resp, "activate", "csr is missing, "
			    "malformed or its self-signature does not verify");
			goto done;
		}
		if (e != 0) {
			http_problem(resp, 500, "internal", "Internal error",
			    "issuing the client certificate failed");
			goto done;
		}
	}
	if (agents_activate_commit(vc, resp, &a, h, &act) != 0)
		goto done;
	if ((e = nonce_issue(vc->nonces, a.id, nonce)) != 0) {
		http_problem(resp, 500, "internal", "Internal error",
		    "nonce: %s", vigil_strerror(e));
		goto done;
	}
	out.client_cert.data = cert;
	out.client_cert.len = certlen;
	out.nonce.data = nonce;
	out.nonce.len = NONCE_LEN;
	out.interval_ms = vc->cfg->interval_ms;
	plen = vigil__activate_response__get_packed_size(&out);
	if ((packed = malloc(plen)) == NULL)
		goto done;
	vigil__activate_response__pack(&out, packed);
	http_proto(resp, packed, plen);
	log_info("activate: agent=%s hostname=%s active%s%s", a.id,
	    a.hostname, act.reenrolled ? ", re-enrolled (approved), status "
	    "none until its next quote" : "",
	    cert ? ", client certificate issued" : "");
 done:
	free(cert);
	free(packed);
	agent_rec_free(&a);
	if (m != NULL)
		vigil__activate_request__free_unpacked(m, NULL);
	return 0;
}

static int
agents_nonce_reply(struct http_req *req, struct http_resp *resp,
    const char *id)
{
	Vigil__NonceResponse out = VIGIL__NONCE_RESPONSE__INIT;
	uint8_t nonce[NONCE_LEN], packed[128];
	size_t plen;
	int e;

	if ((e = nonce_issue(req->vc->nonces, id, nonce)) != 0)
		return e;
	out.nonce.data = nonce;
	out.nonce.len = NONCE_LEN;
	out.interval_ms = req->vc->cfg->interval_ms;
	plen = vigil__nonce_response__get_packed_size(&out);
	if (plen > sizeof(packed))
		return VIGIL_ETOOBIG;
	vigil__nonce_response__pack(&out, packed);
	return http_proto(resp, packed, plen);
}

int
routes_agents_nonce(struct http_req *req, struct http_resp *resp)
{
	struct agent_rec a;
	int e = 0;

	memset(&a, 0, sizeof(a));
	if (req->body_len != 0) {
		agents_bad(resp, "nonce", "the nonce request has an "
		    "empty body");
		return 0;
	}
	if (agents_get(req, resp, 1, &a, "nonce") == 0)
		e = agents_nonce_reply(req, resp, a.id);
	agent_rec_free(&a);
	return e;
}

/* ---- evidence ---- */

/* Size checks of an Evidence message and its items; chunks and gaps
 * decoded into items[] (chunks[] and gaps[] keep the unpacked messages
 * alive). VIGIL_ETOOBIG for a chunk over [limits] evlog_chunk_max_bytes,
 * VIGIL_EINVAL otherwise. */
static int
agents_evidence_items(const Vigil__Evidence *ev, struct item_in *items,
    Vigil__EventLogChunk **chunks, Vigil__Gap **gaps, struct smm_push *smm,
    size_t chunk_max, char *why, size_t whylen)
{
	const Vigil__EvidenceItem *it;
	Vigil__Gap *gap;
	size_t i;

	for (i = 0; i < ev->n_items; i++) {
		it = ev->items[i];
		if (!agents_strict(&it->base)) {
			snprintf(why, whylen, "item %zu has unknown fields", i);
			return VIGIL_EINVAL;
		}
		if (it->seq == 0 || (i > 0 && (it->epoch !=
		    ev->items[i - 1]->epoch || it->seq <=
		    ev->items[i - 1]->seq))) {
			snprintf(why, whylen, "item %zu: sequence numbers must "
			    "start at 1 and increase within one epoch", i);
			return VIGIL_EINVAL;
		}
		items[i].epoch = it->epoch;
		items[i].seq = it->seq;
		items[i].kind = (uint32_t)it->kind;
		items[i].body = it->body.data;
		items[i].body_len = it->body.len;
		switch (it->kind) {
		case VIGIL__ITEM_KIND__ITEM_EVENT_LOG:
			chunks[i] = vigil__event_log_chunk__unpack(NULL,
			    it->body.len, it->body.data);
			if (chunks[i] == NULL || !agents_strict(
			    &chunks[i]->base) || chunks[i]->data.len == 0) {
				snprintf(why, whylen, "item %zu (seq %llu): "
				    "not a valid EventLogChunk", i,
				    (unsigned long long)it->seq);
				return VIGIL_EINVAL;
			}
			if (chunks[i]->data.len > chunk_max) {
				snprintf(why, whylen, "item %zu (seq %llu): "
				    "event log chunk of %zu bytes, over the "
				    "limit ([limits] evlog_chunk_max_bytes = "
				    "%zu)", i, (unsigned long long)it->seq,
				    chunks[i]->data.len, chunk_max);
				return VIGIL_ETOOBIG;
			}
			if (chunks[i]->log != VIGIL__EVENT_LOG_ID__LOG_FIRMWARE &&
			    chunks[i]->log != VIGIL__EVENT_LOG_ID__LOG_RUNTIME) {
				snprintf(why, whylen, "item %zu (seq %llu): "
				    "event log chunk of unknown log %d", i,
				    (unsigned long long)it->seq,
				    (int)chunks[i]->log);
				return VIGIL_EINVAL;
			}
			items[i].log = (uint32_t)chunks[i]->log;
			items[i].boot_count = chunks[i]->boot_count;
			items[i].offset = chunks[i]->offset;
			items[i].chunk = chunks[i]->data.data;
			items[i].chunk_len = chunks[i]->data.len;
			break;
		case VIGIL__ITEM_KIND__ITEM_GAP:
			gap = vigil__gap__unpack(NULL, it->body.len,
			    it->body.data);
			if (gap == NULL || !agents_strict(&gap->base) ||
			    gap->first_seq > gap->last_seq) {
				if (gap != NULL)
					vigil__gap__free_unpacked(gap, NULL);
				snprintf(why, whylen, "item %zu (seq %llu): "
				    "not a valid Gap", i,
				    (unsigned long long)it->seq);
				return VIGIL_EINVAL;
			}
			gaps[i] = gap;
			items[i].gap_first = gap->first_seq;
			items[i].gap_last = gap->last_seq;
			items[i].gap_reason = gap->reason;
			break;
		case VIGIL__ITEM_KIND__ITEM_CHECKPOINT:
		case VIGIL__ITEM_KIND__ITEM_COMPUTATION_END:
			/* appraised after the commit (routes_comp_evidence) */
			break;
		case VIGIL__ITEM_KIND__ITEM_VM_ATTESTATION:
			/* appraised after the commit (routes_vms_evidence) */
			break;
		case VIGIL__ITEM_KIND__ITEM_SMM_LOG:
			/* appraised with the quote (routes_smm_appraise) */
			if (routes_smm_item(smm, i, it, why, whylen) != 0)
				return VIGIL_EINVAL;
			break;
		default:
			snprintf(why, whylen, "item %zu: unknown kind %d", i,
			    (int)it->kind);
			return VIGIL_EINVAL;
		}
	}
	return 0;
}

static int
agents_evlog_get(void *ctx, const char *agent_id, uint32_t log,
    uint32_t boot, uint8_t **out, size_t *len)
{
	return store_evlog_get(ctx, agent_id, log, boot, out, len);
}

static int
agents_evidence_reply(struct http_req *req, struct http_resp *resp,
    const char *id, const struct evidence_result *er,
    const struct ear *ear, struct smm_push *smm)
{
	Vigil__EvidenceReply out = VIGIL__EVIDENCE_REPLY__INIT;
	struct routes_vms_reply *vms = NULL;
	char *reasons[EAR_MAX_REASONS];
	uint8_t nonce[NONCE_LEN], *packed;
	size_t i, plen;
	int e;

	if ((e = nonce_issue(req->vc->nonces, id, nonce)) != 0)
		return e;
	for (i = 0; i < ear->n_reasons; i++)
		reasons[i] = (char *)ear->reasons[i];
	out.acked_epoch = er->acked_epoch;
	out.acked_seq = er->acked_seq;
	out.next_nonce.data = nonce;
	out.next_nonce.len = NONCE_LEN;
	out.interval_ms = req->vc->cfg->interval_ms;
	out.status = (char *)ear_tier_name(ear_status(ear));
	out.n_reasons = ear->n_reasons;
	out.reasons = reasons;
	routes_smm_reply(req->vc, id, ear_status(ear), smm, &out);
	if (routes_vms_reply_fill(req->vc, id, &out, &vms) != 0)
		log_warn("evidence: agent=%s VM work not added to the reply",
		    id);
	plen = vigil__evidence_reply__get_packed_size(&out);
	if ((packed = malloc(plen)) == NULL) {
		free(out.smm_wrapped_keys);
		routes_vms_reply_free(vms);
		return VIGIL_ENOMEM;
	}
	vigil__evidence_reply__pack(&out, packed);
	free(out.smm_wrapped_keys);
	routes_vms_reply_free(vms);
	e = http_proto(resp, packed, plen);
	free(packed);
	return e;
}

/* After the commit: an event (and a log line) for an item stored as a
 * conflict and for a new spool gap; a log line for a refused chunk. */
static void
agents_item_event(struct vctx *vc, const char *id, const struct item_in *it,
    enum item_outcome oc)
{
	const char *kind = appraise_item_kind_name(it->kind);
	json_t *d = NULL;
	char *data = NULL;

	if (oc == ITEM_REFUSED) {
		log_warn("evidence: agent=%s event log chunk epoch=%llu "
		    "seq=%llu (boot %u, offset %llu, %zu bytes) refused, not "
		    "stored (reasons of the appraisal say why)", id,
		    (unsigned long long)it->epoch,
		    (unsigned long long)it->seq, it->boot_count,
		    (unsigned long long)it->offset, it->chunk_len);
		return;
	}
	if (oc == ITEM_CONFLICT) {
		log_warn("evidence: agent=%s item epoch=%llu seq=%llu (%s) "
		    "resent with different content (kept as a conflict)", id,
		    (unsigned long long)it->epoch,
		    (unsigned long long)it->seq, kind);
		d = json_pack("{s:s, s:I, s:I, s:s, s:s}", "node", id,
		    "epoch", (json_int_t)it->epoch, "seq",
		    (json_int_t)it->seq, "kind", kind, "reason",
		    "resent with different content");
	} else if (oc == ITEM_NEW && it->kind == STORE_ITEM_GAP) {
		log_warn("evidence: agent=%s spool reports a gap: items "
		    "%llu-%llu of epoch %llu dropped (%.100s)", id,
		    (unsigned long long)it->gap_first,
		    (unsigned long long)it->gap_last,
		    (unsigned long long)it->epoch,
		    it->gap_reason ? it->gap_reason : "");
		d = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "node", id,
		    "epoch", (json_int_t)it->epoch, "seq",
		    (json_int_t)it->seq, "first_seq",
		    (json_int_t)it->gap_first, "last_seq",
		    (json_int_t)it->gap_last, "reason",
		    it->gap_reason ? it->gap_reason : "");
	}
	if (d == NULL)
		return;
	if ((data = json_dumps(d, JSON_COMPACT)) != NULL)
		(void)events_emit(vc->store, oc == ITEM_CONFLICT ?
		    "evidence.conflict" : "evidence.gap", id, NULL, data);
	free(data);
	json_decref(d);
}

/* Stores the outcome: items, appraisal and quote state in one job when
 * the quote held; the appraisal alone otherwise. */
static int
agents_evidence_commit(struct http_req *req, struct http_resp *resp,
    const struct agent_rec *a, const struct item_in *items, size_t n,
    struct appraise_out *ao, const struct refvals *refs, int64_t refs_version,
    struct evidence_result *er)
{
	struct evidence_commit c;
	struct appraisal ap;
	enum item_outcome *outc = NULL;
	int64_t version = 0;
	size_t i;
	int e;

	if ((e = ear_to_appraisal(&ao->ear, (int64_t)time(NULL), &ap)) != 0)
		return e;
	if (!ao->quote_ok) {
		if ((e = store_appraisal_add(req->vc->store, a->id, &ap)) != 0)
			agents_store_error(resp, "storing the appraisal", e);
		goto out;
	}
	if (n > 0 && (outc = calloc(n, sizeof(*outc))) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.agent_id = a->id;
	c.bundle = req->body;
	c.bundle_len = req->body_len;
	c.items = items;
	c.n_items = n;
	c.qs = &ao->qs;
	c.appraisal = &ap;
	er->outcomes = outc;
	if ((e = store_commit_evidence(req->vc->store, &c, er)) != 0) {
		agents_store_error(resp, "committing evidence", e);
		goto out;
	}
	routes_comp_evidence(req->vc, a, items, n, outc, &ao->qs,
	    ear_tier_name(ear_status(&ao->ear)));
	routes_vms_evidence(req->vc, a, items, n, outc,
	    ear_tier_name(ear_status(&ao->ear)), ao->quote_ok);
	for (i = 0; i < n; i++)
		agents_item_event(req->vc, a->id, &items[i], outc[i]);
	if (ao->learnt_doc != NULL) {
		/* VIGIL_ESTALE: a newer document named every learnt PCR
		 * (logged); it stands. */
		e = refvals_learn_store(req->vc->store, a->id, refs,
		    refs_version, ao->learnt_doc, &version);
		if (e != 0 && e != VIGIL_ESTALE)
			log_err("evidence: agent=%s storing learnt reference "
			    "values failed: %s", a->id, vigil_strerror(e));
		else if (e == 0)
			log_warn("reference-values: version %lld learnt on "
			    "first use from agent=%s", (long long)version,
			    a->id);
		e = 0;
	}
 out:
	er->outcomes = NULL;
	free(outc);
	ear_appraisal_free(&ap);
	return e;
}

/* What the appraisal compares with: the last accepted quote state and
 * the latest reference document. 0, or the failure in resp. */
static int
agents_evidence_context(struct vctx *vc, const char *id,
    struct http_resp *resp, struct quote_state *prev, int *have_prev,
    struct refvals **refs, int64_t *version)
{
	char why[200], *doc = NULL;
	int e;

	*have_prev = 0;
	*refs = NULL;
	*version = 0;
	e = store_quote_state_get(vc->store, id, prev);
	if (e == 0)
		*have_prev = 1;
	else if (e != VIGIL_ENOTFOUND) {
		agents_store_error(resp, "reading the quote state", e);
		return e;
	}
	e = store_refvals_get(vc->store, &doc, version);
	if (e == VIGIL_ENOTFOUND) {
		*version = 0;
		return 0;
	}
	if (e != 0) {
		agents_store_error(resp, "reading reference values", e);
		return e;
	}
	e = refvals_parse(doc, strlen(doc), refs, why, sizeof(why));
	free(doc);
	if (e != 0) {
		log_err("reference-values: stored version %lld does not "
		    "parse: %s", (long long)*version, why);
		http_problem(resp, 500, "internal", "Internal error",
		    "stored reference values do not parse");
	}
	return e;
}

/* The Evidence message, strictly: no unknown fields, sizes within the
 * limits. NULL with the refusal in resp. */
static Vigil__Evidence *
agents_evidence_unpack(struct http_req *req, struct http_resp *resp)
{
	Vigil__Evidence *ev;
	const char *why = NULL;
	size_t i;

	ev = vigil__evidence__unpack(NULL, req->body_len, req->body);
	if (ev == NULL || !agents_strict(&ev->base))
		why = "Evidence is not a valid protobuf message";
	else if (ev->quote.len == 0 || ev->quote.len > AGENTS_MAX_QUOTE ||
	    ev->signature.len == 0 || ev->signature.len > AGENTS_MAX_SIG ||
	    ev->n_pcrs > PCR_COUNT)
		why = "quote, signature or pcrs empty or over their limits";
	else if (ev->n_items > req->vc->cfg->evidence_max_items) {
		log_warn("evidence: refused: agent=%s %zu items, over [limits] "
		    "evidence_max_items = %u", req->id, ev->n_items,
		    req->vc->cfg->evidence_max_items);
		http_problem(resp, 413, "too-large", "Too many items",
		    "the push holds %zu items, over the limit ([limits] "
		    "evidence_max_items = %u); send fewer at a time",
		    ev->n_items, req->vc->cfg->evidence_max_items);
		vigil__evidence__free_unpacked(ev, NULL);
		return NULL;
	}
	for (i = 0; why == NULL && i < ev->n_pcrs; i++)
		if (!agents_strict(&ev->pcrs[i]->base))
			why = "a PcrValue has unknown fields";
	if (why == NULL)
		return ev;
	agents_bad(resp, "evidence", why);
	if (ev != NULL)
		vigil__evidence__free_unpacked(ev, NULL);
	return NULL;
}

int
routes_agents_evidence(struct http_req *req, struct http_resp *resp)
{
	Vigil__Evidence *ev = NULL;
	Vigil__EventLogChunk **chunks = NULL;
	Vigil__Gap **gaps = NULL;
	enum item_outcome *known = NULL;
	struct item_in *items = NULL;
	struct vctx *vc = req->vc;
	struct evidence_result er;
	struct appraise_in in;
	struct appraise_out ao;
	struct quote_state prev;
	struct refvals *refs = NULL;
	int64_t refs_version = 0;
	struct agent_rec a;
	struct smm_push smm;
	struct timespec t0, t1;
	char why[200], joined[1024];
	size_t i;
	int e, have_prev = 0, have_out = 0;

	memset(&a, 0, sizeof(a));
	memset(&er, 0, sizeof(er));
	memset(&smm, 0, sizeof(smm));
	if ((ev = agents_evidence_unpack(req, resp)) == NULL)
		goto done;
	if ((e = routes_smm_push_init(&smm, ev->n_items)) != 0)
		goto fail;
	if (agents_get(req, resp, 1, &a, "evidence") != 0)
		goto done;
	if (ev->n_items > 0 && ((items = calloc(ev->n_items,
	    sizeof(*items))) == NULL || (chunks = calloc(ev->n_items,
	    sizeof(*chunks))) == NULL || (gaps = calloc(ev->n_items,
	    sizeof(*gaps))) == NULL || (known = calloc(ev->n_items,
	    sizeof(*known))) == NULL)) {
		e = VIGIL_ENOMEM;
		goto fail;
	}
	if ((e = agents_evidence_items(ev, items, chunks, gaps, &smm,
	    vc->cfg->evlog_chunk_max_bytes, why, sizeof(why))) != 0) {
		if (e != VIGIL_ETOOBIG)
			agents_bad(resp, "evidence", why);
		else {
			log_warn("evidence: refused: agent=%s %s", a.id, why);
			http_problem(resp, 413, "too-large", "Item too large",
			    "%s", why);
		}
		goto done;
	}
	if (agents_evidence_context(vc, a.id, resp, &prev, &have_prev,
	    &refs, &refs_version) != 0)
		goto done;
	if ((e = store_items_known(vc->store, a.id, items, ev->n_items,
	    known)) != 0) {
		agents_store_error(resp, "reading the items' keys", e);
		goto done;
	}
	memset(&in, 0, sizeof(in));
	in.agent = &a;
	in.ev = ev;
	in.items = items;
	in.n_items = ev->n_items;
	in.prev = have_prev ? &prev : NULL;
	in.refs = refs;
	in.nonces = vc->nonces;
	in.evlog_get = agents_evlog_get;
	in.evlog_ctx = vc->store;
	in.learn = vc->cfg->learn_refvals;
	in.now = (int64_t)time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = appraise_quote(&in, &ao);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_observe(METRICS_APPRAISAL, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (e != 0)
		goto fail;
	have_out = 1;
	if (ao.nonce_err == 0 &&
	    ((e = routes_smm_appraise(vc, a.id, refs, ev, &ao, &smm)) != 0 ||
	    (e = routes_pse_appraise(vc, a.id, refs, &ao)) != 0))
		goto fail;
	if (ao.quote_ok) {
		appraise_items(items, ev->n_items, known, &ao.ear);
		for (i = 0; ao.fate != NULL && i < ev->n_items; i++) {
			items[i].refused = ao.fate[i] == CHUNK_REFUSED;
			items[i].no_log = ao.fate[i] == CHUNK_OLD_BOOT;
		}
	}
	ear_reasons_join(&ao.ear, joined, sizeof(joined));
	if (ao.nonce_err != 0) {
		log_warn("evidence: refused: agent=%s check=nonce %s", a.id,
		    joined);
		http_problem(resp, 409, "nonce", "Nonce refused",
		    "%s; ask POST /v1/agents/%s/nonce for a fresh one",
		    ao.ear.reasons[0], a.id);
		goto done;
	}
	log_info("appraisal agent=%s status=%s reasons=%s", a.id,
	    ear_tier_name(ear_status(&ao.ear)), joined[0] ? joined : "-");
	if (!ao.quote_ok)
		log_warn("evidence: refused: agent=%s quote not accepted, "
		    "%zu item(s) not stored: %s", a.id, ev->n_items, joined);
	if (agents_evidence_commit(req, resp, &a, items, ev->n_items, &ao,
	    refs, refs_version, &er) != 0)
		goto done;
	if (ao.quote_ok && routes_smm_commit(vc, a.id, &smm) != 0) {
		agents_store_error(resp, "committing the SMM chain state",
		    VIGIL_EDB);
		goto done;
	}
	if ((e = agents_evidence_reply(req, resp, a.id, &er, &ao.ear,
	    &smm)) != 0)
		goto fail;
	goto done;
 fail:
	log_err("evidence: internal failure: %s", vigil_strerror(e));
	http_problem(resp, 500, "internal", "Internal error",
	    "evidence handling failed: %s", vigil_strerror(e));
 done:
	if (have_out)
		appraise_out_free(&ao);
	refvals_free(refs);
	if (chunks != NULL)
		for (i = 0; i < ev->n_items; i++)
			if (chunks[i] != NULL)
				vigil__event_log_chunk__free_unpacked(
				    chunks[i], NULL);
	free(chunks);
	if (gaps != NULL)
		for (i = 0; i < ev->n_items; i++)
			if (gaps[i] != NULL)
				vigil__gap__free_unpacked(gaps[i], NULL);
	free(gaps);
	free(known);
	free(items);
	routes_smm_push_free(&smm);
	agent_rec_free(&a);
	if (ev != NULL)
		vigil__evidence__free_unpacked(ev, NULL);
	return 0;
}
