/* The dashboard (docs/dashboard.md): the static files of ui/, compiled in
 * by ui/embed.sh, served at GET /ui/ with a strict Content-Security-Policy.
 * The page itself only calls the public REST API with the token the user
 * signs in with; these routes need none and serve the same bytes to all. */
#ifndef VIGIL_ROUTES_UI_H
#define VIGIL_ROUTES_UI_H

#include <stddef.h>
#include <stdint.h>

struct http_req;
struct http_resp;
struct vconfig;

struct ui_file {
	const char *name;		/* "app.js": served at /ui/app.js */
	const unsigned char *data;
	size_t len;
	const char *etag;		/* "\"HEX\"": a digest of data */
};

extern const struct ui_file ui_files[];
extern const size_t ui_files_n;

/* The headers of every /ui/ answer (also read by tests). */
extern const char routes_ui_csp[];

/* The compiled-in file of that name, or NULL. */
const struct ui_file *routes_ui_find(const char *name);
/* Its Content-Type by suffix ("text/javascript; charset=utf-8"). */
const char *routes_ui_type(const char *name);

/* GET /ui: 301 to /ui/. GET /ui/: index.html. GET /ui/{id}: that file
 * (404 problem+json if there is none). */
int routes_ui_redirect(struct http_req *req, struct http_resp *resp);
int routes_ui_index(struct http_req *req, struct http_resp *resp);
int routes_ui_file(struct http_req *req, struct http_resp *resp);

/* Logs where the dashboard is and how to sign in (at start). */
void routes_ui_log_url(const struct vconfig *cfg, uint16_t port);

#endif
