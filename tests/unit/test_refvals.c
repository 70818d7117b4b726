/* Reference documents: strict parsing that names the bad field, node
 * entries winning over global ones, and learn on first use stored by
 * compare and swap (an operator's PUT between the read and the learnt
 * write survives). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "verifier/refvals.h"
#include "verifier/store.h"

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

/* "smm_images": the accepted vigil-smmd image digests, strict like
 * pse_images, and kept apart from them. */
static void
test_refvals_smm_images_parsed_strictly(void **state)
{
	static const char doc[] = "{\"pse_images\":[\"" H("a") "\"],"
	    "\"smm_images\":[\"" H("b") "\",\"" H("c") "\"]}";
	const uint8_t (*v)[SHA256_LEN];
	struct refvals *r = NULL;
	size_t n;

	(void)state;
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, NULL, 0), 0);
	refvals_smm_images(r, &v, &n);
	assert_int_equal(n, 2);
	assert_int_equal(v[0][0], 0xbb);
	assert_int_equal(v[1][31], 0xcc);
	refvals_pse_images(r, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0][0], 0xaa);
	refvals_free(r);
	refvals_smm_images(NULL, &v, &n);
	assert_int_equal(n, 0);
	refuse("{\"smm_images\":[\"" H("b") "\",\"xyz\"]}",
	    "smm_images[1]: not 64 lowercase hex digits");
	refuse("{\"smm_images\":\"" H("b") "\"}",
	    "smm_images: not an array");
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

/* ---- learn on first use against a store ---- */

struct lfx {
	char dir[64], path[96];
	struct store *s;
};

