/* Checkpoints of repeatable computations: the digest layouts of ckpt.h and
 * the runner's boundaries (every N bytes, markers, the final rule), exit
 * status, timeout, and what the child inherits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"

#define MAXCK 64

struct rec {
	uint64_t n;
	uint8_t state[MAXCK][CKPT_LEN];
	uint8_t cum[MAXCK][CKPT_LEN];
	uint64_t stop_at;	/* return VIGIL_EDENIED at this index */
};

static const uint8_t c0_fixed[CKPT_LEN] = { 0xc0, 0x01 };

static int
rec_cb(void *arg, uint64_t index, const uint8_t state[CKPT_LEN],
    const uint8_t cum[CKPT_LEN])
{
	struct rec *r = arg;

	assert_true(index == r->n + 1);
	if (r->n < MAXCK) {
		memcpy(r->state[r->n], state, CKPT_LEN);
		memcpy(r->cum[r->n], cum, CKPT_LEN);
	}
	r->n++;
	if (r->stop_at != 0 && index == r->stop_at)
		return VIGIL_EDENIED;
	return 0;
}

static void
sha256(const void *p, size_t n, uint8_t out[CKPT_LEN])
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, CKPT_LEN);
}

static int
run_sh(const char *script, uint64_t every, int timeout_s, int passfd,
    char *const *envp, struct rec *rec, struct ckpt_result *res)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char *noenv[] = { "PATH=/usr/bin:/bin", NULL };
	struct ckpt_run_opts o = {
		.argv = argv,
		.envp = envp != NULL ? envp : noenv,
		.every_bytes = every,
		.c0 = c0_fixed,
		.timeout_s = timeout_s,
		.passthrough_fd = passfd,
		.on_checkpoint = rec_cb,
		.arg = rec,
	};

	return ckpt_run(&o, res);
}

/* Checks checkpoint i (from 0) against the first n bytes of out, and the
 * chain against the one before it. */
static void
check_ck(const struct rec *r, uint64_t i, const void *out, size_t n)
{
	uint8_t st[CKPT_LEN], c[CKPT_LEN];

	sha256(out, n, st);
	assert_memory_equal(r->state[i], st, CKPT_LEN);
	ckpt_next(i == 0 ? c0_fixed : r->cum[i - 1], st, c);
	assert_memory_equal(r->cum[i], c, CKPT_LEN);
}

static void
test_ckpt_digests_match_hand_computed_vectors(void **state)
{
	uint8_t d[CKPT_LEN], s[CKPT_LEN], c[CKPT_LEN], out[CKPT_LEN];
	char hex[2 * CKPT_LEN + 1];

	/* printf 'vigil-recipe' + 32 x 0x33 | openssl dgst -sha256 */
	memset(d, 0x33, sizeof(d));
	ckpt_c0(d, out);
	hex_encode(out, CKPT_LEN, hex);
	assert_string_equal(hex, "392a7ad91abecdfe1f6fca2c1231622a"
	    "8d3b012133127b31a3e6f70e2d1e51f8");
	/* 32 x 0x33 + 32 x 0x44 | openssl dgst -sha256 */
	memset(s, 0x44, sizeof(s));
	ckpt_next(d, s, out);
	hex_encode(out, CKPT_LEN, hex);
	assert_string_equal(hex, "71cdd0136a799e7ef615ddd2aaeee3d0"
	    "bae2eb8dbcac7b88ceb70ff131ecce55");
	/* in place: out may alias prev */
	memcpy(c, d, CKPT_LEN);
	ckpt_next(c, s, c);
	assert_memory_equal(c, out, CKPT_LEN);
	/* 'vigil-ckpt' + id ASCII + u64be 2 + 32 x 0x11 + 32 x 0x22 */
	memset(s, 0x11, sizeof(s));
	memset(c, 0x22, sizeof(c));
	ckpt_commitment("0123456789abcdef0123456789abcdef", 2, s, c, out);
	hex_encode(out, CKPT_LEN, hex);
	assert_string_equal(hex, "8338413a32f4ba643ae363237371a16f"
	    "d564e0e3fe25d6cbd0002f3caa6312d4");
	/* the index is part of it */
	ckpt_commitment("0123456789abcdef0123456789abcdef", 3, s, c, d);
	assert_memory_not_equal(d, out, CKPT_LEN);
}

