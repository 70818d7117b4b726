/* TPM2_MakeCredential in software, OpenSSL 3 EVP only. TPM 2.0 Part 1:
 * "Credential Protection" (the outer wrap), "KDFa" (SP800-108 counter mode
 * with HMAC) and "KDFe" (SP800-56A concatenation KDF), Annex B (RSA: the
 * seed encrypted with OAEP, label "IDENTITY") and Annex C (ECC: the seed
 * derived from an ephemeral ECDH). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "err.h"
#include "rd.h"
#include "log.h"
#include "makecred.h"
#include "tpm_parse.h"

#define MC_MAX_DIGEST 64
#define MC_MAX_FIELD 48

struct mc_part {
	const void *p;
	size_t n;
};

static void
mc_u32be(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* HMAC (key != NULL) or plain hash (key == NULL) over the parts. */
static int
mc_mac(const EVP_MD *md, const uint8_t *key, size_t keylen,
    const struct mc_part *parts, size_t nparts, uint8_t out[MC_MAX_DIGEST])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *mctx = NULL;
	EVP_MD_CTX *hctx = NULL;
	OSSL_PARAM params[2];
	unsigned int hl = 0;
	size_t i, ol = 0;
	int r = VIGIL_ECRYPTO;

	if (key == NULL) {
		if ((hctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(hctx, md, NULL) != 1)
			goto out;
		for (i = 0; i < nparts; i++)
			if (parts[i].n > 0 &&
			    EVP_DigestUpdate(hctx, parts[i].p, parts[i].n) != 1)
				goto out;
		if (EVP_DigestFinal_ex(hctx, out, &hl) != 1)
			goto out;
		r = 0;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (mctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(mctx, key, keylen, params) != 1)
		goto out;
	for (i = 0; i < nparts; i++)
		if (parts[i].n > 0 &&
		    EVP_MAC_update(mctx, parts[i].p, parts[i].n) != 1)
			goto out;
	if (EVP_MAC_final(mctx, out, &ol, MC_MAX_DIGEST) != 1)
		goto out;
	r = 0;
 out:
	if (r != 0)
		log_err("makecred: %s failed", key ? "HMAC" : "digest");
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	EVP_MD_CTX_free(hctx);
	return r;
}

/* KDFa(hash, key, label, ctxU, ctxV, bits): HMAC_key over
 * [i]32 || label || 0x00 || ctxU || ctxV || [bits]32, i = 1, 2, ... */
static int
mc_kdfa(const EVP_MD *md, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *u, size_t ulen, uint32_t bits,
    uint8_t *out)
{
	uint8_t ctr[4], nbits[4], blk[MC_MAX_DIGEST];
	size_t need = bits / 8, hlen = (size_t)EVP_MD_get_size(md), n;
	struct mc_part parts[4];
	uint32_t i;
	int r = 0;

	mc_u32be(nbits, bits);
	parts[0] = (struct mc_part){ ctr, 4 };
	parts[1] = (struct mc_part){ label, strlen(label) + 1 };
	parts[2] = (struct mc_part){ u, ulen };
	parts[3] = (struct mc_part){ nbits, 4 };
	for (i = 1; need > 0; i++) {
		mc_u32be(ctr, i);
		if ((r = mc_mac(md, key, keylen, parts, 4, blk)) != 0)
			break;
		n = need < hlen ? need : hlen;
		memcpy(out, blk, n);
		out += n;
		need -= n;
	}
	OPENSSL_cleanse(blk, sizeof(blk));
	return r;
}

/* KDFe(hash, Z, label, U, V, bits): H([i]32 || Z || label || 0x00 || U || V). */
static int
mc_kdfe(const EVP_MD *md, const uint8_t *z, size_t zlen, const char *label,
    const uint8_t *u, size_t ulen, const uint8_t *v, size_t vlen,
    uint32_t bits, uint8_t *out)
{
	uint8_t ctr[4], blk[MC_MAX_DIGEST];
	size_t need = bits / 8, hlen = (size_t)EVP_MD_get_size(md), n;
	struct mc_part parts[5];
	uint32_t i;
	int r = 0;

	parts[0] = (struct mc_part){ ctr, 4 };
	parts[1] = (struct mc_part){ z, zlen };
	parts[2] = (struct mc_part){ label, strlen(label) + 1 };
	parts[3] = (struct mc_part){ u, ulen };
	parts[4] = (struct mc_part){ v, vlen };
	for (i = 1; need > 0; i++) {
		mc_u32be(ctr, i);
		if ((r = mc_mac(md, NULL, 0, parts, 5, blk)) != 0)
			break;
		n = need < hlen ? need : hlen;
		memcpy(out, blk, n);
		out += n;
		need -= n;
	}
	OPENSSL_cleanse(blk, sizeof(blk));
	return r;
}

/* RSA EK: a random seed, OAEP-encrypted with the nameAlg and "IDENTITY\0". */
static int
mc_seed_rsa(const TPM2B_PUBLIC *ek, const EVP_MD *md, uint8_t *seed,
    size_t seedlen, TPM2B_ENCRYPTED_SECRET *out)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *label = NULL;
	size_t olen = sizeof(out->secret);
	int r;

	if ((r = tpm_public_to_evp(ek, &key)) != 0)
		return r;
	r = VIGIL_ECRYPTO;
	if (RAND_bytes(seed, (int)seedlen) != 1) {
		log_err("makecred: RAND_bytes failed");
		goto out;
	}
	if ((label = OPENSSL_malloc(9)) == NULL) {
		r = VIGIL_ENOMEM;
		goto out;
	}
	memcpy(label, "IDENTITY", 9);
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 9) != 1) {
		log_err("makecred: RSA-OAEP setup failed");
		goto out;
	}
	label = NULL;	/* owned by ctx now */
	if (EVP_PKEY_encrypt(ctx, out->secret, &olen, seed, seedlen) != 1) {
		log_err("makecred: RSA-OAEP encryption of the seed failed");
		goto out;
	}
	out->size = (UINT16)olen;
	r = 0;
 out:
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return r;
}

