/* The verifier's TLS material ([server] tls_cert, tls_key, client_ca) and
 * the check of an agent's mTLS client certificate. libmicrohttpd (GnuTLS)
 * only asks for the client certificate; tls_check_agent verifies the chain
 * to the agent CA and that its CN names the agent id, itself. */
#ifndef VIGIL_TLS_H
#define VIGIL_TLS_H

#include <stddef.h>

#include "config.h"

struct MHD_Connection;

struct tls_ctx {
	char *cert_pem;		/* server chain, PEM, NUL-terminated */
	char *key_pem;		/* server key, PEM */
	char *ca_pem;		/* agent CA(s), PEM: the trusted names */
	void *ca_store;		/* X509_STORE * of the agent CA(s) */
};

/* Reads the three files named by cfg (tls_cert, tls_key, client_ca). 
 * VIGIL_ECONFIG (logged, naming the file) when one is missing, empty or
 * not PEM. Free with tls_free. */
int tls_load(const struct vconfig *cfg, struct tls_ctx **out);
void tls_free(struct tls_ctx *t);

/* The outcome of a client-certificate check. */
enum tls_peer {
	TLS_PEER_OK = 0,
	TLS_PEER_NONE,		/* no TLS, or no certificate sent */
	TLS_PEER_UNTRUSTED,	/* chain does not verify to the agent CA */
	TLS_PEER_OTHER_ID,	/* valid, but its CN is another agent id */
};

/* Checks the client certificate of conn: chains to the agent CA (dates
 * included) and, when agent_id is not NULL, has CN == agent_id. The
 * reason is logged with the subject. Returns the outcome. */
enum tls_peer tls_check_agent(const struct tls_ctx *t,
    struct MHD_Connection *conn, const char *agent_id);

/* Checks DER certificates (leaf first) the same way; for tests and for
 * tls_check_agent. */
enum tls_peer tls_check_chain(const struct tls_ctx *t,
    const unsigned char *const *der, const size_t *len, size_t n,
    const char *agent_id);

#endif
