#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "api_who.h"
#include "err.h"
#include "log.h"
#include "tokens.h"

int
api_who(struct http_req *req, struct http_resp *resp, struct api_who *w)
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
	if (!w->operator && tok.tenant[0] == '\0') {
		log_warn("auth: refused: tenant token without a tenant name on "
		    "%s %s", req->method, req->path);
		http_problem(resp, 401, "unauthorized", "Unauthorized",
		    "the token names no tenant");
		return VIGIL_EDENIED;
	}
	snprintf(w->tenant, sizeof(w->tenant), "%s",
	    w->operator ? "" : tok.tenant);
	req->role = w->operator ? "operator" : "tenant";
	/* For http_audit(); w outlives the handler's use of req. */
	req->tenant = w->operator ? NULL : w->tenant;
	return 0;
}

const char *
api_who_scope(const struct api_who *w)
{
	return w->operator ? NULL : w->tenant;
}
