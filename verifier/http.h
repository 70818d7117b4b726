/* The verifier's HTTP server (libmicrohttpd, internal polling thread with
 * a thread pool), its router table and the helpers every route uses:
 * problem+json errors, bearer-token authorization, bounded bodies. */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "buf.h"
#include "config.h"
#include "store.h"

struct nonce_table;
struct agentca;
struct MHD_Connection;

#define HTTP_BODY_MAX_PROTO (4u * 1024 * 1024)	/* evidence */
#define HTTP_BODY_MAX (64u * 1024)		/* everything else */

/* What the routes share. Owned by main (or a test). */
struct vctx {
	const struct vconfig *cfg;
	struct store *store;
	struct nonce_table *nonces;
	struct agentca *ca;		/* NULL when [ca] is not configured */
	X509_STORE *tpm_cas;		/* trusted TPM vendor CAs */
};

/* Loads every [attestation] tpm_ca PEM file (each may hold several
 * certificates) and every certificate file of tpm_ca_dir
 * (verifier/tpm_cas.h): the self-signed ones are the trust anchors, the
 * others intermediates a chain may pass through. */
int http_load_tpm_cas(const struct vconfig *cfg, X509_STORE **out);

enum http_auth {
	HTTP_AUTH_NONE = 0,	/* health, openapi */
	HTTP_AUTH_AGENT,	/* agents: mTLS client certificate (HTTP_ENROL:
				 * none); evidence is TPM-signed besides */
	HTTP_AUTH_OPERATOR,
};

struct http_req {
	struct vctx *vc;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	char id[130];			/* the {id} segment, if any */
	const uint8_t *body;
	size_t body_len;
	const char *role;		/* "operator"/"tenant" or NULL */
	const char *tenant;
	char token_id[16];		/* bearer token's id, or "" */
	char peer[64];			/* client address */
};

struct http_resp {
	unsigned status;
	const char *content_type;
	struct buf body;
	/* A struct MHD_Response * the handler made itself (a stream, e.g.
	 * GET /v1/events): queued with status instead of body; http.c
	 * destroys its reference. */
	void *stream;
};

typedef int (*http_handler)(struct http_req *req, struct http_resp *resp);

struct http_route {
	const char *method;
	const char *pattern;	/* "/v1/nodes/{id}" */
	http_handler fn;
	enum http_auth auth;
	size_t body_max;
};

/* Route flags, kept in http.c's http_route_flags[] table beside the
 * router (method and pattern as in http_routes[]): */
#define HTTP_RL_EXPENSIVE 0x1u	/* rate-limited per token and per address
				 * ([limits] expensive_per_minute): 429 */
#define HTTP_ENROL 0x2u		/* HTTP_AUTH_AGENT without a client
				 * certificate (registration, activation);
				 * every other agent route needs one naming
				 * the {id} of its path (401/403) */
struct http_route_flag {
	const char *method;
	const char *pattern;
	unsigned flags;
};
extern const struct http_route_flag http_route_flags[];
extern const size_t http_route_flags_n;
/* The flags of a route (0 if it has none). */
unsigned http_route_flags_of(const struct http_route *r);

extern const struct http_route http_routes[];
extern const size_t http_routes_n;

/* The route for method and path; *id gets the {id} segment. VIGIL_ENOTFOUND
 * for no path match, VIGIL_EDENIED when the path exists for another
 * method. */
int http_route_find(const char *method, const char *path,
    const struct http_route **out, char *id, size_t idcap);

/* Sets resp to an application/problem+json error
 * {"type": "urn:vigil:problem:SLUG", "title", "status", "detail"}. */
int http_problem(struct http_resp *resp, unsigned status, const char *slug,
    const char *title, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sets a JSON body (the serialization of a jansson json_t *, taken). */
int http_json(struct http_resp *resp, unsigned status, void *json);
/* Sets an application/x-protobuf body. */
int http_proto(struct http_resp *resp, const uint8_t *p, size_t n);
/* A query argument, or NULL. */
const char *http_query(const struct http_req *req, const char *key);
/* Paging of a list ordered by a string id: ?limit= (1..max, default def)
 * and ?cursor= (the last id of the previous page; at most 64 printable
 * characters). 0 with *limit and *cursor (NULL: first page), else the
 * 400 is in resp. Lists built in memory use http_page_take. */
int http_page_args(const struct http_req *req, struct http_resp *resp,
    size_t def, size_t max, size_t *limit, const char **cursor);
/* Of n ids in increasing order (id(i) gives the i-th), the first index
 * after cursor in *first and how many to return in *count; *more is set
 * when rows remain after them. */
void http_page_take(size_t n, const char *(*id)(const void *rows, size_t i),
    const void *rows, const char *cursor, size_t limit, size_t *first,
    size_t *count, int *more);

/* Records an operator or tenant change in the audit log: who (role,
 * tenant and token id of req, or "anonymous"), action ("token.revoke",
 * "reference-values.put"), object (an id, or "") and a detail. Failures
 * are logged and returned; the change itself stands. */
int http_audit(const struct http_req *req, const char *action,
    const char *object, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* RFC 3339 UTC of unix seconds ("2026-11-23T04:00:00Z"). */
void http_time(int64_t t, char out[32]);

struct http_server;
/* Starts serving on cfg->listen:cfg->port (port 0: ephemeral; see
 * http_port). Checks config_check_listen first. */
int http_start(struct vctx *vc, struct http_server **out);
uint16_t http_port(const struct http_server *s);
void http_stop(struct http_server *s);

/* Route handlers (routes_agents.c, routes_nodes.c). */
int routes_agents_register(struct http_req *req, struct http_resp *resp);
int routes_agents_activate(struct http_req *req, struct http_resp *resp);
int routes_agents_nonce(struct http_req *req, struct http_resp *resp);
int routes_agents_evidence(struct http_req *req, struct http_resp *resp);
int routes_nodes_list(struct http_req *req, struct http_resp *resp);
int routes_nodes_get(struct http_req *req, struct http_resp *resp);
int routes_nodes_appraisals(struct http_req *req, struct http_resp *resp);
int routes_nodes_reenrol(struct http_req *req, struct http_resp *resp);
int routes_refvals_get(struct http_req *req, struct http_resp *resp);
int routes_refvals_put(struct http_req *req, struct http_resp *resp);
int routes_healthz(struct http_req *req, struct http_resp *resp);
int routes_readyz(struct http_req *req, struct http_resp *resp);
int routes_openapi(struct http_req *req, struct http_resp *resp);
int routes_metrics(struct http_req *req, struct http_resp *resp);
int routes_audit_list(struct http_req *req, struct http_resp *resp);

#endif
