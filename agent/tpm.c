/* The node's TPM through tpm2-tss ESAPI (agent/tpm.h). Every tpm2-tss
 * failure is one log line naming the call and Tss2_RC_Decode(), then the
 * function cleans up and returns VIGIL_ETPM.
 *
 * Sessions: every policy or HMAC session this file starts is flushed before
 * the function that started it returns; transient objects likewise. tpm_open
 * and tpm_close flush whatever transient objects and sessions remain on the
 * TPM (a dead client's, or ours after an error). */
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

/* Attempts of tpm_quote when a PCR changed between quote and read. */
#define TPM_QUOTE_TRIES 4
/* Largest EK certificate we accept from NV. */
#define TPM_EK_CERT_MAX 4096

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

#define TPM_FAIL(call, rc) \
	log_err("tpm: %s failed: %s", (call), Tss2_RC_Decode(rc))

#define AK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | \
	TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

static void
tpm_tr_close(struct tpm *t, ESYS_TR *tr)
{
	if (*tr != ESYS_TR_NONE)
		Esys_TR_Close(t->esys, tr);
	*tr = ESYS_TR_NONE;
}

static void
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
}

int
tpm_ek_kind_parse(const char *s, enum tpm_ek_kind *out)
{
	if (strcmp(s, "rsa") == 0) {
		*out = TPM_EK_RSA;
		return 0;
	}
	if (strcmp(s, "ecc") == 0) {
		*out = TPM_EK_ECC;
		return 0;
	}
	log_err("tpm: unknown EK kind \"%s\" (want rsa or ecc)", s);
	return VIGIL_EINVAL;
}

static uint32_t
tpm_ek_handle(enum tpm_ek_kind kind)
{
	return kind == TPM_EK_ECC ? TPM_HANDLE_EK_ECC : TPM_HANDLE_EK_RSA;
}

/* Is the persistent or NV handle h defined? */
static int
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
static int
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

static int
tpm_read_public(struct tpm *t, ESYS_TR tr, const char *what,
    TPM2B_PUBLIC **pub, TPM2B_NAME **qname)
{
	TPM2B_NAME *name = NULL;
	TSS2_RC rc;

	rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, pub, &name, qname);
	Esys_Free(name);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("tpm: Esys_ReadPublic(%s) failed: %s", what,
		    Tss2_RC_Decode(rc));
		return VIGIL_ETPM;
	}
	return 0;
}

static int
tpm_marshal_public(const TPM2B_PUBLIC *pub, struct buf *out)
{
	uint8_t tmp[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;
	TSS2_RC rc;

	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, tmp, sizeof(tmp), &off);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Tss2_MU_TPM2B_PUBLIC_Marshal", rc);
		return VIGIL_ETPM;
	}
	out->len = 0;
	return buf_add(out, tmp, off);
}

static int
tpm_nv_buffer_max(struct tpm *t, uint16_t *out)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1,
	    &more, &cap);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_GetCapability(NV_BUFFER_MAX)", rc);
		return VIGIL_ETPM;
	}
	*out = 512;	/* the minimum any TPM 2.0 must support */
	if (cap->data.tpmProperties.count >= 1 &&
	    cap->data.tpmProperties.tpmProperty[0].property ==
	    TPM2_PT_NV_BUFFER_MAX &&
	    cap->data.tpmProperties.tpmProperty[0].value > 0 &&
	    cap->data.tpmProperties.tpmProperty[0].value <= TPM2_MAX_NV_BUFFER_SIZE)
		*out = (uint16_t)cap->data.tpmProperties.tpmProperty[0].value;
	Esys_Free(cap);
	return 0;
}