static void
test_ckpt_run_state_is_sha256_of_output(void **state)
{
	struct rec r = { 0 };
	struct ckpt_result res;

	assert_int_equal(run_sh("printf 'abc'", 0, 0, -1, NULL, &r, &res), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(res.count, 1);
	assert_int_equal(res.bytes, 3);
	check_ck(&r, 0, "abc", 3);
	assert_memory_equal(res.final, r.cum[0], CKPT_LEN);
	assert_true(WIFEXITED(res.exit_status));
	assert_int_equal(WEXITSTATUS(res.exit_status), 0);
	assert_int_equal(res.timed_out, 0);
}

static void
test_ckpt_run_cuts_exactly_every_n_bytes(void **state)
{
	const char *out = "abcdefghij";
	struct rec r = { 0 };
	struct ckpt_result res;

	/* two writes that cross the boundaries at 4 and 8 */
	assert_int_equal(run_sh("printf abcdef; printf ghij", 4, 0, -1, NULL,
	    &r, &res), 0);
	assert_int_equal(res.count, 3);
	assert_int_equal(res.bytes, 10);
	check_ck(&r, 0, out, 4);
	check_ck(&r, 1, out, 8);
	check_ck(&r, 2, out, 10);	/* final: output followed the last */
	assert_memory_equal(res.final, r.cum[2], CKPT_LEN);
}

static void
test_ckpt_run_no_final_checkpoint_after_boundary(void **state)
{
	struct rec r = { 0 };
	struct ckpt_result res;

	assert_int_equal(run_sh("printf abcdefgh", 4, 0, -1, NULL, &r, &res),
	    0);
	assert_int_equal(res.count, 2);
	check_ck(&r, 0, "abcdefgh", 4);
	check_ck(&r, 1, "abcdefgh", 8);
	assert_memory_equal(res.final, r.cum[1], CKPT_LEN);
}

static void
test_ckpt_run_without_output_cuts_one_checkpoint(void **state)
{
	struct rec r = { 0 };
	struct ckpt_result res;

	assert_int_equal(run_sh("true", 1000, 0, -1, NULL, &r, &res), 0);
	assert_int_equal(res.count, 1);
	assert_int_equal(res.bytes, 0);
	check_ck(&r, 0, "", 0);
}

#define MARK "printf m >&3; read -r _ <&3; "

static void
test_ckpt_run_marker_cuts_even_without_new_output(void **state)
{
	struct rec r = { 0 };
	struct ckpt_result res;

	/* two markers after "ab", nothing after: no final checkpoint */
	assert_int_equal(run_sh("printf ab; " MARK MARK, 0, 0, -1, NULL, &r,
	    &res), 0);
	assert_int_equal(res.count, 2);
	check_ck(&r, 0, "ab", 2);
	check_ck(&r, 1, "ab", 2);
	assert_memory_not_equal(r.cum[0], r.cum[1], CKPT_LEN);
}

/* 20 markers, each after a flood of i * 7919 zero bytes, then 5000 more. */
#define FLOOD "i=1; while [ $i -le 20 ]; do head -c $((i * 7919)) " \
	"/dev/zero; " MARK "i=$((i + 1)); done; head -c 5000 /dev/zero"

static void
test_ckpt_run_marker_boundary_is_bytes_written_before_it(void **state)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct ckpt_result res;
	uint8_t *zeros;
	size_t total = 0, i;

	assert_non_null(r);
	assert_non_null(zeros = calloc(1, 2000000));
	assert_int_equal(run_sh(FLOOD, 0, 30, -1, NULL, r, &res), 0);
	assert_int_equal(res.count, 21);
	for (i = 1; i <= 20; i++) {
		total += i * 7919;
		check_ck(r, i - 1, zeros, total);
	}
	total += 5000;
	assert_int_equal(res.bytes, total);
	check_ck(r, 20, zeros, total);
	free(zeros);
	free(r);
}

