/* The SMM measurement log (smm-bridge/smmlog.h, logstore.h): entries,
 * the hash chain, the signed head and what the verifier's checks catch:
 * an entry altered, removed or reordered, an old head replayed, a head by
 * another key; the persistent log continues across reopen. */
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
#include "smm-bridge/logstore.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/seal.h"
#include "smm-bridge/smmlog.h"

#define N_ENT 5

struct fx {
	EVP_PKEY *key, *other;
	struct buf spki, other_spki;
	struct buf ent[N_ENT];
	uint8_t head[SMMLOG_HASH_LEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t zero[SMMLOG_HASH_LEN] = { 0 };
	uint32_t pages[2] = { 3, 9 };
	struct smmlog_entry e;
	int i;

	f->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	f->other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_int_equal(seal_spki(f->key, &f->spki), 0);
	assert_int_equal(seal_spki(f->other, &f->other_spki), 0);
	memcpy(f->head, zero, sizeof(zero));
	for (i = 0; i < N_ENT; i++) {
		memset(&e, 0, sizeof(e));
		e.seq = (uint64_t)i + 1;
		e.time_ms = 1700000000000ull + (uint64_t)i;
		if (i % 2 == 0) {
			e.kind = SMMLOG_KIND_MEASURE;
			e.u.m.target = "hv";
			e.u.m.target_len = 2;
			e.u.m.region = "/usr/sbin/hv@0x1000";
			e.u.m.region_len = strlen(e.u.m.region);
			e.u.m.size = 16 * SMMLOG_PAGE;
			memset(e.u.m.root, i, SMMLOG_HASH_LEN);
			e.u.m.verdict = i == 4 ? SMMLOG_VERDICT_MISMATCH :
			    SMMLOG_VERDICT_MATCH;
			e.u.m.n_pages = i == 4 ? 2 : 0;
			e.u.m.pages_host = pages;
		} else {
			e.kind = SMMLOG_KIND_KEY_USE;
			e.u.k.tenant = "tenant-a";
			e.u.k.tenant_len = 8;
			e.u.k.key_id = "k1";
			e.u.k.key_id_len = 2;
			e.u.k.op = MM_OP_SIGN;
			e.u.k.uid = 1000;
			e.u.k.granted = 1;
			e.u.k.status = MM_ST_OK;
			e.u.k.measure_seq = (uint64_t)i;
		}
		assert_int_equal(smmlog_entry_encode(&e, &f->ent[i]), 0);
		assert_int_equal(smmlog_chain_next(f->head, f->ent[i].data,
		    f->ent[i].len, f->head), 0);
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	int i;

	for (i = 0; i < N_ENT; i++)
		buf_free(&f->ent[i]);
	buf_free(&f->spki);
	buf_free(&f->other_spki);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->other);
	free(f);
	return 0;
}

static void
verify(struct fx *f, const struct buf *ents, size_t n, uint64_t *seq,
    uint8_t head[SMMLOG_HASH_LEN], int want)
{
	const uint8_t *p[N_ENT];
	size_t l[N_ENT], i;
	uint8_t zero[SMMLOG_HASH_LEN] = { 0 };

	for (i = 0; i < n; i++) {
		p[i] = ents[i].data;
		l[i] = ents[i].len;
	}
	assert_int_equal(smmlog_verify_entries(0, zero, p, l, n, seq, head),
	    want);
}

static void
test_smmlog_entries_round_trip(void **state)
{
	struct fx *f = *state;
	struct smmlog_entry e;

	assert_int_equal(smmlog_entry_parse(f->ent[4].data, f->ent[4].len,
	    &e), 0);
	assert_int_equal(e.kind, SMMLOG_KIND_MEASURE);
	assert_int_equal(e.seq, 5);
	assert_int_equal(e.u.m.verdict, SMMLOG_VERDICT_MISMATCH);
	assert_int_equal(e.u.m.n_pages, 2);
	assert_int_equal(smmlog_entry_page(&e, 0), 3);
	assert_int_equal(smmlog_entry_page(&e, 1), 9);
	assert_int_equal(e.u.m.region_len, strlen("/usr/sbin/hv@0x1000"));
	assert_int_equal(smmlog_entry_parse(f->ent[1].data, f->ent[1].len,
	    &e), 0);
	assert_int_equal(e.kind, SMMLOG_KIND_KEY_USE);
	assert_int_equal(e.version, SMMLOG_VERSION);
	assert_int_equal(e.u.k.tenant_len, 8);
	assert_memory_equal(e.u.k.tenant, "tenant-a", 8);
	assert_int_equal(e.u.k.key_id_len, 2);
	assert_memory_equal(e.u.k.key_id, "k1", 2);
	assert_int_equal(e.u.k.uid, 1000);
	assert_int_equal(e.u.k.granted, 1);
}

/* The header and a KEY_USE body by hand: version ver, tenant (omitted
 * when NULL, as version 1 has none), key id. */
static void
key_use_bytes(struct buf *b, uint8_t ver, const char *tenant, size_t tlen,
    const char *id)
{
	assert_int_equal(buf_add_u8(b, ver), 0);
	assert_int_equal(buf_add_u8(b, SMMLOG_KIND_KEY_USE), 0);
	assert_int_equal(buf_add_u64le(b, 7), 0);
	assert_int_equal(buf_add_u64le(b, 1700000000000ull), 0);
	if (tenant != NULL) {
		assert_int_equal(buf_add_u8(b, (uint8_t)tlen), 0);
		if (tlen > 0)
			assert_int_equal(buf_add(b, tenant, tlen), 0);
	}
	assert_int_equal(buf_add_u8(b, (uint8_t)strlen(id)), 0);
	assert_int_equal(buf_add(b, id, strlen(id)), 0);
	assert_int_equal(buf_add_u8(b, MM_OP_HMAC), 0);
	assert_int_equal(buf_add_u32le(b, 1000), 0);
	assert_int_equal(buf_add_u8(b, 0), 0);		/* refused */
	assert_int_equal(buf_add_u8(b, MM_ST_TAMPERED), 0);
	assert_int_equal(buf_add_u64le(b, 6), 0);
}

static void
test_smmlog_key_use_v2_layout_names_tenant_then_key(void **state)
{
	struct buf b = BUF_INIT, enc = BUF_INIT;
	struct smmlog_entry e = { .kind = SMMLOG_KIND_KEY_USE, .seq = 7,
	    .time_ms = 1700000000000ull };

	(void)state;
	e.u.k.tenant = "acme";
	e.u.k.tenant_len = 4;
	e.u.k.key_id = "k1";
	e.u.k.key_id_len = 2;
	e.u.k.op = MM_OP_HMAC;
	e.u.k.uid = 1000;
	e.u.k.status = MM_ST_TAMPERED;
	e.u.k.measure_seq = 6;
	assert_int_equal(smmlog_entry_encode(&e, &enc), 0);
	key_use_bytes(&b, 2, "acme", 4, "k1");
	assert_int_equal(enc.len, b.len);
	assert_memory_equal(enc.data, b.data, b.len);
	/* Encoding writes version 2 only: a KEY_USE needs its tenant. */
	e.u.k.tenant = NULL;
	e.u.k.tenant_len = 0;
	enc.len = 0;
	assert_int_equal(smmlog_entry_encode(&e, &enc), VIGIL_EINVAL);
	assert_int_equal(enc.len, 0);
	buf_free(&b);
	buf_free(&enc);
}

static void
test_smmlog_key_use_v1_parses_without_tenant(void **state)
{
	struct buf b = BUF_INIT;
	struct smmlog_entry e;

	(void)state;
	key_use_bytes(&b, 1, NULL, 0, "k1");
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), 0);
	assert_int_equal(e.version, SMMLOG_VERSION_V1);
	assert_int_equal(e.u.k.tenant_len, 0);
	assert_null(e.u.k.tenant);
	assert_memory_equal(e.u.k.key_id, "k1", 2);
	assert_int_equal(e.u.k.status, MM_ST_TAMPERED);
	/* Version 1 bytes labelled version 2 are not a version-2 entry
	 * (the key id's length is read as a tenant, and the rest shifts). */
	b.data[0] = 2;
	assert_int_not_equal(smmlog_entry_parse(b.data, b.len, &e), 0);
	b.data[0] = 3;
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), VIGIL_EINVAL);
	buf_free(&b);
}

