/* The VM routes on the real server (ephemeral loopback port, temporary
 * store) and the VM store: tenants declare VMs, see only their own (404
 * for another tenant's), guest reference values are per tenant and parsed
 * strictly; enrolment, placement, single-use attestation requests,
 * migration hand-over and release follow the store's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/store.h"
#include "verifier/store_vms.h"
#include "verifier/tokens.h"
#include "tests/unit/helpers/tsrv.h"

static struct tsrv g;

static int
group_setup(void **state)
{
	tsrv_start(&g, "test-routes-vms");
	return 0;
}

static int
group_teardown(void **state)
{
	return tsrv_stop(&g);
}

#define NODE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NODE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define NODE_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define REFS "{\"pcrs\": {\"4\": [\"4444444444444444444444444444444444444444" \
	"444444444444444444444444\"]}}"

/* Declares a VM named name as tenant acme; id gets its id. */
static void
create(const char *name, char id[VM_ID_LEN + 1])
{
	struct treply r;
	char body[128];

	snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
	assert_int_equal(treq(&g, "POST", "/v1/vms", g.a, body, strlen(body), &r),
	    201);
	snprintf(id, VM_ID_LEN + 1, "%s", json_string_value(json_object_get(
	    r.j, "id")));
	assert_true(store_vm_id_ok(id));
	assert_string_equal(json_string_value(json_object_get(r.j, "tenant")),
	    "acme");
	treply_free(&r);
}

/* Registers and activates a vTPM for vm on node (store level). */
static void
enrol(const char *vm, const char *node, uint8_t tag)
{
	struct vm_vtpm_reg reg;
	uint8_t blob[8], name[34], h[32];

	memset(blob, tag, sizeof(blob));
	memset(name, tag, sizeof(name));
	memset(h, tag, sizeof(h));
	memset(&reg, 0, sizeof(reg));
	reg.vm_id = vm;
	reg.node_id = node;
	reg.ek_pub = blob;
	reg.ek_pub_len = sizeof(blob);
	reg.ek_cert = blob;
	reg.ek_cert_len = sizeof(blob);
	reg.ak_pub = blob;
	reg.ak_pub_len = sizeof(blob);
	reg.ak_name = name;
	reg.ak_name_len = sizeof(name);
	reg.secret_hash = h;
	assert_int_equal(store_vm_vtpm_register(g.vc.store, &reg), 0);
	assert_int_equal(store_vm_vtpm_activate(g.vc.store, vm, node), 0);
}

static void
test_vms_tenant_sees_only_its_own_vms(void **state)
{
	struct treply r;
	char id[VM_ID_LEN + 1], path[128];
	const char *dup = "{\"name\": \"web\"}", *bad = "{\"name\": \"a b\"}";

	(void)state;
	create("web", id);
	assert_int_equal(treq(&g, "POST", "/v1/vms", g.a, dup, strlen(dup), &r),
	    409);
	treply_free(&r);
	assert_int_equal(treq(&g, "POST", "/v1/vms", g.a, bad, strlen(bad), &r),
	    400);
	treply_free(&r);
	assert_int_equal(treq(&g, "POST", "/v1/vms", g.op, dup, strlen(dup), &r),
	    403);
	treply_free(&r);
	assert_int_equal(treq(&g, "POST", "/v1/vms", NULL, dup, strlen(dup), &r),
	    401);
	treply_free(&r);

	snprintf(path, sizeof(path), "/v1/vms/%s", id);
	assert_int_equal(treq(&g, "GET", path, g.a, NULL, 0, &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.j, "name")),
	    "web");
	assert_string_equal(json_string_value(json_object_get(r.j, "vtpm")),
	    "none");
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "status")), "none");
	treply_free(&r);
	/* Tenant B: not there at all. */
	assert_int_equal(treq(&g, "GET", path, g.b, NULL, 0, &r), 404);
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/vms/%s/attest", id);
	assert_int_equal(treq(&g, "POST", path, g.b, NULL, 0, &r), 404);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", "/v1/vms", g.b, NULL, 0, &r), 200);
	assert_int_equal(json_array_size(json_object_get(r.j, "vms")), 0);
	treply_free(&r);
	/* The operator sees every tenant's. */
	assert_int_equal(treq(&g, "GET", "/v1/vms", g.op, NULL, 0, &r), 200);
	assert_true(json_array_size(json_object_get(r.j, "vms")) >= 1);
	treply_free(&r);
}

