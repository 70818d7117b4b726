/* Routes of repeatable computations (see routes_computations.h). These
 * routes are registered with HTTP_AUTH_NONE and authorize here: a tenant
 * or an operator token, and the tenant scoping of every object. */
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "appraise_checkpoint.h"
#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "routes_computations.h"
#include "store_comp.h"
#include "tokens.h"
#include "vigil.pb-c.h"
#include "valid.h"

#define COMP_MAX_ARGV 256
#define COMP_MAX_ARG 4096
#define COMP_MAX_ENV 128
#define COMP_MAX_INPUTS 256
#define COMP_MAX_PATH 1024
#define COMP_MAX_NAME 127
#define COMP_LIST_MAX 1000
#define COMP_CKPT_SHOWN 10000

/* The authenticated caller: role and tenant ("" for operators). */
struct comp_who {
	int operator;
	char tenant[64];
};

static int
comp_auth(struct http_req *req, struct http_resp *resp, struct comp_who *w)
{
	struct token_rec tok;
	const char *h;
	int e;

	memset(w, 0, sizeof(*w));
	h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    "Authorization");
	e = tokens_check(req->vc->store, h, &tok);
	if (e == VIGIL_EDENIED) {
		http_problem(resp, 401, "unauthorized", "Unauthorized",
		    "a valid tenant or operator bearer token is required");
		return e;
	}
	if (e != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "token lookup failed: %s", vigil_strerror(e));
		return e;
	}
	w->operator = strcmp(tok.role, "operator") == 0;
	snprintf(w->tenant, sizeof(w->tenant), "%s", tok.tenant);
	req->role = w->operator ? "operator" : "tenant";
	req->tenant = w->tenant;	/* w outlives the request's handler */
	return 0;
}

static int
comp_need_tenant(const struct comp_who *w, struct http_req *req,
    struct http_resp *resp)
{
	if (!w->operator && w->tenant[0] != '\0')
		return 0;
	log_warn("computations: refused: %s %s needs a tenant token",
	    req->method, req->path);
	http_problem(resp, 403, "forbidden", "Forbidden",
	    "this route needs a tenant token (the object belongs to a tenant)");
	return VIGIL_EDENIED;
}

static void
comp_bad(struct http_resp *resp, const char *what)
{
	log_warn("computations: refused: %s", what);
	http_problem(resp, 400, "bad-request", "Malformed request", "%s", what);
}

static void
comp_store_error(struct http_resp *resp, const char *what, int e)
{
	log_err("store: %s failed: %s", what, vigil_strerror(e));
	http_problem(resp, 503, "store", "Store unavailable", "%s failed: %s",
	    what, vigil_strerror(e));
}

static void
comp_not_found(struct http_resp *resp, const char *what, const char *id)
{
	http_problem(resp, 404, "not-found", "Not found", "no %s %.64s", what,
	    id);
}

static int
comp_is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* ---- recipe validation ---- */



/* A JSON string without NUL bytes of at most max bytes. */
static const char *
comp_jstr(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);

	if (s == NULL || json_string_length(v) != strlen(s) ||
	    strlen(s) > max)
		return NULL;
	return s;
}

/* {"path": ..., "sha256": ...}; why names the field. */
static int
comp_file_ok(const json_t *f, const char *field, char *why, size_t cap)
{
	const char *k, *p, *h;
	json_t *v;

	if (!json_is_object(f)) {
		snprintf(why, cap, "%s must be an object {path, sha256}", field);
		return 0;
	}
	json_object_foreach((json_t *)f, k, v) {
		if (strcmp(k, "path") != 0 && strcmp(k, "sha256") != 0) {
			snprintf(why, cap, "%s: unknown field \"%.40s\"", field,
			    k);
			return 0;
		}
	}
	p = comp_jstr(json_object_get(f, "path"), COMP_MAX_PATH);
	if (p == NULL || !valid_relpath(p, COMP_MAX_PATH)) {
		snprintf(why, cap, "%s.path must be a relative path without "
		    "\"..\" or empty segments", field);
		return 0;
	}
	h = json_string_value(json_object_get(f, "sha256"));
	if (h == NULL || !comp_is_hex(h, 64)) {
		snprintf(why, cap, "%s.sha256 must be 64 lowercase hex digits",
		    field);
		return 0;
	}
	return 1;
}

