/* The SMM measurement log: entries, hash chain, signed heads, Merkle
 * trees (formats in smmlog.h). Parsing treats every byte as hostile. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "log.h"
#include "mm.h"
#include "rd.h"
#include "smmlog.h"

#define SMMLOG_DOMAIN_LEN (sizeof(SMMLOG_HEAD_DOMAIN) - 1)

static int
smmlog_bad(const char *what, int err)
{
	log_warn("smmlog: %s", what);
	return err;
}

static int
smmlog_rd_str(struct rd *r, int wide, size_t hi, const char **s, size_t *n)
{
	const uint8_t *p;
	uint16_t l16;
	uint8_t l8;
	size_t l, i;

	if (wide) {
		if (rd_u16le(r, &l16) != 0)
			return VIGIL_ETRUNC;
		l = l16;
	} else {
		if (rd_u8(r, &l8) != 0)
			return VIGIL_ETRUNC;
		l = l8;
	}
	if (l == 0 || l > hi)
		return VIGIL_EINVAL;
	if (rd_bytes(r, l, &p) != 0)
		return VIGIL_ETRUNC;
	for (i = 0; i < l; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return VIGIL_EINVAL;	/* printable ASCII only */
	*s = (const char *)p;
	*n = l;
	return 0;
}

static int
smmlog_parse_measure(struct rd *r, struct smmlog_entry *e)
{
	uint32_t i, prev = 0, pg;
	int err;

	if ((err = smmlog_rd_str(r, 0, SMMLOG_MAX_NAME, &e->u.m.target,
	    &e->u.m.target_len)) != 0 ||
	    (err = smmlog_rd_str(r, 1, SMMLOG_MAX_REGION, &e->u.m.region,
	    &e->u.m.region_len)) != 0)
		return smmlog_bad("measure entry: bad target or region", err);
	if (rd_u64le(r, &e->u.m.size) != 0 ||
	    rd_copy(r, e->u.m.root, SMMLOG_HASH_LEN) != 0 ||
	    rd_u8(r, &e->u.m.verdict) != 0 ||
	    rd_u32le(r, &e->u.m.n_pages) != 0)
		return smmlog_bad("measure entry truncated", VIGIL_ETRUNC);
	if (e->u.m.verdict > SMMLOG_VERDICT_ERROR)
		return smmlog_bad("measure entry: unknown verdict",
		    VIGIL_EINVAL);
	if (e->u.m.n_pages > SMMLOG_MAX_PAGES)
		return smmlog_bad("measure entry: too many pages",
		    VIGIL_ETOOBIG);
	if (rd_bytes(r, (size_t)e->u.m.n_pages * 4, &e->u.m.pages) != 0)
		return smmlog_bad("measure entry: pages truncated",
		    VIGIL_ETRUNC);
	for (i = 0; i < e->u.m.n_pages; i++) {
		pg = smmlog_entry_page(e, i);
		if ((i > 0 && pg <= prev) ||
		    (uint64_t)pg * SMMLOG_PAGE >= e->u.m.size + 0ull)
			return smmlog_bad("measure entry: page list not "
			    "ascending or past the region", VIGIL_EINVAL);
		prev = pg;
	}
	if (e->u.m.n_pages > 0 && e->u.m.verdict != SMMLOG_VERDICT_MISMATCH)
		return smmlog_bad("measure entry: changed pages without a "
		    "mismatch", VIGIL_EINVAL);
	return 0;
}

/* A tenant or key id: 1..64 bytes of [A-Za-z0-9._-] (the keywrap.h
 * names). */
