/* The EK certificate from NV or from the operator's file (agent/ekcert.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ekcert.h"
#include "err.h"
#include "log.h"
#include "tpm_parse.h"

static int
ekcert_slurp(const char *path, struct buf *out)
{
	uint8_t tmp[4096];
	size_t n;
	FILE *f;
	int e = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		log_err("ek cert: cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_EIO;
	}
	while (e == 0 && (n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (out->len + n > EKCERT_FILE_MAX) {
			log_err("ek cert: %s is over %d bytes", path,
			    EKCERT_FILE_MAX);
			e = VIGIL_ETOOBIG;
		} else
			e = buf_add(out, tmp, n);
	}
	if (e == 0 && ferror(f)) {
		log_err("ek cert: reading %s failed", path);
		e = VIGIL_EIO;
	}
	fclose(f);
	return e;
}

/* PEM: exactly one CERTIFICATE block. */
static X509 *
ekcert_from_pem(const struct buf *b)
{
	BIO *bio;
	X509 *x, *more;

	if ((bio = BIO_new_mem_buf(b->data, (int)b->len)) == NULL)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x != NULL && (more = PEM_read_bio_X509(bio, NULL, NULL,
	    NULL)) != NULL) {
		X509_free(more);
		X509_free(x);
		x = NULL;
	}
	BIO_free(bio);
	return x;
}

int
ekcert_file_read(const char *path, struct buf *der)
{
	struct buf raw = BUF_INIT;
	const unsigned char *p;
	unsigned char *q;
	X509 *x = NULL;
	int n, e;

	if ((e = ekcert_slurp(path, &raw)) != 0)
		goto out;
	e = VIGIL_EINVAL;
	if (raw.len > 10 && memmem(raw.data, raw.len, "-----BEGIN",
	    10) != NULL)
		x = ekcert_from_pem(&raw);
	else {
		p = raw.data;
		x = d2i_X509(NULL, &p, (long)raw.len);
		if (x != NULL && p != raw.data + raw.len) {
			X509_free(x);
			x = NULL;
		}
	}
	if (x == NULL) {
		log_err("ek cert: %s is not exactly one X.509 certificate "
		    "(PEM or DER)", path);
		goto out;
	}
	if ((n = i2d_X509(x, NULL)) <= 0)
		goto out;
	der->len = 0;
	if ((e = buf_reserve(der, (size_t)n)) != 0)
		goto out;
	q = der->data;
	i2d_X509(x, &q);
	der->len = (size_t)n;
	e = 0;
 out:
	X509_free(x);
	buf_free(&raw);
	return e;
}

int
ekcert_get(struct tpm *t, enum tpm_ek_kind kind, const char *file,
    const struct buf *ek_pub, struct buf *der)
{
	TPM2B_PUBLIC ek;
	const char *why = NULL;
	int e;

	e = tpm_ek_cert(t, kind, der);
	if (e == 0) {
		if (file != NULL && file[0] != '\0')
			log_warn("ek cert: the TPM holds the %s EK certificate "
			    "in NV 0x%08x; [agent] ek_cert_file %s is ignored",
			    tpm_ek_kind_name(kind), tpm_ek_cert_index(kind),
			    file);
		return 0;
	}
	if (e != VIGIL_ENOTFOUND)
		return e;
	if (file == NULL || file[0] == '\0') {
		log_err("ek cert: the TPM has no %s EK certificate in NV "
		    "0x%08x and no [agent] ek_cert_file is set: registering "
		    "without one, which the verifier refuses",
		    tpm_ek_kind_name(kind), tpm_ek_cert_index(kind));
		return VIGIL_ENOTFOUND;
	}
	if ((e = ekcert_file_read(file, der)) != 0)
		return e;
	if (tpm_public_parse(ek_pub->data, ek_pub->len, &ek) == 0 &&
	    tpm_ek_matches_cert(&ek, der->data, der->len, &why) != 0)
		log_err("ek cert: %s does not certify this TPM's %s EK (%s); "
		    "the verifier will refuse it", file,
		    tpm_ek_kind_name(kind), why != NULL ? why : "key differs");
	log_info("ek cert: no %s EK certificate in NV 0x%08x; using %s",
	    tpm_ek_kind_name(kind), tpm_ek_cert_index(kind), file);
	return 0;
}
