/* verifier/tpm_cas.c: TPM vendor CAs from [attestation] tpm_ca_dir (PEM
 * and DER files, roots and intermediates) and the EK certificate chain
 * check whose refusal names the certificate. Test CAs are made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "err.h"
#include "swek.h"
#include "verifier/tpm_cas.h"

struct pki {
	char dir[64];
	EVP_PKEY *root_key, *inter_key, *rogue_key;
	X509 *root, *inter, *rogue;
	struct swek *ek;		/* issued by the intermediate */
	struct swek *rogue_ek;		/* issued by the rogue root */
};

static void
t_path(const struct pki *k, const char *name, char *out, size_t cap)
{
	assert_true((size_t)snprintf(out, cap, "%s/%s", k->dir, name) < cap);
}

static void
t_write_pem(const struct pki *k, const char *name, X509 *x)
{
	char path[256];
	FILE *f;

	t_path(k, name, path, sizeof(path));
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
}

static void
t_write_der(const struct pki *k, const char *name, X509 *x)
{
	unsigned char *der = NULL;
	char path[256];
	FILE *f;
	int n;

	assert_true((n = i2d_X509(x, &der)) > 0);
	t_path(k, name, path, sizeof(path));
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(der, 1, (size_t)n, f), (size_t)n);
	assert_int_equal(fclose(f), 0);
	OPENSSL_free(der);
}

static void
t_write_text(const struct pki *k, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	t_path(k, name, path, sizeof(path));
	assert_non_null(f = fopen(path, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	struct pki *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	snprintf(k->dir, sizeof(k->dir), "/tmp/vigil-tpmcas.XXXXXX");
	assert_non_null(mkdtemp(k->dir));
	assert_int_equal(swek_test_ca("Test TPM Root CA", &k->root_key,
	    &k->root), 0);
	assert_int_equal(swek_test_sub_ca("Test TPM EK Intermediate CA",
	    k->root_key, k->root, &k->inter_key, &k->inter), 0);
	assert_int_equal(swek_test_ca("Rogue CA", &k->rogue_key, &k->rogue),
	    0);
	assert_int_equal(swek_new(k->inter_key, k->inter, &k->ek), 0);
	assert_int_equal(swek_new(k->rogue_key, k->rogue, &k->rogue_ek), 0);
	*state = k;
	return 0;
}

static int
teardown(void **state)
{
	struct pki *k = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", k->dir);
	assert_int_equal(system(cmd), 0);
	swek_free(k->ek);
	swek_free(k->rogue_ek);
	EVP_PKEY_free(k->root_key);
	EVP_PKEY_free(k->inter_key);
	EVP_PKEY_free(k->rogue_key);
	X509_free(k->root);
	X509_free(k->inter);
	X509_free(k->rogue);
	free(k);
	return 0;
}

/* tpm_cas_verify of ek's certificate against a store of dir. */
static int
t_verify(const struct pki *k, const struct swek *ek, char *why, size_t cap)
{
	struct buf der = BUF_INIT;
	X509_STORE *st;
	int e;

	assert_non_null(st = X509_STORE_new());
	assert_int_equal(tpm_cas_add_dir(st, k->dir), 0);
	assert_int_equal(swek_cert_der(ek, &der), 0);
	e = tpm_cas_verify(st, der.data, der.len, why, cap);
	buf_free(&der);
	X509_STORE_free(st);
	return e;
}

/* A root (PEM) and an intermediate (DER) in the directory: an EK
 * certificate the intermediate issued verifies, the intermediate coming
 * from the directory (nothing is fetched). */
static void
test_tpm_ca_dir_root_and_intermediate_verify_a_chain(void **state)
{
	struct pki *k = *state;
	char why[1024];

	t_write_pem(k, "root.pem", k->root);
	t_write_der(k, "intermediate.cer", k->inter);
	assert_int_equal(t_verify(k, k->ek, why, sizeof(why)), 0);
}

/* An intermediate alone is not a trust anchor: without its root the
 * chain does not verify, and the refusal names the certificate and the
 * OpenSSL error. */
static void
test_tpm_ca_dir_intermediate_without_its_root_is_refused(void **state)
{
	struct pki *k = *state;
	char why[1024];

	t_write_der(k, "intermediate.cer", k->inter);
	assert_int_equal(t_verify(k, k->ek, why, sizeof(why)),
	    VIGIL_EVERIFY);
	assert_non_null(strstr(why, "subject \"CN=Vigil software EK (test "
	    "only)\", issuer \"CN=Test TPM EK Intermediate CA\", serial 0x"));
	assert_non_null(strstr(why, "unable to get issuer certificate "
	    "(OpenSSL verify error 2 at depth 1)"));
}

/* A certificate from a CA in neither tpm_ca nor tpm_ca_dir is refused
 * naming subject, issuer, serial and the verify error. */
static void
test_ek_cert_from_unknown_ca_is_refused_naming_the_certificate(
    void **state)
{
	struct pki *k = *state;
	struct buf der = BUF_INIT;
	const unsigned char *p;
	char why[1024], want[512], *hex;
	BIGNUM *bn;
	X509 *x;

	t_write_pem(k, "root.pem", k->root);
	t_write_der(k, "intermediate.der", k->inter);
	assert_int_equal(t_verify(k, k->rogue_ek, why, sizeof(why)),
	    VIGIL_EVERIFY);
	assert_int_equal(swek_cert_der(k->rogue_ek, &der), 0);
	p = der.data;
	assert_non_null(x = d2i_X509(NULL, &p, (long)der.len));
	assert_non_null(bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
	    NULL));
	assert_non_null(hex = BN_bn2hex(bn));
	snprintf(want, sizeof(want), "subject \"CN=Vigil software EK (test "
	    "only)\", issuer \"CN=Rogue CA\", serial 0x%s: unable to get "
	    "local issuer certificate (OpenSSL verify error 20 at depth 0)",
	    hex);
	assert_string_equal(why, want);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	buf_free(&der);
}

/* Several PEM certificates in one file all count; dot files and
 * subdirectories are skipped. */
static void
test_tpm_ca_dir_reads_bundles_and_skips_dot_files(void **state)
{
	struct pki *k = *state;
	char path[256], why[1024];
	FILE *f;

	t_path(k, "bundle.pem", path, sizeof(path));
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, k->inter), 1);
	assert_int_equal(PEM_write_X509(f, k->root), 1);
	assert_int_equal(fclose(f), 0);
	t_write_text(k, ".README", "not a certificate\n");
	t_path(k, "sub", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(t_verify(k, k->ek, why, sizeof(why)), 0);
}

