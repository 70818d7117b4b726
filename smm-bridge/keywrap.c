/* Tenant key wrapping: ECDH P-256 + HKDF-SHA256 + AES-256-GCM with the
 * policy as associated data (format in keywrap.h and docs/smm.md). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "err.h"
#include "keywrap.h"
#include "log.h"
#include "mm.h"
#include "rd.h"

#define KW_PT_LEN	65
#define KW_IV_LEN	12
#define KW_TAG_LEN	16

static int
keywrap_bad(const char *what, int err)
{
	log_warn("keywrap: %s", what);
	return err;
}

static int
keywrap_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > KEYWRAP_MAX_ID)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

/* The type/ops/material rules of keywrap.h. */
static int
keywrap_policy_ok(const struct keywrap_policy *p, size_t material_len)
{
	uint8_t allowed;

	if (!keywrap_name_ok(p->key_id, strlen(p->key_id)) ||
	    !keywrap_name_ok(p->tenant, strlen(p->tenant)))
		return keywrap_bad("key id or tenant empty, too long or not "
		    "[A-Za-z0-9._-]", 0);
	if (p->n_callers == 0 || p->n_callers > KEYWRAP_MAX_CALLERS)
		return keywrap_bad("allowed callers: 1..16 needed", 0);
	if (p->type == KEYWRAP_TYPE_EC_P256) {
		allowed = 1u << MM_OP_SIGN;
		if (material_len != 32)
			return keywrap_bad("EC key material is not 32 bytes",
			    0);
	} else if (p->type == KEYWRAP_TYPE_SECRET) {
		allowed = 1u << MM_OP_HMAC;
		if (material_len == 32)
			allowed |= 1u << MM_OP_UNWRAP;
		if (material_len < 16 || material_len > KEYWRAP_MAX_MATERIAL)
			return keywrap_bad("secret is not 16..64 bytes", 0);
	} else {
		return keywrap_bad("unknown key type", 0);
	}
	if (p->ops == 0 || (p->ops & ~allowed) != 0)
		return keywrap_bad("operations not allowed for this key type",
		    0);
	return 1;
}

int
keywrap_fingerprint(EVP_PKEY *pub, uint8_t fp[KEYWRAP_FP_LEN])
{
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len, ok;

	if ((len = i2d_PUBKEY(pub, &der)) <= 0)
		return VIGIL_ECRYPTO;
	ok = EVP_Digest(der, (size_t)len, fp, &n, EVP_sha256(), NULL) == 1;
	OPENSSL_free(der);
	return ok ? 0 : VIGIL_ECRYPTO;
}

/* A P-256 public key from an uncompressed point. */
static int
keywrap_point_to_pkey(const uint8_t *pt, size_t len, EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *c = NULL;
	int e = VIGIL_EINVAL;

	*out = NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
	params[2] = OSSL_PARAM_construct_end();
	if ((c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		keywrap_bad("ephemeral key is not a P-256 point", 0);
		goto out;
	}
	e = 0;
 out:
	EVP_PKEY_CTX_free(c);
	return e;
}

int
keywrap_ec_from_scalar(const uint8_t d[32], EVP_PKEY **out)
{
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;
	BIGNUM *bn = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL;
	uint8_t pub[KW_PT_LEN];
	int e = VIGIL_ECRYPTO;

	*out = NULL;
	if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
	    (bn = BN_bin2bn(d, 32, NULL)) == NULL ||
	    (pt = EC_POINT_new(g)) == NULL)
		goto out;
	if (BN_is_zero(bn) || BN_cmp(bn, EC_GROUP_get0_order(g)) >= 0) {
		e = keywrap_bad("EC private scalar out of range", VIGIL_EINVAL);
		goto out;
	}
	if (EC_POINT_mul(g, pt, bn, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub,
	    sizeof(pub), NULL) != sizeof(pub))
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, out, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	e = 0;
 out:
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return e;
}

int
keywrap_ec_scalar(EVP_PKEY *key, uint8_t d[32])
{
	BIGNUM *bn = NULL;
	int e = VIGIL_ECRYPTO;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
	    BN_bn2binpad(bn, d, 32) == 32)
		e = 0;
	BN_clear_free(bn);
	return e;
}

/* HKDF-SHA256(Z, salt = eph || fp, info) → 32-byte AES key. */
static int
keywrap_kdf(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t eph[KW_PT_LEN],
    const uint8_t fp[KEYWRAP_FP_LEN], uint8_t key[32])
{
	EVP_PKEY_CTX *c = NULL;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kc = NULL;
	OSSL_PARAM params[5];
	uint8_t z[32], salt[KW_PT_LEN + KEYWRAP_FP_LEN];
	size_t zl = sizeof(z);
	int e = VIGIL_ECRYPTO;

	if ((c = EVP_PKEY_CTX_new(priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(c) != 1 ||
	    EVP_PKEY_derive_set_peer(c, peer) != 1 ||
	    EVP_PKEY_derive(c, z, &zl) != 1 || zl != sizeof(z)) {
		keywrap_bad("ECDH failed", 0);
		goto out;
	}
	memcpy(salt, eph, KW_PT_LEN);
	memcpy(salt + KW_PT_LEN, fp, KEYWRAP_FP_LEN);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z,
	    sizeof(z));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    salt, sizeof(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)KEYWRAP_INFO, strlen(KEYWRAP_INFO));
	params[4] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kc = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kc, key, 32, params) != 1) {
		keywrap_bad("HKDF failed", 0);
		goto out;
	}
	e = 0;
 out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	EVP_PKEY_CTX_free(c);
	return e;
}

