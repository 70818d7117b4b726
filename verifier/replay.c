/* Replays of recorded computations (see replay.h), the verifier's side:
 * the job directory, starting a worker and reading its result, and the
 * pool of threads that feed workers. The worker and its sandbox are in
 * replay_worker.c. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "evbus.h"
#include "log.h"
#include "replay.h"

#define REPLAY_DEFAULT_TIMEOUT 600
#define REPLAY_MARGIN_S 30		/* worker start, sandbox, cleanup */
#define REPLAY_RESULT_MAX (64 * 1024)
#define REPLAY_FILE_MAX STORE_BLOB_MAX
#define REPLAY_POLL_MS 500

/* ================= the job directory (verifier side) ================= */

int
replay_jobdir_new(const char *parent, char *out, size_t cap)
{
	char work[PATH_MAX];

	if (snprintf(out, cap, "%s/vigil-replay-XXXXXX",
	    parent ? parent : "/tmp") >= (int)cap)
		return VIGIL_ETOOBIG;
	if (mkdtemp(out) == NULL) {
		log_err("replay: mkdtemp %s failed: %s", out, strerror(errno));
		return VIGIL_EIO;
	}
	/* The verifier's alone: the sandbox gets copies in a root of its
	 * own (replay_worker.c), never this directory. */
	if (chmod(out, 0700) != 0 || snprintf(work, sizeof(work), "%s/work",
	    out) >= (int)sizeof(work) || mkdir(work, 0700) != 0 ||
	    chmod(work, 0700) != 0 || snprintf(work, sizeof(work), "%s/bin",
	    out) >= (int)sizeof(work) || mkdir(work, 0700) != 0 ||
	    chmod(work, 0700) != 0) {
		log_err("replay: preparing %s failed: %s", out,
		    strerror(errno));
		replay_jobdir_remove(out);
		return VIGIL_EIO;
	}
	return 0;
}