/* Reads a whole NV index into out (at most TPM_EK_CERT_MAX bytes). */
static int
tpm_nv_read_all(struct tpm *t, uint32_t index, struct buf *out)
{
	TPM2B_NV_PUBLIC *nvpub = NULL;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	TPM2B_NAME *name = NULL;
	ESYS_TR nv = ESYS_TR_NONE, auth;
	uint16_t chunk, size, off, n;
	TSS2_RC rc;
	int e;

	if ((e = tpm_tr_from(t, index, "NV index", &nv)) != 0)
		return e;
	e = VIGIL_ETPM;
	rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &nvpub, &name);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_NV_ReadPublic", rc);
		goto out;
	}
	size = nvpub->nvPublic.dataSize;
	if (size == 0 || size > TPM_EK_CERT_MAX) {
		log_err("tpm: NV index 0x%08x holds %u bytes (want 1..%u)",
		    index, size, TPM_EK_CERT_MAX);
		e = VIGIL_ETOOBIG;
		goto out;
	}
	if (nvpub->nvPublic.attributes & TPMA_NV_AUTHREAD)
		auth = nv;
	else if (nvpub->nvPublic.attributes & TPMA_NV_OWNERREAD)
		auth = ESYS_TR_RH_OWNER;
	else {
		log_err("tpm: NV index 0x%08x is neither AUTHREAD nor "
		    "OWNERREAD", index);
		goto out;
	}
	if ((e = tpm_nv_buffer_max(t, &chunk)) != 0)
		goto out;
	e = VIGIL_ETPM;
	out->len = 0;
	for (off = 0; off < size; off = (uint16_t)(off + n)) {
		n = (uint16_t)(size - off) < chunk ? (uint16_t)(size - off) :
		    chunk;
		rc = Esys_NV_Read(t->esys, auth, nv, ESYS_TR_PASSWORD,
		    ESYS_TR_NONE, ESYS_TR_NONE, n, off, &data);
		if (rc != TSS2_RC_SUCCESS) {
			TPM_FAIL("Esys_NV_Read", rc);
			goto out;
		}
		if (data->size != n) {
			log_err("tpm: Esys_NV_Read returned %u bytes, asked %u",
			    data->size, n);
			goto out;
		}
		if ((e = buf_add(out, data->buffer, n)) != 0)
			goto out;
		e = VIGIL_ETPM;
		Esys_Free(data);
		data = NULL;
	}
	e = 0;
 out:
	Esys_Free(data);
	Esys_Free(nvpub);
	Esys_Free(name);
	tpm_tr_close(t, &nv);
	return e;
}

int
tpm_ek_read(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_pub,
    struct buf *ek_cert)
{
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR ek = ESYS_TR_NONE;
	int e;

	if ((e = tpm_tr_from(t, tpm_ek_handle(kind), "EK", &ek)) != 0 ||
	    (e = tpm_read_public(t, ek, "EK", &pub, NULL)) != 0 ||
	    (e = tpm_marshal_public(pub, ek_pub)) != 0)
		goto out;
	e = tpm_nv_read_all(t, kind == TPM_EK_ECC ? TPM_NV_EK_CERT_ECC :
	    TPM_NV_EK_CERT_RSA, ek_cert);
 out:
	Esys_Free(pub);
	tpm_tr_close(t, &ek);
	return e;
}

/* PolicyC of the TCG EK Credential Profile (PolicyAuthorizeNV of the EK
 * policy index), per hash: with PolicyA = PolicySecret(TPM_RH_ENDORSEMENT),
 * the high-range EKs (swtpm's ECC P-384 EK among them) carry
 * authPolicy = PolicyB = PolicyOR(PolicyA, PolicyC). */
