#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "err.h"
#include "evbus.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "quota.h"
#include "ratelimit.h"
#include "refvals.h"
#include "results.h"
#include "routes_computations.h"
#include "routes_smm.h"
#include "routes_vms.h"
#include "tls.h"
#include "tokens.h"
#include "vmwait.h"
#include "webhooks.h"

#define P HTTP_BODY_MAX_PROTO
#define J HTTP_BODY_MAX

/* The router. Walked by tests and by the OpenAPI check: every route here
 * has its path in docs/openapi.json. */
const struct http_route http_routes[] = {
	{ "POST", "/v1/agents", routes_agents_register, HTTP_AUTH_AGENT, J },
	{ "POST", "/v1/agents/{id}/activate", routes_agents_activate,
	    HTTP_AUTH_AGENT, J },
	{ "POST", "/v1/agents/{id}/nonce", routes_agents_nonce,
	    HTTP_AUTH_AGENT, J },
	{ "POST", "/v1/agents/{id}/evidence", routes_agents_evidence,
	    HTTP_AUTH_AGENT, P },
	{ "GET", "/v1/nodes", routes_nodes_list, HTTP_AUTH_OPERATOR, J },
	{ "GET", "/v1/nodes/{id}", routes_nodes_get, HTTP_AUTH_OPERATOR, J },
	{ "GET", "/v1/nodes/{id}/appraisals", routes_nodes_appraisals,
	    HTTP_AUTH_OPERATOR, J },
	{ "POST", "/v1/nodes/{id}/re-enrol", routes_nodes_reenrol,
	    HTTP_AUTH_OPERATOR, J },
	{ "GET", "/v1/reference-values", routes_refvals_get,
	    HTTP_AUTH_OPERATOR, J },
	/* Boot policies make larger documents (refvals.h). */
	{ "PUT", "/v1/reference-values", routes_refvals_put,
	    HTTP_AUTH_OPERATOR, REFVALS_MAX_DOC },
	/* Computations: tenant or operator tokens, checked by the handlers
	 * (routes_computations.c), which also scope every object to its
	 * tenant. */
	{ "POST", "/v1/computations", routes_comp_create, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/computations", routes_comp_list, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/computations/{id}", routes_comp_get, HTTP_AUTH_NONE, J },
	{ "POST", "/v1/computations/{id}/replays", routes_comp_replay,
	    HTTP_AUTH_NONE, J },
	{ "GET", "/v1/replays/{id}", routes_replay_get, HTTP_AUTH_NONE, J },
	{ "PUT", "/v1/blobs/{id}", routes_blob_put, HTTP_AUTH_NONE,
	    COMP_BLOB_BODY_MAX },
	/* VMs (routes_vms.c): tenant routes scoped to the owning tenant by
	 * the handlers; agent routes for vTPM enrolment and migration. */
	{ "POST", "/v1/vms", routes_vms_create, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/vms", routes_vms_list, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/vms/{id}", routes_vms_get, HTTP_AUTH_NONE, J },
	{ "POST", "/v1/vms/{id}/attest", routes_vms_attest, HTTP_AUTH_NONE,
	    J },
	{ "GET", "/v1/vm-attestations/{id}", routes_vms_attestation_get,
	    HTTP_AUTH_NONE, J },
	{ "GET", "/v1/guest-reference-values", routes_vms_refvals_get,
	    HTTP_AUTH_NONE, J },
	{ "PUT", "/v1/guest-reference-values", routes_vms_refvals_put,
	    HTTP_AUTH_NONE, J },
	{ "GET", "/v1/nodes/{id}/mige-key", routes_nodes_mige_key,
	    HTTP_AUTH_OPERATOR, J },
	{ "POST", "/v1/agents/{id}/vtpms", routes_vms_vtpm_register,
	    HTTP_AUTH_AGENT, J },
	{ "POST", "/v1/agents/{id}/vtpms/activate", routes_vms_vtpm_activate,
	    HTTP_AUTH_AGENT, J },
	{ "POST", "/v1/agents/{id}/vtpms/migrate", routes_vms_migrate,
	    HTTP_AUTH_AGENT, P },
	{ "POST", "/v1/agents/{id}/mige-key", routes_vms_agent_mige_key,
	    HTTP_AUTH_AGENT, J },
	/* Signed results, events and webhooks: tenant or operator tokens,
	 * checked and scoped by the handlers (results.c, evbus.c,
	 * webhooks.c). One results route per kind of object. */
	{ "GET", "/v1/results/node/{id}", routes_results_get, HTTP_AUTH_NONE,
	    J },
	{ "GET", "/v1/results/vm/{id}", routes_results_get, HTTP_AUTH_NONE,
	    J },
	{ "GET", "/v1/results/computation/{id}", routes_results_get,
	    HTTP_AUTH_NONE, J },
	{ "GET", "/v1/verifier/jwks", routes_jwks_get, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/events", routes_events_get, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/webhooks", routes_webhooks_get, HTTP_AUTH_NONE, J },
	{ "PUT", "/v1/webhooks", routes_webhooks_put, HTTP_AUTH_NONE, J },
	{ "DELETE", "/v1/webhooks", routes_webhooks_delete, HTTP_AUTH_NONE,
	    J },
	/* SMM (routes_smm.c): smm-key for operators and tenants, keys for
	 * their owning tenant, checked by the handlers. */
	{ "GET", "/v1/nodes/{id}/smm-key", routes_smm_key, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/nodes/{id}/smm-log", routes_smm_log, HTTP_AUTH_OPERATOR,
	    J },
	{ "POST", "/v1/keys", routes_keys_create, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/keys/{id}/uses", routes_keys_uses, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/smm/reference-set", routes_smm_refs_get,
	    HTTP_AUTH_OPERATOR, J },
	{ "PUT", "/v1/smm/reference-set", routes_smm_refs_put,
	    HTTP_AUTH_OPERATOR, J },
	{ "GET", "/v1/openapi.json", routes_openapi, HTTP_AUTH_NONE, J },
	{ "GET", "/v1/audit", routes_audit_list, HTTP_AUTH_OPERATOR, J },
	/* Operator-only when [server] metrics_token_required (checked by
	 * the handler). */
	{ "GET", "/metrics", routes_metrics, HTTP_AUTH_NONE, J },
	{ "GET", "/healthz", routes_healthz, HTTP_AUTH_NONE, J },
	{ "GET", "/readyz", routes_readyz, HTTP_AUTH_NONE, J },
};
const size_t http_routes_n = sizeof(http_routes) / sizeof(http_routes[0]);

