/* `vigil record [--name NAME] [--input FILE]... [--env NAME]...
 *  [--checkpoint-every BYTES] [--socket PATH] -- CMD ARGS...`
 *
 * 1. Checks the token and that the node's agent answers (and is
 *    registered), resolves CMD through PATH, hashes and uploads the
 *    executable and the inputs (PUT /v1/blobs/{sha256}).
 * 2. POST /v1/computations with the recipe; checks c0 = ckpt_c0(recipe).
 * 3. Runs the command through ckpt_run_exec with only the --env variables,
 *    copying its stdout to ours; every checkpoint goes to the agent
 *    (OP_CHECKPOINT, answered at once), then OP_COMPUTATION_END.
 * Any failure before step 3 exits 2 without running the command. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "agent/config.h"
#include "agent/localsock.h"
#include "buf.h"
#include "ckpt.h"
#include "cli/record.h"
#include "err.h"
#include "valid.h"

struct record {
	const struct cli_ctx *c;
	const char *name;
	const char *socket;
	const char *inputs[RECORD_MAX_INPUTS];
	size_t n_inputs;
	const char *env_names[RECORD_MAX_ENV];
	size_t n_env;
	uint64_t every;
	char **cmd;		/* CMD ARGS..., NULL-terminated */
	char exe_abs[PATH_MAX];	/* what runs here */
	char *exe_rel;		/* the recipe's executable.path = argv[0] */
	char id[33];
	uint8_t c0[CKPT_LEN];
	struct localsock_client *agent;
	char agent_err[256];
	int agent_failed;
};

static const char record_usage[] =
"usage: vigil record [--name NAME] [--input FILE]... [--env NAME]...\n"
"           [--checkpoint-every BYTES] [--socket PATH] -- CMD ARGS...\n";

static void __attribute__((format(printf, 1, 2)))
record_errx(const char *fmt, ...)
{
	va_list ap;

	fputs("vigil record: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A relative path without "..", empty segments or control characters:
 * the verifier's rule for recipe paths, checked here to say so early. */


static int
record_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The child's environment in name order, each name once: replay builds it
 * from the canonical (sorted) recipe, so a program that prints its
 * environment sees the same bytes both times. */
static void
record_env_sort(struct record *r)
{
	size_t i, n = 0;

	qsort(r->env_names, r->n_env, sizeof(r->env_names[0]), record_strcmp);
	for (i = 0; i < r->n_env; i++)
		if (n == 0 || strcmp(r->env_names[n - 1], r->env_names[i]) != 0)
			r->env_names[n++] = r->env_names[i];
	r->n_env = n;
}

static int
record_parse(struct record *r, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "input", required_argument, NULL, 'i' },
		{ "env", required_argument, NULL, 'e' },
		{ "checkpoint-every", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	char *end;
	int ch;

	r->every = RECORD_EVERY_DEFAULT;
	optind = 0;	/* glibc: rescan from argv[1] */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			r->name = optarg;
			break;
		case 'i':
			if (r->n_inputs == RECORD_MAX_INPUTS ||
			    !valid_relpath(optarg, 1024)) {
				record_errx("--input %s: at most 256 inputs, "
				    "each a relative path without \"..\"",
				    optarg);
				return VIGIL_EINVAL;
			}
			r->inputs[r->n_inputs++] = optarg;
			break;
		case 'e':
			if (r->n_env == RECORD_MAX_ENV ||
			    !valid_env_name(optarg)) {
				record_errx("--env %s: at most 128 variable "
				    "names (letters, digits, _)", optarg);
				return VIGIL_EINVAL;
			}
			r->env_names[r->n_env++] = optarg;
			break;
		case 'c':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || v > RECORD_EVERY_MAX) {
				record_errx("--checkpoint-every %s: bytes, "
				    "0 (markers only) to 2^40", optarg);
				return VIGIL_EINVAL;
			}
			r->every = v;
			break;
		case 's':
			r->socket = optarg;
			break;
		default:
			fputs(record_usage, stderr);
			return VIGIL_EINVAL;
		}
	}
	if (optind >= argc) {
		fputs(record_usage, stderr);
		return VIGIL_EINVAL;
	}
	r->cmd = argv + optind;
	record_env_sort(r);
	return 0;
}

