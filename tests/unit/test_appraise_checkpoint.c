/* Appraisal of checkpoint evidence with software-quote (swquote) made
 * checkpoint quotes: each check of appraise_checkpoint.h, valid and not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "verifier/appraise_checkpoint.h"
#include "verifier/store.h"
#include "verifier/store_comp.h"
#include "vigil.pb-c.h"

#define COMP_ID "00112233445566778899aabbccddeeff"

struct fx {
	struct swquote *sq, *other;
	struct agent_rec agent;
	uint8_t akbuf[512];
	struct comp_rec comp;
	uint8_t state[32], cum[32];
	Vigil__Checkpoint cp;
	struct buf attest, sig;
	/* the quote history seen by the window callback */
	int have_lo, have_hi;
	struct qh_row lo, hi;
};

static int
window(void *ctx, const char *agent_id, uint32_t reset_count,
    uint32_t restart_count, uint64_t clock, struct qh_row *lo, int *have_lo,
    struct qh_row *hi, int *have_hi)
{
	struct fx *f = ctx;

	(void)agent_id;
	(void)reset_count;
	(void)restart_count;
	(void)clock;
	*lo = f->lo;
	*hi = f->hi;
	*have_lo = f->have_lo;
	*have_hi = f->have_hi;
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	TPM2B_PUBLIC pub;
	size_t len = 0;

	if (f == NULL || swquote_new(&f->sq) != 0 ||
	    swquote_new(&f->other) != 0 || swquote_ak_public(f->sq, &pub) !=
	    0 || tpm_public_marshal(&pub, f->akbuf, sizeof(f->akbuf), &len) !=
	    0)
		return -1;
	snprintf(f->agent.id, sizeof(f->agent.id), "%064d", 5);
	f->agent.ak_pub = f->akbuf;
	f->agent.ak_pub_len = len;
	snprintf(f->comp.id, sizeof(f->comp.id), COMP_ID);
	memset(f->comp.recipe_sha256, 0x42, 32);
	ckpt_c0(f->comp.recipe_sha256, f->comp.c0);
	memset(f->state, 0x17, 32);
	ckpt_next(f->comp.c0, f->state, f->cum);
	/* A fresh affirming window around every clock. */
	f->have_lo = f->have_hi = 1;
	f->lo.clock = 1000;
	f->hi.clock = 5000;
	snprintf(f->lo.status, sizeof(f->lo.status), "affirming");
	snprintf(f->hi.status, sizeof(f->hi.status), "affirming");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	swquote_free(f->sq);
	swquote_free(f->other);
	buf_free(&f->attest);
	buf_free(&f->sig);
	free(f);
	return 0;
}

/* A checkpoint record for index idx signed by sq, with extraData xd (or
 * the proper commitment when NULL). */
static void
make_cp(struct fx *f, struct swquote *sq, uint64_t idx, const uint8_t *xd)
{
	struct pcrs vals;
	uint8_t commit[32];

	memset(&vals, 0, sizeof(vals));
	vals.mask = PCR_POLICY_MASK;
	ckpt_commitment(COMP_ID, idx, f->state, f->cum, commit);
	buf_free(&f->attest);
	buf_free(&f->sig);
	assert_int_equal(swquote_make(sq, xd ? xd : commit, 32, &vals,
	    PCR_POLICY_MASK, 3000, 1, 0, 1, &f->attest, &f->sig), 0);
	vigil__checkpoint__init(&f->cp);
	f->cp.computation_id = COMP_ID;
	f->cp.index = idx;
	f->cp.state.data = f->state;
	f->cp.state.len = 32;
	f->cp.cumulative.data = f->cum;
	f->cp.cumulative.len = 32;
	f->cp.quote.data = f->attest.data;
	f->cp.quote.len = f->attest.len;
	f->cp.signature.data = f->sig.data;
	f->cp.signature.len = f->sig.len;
}

static int
run(struct fx *f, const uint8_t *prev, struct ckpt_row *out)
{
	struct ackpt_in in;

	memset(&in, 0, sizeof(in));
	in.agent = &f->agent;
	in.cp = &f->cp;
	in.comp = &f->comp;
	in.prev_cum = prev;
	in.max_gap_ms = 30000;
	in.window = window;
	in.window_ctx = f;
	in.now = 1700000000;
	return appraise_checkpoint(&in, out);
}

