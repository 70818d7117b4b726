/* Registration, activation and the push loop. The TPM is opened for each
 * operation and closed right after, so tpm2-tools and the node's other
 * services can use it between pushes. Every reply from the verifier is
 * decoded and checked here before anything of it is used. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attest.h"
#include "buf.h"
#include "checkpoint.h"
#include "ekcert.h"
#include "err.h"
#include "evlog.h"
#include "localsock.h"
#include "log.h"
#include "pcrs.h"
#include "push.h"
#include "rd.h"
#include "smm.h"
#include "spool.h"
#include "tpm.h"
#include "vigil.pb-c.h"
#include "vmlink.h"
#include "valid.h"

#define ATTEST_NONCE_MIN	16
#define ATTEST_NONCE_MAX	64
#define ATTEST_BLOB_MAX		4096	/* credential blob, encrypted secret */
#define ATTEST_CERT_MAX		16384
/* Room kept in a request for the quote, signature and PCR values. */
#define ATTEST_REQUEST_MARGIN	(64u * 1024)

/* Outcomes of one step that are not errors of the agent. */
#define ATTEST_RETRY_NOW	1	/* re-register or new nonce: go on */

struct attest {
	const struct agent_config *cfg;
	volatile sig_atomic_t *stop;
	struct spool *spool;
	struct push *push;
	char agent_id[65];
	uint8_t nonce[ATTEST_NONCE_MAX];
	size_t nonce_len;
	uint32_t interval_ms;
	char status[32];
	int evlog_missing_logged[2];	/* per log: firmware, runtime */
	int evlog_shrunk_logged[2];
	struct buf smm_head;		/* vigil-smmd's head for this push */
	pthread_mutex_t mu;		/* guards shared */
	struct localsock_status shared;
	int push_soon;			/* VM attestations spooled: push now */
};

uint32_t
attest_backoff_ms(unsigned attempt, uint32_t rnd)
{
	const uint64_t cap = ATTEST_BACKOFF_MAX_MS / 3 * 2;
	uint64_t base = ATTEST_BACKOFF_MIN_MS;

	while (attempt-- > 0 && base < cap)
		base *= 2;
	if (base > cap)
		base = cap;
	return (uint32_t)(base + (base / 2) * rnd / UINT32_MAX);
}

/* Sleeps ms in short slices so a stop request is seen within 100 ms. */
static void
attest_sleep(struct attest *a, uint32_t ms)
{
	struct timespec ts = { 0, 100 * 1000000L };
	uint32_t slept;

	for (slept = 0; slept < ms && !*a->stop; slept += 100)
		nanosleep(&ts, NULL);
}

static void
attest_publish(struct attest *a, int pushed)
{
	uint64_t pending = 0;

	if (spool_count(a->spool, &pending) != 0)
		pending = 0;
	pthread_mutex_lock(&a->mu);
	snprintf(a->shared.agent_id, sizeof(a->shared.agent_id), "%s",
	    a->agent_id);
	snprintf(a->shared.status, sizeof(a->shared.status), "%s", a->status);
	a->shared.spool_pending = pending;
	a->shared.spool_epoch = spool_epoch(a->spool);
	if (pushed)
		a->shared.last_push_unix = (uint64_t)time(NULL);
	pthread_mutex_unlock(&a->mu);
}

static int
attest_status_cb(void *arg, struct localsock_status *out)
{
	struct attest *a = arg;

	pthread_mutex_lock(&a->mu);
	*out = a->shared;
	pthread_mutex_unlock(&a->mu);
	return 0;
}

static int
attest_state_path(const struct attest *a, const char *name, char *out,
    size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s", a->cfg->state_dir, name) >=
	    cap)
		return VIGIL_EINVAL;
	return 0;
}

/* Agent id = lowercase hex SHA-256 of the EK's marshaled TPMT_PUBLIC (the
 * TPM2B_PUBLIC without its size). */
static int
attest_agent_id(const struct buf *ek_pub, char out[65])
{
	const uint8_t *area;
	uint8_t md[SHA256_LEN];
	unsigned int mdlen = 0;
	struct rd r;
	uint16_t size;

	rd_init(&r, ek_pub->data, ek_pub->len);
	if (rd_u16be(&r, &size) != 0 || rd_bytes(&r, size, &area) != 0 ||
	    r.left != 0 || size == 0) {
		log_err("register: EK public area from the TPM is malformed "
		    "(len=%zu)", ek_pub->len);
		return VIGIL_EINVAL;
	}
	if (EVP_Digest(area, size, md, &mdlen, EVP_sha256(), NULL) != 1)
		return VIGIL_ECRYPTO;
	hex_encode(md, sizeof(md), out);
	return 0;
}


