/* Replays of recorded computations: comparison verdicts, errors, and the
 * sandbox (this test binary copies itself into the job's work directory
 * and runs as the replayed program: `test_replay probe WHAT`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "verifier/replay.h"
#include "verifier/sigkeys.h"
#include "verifier/store.h"
#include "verifier/store_comp.h"

/* ---- the replayed program's side ---- */

/* Tries to read each path (a file, or a directory's listing): one line
 * each, "denied" or "READ PATH". The first path is a control the program
 * must be able to read. */
static int
probe_read(int n, char **paths)
{
	char b[1];
	DIR *d;
	int i, fd;

	for (i = 0; i < n; i++) {
		if ((d = opendir(paths[i])) != NULL) {
			closedir(d);
			printf("READ %s\n", paths[i]);
			continue;
		}
		fd = open(paths[i], O_RDONLY);
		if (fd >= 0 && read(fd, b, 1) >= 0)
			printf("READ %s\n", paths[i]);
		else
			puts("denied");
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int
probe(const char *what)
{
	struct sockaddr_in sa;
	int fd;

	if (strcmp(what, "net") == 0) {
		/* seccomp refuses the socket; were it allowed, the network
		 * namespace has no route. */
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			puts(errno == EACCES ? "socket refused" : "socket failed");
			return 0;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons(22);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		puts(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ?
		    "connected" : "connect failed");
		return 0;
	}
	if (strcmp(what, "kill") == 0) {
		/* Signal 0: a permission check only, harmless if allowed. */
		puts(kill(1, 0) == 0 ? "open" : "blocked");
		return 0;
	}
	if (strcmp(what, "write") == 0) {
		/* Outside: the root, /usr, the directory above work/; inside:
		 * work/ and the sandbox's own /tmp (not the host's). */
		int a = open("/usr/vigil-replay-escape", O_WRONLY | O_CREAT,
		    0644);
		int b = open("../escape", O_WRONLY | O_CREAT, 0644);
		int c = open("inside.txt", O_WRONLY | O_CREAT, 0644);
		int d = open("/tmp/vigil-replay-escape", O_WRONLY | O_CREAT,
		    0644);

		puts(a < 0 && b < 0 && c >= 0 && d >= 0 ? "blocked" : "open");
		return 0;
	}
	if (strcmp(what, "uid") == 0) {
		printf("%d\n", (int)getuid());
		return 0;
	}
	return 2;
}

/* ---- helpers ---- */

struct rec {
	struct buf exp;		/* state || cum per checkpoint */
	size_t n;
};

static int
rec_cb(void *arg, uint64_t index, const uint8_t state[CKPT_LEN],
    const uint8_t cum[CKPT_LEN])
{
	struct rec *r = arg;

	(void)index;
	r->n++;
	return buf_add(&r->exp, state, CKPT_LEN) != 0 ||
	    buf_add(&r->exp, cum, CKPT_LEN) != 0;
}

static const uint8_t test_c0[32] = { 1, 2, 3, 4 };

/* The unprivileged verifier of the tests that run the worker as the
 * systemd unit does (an id no account on these machines has). */
#define UNPRIV_UID 60999

static void
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(p, mode);
}

/* Records argv in dir (no sandbox) as `vigil record` would. */
static void
record(const char *dir, char *const *argv, char *const *envp,
    uint64_t every, struct rec *r)
{
	struct ckpt_run_opts o;
	struct ckpt_result res;

	memset(&o, 0, sizeof(o));
	memset(r, 0, sizeof(*r));
	o.argv = argv;
	o.envp = envp;
	o.cwd = dir;
	o.every_bytes = every;
	o.c0 = test_c0;
	o.timeout_s = 30;
	o.passthrough_fd = -1;
	o.on_checkpoint = rec_cb;
	o.arg = r;
	assert_int_equal(ckpt_run(&o, &res), 0);
	assert_int_equal(res.count, r->n);
}

static void
replay(const char *jobdir, char *const *argv, size_t argc, char *const *env,
    size_t envc, uint64_t every, const struct rec *r, unsigned timeout,
    struct replay_outcome *out)
{
	struct replay_spec sp;
	struct replay_opts o;

	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.argc = argc;
	sp.env = env;
	sp.envc = envc;
	sp.every_bytes = every;
	memcpy(sp.c0, test_c0, 32);
	sp.timeout_s = timeout;
	sp.expected = r->exp.data;
	sp.n_expected = r->n;
	assert_int_equal(replay_job_write(jobdir, &sp), 0);
	memset(&o, 0, sizeof(o));
	o.timeout_s = timeout;
	assert_int_equal(replay_job_run(jobdir, &o, out), 0);
	if (strcmp(out->status, "match") != 0) {
		char p[512], cmd[600];

		snprintf(p, sizeof(p), "%s/stderr.log", jobdir);
		snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' >&2", p);
		if (system(cmd) != 0)
			fprintf(stderr, "(no stderr.log)\n");
	}
}

struct fx {
	char job[256];
	char work[512];
	char rec[256];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || replay_jobdir_new("/tmp", f->job, sizeof(f->job)) !=
	    0)
		return -1;
	snprintf(f->work, sizeof(f->work), "%s/work", f->job);
	snprintf(f->rec, sizeof(f->rec), "/tmp/vigil-rec.XXXXXX");
	if (mkdtemp(f->rec) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	replay_jobdir_remove(f->job);
	replay_jobdir_remove(f->rec);
	free(f);
	return 0;
}

static const char det_script[] =
    "#!/bin/sh\n"
    "i=0\n"
    "while [ $i -lt 200 ]; do echo \"line $i of a deterministic run\"; "
    "i=$((i+1)); done\n";

static void
test_replay_deterministic_program_matches(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "prog.sh", NULL };
	char *env[] = { "LANG=C", NULL };
	struct replay_outcome out;
	struct rec r;

	write_file(f->rec, "prog.sh", det_script, 0755);
	write_file(f->work, "prog.sh", det_script, 0755);
	record(f->rec, argv, env, 256, &r);
	assert_true(r.n > 10);
	replay(f->job, argv, 1, env, 1, 256, &r, 30, &out);
	if (strcmp(out.status, "match") != 0)
		fail_msg("status %s: %s", out.status, out.error);
	assert_int_equal(out.compared, r.n);
	assert_false(out.have_div);
	buf_free(&r.exp);
}

