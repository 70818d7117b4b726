/* vigil-smmd: the emulated SMM privileged service (docs/smm.md).
 *
 *   vigil-smmd init --state DIR             create the keys (once)
 *   vigil-smmd seal --state DIR --tcti T --pcrs FILE
 *   vigil-smmd reseal --state DIR --tcti T --pcrs FILE   (before the cap)
 *   vigil-smmd unseal --state DIR --tcti T  check only: exit 0 if it could
 *   vigil-smmd policy --pcrs FILE           print the PolicyPCR digest
 *   vigil-smmd [run] --config FILE          serve
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "err.h"
#include "log.h"
#include "service.h"
#include "transport.h"

static volatile sig_atomic_t smmd_stop;

static void
smmd_on_signal(int sig)
{
	smmd_stop = 1;
}

static void
smmd_usage(void)
{
	fprintf(stderr,
	    "usage: vigil-smmd init --state DIR\n"
	    "       vigil-smmd seal --state DIR --tcti T --pcrs FILE\n"
	    "       vigil-smmd reseal --state DIR --tcti T --pcrs FILE\n"
	    "       vigil-smmd unseal --state DIR --tcti T\n"
	    "       vigil-smmd policy --pcrs FILE\n"
	    "       vigil-smmd [run] --config FILE\n");
}

struct smmd_args {
	const char *state, *tcti, *pcrs, *config;
};

static int
smmd_args(int argc, char **argv, struct smmd_args *a)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "tcti", required_argument, NULL, 't' },
		{ "pcrs", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': a->state = optarg; break;
		case 't': a->tcti = optarg; break;
		case 'p': a->pcrs = optarg; break;
		case 'c': a->config = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static int
smmd_print_pub(const char *dir, const char *file, const char *what)
{
	char path[2048];
	uint8_t *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	EVP_PKEY *k = NULL;
	int e;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((e = file_read(path, 4096, &der, &len)) != 0)
		return e;
	p = der;
	if ((k = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
		free(der);
		return VIGIL_EINVAL;
	}
	printf("# %s public key (%s)\n", what, path);
	PEM_write_PUBKEY(stdout, k);
	EVP_PKEY_free(k);
	free(der);
	return 0;
}

/* Keeps only CAP_SYS_PTRACE and CAP_KILL across the switch to user. */
static int
smmd_drop(const struct smmd_config *c)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t keep = (1ull << CAP_SYS_PTRACE) | (1ull << CAP_KILL);
	struct passwd *pw;
	int cap;

	if (geteuid() != 0) {
		log_warn("smmd: not started as root: running as uid %u with "
		    "whatever it may do (production: as user %s with "
		    "CAP_SYS_PTRACE and CAP_KILL only)", (unsigned)geteuid(),
		    c->user);
		return 0;
	}
	if ((pw = getpwnam(c->user)) == NULL) {
		log_err("smmd: user %s does not exist", c->user);
		return VIGIL_ECONFIG;
	}
	/* The state directory must be the service user's. */
	if (chown(c->state_dir, pw->pw_uid, pw->pw_gid) != 0) {
		log_err("smmd: chown %s: %s", c->state_dir, strerror(errno));
		return VIGIL_EIO;
	}
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(keep & (1ull << cap)) && cap != CAP_SETUID &&
		    cap != CAP_SETGID && cap != CAP_SETPCAP)
			(void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 ||
	    setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_err("smmd: cannot switch to user %s: %s", c->user,
		    strerror(errno));
		return VIGIL_EIO;
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) != 0) {
		log_err("smmd: capset: %s", strerror(errno));
		return VIGIL_EIO;
	}
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(keep & (1ull << cap)))
			(void)prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	log_info("smmd: running as %s (uid %u) with CAP_SYS_PTRACE, CAP_KILL",
	    c->user, (unsigned)pw->pw_uid);
	return 0;
}

/* Chowns the state files the service writes (root created them). */
static void
smmd_chown_state(const struct smmd_config *c)
{
	static const char *const files[] = { "smm.log", "smm.head",
	    "refs.json", "refs.sig", "keys" };
	struct passwd *pw;
	char path[2048];
	size_t i;

	if (geteuid() != 0 || (pw = getpwnam(c->user)) == NULL)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", c->state_dir, files[i]);
		(void)chown(path, pw->pw_uid, pw->pw_gid);
	}
}