static void
attest_log_refusal(const char *what, const struct push_reply *rep)
{
	char d[800];

	push_reply_describe(rep, d, sizeof(d));
	log_err("%s: refused by verifier: %s", what, d);
}

static int
attest_set_nonce(struct attest *a, const ProtobufCBinaryData *n,
    uint32_t interval_ms, const char *what)
{
	if (n->len < ATTEST_NONCE_MIN || n->len > ATTEST_NONCE_MAX) {
		log_err("%s: verifier nonce of %zu bytes, want %d..%d", what,
		    n->len, ATTEST_NONCE_MIN, ATTEST_NONCE_MAX);
		return VIGIL_EINVAL;
	}
	memcpy(a->nonce, n->data, n->len);
	a->nonce_len = n->len;
	if (interval_ms != 0) {
		if (interval_ms < ATTEST_INTERVAL_MIN_MS)
			interval_ms = ATTEST_INTERVAL_MIN_MS;
		if (interval_ms > ATTEST_INTERVAL_MAX_MS)
			interval_ms = ATTEST_INTERVAL_MAX_MS;
		if (interval_ms != a->interval_ms)
			log_info("interval_ms=%" PRIu32, interval_ms);
		a->interval_ms = interval_ms;
	}
	return 0;
}

/* A new P-256 key, written to state_dir/agent.key (0600), and a DER
 * PKCS#10 request for it with CN = agent id. */
static int
attest_make_csr(struct attest *a, struct buf *csr_der)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name;
	BIO *bio = NULL;
	BUF_MEM *mem;
	unsigned char *p;
	char path[1100];
	int n, e = VIGIL_ECRYPTO;

	if ((e = attest_state_path(a, ATTEST_KEY_FILE, path, sizeof(path)))
	    != 0)
		return e;
	e = VIGIL_ECRYPTO;
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    (name = X509_REQ_get_subject_name(req)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)a->agent_id, -1, -1, 0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		log_err("activate: creating the client key and CSR failed");
		goto out;
	}
	if ((n = i2d_X509_REQ(req, NULL)) <= 0 ||
	    (e = buf_reserve(csr_der, (size_t)n)) != 0)
		goto out;
	p = csr_der->data;
	if (i2d_X509_REQ(req, &p) != n) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	csr_der->len = (size_t)n;
	e = VIGIL_ECRYPTO;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	if ((e = file_write_atomic(path, mem->data, mem->length)) != 0) {
		log_err("activate: cannot write path=%s: %s", path,
		    vigil_strerror(e));
		goto out;
	}
	e = 0;
 out:
	BIO_free(bio);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return e;
}

/* Checks the returned certificate against our key and stores it as PEM. */
static int
attest_store_cert(struct attest *a, const ProtobufCBinaryData *der)
{
	const unsigned char *p = der->data;
	char kpath[1100], cpath[1100];
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem;
	FILE *f = NULL;
	int e;

	if ((e = attest_state_path(a, ATTEST_KEY_FILE, kpath, sizeof(kpath)))
	    != 0 ||
	    (e = attest_state_path(a, ATTEST_CERT_FILE, cpath, sizeof(cpath)))
	    != 0)
		return e;
	if (der->len == 0) {
		(void)unlink(cpath);	/* an old one names an old key */
		return 0;
	}
	e = VIGIL_EINVAL;
	if (der->len > ATTEST_CERT_MAX ||
	    (cert = d2i_X509(NULL, &p, (long)der->len)) == NULL ||
	    p != der->data + der->len) {
		log_err("activate: client_cert is not one DER certificate "
		    "(len=%zu)", der->len);
		goto out;
	}
	if ((f = fopen(kpath, "re")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL ||
	    X509_check_private_key(cert, key) != 1) {
		log_err("activate: client_cert does not match path=%s", kpath);
		goto out;
	}
	e = VIGIL_ECRYPTO;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, cert) != 1)
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	if ((e = file_write_atomic(cpath, mem->data, mem->length)) != 0) {
		log_err("activate: cannot write path=%s", cpath);
		goto out;
	}
	e = push_set_client_cert(a->push, cpath, kpath);
 out:
	if (f != NULL)
		fclose(f);
	BIO_free(bio);
	EVP_PKEY_free(key);
	X509_free(cert);
	return e;
}

static int
attest_tpm_identity(struct attest *a, struct buf *ek_pub, struct buf *ek_cert,
    struct buf *ak_pub)
{
	struct tpm *t = NULL;
	int e;

