/* The CLI's HTTP client: one request to the verifier with a bearer token. */
#ifndef VIGIL_CLI_HTTP_H
#define VIGIL_CLI_HTTP_H

#include <jansson.h>

struct cli_ctx {
	const char *url;	/* verifier base URL, no trailing slash */
	const char *token;	/* bearer token or NULL */
	int json;		/* print raw JSON for scripts */
};

/* Sends method path [body]; on a 2xx answer *out gets the parsed JSON
 * body (json_null() if empty) and 0 is returned. On an HTTP error the
 * problem+json detail is printed to stderr and VIGIL_ENOTFOUND (404),
 * VIGIL_EDENIED (401/403) or VIGIL_ENET is returned. */
int cli_http(const struct cli_ctx *c, const char *method, const char *path,
    const char *body, json_t **out);
/* As cli_http with len raw bytes as the body (application/octet-stream),
 * e.g. PUT /v1/blobs/{sha256}. */
int cli_http_raw(const struct cli_ctx *c, const char *method,
    const char *path, const void *body, size_t len, json_t **out);

/* GET path, handing the body to sink as it arrives (server-sent events,
 * a JWT): sink returns n to go on, anything else to stop. extra_header
 * ("Last-Event-ID: 7") may be NULL; timeout_s 0: none. 0 once a 2xx body
 * ended; errors as cli_http (a problem+json answer printed). */
int cli_http_stream(const struct cli_ctx *c, const char *path,
    const char *extra_header, long timeout_s,
    size_t (*sink)(const char *p, size_t n, void *arg), void *arg);

#endif