/* Flags of routes (http.h): expensive routes are rate-limited; agent
 * routes need a client certificate unless they are enrolment. Add new
 * expensive routes (e.g. POST /v1/vms/{id}/attest) here; test_tls checks
 * that every entry names a route of http_routes. */
const struct http_route_flag http_route_flags[] = {
	{ "POST", "/v1/agents", HTTP_ENROL | HTTP_RL_EXPENSIVE },
	{ "POST", "/v1/agents/{id}/activate", HTTP_ENROL },
	{ "POST", "/v1/computations/{id}/replays", HTTP_RL_EXPENSIVE },
	{ "POST", "/v1/vms/{id}/attest", HTTP_RL_EXPENSIVE },
};
const size_t http_route_flags_n =
    sizeof(http_route_flags) / sizeof(http_route_flags[0]);

unsigned
http_route_flags_of(const struct http_route *r)
{
	size_t i;

	for (i = 0; i < http_route_flags_n; i++)
		if (strcmp(http_route_flags[i].method, r->method) == 0 &&
		    strcmp(http_route_flags[i].pattern, r->pattern) == 0)
			return http_route_flags[i].flags;
	return 0;
}

#undef P
#undef J

struct http_server {
	struct MHD_Daemon *d;
	struct vctx *vc;
	struct tls_ctx *tls;		/* NULL: plain HTTP (loopback) */
	struct ratelimit *rl;		/* HTTP_RL_EXPENSIVE routes */
};