/* x (and y) of an EC public key, left-padded to the field size. */
static int
mc_ec_xy(const EVP_PKEY *k, size_t fl, uint8_t *x, uint8_t *y)
{
	BIGNUM *bx = NULL, *by = NULL;
	int r = VIGIL_ECRYPTO;

	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
	    BN_bn2binpad(bx, x, (int)fl) != (int)fl ||
	    BN_bn2binpad(by, y, (int)fl) != (int)fl)
		goto out;
	r = 0;
 out:
	BN_free(bx);
	BN_free(by);
	return r;
}

/* ECC EK: ephemeral ECDH on the EK's curve; the seed is
 * KDFe(nameAlg, Z, "IDENTITY", ephemeral x, EK x, digest bits) and the
 * encrypted secret the ephemeral public point as TPMS_ECC_POINT. */
static int
mc_seed_ecc(const TPM2B_PUBLIC *ek, const EVP_MD *md, uint8_t *seed,
    size_t seedlen, TPM2B_ENCRYPTED_SECRET *out)
{
	uint8_t z[MC_MAX_FIELD], ex[MC_MAX_FIELD], ey[MC_MAX_FIELD];
	const TPMS_ECC_POINT *ekp = &ek->publicArea.unique.ecc;
	EVP_PKEY *ekkey = NULL, *eph = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	TPMS_ECC_POINT pt;
	const char *group;
	size_t fl, zlen = sizeof(z), off = 0;
	TSS2_RC rc;
	int r;

	if ((r = tpm_curve_info(ek->publicArea.parameters.eccDetail.curveID,
	    &group, &fl)) != 0)
		return r;
	if ((r = tpm_public_to_evp(ek, &ekkey)) != 0)
		return r;
	r = VIGIL_ECRYPTO;
	if ((eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group)) == NULL) {
		log_err("makecred: ephemeral %s key generation failed", group);
		goto out;
	}
	if ((dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer(dctx, ekkey) != 1 ||
	    EVP_PKEY_derive(dctx, z, &zlen) != 1 || zlen != fl) {
		log_err("makecred: ECDH with the EK failed");
		goto out;
	}
	if (mc_ec_xy(eph, fl, ex, ey) != 0)
		goto out;
	if ((r = mc_kdfe(md, z, zlen, "IDENTITY", ex, fl, ekp->x.buffer,
	    ekp->x.size, (uint32_t)seedlen * 8, seed)) != 0)
		goto out;
	memset(&pt, 0, sizeof(pt));
	pt.x.size = pt.y.size = (UINT16)fl;
	memcpy(pt.x.buffer, ex, fl);
	memcpy(pt.y.buffer, ey, fl);
	rc = Tss2_MU_TPMS_ECC_POINT_Marshal(&pt, out->secret,
	    sizeof(out->secret), &off);
	if (rc != TSS2_RC_SUCCESS) {
		log_err("makecred: Tss2_MU_TPMS_ECC_POINT_Marshal rc=0x%x",
		    (unsigned)rc);
		r = VIGIL_EINVAL;
		goto out;
	}
	out->size = (UINT16)off;
	r = 0;
 out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(ekkey);
	return r;
}

