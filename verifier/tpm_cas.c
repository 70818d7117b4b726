/* TPM vendor CAs from a directory, and the EK certificate chain check
 * (verifier/tpm_cas.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "tpm_cas.h"

#define TPM_CAS_NAME_MAX 256

static int
tpm_cas_slurp(const char *path, struct buf *out)
{
	uint8_t tmp[8192];
	size_t n;
	FILE *f;
	int e = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		log_err("config: tpm_ca_dir: cannot open %s: %s", path,
		    strerror(errno));
		return VIGIL_ECONFIG;
	}
	while (e == 0 && (n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (out->len + n > TPM_CAS_FILE_MAX) {
			log_err("config: tpm_ca_dir: %s is over %d bytes", path,
			    TPM_CAS_FILE_MAX);
			e = VIGIL_ECONFIG;
		} else
			e = buf_add(out, tmp, n);
	}
	if (e == 0 && ferror(f)) {
		log_err("config: tpm_ca_dir: reading %s failed", path);
		e = VIGIL_ECONFIG;
	}
	fclose(f);
	return e;
}

static int
tpm_cas_add(X509_STORE *st, X509 *x, unsigned *roots, unsigned *inter)
{
	if (X509_STORE_add_cert(st, x) != 1)
		return VIGIL_ECRYPTO;
	if (X509_check_issued(x, x) == X509_V_OK)
		(*roots)++;
	else
		(*inter)++;
	return 0;
}

/* The certificates of one file: PEM (every CERTIFICATE block) or one DER
 * certificate. */
static int
tpm_cas_add_file(X509_STORE *st, const char *path, unsigned *total)
{
	struct buf raw = BUF_INIT;
	const unsigned char *p;
	unsigned roots = 0, inter = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	int e;

	if ((e = tpm_cas_slurp(path, &raw)) != 0)
		goto out;
	e = VIGIL_ECONFIG;
	if (raw.len >= 10 && memmem(raw.data, raw.len, "-----BEGIN", 10)
	    != NULL) {
		if ((bio = BIO_new_mem_buf(raw.data, (int)raw.len)) == NULL)
			goto out;
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if ((e = tpm_cas_add(st, x, &roots, &inter)) != 0)
				goto out;
			X509_free(x);
			x = NULL;
		}
		ERR_clear_error();	/* the end of the PEM blocks */
	} else {
		p = raw.data;
		x = d2i_X509(NULL, &p, (long)raw.len);
		if (x != NULL && p == raw.data + raw.len &&
		    (e = tpm_cas_add(st, x, &roots, &inter)) != 0)
			goto out;
	}
	e = VIGIL_ECONFIG;
	if (roots + inter == 0) {
		log_err("config: tpm_ca_dir: %s is not a certificate file "
		    "(PEM certificates or one DER certificate)", path);
		goto out;
	}
	log_info("config: tpm_ca_dir: %s: %u root(s), %u intermediate(s)",
	    path, roots, inter);
	*total += roots + inter;
	e = 0;
 out:
	X509_free(x);
	BIO_free(bio);
	buf_free(&raw);
	return e;
}

static int
tpm_cas_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's file names (not starting with '.'), sorted. */
static int
tpm_cas_list(const char *dir, char ***names, size_t *n)
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		log_err("config: tpm_ca_dir %s: cannot open: %s", dir,
		    strerror(errno));
		return VIGIL_ECONFIG;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[cnt] = strdup(de->d_name)) == NULL)
			goto nomem;
		cnt++;
	}
	closedir(d);
	if (cnt > 1)	/* qsort's array must not be NULL, even empty */
		qsort(v, cnt, sizeof(*v), tpm_cas_cmp);
	*names = v;
	*n = cnt;
	return 0;
 nomem:
	closedir(d);
	while (cnt > 0)
		free(v[--cnt]);
	free(v);
	return VIGIL_ENOMEM;
}

int
tpm_cas_add_dir(X509_STORE *st, const char *dir)
{
	char **names = NULL, path[4096];
	unsigned total = 0;
	struct stat sb;
	size_t i, n = 0;
	int e;

	if ((e = tpm_cas_list(dir, &names, &n)) != 0)
		return e;
	for (i = 0; i < n && e == 0; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]) >= sizeof(path)) {
			log_err("config: tpm_ca_dir: path of %s too long",
			    names[i]);
			e = VIGIL_ECONFIG;
		} else if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			log_info("config: tpm_ca_dir: %s is not a regular "
			    "file; skipped", path);
		else
			e = tpm_cas_add_file(st, path, &total);
	}
	if (e == 0 && total == 0) {
		log_err("config: tpm_ca_dir %s holds no certificate file", dir);
		e = VIGIL_ECONFIG;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return e;
}

/* RFC 2253 text of a name (non-ASCII and controls escaped), at most
 * TPM_CAS_NAME_MAX characters, "(empty)" for an empty one. */
static void
tpm_cas_name(const X509_NAME *nm, char *out, size_t cap)
{
	BIO *b;
	int n;

	snprintf(out, cap, "(empty)");
	if (nm == NULL || X509_NAME_entry_count(nm) == 0 ||
	    (b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, out, (int)cap - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

static void
tpm_cas_serial(const X509 *x, char *out, size_t cap)
{
	BIGNUM *bn;
	char *hex = NULL;

	snprintf(out, cap, "?");
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL
	    && (hex = BN_bn2hex(bn)) != NULL)
		snprintf(out, cap, "0x%.64s%s", hex, strlen(hex) > 64 ? "..." :
		    "");
	OPENSSL_free(hex);
	BN_free(bn);
}

int
tpm_cas_verify(X509_STORE *cas, const uint8_t *der, size_t len,
    char *why, size_t whylen)
{
	char subj[TPM_CAS_NAME_MAX + 1], iss[TPM_CAS_NAME_MAX + 1], ser[72];
	const unsigned char *p = der;
	X509_STORE_CTX *ctx = NULL;
	X509 *x = NULL;
	int e = VIGIL_EVERIFY, err;

	snprintf(why, whylen, "not one DER X.509 certificate");
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	tpm_cas_name(X509_get_subject_name(x), subj, sizeof(subj));
	tpm_cas_name(X509_get_issuer_name(x), iss, sizeof(iss));
	tpm_cas_serial(x, ser, sizeof(ser));
	e = VIGIL_ENOMEM;
	if (cas == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, cas, x, NULL) != 1)
		goto out;
	e = VIGIL_EVERIFY;
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		snprintf(why, whylen, "subject \"%s\", issuer \"%s\", serial "
		    "%s: %s (OpenSSL verify error %d at depth %d)", subj, iss,
		    ser, X509_verify_cert_error_string(err), err,
		    X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	e = 0;
 out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return e;
}
