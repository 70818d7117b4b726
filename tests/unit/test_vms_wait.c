/* POST /v1/vms/{id}/attest?wait= on the real server with 2 server
 * threads: many more waits than threads are open at once, each a
 * suspended connection, and meanwhile other requests and an agent's push
 * are answered at once; a wait ends when the answer is committed, or when
 * it is over; a tenant's waits beyond [limits] attest_waits_per_tenant are
 * 429 naming the limit, and queue nothing; stopping the server ends the
 * waits still open. */
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
#include <time.h>

#include "buf.h"
#include "err.h"
#include "tests/unit/helpers/tsrv.h"
#include "verifier/store_vms.h"
#include "verifier/vmwait.h"

#define NODE_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define WAITS 8			/* 4 per server thread */

static struct tsrv g;

struct waiter {
	CURL *c;
	struct buf body;
	struct curl_slist *h;
	int done;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	return buf_add(u, p, sz * n) == 0 ? sz * n : 0;
}

static void
waiter_open(CURLM *m, struct waiter *w, const char *path)
{
	char url[256], auth[128];

	memset(w, 0, sizeof(*w));
	assert_non_null(w->c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", g.base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g.a);
	w->h = curl_slist_append(NULL, auth);
	curl_easy_setopt(w->c, CURLOPT_URL, url);
	curl_easy_setopt(w->c, CURLOPT_POST, 1L);
	curl_easy_setopt(w->c, CURLOPT_POSTFIELDSIZE, 0L);
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, w->h);
	curl_easy_setopt(w->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->c, CURLOPT_WRITEDATA, &w->body);
	curl_easy_setopt(w->c, CURLOPT_PRIVATE, w);
	curl_multi_add_handle(m, w->c);
}

/* Drives the transfers for up to ms; returns how many finished. */
static int
drive(CURLM *m, int ms)
{
	int64_t end = now_ms() + ms;
	int running, left, n = 0;
	CURLMsg *msg;

	do {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct waiter *w;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&w);
			w->done = 1;
			n++;
		}
		curl_multi_poll(m, NULL, 0, 10, NULL);
	} while (now_ms() < end);
	return n;
}

static void
waiter_close(CURLM *m, struct waiter *w)
{
	curl_multi_remove_handle(m, w->c);
	curl_easy_cleanup(w->c);
	curl_slist_free_all(w->h);
	buf_free(&w->body);
}