	if ((e = tpm_open(a->cfg->tcti, &t)) != 0) {
		log_err("register: cannot open the TPM tcti=%s",
		    a->cfg->tcti);
		return e;
	}
	if ((e = tpm_ek_public(t, a->cfg->ek, ek_pub)) != 0)
		log_err("register: reading the EK failed: %s",
		    vigil_strerror(e));
	else if ((e = ekcert_get(t, a->cfg->ek, a->cfg->ek_cert_file, ek_pub,
	    ek_cert)) != 0 && e != VIGIL_ENOTFOUND)
		log_err("register: reading the EK certificate failed: %s",
		    vigil_strerror(e));
	else if ((e = tpm_ak_ensure(t, a->cfg->ek, ak_pub)) != 0)
		log_err("register: the AK is unavailable: %s",
		    vigil_strerror(e));
	tpm_close(t);
	return e;
}

/* POST /v1/agents. On success a->agent_id is set; cred and sec hold the
 * credential blob and encrypted secret. */
static int
attest_register(struct attest *a, struct buf *cred, struct buf *sec)
{
	Vigil__RegisterRequest req = VIGIL__REGISTER_REQUEST__INIT;
	Vigil__RegisterResponse *res = NULL;
	struct buf ek_pub = BUF_INIT, ek_cert = BUF_INIT, ak_pub = BUF_INIT;
	struct buf body = BUF_INIT;
	struct push_reply rep;
	char id[65];
	int e;

	memset(&rep, 0, sizeof(rep));
	if ((e = attest_tpm_identity(a, &ek_pub, &ek_cert, &ak_pub)) != 0 ||
	    (e = attest_agent_id(&ek_pub, id)) != 0)
		goto out;
	req.ek_public.data = ek_pub.data;
	req.ek_public.len = ek_pub.len;
	req.ek_cert.data = ek_cert.data;
	req.ek_cert.len = ek_cert.len;
	req.ak_public.data = ak_pub.data;
	req.ak_public.len = ak_pub.len;
	req.hostname = (char *)a->cfg->hostname;
	if ((e = buf_reserve(&body,
	    vigil__register_request__get_packed_size(&req))) != 0)
		goto out;
	body.len = vigil__register_request__pack(&req, body.data);
	if ((e = push_post(a->push, "/v1/agents", body.data, body.len,
	    &rep)) != 0)
		goto out;
	if (rep.status != 200 && rep.status != 201) {
		attest_log_refusal("register", &rep);
		e = VIGIL_EDENIED;
		goto out;
	}
	e = VIGIL_EINVAL;
	if ((res = vigil__register_response__unpack(NULL, rep.body.len,
	    rep.body.data)) == NULL) {
		log_err("register: reply is not a RegisterResponse "
		    "(bytes=%zu)", rep.body.len);
		goto out;
	}
	if (!valid_lowerhex(res->agent_id, 64) || strcmp(res->agent_id, id)
	    != 0) {
		log_err("register: verifier's agent id does not match the "
		    "EK: want=%s", id);
		goto out;
	}
	if (res->credential_blob.len == 0 ||
	    res->credential_blob.len > ATTEST_BLOB_MAX ||
	    res->encrypted_secret.len == 0 ||
	    res->encrypted_secret.len > ATTEST_BLOB_MAX) {
		log_err("register: credential_blob len=%zu or "
		    "encrypted_secret len=%zu outside 1..%d",
		    res->credential_blob.len, res->encrypted_secret.len,
		    ATTEST_BLOB_MAX);
		goto out;
	}
	if ((e = buf_add(cred, res->credential_blob.data,
	    res->credential_blob.len)) != 0 ||
	    (e = buf_add(sec, res->encrypted_secret.data,
	    res->encrypted_secret.len)) != 0)
		goto out;
	memcpy(a->agent_id, id, sizeof(id));
	log_info("register: accepted agent_id=%s ek=%s hostname=%s", id,
	    tpm_ek_kind_name(a->cfg->ek), a->cfg->hostname);
 out:
	vigil__register_response__free_unpacked(res, NULL);
	push_reply_free(&rep);
	buf_free(&body);
	buf_free(&ek_pub);
	buf_free(&ek_cert);
	buf_free(&ak_pub);
	return e;
}

