/* The PSE/MigE request handling of vigil-psed (enclave/pse_msg.h), as a
 * library so tests can serve it with test keys. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "binding.h"
#include "err.h"
#include "log.h"
#include "migblob.h"
#include "pse_cert.h"
#include "pse_msg.h"
#include "pse_server.h"
#include "tpm_parse.h"

#define PSE_SERVER_IO_TIMEOUT_MS	5000
#define PSE_SERVER_MAX_REQS		64	/* per connection */
#define PSE_SERVER_EK_CERT_DAYS		3650

int
pse_server_ready(struct pse_server *d)
{
	const unsigned char *p = d->pcert_der.data;
	TPM2B_PUBLIC ak;
	int e;

	if (d->pkey == NULL || d->tkey == NULL || d->pcert_der.len == 0 ||
	    d->msr.len == 0)
		return VIGIL_EINVAL;
	X509_free(d->pcert);
	if ((d->pcert = d2i_X509(NULL, &p, (long)d->pcert_der.len)) == NULL ||
	    X509_check_private_key(d->pcert, d->pkey) != 1) {
		log_err("psed: the platform certificate does not certify the "
		    "platform key");
		ERR_clear_error();
		return VIGIL_EVERIFY;
	}
	d->ppub.len = d->tpub.len = 0;
	if ((e = pse_cert_spki(d->pkey, &d->ppub)) != 0 ||
	    (e = pse_cert_spki(d->tkey, &d->tpub)) != 0 ||
	    (e = binding_platform_id(d->pkey, d->platform_id)) != 0)
		return e;
	if (tpm_public_parse(d->msr.data, d->msr.len, &ak) != 0) {
		log_err("psed: the MSR does not hold a TPM2B_PUBLIC");
		return VIGIL_EINVAL;
	}
	return 0;
}

void
pse_server_free(struct pse_server *d)
{
	EVP_PKEY_free(d->pkey);
	EVP_PKEY_free(d->tkey);
	X509_free(d->pcert);
	buf_free(&d->pcert_der);
	buf_free(&d->ppub);
	buf_free(&d->tpub);
	buf_free(&d->msr);
}

static void
pse_server_error(struct pse_msg *rep, uint16_t type, uint32_t st,
    const char *detail)
{
	memset(rep, 0, sizeof(*rep));
	rep->type = type | PSE_REPLY;
	rep->status = st;
	rep->detail.p = (const uint8_t *)detail;
	rep->detail.len = strlen(detail);
}