static int
replay_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
replay_jobdir_remove(const char *jobdir)
{
	if (jobdir == NULL || jobdir[0] == '\0')
		return;
	nftw(jobdir, replay_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static json_t *
replay_hex(const uint8_t *p, size_t n)
{
	char h[2 * 32 + 1];

	if (n > 32)
		return json_null();
	hex_encode(p, n, h);
	return json_string(h);
}

int
replay_job_write(const char *jobdir, const struct replay_spec *sp)
{
	char path[PATH_MAX], exe[PATH_MAX], *s = NULL;
	json_t *j = NULL, *argv, *env;
	size_t i;
	int e = VIGIL_ENOMEM;

	if (sp->argc == 0 || sp->n_expected > REPLAY_MAX_EXPECTED)
		return VIGIL_EINVAL;
	argv = json_array();
	env = json_array();
	for (i = 0; i < sp->argc; i++)
		json_array_append_new(argv, json_string(sp->argv[i]));
	for (i = 0; i < sp->envc; i++)
		json_array_append_new(env, json_string(sp->env[i]));
	if (sp->exe == NULL)
		snprintf(exe, sizeof(exe), "work/%s", sp->argv[0]);
	else
		snprintf(exe, sizeof(exe), "%s", sp->exe);
	j = json_pack("{s:s, s:o, s:o, s:I, s:o, s:I, s:b, s:I}", "exe",
	    exe, "argv", argv,
	    "env", env, "every_bytes", (json_int_t)sp->every_bytes, "c0",
	    replay_hex(sp->c0, 32), "timeout_s", (json_int_t)sp->timeout_s,
	    "allow_weak", sp->allow_weak, "expected",
	    (json_int_t)sp->n_expected);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/job.json", jobdir);
	if ((e = file_write_atomic(path, s, strlen(s))) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/expected.bin", jobdir);
	e = file_write_atomic(path, sp->expected ? sp->expected :
	    (const uint8_t *)"", sp->n_expected * 64);
 out:
	free(s);
	json_decref(j);
	return e;
}

static int
replay_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 &&
	    len == 32 ? 0 : VIGIL_ECRYPTO;
}

static void
replay_error(struct replay_outcome *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
replay_error(struct replay_outcome *out, const char *fmt, ...)
{
	va_list ap;

	snprintf(out->status, sizeof(out->status), "error");
	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
}

/* Creates work/PATH (and its directories) with the bytes. Paths were
 * validated at upload: relative, no "..", no empty segments. */
static int
replay_put_file(const char *jobdir, const char *sub, const char *rel,
    const uint8_t *p, size_t n, mode_t mode)
{
	char path[PATH_MAX], *slash;
	size_t off, w;
	ssize_t k;
	int fd, e = 0;

	if (snprintf(path, sizeof(path), "%s/%s/%s", jobdir, sub, rel) >=
	    (int)sizeof(path))
		return VIGIL_ETOOBIG;
	off = strlen(jobdir) + strlen(sub) + 2;
	while ((slash = strchr(path + off, '/')) != NULL) {
		*slash = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			log_err("replay: mkdir %s: %s", path, strerror(errno));
			return VIGIL_EIO;
		}
		*slash = '/';
		off = (size_t)(slash - path) + 1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0) {
		log_err("replay: create %s: %s", path, strerror(errno));
		return VIGIL_EIO;
	}
	for (w = 0; w < n; w += (size_t)k) {
		k = write(fd, p + w, n - w);
		if (k < 0 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k <= 0) {
			log_err("replay: write %s: %s", path, strerror(errno));
			e = VIGIL_EIO;
			break;
		}
	}
	if (fchmod(fd, mode) != 0)
		e = VIGIL_EIO;
	close(fd);
	return e;
}

/* Where a recipe file goes: inputs, and an executable named by a path
 * with a '/' (it was in the recorded run's directory: "./build.sh"), into
 * work/; an executable found through PATH ("sh") into bin/, so the run's
 * directory holds what it held when recorded. */
static const char *
replay_exe_dir(const char *path, int is_exe)
{
	return is_exe && strchr(path, '/') == NULL ? "bin" : "work";
}

/* One recipe file from the blob store into work/ or bin/; a missing or
 * mismatching blob is the replay's error. */
static int
replay_fetch(struct store *s, const char *jobdir, const json_t *f,
    int is_exe, struct replay_outcome *out)
{
	const char *path = json_string_value(json_object_get(f, "path"));
	const char *hex = json_string_value(json_object_get(f, "sha256"));
	const char *what = is_exe ? "executable" : "input";
	uint8_t want[32], got[32], *data = NULL;
	size_t len = 0;
	int e;

	if (path == NULL || hex == NULL || hex_decode(hex, want, 32) != 0) {
		replay_error(out, "recipe: %s has no path or sha256", what);
		return 0;
	}
	e = store_blob_get(s, want, &data, &len);
	if (e == VIGIL_ENOTFOUND) {
		replay_error(out, "%s missing: %.200s (sha256 %s) is not in "
		    "the blob store", what, path, hex);
		return 0;
	}
	if (e != 0)
		return e;
	if ((e = replay_sha256(data, len, got)) != 0)
		goto out;
	if (memcmp(want, got, 32) != 0) {
		replay_error(out, "%s differs: %.200s does not hash to the "
		    "recipe's sha256 %s", what, path, hex);
		goto out;
	}
	e = replay_put_file(jobdir, replay_exe_dir(path, is_exe), path, data,
	    len, is_exe ? 0755 : 0644);
 out:
	free(data);
	return e;
}

/* argv and env of the recipe as C arrays (pointers into the JSON). */
static int
replay_recipe_arrays(const json_t *recipe, const char ***argv, size_t *argc,
    char ***env, size_t *envc)
{
	const json_t *a = json_object_get(recipe, "argv");
	const json_t *en = json_object_get(recipe, "env");
	const char *k;
	json_t *v;
	size_t i, n;
	char *kv;

	*argv = NULL;
	*env = NULL;
	*argc = *envc = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return VIGIL_EINVAL;
	if ((*argv = calloc(json_array_size(a) + 1, sizeof(char *))) == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(a, i, v)
		(*argv)[(*argc)++] = json_string_value(v);
	n = json_is_object(en) ? json_object_size(en) : 0;
	if ((*env = calloc(n + 1, sizeof(char *))) == NULL)
		return VIGIL_ENOMEM;
	/* The canonical recipe's keys are sorted: the environment's order. */
	if (n > 0) {
		json_object_foreach((json_t *)en, k, v) {
			size_t len = strlen(k) + strlen(json_string_value(v)) +
			    2;

			if ((kv = malloc(len)) == NULL)
				return VIGIL_ENOMEM;
			snprintf(kv, len, "%s=%s", k, json_string_value(v));
			(*env)[(*envc)++] = kv;
		}
	}
	return 0;
}

static void
replay_env_free(char **env, size_t n)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

/* The recorded checkpoints, which must be 1..n without a hole. */
static int
replay_expected(struct store *s, const struct comp_rec *c, uint8_t **exp,
    size_t *n, struct replay_outcome *out)
{
	struct ckpt_row *rows = NULL;
	size_t k = 0, i;
	int e;

	*exp = NULL;
	*n = 0;
	if ((e = store_ckpt_list(s, c->id, &rows, &k)) != 0)
		return e;
	if (k > REPLAY_MAX_EXPECTED) {
		replay_error(out, "the record has %zu checkpoints, over the "
		    "replay limit of %u", k, REPLAY_MAX_EXPECTED);
		goto out;
	}
	for (i = 0; i < k; i++)
		if (rows[i].idx != i + 1) {
			replay_error(out, "the record is incomplete: "
			    "checkpoint %zu is missing", i + 1);
			goto out;
		}
	if (c->has_end && c->count != k) {
		replay_error(out, "the record is incomplete: the end counts "
		    "%" PRIu64 " checkpoints, %zu recorded", c->count, k);
		goto out;
	}
	if (k > 0 && (*exp = malloc(k * 64)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	for (i = 0; i < k; i++) {
		memcpy(*exp + i * 64, rows[i].state, 32);
		memcpy(*exp + i * 64 + 32, rows[i].cum, 32);
	}
	*n = k;
 out:
	free(rows);
	return e;
}

int
replay_prepare(struct store *s, const char *comp_id, const char *jobdir,
    const struct replay_opts *o, struct replay_outcome *out)
{
	struct replay_spec sp;
	struct comp_rec c;
	json_t *recipe = NULL, *inputs, *f, *every;
	const char **argv = NULL, *k;
	char **env = NULL, exe[PATH_MAX];
	uint8_t *exp = NULL;
	size_t argc = 0, envc = 0, i, nexp = 0;
	int e;

	memset(out, 0, sizeof(*out));
	memset(&sp, 0, sizeof(sp));
	if ((e = store_comp_get(s, comp_id, &c)) != 0)
		return e;
	if (!c.has_end) {
		replay_error(out, "the computation has not ended yet (no "
		    "ComputationEnd from its node)");
		goto out;
	}
	if ((recipe = json_loads(c.recipe_json, 0, NULL)) == NULL ||
	    (e = replay_recipe_arrays(recipe, &argv, &argc, &env, &envc)) !=
	    0) {
		if (e == 0)
			e = VIGIL_EINVAL;
		log_err("replay: computation %s: stored recipe unusable",
		    comp_id);
		goto out;
	}
	if ((e = replay_expected(s, &c, &exp, &nexp, out)) != 0 ||
	    out->status[0] != '\0')
		goto out;
	if ((e = replay_fetch(s, jobdir, json_object_get(recipe, "executable"),
	    1, out)) != 0 || out->status[0] != '\0')
		goto out;
	inputs = json_object_get(recipe, "inputs");
	json_array_foreach(inputs, i, f)
		if ((e = replay_fetch(s, jobdir, f, 0, out)) != 0 ||
		    out->status[0] != '\0')
			goto out;
	every = json_object_get(recipe, "checkpoint_every");
	k = json_string_value(json_object_get(json_object_get(recipe,
	    "executable"), "path"));
	snprintf(exe, sizeof(exe), "%s/%s", replay_exe_dir(k, 1), k);
	sp.exe = exe;
	sp.argv = (char *const *)argv;
	sp.argc = argc;
	sp.env = env;
	sp.envc = envc;
	sp.every_bytes = every ? (uint64_t)json_integer_value(every) : 0;
	memcpy(sp.c0, c.c0, 32);
	sp.timeout_s = o->timeout_s ? o->timeout_s : REPLAY_DEFAULT_TIMEOUT;
	sp.allow_weak = o->allow_weak;
	sp.expected = exp;
	sp.n_expected = nexp;
	e = replay_job_write(jobdir, &sp);
 out:
	free(exp);
	free(argv);
	replay_env_free(env, envc);
	json_decref(recipe);
	comp_rec_clear(&c);
	return e;
}

static int
replay_parse_digest(const json_t *o, const char *k, uint8_t out[32])
{
	const char *h = json_string_value(json_object_get(o, k));

	return h != NULL && strlen(h) == 64 && hex_decode(h, out, 32) == 0;
}

/* The worker's JSON result into out; VIGIL_EINVAL if it is not one. */
static int
replay_parse_result(const char *s, size_t n, struct replay_outcome *out)
{
	json_t *j, *d;
	const char *st, *err, *weak;

	if ((j = json_loadb(s, n, 0, NULL)) == NULL)
		return VIGIL_EINVAL;
	st = json_string_value(json_object_get(j, "status"));
	if (st == NULL || (strcmp(st, "match") != 0 && strcmp(st,
	    "diverged") != 0 && strcmp(st, "error") != 0)) {
		json_decref(j);
		return VIGIL_EINVAL;
	}
	snprintf(out->status, sizeof(out->status), "%s", st);
	out->compared = (uint64_t)json_integer_value(json_object_get(j,
	    "compared"));
	if ((err = json_string_value(json_object_get(j, "error"))) != NULL)
		snprintf(out->error, sizeof(out->error), "%s", err);
	if ((weak = json_string_value(json_object_get(j, "weak"))) != NULL)
		snprintf(out->weak, sizeof(out->weak), "%s", weak);
	d = json_object_get(j, "divergence");
	if (json_is_object(d)) {
		out->have_div = 1;
		out->div_index = (uint64_t)json_integer_value(
		    json_object_get(d, "index"));
		out->have_expected = replay_parse_digest(d, "expected_state",
		    out->exp_state) && replay_parse_digest(d,
		    "expected_cumulative", out->exp_cum);
		out->have_actual = replay_parse_digest(d, "actual_state",
		    out->act_state) && replay_parse_digest(d,
		    "actual_cumulative", out->act_cum);
	}
	json_decref(j);
	return 0;
}

int
replay_divergence_json(const struct replay_outcome *o, char **out)
{
	json_t *j;

	*out = NULL;
	if (!o->have_div)
		return 0;
	j = json_pack("{s:I, s:o, s:o, s:o, s:o}",
	    "index", (json_int_t)o->div_index,
	    "expected_state", o->have_expected ? replay_hex(o->exp_state, 32) :
	    json_null(),
	    "actual_state", o->have_actual ? replay_hex(o->act_state, 32) :
	    json_null(),
	    "expected_cumulative", o->have_expected ?
	    replay_hex(o->exp_cum, 32) : json_null(),
	    "actual_cumulative", o->have_actual ? replay_hex(o->act_cum, 32) :
	    json_null());
	if (j == NULL)
		return VIGIL_ENOMEM;
	*out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return *out != NULL ? 0 : VIGIL_ENOMEM;
}

static int64_t
replay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last line of the worker's stderr log, for the error message. */
static void
replay_stderr_tail(const char *jobdir, char *out, size_t cap)
{
	char path[PATH_MAX], b[512], *last;
	size_t len;
	ssize_t n;
	off_t end;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/stderr.log", jobdir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end > (off_t)sizeof(b) - 1)
		lseek(fd, end - (off_t)sizeof(b) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return;
	b[n] = '\0';
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		b[--n] = '\0';
	last = strrchr(b, '\n') ? strrchr(b, '\n') + 1 : b;
	len = strlen(last);
	if (len >= cap)
		len = cap - 1;
	memcpy(out, last, len);
	out[len] = '\0';
}

/* In the forked child: the worker with a clean descriptor table. */
static void __attribute__((noreturn))
replay_spawn_child(const char *jobdir, const struct replay_opts *o,
    int result_w, int log_fd)
{
	char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	int nul;

	if ((nul = open("/dev/null", O_RDONLY)) < 0 || dup2(nul, 0) < 0 ||
	    dup2(result_w, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(126);
	if (close_range(3, ~0U, 0) != 0)
		_exit(126);
	if (o->worker_exe == NULL) {
		fflush(NULL);
		_exit(replay_worker_main(jobdir));
	}
	execve(o->worker_exe, (char *const[]){ (char *)o->worker_exe,
	    "replay-worker", (char *)jobdir, NULL }, envp);
	_exit(126);
}

int
replay_job_run(const char *jobdir, const struct replay_opts *o,
    struct replay_outcome *out)
{
	char path[PATH_MAX], tail[200];
	struct buf res = BUF_INIT;
	struct pollfd pf;
	uint8_t chunk[4096];
	int64_t deadline;
	unsigned timeout = o->timeout_s ? o->timeout_s : REPLAY_DEFAULT_TIMEOUT;
	int p[2] = { -1, -1 }, log_fd = -1, st = 0, killed = 0, e = 0, n;
	ssize_t k;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/stderr.log", jobdir);
	if ((log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || pipe2(p, O_CLOEXEC) != 0) {
		log_err("replay: %s: cannot set up the worker: %s", jobdir,
		    strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	if ((pid = fork()) < 0) {
		e = VIGIL_EIO;
		goto out;
	}
	if (pid == 0)
		replay_spawn_child(jobdir, o, p[1], log_fd);
	close(p[1]);
	p[1] = -1;
	deadline = replay_now_ms() + (int64_t)(timeout + REPLAY_MARGIN_S) *
	    1000;
	for (;;) {
		int64_t left = deadline - replay_now_ms();

		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		pf.fd = p[0];
		pf.events = POLLIN;
		pf.revents = 0;
		n = poll(&pf, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		k = read(p[0], chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (res.len + (size_t)k > REPLAY_RESULT_MAX) {
			kill(pid, SIGKILL);
			break;
		}
		if ((e = buf_add(&res, chunk, (size_t)k)) != 0) {
			kill(pid, SIGKILL);
			break;
		}
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (e != 0)
		goto out;
	if (killed) {
		replay_error(out, "timeout: the replay ran past %u s", timeout);
		goto out;
	}
	if (replay_parse_result((const char *)res.data, res.len, out) != 0) {
		replay_stderr_tail(jobdir, tail, sizeof(tail));
		replay_error(out, "the replay worker failed (status %d): %s",
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
		    tail[0] ? tail : "no result");
	}
 out:
	buf_free(&res);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (log_fd >= 0)
		close(log_fd);
	return e;
}

int
replay_execute(struct store *s, const struct replay_opts *o,
    const char *comp_id, struct replay_outcome *out)
{
	char dir[PATH_MAX];
	int e;

	memset(out, 0, sizeof(*out));
	if ((e = replay_jobdir_new(o->dir, dir, sizeof(dir))) != 0)
		return e;
	e = replay_prepare(s, comp_id, dir, o, out);
	if (e == 0 && out->status[0] == '\0')
		e = replay_job_run(dir, o, out);
	replay_jobdir_remove(dir);
	return e;
}

/* ============================== the pool ============================== */

struct replay_pool {
	struct store *s;
	struct replay_opts o;
	char exe[PATH_MAX];
	char dir[PATH_MAX];
	pthread_t *threads;
	unsigned n, started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

/* replay.result for the computation's tenant (and operators), once its
 * result is stored: {"replay", "computation", "status", "compared",
 * "divergence"?, "error"?}. */
static void
replay_result_event(struct store *s, const struct replay_rec *r,
    const struct replay_outcome *out, const char *div)
{
	char subject[16 + COMP_ID_LEN], *data = NULL;
	json_t *d, *dv;

	d = json_pack("{s:s, s:s, s:s, s:I}", "replay", r->id, "computation",
	    r->comp_id, "status", out->status, "compared",
	    (json_int_t)out->compared);
	if (d == NULL)
		return;
	if (div != NULL && (dv = json_loads(div, 0, NULL)) != NULL)
		json_object_set_new(d, "divergence", dv);
	if (out->error[0] != '\0')
		json_object_set_new(d, "error", json_string(out->error));
	snprintf(subject, sizeof(subject), "computation/%s", r->comp_id);
	if ((data = json_dumps(d, JSON_COMPACT)) != NULL)
		(void)events_emit(s, "replay.result", subject,
		    r->tenant[0] ? r->tenant : NULL, data);
	free(data);
	json_decref(d);
}

static void
replay_pool_one(struct replay_pool *p, const struct replay_rec *r)
{
	struct replay_outcome out;
	char *div = NULL;
	int e;

	log_info("replay %s: computation %s running", r->id, r->comp_id);
	e = replay_execute(p->s, &p->o, r->comp_id, &out);
	if (e != 0)
		replay_error(&out, "internal failure: %s", vigil_strerror(e));
	if (replay_divergence_json(&out, &div) != 0)
		div = NULL;
	if (strcmp(out.status, "diverged") == 0)
		log_warn("replay %s: computation %s diverged at checkpoint %"
		    PRIu64, r->id, r->comp_id, out.div_index);
	else
		log_info("replay %s: computation %s %s%s%s", r->id, r->comp_id,
		    out.status, out.error[0] ? ": " : "", out.error);
	if ((e = store_replay_finish(p->s, r->id, out.status, out.compared,
	    div, out.error[0] ? out.error : NULL, (int64_t)time(NULL))) != 0)
		log_err("replay %s: storing the result failed: %s", r->id,
		    vigil_strerror(e));
	else
		replay_result_event(p->s, r, &out, div);
	free(div);
}

static void *
replay_pool_main(void *arg)
{
	struct replay_pool *p = arg;
	struct replay_rec r;
	struct timespec ts;
	int e;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);
		e = store_replay_claim(p->s, (int64_t)time(NULL), &r);
		if (e == 0) {
			replay_pool_one(p, &r);
			replay_rec_clear(&r);
			continue;
		}
		if (e != VIGIL_ENOTFOUND)
			log_err("replay: taking a queued replay failed: %s",
			    vigil_strerror(e));
		pthread_mutex_lock(&p->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += REPLAY_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!p->stop)
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

int
replay_pool_start(struct store *s, const struct replay_opts *o, unsigned n,
    struct replay_pool **out)
{
	struct replay_pool *p;
	unsigned i;
	int e;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->threads = calloc(n, sizeof(*p->threads))) == NULL) {
		free(p);
		return VIGIL_ENOMEM;
	}
	p->s = s;
	p->o = *o;
	if (o->worker_exe != NULL) {
		snprintf(p->exe, sizeof(p->exe), "%s", o->worker_exe);
		p->o.worker_exe = p->exe;
	}
	snprintf(p->dir, sizeof(p->dir), "%s", o->dir ? o->dir : "/tmp");
	p->o.dir = p->dir;
	p->n = n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if ((e = store_replay_recover(s, (int64_t)time(NULL))) != 0)
		log_err("replay: marking interrupted replays failed: %s",
		    vigil_strerror(e));
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, replay_pool_main, p)
		    != 0) {
			log_err("replay: cannot start worker thread %u", i);
			replay_pool_stop(p);
			return VIGIL_ENOMEM;
		}
		p->started++;
	}
	log_info("replay: %u worker(s), timeout %u s, %s sandbox required",
	    n, p->o.timeout_s ? p->o.timeout_s : REPLAY_DEFAULT_TIMEOUT,
	    p->o.allow_weak ? "weak allowed, full" : "full");
	*out = p;
	return 0;
}

void
replay_pool_stop(struct replay_pool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
}
