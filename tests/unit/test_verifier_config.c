/* The verifier's configuration file: the commented example parses, and a
 * mistake is refused rather than ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "verifier/config.h"

static void
test_verifier_example_config_parses(void **state)
{
	struct vconfig c;

	assert_int_equal(config_load("deploy/examples/verifier.conf", &c), 0);
	assert_string_equal(c.results_key_dir, "/var/lib/vigil-verifier/keys");
	/* The paths deploy/systemd's unit gives the service. */
	assert_string_equal(c.store_path, "/var/lib/vigil-verifier/verifier.db");
	assert_string_equal(c.tls_key,
	    "/run/credentials/vigil-verifier.service/verifier.key");
	assert_string_equal(c.openapi, "");
	assert_int_equal(c.results_ttl_s, 300);
	assert_int_equal(c.sse_max_clients, 256);
	assert_int_equal(c.webhooks_max_attempts, 10);
	assert_string_equal(c.platform_ca, "/etc/vigil/platform-ca.pem");
	assert_string_equal(c.tpm_ca_dir, "/etc/vigil/tpm-ca.d");
	assert_int_equal(c.n_tpm_ca, 2);
	assert_int_equal(c.blob_max_bytes, 64u * 1024 * 1024);
	assert_int_equal(c.blob_quota_bytes, 1024ull * 1024 * 1024);
	assert_int_equal(c.blob_uploads_per_tenant, 4);
	assert_int_equal(c.evidence_max_bytes, 4u * 1024 * 1024);
	assert_int_equal(c.evidence_max_items, 4096);
	assert_int_equal(c.evlog_chunk_max_bytes, 1024u * 1024);
	assert_int_equal(c.attest_waits_per_tenant, 8);
}

static int load_text(const char *text);

/* Each quota and size key is read, and its bounds refused past. */
static void
test_verifier_config_reads_quotas_and_size_limits(void **state)
{
	char path[] = "/tmp/vigil-vconf.XXXXXX";
	struct vconfig c;
	FILE *f;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs("[limits]\nblob_max_bytes = 1000\nblob_quota_bytes = 5000\n"
	    "blob_uploads_per_tenant = 2\nevidence_max_bytes = 70000\n"
	    "evidence_max_items = 3\nevlog_chunk_max_bytes = 2048\n"
	    "attest_waits_per_tenant = 0\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c), 0);
	unlink(path);
	assert_int_equal(c.blob_max_bytes, 1000);
	assert_int_equal(c.blob_quota_bytes, 5000);
	assert_int_equal(c.blob_uploads_per_tenant, 2);
	assert_int_equal(c.evidence_max_bytes, 70000);
	assert_int_equal(c.evidence_max_items, 3);
	assert_int_equal(c.evlog_chunk_max_bytes, 2048);
	assert_int_equal(c.attest_waits_per_tenant, 0);
	assert_int_not_equal(load_text("[limits]\nblob_max_bytes = 0\n"), 0);
	assert_int_not_equal(load_text("[limits]\nblob_max_bytes = "
	    "67108865\n"), 0);
	assert_int_not_equal(load_text("[limits]\nevidence_max_bytes = "
	    "1000\n"), 0);
	assert_int_not_equal(load_text("[limits]\nevidence_max_items = 0\n"),
	    0);
	assert_int_not_equal(load_text("[limits]\nevlog_chunk_max_bytes = "
	    "x\n"), 0);
	assert_int_not_equal(load_text("[limits]\nblob_quota_bytes = -1\n"),
	    0);
}

static int
load_text(const char *text)
{
	char path[] = "/tmp/vigil-vconf.XXXXXX";
	struct vconfig c;
	FILE *f;
	int fd, r;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(text, f);
	fclose(f);
	r = config_load(path, &c);
	unlink(path);
	return r;
}

static void
test_verifier_config_refuses_unknown_keys_and_bad_values(void **state)
{
	assert_int_not_equal(load_text("[results]\nttl_seconds = 5\n"), 0);
	assert_int_not_equal(load_text("[nosuch]\nx = 1\n"), 0);
	assert_int_not_equal(load_text("[results]\nkey_dir = relative\n"), 0);
	assert_int_not_equal(load_text("[webhooks]\nmax_attempts = 0\n"), 0);
	assert_int_not_equal(load_text("[events]\nheartbeat_s = x\n"), 0);
}

/* [attestation] tpm_ca_dir: a path, empty by default, in addition to
 * tpm_ca. */
static void
test_verifier_config_tpm_ca_dir(void **state)
{
	char path[] = "/tmp/vigil-vconf.XXXXXX";
	struct vconfig c;
	FILE *f;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs("[attestation]\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c), 0);
	assert_string_equal(c.tpm_ca_dir, "");
	assert_non_null(f = fopen(path, "w"));
	fputs("[attestation]\ntpm_ca = /a.pem\ntpm_ca_dir = /etc/tpm-ca.d\n",
	    f);
	fclose(f);
	assert_int_equal(config_load(path, &c), 0);
	unlink(path);
	assert_string_equal(c.tpm_ca_dir, "/etc/tpm-ca.d");
	assert_int_equal(c.n_tpm_ca, 1);
	assert_string_equal(c.tpm_ca[0], "/a.pem");
}

/* [attestation] ek_kinds: one (the default, and the example's value) or
 * each; anything else stops the verifier. */
static void
test_verifier_config_ek_kinds(void **state)
{
	char path[] = "/tmp/vigil-vconf.XXXXXX";
	struct vconfig c;
	FILE *f;
	int fd;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.ek_kinds, EK_KINDS_ONE);
	assert_int_equal(config_load("deploy/examples/verifier.conf", &c), 0);
	assert_int_equal(c.ek_kinds, EK_KINDS_ONE);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs("[attestation]\nek_kinds = each\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c), 0);
	unlink(path);
	assert_int_equal(c.ek_kinds, EK_KINDS_EACH);
	assert_int_equal(load_text("[attestation]\nek_kinds = both\n"),
	    VIGIL_ECONFIG);
	assert_int_equal(load_text("[attestation]\nek_kinds = ONE\n"),
	    VIGIL_ECONFIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifier_example_config_parses),
		cmocka_unit_test(test_verifier_config_reads_quotas_and_size_limits),
		cmocka_unit_test(
		    test_verifier_config_refuses_unknown_keys_and_bad_values),
		cmocka_unit_test(test_verifier_config_ek_kinds),
		cmocka_unit_test(test_verifier_config_tpm_ca_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