/* Register, activate the credential, send the CSR. */
static int
attest_enrol(struct attest *a)
{
	Vigil__ActivateRequest req = VIGIL__ACTIVATE_REQUEST__INIT;
	Vigil__ActivateResponse *res = NULL;
	struct buf cred = BUF_INIT, sec = BUF_INIT, secret = BUF_INIT;
	struct buf csr = BUF_INIT, body = BUF_INIT;
	struct push_reply rep;
	struct tpm *t = NULL;
	char path[128];
	int e;

	memset(&rep, 0, sizeof(rep));
	a->agent_id[0] = '\0';
	a->nonce_len = 0;
	if ((e = attest_register(a, &cred, &sec)) != 0)
		goto out;
	if ((e = tpm_open(a->cfg->tcti, &t)) != 0) {
		log_err("activate: cannot open the TPM tcti=%s", a->cfg->tcti);
		goto out;
	}
	e = tpm_activate(t, a->cfg->ek, cred.data, cred.len, sec.data,
	    sec.len, &secret);
	tpm_close(t);
	if (e != 0) {
		log_err("activate: TPM2_ActivateCredential failed: %s",
		    vigil_strerror(e));
		goto out;
	}
	if ((e = attest_make_csr(a, &csr)) != 0)
		goto out;
	req.secret.data = secret.data;
	req.secret.len = secret.len;
	req.csr.data = csr.data;
	req.csr.len = csr.len;
	if ((e = buf_reserve(&body,
	    vigil__activate_request__get_packed_size(&req))) != 0)
		goto out;
	body.len = vigil__activate_request__pack(&req, body.data);
	snprintf(path, sizeof(path), "/v1/agents/%s/activate", a->agent_id);
	if ((e = push_post(a->push, path, body.data, body.len, &rep)) != 0)
		goto out;
	if (rep.status != 200 && rep.status != 201) {
		attest_log_refusal("activate", &rep);
		e = VIGIL_EDENIED;
		goto out;
	}
	if ((res = vigil__activate_response__unpack(NULL, rep.body.len,
	    rep.body.data)) == NULL) {
		log_err("activate: reply is not an ActivateResponse "
		    "(bytes=%zu)", rep.body.len);
		e = VIGIL_EINVAL;
		goto out;
	}
	if ((e = attest_set_nonce(a, &res->nonce, res->interval_ms,
	    "activate")) != 0 ||
	    (e = attest_store_cert(a, &res->client_cert)) != 0 ||
	    (e = spool_meta_set(a->spool, "agent_id", a->agent_id)) != 0)
		goto out;
	log_info("activate: done agent_id=%s client_cert=%s", a->agent_id,
	    res->client_cert.len ? "stored" : "none");
 out:
	if (e != 0) {
		a->agent_id[0] = '\0';
		a->nonce_len = 0;
	}
	vigil__activate_response__free_unpacked(res, NULL);
	push_reply_free(&rep);
	buf_free(&cred);
	buf_free(&sec);
	if (secret.data != NULL)
		memset(secret.data, 0, secret.len);
	buf_free(&secret);
	buf_free(&csr);
	buf_free(&body);
	return e;
}

/* The verifier no longer knows us: forget the id and register again. */
static int
attest_forget_id(struct attest *a, const char *what)
{
	log_warn("%s: verifier does not know agent_id=%s, registering again",
	    what, a->agent_id);
	a->agent_id[0] = '\0';
	a->nonce_len = 0;
	(void)spool_meta_del(a->spool, "agent_id");
	return ATTEST_RETRY_NOW;
}

/* 401 client-certificate: our mTLS certificate is missing, expired or no
 * longer from the verifier's agent CA (rotated). Registering and
 * activating again (same EK and AK) gets a new one. */
static int
attest_cert_refused(struct attest *a, const struct push_reply *rep,
    const char *what)
{
	if (rep->status != 401 || !rep->is_problem ||
	    strstr(rep->problem_type, "client-certificate") == NULL)
		return 0;
	log_warn("%s: verifier refused our client certificate (%s); "
	    "registering again for a new one", what, rep->problem_detail);
	a->agent_id[0] = '\0';
	a->nonce_len = 0;
	(void)spool_meta_del(a->spool, "agent_id");
	return 1;
}

