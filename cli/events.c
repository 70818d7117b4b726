/* vigil events, result, audit (see events.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cli/events.h"
#include "err.h"
#include "jwt.h"

#define CLI_SSE_LINE_MAX (256u * 1024)
#define CLI_RESULT_PROFILE "tag:github.com,2023:veraison/ear"

/* Exit status of a failed request. */
static int
cli_ev_status(int e)
{
	return e == 0 ? 0 : 2;
}

static int
cli_ev_id_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

static int
cli_ev_parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
		return VIGIL_EINVAL;
	*out = (int64_t)v;
	return 0;
}

/* ---- events ---- */

struct cli_sse {
	const struct cli_ctx *c;
	struct buf line;
	struct buf data;
	int64_t last_id;	/* of the last event printed; -1 none */
	int64_t pending_id;
	int header;
	int bad;
};

static void
cli_sse_print(struct cli_sse *s)
{
	json_t *j;
	char *d;
	const char *kind, *subj, *at, *ten;

	if ((j = json_loadb((const char *)s->data.data, s->data.len, 0,
	    NULL)) == NULL || !json_is_object(j)) {
		fprintf(stderr, "vigil: skipped an event whose data is not a "
		    "JSON object\n");
		json_decref(j);
		return;
	}
	if (s->c->json) {
		d = json_dumps(j, JSON_COMPACT);
		if (d != NULL)
			printf("%s\n", d);
		free(d);
	} else {
		if (!s->header++)
			printf("%-8s %-20s %-16s %-24s %-10s %s\n", "ID", "AT",
			    "KIND", "SUBJECT", "TENANT", "DATA");
		kind = json_string_value(json_object_get(j, "kind"));
		subj = json_string_value(json_object_get(j, "subject"));
		at = json_string_value(json_object_get(j, "at"));
		ten = json_string_value(json_object_get(j, "tenant"));
		d = json_dumps(json_object_get(j, "data"), JSON_COMPACT);
		printf("%-8" PRId64 " %-20s %-16s %-24.64s %-10s %s\n",
		    (int64_t)json_integer_value(json_object_get(j, "id")),
		    at ? at : "-", kind ? kind : "-", subj ? subj : "-",
		    ten ? ten : "-", d ? d : "{}");
		free(d);
	}
	fflush(stdout);
	json_decref(j);
}

static void
cli_sse_line(struct cli_sse *s, const char *l, size_t n)
{
	char num[24];

	if (n > 0 && l[n - 1] == '\r')
		n--;
	if (n == 0) {		/* the end of one event */
		if (s->data.len > 0) {
			cli_sse_print(s);
			if (s->pending_id >= 0)
				s->last_id = s->pending_id;
		}
		s->data.len = 0;
		s->pending_id = -1;
		return;
	}
	if (n >= 4 && memcmp(l, "id: ", 4) == 0 && n - 4 < sizeof(num)) {
		memcpy(num, l + 4, n - 4);
		num[n - 4] = '\0';
		if (cli_ev_parse_id(num, &s->pending_id) != 0)
			s->pending_id = -1;
	} else if (n >= 6 && memcmp(l, "data: ", 6) == 0) {
		if (s->data.len > 0)
			buf_add_u8(&s->data, '\n');
		buf_add(&s->data, l + 6, n - 6);
	}
	/* comments (":"), "event:" and "retry:" need nothing */
}

static size_t
cli_sse_sink(const char *p, size_t n, void *arg)
{
	struct cli_sse *s = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (s->line.len >= CLI_SSE_LINE_MAX) {
				fprintf(stderr, "vigil: an event line is over "
				    "%u bytes\n", CLI_SSE_LINE_MAX);
				s->bad = 1;
				return 0;
			}
			buf_add_u8(&s->line, (uint8_t)p[i]);
			continue;
		}
		cli_sse_line(s, (const char *)s->line.data, s->line.len);
		s->line.len = 0;
	}
	return n;
}

