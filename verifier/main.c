/* vigil-verifier: serve the REST API, or create an API token.
 *   vigil-verifier [--config FILE]
 *   vigil-verifier token create --config FILE --role operator|tenant
 *       [--tenant NAME] [--label L]
 *   vigil-verifier token list --config FILE
 *   vigil-verifier token revoke --config FILE ID-or-LABEL
 *   vigil-verifier replay-worker JOBDIR   (started by the verifier itself)
 *   vigil-verifier keys rotate|list --config FILE   (result-signing keys)
 * See docs/verifier.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "agentca.h"
#include "config.h"
#include "err.h"
#include "freshness.h"
#include "http.h"
#include "log.h"
#include "nonce.h"
#include "replay.h"
#include "results.h"
#include "routes_ui.h"
#include "evbus.h"
#include "webhooks.h"
#include "store.h"
#include "store_tokens.h"
#include "tokens.h"

#define VIGIL_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/vigil/verifier.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vigil-verifier [--config FILE]\n"
	    "       vigil-verifier token create --config FILE --role operator "
	    "[--label L]\n"
	    "       vigil-verifier token create --config FILE --role tenant "
	    "--tenant NAME [--label L]\n"
	    "       vigil-verifier token list --config FILE\n"
	    "       vigil-verifier token revoke --config FILE ID-or-LABEL\n"
	    "       vigil-verifier replay-worker JOBDIR  (internal: one "
	    "replay)\n"
	    "       vigil-verifier keys rotate|list --config FILE\n"
	    "       vigil-verifier --help | --version\n"
	    "Serves the Vigil verifier REST API (default config %s).\n",
	    DEFAULT_CONFIG);
}

static int
token_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "role", required_argument, NULL, 'r' },
		{ "tenant", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgpath = NULL, *role = NULL, *tenant = NULL, *label = "";
	char tok[TOKEN_HEX_LEN + 1];
	struct vconfig cfg;
	struct store *s = NULL;
	int c, e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'r': role = optarg; break;
		case 't': tenant = optarg; break;
		case 'l': label = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || cfgpath == NULL || role == NULL ||
	    (strcmp(role, "operator") != 0 && strcmp(role, "tenant") != 0) ||
	    (strcmp(role, "tenant") == 0) != (tenant != NULL)) {
		fprintf(stderr, "vigil-verifier: token create needs --config, "
		    "--role operator|tenant, and --tenant NAME exactly for "
		    "tenants\n");
		return 2;
	}
	if (config_load(cfgpath, &cfg) != 0)
		return 1;
	log_init("vigil-verifier", cfg.log_level);
	if ((e = store_open(cfg.store_path, &s)) != 0) {
		log_err("store: cannot open %s: %s", cfg.store_path,
		    vigil_strerror(e));
		return 1;
	}
	e = tokens_create(s, role, tenant, label, tok);
	if (e == 0) {
		char hdr[TOKEN_HEX_LEN + 8], id[TOKEN_ID_LEN + 1], d[256];

		snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
		if (tokens_id_of_header(hdr, id) != 0)
			id[0] = '\0';
		snprintf(d, sizeof(d), "role=%s tenant=%s label=%s", role,
		    tenant ? tenant : "", label);
		store_audit(s, "cli", "token.create", id, d);
	}
	store_close(s);
	if (e != 0) {
		log_err("token create failed: %s", vigil_strerror(e));
		return 1;
	}
	printf("%s\n", tok);
	return 0;
}

/* Opens the store of --config FILE for a token subcommand; *rest gets the
 * index of the first operand. Returns 0, -1 after --help, or the exit
 * status of a failure. */
static int
token_open(int argc, char **argv, struct store **s, int *rest)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgpath = NULL;
	struct vconfig cfg;
	int c, e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (cfgpath == NULL) {
		fprintf(stderr, "vigil-verifier: token %s needs --config "
		    "FILE\n", argv[0]);
		return 2;
	}
	if (config_load(cfgpath, &cfg) != 0)
		return 1;
	log_init("vigil-verifier", cfg.log_level);
	if ((e = store_open(cfg.store_path, s)) != 0) {
		log_err("store: cannot open %s: %s", cfg.store_path,
		    vigil_strerror(e));
		return 1;
	}
	*rest = optind;
	return 0;
}

