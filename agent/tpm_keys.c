/* The EK, the AK and activation on the node's TPM (agent/tpm.h): EK
 * public area and certificate, the EK's policy session (PolicySecret of
 * the endorsement hierarchy, with PolicyOR for PolicyB EKs), the AK under
 * the EK at TPM_HANDLE_AK, and TPM2_ActivateCredential. The connection and
 * the helpers shared with agent/tpm.c are in agent/tpm_internal.h. Every
 * session and transient object started here is flushed before the function
 * that started it returns. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "err.h"
#include "log.h"
#include "tpm.h"
#include "tpm_internal.h"
#include "tpm_parse.h"

/* Largest EK certificate we accept from NV. */
#define TPM_EK_CERT_MAX 4096

#define AK_ATTRS (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | \
	TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

int
tpm_ek_kind_parse(const char *s, enum tpm_ek_kind *out)
{
	if (strcmp(s, "rsa") == 0) {
		*out = TPM_EK_RSA;
		return 0;
	}
	if (strcmp(s, "p256") == 0) {
		*out = TPM_EK_P256;
		return 0;
	}
	if (strcmp(s, "ecc") == 0 || strcmp(s, "p384") == 0) {
		*out = TPM_EK_ECC;
		return 0;
	}
	log_err("tpm: unknown EK kind \"%s\" (want rsa, p256 or p384)", s);
	return VIGIL_EINVAL;
}

const char *
tpm_ek_kind_name(enum tpm_ek_kind kind)
{
	switch (kind) {
	case TPM_EK_RSA:
		return "rsa";
	case TPM_EK_P256:
		return "p256";
	case TPM_EK_ECC:
		return "p384";
	}
	return "unknown";
}

uint32_t
tpm_ek_handle(enum tpm_ek_kind kind)
{
	switch (kind) {
	case TPM_EK_P256:
		return TPM_HANDLE_EK_P256;
	case TPM_EK_ECC:
		return TPM_HANDLE_EK_ECC;
	case TPM_EK_RSA:
		break;
	}
	return TPM_HANDLE_EK_RSA;
}

uint32_t
tpm_ek_cert_index(enum tpm_ek_kind kind)
{
	switch (kind) {
	case TPM_EK_P256:
		return TPM_NV_EK_CERT_P256;
	case TPM_EK_ECC:
		return TPM_NV_EK_CERT_ECC;
	case TPM_EK_RSA:
		break;
	}
	return TPM_NV_EK_CERT_RSA;
}

/* The EK Credential Profile template each kind is created from. */
static unsigned
tpm_ek_kind_template(enum tpm_ek_kind kind)
{
	switch (kind) {
	case TPM_EK_P256:
		return TPM_EK_L2;
	case TPM_EK_ECC:
		return TPM_EK_H3;
	case TPM_EK_RSA:
		break;
	}
	return TPM_EK_L1;
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

/* Creates the kind's EK from its template in the endorsement hierarchy
 * and persists it at its handle (what tpm2_createek does). */
static int
tpm_ek_create(struct tpm *t, enum tpm_ek_kind kind)
{
	const TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA outside = { 0 };
	const TPML_PCR_SELECTION creation_pcr = { 0 };
	TPM2B_PUBLIC tmpl, *pub = NULL;
	TPM2B_CREATION_DATA *cdata = NULL;
	TPM2B_DIGEST *chash = NULL;
	TPMT_TK_CREATION *ticket = NULL;
	ESYS_TR ek = ESYS_TR_NONE, pers = ESYS_TR_NONE;
	unsigned tn = tpm_ek_kind_template(kind);
	TSS2_RC rc;
	int e;

	if ((e = tpm_ek_template_public(tn, &tmpl)) != 0)
		return e;
	e = VIGIL_ETPM;
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
	    &outside, &creation_pcr, &ek, &pub, &cdata, &chash, &ticket);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_CreatePrimary(EK)", rc);
		goto out;
	}
	rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, ek,
	    ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, tpm_ek_handle(kind),
	    &pers);
	if (rc != TSS2_RC_SUCCESS) {
		TPM_FAIL("Esys_EvictControl(persist EK)", rc);
		goto out;
	}
	log_info("tpm: created the %s EK (template %s) at 0x%08x",
	    tpm_ek_kind_name(kind), tpm_ek_template_name(tn),
	    tpm_ek_handle(kind));
	e = 0;
 out:
	tpm_tr_close(t, &pers);
	tpm_flush(t, &ek);
	Esys_Free(pub);
	Esys_Free(cdata);
	Esys_Free(chash);
	Esys_Free(ticket);
	return e;
}

/* An ESYS_TR for the kind's EK, created first if its handle is empty. */
static int
tpm_ek_tr(struct tpm *t, enum tpm_ek_kind kind, ESYS_TR *ek)
{
	int exists, e;

	if ((e = tpm_handle_exists(t, tpm_ek_handle(kind), &exists)) != 0)
		return e;
	if (!exists && (e = tpm_ek_create(t, kind)) != 0)
		return e;
	return tpm_tr_from(t, tpm_ek_handle(kind), "EK", ek);
}

int
tpm_ek_public(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_pub)
{
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR ek = ESYS_TR_NONE;
	int e;

	if ((e = tpm_ek_tr(t, kind, &ek)) == 0 &&
	    (e = tpm_read_public(t, ek, "EK", &pub, NULL)) == 0)
		e = tpm_marshal_public(pub, ek_pub);
	Esys_Free(pub);
	tpm_tr_close(t, &ek);
	return e;
}

int
tpm_ek_cert(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_cert)
{
	int exists, e;

	if ((e = tpm_handle_exists(t, tpm_ek_cert_index(kind), &exists)) != 0)
		return e;
	if (!exists)
		return VIGIL_ENOTFOUND;
	return tpm_nv_read_all(t, tpm_ek_cert_index(kind), ek_cert);
}

int
tpm_ek_read(struct tpm *t, enum tpm_ek_kind kind, struct buf *ek_pub,
    struct buf *ek_cert)
{
	int e;

	if ((e = tpm_ek_public(t, kind, ek_pub)) != 0)
		return e;
	return tpm_ek_cert(t, kind, ek_cert);
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

	if ((e = tpm_ek_tr(t, kind, &ek)) != 0 ||
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
		    "recreating it", TPM_HANDLE_AK, tpm_ek_kind_name(kind));
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
	if ((e = tpm_ek_tr(t, kind, &ek)) != 0 ||
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
