/* Signed results and the JWK set (see results.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_who.h"
#include "err.h"
#include "log.h"
#include "ear.h"
#include "node_status.h"
#include "results.h"
#include "store.h"
#include "store_comp.h"
#include "store_vms.h"

/* One kind of object with results. load: 0 and the submodules when the
 * caller may see id; VIGIL_ENOTFOUND otherwise (the route answers 404);
 * other errors are the store's. */
struct results_kind {
	const char *name;
	int (*load)(struct http_req *req, const struct api_who *w,
	    const char *id, json_t *submods);
};

static struct {
	pthread_mutex_t mu;
	struct sigkeys *keys;
	unsigned ttl_s;
} results = { .mu = PTHREAD_MUTEX_INITIALIZER };

int
results_key_dir(const struct vconfig *cfg, char out[PATH_MAX])
{
	const char *slash;
	size_t n;

	if (cfg->results_key_dir[0] != '\0') {
		snprintf(out, PATH_MAX, "%s", cfg->results_key_dir);
		return 0;
	}
	slash = strrchr(cfg->store_path, '/');
	n = slash != NULL ? (size_t)(slash - cfg->store_path) : 0;
	if (slash == cfg->store_path)
		n = 1;		/* the store is in / */
	if (n + sizeof("/keys") > PATH_MAX)
		return VIGIL_ETOOBIG;
	if (n == 0)
		snprintf(out, PATH_MAX, "keys");
	else
		snprintf(out, PATH_MAX, "%.*s%skeys", (int)n, cfg->store_path,
		    n == 1 && cfg->store_path[0] == '/' ? "" : "/");
	return 0;
}

int
results_start(const struct vconfig *cfg)
{
	struct sigkeys *k = NULL;
	char dir[PATH_MAX];
	int e;

	if ((e = results_key_dir(cfg, dir)) != 0 ||
	    (e = sigkeys_open(dir, &k)) != 0)
		return e;
	pthread_mutex_lock(&results.mu);
	sigkeys_free(results.keys);
	results.keys = k;
	results.ttl_s = cfg->results_ttl_s ? cfg->results_ttl_s : 300;
	pthread_mutex_unlock(&results.mu);
	return 0;
}

void
results_stop(void)
{
	pthread_mutex_lock(&results.mu);
	sigkeys_free(results.keys);
	results.keys = NULL;
	pthread_mutex_unlock(&results.mu);
}