static void
test_vms_attest_needs_an_enrolled_vtpm(void **state)
{
	struct treply r;
	char id[VM_ID_LEN + 1], path[128];

	(void)state;
	create("idle", id);
	snprintf(path, sizeof(path), "/v1/vms/%s/attest", id);
	assert_int_equal(treq(&g, "POST", path, g.a, NULL, 0, &r), 409);
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/vms/%s/attest?wait=999", id);
	assert_int_equal(treq(&g, "POST", path, g.a, NULL, 0, &r), 400);
	treply_free(&r);
	/* Enrolled: queued for its host (no agent answers here). */
	enrol(id, NODE_A, 0x11);
	snprintf(path, sizeof(path), "/v1/vms/%s/attest", id);
	assert_int_equal(treq(&g, "POST", path, g.a, NULL, 0, &r), 202);
	assert_string_equal(json_string_value(json_object_get(r.j, "state")),
	    "pending");
	assert_string_equal(json_string_value(json_object_get(r.j, "node")),
	    NODE_A);
	snprintf(path, sizeof(path), "/v1/vm-attestations/%lld",
	    (long long)json_integer_value(json_object_get(r.j, "request")));
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", path, g.a, NULL, 0, &r), 200);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", path, g.b, NULL, 0, &r), 404);
	treply_free(&r);
	/* ?wait: a stream that ends with the request as it stands (here
	 * still pending: no agent answers). */
	snprintf(path, sizeof(path), "/v1/vms/%s/attest?wait=1", id);
	assert_int_equal(treq(&g, "POST", path, g.a, NULL, 0, &r), 200);
	assert_non_null(r.j);
	assert_string_equal(json_string_value(json_object_get(r.j, "state")),
	    "pending");
	treply_free(&r);
}

static void
test_vms_guest_reference_values_are_per_tenant_and_strict(void **state)
{
	const char *bad = "{\"pcrs\": {\"4\": [\"xyz\"]}}";
	struct treply r;

	(void)state;
	assert_int_equal(treq(&g, "PUT", "/v1/guest-reference-values", g.a, bad,
	    strlen(bad), &r), 400);
	assert_non_null(strstr(treply_detail(&r), "pcrs"));
	treply_free(&r);
	assert_int_equal(treq(&g, "PUT", "/v1/guest-reference-values", g.a, REFS,
	    strlen(REFS), &r), 200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "version")),
	    1);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", "/v1/guest-reference-values", g.a, NULL,
	    0, &r), 200);
	assert_int_equal(json_integer_value(json_object_get(r.j, "version")),
	    1);
	assert_true(json_is_object(json_object_get(r.j, "document")));
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", "/v1/guest-reference-values", g.b, NULL,
	    0, &r), 404);
	treply_free(&r);
}

