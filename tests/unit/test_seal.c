/* vigil-smmd's keys sealed to predicted PCRs (smm-bridge/seal.h), on the
 * test swtpm (VIGIL_TEST_TCTI; skipped without). The PCRs are only read,
 * never extended: a prediction equal to the current values unseals, one
 * that differs in a single PCR does not. */
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
#include <openssl/x509.h>

#include "agent/tpm.h"
#include "err.h"
#include "log.h"
#include "smm-bridge/seal.h"

static void
write_pred(const char *path, const struct pcrs *p)
{
	char hex[2 * SHA256_LEN + 1];
	FILE *f = fopen(path, "w");
	int i;

	assert_non_null(f);
	fprintf(f, "# predicted\n");
	for (i = 0; i < PCR_COUNT; i++)
		if (SEAL_PCR_MASK & (1u << i)) {
			hex_encode(p->v[i], SHA256_LEN, hex);
			fprintf(f, "%d %s\n", i, hex);
		}
	fclose(f);
}

static void
rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_seal_unseals_only_at_predicted_pcrs(void **state)
{
	const char *tcti = getenv("VIGIL_TEST_TCTI");
	char dir[] = "/tmp/vigil-seal.XXXXXX", pred[128];
	struct tpm *t = NULL;
	struct pcrs now, parsed;
	struct seal_keys k = { 0 };
	uint8_t d[SHA256_LEN];

	if (tcti == NULL)
		skip();
	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_int_equal(tpm_pcr_read(t, SEAL_PCR_MASK, &now), 0);
	tpm_close(t);
	assert_non_null(mkdtemp(dir));
	snprintf(pred, sizeof(pred), "%s/pred.txt", dir);
	write_pred(pred, &now);
	assert_int_equal(seal_pcrs_parse(pred, &parsed), 0);
	assert_int_equal(parsed.mask, SEAL_PCR_MASK);
	assert_memory_equal(parsed.v[11], now.v[11], SHA256_LEN);
	assert_int_equal(seal_policy_digest(&parsed, d), 0);

	assert_int_equal(seal_init(dir), 0);
	assert_int_equal(seal_seal(dir, tcti, &parsed), 0);
	assert_int_equal(seal_unseal(dir, tcti, &k), 0);
	assert_non_null(k.log_key);
	assert_non_null(k.wrap_key);
	seal_keys_free(&k);
	/* Unsealing twice works until the cap (not tested: no extends). */
	assert_int_equal(seal_unseal(dir, tcti, &k), 0);
	seal_keys_free(&k);
	/* Resealed to the same values: still opens, same keys. */
	assert_int_equal(seal_reseal(dir, tcti, &parsed), 0);
	assert_int_equal(seal_unseal(dir, tcti, &k), 0);
	seal_keys_free(&k);
	/* Resealed to another prediction: no longer opens now, and cannot
	 * be resealed again from this state. */
	parsed.v[0][5] ^= 1;
	assert_int_equal(seal_reseal(dir, tcti, &parsed), 0);
	assert_int_equal(seal_unseal(dir, tcti, &k), VIGIL_ETPM);
	assert_int_equal(seal_reseal(dir, tcti, &parsed), VIGIL_ETPM);
	parsed.v[0][5] ^= 1;
	rm_rf(dir);

	/* A prediction one PCR off (as after a cap of PCR 11). */
	memcpy(dir, "/tmp/vigil-seal.XXXXXX", sizeof(dir));
	assert_non_null(mkdtemp(dir));
	parsed.v[11][0] ^= 0x80;
	assert_int_equal(seal_init(dir), 0);
	assert_int_equal(seal_seal(dir, tcti, &parsed), 0);
	assert_int_equal(seal_unseal(dir, tcti, &k), VIGIL_ETPM);
	assert_null(k.log_key);
	rm_rf(dir);
}

static void
test_seal_pcr_file_must_name_exactly_the_policy_pcrs(void **state)
{
	char dir[] = "/tmp/vigil-seal.XXXXXX", path[128];
	struct pcrs p;
	FILE *f;
	int i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pred.txt", dir);
	f = fopen(path, "w");
	for (i = 0; i < 8; i++)
		fprintf(f, "%d %064d\n", i, 0);
	fclose(f);
	assert_int_equal(seal_pcrs_parse(path, &p), VIGIL_EINVAL); /* no 11 */
	f = fopen(path, "a");
	fprintf(f, "12 %064d\n", 0);
	fclose(f);
	assert_int_equal(seal_pcrs_parse(path, &p), VIGIL_EINVAL);
	f = fopen(path, "w");
	for (i = 0; i < 8; i++)
		fprintf(f, "%d %064d\n", i, 0);
	fprintf(f, "11 %063d\n", 0);	/* short value */
	fclose(f);
	assert_int_equal(seal_pcrs_parse(path, &p), VIGIL_EINVAL);
	f = fopen(path, "w");
	for (i = 0; i < 8; i++)
		fprintf(f, "%d %064d\n", i, 0);
	fprintf(f, "\n11 %064d\n", 0);
	fclose(f);
	assert_int_equal(seal_pcrs_parse(path, &p), 0);
	rm_rf(dir);
}

static void
test_seal_policy_digest_of_zero_pcrs_is_fixed(void **state)
{
	struct pcrs p;
	uint8_t d[SHA256_LEN], again[SHA256_LEN];

	memset(&p, 0, sizeof(p));
	p.mask = SEAL_PCR_MASK;
	assert_int_equal(seal_policy_digest(&p, d), 0);
	assert_int_equal(seal_policy_digest(&p, again), 0);
	assert_memory_equal(d, again, SHA256_LEN);
	p.v[3][31] = 1;
	assert_int_equal(seal_policy_digest(&p, again), 0);
	assert_memory_not_equal(d, again, SHA256_LEN);
	p.mask = 0xff;
	assert_int_equal(seal_policy_digest(&p, again), VIGIL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_unseals_only_at_predicted_pcrs),
		cmocka_unit_test(test_seal_pcr_file_must_name_exactly_the_policy_pcrs),
		cmocka_unit_test(test_seal_policy_digest_of_zero_pcrs_is_fixed),
	};

	log_init("test_seal", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
