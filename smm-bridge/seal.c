/* vigil-smmd's keys sealed to predicted PCRs (seal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "err.h"
#include "keywrap.h"
#include "log.h"
#include "rd.h"
#include "seal.h"

#define SEAL_FAIL(call, rc) \
	log_err("seal: %s failed: %s", (call), Tss2_RC_Decode(rc))
#define SEAL_SECRET_LEN 64

struct seal_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

void
seal_keys_free(struct seal_keys *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->log_key);
	EVP_PKEY_free(k->wrap_key);
	k->log_key = k->wrap_key = NULL;
}

int
seal_spki(EVP_PKEY *key, struct buf *out)
{
	unsigned char *der = NULL;
	int n, e;

	if ((n = i2d_PUBKEY(key, &der)) <= 0)
		return VIGIL_ECRYPTO;
	e = buf_add(out, der, (size_t)n);
	OPENSSL_free(der);
	return e;
}

static int
seal_path(char *dst, size_t n, const char *dir, const char *file)
{
	int k = snprintf(dst, n, "%s/%s", dir, file);

	return k < 0 || (size_t)k >= n ? VIGIL_ECONFIG : 0;
}

int
seal_pcrs_parse(const char *path, struct pcrs *out)
{
	uint8_t *data = NULL;
	size_t len, i = 0, j;
	char line[256], *end;
	unsigned long pcr;
	int e = VIGIL_EINVAL;

	memset(out, 0, sizeof(*out));
	if ((e = file_read(path, 64 * 1024, &data, &len)) != 0) {
		log_err("seal: cannot read predicted PCRs %s: %s", path,
		    vigil_strerror(e));
		return e;
	}
	e = VIGIL_EINVAL;
	while (i < len) {
		for (j = 0; i < len && data[i] != '\n'; i++)
			if (j + 1 < sizeof(line))
				line[j++] = (char)data[i];
		i++;
		line[j] = '\0';
		while (j > 0 && (line[j - 1] == ' ' || line[j - 1] == '\r'))
			line[--j] = '\0';
		if (j == 0 || line[0] == '#')
			continue;
		errno = 0;
		pcr = strtoul(line, &end, 10);
		if (errno != 0 || end == line || *end != ' ' ||
		    pcr >= PCR_COUNT || !(SEAL_PCR_MASK & (1u << pcr)) ||
		    (out->mask & (1u << pcr)) || strlen(end + 1) != 64 ||
		    hex_decode(end + 1, out->v[pcr], SHA256_LEN) != 0) {
			log_err("seal: %s: bad line '%s' (want \"N HEX\" for "
			    "PCRs 0-7 and 11, each once)", path, line);
			goto out;
		}
		out->mask |= 1u << pcr;
	}
	if (out->mask != SEAL_PCR_MASK) {
		log_err("seal: %s does not give all of PCRs 0-7 and 11", path);
		goto out;
	}
	e = 0;
 out:
	free(data);
	return e;
}

/* The TPML_PCR_SELECTION for PCRs 0-7 and 11, SHA-256. */
static void
seal_selection(TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = SEAL_PCR_MASK & 0xff;
	sel->pcrSelections[0].pcrSelect[1] = (SEAL_PCR_MASK >> 8) & 0xff;
	sel->pcrSelections[0].pcrSelect[2] = (SEAL_PCR_MASK >> 16) & 0xff;
}