static void
test_smmlog_key_use_v2_refuses_a_bad_tenant(void **state)
{
	static const char long_name[66] =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct buf b = BUF_INIT;
	struct smmlog_entry e;

	(void)state;
	key_use_bytes(&b, 2, "", 0, "k1");		/* empty */
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), VIGIL_EINVAL);
	b.len = 0;
	key_use_bytes(&b, 2, long_name, 65, "k1");	/* over 64 */
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), VIGIL_EINVAL);
	b.len = 0;
	key_use_bytes(&b, 2, "ac/me", 5, "k1");		/* not the alphabet */
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), VIGIL_EINVAL);
	b.len = 0;
	key_use_bytes(&b, 2, "acme", 4, "k 1");		/* nor in the key id */
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), VIGIL_EINVAL);
	b.len = 0;
	key_use_bytes(&b, 2, "acme", 4, "k1");
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), 0);
	buf_free(&b);
}

static void
test_smmlog_entry_parse_rejects_every_truncation_and_trailer(void **state)
{
	struct fx *f = *state;
	struct smmlog_entry e;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < f->ent[4].len; i++)
		assert_int_not_equal(smmlog_entry_parse(f->ent[4].data, i, &e),
		    0);
	assert_int_equal(buf_add(&b, f->ent[4].data, f->ent[4].len), 0);
	assert_int_equal(buf_add_u8(&b, 0), 0);
	assert_int_equal(smmlog_entry_parse(b.data, b.len, &e), VIGIL_EINVAL);
	buf_free(&b);
}

