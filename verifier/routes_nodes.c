/* Operator routes on nodes and reference values, health, the OpenAPI
 * document. JSON shapes: docs/interfaces.md. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appraise_items.h"
#include "buf.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "openapi_doc.h"
#include "refvals.h"
#include "store.h"
#include "valid.h"

#define NODES_LIMIT_DEFAULT 50
#define NODES_LIMIT_MAX 500


/* ?limit=: 1..NODES_LIMIT_MAX. */
static int
nodes_limit(struct http_req *req, struct http_resp *resp, size_t *out)
{
	const char *v = http_query(req, "limit");
	unsigned long n;
	char *end;

	*out = NODES_LIMIT_DEFAULT;
	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n == 0 ||
	    n > NODES_LIMIT_MAX) {
		http_problem(resp, 400, "bad-query", "Bad query",
		    "limit must be 1-%d", NODES_LIMIT_MAX);
		return VIGIL_EINVAL;
	}
	*out = n;
	return 0;
}

static json_t *
nodes_time(int64_t t)
{
	char s[32];

	if (t <= 0)
		return json_null();
	http_time(t, s);
	return json_string(s);
}

static void
nodes_store_error(struct http_resp *resp, const char *what, int e)
{
	log_err("store: %s failed: %s", what, vigil_strerror(e));
	http_problem(resp, 503, "store", "Store unavailable", "%s failed: %s",
	    what, vigil_strerror(e));
}

static void
nodes_not_found(struct http_resp *resp, const char *id)
{
	http_problem(resp, 404, "not-found", "No such node",
	    "no node with id %.70s", id);
}

int
routes_nodes_list(struct http_req *req, struct http_resp *resp)
{
	struct node_row *rows = NULL;
	const char *cursor = http_query(req, "cursor");
	json_t *o, *items;
	size_t limit, n = 0, i;
	int e;

	if (nodes_limit(req, resp, &limit) != 0)
		return 0;
	if (cursor != NULL && !valid_lowerhex(cursor, 64)) {
		http_problem(resp, 400, "bad-query", "Bad query",
		    "cursor is not a node id");
		return 0;
	}
	if ((e = store_nodes_list(req->vc->store, cursor ? cursor : "",
	    limit, &rows, &n)) != 0) {
		nodes_store_error(resp, "listing nodes", e);
		return 0;
	}
	items = json_array();
	for (i = 0; items != NULL && i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:o, "
		    "s:o}", "id", rows[i].id, "hostname", rows[i].hostname,
		    "status", rows[i].status[0] ? rows[i].status : "none",
		    "last_appraisal_at", nodes_time(rows[i].last_appraisal_at),
		    "last_seen_at", nodes_time(rows[i].last_seen_at)));
	o = json_pack("{s:o, s:o}", "items", items, "next_cursor",
	    n == limit && n > 0 ? json_string(rows[n - 1].id) : json_null());
	free(rows);
	return http_json(resp, 200, o);
}

/* One appraisal row as JSON. */
static json_t *
nodes_appraisal_json(const struct appraisal_row *r)
{
	json_t *vec, *rs;

	vec = json_loads(r->a.vector_json ? r->a.vector_json : "{}", 0, NULL);
	rs = json_loads(r->a.reasons_json ? r->a.reasons_json : "[]", 0, NULL);
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "id",
	    (json_int_t)r->id, "status", r->a.status,
	    "trustworthiness_vector", vec ? vec : json_object(),
	    "reasons", rs ? rs : json_array(),
	    "appraised_at", nodes_time(r->a.at),
	    "first_at", nodes_time(r->first_at),
	    "last_at", nodes_time(r->last_at));
}

/* The list row of one node. Nodes are listed after a cursor: ids are 64
 * hex digits, so after the id's first 63 there are at most 16 ids, ours
 * among them if it exists. */