static const uint8_t tpm_policy_c_sha256[] = {
	0x37, 0x67, 0xe2, 0xed, 0xd4, 0x3f, 0xf4, 0x5a, 0x3a, 0x7e, 0x1e,
	0xae, 0xfc, 0xef, 0x78, 0x64, 0x3d, 0xca, 0x96, 0x46, 0x32, 0xe7,
	0xaa, 0xd8, 0x2c, 0x67, 0x3a, 0x30, 0xd8, 0x63, 0x3f, 0xde,
};
static const uint8_t tpm_policy_c_sha384[] = {
	0xd6, 0x03, 0x2c, 0xe6, 0x1f, 0x2f, 0xb3, 0xc2, 0x40, 0xeb, 0x3c,
	0xf6, 0xa3, 0x32, 0x37, 0xef, 0x2b, 0x6a, 0x16, 0xf4, 0x29, 0x3c,
	0x22, 0xb4, 0x55, 0xe2, 0x61, 0xcf, 0xfd, 0x21, 0x7a, 0xd5, 0xb4,
	0x94, 0x7c, 0x2d, 0x73, 0xe6, 0x30, 0x05, 0xee, 0xd2, 0xdc, 0x2b,
	0x35, 0x93, 0xd1, 0x65,
};

static int
tpm_policy_digest(struct tpm *t, ESYS_TR sess, TPM2B_DIGEST **out)
{
	TSS2_RC rc;

	rc = Esys_PolicyGetDigest(t->esys, sess, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, out);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_PolicyGetDigest", rc);
		return VIGIL_ETPM;
	}
	return 0;
}

static int
tpm_digest_eq(const TPM2B_DIGEST *a, const TPM2B_DIGEST *b)
{
	return a->size == b->size && memcmp(a->buffer, b->buffer, a->size) == 0;
}

/* Extends the session from PolicyA to PolicyB = PolicyOR(PolicyA, PolicyC)
 * when that is the EK's policy. */
static int
tpm_ek_policy_or(struct tpm *t, ESYS_TR sess, const TPMT_PUBLIC *ek,
    const TPM2B_DIGEST *policy_a)
{
	TPML_DIGEST list;
	TPM2B_DIGEST *now = NULL;
	const uint8_t *c;
	size_t clen;
	TSS2_RC rc;
	int e;

	if (ek->nameAlg == TPM2_ALG_SHA256) {
		c = tpm_policy_c_sha256;
		clen = sizeof(tpm_policy_c_sha256);
	} else if (ek->nameAlg == TPM2_ALG_SHA384) {
		c = tpm_policy_c_sha384;
		clen = sizeof(tpm_policy_c_sha384);
	} else {
		log_err("tpm: EK policy with name algorithm 0x%04x is not "
		    "supported", ek->nameAlg);
		return VIGIL_EUNSUPP;
	}
	if (policy_a->size != clen) {
		log_err("tpm: policy digest size %u does not match the EK's "
		    "name algorithm", policy_a->size);
		return VIGIL_ETPM;
	}
	memset(&list, 0, sizeof(list));
	list.count = 2;
	list.digests[0] = *policy_a;
	list.digests[1].size = (uint16_t)clen;
	memcpy(list.digests[1].buffer, c, clen);
	rc = Esys_PolicyOR(t->esys, sess, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, &list);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_PolicyOR", rc);
		return VIGIL_ETPM;
	}
	if ((e = tpm_policy_digest(t, sess, &now)) != 0)
		return e;
	e = tpm_digest_eq(now, &ek->authPolicy) ? 0 : VIGIL_EUNSUPP;
	if (e != 0)
		log_err("tpm: the EK's authPolicy is neither PolicySecret"
		    "(endorsement) nor the TCG PolicyOR of it and PolicyC");
	Esys_Free(now);
	return e;
}

/* A policy session (hash alg of the EK's name) satisfying the EK's policy:
 * PolicySecret(TPM_RH_ENDORSEMENT), followed by PolicyOR(PolicyA, PolicyC)
 * for the EK Credential Profile's high-range EKs. Flush with tpm_flush. */
