/* The certified AK binding (enclave/binding.h): signing by the PSE,
 * marshaling, strict parsing and the verifier's checks. */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_tpm2_types.h>

#include "binding.h"
#include "err.h"
#include "log.h"
#include "rd.h"
#include "tpm_parse.h"

void
binding_free(struct binding *b)
{
	size_t i;

	if (b == NULL)
		return;
	buf_free(&b->ak_pub);
	buf_free(&b->sig);
	for (i = 0; i < BINDING_MAX_CERTS; i++)
		buf_free(&b->chain[i]);
	memset(b, 0, sizeof(*b));
}

int
binding_platform_id(EVP_PKEY *key, uint8_t out[BINDING_ID_LEN])
{
	unsigned char *der = NULL;
	unsigned int dl;
	int n, e = 0;

	if ((n = i2d_PUBKEY(key, &der)) <= 0) {
		log_err("binding: cannot encode the platform public key");
		return VIGIL_ECRYPTO;
	}
	if (EVP_Digest(der, (size_t)n, out, &dl, EVP_sha256(), NULL) != 1)
		e = VIGIL_ECRYPTO;
	OPENSSL_free(der);
	return e;
}

int
binding_signed_bytes(const struct binding *b, struct buf *out)
{
	int e;

	if (b->ak_pub.len == 0 || b->ak_pub.len > BINDING_MAX_AK)
		return VIGIL_EINVAL;
	if ((e = buf_add(out, BINDING_LABEL, strlen(BINDING_LABEL))) != 0 ||
	    (e = buf_add_u16be(out, (uint16_t)b->ak_pub.len)) != 0 ||
	    (e = buf_add(out, b->ak_pub.data, b->ak_pub.len)) != 0 ||
	    (e = buf_add(out, b->platform_id, BINDING_ID_LEN)) != 0 ||
	    (e = buf_add_u64be(out, b->time)) != 0)
		return e;
	return 0;
}

int
binding_sign(EVP_PKEY *key, const uint8_t *ak_pub, size_t ak_len,
    const uint8_t *const *chain, const size_t *chain_lens, size_t n,
    struct binding *out)
{
	struct binding b;
	struct buf tbs = BUF_INIT;
	EVP_MD_CTX *md = NULL;
	size_t siglen, i;
	int e;

	memset(&b, 0, sizeof(b));
	if (ak_len == 0 || ak_len > BINDING_MAX_AK || n < 1 ||
	    n > BINDING_MAX_CERTS) {
		log_err("binding: AK of %zu bytes or %zu certificates out of "
		    "range", ak_len, n);
		return VIGIL_EINVAL;
	}
	b.time = (uint64_t)time(NULL);
	if ((e = buf_add(&b.ak_pub, ak_pub, ak_len)) != 0 ||
	    (e = binding_platform_id(key, b.platform_id)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (chain_lens[i] == 0 || chain_lens[i] > BINDING_MAX_CERT) {
			e = VIGIL_EINVAL;
			goto out;
		}
		if ((e = buf_add(&b.chain[i], chain[i], chain_lens[i])) != 0)
			goto out;
	}
	b.n_chain = n;
	if ((e = binding_signed_bytes(&b, &tbs)) != 0)
		goto out;
	e = VIGIL_ECRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, tbs.data, tbs.len) != 1 ||
	    siglen > BINDING_MAX_SIG ||
	    buf_reserve(&b.sig, siglen) != 0 ||
	    EVP_DigestSign(md, b.sig.data, &siglen, tbs.data, tbs.len) != 1) {
		log_err("binding: signing with the platform key failed");
		goto out;
	}
	b.sig.len = siglen;
	*out = b;
	memset(&b, 0, sizeof(b));
	e = 0;
 out:
	EVP_MD_CTX_free(md);
	buf_free(&tbs);
	binding_free(&b);
	return e;
}