int
seal_policy_digest(const struct pcrs *pred, uint8_t out[SHA256_LEN])
{
	TPML_PCR_SELECTION sel;
	uint8_t selbuf[sizeof(TPML_PCR_SELECTION)], pcrd[SHA256_LEN];
	uint8_t zero[SHA256_LEN] = { 0 }, cc[4] = { 0, 0, 0x01, 0x7f };
	size_t off = 0;
	EVP_MD_CTX *c = NULL;
	unsigned i;
	int e = VIGIL_ECRYPTO;

	if ((pred->mask & SEAL_PCR_MASK) != SEAL_PCR_MASK)
		return VIGIL_EINVAL;
	seal_selection(&sel);
	if (Tss2_MU_TPML_PCR_SELECTION_Marshal(&sel, selbuf, sizeof(selbuf),
	    &off) != TSS2_RC_SUCCESS)
		return VIGIL_EINVAL;
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		goto out;
	for (i = 0; i < PCR_COUNT; i++)
		if ((SEAL_PCR_MASK & (1u << i)) &&
		    EVP_DigestUpdate(c, pred->v[i], SHA256_LEN) != 1)
			goto out;
	if (EVP_DigestFinal_ex(c, pcrd, NULL) != 1 ||
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, zero, sizeof(zero)) != 1 ||
	    EVP_DigestUpdate(c, cc, sizeof(cc)) != 1 ||
	    EVP_DigestUpdate(c, selbuf, off) != 1 ||
	    EVP_DigestUpdate(c, pcrd, sizeof(pcrd)) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		goto out;
	e = 0;
 out:
	EVP_MD_CTX_free(c);
	return e;
}

static int
seal_write_spki(const char *dir, const char *file, EVP_PKEY *k)
{
	struct buf b = BUF_INIT;
	char path[4096];
	int e;

	if ((e = seal_path(path, sizeof(path), dir, file)) == 0 &&
	    (e = seal_spki(k, &b)) == 0)
		e = file_write_atomic(path, b.data, b.len);
	buf_free(&b);
	return e;
}

int
seal_init(const char *state_dir)
{
	EVP_PKEY *k[2] = { NULL, NULL };
	uint8_t secret[SEAL_SECRET_LEN];
	char pend[4096], sealed[4096];
	int e, fd = -1, i;

	if ((e = seal_path(pend, sizeof(pend), state_dir,
	    SEAL_FILE_PENDING)) != 0 ||
	    (e = seal_path(sealed, sizeof(sealed), state_dir,
	    SEAL_FILE_SEALED)) != 0)
		return e;
	if (access(pend, F_OK) == 0 || access(sealed, F_OK) == 0) {
		log_info("seal: keys exist already in %s, kept", state_dir);
		return 0;
	}
	e = VIGIL_ECRYPTO;
	for (i = 0; i < 2; i++)
		if ((k[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    "P-256")) == NULL ||
		    keywrap_ec_scalar(k[i], secret + 32 * i) != 0)
			goto out;
	if ((e = seal_write_spki(state_dir, SEAL_FILE_LOG_PUB, k[0])) != 0 ||
	    (e = seal_write_spki(state_dir, SEAL_FILE_WRAP_PUB, k[1])) != 0)
		goto out;
	e = VIGIL_EIO;
	if ((fd = open(pend, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0 || write(fd, secret, sizeof(secret)) !=
	    (ssize_t)sizeof(secret) || fsync(fd) != 0) {
		log_err("seal: cannot write %s: %s", pend, strerror(errno));
		goto out;
	}
	e = 0;
 out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_free(k[0]);
	EVP_PKEY_free(k[1]);
	return e;
}

/* TPM connection for one operation; leftovers flushed first. */
static void
seal_flush_all(struct seal_tpm *t)
{
	static const uint32_t first[] = { TPM2_TRANSIENT_FIRST,
	    TPM2_LOADED_SESSION_FIRST, TPM2_ACTIVE_SESSION_FIRST };
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	ESYS_TR tr;
	uint32_t j, h, ht;
	size_t i;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		if (Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
		    ESYS_TR_NONE, TPM2_CAP_HANDLES, first[i], 64, &more,
		    &cap) != TSS2_RC_SUCCESS)
			continue;
		for (j = 0; j < cap->data.handles.count; j++) {
			h = cap->data.handles.handle[j];
			ht = h >> TPM2_HR_SHIFT;
			if (ht != TPM2_HT_TRANSIENT &&
			    ht != TPM2_HT_HMAC_SESSION &&
			    ht != TPM2_HT_POLICY_SESSION)
				continue;
			if (Esys_TR_FromTPMPublic(t->esys, h, ESYS_TR_NONE,
			    ESYS_TR_NONE, ESYS_TR_NONE, &tr) ==
			    TSS2_RC_SUCCESS &&
			    Esys_FlushContext(t->esys, tr) != TSS2_RC_SUCCESS)
				Esys_TR_Close(t->esys, &tr);
		}
		Esys_Free(cap);
		cap = NULL;
	}
}

