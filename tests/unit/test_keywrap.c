/* Tenant key wrapping (smm-bridge/keywrap.h) and the vault's use of the
 * unwrapped keys (smm-bridge/vault.h): round trip, changed associated
 * data does not unwrap, another recipient cannot unwrap, policy checks,
 * and signed reference sets (smm-bridge/refs.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "err.h"
#include "log.h"
#include "smm-bridge/keywrap.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/refs.h"
#include "smm-bridge/vault.h"

struct fx {
	EVP_PKEY *rcpt, *other;
	struct keywrap_key key;
	struct buf blob;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->rcpt = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	f->other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	snprintf(f->key.pol.key_id, sizeof(f->key.pol.key_id), "k1");
	snprintf(f->key.pol.tenant, sizeof(f->key.pol.tenant), "tenant-a");
	f->key.pol.ops = (1u << MM_OP_HMAC) | (1u << MM_OP_UNWRAP);
	f->key.pol.n_callers = 2;
	f->key.pol.callers[0] = 1000;
	f->key.pol.callers[1] = 1001;
	f->key.pol.type = KEYWRAP_TYPE_SECRET;
	memset(f->key.material, 0x5c, 32);
	f->key.material_len = 32;
	assert_int_equal(keywrap_wrap(f->rcpt, &f->key, &f->blob), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	EVP_PKEY_free(f->rcpt);
	EVP_PKEY_free(f->other);
	buf_free(&f->blob);
	free(f);
	return 0;
}

static void
test_keywrap_round_trip(void **state)
{
	struct fx *f = *state;
	struct keywrap_key out;
	struct keywrap_policy pol;
	uint8_t fp[KEYWRAP_FP_LEN];

	assert_int_equal(keywrap_unwrap(f->rcpt, f->blob.data, f->blob.len,
	    &out), 0);
	assert_int_equal(out.material_len, 32);
	assert_memory_equal(out.material, f->key.material, 32);
	assert_string_equal(out.pol.key_id, "k1");
	assert_string_equal(out.pol.tenant, "tenant-a");
	assert_int_equal(out.pol.ops, f->key.pol.ops);
	assert_int_equal(out.pol.n_callers, 2);
	assert_int_equal(out.pol.callers[1], 1001);
	assert_int_equal(keywrap_fingerprint(f->rcpt, fp), 0);
	assert_memory_equal(out.pol.recipient_fp, fp, KEYWRAP_FP_LEN);
	assert_int_equal(keywrap_peek(f->blob.data, f->blob.len, &pol), 0);
	assert_string_equal(pol.key_id, "k1");
}

/* Each associated-data field changed in place (same lengths). */
static void
test_keywrap_changed_associated_data_does_not_unwrap(void **state)
{
	struct fx *f = *state;
	struct keywrap_key out;
	/* offsets: 4 magic, 1 ver, 65 eph, 1+2 id, 1+8 tenant, ops, n,
	 * 2x4 callers, 32 fp, type */
	const size_t id = 71, tenant = 74, ops = 82, caller = 84, fp = 92;
	const size_t offs[] = { id, tenant, ops, caller, fp };
	size_t i;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		f->blob.data[offs[i]] ^= (offs[i] == ops) ? 0x02 : 0x01;
		if (offs[i] == id || offs[i] == tenant)
			f->blob.data[offs[i]] = 'x';
		assert_int_not_equal(keywrap_unwrap(f->rcpt, f->blob.data,
		    f->blob.len, &out), 0);
		assert_int_equal(out.material_len, 0);
		buf_free(&f->blob);
		assert_int_equal(keywrap_wrap(f->rcpt, &f->key, &f->blob), 0);
	}
	/* The caller list: a uid swapped for another. */
	f->blob.data[caller] = 0;	/* 1000 -> 768 */
	assert_int_equal(keywrap_unwrap(f->rcpt, f->blob.data, f->blob.len,
	    &out), VIGIL_ECRYPTO);
	buf_free(&f->blob);
	assert_int_equal(keywrap_wrap(f->rcpt, &f->key, &f->blob), 0);
}

static void
test_keywrap_other_recipient_cannot_unwrap(void **state)
{
	struct fx *f = *state;
	struct keywrap_key out;

	assert_int_equal(keywrap_unwrap(f->other, f->blob.data, f->blob.len,
	    &out), VIGIL_EDENIED);
}

static void
test_keywrap_truncated_blobs_are_refused(void **state)
{
	struct fx *f = *state;
	struct keywrap_key out;
	size_t i;

	for (i = 0; i < f->blob.len; i++)
		assert_int_not_equal(keywrap_unwrap(f->rcpt, f->blob.data, i,
		    &out), 0);
}