/* POST /v1/agents/{id}/nonce. */
static int
attest_fetch_nonce(struct attest *a)
{
	Vigil__NonceResponse *res = NULL;
	struct push_reply rep;
	char path[128];
	int e;

	snprintf(path, sizeof(path), "/v1/agents/%s/nonce", a->agent_id);
	if ((e = push_post(a->push, path, NULL, 0, &rep)) != 0)
		return e;
	if (rep.status == 404) {
		e = attest_forget_id(a, "nonce");
		goto out;
	}
	if (attest_cert_refused(a, &rep, "nonce")) {
		e = ATTEST_RETRY_NOW;
		goto out;
	}
	if (rep.status != 200) {
		attest_log_refusal("nonce", &rep);
		e = VIGIL_EDENIED;
		goto out;
	}
	if ((res = vigil__nonce_response__unpack(NULL, rep.body.len,
	    rep.body.data)) == NULL) {
		log_err("nonce: reply is not a NonceResponse (bytes=%zu)",
		    rep.body.len);
		e = VIGIL_EINVAL;
		goto out;
	}
	e = attest_set_nonce(a, &res->nonce, res->interval_ms, "nonce");
 out:
	vigil__nonce_response__free_unpacked(res, NULL);
	push_reply_free(&rep);
	return e;
}

/* New bytes of one of the node's logs (which: 0 the firmware log at
 * event_log, 1 the runtime log at runtime_log) of this boot into the
 * spool. A missing firmware log is logged (once while it stays missing);
 * a missing runtime log is a node whose Vigil services measured nothing
 * (yet). The push goes on. */
static void
attest_collect_evlog(struct attest *a, uint32_t which, uint32_t boot_count)
{
	const char *path = which ? a->cfg->runtime_log : a->cfg->event_log;
	const char *what = which ? "rtlog" : "evlog";
	uint8_t *log = NULL;
	uint64_t added = 0;
	size_t len = 0;
	int e;

	if (path[0] == '\0')
		return;
	e = file_read(path, EVLOG_MAX_SIZE, &log, &len);
	if (e != 0) {
		if (!a->evlog_missing_logged[which] &&
		    (which == 0 || e != VIGIL_ENOTFOUND))
			log_warn("%s: cannot read path=%s: %s", what, path,
			    vigil_strerror(e));
		a->evlog_missing_logged[which] = 1;
		return;
	}
	a->evlog_missing_logged[which] = 0;
	e = spool_evlog_collect(a->spool, which, boot_count, log, len, &added);
	if (e == VIGIL_EINVAL) {
		if (!a->evlog_shrunk_logged[which])
			log_err("%s: path=%s is shorter (len=%zu) than what "
			    "was already spooled for boot_count=%" PRIu32
			    " (log replaced within one boot?); not sent",
			    what, path, len, boot_count);
		a->evlog_shrunk_logged[which] = 1;
	} else if (e != 0)
		log_err("%s: spooling path=%s failed: %s", what, path,
		    vigil_strerror(e));
	if (e != VIGIL_EINVAL)
		a->evlog_shrunk_logged[which] = 0;
	if (e == 0 && added > 0)
		log_info("%s: spooled bytes=%" PRIu64 " boot_count=%" PRIu32
		    " total=%zu", what, added, boot_count, len);
	free(log);
}

/* The boot count (resetCount) from the TPM, then the new event-log bytes
 * of this boot into the spool. Runs before every push attempt, also while
 * the verifier is unreachable, so the spool keeps filling. */
static int
attest_collect(struct attest *a)
{
	struct tpm *t = NULL;
	uint32_t reset_count, restart_count;
	uint64_t clock;
	int e;

	if ((e = tpm_open(a->cfg->tcti, &t)) != 0) {
		log_err("evlog: cannot open the TPM tcti=%s", a->cfg->tcti);
		return e;
	}
	e = tpm_read_clock(t, &clock, &reset_count, &restart_count);
	tpm_close(t);
	if (e != 0) {
		log_err("evlog: TPM2_ReadClock failed: %s", vigil_strerror(e));
		return e;
	}
	attest_collect_evlog(a, 0, reset_count);
	attest_collect_evlog(a, 1, reset_count);
	return 0;
}

/* The quote over the current nonce, made now, at send time. */
static int
attest_quote(struct attest *a, struct buf *att, struct buf *sig,
    struct pcrs *vals)
{
	struct tpm *t = NULL;
	int e;

	if ((e = tpm_open(a->cfg->tcti, &t)) != 0) {
		log_err("quote: cannot open the TPM tcti=%s", a->cfg->tcti);
		return e;
	}
	if ((e = tpm_quote(t, a->nonce, a->nonce_len, PCR_POLICY_MASK, att,
	    sig, vals)) != 0)
		log_err("quote: TPM2_Quote failed: %s", vigil_strerror(e));
	tpm_close(t);
	return e;
}

/* Builds an Evidence message with pending items up to the request size
 * bound; *unsent gets the sequence of the first pending item left out
 * (0: none was left out). */