static int
nodes_row(struct store *s, const char *id, struct node_row *out)
{
	struct node_row *rows = NULL;
	char before[65];
	size_t n = 0, i;
	int e;

	snprintf(before, sizeof(before), "%.63s", id);
	if ((e = store_nodes_list(s, before, 16, &rows, &n)) != 0)
		return e;
	e = VIGIL_ENOTFOUND;
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].id, id) == 0) {
			*out = rows[i];
			e = 0;
			break;
		}
	}
	free(rows);
	return e;
}

#define NODES_EVIDENCE_RECENT 20

/* {"conflicts": [...], "conflicts_total", "gaps": [...], "gaps_total"}:
 * the node's item conflicts and spool gaps, newest first. NULL on a store
 * failure (logged). */
static json_t *
nodes_evidence_json(struct store *s, const char *id)
{
	struct conflict_row *c = NULL;
	struct gap_row *g = NULL;
	size_t nc = 0, ng = 0, i;
	uint64_t tc = 0, tg = 0;
	json_t *o = NULL, *ac, *ag;
	int e;

	if ((e = store_conflicts_list(s, id, NODES_EVIDENCE_RECENT, &c, &nc,
	    &tc)) != 0 || (e = store_gaps_list(s, id, NODES_EVIDENCE_RECENT,
	    &g, &ng, &tg)) != 0) {
		log_err("nodes: reading conflicts and gaps of %s: %s", id,
		    vigil_strerror(e));
		goto out;
	}
	if ((ac = json_array()) == NULL || (ag = json_array()) == NULL) {
		json_decref(ac);
		goto out;
	}
	for (i = 0; i < nc; i++)
		json_array_append_new(ac, json_pack("{s:I, s:I, s:s, s:s, "
		    "s:s, s:o}", "epoch", (json_int_t)c[i].epoch, "seq",
		    (json_int_t)c[i].seq, "kind",
		    appraise_item_kind_name(c[i].kind), "reason", c[i].reason,
		    "body_sha256", c[i].body_sha256, "at",
		    nodes_time(c[i].at)));
	for (i = 0; i < ng; i++)
		json_array_append_new(ag, json_pack("{s:I, s:I, s:I, s:I, "
		    "s:s, s:o}", "epoch", (json_int_t)g[i].epoch, "seq",
		    (json_int_t)g[i].seq, "first_seq",
		    (json_int_t)g[i].first_seq, "last_seq",
		    (json_int_t)g[i].last_seq, "reason", g[i].reason, "at",
		    nodes_time(g[i].at)));
	o = json_pack("{s:o, s:I, s:o, s:I}", "conflicts", ac,
	    "conflicts_total", (json_int_t)tc, "gaps", ag, "gaps_total",
	    (json_int_t)tg);
 out:
	free(c);
	free(g);
	return o;
}

int
routes_nodes_get(struct http_req *req, struct http_resp *resp)
{
	struct appraisal_row ar;
	struct agent_rec a;
	struct node_row row;
	json_t *o, *ap = json_null(), *ev;
	int e;

	memset(&a, 0, sizeof(a));
	memset(&ar, 0, sizeof(ar));
	memset(&row, 0, sizeof(row));
	if (!valid_lowerhex(req->id, 64)) {
		nodes_not_found(resp, req->id);
		return 0;
	}
	if ((e = store_agent_get(req->vc->store, req->id, &a)) != 0) {
		if (e == VIGIL_ENOTFOUND)
			nodes_not_found(resp, req->id);
		else
			nodes_store_error(resp, "reading the node", e);
		return 0;
	}
	if ((e = nodes_row(req->vc->store, req->id, &row)) != 0 &&
	    e != VIGIL_ENOTFOUND) {
		nodes_store_error(resp, "reading the node", e);
		goto out;
	}
	e = store_appraisal_latest(req->vc->store, req->id, &ar);
	if (e == 0)
		ap = nodes_appraisal_json(&ar);
	else if (e != VIGIL_ENOTFOUND) {
		nodes_store_error(resp, "reading the latest appraisal", e);
		goto out;
	}
	if ((ev = nodes_evidence_json(req->vc->store, a.id)) == NULL) {
		nodes_store_error(resp, "reading the node's conflicts and "
		    "gaps", VIGIL_EDB);
		goto out;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:o, s:o}",
	    "id", a.id, "hostname", a.hostname,
	    "status", e == 0 ? ar.a.status : "none",
	    "state", a.state == AGENT_ACTIVE ? "active" : "pending",
	    "created_at", nodes_time(a.created_at),
	    "last_seen_at", nodes_time(row.last_seen_at),
	    "reenrol_approved", a.reenrol_approved,
	    "appraisal", ap, "evidence", ev);
	ap = NULL;
	http_json(resp, 200, o);
 out:
	json_decref(ap);
	appraisal_row_clear(&ar);
	agent_rec_free(&a);
	return 0;
}

