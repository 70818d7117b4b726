/* `vigil vm ...` and `vigil vms` (cli/vms.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cli/vms.h"
#include "err.h"

#define CLI_VMS_MAX_DOC (64u * 1024)

static const char *
cli_vm_str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

static void
cli_vm_print(const struct cli_ctx *c, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	(void)c;
	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static int
cli_vm_create(const struct cli_ctx *c, const char *name)
{
	json_t *body, *j = NULL;
	char *s;
	int r;

	if ((body = json_pack("{s:s}", "name", name)) == NULL ||
	    (s = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		return VIGIL_ENOMEM;
	}
	json_decref(body);
	r = cli_http(c, "POST", "/v1/vms", s, &j);
	free(s);
	if (r == 0) {
		if (c->json)
			cli_vm_print(c, j);
		else
			printf("%s\n", cli_vm_str(j, "id"));
	}
	json_decref(j);
	return r;
}

static int
cli_vms_list(const struct cli_ctx *c)
{
	json_t *j = NULL, *a, *v;
	size_t i;
	int r;

	if ((r = cli_http(c, "GET", "/v1/vms", NULL, &j)) != 0)
		return r;
	if (c->json) {
		cli_vm_print(c, j);
	} else {
		printf("%-32s  %-16s  %-16s  %s\n", "ID", "NAME", "STATUS",
		    "HOST");
		a = json_object_get(j, "vms");
		for (i = 0; i < json_array_size(a); i++) {
			v = json_array_get(a, i);
			printf("%-32s  %-16s  %-16s  %.16s\n",
			    cli_vm_str(v, "id"), cli_vm_str(v, "name"),
			    cli_vm_str(v, "status"), cli_vm_str(v,
			    "host_node"));
		}
	}
	json_decref(j);
	return 0;
}

static void
cli_vm_reasons(const json_t *part, const char *label)
{
	const json_t *rs = json_object_get(part, "reasons"), *x;
	size_t i;

	for (i = 0; i < json_array_size(rs); i++) {
		x = json_array_get(rs, i);
		printf("  %s: %s\n", label, json_string_value(x) ?
		    json_string_value(x) : "?");
	}
}

static int
cli_vm_attest(const struct cli_ctx *c, const char *id, long wait)
{
	json_t *j = NULL, *res;
	char path[256];
	const char *st;
	int r;

	snprintf(path, sizeof(path), "/v1/vms/%s/attest?wait=%ld", id, wait);
	if ((r = cli_http(c, "POST", path, NULL, &j)) != 0)
		return r;
	if (c->json) {
		cli_vm_print(c, j);
	} else if (strcmp(cli_vm_str(j, "state"), "done") != 0) {
		printf("attestation request %lld %s (poll GET "
		    "/v1/vm-attestations/%lld)\n", (long long)
		    json_integer_value(json_object_get(j, "request")),
		    cli_vm_str(j, "state"), (long long)json_integer_value(
		    json_object_get(j, "request")));
	} else {
		res = json_object_get(j, "result");
		printf("vm %s: %s (guest %s, host %s on node %.16s)\n", id,
		    cli_vm_str(j, "status"), cli_vm_str(json_object_get(res,
		    "guest"), "status"), cli_vm_str(json_object_get(res,
		    "host"), "status"), cli_vm_str(json_object_get(res,
		    "host"), "node"));
		cli_vm_reasons(json_object_get(res, "guest"), "guest");
		cli_vm_reasons(json_object_get(res, "host"), "host");
	}
	st = cli_vm_str(j, "status");
	r = strcmp(cli_vm_str(j, "state"), "done") != 0 ? VIGIL_ESTALE :
	    strcmp(st, "affirming") == 0 ? 0 : 1;
	json_decref(j);
	return r;
}

static int
cli_vm_refvals_put(const struct cli_ctx *c, const char *file)
{
	uint8_t *doc = NULL;
	json_t *j = NULL;
	size_t len;
	char *s;
	int r;

	if ((r = file_read(file, CLI_VMS_MAX_DOC, &doc, &len)) != 0) {
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
	r = cli_http(c, "PUT", "/v1/guest-reference-values", s, &j);
	free(s);
	if (r == 0)
		printf("guest reference values stored as version %lld\n",
		    (long long)json_integer_value(json_object_get(j,
		    "version")));
	json_decref(j);
	return r;
}

int
cli_vm(const struct cli_ctx *c, const char *cmd, int argc, char **argv)
{
	json_t *j = NULL;
	char path[256], *end;
	long wait = 30;
	int r;

	if (strcmp(cmd, "vms") == 0 && argc == 0)
		r = cli_vms_list(c);
	else if (argc == 2 && strcmp(argv[0], "create") == 0)
		r = cli_vm_create(c, argv[1]);
	else if (argc == 2 && strcmp(argv[0], "show") == 0) {
		snprintf(path, sizeof(path), "/v1/vms/%s", argv[1]);
		if ((r = cli_http(c, "GET", path, NULL, &j)) == 0)
			cli_vm_print(c, j);
		json_decref(j);
	} else if ((argc == 2 || argc == 4) && strcmp(argv[0], "attest") ==
	    0) {
		if (argc == 4) {
			errno = 0;
			wait = strtol(argv[3], &end, 10);
			if (strcmp(argv[2], "--wait") != 0 || errno != 0 ||
			    *end != '\0' || wait < 0 || wait > 120) {
				fprintf(stderr, "vigil vm attest ID "
				    "[--wait 0-120]\n");
				return 2;
			}
		}
		r = cli_vm_attest(c, argv[1], wait);
		if (r == 1)
			return 1;
	} else if (argc == 3 && strcmp(argv[0], "reference-values") == 0 &&
	    strcmp(argv[1], "put") == 0)
		r = cli_vm_refvals_put(c, argv[2]);
	else {
		fprintf(stderr, "usage: vigil vm create NAME | vm show ID | "
		    "vm attest ID [--wait S] |\n"
		    "       vm reference-values put FILE | vms\n");
		return 2;
	}
	return r == 0 ? 0 : 2;
}