static X509 *
binding_d2i(const struct buf *der)
{
	const unsigned char *p = der->data;
	X509 *x;

	if ((x = d2i_X509(NULL, &p, (long)der->len)) == NULL)
		return NULL;
	if (p != der->data + der->len) {	/* trailing bytes */
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The chain of b to a trusted CA; *leaf_out gets the leaf (caller frees). */
static int
binding_chain(const struct binding *b, X509_STORE *trusted, X509 **leaf_out,
    const char **why)
{
	static char reason[200];
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL, *x;
	size_t i;
	int e = VIGIL_EVERIFY;

	*leaf_out = NULL;
	if (b->n_chain < 1 || b->n_chain > BINDING_MAX_CERTS ||
	    (leaf = binding_d2i(&b->chain[0])) == NULL) {
		*why = "binding certificate is not DER X.509";
		goto out;
	}
	if ((untrusted = sk_X509_new_null()) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	for (i = 1; i < b->n_chain; i++) {
		if ((x = binding_d2i(&b->chain[i])) == NULL) {
			*why = "binding certificate is not DER X.509";
			goto out;
		}
		if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			e = VIGIL_ENOMEM;
			goto out;
		}
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, trusted, leaf, untrusted) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		snprintf(reason, sizeof(reason), "binding certificate chain "
		    "does not lead to a trusted platform vendor CA: %s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		*why = reason;
		goto out;
	}
	*leaf_out = leaf;
	leaf = NULL;
	e = 0;
 out:
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	return e;
}

/* The leaf's key, checked to be EC P-256 with digitalSignature usage. */
static int
binding_leaf_key(X509 *leaf, EVP_PKEY **out, const char **why)
{
	EVP_PKEY *pk;
	char group[32];
	size_t gl;

	*out = NULL;
	if ((pk = X509_get0_pubkey(leaf)) == NULL ||
	    !EVP_PKEY_is_a(pk, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &gl) != 1 || strcmp(group, "prime256v1")
	    != 0) {
		*why = "binding leaf certificate is not an EC P-256 key";
		return VIGIL_EVERIFY;
	}
	if ((X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
		*why = "binding leaf certificate lacks digitalSignature key "
		    "usage";
		return VIGIL_EVERIFY;
	}
	*out = pk;
	return 0;
}

static int
binding_check_ak_public(const struct binding *b, const char **why)
{
	TPM2B_PUBLIC ak;

	if (tpm_public_parse(b->ak_pub.data, b->ak_pub.len, &ak) != 0) {
		*why = "binding AK public area is malformed";
		return VIGIL_EVERIFY;
	}
	return tpm_ak_check(&ak, why) == 0 ? 0 : VIGIL_EVERIFY;
}

int
binding_verify(const struct binding *b, X509_STORE *trusted,
    uint8_t platform_id[BINDING_ID_LEN], const char **why)
{
	const char *dummy;
	struct buf tbs = BUF_INIT;
	uint8_t id[BINDING_ID_LEN];
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *pk;
	X509 *leaf = NULL;
	int e;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if ((e = binding_check_ak_public(b, why)) != 0 ||
	    (e = binding_chain(b, trusted, &leaf, why)) != 0 ||
	    (e = binding_leaf_key(leaf, &pk, why)) != 0)
		goto out;
	if ((e = binding_platform_id(pk, id)) != 0)
		goto out;
	if (memcmp(id, b->platform_id, BINDING_ID_LEN) != 0) {
		*why = "binding platform id does not match the certified key";
		e = VIGIL_EVERIFY;
		goto out;
	}
	if ((e = binding_signed_bytes(b, &tbs)) != 0)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	if (EVP_DigestVerify(md, b->sig.data, b->sig.len, tbs.data,
	    tbs.len) != 1) {
		*why = "binding signature does not verify with the certified "
		    "platform key";
		e = VIGIL_EVERIFY;
		goto out;
	}
	if (platform_id != NULL)
		memcpy(platform_id, id, BINDING_ID_LEN);
	e = 0;
 out:
	if (e != 0 && *why != NULL)
		log_warn("binding: rejected: %s", *why);
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	X509_free(leaf);
	buf_free(&tbs);
	return e;
}

int
binding_check_ak(const struct binding *b, const uint8_t *ak_pub,
    size_t ak_len, const char **why)
{
	if (b->ak_pub.len != ak_len ||
	    memcmp(b->ak_pub.data, ak_pub, ak_len) != 0) {
		if (why != NULL)
			*why = "binding is over a different AK";
		log_warn("binding: rejected: binding is over a different AK");
		return VIGIL_EVERIFY;
	}
	return 0;
}

int
binding_verify_ek_cert(const struct binding *b, X509_STORE *trusted,
    const uint8_t *ek_cert, size_t cert_len, const uint8_t *ek_pub,
    size_t ek_pub_len, const char **why)
{
	const unsigned char *p = ek_cert;
	const char *dummy;
	TPM2B_PUBLIC ek;
	EVP_PKEY *pk;
	X509 *leaf = NULL, *x = NULL;
	int e;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if ((e = binding_chain(b, trusted, &leaf, why)) != 0 ||
	    (e = binding_leaf_key(leaf, &pk, why)) != 0)
		goto out;
	e = VIGIL_EVERIFY;
	if (cert_len == 0 || cert_len > BINDING_MAX_CERT ||
	    (x = d2i_X509(NULL, &p, (long)cert_len)) == NULL ||
	    p != ek_cert + cert_len) {
		*why = "vTPM EK certificate is not DER X.509";
		goto out;
	}
	if (X509_verify(x, pk) != 1) {
		*why = "vTPM EK certificate is not signed by the platform key";
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		*why = "vTPM EK certificate is expired or not yet valid";
		goto out;
	}
	if (ek_pub != NULL) {
		if (tpm_public_parse(ek_pub, ek_pub_len, &ek) != 0) {
			*why = "vTPM EK public area is malformed";
			goto out;
		}
		if (tpm_ek_matches_cert(&ek, ek_cert, cert_len, why) != 0) {
			*why = "vTPM EK certificate does not certify this EK";
			goto out;
		}
	}
	e = 0;
 out:
	if (e != 0 && *why != NULL)
		log_warn("binding: vTPM EK certificate rejected: %s", *why);
	ERR_clear_error();
	X509_free(x);
	X509_free(leaf);
	return e;
}

int
binding_marshal(const struct binding *b, struct buf *out)
{
	size_t start = out->len, i;
	int e;

	if (b->ak_pub.len == 0 || b->ak_pub.len > BINDING_MAX_AK ||
	    b->sig.len < 8 || b->sig.len > BINDING_MAX_SIG ||
	    b->n_chain < 1 || b->n_chain > BINDING_MAX_CERTS)
		return VIGIL_EINVAL;
	if ((e = buf_add_u32be(out, BINDING_MAGIC)) != 0 ||
	    (e = buf_add_u16be(out, BINDING_VERSION)) != 0 ||
	    (e = buf_add_u16be(out, (uint16_t)b->ak_pub.len)) != 0 ||
	    (e = buf_add(out, b->ak_pub.data, b->ak_pub.len)) != 0 ||
	    (e = buf_add(out, b->platform_id, BINDING_ID_LEN)) != 0 ||
	    (e = buf_add_u64be(out, b->time)) != 0 ||
	    (e = buf_add_u16be(out, (uint16_t)b->sig.len)) != 0 ||
	    (e = buf_add(out, b->sig.data, b->sig.len)) != 0 ||
	    (e = buf_add_u8(out, (uint8_t)b->n_chain)) != 0)
		goto out;
	for (i = 0; i < b->n_chain; i++) {
		if (b->chain[i].len == 0 ||
		    b->chain[i].len > BINDING_MAX_CERT) {
			e = VIGIL_EINVAL;
			goto out;
		}
		if ((e = buf_add_u32be(out, (uint32_t)b->chain[i].len)) != 0 ||
		    (e = buf_add(out, b->chain[i].data, b->chain[i].len)) !=
		    0)
			goto out;
	}
 out:
	if (e != 0)
		out->len = start;
	return e;
}

/* u16/u32 length-prefixed field into dst, within min..max. */
static int
binding_rd_field(struct rd *r, int wide, size_t min, size_t max,
    const char *what, struct buf *dst)
{
	const uint8_t *p;
	uint32_t len;
	uint16_t l16;
	int e;

	if (wide)
		e = rd_u32be(r, &len);
	else {
		e = rd_u16be(r, &l16);
		len = l16;
	}
	if (e != 0) {
		log_warn("binding: %s length truncated", what);
		return e;
	}
	if (len < min || len > max) {
		log_warn("binding: %s is %u bytes, allowed %zu..%zu", what,
		    len, min, max);
		return len > max ? VIGIL_ETOOBIG : VIGIL_EINVAL;
	}
	if ((e = rd_bytes(r, len, &p)) != 0) {
		log_warn("binding: %s says %u bytes, %zu left", what, len,
		    r->left);
		return e;
	}
	return buf_add(dst, p, len);
}

int
binding_parse(const uint8_t *p, size_t len, struct binding *out)
{
	struct binding b;
	struct rd r;
	uint32_t magic;
	uint16_t version;
	uint8_t n;
	size_t i;
	int e;

	memset(&b, 0, sizeof(b));
	memset(out, 0, sizeof(*out));
	rd_init(&r, p, len);
	if ((e = rd_u32be(&r, &magic)) != 0 ||
	    (e = rd_u16be(&r, &version)) != 0) {
		log_warn("binding: header truncated");
		goto out;
	}
	if (magic != BINDING_MAGIC || version != BINDING_VERSION) {
		log_warn("binding: bad magic 0x%08x or version %u", magic,
		    version);
		e = VIGIL_EINVAL;
		goto out;
	}
	if ((e = binding_rd_field(&r, 0, 1, BINDING_MAX_AK, "AK public",
	    &b.ak_pub)) != 0)
		goto out;
	if ((e = rd_copy(&r, b.platform_id, BINDING_ID_LEN)) != 0 ||
	    (e = rd_u64be(&r, &b.time)) != 0) {
		log_warn("binding: platform id or time truncated");
		goto out;
	}
	if ((e = binding_rd_field(&r, 0, 8, BINDING_MAX_SIG, "signature",
	    &b.sig)) != 0)
		goto out;
	if ((e = rd_u8(&r, &n)) != 0) {
		log_warn("binding: certificate count truncated");
		goto out;
	}
	if (n < 1 || n > BINDING_MAX_CERTS) {
		log_warn("binding: %u certificates, allowed 1..%u", n,
		    BINDING_MAX_CERTS);
		e = VIGIL_EINVAL;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((e = binding_rd_field(&r, 1, 1, BINDING_MAX_CERT,
		    "certificate", &b.chain[i])) != 0)
			goto out;
	b.n_chain = n;
	if (r.left != 0) {
		log_warn("binding: %zu trailing bytes", r.left);
		e = VIGIL_EINVAL;
		goto out;
	}
	*out = b;
	memset(&b, 0, sizeof(b));
 out:
	binding_free(&b);
	return e;
}

int
binding_deep_quote_data(const uint8_t *nonce, size_t nonce_len,
    const uint8_t *ak_name, size_t name_len, const char *vm_id,
    uint8_t out[32])
{
	EVP_MD_CTX *md;
	unsigned int dl;
	int e = VIGIL_ECRYPTO;

	if (nonce_len == 0 || name_len == 0 || vm_id == NULL ||
	    vm_id[0] == '\0')
		return VIGIL_EINVAL;
	if ((md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, nonce, nonce_len) == 1 &&
	    EVP_DigestUpdate(md, ak_name, name_len) == 1 &&
	    EVP_DigestUpdate(md, vm_id, strlen(vm_id)) == 1 &&
	    EVP_DigestFinal_ex(md, out, &dl) == 1)
		e = 0;
	EVP_MD_CTX_free(md);
	return e;
}

int
binding_store_load(const char *const *pem_paths, size_t n, X509_STORE **out)
{
	X509_STORE *st;
	X509 *x;
	FILE *f;
	size_t i;
	int e = 0, count;

	if ((st = X509_STORE_new()) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < n && e == 0; i++) {
		if ((f = fopen(pem_paths[i], "r")) == NULL) {
			log_err("binding: cannot open CA file %s",
			    pem_paths[i]);
			e = VIGIL_ENOTFOUND;
			break;
		}
		count = 0;
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			if (X509_STORE_add_cert(st, x) != 1)
				e = VIGIL_ECRYPTO;
			X509_free(x);
			count++;
		}
		fclose(f);
		ERR_clear_error();
		if (count == 0) {
			log_err("binding: no PEM certificate in %s",
			    pem_paths[i]);
			e = VIGIL_EINVAL;
		}
	}
	if (e != 0) {
		X509_STORE_free(st);
		return e;
	}
	*out = st;
	return 0;
}