static int
smmlog_rd_name(struct rd *r, const char **s, size_t *n)
{
	size_t i;
	int err;
	char c;

	if ((err = smmlog_rd_str(r, 0, SMMLOG_MAX_KEYID, s, n)) != 0)
		return err;
	for (i = 0; i < *n; i++) {
		c = (*s)[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return VIGIL_EINVAL;
	}
	return 0;
}

/* Version 2: tenant, key id, ...; version 1: key id (printable), ... */
static int
smmlog_parse_key_use(struct rd *r, uint8_t ver, struct smmlog_entry *e)
{
	if (ver == SMMLOG_VERSION &&
	    smmlog_rd_name(r, &e->u.k.tenant, &e->u.k.tenant_len) != 0)
		return smmlog_bad("key-use entry: tenant empty, over 64 bytes "
		    "or not [A-Za-z0-9._-]", VIGIL_EINVAL);
	if ((ver == SMMLOG_VERSION ? smmlog_rd_name(r, &e->u.k.key_id,
	    &e->u.k.key_id_len) : smmlog_rd_str(r, 0, SMMLOG_MAX_KEYID,
	    &e->u.k.key_id, &e->u.k.key_id_len)) != 0)
		return smmlog_bad("key-use entry: bad key id", VIGIL_EINVAL);
	if (rd_u8(r, &e->u.k.op) != 0 ||
	    rd_u32le(r, &e->u.k.uid) != 0 ||
	    rd_u8(r, &e->u.k.granted) != 0 ||
	    rd_u8(r, &e->u.k.status) != 0 ||
	    rd_u64le(r, &e->u.k.measure_seq) != 0)
		return smmlog_bad("key-use entry truncated", VIGIL_ETRUNC);
	if (e->u.k.op < MM_OP_SIGN || e->u.k.op > MM_OP_UNWRAP ||
	    e->u.k.granted > 1 ||
	    (e->u.k.granted == 1) != (e->u.k.status == MM_ST_OK))
		return smmlog_bad("key-use entry: bad op, granted or status",
		    VIGIL_EINVAL);
	return 0;
}

int
smmlog_entry_parse(const uint8_t *buf, size_t len, struct smmlog_entry *out)
{
	struct rd r;
	uint8_t ver;
	int err;

	memset(out, 0, sizeof(*out));
	rd_init(&r, buf, len);
	if (rd_u8(&r, &ver) != 0 || rd_u8(&r, &out->kind) != 0 ||
	    rd_u64le(&r, &out->seq) != 0 || rd_u64le(&r, &out->time_ms) != 0)
		return smmlog_bad("entry shorter than its header",
		    VIGIL_ETRUNC);
	if (ver != SMMLOG_VERSION && ver != SMMLOG_VERSION_V1)
		return smmlog_bad("entry version is not 2 (or 1)", VIGIL_EINVAL);
	out->version = ver;
	if (out->seq == 0)
		return smmlog_bad("entry sequence 0", VIGIL_EINVAL);
	switch (out->kind) {
	case SMMLOG_KIND_MEASURE:
		if ((err = smmlog_parse_measure(&r, out)) != 0)
			return err;
		break;
	case SMMLOG_KIND_KEY_USE:
		if ((err = smmlog_parse_key_use(&r, ver, out)) != 0)
			return err;
		break;
	case SMMLOG_KIND_START:
		if (rd_u32le(&r, &out->u.start.boot) != 0)
			return smmlog_bad("start entry truncated",
			    VIGIL_ETRUNC);
		break;
	case SMMLOG_KIND_REFS:
		if (rd_u64le(&r, &out->u.refs.version) != 0 ||
		    rd_copy(&r, out->u.refs.digest, SMMLOG_HASH_LEN) != 0)
			return smmlog_bad("refs entry truncated",
			    VIGIL_ETRUNC);
		break;
	default:
		return smmlog_bad("unknown entry kind", VIGIL_EINVAL);
	}
	if (r.left != 0)
		return smmlog_bad("bytes after the entry", VIGIL_EINVAL);
	return 0;
}

uint32_t
smmlog_entry_page(const struct smmlog_entry *e, uint32_t i)
{
	const uint8_t *p;

	if (e->u.m.pages_host != NULL)
		return e->u.m.pages_host[i];
	p = e->u.m.pages + (size_t)i * 4;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

int
smmlog_entry_encode(const struct smmlog_entry *e, struct buf *out)
{
	struct buf b = BUF_INIT;
	struct smmlog_entry chk;
	uint32_t i;
	int err;

	if ((err = buf_add_u8(&b, SMMLOG_VERSION)) ||
	    (err = buf_add_u8(&b, e->kind)) ||
	    (err = buf_add_u64le(&b, e->seq)) ||
	    (err = buf_add_u64le(&b, e->time_ms)))
		goto out;
	switch (e->kind) {
	case SMMLOG_KIND_MEASURE:
		if (e->u.m.target_len > SMMLOG_MAX_NAME ||
		    e->u.m.region_len > SMMLOG_MAX_REGION ||
		    e->u.m.n_pages > SMMLOG_MAX_PAGES) {
			err = VIGIL_EINVAL;
			goto out;
		}
		if ((err = buf_add_u8(&b, (uint8_t)e->u.m.target_len)) ||
		    (err = buf_add(&b, e->u.m.target, e->u.m.target_len)) ||
		    (err = buf_add_u16le(&b, (uint16_t)e->u.m.region_len)) ||
		    (err = buf_add(&b, e->u.m.region, e->u.m.region_len)) ||
		    (err = buf_add_u64le(&b, e->u.m.size)) ||
		    (err = buf_add(&b, e->u.m.root, SMMLOG_HASH_LEN)) ||
		    (err = buf_add_u8(&b, e->u.m.verdict)) ||
		    (err = buf_add_u32le(&b, e->u.m.n_pages)))
			goto out;
		for (i = 0; i < e->u.m.n_pages; i++)
			if ((err = buf_add_u32le(&b,
			    smmlog_entry_page(e, i))) != 0)
				goto out;
		break;
	case SMMLOG_KIND_KEY_USE:
		if (e->u.k.key_id_len > SMMLOG_MAX_KEYID ||
		    e->u.k.tenant_len == 0 ||
		    e->u.k.tenant_len > SMMLOG_MAX_TENANT) {
			err = VIGIL_EINVAL;
			goto out;
		}
		if ((err = buf_add_u8(&b, (uint8_t)e->u.k.tenant_len)) ||
		    (err = buf_add(&b, e->u.k.tenant, e->u.k.tenant_len)) ||
		    (err = buf_add_u8(&b, (uint8_t)e->u.k.key_id_len)) ||
		    (err = buf_add(&b, e->u.k.key_id, e->u.k.key_id_len)) ||
		    (err = buf_add_u8(&b, e->u.k.op)) ||
		    (err = buf_add_u32le(&b, e->u.k.uid)) ||
		    (err = buf_add_u8(&b, e->u.k.granted)) ||
		    (err = buf_add_u8(&b, e->u.k.status)) ||
		    (err = buf_add_u64le(&b, e->u.k.measure_seq)))
			goto out;
		break;
	case SMMLOG_KIND_START:
		err = buf_add_u32le(&b, e->u.start.boot);
		break;
	case SMMLOG_KIND_REFS:
		if ((err = buf_add_u64le(&b, e->u.refs.version)) == 0)
			err = buf_add(&b, e->u.refs.digest, SMMLOG_HASH_LEN);
		break;
	default:
		err = VIGIL_EINVAL;
	}
	if (err != 0)
		goto out;
	/* What we write must be what a verifier accepts. */
	if ((err = smmlog_entry_parse(b.data, b.len, &chk)) != 0)
		goto out;
	err = buf_add(out, b.data, b.len);
 out:
	buf_free(&b);
	return err;
}

static int
smmlog_sha256(const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[SMMLOG_HASH_LEN])
{
	EVP_MD_CTX *c;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return VIGIL_ENOMEM;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, a, alen) == 1 &&
	    (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1) &&
	    EVP_DigestFinal_ex(c, out, NULL) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : VIGIL_ECRYPTO;
}

int
smmlog_chain_next(const uint8_t prev[SMMLOG_HASH_LEN], const uint8_t *entry,
    size_t len, uint8_t next[SMMLOG_HASH_LEN])
{
	uint8_t tmp[SMMLOG_HASH_LEN];
	int e;

	if ((e = smmlog_sha256(prev, SMMLOG_HASH_LEN, entry, len, tmp)) != 0)
		return e;
	memcpy(next, tmp, SMMLOG_HASH_LEN);
	return 0;
}

int
smmlog_verify_entries(uint64_t prev_seq,
    const uint8_t prev_head[SMMLOG_HASH_LEN], const uint8_t *const *entries,
    const size_t *lens, size_t n, uint64_t *out_seq,
    uint8_t out_head[SMMLOG_HASH_LEN])
{
	struct smmlog_entry e;
	uint8_t h[SMMLOG_HASH_LEN];
	size_t i;
	int err;

	memcpy(h, prev_head, SMMLOG_HASH_LEN);
	for (i = 0; i < n; i++) {
		if (smmlog_entry_parse(entries[i], lens[i], &e) != 0) {
			log_warn("smmlog: entry %zu does not parse", i);
			return VIGIL_EVERIFY;
		}
		if (e.seq != prev_seq + 1 + i) {
			log_warn("smmlog: entry %zu has seq %llu, expected %llu "
			    "(gap, removal or reordering)", i,
			    (unsigned long long)e.seq,
			    (unsigned long long)(prev_seq + 1 + i));
			return VIGIL_EVERIFY;
		}
		if ((err = smmlog_chain_next(h, entries[i], lens[i], h)) != 0)
			return err;
	}
	*out_seq = prev_seq + n;
	memcpy(out_head, h, SMMLOG_HASH_LEN);
	return 0;
}

int
smmlog_head_parse(const uint8_t *buf, size_t len, struct smmlog_head *out)
{
	struct rd r;
	uint8_t ver, nl;
	uint16_t sl;

	memset(out, 0, sizeof(*out));
	rd_init(&r, buf, len);
	if (rd_u8(&r, &ver) != 0 || rd_u8(&r, &nl) != 0)
		return smmlog_bad("signed head truncated", VIGIL_ETRUNC);
	if (ver != 1)
		return smmlog_bad("signed head version is not 1", VIGIL_EINVAL);
	if (nl == 0 || nl > SMMLOG_MAX_NONCE)
		return smmlog_bad("signed head nonce length out of range",
		    VIGIL_EINVAL);
	out->nonce_len = nl;
	if (rd_bytes(&r, nl, &out->nonce) != 0 ||
	    rd_u64le(&r, &out->last_seq) != 0 ||
	    rd_copy(&r, out->head, SMMLOG_HASH_LEN) != 0 ||
	    rd_u16le(&r, &sl) != 0)
		return smmlog_bad("signed head truncated", VIGIL_ETRUNC);
	if (sl == 0 || sl > 80)
		return smmlog_bad("signed head signature length out of range",
		    VIGIL_EINVAL);
	out->sig_len = sl;
	if (rd_bytes(&r, sl, &out->sig) != 0)
		return smmlog_bad("signed head signature truncated",
		    VIGIL_ETRUNC);
	if (r.left != 0)
		return smmlog_bad("bytes after the signed head", VIGIL_EINVAL);
	return 0;
}

/* The signed byte string (smmlog.h). */
static int
smmlog_head_tbs(const uint8_t *nonce, size_t nonce_len, uint64_t seq,
    const uint8_t head[SMMLOG_HASH_LEN], struct buf *b)
{
	int e;

	if ((e = buf_add(b, SMMLOG_HEAD_DOMAIN, SMMLOG_DOMAIN_LEN)) ||
	    (e = buf_add_u8(b, (uint8_t)nonce_len)) ||
	    (e = buf_add(b, nonce, nonce_len)) ||
	    (e = buf_add_u64le(b, seq)) ||
	    (e = buf_add(b, head, SMMLOG_HASH_LEN)))
		return e;
	return 0;
}

int
smmlog_head_sign(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_len,
    uint64_t last_seq, const uint8_t head[SMMLOG_HASH_LEN], struct buf *out)
{
	struct buf tbs = BUF_INIT;
	EVP_MD_CTX *c = NULL;
	uint8_t sig[128];
	size_t sl = sizeof(sig);
	int e;

	if (nonce_len == 0 || nonce_len > SMMLOG_MAX_NONCE)
		return VIGIL_EINVAL;
	if ((e = smmlog_head_tbs(nonce, nonce_len, last_seq, head, &tbs)))
		goto out;
	e = VIGIL_ECRYPTO;
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(c, sig, &sl, tbs.data, tbs.len) != 1) {
		log_err("smmlog: signing the head failed");
		goto out;
	}
	if ((e = buf_add_u8(out, 1)) || (e = buf_add_u8(out,
	    (uint8_t)nonce_len)) || (e = buf_add(out, nonce, nonce_len)) ||
	    (e = buf_add_u64le(out, last_seq)) ||
	    (e = buf_add(out, head, SMMLOG_HASH_LEN)) ||
	    (e = buf_add_u16le(out, (uint16_t)sl)) ||
	    (e = buf_add(out, sig, sl)))
		goto out;
 out:
	EVP_MD_CTX_free(c);
	buf_free(&tbs);
	return e;
}

