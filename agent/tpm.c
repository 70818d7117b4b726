/* The node's TPM through tpm2-tss ESAPI (agent/tpm.h): the connection,
 * leftover flushing, PCR read/extend, quote and clock. EK, AK, policy
 * sessions and activation are in agent/tpm_keys.c. Every tpm2-tss failure is
 * one log line naming the call and Tss2_RC_Decode(), then the function
 * cleans up and returns VIGIL_ETPM.
 *
 * Sessions: every policy or HMAC session this module starts is flushed before
 * the function that started it returns; transient objects likewise. tpm_open
 * and tpm_close flush whatever transient objects and sessions remain on the
 * TPM (a dead client's, or ours after an error).
 *
 * One connection at a time per process: swtpm serves one client at a time
 * and the agent's push loop and checkpoint worker both use the TPM, so
 * tpm_open takes a process-wide mutex that tpm_close releases (every
 * struct tpm that exists holds it). A thread must not open a second
 * connection while it holds one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "err.h"
#include "log.h"
#include "tpm.h"
#include "tpm_internal.h"

/* Attempts of tpm_quote when a PCR changed between quote and read. */
#define TPM_QUOTE_TRIES 4

static pthread_mutex_t tpm_mu = PTHREAD_MUTEX_INITIALIZER;

void
tpm_tr_close(struct tpm *t, ESYS_TR *tr)
{
	if (*tr != ESYS_TR_NONE)
		Esys_TR_Close(t->esys, tr);
	*tr = ESYS_TR_NONE;
}

void
tpm_flush(struct tpm *t, ESYS_TR *tr)
{
	TSS2_RC rc;

	if (*tr == ESYS_TR_NONE)
		return;
	if ((rc = Esys_FlushContext(t->esys, *tr)) != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_FlushContext", rc);
		tpm_tr_close(t, tr);
	}
	*tr = ESYS_TR_NONE;
}

/* Lists the handles of one type (TPM2_HT_*) on the TPM. */
static int
tpm_list_handles(struct tpm *t, uint8_t ht, TPML_HANDLE *out)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_HANDLES, (uint32_t)ht << TPM2_HR_SHIFT,
	    TPM2_MAX_CAP_HANDLES, &more, &cap);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_GetCapability(handles)", rc);
		return VIGIL_ETPM;
	}
	*out = cap->data.handles;
	Esys_Free(cap);
	return 0;
}

/* Flushes every transient object and every loaded or saved session. */
static int
tpm_flush_all(struct tpm *t)
{
	static const uint8_t types[] = { TPM2_HT_TRANSIENT,
	    TPM2_HT_LOADED_SESSION, TPM2_HT_SAVED_SESSION };
	TPML_HANDLE hl;
	ESYS_TR tr;
	TSS2_RC rc;
	size_t i;
	uint32_t j;
	uint8_t ht;
	int e;

	for (i = 0; i < sizeof(types); i++) {
		if ((e = tpm_list_handles(t, types[i], &hl)) != 0)
			return e;
		for (j = 0; j < hl.count; j++) {
			/* Sessions list with either session type (HMAC
			 * 0x02, policy 0x03); anything else past the range
			 * asked for is not ours to flush. */
			ht = (uint8_t)(hl.handle[j] >> TPM2_HR_SHIFT);
			if (types[i] == TPM2_HT_TRANSIENT ?
			    ht != TPM2_HT_TRANSIENT :
			    ht != TPM2_HT_HMAC_SESSION &&
			    ht != TPM2_HT_POLICY_SESSION)
				continue;
			rc = Esys_TR_FromTPMPublic(t->esys, hl.handle[j],
			    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
			if (rc != TSS2_RC_SUCCESS) {
				TPM_FAIL("Esys_TR_FromTPMPublic(leftover)", rc);
				return VIGIL_ETPM;
			}
			rc = Esys_FlushContext(t->esys, tr);
			if (rc != TSS2_RC_SUCCESS) {
				TPM_FAIL("Esys_FlushContext(leftover)", rc);
				Esys_TR_Close(t->esys, &tr);
				return VIGIL_ETPM;
			}
			log_debug("tpm: flushed leftover handle 0x%08x",
			    hl.handle[j]);
		}
	}
	return 0;
}

/* Sends Startup(CLEAR) when the TPM was never started (TPM2_RC_INITIALIZE). */
static int
tpm_startup_if_needed(struct tpm *t)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 1,
	    &more, &cap);
	Esys_Free(cap);
	if ((rc & ~TSS2_RC_LAYER_MASK) == TPM2_RC_INITIALIZE) {
		log_info("tpm: TPM not started, sending Startup(CLEAR)");
		rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
		if (rc != TSS2_RC_SUCCESS) {
			TPM_FAIL("Esys_Startup", rc);
			return VIGIL_ETPM;
		}
		return 0;
	}
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_GetCapability(properties)", rc);
		return VIGIL_ETPM;
	}
	return 0;
}

