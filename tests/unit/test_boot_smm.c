/* vigil-agent measure (the runtime log) against a real swtpm (VIGIL_TEST_TCTI):
 * `vigil-agent boot --smm-image --smm-log-pub --smm-wrap-pub` logs the
 * three PCR 2 events the verifier recomputes (appraise_smm_events finds
 * them, in order, with the keys' DER), and `boot --cap` extends PCR 11 by
 * exactly the logged cap event and appends it, once per boot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/boot.h"
#include "agent/measure.h"
#include "cel.h"
#include "agent/tpm.h"
#include "buf.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "verifier/appraise_smm.h"

static const char *tcti;

struct fx {
	char dir[64];
	char fw[128], cfg[128], hv[128], pol[128], log[128];
	char img[128], logpub[128], wrappub[128];
	uint8_t log_der[SMM_MAX_PUB], wrap_der[SMM_MAX_PUB];
	size_t log_der_len, wrap_der_len;
};

static void
t_write(const char *path, const void *p, size_t n)
{
	FILE *f;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* A fresh P-256 public key: DER kept, written as PEM (pem) or DER. */
static void
t_key(const char *path, int pem, uint8_t *der, size_t *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	unsigned char *d = NULL;
	FILE *f;
	int n;

	assert_non_null(k);
	assert_true((n = i2d_PUBKEY(k, &d)) > 0);
	memcpy(der, d, (size_t)n);
	*len = (size_t)n;
	if (pem) {
		assert_non_null(f = fopen(path, "w"));
		assert_int_equal(PEM_write_PUBKEY(f, k), 1);
		assert_int_equal(fclose(f), 0);
	} else
		t_write(path, d, (size_t)n);
	OPENSSL_free(d);
	EVP_PKEY_free(k);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-test-boot-smm.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
#define P(field, name) snprintf(f->field, sizeof(f->field), "%s/%s", \
	f->dir, name)
	P(fw, "firmware.bin");
	P(cfg, "platform.cfg");
	P(hv, "hypervisor.bin");
	P(pol, "boot-policy");
	P(log, "eventlog.bin");
	P(img, "vigil-smmd");
	P(logpub, "log-signing.pub.pem");
	P(wrappub, "key-wrapping.pub.der");
#undef P
	t_write(f->fw, "firmware", 8);
	t_write(f->cfg, "smt=on\n", 7);
	t_write(f->hv, "hypervisor", 10);
	t_write(f->pol, "allow: all\n", 11);
	t_write(f->img, "vigil-smmd image", 16);
	t_key(f->logpub, 1, f->log_der, &f->log_der_len);
	t_key(f->wrappub, 0, f->wrap_der, &f->wrap_der_len);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->fw);
	unlink(f->cfg);
	unlink(f->hv);
	unlink(f->pol);
	unlink(f->log);
	unlink(f->img);
	unlink(f->logpub);
	unlink(f->wrappub);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
run(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return measure_main(argc, argv);
}

static void
read_pcr11(uint8_t out[SHA256_LEN])
{
	struct tpm *t = NULL;
	struct pcrs v;

	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_int_equal(tpm_pcr_read(t, 1u << 11, &v), 0);
	tpm_close(t);
	memcpy(out, v.v[11], SHA256_LEN);
}

static void
test_boot_smm_events_recomputable_and_cap_once(void **state)
{
	struct fx *f = *state;
	char *boot[] = { "measure", "--tcti", (char *)tcti, "--runtime-log",
	    f->log, "--smm-image", f->img, "--smm-log-pub", f->logpub,
	    "--smm-wrap-pub", f->wrappub, NULL };
	char *cap[] = { "measure", "--cap", "--tcti", (char *)tcti,
	    "--runtime-log", f->log, NULL };
	uint8_t *log = NULL, before[SHA256_LEN], after[SHA256_LEN];
	uint8_t want[SHA256_LEN], cat[2 * SHA256_LEN];
	struct evlog *ev = NULL;
	struct smm_boot b;
	unsigned int dl;
	size_t len = 0, i, n11 = 0;
	char why[200];

	if (tcti == NULL)
		skip();
	assert_int_equal(run(boot), 0);
	assert_int_equal(file_read(f->log, EVLOG_MAX_SIZE, &log, &len), 0);
	assert_int_equal(cel_parse(log, len, &ev, why, sizeof(why)), 0);
	assert_int_equal(appraise_smm_events(ev, &b, why, sizeof(why)), 0);
	assert_true(b.present);
	assert_true(b.only);
	assert_int_equal(ev->n, 3);
	for (i = 0; i < ev->n; i++)
		assert_int_equal(ev->ev[i].pcr, VIGIL_RUNTIME_PCR);
	assert_int_equal(b.log_pub_len, f->log_der_len);
	assert_memory_equal(b.log_pub, f->log_der, f->log_der_len);
	assert_int_equal(b.wrap_pub_len, f->wrap_der_len);
	assert_memory_equal(b.wrap_pub, f->wrap_der, f->wrap_der_len);
	evlog_free(ev);
	ev = NULL;
	free(log);
	log = NULL;

	read_pcr11(before);
	assert_int_equal(run(cap), 0);
	read_pcr11(after);
	assert_int_equal(file_read(f->log, EVLOG_MAX_SIZE, &log, &len), 0);
	assert_int_equal(cel_parse(log, len, &ev, why, sizeof(why)), 0);
	for (i = 0; i < ev->n; i++) {
		if (ev->ev[i].pcr != 11)
			continue;
		n11++;
		assert_int_equal(ev->ev[i].type, EV_EVENT_TAG);
		assert_int_equal(ev->ev[i].data_len, 8 + strlen(VIGIL_CAP_DATA));
		memcpy(cat, before, SHA256_LEN);
		memcpy(cat + SHA256_LEN, ev->ev[i].sha256, SHA256_LEN);
		assert_int_equal(EVP_Digest(cat, sizeof(cat), want, &dl,
		    EVP_sha256(), NULL), 1);
		assert_memory_equal(after, want, SHA256_LEN);
	}
	assert_int_equal(n11, 1);
	evlog_free(ev);
	free(log);
	/* A second cap in the same boot is refused, PCR 11 untouched. */
	assert_int_equal(run(cap), 1);
	read_pcr11(before);
	assert_memory_equal(before, after, SHA256_LEN);
}

static void
test_boot_smm_options_go_together(void **state)
{
	struct fx *f = *state;
	char *boot[] = { "measure", "--tcti", "swtpm:port=1", "--runtime-log",
	    f->log, "--smm-image", f->img, NULL };
	char *cap[] = { "measure", "--cap", "--tcti", "swtpm:port=1", NULL };

	assert_int_equal(run(boot), 2);
	assert_int_equal(run(cap), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_boot_smm_events_recomputable_and_cap_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_smm_options_go_together, setup, teardown),
	};

	tcti = getenv("VIGIL_TEST_TCTI");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