static void
seal_tpm_close(struct seal_tpm *t)
{
	if (t->esys != NULL) {
		seal_flush_all(t);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti != NULL)
		Tss2_TctiLdr_Finalize(&t->tcti);
}

static int
seal_tpm_open(const char *tcti, struct seal_tpm *t)
{
	TSS2_RC rc;

	memset(t, 0, sizeof(*t));
	if ((rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti)) !=
	    TSS2_RC_SUCCESS) {
		log_err("seal: Tss2_TctiLdr_Initialize(\"%s\") failed: %s",
		    tcti, Tss2_RC_Decode(rc));
		return VIGIL_ETPM;
	}
	if ((rc = Esys_Initialize(&t->esys, t->tcti, NULL)) !=
	    TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_Initialize", rc);
		seal_tpm_close(t);
		return VIGIL_ETPM;
	}
	seal_flush_all(t);
	return 0;
}

/* The ECC P-256 storage primary of the owner hierarchy (fixed template,
 * so the same key every time on the same TPM). */
static int
seal_primary(struct seal_tpm *t, ESYS_TR *out)
{
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	TPM2B_PUBLIC tmpl = { 0 };
	TSS2_RC rc;

	tmpl.publicArea.type = TPM2_ALG_ECC;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_USERWITHAUTH;
	tmpl.publicArea.parameters.eccDetail.symmetric.algorithm =
	    TPM2_ALG_AES;
	tmpl.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
	tmpl.publicArea.parameters.eccDetail.symmetric.mode.aes =
	    TPM2_ALG_CFB;
	tmpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	tmpl.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	tmpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
	    ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &none, out,
	    NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_CreatePrimary(storage)", rc);
		return VIGIL_ETPM;
	}
	return 0;
}