/* Markers between large writes: every boundary is the same in the replay. */
static const char flood_script[] =
    "#!/bin/sh\n"
    "i=0\n"
    "while [ $i -lt 16 ]; do\n"
    "  head -c 65537 /dev/zero\n"
    "  printf m >&\"$VIGIL_CHECKPOINT_FD\"; read -r _ <&\"$VIGIL_CHECKPOINT_FD\"\n"
    "  i=$((i+1))\n"
    "done\n";

static void
test_replay_markers_while_flooding_stdout_match(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "flood.sh", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct replay_outcome out;
	struct rec r;

	write_file(f->rec, "flood.sh", flood_script, 0755);
	write_file(f->work, "flood.sh", flood_script, 0755);
	record(f->rec, argv, env, 100000, &r);
	assert_true(r.n >= 16 + 10);
	replay(f->job, argv, 1, env, 1, 100000, &r, 60, &out);
	if (strcmp(out.status, "match") != 0)
		fail_msg("status %s: %s (diverged at %llu)", out.status,
		    out.error, (unsigned long long)out.div_index);
	assert_int_equal(out.compared, r.n);
	buf_free(&r.exp);
}

/* Three checkpoints of 64 fixed bytes, then random bytes: the fourth
 * checkpoint is the first that includes them. */
static const char rand_script[] =
    "#!/bin/sh\n"
    "printf '%063d\\n' 1; printf '%063d\\n' 2; printf '%063d\\n' 3\n"
    "od -An -N32 -tx1 /dev/urandom\n"
    "printf '%063d\\n' 4\n";