/* Per-request state, from the first call of the access handler to the
 * completion notice. */
struct http_conn {
	const struct http_route *route;
	char id[130];
	struct buf body;
	int too_big;
	int too_big_logged;
	int responded;
	unsigned status;
	const char *method;
	char path[256];
	int64_t t0_us;			/* first call, monotonic */
	unsigned retry_after;		/* Retry-After of a 429, seconds */
	unsigned flags;			/* http_route_flags_of(route) */
	char peer[64];
	size_t body_max;		/* http_body_max(route) */
	const char *body_max_key;	/* its [limits] key, or NULL */
	char upload_tenant[64];		/* holds a QUOTA_UPLOADS slot */
};

static int64_t
http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The client address as text ("127.0.0.1"), or "-". */
static void
http_peer(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, cap, "-");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		    (socklen_t)cap);
}

static int
http_segment_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= 130)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
		    c == '.'))
			return 0;
	}
	return 1;
}

/* Matches path against pattern; {id} takes one segment. */
static int
http_match(const char *pattern, const char *path, char *id, size_t idcap)
{
	const char *p = pattern, *s = path, *end;
	size_t n;

	while (*p != '\0') {
		if (strncmp(p, "{id}", 4) == 0) {
			end = strchr(s, '/');
			n = end ? (size_t)(end - s) : strlen(s);
			if (!http_segment_ok(s, n) || n >= idcap)
				return 0;
			memcpy(id, s, n);
			id[n] = '\0';
			s += n;
			p += 4;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *s == '\0';
}

int
http_route_find(const char *method, const char *path,
    const struct http_route **out, char *id, size_t idcap)
{
	int other = 0;
	size_t i;

	for (i = 0; i < http_routes_n; i++) {
		if (!http_match(http_routes[i].pattern, path, id, idcap))
			continue;
		if (strcmp(http_routes[i].method, method) == 0) {
			*out = &http_routes[i];
			return 0;
		}
		other = 1;
	}
	return other ? VIGIL_EDENIED : VIGIL_ENOTFOUND;
}

int
http_problem(struct http_resp *resp, unsigned status, const char *slug,
    const char *title, const char *fmt, ...)
{
	char type[96], detail[512];
	json_t *o;
	va_list ap;
	char *s;
	int e;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(type, sizeof(type), "urn:vigil:problem:%s", slug);
	buf_free(&resp->body);
	resp->status = status;
	resp->content_type = "application/problem+json";
	if ((o = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
	    title, "status", (int)status, "detail", detail)) == NULL)
		return VIGIL_ENOMEM;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		return VIGIL_ENOMEM;
	e = buf_add(&resp->body, s, strlen(s));
	free(s);
	return e;
}

int
http_json(struct http_resp *resp, unsigned status, void *json)
{
	char *s;
	int e;

	if (json == NULL)
		return VIGIL_ENOMEM;
	s = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (s == NULL)
		return VIGIL_ENOMEM;
	buf_free(&resp->body);
	resp->status = status;
	resp->content_type = "application/json";
	e = buf_add(&resp->body, s, strlen(s));
	free(s);
	return e;
}

int
http_proto(struct http_resp *resp, const uint8_t *p, size_t n)
{
	buf_free(&resp->body);
	resp->status = 200;
	resp->content_type = "application/x-protobuf";
	return buf_add(&resp->body, p, n);
}

int
http_page_args(const struct http_req *req, struct http_resp *resp,
    size_t def, size_t max, size_t *limit, const char **cursor)
{
	const char *v = http_query(req, "limit"), *c = http_query(req,
	    "cursor");
	unsigned long n;
	size_t i;
	char *end;

	*limit = def;
	*cursor = NULL;
	if (v != NULL) {
		n = strtoul(v, &end, 10);
		if (v[0] < '1' || v[0] > '9' || *end != '\0' || n > max) {
			http_problem(resp, 400, "bad-request", "Bad request",
			    "limit must be 1-%zu", max);
			return VIGIL_EINVAL;
		}
		*limit = n;
	}
	if (c != NULL) {
		for (i = 0; c[i] != '\0'; i++)
			if (i >= 64 || (unsigned char)c[i] <= 0x20 ||
			    (unsigned char)c[i] >= 0x7f)
				break;
		if (c[i] != '\0' || i == 0) {
			http_problem(resp, 400, "bad-request", "Bad request",
			    "cursor must be the last id of the previous page");
			return VIGIL_EINVAL;
		}
		*cursor = c;
	}
	return 0;
}

void
http_page_take(size_t n, const char *(*id)(const void *rows, size_t i),
    const void *rows, const char *cursor, size_t limit, size_t *first,
    size_t *count, int *more)
{
	size_t i = 0;

	if (cursor != NULL)
		while (i < n && strcmp(id(rows, i), cursor) <= 0)
			i++;
	*first = i;
	*count = n - i < limit ? n - i : limit;
	*more = i + *count < n;
}

const char *
http_query(const struct http_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    key);
}