static void
test_ackpt_valid_checkpoint_is_valid(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	if (r.verdict != CKPT_VALID)
		fail_msg("verdict %s: %s", ckpt_verdict_name(r.verdict),
		    r.reason);
	assert_int_equal(r.idx, 1);
	assert_int_equal(r.commitment_ok, 1);
	assert_int_equal(r.clock, 3000);
	assert_int_equal(r.reset_count, 1);
	assert_memory_equal(r.cum, f->cum, 32);
}

static void
test_ackpt_rejects_quote_by_another_key(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	make_cp(f, f->other, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "checkpoint signature"));
}

static void
test_ackpt_rejects_extra_data_that_is_not_the_commitment(void **state)
{
	struct fx *f = *state;
	uint8_t wrong[32];
	struct ckpt_row r;

	memset(wrong, 0xee, sizeof(wrong));
	make_cp(f, f->sq, 1, wrong);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "checkpoint commitment"));
	assert_int_equal(r.commitment_ok, 0);
}

static void
test_ackpt_rejects_record_edited_after_quoting(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	make_cp(f, f->sq, 1, NULL);
	f->state[0] ^= 1;	/* the record no longer matches its quote */
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "checkpoint commitment"));
}

static void
test_ackpt_rejects_chain_break(void **state)
{
	struct fx *f = *state;
	uint8_t prev[32];
	struct ckpt_row r;

	/* C_2 was chained from something other than the recorded C_1. */
	memset(prev, 0x99, sizeof(prev));
	ckpt_next(prev, f->state, f->cum);
	make_cp(f, f->sq, 2, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "checkpoint chain: C_2"));
}

static void
test_ackpt_rejects_checkpoint_claiming_another_recipe(void **state)
{
	struct fx *f = *state;
	uint8_t other_recipe[32], other_c0[32];
	struct ckpt_row r;

	memset(other_recipe, 0x43, sizeof(other_recipe));
	ckpt_c0(other_recipe, other_c0);
	ckpt_next(other_c0, f->state, f->cum);
	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "C_0 of this computation's recipe"));
}

static void
test_ackpt_flags_missing_previous_index(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	make_cp(f, f->sq, 3, NULL);
	assert_int_equal(run(f, NULL, &r), 0);
	assert_int_equal(r.verdict, CKPT_FLAGGED);
	assert_non_null(strstr(r.reason, "2 is missing"));
}

static void
test_ackpt_rejects_unknown_computation(void **state)
{
	struct fx *f = *state;
	struct ackpt_in in;
	struct ckpt_row r;

	make_cp(f, f->sq, 1, NULL);
	memset(&in, 0, sizeof(in));
	in.agent = &f->agent;
	in.cp = &f->cp;
	in.comp = NULL;
	assert_int_equal(appraise_checkpoint(&in, &r), VIGIL_ENOTFOUND);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "unknown computation"));
}

static void
test_ackpt_rejects_checkpoint_from_another_node(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	snprintf(f->comp.agent_id, sizeof(f->comp.agent_id), "%064d", 6);
	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_REJECTED);
	assert_non_null(strstr(r.reason, "checkpoint node"));
}

static void
test_ackpt_flags_clock_while_node_contraindicated(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	snprintf(f->hi.status, sizeof(f->hi.status), "contraindicated");
	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_FLAGGED);
	assert_non_null(strstr(r.reason, "while the node was contraindicated"));
}

static void
test_ackpt_flags_clock_in_a_stale_window(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	f->hi.clock = 1000 + 30001;
	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_FLAGGED);
	assert_non_null(strstr(r.reason, "stale"));
}

static void
test_ackpt_flags_clock_without_an_earlier_quote_in_its_epoch(void **state)
{
	struct fx *f = *state;
	struct ckpt_row r;

	f->have_lo = 0;
	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_FLAGGED);
	assert_non_null(strstr(r.reason, "no accepted quote before"));
}

/* ---- the store's side: quote-history windows and the end's status ---- */

struct sfx {
	char dir[64], path[128];
	struct store *s;
};

static struct store *
sopen(struct sfx *x)
{
	snprintf(x->dir, sizeof(x->dir), "/tmp/vigil-ackpt.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->path, sizeof(x->path), "%s/v.db", x->dir);
	assert_int_equal(store_open(x->path, &x->s), 0);
	return x->s;
}

static void
sclose(struct sfx *x)
{
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm" };
	size_t i;

	store_close(x->s);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", x->path, sfx[i]);
		unlink(p);
	}
	rmdir(x->dir);
}