static void
test_ckpt_run_boundaries_stable_across_runs_with_both_kinds(void **state)
{
	struct rec *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct ckpt_result ra, rb;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(run_sh(FLOOD, 65536, 30, -1, NULL, a, &ra), 0);
	assert_int_equal(run_sh(FLOOD, 65536, 30, -1, NULL, b, &rb), 0);
	/* 1,667,990 bytes: 25 size boundaries, 20 markers, one final */
	assert_int_equal(ra.bytes, 1667990);
	assert_int_equal(ra.count, 46);
	assert_int_equal(rb.count, ra.count);
	assert_memory_equal(a->state, b->state, sizeof(a->state[0]) * 46);
	assert_memory_equal(a->cum, b->cum, sizeof(a->cum[0]) * 46);
	assert_memory_equal(ra.final, rb.final, CKPT_LEN);
	free(a);
	free(b);
}

static void
test_ckpt_run_reports_exit_status(void **state)
{
	char *argv[] = { "/nonexistent/prog", NULL };
	char *envp[] = { NULL };
	struct rec r = { 0 };
	struct ckpt_result res;
	struct ckpt_run_opts o = {
		.argv = argv, .envp = envp, .c0 = c0_fixed,
		.passthrough_fd = -1, .on_checkpoint = rec_cb, .arg = &r,
	};

	assert_int_equal(run_sh("printf x; exit 7", 0, 0, -1, NULL, &r, &res),
	    0);
	assert_true(WIFEXITED(res.exit_status));
	assert_int_equal(WEXITSTATUS(res.exit_status), 7);
	assert_int_equal(res.count, 1);
	r.n = 0;
	assert_int_equal(run_sh("kill -TERM $$", 0, 0, -1, NULL, &r, &res), 0);
	assert_true(WIFSIGNALED(res.exit_status));
	assert_int_equal(WTERMSIG(res.exit_status), SIGTERM);
	/* exec failure: 127 */
	r.n = 0;
	assert_int_equal(ckpt_run(&o, &res), 0);
	assert_true(WIFEXITED(res.exit_status));
	assert_int_equal(WEXITSTATUS(res.exit_status), 127);
}

static int
fail_setup(void *arg)
{
	return 1;
}

static void
test_ckpt_run_child_setup_failure_exits_127(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "printf never", NULL };
	char *envp[] = { NULL };
	struct rec r = { 0 };
	struct ckpt_result res;
	struct ckpt_run_opts o = {
		.argv = argv, .envp = envp, .c0 = c0_fixed,
		.passthrough_fd = -1, .on_checkpoint = rec_cb, .arg = &r,
		.child_setup = fail_setup,
	};

	assert_int_equal(ckpt_run(&o, &res), 0);
	assert_int_equal(WEXITSTATUS(res.exit_status), 127);
	assert_int_equal(res.bytes, 0);
}

/* Dead or a zombie (pid 1 of a container may reap late). */
static int
proc_dead(long pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	if ((p = strrchr(buf, ')')) == NULL || p[1] == 0)
		return 0;
	return p[2] == 'Z' || p[2] == 'X';
}

