/* GET /ui/: the dashboard's static files (routes_ui.h). Every answer
 * carries the same security headers: the page may only load its own
 * scripts and styles and talk to this origin, never runs inline script or
 * style, cannot be framed, and assigning a string to innerHTML throws
 * (Trusted Types), so data from nodes and tenants can only become text. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "routes_ui.h"

const char routes_ui_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'";

static const struct {
	const char *suffix;
	const char *type;
} ui_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
};

const struct ui_file *
routes_ui_find(const char *name)
{
	size_t i;

	for (i = 0; i < ui_files_n; i++)
		if (strcmp(ui_files[i].name, name) == 0)
			return &ui_files[i];
	return NULL;
}

const char *
routes_ui_type(const char *name)
{
	size_t i, n = strlen(name), k;

	for (i = 0; i < sizeof(ui_types) / sizeof(ui_types[0]); i++) {
		k = strlen(ui_types[i].suffix);
		if (n > k && strcmp(name + n - k, ui_types[i].suffix) == 0)
			return ui_types[i].type;
	}
	return NULL;
}

/* The headers every /ui answer has. 0, or VIGIL_ENOMEM. */
static int
ui_headers(struct MHD_Response *r)
{
	static const char *const h[][2] = {
		{ "Content-Security-Policy", routes_ui_csp },
		{ "X-Content-Type-Options", "nosniff" },
		{ "X-Frame-Options", "DENY" },
		{ "Referrer-Policy", "no-referrer" },
		{ "Cross-Origin-Opener-Policy", "same-origin" },
		{ "Cross-Origin-Resource-Policy", "same-origin" },
		{ "Cache-Control", "no-cache" },
	};
	size_t i;

	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (MHD_add_response_header(r, h[i][0], h[i][1]) != MHD_YES)
			return VIGIL_ENOMEM;
	return 0;
}

/* Queues data (static, not copied) with status, type and the headers. */
static int
ui_answer(struct http_resp *resp, unsigned status, const char *type,
    const void *data, size_t len, const char *etag, const char *location)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *)data,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return VIGIL_ENOMEM;
	if (ui_headers(r) != 0 ||
	    (type != NULL &&
	    MHD_add_response_header(r, "Content-Type", type) != MHD_YES) ||
	    (etag != NULL &&
	    MHD_add_response_header(r, "ETag", etag) != MHD_YES) ||
	    (location != NULL &&
	    MHD_add_response_header(r, "Location", location) != MHD_YES)) {
		MHD_destroy_response(r);
		return VIGIL_ENOMEM;
	}
	resp->status = status;
	resp->stream = r;
	return 0;
}

static int
ui_serve(struct http_req *req, struct http_resp *resp, const char *name)
{
	const struct ui_file *f = routes_ui_find(name);
	const char *type, *inm;

	if (f == NULL || (type = routes_ui_type(name)) == NULL) {
		http_problem(resp, 404, "not-found", "Not found",
		    "the dashboard has no file %s", name);
		return 0;
	}
	inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    "If-None-Match");
	if (inm != NULL && strcmp(inm, f->etag) == 0)
		return ui_answer(resp, 304, NULL, "", 0, f->etag, NULL);
	return ui_answer(resp, 200, type, f->data, f->len, f->etag, NULL);
}

int
routes_ui_redirect(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	return ui_answer(resp, 301, "text/plain; charset=utf-8",
	    "the dashboard is at /ui/\n", 25, NULL, "/ui/");
}

int
routes_ui_index(struct http_req *req, struct http_resp *resp)
{
	return ui_serve(req, resp, "index.html");
}

int
routes_ui_file(struct http_req *req, struct http_resp *resp)
{
	return ui_serve(req, resp, req->id);
}

void
routes_ui_log_url(const struct vconfig *cfg, uint16_t port)
{
	int v6 = strchr(cfg->listen, ':') != NULL;

	log_info("dashboard: %s://%s%s%s:%u/ui/ (sign in with an operator or "
	    "tenant token: vigil-verifier token create --role ...)",
	    cfg->insecure_http ? "http" : "https", v6 ? "[" : "",
	    cfg->listen, v6 ? "]" : "", (unsigned)port);
}