static int
comp_argv_ok(const json_t *argv, const char *exe, char *why, size_t cap)
{
	size_t i, total = 0;
	json_t *v;
	const char *s;

	if (!json_is_array(argv) || json_array_size(argv) == 0 ||
	    json_array_size(argv) > COMP_MAX_ARGV) {
		snprintf(why, cap, "argv must be an array of 1-%d strings",
		    COMP_MAX_ARGV);
		return 0;
	}
	json_array_foreach(argv, i, v) {
		if ((s = comp_jstr(v, COMP_MAX_ARG)) == NULL) {
			snprintf(why, cap, "argv[%zu] must be a string of at "
			    "most %d bytes without NUL", i, COMP_MAX_ARG);
			return 0;
		}
		total += strlen(s);
	}
	if (total > 32 * 1024) {
		snprintf(why, cap, "argv is over 32 KiB in total");
		return 0;
	}
	if (strcmp(json_string_value(json_array_get(argv, 0)), exe) != 0) {
		snprintf(why, cap, "argv[0] must equal executable.path");
		return 0;
	}
	return 1;
}

static int
comp_env_ok(const json_t *env, char *why, size_t cap)
{
	const char *k;
	json_t *v;

	if (env == NULL)
		return 1;
	if (!json_is_object(env) || json_object_size(env) > COMP_MAX_ENV) {
		snprintf(why, cap, "env must be an object of at most %d "
		    "strings", COMP_MAX_ENV);
		return 0;
	}
	json_object_foreach((json_t *)env, k, v) {
		if (!valid_env_name(k)) {
			snprintf(why, cap, "env: \"%.40s\" is not a variable "
			    "name (letters, digits, _; not "
			    "VIGIL_CHECKPOINT_FD)", k);
			return 0;
		}
		if (comp_jstr(v, COMP_MAX_ARG) == NULL) {
			snprintf(why, cap, "env.%.40s must be a string of at "
			    "most %d bytes without NUL", k, COMP_MAX_ARG);
			return 0;
		}
	}
	return 1;
}

static int
comp_inputs_ok(const json_t *in, const char *exe, char *why, size_t cap)
{
	char field[32];
	const char *p, *q;
	size_t i, j;
	json_t *v;

	if (in == NULL)
		return 1;
	if (!json_is_array(in) || json_array_size(in) > COMP_MAX_INPUTS) {
		snprintf(why, cap, "inputs must be an array of at most %d "
		    "files", COMP_MAX_INPUTS);
		return 0;
	}
	json_array_foreach(in, i, v) {
		snprintf(field, sizeof(field), "inputs[%zu]", i);
		if (!comp_file_ok(v, field, why, cap))
			return 0;
		p = json_string_value(json_object_get(v, "path"));
		if (strcmp(p, exe) == 0) {
			snprintf(why, cap, "%s.path names the executable", field);
			return 0;
		}
		for (j = 0; j < i; j++) {
			q = json_string_value(json_object_get(
			    json_array_get(in, j), "path"));
			if (strcmp(p, q) == 0) {
				snprintf(why, cap, "%s.path repeats inputs[%zu]",
				    field, j);
				return 0;
			}
		}
	}
	return 1;
}

/* The recipe body, strictly: known fields only, each checked; why names
 * the first offending field. */