/* The EK's storage symmetric definition: AES-128 or AES-256 in CFB mode. */
static int
mc_sym_check(const TPMT_PUBLIC *pa, const EVP_CIPHER **cipher,
    uint32_t *bits)
{
	const TPMT_SYM_DEF_OBJECT *s = pa->type == TPM2_ALG_RSA ?
	    &pa->parameters.rsaDetail.symmetric :
	    &pa->parameters.eccDetail.symmetric;

	if (s->algorithm != TPM2_ALG_AES) {
		log_warn("makecred: EK symmetric algorithm %s (0x%04x) not "
		    "supported, want AES", tpm_alg_name(s->algorithm),
		    s->algorithm);
		return VIGIL_EUNSUPP;
	}
	if (s->mode.aes != TPM2_ALG_CFB) {
		log_warn("makecred: EK symmetric mode %s (0x%04x) not "
		    "supported, want CFB", tpm_alg_name(s->mode.aes),
		    s->mode.aes);
		return VIGIL_EUNSUPP;
	}
	switch (s->keyBits.aes) {
	case 128:
		*cipher = EVP_aes_128_cfb128();
		break;
	case 256:
		*cipher = EVP_aes_256_cfb128();
		break;
	default:
		log_warn("makecred: EK AES key size %u not supported",
		    s->keyBits.aes);
		return VIGIL_EUNSUPP;
	}
	*bits = s->keyBits.aes;
	return 0;
}

/* AES-CFB with a zero IV, encrypting (enc = 1) or decrypting (enc = 0). */
static int
mc_aes_cfb(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *in,
    size_t len, uint8_t *out, int enc)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *c;
	int l1 = 0, l2 = 0, r = VIGIL_ECRYPTO;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return VIGIL_ENOMEM;
	if (EVP_CipherInit_ex(c, cipher, NULL, key, iv, enc) == 1 &&
	    EVP_CipherUpdate(c, out, &l1, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(c, out + l1, &l2) == 1 &&
	    (size_t)(l1 + l2) == len)
		r = 0;
	else
		log_err("makecred: AES-CFB failed");
	EVP_CIPHER_CTX_free(c);
	return r;
}

/* symKey = KDFa(seed, "STORAGE", name, symbits) and
 * HMACkey = KDFa(seed, "INTEGRITY", digest bits). */
static int
mc_keys(const EVP_MD *md, const uint8_t *seed, size_t dlen,
    const TPM2B_NAME *name, uint32_t symbits, uint8_t symkey[32],
    uint8_t hmackey[MC_MAX_DIGEST])
{
	int r;

	if ((r = mc_kdfa(md, seed, dlen, "STORAGE", name->name, name->size,
	    symbits, symkey)) != 0)
		return r;
	return mc_kdfa(md, seed, dlen, "INTEGRITY", NULL, 0,
	    (uint32_t)dlen * 8, hmackey);
}

/* The EK's name hash and storage cipher, each refused by name if not
 * supported. */