static void
test_smmlog_chain_verifies_untouched_entries(void **state)
{
	struct fx *f = *state;
	uint8_t head[SMMLOG_HASH_LEN];
	uint64_t seq;

	verify(f, f->ent, N_ENT, &seq, head, 0);
	assert_int_equal(seq, N_ENT);
	assert_memory_equal(head, f->head, SMMLOG_HASH_LEN);
}

static void
test_smmlog_altered_entry_changes_the_head(void **state)
{
	struct fx *f = *state;
	uint8_t head[SMMLOG_HASH_LEN];
	uint64_t seq;
	struct smmlog_entry e;

	/* A changed root still parses but chains to another head. */
	f->ent[2].data[f->ent[2].len - 10] ^= 0x01;
	assert_int_equal(smmlog_entry_parse(f->ent[2].data, f->ent[2].len,
	    &e), 0);
	verify(f, f->ent, N_ENT, &seq, head, 0);
	assert_memory_not_equal(head, f->head, SMMLOG_HASH_LEN);
	f->ent[2].data[f->ent[2].len - 10] ^= 0x01;
}

static void
test_smmlog_removed_entry_is_a_gap(void **state)
{
	struct fx *f = *state;
	struct buf ents[N_ENT];
	uint8_t head[SMMLOG_HASH_LEN];
	uint64_t seq;

	ents[0] = f->ent[0];
	ents[1] = f->ent[2];	/* entry 2 withheld */
	verify(f, ents, 2, &seq, head, VIGIL_EVERIFY);
}

static void
test_smmlog_reordered_entries_fail(void **state)
{
	struct fx *f = *state;
	struct buf ents[N_ENT];
	uint8_t head[SMMLOG_HASH_LEN];
	uint64_t seq;

	ents[0] = f->ent[1];
	ents[1] = f->ent[0];
	verify(f, ents, 2, &seq, head, VIGIL_EVERIFY);
}