static int
comp_recipe_ok(const json_t *b, char *why, size_t cap)
{
	static const char *const known[] = { "name", "argv", "env",
	    "executable", "inputs", "checkpoint_every" };
	const json_t *exe, *every;
	const char *k, *name;
	json_t *v;
	size_t i;

	if (!json_is_object(b)) {
		snprintf(why, cap, "the body must be a JSON object");
		return 0;
	}
	json_object_foreach((json_t *)b, k, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(why, cap, "unknown field \"%.40s\"", k);
			return 0;
		}
	}
	if ((v = json_object_get(b, "name")) != NULL) {
		name = comp_jstr(v, COMP_MAX_NAME);
		for (i = 0; name != NULL && name[i] != '\0'; i++)
			if (name[i] < 0x20 || name[i] == 0x7f)
				name = NULL;
		if (name == NULL) {
			snprintf(why, cap, "name must be a string of at most "
			    "%d printable bytes", COMP_MAX_NAME);
			return 0;
		}
	}
	exe = json_object_get(b, "executable");
	if (exe == NULL) {
		snprintf(why, cap, "executable is required");
		return 0;
	}
	if (!comp_file_ok(exe, "executable", why, cap))
		return 0;
	k = json_string_value(json_object_get(exe, "path"));
	if (!comp_argv_ok(json_object_get(b, "argv"), k, why, cap) ||
	    !comp_env_ok(json_object_get(b, "env"), why, cap) ||
	    !comp_inputs_ok(json_object_get(b, "inputs"), k, why, cap))
		return 0;
	every = json_object_get(b, "checkpoint_every");
	if (every != NULL && (!json_is_integer(every) ||
	    json_integer_value(every) < 0 ||
	    json_integer_value(every) > ((json_int_t)1 << 40))) {
		snprintf(why, cap, "checkpoint_every must be an integer 0..2^40 "
		    "(bytes; 0: markers only)");
		return 0;
	}
	return 1;
}

static int
comp_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 &&
	    len == SHA256_LEN ? 0 : VIGIL_ECRYPTO;
}

static json_t *
comp_hex(const uint8_t *p, size_t n)
{
	char h[2 * 64 + 1];

	if (n > 64)
		return json_null();
	hex_encode(p, n, h);
	return json_string(h);
}

int
routes_comp_create(struct http_req *req, struct http_resp *resp)
{
	struct comp_who w;
	struct comp_rec c;
	json_error_t jerr;
	json_t *b = NULL;
	char why[200], *canon = NULL;
	uint8_t rnd[16];
	int e;

	memset(&c, 0, sizeof(c));
	if (comp_auth(req, resp, &w) != 0 ||
	    comp_need_tenant(&w, req, resp) != 0)
		return 0;
	b = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (b == NULL) {
		snprintf(why, sizeof(why), "the body is not JSON: %s",
		    jerr.text);
		comp_bad(resp, why);
		goto done;
	}
	if (!comp_recipe_ok(b, why, sizeof(why))) {
		comp_bad(resp, why);
		goto done;
	}
	if (json_object_set_new(b, "tenant", json_string(w.tenant)) != 0 ||
	    (canon = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		e = VIGIL_ENOMEM;
		goto fail;
	}
	if ((e = comp_sha256(canon, strlen(canon), c.recipe_sha256)) != 0)
		goto fail;
	ckpt_c0(c.recipe_sha256, c.c0);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		e = VIGIL_ECRYPTO;
		goto fail;
	}
	hex_encode(rnd, sizeof(rnd), c.id);
	snprintf(c.tenant, sizeof(c.tenant), "%s", w.tenant);
	snprintf(c.name, sizeof(c.name), "%s",
	    json_string_value(json_object_get(b, "name")) ?
	    json_string_value(json_object_get(b, "name")) : "");
	c.recipe_json = canon;
	c.created_at = (int64_t)time(NULL);
	if ((e = store_comp_add(req->vc->store, &c)) != 0) {
		comp_store_error(resp, "storing the computation", e);
		goto done;
	}
	log_info("computations: tenant=%s created computation %s (%s)",
	    w.tenant, c.id, c.name);
	http_json(resp, 201, json_pack("{s:s, s:o, s:o}", "id", c.id,
	    "recipe_sha256", comp_hex(c.recipe_sha256, SHA256_LEN), "c0",
	    comp_hex(c.c0, SHA256_LEN)));
	goto done;
 fail:
	http_problem(resp, 500, "internal", "Internal error",
	    "creating the computation failed: %s", vigil_strerror(e));
 done:
	free(canon);
	json_decref(b);
	return 0;
}