int
http_audit(const struct http_req *req, const char *action,
    const char *object, const char *fmt, ...)
{
	char who[160], detail[512];
	va_list ap;
	int e;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (req->role != NULL && req->token_id[0] != '\0')
		snprintf(who, sizeof(who), "%s%s%s token=%s peer=%s", req->role,
		    req->tenant != NULL && req->tenant[0] != '\0' ? ":" : "",
		    req->tenant != NULL ? req->tenant : "", req->token_id,
		    req->peer);
	else if (req->token_id[0] != '\0')
		snprintf(who, sizeof(who), "token=%s peer=%s", req->token_id,
		    req->peer);
	else
		snprintf(who, sizeof(who), "anonymous peer=%s", req->peer);
	if ((e = store_audit(req->vc->store, who, action,
	    object != NULL ? object : "", detail)) != 0)
		log_err("audit: cannot record action=%s object=%s by %s: %s",
		    action, object != NULL ? object : "", who,
		    vigil_strerror(e));
	return e;
}

void
http_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
http_load_tpm_cas(const struct vconfig *cfg, X509_STORE **out)
{
	X509_STORE *st;
	X509 *x;
	FILE *f;
	size_t i, n;
	int e = VIGIL_ECONFIG;

	if ((st = X509_STORE_new()) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < cfg->n_tpm_ca; i++) {
		if ((f = fopen(cfg->tpm_ca[i], "r")) == NULL) {
			log_err("config: cannot open tpm_ca %s", cfg->tpm_ca[i]);
			goto out;
		}
		n = 0;
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			X509_STORE_add_cert(st, x);
			X509_free(x);
			n++;
		}
		fclose(f);
		if (n == 0) {
			log_err("config: tpm_ca %s holds no PEM certificate",
			    cfg->tpm_ca[i]);
			goto out;
		}
	}
	*out = st;
	st = NULL;
	e = 0;
 out:
	X509_STORE_free(st);
	return e;
}

static void
http_send(struct MHD_Connection *conn, struct http_conn *c,
    struct http_resp *resp)
{
	struct MHD_Response *r;

	if (resp->stream != NULL) {
		r = resp->stream;
		resp->stream = NULL;
		if (MHD_queue_response(conn, resp->status, r) == MHD_YES) {
			c->responded = 1;
			c->status = resp->status;
		}
		MHD_destroy_response(r);
		return;
	}
	if (resp->status == 0)
		http_problem(resp, 500, "internal", "Internal error",
		    "the handler produced no response");
	r = MHD_create_response_from_buffer(resp->body.len, resp->body.data,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return;
	if (resp->content_type != NULL)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	if (resp->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	if (resp->status == 429 && c->retry_after > 0) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", c->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	if (MHD_queue_response(conn, resp->status, r) == MHD_YES) {
		c->responded = 1;
		c->status = resp->status;
	}
	MHD_destroy_response(r);
}

/* 0 if the request may go on; otherwise resp holds the refusal. */
static int
http_authorize(struct http_server *s, struct http_req *req,
    struct token_rec *tok, struct http_resp *resp)
{
	const char *h;
	int e;