static int
mc_ek_params(const TPM2B_PUBLIC *ek, const EVP_MD **md, size_t *dlen,
    const EVP_CIPHER **cipher, uint32_t *symbits)
{
	const TPMT_PUBLIC *pa = &ek->publicArea;

	if ((*md = tpm_alg_md(pa->nameAlg)) == NULL) {
		log_warn("makecred: EK name algorithm %s (0x%04x) not "
		    "supported", tpm_alg_name(pa->nameAlg), pa->nameAlg);
		return VIGIL_EUNSUPP;
	}
	*dlen = (size_t)EVP_MD_get_size(*md);
	if (pa->type != TPM2_ALG_RSA && pa->type != TPM2_ALG_ECC) {
		log_warn("makecred: EK type %s (0x%04x) not supported",
		    tpm_alg_name(pa->type), pa->type);
		return VIGIL_EUNSUPP;
	}
	return mc_sym_check(pa, cipher, symbits);
}

int
makecred(const TPM2B_PUBLIC *ek, const TPM2B_NAME *obj_name,
    const uint8_t *secret, size_t secret_len, TPM2B_ID_OBJECT *cred_out,
    TPM2B_ENCRYPTED_SECRET *secret_out)
{
	const TPMT_PUBLIC *pa = &ek->publicArea;
	uint8_t seed[MC_MAX_DIGEST], symkey[32], hmackey[MC_MAX_DIGEST];
	uint8_t plain[2 + MC_MAX_DIGEST], hmac[MC_MAX_DIGEST];
	uint8_t *enc;
	const EVP_CIPHER *cipher;
	const EVP_MD *md;
	struct mc_part parts[2];
	uint32_t symbits;
	size_t dlen, plen;
	int r;

	if ((r = mc_ek_params(ek, &md, &dlen, &cipher, &symbits)) != 0)
		return r;
	if (secret_len == 0 || secret_len > dlen) {
		log_warn("makecred: secret of %zu bytes, want 1..%zu (the "
		    "EK's name digest size)", secret_len, dlen);
		return VIGIL_EINVAL;
	}
	if (obj_name->size < 2 || obj_name->size > sizeof(obj_name->name)) {
		log_warn("makecred: object name of %u bytes", obj_name->size);
		return VIGIL_EINVAL;
	}
	memset(cred_out, 0, sizeof(*cred_out));
	memset(secret_out, 0, sizeof(*secret_out));
	if (pa->type == TPM2_ALG_RSA)
		r = mc_seed_rsa(ek, md, seed, dlen, secret_out);
	else
		r = mc_seed_ecc(ek, md, seed, dlen, secret_out);
	if (r != 0)
		goto out;
	if ((r = mc_keys(md, seed, dlen, obj_name, symbits, symkey,
	    hmackey)) != 0)
		goto out;
	/* encIdentity = AES-CFB(symKey, IV 0, TPM2B_DIGEST(secret)). */
	plain[0] = (uint8_t)(secret_len >> 8);
	plain[1] = (uint8_t)secret_len;
	memcpy(plain + 2, secret, secret_len);
	plen = 2 + secret_len;
	/* credentialBlob = TPM2B_DIGEST(outerHMAC) || encIdentity */
	enc = cred_out->credential + 2 + dlen;
	if ((r = mc_aes_cfb(cipher, symkey, plain, plen, enc, 1)) != 0)
		goto out;
	/* outerHMAC = HMAC(HMACkey, encIdentity || name). */
	parts[0] = (struct mc_part){ enc, plen };
	parts[1] = (struct mc_part){ obj_name->name, obj_name->size };
	if ((r = mc_mac(md, hmackey, dlen, parts, 2, hmac)) != 0)
		goto out;
	cred_out->credential[0] = (uint8_t)(dlen >> 8);
	cred_out->credential[1] = (uint8_t)dlen;
	memcpy(cred_out->credential + 2, hmac, dlen);
	cred_out->size = (UINT16)(2 + dlen + plen);
	r = 0;
 out:
	if (r != 0) {
		memset(cred_out, 0, sizeof(*cred_out));
		memset(secret_out, 0, sizeof(*secret_out));
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hmackey, sizeof(hmackey));
	OPENSSL_cleanse(plain, sizeof(plain));
	return r;
}