static int
attest_build_evidence(struct attest *a, const struct buf *att,
    const struct buf *sig, const struct pcrs *vals, struct buf *out,
    uint64_t *unsent, size_t *nitems)
{
	Vigil__Evidence ev = VIGIL__EVIDENCE__INIT;
	Vigil__PcrValue pv[PCR_COUNT], *pvp[PCR_COUNT];
	Vigil__EvidenceItem *iv = NULL, **ivp = NULL;
	struct spool_item *items = NULL;
	size_t n = 0, i, used = ATTEST_REQUEST_MARGIN;
	int e;

	*unsent = 0;
	*nitems = 0;
	ev.nonce.data = a->nonce;
	ev.nonce.len = a->nonce_len;
	ev.quote.data = att->data;
	ev.quote.len = att->len;
	ev.signature.data = sig->data;
	ev.signature.len = sig->len;
	ev.smm_head.data = a->smm_head.data;
	ev.smm_head.len = a->smm_head.len;
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(vals->mask & (1u << i)))
			continue;
		vigil__pcr_value__init(&pv[ev.n_pcrs]);
		pv[ev.n_pcrs].index = (uint32_t)i;
		pv[ev.n_pcrs].digest.data = (uint8_t *)vals->v[i];
		pv[ev.n_pcrs].digest.len = SHA256_LEN;
		pvp[ev.n_pcrs] = &pv[ev.n_pcrs];
		ev.n_pcrs++;
	}
	ev.pcrs = pvp;
	if ((e = spool_pending(a->spool, ATTEST_MAX_ITEMS, &items, &n)) != 0)
		goto out;
	if (n > 0 && ((iv = calloc(n, sizeof(*iv))) == NULL ||
	    (ivp = calloc(n, sizeof(*ivp))) == NULL)) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (used + items[i].len + 64 > PUSH_MAX_REQUEST) {
			*unsent = items[i].seq;
			break;
		}
		used += items[i].len + 64;
		vigil__evidence_item__init(&iv[i]);
		iv[i].epoch = items[i].epoch;
		iv[i].seq = items[i].seq;
		iv[i].kind = (Vigil__ItemKind)items[i].kind;
		iv[i].body.data = items[i].body;
		iv[i].body.len = items[i].len;
		ivp[i] = &iv[i];
	}
	if (i == n && n == ATTEST_MAX_ITEMS)
		*unsent = items[n - 1].seq + 1;	/* maybe more pending */
	ev.n_items = i;
	ev.items = ivp;
	*nitems = i;
	if ((e = buf_reserve(out, vigil__evidence__get_packed_size(&ev))) != 0)
		goto out;
	out->len = vigil__evidence__pack(&ev, out->data);
 out:
	free(ivp);
	free(iv);
	spool_items_free(items, n);
	return e;
}

static int
attest_status_ok(const char *s)
{
	return strcmp(s, "affirming") == 0 || strcmp(s, "warning") == 0 ||
	    strcmp(s, "contraindicated") == 0 || strcmp(s, "none") == 0;
}

