#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "err.h"
#include "log.h"
#include "tests/unit/helpers/tsrv.h"
#include "verifier/nonce.h"
#include "verifier/store.h"

void
tsrv_prepare(struct tsrv *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	log_init(name, getenv("VIGIL_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
	snprintf(t->dir, sizeof(t->dir), "/tmp/vigil-%s.XXXXXX", name);
	assert_non_null(mkdtemp(t->dir));
	config_defaults(&t->cfg);
	t->cfg.port = 0;
	t->cfg.insecure_http = 1;
	t->cfg.threads = 2;
	snprintf(t->cfg.store_path, sizeof(t->cfg.store_path), "%s/v.db",
	    t->dir);
	snprintf(t->cfg.openapi, sizeof(t->cfg.openapi), "docs/openapi.json");
}

void
tsrv_listen(struct tsrv *t)
{
	t->vc.cfg = &t->cfg;
	assert_int_equal(nonce_table_new(60000, NULL, &t->vc.nonces), 0);
	assert_int_equal(store_open(t->cfg.store_path, &t->vc.store), 0);
	assert_int_equal(tokens_create(t->vc.store, "operator", NULL, "t",
	    t->op), 0);
	assert_int_equal(tokens_create(t->vc.store, "tenant", "acme", "t",
	    t->a), 0);
	assert_int_equal(tokens_create(t->vc.store, "tenant", "globex", "t",
	    t->b), 0);
	assert_int_equal(http_start(&t->vc, &t->srv), 0);
	snprintf(t->base, sizeof(t->base), "http://127.0.0.1:%u",
	    (unsigned)http_port(t->srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
tsrv_start(struct tsrv *t, const char *name)
{
	tsrv_prepare(t, name);
	tsrv_listen(t);
}

int
tsrv_stop(struct tsrv *t)
{
	char cmd[128];

	http_stop(t->srv);
	store_close(t->vc.store);
	nonce_table_free(t->vc.nonces);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t
tsrv_on_body(char *p, size_t sz, size_t n, void *u)
{
	struct treply *r = u;

	return buf_add(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

long
treq(const struct tsrv *t, const char *method, const char *path,
    const char *token, const void *body, size_t len, struct treply *r)
{
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	CURL *c;

	memset(r, 0, sizeof(*r));
	assert_non_null(c = curl_easy_init());
	snprintf(url, sizeof(url), "%s%s", t->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tsrv_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->body.len > 0)
		r->j = json_loadb((const char *)r->body.data, r->body.len, 0,
		    NULL);
	return r->status;
}

void
treply_free(struct treply *r)
{
	json_decref(r->j);
	buf_free(&r->body);
}

const char *
treply_detail(const struct treply *r)
{
	const char *d = json_string_value(json_object_get(r->j, "detail"));

	return d != NULL ? d : "";
}