	(void)s;
	h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    "Authorization");
	e = tokens_check(req->vc->store, h, tok);
	if (e == VIGIL_EDENIED) {
		http_problem(resp, 401, "unauthorized", "Unauthorized",
		    "a valid operator bearer token is required");
		return e;
	}
	if (e != 0) {
		http_problem(resp, 503, "store", "Store unavailable",
		    "token lookup failed: %s", vigil_strerror(e));
		return e;
	}
	if (strcmp(tok->role, "operator") != 0) {
		log_warn("auth: refused: role %s on operator route %s %s",
		    tok->role, req->method, req->path);
		http_problem(resp, 403, "forbidden", "Forbidden",
		    "this route needs an operator token");
		return VIGIL_EDENIED;
	}
	req->role = tok->role;
	req->tenant = tok->tenant;
	return 0;
}

static void
http_dispatch(struct http_server *s, struct MHD_Connection *conn,
    struct http_conn *c)
{
	struct http_resp resp = { 0, NULL, BUF_INIT, NULL };
	struct http_req req;
	struct token_rec tok;
	int64_t t0;
	int e;

	memset(&req, 0, sizeof(req));
	req.vc = s->vc;
	req.conn = conn;
	req.method = c->method;
	req.path = c->path;
	snprintf(req.id, sizeof(req.id), "%s", c->id);
	req.body = c->body.data != NULL ? c->body.data : (const uint8_t *)"";
	req.body_len = c->body.len;
	snprintf(req.peer, sizeof(req.peer), "%s", c->peer);
	if (tokens_id_of_header(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, "Authorization"), req.token_id) != 0)
		req.token_id[0] = '\0';
	if (c->route->auth == HTTP_AUTH_OPERATOR &&
	    http_authorize(s, &req, &tok, &resp) != 0)
		goto send;
	t0 = http_now_us();
	e = c->route->fn(&req, &resp);
	if (c->route->fn == routes_agents_evidence)
		metrics_observe(METRICS_INGEST,
		    (double)(http_now_us() - t0) / 1e6);
	if (e != 0 && resp.status == 0)
		http_problem(&resp, 500, "internal", "Internal error",
		    "%s %s failed: %s", c->method, c->path,
		    vigil_strerror(e));
 send:
	http_send(conn, c, &resp);
	buf_free(&resp.body);
}

static void
http_early(struct MHD_Connection *conn, struct http_conn *c, unsigned status,
    const char *slug, const char *title, const char *detail)
{
	struct http_resp resp = { 0, NULL, BUF_INIT, NULL };

	http_problem(&resp, status, slug, title, "%s", detail);
	http_send(conn, c, &resp);
	buf_free(&resp.body);
}

static void
http_too_big(struct MHD_Connection *conn, struct http_conn *c)
{
	char d[160], key[64];

	key[0] = '\0';
	if (c->body_max_key != NULL)
		snprintf(key, sizeof(key), " ([limits] %s = %zu)",
		    c->body_max_key, c->body_max);
	if (!c->too_big_logged)
		log_warn("http: refused %s %s: body over %zu bytes%s",
		    c->method, c->path, c->body_max, key);
	c->too_big_logged = 1;
	snprintf(d, sizeof(d), "request body over the limit of %zu bytes "
	    "for this route%s", c->body_max, key);
	http_early(conn, c, 413, "too-large", "Request body too large", d);
}

/* The body limit of a route: configured for blobs and evidence bundles,
 * fixed for the others. */