/* Prints every token: id, role, tenant, label, created, revoked. Never
 * the token: only its hash is stored. */
static int
token_list(int argc, char **argv)
{
	struct token_info *rows = NULL;
	struct store *s = NULL;
	char hex[2 * SHA256_LEN + 1], created[32], revoked[32];
	size_t n = 0, i;
	int rest, e;

	if ((e = token_open(argc, argv, &s, &rest)) != 0)
		return e < 0 ? 0 : e;	/* -1: --help */
	if (rest != argc) {
		store_close(s);
		usage(stderr);
		return 2;
	}
	e = store_token_list(s, &rows, &n);
	store_close(s);
	if (e != 0) {
		log_err("token list failed: %s", vigil_strerror(e));
		return 1;
	}
	printf("%-12s  %-8s  %-16s  %-24s  %-20s  %s\n", "ID", "ROLE",
	    "TENANT", "LABEL", "CREATED", "REVOKED");
	for (i = 0; i < n; i++) {
		hex_encode(rows[i].hash, SHA256_LEN, hex);
		hex[TOKEN_ID_LEN] = '\0';
		http_time(rows[i].created_at, created);
		if (rows[i].revoked_at != 0)
			http_time(rows[i].revoked_at, revoked);
		else
			snprintf(revoked, sizeof(revoked), "-");
		printf("%-12s  %-8s  %-16s  %-24s  %-20s  %s\n", hex,
		    rows[i].role, rows[i].tenant[0] ? rows[i].tenant : "-",
		    rows[i].label[0] ? rows[i].label : "-", created, revoked);
	}
	free(rows);
	return 0;
}

static int
token_revoke(int argc, char **argv)
{
	struct store *s = NULL;
	char id[TOKEN_ID_LEN + 1];
	int rest, e;

	if ((e = token_open(argc, argv, &s, &rest)) != 0)
		return e < 0 ? 0 : e;	/* -1: --help */
	if (rest + 1 != argc) {
		store_close(s);
		fprintf(stderr, "vigil-verifier: token revoke needs one ID "
		    "(from token list) or LABEL\n");
		return 2;
	}
	e = tokens_revoke(s, argv[rest], id);
	if (e == 0)
		store_audit(s, "cli", "token.revoke", id, argv[rest]);
	store_close(s);
	if (e != 0) {
		fprintf(stderr, "vigil-verifier: token revoke %s: %s\n",
		    argv[rest], e == VIGIL_ENOTFOUND ? "no such token" :
		    e == VIGIL_EEXIST ? "several tokens match; give an id" :
		    vigil_strerror(e));
		return 1;
	}
	printf("revoked %s\n", id);
	return 0;
}

/* Given CAP_SETUID and CAP_SETGID (the systemd unit's ambient set) for
 * the replay workers' id maps, the verifier itself does not use them:
 * they leave its effective set before any thread starts, and come back
 * only in the exec'd workers (ambient capabilities survive execve). */
static void
caps_drop_effective(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (getuid() == 0 || syscall(SYS_capget, &h, d) != 0 ||
	    (d[0].effective == 0 && d[1].effective == 0))
		return;
	d[0].effective = d[1].effective = 0;
	if (syscall(SYS_capset, &h, d) != 0)
		log_warn("capabilities: cannot clear the effective set: %s",
		    strerror(errno));
	else
		log_info("capabilities: permitted %#x, for replay workers "
		    "only (none effective in the verifier)", d[0].permitted);
}