int
routes_nodes_appraisals(struct http_req *req, struct http_resp *resp)
{
	struct appraisal_row *rows = NULL;
	const char *cursor = http_query(req, "cursor");
	struct agent_rec a;
	json_t *items, *o;
	long long before = 0;
	size_t limit, n = 0, i;
	char *end, next[24];
	int e;

	memset(&a, 0, sizeof(a));
	if (nodes_limit(req, resp, &limit) != 0)
		return 0;
	if (cursor != NULL) {
		errno = 0;
		before = strtoll(cursor, &end, 10);
		if (*cursor < '1' || *cursor > '9' || *end != '\0' ||
		    errno != 0) {
			http_problem(resp, 400, "bad-query", "Bad query",
			    "cursor is not an appraisal id");
			return 0;
		}
	}
	if (!valid_lowerhex(req->id, 64) ||
	    (e = store_agent_get(req->vc->store, req->id, &a)) ==
	    VIGIL_ENOTFOUND) {
		nodes_not_found(resp, req->id);
		return 0;
	}
	agent_rec_free(&a);
	if (e != 0) {
		nodes_store_error(resp, "reading the node", e);
		return 0;
	}
	if ((e = store_appraisals_list(req->vc->store, req->id, before, limit,
	    &rows, &n)) != 0) {
		nodes_store_error(resp, "listing appraisals", e);
		return 0;
	}
	items = json_array();
	for (i = 0; items != NULL && i < n; i++)
		json_array_append_new(items, nodes_appraisal_json(&rows[i]));
	if (n == limit && n > 0)
		snprintf(next, sizeof(next), "%lld", (long long)rows[n - 1].id);
	o = json_pack("{s:o, s:o}", "items", items, "next_cursor",
	    n == limit && n > 0 ? json_string(next) : json_null());
	appraisal_rows_free(rows, n);
	return http_json(resp, 200, o);
}

int
routes_nodes_reenrol(struct http_req *req, struct http_resp *resp)
{
	int e;

	if (!valid_lowerhex(req->id, 64)) {
		nodes_not_found(resp, req->id);
		return 0;
	}
	e = store_agent_approve_reenrol(req->vc->store, req->id);
	if (e == VIGIL_ENOTFOUND) {
		nodes_not_found(resp, req->id);
		return 0;
	}
	if (e != 0) {
		nodes_store_error(resp, "approving re-enrolment", e);
		return 0;
	}
	http_audit(req, "re-enrol", req->id, "approved a new EK/AK once");
	log_info("re-enrol: approved for agent=%s", req->id);
	return http_json(resp, 200, json_pack("{s:s, s:b}", "id", req->id,
	    "reenrol_approved", 1));
}