static void
test_replay_random_output_diverges_at_first_index_that_includes_it(
    void **state)
{
	struct fx *f = *state;
	char *argv[] = { "rand.sh", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct replay_outcome out;
	struct rec r;

	write_file(f->rec, "rand.sh", rand_script, 0755);
	write_file(f->work, "rand.sh", rand_script, 0755);
	record(f->rec, argv, env, 64, &r);
	assert_true(r.n >= 5);
	replay(f->job, argv, 1, env, 1, 64, &r, 30, &out);
	assert_string_equal(out.status, "diverged");
	assert_true(out.have_div);
	assert_int_equal(out.div_index, 4);
	assert_true(out.have_expected);
	assert_true(out.have_actual);
	assert_memory_equal(out.exp_state, r.exp.data + 3 * 64, 32);
	assert_memory_not_equal(out.act_state, out.exp_state, 32);
	buf_free(&r.exp);
}

static void
test_replay_timeout_is_error(void **state)
{
	struct fx *f = *state;
	char *argv[] = { "slow.sh", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct replay_outcome out;
	struct rec r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(buf_add(&r.exp, test_c0, 32), 0);
	assert_int_equal(buf_add(&r.exp, test_c0, 32), 0);
	r.n = 1;
	write_file(f->work, "slow.sh", "#!/bin/sh\nsleep 30\n", 0755);
	replay(f->job, argv, 1, env, 1, 0, &r, 1, &out);
	assert_string_equal(out.status, "error");
	assert_non_null(strstr(out.error, "timeout"));
	buf_free(&r.exp);
}

/* How the worker runs: NULL worker_exe forks it from this (root) test;
 * otherwise WRAPPER replay-worker JOBDIR. */
struct probe_mode {
	const char *worker_exe;
	int allow_weak;
};

/* Copies this test binary into work/probe and replays argv, expecting
 * the single checkpoint of a run that printed exactly `want`. */
static void
probe_run(struct fx *f, char **argv, size_t argc, const char *want,
    const struct probe_mode *m, struct replay_outcome *out)
{
	char self[PATH_MAX], dst[1024];
	struct replay_spec sp;
	struct replay_opts o;
	uint8_t state[32], cum[32];
	struct rec r;
	uint8_t *bin = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_int_equal(file_read(self, 256u << 20, &bin, &len), 0);
	snprintf(dst, sizeof(dst), "%s/probe", f->work);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bin, len), (ssize_t)len);
	close(fd);
	free(bin);
	/* The record of a run that printed exactly `want`. */
	{
		unsigned int l = 0;
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
		EVP_DigestUpdate(md, want, strlen(want));
		EVP_DigestFinal_ex(md, state, &l);
		EVP_MD_CTX_free(md);
	}
	ckpt_next(test_c0, state, cum);
	memset(&r, 0, sizeof(r));
	assert_int_equal(buf_add(&r.exp, state, 32), 0);
	assert_int_equal(buf_add(&r.exp, cum, 32), 0);
	r.n = 1;
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.argc = argc;
	memcpy(sp.c0, test_c0, 32);
	sp.timeout_s = 30;
	sp.allow_weak = m->allow_weak;
	sp.expected = r.exp.data;
	sp.n_expected = r.n;
	assert_int_equal(replay_job_write(f->job, &sp), 0);
	memset(&o, 0, sizeof(o));
	o.timeout_s = 30;
	o.worker_exe = m->worker_exe;
	o.allow_weak = m->allow_weak;
	if (m->worker_exe != NULL) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "chown -R %d:%d '%s'", UNPRIV_UID,
		    UNPRIV_UID, f->job);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(replay_job_run(f->job, &o, out), 0);
	if (strcmp(out->status, "match") != 0) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "tail -n 5 '%s/stderr.log' >&2",
		    f->job);
		if (system(cmd) != 0)
			fprintf(stderr, "(no stderr.log)\n");
	}
	buf_free(&r.exp);
}

/* The sandboxed program's single line of output must be `want`. */
static void
probe_expect(struct fx *f, const char *what, const char *want)
{
	char *argv[] = { "probe", "probe", (char *)what, NULL };
	struct probe_mode m = { NULL, 0 };
	struct replay_outcome out;

#if defined(__SANITIZE_ADDRESS__)
	/* The probe is this binary; under AddressSanitizer it cannot start
	 * below the sandbox's RLIMIT_AS (its shadow memory is terabytes of
	 * address space). The plain build runs these tests. */
	skip();
#endif
	probe_run(f, argv, 3, want, &m, &out);
	if (strcmp(out.status, "match") != 0)
		fail_msg("probe %s: %s %s (wanted output %s)", what, out.status,
		    out.error, want);
}

static void
test_replay_sandbox_refuses_tcp_connect(void **state)
{
	probe_expect(*state, "net", "socket refused\n");
}

static void
test_replay_sandbox_refuses_signal_to_other_pid(void **state)
{
	probe_expect(*state, "kill", "blocked\n");
}

static void
test_replay_sandbox_refuses_writes_outside_work_dir(void **state)
{
	struct stat st;

	probe_expect(*state, "write", "blocked\n");
	assert_int_equal(stat("/tmp/vigil-replay-escape", &st), -1);
}

