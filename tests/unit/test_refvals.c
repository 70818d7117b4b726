/* Reference documents: strict parsing that names the bad field, and node
 * entries winning over global ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "verifier/refvals.h"

#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define NODE H("e")

static void
refuse(const char *doc, const char *why_part)
{
	struct refvals *r = NULL;
	char why[256];

	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_null(r);
	if (strstr(why, why_part) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", why, why_part);
}

static void
test_refvals_rejects_bad_hex_naming_the_field(void **state)
{
	refuse("{\"pcrs\":{\"7\":[\"" H("a") "\",\"xyz\"]}}",
	    "pcrs.\"7\"[1]: not 64 lowercase hex digits");
	refuse("{\"pcrs\":{\"7\":[\"" H("A") "\"]}}", "pcrs.\"7\"[0]");
}

static void
test_refvals_rejects_pcr_out_of_range(void **state)
{
	refuse("{\"pcrs\":{\"24\":[\"" H("a") "\"]}}",
	    "pcrs.\"24\": not a PCR number 0-23");
	refuse("{\"pcrs\":{\"07\":[]}}", "pcrs.\"07\"");
	refuse("{\"pcrs\":{\"-1\":[]}}", "pcrs.\"-1\"");
}

static void
test_refvals_rejects_wrong_types(void **state)
{
	refuse("[]", "document: not an object");
	refuse("{\"pcrs\":[]}", "pcrs: not an object");
	refuse("{\"pcrs\":{\"1\":\"" H("a") "\"}}", "pcrs.\"1\": not an array");
	refuse("{\"pcrs\":{\"1\":[5]}}", "pcrs.\"1\"[0]");
	refuse("{\"nodes\":{\"" NODE "\":[]}}", "nodes.\"" NODE
	    "\": not an object");
	refuse("{\"nodes\":{\"node1\":{}}}", "nodes.\"node1\": not an agent id");
	refuse("{\"pcr\":{}}", "\"pcr\": unknown key");
	refuse("{\"nodes\":{\"" NODE "\":{\"pcr\":{}}}}", "unknown key");
	refuse("{\"pcrs\":", "not JSON");
}

static void
test_refvals_node_entries_win(void **state)
{
	const char *doc = "{\"pcrs\":{\"0\":[\"" H("a") "\",\"" H("b") "\"],"
	    "\"5\":[\"" H("c") "\"]},\"nodes\":{\"" NODE "\":{\"pcrs\":"
	    "{\"5\":[\"" H("d") "\"]}}}}";
	const uint8_t (*v)[32];
	struct refvals *r;
	size_t n;

	assert_int_equal(refvals_parse(doc, strlen(doc), &r, NULL, 0), 0);
	refvals_for(r, NODE, 5, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0][0], 0xdd);
	refvals_for(r, H("f"), 5, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0][0], 0xcc);
	refvals_for(r, NODE, 0, &v, &n);	/* no node entry: global */
	assert_int_equal(n, 2);
	assert_int_equal(v[1][31], 0xbb);
	refvals_for(r, NODE, 7, &v, &n);
	assert_int_equal(n, 0);
	refvals_free(r);
}

static void
test_refvals_learn_adds_fleet_wide_entries(void **state)
{
	const char *doc = "{\"pcrs\":{\"0\":[\"" H("a") "\"]}}";
	const uint8_t (*v)[32];
	struct refvals *r, *l;
	struct pcrs vals;
	char *out = NULL;
	size_t n;

	memset(&vals, 0, sizeof(vals));
	vals.mask = (1u << 5) | (1u << 7);
	memset(vals.v[5], 0x55, 32);
	memset(vals.v[7], 0x77, 32);
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, NULL, 0), 0);
	assert_int_equal(refvals_learn(r, &vals, 1u << 5, &out), 0);
	assert_int_equal(refvals_parse(out, strlen(out), &l, NULL, 0), 0);
	refvals_for(l, NODE, 5, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0][0], 0x55);
	refvals_for(l, "another-node", 5, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0][0], 0x55);
	refvals_for(l, NODE, 7, &v, &n);
	assert_int_equal(n, 0);
	refvals_for(l, NODE, 0, &v, &n);
	assert_int_equal(n, 1);
	free(out);
	refvals_free(l);
	refvals_free(r);
}