static void
test_ackpt_store_window_brackets_clock_within_its_epoch_for_30_days(void **state)
{
	struct sfx x;
	struct store *s = sopen(&x);
	struct agent_rec a;
	struct qh_row lo, hi;
	int hl, hh;

	(void)state;
	memset(&a, 0, sizeof(a));
	snprintf(a.id, sizeof(a.id), "%064d", 1);
	snprintf(a.hostname, sizeof(a.hostname), "n1");
	a.ek_pub = (uint8_t *)"ek";
	a.ek_pub_len = 2;
	a.ak_pub = (uint8_t *)"ak";
	a.ak_pub_len = 2;
	a.ak_name_len = 2;
	assert_int_equal(store_agent_register(s, &a, NULL), 0);
	assert_int_equal(store_qh_add(s, a.id, 1, 0, 1000, "affirming", 1), 0);
	assert_int_equal(store_qh_add(s, a.id, 1, 0, 2000, "contraindicated",
	    2), 0);
	assert_int_equal(store_qh_add(s, a.id, 1, 0, 3000, "affirming", 3), 0);
	assert_int_equal(store_qh_add(s, a.id, 2, 0, 1500, "affirming", 4), 0);
	assert_int_equal(store_qh_window(s, a.id, 1, 0, 2500, &lo, &hl, &hi,
	    &hh), 0);
	assert_true(hl && hh);
	assert_int_equal(lo.clock, 2000);
	assert_string_equal(lo.status, "contraindicated");
	assert_int_equal(hi.clock, 3000);
	/* Another epoch's quote does not count. */
	assert_int_equal(store_qh_window(s, a.id, 2, 0, 1200, &lo, &hl, &hi,
	    &hh), 0);
	assert_false(hl);
	assert_true(hh);
	assert_int_equal(hi.clock, 1500);
	/* Rows older than 30 days go as new ones arrive: the one at 1. */
	assert_int_equal(store_qh_window(s, a.id, 1, 0, 1500, &lo, &hl, &hi,
	    &hh), 0);
	assert_true(hl);
	assert_int_equal(store_qh_add(s, a.id, 1, 0, 9000, "affirming",
	    30 * 86400 + 2), 0);
	assert_int_equal(store_qh_window(s, a.id, 1, 0, 1500, &lo, &hl, &hi,
	    &hh), 0);
	assert_false(hl);
	assert_true(hh);
	assert_int_equal(hi.clock, 2000);
	sclose(&x);
}

static void
add_ckpt(struct store *s, const char *id, uint64_t idx,
    const uint8_t prev[32], uint8_t cum[32], enum ckpt_verdict v)
{
	struct ckpt_row r;
	int added = 0;

	memset(&r, 0, sizeof(r));
	r.idx = idx;
	snprintf(r.agent_id, sizeof(r.agent_id), "node");
	memset(r.state, (int)idx, 32);
	ckpt_next(prev, r.state, r.cum);
	memcpy(cum, r.cum, 32);
	r.verdict = v;
	assert_int_equal(store_ckpt_add(s, id, &r, &added), 0);
	assert_int_equal(added, 1);
	assert_int_equal(store_ckpt_add(s, id, &r, &added), 0);
	assert_int_equal(added, 0);
}