static int
tpm_ek_session(struct tpm *t, const TPM2B_PUBLIC *ekp, ESYS_TR *sess)
{
	const TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	TPM2B_TIMEOUT *timeout = NULL;
	TPMT_TK_AUTH *ticket = NULL;
	TPM2B_DIGEST *digest = NULL;
	TSS2_RC rc;
	int e = VIGIL_ETPM;

	*sess = ESYS_TR_NONE;
	rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
	    &sym, ekp->publicArea.nameAlg, sess);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_StartAuthSession(policy)", rc);
		return VIGIL_ETPM;
	}
	/* Keep the session after use, so we decide when it is flushed. */
	rc = Esys_TRSess_SetAttributes(t->esys, *sess,
	    TPMA_SESSION_CONTINUESESSION, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_TRSess_SetAttributes", rc);
		goto fail;
	}
	rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, *sess,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0,
	    &timeout, &ticket);
	Esys_Free(timeout);
	Esys_Free(ticket);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_PolicySecret(endorsement)", rc);
		goto fail;
	}
	if ((e = tpm_policy_digest(t, *sess, &digest)) != 0)
		goto fail;
	if (!tpm_digest_eq(digest, &ekp->publicArea.authPolicy) &&
	    (e = tpm_ek_policy_or(t, *sess, &ekp->publicArea, digest)) != 0)
		goto fail;
	Esys_Free(digest);
	return 0;
 fail:
	Esys_Free(digest);
	tpm_flush(t, sess);
	return e;
}

static void
tpm_ak_template(TPM2B_PUBLIC *tmpl)
{
	memset(tmpl, 0, sizeof(*tmpl));
	tmpl->publicArea.type = TPM2_ALG_ECC;
	tmpl->publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl->publicArea.objectAttributes = AK_ATTRS;
	tmpl->publicArea.parameters.eccDetail.symmetric.algorithm =
	    TPM2_ALG_NULL;
	tmpl->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	tmpl->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg =
	    TPM2_ALG_SHA256;
	tmpl->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	tmpl->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/* Does the public area have our AK's shape? */
static int
tpm_ak_shape_ok(const TPM2B_PUBLIC *p)
{
	const TPMT_PUBLIC *a = &p->publicArea;

	return a->type == TPM2_ALG_ECC && a->nameAlg == TPM2_ALG_SHA256 &&
	    a->objectAttributes == AK_ATTRS &&
	    a->parameters.eccDetail.scheme.scheme == TPM2_ALG_ECDSA &&
	    a->parameters.eccDetail.scheme.details.ecdsa.hashAlg ==
	    TPM2_ALG_SHA256 &&
	    a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256;
}

/* Object name: nameAlg || H_nameAlg(marshaled TPMT_PUBLIC). SHA-256 only. */
static int
tpm_name_sha256(const TPM2B_PUBLIC *p, uint8_t name[2 + SHA256_LEN])
{
	uint8_t tmp[sizeof(TPMT_PUBLIC)];
	size_t off = 0;
	unsigned int dl;
	TSS2_RC rc;

	rc = Tss2_MU_TPMT_PUBLIC_Marshal(&p->publicArea, tmp, sizeof(tmp),
	    &off);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Tss2_MU_TPMT_PUBLIC_Marshal", rc);
		return VIGIL_ETPM;
	}
	name[0] = TPM2_ALG_SHA256 >> 8;
	name[1] = TPM2_ALG_SHA256 & 0xff;
	if (EVP_Digest(tmp, off, name + 2, &dl, EVP_sha256(), NULL) != 1)
		return VIGIL_ECRYPTO;
	return 0;
}

/* The rule for "is the AK at TPM_HANDLE_AK under this EK": its qualified
 * name must equal SHA-256 over the EK's qualified name and the AK's name
 * (TPM 2.0 Part 1, 16: QN(B) = H_nameAlg(B)(QN(parent) || Name(B))).
 * The TPM reports both qualified names, so nothing needs to be stored. */
