/* appraise_smm: PCR 2's SMM events and the runtime evidence of a push
 * (signed head, chained entries, verdicts, reference sets). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "verifier/appraise_smm.h"

#define N_ENT 4

struct fx {
	EVP_PKEY *log_key, *wrap_key, *other_key;
	struct smm_boot boot;
	struct buf ent[N_ENT];		/* entries 1..N_ENT */
	const uint8_t *ep[N_ENT];
	size_t el[N_ENT];
	uint64_t es[N_ENT];
	uint8_t heads[N_ENT + 1][SMMLOG_HASH_LEN];
	uint8_t nonce[32];
	struct buf head;		/* signed over nonce, at N_ENT */
	uint8_t refs_digest[SMMLOG_HASH_LEN];
};

static void
spki(EVP_PKEY *k, uint8_t *out, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);

	assert_true(n > 0 && (size_t)n <= SMM_MAX_PUB);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
}

static void
measure_entry(struct smmlog_entry *e, uint8_t verdict, const uint32_t *pages,
    uint32_t n, uint8_t rootbyte)
{
	memset(e, 0, sizeof(*e));
	e->kind = SMMLOG_KIND_MEASURE;
	e->u.m.target = "hv";
	e->u.m.target_len = 2;
	e->u.m.region = "/usr/sbin/hv@0x1000";
	e->u.m.region_len = strlen(e->u.m.region);
	e->u.m.size = 8 * 4096;
	memset(e->u.m.root, rootbyte, SMMLOG_HASH_LEN);
	e->u.m.verdict = verdict;
	e->u.m.n_pages = n;
	e->u.m.pages_host = pages;
}

/* Entry i (0-based) = seq i + 1: START, REFS, MEASURE match, KEY_USE. */
static void
fx_entries(struct fx *f, uint8_t last_verdict)
{
	static const uint32_t pages[2] = { 3, 4 };
	struct smmlog_entry e;
	size_t i;

	memset(f->heads[0], 0, SMMLOG_HASH_LEN);
	for (i = 0; i < N_ENT; i++) {
		memset(&e, 0, sizeof(e));
		switch (i) {
		case 0:
			e.kind = SMMLOG_KIND_START;
			e.u.start.boot = 1;
			break;
		case 1:
			e.kind = SMMLOG_KIND_REFS;
			e.u.refs.version = 7;
			memcpy(e.u.refs.digest, f->refs_digest,
			    SMMLOG_HASH_LEN);
			break;
		case 2:
			measure_entry(&e, SMMLOG_VERDICT_MATCH, NULL, 0, 0xaa);
			break;
		default:
			if (last_verdict == SMMLOG_VERDICT_MISMATCH)
				measure_entry(&e, last_verdict, pages, 2,
				    0xbb);
			else
				measure_entry(&e, SMMLOG_VERDICT_MATCH, NULL,
				    0, 0xaa);
			break;
		}
		e.seq = i + 1;
		e.time_ms = 1000 + i;
		f->ent[i].len = 0;
		assert_int_equal(smmlog_entry_encode(&e, &f->ent[i]), 0);
		f->ep[i] = f->ent[i].data;
		f->el[i] = f->ent[i].len;
		f->es[i] = i + 1;
		assert_int_equal(smmlog_chain_next(f->heads[i], f->ent[i].data,
		    f->ent[i].len, f->heads[i + 1]), 0);
	}
	f->head.len = 0;
	assert_int_equal(smmlog_head_sign(f->log_key, f->nonce,
	    sizeof(f->nonce), N_ENT, f->heads[N_ENT], &f->head), 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->log_key = EVP_EC_gen("P-256");
	f->wrap_key = EVP_EC_gen("P-256");
	f->other_key = EVP_EC_gen("P-256");
	assert_non_null(f->log_key);
	assert_non_null(f->wrap_key);
	assert_non_null(f->other_key);
	memset(f->boot.image, 0x11, sizeof(f->boot.image));
	spki(f->log_key, f->boot.log_pub, &f->boot.log_pub_len);
	spki(f->wrap_key, f->boot.wrap_pub, &f->boot.wrap_pub_len);
	f->boot.present = 1;
	f->boot.only = 1;
	memset(f->nonce, 0x5a, sizeof(f->nonce));
	memset(f->refs_digest, 0x77, sizeof(f->refs_digest));
	fx_entries(f, SMMLOG_VERDICT_MATCH);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < N_ENT; i++)
		buf_free(&f->ent[i]);
	buf_free(&f->head);
	EVP_PKEY_free(f->log_key);
	EVP_PKEY_free(f->wrap_key);
	EVP_PKEY_free(f->other_key);
	free(f);
	return 0;
}