static void
test_replay_sandbox_runs_as_unprivileged_uid(void **state)
{
	if (getuid() != 0)
		skip();
	probe_expect(*state, "uid", "65534\n");
}

/* ---- the verifier's secrets, tried by a hostile recipe ---- */

#define CRED_DIR "/run/credentials/vigil-verifier.service"

/* What a hostile program would go for: a verifier's state directory (a
 * real SQLite store, real result-signing keys, the agent CA and TLS keys,
 * the SMM reference-set key, its log), a credential as systemd passes
 * it, init's environment, a sibling job, this job's own files, and the
 * host's /etc/passwd (world-readable outside). */
struct secrets {
	char dir[64];
	char sibling[256];
	char *paths[24];
	size_t n;
	int cred;		/* CRED_DIR made by the test */
};

static void
secret_file(struct secrets *s, const char *name, const char *text)
{
	char p[256];

	write_file(s->dir, name, text, 0600);
	snprintf(p, sizeof(p), "%s/%s", s->dir, name);
	s->paths[s->n++] = strdup(p);
}

static void
secrets_make(struct secrets *s, const struct fx *f, int owner)
{
	struct sigkeys *k = NULL;
	struct store *st = NULL;
	char p[512];
	struct stat sb;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/vigil-secrets.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(p, sizeof(p), "%s/verifier.db", s->dir);
	assert_int_equal(store_open(p, &st), 0);
	store_close(st);
	assert_int_equal(chmod(p, 0600), 0);
	s->paths[s->n++] = strdup(p);
	snprintf(p, sizeof(p), "%s/keys", s->dir);
	assert_int_equal(sigkeys_open(p, &k), 0);
	sigkeys_free(k);
	s->paths[s->n++] = strdup(p);
	snprintf(p, sizeof(p), "%s/keys/current.jwk", s->dir);
	assert_int_equal(stat(p, &sb), 0);
	s->paths[s->n++] = strdup(p);
	secret_file(s, "agent-ca.key", "-----BEGIN PRIVATE KEY-----\n");
	secret_file(s, "verifier.key", "-----BEGIN PRIVATE KEY-----\n");
	secret_file(s, "smm-refset.key", "-----BEGIN PRIVATE KEY-----\n");
	secret_file(s, "verifier.log", "token acme: 0123456789\n");
	s->paths[s->n++] = strdup(s->dir);
	if (getuid() == 0 && stat(CRED_DIR, &sb) != 0) {
		assert_int_equal(system("mkdir -p -m 0700 " CRED_DIR), 0);
		s->cred = 1;
	}
	if (s->cred) {
		write_file(CRED_DIR, "agent-ca.key", "secret\n", 0400);
		s->paths[s->n++] = strdup(CRED_DIR "/agent-ca.key");
		s->paths[s->n++] = strdup(CRED_DIR);
	}
	s->paths[s->n++] = strdup("/proc/1/environ");
	assert_int_equal(replay_jobdir_new("/tmp", s->sibling,
	    sizeof(s->sibling)), 0);
	snprintf(p, sizeof(p), "%s/work", s->sibling);
	write_file(p, "tenant-b-input.txt", "tenant b's data\n", 0644);
	snprintf(p, sizeof(p), "%s/work/tenant-b-input.txt", s->sibling);
	s->paths[s->n++] = strdup(p);
	s->paths[s->n++] = strdup(s->sibling);
	snprintf(p, sizeof(p), "%s/job.json", f->job);
	s->paths[s->n++] = strdup(p);
	s->paths[s->n++] = strdup("/etc/passwd");
	if (owner >= 0) {
		snprintf(p, sizeof(p), "chown -R %d:%d '%s' '%s'%s", owner,
		    owner, s->dir, s->sibling, s->cred ? " " CRED_DIR : "");
		assert_int_equal(system(p), 0);
	}
}

static void
secrets_free(struct secrets *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->paths[i]);
	replay_jobdir_remove(s->dir);
	replay_jobdir_remove(s->sibling);
	if (s->cred)
		assert_int_equal(system("rm -rf " CRED_DIR), 0);
}

/* The recipe opens every secret; the replay matches only if the output
 * is "READ /work/probe" (its own copy: the control) and then one
 * "denied" per secret, so any secret read is a divergence. */
