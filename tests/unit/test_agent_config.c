/* vigil-agent's configuration file: the shipped example parses; unknown
 * keys and missing required keys are refused with a message naming them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/config.h"
#include "err.h"

static char tmp_path[64];

static const char *
write_conf(const char *text)
{
	FILE *f;
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/vigil-agentconf.XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return tmp_path;
}

static void
test_agent_config_example_parses(void **state)
{
	struct agent_config c;
	char err[256];

	assert_int_equal(agent_config_load("deploy/examples/agent.conf", &c,
	    err, sizeof(err)), 0);
	assert_string_equal(c.verifier_url, "https://127.0.0.1:8443");
	assert_string_equal(c.verifier_ca, "/etc/vigil/server-ca.pem");
	assert_string_equal(c.tcti, "device:/dev/tpmrm0");
	assert_int_equal(c.ek, TPM_EK_RSA);
	assert_string_equal(c.ek_cert_file, "");
	assert_string_equal(c.state_dir, "/var/lib/vigil-agent");
	assert_string_equal(c.socket, "/run/vigil-agent/agent.sock");
	assert_int_equal(c.n_allow_uids, 1);
	assert_int_equal(c.allow_uids[0], 0);
	assert_true(c.spool_max_items == 10000);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_true(c.hostname[0] != '\0');	/* gethostname() */
}

static void
test_agent_config_reads_every_key(void **state)
{
	struct agent_config c;
	char err[256];
	const char *p = write_conf("[agent]\n"
	    "verifier_url = https://v.example:8443\n"
	    "tcti = device:/dev/tpmrm0\nek = ecc\nevent_log = /tmp/log\n"
	    "state_dir = /tmp/st\nsocket = /tmp/a.sock\n"
	    "socket_allow_uids = 0, 1000 ,1001\nhostname = node7\n"
	    "spool_max_items = 5\n[log]\nlevel = debug\n");

	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)), 0);
	unlink(p);
	assert_int_equal(c.ek, TPM_EK_ECC);
	assert_string_equal(c.hostname, "node7");
	assert_int_equal(c.n_allow_uids, 3);
	assert_int_equal(c.allow_uids[2], 1001);
	assert_true(c.spool_max_items == 5);
	assert_int_equal(c.log_level, LOG_DEBUG);
}

/* ek = rsa | p256 | p384 (ecc, the old name of p384); ek_cert_file is
 * read as given; another kind is refused naming the accepted ones. */
static void
test_agent_config_reads_ek_kinds_and_ek_cert_file(void **state)
{
	static const char *const base = "[agent]\nverifier_url = http://x\n"
	    "tcti = swtpm:\nstate_dir = /tmp\n";
	struct agent_config c;
	char err[256], text[512];
	const char *p;

	snprintf(text, sizeof(text), "%sek = p256\n"
	    "ek_cert_file = /etc/vigil/ek-cert.pem\n", base);
	p = write_conf(text);
	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)), 0);
	unlink(p);
	assert_int_equal(c.ek, TPM_EK_P256);
	assert_string_equal(c.ek_cert_file, "/etc/vigil/ek-cert.pem");
	snprintf(text, sizeof(text), "%sek = p384\n", base);
	p = write_conf(text);
	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)), 0);
	unlink(p);
	assert_int_equal(c.ek, TPM_EK_ECC);
	snprintf(text, sizeof(text), "%sek = ecc256\n", base);
	p = write_conf(text);
	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "[agent] ek: \"ecc256\" is not rsa, "
	    "p256 or p384"));
}

static void
test_agent_config_rejects_unknown_key_by_name(void **state)
{
	struct agent_config c;
	char err[256];
	const char *p = write_conf("[agent]\nverifier_url = http://x\n"
	    "tcti = swtpm:\nstate_dir = /tmp\nspool_max_itmes = 3\n");

	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "unknown key \"spool_max_itmes\""));
	assert_non_null(strstr(err, ":5:"));
}

static void
test_agent_config_rejects_unknown_section(void **state)
{
	struct agent_config c;
	char err[256];
	const char *p = write_conf("[agent]\nverifier_url = http://x\n"
	    "tcti = swtpm:\nstate_dir = /tmp\n[server]\nport = 1\n");

	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "unknown section [server]"));
}

static void
test_agent_config_rejects_missing_verifier_url(void **state)
{
	struct agent_config c;
	char err[256];
	const char *p = write_conf("[agent]\ntcti = swtpm:\n"
	    "state_dir = /tmp\n");

	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "verifier_url is required"));
}

static void
test_agent_config_rejects_bad_values(void **state)
{
	struct agent_config c;
	char err[256];
	const char *p;

	p = write_conf("[agent]\nverifier_url = http://x\ntcti = swtpm:\n"
	    "state_dir = /tmp\nek = dsa\n");
	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "ek: \"dsa\""));
	p = write_conf("[agent]\nverifier_url = http://x\ntcti = swtpm:\n"
	    "state_dir = /tmp\nspool_max_items = 12abc\n");
	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "spool_max_items"));
	p = write_conf("[agent]\nverifier_url = ftp://x\ntcti = swtpm:\n"
	    "state_dir = /tmp\n");
	assert_int_equal(agent_config_load(p, &c, err, sizeof(err)),
	    VIGIL_ECONFIG);
	unlink(p);
	assert_non_null(strstr(err, "verifier_url"));
	assert_int_equal(agent_config_load("/nonexistent/agent.conf", &c, err,
	    sizeof(err)), VIGIL_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_config_example_parses),
		cmocka_unit_test(test_agent_config_reads_every_key),
		cmocka_unit_test(
		    test_agent_config_reads_ek_kinds_and_ek_cert_file),
		cmocka_unit_test(test_agent_config_rejects_unknown_key_by_name),
		cmocka_unit_test(test_agent_config_rejects_unknown_section),
		cmocka_unit_test(
		    test_agent_config_rejects_missing_verifier_url),
		cmocka_unit_test(test_agent_config_rejects_bad_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