int
routes_blob_put(struct http_req *req, struct http_resp *resp)
{
	uint8_t want[SHA256_LEN], got[SHA256_LEN];
	struct comp_who w;
	uint64_t quota, held = 0;
	int e, exists = 0;

	if (comp_auth(req, resp, &w) != 0 ||
	    comp_need_tenant(&w, req, resp) != 0)
		return 0;
	if (!comp_is_hex(req->id, 64) ||
	    hex_decode(req->id, want, sizeof(want)) != 0) {
		comp_bad(resp, "the blob name must be its SHA-256 in 64 "
		    "lowercase hex digits");
		return 0;
	}
	if ((e = comp_sha256(req->body, req->body_len, got)) != 0)
		return e;
	if (memcmp(want, got, SHA256_LEN) != 0) {
		comp_bad(resp, "the body does not hash to the blob's name "
		    "(SHA-256)");
		return 0;
	}
	quota = req->vc->cfg->blob_quota_bytes;
	if ((e = store_comp_blob_exists(req->vc->store, want, &exists)) != 0 ||
	    (e = store_tenant_blob_put(req->vc->store, w.tenant, want,
	    req->body, req->body_len, quota, &held)) != 0) {
		if (e != VIGIL_ETOOBIG) {
			comp_store_error(resp, "storing the blob", e);
			return 0;
		}
		log_warn("blobs: refused: tenant=%s holds %llu bytes, blob %s "
		    "of %zu would pass [limits] blob_quota_bytes = %llu",
		    w.tenant, (unsigned long long)held, req->id,
		    req->body_len, (unsigned long long)quota);
		return http_problem(resp, 413, "quota-exceeded",
		    "Quota exceeded", "this tenant holds %llu bytes of blobs; "
		    "%zu more would pass its quota ([limits] blob_quota_bytes "
		    "= %llu)", (unsigned long long)held, req->body_len,
		    (unsigned long long)quota);
	}
	log_info("blobs: tenant=%s %s blob %s (%zu bytes)", w.tenant,
	    exists ? "re-sent" : "stored", req->id, req->body_len);
	/* The same answer whether the bytes were new or already stored
	 * (by anyone): a different status would tell one tenant that
	 * another holds exactly these bytes. */
	return http_json(resp, 201, json_pack("{s:s, s:I}",
	    "sha256", req->id, "size", (json_int_t)req->body_len));
}

/* ---- reads ---- */

static json_t *comp_replay_json(const struct replay_rec *r);

static json_t *
comp_summary(const struct comp_rec *c)
{
	char t[32];

	http_time(c->created_at, t);
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:s}",
	    "id", c->id, "tenant", c->tenant, "name", c->name,
	    "node", c->agent_id[0] ? json_string(c->agent_id) : json_null(),
	    "status", c->status,
	    "exit_status", c->has_end ? json_integer(c->exit_status) :
	    json_null(),
	    "count", c->has_end ? json_integer((json_int_t)c->count) :
	    json_null(),
	    "recipe_sha256", comp_hex(c->recipe_sha256, SHA256_LEN),
	    "created_at", t);
}

/* The computation named by the path if the caller may see it: 404 for a
 * tenant's request on another tenant's. */
static int
comp_visible(struct http_req *req, struct http_resp *resp,
    const struct comp_who *w, const char *id, struct comp_rec *c)
{
	int e;

	if (!comp_is_hex(id, COMP_ID_LEN)) {
		comp_not_found(resp, "computation", id);
		return VIGIL_ENOTFOUND;
	}
	e = store_comp_get(req->vc->store, id, c);
	if (e == 0 && !w->operator && strcmp(c->tenant, w->tenant) != 0) {
		log_warn("computations: tenant=%s asked for computation %s of "
		    "another tenant: 404", w->tenant, id);
		comp_rec_clear(c);
		e = VIGIL_ENOTFOUND;
	}
	if (e == VIGIL_ENOTFOUND)
		comp_not_found(resp, "computation", id);
	else if (e != 0)
		comp_store_error(resp, "reading the computation", e);
	return e;
}