static void
secrets_expect_denied(struct fx *f, const struct probe_mode *m, int owner)
{
	char *argv[40] = { "probe", "probe", "read", "/work/probe" };
	char want[2048];
	struct replay_outcome out;
	struct secrets s;
	size_t i, argc = 4;

#if defined(__SANITIZE_ADDRESS__)
	skip();
#endif
	secrets_make(&s, f, owner);
	snprintf(want, sizeof(want), "READ /work/probe\n");
	for (i = 0; i < s.n; i++) {
		argv[argc++] = s.paths[i];
		strncat(want, "denied\n", sizeof(want) - strlen(want) - 1);
	}
	probe_run(f, argv, argc, want, m, &out);
	if (strcmp(out.status, "match") != 0) {
		secrets_free(&s);
		fail_msg("a secret was in reach: %s %s", out.status, out.error);
	}
	assert_int_equal(out.compared, 1);
	secrets_free(&s);
}

static void
test_replay_sandbox_reads_no_secret_as_root(void **state)
{
	struct probe_mode m = { NULL, 0 };

	if (getuid() != 0)
		skip();
	secrets_expect_denied(*state, &m, -1);
}

/* WRAPPER replay-worker JOBDIR runs vigil-verifier as UNPRIV_UID, with
 * CAP_SETUID and CAP_SETGID ambient as deploy/systemd's unit gives them
 * (caps = 1), or with no capability at all. */
static void
unpriv_wrapper(struct fx *f, int caps, char *out, size_t cap)
{
	char self[PATH_MAX], bin[PATH_MAX], text[2048], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	/* BUILD/tests/test_replay -> BUILD/bin/vigil-verifier */
	assert_non_null(slash = strrchr(self, '/'));
	*slash = '\0';
	assert_non_null(slash = strrchr(self, '/'));
	*slash = '\0';
	assert_true(snprintf(bin, sizeof(bin), "%s/bin/vigil-verifier",
	    self) < (int)sizeof(bin));
	assert_int_equal(access(bin, X_OK), 0);
	assert_true(snprintf(text, sizeof(text), "#!/bin/sh\nexec setpriv --reuid=%d "
	    "--regid=%d --clear-groups %s '%s' \"$@\"\n", UNPRIV_UID,
	    UNPRIV_UID, caps ? "--inh-caps=-all,+setuid,+setgid "
	    "--ambient-caps=-all,+setuid,+setgid "
	    "--bounding-set=-all,+setuid,+setgid" : "--inh-caps=-all "
	    "--bounding-set=-all", bin) < (int)sizeof(text));
	write_file(f->rec, "worker.sh", text, 0755);
	snprintf(out, cap, "%s/worker.sh", f->rec);
}

static int
have_setpriv(void)
{
	return getuid() == 0 && system("command -v setpriv >/dev/null") == 0;
}

/* As the systemd unit runs it: an unprivileged verifier whose secrets
 * are its own files, mode 0600. */
static void
test_replay_sandbox_reads_no_secret_as_unprivileged_verifier(void **state)
{
	struct fx *f = *state;
	struct probe_mode m = { NULL, 0 };
	char *argv[] = { "probe", "probe", "uid", NULL };
	struct replay_outcome out;
	char w[PATH_MAX];

	if (!have_setpriv())
		skip();
	unpriv_wrapper(f, 1, w, sizeof(w));
	m.worker_exe = w;
	secrets_expect_denied(f, &m, UNPRIV_UID);
	/* uid 65534 inside is uid 65534 outside, not the verifier's. */
	probe_run(f, argv, 3, "65534\n", &m, &out);
	assert_string_equal(out.status, "match");
}

static void
test_replay_sandbox_refuses_without_a_uid_of_its_own(void **state)
{
	struct fx *f = *state;
	struct probe_mode m = { NULL, 0 };
	char *argv[] = { "probe", "probe", "uid", NULL };
	struct replay_outcome out;
	char w[PATH_MAX];

	if (!have_setpriv())
		skip();
	unpriv_wrapper(f, 0, w, sizeof(w));
	m.worker_exe = w;
	probe_run(f, argv, 3, "65534\n", &m, &out);
	assert_string_equal(out.status, "error");
	assert_non_null(strstr(out.error, "sandbox unavailable: the verifier "
	    "runs as uid 60999 without CAP_SETUID and CAP_SETGID"));
}

