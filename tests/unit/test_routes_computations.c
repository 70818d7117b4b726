/* The computation routes on the real server (ephemeral loopback port,
 * temporary store): strict recipe validation naming the field, canonical
 * recipe digest and C_0, blobs named by their hash, and tenant scoping
 * (another tenant's objects are 404). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "log.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/tokens.h"
#include "tests/unit/helpers/tsrv.h"

static struct tsrv g;

static int
group_setup(void **state)
{
	tsrv_start(&g, "test-routes-comp");
	return 0;
}

static int
group_teardown(void **state)
{
	return tsrv_stop(&g);
}

#define HEXA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define RECIPE "{\"name\":\"build\",\"argv\":[\"prog\",\"-x\"]," \
	"\"env\":{\"LANG\":\"C\"},\"executable\":{\"path\":\"prog\"," \
	"\"sha256\":\"" HEXA "\"},\"inputs\":[{\"path\":\"data/in.txt\"," \
	"\"sha256\":\"" HEXA "\"}],\"checkpoint_every\":4096}"

/* Creates RECIPE as tenant acme; id (33 bytes) gets its id. */
static void
create(char *id, json_t **reply_json)
{
	struct treply r;

	assert_int_equal(treq(&g, "POST", "/v1/computations", g.a, RECIPE,
	    strlen(RECIPE), &r), 201);
	assert_non_null(r.j);
	snprintf(id, 33, "%s", json_string_value(json_object_get(r.j, "id")));
	assert_int_equal(strlen(id), 32);
	if (reply_json != NULL)
		*reply_json = json_incref(r.j);
	treply_free(&r);
}

static void
test_comp_create_answers_canonical_digest_and_c0(void **state)
{
	const char *canon = "{\"argv\":[\"prog\",\"-x\"],\"checkpoint_every\":"
	    "4096,\"env\":{\"LANG\":\"C\"},\"executable\":{\"path\":\"prog\","
	    "\"sha256\":\"" HEXA "\"},\"inputs\":[{\"path\":\"data/in.txt\","
	    "\"sha256\":\"" HEXA "\"}],\"name\":\"build\",\"tenant\":\"acme\"}";
	uint8_t d[32], c0[32];
	char hd[65], hc[65], id[33];
	unsigned int len = 0;
	json_t *j = NULL;

	(void)state;
	create(id, &j);
	assert_int_equal(EVP_Digest(canon, strlen(canon), d, &len,
	    EVP_sha256(), NULL), 1);
	ckpt_c0(d, c0);
	hex_encode(d, 32, hd);
	hex_encode(c0, 32, hc);
	assert_string_equal(json_string_value(json_object_get(j,
	    "recipe_sha256")), hd);
	assert_string_equal(json_string_value(json_object_get(j, "c0")), hc);
	json_decref(j);
}

static void
test_comp_create_refuses_bad_recipes_naming_the_field(void **state)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[]", "JSON object" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"},\"extra\":1}", "unknown field \"extra\"" },
		{ "{\"argv\":[\"p\"]}", "executable is required" },
		{ "{\"argv\":[\"q\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"}}", "argv[0] must equal executable.path" },
		{ "{\"argv\":[],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"}}", "argv must be" },
		{ "{\"argv\":[\"../p\"],\"executable\":{\"path\":\"../p\","
		    "\"sha256\":\"" HEXA "\"}}", "executable.path" },
		{ "{\"argv\":[\"/bin/p\"],\"executable\":{\"path\":\"/bin/p\","
		    "\"sha256\":\"" HEXA "\"}}", "executable.path" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"ABC\"}}", "executable.sha256" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"},\"env\":{\"1X\":\"v\"}}", "env: \"1X\"" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"},\"env\":{\"X\":1}}", "env.X" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"},\"inputs\":[{\"path\":\"a//b\",\"sha256\":"
		    "\"" HEXA "\"}]}", "inputs[0].path" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"},\"inputs\":[{\"path\":\"a\",\"sha256\":"
		    "\"" HEXA "\"},{\"path\":\"a\",\"sha256\":\"" HEXA "\"}]}",
		    "inputs[1].path repeats inputs[0]" },
		{ "{\"argv\":[\"p\"],\"executable\":{\"path\":\"p\",\"sha256\":"
		    "\"" HEXA "\"},\"checkpoint_every\":-1}", "checkpoint_every" },
	};
	struct treply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		treq(&g, "POST", "/v1/computations", g.a, cases[i].body,
		    strlen(cases[i].body), &r);
		if (r.status != 400 || strstr(treply_detail(&r), cases[i].want) ==
		    NULL)
			fail_msg("case %zu: %ld \"%s\", wanted 400 naming "
			    "\"%s\"", i, r.status, treply_detail(&r), cases[i].want);
		treply_free(&r);
	}
	/* an operator has no tenant to own it; no token is 401 */
	assert_int_equal(treq(&g, "POST", "/v1/computations", g.op, RECIPE,
	    strlen(RECIPE), &r), 403);
	treply_free(&r);
	assert_int_equal(treq(&g, "POST", "/v1/computations", NULL, RECIPE,
	    strlen(RECIPE), &r), 401);
	treply_free(&r);
}