int
routes_comp_list(struct http_req *req, struct http_resp *resp)
{
	const char *cursor = http_query(req, "cursor");
	const char *lim = http_query(req, "limit");
	struct comp_rec *rows = NULL;
	struct comp_who w;
	json_t *items;
	size_t n = 0, i;
	char *end;
	long limit = 100;
	int e;

	if (comp_auth(req, resp, &w) != 0)
		return 0;
	if (lim != NULL) {
		limit = strtol(lim, &end, 10);
		if (*lim == '\0' || *end != '\0' || limit < 1 ||
		    limit > COMP_LIST_MAX) {
			comp_bad(resp, "limit must be 1-1000");
			return 0;
		}
	}
	if (cursor != NULL && !comp_is_hex(cursor, COMP_ID_LEN)) {
		comp_bad(resp, "cursor is not a computation id");
		return 0;
	}
	if ((e = store_comp_list(req->vc->store, w.operator ? NULL : w.tenant,
	    cursor ? cursor : "", (size_t)limit, &rows, &n)) != 0) {
		comp_store_error(resp, "listing computations", e);
		return 0;
	}
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, comp_summary(&rows[i]));
	e = http_json(resp, 200, json_pack("{s:o, s:o}", "items", items,
	    "next_cursor", n == (size_t)limit && n > 0 ?
	    json_string(rows[n - 1].id) : json_null()));
	comp_recs_free(rows, n);
	return e;
}

static json_t *
comp_ckpt_json(const struct ckpt_row *r)
{
	return json_pack("{s:I, s:o, s:o, s:s, s:s, s:I, s:I, s:I, s:b, s:b}",
	    "index", (json_int_t)r->idx,
	    "state", comp_hex(r->state, SHA256_LEN),
	    "cumulative", comp_hex(r->cum, SHA256_LEN),
	    "verdict", ckpt_verdict_name(r->verdict),
	    "reason", r->reason,
	    "clock", (json_int_t)r->clock,
	    "reset_count", (json_int_t)r->reset_count,
	    "restart_count", (json_int_t)r->restart_count,
	    "commitment_ok", r->commitment_ok,
	    "pending", r->pending);
}

int
routes_comp_get(struct http_req *req, struct http_resp *resp)
{
	struct replay_rec rp;
	struct ckpt_row *rows = NULL;
	struct comp_who w;
	struct comp_rec c;
	json_t *o, *cks, *recipe;
	size_t n = 0, i;
	int e;

	memset(&c, 0, sizeof(c));
	if (comp_auth(req, resp, &w) != 0 ||
	    comp_visible(req, resp, &w, req->id, &c) != 0)
		return 0;
	if ((e = store_ckpt_list(req->vc->store, c.id, &rows, &n)) != 0) {
		comp_store_error(resp, "reading checkpoints", e);
		goto out;
	}
	o = comp_summary(&c);
	recipe = json_loads(c.recipe_json, 0, NULL);
	cks = json_array();
	for (i = 0; i < n && i < COMP_CKPT_SHOWN; i++)
		json_array_append_new(cks, comp_ckpt_json(&rows[i]));
	json_object_set_new(o, "recipe", recipe ? recipe : json_null());
	json_object_set_new(o, "c0", comp_hex(c.c0, SHA256_LEN));
	json_object_set_new(o, "reason", json_string(c.reason));
	json_object_set_new(o, "final_cumulative", c.has_end ?
	    comp_hex(c.final_cum, SHA256_LEN) : json_null());
	json_object_set_new(o, "checkpoints_recorded", json_integer(
	    (json_int_t)n));
	json_object_set_new(o, "checkpoints", cks);
	e = store_replay_latest(req->vc->store, c.id, &rp);
	if (e == 0) {
		json_object_set_new(o, "latest_replay", comp_replay_json(&rp));
		replay_rec_clear(&rp);
	} else {
		json_object_set_new(o, "latest_replay", json_null());
	}
	e = http_json(resp, 200, o);
 out:
	free(rows);
	comp_rec_clear(&c);
	return e;
}