static int
pse_server_sign(EVP_PKEY *k, const struct buf *tbs, struct buf *sig)
{
	EVP_MD_CTX *md;
	size_t sl;
	int e = VIGIL_ECRYPTO;

	if ((md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	    EVP_DigestSign(md, NULL, &sl, tbs->data, tbs->len) == 1 &&
	    buf_reserve(sig, sl) == 0 &&
	    EVP_DigestSign(md, sig->data, &sl, tbs->data, tbs->len) == 1) {
		sig->len = sl;
		e = 0;
	}
	EVP_MD_CTX_free(md);
	return e;
}

/* The binding over the MSR's AK, marshaled into out. */
static int
pse_server_binding(struct pse_server *d, struct buf *out)
{
	const uint8_t *chain[1] = { d->pcert_der.data };
	size_t lens[1] = { d->pcert_der.len };
	struct binding b;
	int e;

	if ((e = binding_sign(d->pkey, d->msr.data, d->msr.len, chain, lens,
	    1, &b)) != 0)
		return e;
	e = binding_marshal(&b, out);
	binding_free(&b);
	return e;
}

static int
pse_server_issue_ek(struct pse_server *d, const struct pse_msg *req,
    struct buf *out, const char **why)
{
	char cn[PSE_MAX_ID + 16];
	TPM2B_PUBLIC ek;
	EVP_PKEY *pub = NULL;
	X509 *c = NULL;
	int e;

	if (tpm_public_parse(req->ek_pub.p, req->ek_pub.len, &ek) != 0 ||
	    tpm_public_to_evp(&ek, &pub) != 0) {
		*why = "ek_pub is not a usable TPM2B_PUBLIC";
		return VIGIL_EINVAL;
	}
	if (!(ek.publicArea.objectAttributes & TPMA_OBJECT_RESTRICTED) ||
	    !(ek.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT) ||
	    !(ek.publicArea.objectAttributes & TPMA_OBJECT_FIXEDTPM)) {
		*why = "ek_pub is not a restricted decryption key fixed to "
		    "its TPM";
		EVP_PKEY_free(pub);
		return VIGIL_EINVAL;
	}
	snprintf(cn, sizeof(cn), "vTPM EK %.*s", (int)req->vm_id.len,
	    (const char *)req->vm_id.p);
	if ((e = pse_cert_issue(PSE_CERT_VTPM_EK, pub, cn, d->pkey, d->pcert,
	    PSE_SERVER_EK_CERT_DAYS, &c)) == 0)
		e = pse_cert_der(c, out);
	if (e != 0)
		*why = "issuing the certificate failed";
	else
		log_info("psed: issued the vTPM EK certificate of VM %.*s",
		    (int)req->vm_id.len, (const char *)req->vm_id.p);
	X509_free(c);
	EVP_PKEY_free(pub);
	return e;
}

int
pse_transport_tbs(const uint8_t platform_id[BINDING_ID_LEN],
    const uint8_t *spki, size_t spki_len, struct buf *out)
{
	uint8_t h[32];
	unsigned int hl;
	int e;

	if (EVP_Digest(spki, spki_len, h, &hl, EVP_sha256(), NULL) != 1)
		return VIGIL_ECRYPTO;
	if ((e = buf_add(out, PSE_SERVER_TRANSPORT_LABEL,
	    strlen(PSE_SERVER_TRANSPORT_LABEL))) != 0 ||
	    (e = buf_add(out, platform_id, BINDING_ID_LEN)) != 0)
		return e;
	return buf_add(out, h, sizeof(h));
}

int
pse_transport_verify(EVP_PKEY *platform_pub,
    const uint8_t platform_id[BINDING_ID_LEN], const uint8_t *spki,
    size_t spki_len, const uint8_t *sig, size_t sig_len)
{
	struct buf tbs = BUF_INIT;
	EVP_MD_CTX *md = NULL;
	int e;

	if ((e = pse_transport_tbs(platform_id, spki, spki_len, &tbs)) != 0)
		return e;
	e = VIGIL_EVERIFY;
	if ((md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    platform_pub) == 1 &&
	    EVP_DigestVerify(md, sig, sig_len, tbs.data, tbs.len) == 1)
		e = 0;
	if (e != 0)
		log_warn("pse: transport key signature does not verify with "
		    "the platform key");
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	buf_free(&tbs);
	return e;
}

static int
pse_server_transport(struct pse_server *d, struct buf *sig)
{
	struct buf tbs = BUF_INIT;
	int e;

	if ((e = pse_transport_tbs(d->platform_id, d->tpub.data, d->tpub.len,
	    &tbs)) == 0)
		e = pse_server_sign(d->pkey, &tbs, sig);
	buf_free(&tbs);
	return e;
}

static int
pse_server_import(struct pse_server *d, const struct pse_msg *req,
    struct buf *state, struct buf *binding, const char **why)
{
	char vm[PSE_MAX_ID + 1], src[PSE_MAX_ID + 1];
	struct migstate s;
	int e;

	memcpy(vm, req->vm_id.p, req->vm_id.len);
	vm[req->vm_id.len] = '\0';
	memcpy(src, req->source_node.p, req->source_node.len);
	src[req->source_node.len] = '\0';
	if ((e = migblob_open(d->tkey, req->blob.p, req->blob.len, vm, src,
	    state, why)) != 0)
		return e;
	if ((e = migstate_parse(state->data, state->len, &s)) != 0) {
		*why = "migration blob holds no valid vTPM state";
		return VIGIL_EVERIFY;
	}
	migstate_free(&s);
	if ((e = pse_server_binding(d, binding)) != 0)
		return e;
	log_info("psed: imported the vTPM state of VM %s from %s", vm, src);
	return 0;
}

/* One request -> one reply; rep's fields may point into a, b. */
static void
pse_server_handle(struct pse_server *d, const struct pse_msg *req,
    struct pse_msg *rep, struct buf *a, struct buf *b)
{
	const char *why = NULL;
	int e = 0;

	memset(rep, 0, sizeof(*rep));
	rep->type = req->type | PSE_REPLY;
	switch (req->type) {
	case PSE_PLATFORM_INFO:
		rep->platform_id = (struct pse_bytes){ d->platform_id,
		    BINDING_ID_LEN };
		rep->platform_pub = (struct pse_bytes){ d->ppub.data,
		    d->ppub.len };
		rep->transport_pub = (struct pse_bytes){ d->tpub.data,
		    d->tpub.len };
		rep->n_chain = 1;
		rep->chain[0] = (struct pse_bytes){ d->pcert_der.data,
		    d->pcert_der.len };
		return;
	case PSE_CERTIFY_AK:
		if ((e = pse_server_binding(d, a)) != 0)
			break;
		rep->binding = (struct pse_bytes){ a->data, a->len };
		return;
	case PSE_ISSUE_EK_CERT:
		if ((e = pse_server_issue_ek(d, req, a, &why)) != 0)
			break;
		rep->ek_cert = (struct pse_bytes){ a->data, a->len };
		rep->n_chain = 1;
		rep->chain[0] = (struct pse_bytes){ d->pcert_der.data,
		    d->pcert_der.len };
		return;
	case PSE_MIG_TRANSPORT_KEY:
		if ((e = pse_server_transport(d, a)) != 0)
			break;
		rep->transport_pub = (struct pse_bytes){ d->tpub.data,
		    d->tpub.len };
		rep->platform_id = (struct pse_bytes){ d->platform_id,
		    BINDING_ID_LEN };
		rep->sig = (struct pse_bytes){ a->data, a->len };
		return;
	case PSE_MIG_IMPORT:
		if ((e = pse_server_import(d, req, a, b, &why)) != 0)
			break;
		rep->state = (struct pse_bytes){ a->data, a->len };
		rep->binding = (struct pse_bytes){ b->data, b->len };
		return;
	default:
		pse_server_error(rep, req->type, PSE_ST_BAD_REQUEST,
		    "not a request");
		return;
	}
	log_warn("psed: %s failed: %s", pse_msg_type_name(req->type),
	    why ? why : vigil_strerror(e));
	pse_server_error(rep, req->type, e == VIGIL_EVERIFY ? PSE_ST_VERIFY :
	    e == VIGIL_EINVAL ? PSE_ST_BAD_REQUEST : PSE_ST_INTERNAL,
	    why ? why : vigil_strerror(e));
}

static int
pse_server_peer_allowed(struct pse_server *d, int fd)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) != 0) {
		log_warn("psed: SO_PEERCRED failed: %s", strerror(errno));
		return 0;
	}
	for (i = 0; i < d->n_allow; i++)
		if (d->allow[i] == uc.uid)
			return 1;
	log_warn("psed: refused a client with uid %u (pid %d)",
	    (unsigned)uc.uid, (int)uc.pid);
	return 0;
}