static void
fx_in(struct fx *f, struct appraise_smm_in *in, const struct smm_pins *prev)
{
	memset(in, 0, sizeof(*in));
	in->boot = &f->boot;
	in->prev = prev;
	in->nonce = f->nonce;
	in->nonce_len = sizeof(f->nonce);
	in->head = f->head.data;
	in->head_len = f->head.len;
	in->entries = f->ep;
	in->lens = f->el;
	in->seqs = f->es;
	in->n = N_ENT;
	in->issued = (const uint8_t (*)[SMMLOG_HASH_LEN])f->refs_digest;
	in->n_issued = 1;
	in->image_tofu = 1;	/* the tests of smm_images turn it off */
}

static int
has_reason(const struct ear *e, const char *needle)
{
	size_t i;

	for (i = 0; i < e->n_reasons; i++)
		if (strstr(e->reasons[i], needle) != NULL)
			return 1;
	return 0;
}

static void
test_smm_first_push_pins_keys_and_affirms(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_AFFIRMING);
	assert_true(out.changed);
	assert_true(out.next.have);
	assert_int_equal(out.next.seq, N_ENT);
	assert_memory_equal(out.next.head, f->heads[N_ENT], SMMLOG_HASH_LEN);
	assert_int_equal(out.first_new, 0);
	assert_int_equal(out.n_new, N_ENT);
	assert_true(has_reason(&e, "pinned on first use"));
}

static void
test_smm_altered_entry_caught(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	f->ent[2].data[f->ent[2].len - 5] ^= 1;	/* a byte of the root */
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_int_equal(out.n_new, 0);
	assert_int_equal(out.next.seq, 0);
	assert_true(has_reason(&e, "do not end in the signed head"));
}

static void
test_smm_removed_entry_caught(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	/* Entry 2 withheld: the agent sends 1, 3, 4 numbered 1, 2, 3. */
	f->ep[1] = f->ep[2];
	f->el[1] = f->el[2];
	f->ep[2] = f->ep[3];
	f->el[2] = f->el[3];
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.n = N_ENT - 1;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_int_equal(out.n_new, 0);
	assert_true(has_reason(&e, "do not continue the chain"));
}

static void
test_smm_reordered_entries_caught(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;
	const uint8_t *p = f->ep[1];
	size_t l = f->el[1];

	f->ep[1] = f->ep[2];
	f->el[1] = f->el[2];
	f->ep[2] = p;
	f->el[2] = l;
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "do not continue the chain"));
}

static void
test_smm_old_head_replayed_caught(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	uint8_t fresh[32];
	struct ear e;

	memset(fresh, 0x6b, sizeof(fresh));	/* this push's nonce */
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.nonce = fresh;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "replayed or forged"));
	assert_int_equal(out.n_new, 0);
}

static void
test_smm_head_by_other_key_caught(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	f->head.len = 0;
	assert_int_equal(smmlog_head_sign(f->other_key, f->nonce,
	    sizeof(f->nonce), N_ENT, f->heads[N_ENT], &f->head), 0);
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "pinned log-signing key"));
}

static void
test_smm_agent_forged_reference_set_caught(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	uint8_t other[SMMLOG_HASH_LEN];
	struct ear e;

	memset(other, 0x99, sizeof(other));	/* what the verifier signed */
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.issued = (const uint8_t (*)[SMMLOG_HASH_LEN])other;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "was not signed by this verifier"));
}

static void
test_smm_mismatch_names_region_and_pages(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	fx_entries(f, SMMLOG_VERDICT_MISMATCH);
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_int_equal(ear_status(&e), EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&e, "page(s) 3, 4 changed in hypervisor hv "
	    "region /usr/sbin/hv@0x1000"));
	/* The chain itself held: the entries are accepted and the taint
	 * is kept for the next pushes. */
	assert_int_equal(out.next.seq, N_ENT);
	assert_int_equal(out.next.n_taints, 1);
	assert_non_null(strstr(out.next.taints[0].reason, "page(s) 3, 4"));
}