int
smmlog_verify_head(const uint8_t *buf, size_t len, const uint8_t *spki,
    size_t spki_len, const uint8_t *nonce, size_t nonce_len,
    uint64_t *last_seq, uint8_t head[SMMLOG_HASH_LEN])
{
	struct smmlog_head h;
	struct buf tbs = BUF_INIT;
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *c = NULL;
	const unsigned char *p = spki;
	int e;

	if ((e = smmlog_head_parse(buf, len, &h)) != 0)
		return e;
	e = VIGIL_EVERIFY;
	if (h.nonce_len != nonce_len ||
	    CRYPTO_memcmp(h.nonce, nonce, nonce_len) != 0) {
		log_warn("smmlog: signed head is for another nonce (replayed "
		    "or stale head)");
		goto out;
	}
	if ((pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL ||
	    p != spki + spki_len || EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC) {
		log_warn("smmlog: pinned log-signing key is not an EC "
		    "SubjectPublicKeyInfo");
		e = VIGIL_EINVAL;
		goto out;
	}
	if ((e = smmlog_head_tbs(h.nonce, h.nonce_len, h.last_seq, h.head,
	    &tbs)) != 0)
		goto out;
	e = VIGIL_EVERIFY;
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) != 1 ||
	    EVP_DigestVerify(c, h.sig, h.sig_len, tbs.data, tbs.len) != 1) {
		log_warn("smmlog: head signature does not verify with the "
		    "pinned log-signing key");
		goto out;
	}
	*last_seq = h.last_seq;
	memcpy(head, h.head, SMMLOG_HASH_LEN);
	e = 0;
 out:
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(pub);
	buf_free(&tbs);
	return e;
}