static void
test_keywrap_policy_rules_enforced_at_wrap(void **state)
{
	struct fx *f = *state;
	struct keywrap_key k = f->key;
	struct buf b = BUF_INIT;

	k.pol.ops = 1u << MM_OP_SIGN;	/* a secret cannot sign */
	assert_int_equal(keywrap_wrap(f->rcpt, &k, &b), VIGIL_EINVAL);
	k = f->key;
	k.pol.n_callers = 0;
	assert_int_equal(keywrap_wrap(f->rcpt, &k, &b), VIGIL_EINVAL);
	k = f->key;
	snprintf(k.pol.key_id, sizeof(k.pol.key_id), "a/b");
	assert_int_equal(keywrap_wrap(f->rcpt, &k, &b), VIGIL_EINVAL);
	k = f->key;
	k.material_len = 20;	/* unwrap needs a 32-byte key */
	assert_int_equal(keywrap_wrap(f->rcpt, &k, &b), VIGIL_EINVAL);
	assert_int_equal(b.len, 0);
}

static void
test_vault_serves_only_allowed_callers_and_ops(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/vigil-vault.XXXXXX", id[KEYWRAP_MAX_ID + 1];
	char tenant[KEYWRAP_MAX_ID + 1], cmd[128];
	struct vault *v = NULL;
	struct buf out = BUF_INIT;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(vault_open(dir, f->rcpt, &v), 0);
	assert_int_equal(vault_provision(v, f->blob.data, f->blob.len, tenant,
	    id), 0);
	assert_string_equal(id, "k1");
	assert_string_equal(tenant, "tenant-a");
	assert_int_equal(vault_provision(v, f->blob.data, f->blob.len, tenant,
	    id), 0);
	assert_int_equal(vault_check(v, "tenant-a", "k1", MM_OP_HMAC, 1000),
	    MM_ST_OK);
	assert_int_equal(vault_check(v, "tenant-a", "k1", MM_OP_HMAC, 1002),
	    MM_ST_DENIED);
	assert_int_equal(vault_check(v, "tenant-a", "k1", MM_OP_SIGN, 1000),
	    MM_ST_OP_REFUSED);
	assert_int_equal(vault_check(v, "tenant-a", "k2", MM_OP_HMAC, 1000),
	    MM_ST_NOT_FOUND);
	/* Another tenant's name for the same id is not this key. */
	assert_int_equal(vault_check(v, "tenant-b", "k1", MM_OP_HMAC, 1000),
	    MM_ST_NOT_FOUND);
	assert_int_equal(vault_use(v, "tenant-b", "k1", MM_OP_HMAC,
	    (const uint8_t *)"abc", 3, &out), VIGIL_ENOTFOUND);
	assert_int_equal(vault_use(v, "tenant-a", "k1", MM_OP_HMAC,
	    (const uint8_t *)"abc", 3, &out), 0);
	assert_int_equal(out.len, 32);
	vault_close(v);
	/* Reloaded from the stored blob, keys/TENANT~ID.vgkw. */
	snprintf(cmd, sizeof(cmd), "test -f %s/keys/tenant-a~k1.vgkw", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vault_open(dir, f->rcpt, &v), 0);
	assert_int_equal(vault_check(v, "tenant-a", "k1", MM_OP_HMAC, 1001),
	    MM_ST_OK);
	vault_close(v);
	/* Another key under the same (tenant, id) is refused. */
	assert_int_equal(vault_open(dir, f->rcpt, &v), 0);
	buf_free(&out);
	assert_int_equal(keywrap_wrap(f->rcpt, &f->key, &out), 0);
	assert_int_equal(vault_provision(v, out.data, out.len, tenant, id),
	    VIGIL_EEXIST);
	vault_close(v);
	buf_free(&out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* HMAC-SHA256 of "abc" under v's key (tenant, id), into mac. */
static uint32_t
vault_mac(struct vault *v, const char *tenant, const char *id,
    uint8_t mac[32])
{
	struct buf out = BUF_INIT;
	uint32_t st = vault_check(v, tenant, id, MM_OP_HMAC, 1000);

	if (st == MM_ST_OK) {
		assert_int_equal(vault_use(v, tenant, id, MM_OP_HMAC,
		    (const uint8_t *)"abc", 3, &out), 0);
		assert_int_equal(out.len, 32);
		memcpy(mac, out.data, 32);
	}
	buf_free(&out);
	return st;
}

/* Two tenants' keys of one id on one node: both provisioned, each
 * request reaches its own tenant's key material only, also after a
 * restart; a key file of the one-namespace vault (keys/ID.vgkw) still
 * loads, under the tenant its blob names. */
static void
test_vault_keys_are_named_by_tenant_and_id(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/vigil-vault.XXXXXX", id[KEYWRAP_MAX_ID + 1];
	char tenant[KEYWRAP_MAX_ID + 1], cmd[256];
	struct keywrap_key kb = f->key;
	struct vault *v = NULL;
	struct buf blob_b = BUF_INIT;
	uint8_t mac_a[32], mac_b[32], again[32];

	assert_non_null(mkdtemp(dir));
	snprintf(kb.pol.tenant, sizeof(kb.pol.tenant), "tenant-b");
	memset(kb.material, 0x77, 32);
	assert_int_equal(keywrap_wrap(f->rcpt, &kb, &blob_b), 0);
	assert_int_equal(vault_open(dir, f->rcpt, &v), 0);
	assert_int_equal(vault_provision(v, f->blob.data, f->blob.len, tenant,
	    id), 0);
	assert_int_equal(vault_provision(v, blob_b.data, blob_b.len, tenant,
	    id), 0);
	assert_string_equal(tenant, "tenant-b");
	assert_string_equal(id, "k1");
	assert_int_equal(vault_mac(v, "tenant-a", "k1", mac_a), MM_ST_OK);
	assert_int_equal(vault_mac(v, "tenant-b", "k1", mac_b), MM_ST_OK);
	assert_memory_not_equal(mac_a, mac_b, 32);
	vault_close(v);
	/* The one-namespace vault's file name for tenant-a's k1. */
	snprintf(cmd, sizeof(cmd), "mv %s/keys/tenant-a~k1.vgkw "
	    "%s/keys/k1.vgkw", dir, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vault_open(dir, f->rcpt, &v), 0);
	assert_int_equal(vault_mac(v, "tenant-a", "k1", again), MM_ST_OK);
	assert_memory_equal(again, mac_a, 32);
	assert_int_equal(vault_mac(v, "tenant-b", "k1", again), MM_ST_OK);
	assert_memory_equal(again, mac_b, 32);
	assert_int_equal(vault_mac(v, "tenant-c", "k1", again),
	    MM_ST_NOT_FOUND);
	vault_close(v);
	buf_free(&blob_b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_refs_accepts_only_verifier_signed_sets(void **state)
{
	struct fx *f = *state;
	const char *json = "{\"version\": 3, \"regions\": [{\"target\": \"hv\","
	    " \"region\": \"/bin/hv@0x1000\", \"roots\": [\"" 
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	    "\"]}]}";
	struct buf sig = BUF_INIT;
	struct refs *r = NULL;
	const struct refs_region *e;

	assert_int_equal(refs_sign(f->rcpt, (const uint8_t *)json,
	    strlen(json), &sig), 0);
	assert_int_equal(refs_verify_parse((const uint8_t *)json,
	    strlen(json), sig.data, sig.len, f->rcpt, &r), 0);
	assert_int_equal(r->version, 3);
	assert_int_equal(refs_lookup(r, "hv", "/bin/hv@0x1000", &e), 0);
	assert_int_equal(e->roots[0][1], 0x11);
	refs_free(r);
	/* Signed by someone else (e.g. the agent). */
	assert_int_equal(refs_verify_parse((const uint8_t *)json,
	    strlen(json), sig.data, sig.len, f->other, &r), VIGIL_EVERIFY);
	assert_null(r);
	/* One byte changed after signing. */
	{
		char *c = strdup(json);

		c[12] = '4';
		assert_int_equal(refs_verify_parse((const uint8_t *)c,
		    strlen(c), sig.data, sig.len, f->rcpt, &r),
		    VIGIL_EVERIFY);
		free(c);
	}
	buf_free(&sig);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywrap_round_trip),
		cmocka_unit_test(test_keywrap_changed_associated_data_does_not_unwrap),
		cmocka_unit_test(test_keywrap_other_recipient_cannot_unwrap),
		cmocka_unit_test(test_keywrap_truncated_blobs_are_refused),
		cmocka_unit_test(test_keywrap_policy_rules_enforced_at_wrap),
		cmocka_unit_test(test_vault_serves_only_allowed_callers_and_ops),
		cmocka_unit_test(test_vault_keys_are_named_by_tenant_and_id),
		cmocka_unit_test(test_refs_accepts_only_verifier_signed_sets),
	};

	log_init("test_keywrap", LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