static void
test_smm_taint_persists_without_new_measurement(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out, out2;
	struct smm_pins prev;
	struct ear e;

	fx_entries(f, SMMLOG_VERDICT_MISMATCH);
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	prev = out.next;
	/* Next push: the same head (nothing new), all entries resent. */
	ear_init(&e);
	fx_in(f, &in, &prev);
	assert_int_equal(appraise_smm(&in, &e, &out2), 0);
	assert_int_equal(out2.n_new, 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "page(s) 3, 4"));
}

static void
test_smm_root_outside_reference_set_caught(void **state)
{
	static const char json[] = "{\"version\": 7, \"regions\": [{"
	    "\"target\": \"hv\", \"region\": \"/usr/sbin/hv@0x1000\", "
	    "\"roots\": [\"cccccccccccccccccccccccccccccccccccccccccccccccc"
	    "cccccccccccccccc\"]}]}";
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct refs *refs = NULL;
	struct ear e;

	/* vigil-smmd said match (against its own baseline), but the root is
	 * not one the verifier's reference set accepts. */
	assert_int_equal(refs_parse((const uint8_t *)json, strlen(json),
	    &refs), 0);
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.refs = refs;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "matches no reference value of the "
	    "verifier"));
	refs_free(refs);
}

static void
test_smm_root_in_reference_set_affirms(void **state)
{
	static const char json[] = "{\"version\": 7, \"regions\": [{"
	    "\"target\": \"hv\", \"region\": \"/usr/sbin/hv@0x1000\", "
	    "\"roots\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaa\"]}]}";
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct refs *refs = NULL;
	struct ear e;

	assert_int_equal(refs_parse((const uint8_t *)json, strlen(json),
	    &refs), 0);
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.refs = refs;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_AFFIRMING);
	assert_int_equal(out.next.n_taints, 0);
	refs_free(refs);
}

static void
test_smm_gap_counts_against_node(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct smm_pins prev;
	struct ear e;

	memset(&prev, 0, sizeof(prev));
	prev.have = 1;
	memcpy(prev.image, f->boot.image, SMMLOG_HASH_LEN);
	memcpy(prev.log_pub, f->boot.log_pub, f->boot.log_pub_len);
	prev.log_pub_len = f->boot.log_pub_len;
	memcpy(prev.wrap_pub, f->boot.wrap_pub, f->boot.wrap_pub_len);
	prev.wrap_pub_len = f->boot.wrap_pub_len;
	prev.seq = 1;
	memcpy(prev.head, f->heads[1], SMMLOG_HASH_LEN);
	ear_init(&e);
	fx_in(f, &in, &prev);
	in.entries = f->ep + 2;		/* 3 and 4: entry 2 never sent */
	in.lens = f->el + 2;
	in.seqs = f->es + 2;
	in.n = 2;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "SMM log gap: entries 2..2 missing"));
	assert_int_equal(out.next.gaps, 1);
	assert_int_equal(out.next.seq, 1);
	assert_true(out.changed);
}

static void
test_smm_changed_key_reported(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct smm_pins prev;
	struct ear e;

	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	prev = out.next;
	spki(f->other_key, f->boot.wrap_pub, &f->boot.wrap_pub_len);
	ear_init(&e);
	fx_in(f, &in, &prev);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "key-wrapping key in PCR 23 differs"));
	assert_memory_equal(out.next.wrap_pub, prev.wrap_pub,
	    prev.wrap_pub_len);
}

static void
test_smm_missing_head_is_not_affirming(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	ear_init(&e);
	fx_in(f, &in, NULL);
	in.head = NULL;
	in.head_len = 0;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_WARN_CONFIG);
	assert_int_equal(out.n_new, 0);
}

static void
test_smm_no_service_no_claim(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct ear e;

	f->boot.present = 0;
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.head = NULL;
	in.head_len = 0;
	in.n = 0;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_NONE);
	assert_int_equal(e.n_reasons, 0);
}

/* Entries first_seq .. first_seq + N_ENT - 1, all MEASURE of target hv,
 * entry i of regions[i] with verdicts[i], chained from head, and the
 * head signed over the nonce at the last. */