int
cli_events(const struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_sse s;
	char path[96], hdr[64];
	int64_t after = -1;
	int ch, follow = 0, e;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (cli_ev_parse_id(optarg, &after) != 0) {
				fprintf(stderr, "vigil: --after takes an event "
				    "id\n");
				return 2;
			}
			break;
		case 'f': follow = 1; break;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: vigil events [--after ID] [--follow]\n");
		return 2;
	}
	memset(&s, 0, sizeof(s));
	s.c = c;
	s.last_id = after;
	s.pending_id = -1;
	if (!follow) {
		snprintf(path, sizeof(path), "/v1/events?follow=0&after=%" PRId64,
		    after < 0 ? 0 : after);
		e = cli_http_stream(c, path, NULL, 0, cli_sse_sink, &s);
		buf_free(&s.line);
		buf_free(&s.data);
		return cli_ev_status(e);
	}
	for (;;) {
		s.line.len = 0;
		s.data.len = 0;
		if (s.last_id >= 0)
			snprintf(hdr, sizeof(hdr), "Last-Event-ID: %" PRId64,
			    s.last_id);
		e = cli_http_stream(c, "/v1/events", s.last_id >= 0 ? hdr :
		    NULL, 0, cli_sse_sink, &s);
		if (e == VIGIL_EDENIED || e == VIGIL_ENOTFOUND || s.bad)
			break;
		/* The stream ended or broke: resume where it stopped. */
		fprintf(stderr, "vigil: event stream ended; reconnecting%s\n",
		    s.last_id >= 0 ? " with Last-Event-ID" : "");
		sleep(2);
	}
	buf_free(&s.line);
	buf_free(&s.data);
	return 2;
}

/* ---- result ---- */

static size_t
cli_buf_sink(const char *p, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + n > JWT_MAX)
		return 0;
	return buf_add(b, p, n) == 0 ? n : 0;
}

/* Checks a result's claims beyond its signature; why gets the failure. */
static int
cli_result_claims_ok(const json_t *cl, const char *kind, const char *id,
    const char *nonce, char *why, size_t cap)
{
	const char *sub = json_string_value(json_object_get(cl, "sub"));
	const char *prof = json_string_value(json_object_get(cl,
	    "eat_profile"));
	const char *n = json_string_value(json_object_get(cl, "eat_nonce"));
	json_int_t exp = json_integer_value(json_object_get(cl, "exp"));
	json_int_t now = (json_int_t)time(NULL);
	char want[300];

	snprintf(want, sizeof(want), "%s/%s", kind, id);
	if (prof == NULL || strcmp(prof, CLI_RESULT_PROFILE) != 0)
		snprintf(why, cap, "eat_profile is not %s", CLI_RESULT_PROFILE);
	else if (sub == NULL || strcmp(sub, want) != 0)
		snprintf(why, cap, "sub is %.120s, not %.140s",
		    sub ? sub : "absent", want);
	else if (!json_is_integer(json_object_get(cl, "exp")) || exp <= now)
		snprintf(why, cap, "expired (exp %lld, now %lld)",
		    (long long)exp, (long long)now);
	else if (nonce != NULL && (n == NULL || strcmp(n, nonce) != 0))
		snprintf(why, cap, "eat_nonce is %s, not the nonce asked for",
		    n ? n : "absent");
	else if (!json_is_object(json_object_get(cl, "submods")))
		snprintf(why, cap, "no submods");
	else
		return 0;
	return VIGIL_EVERIFY;
}

static void
cli_result_summary(const json_t *cl, const char *kid)
{
	const char *name;
	json_t *m;

	fprintf(stderr, "vigil: result verified: %s, kid %s\n",
	    json_string_value(json_object_get(cl, "sub")), kid);
	json_object_foreach(json_object_get(cl, "submods"), name, m) {
		fprintf(stderr, "  %-12s %s\n", name, json_string_value(
		    json_object_get(m, "ear.status")));
	}
}

