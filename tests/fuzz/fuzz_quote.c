/* libFuzzer target for quotes from hostile agents: quote_parse, then on
 * success quote_selected_mask, quote_pcr_digest and quote_verify_sig
 * against one software AK made at start-up (swquote_new).
 *
 * Input: a 2-byte big-endian length n, then n bytes of marshaled
 * TPM2B_ATTEST (fewer if the input ends first), then the marshaled
 * TPMT_SIGNATURE (the rest). Two bytes, not one: a TPMS_ATTEST with a
 * 64-byte nonce, a SHA-512 name and several banks is longer than 255 bytes.
 * Seeds: see tests/fuzz/README.md. Any crash, sanitizer report or abort()
 * below is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "swquote.h"
#include "tpm_parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct swquote *fuzz_sq;
static TPM2B_PUBLIC fuzz_ak;

/* A good quote by fuzz_sq, in the input format; it must parse and verify
 * (else the harness is wrong). Written to dir/swquote.quote when dir is
 * set. */
static void
fuzz_quote_seed(const char *dir)
{
	static const uint8_t nonce[32] = { 0x4e, 0x6f, 0x6e, 0x63, 0x65 };
	struct buf attest = BUF_INIT, sig = BUF_INIT, in = BUF_INIT;
	struct pcrs vals;
	struct quote q;
	char path[4096];
	FILE *f;
	int i;

	memset(&vals, 0, sizeof(vals));
	vals.mask = 0xffffffu;
	for (i = 0; i < PCR_COUNT; i++)
		memset(vals.v[i], i, SHA256_LEN);
	if (swquote_make(fuzz_sq, nonce, sizeof(nonce), &vals,
	    PCR_POLICY_MASK, 123456789, 3, 1, 1, &attest, &sig) != 0 ||
	    attest.len > 0xffff || buf_add_u16be(&in, (uint16_t)attest.len) ||
	    buf_add(&in, attest.data, attest.len) ||
	    buf_add(&in, sig.data, sig.len))
		abort();
	if (quote_parse(attest.data, attest.len, sig.data, sig.len, &q,
	    NULL) != 0 || quote_verify_sig(&q, &fuzz_ak, NULL) != 0)
		abort();
	if (dir != NULL) {
		if (snprintf(path, sizeof(path), "%s/swquote.quote", dir) >=
		    (int)sizeof(path) || (f = fopen(path, "wb")) == NULL)
			abort();
		if (fwrite(in.data, 1, in.len, f) != in.len || fclose(f) != 0)
			abort();
	}
	buf_free(&attest);
	buf_free(&sig);
	buf_free(&in);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz_quote", LOG_ERR);	/* rejections are expected */
	if (swquote_new(&fuzz_sq) != 0 ||
	    swquote_ak_public(fuzz_sq, &fuzz_ak) != 0)
		abort();
	fuzz_quote_seed(getenv("VIGIL_FUZZ_SEED_DIR"));
	return 0;
}

/* The selection and the PCR digest over values taken from the input. */
static void
fuzz_quote_check_pcrs(const struct quote *q, const uint8_t *data,
    size_t size)
{
	uint8_t d1[SHA256_LEN], d2[SHA256_LEN];
	const char *why = NULL;
	struct pcrs vals;
	uint32_t mask = 0;
	size_t i;
	int e;

	e = quote_selected_mask(q, &mask, &why);
	if (e != 0) {
		if (e != VIGIL_EVERIFY || why == NULL)
			abort();
		return;
	}
	if (mask >> PCR_COUNT)
		abort();
	memset(&vals, 0, sizeof(vals));
	for (i = 0; i < sizeof(vals.v); i++)
		((uint8_t *)vals.v)[i] = data[i % size];
	vals.mask = 0xffffffu;
	if (quote_pcr_digest(&vals, mask, d1) != 0 ||
	    quote_pcr_digest(&vals, mask, d2) != 0 ||
	    memcmp(d1, d2, sizeof(d1)) != 0)
		abort();
	/* Values lacking a selected PCR are refused. */
	vals.mask = 0;
	if (mask != 0 && quote_pcr_digest(&vals, mask, d1) != VIGIL_EINVAL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *attest, *sig;
	size_t alen, slen;
	const char *why = NULL;
	struct quote q;
	int e;

	if (size < 2)
		return 0;
	alen = (size_t)data[0] << 8 | data[1];
	if (alen > size - 2)
		alen = size - 2;
	attest = data + 2;
	sig = attest + alen;
	slen = size - 2 - alen;
	e = quote_parse(attest, alen, sig, slen, &q, &why);
	if (e != 0) {
		if ((e != VIGIL_EINVAL && e != VIGIL_EVERIFY) || why == NULL)
			abort();
		return 0;
	}
	/* The signed bytes are the TPM2B's contents, inside the input. */
	if (alen < 2 || q.attest_bytes != attest + 2 ||
	    q.attest_len != alen - 2)
		abort();
	fuzz_quote_check_pcrs(&q, data, size);
	why = NULL;
	e = quote_verify_sig(&q, &fuzz_ak, &why);
	/* 0 only for a quote this process's AK signed (the seed). */
	if (e != 0 && ((e == VIGIL_EVERIFY && why == NULL) ||
	    (e != VIGIL_EVERIFY && e != VIGIL_ECRYPTO && e != VIGIL_EUNSUPP)))
		abort();
	return 0;
}