static void
fx_measures(struct fx *f, uint64_t first_seq, const uint8_t *head,
    const char *const regions[N_ENT], const uint8_t verdicts[N_ENT])
{
	static const uint32_t pages[1] = { 5 };
	struct smmlog_entry e;
	size_t i;

	memcpy(f->heads[0], head, SMMLOG_HASH_LEN);
	for (i = 0; i < N_ENT; i++) {
		measure_entry(&e, verdicts[i], verdicts[i] ==
		    SMMLOG_VERDICT_MISMATCH ? pages : NULL, verdicts[i] ==
		    SMMLOG_VERDICT_MISMATCH ? 1 : 0, 0xaa);
		e.u.m.region = regions[i];
		e.u.m.region_len = strlen(regions[i]);
		e.seq = first_seq + i;
		e.time_ms = 2000 + i;
		f->ent[i].len = 0;
		assert_int_equal(smmlog_entry_encode(&e, &f->ent[i]), 0);
		f->ep[i] = f->ent[i].data;
		f->el[i] = f->ent[i].len;
		f->es[i] = first_seq + i;
		assert_int_equal(smmlog_chain_next(f->heads[i], f->ent[i].data,
		    f->ent[i].len, f->heads[i + 1]), 0);
	}
	f->head.len = 0;
	assert_int_equal(smmlog_head_sign(f->log_key, f->nonce,
	    sizeof(f->nonce), first_seq + N_ENT - 1, f->heads[N_ENT],
	    &f->head), 0);
}

/* Tampering on region A is not forgotten when region B mismatches and
 * then matches again: each region's taint is its own. */
static void
test_smm_taint_of_one_region_survives_another_region_matching(void **state)
{
	static const char *const r1[N_ENT] = { "A", "B", "B", "C" };
	static const uint8_t v1[N_ENT] = { SMMLOG_VERDICT_MISMATCH,
	    SMMLOG_VERDICT_MISMATCH, SMMLOG_VERDICT_MATCH,
	    SMMLOG_VERDICT_MATCH };
	static const char *const r2[N_ENT] = { "C", "B", "A", "C" };
	static const uint8_t v2[N_ENT] = { SMMLOG_VERDICT_MATCH,
	    SMMLOG_VERDICT_MATCH, SMMLOG_VERDICT_MATCH, SMMLOG_VERDICT_MATCH };
	static const uint8_t zero[SMMLOG_HASH_LEN];
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out, out2, out3;
	struct ear e;

	fx_measures(f, 1, zero, r1, v1);
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_int_equal(ear_status(&e), EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&e, "SMM entry 1: page(s) 5 changed in "
	    "hypervisor hv region A (root aaaaaaaaaaaaaaaa...)"));
	assert_false(has_reason(&e, "region B"));
	assert_int_equal(out.next.n_taints, 1);
	assert_string_equal(out.next.taints[0].target, "hv");
	assert_string_equal(out.next.taints[0].region, "A");
	assert_true(out.changed);

	/* The next push: nothing new; A's mismatch still stands. */
	ear_init(&e);
	fx_in(f, &in, &out.next);
	assert_int_equal(appraise_smm(&in, &e, &out2), 0);
	assert_int_equal(out2.n_new, 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "SMM entry 1: page(s) 5 changed in "
	    "hypervisor hv region A"));
	assert_false(out2.changed);

	/* B and C match again; only A matching lifts A's taint. */
	fx_measures(f, N_ENT + 1, out.next.head, r2, v2);
	ear_init(&e);
	fx_in(f, &in, &out2.next);
	assert_int_equal(appraise_smm(&in, &e, &out3), 0);
	assert_int_equal(out3.n_new, N_ENT);
	assert_int_equal(out3.next.n_taints, 0);
	assert_int_equal(e.runtime_opaque, AR_AFFIRMING);
	assert_false(has_reason(&e, "region A"));
	assert_true(out3.changed);
}

/* Regions tainted beyond SMM_MAX_TAINTS are not dropped: the overflow
 * stands and names the last. */
static void
test_smm_taints_over_the_bound_overflow_and_stand(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct smm_pins prev;
	struct ear e;
	static const uint8_t v[N_ENT] = { SMMLOG_VERDICT_MISMATCH,
	    SMMLOG_VERDICT_MATCH, SMMLOG_VERDICT_MATCH,
	    SMMLOG_VERDICT_MATCH };
	static const char *const r[N_ENT] = { "new", "x", "y", "z" };
	size_t i;

	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	prev = out.next;
	for (i = 0; i < SMM_MAX_TAINTS; i++) {
		snprintf(prev.taints[i].target, sizeof(prev.taints[i].target),
		    "hv");
		snprintf(prev.taints[i].region, sizeof(prev.taints[i].region),
		    "r%zu", i);
		snprintf(prev.taints[i].reason, sizeof(prev.taints[i].reason),
		    "region r%zu changed", i);
	}
	prev.n_taints = SMM_MAX_TAINTS;
	fx_measures(f, N_ENT + 1, prev.head, r, v);
	ear_init(&e);
	fx_in(f, &in, &prev);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_int_equal(out.next.n_taints, SMM_MAX_TAINTS);
	assert_non_null(strstr(out.next.overflow, "hypervisor regions "
	    "tainted at once (stands until re-enrolment); the last: SMM "
	    "entry 5: page(s) 5 changed in hypervisor hv region new"));
	assert_true(has_reason(&e, "region r0 changed"));
}

