/* vigil-agent: the node's attestation agent (docs/agent.md).
 *   vigil-agent [--config FILE]      run
 *   vigil-agent boot ...             the emulated measured-boot step
 *   vigil-agent status [--socket PATH | --config FILE]
 * Exit status: 0 success (also after SIGTERM/SIGINT), 1 runtime failure,
 * 2 usage or configuration error. */
#include <curl/curl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attest.h"
#include "boot.h"
#include "measure.h"
#include "config.h"
#include "err.h"
#include "localsock.h"
#include "log.h"
#include "vm.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.1.0"
#endif

static volatile sig_atomic_t main_stop;

static void
main_on_signal(int sig)
{
	(void)sig;
	main_stop = 1;
}

static void
main_usage(FILE *f)
{
	fputs("usage: vigil-agent [--config FILE]         run the agent "
	    "(default " AGENT_CONFIG_DEFAULT ")\n"
	    "       vigil-agent boot [options]          the emulated node's "
	    "measured-boot step\n"
	    "       vigil-agent status [--socket PATH | --config FILE]\n"
	    "       vigil-agent vm start|stop|list [VMID] [options]\n"
	    "                                           the node's VMs and "
	    "their vTPMs\n"
	    "                                           ask the running agent "
	    "for its status\n"
	    "       vigil-agent --help | --version\n", f);
}

static int
main_load_config(const char *path, struct agent_config *cfg)
{
	char err[1024];
	int e;

	if ((e = agent_config_load(path, cfg, err, sizeof(err))) != 0) {
		log_err("config: %s", err);
		return e;
	}
	return 0;
}

static int
main_status(int argc, char **argv)
{
	struct agent_config cfg;
	struct localsock_status st;
	const char *sock = NULL, *conf = NULL;
	char err[512], when[32];
	struct tm tm;
	time_t t;
	int i, e;

	memset(&cfg, 0, sizeof(cfg));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc && !conf)
			sock = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc &&
		    !sock)
			conf = argv[++i];
		else {
			main_usage(stderr);
			return 2;
		}
	}
	if (sock == NULL && conf == NULL &&
	    access(AGENT_CONFIG_DEFAULT, F_OK) != 0)
		sock = AGENT_SOCKET_DEFAULT;	/* no config: the default */
	if (sock == NULL) {
		if (main_load_config(conf ? conf : AGENT_CONFIG_DEFAULT, &cfg)
		    != 0)
			return 2;
		sock = cfg.socket;
	}
	if ((e = localsock_query_status(sock, &st, err, sizeof(err))) != 0) {
		fprintf(stderr, "vigil-agent status: %s\n", err);
		return 1;
	}
	if (st.last_push_unix == 0)
		snprintf(when, sizeof(when), "never");
	else {
		t = (time_t)st.last_push_unix;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	printf("agent_id: %s\nstatus: %s\nlast_push: %s\nspool_pending: %"
	    PRIu64 "\n", st.agent_id[0] ? st.agent_id : "none",
	    st.status[0] ? st.status : "unknown", when, st.spool_pending);
	return 0;
}

static int
main_run(int argc, char **argv)
{
	struct agent_config cfg;
	struct sigaction sa;
	const char *conf = AGENT_CONFIG_DEFAULT;
	int i, e;

	memset(&cfg, 0, sizeof(cfg));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			conf = argv[++i];
		else {
			main_usage(stderr);
			return 2;
		}
	}
	if (main_load_config(conf, &cfg) != 0)
		return 2;
	log_init("vigil-agent", cfg.log_level);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("curl_global_init failed");
		return 1;
	}
	e = attest_run(&cfg, &main_stop);
	curl_global_cleanup();
	if (e != 0) {
		log_err("exiting: %s", vigil_strerror(e));
		return 1;
	}
	log_info("exiting on signal");
	return 0;
}

int
main(int argc, char **argv)
{
	log_init("vigil-agent", LOG_INFO);
	if (argc > 1 && strcmp(argv[1], "boot") == 0)
		return boot_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "measure") == 0)
		return measure_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return main_status(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "vm") == 0)
		return vm_main(argc - 1, argv + 1);
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		main_usage(stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("vigil-agent %s\n", VIGIL_VERSION);
		return 0;
	}
	return main_run(argc, argv);
}
