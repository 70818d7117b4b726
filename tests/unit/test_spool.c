/* The agent's evidence spool: order, acks, durability, epochs, the bound
 * with its gap item, and the event-log offset bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/spool.h"
#include "err.h"
#include "vigil.pb-c.h"

#define EVLOG VIGIL__ITEM_KIND__ITEM_EVENT_LOG
#define GAP VIGIL__ITEM_KIND__ITEM_GAP

struct fixture {
	char dir[64];
	char db[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-spool.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/%s", f->dir, SPOOL_FILE);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	snprintf(p, sizeof(p), "%s-wal", f->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->db);
	unlink(p);
	unlink(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
put_str(struct spool *s, const char *body, uint64_t expect_seq)
{
	uint64_t seq = 0;

	assert_int_equal(spool_put(s, EVLOG, (const uint8_t *)body,
	    strlen(body), &seq), 0);
	assert_true(seq == expect_seq);
}

static void
test_spool_returns_pending_in_sequence_order_and_ack_deletes(void **state)
{
	struct fixture *f = *state;
	struct spool_item *it;
	struct spool *s;
	uint64_t cnt;
	size_t n;

	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	put_str(s, "one", 1);
	put_str(s, "two", 2);
	put_str(s, "three", 3);
	assert_int_equal(spool_pending(s, 10, &it, &n), 0);
	assert_int_equal(n, 3);
	assert_true(it[0].seq == 1 && it[1].seq == 2 && it[2].seq == 3);
	assert_true(it[0].epoch == spool_epoch(s));
	assert_int_equal(it[1].kind, EVLOG);
	assert_int_equal(it[1].len, 3);
	assert_memory_equal(it[1].body, "two", 3);
	spool_items_free(it, n);
	assert_int_equal(spool_pending(s, 2, &it, &n), 0);
	assert_int_equal(n, 2);
	assert_true(it[1].seq == 2);
	spool_items_free(it, n);
	assert_int_equal(spool_ack(s, spool_epoch(s), 3), 0);
	assert_int_equal(spool_count(s, &cnt), 0);
	assert_true(cnt == 0);
	assert_int_equal(spool_put(s, GAP, (const uint8_t *)"x", 1, NULL),
	    VIGIL_EINVAL);
	spool_close(s);
}

static void
test_spool_ack_of_partial_range_keeps_the_rest(void **state)
{
	struct fixture *f = *state;
	struct spool_item *it;
	struct spool *s;
	size_t n;

	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	put_str(s, "a", 1);
	put_str(s, "b", 2);
	put_str(s, "c", 3);
	put_str(s, "d", 4);
	assert_int_equal(spool_ack(s, spool_epoch(s), 2), 0);
	assert_int_equal(spool_ack(s, spool_epoch(s) + 1, 4), VIGIL_ESTALE);
	assert_int_equal(spool_pending(s, 10, &it, &n), 0);
	assert_int_equal(n, 2);
	assert_true(it[0].seq == 3 && it[1].seq == 4);
	assert_memory_equal(it[0].body, "c", 1);
	spool_items_free(it, n);
	spool_close(s);
}

static void
test_spool_survives_close_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct spool_item *it;
	struct spool *s;
	uint64_t epoch;
	size_t n;

	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	epoch = spool_epoch(s);
	assert_true(epoch != 0);
	put_str(s, "a", 1);
	put_str(s, "b", 2);
	assert_int_equal(spool_ack(s, epoch, 1), 0);
	assert_int_equal(spool_meta_set(s, "agent_id", "abc"), 0);
	spool_close(s);

	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	assert_true(spool_epoch(s) == epoch);
	assert_int_equal(spool_pending(s, 10, &it, &n), 0);
	assert_int_equal(n, 1);
	assert_true(it[0].seq == 2);
	spool_items_free(it, n);
	put_str(s, "c", 3);		/* the sequence continues */
	{
		char v[8];

		assert_int_equal(spool_meta_get(s, "agent_id", v, sizeof(v)),
		    0);
		assert_string_equal(v, "abc");
		assert_int_equal(spool_meta_get(s, "agent_id", v, 3),
		    VIGIL_ETOOBIG);
		assert_int_equal(spool_meta_get(s, "nope", v, sizeof(v)),
		    VIGIL_ENOTFOUND);
	}
	spool_close(s);
}

static void
test_spool_deleted_file_starts_a_new_epoch(void **state)
{
	struct fixture *f = *state;
	struct spool *s;
	uint64_t epoch;

	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	epoch = spool_epoch(s);
	put_str(s, "a", 1);
	spool_close(s);
	assert_int_equal(unlink(f->db), 0);
	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	assert_true(spool_epoch(s) != epoch);
	put_str(s, "b", 1);
	spool_close(s);
}