/* ---- the SMM service image against smm_images ---- */

static void
test_smm_image_not_in_smm_images_contraindicates_naming_it(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	uint8_t listed[2][SMMLOG_HASH_LEN];
	struct ear e;

	memset(listed[0], 0x22, SMMLOG_HASH_LEN);
	memset(listed[1], 0x33, SMMLOG_HASH_LEN);
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.images = (const uint8_t (*)[SMMLOG_HASH_LEN])listed;
	in.n_images = 2;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_int_equal(e.executables, AR_CONTRA);
	assert_int_equal(ear_status(&e), EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&e, "SMM service image digest "
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    " in PCR 23 is not among the reference values (smm_images)"));
	/* Nothing pinned, no entry accepted. */
	assert_false(out.next.have);
	assert_int_equal(out.n_new, 0);
}

static void
test_smm_image_in_smm_images_is_pinned_and_affirms(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	uint8_t listed[2][SMMLOG_HASH_LEN];
	struct ear e;

	memset(listed[0], 0x22, SMMLOG_HASH_LEN);
	memset(listed[1], 0x11, SMMLOG_HASH_LEN);
	ear_init(&e);
	fx_in(f, &in, NULL);
	in.images = (const uint8_t (*)[SMMLOG_HASH_LEN])listed;
	in.n_images = 2;
	in.image_tofu = 0;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_AFFIRMING);
	assert_true(out.next.have);
	assert_true(has_reason(&e, "SMM service image and keys pinned on "
	    "first use (image among smm_images)"));
}

/* No smm_images and no opt-in: the image is not trusted on first use,
 * nor (already pinned) later. */
static void
test_smm_image_without_smm_images_needs_the_opt_in(void **state)
{
	struct fx *f = *state;
	struct appraise_smm_in in;
	struct appraise_smm_out out;
	struct smm_pins prev;
	struct ear e;

	ear_init(&e);
	fx_in(f, &in, NULL);
	in.image_tofu = 0;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "SMM service image digest "
	    "1111111111111111111111111111111111111111111111111111111111111111"
	    " in PCR 23 cannot be appraised: the reference values list no "
	    "smm_images and trust on first use is off ([attestation] "
	    "smm_image_tofu)"));
	assert_false(out.next.have);
	/* Opted in: pinned, saying so. */
	ear_init(&e);
	fx_in(f, &in, NULL);
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_AFFIRMING);
	assert_true(has_reason(&e, "(image trusted on first use: "
	    "smm_image_tofu)"));
	prev = out.next;
	/* The opt-in withdrawn: the pin alone does not vouch for it. */
	ear_init(&e);
	fx_in(f, &in, &prev);
	in.image_tofu = 0;
	assert_int_equal(appraise_smm(&in, &e, &out), 0);
	assert_int_equal(e.runtime_opaque, AR_CONTRA);
	assert_true(has_reason(&e, "cannot be appraised"));
}

/* ---- PCR 2 events ---- */

static void
add_tagged(struct buf *log, uint32_t pcr, uint32_t tag, const uint8_t *d,
    size_t n, int bad_digest)
{
	struct buf ev = BUF_INIT;
	uint8_t dg[32];
	unsigned int dl;

	assert_int_equal(buf_add_u32le(&ev, tag), 0);
	assert_int_equal(buf_add_u32le(&ev, (uint32_t)n), 0);
	assert_int_equal(buf_add(&ev, d, n), 0);
	assert_int_equal(EVP_Digest(ev.data, ev.len, dg, &dl, EVP_sha256(),
	    NULL), 1);
	if (bad_digest)
		dg[0] ^= 1;
	assert_int_equal(evlog_write_event(log, pcr, EV_EVENT_TAG, dg,
	    ev.data, (uint32_t)ev.len), 0);
	buf_free(&ev);
}