static void
test_vms_store_enrolment_places_the_vm_once(void **state)
{
	struct vm_placement *pl = NULL;
	struct vm_vtpm_reg reg;
	struct vm_rec v;
	char id[VM_ID_LEN + 1];
	uint8_t blob[4] = { 1, 2, 3, 4 }, name[34], h[32];
	size_t n = 0;

	(void)state;
	assert_int_equal(store_vm_create(g.vc.store, "acme", "db", id), 0);
	assert_int_equal(store_vm_create(g.vc.store, "acme", "db", id),
	    VIGIL_EEXIST);
	assert_int_equal(store_vm_create(g.vc.store, "acme", "db2", id), 0);
	memset(name, 0x22, sizeof(name));
	memset(h, 0x22, sizeof(h));
	memset(&reg, 0, sizeof(reg));
	reg.vm_id = id;
	reg.node_id = NODE_A;
	reg.ek_pub = reg.ek_cert = reg.ak_pub = blob;
	reg.ek_pub_len = reg.ek_cert_len = reg.ak_pub_len = sizeof(blob);
	reg.ak_name = name;
	reg.ak_name_len = sizeof(name);
	reg.secret_hash = h;
	assert_int_equal(store_vm_vtpm_register(g.vc.store, &reg), 0);
	assert_int_equal(store_vm_get(g.vc.store, id, "acme", &v), 0);
	assert_int_equal(v.vtpm_state, VM_VTPM_PENDING);
	assert_string_equal(v.host_node, "");
	vm_rec_free(&v);
	/* Activation only by the node that registered. */
	assert_int_equal(store_vm_vtpm_activate(g.vc.store, id, NODE_B),
	    VIGIL_EINVAL);
	assert_int_equal(store_vm_vtpm_activate(g.vc.store, id, NODE_A), 0);
	assert_int_equal(store_vm_get(g.vc.store, id, "globex", &v),
	    VIGIL_ENOTFOUND);
	assert_int_equal(store_vm_get(g.vc.store, id, NULL, &v), 0);
	assert_int_equal(v.vtpm_state, VM_VTPM_ENROLLED);
	assert_string_equal(v.host_node, NODE_A);
	vm_rec_free(&v);
	assert_int_equal(store_vm_placements(g.vc.store, id, &pl, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pl[0].node_id, NODE_A);
	assert_string_equal(pl[0].event, "start");
	free(pl);
	/* Another node cannot enrol it while it is placed on A. */
	reg.node_id = NODE_B;
	assert_int_equal(store_vm_vtpm_register(g.vc.store, &reg),
	    VIGIL_EEXIST);
}

static void
test_vms_store_attestation_request_is_single_use(void **state)
{
	struct vm_attest_req q, got, *rows = NULL;
	struct vm_result_commit c;
	struct vm_rec v;
	char id[VM_ID_LEN + 1];
	size_t n = 0;

	(void)state;
	assert_int_equal(store_vm_create(g.vc.store, "acme", "once", id), 0);
	enrol(id, NODE_C, 0x33);
	assert_int_equal(store_vm_attest_add(g.vc.store, id, NODE_C, 60, &q),
	    0);
	assert_int_equal(store_vm_attest_pending(g.vc.store, NODE_C,
	    q.created_at, 16, &rows, &n), 0);
	assert_true(n >= 1);
	vm_attest_reqs_free(rows, n);
	assert_int_equal(store_vm_attest_by_nonce(g.vc.store, q.nonce,
	    VM_NONCE_LEN, &got), 0);
	assert_int_equal(got.id, q.id);
	assert_int_equal(got.done, 0);
	vm_attest_req_clear(&got);
	memset(&c, 0, sizeof(c));
	c.req_id = q.id;
	c.vm_id = id;
	c.node_id = NODE_C;
	c.status = "affirming";
	c.result_json = "{\"status\":\"affirming\"}";
	c.qs_ok = 1;
	c.clock = 1234;
	c.reset_count = 2;
	assert_int_equal(store_vm_result(g.vc.store, &c), 0);
	assert_int_equal(store_vm_result(g.vc.store, &c), VIGIL_EEXIST);
	assert_int_equal(store_vm_get(g.vc.store, id, NULL, &v), 0);
	assert_string_equal(v.status, "affirming");
	assert_int_equal(v.has_clock, 1);
	assert_int_equal(v.clock, 1234);
	assert_int_equal(v.reset_count, 2);
	vm_rec_free(&v);
	/* Expired requests are not handed out. */
	assert_int_equal(store_vm_attest_add(g.vc.store, id, NODE_C, 0, &q),
	    0);
	assert_int_equal(store_vm_attest_pending(g.vc.store, NODE_C,
	    q.created_at, 16, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
}

static void
test_vms_migration_moves_placement_and_releases_the_source(void **state)
{
	struct vm_migration *m = NULL;
	struct vm_result_commit c;
	struct vm_attest_req q;
	struct vm_rec v;
	struct treply r;
	char id[VM_ID_LEN + 1], (*rel)[VM_ID_LEN + 1] = NULL, path[128];
	const uint8_t blob[5] = { 9, 8, 7, 6, 5 };
	json_t *pl;
	size_t n = 0, i;
	int found = 0;

	(void)state;
	create("mover", id);
	enrol(id, NODE_A, 0x44);
	/* Only the host hands the VM over. */
	assert_int_equal(store_vm_migration_add(g.vc.store, id, NODE_B,
	    NODE_A, blob, sizeof(blob)), VIGIL_EDENIED);
	assert_int_equal(store_vm_migration_add(g.vc.store, id, NODE_A,
	    NODE_B, blob, sizeof(blob)), 0);
	assert_int_equal(store_vm_migrations_for(g.vc.store, NODE_B, &m, &n),
	    0);
	for (i = 0; i < n; i++)
		if (strcmp(m[i].vm_id, id) == 0) {
			found = 1;
			assert_int_equal(m[i].blob_len, sizeof(blob));
			assert_memory_equal(m[i].blob, blob, sizeof(blob));
			assert_string_equal(m[i].source_node, NODE_A);
		}
	assert_true(found);
	vm_migrations_free(m, n);
	assert_int_equal(store_vm_get(g.vc.store, id, NULL, &v), 0);
	assert_string_equal(v.migrate_to, NODE_B);
	assert_string_equal(v.host_node, NODE_A);
	vm_rec_free(&v);
	/* Not released before the target attested. */
	assert_int_equal(store_vm_released(g.vc.store, NODE_A, 0, &rel, &n),
	    0);
	for (i = 0; i < n; i++)
		assert_string_not_equal(rel[i], id);
	free(rel);
	/* The target's accepted attestation completes the move. */
	assert_int_equal(store_vm_attest_add(g.vc.store, id, NODE_B, 60, &q),
	    0);
	memset(&c, 0, sizeof(c));
	c.req_id = q.id;
	c.vm_id = id;
	c.node_id = NODE_B;
	c.status = "affirming";
	c.result_json = "{}";
	c.move = 1;
	assert_int_equal(store_vm_result(g.vc.store, &c), 0);
	assert_int_equal(store_vm_get(g.vc.store, id, NULL, &v), 0);
	assert_string_equal(v.host_node, NODE_B);
	assert_string_equal(v.migrate_to, "");
	vm_rec_free(&v);
	assert_int_equal(store_vm_released(g.vc.store, NODE_A, 0, &rel, &n),
	    0);
	for (found = 0, i = 0; i < n; i++)
		found |= strcmp(rel[i], id) == 0;
	assert_true(found);
	free(rel);
	assert_int_equal(store_vm_released(g.vc.store, NODE_B, 0, &rel, &n),
	    0);
	for (i = 0; i < n; i++)
		assert_string_not_equal(rel[i], id);
	free(rel);
	/* The placement history, through the API: A then B. */
	snprintf(path, sizeof(path), "/v1/vms/%s", id);
	assert_int_equal(treq(&g, "GET", path, g.a, NULL, 0, &r), 200);
	pl = json_object_get(r.j, "placements");
	assert_int_equal(json_array_size(pl), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(pl, 0), "node")), NODE_A);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(pl, 1), "node")), NODE_B);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(pl, 1), "event")), "migrate");
	assert_string_equal(json_string_value(json_object_get(r.j,
	    "host_node")), NODE_B);
	treply_free(&r);
}