static void
enrol(const char *vm, const char *node)
{
	struct vm_vtpm_reg reg;
	uint8_t blob[8], name[34], h[32];

	memset(blob, 0x42, sizeof(blob));
	memset(name, 0x42, sizeof(name));
	memset(h, 0x42, sizeof(h));
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

static size_t
pending(void)
{
	struct vm_attest_req *rows = NULL;
	size_t n = 0;

	assert_int_equal(store_vm_attest_pending(g.vc.store, NODE_A,
	    (int64_t)time(NULL), 64, &rows, &n), 0);
	vm_attest_reqs_free(rows, n);
	return n;
}

static void
test_vms_attest_waits_hold_no_server_thread(void **state)
{
	struct waiter w[WAITS + 1];
	struct vm_result_commit c;
	struct vm_attest_req *rows = NULL;
	struct treply r;
	char vm[VM_ID_LEN + 1], path[128];
	int64_t t0, took;
	json_t *j;
	size_t n, i;
	CURLM *m;
	int k, fin = 0, answered = -1;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);	/* outlives tsrv_stop's */
	tsrv_prepare(&g, "test-vms-wait");
	g.cfg.threads = 2;
	g.cfg.attest_waits_per_tenant = WAITS;
	tsrv_listen(&g);
	assert_int_equal(store_vm_create(g.vc.store, "acme", "w", vm), 0);
	enrol(vm, NODE_A);
	assert_non_null(m = curl_multi_init());
	snprintf(path, sizeof(path), "/v1/vms/%s/attest?wait=60", vm);
	for (k = 0; k < WAITS; k++)
		waiter_open(m, &w[k], path);
	t0 = now_ms();
	while (vmwait_suspended() < WAITS && now_ms() - t0 < 10000)
		drive(m, 20);
	assert_int_equal(vmwait_suspended(), WAITS);
	assert_int_equal(pending(), WAITS);

	/* One more wait is over the tenant's limit: 429, nothing queued. */
	assert_int_equal(treq(&g, "POST", path, g.a, NULL, 0, &r), 429);
	assert_string_equal(json_string_value(json_object_get(r.j, "type")),
	    "urn:vigil:problem:too-many-waits");
	assert_non_null(strstr(treply_detail(&r),
	    "[limits] attest_waits_per_tenant = 8"));
	treply_free(&r);
	assert_int_equal(pending(), WAITS);

	/* Others are served at once: reads, an agent's push (refused
	 * here, it is not protobuf, but answered), an attest without
	 * ?wait. With a thread per waiter these would queue behind them. */
	t0 = now_ms();
	for (k = 0; k < 20; k++) {
		assert_int_equal(treq(&g, "GET", "/healthz", NULL, NULL, 0,
		    &r), 200);
		treply_free(&r);
	}
	assert_int_equal(treq(&g, "POST", "/v1/agents/" NODE_A "/evidence",
	    NULL, "x", 1, &r), 400);
	treply_free(&r);
	snprintf(path, sizeof(path), "/v1/vms/%s/attest", vm);
	assert_int_equal(treq(&g, "POST", path, g.a, NULL, 0, &r), 202);
	treply_free(&r);
	took = now_ms() - t0;
	if (took > 2000)
		fail_msg("22 requests took %lld ms beside %d waits",
		    (long long)took, WAITS);
	assert_int_equal(vmwait_suspended(), WAITS);

	/* The answer to one request ends its wait, with the result. */
	assert_int_equal(store_vm_attest_pending(g.vc.store, NODE_A,
	    (int64_t)time(NULL), 64, &rows, &n), 0);
	assert_true(n >= 1);
	memset(&c, 0, sizeof(c));
	c.req_id = rows[0].id;
	c.vm_id = vm;
	c.node_id = NODE_A;
	c.status = "affirming";
	c.result_json = "{\"status\":\"affirming\"}";
	c.qs_ok = 1;
	c.clock = 10;
	assert_int_equal(store_vm_result(g.vc.store, &c), 0);
	t0 = now_ms();
	while (fin == 0 && now_ms() - t0 < 3000)
		fin += drive(m, 20);
	assert_int_equal(fin, 1);
	for (i = 0; i < WAITS; i++)
		if (w[i].done)
			answered = (int)i;
	assert_true(answered >= 0);
	assert_non_null(j = json_loadb((const char *)w[answered].body.data,
	    w[answered].body.len, 0, NULL));
	assert_int_equal(json_integer_value(json_object_get(j, "request")),
	    rows[0].id);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "done");
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "affirming");
	json_decref(j);
	vm_attest_reqs_free(rows, n);
	assert_int_equal(vmwait_suspended(), WAITS - 1);

	/* A slot is free again: a short wait ends when it is over. */
	snprintf(path, sizeof(path), "/v1/vms/%s/attest?wait=1", vm);
	waiter_open(m, &w[WAITS], path);
	t0 = now_ms();
	while (!w[WAITS].done && now_ms() - t0 < 5000)
		drive(m, 20);
	assert_true(w[WAITS].done);
	assert_non_null(j = json_loadb((const char *)w[WAITS].body.data,
	    w[WAITS].body.len, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    "pending");
	json_decref(j);

	/* Stopping the server ends the waits still open. */
	assert_int_equal(tsrv_stop(&g), 0);
	assert_int_equal(vmwait_suspended(), 0);
	drive(m, 200);
	for (k = 0; k <= WAITS; k++)
		waiter_close(m, &w[k]);
	curl_multi_cleanup(m);
	curl_global_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vms_attest_waits_hold_no_server_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
