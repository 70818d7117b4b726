/* Migration blobs (enclave/migblob.h): a vTPM's state encrypted to the
 * target MigE's transport key, and the state-file encoding inside. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "err.h"
#include "log.h"
#include "migblob.h"
#include "rd.h"

#define MIGBLOB_PUB_LEN		65
#define MIGBLOB_NONCE_LEN	12
#define MIGBLOB_TAG_LEN		16
#define MIGBLOB_LABEL		"vigil-migblob-v1"
#define MIGBLOB_INFO		"vigil-migblob-v1 aes-256-gcm"

void
migstate_free(struct migstate *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < MIGBLOB_MAX_FILES; i++)
		buf_free(&s->f[i].data);
	memset(s, 0, sizeof(*s));
}

static int
migstate_name_ok(const uint8_t *s, size_t len)
{
	size_t i;

	if (len < 1 || len > MIGBLOB_MAX_NAME || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
migstate_add(struct migstate *s, const char *name, const uint8_t *p,
    size_t len)
{
	size_t nl = strlen(name), i;

	if (!migstate_name_ok((const uint8_t *)name, nl) ||
	    s->n >= MIGBLOB_MAX_FILES || len > MIGBLOB_MAX_STATE) {
		log_err("migblob: state file \"%s\" refused (name, count or "
		    "size)", name);
		return VIGIL_EINVAL;
	}
	for (i = 0; i < s->n; i++)
		if (strcmp(s->f[i].name, name) == 0) {
			log_err("migblob: state file %s twice", name);
			return VIGIL_EINVAL;
		}
	memcpy(s->f[s->n].name, name, nl + 1);
	s->f[s->n].data.len = 0;
	if (buf_add(&s->f[s->n].data, p, len) != 0)
		return VIGIL_ENOMEM;
	s->n++;
	return 0;
}

int
migstate_marshal(const struct migstate *s, struct buf *out)
{
	size_t start = out->len, i, nl;
	int e = 0;

	if (s->n < 1 || s->n > MIGBLOB_MAX_FILES)
		return VIGIL_EINVAL;
	if ((e = buf_add_u16be(out, (uint16_t)s->n)) != 0)
		goto out;
	for (i = 0; i < s->n; i++) {
		nl = strlen(s->f[i].name);
		if ((e = buf_add_u16be(out, (uint16_t)nl)) != 0 ||
		    (e = buf_add(out, s->f[i].name, nl)) != 0 ||
		    (e = buf_add_u32be(out, (uint32_t)s->f[i].data.len)) != 0 ||
		    (e = buf_add(out, s->f[i].data.data,
		    s->f[i].data.len)) != 0)
			goto out;
	}
	if (out->len - start > MIGBLOB_MAX_STATE) {
		log_err("migblob: state of %zu bytes over the limit",
		    out->len - start);
		e = VIGIL_ETOOBIG;
	}
 out:
	if (e != 0)
		out->len = start;
	return e;
}

int
migstate_parse(const uint8_t *p, size_t len, struct migstate *out)
{
	struct migstate s;
	const uint8_t *name, *data;
	uint16_t n, nl;
	uint32_t dl;
	struct rd r;
	char nm[MIGBLOB_MAX_NAME + 1];
	size_t i;
	int e;

	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	if (len > MIGBLOB_MAX_STATE) {
		log_warn("migblob: state of %zu bytes over the limit", len);
		return VIGIL_ETOOBIG;
	}
	rd_init(&r, p, len);
	if ((e = rd_u16be(&r, &n)) != 0) {
		log_warn("migblob: state file count truncated");
		goto out;
	}
	if (n < 1 || n > MIGBLOB_MAX_FILES) {
		log_warn("migblob: %u state files, allowed 1..%u", n,
		    MIGBLOB_MAX_FILES);
		e = VIGIL_EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((e = rd_u16be(&r, &nl)) != 0 ||
		    (e = rd_bytes(&r, nl, &name)) != 0 ||
		    (e = rd_u32be(&r, &dl)) != 0 ||
		    (e = rd_bytes(&r, dl, &data)) != 0) {
			log_warn("migblob: state file %zu truncated", i);
			goto out;
		}
		if (!migstate_name_ok(name, nl)) {
			log_warn("migblob: state file %zu has a bad name", i);
			e = VIGIL_EINVAL;
			goto out;
		}
		memcpy(nm, name, nl);
		nm[nl] = '\0';
		if ((e = migstate_add(&s, nm, data, dl)) != 0)
			goto out;
	}
	if (r.left != 0) {
		log_warn("migblob: %zu trailing bytes after the state", r.left);
		e = VIGIL_EINVAL;
		goto out;
	}
	*out = s;
	memset(&s, 0, sizeof(s));
 out:
	migstate_free(&s);
	return e;
}

int
migblob_fingerprint(EVP_PKEY *pub, uint8_t out[32])
{
	unsigned char *der = NULL;
	unsigned int dl;
	int n, e = 0;

	if ((n = i2d_PUBKEY(pub, &der)) <= 0)
		return VIGIL_ECRYPTO;
	if (EVP_Digest(der, (size_t)n, out, &dl, EVP_sha256(), NULL) != 1)
		e = VIGIL_ECRYPTO;
	OPENSSL_free(der);
	return e;
}

static int
migblob_is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t gl;

	return k != NULL && EVP_PKEY_is_a(k, "EC") &&
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &gl) == 1 &&
	    strcmp(group, "prime256v1") == 0;
}

static int
migblob_ad(const char *vm_id, size_t vl, const char *source, size_t sl,
    const uint8_t fp[32], struct buf *ad)
{
	int e;

	if ((e = buf_add(ad, MIGBLOB_LABEL, strlen(MIGBLOB_LABEL))) != 0 ||
	    (e = buf_add_u16be(ad, (uint16_t)vl)) != 0 ||
	    (e = buf_add(ad, vm_id, vl)) != 0 ||
	    (e = buf_add_u16be(ad, (uint16_t)sl)) != 0 ||
	    (e = buf_add(ad, source, sl)) != 0 ||
	    (e = buf_add(ad, fp, 32)) != 0)
		return e;
	return 0;
}

/* ECDH(priv, peer) then HKDF into a 32-byte key. */
static int
migblob_kdf(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t epub[65],
    const uint8_t fp[32], uint8_t key[32])
{
	uint8_t z[32], salt[MIGBLOB_PUB_LEN + 32];
	size_t zl = sizeof(z);
	EVP_PKEY_CTX *dc = NULL;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kc = NULL;
	OSSL_PARAM params[5];
	int e = VIGIL_ECRYPTO;

	if ((dc = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dc) != 1 ||
	    EVP_PKEY_derive_set_peer(dc, peer) != 1 ||
	    EVP_PKEY_derive(dc, z, &zl) != 1 || zl != sizeof(z)) {
		log_err("migblob: ECDH failed");
		goto out;
	}
	memcpy(salt, epub, MIGBLOB_PUB_LEN);
	memcpy(salt + MIGBLOB_PUB_LEN, fp, 32);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z,
	    zl);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    salt, sizeof(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (char *)MIGBLOB_INFO, strlen(MIGBLOB_INFO));
	params[4] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kc = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kc, key, 32, params) != 1) {
		log_err("migblob: HKDF failed");
		goto out;
	}
	e = 0;
 out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	EVP_PKEY_CTX_free(dc);
	return e;
}