void
smmlog_leaf(const uint8_t *page, size_t len, uint8_t out[SMMLOG_HASH_LEN])
{
	static const uint8_t zero[SMMLOG_PAGE];
	uint8_t tag = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	/* An allocation failure leaves an all-zero leaf that matches no
	 * reference: a mismatch, never a false match. */
	memset(out, 0, SMMLOG_HASH_LEN);
	if (c == NULL)
		return;
	if (len > SMMLOG_PAGE)
		len = SMMLOG_PAGE;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &tag, 1) != 1 ||
	    (len > 0 && EVP_DigestUpdate(c, page, len) != 1) ||
	    (len < SMMLOG_PAGE &&
	    EVP_DigestUpdate(c, zero, SMMLOG_PAGE - len) != 1) ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		memset(out, 0, SMMLOG_HASH_LEN);
	EVP_MD_CTX_free(c);
}

int
smmlog_merkle_root(const uint8_t (*leaves)[SMMLOG_HASH_LEN], size_t n,
    uint8_t root[SMMLOG_HASH_LEN])
{
	uint8_t (*lvl)[SMMLOG_HASH_LEN] = NULL;
	uint8_t pair[1 + 2 * SMMLOG_HASH_LEN];
	size_t i, m;
	int e = 0;

	if (n == 0) {
		pair[0] = 0;
		return smmlog_sha256(pair, 1, NULL, 0, root);
	}
	if ((lvl = malloc(n * SMMLOG_HASH_LEN)) == NULL)
		return VIGIL_ENOMEM;
	memcpy(lvl, leaves, n * SMMLOG_HASH_LEN);
	pair[0] = 1;
	while (n > 1) {
		for (i = 0, m = 0; i + 1 < n; i += 2, m++) {
			memcpy(pair + 1, lvl[i], SMMLOG_HASH_LEN);
			memcpy(pair + 1 + SMMLOG_HASH_LEN, lvl[i + 1],
			    SMMLOG_HASH_LEN);
			if ((e = smmlog_sha256(pair, sizeof(pair), NULL, 0,
			    lvl[m])) != 0)
				goto out;
		}
		if (i < n)
			memcpy(lvl[m++], lvl[i], SMMLOG_HASH_LEN);
		n = m;
	}
	memcpy(root, lvl[0], SMMLOG_HASH_LEN);
 out:
	free(lvl);
	return e;
}

const char *
smmlog_kind_name(uint8_t kind)
{
	switch (kind) {
	case SMMLOG_KIND_MEASURE: return "measure";
	case SMMLOG_KIND_KEY_USE: return "key-use";
	case SMMLOG_KIND_START: return "start";
	case SMMLOG_KIND_REFS: return "refs";
	}
	return "unknown";
}

const char *
smmlog_verdict_name(uint8_t verdict)
{
	switch (verdict) {
	case SMMLOG_VERDICT_MATCH: return "match";
	case SMMLOG_VERDICT_MISMATCH: return "mismatch";
	case SMMLOG_VERDICT_NO_REFERENCE: return "no-reference";
	case SMMLOG_VERDICT_ERROR: return "error";
	}
	return "unknown";
}