int
tpm_open(const char *tcti, struct tpm **out)
{
	struct tpm *t;
	TSS2_RC rc;
	int e = VIGIL_ETPM;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return VIGIL_ENOMEM;
	pthread_mutex_lock(&tpm_mu);	/* released by tpm_close(t) */
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("tpm: Tss2_TctiLdr_Initialize(\"%s\") failed: %s",
		    tcti, Tss2_RC_Decode(rc));
		goto out;
	}
	if ((rc = Esys_Initialize(&t->esys, t->tcti, NULL)) !=
	    TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_Initialize", rc);
		goto out;
	}
	if ((e = tpm_startup_if_needed(t)) != 0 ||
	    (e = tpm_flush_all(t)) != 0)
		goto out;
	*out = t;
	t = NULL;
 out:
	tpm_close(t);
	return e;
}

void
tpm_close(struct tpm *t)
{
	if (t == NULL)
		return;
	if (t->esys != NULL) {
		(void)tpm_flush_all(t);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti != NULL)
		Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
	pthread_mutex_unlock(&tpm_mu);
}

/* Is the persistent or NV handle h defined? */
int
tpm_handle_exists(struct tpm *t, uint32_t h, int *exists)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_HANDLES, h, 1, &more, &cap);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_GetCapability(handle)", rc);
		return VIGIL_ETPM;
	}
	*exists = cap->data.handles.count >= 1 &&
	    cap->data.handles.handle[0] == h;
	Esys_Free(cap);
	return 0;
}

/* An ESYS_TR for persistent/NV handle h; close with tpm_tr_close. */
int
tpm_tr_from(struct tpm *t, uint32_t h, const char *what, ESYS_TR *tr)
{
	TSS2_RC rc;
	int exists, e;

	if ((e = tpm_handle_exists(t, h, &exists)) != 0)
		return e;
	if (!exists) {
		log_err("tpm: %s handle 0x%08x is not defined", what, h);
		return VIGIL_ENOTFOUND;
	}
	rc = Esys_TR_FromTPMPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, tr);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("tpm: Esys_TR_FromTPMPublic(%s 0x%08x) failed: %s",
		    what, h, Tss2_RC_Decode(rc));
		return VIGIL_ETPM;
	}
	return 0;
}

static void
tpm_sel_from_mask(uint32_t mask, TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = (uint8_t)mask;
	sel->pcrSelections[0].pcrSelect[1] = (uint8_t)(mask >> 8);
	sel->pcrSelections[0].pcrSelect[2] = (uint8_t)(mask >> 16);
}

/* The SHA-256 PCRs in a selection the TPM returned, as a mask. */
static int
tpm_sel_to_mask(const TPML_PCR_SELECTION *sel, uint32_t *mask)
{
	const TPMS_PCR_SELECTION *s;
	uint32_t i, j;

	*mask = 0;
	for (i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		s = &sel->pcrSelections[i];
		if (s->hash != TPM2_ALG_SHA256 ||
		    s->sizeofSelect > TPM2_PCR_SELECT_MAX) {
			log_err("tpm: PCR_Read returned bank 0x%04x", s->hash);
			return VIGIL_ETPM;
		}
		for (j = 0; j < s->sizeofSelect && j < 3; j++)
			*mask |= (uint32_t)s->pcrSelect[j] << (8 * j);
	}
	return 0;
}

