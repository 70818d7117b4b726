/* EAR-shaped results: the worst tier wins, the vector and reasons
 * serialize as the API shows them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "verifier/ear.h"

static void
test_ear_claim_tiers(void **state)
{
	assert_int_equal(ear_claim_tier(0), EAR_TIER_NONE);
	assert_int_equal(ear_claim_tier(2), EAR_TIER_AFFIRMING);
	assert_int_equal(ear_claim_tier(32), EAR_TIER_WARNING);
	assert_int_equal(ear_claim_tier(33), EAR_TIER_WARNING);
	assert_int_equal(ear_claim_tier(96), EAR_TIER_CONTRAINDICATED);
	assert_int_equal(ear_claim_tier(97), EAR_TIER_CONTRAINDICATED);
}

static void
test_ear_status_is_worst_tier(void **state)
{
	struct ear e;

	ear_init(&e);
	assert_int_equal(ear_status(&e), EAR_TIER_NONE);
	e.hardware = AR_AFFIRMING;
	e.instance_identity = AR_AFFIRMING;
	assert_int_equal(ear_status(&e), EAR_TIER_AFFIRMING);
	ear_claim(&e.configuration, AR_WARN_CONFIG);
	assert_int_equal(ear_status(&e), EAR_TIER_WARNING);
	ear_claim(&e.executables, AR_CONTRA);
	assert_int_equal(ear_status(&e), EAR_TIER_CONTRAINDICATED);
	ear_claim(&e.executables, AR_AFFIRMING);	/* never lowers */
	assert_int_equal(e.executables, AR_CONTRA);
	e.force_none = 1;
	assert_int_equal(ear_status(&e), EAR_TIER_NONE);
}

static void
test_ear_serializes_vector_and_reasons(void **state)
{
	struct appraisal a;
	struct ear e;

	ear_init(&e);
	e.instance_identity = AR_AFFIRMING;
	e.hardware = AR_AFFIRMING;
	e.executables = AR_WARN_EXEC;
	ear_reason(&e, "no reference value for PCR %u", 4);
	ear_reason(&e, "quote \"x\"");
	assert_int_equal(ear_to_appraisal(&e, 1234, &a), 0);
	assert_string_equal(a.status, "warning");
	assert_string_equal(a.vector_json, "{\"executables\":33,"
	    "\"hardware\":2,\"instance-identity\":2}");
	assert_string_equal(a.reasons_json, "[\"no reference value for PCR 4\","
	    "\"quote \\\"x\\\"\"]");
	assert_true(a.at == 1234);
	ear_appraisal_free(&a);
	assert_null(a.vector_json);
}

static void
test_ear_caps_reasons(void **state)
{
	struct ear e;
	char joined[64];
	int i;

	ear_init(&e);
	for (i = 0; i < 100; i++)
		ear_reason(&e, "r%d", i);
	assert_int_equal(e.n_reasons, EAR_MAX_REASONS);
	assert_string_equal(e.reasons[EAR_MAX_REASONS - 1],
	    "... more reasons omitted");
	ear_reasons_join(&e, joined, sizeof(joined));
	assert_int_equal(strncmp(joined, "r0; r1; r2", 10), 0);
}

static void
test_ear_tier_names_round_trip(void **state)
{
	enum ear_tier t;
	int i;

	for (i = EAR_TIER_NONE; i <= EAR_TIER_CONTRAINDICATED; i++) {
		assert_int_equal(ear_tier_parse(ear_tier_name(i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(ear_tier_parse("fine", &t), VIGIL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ear_claim_tiers),
		cmocka_unit_test(test_ear_status_is_worst_tier),
		cmocka_unit_test(test_ear_serializes_vector_and_reasons),
		cmocka_unit_test(test_ear_caps_reasons),
		cmocka_unit_test(test_ear_tier_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