/* GET /v1/vms pages by id: ?limit= and the next_cursor it returns walk
 * the tenant's VMs once each; a bad limit or cursor is a 400. */
static void
test_vms_list_is_cursor_paginated(void **state)
{
	char id[VM_ID_LEN + 1], path[160], cursor[80] = "";
	struct treply r;
	size_t seen = 0, pages = 0, total;
	json_t *next;

	create("page-1", id);
	create("page-2", id);
	create("page-3", id);
	assert_int_equal(treq(&g, "GET", "/v1/vms", g.a, NULL, 0, &r), 200);
	total = json_array_size(json_object_get(r.j, "vms"));
	assert_true(total >= 3);
	assert_true(json_is_null(json_object_get(r.j, "next_cursor")));
	treply_free(&r);
	do {
		snprintf(path, sizeof(path), "/v1/vms?limit=2%s%s",
		    cursor[0] ? "&cursor=" : "", cursor);
		assert_int_equal(treq(&g, "GET", path, g.a, NULL, 0, &r), 200);
		seen += json_array_size(json_object_get(r.j, "vms"));
		assert_true(json_array_size(json_object_get(r.j, "vms")) <= 2);
		next = json_object_get(r.j, "next_cursor");
		snprintf(cursor, sizeof(cursor), "%s",
		    json_is_string(next) ? json_string_value(next) : "");
		treply_free(&r);
		pages++;
	} while (cursor[0] != '\0' && pages < 100);
	assert_int_equal(seen, total);
	assert_int_equal(pages, (total + 1) / 2);
	assert_int_equal(treq(&g, "GET", "/v1/vms?limit=0", g.a, NULL, 0, &r),
	    400);
	treply_free(&r);
	assert_int_equal(treq(&g, "GET", "/v1/vms?cursor=%20x", g.a, NULL, 0,
	    &r), 400);
	treply_free(&r);
}