static void
attest_note_status(struct attest *a, const Vigil__EvidenceReply *r)
{
	char reasons[1024] = "", *p;
	size_t i, used = 0;
	int n;

	if (!attest_status_ok(r->status)) {
		log_warn("evidence: verifier sent unknown status, ignored");
		return;
	}
	if (strcmp(r->status, a->status) == 0)
		return;
	for (i = 0; i < r->n_reasons && used < sizeof(reasons) - 1; i++) {
		n = snprintf(reasons + used, sizeof(reasons) - used, "%s%s",
		    i ? "; " : "", r->reasons[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	for (p = reasons; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	if (strcmp(r->status, "affirming") == 0)
		log_info("status %s -> %s%s%s", a->status[0] ? a->status :
		    "unknown", r->status, reasons[0] ? ": " : "", reasons);
	else
		log_warn("status %s -> %s%s%s", a->status[0] ? a->status :
		    "unknown", r->status, reasons[0] ? ": " : "", reasons);
	snprintf(a->status, sizeof(a->status), "%s", r->status);
	(void)spool_meta_set(a->spool, "status", a->status);
}

/* unsent: the first pending item not sent in this request (0: none). */
static int
attest_handle_reply(struct attest *a, const struct push_reply *rep,
    uint64_t unsent)
{
	Vigil__EvidenceReply *r;
	uint64_t acked;
	int e;

	if ((r = vigil__evidence_reply__unpack(NULL, rep->body.len,
	    rep->body.data)) == NULL) {
		log_err("evidence: reply is not an EvidenceReply (bytes=%zu)",
		    rep->body.len);
		a->nonce_len = 0;
		return VIGIL_EINVAL;
	}
	acked = r->acked_seq;
	if (unsent != 0 && acked >= unsent) {
		/* Never drop items the verifier cannot have seen. */
		log_warn("evidence: acked_seq=%" PRIu64 " covers unsent "
		    "seq=%" PRIu64 ", clamped", acked, unsent);
		acked = unsent - 1;
	}
	if (acked > 0 && r->acked_epoch == spool_epoch(a->spool))
		(void)spool_ack(a->spool, r->acked_epoch, acked);
	else if (acked > 0)
		log_warn("evidence: ack for epoch=%016" PRIx64 " not ours",
		    r->acked_epoch);
	attest_note_status(a, r);
	if (a->cfg->smm_socket[0] != '\0') {
		if (unsent == 0)
			agent_smm_rewind(a->spool, r->smm_next_seq);
		agent_smm_deliver(a->cfg->smm_socket, r);
	}
	a->push_soon = vmlink_deliver(a->cfg, a->spool, a->agent_id, r) > 0;
	if ((e = attest_set_nonce(a, &r->next_nonce, r->interval_ms,
	    "evidence")) != 0)
		a->nonce_len = 0;	/* ask for one next time */
	vigil__evidence_reply__free_unpacked(r, NULL);
	return 0;
}

static int
attest_nonce_refused(const struct push_reply *rep)
{
	size_t n = strlen(rep->problem_type);

	return rep->status == 409 ||
	    (n >= 5 && strcmp(rep->problem_type + n - 5, "nonce") == 0);
}

/* One quote and push. ATTEST_RETRY_NOW when the nonce was refused or the
 * agent must register again. */
static int
attest_push_once(struct attest *a)
{
	struct buf att = BUF_INIT, sig = BUF_INIT, body = BUF_INIT;
	struct push_reply rep;
	struct pcrs vals;
	uint64_t unsent;
	size_t nitems;
	char path[128];
	int e;

	memset(&rep, 0, sizeof(rep));
	memset(&vals, 0, sizeof(vals));
	/* SMM: the head signed for this push's nonce, and the entries up to
	 * it spooled; without them the push goes on (the verifier sees no
	 * SMM evidence and says so). */
	a->smm_head.len = 0;
	if (a->cfg->smm_socket[0] != '\0')
		(void)agent_smm_collect(a->cfg->smm_socket, a->spool, a->nonce,
		    a->nonce_len, &a->smm_head);
	if ((e = attest_quote(a, &att, &sig, &vals)) != 0 ||
	    (e = attest_build_evidence(a, &att, &sig, &vals, &body, &unsent,
	    &nitems)) != 0)
		goto out;
	/* The nonce is single-use whatever the answer. */
	a->nonce_len = 0;
	snprintf(path, sizeof(path), "/v1/agents/%s/evidence", a->agent_id);
	if ((e = push_post(a->push, path, body.data, body.len, &rep)) != 0)
		goto out;
	if (rep.status == 200) {
		e = attest_handle_reply(a, &rep, unsent);
		if (e == 0)
			log_debug("evidence: pushed items=%zu", nitems);
	} else if (rep.status == 404) {
		e = attest_forget_id(a, "evidence");
	} else if (attest_cert_refused(a, &rep, "evidence")) {
		e = ATTEST_RETRY_NOW;
	} else if (attest_nonce_refused(&rep)) {
		log_info("evidence: nonce refused (%ld %s), fetching a new "
		    "one", rep.status, rep.problem_type);
		e = ATTEST_RETRY_NOW;
	} else {
		attest_log_refusal("evidence", &rep);
		e = rep.status >= 500 ? VIGIL_ENET : VIGIL_EDENIED;
	}
 out:
	push_reply_free(&rep);
	buf_free(&att);
	buf_free(&sig);
	buf_free(&body);
	return e;
}

/* Register if needed, get a nonce if needed, push; retries at once (a few
 * times) after a refused nonce or a forgotten id. */
static int
attest_step(struct attest *a)
{
	int e = 0, tries;

	if ((e = attest_collect(a)) != 0)
		return e;
	for (tries = 0; tries < 3 && !*a->stop; tries++) {
		if (a->agent_id[0] == '\0' && (e = attest_enrol(a)) != 0)
			return e;
		if (a->nonce_len == 0) {
			e = attest_fetch_nonce(a);
			if (e == ATTEST_RETRY_NOW)
				continue;
			if (e != 0)
				return e;
		}
		e = attest_push_once(a);
		if (e != ATTEST_RETRY_NOW)
			return e;
	}
	return e == ATTEST_RETRY_NOW ? VIGIL_ESTALE : e;
}

static int
attest_setup(struct attest *a)
{
	char kpath[1100], cpath[1100];
	int e;

	if (mkdir(a->cfg->state_dir, 0700) != 0 && errno != EEXIST) {
		log_err("cannot create state_dir=%s: %s", a->cfg->state_dir,
		    strerror(errno));
		return VIGIL_EIO;
	}
	if ((e = spool_open(a->cfg->state_dir, a->cfg->spool_max_items,
	    &a->spool)) != 0) {
		log_err("cannot open the spool in state_dir=%s: %s",
		    a->cfg->state_dir, vigil_strerror(e));
		return e;
	}
	e = spool_meta_get(a->spool, "agent_id", a->agent_id,
	    sizeof(a->agent_id));
	if (e != 0 || !valid_lowerhex(a->agent_id, 64))
		a->agent_id[0] = '\0';
	if (spool_meta_get(a->spool, "status", a->status,
	    sizeof(a->status)) != 0)
		a->status[0] = '\0';
	if ((e = push_new(a->cfg->verifier_url, &a->push)) != 0)
		return e;
	if (a->cfg->verifier_ca[0] != '\0' &&
	    (e = push_set_ca(a->push, a->cfg->verifier_ca)) != 0)
		return e;
	if ((e = attest_state_path(a, ATTEST_KEY_FILE, kpath,
	    sizeof(kpath))) != 0 ||
	    (e = attest_state_path(a, ATTEST_CERT_FILE, cpath,
	    sizeof(cpath))) != 0)
		return e;
	if (a->agent_id[0] != '\0' && access(cpath, R_OK) == 0 &&
	    access(kpath, R_OK) == 0)
		(void)push_set_client_cert(a->push, cpath, kpath);
	attest_publish(a, 0);
	return 0;
}

int
attest_run(const struct agent_config *cfg, volatile sig_atomic_t *stop)
{
	struct attest a;
	struct localsock *ls = NULL;
	struct checkpoint_worker *cw = NULL;
	unsigned attempt = 0;
	uint32_t rnd, delay;
	int e;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.stop = stop;
	a.interval_ms = ATTEST_INTERVAL_DEFAULT_MS;
	pthread_mutex_init(&a.mu, NULL);
	if ((e = attest_setup(&a)) != 0)
		goto out;
	if ((e = localsock_start(cfg->socket, cfg->allow_uids,
	    cfg->n_allow_uids, attest_status_cb, &a, &ls)) != 0) {
		log_err("cannot serve the local socket path=%s: %s",
		    cfg->socket, vigil_strerror(e));
		goto out;
	}
	/* Computation checkpoints: quoted and spooled by their own thread. */
	if ((e = checkpoint_start(cfg->tcti, a.spool, 0, &cw)) != 0) {
		log_err("cannot start the checkpoint worker: %s",
		    vigil_strerror(e));
		goto out;
	}
	localsock_set_ckpt_fn(ls, checkpoint_submit, cw);
	log_info("started verifier=%s tcti=%s state_dir=%s epoch=%016" PRIx64
	    " agent_id=%s", cfg->verifier_url, cfg->tcti, cfg->state_dir,
	    spool_epoch(a.spool), a.agent_id[0] ? a.agent_id : "(none)");
	while (!*stop) {
		e = attest_step(&a);
		attest_publish(&a, e == 0);
		if (e == 0) {
			attempt = 0;
			/* VM attestations just spooled go out at once. */
			if (!a.push_soon)
				attest_sleep(&a, a.interval_ms);
			a.push_soon = 0;
			continue;
		}
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)time(NULL);
		delay = attest_backoff_ms(attempt, rnd);
		if (attempt < 16)
			attempt++;
		log_warn("push failed (%s), retry in_ms=%" PRIu32
		    " attempt=%u spool_pending=%" PRIu64, vigil_strerror(e),
		    delay, attempt, a.shared.spool_pending);
		attest_sleep(&a, delay);
	}
	log_info("stopping: pending=%" PRIu64,
	    a.shared.spool_pending);
	e = 0;
 out:
	localsock_stop(ls);
	checkpoint_stop(cw);	/* after the socket: nothing new comes */
	push_free(a.push);
	spool_close(a.spool);
	buf_free(&a.smm_head);
	pthread_mutex_destroy(&a.mu);
	return e;
}
