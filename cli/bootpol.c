/* vigil reference-values from-event-log (cli/bootpol.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cli/bootpol.h"
#include "err.h"
#include "evlog.h"
#include "verifier/appraise_boot.h"

static const char cli_bootpol_usage[] =
"usage: vigil reference-values from-event-log LOG [LOG...] [--name NAME]\n"
"  Prints a reference document whose boot policy NAME (default \"fleet\")\n"
"  accepts what each LOG booted (a known-good machine's firmware log, e.g.\n"
"  /sys/kernel/security/tpm0/binary_bios_measurements); several LOGs give\n"
"  several accepted values per item. PUT it with `vigil reference-values\n"
"  put FILE` (docs/real-machines.md).\n";

/* One log into *policy; 0 or 2 with a message naming the file. */
static int
cli_bootpol_log(const char *path, json_t **policy)
{
	struct evlog *log = NULL;
	uint8_t *data = NULL;
	char why[256];
	size_t len;
	int e;

	if ((e = file_read(path, EVLOG_MAX_SIZE, &data, &len)) != 0) {
		fprintf(stderr, "vigil: cannot read %s: %s\n", path,
		    vigil_strerror(e));
		return 2;
	}
	if ((e = evlog_parse(data, len, &log)) != 0) {
		fprintf(stderr, "vigil: %s is not a TCG event log the verifier "
		    "accepts (%s)\n", path, vigil_strerror(e));
		free(data);
		return 2;
	}
	why[0] = '\0';
	e = bootpol_learn(log, policy, why, sizeof(why));
	if (e != 0)
		fprintf(stderr, "vigil: %s: %s\n", path, why[0] ? why :
		    vigil_strerror(e));
	else
		fprintf(stderr, "vigil: %s: %zu events learnt\n", path,
		    log->n);
	evlog_free(log);
	free(data);
	return e == 0 ? 0 : 2;
}

int
cli_bootpol(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = "fleet";
	json_t *policy = NULL, *doc;
	int ch, i, r = 0;

	optind = 0;	/* glibc: start afresh, permuting options */
	while ((ch = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'h': fputs(cli_bootpol_usage, stdout); return 0;
		default: fputs(cli_bootpol_usage, stderr); return 2;
		}
	}
	if (optind >= argc) {
		fputs(cli_bootpol_usage, stderr);
		return 2;
	}
	if (!bootpol_name_ok(name)) {
		fprintf(stderr, "vigil: --name %s: 1-%d of A-Z a-z 0-9 . _ -\n",
		    name, BOOTPOL_NAME_MAX);
		return 2;
	}
	for (i = optind; i < argc && r == 0; i++)
		r = cli_bootpol_log(argv[i], &policy);
	if (r != 0) {
		json_decref(policy);
		return r;
	}
	doc = json_pack("{s:{s:o}, s:s}", "boot_policies", name, policy,
	    "boot_policy", name);
	if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2) |
	    JSON_SORT_KEYS) != 0) {
		json_decref(doc);
		return 2;
	}
	putchar('\n');
	json_decref(doc);
	return 0;
}
