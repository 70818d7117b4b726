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
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "verifier/replay.h"
#include "verifier/store.h"
#include "verifier/store_comp.h"

/* ---- the replayed program's side ---- */

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
		/* Outside: /tmp, and the job directory above work/. */
		int a = open("/tmp/vigil-replay-escape", O_WRONLY | O_CREAT,
		    0644);
		int b = open("../escape", O_WRONLY | O_CREAT, 0644);
		int c = open("inside.txt", O_WRONLY | O_CREAT, 0644);

		puts(a < 0 && b < 0 && c >= 0 ? "blocked" : "open");
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

/* The sandboxed program's single line of output must be `want`. */
static void
probe_expect(struct fx *f, const char *what, const char *want)
{
	char self[PATH_MAX], dst[1024];
	char *argv[] = { "probe", "probe", (char *)what, NULL };
	struct replay_outcome out;
	uint8_t state[32], cum[32];
	struct rec r;
	uint8_t *bin = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

#if defined(__SANITIZE_ADDRESS__)
	/* The probe is this binary; under AddressSanitizer it cannot start
	 * below the sandbox's RLIMIT_AS (its shadow memory is terabytes of
	 * address space). The plain build runs these tests. */
	skip();
#endif
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
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestInit_ex(m, EVP_sha256(), NULL), 1);
		EVP_DigestUpdate(m, want, strlen(want));
		EVP_DigestFinal_ex(m, state, &l);
		EVP_MD_CTX_free(m);
	}
	ckpt_next(test_c0, state, cum);
	memset(&r, 0, sizeof(r));
	assert_int_equal(buf_add(&r.exp, state, 32), 0);
	assert_int_equal(buf_add(&r.exp, cum, 32), 0);
	r.n = 1;
	replay(f->job, argv, 3, NULL, 0, 0, &r, 30, &out);
	if (strcmp(out.status, "match") != 0)
		fail_msg("probe %s: %s %s (wanted output %s)", what, out.status,
		    out.error, want);
	buf_free(&r.exp);
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
	};

	if (argc == 3 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
