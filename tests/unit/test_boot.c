/* agent/boot.c against a real swtpm (VIGIL_TEST_TCTI): the PCRs after the
 * boot step are the PCRs before it extended with the events of the log it
 * wrote, the log holds the events of the table in boot.c, tpm2_eventlog
 * reads it, and bad input fails before the TPM is touched. The TPM is
 * shared with other tests, so PCRs are compared against the values read
 * before the step (extend-by-hand), never against constants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "agent/boot.h"
#include "agent/tpm.h"
#include "buf.h"
#include "err.h"
#include "events.h"
#include "evlog.h"

static const char *tcti;

struct files {
	char dir[64];
	char fw[128], cfg[128], hv[128], pol[128], log[128];
	uint8_t fw_data[70000];		/* more than one read chunk */
	uint8_t hv_data[1000];
	uint8_t cfg_data[40];
	uint8_t pol_data[25];
};

static void
t_write(const char *path, const void *p, size_t n)
{
	FILE *f;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void
t_path(char *out, size_t cap, const char *dir, const char *name)
{
	assert_true((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
}

static int
t_setup(void **state)
{
	struct files *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-test-boot.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	t_path(f->fw, sizeof(f->fw), f->dir, "firmware.bin");
	t_path(f->cfg, sizeof(f->cfg), f->dir, "platform.cfg");
	t_path(f->hv, sizeof(f->hv), f->dir, "hypervisor.bin");
	t_path(f->pol, sizeof(f->pol), f->dir, "boot-policy");
	t_path(f->log, sizeof(f->log), f->dir, "eventlog.bin");
	if (RAND_bytes(f->fw_data, sizeof(f->fw_data)) != 1 ||
	    RAND_bytes(f->hv_data, sizeof(f->hv_data)) != 1)
		return -1;
	memcpy(f->cfg_data, "smt=on\nsecure_boot=on\nvirt=vmx\niommu=on\n",
	    sizeof(f->cfg_data));
	memcpy(f->pol_data, "allow: vigil-hypervisor\n", sizeof(f->pol_data));
	t_write(f->fw, f->fw_data, sizeof(f->fw_data));
	t_write(f->cfg, f->cfg_data, sizeof(f->cfg_data));
	t_write(f->hv, f->hv_data, sizeof(f->hv_data));
	t_write(f->pol, f->pol_data, sizeof(f->pol_data));
	*state = f;
	return 0;
}

static int
t_teardown(void **state)
{
	struct files *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct boot_opts
t_opts(const struct files *f, enum tpm_ek_kind ek)
{
	struct boot_opts o;

	memset(&o, 0, sizeof(o));
	o.tcti = tcti;
	o.ek = ek;
	o.event_log = f->log;
	o.firmware = f->fw;
	o.platform_config = f->cfg;
	o.hypervisor = f->hv;
	o.boot_policy = f->pol;
	return o;
}

static void
t_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int dl;

	assert_int_equal(EVP_Digest(p, n, out, &dl, EVP_sha256(), NULL), 1);
}

static void
t_extend(uint8_t pcr[32], const uint8_t d[32])
{
	uint8_t cat[64];

	memcpy(cat, pcr, 32);
	memcpy(cat + 32, d, 32);
	t_sha256(cat, 64, pcr);
}

static void
t_pcrs(struct pcrs *v, struct buf *ak, enum tpm_ek_kind ek)
{
	struct tpm *t = NULL;

	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_int_equal(tpm_pcr_read(t, 0xff, v), 0);
	if (ak != NULL)
		assert_int_equal(tpm_ak_ensure(t, ek, ak), 0);
	tpm_close(t);
}

/* Checks one event of the log against what boot.c's table says. */
static void
t_check_event(const struct evlog_event *ev, uint32_t pcr, uint32_t type,
    const uint8_t digest[32], const void *data, size_t len)
{
	uint8_t want[32];

	assert_int_equal(ev->pcr, pcr);
	assert_int_equal(ev->type, type);
	assert_true(ev->has_sha256);
	assert_int_equal(ev->data_len, len);
	assert_memory_equal(ev->data, data, len);
	if (digest == NULL) {
		t_sha256(data, len, want);
		digest = want;
	}
	assert_memory_equal(ev->sha256, digest, 32);
}

static void
t_tagged(struct buf *b, uint32_t tag, const void *p, size_t n)
{
	b->len = 0;
	assert_int_equal(buf_add_u32le(b, tag), 0);
	assert_int_equal(buf_add_u32le(b, (uint32_t)n), 0);
	assert_int_equal(buf_add(b, p, n), 0);
}

static void
t_boot_and_check(struct files *f, enum tpm_ek_kind ek)
{
	static const uint8_t sep[4] = { 0 };
	struct boot_opts o = t_opts(f, ek);
	struct pcrs before, after, model;
	struct buf ak = BUF_INIT, tag = BUF_INIT, blob = BUF_INIT;
	struct evlog *log = NULL;
	uint8_t replay[PCR_COUNT][SHA256_LEN], zero_model[8][32], d[32];
	uint8_t *raw = NULL;
	size_t len, i;
	uint32_t touched;

	t_pcrs(&before, NULL, ek);
	assert_int_equal(boot_run(&o), 0);
	t_pcrs(&after, &ak, ek);

	assert_int_equal(file_read(f->log, EVLOG_MAX_SIZE, &raw, &len), 0);
	assert_int_equal(evlog_parse(raw, len, &log), 0);
	assert_true(log->crypto_agile);
	assert_int_equal(log->n, 12);

	assert_int_equal(buf_add_u64le(&blob, 0), 0);
	assert_int_equal(buf_add_u64le(&blob, sizeof(f->fw_data)), 0);
	t_sha256(f->fw_data, sizeof(f->fw_data), d);
	t_check_event(&log->ev[0], 0, EV_EFI_PLATFORM_FIRMWARE_BLOB, d,
	    blob.data, blob.len);
	t_check_event(&log->ev[1], 1, EV_PLATFORM_CONFIG_FLAGS, NULL,
	    f->cfg_data, sizeof(f->cfg_data));
	t_sha256(f->hv_data, sizeof(f->hv_data), d);
	t_check_event(&log->ev[2], 4, EV_IPL, d, f->hv, strlen(f->hv));
	/* No AK event: Vigil's events are in the runtime log (measure). */
	t_tagged(&tag, VIGIL_TAG_BOOT_POLICY, f->pol_data,
	    sizeof(f->pol_data));
	t_check_event(&log->ev[3], 7, EV_EVENT_TAG, NULL, tag.data, tag.len);
	for (i = 0; i < 8; i++)
		t_check_event(&log->ev[4 + i], (uint32_t)i, EV_SEPARATOR, NULL,
		    sep, sizeof(sep));

	/* PCRs now = PCRs before, extended by every logged event. */
	model = before;
	memset(zero_model, 0, sizeof(zero_model));
	for (i = 0; i < log->n; i++) {
		t_extend(model.v[log->ev[i].pcr], log->ev[i].sha256);
		t_extend(zero_model[log->ev[i].pcr], log->ev[i].sha256);
	}
	for (i = 0; i < 8; i++)
		assert_memory_equal(after.v[i], model.v[i], 32);
	/* And the log replays (from reset) as the same chain. */
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, replay, &touched), 0);
	assert_int_equal(touched, 0xff);
	for (i = 0; i < 8; i++)
		assert_memory_equal(replay[i], zero_model[i], 32);

	evlog_free(log);
	free(raw);
	buf_free(&ak);
	buf_free(&tag);
	buf_free(&blob);
}

static void
test_boot_extends_pcrs_as_its_log_replays_with_rsa_ek(void **state)
{
	if (tcti == NULL)
		skip();
	t_boot_and_check(*state, TPM_EK_RSA);
}

static void
test_boot_extends_pcrs_as_its_log_replays_with_ecc_ek(void **state)
{
	if (tcti == NULL)
		skip();
	t_boot_and_check(*state, TPM_EK_ECC);
}

static void
test_boot_log_is_read_by_tpm2_eventlog(void **state)
{
	struct files *f = *state;
	struct boot_opts o = t_opts(f, TPM_EK_RSA);
	char cmd[512];

	if (tcti == NULL)
		skip();
	assert_int_equal(boot_run(&o), 0);
	assert_true((size_t)snprintf(cmd, sizeof(cmd),
	    "tpm2_eventlog '%s' >/dev/null 2>&1", f->log) < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

static void
test_boot_with_missing_input_fails_before_touching_the_tpm(void **state)
{
	struct files *f = *state;
	struct boot_opts o = t_opts(f, TPM_EK_RSA);
	struct pcrs before, after;
	char missing[160];

	if (tcti == NULL)
		skip();
	t_path(missing, sizeof(missing), f->dir, "no-such-hypervisor");
	o.hypervisor = missing;
	remove(f->log);
	t_pcrs(&before, NULL, TPM_EK_RSA);
	assert_int_equal(boot_run(&o), VIGIL_ENOTFOUND);
	o.hypervisor = f->hv;
	o.boot_policy = missing;
	assert_int_equal(boot_run(&o), VIGIL_ENOTFOUND);
	t_pcrs(&after, NULL, TPM_EK_RSA);
	assert_memory_equal(before.v, after.v, sizeof(before.v));
	assert_null(fopen(f->log, "rb"));
}

static void
test_boot_refuses_oversized_boot_policy(void **state)
{
	struct files *f = *state;
	struct boot_opts o = t_opts(f, TPM_EK_RSA);
	char big[160];
	uint8_t *p;

	t_path(big, sizeof(big), f->dir, "big-policy");
	assert_non_null(p = calloc(1, BOOT_MAX_EVENT_FILE + 1));
	t_write(big, p, BOOT_MAX_EVENT_FILE + 1);
	free(p);
	o.boot_policy = big;
	/* Refused while reading the files, before any TPM connection. */
	o.tcti = "swtpm:host=127.0.0.1,port=1";
	assert_int_equal(boot_run(&o), VIGIL_ETOOBIG);
}

static void
test_boot_main_rejects_bad_usage(void **state)
{
	struct files *f = *state;
	char *no_log[] = { "boot", "--tcti", "swtpm:", "--firmware", f->fw,
	    "--platform-config", f->cfg, "--hypervisor", f->hv,
	    "--boot-policy", f->pol, NULL };
	char *bad_ek[] = { "boot", "--ek", "dsa", NULL };
	char *extra[] = { "boot", "stray", NULL };
	char *help[] = { "boot", "--help", NULL };

	assert_int_equal(boot_main(11, no_log), 2);
	assert_int_equal(boot_main(3, bad_ek), 2);
	assert_int_equal(boot_main(2, extra), 2);
	assert_int_equal(boot_main(2, help), 0);
}

static void
test_boot_main_runs_the_boot_step(void **state)
{
	struct files *f = *state;
	char *argv[] = { "boot", "--tcti", (char *)tcti, "--ek", "rsa",
	    "--event-log", f->log, "--firmware", f->fw, "--platform-config",
	    f->cfg, "--hypervisor", f->hv, "--boot-policy", f->pol, NULL };
	uint8_t *raw = NULL;
	size_t len;

	if (tcti == NULL)
		skip();
	remove(f->log);
	assert_int_equal(boot_main(15, argv), 0);
	assert_int_equal(file_read(f->log, EVLOG_MAX_SIZE, &raw, &len), 0);
	assert_true(len > 13 * (4 + 4 + 4 + 2 + 32 + 4));
	free(raw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_boot_extends_pcrs_as_its_log_replays_with_rsa_ek,
		    t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_extends_pcrs_as_its_log_replays_with_ecc_ek,
		    t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_log_is_read_by_tpm2_eventlog, t_setup,
		    t_teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_with_missing_input_fails_before_touching_the_tpm,
		    t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_refuses_oversized_boot_policy, t_setup,
		    t_teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_main_rejects_bad_usage, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
		    test_boot_main_runs_the_boot_step, t_setup, t_teardown),
	};

	tcti = getenv("VIGIL_TEST_TCTI");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