int
makecred_marshal(const TPM2B_ID_OBJECT *cred,
    const TPM2B_ENCRYPTED_SECRET *sec, uint8_t *cred_buf, size_t cred_cap,
    size_t *cred_len, uint8_t *sec_buf, size_t sec_cap, size_t *sec_len)
{
	size_t co = 0, so = 0;
	TSS2_RC rc;

	if ((rc = Tss2_MU_TPM2B_ID_OBJECT_Marshal(cred, cred_buf, cred_cap,
	    &co)) != TSS2_RC_SUCCESS ||
	    (rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(sec, sec_buf, sec_cap,
	    &so)) != TSS2_RC_SUCCESS) {
		log_warn("makecred: marshal failed rc=0x%x", (unsigned)rc);
		return VIGIL_ETOOBIG;
	}
	*cred_len = co;
	*sec_len = so;
	return 0;
}

/* RSA EK: the seed is the OAEP decryption of the encrypted secret. */
static int
mc_unseed_rsa(EVP_PKEY *key, const EVP_MD *md,
    const TPM2B_ENCRYPTED_SECRET *es, uint8_t *seed, size_t seedlen)
{
	uint8_t out[sizeof(es->secret)];
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *label = NULL;
	size_t olen = sizeof(out);
	int r = VIGIL_ECRYPTO;

	if ((label = OPENSSL_malloc(9)) == NULL)
		return VIGIL_ENOMEM;
	memcpy(label, "IDENTITY", 9);
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 9) != 1)
		goto out;
	label = NULL;
	if (EVP_PKEY_decrypt(ctx, out, &olen, es->secret, es->size) != 1 ||
	    olen != seedlen) {
		log_warn("activate: the encrypted seed does not decrypt to a "
		    "%zu-byte seed", seedlen);
		r = VIGIL_EVERIFY;
		goto out;
	}
	memcpy(seed, out, seedlen);
	r = 0;
 out:
	OPENSSL_cleanse(out, sizeof(out));
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ECC EK: the encrypted secret is the sender's ephemeral point. */
static int
mc_unseed_ecc(const TPM2B_PUBLIC *ek, EVP_PKEY *key, const EVP_MD *md,
    const TPM2B_ENCRYPTED_SECRET *es, uint8_t *seed, size_t seedlen)
{
	uint8_t z[MC_MAX_FIELD];
	TPM2B_PUBLIC peer = *ek;
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	size_t off = 0, zlen = sizeof(z);
	TSS2_RC rc;
	int r;

	rc = Tss2_MU_TPMS_ECC_POINT_Unmarshal(es->secret, es->size, &off,
	    &peer.publicArea.unique.ecc);
	if (rc != TSS2_RC_SUCCESS || off != es->size) {
		log_warn("activate: encrypted secret is not one TPMS_ECC_POINT");
		return VIGIL_EINVAL;
	}
	/* Checks the point is on the EK's curve. */
	if ((r = tpm_public_to_evp(&peer, &pk)) != 0)
		return r;
	r = VIGIL_ECRYPTO;
	if ((dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer(dctx, pk) != 1 ||
	    EVP_PKEY_derive(dctx, z, &zlen) != 1) {
		log_err("activate: ECDH failed");
		goto out;
	}
	r = mc_kdfe(md, z, zlen, "IDENTITY",
	    peer.publicArea.unique.ecc.x.buffer,
	    peer.publicArea.unique.ecc.x.size, ek->publicArea.unique.ecc.x.buffer,
	    ek->publicArea.unique.ecc.x.size, (uint32_t)seedlen * 8, seed);
 out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(pk);
	return r;
}

/* The two marshaled inputs of ActivateCredential, each exactly one
 * structure; *ih: the integrity HMAC (dlen bytes), *enc: encIdentity. */
static int
mc_parse_cred(const uint8_t *cred, size_t cred_len, const uint8_t *enc_secret,
    size_t enc_len, size_t dlen, TPM2B_ENCRYPTED_SECRET *es,
    TPM2B_ID_OBJECT *id, const uint8_t **ih, const uint8_t **enc,
    size_t *enclen)
{
	struct rd rd;
	uint16_t ihlen;
	size_t off = 0;

	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(cred, cred_len, &off, id) !=
	    TSS2_RC_SUCCESS || off != cred_len) {
		log_warn("activate: credential is not one TPM2B_ID_OBJECT");
		return VIGIL_EINVAL;
	}
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc_secret, enc_len,
	    &off, es) != TSS2_RC_SUCCESS || off != enc_len) {
		log_warn("activate: secret is not one TPM2B_ENCRYPTED_SECRET");
		return VIGIL_EINVAL;
	}
	/* credentialBlob = TPM2B_DIGEST(integrity HMAC) || encIdentity */
	rd_init(&rd, id->credential, id->size);
	if (rd_u16be(&rd, &ihlen) != 0 || ihlen != dlen ||
	    rd_bytes(&rd, ihlen, ih) != 0 || rd.left < 2) {
		log_warn("activate: credential blob malformed (integrity HMAC "
		    "of the wrong size or no encIdentity)");
		return VIGIL_EINVAL;
	}
	*enc = rd.p;
	*enclen = rd.left;
	return 0;
}

