/* The bounds-checked reader: every read stops at the end of its input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "rd.h"

static void
test_rd_reads_both_byte_orders(void **state)
{
	const uint8_t in[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	struct rd r;
	uint16_t a;
	uint32_t b;
	uint64_t c;

	rd_init(&r, in, sizeof(in));
	assert_int_equal(rd_u16be(&r, &a), 0);
	assert_int_equal(a, 0x0102);
	assert_int_equal(rd_u32le(&r, &b), 0);
	assert_int_equal(b, 0x06050403);
	assert_int_equal(rd_u64be(&r, &c), 0);
	assert_true(c == 0x0708090a0b0c0d0eULL);
	assert_int_equal(r.left, 0);
}

static void
test_rd_refuses_to_read_past_the_end(void **state)
{
	const uint8_t in[] = { 1, 2, 3 };
	const uint8_t *p;
	struct rd r, sub;
	uint32_t v;

	rd_init(&r, in, sizeof(in));
	assert_int_equal(rd_u32be(&r, &v), VIGIL_ETRUNC);
	assert_int_equal(r.left, 3);		/* nothing consumed */
	assert_int_equal(rd_bytes(&r, 4, &p), VIGIL_ETRUNC);
	assert_int_equal(rd_sub(&r, 2, &sub), 0);
	assert_int_equal(sub.left, 2);
	assert_int_equal(rd_skip(&sub, 3), VIGIL_ETRUNC);
	assert_int_equal(rd_bytes(&r, SIZE_MAX, &p), VIGIL_ETRUNC);
	assert_int_equal(r.left, 1);
}

static void
test_buf_and_hex_round_trip(void **state)
{
	struct buf b = BUF_INIT;
	uint8_t back[6];
	char hex[13];

	assert_int_equal(buf_add_u16be(&b, 0xbeef), 0);
	assert_int_equal(buf_add_u32le(&b, 0x01020304), 0);
	assert_int_equal(b.len, 6);
	hex_encode(b.data, b.len, hex);
	assert_string_equal(hex, "beef04030201");
	assert_int_equal(hex_decode(hex, back, sizeof(back)), 0);
	assert_memory_equal(back, b.data, 6);
	assert_int_equal(hex_decode("zz", back, 1), VIGIL_EINVAL);
	assert_int_equal(hex_decode("abc", back, 1), VIGIL_EINVAL);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rd_reads_both_byte_orders),
		cmocka_unit_test(test_rd_refuses_to_read_past_the_end),
		cmocka_unit_test(test_buf_and_hex_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