static int
lfx_setup(void **state)
{
	struct lfx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-refvals.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/v.db", f->dir);
	if (store_open(f->path, &f->s) != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
lfx_teardown(void **state)
{
	struct lfx *f = *state;
	char cmd[96];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

/* The latest stored document, parsed, and its version. */
static struct refvals *
latest(struct store *s, int64_t *version)
{
	struct refvals *r = NULL;
	char *doc = NULL;

	assert_int_equal(store_refvals_get(s, &doc, version), 0);
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, NULL, 0), 0);
	free(doc);
	return r;
}

static void
assert_pcr(const struct refvals *r, uint32_t pcr, size_t n, uint8_t first)
{
	const uint8_t (*v)[32];
	size_t k;

	refvals_for(r, NODE, pcr, &v, &k);
	assert_int_equal(k, n);
	if (n > 0)
		assert_int_equal(v[0][0], first);
}

/* The learner's steps in the order the push runs them (read the
 * document, appraise, store the learnt one), with an operator's PUT in
 * between: the PUT's values survive and the learnt PCR is added to them. */
static void
test_refvals_learn_keeps_an_operators_put_between_read_and_write(
    void **state)
{
	struct lfx *f = *state;
	const char *v1 = "{\"pcrs\":{\"0\":[\"" H("a") "\"]}}";
	const char *v2 = "{\"pcrs\":{\"0\":[\"" H("b") "\"],"
	    "\"4\":[\"" H("c") "\"]}}";
	struct refvals *base = NULL, *r;
	struct pcrs vals;
	char *doc = NULL, *learnt = NULL;
	int64_t ver, base_ver, op_ver, got = 0;

	assert_int_equal(store_refvals_put(f->s, v1, "operator", &ver), 0);
	/* The push reads version 1 ... */
	assert_int_equal(store_refvals_get(f->s, &doc, &base_ver), 0);
	assert_int_equal(base_ver, ver);
	assert_int_equal(refvals_parse(doc, strlen(doc), &base, NULL, 0), 0);
	free(doc);
	memset(&vals, 0, sizeof(vals));
	vals.mask = 1u << 5;
	memset(vals.v[5], 0x55, 32);
	assert_int_equal(refvals_learn(base, &vals, 1u << 5, &learnt), 0);
	/* ... the operator PUTs version 2 ... */
	assert_int_equal(store_refvals_put(f->s, v2, "operator", &op_ver), 0);
	/* ... and the push stores what it learnt from version 1. */
	assert_int_equal(refvals_learn_store(f->s, NODE, base, base_ver,
	    learnt, &got), 0);
	assert_true(got > op_ver);
	r = latest(f->s, &ver);
	assert_int_equal(ver, got);
	assert_pcr(r, 0, 1, 0xbb);	/* the operator's, not version 1's */
	assert_pcr(r, 4, 1, 0xcc);	/* the operator's */
	assert_pcr(r, 5, 1, 0x55);	/* learnt */
	refvals_free(r);
	/* The operator's version 2 is still there as it was PUT. */
	assert_int_equal(store_refvals_get_version(f->s, op_ver, &doc), 0);
	assert_string_equal(doc, v2);
	free(doc);
	free(learnt);
	refvals_free(base);
}

/* The operator's PUT names the learnt PCR itself: the learnt value is
 * dropped and the operator's document stays the latest. */
static void
test_refvals_learn_dropped_when_the_operator_named_the_pcr(void **state)
{
	struct lfx *f = *state;
	const char *v2 = "{\"pcrs\":{\"5\":[\"" H("d") "\"]}}";
	struct refvals *r;
	struct pcrs vals;
	char *learnt = NULL;
	int64_t op_ver, ver, got = -1;

	/* No document yet: the push read "none" (version 0). */
	memset(&vals, 0, sizeof(vals));
	vals.mask = 1u << 5;
	memset(vals.v[5], 0x55, 32);
	assert_int_equal(refvals_learn(NULL, &vals, 1u << 5, &learnt), 0);
	assert_int_equal(store_refvals_put(f->s, v2, "operator", &op_ver), 0);
	assert_int_equal(refvals_learn_store(f->s, NODE, NULL, 0, learnt,
	    &got), VIGIL_ESTALE);
	assert_int_equal(got, -1);
	r = latest(f->s, &ver);
	assert_int_equal(ver, op_ver);
	assert_pcr(r, 5, 1, 0xdd);
	refvals_free(r);
	free(learnt);
}

/* Nothing moved: the learnt document is stored as it is; and the store's
 * compare and swap refuses a write based on an old version. */
static void
test_refvals_learn_stores_when_nothing_moved(void **state)
{
	struct lfx *f = *state;
	struct refvals *r;
	struct pcrs vals;
	char *learnt = NULL;
	int64_t ver = 0, got = 0;

	memset(&vals, 0, sizeof(vals));
	vals.mask = 1u << 7;
	memset(vals.v[7], 0x77, 32);
	assert_int_equal(refvals_learn(NULL, &vals, 1u << 7, &learnt), 0);
	assert_int_equal(refvals_learn_store(f->s, NODE, NULL, 0, learnt,
	    &got), 0);
	r = latest(f->s, &ver);
	assert_int_equal(ver, got);
	assert_pcr(r, 7, 1, 0x77);
	refvals_free(r);
	assert_int_equal(store_refvals_put_if(f->s, "{}", "x", 0, &ver),
	    VIGIL_ESTALE);
	assert_int_equal(ver, got);
	assert_int_equal(store_refvals_put_if(f->s, "{}", "x", got, &ver), 0);
	assert_int_equal(ver, got + 1);
	free(learnt);
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
		"{\"pcrs\":{\"22\":[]}}",
	};
	const char *want[] = {
		"pcrs.\"9\": PCR 9 is outside the quoted selection (PCRs "
		    "0-7,11,23): no quote covers it",
		"nodes.\"" NODE "\".pcrs.\"16\": PCR 16 is outside the quoted "
		    "selection (PCRs 0-7,11,23)",
		"pcrs.\"22\": PCR 22 is outside",
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
		cmocka_unit_test_setup_teardown(
		    test_refvals_learn_keeps_an_operators_put_between_read_and_write,
		    lfx_setup, lfx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_refvals_learn_dropped_when_the_operator_named_the_pcr,
		    lfx_setup, lfx_teardown),
		cmocka_unit_test_setup_teardown(
		    test_refvals_learn_stores_when_nothing_moved,
		    lfx_setup, lfx_teardown),
		cmocka_unit_test(test_refvals_smm_images_parsed_strictly),
		cmocka_unit_test(
		    test_refvals_refuses_pcr_outside_the_quoted_selection),
		cmocka_unit_test(
		    test_refvals_learn_refuses_pcrs_outside_the_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
