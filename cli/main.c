/* vigil: the command line for operators, tenants and CI. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "cli/bootpol.h"
#include "cli/events.h"
#include "cli/config.h"
#include "cli/http.h"
#include "cli/key.h"
#include "cli/record.h"
#include "cli/verify.h"
#include "cli/vms.h"
#include "err.h"

#define CLI_MAX_DOC (1u * 1024 * 1024)

static const char cli_usage[] =
"usage: vigil [--url URL] [--token TOKEN] [--cacert FILE] [--json] COMMAND\n"
"             [ARGS]\n"
"\n"
"Commands:\n"
"  nodes                       list nodes with their status (operator)\n"
"  node ID                     one node: identity, status, reasons (operator)\n"
"  appraisals ID [--limit N]   a node's appraisal history, newest first\n"
"  reference-values            print the current reference values\n"
"  reference-values put FILE   upload a new version of the reference values\n"
"  reference-values from-event-log LOG [LOG...] [--name NAME]\n"
"                              print a boot policy made from known-good\n"
"                              firmware logs (offline; docs/real-machines.md)\n"
"  re-enrol ID                 allow a node a new EK/AK once (after a TPM clear)\n"
"  record [OPTIONS] -- CMD ARGS  run CMD as a repeatable computation (tenant)\n"
"  computations [ID]           your computations, or one with its checkpoints\n"
"  verify ID [--wait] [--timeout S] [--junit FILE]\n"
"                              replay a computation: exit 0 match, 1 diverged\n"
"                              or invalid evidence, 2 error\n"
"  events [--after ID] [--follow]  events you may see; --follow streams them\n"
"  result KIND ID [--nonce N] [--verify]\n"
"                              the signed result (EAR JWT) of a node or a\n"
"                              computation; --verify checks it offline\n"
"                              against the verifier's keys (exit 1: it does not)\n"
"  audit [--limit N] [--cursor C]  who changed what (operator)\n"
"  key wrap --node ID --ops OPS --uid UIDS --in KEYFILE [--id K] [--tenant T]\n"
"                              wrap a key here to a node's attested SMM key\n"
"  key provision --node ID --in FILE.vgkw   hand it to the verifier (tenant)\n"
"  key uses KEYID              the key's use audit (its tenant only)\n"
"  vm create NAME              declare a VM (tenant); prints its id\n"
"  vm show ID                  a VM: host node, status, placement history\n"
"  vm attest ID [--wait S]     attest a VM now: exit 1 if not affirming\n"
"  vm reference-values put FILE  your guest reference values (vTPM PCRs)\n"
"  vms                         your VMs with their status and host\n"
"\n"
"The verifier URL, token and CA come from --url/--token/--cacert, else\n"
"VIGIL_URL/VIGIL_TOKEN/VIGIL_CACERT, else [vigil] url/token/cacert in\n"
"$VIGIL_CONFIG or ~/.config/vigil/cli.conf (mode 600 if it holds a token).\n"
"An https:// verifier is checked against --cacert FILE or VIGIL_CACERT\n"
"(PEM), else the system trust store.\n"
"Exit status: 0 success, 1 a failed check (verify: diverged; result\n"
"--verify: does not verify), 2 error (the message says which); docs/cli.md.\n";

static void
cli_print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL)
		puts(s);
	free(s);
}

static const char *
cli_str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

static int
cli_nodes(const struct cli_ctx *c)
{
	json_t *j = NULL, *items, *n;
	char path[512];
	const char *cursor = NULL;
	size_t i;
	int r, header = 0;

	for (;;) {
		snprintf(path, sizeof(path), "/v1/nodes?limit=100%s%s",
		    cursor ? "&cursor=" : "", cursor ? cursor : "");
		json_t *page = NULL;
		if ((r = cli_http(c, "GET", path, NULL, &page)) != 0)
			break;
		json_decref(j);
		j = page;
		items = json_object_get(j, "items");
		if (c->json) {
			cli_print_json(items);
		} else {
			if (!header++)
				printf("%-16s %-20s %-16s %s\n", "ID", "HOST",
				    "STATUS", "LAST SEEN");
			json_array_foreach(items, i, n)
				printf("%-16.16s %-20.20s %-16s %s\n",
				    cli_str(n, "id"), cli_str(n, "hostname"),
				    cli_str(n, "status"),
				    cli_str(n, "last_seen_at"));
		}
		cursor = json_string_value(json_object_get(j, "next_cursor"));
		if (cursor == NULL || *cursor == '\0')
			break;
	}
	json_decref(j);
	return r;
}

static void
cli_print_appraisal(const json_t *a)
{
	const json_t *v, *reason;
	const char *k;
	size_t i;

	printf("status:     %s\n", cli_str(a, "status"));
	printf("appraised:  %s\n", cli_str(a, "appraised_at"));
	v = json_object_get(a, "trustworthiness_vector");
	json_object_foreach((json_t *)v, k, reason)
		printf("  %-18s %lld\n", k,
		    (long long)json_integer_value(reason));
	v = json_object_get(a, "reasons");
	if (json_array_size(v) > 0)
		printf("reasons:\n");
	json_array_foreach(v, i, reason)
		printf("  - %s\n", json_string_value(reason));
}

static int
cli_node(const struct cli_ctx *c, const char *id)
{
	json_t *j = NULL;
	char path[512];
	int r;

	if (strspn(id, "0123456789abcdef") != strlen(id) || strlen(id) > 64) {
		fprintf(stderr, "vigil: a node id is lowercase hex\n");
		return VIGIL_EINVAL;
	}
	snprintf(path, sizeof(path), "/v1/nodes/%s", id);
	if ((r = cli_http(c, "GET", path, NULL, &j)) != 0)
		return r;
	if (c->json) {
		cli_print_json(j);
	} else {
		printf("node:       %s\n", cli_str(j, "id"));
		printf("host:       %s\n", cli_str(j, "hostname"));
		printf("last seen:  %s\n", cli_str(j, "last_seen_at"));
		cli_print_appraisal(json_object_get(j, "appraisal"));
	}
	json_decref(j);
	return 0;
}

static int
cli_appraisals(const struct cli_ctx *c, const char *id, long limit)
{
	json_t *j = NULL, *a;
	char path[512];
	size_t i;
	int r;

	snprintf(path, sizeof(path), "/v1/nodes/%s/appraisals?limit=%ld", id,
	    limit);
	if ((r = cli_http(c, "GET", path, NULL, &j)) != 0)
		return r;
	if (c->json) {
		cli_print_json(json_object_get(j, "items"));
	} else {
		json_array_foreach(json_object_get(j, "items"), i, a) {
			printf("%s .. %s  %s\n", cli_str(a, "first_at"),
			    cli_str(a, "last_at"), cli_str(a, "status"));
		}
	}
	json_decref(j);
	return 0;
}

static int
cli_refvals_put(const struct cli_ctx *c, const char *file)
{
	uint8_t *doc = NULL;
	json_t *j = NULL;
	size_t len;
	char *s;
	int r;

	if ((r = file_read(file, CLI_MAX_DOC, &doc, &len)) != 0) {
		fprintf(stderr, "vigil: cannot read %s: %s\n", file,
		    vigil_strerror(r));
		return r;
	}
	if ((s = malloc(len + 1)) == NULL) {
		free(doc);
		return VIGIL_ENOMEM;
	}
	memcpy(s, doc, len);
	s[len] = '\0';
	free(doc);
	r = cli_http(c, "PUT", "/v1/reference-values", s, &j);
	free(s);
	if (r == 0) {
		if (c->json)
			cli_print_json(j);
		else
			printf("reference values stored as version %lld\n",
			    (long long)json_integer_value(
			    json_object_get(j, "version")));
	}
	json_decref(j);
	return r;
}

static int
cli_simple(const struct cli_ctx *c, const char *method, const char *path)
{
	json_t *j = NULL;
	int r;

	if ((r = cli_http(c, method, path, NULL, &j)) == 0)
		cli_print_json(j);
	json_decref(j);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_ctx c = { getenv("VIGIL_URL"), getenv("VIGIL_TOKEN"), 0 };
	struct cli_file file;
	char path[512], *end;
	long limit = 20;
	const char *cmd;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "+u:t:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': c.url = optarg; break;
		case 't': c.token = optarg; break;
		case 'C':
			if (setenv("VIGIL_CACERT", optarg, 1) != 0)
				return 2;
			break;
		case 'j': c.json = 1; break;
		case 'l':
			limit = strtol(optarg, &end, 10);
			if (*end != '\0' || limit < 1 || limit > 1000) {
				fprintf(stderr, "vigil: --limit 1..1000\n");
				return 2;
			}
			break;
		case 'h': fputs(cli_usage, stdout); return 0;
		default: fputs(cli_usage, stderr); return 2;
		}
	}
	if (optind >= argc) {
		fputs(cli_usage, stderr);
		return 2;
	}
	/* Offline: needs no verifier. */
	if (optind + 1 < argc && strcmp(argv[optind], "reference-values") ==
	    0 && strcmp(argv[optind + 1], "from-event-log") == 0)
		return cli_bootpol(argc - optind - 1, argv + optind + 1);
	/* Flags, then the environment, then the config file. */
	if (cli_config_load(&file) != 0)
		return 2;
	if (c.url == NULL && file.url[0] != '\0')
		c.url = file.url;
	if (c.token == NULL && file.token[0] != '\0')
		c.token = file.token;
	if (getenv("VIGIL_CACERT") == NULL && file.cacert[0] != '\0' &&
	    setenv("VIGIL_CACERT", file.cacert, 1) != 0)
		return 2;
	if (c.url == NULL) {
		fprintf(stderr, "vigil: no verifier URL: pass --url, set "
		    "VIGIL_URL, or put url = ... under [vigil] in "
		    "~/.config/vigil/cli.conf\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cmd = argv[optind++];
	if (strcmp(cmd, "record") == 0) {
		/* exits with the command's status (2: recording failed) */
		r = cli_record(&c, argc - optind + 1, argv + optind - 1);
		curl_global_cleanup();
		return r;
	}
	if (strcmp(cmd, "key") == 0) {
		r = cli_key(&c, argc - optind + 1, argv + optind - 1);
		curl_global_cleanup();
		return r;
	}
	if (strcmp(cmd, "verify") == 0) {
		r = cli_verify(&c, argc - optind + 1, argv + optind - 1);
		curl_global_cleanup();
		return r;
	}
	if (strcmp(cmd, "events") == 0 || strcmp(cmd, "result") == 0 ||
	    strcmp(cmd, "audit") == 0) {
		/* exit 0 ok, 1 a result that does not verify, 2 error */
		r = cmd[0] == 'e' ? cli_events(&c, argc - optind + 1,
		    argv + optind - 1) : cmd[0] == 'r' ? cli_result(&c,
		    argc - optind + 1, argv + optind - 1) : cli_audit(&c,
		    argc - optind + 1, argv + optind - 1);
		curl_global_cleanup();
		return r;
	}
	if (strcmp(cmd, "vm") == 0 || strcmp(cmd, "vms") == 0) {
		/* exit 0 ok, 1 a VM attestation not affirming, 2 error */
		r = cli_vm(&c, cmd, argc - optind, argv + optind);
		curl_global_cleanup();
		return r;
	}
	if (strcmp(cmd, "nodes") == 0 && optind == argc)
		r = cli_nodes(&c);
	else if (strcmp(cmd, "node") == 0 && optind + 1 == argc)
		r = cli_node(&c, argv[optind]);
	else if (strcmp(cmd, "computations") == 0 && optind + 1 >= argc)
		r = cli_computations(&c, argc - optind + 1, argv + optind - 1);
	else if (strcmp(cmd, "appraisals") == 0 && optind + 1 == argc)
		r = cli_appraisals(&c, argv[optind], limit);
	else if (strcmp(cmd, "reference-values") == 0 && optind == argc)
		r = cli_simple(&c, "GET", "/v1/reference-values");
	else if (strcmp(cmd, "reference-values") == 0 && optind + 2 == argc &&
	    strcmp(argv[optind], "put") == 0)
		r = cli_refvals_put(&c, argv[optind + 1]);
	else if (strcmp(cmd, "re-enrol") == 0 && optind + 1 == argc) {
		snprintf(path, sizeof(path), "/v1/nodes/%s/re-enrol",
		    argv[optind]);
		r = cli_simple(&c, "POST", path);
	} else {
		fprintf(stderr, "vigil: unknown command or wrong arguments: "
		    "%s\n\n%s", cmd, cli_usage);
		r = VIGIL_EINVAL;
	}
	curl_global_cleanup();
	return r == 0 ? 0 : 2;
}
