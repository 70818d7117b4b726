/* `vigil verify`: queue a replay of a recorded computation (or reuse a
 * finished one), wait for it, print a short summary, write JUnit XML when
 * asked; exit 0 match, 1 diverged or invalid evidence, 2 error. And
 * `vigil computations [ID]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/verify.h"
#include "err.h"

#define VERIFY_DEFAULT_TIMEOUT 900
#define VERIFY_POLL_S 1

struct verify_args {
	const char *id;
	int wait;
	long timeout_s;
	const char *junit;
};

/* The outcome, for the summary and the JUnit file. */
struct verify_result {
	int code;			/* VERIFY_* */
	char name[128];
	char evidence_fail[512];	/* "" when the evidence holds */
	char replay_status[16];
	char replay_id[40];
	char message[512];		/* one line */
	char detail[1024];		/* divergence digests */
	double seconds;
};

static const char *
verify_str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static int
verify_id_ok(const char *id)
{
	return strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

static int
verify_parse(int argc, char **argv, struct verify_args *a)
{
	char *end;
	int i;

	memset(a, 0, sizeof(*a));
	a->timeout_s = VERIFY_DEFAULT_TIMEOUT;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0) {
			a->wait = 1;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			a->timeout_s = strtol(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' ||
			    a->timeout_s < 1 || a->timeout_s > 86400) {
				fprintf(stderr, "vigil verify: --timeout takes "
				    "1..86400 seconds\n");
				return VIGIL_EINVAL;
			}
		} else if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc) {
			a->junit = argv[++i];
		} else if (argv[i][0] != '-' && a->id == NULL) {
			a->id = argv[i];
		} else {
			fprintf(stderr, "vigil verify: unexpected argument %s\n"
			    "usage: vigil verify ID [--wait] [--timeout S] "
			    "[--junit FILE]\n", argv[i]);
			return VIGIL_EINVAL;
		}
	}
	if (a->id == NULL || !verify_id_ok(a->id)) {
		fprintf(stderr, "vigil verify: a computation id (32 lowercase "
		    "hex digits) is required\n");
		return VIGIL_EINVAL;
	}
	return 0;
}

/* The first checkpoint that is not valid, for the summary. */
static void
verify_evidence(const json_t *comp, struct verify_result *r)
{
	const json_t *cks = json_object_get(comp, "checkpoints"), *ck;
	const char *status = verify_str(comp, "status");
	size_t i;

	if (strcmp(status, "invalid") != 0)
		return;
	for (i = 0; i < json_array_size(cks); i++) {
		ck = json_array_get(cks, i);
		if (strcmp(verify_str(ck, "verdict"), "valid") == 0)
			continue;
		snprintf(r->evidence_fail, sizeof(r->evidence_fail),
		    "invalid evidence: checkpoint %lld %s: %s",
		    (long long)json_integer_value(json_object_get(ck,
		    "index")), verify_str(ck, "verdict"),
		    verify_str(ck, "reason"));
		return;
	}
	snprintf(r->evidence_fail, sizeof(r->evidence_fail),
	    "invalid evidence: %s", verify_str(comp, "reason"));
}

/* GET PREFIX/ID. */
static int
verify_get(const struct cli_ctx *c, const char *prefix, const char *id,
    json_t **out)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", prefix, id);
	return cli_http(c, "GET", path, NULL, out);
}

static int
verify_terminal(const char *st)
{
	return strcmp(st, "match") == 0 || strcmp(st, "diverged") == 0 ||
	    strcmp(st, "error") == 0;
}

/* The computation, waiting (with --wait) while it is still recording. */
static int
verify_computation(const struct cli_ctx *c, const struct verify_args *a,
    time_t deadline, json_t **comp)
{
	int e;

	for (;;) {
		if ((e = verify_get(c, "/v1/computations", a->id, comp)) !=
		    0)
			return e;
		if (strcmp(verify_str(*comp, "status"), "recording") != 0)
			return 0;
		if (!a->wait || time(NULL) >= deadline) {
			fprintf(stderr, "vigil verify: computation %s is still "
			    "recording (its end has not reached the "
			    "verifier)%s\n", a->id, a->wait ? "" :
			    "; use --wait");
			return VIGIL_ESTALE;
		}
		json_decref(*comp);
		*comp = NULL;
		sleep(VERIFY_POLL_S);
	}
}