static int
serve(const char *cfgpath)
{
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv = NULL;
	struct freshness *fr = NULL;
	struct replay_pool *rp = NULL;
	struct replay_opts ro;
	char self[PATH_MAX];
	ssize_t sl;
	sigset_t set;
	int e, sig, rc = 1;

	memset(&vc, 0, sizeof(vc));
	if (config_load(cfgpath, &cfg) != 0)
		return 1;
	log_init("vigil-verifier", cfg.log_level);
	caps_drop_effective();
	if (config_check_listen(&cfg) != 0)
		return 1;
	/* Block the signals before any thread starts; main waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	vc.cfg = &cfg;
	if (cfg.n_tpm_ca == 0 && cfg.tpm_ca_dir[0] == '\0')
		log_warn("config: no [attestation] tpm_ca or tpm_ca_dir: every "
		    "registration will be refused");
	if (http_load_tpm_cas(&cfg, &vc.tpm_cas) != 0)
		goto out;
	if (cfg.ca_cert[0] != '\0' &&
	    agentca_load(cfg.ca_cert, cfg.ca_key, &vc.ca) != 0)
		goto out;
	if (cfg.learn_refvals)
		log_warn("config: learn_reference_values = yes: a node's first "
		    "accepted quote becomes its reference");
	if ((e = nonce_table_new(cfg.nonce_ttl_ms, NULL, &vc.nonces)) != 0)
		goto out;
	if ((e = store_open(cfg.store_path, &vc.store)) != 0) {
		log_err("store: cannot open %s: %s", cfg.store_path,
		    vigil_strerror(e));
		goto out;
	}
	if ((e = results_start(&cfg)) != 0 ||
	    (e = evbus_start(vc.store, &cfg)) != 0 ||
	    (e = webhooks_start(vc.store, &cfg)) != 0) {
		log_err("results/events/webhooks: cannot start: %s",
		    vigil_strerror(e));
		goto out;
	}
	if (http_start(&vc, &srv) != 0)
		goto out;
	routes_ui_log_url(&cfg, http_port(srv));
	if ((e = freshness_start(vc.store, cfg.interval_ms,
	    cfg.stale_intervals, &fr)) != 0) {
		log_err("freshness: cannot start: %s", vigil_strerror(e));
		goto out;
	}
	/* Replay workers are this binary again (replay-worker), exec'd with
	 * no inherited descriptor: they hold none of our keys or handles. */
	memset(&ro, 0, sizeof(ro));
	if ((sl = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
		log_err("replay: cannot find this executable's path");
		goto out;
	}
	self[sl] = '\0';
	ro.worker_exe = self;
	ro.timeout_s = cfg.replay_timeout_s;
	ro.allow_weak = cfg.allow_weak_sandbox;
	ro.dir = cfg.replay_dir;
	if (cfg.allow_weak_sandbox)
		log_warn("config: [replay] allow_weak_sandbox = yes: replays "
		    "run even where the full sandbox cannot be had");
	if ((e = replay_pool_start(vc.store, &ro, cfg.replay_workers,
	    &rp)) != 0) {
		log_err("replay: cannot start: %s", vigil_strerror(e));
		goto out;
	}
	log_info("vigil-verifier %s ready", VIGIL_VERSION);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored (restart to reload)");
			continue;
		}
		break;
	}
	log_info("signal %d: shutting down", sig);
	rc = 0;
 out:
	http_stop(srv);
	webhooks_stop();
	evbus_stop();
	results_stop();
	replay_pool_stop(rp);
	freshness_stop(fr);
	store_close(vc.store);
	nonce_table_free(vc.nonces);
	agentca_free(vc.ca);
	X509_STORE_free(vc.tpm_cas);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgpath = DEFAULT_CONFIG;
	int c;

	/* Everything the verifier creates (store, keys, job directories) is
	 * its own: 0600 files, 0700 directories. */
	umask(077);
	log_init("vigil-verifier", LOG_INFO);
	if (argc >= 2 && strcmp(argv[1], "replay-worker") == 0) {
		if (argc != 3) {
			usage(stderr);
			return 2;
		}
		return replay_worker_main(argv[2]);
	}
	if (argc >= 2 && strcmp(argv[1], "keys") == 0)
		return sigkeys_cmd_main(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "token") == 0) {
		if (argc >= 3 && strcmp(argv[2], "create") == 0)
			return token_create(argc - 2, argv + 2);
		if (argc >= 3 && strcmp(argv[2], "list") == 0)
			return token_list(argc - 2, argv + 2);
		if (argc >= 3 && strcmp(argv[2], "revoke") == 0)
			return token_revoke(argc - 2, argv + 2);
		usage(stderr);
		return 2;
	}
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("vigil-verifier %s\n", VIGIL_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return serve(cfgpath);
}