/* Serves one connection until EOF, a framing error or the request bound. */
void
pse_server_conn(struct pse_server *d, int fd, volatile sig_atomic_t *stop)
{
	struct buf in = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	struct pse_msg req, rep;
	int n, e, allowed = pse_server_peer_allowed(d, fd);

	for (n = 0; n < PSE_SERVER_MAX_REQS && !*stop; n++) {
		if ((e = pse_msg_recv(fd, PSE_SERVER_IO_TIMEOUT_MS, &in)) != 0)
			break;
		a.len = b.len = 0;
		if (pse_msg_parse(in.data, in.len, &req) != 0) {
			/* The type of a malformed request is unknown: answer
			 * as PLATFORM_INFO's error and close. */
			pse_server_error(&rep, PSE_PLATFORM_INFO, PSE_ST_BAD_REQUEST,
			    "malformed request");
			(void)pse_msg_send(fd, &rep);
			break;
		}
		if (req.type & PSE_REPLY) {
			pse_server_error(&rep, req.type & ~PSE_REPLY,
			    PSE_ST_BAD_REQUEST, "a reply is not a request");
			(void)pse_msg_send(fd, &rep);
			break;
		}
		if (!allowed)
			pse_server_error(&rep, req.type, PSE_ST_DENIED,
			    "caller not allowed");
		else
			pse_server_handle(d, &req, &rep, &a, &b);
		if (pse_msg_send(fd, &rep) != 0)
			break;
	}
	buf_free(&in);
	buf_free(&a);
	buf_free(&b);
}

int
pse_server_listen(const char *path, int *out)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("psed: socket path too long: %s", path);
		return VIGIL_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	(void)unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0666) != 0 || listen(fd, 16) != 0) {
		log_err("psed: cannot listen on %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return VIGIL_EIO;
	}
	*out = fd;
	return 0;
}

