/* libFuzzer target for the SMM measurement log (smm-bridge/smmlog.h):
 * what a hostile agent relays from vigil-smmd and the verifier reads in
 * appraise_smm.c.
 *
 * Input: byte 0 even: the rest is one log entry (smmlog_entry_parse, then
 * the chain over it with smmlog_verify_entries); byte 0 odd: the rest is a
 * signed head (smmlog_head_parse, then smmlog_verify_head against one
 * software log-signing key made at start-up, with the head's own nonce so
 * the signature check is reached).
 *
 * A rejected entry or head must be VIGIL_ETRUNC/EINVAL/ETOOBIG; a parsed
 * one must point only into the input, hold every limit of the format and
 * encode back to exactly the input (canonical form). With
 * VIGIL_FUZZ_SEED_DIR set, start-up writes seeds there: one entry of each
 * kind and a head signed by this process's key (so it verifies only in
 * the run that wrote it). Any crash, sanitizer report or abort() is a
 * bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/smmlog.h"
#include "seed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_sl_key;
static uint8_t *fuzz_sl_spki;
static size_t fuzz_sl_spki_len;

/* One entry of each kind, encoded (encode checks it parses), as seeds. */
static void
fuzz_sl_entry_seeds(const char *dir)
{
	static const uint32_t pages[] = { 0, 3, 17 };
	struct smmlog_entry e[6];
	static const char *names[] = { "measure-match", "measure-mismatch",
	    "key-use-granted", "key-use-refused", "start", "refs" };
	struct buf b = BUF_INIT;
	size_t i;

	memset(e, 0, sizeof(e));
	for (i = 0; i < 6; i++) {
		e[i].seq = i + 1;
		e[i].time_ms = 1700000000000ull + i;
	}
	e[0].kind = e[1].kind = SMMLOG_KIND_MEASURE;
	e[0].u.m.target = e[1].u.m.target = "guest-agent";
	e[0].u.m.target_len = e[1].u.m.target_len = 11;
	e[0].u.m.region = e[1].u.m.region = "/usr/bin/agent@0x1000";
	e[0].u.m.region_len = e[1].u.m.region_len = 21;
	e[0].u.m.size = e[1].u.m.size = 20 * SMMLOG_PAGE;
	memset(e[0].u.m.root, 0xa5, SMMLOG_HASH_LEN);
	memset(e[1].u.m.root, 0x5a, SMMLOG_HASH_LEN);
	e[0].u.m.verdict = SMMLOG_VERDICT_MATCH;
	e[1].u.m.verdict = SMMLOG_VERDICT_MISMATCH;
	e[1].u.m.n_pages = 3;
	e[1].u.m.pages_host = pages;
	e[2].kind = e[3].kind = SMMLOG_KIND_KEY_USE;
	e[2].u.k.key_id = e[3].u.k.key_id = "disk-key";
	e[2].u.k.key_id_len = e[3].u.k.key_id_len = 8;
	e[2].u.k.tenant = e[3].u.k.tenant = "acme";
	e[2].u.k.tenant_len = e[3].u.k.tenant_len = 4;
	e[2].u.k.op = MM_OP_UNWRAP;
	e[3].u.k.op = MM_OP_SIGN;
	e[2].u.k.uid = 0;
	e[3].u.k.uid = 1000;
	e[2].u.k.granted = 1;
	e[2].u.k.status = MM_ST_OK;
	e[3].u.k.granted = 0;
	e[3].u.k.status = MM_ST_OK + 1;
	e[2].u.k.measure_seq = 1;
	e[4].kind = SMMLOG_KIND_START;
	e[4].u.start.boot = 2;
	e[5].kind = SMMLOG_KIND_REFS;
	e[5].u.refs.version = 7;
	memset(e[5].u.refs.digest, 0x11, SMMLOG_HASH_LEN);
	for (i = 0; i < 6; i++) {
		b.len = 0;
		if (smmlog_entry_encode(&e[i], &b) != 0)
			abort();
		fuzz_seed_write(dir, names[i], 0x00, &b);
	}
	buf_free(&b);
}

/* A head signed by the start-up key must verify (the harness checks
 * itself); written as a seed when dir is set. */