int
makecred_activate_sw(const TPM2B_PUBLIC *ek, EVP_PKEY *ek_key,
    const TPM2B_NAME *obj_name, const uint8_t *cred, size_t cred_len,
    const uint8_t *enc_secret, size_t enc_len, uint8_t *secret,
    size_t *secret_len)
{
	const TPMT_PUBLIC *pa = &ek->publicArea;
	uint8_t seed[MC_MAX_DIGEST], symkey[32], hmackey[MC_MAX_DIGEST];
	uint8_t hmac[MC_MAX_DIGEST], plain[sizeof(TPMS_ID_OBJECT)];
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET es;
	const EVP_CIPHER *cipher;
	const EVP_MD *md;
	const uint8_t *ih, *enc;
	struct mc_part parts[2];
	struct rd rd;
	uint16_t slen;
	uint32_t symbits;
	size_t dlen, enclen;
	int r;

	if ((r = mc_ek_params(ek, &md, &dlen, &cipher, &symbits)) != 0)
		return r;
	if (obj_name->size < 2 || obj_name->size > sizeof(obj_name->name)) {
		log_warn("activate: object name of %u bytes", obj_name->size);
		return VIGIL_EINVAL;
	}
	if ((r = mc_parse_cred(cred, cred_len, enc_secret, enc_len, dlen,
	    &es, &id, &ih, &enc, &enclen)) != 0)
		return r;
	if (pa->type == TPM2_ALG_RSA)
		r = mc_unseed_rsa(ek_key, md, &es, seed, dlen);
	else
		r = mc_unseed_ecc(ek, ek_key, md, &es, seed, dlen);
	if (r != 0)
		goto out;
	if ((r = mc_keys(md, seed, dlen, obj_name, symbits, symkey,
	    hmackey)) != 0)
		goto out;
	parts[0] = (struct mc_part){ enc, enclen };
	parts[1] = (struct mc_part){ obj_name->name, obj_name->size };
	if ((r = mc_mac(md, hmackey, dlen, parts, 2, hmac)) != 0)
		goto out;
	if (CRYPTO_memcmp(hmac, ih, dlen) != 0) {
		log_warn("activate: credential integrity HMAC does not match "
		    "(another object name or another EK)");
		r = VIGIL_EVERIFY;
		goto out;
	}
	if ((r = mc_aes_cfb(cipher, symkey, enc, enclen, plain, 0)) != 0)
		goto out;
	rd_init(&rd, plain, enclen);
	if (rd_u16be(&rd, &slen) != 0 || slen != rd.left || slen > dlen) {
		log_warn("activate: decrypted credential is not one "
		    "TPM2B_DIGEST");
		r = VIGIL_EINVAL;
		goto out;
	}
	if (slen > *secret_len) {
		r = VIGIL_ETOOBIG;
		goto out;
	}
	memcpy(secret, rd.p, slen);
	*secret_len = slen;
	r = 0;
 out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hmackey, sizeof(hmackey));
	OPENSSL_cleanse(plain, sizeof(plain));
	return r;
}