int
results_submod(const char *status, const char *vector_json,
    int64_t appraised_at, json_t **out)
{
	json_t *v;

	*out = NULL;
	if ((v = json_loads(vector_json, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || !json_is_object(v)) {
		json_decref(v);
		log_err("results: stored vector is not a JSON object");
		return VIGIL_EINVAL;
	}
	if ((*out = json_pack("{s:s, s:o, s:I}", "ear.status", status,
	    "ear.trustworthiness-vector", v, RESULTS_APPRAISED_AT,
	    (json_int_t)appraised_at)) == NULL)
		return VIGIL_ENOMEM;
	return 0;
}

/* The oldest RESULTS_APPRAISED_AT of the submodules (0 when none has
 * one): a result is only as recent as the oldest appraisal it rests on. */
static int64_t
results_oldest(const json_t *submods)
{
	const char *k;
	json_t *m;
	int64_t t, oldest = 0;

	json_object_foreach((json_t *)submods, k, m) {
		(void)k;
		t = (int64_t)json_integer_value(json_object_get(m,
		    RESULTS_APPRAISED_AT));
		if (t > 0 && (oldest == 0 || t < oldest))
			oldest = t;
	}
	return oldest;
}

int
results_claims(const char *kind, const char *id, json_t *submods,
    const char *nonce, int64_t iat, unsigned ttl_s, json_t **out)
{
	char sub[256];
	json_t *c;

	*out = NULL;
	snprintf(sub, sizeof(sub), "%s/%s", kind, id);
	c = json_pack("{s:s, s:I, s:I, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:o}",
	    "eat_profile", RESULTS_PROFILE,
	    "iat", (json_int_t)iat,
	    "exp", (json_int_t)(iat + (int64_t)ttl_s),
	    "sub", sub,
	    "ear.verifier-id", "developer", RESULTS_DEVELOPER,
	    "build", RESULTS_BUILD,
	    "ear_verifier_id", "developer", RESULTS_DEVELOPER,
	    "build", RESULTS_BUILD,
	    "submods", submods);
	if (c == NULL)
		return VIGIL_ENOMEM;
	if (json_object_set_new(c, RESULTS_APPRAISED_AT, json_integer(
	    (json_int_t)results_oldest(submods))) != 0) {
		json_decref(c);
		return VIGIL_ENOMEM;
	}
	if (nonce != NULL &&
	    json_object_set_new(c, "eat_nonce", json_string(nonce)) != 0) {
		json_decref(c);
		return VIGIL_ENOMEM;
	}
	*out = c;
	return 0;
}

/* node: the latest appraisal of an agent; operators only. */
static int
results_node(struct http_req *req, const struct api_who *w, const char *id,
    json_t *submods)
{
	struct appraisal_row row;
	struct node_status ns;
	json_t *m = NULL;
	int e;

	if (!w->operator) {
		log_warn("results: tenant=%s asked for node %s: 404 (nodes "
		    "are the operators')", w->tenant, id);
		return VIGIL_ENOTFOUND;
	}
	memset(&row, 0, sizeof(row));
	if ((e = store_appraisal_latest(req->vc->store, id, &row)) != 0)
		return e;
	/* The status now (a stale node is `none`), as the API shows it. */
	if ((e = node_status_now(req->vc->store, req->vc->cfg, id,
	    (int64_t)time(NULL), &ns)) == 0 &&
	    (e = results_submod(ns.status, row.a.vector_json, row.last_at,
	    &m)) == 0 && json_object_set_new(submods, "tpm", m) != 0)
		e = VIGIL_ENOMEM;
	appraisal_row_clear(&row);
	return e;
}

/* The verdict of a computation's evidence chain as a submodule, with the
 * time of its latest checkpoint appraisal (its creation before any). The
 * verdict is final once decided (each checkpoint was checked against the
 * node's fresh affirming quotes around it), so the node's later status
 * does not change it. */
static int
results_comp_chain(struct store *s, const struct comp_rec *c, json_t **out)
{
	struct ckpt_row *rows = NULL;
	int64_t at = c->created_at;
	size_t n = 0, i;
	int e;

	*out = NULL;
	if ((e = store_ckpt_list(s, c->id, &rows, &n)) != 0)
		return e;
	for (i = 0; i < n; i++)
		if (rows[i].at > at)
			at = rows[i].at;
	free(rows);
	if (strcmp(c->status, "complete") == 0)
		*out = json_pack("{s:s, s:{s:i, s:i}, s:I}", "ear.status",
		    "affirming", "ear.trustworthiness-vector",
		    "instance-identity", 2, "executables", 2,
		    RESULTS_APPRAISED_AT, (json_int_t)at);
	else if (strcmp(c->status, "invalid") == 0)
		*out = json_pack("{s:s, s:{s:i, s:i}, s:I}", "ear.status",
		    "contraindicated", "ear.trustworthiness-vector",
		    "instance-identity", 2, "executables", 96,
		    RESULTS_APPRAISED_AT, (json_int_t)at);
	else
		*out = json_pack("{s:s, s:{}, s:I}", "ear.status", "none",
		    "ear.trustworthiness-vector", RESULTS_APPRAISED_AT,
		    (json_int_t)at);
	return *out != NULL ? 0 : VIGIL_ENOMEM;
}

/* computation: its checkpoints' verdict and its latest ended replay; the
 * owning tenant or operators. */
static int
results_computation(struct http_req *req, const struct api_who *w,
    const char *id, json_t *submods)
{
	struct replay_rec rp;
	struct comp_rec c;
	json_t *m = NULL;
	int e;

	memset(&c, 0, sizeof(c));
	memset(&rp, 0, sizeof(rp));
	if ((e = store_comp_get(req->vc->store, id, &c)) != 0)
		return e;
	if (!w->operator && strcmp(c.tenant, w->tenant) != 0) {
		log_warn("results: tenant=%s asked for computation %s of "
		    "another tenant: 404", w->tenant, id);
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	if ((e = results_comp_chain(req->vc->store, &c, &m)) != 0)
		goto out;
	if (json_object_set_new(submods, "checkpoints", m) != 0) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	e = store_replay_latest(req->vc->store, id, &rp);
	if (e == VIGIL_ENOTFOUND) {
		e = 0;
		goto out;
	}
	if (e != 0)
		goto out;
	m = NULL;
	if (strcmp(rp.status, "match") == 0)
		m = json_pack("{s:s, s:{s:i}, s:I}", "ear.status", "affirming",
		    "ear.trustworthiness-vector", "executables", 2,
		    RESULTS_APPRAISED_AT, (json_int_t)rp.finished_at);
	else if (strcmp(rp.status, "diverged") == 0)
		m = json_pack("{s:s, s:{s:i}, s:I}", "ear.status",
		    "contraindicated", "ear.trustworthiness-vector",
		    "executables", 96, RESULTS_APPRAISED_AT,
		    (json_int_t)rp.finished_at);
	else
		goto out;	/* queued, running, error: no verdict */
	if (m == NULL || json_object_set_new(submods, "replay", m) != 0)
		e = VIGIL_ENOMEM;
 out:
	replay_rec_clear(&rp);
	comp_rec_clear(&c);
	return e;
}

/* One part ("guest", "host") of a stored VM result as a submodule: its
 * stored status made worse by the host's status now (node_status_vm, as
 * GET /v1/vms/{id} shows the VM), appraised at `at`. */
static int
results_vm_part(const json_t *r, const char *part, const char *host_now,
    int64_t at, json_t *submods)
{
	const json_t *p = json_object_get(r, part);
	const char *st = json_string_value(json_object_get(p, "status"));
	json_t *v = json_object_get(p, "trustworthiness-vector");
	enum ear_tier t;

	if (st == NULL || ear_tier_parse(st, &t) != 0 || !json_is_object(v)) {
		log_err("results: stored VM result has no usable %s part",
		    part);
		return VIGIL_EINVAL;
	}
	if (json_object_set_new(submods, part, json_pack("{s:s, s:O, s:I}",
	    "ear.status", node_status_vm(st, host_now),
	    "ear.trustworthiness-vector", v, RESULTS_APPRAISED_AT,
	    (json_int_t)at)) != 0)
		return VIGIL_ENOMEM;
	return 0;
}

/* vm: its latest attestation (guest: the vTPM; host: the platform under
 * it), each made worse by the status its host has now; the owning tenant
 * or operators. No attestation yet: 404. guest is appraised when the VM
 * attested, host at the later of that and the host's latest appraisal
 * (the status it has now rests on both). */
static int
results_vm(struct http_req *req, const struct api_who *w, const char *id,
    json_t *submods)
{
	struct node_status ns;
	struct vm_rec v;
	json_t *r = NULL;
	int64_t host_at;
	int e;

	memset(&v, 0, sizeof(v));
	if (!store_vm_id_ok(id))
		return VIGIL_ENOTFOUND;
	if ((e = store_vm_get(req->vc->store, id, api_who_scope(w), &v)) != 0)
		return e;
	if (v.result_json == NULL) {
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	if ((r = json_loads(v.result_json, 0, NULL)) == NULL) {
		log_err("results: stored result of vm %s is not JSON", id);
		e = VIGIL_EINVAL;
		goto out;
	}
	if ((e = node_status_now(req->vc->store, req->vc->cfg, v.host_node,
	    (int64_t)time(NULL), &ns)) != 0)
		goto out;
	host_at = ns.appraised_at > v.last_appraisal_at ? ns.appraised_at :
	    v.last_appraisal_at;
	if ((e = results_vm_part(r, "guest", ns.status, v.last_appraisal_at,
	    submods)) == 0)
		e = results_vm_part(r, "host", ns.status, host_at, submods);
 out:
	json_decref(r);
	vm_rec_free(&v);
	return e;
}

static const struct results_kind results_kinds[] = {
	{ "node", results_node },
	{ "vm", results_vm },
	{ "computation", results_computation },
};

static int
results_nonce_ok(const char *n)
{
	size_t i, len = strlen(n);

	if (len < 8 || len > RESULTS_NONCE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = n[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int
routes_results_get(struct http_req *req, struct http_resp *resp)
{
	static const char prefix[] = "/v1/results/";
	const struct results_kind *k = NULL;
	const char *nonce = http_query(req, "nonce"), *p, *slash;
	json_t *submods = NULL, *claims = NULL;
	struct sigkeys *keys;
	struct api_who w;
	char *jwt = NULL;
	size_t i;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (strncmp(req->path, prefix, sizeof(prefix) - 1) != 0 ||
	    (slash = strchr(p = req->path + sizeof(prefix) - 1, '/')) ==
	    NULL)
		return VIGIL_EINVAL;
	for (i = 0; i < sizeof(results_kinds) / sizeof(results_kinds[0]); i++)
		if (strlen(results_kinds[i].name) == (size_t)(slash - p) &&
		    strncmp(results_kinds[i].name, p, (size_t)(slash - p)) == 0)
			k = &results_kinds[i];
	if (k == NULL) {
		http_problem(resp, 404, "not-found", "Not found",
		    "no results for this kind of object");
		return 0;
	}
	if (nonce != NULL && !results_nonce_ok(nonce)) {
		log_warn("results: refused: nonce is not 8-%d base64url "
		    "characters", RESULTS_NONCE_MAX);
		http_problem(resp, 400, "bad-request", "Bad request",
		    "nonce must be 8-%d base64url characters",
		    RESULTS_NONCE_MAX);
		return 0;
	}
	if ((submods = json_object()) == NULL)
		return VIGIL_ENOMEM;
	e = k->load(req, &w, req->id, submods);
	if (e == VIGIL_ENOTFOUND) {
		http_problem(resp, 404, "not-found", "Not found",
		    "no %s %s with a result", k->name, req->id);
		e = 0;
		goto out;
	}
	if (e != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "reading the %s failed: %s", k->name, vigil_strerror(e));
		e = 0;
		goto out;
	}
	if ((e = results_claims(k->name, req->id, submods, nonce,
	    (int64_t)time(NULL), results.ttl_s, &claims)) != 0)
		goto out;
	submods = NULL;
	pthread_mutex_lock(&results.mu);
	keys = results.keys;
	e = keys != NULL ? sigkeys_sign(keys, claims, &jwt) : VIGIL_ENOTFOUND;
	pthread_mutex_unlock(&results.mu);
	if (e == VIGIL_ENOTFOUND) {
		http_problem(resp, 503, "unavailable", "Signing unavailable",
		    "the verifier has no signing key loaded");
		e = 0;
		goto out;
	}
	if (e != 0)
		goto out;
	buf_free(&resp->body);
	resp->status = 200;
	resp->content_type = "application/jwt";
	e = buf_add(&resp->body, jwt, strlen(jwt));
 out:
	free(jwt);
	json_decref(claims);
	json_decref(submods);
	return e;
}

int
routes_jwks_get(struct http_req *req, struct http_resp *resp)
{
	json_t *set = NULL;
	int e;

	(void)req;
	pthread_mutex_lock(&results.mu);
	e = results.keys != NULL ? sigkeys_jwks(results.keys, &set) :
	    VIGIL_ENOTFOUND;
	pthread_mutex_unlock(&results.mu);
	if (e == VIGIL_ENOTFOUND) {
		http_problem(resp, 503, "unavailable", "Keys unavailable",
		    "the verifier has no signing key loaded");
		return 0;
	}
	if (e != 0)
		return e;
	return http_json(resp, 200, set);
}