static void
test_smmlog_signed_head_verifies_for_its_nonce(void **state)
{
	struct fx *f = *state;
	struct buf h = BUF_INIT;
	uint8_t nonce[20], head[SMMLOG_HASH_LEN];
	uint64_t seq = 0;

	memset(nonce, 7, sizeof(nonce));
	assert_int_equal(smmlog_head_sign(f->key, nonce, sizeof(nonce), N_ENT,
	    f->head, &h), 0);
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->spki.data,
	    f->spki.len, nonce, sizeof(nonce), &seq, head), 0);
	assert_int_equal(seq, N_ENT);
	assert_memory_equal(head, f->head, SMMLOG_HASH_LEN);
	buf_free(&h);
}

static void
test_smmlog_old_head_replayed_for_new_nonce_fails(void **state)
{
	struct fx *f = *state;
	struct buf h = BUF_INIT;
	uint8_t old[16], fresh[16], head[SMMLOG_HASH_LEN];
	uint64_t seq;

	memset(old, 1, sizeof(old));
	memset(fresh, 2, sizeof(fresh));
	assert_int_equal(smmlog_head_sign(f->key, old, sizeof(old), 3,
	    f->head, &h), 0);
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->spki.data,
	    f->spki.len, fresh, sizeof(fresh), &seq, head), VIGIL_EVERIFY);
	buf_free(&h);
}

static void
test_smmlog_head_signed_by_another_key_fails(void **state)
{
	struct fx *f = *state;
	struct buf h = BUF_INIT;
	uint8_t nonce[16], head[SMMLOG_HASH_LEN];
	uint64_t seq;

	memset(nonce, 3, sizeof(nonce));
	assert_int_equal(smmlog_head_sign(f->other, nonce, sizeof(nonce),
	    N_ENT, f->head, &h), 0);
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->spki.data,
	    f->spki.len, nonce, sizeof(nonce), &seq, head), VIGIL_EVERIFY);
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->other_spki.data,
	    f->other_spki.len, nonce, sizeof(nonce), &seq, head), 0);
	buf_free(&h);
}

static void
test_smmlog_head_with_changed_seq_or_head_fails(void **state)
{
	struct fx *f = *state;
	struct buf h = BUF_INIT;
	uint8_t nonce[16], head[SMMLOG_HASH_LEN];
	uint64_t seq;
	size_t off_seq = 2 + sizeof(nonce);

	memset(nonce, 4, sizeof(nonce));
	assert_int_equal(smmlog_head_sign(f->key, nonce, sizeof(nonce), N_ENT,
	    f->head, &h), 0);
	h.data[off_seq] ^= 1;		/* last_seq */
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->spki.data,
	    f->spki.len, nonce, sizeof(nonce), &seq, head), VIGIL_EVERIFY);
	h.data[off_seq] ^= 1;
	h.data[off_seq + 8] ^= 1;	/* chain head */
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->spki.data,
	    f->spki.len, nonce, sizeof(nonce), &seq, head), VIGIL_EVERIFY);
	h.len -= 1;
	assert_int_equal(smmlog_verify_head(h.data, h.len, f->spki.data,
	    f->spki.len, nonce, sizeof(nonce), &seq, head), VIGIL_ETRUNC);
	buf_free(&h);
}

static void
test_smmlog_merkle_root_of_known_layout(void **state)
{
	uint8_t page[SMMLOG_PAGE], l[3][SMMLOG_HASH_LEN], r[SMMLOG_HASH_LEN];
	uint8_t pair[65], n01[SMMLOG_HASH_LEN], want[SMMLOG_HASH_LEN];
	unsigned int dl;

	memset(page, 0x41, sizeof(page));
	smmlog_leaf(page, sizeof(page), l[0]);
	smmlog_leaf(page, 10, l[1]);		/* zero-padded */
	memset(page + 10, 0, sizeof(page) - 10);
	smmlog_leaf(page, sizeof(page), l[2]);
	assert_memory_equal(l[1], l[2], SMMLOG_HASH_LEN);
	/* root(3 leaves) = H(1 || H(1 || l0 || l1) || l2) */
	pair[0] = 1;
	memcpy(pair + 1, l[0], 32);
	memcpy(pair + 33, l[1], 32);
	EVP_Digest(pair, 65, n01, &dl, EVP_sha256(), NULL);
	memcpy(pair + 1, n01, 32);
	memcpy(pair + 33, l[2], 32);
	EVP_Digest(pair, 65, want, &dl, EVP_sha256(), NULL);
	assert_int_equal(smmlog_merkle_root((const uint8_t (*)[32])l, 3, r),
	    0);
	assert_memory_equal(r, want, SMMLOG_HASH_LEN);
	assert_int_equal(smmlog_merkle_root((const uint8_t (*)[32])l, 1, r),
	    0);
	assert_memory_equal(r, l[0], SMMLOG_HASH_LEN);
}