/* One pass over mask: the TPM returns at most 8 values per PCR_Read. */
static int
tpm_pcr_read_once(struct tpm *t, uint32_t mask, struct pcrs *vals,
    int *stable)
{
	TPML_PCR_SELECTION sel, *sel_out = NULL;
	TPML_DIGEST *dig = NULL;
	uint32_t left = mask, got, counter, first_counter = 0, i, k;
	TSS2_RC rc;
	int calls = 0, e = VIGIL_ETPM;

	*stable = 1;
	while (left != 0) {
		tpm_sel_from_mask(left, &sel);
		rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, &sel, &counter, &sel_out, &dig);
		if (rc != TSS2_RC_SUCCESS) {
			TPM_FAIL("Esys_PCR_Read", rc);
			goto out;
		}
		if ((e = tpm_sel_to_mask(sel_out, &got)) != 0)
			goto out;
		e = VIGIL_ETPM;
		if (got == 0 || (got & ~left) != 0) {
			log_err("tpm: PCR_Read returned PCRs 0x%06x for "
			    "0x%06x asked", got, left);
			goto out;
		}
		if (calls++ == 0)
			first_counter = counter;
		else if (counter != first_counter)
			*stable = 0;
		for (i = 0, k = 0; i < PCR_COUNT; i++) {
			if (!(got & (1u << i)))
				continue;
			if (k >= dig->count || dig->digests[k].size != SHA256_LEN) {
				log_err("tpm: PCR_Read values do not match "
				    "its selection");
				goto out;
			}
			memcpy(vals->v[i], dig->digests[k].buffer, SHA256_LEN);
			k++;
		}
		left &= ~got;
		Esys_Free(sel_out);
		Esys_Free(dig);
		sel_out = NULL;
		dig = NULL;
	}
	vals->mask = mask;
	e = 0;
 out:
	Esys_Free(sel_out);
	Esys_Free(dig);
	return e;
}

int
tpm_pcr_read(struct tpm *t, uint32_t mask, struct pcrs *vals)
{
	int stable, tries, e;

	if (mask == 0 || (mask >> PCR_COUNT) != 0) {
		log_err("tpm: PCR mask 0x%08x out of range", mask);
		return VIGIL_EINVAL;
	}
	memset(vals, 0, sizeof(*vals));
	for (tries = 0; tries < TPM_QUOTE_TRIES; tries++) {
		if ((e = tpm_pcr_read_once(t, mask, vals, &stable)) != 0)
			return e;
		if (stable)
			return 0;
	}
	log_err("tpm: PCRs kept changing while being read");
	return VIGIL_ETPM;
}

/* SHA-256 over the values of mask, lowest PCR first. */
static int
tpm_pcr_digest(const struct pcrs *vals, uint32_t mask,
    uint8_t out[SHA256_LEN])
{
	unsigned int dl;
	EVP_MD_CTX *md;
	uint32_t i;
	int ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return VIGIL_ENOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < PCR_COUNT; i++)
		if (mask & (1u << i))
			ok = EVP_DigestUpdate(md, vals->v[i], SHA256_LEN) == 1;
	ok = ok && EVP_DigestFinal_ex(md, out, &dl) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : VIGIL_ECRYPTO;
}

static int
tpm_quote_once(struct tpm *t, ESYS_TR ak, const TPM2B_DATA *qd,
    uint32_t mask, struct buf *attest, struct buf *sig, struct pcrs *vals,
    int *match)
{
	TPMT_SIG_SCHEME scheme;
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *signature = NULL;
	TPMS_ATTEST a;
	uint8_t tmp[sizeof(TPMT_SIGNATURE) + sizeof(TPM2B_ATTEST)];
	uint8_t dig[SHA256_LEN];
	size_t off;
	TSS2_RC rc;
	int e = VIGIL_ETPM;

	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_ECDSA;
	scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	tpm_sel_from_mask(mask, &sel);
	rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, qd, &scheme, &sel, &quoted, &signature);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_Quote", rc);
		goto out;
	}
	memset(&a, 0, sizeof(a));
	off = 0;
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData,
	    quoted->size, &off, &a);
	if (rc != TSS2_RC_SUCCESS || a.type != TPM2_ST_ATTEST_QUOTE ||
	    a.attested.quote.pcrDigest.size != SHA256_LEN) {
		log_err("tpm: the TPM's quote does not parse as a SHA-256 "
		    "quote");
		goto out;
	}
	if ((e = tpm_pcr_read(t, mask, vals)) != 0 ||
	    (e = tpm_pcr_digest(vals, mask, dig)) != 0)
		goto out;
	*match = memcmp(dig, a.attested.quote.pcrDigest.buffer,
	    SHA256_LEN) == 0;
	e = VIGIL_ETPM;
	off = 0;
	rc = Tss2_MU_TPM2B_ATTEST_Marshal(quoted, tmp, sizeof(tmp), &off);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Tss2_MU_TPM2B_ATTEST_Marshal", rc);
		goto out;
	}
	attest->len = 0;
	if ((e = buf_add(attest, tmp, off)) != 0)
		goto out;
	e = VIGIL_ETPM;
	off = 0;
	rc = Tss2_MU_TPMT_SIGNATURE_Marshal(signature, tmp, sizeof(tmp), &off);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Tss2_MU_TPMT_SIGNATURE_Marshal", rc);
		goto out;
	}
	sig->len = 0;
	e = buf_add(sig, tmp, off);
 out:
	Esys_Free(quoted);
	Esys_Free(signature);
	return e;
}