static void
test_refvals_empty_document_has_no_values(void **state)
{
	const uint8_t (*v)[32];
	struct refvals *r;
	size_t n;

	assert_int_equal(refvals_parse("{}", 2, &r, NULL, 0), 0);
	refvals_for(r, NODE, 0, &v, &n);
	assert_int_equal(n, 0);
	refvals_free(r);
	refvals_for(NULL, NODE, 0, &v, &n);
	assert_int_equal(n, 0);
}

/* A reference value for a PCR no quote covers would never be compared:
 * refused naming the field, the PCR and the quoted selection (also for a
 * node entry, and for an empty list). */
static void
test_refvals_refuses_pcr_outside_the_quoted_selection(void **state)
{
	const char *docs[] = {
		"{\"pcrs\":{\"0\":[\"" H("a") "\"],\"9\":[\"" H("b") "\"]}}",
		"{\"nodes\":{\"" NODE "\":{\"pcrs\":{\"16\":[\"" H("c")
		    "\"]}}}}",
		"{\"pcrs\":{\"23\":[]}}",
	};
	const char *want[] = {
		"pcrs.\"9\": PCR 9 is outside the quoted selection (PCRs "
		    "0-7,11): no quote covers it",
		"nodes.\"" NODE "\".pcrs.\"16\": PCR 16 is outside the quoted "
		    "selection (PCRs 0-7,11)",
		"pcrs.\"23\": PCR 23 is outside",
	};
	struct refvals *r;
	char why[512];
	size_t i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(refvals_parse(docs[i], strlen(docs[i]), &r,
		    NULL, 0), 0);
		assert_int_equal(refvals_check_selection(r, PCR_POLICY_MASK,
		    why, sizeof(why)), VIGIL_EINVAL);
		if (strstr(why, want[i]) == NULL)
			fail_msg("why \"%s\" lacks \"%s\"", why, want[i]);
		refvals_free(r);
	}
	assert_int_equal(refvals_parse(docs[0], strlen(docs[0]), &r, NULL, 0),
	    0);
	assert_int_equal(refvals_check_selection(r, PCR_POLICY_MASK |
	    (1u << 9), why, sizeof(why)), 0);
	refvals_free(r);
}

/* Learning never writes a PCR outside the policy selection. */
static void
test_refvals_learn_refuses_pcrs_outside_the_policy(void **state)
{
	struct pcrs vals;
	char *out = NULL;

	memset(&vals, 0, sizeof(vals));
	vals.mask = PCR_POLICY_MASK | (1u << 9);
	assert_int_equal(refvals_learn(NULL, &vals, 1u << 9, &out),
	    VIGIL_EINVAL);
	assert_null(out);
	assert_int_equal(refvals_learn(NULL, &vals, PCR_POLICY_MASK, &out), 0);
	assert_null(strstr(out, "\"9\""));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refvals_rejects_bad_hex_naming_the_field),
		cmocka_unit_test(test_refvals_rejects_pcr_out_of_range),
		cmocka_unit_test(test_refvals_rejects_wrong_types),
		cmocka_unit_test(test_refvals_node_entries_win),
		cmocka_unit_test(test_refvals_learn_adds_fleet_wide_entries),
		cmocka_unit_test(test_refvals_empty_document_has_no_values),
		cmocka_unit_test(
		    test_refvals_refuses_pcr_outside_the_quoted_selection),
		cmocka_unit_test(
		    test_refvals_learn_refuses_pcrs_outside_the_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