static void
test_ckpt_run_timeout_kills_the_process_group(void **state)
{
	struct rec r = { 0 };
	struct ckpt_result res;
	struct timespec t0, t1;
	char buf[64] = { 0 }, *end;
	long sh, bg;
	int p[2], i;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* a background grandchild keeps stdout open */
	assert_int_equal(run_sh("echo $$; sleep 30 & echo $!; wait", 0, 1,
	    p[1], NULL, &r, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_int_equal(res.timed_out, 1);
	assert_true(WIFSIGNALED(res.exit_status));
	assert_int_equal(WTERMSIG(res.exit_status), SIGKILL);
	assert_int_equal(res.count, 0);	/* no final checkpoint */
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 3);
	sh = strtol(buf, &end, 10);
	bg = strtol(end, NULL, 10);
	assert_true(sh > 1 && bg > 1);
	for (i = 0; i < 100 && !proc_dead(bg); i++)
		usleep(10000);
	assert_true(proc_dead(sh));
	assert_true(proc_dead(bg));
}

static void
test_ckpt_run_callback_error_stops_the_run(void **state)
{
	struct rec r = { .stop_at = 2 };
	struct ckpt_result res;

	assert_int_equal(run_sh("head -c 100000 /dev/zero; sleep 30", 1000, 0,
	    -1, NULL, &r, &res), VIGIL_EDENIED);
	assert_int_equal(r.n, 2);
	assert_int_equal(res.count, 2);
	assert_true(WIFSIGNALED(res.exit_status));
}

static void
test_ckpt_run_child_gets_only_std_fds_checkpoint_fd_and_env(void **state)
{
	const char *want = "0\n1\n2\n3\n3 bar\n";
	char *envp[] = { "FOO=bar", "VIGIL_CHECKPOINT_FD=9", NULL };
	struct rec r = { 0 };
	struct ckpt_result res;
	char buf[256] = { 0 };
	int p[2], leak, i;
	ssize_t n;

	/* no O_CLOEXEC, and above 3 whatever the test's own 0-2 are */
	leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 0);
	i = fcntl(leak, F_DUPFD, 20);
	close(leak);
	leak = i;
	assert_true(leak >= 20);
	assert_int_equal(pipe(p), 0);
	/* ls lists the shell's descriptors, not its own */
	assert_int_equal(run_sh("/bin/ls /proc/$$/fd; "
	    "echo $VIGIL_CHECKPOINT_FD $FOO",
	    0, 10, p[1], envp, &r, &res), 0);
	close(p[1]);
	close(leak);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	assert_string_equal(buf, want);
	check_ck(&r, 0, want, strlen(want));
}

static void
test_ckpt_run_exec_runs_path_with_argv0_as_given(void **state)
{
	char *argv[] = { "prog", "-c", "echo \"$0\"", NULL };
	char *envp[] = { NULL };
	struct rec r = { 0 };
	struct ckpt_result res;
	struct ckpt_run_opts o = {
		.argv = argv, .envp = envp, .c0 = c0_fixed,
		.passthrough_fd = -1, .on_checkpoint = rec_cb, .arg = &r,
	};

	assert_int_equal(ckpt_run_exec("/bin/sh", &o, &res), 0);
	assert_int_equal(WEXITSTATUS(res.exit_status), 0);
	assert_int_equal(res.count, 1);
	check_ck(&r, 0, "prog\n", 5);
	assert_int_equal(ckpt_run_exec(NULL, &o, &res), VIGIL_EINVAL);
}

static void
test_ckpt_run_rejects_incomplete_options(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	char *envp[] = { NULL };
	struct ckpt_result res;
	struct ckpt_run_opts o = {
		.argv = argv, .envp = envp, .c0 = NULL, .passthrough_fd = -1,
	};

	assert_int_equal(ckpt_run(&o, &res), VIGIL_EINVAL);
	o.c0 = c0_fixed;
	o.envp = NULL;
	assert_int_equal(ckpt_run(&o, &res), VIGIL_EINVAL);
	assert_int_equal(ckpt_run(NULL, &res), VIGIL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ckpt_digests_match_hand_computed_vectors),
		cmocka_unit_test(test_ckpt_run_state_is_sha256_of_output),
		cmocka_unit_test(test_ckpt_run_cuts_exactly_every_n_bytes),
		cmocka_unit_test(test_ckpt_run_no_final_checkpoint_after_boundary),
		cmocka_unit_test(test_ckpt_run_without_output_cuts_one_checkpoint),
		cmocka_unit_test(test_ckpt_run_marker_cuts_even_without_new_output),
		cmocka_unit_test(test_ckpt_run_marker_boundary_is_bytes_written_before_it),
		cmocka_unit_test(test_ckpt_run_boundaries_stable_across_runs_with_both_kinds),
		cmocka_unit_test(test_ckpt_run_reports_exit_status),
		cmocka_unit_test(test_ckpt_run_child_setup_failure_exits_127),
		cmocka_unit_test(test_ckpt_run_timeout_kills_the_process_group),
		cmocka_unit_test(test_ckpt_run_callback_error_stops_the_run),
		cmocka_unit_test(test_ckpt_run_child_gets_only_std_fds_checkpoint_fd_and_env),
		cmocka_unit_test(test_ckpt_run_exec_runs_path_with_argv0_as_given),
		cmocka_unit_test(test_ckpt_run_rejects_incomplete_options),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