/* CMD through PATH (as execvp would), or as given if it has a slash. */
static int
record_resolve(struct record *r)
{
	const char *cmd = r->cmd[0], *path = getenv("PATH"), *p, *colon;
	char cand[PATH_MAX];
	struct stat st;
	size_t dl;

	if (strchr(cmd, '/') != NULL) {
		if (realpath(cmd, r->exe_abs) == NULL) {
			record_errx("%s: %s", cmd, strerror(errno));
			return VIGIL_ENOTFOUND;
		}
		/* the recipe names it relative to the working directory */
		r->exe_rel = cmd[0] == '/' ? strrchr(cmd, '/') + 1 :
		    (char *)cmd;
	} else {
		if (path == NULL || *path == '\0')
			path = "/usr/local/bin:/usr/bin:/bin";
		r->exe_abs[0] = '\0';
		for (p = path; *p != '\0' && r->exe_abs[0] == '\0'; p = colon) {
			colon = strchr(p, ':');
			dl = colon ? (size_t)(colon - p) : strlen(p);
			colon = colon ? colon + 1 : p + dl;
			if ((size_t)snprintf(cand, sizeof(cand), "%.*s/%s",
			    (int)dl, dl ? p : ".", cmd) >= sizeof(cand))
				continue;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(cand, X_OK) == 0 &&
			    realpath(cand, r->exe_abs) == NULL)
				r->exe_abs[0] = '\0';
		}
		if (r->exe_abs[0] == '\0') {
			record_errx("%s: command not found in PATH", cmd);
			return VIGIL_ENOTFOUND;
		}
		r->exe_rel = (char *)cmd;
	}
	if (!valid_relpath(r->exe_rel, 1024)) {
		record_errx("%s: the executable's name in the recipe (%s) must "
		    "be a relative path without \"..\"", cmd, r->exe_rel);
		return VIGIL_EINVAL;
	}
	return 0;
}

/* Reads path, uploads it as a blob, and returns its SHA-256 in hex. */
static int
record_upload(struct record *r, const char *path, char hex[65])
{
	uint8_t *data = NULL, md[CKPT_LEN];
	unsigned int mdlen = 0;
	char url[128];
	json_t *j = NULL;
	size_t len = 0;
	int e;

	if ((e = file_read(path, RECORD_BLOB_MAX, &data, &len)) != 0) {
		record_errx("cannot read %s: %s", path, vigil_strerror(e));
		return e;
	}
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	hex_encode(md, CKPT_LEN, hex);
	snprintf(url, sizeof(url), "/v1/blobs/%s", hex);
	if ((e = cli_http_raw(r->c, "PUT", url, data, len, &j)) != 0)
		record_errx("the verifier refused the blob of %s", path);
 out:
	json_decref(j);
	free(data);
	return e;
}

/* The recipe (docs/interfaces.md): uploads the blobs it names. */
static int
record_recipe(struct record *r, json_t **out)
{
	json_t *recipe, *argv, *env, *inputs;
	const char *val;
	char hex[65];
	size_t i;
	int e = VIGIL_ENOMEM;

	recipe = json_object();
	argv = json_array();
	env = json_object();
	inputs = json_array();
	if (recipe == NULL || argv == NULL || env == NULL || inputs == NULL)
		goto fail;
	if (json_array_append_new(argv, json_string(r->exe_rel)) != 0)
		goto fail;
	for (i = 1; r->cmd[i] != NULL; i++)
		if (json_array_append_new(argv, json_string(r->cmd[i])) != 0)
			goto fail;
	for (i = 0; i < r->n_env; i++) {
		if ((val = getenv(r->env_names[i])) == NULL) {
			record_errx("--env %s: the variable is not set",
			    r->env_names[i]);
			e = VIGIL_EINVAL;
			goto fail;
		}
		if (json_object_set_new(env, r->env_names[i],
		    json_string(val)) != 0)
			goto fail;
	}
	if ((e = record_upload(r, r->exe_abs, hex)) != 0)
		goto fail;
	e = VIGIL_ENOMEM;
	if (json_object_set_new(recipe, "executable", json_pack("{s:s, s:s}",
	    "path", r->exe_rel, "sha256", hex)) != 0)
		goto fail;
	for (i = 0; i < r->n_inputs; i++) {
		if ((e = record_upload(r, r->inputs[i], hex)) != 0)
			goto fail;
		e = VIGIL_ENOMEM;
		if (json_array_append_new(inputs, json_pack("{s:s, s:s}",
		    "path", r->inputs[i], "sha256", hex)) != 0)
			goto fail;
	}
	if (json_object_set_new(recipe, "name", json_string(r->name ?
	    r->name : r->exe_rel)) != 0 ||
	    json_object_set(recipe, "argv", argv) != 0 ||
	    json_object_set(recipe, "env", env) != 0 ||
	    json_object_set(recipe, "inputs", inputs) != 0 ||
	    json_object_set_new(recipe, "checkpoint_every",
	    json_integer((json_int_t)r->every)) != 0)
		goto fail;
	*out = recipe;
	recipe = NULL;
	e = 0;
 fail:
	if (e == VIGIL_ENOMEM)
		record_errx("out of memory building the recipe");
	json_decref(recipe);
	json_decref(argv);
	json_decref(env);
	json_decref(inputs);
	return e;
}