/* AES-256-GCM; enc = 1 encrypts in → out and writes tag, enc = 0
 * decrypts and checks tag. */
static int
keywrap_gcm(int enc, const uint8_t key[32], const uint8_t iv[KW_IV_LEN],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t tag[KW_TAG_LEN])
{
	EVP_CIPHER_CTX *c;
	int n, ok;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return VIGIL_ENOMEM;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    enc) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, KW_IV_LEN,
	    NULL) == 1 &&
	    EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc) == 1 &&
	    EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1 &&
	    EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
	    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, KW_TAG_LEN,
	    tag) == 1) &&
	    EVP_CipherFinal_ex(c, out + n, &n) == 1 &&
	    (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, KW_TAG_LEN,
	    tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : VIGIL_ECRYPTO;
}

int
keywrap_wrap(EVP_PKEY *recipient, const struct keywrap_key *key,
    struct buf *out)
{
	struct buf b = BUF_INIT;
	EVP_PKEY *eph = NULL;
	uint8_t fp[KEYWRAP_FP_LEN], pt[KW_PT_LEN], aes[32], iv[KW_IV_LEN];
	uint8_t ct[KEYWRAP_MAX_MATERIAL], tag[KW_TAG_LEN];
	size_t ptl = 0, aad_len, i;
	int e;

	if (!keywrap_policy_ok(&key->pol, key->material_len))
		return VIGIL_EINVAL;
	if ((e = keywrap_fingerprint(recipient, fp)) != 0)
		return e;
	e = VIGIL_ECRYPTO;
	if ((eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    EVP_PKEY_get_octet_string_param(eph,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &ptl) != 1 ||
	    ptl != KW_PT_LEN || RAND_bytes(iv, sizeof(iv)) != 1)
		goto out;
	if ((e = keywrap_kdf(eph, recipient, pt, fp, aes)) != 0)
		goto out;
	if ((e = buf_add(&b, KEYWRAP_MAGIC, 4)) ||
	    (e = buf_add_u8(&b, KEYWRAP_VERSION)) ||
	    (e = buf_add(&b, pt, sizeof(pt))) ||
	    (e = buf_add_u8(&b, (uint8_t)strlen(key->pol.key_id))) ||
	    (e = buf_add(&b, key->pol.key_id, strlen(key->pol.key_id))) ||
	    (e = buf_add_u8(&b, (uint8_t)strlen(key->pol.tenant))) ||
	    (e = buf_add(&b, key->pol.tenant, strlen(key->pol.tenant))) ||
	    (e = buf_add_u8(&b, key->pol.ops)) ||
	    (e = buf_add_u8(&b, key->pol.n_callers)))
		goto out;
	for (i = 0; i < key->pol.n_callers; i++)
		if ((e = buf_add_u32le(&b, key->pol.callers[i])) != 0)
			goto out;
	if ((e = buf_add(&b, fp, sizeof(fp))) ||
	    (e = buf_add_u8(&b, key->pol.type)))
		goto out;
	aad_len = b.len;
	if ((e = keywrap_gcm(1, aes, iv, b.data, aad_len, key->material,
	    key->material_len, ct, tag)) != 0)
		goto out;
	if ((e = buf_add(&b, iv, sizeof(iv))) ||
	    (e = buf_add_u16le(&b, (uint16_t)key->material_len)) ||
	    (e = buf_add(&b, ct, key->material_len)) ||
	    (e = buf_add(&b, tag, sizeof(tag))) ||
	    (e = buf_add(out, b.data, b.len)))
		goto out;
 out:
	OPENSSL_cleanse(aes, sizeof(aes));
	EVP_PKEY_free(eph);
	buf_free(&b);
	return e;
}

/* The parsed layout of a blob; pointers into it. */
struct kw_parsed {
	const uint8_t *eph;
	size_t aad_len;
	const uint8_t *iv;
	const uint8_t *ct;
	size_t ct_len;
	const uint8_t *tag;
};

static int
keywrap_parse(const uint8_t *blob, size_t len, struct keywrap_policy *p,
    struct kw_parsed *k)
{
	struct rd r;
	const uint8_t *magic, *s;
	uint8_t ver, n;
	uint16_t cl;
	size_t i;