static void
test_ackpt_store_end_sets_complete_or_invalid(void **state)
{
	struct sfx x;
	struct store *s = sopen(&x);
	struct comp_rec c, got;
	uint8_t c1[32], c2[32], d1[32], d2[32];
	char st[16];

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.tenant, sizeof(c.tenant), "acme");
	c.recipe_json = "{}";
	snprintf(c.id, sizeof(c.id), "%032d", 1);
	assert_int_equal(store_comp_add(s, &c), 0);
	assert_int_equal(store_comp_add(s, &c), VIGIL_EEXIST);
	snprintf(c.id, sizeof(c.id), "%032d", 2);
	assert_int_equal(store_comp_add(s, &c), 0);
	/* all valid, count and final agree: complete */
	add_ckpt(s, "00000000000000000000000000000001", 1, c.c0, c1,
	    CKPT_VALID);
	add_ckpt(s, "00000000000000000000000000000001", 2, c1, c2, CKPT_VALID);
	assert_int_equal(store_comp_end(s, "00000000000000000000000000000001",
	    "node", 0, 2, c2, st), 0);
	assert_string_equal(st, "complete");
	assert_int_equal(store_comp_get(s, "00000000000000000000000000000001",
	    &got), 0);
	assert_string_equal(got.agent_id, "node");
	assert_int_equal(got.count, 2);
	assert_true(got.has_end);
	comp_rec_clear(&got);
	/* a flagged checkpoint: invalid, with the reason */
	add_ckpt(s, "00000000000000000000000000000002", 1, c.c0, d1,
	    CKPT_FLAGGED);
	add_ckpt(s, "00000000000000000000000000000002", 2, d1, d2, CKPT_VALID);
	assert_int_equal(store_comp_end(s, "00000000000000000000000000000002",
	    "node", 0, 2, d2, st), 0);
	assert_string_equal(st, "invalid");
	assert_int_equal(store_comp_get(s, "00000000000000000000000000000002",
	    &got), 0);
	assert_non_null(strstr(got.reason, "failed their checks"));
	comp_rec_clear(&got);
	/* an end for an unknown computation */
	assert_int_equal(store_comp_end(s, "00000000000000000000000000000003",
	    "node", 0, 0, d2, st), VIGIL_ENOTFOUND);
	sclose(&x);
}

static void
test_ackpt_store_end_with_wrong_count_is_invalid(void **state)
{
	struct sfx x;
	struct store *s = sopen(&x);
	struct comp_rec c;
	uint8_t c1[32];
	char st[16];

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.tenant, sizeof(c.tenant), "acme");
	c.recipe_json = "{}";
	snprintf(c.id, sizeof(c.id), "%032d", 4);
	assert_int_equal(store_comp_add(s, &c), 0);
	add_ckpt(s, c.id, 1, c.c0, c1, CKPT_VALID);
	assert_int_equal(store_comp_end(s, c.id, "node", 0, 3, c1, st), 0);
	assert_string_equal(st, "invalid");
	sclose(&x);
}

static void
test_ackpt_store_unverified_row_gives_way_to_verified_one(void **state)
{
	struct sfx x;
	struct store *s = sopen(&x);
	struct comp_rec c, got;
	struct ckpt_row r, back;
	int added = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.tenant, sizeof(c.tenant), "acme");
	c.recipe_json = "{}";
	snprintf(c.id, sizeof(c.id), "%032d", 5);
	assert_int_equal(store_comp_add(s, &c), 0);
	memset(&r, 0, sizeof(r));
	r.idx = 1;
	snprintf(r.agent_id, sizeof(r.agent_id), "intruder");
	r.verdict = CKPT_REJECTED;
	snprintf(r.reason, sizeof(r.reason), "checkpoint signature: bad");
	assert_int_equal(store_ckpt_add(s, c.id, &r, &added), 0);
	assert_int_equal(added, 1);
	/* an unverified row names no node */
	assert_int_equal(store_comp_get(s, c.id, &got), 0);
	assert_string_equal(got.agent_id, "");
	comp_rec_clear(&got);
	/* the node's verified checkpoint takes the index */
	snprintf(r.agent_id, sizeof(r.agent_id), "node");
	r.commitment_ok = 1;
	r.verdict = CKPT_VALID;
	r.reason[0] = '\0';
	assert_int_equal(store_ckpt_add(s, c.id, &r, &added), 0);
	assert_int_equal(added, 1);
	assert_int_equal(store_ckpt_get(s, c.id, 1, &back), 0);
	assert_int_equal(back.verdict, CKPT_VALID);
	assert_string_equal(back.agent_id, "node");
	assert_int_equal(store_comp_get(s, c.id, &got), 0);
	assert_string_equal(got.agent_id, "node");
	comp_rec_clear(&got);
	/* and keeps it */
	snprintf(r.agent_id, sizeof(r.agent_id), "other");
	assert_int_equal(store_ckpt_add(s, c.id, &r, &added), 0);
	assert_int_equal(added, 0);
	sclose(&x);
}

