/* Verifier nonces: single use, bound to one agent, expiring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "verifier/nonce.h"

static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static int
setup(void **state)
{
	struct nonce_table *t;

	fake_now = 1000000;
	assert_int_equal(nonce_table_new(60000, fake_clock, &t), 0);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	nonce_table_free(*state);
	return 0;
}

static void
test_nonce_accepts_once_then_refuses_reuse(void **state)
{
	uint8_t n[NONCE_LEN];

	assert_int_equal(nonce_issue(*state, "agent-a", n), 0);
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN), 0);
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN),
	    VIGIL_ESTALE);
}

static void
test_nonce_refuses_expired(void **state)
{
	uint8_t n[NONCE_LEN];

	assert_int_equal(nonce_issue(*state, "agent-a", n), 0);
	fake_now += 60000;
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN),
	    VIGIL_ESTALE);
}

static void
test_nonce_accepts_just_before_expiry(void **state)
{
	uint8_t n[NONCE_LEN];

	assert_int_equal(nonce_issue(*state, "agent-a", n), 0);
	fake_now += 59999;
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN), 0);
}

static void
test_nonce_refuses_foreign_agent_and_keeps_it_for_owner(void **state)
{
	uint8_t n[NONCE_LEN];

	assert_int_equal(nonce_issue(*state, "agent-a", n), 0);
	assert_int_equal(nonce_consume(*state, "agent-b", n, NONCE_LEN),
	    VIGIL_ENOTFOUND);
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN), 0);
}

static void
test_nonce_refuses_unknown_and_short(void **state)
{
	uint8_t n[NONCE_LEN];

	memset(n, 7, sizeof(n));
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN),
	    VIGIL_ENOTFOUND);
	assert_int_equal(nonce_issue(*state, "agent-a", n), 0);
	assert_int_equal(nonce_consume(*state, "agent-a", n, 16),
	    VIGIL_ENOTFOUND);
}

static void
test_nonce_is_forgotten_after_two_ttls(void **state)
{
	uint8_t n[NONCE_LEN], m[NONCE_LEN];

	assert_int_equal(nonce_issue(*state, "agent-a", n), 0);
	fake_now += 120000;
	assert_int_equal(nonce_issue(*state, "agent-b", m), 0); /* evicts */
	assert_int_equal(nonce_consume(*state, "agent-a", n, NONCE_LEN),
	    VIGIL_ENOTFOUND);
}

static void
test_nonce_caps_live_nonces_per_agent(void **state)
{
	uint8_t n[NONCE_PER_AGENT + 1][NONCE_LEN];
	int i;

	for (i = 0; i <= NONCE_PER_AGENT; i++) {
		assert_int_equal(nonce_issue(*state, "agent-a", n[i]), 0);
		fake_now += 1;
	}
	/* The oldest was replaced; the newest ones all work. */
	assert_int_equal(nonce_consume(*state, "agent-a", n[0], NONCE_LEN),
	    VIGIL_ENOTFOUND);
	for (i = 1; i <= NONCE_PER_AGENT; i++)
		assert_int_equal(nonce_consume(*state, "agent-a", n[i],
		    NONCE_LEN), 0);
}

static void
test_nonce_values_differ(void **state)
{
	uint8_t a[NONCE_LEN], b[NONCE_LEN];

	assert_int_equal(nonce_issue(*state, "agent-a", a), 0);
	assert_int_equal(nonce_issue(*state, "agent-a", b), 0);
	assert_memory_not_equal(a, b, NONCE_LEN);
}

#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)

/* Many agents: the table grows and every nonce stays its agent's. */
static void
test_nonce_many_agents_each_keep_their_nonce(void **state)
{
	struct nonce_table *t = *state;
	static uint8_t n[5000][NONCE_LEN];
	char id[65];
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%064d", i);
		assert_int_equal(nonce_issue(t, id, n[i]), 0);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%064d", (i + 1) % 5000);
		assert_int_equal(nonce_consume(t, id, n[i], NONCE_LEN),
		    VIGIL_ENOTFOUND);
		snprintf(id, sizeof(id), "%064d", i);
		assert_int_equal(nonce_consume(t, id, n[i], NONCE_LEN), 0);
		assert_int_equal(nonce_consume(t, id, n[i], NONCE_LEN),
		    VIGIL_ESTALE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_nonce_accepts_once_then_refuses_reuse),
		T(test_nonce_refuses_expired),
		T(test_nonce_accepts_just_before_expiry),
		T(test_nonce_refuses_foreign_agent_and_keeps_it_for_owner),
		T(test_nonce_refuses_unknown_and_short),
		T(test_nonce_is_forgotten_after_two_ttls),
		T(test_nonce_caps_live_nonces_per_agent),
		T(test_nonce_many_agents_each_keep_their_nonce),
		T(test_nonce_values_differ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