static void
test_comp_other_tenant_gets_404_operator_reads(void **state)
{
	char id[33], path[128], rid[33];
	struct treply r;

	(void)state;
	create(id, NULL);
	snprintf(path, sizeof(path), "/v1/computations/%s", id);
	assert_int_equal(treq(&g, "GET", path, g.a, NULL, 0, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.j, "status")),
	    "recording");
	assert_true(json_is_null(json_object_get(r.j, "latest_replay")));
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", path, g.b, NULL, 0, &r), 404);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", path, g.op, NULL, 0, &r), 200);
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/computations/%s/replays", id);
	assert_int_equal(treq(&g, "POST", path, g.b, "", 0, &r), 404);
	treply_free(&r);
	assert_int_equal(treq(&g, "POST", path, g.a, "", 0, &r), 202);
	snprintf(rid, sizeof(rid), "%s", json_string_value(json_object_get(r.j,
	    "id")));
	assert_string_equal(json_string_value(json_object_get(r.j, "status")),
	    "queued");
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/replays/%s", rid);
	assert_int_equal(treq(&g, "GET", path, g.a, NULL, 0, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "computation_id")), id);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", path, g.b, NULL, 0, &r), 404);
	treply_free(&r);
	/* lists: own only; the operator sees all */
	assert_int_equal(treq(&g, "GET", "/v1/computations", g.b, NULL, 0, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.j, "items")), 0);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", "/v1/computations", g.op, NULL, 0, &r),
	    200);
	assert_true(json_array_size(json_object_get(r.j, "items")) >= 1);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", "/v1/computations/not-an-id", g.a, NULL, 0,
	    &r), 404);
	treply_free(&r);
}

static void
test_comp_blob_must_hash_to_its_name(void **state)
{
	static const char data[] = "input bytes\n";
	uint8_t d[32];
	char hex[65], path[128];
	unsigned int len = 0;
	struct treply r;

	(void)state;
	assert_int_equal(EVP_Digest(data, strlen(data), d, &len, EVP_sha256(),
	    NULL), 1);
	hex_encode(d, 32, hex);
	snprintf(path, sizeof(path), "/v1/blobs/%s", hex);
	assert_int_equal(treq(&g, "PUT", path, g.a, data, strlen(data), &r), 201);
	treply_free(&r);
	/* Re-sent, by the owner or another tenant: the same answer, so
	 * nobody learns whether someone else holds these bytes. */
	assert_int_equal(treq(&g, "PUT", path, g.a, data, strlen(data), &r), 201);
	treply_free(&r);
	assert_int_equal(treq(&g, "PUT", path, g.b, data, strlen(data), &r), 201);
	treply_free(&r);
	assert_int_equal(treq(&g, "PUT", path, g.a, "other", 5, &r), 400);
	assert_non_null(strstr(treply_detail(&r), "does not hash"));
	treply_free(&r);
	assert_int_equal(treq(&g, "PUT", "/v1/blobs/ABC", g.a, data, strlen(data),
	    &r), 400);
	treply_free(&r);
	assert_int_equal(treq(&g, "PUT", path, NULL, data, strlen(data), &r), 401);
	treply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_comp_create_answers_canonical_digest_and_c0),
		cmocka_unit_test(
		    test_comp_create_refuses_bad_recipes_naming_the_field),
		cmocka_unit_test(test_comp_other_tenant_gets_404_operator_reads),
		cmocka_unit_test(test_comp_blob_must_hash_to_its_name),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