static json_t *
comp_replay_json(const struct replay_rec *r)
{
	json_t *o, *div = NULL;
	char t[32];

	if (r->divergence_json != NULL)
		div = json_loads(r->divergence_json, 0, NULL);
	http_time(r->created_at, t);
	o = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:s}",
	    "id", r->id, "computation_id", r->comp_id, "status", r->status,
	    "checkpoints_compared", (json_int_t)r->compared,
	    "divergence", div ? div : json_null(),
	    "error", r->error ? json_string(r->error) : json_null(),
	    "created_at", t);
	if (o != NULL && r->finished_at != 0) {
		http_time(r->finished_at, t);
		json_object_set_new(o, "finished_at", json_string(t));
	}
	return o;
}

int
routes_comp_replay(struct http_req *req, struct http_resp *resp)
{
	struct replay_rec r;
	struct comp_who w;
	struct comp_rec c;
	uint8_t rnd[16];
	int e;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	if (comp_auth(req, resp, &w) != 0 ||
	    comp_visible(req, resp, &w, req->id, &c) != 0)
		return 0;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	hex_encode(rnd, sizeof(rnd), r.id);
	snprintf(r.comp_id, sizeof(r.comp_id), "%s", c.id);
	snprintf(r.tenant, sizeof(r.tenant), "%s", c.tenant);
	snprintf(r.status, sizeof(r.status), "queued");
	r.created_at = (int64_t)time(NULL);
	if ((e = store_replay_add(req->vc->store, &r)) != 0) {
		comp_store_error(resp, "queueing the replay", e);
		e = 0;
		goto out;
	}
	log_info("replays: %s queued replay %s of computation %s",
	    w.operator ? "operator" : w.tenant, r.id, c.id);
	e = http_json(resp, 202, json_pack("{s:s, s:s, s:s}", "id", r.id,
	    "computation_id", c.id, "status", "queued"));
 out:
	comp_rec_clear(&c);
	return e;
}

int
routes_replay_get(struct http_req *req, struct http_resp *resp)
{
	struct replay_rec r;
	struct comp_who w;
	int e;

	if (comp_auth(req, resp, &w) != 0)
		return 0;
	if (!comp_is_hex(req->id, COMP_ID_LEN)) {
		comp_not_found(resp, "replay", req->id);
		return 0;
	}
	e = store_replay_get(req->vc->store, req->id, &r);
	if (e == 0 && !w.operator && strcmp(r.tenant, w.tenant) != 0) {
		log_warn("replays: tenant=%s asked for replay %s of another "
		    "tenant: 404", w.tenant, req->id);
		replay_rec_clear(&r);
		e = VIGIL_ENOTFOUND;
	}
	if (e == VIGIL_ENOTFOUND) {
		comp_not_found(resp, "replay", req->id);
		return 0;
	}
	if (e != 0) {
		comp_store_error(resp, "reading the replay", e);
		return 0;
	}
	e = http_json(resp, 200, comp_replay_json(&r));
	replay_rec_clear(&r);
	return e;
}

/* ---- checkpoint evidence ---- */

static int
comp_window(void *ctx, const char *agent_id, uint32_t reset_count,
    uint32_t restart_count, uint64_t clock, struct qh_row *lo, int *have_lo,
    struct qh_row *hi, int *have_hi)
{
	return store_qh_window(ctx, agent_id, reset_count, restart_count,
	    clock, lo, have_lo, hi, have_hi);
}