	memset(p, 0, sizeof(*p));
	memset(k, 0, sizeof(*k));
	rd_init(&r, blob, len);
	if (rd_bytes(&r, 4, &magic) != 0 || rd_u8(&r, &ver) != 0 ||
	    rd_bytes(&r, KW_PT_LEN, &k->eph) != 0)
		return keywrap_bad("blob truncated in its header", VIGIL_ETRUNC);
	if (memcmp(magic, KEYWRAP_MAGIC, 4) != 0 || ver != KEYWRAP_VERSION)
		return keywrap_bad("not a version 1 VGKW blob", VIGIL_EINVAL);
	if (rd_u8(&r, &n) != 0 || rd_bytes(&r, n, &s) != 0)
		return keywrap_bad("blob truncated in key id", VIGIL_ETRUNC);
	if (!keywrap_name_ok((const char *)s, n))
		return keywrap_bad("bad key id", VIGIL_EINVAL);
	memcpy(p->key_id, s, n);
	if (rd_u8(&r, &n) != 0 || rd_bytes(&r, n, &s) != 0)
		return keywrap_bad("blob truncated in tenant", VIGIL_ETRUNC);
	if (!keywrap_name_ok((const char *)s, n))
		return keywrap_bad("bad tenant", VIGIL_EINVAL);
	memcpy(p->tenant, s, n);
	if (rd_u8(&r, &p->ops) != 0 || rd_u8(&r, &p->n_callers) != 0)
		return keywrap_bad("blob truncated in policy", VIGIL_ETRUNC);
	if (p->n_callers == 0 || p->n_callers > KEYWRAP_MAX_CALLERS)
		return keywrap_bad("allowed callers out of range", VIGIL_EINVAL);
	for (i = 0; i < p->n_callers; i++)
		if (rd_u32le(&r, &p->callers[i]) != 0)
			return keywrap_bad("blob truncated in callers",
			    VIGIL_ETRUNC);
	if (rd_copy(&r, p->recipient_fp, KEYWRAP_FP_LEN) != 0 ||
	    rd_u8(&r, &p->type) != 0)
		return keywrap_bad("blob truncated in recipient or type",
		    VIGIL_ETRUNC);
	k->aad_len = len - r.left;
	if (rd_bytes(&r, KW_IV_LEN, &k->iv) != 0 || rd_u16le(&r, &cl) != 0)
		return keywrap_bad("blob truncated in iv", VIGIL_ETRUNC);
	if (cl == 0 || cl > KEYWRAP_MAX_MATERIAL)
		return keywrap_bad("ciphertext length out of range",
		    VIGIL_EINVAL);
	k->ct_len = cl;
	if (rd_bytes(&r, cl, &k->ct) != 0 ||
	    rd_bytes(&r, KW_TAG_LEN, &k->tag) != 0)
		return keywrap_bad("blob truncated in ciphertext",
		    VIGIL_ETRUNC);
	if (r.left != 0)
		return keywrap_bad("bytes after the blob", VIGIL_EINVAL);
	if (!keywrap_policy_ok(p, cl))
		return VIGIL_EINVAL;
	return 0;
}

int
keywrap_peek(const uint8_t *blob, size_t len, struct keywrap_policy *out)
{
	struct kw_parsed k;

	return keywrap_parse(blob, len, out, &k);
}

int
keywrap_unwrap(EVP_PKEY *recipient, const uint8_t *blob, size_t len,
    struct keywrap_key *out)
{
	struct kw_parsed k;
	EVP_PKEY *eph = NULL;
	uint8_t fp[KEYWRAP_FP_LEN], aes[32], tag[KW_TAG_LEN];
	int e;

	memset(out, 0, sizeof(*out));
	if ((e = keywrap_parse(blob, len, &out->pol, &k)) != 0)
		goto out;
	if ((e = keywrap_fingerprint(recipient, fp)) != 0)
		goto out;
	if (memcmp(fp, out->pol.recipient_fp, sizeof(fp)) != 0) {
		e = keywrap_bad("blob is wrapped to another recipient key",
		    VIGIL_EDENIED);
		goto out;
	}
	if ((e = keywrap_point_to_pkey(k.eph, KW_PT_LEN, &eph)) != 0 ||
	    (e = keywrap_kdf(recipient, eph, k.eph, fp, aes)) != 0)
		goto out;
	memcpy(tag, k.tag, sizeof(tag));
	if ((e = keywrap_gcm(0, aes, k.iv, blob, k.aad_len, k.ct, k.ct_len,
	    out->material, tag)) != 0) {
		keywrap_bad("GCM tag does not verify (policy changed or "
		    "wrong key)", 0);
		goto out;
	}
	out->material_len = k.ct_len;
 out:
	OPENSSL_cleanse(aes, sizeof(aes));
	EVP_PKEY_free(eph);
	if (e != 0)
		OPENSSL_cleanse(out, sizeof(*out));
	return e;
}

int
keywrap_ops_parse(const char *s, uint8_t *ops)
{
	char tmp[64], *tok, *save = NULL;
	uint8_t op, v = 0;

	if (strlen(s) >= sizeof(tmp))
		return VIGIL_EINVAL;
	memcpy(tmp, s, strlen(s) + 1);
	for (tok = strtok_r(tmp, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (mm_op_parse(tok, &op) != 0)
			return VIGIL_EINVAL;
		v |= (uint8_t)(1u << op);
	}
	if (v == 0)
		return VIGIL_EINVAL;
	*ops = v;
	return 0;
}