int
seal_seal(const char *state_dir, const char *tcti, const struct pcrs *pred)
{
	struct seal_tpm t = { 0 };
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	TPM2B_PUBLIC tmpl = { 0 }, *opub = NULL;
	TPM2B_PRIVATE *opriv = NULL;
	ESYS_TR primary = ESYS_TR_NONE;
	uint8_t *secret = NULL, out[2 + sizeof(TPM2B_PUBLIC) + 2 +
	    sizeof(TPM2B_PRIVATE)];
	size_t slen = 0, off = 0;
	char pend[4096], sealed[4096];
	TSS2_RC rc;
	int e;

	if ((e = seal_path(pend, sizeof(pend), state_dir,
	    SEAL_FILE_PENDING)) != 0 ||
	    (e = seal_path(sealed, sizeof(sealed), state_dir,
	    SEAL_FILE_SEALED)) != 0)
		return e;
	if ((e = file_read(pend, SEAL_SECRET_LEN, &secret, &slen)) != 0 ||
	    slen != SEAL_SECRET_LEN) {
		log_err("seal: no pending keys in %s (run `vigil-smmd init` "
		    "first)", pend);
		e = e != 0 ? e : VIGIL_EINVAL;
		goto out;
	}
	tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
	    TPMA_OBJECT_FIXEDPARENT;
	tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme =
	    TPM2_ALG_NULL;
	tmpl.publicArea.authPolicy.size = SHA256_LEN;
	if ((e = seal_policy_digest(pred,
	    tmpl.publicArea.authPolicy.buffer)) != 0)
		goto out;
	sens.sensitive.data.size = SEAL_SECRET_LEN;
	memcpy(sens.sensitive.data.buffer, secret, SEAL_SECRET_LEN);
	if ((e = seal_tpm_open(tcti, &t)) != 0 ||
	    (e = seal_primary(&t, &primary)) != 0)
		goto out;
	rc = Esys_Create(t.esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &sens, &tmpl, &outside, &none, &opriv, &opub, NULL,
	    NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_Create(sealed keys)", rc);
		e = VIGIL_ETPM;
		goto out;
	}
	off = 2;
	e = VIGIL_EINVAL;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(opub, out, sizeof(out), &off) !=
	    TSS2_RC_SUCCESS)
		goto out;
	out[0] = (uint8_t)(off - 2);
	out[1] = (uint8_t)((off - 2) >> 8);
	slen = off;
	off += 2;
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(opriv, out, sizeof(out), &off) !=
	    TSS2_RC_SUCCESS)
		goto out;
	out[slen] = (uint8_t)(off - slen - 2);
	out[slen + 1] = (uint8_t)((off - slen - 2) >> 8);
	if ((e = file_write_atomic(sealed, out, off)) != 0)
		goto out;
	memset(secret, 0, SEAL_SECRET_LEN);
	(void)file_write_atomic(pend, secret, SEAL_SECRET_LEN);
	(void)unlink(pend);
	log_info("seal: keys sealed to the predicted PCRs 0-7,11 in %s",
	    sealed);
	e = 0;
 out:
	OPENSSL_cleanse(&sens, sizeof(sens));
	if (secret != NULL)
		OPENSSL_cleanse(secret, slen < SEAL_SECRET_LEN ? slen :
		    SEAL_SECRET_LEN);
	free(secret);
	Esys_Free(opub);
	Esys_Free(opriv);
	if (primary != ESYS_TR_NONE)
		Esys_FlushContext(t.esys, primary);
	seal_tpm_close(&t);
	return e;
}

/* Does key's public part equal the SPKI in dir/file? */
static int
seal_check_pub(const char *dir, const char *file, EVP_PKEY *key)
{
	struct buf b = BUF_INIT;
	uint8_t *want = NULL;
	size_t wl = 0;
	char path[4096];
	int e;

	if ((e = seal_path(path, sizeof(path), dir, file)) != 0 ||
	    (e = file_read(path, 4096, &want, &wl)) != 0 ||
	    (e = seal_spki(key, &b)) != 0)
		goto out;
	if (b.len != wl || memcmp(b.data, want, wl) != 0) {
		log_err("seal: unsealed key does not match %s", path);
		e = VIGIL_EVERIFY;
	}
 out:
	free(want);
	buf_free(&b);
	return e;
}

