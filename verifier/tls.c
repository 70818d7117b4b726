/* TLS material and the agents' client-certificate check (see tls.h). The
 * peer's chain comes from the GnuTLS session libmicrohttpd exposes; it is
 * verified with OpenSSL against the agent CA, like every other chain the
 * verifier checks. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "tls.h"

#define TLS_PEM_MAX (1024u * 1024)	/* any one PEM file */
#define TLS_CHAIN_MAX 8		/* certificates a peer may send */

/* The whole file as a NUL-terminated string; refuses empty, oversized or
 * non-PEM files. */
static int
tls_read_pem(const char *what, const char *path, char **out)
{
	char *p = NULL;
	size_t n = 0, r;
	FILE *f;
	int e = VIGIL_ECONFIG;

	if (path[0] == '\0') {
		log_err("config: [server] %s is not set", what);
		return VIGIL_ECONFIG;
	}
	if ((f = fopen(path, "r")) == NULL) {
		log_err("config: [server] %s: cannot open %s: %s", what, path,
		    strerror(errno));
		return VIGIL_ECONFIG;
	}
	if ((p = malloc(TLS_PEM_MAX + 1)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	while ((r = fread(p + n, 1, TLS_PEM_MAX + 1 - n, f)) > 0)
		n += r;
	if (n == 0 || n > TLS_PEM_MAX) {
		log_err("config: [server] %s: %s is %s", what, path,
		    n == 0 ? "empty" : "over 1 MiB");
		goto out;
	}
	p[n] = '\0';
	if (strstr(p, "-----BEGIN ") == NULL) {
		log_err("config: [server] %s: %s holds no PEM block", what,
		    path);
		goto out;
	}
	*out = p;
	p = NULL;
	e = 0;
 out:
	free(p);
	fclose(f);
	return e;
}

static int
tls_ca_store(const char *pem, const char *path, X509_STORE **out)
{
	X509_STORE *st = NULL;
	BIO *b = NULL;
	X509 *x;
	size_t n = 0;
	int e = VIGIL_ENOMEM;

	if ((st = X509_STORE_new()) == NULL ||
	    (b = BIO_new_mem_buf(pem, -1)) == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		X509_STORE_add_cert(st, x);
		X509_free(x);
		n++;
	}
	if (n == 0) {
		log_err("config: [server] client_ca: %s holds no certificate",
		    path);
		e = VIGIL_ECONFIG;
		goto out;
	}
	*out = st;
	st = NULL;
	e = 0;
 out:
	BIO_free(b);
	X509_STORE_free(st);
	return e;
}

int
tls_load(const struct vconfig *cfg, struct tls_ctx **out)
{
	struct tls_ctx *t;
	X509_STORE *st = NULL;
	int e;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = tls_read_pem("tls_cert", cfg->tls_cert, &t->cert_pem)) != 0 ||
	    (e = tls_read_pem("tls_key", cfg->tls_key, &t->key_pem)) != 0 ||
	    (e = tls_read_pem("client_ca", config_client_ca(cfg),
	    &t->ca_pem)) != 0 ||
	    (e = tls_ca_store(t->ca_pem, config_client_ca(cfg), &st)) != 0)
		goto fail;
	t->ca_store = st;
	*out = t;
	return 0;
 fail:
	tls_free(t);
	return e;
}

void
tls_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	free(t->cert_pem);
	if (t->key_pem != NULL) {
		OPENSSL_cleanse(t->key_pem, strlen(t->key_pem));
		free(t->key_pem);
	}
	free(t->ca_pem);
	X509_STORE_free(t->ca_store);
	free(t);
}

static void
tls_subject(X509 *x, char *out, size_t cap)
{
	X509_NAME *nm = X509_get_subject_name(x);

	out[0] = '\0';
	if (nm != NULL)
		X509_NAME_oneline(nm, out, (int)cap);
}

/* The CN of x; 0 if it has exactly one. */
static int
tls_cn(X509 *x, char *out, size_t cap)
{
	X509_NAME *nm = X509_get_subject_name(x);
	const ASN1_STRING *s;
	int i;

	if (nm == NULL ||
	    (i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(nm, NID_commonName, i) >= 0)
		return VIGIL_EINVAL;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i));
	if (s == NULL || (size_t)ASN1_STRING_length(s) >= cap ||
	    memchr(ASN1_STRING_get0_data(s), '\0',
	    (size_t)ASN1_STRING_length(s)) != NULL)
		return VIGIL_EINVAL;
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	out[ASN1_STRING_length(s)] = '\0';
	return 0;
}

enum tls_peer
tls_check_chain(const struct tls_ctx *t, const unsigned char *const *der,
    const size_t *len, size_t n, const char *agent_id)
{
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL, *x;
	const unsigned char *p;
	char subj[256], cn[130];
	enum tls_peer r = TLS_PEER_UNTRUSTED;
	size_t i;

	if (n == 0)
		return TLS_PEER_NONE;
	if (n > TLS_CHAIN_MAX) {
		log_warn("tls: refused: client sent %zu certificates (max %u)",
		    n, TLS_CHAIN_MAX);
		return TLS_PEER_UNTRUSTED;
	}
	p = der[0];
	if ((leaf = d2i_X509(NULL, &p, (long)len[0])) == NULL ||
	    p != der[0] + len[0]) {
		log_warn("tls: refused: client certificate is not DER");
		goto out;
	}
	if ((untrusted = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 1; i < n; i++) {
		p = der[i];
		if ((x = d2i_X509(NULL, &p, (long)len[i])) == NULL)
			goto out;
		if (sk_X509_push(untrusted, x) == 0) {
			X509_free(x);
			goto out;
		}
	}
	tls_subject(leaf, subj, sizeof(subj));
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, t->ca_store, leaf, untrusted) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(ctx) != 1) {
		log_warn("tls: refused: client certificate %s does not verify "
		    "to the agent CA: %s", subj, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (agent_id != NULL) {
		if (tls_cn(leaf, cn, sizeof(cn)) != 0) {
			log_warn("tls: refused: client certificate %s has no "
			    "single CN", subj);
			goto out;
		}
		if (strcmp(cn, agent_id) != 0) {
			log_warn("tls: refused: client certificate names agent "
			    "%.16s..., request is for agent %.16s...", cn,
			    agent_id);
			r = TLS_PEER_OTHER_ID;
			goto out;
		}
	}
	r = TLS_PEER_OK;
 out:
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	return r;
}

enum tls_peer
tls_check_agent(const struct tls_ctx *t, struct MHD_Connection *conn,
    const char *agent_id)
{
	const union MHD_ConnectionInfo *ci;
	const unsigned char *der[TLS_CHAIN_MAX];
	size_t len[TLS_CHAIN_MAX], i;
	const gnutls_datum_t *peers;
	unsigned int n = 0;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL) {
		log_warn("tls: refused: agent request without TLS");
		return TLS_PEER_NONE;
	}
	peers = gnutls_certificate_get_peers(
	    (gnutls_session_t)ci->tls_session, &n);
	if (peers == NULL || n == 0) {
		log_warn("tls: refused: agent sent no client certificate");
		return TLS_PEER_NONE;
	}
	if (n > TLS_CHAIN_MAX) {
		log_warn("tls: refused: client sent %u certificates (max %u)",
		    n, TLS_CHAIN_MAX);
		return TLS_PEER_UNTRUSTED;
	}
	for (i = 0; i < n; i++) {
		der[i] = peers[i].data;
		len[i] = peers[i].size;
	}
	return tls_check_chain(t, der, len, n, agent_id);
}