static void
fuzz_sl_head_seed(const char *dir)
{
	static const uint8_t nonce[32] = { 0x6e, 0x6f, 0x6e, 0x63, 0x65 };
	uint8_t head[SMMLOG_HASH_LEN], got[SMMLOG_HASH_LEN];
	struct buf b = BUF_INIT;
	uint64_t seq = 0;

	memset(head, 0x42, sizeof(head));
	if (smmlog_head_sign(fuzz_sl_key, nonce, sizeof(nonce), 6, head,
	    &b) != 0 || smmlog_verify_head(b.data, b.len, fuzz_sl_spki,
	    fuzz_sl_spki_len, nonce, sizeof(nonce), &seq, got) != 0 ||
	    seq != 6 || memcmp(got, head, sizeof(head)) != 0)
		abort();
	fuzz_seed_write(dir, "head", 0x01, &b);
	buf_free(&b);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("VIGIL_FUZZ_SEED_DIR");
	unsigned char *der = NULL;
	int n;

	log_init("fuzz_smmlog", LOG_ERR);	/* rejections are expected */
	if ((fuzz_sl_key = EVP_EC_gen("P-256")) == NULL ||
	    (n = i2d_PUBKEY(fuzz_sl_key, &der)) <= 0)
		abort();
	fuzz_sl_spki = der;
	fuzz_sl_spki_len = (size_t)n;
	fuzz_sl_head_seed(dir);
	if (dir != NULL)
		fuzz_sl_entry_seeds(dir);
	return 0;
}

static void
fuzz_sl_inside(const void *p, size_t n, const uint8_t *data, size_t size)
{
	const uint8_t *q = p;

	if (n > 0 && (q < data || q + n > data + size))
		abort();
}

