/* Migration blobs (enclave/migblob.h): only the target MigE opens a blob,
 * and only for the VM and source it was sealed for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "enclave/migblob.h"
#include "err.h"
#include "log.h"

struct fx {
	EVP_PKEY *target, *other;
	struct buf state;
	struct buf blob;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct migstate s;
	uint8_t perm[3000];
	size_t i;

	assert_non_null(f);
	assert_non_null(f->target = EVP_EC_gen("P-256"));
	assert_non_null(f->other = EVP_EC_gen("P-256"));
	for (i = 0; i < sizeof(perm); i++)
		perm[i] = (uint8_t)(i * 7);
	memset(&s, 0, sizeof(s));
	assert_int_equal(migstate_add(&s, "tpm2-00.permall", perm,
	    sizeof(perm)), 0);
	assert_int_equal(migstate_add(&s, "tpm2-00.volatilestate",
	    (const uint8_t *)"vol", 3), 0);
	assert_int_equal(migstate_marshal(&s, &f->state), 0);
	migstate_free(&s);
	assert_int_equal(migblob_seal(f->target, "vm-1", "node-a",
	    f->state.data, f->state.len, &f->blob), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	EVP_PKEY_free(f->target);
	EVP_PKEY_free(f->other);
	buf_free(&f->state);
	buf_free(&f->blob);
	free(f);
	return 0;
}

static void
test_migblob_target_opens_state(void **state)
{
	struct fx *f = *state;
	struct buf out = BUF_INIT;
	struct migstate s;

	assert_int_equal(migblob_open(f->target, f->blob.data, f->blob.len,
	    "vm-1", "node-a", &out, NULL), 0);
	assert_int_equal(out.len, f->state.len);
	assert_memory_equal(out.data, f->state.data, out.len);
	assert_int_equal(migstate_parse(out.data, out.len, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.f[0].name, "tpm2-00.permall");
	assert_int_equal(s.f[0].data.len, 3000);
	assert_string_equal(s.f[1].name, "tpm2-00.volatilestate");
	migstate_free(&s);
	buf_free(&out);
	/* Any source accepted when the caller does not pin it. */
	assert_int_equal(migblob_open(f->target, f->blob.data, f->blob.len,
	    "vm-1", NULL, &out, NULL), 0);
	buf_free(&out);
}

static void
test_migblob_rejects_other_transport_key(void **state)
{
	struct fx *f = *state;
	struct buf out = BUF_INIT;
	const char *why = NULL;

	assert_int_equal(migblob_open(f->other, f->blob.data, f->blob.len,
	    "vm-1", "node-a", &out, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "migration blob is for another transport "
	    "key");
	assert_int_equal(out.len, 0);
}

static void
test_migblob_rejects_other_vm_and_source(void **state)
{
	struct fx *f = *state;
	struct buf out = BUF_INIT;
	const char *why = NULL;

	assert_int_equal(migblob_open(f->target, f->blob.data, f->blob.len,
	    "vm-2", "node-a", &out, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "migration blob is for another VM");
	assert_int_equal(migblob_open(f->target, f->blob.data, f->blob.len,
	    "vm-1", "node-b", &out, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "migration blob comes from another source "
	    "node");
	assert_int_equal(out.len, 0);
}

static void
test_migblob_rejects_edited_header_or_ciphertext(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT, out = BUF_INIT;
	const char *why = NULL;
	size_t vm_off = 4 + 2 + 2;

	/* Relabel the blob for another VM of the same name length: the AD
	 * no longer matches, the tag fails. */
	assert_int_equal(buf_add(&b, f->blob.data, f->blob.len), 0);
	b.data[vm_off + 3] = '2';
	assert_int_equal(migblob_open(f->target, b.data, b.len, "vm-2",
	    "node-a", &out, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "migration blob does not authenticate "
	    "(GCM tag)");
	b.data[vm_off + 3] = '1';
	b.data[b.len - 40] ^= 1;	/* ciphertext */
	assert_int_equal(migblob_open(f->target, b.data, b.len, "vm-1",
	    "node-a", &out, &why), VIGIL_EVERIFY);
	assert_string_equal(why, "migration blob does not authenticate "
	    "(GCM tag)");
	assert_int_equal(out.len, 0);
	buf_free(&b);
}

static void
test_migblob_rejects_truncation_and_trailing_bytes(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT, out = BUF_INIT;
	size_t n;

	for (n = 0; n < f->blob.len; n += 97)
		assert_int_not_equal(migblob_open(f->target, f->blob.data, n,
		    "vm-1", "node-a", &out, NULL), 0);
	assert_int_equal(buf_add(&b, f->blob.data, f->blob.len), 0);
	assert_int_equal(buf_add_u8(&b, 0), 0);
	assert_int_equal(migblob_open(f->target, b.data, b.len, "vm-1",
	    "node-a", &out, NULL), VIGIL_EINVAL);
	assert_int_equal(out.len, 0);
	buf_free(&b);
}

static void
test_migstate_rejects_bad_names_and_counts(void **state)
{
	struct migstate s;
	static const uint8_t slash[] = { 0, 1, 0, 5, '.', '.', '/', 'x', 'y',
	    0, 0, 0, 0 };
	static const uint8_t zero[] = { 0, 0 };
	static const uint8_t trail[] = { 0, 1, 0, 1, 'a', 0, 0, 0, 0, 9 };

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(migstate_add(&s, "../etc", (const uint8_t *)"x", 1),
	    VIGIL_EINVAL);
	assert_int_equal(migstate_add(&s, ".hidden", (const uint8_t *)"x", 1),
	    VIGIL_EINVAL);
	assert_int_equal(migstate_parse(slash, sizeof(slash), &s),
	    VIGIL_EINVAL);
	assert_int_equal(migstate_parse(zero, sizeof(zero), &s),
	    VIGIL_EINVAL);
	assert_int_equal(migstate_parse(trail, sizeof(trail), &s),
	    VIGIL_EINVAL);
	assert_int_equal(migstate_parse(trail, sizeof(trail) - 1, &s), 0);
	assert_int_equal(s.n, 1);
	migstate_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migblob_target_opens_state),
		cmocka_unit_test(test_migblob_rejects_other_transport_key),
		cmocka_unit_test(test_migblob_rejects_other_vm_and_source),
		cmocka_unit_test(test_migblob_rejects_edited_header_or_ciphertext),
		cmocka_unit_test(test_migblob_rejects_truncation_and_trailing_bytes),
		cmocka_unit_test(test_migstate_rejects_bad_names_and_counts),
	};

	log_init("test_migblob", LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