/* A finished match/diverged replay is reused; otherwise one is queued. */
static int
verify_replay(const struct cli_ctx *c, const struct verify_args *a,
    const json_t *comp, time_t deadline, json_t **rep)
{
	const json_t *latest = json_object_get(comp, "latest_replay");
	const char *st = verify_str(latest, "status");
	char path[128], rid[40];
	json_t *q = NULL;
	int e;

	if (json_is_object(latest) && strcmp(st, "error") != 0) {
		snprintf(rid, sizeof(rid), "%s", verify_str(latest, "id"));
	} else {
		snprintf(path, sizeof(path), "/v1/computations/%s/replays",
		    a->id);
		if ((e = cli_http(c, "POST", path, "", &q)) != 0)
			return e;
		snprintf(rid, sizeof(rid), "%s", verify_str(q, "id"));
		json_decref(q);
	}
	if (!verify_id_ok(rid)) {
		fprintf(stderr, "vigil verify: the verifier gave no replay "
		    "id\n");
		return VIGIL_EINVAL;
	}
	for (;;) {
		if ((e = verify_get(c, "/v1/replays", rid, rep)) != 0)
			return e;
		if (verify_terminal(verify_str(*rep, "status")))
			return 0;
		if (!a->wait) {
			fprintf(stderr, "vigil verify: replay %s is %s; use "
			    "--wait to wait for it\n", rid,
			    verify_str(*rep, "status"));
			return VIGIL_ESTALE;
		}
		if (time(NULL) >= deadline) {
			fprintf(stderr, "vigil verify: replay %s still %s "
			    "after %ld s\n", rid, verify_str(*rep, "status"),
			    a->timeout_s);
			return VIGIL_EIO;
		}
		json_decref(*rep);
		*rep = NULL;
		sleep(VERIFY_POLL_S);
	}
}

static void
verify_outcome(const json_t *rep, struct verify_result *r)
{
	const json_t *d = json_object_get(rep, "divergence");
	const char *st = verify_str(rep, "status");

	snprintf(r->replay_status, sizeof(r->replay_status), "%s", st);
	snprintf(r->replay_id, sizeof(r->replay_id), "%s",
	    verify_str(rep, "id"));
	if (strcmp(st, "match") == 0) {
		r->code = VERIFY_MATCH;
		snprintf(r->message, sizeof(r->message), "match: %lld "
		    "checkpoints replayed and equal", (long long)
		    json_integer_value(json_object_get(rep,
		    "checkpoints_compared")));
	} else if (strcmp(st, "diverged") == 0) {
		r->code = VERIFY_FAILED;
		snprintf(r->message, sizeof(r->message), "diverged at "
		    "checkpoint %lld", (long long)json_integer_value(
		    json_object_get(d, "index")));
		snprintf(r->detail, sizeof(r->detail),
		    "expected state      %s\nactual state        %s\n"
		    "expected cumulative %s\nactual cumulative   %s",
		    json_is_string(json_object_get(d, "expected_state")) ?
		    verify_str(d, "expected_state") : "(none: the record ends "
		    "before)",
		    json_is_string(json_object_get(d, "actual_state")) ?
		    verify_str(d, "actual_state") : "(none: the replay ended "
		    "before)",
		    json_is_string(json_object_get(d, "expected_cumulative")) ?
		    verify_str(d, "expected_cumulative") : "-",
		    json_is_string(json_object_get(d, "actual_cumulative")) ?
		    verify_str(d, "actual_cumulative") : "-");
	} else {
		r->code = VERIFY_ERROR;
		snprintf(r->message, sizeof(r->message), "error: %s",
		    verify_str(rep, "error"));
	}
}

static void
verify_xml(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\n' &&
			    *s != '\t')
				fputc('?', f);
			else
				fputc(*s, f);
		}
	}
}

/* Two test cases: the evidence, and the replay. */
static int
verify_junit(const char *path, const struct verify_args *a,
    const struct verify_result *r)
{
	int ev_fail = r->evidence_fail[0] != '\0';
	int rp_fail = r->code == VERIFY_FAILED && !ev_fail;
	int rp_err = r->code == VERIFY_ERROR;
	FILE *f;

	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "vigil verify: cannot write %s\n", path);
		return VIGIL_EIO;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites>\n<testsuite name=\"vigil verify\" tests=\"2\" "
	    "failures=\"%d\" errors=\"%d\" time=\"%.1f\">\n", ev_fail + rp_fail,
	    rp_err, r->seconds);
	fprintf(f, "  <testcase classname=\"vigil.computation.");
	verify_xml(f, a->id);
	fprintf(f, "\" name=\"evidence\">\n");
	if (ev_fail) {
		fprintf(f, "    <failure message=\"");
		verify_xml(f, r->evidence_fail);
		fprintf(f, "\" type=\"invalid-evidence\"/>\n");
	}
	fprintf(f, "  </testcase>\n  <testcase classname=\"vigil."
	    "computation.");
	verify_xml(f, a->id);
	fprintf(f, "\" name=\"replay\">\n");
	if (rp_fail) {
		fprintf(f, "    <failure message=\"");
		verify_xml(f, r->message);
		fprintf(f, "\" type=\"diverged\">");
		verify_xml(f, r->detail);
		fprintf(f, "</failure>\n");
	} else if (rp_err) {
		fprintf(f, "    <error message=\"");
		verify_xml(f, r->message);
		fprintf(f, "\" type=\"error\"/>\n");
	} else if (ev_fail) {
		fprintf(f, "    <skipped message=\"the evidence is invalid\"/>\n");
	}
	fprintf(f, "    <system-out>");
	verify_xml(f, r->message[0] ? r->message : r->evidence_fail);
	fprintf(f, "</system-out>\n  </testcase>\n</testsuite>\n"
	    "</testsuites>\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "vigil verify: writing %s failed\n", path);
		return VIGIL_EIO;
	}
	return 0;
}