int
tpm_quote(struct tpm *t, const uint8_t *nonce, size_t nonce_len,
    uint32_t mask, struct buf *attest, struct buf *sig, struct pcrs *vals)
{
	TPM2B_DATA qd;
	ESYS_TR ak = ESYS_TR_NONE;
	int tries, match = 0, e;

	if (nonce_len > sizeof(qd.buffer)) {
		log_err("tpm: quote nonce of %zu bytes (at most %zu)",
		    nonce_len, sizeof(qd.buffer));
		return VIGIL_EINVAL;
	}
	if (mask == 0 || (mask >> PCR_COUNT) != 0) {
		log_err("tpm: PCR mask 0x%08x out of range", mask);
		return VIGIL_EINVAL;
	}
	memset(&qd, 0, sizeof(qd));
	qd.size = (uint16_t)nonce_len;
	if (nonce_len > 0)
		memcpy(qd.buffer, nonce, nonce_len);
	if ((e = tpm_tr_from(t, TPM_HANDLE_AK, "AK", &ak)) != 0)
		return e;
	for (tries = 0; tries < TPM_QUOTE_TRIES; tries++) {
		if ((e = tpm_quote_once(t, ak, &qd, mask, attest, sig, vals,
		    &match)) != 0)
			goto out;
		if (match)
			goto out;
		log_warn("tpm: a PCR changed between quote and read; "
		    "quoting again");
	}
	log_err("tpm: PCRs kept changing; no quote whose digest matches "
	    "the values read after %d tries", TPM_QUOTE_TRIES);
	e = VIGIL_ETPM;
 out:
	tpm_tr_close(t, &ak);
	return e;
}

int
tpm_pcr_extend(struct tpm *t, uint32_t pcr, const uint8_t digest[SHA256_LEN])
{
	TPML_DIGEST_VALUES dv;
	TSS2_RC rc;

	if (pcr >= PCR_COUNT) {
		log_err("tpm: PCR %u out of range", pcr);
		return VIGIL_EINVAL;
	}
	memset(&dv, 0, sizeof(dv));
	dv.count = 1;
	dv.digests[0].hashAlg = TPM2_ALG_SHA256;
	memcpy(dv.digests[0].digest.sha256, digest, SHA256_LEN);
	rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &dv);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("tpm: Esys_PCR_Extend(PCR %u) failed: %s", pcr,
		    Tss2_RC_Decode(rc));
		return VIGIL_ETPM;
	}
	return 0;
}

int
tpm_pcr_extend_banks(struct tpm *t, uint32_t pcr, const uint8_t *sha1,
    const uint8_t *sha256)
{
	TPML_DIGEST_VALUES dv;
	TSS2_RC rc;

	if (pcr >= PCR_COUNT || (sha1 == NULL && sha256 == NULL)) {
		log_err("tpm: PCR %u out of range or no digest", pcr);
		return VIGIL_EINVAL;
	}
	memset(&dv, 0, sizeof(dv));
	if (sha1 != NULL) {
		dv.digests[dv.count].hashAlg = TPM2_ALG_SHA1;
		memcpy(dv.digests[dv.count++].digest.sha1, sha1, 20);
	}
	if (sha256 != NULL) {
		dv.digests[dv.count].hashAlg = TPM2_ALG_SHA256;
		memcpy(dv.digests[dv.count++].digest.sha256, sha256,
		    SHA256_LEN);
	}
	rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &dv);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("tpm: Esys_PCR_Extend(PCR %u, %u banks) failed: %s",
		    pcr, dv.count, Tss2_RC_Decode(rc));
		return VIGIL_ETPM;
	}
	return 0;
}

int
tpm_read_clock(struct tpm *t, uint64_t *clock, uint32_t *reset_count,
    uint32_t *restart_count)
{
	TPMS_TIME_INFO *ti = NULL;
	TSS2_RC rc;

	rc = Esys_ReadClock(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &ti);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_ReadClock", rc);
		return VIGIL_ETPM;
	}
	*clock = ti->clockInfo.clock;
	*reset_count = ti->clockInfo.resetCount;
	*restart_count = ti->clockInfo.restartCount;
	Esys_Free(ti);
	return 0;
}