static void
fuzz_sl_printable(const char *s, size_t n, size_t hi)
{
	size_t i;

	if (n < 1 || n > hi)
		abort();
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

/* What smmlog.h promises of a parsed entry. */
static void
fuzz_sl_entry_check(const struct smmlog_entry *e, const uint8_t *data,
    size_t size)
{
	uint32_t i;

	if (data[0] != e->version || (e->version != SMMLOG_VERSION &&
	    e->version != SMMLOG_VERSION_V1) || e->seq == 0 ||
	    strcmp(smmlog_kind_name(e->kind), "unknown") == 0)
		abort();
	switch (e->kind) {
	case SMMLOG_KIND_MEASURE:
		fuzz_sl_inside(e->u.m.target, e->u.m.target_len, data, size);
		fuzz_sl_inside(e->u.m.region, e->u.m.region_len, data, size);
		fuzz_sl_printable(e->u.m.target, e->u.m.target_len,
		    SMMLOG_MAX_NAME);
		fuzz_sl_printable(e->u.m.region, e->u.m.region_len,
		    SMMLOG_MAX_REGION);
		if (strcmp(smmlog_verdict_name(e->u.m.verdict), "unknown") ==
		    0 || e->u.m.n_pages > SMMLOG_MAX_PAGES ||
		    (e->u.m.n_pages > 0 &&
		    e->u.m.verdict != SMMLOG_VERDICT_MISMATCH))
			abort();
		fuzz_sl_inside(e->u.m.pages, (size_t)e->u.m.n_pages * 4, data,
		    size);
		for (i = 0; i < e->u.m.n_pages; i++)
			if ((i > 0 && smmlog_entry_page(e, i) <=
			    smmlog_entry_page(e, i - 1)) ||
			    (uint64_t)smmlog_entry_page(e, i) * SMMLOG_PAGE >=
			    e->u.m.size)
				abort();
		break;
	case SMMLOG_KIND_KEY_USE:
		fuzz_sl_inside(e->u.k.key_id, e->u.k.key_id_len, data, size);
		fuzz_sl_printable(e->u.k.key_id, e->u.k.key_id_len,
		    SMMLOG_MAX_KEYID);
		/* Version 2 names the tenant; version 1 has none. */
		if ((e->version == SMMLOG_VERSION) != (e->u.k.tenant_len > 0))
			abort();
		if (e->u.k.tenant_len > 0) {
			fuzz_sl_inside(e->u.k.tenant, e->u.k.tenant_len, data,
			    size);
			fuzz_sl_printable(e->u.k.tenant, e->u.k.tenant_len,
			    SMMLOG_MAX_TENANT);
		}
		if (e->u.k.op < MM_OP_SIGN || e->u.k.op > MM_OP_UNWRAP ||
		    e->u.k.granted > 1 ||
		    (e->u.k.granted == 1) != (e->u.k.status == MM_ST_OK))
			abort();
		break;
	}
}

static void
fuzz_sl_entry(const uint8_t *data, size_t size)
{
	uint8_t zero[SMMLOG_HASH_LEN], want[SMMLOG_HASH_LEN];
	uint8_t got[SMMLOG_HASH_LEN];
	const uint8_t *ents[2] = { data, data };
	size_t lens[2] = { size, size };
	struct smmlog_entry e;
	struct buf b = BUF_INIT;
	uint64_t seq = 0;
	int rc;

	rc = smmlog_entry_parse(data, size, &e);
	memset(zero, 0, sizeof(zero));
	if (rc != 0) {
		if (rc != VIGIL_ETRUNC && rc != VIGIL_EINVAL &&
		    rc != VIGIL_ETOOBIG)
			abort();
		/* The chain refuses what does not parse. */
		if (smmlog_verify_entries(0, zero, ents, lens, 1, &seq,
		    got) != VIGIL_EVERIFY)
			abort();
		return;
	}
	fuzz_sl_entry_check(&e, data, size);
	/* Canonical: a version-2 entry encodes back to exactly the input
	 * (version 1 is parsed, never written: a version-1 KEY_USE has no
	 * tenant to encode, the other kinds come back as version 2). */
	if (e.version == SMMLOG_VERSION && (smmlog_entry_encode(&e, &b) != 0 ||
	    b.len != size || memcmp(b.data, data, size) != 0))
		abort();
	if (e.version == SMMLOG_VERSION_V1 && e.kind != SMMLOG_KIND_KEY_USE &&
	    (smmlog_entry_encode(&e, &b) != 0 || b.len != size ||
	    memcmp(b.data + 1, data + 1, size - 1) != 0))
		abort();
	buf_free(&b);
	/* The chain accepts it right after seq - 1, and advances the head
	 * by SHA-256(prev || entry); not at any other place, and not twice. */
	if (smmlog_chain_next(zero, data, size, want) != 0 ||
	    smmlog_verify_entries(e.seq - 1, zero, ents, lens, 1, &seq,
	    got) != 0 || seq != e.seq || memcmp(got, want, sizeof(got)) != 0)
		abort();
	if (smmlog_verify_entries(e.seq, zero, ents, lens, 1, &seq, got) !=
	    VIGIL_EVERIFY ||
	    smmlog_verify_entries(e.seq - 1, zero, ents, lens, 2, &seq,
	    got) != VIGIL_EVERIFY)
		abort();
}

static void
fuzz_sl_head(const uint8_t *data, size_t size)
{
	uint8_t head[SMMLOG_HASH_LEN], other[SMMLOG_MAX_NONCE] = { 0 };
	struct smmlog_head h;
	struct buf b = BUF_INIT;
	uint64_t seq = 0;
	int rc, vrc;

	rc = smmlog_head_parse(data, size, &h);
	if (rc != 0) {
		if (rc != VIGIL_ETRUNC && rc != VIGIL_EINVAL)
			abort();
		/* The verifier refuses it for the same reason. */
		if (smmlog_verify_head(data, size, fuzz_sl_spki,
		    fuzz_sl_spki_len, other, 1, &seq, head) != rc)
			abort();
		return;
	}
	fuzz_sl_inside(h.nonce, h.nonce_len, data, size);
	fuzz_sl_inside(h.sig, h.sig_len, data, size);
	if (h.nonce_len < 1 || h.nonce_len > SMMLOG_MAX_NONCE ||
	    h.sig_len < 1 || h.sig_len > 80)
		abort();
	/* Canonical: the fields rebuild exactly the input. */
	if (buf_add_u8(&b, 1) || buf_add_u8(&b, (uint8_t)h.nonce_len) ||
	    buf_add(&b, h.nonce, h.nonce_len) ||
	    buf_add_u64le(&b, h.last_seq) ||
	    buf_add(&b, h.head, SMMLOG_HASH_LEN) ||
	    buf_add_u16le(&b, (uint16_t)h.sig_len) ||
	    buf_add(&b, h.sig, h.sig_len) || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	buf_free(&b);
	/* With its own nonce: the signature decides (0 only for a head this
	 * process signed, the seed); it must report what it parsed. */
	vrc = smmlog_verify_head(data, size, fuzz_sl_spki, fuzz_sl_spki_len,
	    h.nonce, h.nonce_len, &seq, head);
	if (vrc == 0) {
		if (seq != h.last_seq || memcmp(head, h.head, sizeof(head)))
			abort();
	} else if (vrc != VIGIL_EVERIFY)
		abort();
	/* With another nonce (one byte changed): never accepted. */
	memcpy(other, h.nonce, h.nonce_len);
	other[0] ^= 0x01;
	if (smmlog_verify_head(data, size, fuzz_sl_spki, fuzz_sl_spki_len,
	    other, h.nonce_len, &seq, head) != VIGIL_EVERIFY)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_sl_entry(data + 1, size - 1);
	else
		fuzz_sl_head(data + 1, size - 1);
	return 0;
}