int
routes_refvals_get(struct http_req *req, struct http_resp *resp)
{
	char *doc = NULL;
	int64_t version = 0;
	json_t *d;
	int e;

	e = store_refvals_get(req->vc->store, &doc, &version);
	if (e == VIGIL_ENOTFOUND)
		return http_json(resp, 200, json_pack("{s:i, s:{s:{}, s:{}}}",
		    "version", 0, "document", "pcrs", "nodes"));
	if (e != 0) {
		nodes_store_error(resp, "reading reference values", e);
		return 0;
	}
	d = json_loads(doc, 0, NULL);
	free(doc);
	if (d == NULL) {
		http_problem(resp, 500, "internal", "Internal error",
		    "stored reference document %lld is not JSON",
		    (long long)version);
		return 0;
	}
	return http_json(resp, 200, json_pack("{s:I, s:o}", "version",
	    (json_int_t)version, "document", d));
}

int
routes_refvals_put(struct http_req *req, struct http_resp *resp)
{
	struct refvals *r = NULL;
	char why[256], *canon = NULL;
	int64_t version = 0;
	json_t *d;
	int e;

	if ((e = refvals_parse((const char *)req->body, req->body_len, &r,
	    why, sizeof(why))) != 0 ||
	    (e = refvals_check_selection(r, PCR_POLICY_MASK, why,
	    sizeof(why))) != 0) {
		refvals_free(r);
		log_warn("reference-values: refused: %s", why);
		http_problem(resp, 400, "reference-values",
		    "Bad reference document", "%s", why);
		return 0;
	}
	refvals_free(r);
	d = json_loadb((const char *)req->body, req->body_len, 0, NULL);
	if (d == NULL || (canon = json_dumps(d, JSON_COMPACT |
	    JSON_SORT_KEYS)) == NULL) {
		json_decref(d);
		return VIGIL_ENOMEM;
	}
	json_decref(d);
	e = store_refvals_put(req->vc->store, canon, "operator", &version);
	free(canon);
	if (e != 0) {
		nodes_store_error(resp, "storing reference values", e);
		return 0;
	}
	http_audit(req, "reference-values.put", "", "version %lld",
	    (long long)version);
	log_info("reference-values: version %lld stored", (long long)version);
	return http_json(resp, 200, json_pack("{s:I}", "version",
	    (json_int_t)version));
}

int
routes_healthz(struct http_req *req, struct http_resp *resp)
{
	return http_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

int
routes_readyz(struct http_req *req, struct http_resp *resp)
{
	int e;

	if ((e = store_ping(req->vc->store)) != 0) {
		log_warn("readyz: store not ready: %s", vigil_strerror(e));
		http_problem(resp, 503, "not-ready", "Not ready",
		    "store check failed: %s", vigil_strerror(e));
		return 0;
	}
	return http_json(resp, 200, json_pack("{s:s}", "status", "ready"));
}

/* The document compiled in from docs/openapi.json, or the file [server]
 * openapi names (an override: a document edited on the host). An override
 * that cannot be read is an error, not a silent fall back to the built-in
 * copy, which may then not be the document the operator meant. */
int
routes_openapi(struct http_req *req, struct http_resp *resp)
{
	const char *path = req->vc->cfg->openapi;
	uint8_t *doc = NULL;
	size_t len = 0;
	int e;

	buf_free(&resp->body);
	if (path[0] == '\0') {
		resp->status = 200;
		resp->content_type = "application/json";
		return buf_add(&resp->body, vigil_openapi_json,
		    vigil_openapi_json_len);
	}
	if ((e = file_read(path, 4 * 1024 * 1024, &doc, &len)) != 0) {
		log_warn("openapi: cannot read [server] openapi = %s: %s",
		    path, vigil_strerror(e));
		http_problem(resp, 500, "openapi-unreadable",
		    "OpenAPI document unreadable",
		    "[server] openapi = %s cannot be read: %s", path,
		    vigil_strerror(e));
		return 0;
	}
	resp->status = 200;
	resp->content_type = "application/json";
	e = buf_add(&resp->body, doc, len);
	free(doc);
	return e;
}
