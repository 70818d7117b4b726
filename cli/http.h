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

#endif