static int
smmd_run(const char *config)
{
	struct smmd_config cfg;
	struct seal_keys keys = { 0 };
	struct smmd *d = NULL;
	struct sigaction sa;
	enum log_level lvl;
	int fd = -1, e;

	if ((e = smmd_config_load(config, &cfg)) != 0)
		return 1;
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_init("vigil-smmd", lvl);
	if (mkdir(cfg.state_dir, 0700) != 0 && errno != EEXIST) {
		log_err("smmd: cannot create %s: %s", cfg.state_dir,
		    strerror(errno));
		return 1;
	}
	/* Once per boot: after this the boot step caps PCR 11. */
	if ((e = seal_unseal(cfg.state_dir, cfg.tcti, &keys)) != 0) {
		log_err("smmd: cannot unseal the service keys (%s): the PCRs "
		    "are not this boot's predicted values, or PCR 11 is "
		    "capped already; restart needs a reboot",
		    vigil_strerror(e));
		return 1;
	}
	if ((e = smmd_open(&cfg, &keys, &d)) != 0) {
		seal_keys_free(&keys);
		return 1;
	}
	if ((e = mm_sock_listen(cfg.socket, &fd)) != 0)
		goto out;
	smmd_chown_state(&cfg);
	if ((e = smmd_drop(&cfg)) != 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = smmd_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("smmd: serving on %s, %zu targets", cfg.socket,
	    cfg.n_targets);
	e = smmd_serve(d, fd, &smmd_stop);
 out:
	if (fd >= 0) {
		close(fd);
		(void)unlink(cfg.socket);
	}
	smmd_close(d);
	return e == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct smmd_args a;
	struct seal_keys k = { 0 };
	struct pcrs pred;
	uint8_t dig[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	const char *cmd = "run";
	int sub = 0;

	log_init("vigil-smmd", LOG_INFO);
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		sub = 1;
	}
	if (smmd_args(argc - sub, argv + sub, &a) != 0) {
		smmd_usage();
		return 2;
	}
	if (strcmp(cmd, "init") == 0 && a.state != NULL) {
		if (mkdir(a.state, 0700) != 0 && errno != EEXIST) {
			log_err("smmd: cannot create %s: %s", a.state,
			    strerror(errno));
			return 1;
		}
		if (seal_init(a.state) != 0 ||
		    smmd_print_pub(a.state, SEAL_FILE_LOG_PUB,
		    "log-signing") != 0 ||
		    smmd_print_pub(a.state, SEAL_FILE_WRAP_PUB,
		    "key-wrapping") != 0)
			return 1;
		return 0;
	}
	if (strcmp(cmd, "seal") == 0 && a.state && a.tcti && a.pcrs)
		return seal_pcrs_parse(a.pcrs, &pred) != 0 ||
		    seal_seal(a.state, a.tcti, &pred) != 0;
	if (strcmp(cmd, "reseal") == 0 && a.state && a.tcti && a.pcrs)
		return seal_pcrs_parse(a.pcrs, &pred) != 0 ||
		    seal_reseal(a.state, a.tcti, &pred) != 0;
	if (strcmp(cmd, "unseal") == 0 && a.state && a.tcti) {
		if (seal_unseal(a.state, a.tcti, &k) != 0) {
			printf("unseal refused\n");
			return 1;
		}
		seal_keys_free(&k);
		printf("unsealed\n");
		return 0;
	}
	if (strcmp(cmd, "policy") == 0 && a.pcrs) {
		if (seal_pcrs_parse(a.pcrs, &pred) != 0 ||
		    seal_policy_digest(&pred, dig) != 0)
			return 1;
		hex_encode(dig, sizeof(dig), hex);
		printf("%s\n", hex);
		return 0;
	}
	if (strcmp(cmd, "run") == 0 && a.config)
		return smmd_run(a.config);
	smmd_usage();
	return 2;
}