static void
http_body_max(const struct http_server *s, struct http_conn *c)
{
	const struct vconfig *cfg = s->vc->cfg;

	c->body_max = c->route->body_max;
	c->body_max_key = NULL;
	if (c->route->fn == routes_blob_put) {
		c->body_max = cfg->blob_max_bytes;
		c->body_max_key = "blob_max_bytes";
	} else if (c->route->fn == routes_agents_evidence) {
		c->body_max = cfg->evidence_max_bytes;
		c->body_max_key = "evidence_max_bytes";
	}
}

/* Gives back the connection's upload slot, if it holds one: once its body
 * was answered (a sequential client must not find its last upload still
 * counted) or refused. */
static void
http_upload_done(struct http_conn *c)
{
	if (c->upload_tenant[0] == '\0')
		return;
	quota_put(QUOTA_UPLOADS, c->upload_tenant);
	c->upload_tenant[0] = '\0';
}

/* PUT /v1/blobs: the token is checked before the body (up to
 * blob_max_bytes) is received, and a tenant may have only
 * blob_uploads_per_tenant bodies under way, so what one tenant makes the
 * server hold in memory is bounded by their product. (The quota of stored
 * bytes is the handler's: only it knows whether the tenant holds the blob
 * already.) 0 if the upload may go on; otherwise the refusal is queued. */
static int
http_gate_upload(struct http_server *s, struct MHD_Connection *conn,
    struct http_conn *c)
{
	const struct vconfig *cfg = s->vc->cfg;
	struct token_rec tok;
	unsigned held = 0;
	char d[256];
	int e;

	if (c->route->fn != routes_blob_put)
		return 0;
	e = tokens_check(s->vc->store, MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, "Authorization"), &tok);
	if (e == VIGIL_EDENIED) {
		http_early(conn, c, 401, "unauthorized", "Unauthorized",
		    "a valid tenant bearer token is required");
		return e;
	}
	if (e != 0) {
		snprintf(d, sizeof(d), "token lookup failed: %s",
		    vigil_strerror(e));
		http_early(conn, c, 503, "store", "Store unavailable", d);
		return e;
	}
	if (strcmp(tok.role, "tenant") != 0)
		return 0;	/* the handler answers 403 */
	if ((e = quota_take(QUOTA_UPLOADS, tok.tenant,
	    cfg->blob_uploads_per_tenant, &held)) != 0) {
		log_warn("blobs: refused an upload: tenant=%s has %u under way "
		    "([limits] blob_uploads_per_tenant = %u)", tok.tenant, held,
		    cfg->blob_uploads_per_tenant);
		snprintf(d, sizeof(d), "%u blob uploads of this tenant are "
		    "under way, the limit ([limits] blob_uploads_per_tenant = "
		    "%u); retry when one has finished", held,
		    cfg->blob_uploads_per_tenant);
		c->retry_after = 1;
		http_early(conn, c, 429, "too-many-uploads",
		    "Too many uploads", d);
		return VIGIL_EDENIED;
	}
	snprintf(c->upload_tenant, sizeof(c->upload_tenant), "%s",
	    tok.tenant);
	return 0;
}

/* Agent routes other than enrolment need a client certificate from the
 * agent CA naming the agent of the path. 0 if the request may go on;
 * otherwise the refusal is queued. */
static int
http_gate_agent(struct http_server *s, struct MHD_Connection *conn,
    struct http_conn *c)
{
	enum tls_peer p;

	if (c->route->auth != HTTP_AUTH_AGENT ||
	    (c->flags & HTTP_ENROL) || s->tls == NULL)
		return 0;
	p = tls_check_agent(s->tls, conn,
	    strstr(c->route->pattern, "{id}") != NULL ? c->id : NULL);
	if (p == TLS_PEER_OK)
		return 0;
	if (p == TLS_PEER_OTHER_ID)
		http_early(conn, c, 403, "wrong-agent", "Forbidden",
		    "the client certificate names another agent");
	else
		http_early(conn, c, 401, "client-certificate", "Unauthorized",
		    p == TLS_PEER_NONE ? "this route needs the agent's "
		    "client certificate (mutual TLS)" : "the client "
		    "certificate is not from this verifier's agent CA, or "
		    "has expired");
	return VIGIL_EDENIED;
}