int
cli_verify(const struct cli_ctx *c, int argc, char **argv)
{
	struct verify_args a;
	struct verify_result r;
	json_t *comp = NULL, *rep = NULL;
	time_t start = time(NULL), deadline;
	int e;

	memset(&r, 0, sizeof(r));
	r.code = VERIFY_ERROR;
	if (verify_parse(argc, argv, &a) != 0)
		return VERIFY_ERROR;
	deadline = start + a.timeout_s;
	if ((e = verify_computation(c, &a, deadline, &comp)) != 0) {
		snprintf(r.message, sizeof(r.message), "error: %s",
		    e == VIGIL_ENOTFOUND ? "no such computation" :
		    e == VIGIL_ESTALE ? "the computation is still recording" :
		    vigil_strerror(e));
		goto out;
	}
	snprintf(r.name, sizeof(r.name), "%s", verify_str(comp, "name"));
	verify_evidence(comp, &r);
	if (r.evidence_fail[0] != '\0') {
		r.code = VERIFY_FAILED;
		goto out;
	}
	if ((e = verify_replay(c, &a, comp, deadline, &rep)) != 0) {
		snprintf(r.message, sizeof(r.message), "error: %s",
		    e == VIGIL_EIO ? "timed out waiting for the replay" :
		    e == VIGIL_ESTALE ? "the replay has not finished" :
		    vigil_strerror(e));
		goto out;
	}
	verify_outcome(rep, &r);
 out:
	r.seconds = difftime(time(NULL), start);
	printf("computation %s%s%s%s\n", a.id ? a.id : "?",
	    r.name[0] ? " (" : "", r.name, r.name[0] ? ")" : "");
	if (r.evidence_fail[0] != '\0')
		printf("  %s\n", r.evidence_fail);
	if (r.message[0] != '\0')
		printf("  replay %s: %s\n", r.replay_id[0] ? r.replay_id : "-",
		    r.message);
	if (r.detail[0] != '\0')
		printf("%s\n", r.detail);
	if (a.junit != NULL && a.id != NULL &&
	    verify_junit(a.junit, &a, &r) != 0 && r.code == VERIFY_MATCH)
		r.code = VERIFY_ERROR;
	json_decref(comp);
	json_decref(rep);
	return r.code;
}

int
cli_computations(const struct cli_ctx *c, int argc, char **argv)
{
	const json_t *items, *it;
	json_t *j = NULL;
	char *s;
	size_t i;
	int e;

	if (argc == 2) {
		if (!verify_id_ok(argv[1])) {
			fprintf(stderr, "vigil: a computation id is 32 "
			    "lowercase hex digits\n");
			return VIGIL_EINVAL;
		}
		if ((e = verify_get(c, "/v1/computations", argv[1], &j)) ==
		    0 && (s = json_dumps(j, JSON_INDENT(2) |
		    JSON_SORT_KEYS)) != NULL) {
			puts(s);
			free(s);
		}
		json_decref(j);
		return e;
	}
	if ((e = cli_http(c, "GET", "/v1/computations?limit=1000", NULL,
	    &j)) != 0)
		return e;
	items = json_object_get(j, "items");
	if (c->json) {
		if ((s = json_dumps(items, JSON_INDENT(2))) != NULL)
			puts(s);
		free(s);
	} else {
		printf("%-32s %-10s %-6s %-6s %s\n", "ID", "STATUS", "EXIT",
		    "COUNT", "NAME");
		for (i = 0; i < json_array_size(items); i++) {
			it = json_array_get(items, i);
			printf("%-32s %-10s %-6lld %-6lld %s\n",
			    verify_str(it, "id"), verify_str(it, "status"),
			    (long long)json_integer_value(json_object_get(it,
			    "exit_status")), (long long)json_integer_value(
			    json_object_get(it, "count")),
			    verify_str(it, "name"));
		}
	}
	json_decref(j);
	return 0;
}
