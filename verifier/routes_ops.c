/* Operations routes: GET /metrics (Prometheus text format 0.0.4) and
 * GET /v1/audit (operator; newest first, cursor-paginated). */
#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "tokens.h"

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 500

int
routes_metrics(struct http_req *req, struct http_resp *resp)
{
	struct token_rec tok;
	const char *h;
	int e;

	if (req->vc->cfg->metrics_token_required) {
		h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
		    "Authorization");
		e = tokens_check(req->vc->store, h, &tok);
		if (e == VIGIL_EDENIED)
			return http_problem(resp, 401, "unauthorized",
			    "Unauthorized", "/metrics needs an operator token "
			    "([server] metrics_token_required = yes)");
		if (e != 0)
			return http_problem(resp, 503, "store",
			    "Store unavailable", "token lookup failed: %s",
			    vigil_strerror(e));
		if (strcmp(tok.role, "operator") != 0)
			return http_problem(resp, 403, "forbidden", "Forbidden",
			    "/metrics needs an operator token");
	}
	buf_free(&resp->body);
	if ((e = metrics_render(req->vc, &resp->body)) != 0)
		return http_problem(resp, 500, "internal", "Internal error",
		    "cannot render metrics: %s", vigil_strerror(e));
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}

/* ?limit= from 1 to AUDIT_LIMIT_MAX; ?cursor= an audit id. */
static int
routes_audit_args(struct http_req *req, struct http_resp *resp,
    size_t *limit, int64_t *before)
{
	const char *l = http_query(req, "limit");
	const char *c = http_query(req, "cursor");
	char *end;
	long long v;

	*limit = AUDIT_LIMIT_DEFAULT;
	*before = 0;
	if (l != NULL) {
		v = strtoll(l, &end, 10);
		if (*l < '1' || *l > '9' || *end != '\0' || v < 1 ||
		    v > AUDIT_LIMIT_MAX) {
			http_problem(resp, 400, "bad-query", "Bad query",
			    "limit must be a number from 1 to %d",
			    AUDIT_LIMIT_MAX);
			return VIGIL_EINVAL;
		}
		*limit = (size_t)v;
	}
	if (c != NULL) {
		v = strtoll(c, &end, 10);
		if (*c < '1' || *c > '9' || *end != '\0' || v < 1 ||
		    strlen(c) > 18) {
			http_problem(resp, 400, "bad-query", "Bad query",
			    "cursor is not an audit record id");
			return VIGIL_EINVAL;
		}
		*before = v;
	}
	return 0;
}

int
routes_audit_list(struct http_req *req, struct http_resp *resp)
{
	struct audit_row *rows = NULL;
	json_t *items = NULL, *o;
	char at[32], next[24];
	int64_t before;
	size_t limit, n = 0, i;
	int e;

	if ((e = routes_audit_args(req, resp, &limit, &before)) != 0)
		return 0;
	if ((e = store_audit_list(req->vc->store, before, limit, &rows,
	    &n)) != 0)
		return http_problem(resp, 503, "store", "Store unavailable",
		    "cannot read the audit log: %s", vigil_strerror(e));
	if ((items = json_array()) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		http_time(rows[i].at, at);
		if ((o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)rows[i].id, "at", at, "who", rows[i].who,
		    "action", rows[i].action, "object", rows[i].object,
		    "detail", rows[i].detail)) == NULL ||
		    json_array_append_new(items, o) != 0) {
			e = VIGIL_ENOMEM;
			goto out;
		}
	}
	snprintf(next, sizeof(next), "%lld",
	    n > 0 ? (long long)rows[n - 1].id : 0LL);
	e = http_json(resp, 200, json_pack("{s:o, s:o}", "items", items,
	    "next_cursor", n == limit && n > 0 ? json_string(next) :
	    json_null()));
	items = NULL;
 out:
	json_decref(items);
	audit_rows_free(rows, n);
	return e;
}
