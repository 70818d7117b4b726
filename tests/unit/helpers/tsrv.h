/* Test helper: the real verifier HTTP server in-process, on an ephemeral
 * loopback port, with a temporary store and three tokens (an operator,
 * tenants "acme" and "globex"); and one-shot requests to it with libcurl.
 * For cmocka tests: failures are cmocka assertions. */
#ifndef VIGIL_TEST_TSRV_H
#define VIGIL_TEST_TSRV_H

#include <stddef.h>
#include <jansson.h>

#include "buf.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/tokens.h"

struct tsrv {
	char dir[64];
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv;
	char base[64];			/* http://127.0.0.1:PORT */
	char op[TOKEN_HEX_LEN + 1];	/* operator token */
	char a[TOKEN_HEX_LEN + 1];	/* tenant acme */
	char b[TOKEN_HEX_LEN + 1];	/* tenant globex */
};

/* Starts the server; name names the log and the temp dir. A test may
 * change t->cfg between tsrv_prepare and tsrv_listen (tsrv_start does
 * both). */
void tsrv_prepare(struct tsrv *t, const char *name);
void tsrv_listen(struct tsrv *t);
void tsrv_start(struct tsrv *t, const char *name);
/* Stops it and removes the temp dir; 0 or -1 (for a cmocka teardown). */
int tsrv_stop(struct tsrv *t);

struct treply {
	long status;
	struct buf body;
	json_t *j;			/* the body as JSON, or NULL */
};

/* method path with token (NULL: none) and body (NULL: none); returns the
 * HTTP status. */
long treq(const struct tsrv *t, const char *method, const char *path,
    const char *token, const void *body, size_t len, struct treply *r);
void treply_free(struct treply *r);
/* The problem+json detail, or "". */
const char *treply_detail(const struct treply *r);

#endif
