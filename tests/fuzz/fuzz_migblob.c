/* libFuzzer target for migration blobs and the vTPM state inside them
 * (enclave/migblob.h): what a source node (hostile to the target) sends
 * through the verifier to the target's MigE.
 *
 * Input: byte 0 even: the rest is a plaintext state (migstate_parse);
 * byte 0 odd: the rest is a blob, opened with migblob_open by one
 * software transport key made at start-up, for the VM and source the
 * blob's own header names (read here, so the checks after the ids are
 * reached), and once for another VM.
 *
 * A rejected state must be VIGIL_ETRUNC/EINVAL/ETOOBIG with nothing kept;
 * a parsed one must hold the limits (1..16 files, names [a-z0-9._-] 1..64
 * without a leading '.', no name twice) and marshal back to exactly the
 * input. A blob is refused with VIGIL_ETRUNC/EINVAL/ETOOBIG/EVERIFY and a
 * reason, with no plaintext given; one that opens (only a blob this
 * process sealed: a seed) gives the ciphertext's length of plaintext,
 * which is a valid state.
 *
 * With VIGIL_FUZZ_SEED_DIR set, start-up writes seeds there: two states
 * and two blobs sealed to the start-up key (they open only in the run
 * that wrote them). Any crash, sanitizer report or abort() is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "buf.h"
#include "enclave/migblob.h"
#include "err.h"
#include "log.h"
#include "rd.h"
#include "seed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_mb_key;

/* A state of the files given, marshaled into out. */
static void
fuzz_mb_state(const char *const *names, size_t n, struct buf *out)
{
	static const uint8_t body[] = "swtpm state bytes \x00\x01\x02\xff";
	struct migstate s;
	size_t i;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < n; i++)
		if (migstate_add(&s, names[i], body, sizeof(body) - i) != 0)
			abort();
	if (migstate_marshal(&s, out) != 0)
		abort();
	migstate_free(&s);
}

/* The start-up key checks itself: a sealed blob opens to its state. */
static void
fuzz_mb_seeds(const char *dir)
{
	static const char *one[] = { "tpm2-00.permall" };
	static const char *three[] = { "tpm2-00.permall", "tpm2-00.volatilestate",
	    "tpm2-00.savestate" };
	struct buf st1 = BUF_INIT, st3 = BUF_INIT, blob = BUF_INIT;
	struct buf pt = BUF_INIT;

	fuzz_mb_state(one, 1, &st1);
	fuzz_mb_state(three, 3, &st3);
	fuzz_seed_write(dir, "state-one", 0x00, &st1);
	fuzz_seed_write(dir, "state-three", 0x00, &st3);
	if (migblob_seal(fuzz_mb_key, "vm-1", "node-a", st1.data, st1.len,
	    &blob) != 0 || migblob_open(fuzz_mb_key, blob.data, blob.len,
	    "vm-1", "node-a", &pt, NULL) != 0 || pt.len != st1.len ||
	    memcmp(pt.data, st1.data, pt.len) != 0)
		abort();
	fuzz_seed_write(dir, "blob-one", 0x01, &blob);
	blob.len = 0;
	if (migblob_seal(fuzz_mb_key,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "n", st3.data, st3.len, &blob) != 0)
		abort();
	fuzz_seed_write(dir, "blob-three-long-id", 0x01, &blob);
	buf_free(&st1);
	buf_free(&st3);
	buf_free(&blob);
	buf_free(&pt);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Rejections are expected; migstate_add logs a refused name (a
	 * duplicate one in a parsed state) as an error. */
	log_init("fuzz_migblob", LOG_ERR + 1);
	if ((fuzz_mb_key = EVP_EC_gen("P-256")) == NULL)
		abort();
	fuzz_mb_seeds(getenv("VIGIL_FUZZ_SEED_DIR"));
	return 0;
}

static int
fuzz_mb_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > MIGBLOB_MAX_NAME || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void
fuzz_mb_state_in(const uint8_t *data, size_t size)
{
	struct migstate s;
	struct buf m = BUF_INIT;
	size_t i, j;
	int rc;

	rc = migstate_parse(data, size, &s);
	if (rc != 0) {
		if ((rc != VIGIL_ETRUNC && rc != VIGIL_EINVAL &&
		    rc != VIGIL_ETOOBIG) || s.n != 0)
			abort();
		return;
	}
	if (s.n < 1 || s.n > MIGBLOB_MAX_FILES)
		abort();
	for (i = 0; i < s.n; i++) {
		if (memchr(s.f[i].name, '\0', sizeof(s.f[i].name)) == NULL ||
		    !fuzz_mb_name_ok(s.f[i].name))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(s.f[i].name, s.f[j].name) == 0)
				abort();
	}
	/* Canonical: it marshals back to exactly the input. */
	if (migstate_marshal(&s, &m) != 0 || m.len != size ||
	    memcmp(m.data, data, size) != 0)
		abort();
	buf_free(&m);
	migstate_free(&s);
}

/* The u16be-length id at the reader into a NUL-terminated string (empty
 * when the input has none); a NUL inside makes it name another VM. */
static void
fuzz_mb_id(struct rd *r, char out[MIGBLOB_MAX_ID + 1])
{
	const uint8_t *p;
	uint16_t n;

	out[0] = '\0';
	if (rd_u16be(r, &n) != 0 || rd_bytes(r, n, &p) != 0)
		return;
	if (n > MIGBLOB_MAX_ID)
		n = MIGBLOB_MAX_ID;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
fuzz_mb_blob_rc(int rc, const char *why, const struct buf *pt)
{
	if (rc != VIGIL_ETRUNC && rc != VIGIL_EINVAL && rc != VIGIL_ETOOBIG &&
	    rc != VIGIL_EVERIFY)
		abort();
	if (why == NULL || pt->len != 0)
		abort();
}

static void
fuzz_mb_blob(const uint8_t *data, size_t size)
{
	char vm[MIGBLOB_MAX_ID + 1], src[MIGBLOB_MAX_ID + 1];
	struct buf pt = BUF_INIT;
	struct migstate s;
	const char *why = NULL;
	struct rd r;
	int rc;

	rd_init(&r, data, size);
	src[0] = '\0';
	if (rd_skip(&r, 6) == 0) {
		fuzz_mb_id(&r, vm);
		fuzz_mb_id(&r, src);
	} else
		vm[0] = '\0';
	rc = migblob_open(fuzz_mb_key, data, size, vm, src, &pt, &why);
	if (rc == 0) {
		/* Only a seed opens: its plaintext is a state. */
		if (pt.len < 1 || pt.len > MIGBLOB_MAX_STATE ||
		    migstate_parse(pt.data, pt.len, &s) != 0)
			abort();
		migstate_free(&s);
	} else
		fuzz_mb_blob_rc(rc, why, &pt);
	buf_free(&pt);
	/* For another VM (and with the source unchecked): never opens. */
	why = NULL;
	rc = migblob_open(fuzz_mb_key, data, size, "another-vm", NULL, &pt,
	    &why);
	if (rc == 0)
		abort();
	fuzz_mb_blob_rc(rc, why, &pt);
	buf_free(&pt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_mb_state_in(data + 1, size - 1);
	else
		fuzz_mb_blob(data + 1, size - 1);
	return 0;
}