/* allow_weak accepts the verifier's own uid, never the host's files. */
static void
test_replay_weak_sandbox_still_has_a_root_of_its_own(void **state)
{
	struct fx *f = *state;
	struct probe_mode m = { NULL, 1 };
	char w[PATH_MAX];

	if (!have_setpriv())
		skip();
	unpriv_wrapper(f, 0, w, sizeof(w));
	m.worker_exe = w;
	secrets_expect_denied(f, &m, UNPRIV_UID);
}

/* ---- from the store: missing blobs ---- */

static void
make_comp(struct store *s, const char *id, const char *recipe)
{
	struct comp_rec c;
	char st[16];
	uint8_t fin[32] = { 0 };

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.tenant, sizeof(c.tenant), "acme");
	c.recipe_json = (char *)recipe;
	memcpy(c.c0, test_c0, 32);
	assert_int_equal(store_comp_add(s, &c), 0);
	assert_int_equal(store_comp_end(s, id, "agent", 0, 0, fin, st), 0);
}

static void
test_replay_missing_input_missing_or_changed_executable_is_error(void **state)
{
	struct fx *f = *state;
	static const uint8_t prog[] = "#!/bin/sh\necho hi\n";
	char dir[64], path[128], recipe[1024], hex[65];
	struct replay_outcome out;
	struct replay_opts o;
	struct store *s = NULL;
	uint8_t sha[32];

	snprintf(dir, sizeof(dir), "/tmp/vigil-replaydb.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.db", dir);
	assert_int_equal(store_open(path, &s), 0);
	assert_int_equal(store_blob_put(s, prog, sizeof(prog) - 1, sha), 0);
	hex_encode(sha, 32, hex);
	snprintf(recipe, sizeof(recipe), "{\"argv\":[\"p.sh\"],"
	    "\"executable\":{\"path\":\"p.sh\",\"sha256\":\"%s\"},"
	    "\"inputs\":[{\"path\":\"data/in.txt\",\"sha256\":\"%064d\"}]}",
	    hex, 7);
	make_comp(s, "0123456789abcdef0123456789abcdef", recipe);
	snprintf(recipe, sizeof(recipe), "{\"argv\":[\"p.sh\"],"
	    "\"executable\":{\"path\":\"p.sh\",\"sha256\":\"%064d\"}}", 9);
	make_comp(s, "fedcba9876543210fedcba9876543210", recipe);
	memset(&o, 0, sizeof(o));
	o.timeout_s = 10;
	assert_int_equal(replay_prepare(s, "0123456789abcdef0123456789abcdef",
	    f->job, &o, &out), 0);
	assert_string_equal(out.status, "error");
	assert_non_null(strstr(out.error, "input missing: data/in.txt"));
	assert_int_equal(replay_execute(s, &o,
	    "fedcba9876543210fedcba9876543210", &out), 0);
	assert_string_equal(out.status, "error");
	assert_non_null(strstr(out.error, "executable missing: p.sh"));
	/* A blob whose bytes no longer hash to its name (e.g. the store was
	 * edited): the executable differs. */
	{
		sqlite3 *db = NULL;
		char sql[256];

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		snprintf(sql, sizeof(sql), "UPDATE blobs SET data = "
		    "CAST('#!/bin/sh\necho evil\n' AS BLOB) WHERE sha256 = "
		    "x'%s'", hex);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(db);
	}
	snprintf(recipe, sizeof(recipe), "{\"argv\":[\"p.sh\"],"
	    "\"executable\":{\"path\":\"p.sh\",\"sha256\":\"%s\"}}", hex);
	make_comp(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", recipe);
	assert_int_equal(replay_execute(s, &o,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &out), 0);
	assert_string_equal(out.status, "error");
	assert_non_null(strstr(out.error, "executable differs: p.sh"));
	store_close(s);
	replay_jobdir_remove(dir);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_replay_deterministic_program_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_markers_while_flooding_stdout_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_random_output_diverges_at_first_index_that_includes_it,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_timeout_is_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_refuses_tcp_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_refuses_signal_to_other_pid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_refuses_writes_outside_work_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_runs_as_unprivileged_uid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_missing_input_missing_or_changed_executable_is_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_reads_no_secret_as_root, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_reads_no_secret_as_unprivileged_verifier,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_sandbox_refuses_without_a_uid_of_its_own, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_replay_weak_sandbox_still_has_a_root_of_its_own, setup,
		    teardown),
	};

	if (argc >= 3 && strcmp(argv[1], "probe") == 0 &&
	    strcmp(argv[2], "read") == 0)
		return probe_read(argc - 3, argv + 3);
	if (argc == 3 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