int
cli_result(const struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nonce", required_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct buf tok = BUF_INIT;
	json_t *jwks = NULL, *claims = NULL, *o;
	const char *nonce = NULL, *kind, *id;
	char path[512], kid[JWT_KID_MAX + 1], why[300], *s;
	int ch, verify = 0, e, rc = 2;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': nonce = optarg; break;
		case 'v': verify = 1; break;
		default: return 2;
		}
	}
	if (optind + 2 != argc || !cli_ev_id_ok(argv[optind]) ||
	    !cli_ev_id_ok(argv[optind + 1]) ||
	    (nonce != NULL && !cli_ev_id_ok(nonce))) {
		fprintf(stderr, "usage: vigil result KIND ID [--nonce N] "
		    "[--verify]   (KIND: node, vm, computation)\n");
		return 2;
	}
	kind = argv[optind];
	id = argv[optind + 1];
	snprintf(path, sizeof(path), "/v1/results/%s/%s%s%s", kind, id,
	    nonce ? "?nonce=" : "", nonce ? nonce : "");
	if ((e = cli_http_stream(c, path, NULL, 30, cli_buf_sink, &tok)) != 0)
		goto out;
	if (buf_add_u8(&tok, 0) != 0)
		goto out;
	if (!verify) {
		if (c->json) {
			o = json_pack("{s:s}", "token", (char *)tok.data);
			s = json_dumps(o, JSON_COMPACT);
			printf("%s\n", s ? s : "");
			free(s);
			json_decref(o);
		} else
			printf("%s\n", (char *)tok.data);
		rc = 0;
		goto out;
	}
	if ((e = cli_http(c, "GET", "/v1/verifier/jwks", NULL, &jwks)) != 0)
		goto out;
	rc = 1;
	e = jwt_verify_es256((char *)tok.data, jwks, &claims, kid);
	if (e != 0)
		snprintf(why, sizeof(why), "%s", e == VIGIL_ENOTFOUND ?
		    "its key is not in the verifier's key set" :
		    e == VIGIL_ECRYPTO ? "the signature does not hold" :
		    "it is not a well-formed ES256 JWT");
	else if ((e = cli_result_claims_ok(claims, kind, id, nonce, why,
	    sizeof(why))) == 0)
		rc = 0;
	if (c->json) {
		o = json_pack("{s:s, s:b, s:O?, s:s?}", "token",
		    (char *)tok.data, "verified", rc == 0, "claims", claims,
		    "error", rc == 0 ? NULL : why);
		s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s ? s : "");
		free(s);
		json_decref(o);
	} else {
		printf("%s\n", (char *)tok.data);
		if (rc == 0)
			cli_result_summary(claims, kid);
	}
	if (rc != 0)
		fprintf(stderr, "vigil: result does NOT verify: %s\n", why);
 out:
	json_decref(claims);
	json_decref(jwks);
	buf_free(&tok);
	return rc;
}

/* ---- audit ---- */

int
cli_audit(const struct cli_ctx *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "cursor", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *j = NULL, *row;
	const char *cursor = NULL;
	char path[256], *end, *s;
	long limit = 50;
	size_t i;
	int ch, e;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			limit = strtol(optarg, &end, 10);
			if (*end != '\0' || limit < 1 || limit > 1000) {
				fprintf(stderr, "vigil: --limit 1..1000\n");
				return 2;
			}
			break;
		case 'c':
			if (!cli_ev_id_ok(optarg))
				return 2;
			cursor = optarg;
			break;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: vigil audit [--limit N] [--cursor C]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/audit?limit=%ld%s%s", limit,
	    cursor ? "&cursor=" : "", cursor ? cursor : "");
	if ((e = cli_http(c, "GET", path, NULL, &j)) != 0)
		return 2;
	if (c->json) {
		s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (s != NULL)
			puts(s);
		free(s);
	} else {
		printf("%-8s %-20s %-28s %-20s %-16s %s\n", "ID", "AT", "WHO",
		    "ACTION", "OBJECT", "DETAIL");
		json_array_foreach(json_object_get(j, "items"), i, row) {
			const char *who = json_string_value(
			    json_object_get(row, "who"));
			const char *at = json_string_value(
			    json_object_get(row, "at"));
			const char *act = json_string_value(
			    json_object_get(row, "action"));
			const char *obj = json_string_value(
			    json_object_get(row, "object"));
			const char *det = json_string_value(
			    json_object_get(row, "detail"));

			printf("%-8lld %-20s %-28.28s %-20s %-16.16s %s\n",
			    (long long)json_integer_value(
			    json_object_get(row, "id")), at ? at : "-",
			    who ? who : "-", act ? act : "-",
			    obj && obj[0] ? obj : "-", det ? det : "");
		}
		if (json_is_string(json_object_get(j, "next_cursor")))
			printf("(more: --cursor %s)\n", json_string_value(
			    json_object_get(j, "next_cursor")));
	}
	json_decref(j);
	return 0;
}