/* A node with this id tag and host name in the store, activated or not. */
static void
named_node(char tag, const char *hostname, int activate, char id[65])
{
	static uint8_t ek[] = { 0, 4, 1, 2, 3, 4 };
	static uint8_t ak[] = { 0, 4, 9, 9, 9, 9 };
	struct agent_rec a;

	memset(&a, 0, sizeof(a));
	memset(a.id, tag, 64);
	snprintf(a.hostname, sizeof(a.hostname), "%s", hostname);
	a.ek_pub = ek;
	a.ek_pub_len = sizeof(ek);
	a.ak_pub = ak;
	a.ak_pub_len = sizeof(ak);
	a.ak_name[1] = 0x0b;
	memset(a.ak_name + 2, tag, 32);
	a.ak_name_len = 34;
	memset(a.secret_hash, tag, SHA256_LEN);
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	if (activate)
		assert_int_equal(store_agent_activate(g.vc.store, a.id,
		    a.secret_hash, NULL, NULL), 0);
	memcpy(id, a.id, 65);
}

/* Issue 9: a migration target named by host name resolves only to the one
 * active node with that name; a name two active nodes report is refused
 * naming both, a pending node is no target, by name or by id. */
static void
test_vms_target_by_name_is_unique_and_active(void **state)
{
	char x[65], y[65], p[65], path[200], want[300];
	struct treply r;

	named_node('x', "twin", 1, x);
	named_node('p', "lonely", 0, p);
	/* one active "twin": resolves (then refused: not affirming) */
	assert_int_equal(treq(&g, "GET", "/v1/nodes/twin/mige-key", g.op,
	    NULL, 0, &r), 409);
	assert_string_equal(treply_detail(&r), "the target node is not "
	    "affirming");
	treply_free(&r);
	named_node('y', "twin", 1, y);
	assert_int_equal(treq(&g, "GET", "/v1/nodes/twin/mige-key", g.op,
	    NULL, 0, &r), 409);
	snprintf(want, sizeof(want), "host name twin is ambiguous: active "
	    "nodes %s and %s (at least) both report it; name the target node "
	    "by its id", x, y);
	assert_string_equal(treply_detail(&r), want);
	assert_string_equal(json_string_value(json_object_get(r.j, "type")),
	    "urn:vigil:problem:ambiguous-node");
	treply_free(&r);
	/* by id, each is itself */
	snprintf(path, sizeof(path), "/v1/nodes/%s/mige-key", y);
	assert_int_equal(treq(&g, "GET", path, g.op, NULL, 0, &r), 409);
	assert_string_equal(treply_detail(&r), "the target node is not "
	    "affirming");
	treply_free(&r);
	/* a pending node is no target */
	assert_int_equal(treq(&g, "GET", "/v1/nodes/lonely/mige-key", g.op,
	    NULL, 0, &r), 404);
	assert_string_equal(treply_detail(&r), "no active node lonely");
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/nodes/%s/mige-key", p);
	assert_int_equal(treq(&g, "GET", path, g.op, NULL, 0, &r), 404);
	snprintf(want, sizeof(want), "node %s has not completed credential "
	    "activation", p);
	assert_string_equal(treply_detail(&r), want);
	treply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vms_target_by_name_is_unique_and_active),
		cmocka_unit_test(test_vms_tenant_sees_only_its_own_vms),
		cmocka_unit_test(test_vms_list_is_cursor_paginated),
		cmocka_unit_test(test_vms_attest_needs_an_enrolled_vtpm),
		cmocka_unit_test(
		    test_vms_guest_reference_values_are_per_tenant_and_strict),
		cmocka_unit_test(test_vms_store_enrolment_places_the_vm_once),
		cmocka_unit_test(
		    test_vms_store_attestation_request_is_single_use),
		cmocka_unit_test(
		    test_vms_migration_moves_placement_and_releases_the_source),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