int
seal_unseal(const char *state_dir, const char *tcti, struct seal_keys *out)
{
	struct seal_tpm t = { 0 };
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_DIGEST empty = { 0 };
	TPM2B_SENSITIVE_DATA *data = NULL;
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	TPML_PCR_SELECTION sel;
	ESYS_TR primary = ESYS_TR_NONE, obj = ESYS_TR_NONE;
	ESYS_TR sess = ESYS_TR_NONE;
	uint8_t *blob = NULL;
	size_t blen = 0, off = 0;
	struct rd r;
	uint16_t l;
	const uint8_t *p;
	char sealed[4096];
	TSS2_RC rc;
	int e;

	memset(out, 0, sizeof(*out));
	if ((e = seal_path(sealed, sizeof(sealed), state_dir,
	    SEAL_FILE_SEALED)) != 0 ||
	    (e = file_read(sealed, 4096, &blob, &blen)) != 0) {
		log_err("seal: cannot read %s", sealed);
		goto out;
	}
	rd_init(&r, blob, blen);
	e = VIGIL_EINVAL;
	if (rd_u16le(&r, &l) != 0 || rd_bytes(&r, l, &p) != 0 ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, l, &off, &pub) !=
	    TSS2_RC_SUCCESS || off != l) {
		log_err("seal: %s: bad TPM2B_PUBLIC", sealed);
		goto out;
	}
	off = 0;
	if (rd_u16le(&r, &l) != 0 || rd_bytes(&r, l, &p) != 0 ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, l, &off, &priv) !=
	    TSS2_RC_SUCCESS || off != l || r.left != 0) {
		log_err("seal: %s: bad TPM2B_PRIVATE", sealed);
		goto out;
	}
	if ((e = seal_tpm_open(tcti, &t)) != 0 ||
	    (e = seal_primary(&t, &primary)) != 0)
		goto out;
	e = VIGIL_ETPM;
	if ((rc = Esys_Load(t.esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, &priv, &pub, &obj)) != TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_Load(sealed keys)", rc);
		goto out;
	}
	if ((rc = Esys_StartAuthSession(t.esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
	    &sym, TPM2_ALG_SHA256, &sess)) != TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_StartAuthSession(policy)", rc);
		goto out;
	}
	seal_selection(&sel);
	if ((rc = Esys_PolicyPCR(t.esys, sess, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &empty, &sel)) != TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_PolicyPCR", rc);
		goto out;
	}
	if ((rc = Esys_Unseal(t.esys, obj, sess, ESYS_TR_NONE, ESYS_TR_NONE,
	    &data)) != TSS2_RC_SUCCESS) {
		SEAL_FAIL("Esys_Unseal (PCRs 0-7,11 differ from the "
		    "prediction, e.g. after the cap)", rc);
		goto out;
	}
	e = VIGIL_EVERIFY;
	if (data->size != SEAL_SECRET_LEN) {
		log_err("seal: unsealed %u bytes, want 64", data->size);
		goto out;
	}
	if ((e = keywrap_ec_from_scalar(data->buffer, &out->log_key)) != 0 ||
	    (e = keywrap_ec_from_scalar(data->buffer + 32,
	    &out->wrap_key)) != 0 ||
	    (e = seal_check_pub(state_dir, SEAL_FILE_LOG_PUB,
	    out->log_key)) != 0 ||
	    (e = seal_check_pub(state_dir, SEAL_FILE_WRAP_PUB,
	    out->wrap_key)) != 0)
		goto out;
	e = 0;
 out:
	if (data != NULL) {
		OPENSSL_cleanse(data, sizeof(*data));
		Esys_Free(data);
	}
	if (t.esys != NULL) {
		if (sess != ESYS_TR_NONE)
			Esys_FlushContext(t.esys, sess);
		if (obj != ESYS_TR_NONE)
			Esys_FlushContext(t.esys, obj);
		if (primary != ESYS_TR_NONE)
			Esys_FlushContext(t.esys, primary);
	}
	seal_tpm_close(&t);
	free(blob);
	if (e != 0)
		seal_keys_free(out);
	return e;
}

int
seal_reseal(const char *state_dir, const char *tcti, const struct pcrs *pred)
{
	struct seal_keys k = { 0 };
	uint8_t secret[SEAL_SECRET_LEN];
	char pend[4096];
	int e, fd = -1;

	if ((e = seal_path(pend, sizeof(pend), state_dir,
	    SEAL_FILE_PENDING)) != 0)
		return e;
	if ((e = seal_unseal(state_dir, tcti, &k)) != 0)
		return e;
	if ((e = keywrap_ec_scalar(k.log_key, secret)) != 0 ||
	    (e = keywrap_ec_scalar(k.wrap_key, secret + 32)) != 0)
		goto out;
	e = VIGIL_EIO;
	(void)unlink(pend);
	if ((fd = open(pend, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0 || write(fd, secret, sizeof(secret)) !=
	    (ssize_t)sizeof(secret) || fsync(fd) != 0) {
		log_err("seal: cannot write %s: %s", pend, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	e = seal_seal(state_dir, tcti, pred);
 out:
	if (fd >= 0)
		close(fd);
	if (e != 0)
		(void)unlink(pend);
	OPENSSL_cleanse(secret, sizeof(secret));
	seal_keys_free(&k);
	return e;
}
