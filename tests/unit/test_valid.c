/* Shared checks of names and identifiers from hostile sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "valid.h"

static void
test_valid_lowerhex_wants_exact_length_and_case(void **state)
{
	assert_int_equal(valid_lowerhex("0a1b", 4), 1);
	assert_int_equal(valid_lowerhex("0A1b", 4), 0);
	assert_int_equal(valid_lowerhex("0a1", 4), 0);
	assert_int_equal(valid_lowerhex("0a1b2", 4), 0);
	assert_int_equal(valid_lowerhex("0a g", 4), 0);
	assert_int_equal(valid_lowerhex("", 0), 1);
}

static void
test_valid_relpath_refuses_escapes_and_control_bytes(void **state)
{
	char big[40];

	assert_int_equal(valid_relpath("data/in.txt", 64), 1);
	assert_int_equal(valid_relpath("a/..b/c", 64), 1);
	assert_int_equal(valid_relpath("caf\xc3\xa9", 64), 1);
	assert_int_equal(valid_relpath("/etc/passwd", 64), 0);
	assert_int_equal(valid_relpath("../x", 64), 0);
	assert_int_equal(valid_relpath("a/../x", 64), 0);
	assert_int_equal(valid_relpath("a/..", 64), 0);
	assert_int_equal(valid_relpath("a//b", 64), 0);
	assert_int_equal(valid_relpath("a/", 64), 0);
	assert_int_equal(valid_relpath("", 64), 0);
	assert_int_equal(valid_relpath("a\nb", 64), 0);
	assert_int_equal(valid_relpath("a\x7f", 64), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(valid_relpath(big, 39), 1);
	assert_int_equal(valid_relpath(big, 38), 0);
}

static void
test_valid_env_name_is_a_shell_identifier_but_not_ours(void **state)
{
	assert_int_equal(valid_env_name("LANG"), 1);
	assert_int_equal(valid_env_name("_x9"), 1);
	assert_int_equal(valid_env_name("9x"), 0);
	assert_int_equal(valid_env_name("A-B"), 0);
	assert_int_equal(valid_env_name(""), 0);
	assert_int_equal(valid_env_name("VIGIL_CHECKPOINT_FD"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_lowerhex_wants_exact_length_and_case),
		cmocka_unit_test(
		    test_valid_relpath_refuses_escapes_and_control_bytes),
		cmocka_unit_test(
		    test_valid_env_name_is_a_shell_identifier_but_not_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