static void
comp_checkpoint(struct vctx *vc, const struct agent_rec *a,
    const Vigil__Checkpoint *cp)
{
	struct ackpt_in in;
	struct ckpt_row row, prev;
	struct comp_rec c;
	const struct comp_rec *cref = NULL;
	int e, added = 0;

	memset(&c, 0, sizeof(c));
	memset(&in, 0, sizeof(in));
	e = comp_is_hex(cp->computation_id, COMP_ID_LEN) ?
	    store_comp_get(vc->store, cp->computation_id, &c) :
	    VIGIL_ENOTFOUND;
	if (e == 0)
		cref = &c;
	else if (e != VIGIL_ENOTFOUND) {
		log_err("checkpoint: agent=%s reading computation failed: %s",
		    a->id, vigil_strerror(e));
		return;
	}
	in.agent = a;
	in.cp = cp;
	in.comp = cref;
	in.max_gap_ms = (uint64_t)vc->cfg->interval_ms *
	    vc->cfg->stale_intervals;
	in.window = comp_window;
	in.window_ctx = vc->store;
	in.now = (int64_t)time(NULL);
	if (cref != NULL && cp->index == 1) {
		in.prev_cum = c.c0;
	} else if (cref != NULL && cp->index > 1) {
		e = store_ckpt_get(vc->store, c.id, cp->index - 1, &prev);
		if (e == 0)
			in.prev_cum = prev.cum;
		else if (e != VIGIL_ENOTFOUND)
			goto out;
	}
	e = appraise_checkpoint(&in, &row);
	if (e == VIGIL_ENOTFOUND || e == VIGIL_EINVAL) {
		log_warn("checkpoint: rejected: agent=%s computation=%.40s "
		    "index=%" PRIu64 ": %s", a->id, cp->computation_id,
		    cp->index, row.reason);
		goto out;
	}
	if (e != 0)
		goto out;
	if (c.agent_id[0] != '\0' && strcmp(c.agent_id, a->id) != 0) {
		/* Another node's claim on this computation: logged, never
		 * stored, so it cannot take an index of the real record. */
		log_warn("checkpoint: rejected: agent=%s computation=%s index=%"
		    PRIu64 ": %s", a->id, c.id, row.idx, row.reason);
		goto out;
	}
	if ((e = store_ckpt_add(vc->store, c.id, &row, &added)) != 0)
		goto out;
	if (!added)
		log_debug("checkpoint: computation=%s index=%" PRIu64
		    " already recorded", c.id, row.idx);
	else if (row.verdict == CKPT_VALID)
		log_info("checkpoint: computation=%s index=%" PRIu64 " valid "
		    "(agent=%s)", c.id, row.idx, a->id);
	else if (row.pending)
		log_info("checkpoint: computation=%s index=%" PRIu64 " quoted "
		    "after the push's quote: clock checked at the next one",
		    c.id, row.idx);
	else
		log_warn("checkpoint: %s: computation=%s index=%" PRIu64
		    " agent=%s: %s", ckpt_verdict_name(row.verdict), c.id,
		    row.idx, a->id, row.reason);
 out:
	if (e != 0 && e != VIGIL_ENOTFOUND && e != VIGIL_EINVAL)
		log_err("checkpoint: agent=%s computation=%.40s: %s", a->id,
		    cp->computation_id, vigil_strerror(e));
	comp_rec_clear(&c);
}

static void
comp_end(struct vctx *vc, const struct agent_rec *a,
    const Vigil__ComputationEnd *m)
{
	char status[16];
	int e;

	if (!comp_is_hex(m->computation_id, COMP_ID_LEN) ||
	    m->final_cumulative.len != CKPT_LEN || m->count > INT64_MAX) {
		log_warn("computation end: rejected: agent=%s computation=%.40s"
		    ": unknown id or malformed record", a->id,
		    m->computation_id);
		return;
	}
	e = store_comp_end(vc->store, m->computation_id, a->id,
	    m->exit_status, m->count, m->final_cumulative.data, status);
	if (e == VIGIL_ENOTFOUND)
		log_warn("computation end: rejected: agent=%s: unknown "
		    "computation %s", a->id, m->computation_id);
	else if (e != 0)
		log_err("computation end: computation=%s: %s",
		    m->computation_id, vigil_strerror(e));
	else
		log_info("computation end: computation=%s exit=%d count=%"
		    PRIu64 " status=%s", m->computation_id, m->exit_status,
		    m->count, status);
}

