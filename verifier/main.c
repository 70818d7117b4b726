/* vigil-verifier: serve the REST API, or create an API token.
 *   vigil-verifier [--config FILE]
 *   vigil-verifier token create --config FILE --role operator|tenant
 *       [--tenant NAME] [--label L]
 * See docs/verifier.md. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentca.h"
#include "config.h"
#include "err.h"
#include "freshness.h"
#include "http.h"
#include "log.h"
#include "nonce.h"
#include "store.h"
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
	if (e == 0)
		store_audit(s, "cli", "token.create", role,
		    tenant ? tenant : "");
	store_close(s);
	if (e != 0) {
		log_err("token create failed: %s", vigil_strerror(e));
		return 1;
	}
	printf("%s\n", tok);
	return 0;
}

static int
serve(const char *cfgpath)
{
	struct vconfig cfg;
	struct vctx vc;
	struct http_server *srv = NULL;
	struct freshness *fr = NULL;
	sigset_t set;
	int e, sig, rc = 1;

	memset(&vc, 0, sizeof(vc));
	if (config_load(cfgpath, &cfg) != 0)
		return 1;
	log_init("vigil-verifier", cfg.log_level);
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
	if (cfg.n_tpm_ca == 0)
		log_warn("config: no [attestation] tpm_ca: every registration "
		    "will be refused");
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
	if (http_start(&vc, &srv) != 0)
		goto out;
	if ((e = freshness_start(vc.store, cfg.interval_ms,
	    cfg.stale_intervals, &fr)) != 0) {
		log_err("freshness: cannot start: %s", vigil_strerror(e));
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

	log_init("vigil-verifier", LOG_INFO);
	if (argc >= 2 && strcmp(argv[1], "token") == 0) {
		if (argc >= 3 && strcmp(argv[2], "create") == 0)
			return token_create(argc - 2, argv + 2);
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