/* AES-256-GCM; enc = 1 encrypts in -> out and writes tag, enc = 0
 * decrypts and checks tag (VIGIL_EVERIFY when it fails). */
static int
migblob_gcm(int enc, const uint8_t key[32], const uint8_t nonce[12],
    const struct buf *ad, const uint8_t *in, size_t len, uint8_t *out,
    uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = NULL;
	int ol, fl, e = VIGIL_ECRYPTO;

	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) !=
	    1 || EVP_CipherUpdate(c, NULL, &ol, ad->data, (int)ad->len) != 1 ||
	    (len > 0 && EVP_CipherUpdate(c, out, &ol, in, (int)len) != 1))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) !=
	    1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + (len > 0 ? ol : 0), &fl) != 1) {
		e = enc ? VIGIL_ECRYPTO : VIGIL_EVERIFY;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	e = 0;
 out:
	EVP_CIPHER_CTX_free(c);
	return e;
}

int
migblob_seal(EVP_PKEY *target_pub, const char *vm_id, const char *source,
    const uint8_t *state, size_t state_len, struct buf *out)
{
	uint8_t fp[32], epub[MIGBLOB_PUB_LEN], nonce[12], key[32], tag[16];
	size_t vl = strlen(vm_id), sl = strlen(source), el, start = out->len;
	struct buf ad = BUF_INIT, ct = BUF_INIT;
	EVP_PKEY *eph = NULL;
	int e;

	if (vl < 1 || vl > MIGBLOB_MAX_ID || sl < 1 || sl > MIGBLOB_MAX_ID ||
	    state_len < 1 || state_len > MIGBLOB_MAX_STATE ||
	    !migblob_is_p256(target_pub)) {
		log_err("migblob: seal needs ids of 1..%u bytes, 1..%u bytes "
		    "of state and a P-256 key", MIGBLOB_MAX_ID,
		    MIGBLOB_MAX_STATE);
		return VIGIL_EINVAL;
	}
	e = VIGIL_ECRYPTO;
	if ((eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    EVP_PKEY_get_octet_string_param(eph,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, epub, sizeof(epub), &el) !=
	    1 || el != MIGBLOB_PUB_LEN || epub[0] != 0x04 ||
	    RAND_bytes(nonce, sizeof(nonce)) != 1) {
		log_err("migblob: ephemeral key or nonce failed");
		goto out;
	}
	if ((e = migblob_fingerprint(target_pub, fp)) != 0 ||
	    (e = migblob_kdf(eph, target_pub, epub, fp, key)) != 0 ||
	    (e = migblob_ad(vm_id, vl, source, sl, fp, &ad)) != 0 ||
	    (e = buf_reserve(&ct, state_len)) != 0 ||
	    (e = migblob_gcm(1, key, nonce, &ad, state, state_len, ct.data,
	    tag)) != 0)
		goto out;
	if ((e = buf_add_u32be(out, MIGBLOB_MAGIC)) != 0 ||
	    (e = buf_add_u16be(out, MIGBLOB_VERSION)) != 0 ||
	    (e = buf_add_u16be(out, (uint16_t)vl)) != 0 ||
	    (e = buf_add(out, vm_id, vl)) != 0 ||
	    (e = buf_add_u16be(out, (uint16_t)sl)) != 0 ||
	    (e = buf_add(out, source, sl)) != 0 ||
	    (e = buf_add(out, fp, 32)) != 0 ||
	    (e = buf_add(out, epub, sizeof(epub))) != 0 ||
	    (e = buf_add(out, nonce, sizeof(nonce))) != 0 ||
	    (e = buf_add_u32be(out, (uint32_t)state_len)) != 0 ||
	    (e = buf_add(out, ct.data, state_len)) != 0 ||
	    (e = buf_add(out, tag, sizeof(tag))) != 0)
		goto out;
 out:
	if (e != 0)
		out->len = start;
	OPENSSL_cleanse(key, sizeof(key));
	EVP_PKEY_free(eph);
	buf_free(&ad);
	buf_free(&ct);
	return e;
}

static int
migblob_peer(const uint8_t epub[MIGBLOB_PUB_LEN], EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *c = NULL;
	int e = VIGIL_EVERIFY;

	*out = NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)epub, MIGBLOB_PUB_LEN);
	params[2] = OSSL_PARAM_construct_end();
	if ((c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(c) == 1 &&
	    EVP_PKEY_fromdata(c, out, EVP_PKEY_PUBLIC_KEY, params) == 1) {
		EVP_PKEY_CTX_free(c);
		/* fromdata decodes the point, which must lie on the curve. */
		if ((c = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) !=
		    NULL && EVP_PKEY_public_check(c) == 1)
			e = 0;
	}
	EVP_PKEY_CTX_free(c);
	if (e != 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
	return e;
}

static int
migblob_fail(const char **why, const char *msg, int e)
{
	if (why != NULL)
		*why = msg;
	log_warn("migblob: rejected: %s", msg);
	return e;
}

/* A blob's fields, pointing into it. */
struct migblob_hdr {
	const uint8_t *vm, *src, *fp, *epub, *nonce, *ct, *tag;
	uint16_t vl, sl;
	uint32_t ctl;
};

/* The strict parse of a blob's layout (no cryptography). */
static int
migblob_parse(const uint8_t *blob, size_t len, struct migblob_hdr *h,
    const char **why)
{
	uint32_t magic;
	uint16_t version;
	struct rd r;
	int e;

	rd_init(&r, blob, len);
	if ((e = rd_u32be(&r, &magic)) != 0 ||
	    (e = rd_u16be(&r, &version)) != 0 ||
	    (e = rd_u16be(&r, &h->vl)) != 0 ||
	    (e = rd_bytes(&r, h->vl, &h->vm)) != 0 ||
	    (e = rd_u16be(&r, &h->sl)) != 0 ||
	    (e = rd_bytes(&r, h->sl, &h->src)) != 0 ||
	    (e = rd_bytes(&r, 32, &h->fp)) != 0 ||
	    (e = rd_bytes(&r, MIGBLOB_PUB_LEN, &h->epub)) != 0 ||
	    (e = rd_bytes(&r, MIGBLOB_NONCE_LEN, &h->nonce)) != 0 ||
	    (e = rd_u32be(&r, &h->ctl)) != 0)
		return migblob_fail(why, "migration blob header truncated", e);
	if (magic != MIGBLOB_MAGIC || version != MIGBLOB_VERSION)
		return migblob_fail(why, "migration blob has a bad magic or "
		    "version", VIGIL_EINVAL);
	if (h->vl < 1 || h->vl > MIGBLOB_MAX_ID || h->sl < 1 ||
	    h->sl > MIGBLOB_MAX_ID)
		return migblob_fail(why, "migration blob id out of range",
		    VIGIL_EINVAL);
	if (h->ctl < 1 || h->ctl > MIGBLOB_MAX_STATE)
		return migblob_fail(why, "migration blob state size out of "
		    "range", VIGIL_ETOOBIG);
	if ((e = rd_bytes(&r, h->ctl, &h->ct)) != 0 ||
	    (e = rd_bytes(&r, MIGBLOB_TAG_LEN, &h->tag)) != 0)
		return migblob_fail(why, "migration blob ciphertext truncated",
		    e);
	if (r.left != 0)
		return migblob_fail(why, "migration blob has trailing bytes",
		    VIGIL_EINVAL);
	return 0;
}

int
migblob_open(EVP_PKEY *transport_key, const uint8_t *blob, size_t len,
    const char *vm_id, const char *source, struct buf *state_out,
    const char **why)
{
	struct migblob_hdr h;
	uint8_t fp[32], key[32], tagc[16];
	struct buf ad = BUF_INIT, pt = BUF_INIT;
	EVP_PKEY *peer = NULL;
	int e;

	memset(key, 0, sizeof(key));
	if ((e = migblob_parse(blob, len, &h, why)) != 0)
		goto out;
	if (strlen(vm_id) != h.vl || memcmp(vm_id, h.vm, h.vl) != 0) {
		e = migblob_fail(why, "migration blob is for another VM",
		    VIGIL_EVERIFY);
		goto out;
	}
	if (source != NULL && (strlen(source) != h.sl ||
	    memcmp(source, h.src, h.sl) != 0)) {
		e = migblob_fail(why, "migration blob comes from another "
		    "source node", VIGIL_EVERIFY);
		goto out;
	}
	if (!migblob_is_p256(transport_key)) {
		e = migblob_fail(why, "transport key is not P-256",
		    VIGIL_EINVAL);
		goto out;
	}
	if ((e = migblob_fingerprint(transport_key, fp)) != 0)
		goto out;
	if (memcmp(fp, h.fp, 32) != 0) {
		e = migblob_fail(why, "migration blob is for another transport "
		    "key", VIGIL_EVERIFY);
		goto out;
	}
	if (h.epub[0] != 0x04 || migblob_peer(h.epub, &peer) != 0) {
		e = migblob_fail(why, "migration blob ephemeral key is not a "
		    "P-256 point", VIGIL_EVERIFY);
		goto out;
	}
	memcpy(tagc, h.tag, sizeof(tagc));
	if ((e = migblob_kdf(transport_key, peer, h.epub, fp, key)) != 0 ||
	    (e = migblob_ad((const char *)h.vm, h.vl, (const char *)h.src,
	    h.sl, fp, &ad)) != 0 || (e = buf_reserve(&pt, h.ctl)) != 0)
		goto out;
	if ((e = migblob_gcm(0, key, h.nonce, &ad, h.ct, h.ctl, pt.data,
	    tagc)) != 0) {
		e = migblob_fail(why, "migration blob does not authenticate "
		    "(GCM tag)", VIGIL_EVERIFY);
		goto out;
	}
	e = buf_add(state_out, pt.data, h.ctl);
 out:
	ERR_clear_error();
	OPENSSL_cleanse(key, sizeof(key));
	if (pt.data != NULL)
		OPENSSL_cleanse(pt.data, pt.cap);
	EVP_PKEY_free(peer);
	buf_free(&ad);
	buf_free(&pt);
	return e;
}