static void
test_ackpt_clock_after_latest_quote_waits_for_the_next_one(void **state)
{
	struct fx *f = *state;
	struct ackpt_in in;
	struct ckpt_row r;

	f->have_hi = 0;
	make_cp(f, f->sq, 1, NULL);
	assert_int_equal(run(f, f->comp.c0, &r), 0);
	assert_int_equal(r.verdict, CKPT_FLAGGED);
	assert_int_equal(r.pending, 1);
	assert_non_null(strstr(r.reason, "no accepted quote after it yet"));
	/* the next affirming quote settles it */
	memset(&in, 0, sizeof(in));
	in.agent = &f->agent;
	in.max_gap_ms = 30000;
	in.window = window;
	in.window_ctx = f;
	f->have_hi = 1;
	assert_int_equal(appraise_checkpoint_recheck(&in, &r), 0);
	assert_int_equal(r.verdict, CKPT_VALID);
	assert_int_equal(r.pending, 0);
	assert_string_equal(r.reason, "");
	/* still none after it (the node rebooted): final */
	f->have_hi = 0;
	r.pending = 1;
	assert_int_equal(appraise_checkpoint_recheck(&in, &r), 0);
	assert_int_equal(r.verdict, CKPT_FLAGGED);
	assert_int_equal(r.pending, 0);
	assert_non_null(strstr(r.reason, "no accepted quote after it in the "
	    "same epoch"));
}

static void
test_ackpt_store_pending_checkpoint_holds_the_status_until_resolved(
    void **state)
{
	struct sfx x;
	struct store *s = sopen(&x);
	struct ckpt_pending *p = NULL;
	struct comp_rec c, got;
	struct ckpt_row r;
	size_t n = 0;
	char st[16];
	int added;

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.tenant, sizeof(c.tenant), "acme");
	c.recipe_json = "{}";
	snprintf(c.id, sizeof(c.id), "%032d", 6);
	assert_int_equal(store_comp_add(s, &c), 0);
	memset(&r, 0, sizeof(r));
	r.idx = 1;
	snprintf(r.agent_id, sizeof(r.agent_id), "node");
	memset(r.state, 1, 32);
	ckpt_next(c.c0, r.state, r.cum);
	r.commitment_ok = 1;
	r.verdict = CKPT_FLAGGED;
	r.pending = 1;
	assert_int_equal(store_ckpt_add(s, c.id, &r, &added), 0);
	assert_int_equal(store_comp_end(s, c.id, "node", 0, 1, r.cum, st), 0);
	assert_string_equal(st, "recording");
	assert_int_equal(store_ckpt_pending(s, "node", &p, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].comp_id, c.id);
	assert_int_equal(p[0].r.idx, 1);
	p[0].r.verdict = CKPT_VALID;
	p[0].r.reason[0] = '\0';
	assert_int_equal(store_ckpt_resolve(s, c.id, &p[0].r), 0);
	free(p);
	assert_int_equal(store_comp_get(s, c.id, &got), 0);
	assert_string_equal(got.status, "complete");
	comp_rec_clear(&got);
	assert_int_equal(store_ckpt_pending(s, "node", &p, &n), 0);
	assert_int_equal(n, 0);
	free(p);
	sclose(&x);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_ackpt_valid_checkpoint_is_valid),
		T(test_ackpt_rejects_quote_by_another_key),
		T(test_ackpt_rejects_extra_data_that_is_not_the_commitment),
		T(test_ackpt_rejects_record_edited_after_quoting),
		T(test_ackpt_rejects_chain_break),
		T(test_ackpt_rejects_checkpoint_claiming_another_recipe),
		T(test_ackpt_flags_missing_previous_index),
		T(test_ackpt_rejects_unknown_computation),
		T(test_ackpt_rejects_checkpoint_from_another_node),
		T(test_ackpt_flags_clock_while_node_contraindicated),
		T(test_ackpt_flags_clock_in_a_stale_window),
		T(test_ackpt_flags_clock_without_an_earlier_quote_in_its_epoch),
		cmocka_unit_test(
		    test_ackpt_store_window_brackets_clock_within_its_epoch_for_30_days),
		cmocka_unit_test(test_ackpt_store_end_sets_complete_or_invalid),
		cmocka_unit_test(
		    test_ackpt_store_end_with_wrong_count_is_invalid),
		cmocka_unit_test(
		    test_ackpt_store_unverified_row_gives_way_to_verified_one),
		T(test_ackpt_clock_after_latest_quote_waits_for_the_next_one),
		cmocka_unit_test(
		    test_ackpt_store_pending_checkpoint_holds_the_status_until_resolved),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