static void
add_sep(struct buf *log, uint32_t pcr)
{
	static const uint8_t z[4];
	uint8_t dg[32];
	unsigned int dl;

	assert_int_equal(EVP_Digest(z, 4, dg, &dl, EVP_sha256(), NULL), 1);
	assert_int_equal(evlog_write_event(log, pcr, EV_SEPARATOR, dg, z, 4),
	    0);
}

/* Events: 0 image, 1 log key, 2 wrap key; order gives their sequence;
 * bad marks one with a wrong digest (-1: none). */
static int
events_check(struct fx *f, const int *order, size_t n, int bad,
    struct smm_boot *out, char *why)
{
	struct buf log = BUF_INIT;
	struct evlog *ev = NULL;
	size_t i;
	int r;

	assert_int_equal(evlog_write_header(&log), 0);
	for (i = 0; i < n; i++) {
		if (order[i] == 0)
			add_tagged(&log, 23, VIGIL_TAG_SMM_IMAGE, f->boot.image,
			    32, bad == 0);
		else if (order[i] == 1)
			add_tagged(&log, 23, VIGIL_TAG_SMM_LOG_PUB,
			    f->boot.log_pub, f->boot.log_pub_len, bad == 1);
		else
			add_tagged(&log, 23, VIGIL_TAG_SMM_WRAP_PUB,
			    f->boot.wrap_pub, f->boot.wrap_pub_len, bad == 2);
	}
	add_sep(&log, 23);
	assert_int_equal(evlog_parse(log.data, log.len, &ev), 0);
	why[0] = '\0';
	r = appraise_smm_events(ev, out, why, 200);
	evlog_free(ev);
	buf_free(&log);
	return r;
}

static void
test_smm_events_recomputed_in_order(void **state)
{
	static const int order[3] = { 0, 1, 2 };
	struct fx *f = *state;
	struct smm_boot b;
	char why[200];

	assert_int_equal(events_check(f, order, 3, -1, &b, why), 0);
	assert_true(b.present);
	assert_true(b.only);
	assert_memory_equal(b.image, f->boot.image, 32);
	assert_int_equal(b.log_pub_len, f->boot.log_pub_len);
	assert_memory_equal(b.wrap_pub, f->boot.wrap_pub, b.wrap_pub_len);
}

static void
test_smm_events_reject_wrong_digest(void **state)
{
	static const int order[3] = { 0, 1, 2 };
	struct fx *f = *state;
	struct smm_boot b;
	char why[200];

	assert_int_equal(events_check(f, order, 3, 1, &b, why),
	    VIGIL_EVERIFY);
	assert_non_null(strstr(why, "log-signing key event digest"));
}

static void
test_smm_events_reject_duplicate_and_order(void **state)
{
	static const int dup[4] = { 0, 1, 1, 2 };
	static const int swapped[3] = { 0, 2, 1 };
	static const int missing[2] = { 0, 1 };
	struct fx *f = *state;
	struct smm_boot b;
	char why[200];

	assert_int_equal(events_check(f, dup, 4, -1, &b, why),
	    VIGIL_EVERIFY);
	assert_non_null(strstr(why, "more than once"));
	assert_int_equal(events_check(f, swapped, 3, -1, &b, why),
	    VIGIL_EVERIFY);
	assert_non_null(strstr(why, "out of order"));
	assert_int_equal(events_check(f, missing, 2, -1, &b, why),
	    VIGIL_EVERIFY);
	assert_non_null(strstr(why, "key-wrapping key event missing"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_smm_first_push_pins_keys_and_affirms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smm_altered_entry_caught,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_smm_removed_entry_caught,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_reordered_entries_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_old_head_replayed_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_head_by_other_key_caught, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_agent_forged_reference_set_caught, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_mismatch_names_region_and_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_taint_persists_without_new_measurement, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_root_outside_reference_set_caught, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_root_in_reference_set_affirms, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_gap_counts_against_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smm_changed_key_reported,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_missing_head_is_not_affirming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smm_no_service_no_claim,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_taint_of_one_region_survives_another_region_matching,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_taints_over_the_bound_overflow_and_stand, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_image_not_in_smm_images_contraindicates_naming_it,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_image_in_smm_images_is_pinned_and_affirms, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_image_without_smm_images_needs_the_opt_in, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_events_recomputed_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_events_reject_wrong_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smm_events_reject_duplicate_and_order, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