/* A file that holds no certificate is a configuration error naming it
 * (no silent skip); so are an empty and a missing directory. */
static void
test_tpm_ca_dir_refuses_non_certificate_files_and_empty_dirs(void **state)
{
	struct pki *k = *state;
	char path[256];
	X509_STORE *st;

	assert_non_null(st = X509_STORE_new());
	assert_int_equal(tpm_cas_add_dir(st, k->dir), VIGIL_ECONFIG);
	t_path(k, "nope", path, sizeof(path));
	assert_int_equal(tpm_cas_add_dir(st, path), VIGIL_ECONFIG);
	t_write_pem(k, "root.pem", k->root);
	t_write_text(k, "notes.txt", "vendor roots, 2026\n");
	assert_int_equal(tpm_cas_add_dir(st, k->dir), VIGIL_ECONFIG);
	X509_STORE_free(st);
}

static void
test_ek_cert_that_is_not_der_is_refused(void **state)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01 };
	struct pki *k = *state;
	char why[256];
	X509_STORE *st;

	t_write_pem(k, "root.pem", k->root);
	assert_non_null(st = X509_STORE_new());
	assert_int_equal(tpm_cas_add_dir(st, k->dir), 0);
	assert_int_equal(tpm_cas_verify(st, junk, sizeof(junk), why,
	    sizeof(why)), VIGIL_EVERIFY);
	assert_string_equal(why, "not one DER X.509 certificate");
	X509_STORE_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_tpm_ca_dir_root_and_intermediate_verify_a_chain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tpm_ca_dir_intermediate_without_its_root_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ek_cert_from_unknown_ca_is_refused_naming_the_certificate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tpm_ca_dir_reads_bundles_and_skips_dot_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_tpm_ca_dir_refuses_non_certificate_files_and_empty_dirs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ek_cert_that_is_not_der_is_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