static void
test_spool_full_drops_oldest_and_records_one_gap(void **state)
{
	struct fixture *f = *state;
	struct spool_item *it;
	Vigil__Gap *g;
	struct spool *s;
	char body[8];
	size_t n, i;
	uint64_t seq;

	assert_int_equal(spool_open(f->dir, 5, &s), 0);
	for (i = 1; i <= 8; i++) {
		snprintf(body, sizeof(body), "i%zu", i);
		assert_int_equal(spool_put(s, EVLOG, (const uint8_t *)body,
		    strlen(body), &seq), 0);
	}
	assert_int_equal(spool_pending(s, 100, &it, &n), 0);
	/* 5 data items (puts 4..8) and one gap naming seqs 1..3. */
	assert_int_equal(n, 6);
	assert_true(it[0].seq == 4 && it[1].seq == 5);
	assert_memory_equal(it[0].body, "i4", 2);
	assert_int_equal(it[2].kind, GAP);
	assert_true(it[2].seq == 6);
	g = vigil__gap__unpack(NULL, it[2].len, it[2].body);
	assert_non_null(g);
	assert_true(g->first_seq == 1);
	assert_true(g->last_seq == 3);
	assert_non_null(strstr(g->reason, "spool full"));
	vigil__gap__free_unpacked(g, NULL);
	for (i = 3; i < 6; i++)
		assert_int_equal(it[i].kind, EVLOG);
	assert_true(it[3].seq == 7 && it[5].seq == 9);
	assert_memory_equal(it[5].body, "i8", 2);
	spool_items_free(it, n);
	spool_close(s);
}

static void
test_spool_event_log_offsets_follow_boot_count(void **state)
{
	struct fixture *f = *state;
	const uint8_t logv[] = "0123456789abcdef";
	Vigil__EventLogChunk *c;
	struct spool_item *it;
	struct spool *s;
	uint64_t added, off;
	size_t n;

	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	assert_int_equal(spool_evlog_offset(s, 0, 7, &off), 0);
	assert_true(off == 0);
	assert_int_equal(spool_evlog_collect(s, 0, 7, logv, 10, &added), 0);
	assert_true(added == 10);
	assert_int_equal(spool_evlog_collect(s, 0, 7, logv, 10, &added), 0);
	assert_true(added == 0);			/* nothing new */
	assert_int_equal(spool_evlog_collect(s, 0, 7, logv, 16, &added), 0);
	assert_true(added == 6);
	assert_int_equal(spool_evlog_offset(s, 0, 7, &off), 0);
	assert_true(off == 16);
	assert_int_equal(spool_evlog_collect(s, 0, 7, logv, 4, &added),
	    VIGIL_EINVAL);				/* log shrank */
	assert_int_equal(spool_evlog_collect(s, 0, 8, logv, 4, &added), 0);
	assert_true(added == 4);			/* new boot: from 0 */
	assert_int_equal(spool_evlog_offset(s, 0, 7, &off), 0);
	assert_true(off == 0);				/* old boot forgotten */

	assert_int_equal(spool_pending(s, 10, &it, &n), 0);
	assert_int_equal(n, 3);
	c = vigil__event_log_chunk__unpack(NULL, it[1].len, it[1].body);
	assert_non_null(c);
	assert_int_equal(c->boot_count, 7);
	assert_true(c->offset == 10);
	assert_int_equal(c->data.len, 6);
	assert_memory_equal(c->data.data, "abcdef", 6);
	vigil__event_log_chunk__free_unpacked(c, NULL);
	c = vigil__event_log_chunk__unpack(NULL, it[2].len, it[2].body);
	assert_non_null(c);
	assert_int_equal(c->boot_count, 8);
	assert_true(c->offset == 0);
	assert_int_equal(c->data.len, 4);
	vigil__event_log_chunk__free_unpacked(c, NULL);
	spool_items_free(it, n);
	spool_close(s);

	/* The offset is durable. */
	assert_int_equal(spool_open(f->dir, 100, &s), 0);
	assert_int_equal(spool_evlog_offset(s, 0, 8, &off), 0);
	assert_true(off == 4);
	spool_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_spool_returns_pending_in_sequence_order_and_ack_deletes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_ack_of_partial_range_keeps_the_rest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_survives_close_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_deleted_file_starts_a_new_epoch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_full_drops_oldest_and_records_one_gap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_event_log_offsets_follow_boot_count, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