/* The checkpoints of this node that waited for a later quote: the push
 * quote just recorded settles them. */
static void
comp_resolve_pending(struct vctx *vc, const struct agent_rec *a)
{
	struct ckpt_pending *rows = NULL;
	struct ackpt_in in;
	size_t n = 0, i;
	int e;

	if ((e = store_ckpt_pending(vc->store, a->id, &rows, &n)) != 0) {
		log_err("checkpoint: agent=%s reading pending checkpoints "
		    "failed: %s", a->id, vigil_strerror(e));
		return;
	}
	memset(&in, 0, sizeof(in));
	in.agent = a;
	in.max_gap_ms = (uint64_t)vc->cfg->interval_ms *
	    vc->cfg->stale_intervals;
	in.window = comp_window;
	in.window_ctx = vc->store;
	for (i = 0; i < n; i++) {
		if ((e = appraise_checkpoint_recheck(&in, &rows[i].r)) != 0 ||
		    (e = store_ckpt_resolve(vc->store, rows[i].comp_id,
		    &rows[i].r)) != 0) {
			log_err("checkpoint: computation=%s index=%" PRIu64
			    ": clock re-check failed: %s", rows[i].comp_id,
			    rows[i].r.idx, vigil_strerror(e));
			continue;
		}
		if (rows[i].r.verdict == CKPT_VALID)
			log_info("checkpoint: computation=%s index=%" PRIu64
			    " valid (clock checked at the next quote)",
			    rows[i].comp_id, rows[i].r.idx);
		else
			log_warn("checkpoint: flagged: computation=%s index=%"
			    PRIu64 " agent=%s: %s", rows[i].comp_id,
			    rows[i].r.idx, a->id, rows[i].r.reason);
	}
	free(rows);
}

void
routes_comp_evidence(struct vctx *vc, const struct agent_rec *a,
    const struct item_in *items, size_t n, const enum item_outcome *outcomes,
    const struct quote_state *qs, const char *status)
{
	Vigil__Checkpoint *cp;
	Vigil__ComputationEnd *end;
	size_t i;
	int e;

	if (qs != NULL && (e = store_qh_add(vc->store, a->id,
	    qs->reset_count, qs->restart_count, qs->clock, status,
	    (int64_t)time(NULL))) != 0)
		log_err("quote history: agent=%s: %s", a->id,
		    vigil_strerror(e));
	else if (qs != NULL)
		comp_resolve_pending(vc, a);
	for (i = 0; i < n; i++) {
		if (outcomes != NULL && outcomes[i] == ITEM_CONFLICT)
			continue;
		if (items[i].kind == VIGIL__ITEM_KIND__ITEM_CHECKPOINT) {
			cp = vigil__checkpoint__unpack(NULL, items[i].body_len,
			    items[i].body);
			if (cp == NULL || cp->base.n_unknown_fields != 0)
				log_warn("checkpoint: rejected: agent=%s item "
				    "seq %" PRIu64 " is not a valid Checkpoint",
				    a->id, items[i].seq);
			else
				comp_checkpoint(vc, a, cp);
			if (cp != NULL)
				vigil__checkpoint__free_unpacked(cp, NULL);
		} else if (items[i].kind ==
		    VIGIL__ITEM_KIND__ITEM_COMPUTATION_END) {
			end = vigil__computation_end__unpack(NULL,
			    items[i].body_len, items[i].body);
			if (end == NULL || end->base.n_unknown_fields != 0)
				log_warn("computation end: rejected: agent=%s "
				    "item seq %" PRIu64 " is not a valid "
				    "ComputationEnd", a->id, items[i].seq);
			else
				comp_end(vc, a, end);
			if (end != NULL)
				vigil__computation_end__free_unpacked(end,
				    NULL);
		}
	}
}