static void
test_smmlog_store_continues_chain_after_reopen(void **state)
{
	char dir[] = "/tmp/vigil-smmlog.XXXXXX", path[256];
	struct logstore *ls = NULL;
	struct smmlog_entry e = { .kind = SMMLOG_KIND_START };
	struct buf rd = BUF_INIT;
	uint8_t h1[SMMLOG_HASH_LEN], h2[SMMLOG_HASH_LEN];
	uint64_t seq, s2;
	uint32_t n;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(logstore_open(dir, &ls), 0);
	e.u.start.boot = 1;
	assert_int_equal(logstore_append(ls, &e, &seq), 0);
	assert_int_equal(logstore_append(ls, &e, &seq), 0);
	assert_int_equal(seq, 2);
	logstore_head(ls, &seq, h1);
	logstore_close(ls);
	/* A torn record at the end (crash mid-append) is cut off. */
	snprintf(path, sizeof(path), "%s/smm.log", dir);
	fp = fopen(path, "ab");
	assert_non_null(fp);
	fwrite("\x40\x00\x00\x00\x01", 1, 5, fp);
	fclose(fp);
	assert_int_equal(logstore_open(dir, &ls), 0);
	logstore_head(ls, &s2, h2);
	assert_int_equal(s2, 2);
	assert_memory_equal(h1, h2, SMMLOG_HASH_LEN);
	assert_int_equal(logstore_append(ls, &e, &seq), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(logstore_read(ls, 2, 10, &rd, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(logstore_read(ls, 4, 10, &rd, &n), 0);
	assert_int_equal(n, 0);
	logstore_close(ls);
	/* A head file ahead of the log: entries were lost. */
	snprintf(path, sizeof(path), "%s/smm.log", dir);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(logstore_open(dir, &ls), VIGIL_EVERIFY);
	snprintf(path, sizeof(path), "%s/smm.head", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/smm.log", dir);
	unlink(path);
	rmdir(dir);
	buf_free(&rd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smmlog_entries_round_trip),
		cmocka_unit_test(test_smmlog_key_use_v2_layout_names_tenant_then_key),
		cmocka_unit_test(test_smmlog_key_use_v1_parses_without_tenant),
		cmocka_unit_test(test_smmlog_key_use_v2_refuses_a_bad_tenant),
		cmocka_unit_test(test_smmlog_entry_parse_rejects_every_truncation_and_trailer),
		cmocka_unit_test(test_smmlog_chain_verifies_untouched_entries),
		cmocka_unit_test(test_smmlog_altered_entry_changes_the_head),
		cmocka_unit_test(test_smmlog_removed_entry_is_a_gap),
		cmocka_unit_test(test_smmlog_reordered_entries_fail),
		cmocka_unit_test(test_smmlog_signed_head_verifies_for_its_nonce),
		cmocka_unit_test(test_smmlog_old_head_replayed_for_new_nonce_fails),
		cmocka_unit_test(test_smmlog_head_signed_by_another_key_fails),
		cmocka_unit_test(test_smmlog_head_with_changed_seq_or_head_fails),
		cmocka_unit_test(test_smmlog_merkle_root_of_known_layout),
		cmocka_unit_test(test_smmlog_store_continues_chain_after_reopen),
	};

	log_init("test_smmlog", LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