static int
tpm_ak_under_ek(const TPM2B_PUBLIC *ak, const TPM2B_NAME *ak_qn,
    const TPM2B_NAME *ek_qn, int *under)
{
	uint8_t name[2 + SHA256_LEN], want[2 + SHA256_LEN];
	unsigned int dl;
	EVP_MD_CTX *md;
	int e;

	if ((e = tpm_name_sha256(ak, name)) != 0)
		return e;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return VIGIL_ENOMEM;
	want[0] = name[0];
	want[1] = name[1];
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, ek_qn->name, ek_qn->size) != 1 ||
	    EVP_DigestUpdate(md, name, sizeof(name)) != 1 ||
	    EVP_DigestFinal_ex(md, want + 2, &dl) != 1) {
		EVP_MD_CTX_free(md);
		return VIGIL_ECRYPTO;
	}
	EVP_MD_CTX_free(md);
	*under = ak_qn->size == sizeof(want) &&
	    memcmp(ak_qn->name, want, sizeof(want)) == 0;
	return 0;
}

/* Creates the AK under ek, loads it and persists it at TPM_HANDLE_AK. */
static int
tpm_ak_create(struct tpm *t, ESYS_TR ek, const TPM2B_PUBLIC *ekp)
{
	const TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation_pcr = { 0 };
	TPM2B_PUBLIC tmpl, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_CREATION_DATA *cdata = NULL;
	TPM2B_DIGEST *chash = NULL;
	TPMT_TK_CREATION *ticket = NULL;
	ESYS_TR sess = ESYS_TR_NONE, ak = ESYS_TR_NONE, pers = ESYS_TR_NONE;
	TSS2_RC rc;
	int e;

	tpm_ak_template(&tmpl);
	if ((e = tpm_ek_session(t, ekp, &sess)) != 0)
		goto out;
	e = VIGIL_ETPM;
	rc = Esys_Create(t->esys, ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
	    &tmpl, &outside, &creation_pcr, &priv, &pub, &cdata, &chash,
	    &ticket);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_Create(AK)", rc);
		goto out;
	}
	/* The policy is used up by Create: satisfy it afresh for Load. */
	tpm_flush(t, &sess);
	if ((e = tpm_ek_session(t, ekp, &sess)) != 0)
		goto out;
	e = VIGIL_ETPM;
	rc = Esys_Load(t->esys, ek, sess, ESYS_TR_NONE, ESYS_TR_NONE, priv,
	    pub, &ak);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_Load(AK)", rc);
		goto out;
	}
	tpm_flush(t, &sess);
	rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, ak,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, TPM_HANDLE_AK,
	    &pers);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_EvictControl(persist AK)", rc);
		goto out;
	}
	log_info("tpm: created AK at 0x%08x", TPM_HANDLE_AK);
	e = 0;
 out:
	tpm_tr_close(t, &pers);
	tpm_flush(t, &ak);
	tpm_flush(t, &sess);
	Esys_Free(pub);
	Esys_Free(priv);
	Esys_Free(cdata);
	Esys_Free(chash);
	Esys_Free(ticket);
	return e;
}

static int
tpm_ak_evict(struct tpm *t, ESYS_TR *ak)
{
	ESYS_TR none = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, *ak,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, TPM_HANDLE_AK,
	    &none);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_EvictControl(evict AK)", rc);
		return VIGIL_ETPM;
	}
	/* The handle is free now; drop ESAPI's record of the old object,
	 * or the next Esys_TR_FromTPMPublic of it sees a name mismatch. */
	tpm_tr_close(t, ak);
	return 0;
}