/* Expensive routes: one token from the client address's bucket and one
 * from the bearer token's, if any. */
static int
http_gate_rate(struct http_server *s, struct MHD_Connection *conn,
    struct http_conn *c)
{
	char key[80], tid[TOKEN_ID_LEN + 1], d[160];
	unsigned ra = 0;
	int64_t now = http_now_us() / 1000;
	const char *who;
	int e;

	if (!(c->flags & HTTP_RL_EXPENSIVE) || s->rl == NULL)
		return 0;
	snprintf(key, sizeof(key), "addr:%s", c->peer);
	who = "client address";
	e = ratelimit_take(s->rl, key, now, &ra);
	if (e == 0 && tokens_id_of_header(MHD_lookup_connection_value(conn,
	    MHD_HEADER_KIND, "Authorization"), tid) == 0) {
		snprintf(key, sizeof(key), "token:%s", tid);
		who = "token";
		e = ratelimit_take(s->rl, key, now, &ra);
	}
	if (e == 0)
		return 0;
	log_warn("http: rate limited method=%s path=%s peer=%s by=%s "
	    "retry_after_s=%u", c->method, c->path, c->peer,
	    who[0] == 't' ? "token" : "address", ra);
	c->retry_after = ra;
	snprintf(d, sizeof(d), "over %u expensive requests a minute for this "
	    "%s; retry in %u s", s->vc->cfg->expensive_per_minute, who, ra);
	http_early(conn, c, 429, "rate-limited", "Too many requests", d);
	return VIGIL_EDENIED;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_conn *c = *con_cls;
	const char *cl;
	char *end;
	unsigned long long declared;
	int e;

	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return MHD_NO;
		*con_cls = c;
		c->t0_us = http_now_us();
		c->method = method;
		snprintf(c->path, sizeof(c->path), "%s", url);
		http_peer(conn, c->peer, sizeof(c->peer));
		e = http_route_find(method, url, &c->route, c->id,
		    sizeof(c->id));
		if (e == VIGIL_ENOTFOUND) {
			http_early(conn, c, 404, "not-found", "Not found",
			    "no such route");
			return MHD_YES;
		}
		if (e != 0) {
			http_early(conn, c, 405, "method", "Method not allowed",
			    "this path does not take this method");
			return MHD_YES;
		}
		c->flags = http_route_flags_of(c->route);
		http_body_max(s, c);
		if (http_gate_agent(s, conn, c) != 0 ||
		    http_gate_rate(s, conn, c) != 0)
			return MHD_YES;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl != NULL) {
			declared = strtoull(cl, &end, 10);
			if (*end == '\0' && declared > c->body_max) {
				c->too_big = 1;
				http_too_big(conn, c);
				return MHD_YES;
			}
		}
		(void)http_gate_upload(s, conn, c);
		return MHD_YES;
	}
	if (*upload_size != 0) {
		if (!c->responded && !c->too_big &&
		    c->body.len + *upload_size > c->body_max) {
			c->too_big = 1;
			buf_free(&c->body);
			http_upload_done(c);
			http_too_big(conn, c);
		}
		if (!c->too_big && !c->responded &&
		    buf_add(&c->body, upload, *upload_size) != 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (c->responded)
		return MHD_YES;
	if (c->too_big) {
		http_too_big(conn, c);
		return MHD_YES;
	}
	http_dispatch(s, conn, c);
	buf_free(&c->body);
	http_upload_done(c);
	return MHD_YES;
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_conn *c = *con_cls;

	if (c == NULL)
		return;
	http_upload_done(c);
	metrics_request(c->route != NULL ? (size_t)(c->route - http_routes) :
	    http_routes_n, c->status);
	log_info("http: method=%s route=%s status=%u duration_ms=%.1f "
	    "peer=%s%s", c->method, c->route != NULL ? c->route->pattern :
	    "unmatched", c->status, (double)(http_now_us() - c->t0_us) / 1e3,
	    c->peer, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
	    " ended=early");
	buf_free(&c->body);
	free(c);
	*con_cls = NULL;
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("libmicrohttpd: %s", msg);
}

int
http_start(struct vctx *vc, struct http_server **out)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	/* Suspend/resume: idle event streams (evbus.c) and attest waits
	 * (vmwait.c) are parked, not polled, and hold no thread. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_OptionItem tlsopt[5];
	struct http_server *s;
	int e;

	if ((e = config_check_listen(vc->cfg)) != 0)
		return e;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, vc->cfg->listen, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(vc->cfg->port);
	} else if (inet_pton(AF_INET6, vc->cfg->listen, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(vc->cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		log_err("config: [server] listen = %s is not an IP address",
		    vc->cfg->listen);
		return VIGIL_ECONFIG;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	s->vc = vc;
	memset(tlsopt, 0, sizeof(tlsopt));
	tlsopt[0].option = MHD_OPTION_END;
	if (!vc->cfg->insecure_http) {
		if ((e = tls_load(vc->cfg, &s->tls)) != 0)
			goto fail;
		/* The agent CA as trust: MHD then asks every client for a
		 * certificate; http_gate_agent checks it. */
		tlsopt[0].option = MHD_OPTION_HTTPS_MEM_KEY;
		tlsopt[0].ptr_value = s->tls->key_pem;
		tlsopt[1].option = MHD_OPTION_HTTPS_MEM_CERT;
		tlsopt[1].ptr_value = s->tls->cert_pem;
		tlsopt[2].option = MHD_OPTION_HTTPS_MEM_TRUST;
		tlsopt[2].ptr_value = s->tls->ca_pem;
		/* TLS 1.2 and 1.3 only. */
		tlsopt[3].option = MHD_OPTION_HTTPS_PRIORITIES;
		tlsopt[3].ptr_value =
		    (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
		tlsopt[4].option = MHD_OPTION_END;
		flags |= MHD_USE_TLS;
	}
	if (vc->cfg->expensive_per_minute > 0 &&
	    (e = ratelimit_new(vc->cfg->expensive_per_minute, &s->rl)) != 0)
		goto fail;
	vmwait_begin();
	s->d = MHD_start_daemon(flags, vc->cfg->port, NULL, NULL,
	    http_access, s,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)vc->cfg->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)vc->cfg->conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)vc->cfg->conn_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
	    MHD_OPTION_ARRAY, tlsopt,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		log_err("http: cannot listen on %s port %u%s (see the "
		    "libmicrohttpd line above)", vc->cfg->listen,
		    (unsigned)vc->cfg->port, s->tls != NULL ? " with TLS" : "");
		e = VIGIL_ENET;
		goto fail;
	}
	if (s->tls != NULL)
		log_info("http: listening on %s port %u (HTTPS; agents by "
		    "mutual TLS, client CA %s)", vc->cfg->listen,
		    (unsigned)http_port(s), config_client_ca(vc->cfg));
	else
		log_warn("http: listening on %s port %u (plain HTTP, loopback "
		    "only, no client certificates: development only)",
		    vc->cfg->listen, (unsigned)http_port(s));
	*out = s;
	return 0;
 fail:
	tls_free(s->tls);
	ratelimit_free(s->rl);
	free(s);
	return e;
}

uint16_t
http_port(const struct http_server *s)
{
	const union MHD_DaemonInfo *i;

	i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	return i != NULL ? i->port : 0;
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	/* No connection may stay suspended when the daemon stops. */
	evbus_end_streams();
	vmwait_end();
	MHD_stop_daemon(s->d);
	tls_free(s->tls);
	ratelimit_free(s->rl);
	free(s);
}