/* POST /v1/computations; checks the answer and c0. */
static int
record_create(struct record *r, json_t *recipe)
{
	uint8_t digest[CKPT_LEN], c0[CKPT_LEN];
	const char *id, *rs, *c0s;
	json_t *j = NULL;
	char *body;
	int e;

	if ((body = json_dumps(recipe, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL)
		return VIGIL_ENOMEM;
	e = cli_http(r->c, "POST", "/v1/computations", body, &j);
	free(body);
	if (e != 0) {
		record_errx("the verifier refused the computation");
		return e;
	}
	id = json_string_value(json_object_get(j, "id"));
	rs = json_string_value(json_object_get(j, "recipe_sha256"));
	c0s = json_string_value(json_object_get(j, "c0"));
	e = VIGIL_EVERIFY;
	if (id == NULL || strlen(id) != 32 ||
	    strspn(id, "0123456789abcdef") != 32 || rs == NULL ||
	    strlen(rs) != 64 || hex_decode(rs, digest, CKPT_LEN) != 0 ||
	    c0s == NULL || strlen(c0s) != 64 ||
	    hex_decode(c0s, c0, CKPT_LEN) != 0) {
		record_errx("the verifier's answer lacks id, recipe_sha256 or "
		    "c0");
		goto out;
	}
	ckpt_c0(digest, r->c0);
	if (memcmp(r->c0, c0, CKPT_LEN) != 0) {
		record_errx("the verifier's c0 %s is not SHA-256(\"vigil-recipe\""
		    " || %s)", c0s, rs);
		goto out;
	}
	memcpy(r->id, id, 33);
	e = 0;
 out:
	json_decref(j);
	return e;
}

static int
record_on_checkpoint(void *arg, uint64_t index, const uint8_t state[CKPT_LEN],
    const uint8_t cum[CKPT_LEN])
{
	struct record *r = arg;
	struct localsock_ckpt q;
	int e;

	memset(&q, 0, sizeof(q));
	memcpy(q.id, r->id, sizeof(q.id));
	q.index = index;
	memcpy(q.state, state, CKPT_LEN);
	memcpy(q.cum, cum, CKPT_LEN);
	if ((e = localsock_client_send(r->agent, &q, r->agent_err,
	    sizeof(r->agent_err))) != 0)
		r->agent_failed = 1;
	return e;
}

/* The child's whole environment: the --env variables only. */
static int
record_envp(const struct record *r, char ***out)
{
	char **envp;
	size_t i, n;

	if ((envp = calloc(r->n_env + 1, sizeof(*envp))) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < r->n_env; i++) {
		const char *v = getenv(r->env_names[i]);

		n = strlen(r->env_names[i]) + strlen(v ? v : "") + 2;
		if ((envp[i] = malloc(n)) == NULL) {
			while (i-- > 0)
				free(envp[i]);
			free(envp);
			return VIGIL_ENOMEM;
		}
		snprintf(envp[i], n, "%s=%s", r->env_names[i], v ? v : "");
	}
	*out = envp;
	return 0;
}

static void
record_envp_free(char **envp)
{
	size_t i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

/* Runs the command; returns its exit status or 2. */
static int
record_run(struct record *r)
{
	struct ckpt_run_opts o;
	struct ckpt_result res;
	struct localsock_ckpt end;
	char **envp = NULL, **argv;
	size_t n;
	int e, status;

	for (n = 0; r->cmd[n] != NULL; n++)
		;
	if ((argv = calloc(n + 1, sizeof(*argv))) == NULL)
		return 2;
	memcpy(argv, r->cmd, n * sizeof(*argv));
	argv[0] = r->exe_rel;	/* as in the recipe */
	if ((e = record_envp(r, &envp)) != 0) {
		free(argv);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.argv = argv;
	o.envp = envp;
	o.every_bytes = r->every;
	o.c0 = r->c0;
	o.passthrough_fd = STDOUT_FILENO;
	o.on_checkpoint = record_on_checkpoint;
	o.arg = r;
	fflush(stdout);
	e = ckpt_run_exec(r->exe_abs, &o, &res);
	free(argv);
	record_envp_free(envp);
	if (e != 0) {
		if (r->agent_failed)
			record_errx("the agent did not take a checkpoint: %s "
			    "(command stopped)", r->agent_err);
		else
			record_errx("running the command failed: %s",
			    vigil_strerror(e));
		return 2;
	}
	status = WIFEXITED(res.exit_status) ? WEXITSTATUS(res.exit_status) :
	    WIFSIGNALED(res.exit_status) ? 128 + WTERMSIG(res.exit_status) :
	    2;
	memset(&end, 0, sizeof(end));
	end.end = 1;
	memcpy(end.id, r->id, sizeof(end.id));
	end.exit_status = status;
	end.count = res.count;
	memcpy(end.cum, res.final, CKPT_LEN);
	if ((e = localsock_client_send(r->agent, &end, r->agent_err,
	    sizeof(r->agent_err))) != 0) {
		record_errx("the agent did not take the computation's end: "
		    "%s", r->agent_err);
		return 2;
	}
	fprintf(stderr, "vigil record: %" PRIu64 " checkpoints, %" PRIu64
	    " bytes of output, exit status %d\n", res.count, res.bytes,
	    status);
	return status;
}

int
cli_record(const struct cli_ctx *c, int argc, char **argv)
{
	struct record r;
	struct localsock_status st;
	struct sigaction sa;
	json_t *recipe = NULL;
	char err[256];
	int e, rc = 2;

	memset(&r, 0, sizeof(r));
	r.c = c;
	if (record_parse(&r, argc, argv) != 0)
		return 2;
	if (c->token == NULL || *c->token == '\0') {
		record_errx("no token: set VIGIL_TOKEN or pass --token (a "
		    "tenant's token)");
		return 2;
	}
	if (r.socket == NULL)
		r.socket = getenv("VIGIL_AGENT_SOCKET");
	if (r.socket == NULL)
		r.socket = AGENT_SOCKET_DEFAULT;
	if (localsock_query_status(r.socket, &st, err, sizeof(err)) != 0) {
		record_errx("the node's agent is not reachable: %s (set "
		    "VIGIL_AGENT_SOCKET or --socket)", err);
		return 2;
	}
	if (st.agent_id[0] == '\0') {
		record_errx("the node's agent at %s is not registered with "
		    "the verifier yet", r.socket);
		return 2;
	}
	if (localsock_client_open(r.socket, &r.agent, err, sizeof(err)) != 0) {
		record_errx("the node's agent is not reachable: %s", err);
		return 2;
	}
	if ((e = record_resolve(&r)) != 0 ||
	    (e = record_recipe(&r, &recipe)) != 0 ||
	    (e = record_create(&r, recipe)) != 0)
		goto out;
	fprintf(stderr, "vigil record: computation %s (c0 checked), node %s, "
	    "running %s\n", r.id, st.agent_id, r.exe_abs);
	/* A closed stdout must not kill us: the output is still hashed. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	rc = record_run(&r);
 out:
	if (r.id[0] != '\0')
		fprintf(stderr, "%s\n", r.id);	/* the last line, always */
	json_decref(recipe);
	localsock_client_close(r.agent);
	return rc;
}