int
tpm_ak_ensure(struct tpm *t, enum tpm_ek_kind kind, struct buf *ak_pub)
{
	TPM2B_PUBLIC *ekp = NULL, *akp = NULL;
	TPM2B_NAME *ek_qn = NULL, *ak_qn = NULL;
	ESYS_TR ek = ESYS_TR_NONE, ak = ESYS_TR_NONE;
	int exists, under, e;

	if ((e = tpm_tr_from(t, tpm_ek_handle(kind), "EK", &ek)) != 0 ||
	    (e = tpm_read_public(t, ek, "EK", &ekp, &ek_qn)) != 0 ||
	    (e = tpm_handle_exists(t, TPM_HANDLE_AK, &exists)) != 0)
		goto out;
	if (exists) {
		if ((e = tpm_tr_from(t, TPM_HANDLE_AK, "AK", &ak)) != 0 ||
		    (e = tpm_read_public(t, ak, "AK", &akp, &ak_qn)) != 0)
			goto out;
		under = 0;
		if (tpm_ak_shape_ok(akp) && (e = tpm_ak_under_ek(akp, ak_qn,
		    ek_qn, &under)) != 0)
			goto out;
		if (under) {
			e = tpm_marshal_public(akp, ak_pub);
			goto out;
		}
		log_info("tpm: AK at 0x%08x is not an AK under the %s EK; "
		    "recreating it", TPM_HANDLE_AK,
		    kind == TPM_EK_ECC ? "ECC" : "RSA");
		if ((e = tpm_ak_evict(t, &ak)) != 0)
			goto out;
		Esys_Free(akp);
		akp = NULL;
	}
	if ((e = tpm_ak_create(t, ek, ekp)) != 0 ||
	    (e = tpm_tr_from(t, TPM_HANDLE_AK, "AK", &ak)) != 0 ||
	    (e = tpm_read_public(t, ak, "AK", &akp, NULL)) != 0)
		goto out;
	e = tpm_marshal_public(akp, ak_pub);
 out:
	Esys_Free(ekp);
	Esys_Free(akp);
	Esys_Free(ek_qn);
	Esys_Free(ak_qn);
	tpm_tr_close(t, &ek);
	tpm_tr_close(t, &ak);
	return e;
}

int
tpm_activate(struct tpm *t, enum tpm_ek_kind kind, const uint8_t *cred,
    size_t cred_len, const uint8_t *enc_secret, size_t enc_len,
    struct buf *secret)
{
	TPM2B_ID_OBJECT idobj;
	TPM2B_ENCRYPTED_SECRET esec;
	TPM2B_DIGEST *cert_info = NULL;
	TPM2B_PUBLIC *ekp = NULL;
	ESYS_TR ek = ESYS_TR_NONE, ak = ESYS_TR_NONE, sess = ESYS_TR_NONE;
	size_t off = 0;
	TSS2_RC rc;
	int e;

	memset(&idobj, 0, sizeof(idobj));
	memset(&esec, 0, sizeof(esec));
	rc = Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(cred, cred_len, &off, &idobj);
	if (rc != TSS2_RC_SUCCESS || off != cred_len) {
		log_err("tpm: credential blob is not one TPM2B_ID_OBJECT "
		    "(%zu bytes)", cred_len);
		return VIGIL_EINVAL;
	}
	off = 0;
	rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc_secret, enc_len,
	    &off, &esec);
	if (rc != TSS2_RC_SUCCESS || off != enc_len) {
		log_err("tpm: encrypted secret is not one "
		    "TPM2B_ENCRYPTED_SECRET (%zu bytes)", enc_len);
		return VIGIL_EINVAL;
	}
	if ((e = tpm_tr_from(t, tpm_ek_handle(kind), "EK", &ek)) != 0 ||
	    (e = tpm_read_public(t, ek, "EK", &ekp, NULL)) != 0 ||
	    (e = tpm_tr_from(t, TPM_HANDLE_AK, "AK", &ak)) != 0 ||
	    (e = tpm_ek_session(t, ekp, &sess)) != 0)
		goto out;
	rc = Esys_ActivateCredential(t->esys, ak, ek, ESYS_TR_PASSWORD, sess,
	    ESYS_TR_NONE, &idobj, &esec, &cert_info);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_ActivateCredential", rc);
		e = VIGIL_ETPM;
		goto out;
	}
	secret->len = 0;
	e = buf_add(secret, cert_info->buffer, cert_info->size);
 out:
	Esys_Free(cert_info);
	Esys_Free(ekp);
	tpm_flush(t, &sess);
	tpm_tr_close(t, &ek);
	tpm_tr_close(t, &ak);
	return e;
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
