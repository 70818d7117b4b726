/* The replay worker (`vigil-verifier replay-worker JOBDIR`) and its
 * sandbox (see replay.h): reads the job, enters the namespaces, makes the
 * tree read-only but work/, runs the recipe through ckpt_run_exec with the
 * child dropped to an unprivileged uid under rlimits and a seccomp filter,
 * compares every checkpoint and prints one JSON result. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <seccomp.h>

#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "log.h"
#include "replay.h"

#define REPLAY_DEFAULT_TIMEOUT 600
#define REPLAY_JOB_MAX (1024 * 1024)

/* Resource limits of the replayed program. */
#define REPLAY_RLIM_AS (4ull << 30)
#define REPLAY_RLIM_FSIZE (1ull << 30)
#define REPLAY_RLIM_NOFILE 256
#define REPLAY_RLIM_NPROC 512

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

static int
replay_parse_digest(const json_t *o, const char *k, uint8_t out[32])
{
	const char *h = json_string_value(json_object_get(o, k));

	return h != NULL && strlen(h) == 64 && hex_decode(h, out, 32) == 0;
}

struct replay_work {
	const uint8_t *expected;
	size_t n_expected;
	struct replay_outcome *out;
	/* the child's setup */
	scmp_filter_ctx seccomp;
	int drop_uid;
	rlim_t cpu_s;
	char *child_err;		/* shared page: the child's failure */
	size_t child_err_cap;
};

/* ckpt_run's on_checkpoint: compare with the record, stop at the first
 * divergence. */
static int
replay_on_checkpoint(void *arg, uint64_t index, const uint8_t state[32],
    const uint8_t cum[32])
{
	struct replay_work *w = arg;
	struct replay_outcome *o = w->out;
	const uint8_t *e;

	o->compared = index;
	memcpy(o->act_state, state, 32);
	memcpy(o->act_cum, cum, 32);
	if (index > w->n_expected) {
		o->have_div = 1;
		o->div_index = index;
		o->have_actual = 1;
		return 1;
	}
	e = w->expected + (index - 1) * 64;
	if (CRYPTO_memcmp(e, state, 32) == 0 &&
	    CRYPTO_memcmp(e + 32, cum, 32) == 0)
		return 0;
	o->have_div = 1;
	o->div_index = index;
	o->have_actual = o->have_expected = 1;
	memcpy(o->exp_state, e, 32);
	memcpy(o->exp_cum, e + 32, 32);
	return 1;
}

static void
replay_child_fail(struct replay_work *w, const char *what)
{
	char num[16];
	int n = errno, i = 15;

	/* Async-signal-safe formatting: "what: errno N". */
	num[i] = '\0';
	do {
		num[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0 && i > 0);
	if (w->child_err == NULL)
		return;
	w->child_err[0] = '\0';
	strncat(w->child_err, what, w->child_err_cap - 1);
	strncat(w->child_err, ": errno ", w->child_err_cap - 1 -
	    strlen(w->child_err));
	strncat(w->child_err, num + i, w->child_err_cap - 1 -
	    strlen(w->child_err));
}

static int
replay_rlimit(int res, rlim_t v)
{
	struct rlimit r = { v, v };

	return setrlimit(res, &r);
}

/* ckpt_run's child_setup: in the child, before chdir and execve. */
static int
replay_child_setup(void *arg)
{
	struct replay_work *w = arg;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
		replay_child_fail(w, "prctl(PR_SET_PDEATHSIG)");
		return -1;
	}
	if (replay_rlimit(RLIMIT_CPU, w->cpu_s) != 0 ||
	    replay_rlimit(RLIMIT_FSIZE, REPLAY_RLIM_FSIZE) != 0 ||
	    replay_rlimit(RLIMIT_NOFILE, REPLAY_RLIM_NOFILE) != 0 ||
	    replay_rlimit(RLIMIT_NPROC, REPLAY_RLIM_NPROC) != 0 ||
	    replay_rlimit(RLIMIT_CORE, 0) != 0) {
		replay_child_fail(w, "setrlimit");
		return -1;
	}
	if (w->drop_uid && (setgroups(0, NULL) != 0 ||
	    setresgid(REPLAY_UID, REPLAY_UID, REPLAY_UID) != 0 ||
	    setresuid(REPLAY_UID, REPLAY_UID, REPLAY_UID) != 0)) {
		replay_child_fail(w, "dropping to uid/gid 65534");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		replay_child_fail(w, "prctl(PR_SET_NO_NEW_PRIVS)");
		return -1;
	}
	if (w->seccomp != NULL && seccomp_load(w->seccomp) != 0) {
		replay_child_fail(w, "seccomp_load");
		return -1;
	}
	/* Last: nothing after it allocates (a sanitizer's shadow memory in
	 * this process would not fit under it). */
	if (replay_rlimit(RLIMIT_AS, REPLAY_RLIM_AS) != 0) {
		replay_child_fail(w, "setrlimit(RLIMIT_AS)");
		return -1;
	}
	return 0;
}

/* The seccomp filter: allow by default, refuse what a replayed
 * computation never needs and a hostile one would use. */
static int
replay_seccomp(scmp_filter_ctx *out, char *why, size_t cap)
{
	static const int deny[] = {
		SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
		SCMP_SYS(process_vm_writev), SCMP_SYS(mount),
		SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot),
		SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(reboot),
		SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(init_module),
		SCMP_SYS(finit_module), SCMP_SYS(delete_module),
		SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load),
		SCMP_SYS(bpf), SCMP_SYS(perf_event_open), SCMP_SYS(keyctl),
		SCMP_SYS(add_key), SCMP_SYS(request_key),
		SCMP_SYS(open_by_handle_at), SCMP_SYS(userfaultfd),
		SCMP_SYS(fsopen), SCMP_SYS(fsmount), SCMP_SYS(move_mount),
		SCMP_SYS(open_tree), SCMP_SYS(mount_setattr),
		SCMP_SYS(acct), SCMP_SYS(settimeofday),
		SCMP_SYS(clock_settime), SCMP_SYS(adjtimex),
	};
	static const int domains[] = { AF_INET, AF_INET6, AF_PACKET,
	    AF_NETLINK };
	scmp_filter_ctx ctx;
	size_t i;
	int r = 0;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(why, cap, "seccomp_init failed");
		return VIGIL_EUNSUPP;
	}
	for (i = 0; r == 0 && i < sizeof(deny) / sizeof(deny[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), deny[i], 0);
	for (i = 0; r == 0 && i < sizeof(domains) / sizeof(domains[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ,
		    (scmp_datum_t)domains[i]));
	/* Signals to init or to every process: never. The PID namespace
	 * hides everything else outside the replay. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill),
		    1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)1));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill),
		    1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(uint32_t)-1));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(tkill), 1, SCMP_A0(SCMP_CMP_EQ, 1));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, 1));
	if (r != 0) {
		snprintf(why, cap, "seccomp_rule_add: %s", strerror(-r));
		seccomp_release(ctx);
		return VIGIL_EUNSUPP;
	}
	*out = ctx;
	return 0;
}

static int
replay_write_file(const char *path, const char *s)
{
	int fd, ok;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

static int
replay_chown_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, REPLAY_UID, REPLAY_UID) != 0 ? -1 : 0;
}

/* The PID namespace's init: mounts a fresh /proc, says so on ready_w,
 * then reaps orphans until the worker kills it. */
static void __attribute__((noreturn))
replay_init(int ready_w, int mount_proc)
{
	char ok = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!mount_proc || mount("proc", "/proc", "proc", MS_NOSUID |
	    MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) != 0)
		ok = 0;
	if (write(ready_w, &ok, 1) != 1)
		_exit(1);
	close(ready_w);
	for (;;)
		if (wait(NULL) < 0 && errno == ECHILD)
			pause();
}

struct replay_sandbox {
	int userns;
	pid_t init;
	char weak[256];		/* parts that could not be had */
};

static void
replay_weak(struct replay_sandbox *sb, const char *what)
{
	size_t n = strlen(sb->weak);

	snprintf(sb->weak + n, sizeof(sb->weak) - n, "%s%s", n ? "; " : "",
	    what);
}

/* Namespaces, read-only tree with work/ writable, fresh /proc. 0 when
 * the whole sandbox is had; otherwise VIGIL_EUNSUPP with why, unless
 * allow_weak (then the missing parts are in sb->weak). */
static int
replay_sandbox_enter(const char *work, int allow_weak,
    struct replay_sandbox *sb, char *why, size_t cap)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	struct mount_attr rw = { .attr_clr = MOUNT_ATTR_RDONLY };
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET;
	uid_t uid = getuid();
	gid_t gid = getgid();
	int ready[2] = { -1, -1 }, mounts = 1;
	char map[64], ok = 0;

	sb->userns = 0;
	sb->init = 0;
	if (uid == 0 && nftw(work, replay_chown_one, 16, FTW_PHYS) != 0) {
		snprintf(why, cap, "chown of the work directory to %d: %s",
		    REPLAY_UID, strerror(errno));
		return VIGIL_EUNSUPP;
	}
	if (uid != 0) {
		flags |= CLONE_NEWUSER;
		sb->userns = 1;
	}
	if (unshare(flags) != 0) {
		snprintf(why, cap, "unshare(user, mount, pid, ipc, net "
		    "namespaces): %s", strerror(errno));
		if (!allow_weak)
			return VIGIL_EUNSUPP;
		replay_weak(sb, why);
		return 0;
	}
	if (sb->userns) {
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid,
		    (unsigned)uid);
		if (replay_write_file("/proc/self/setgroups", "deny") != 0 ||
		    replay_write_file("/proc/self/uid_map", map) != 0)
			goto mapfail;
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid,
		    (unsigned)gid);
		if (replay_write_file("/proc/self/gid_map", map) != 0)
			goto mapfail;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount(work, work, NULL, MS_BIND, NULL) != 0 ||
	    mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) != 0 ||
	    mount_setattr(AT_FDCWD, work, 0, &rw, sizeof(rw)) != 0) {
		snprintf(why, cap, "read-only mount tree: %s", strerror(errno));
		if (!allow_weak)
			return VIGIL_EUNSUPP;
		replay_weak(sb, why);
		mounts = 0;
	}
	/* The first child is the PID namespace's init (pid 1). */
	if (pipe2(ready, O_CLOEXEC) != 0)
		return VIGIL_EIO;
	if ((sb->init = fork()) < 0) {
		close(ready[0]);
		close(ready[1]);
		snprintf(why, cap, "fork of the namespace's init: %s",
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	if (sb->init == 0) {
		close(ready[0]);
		replay_init(ready[1], mounts);
	}
	close(ready[1]);
	if (read(ready[0], &ok, 1) != 1)
		ok = 0;
	close(ready[0]);
	if (!ok && mounts) {
		snprintf(why, cap, "a fresh /proc for the PID namespace could "
		    "not be mounted");
		if (!allow_weak)
			return VIGIL_EUNSUPP;
		replay_weak(sb, why);
	}
	return 0;
 mapfail:
	snprintf(why, cap, "user namespace id maps: %s", strerror(errno));
	return VIGIL_EUNSUPP;
}

static void
replay_sandbox_leave(struct replay_sandbox *sb)
{
	if (sb->init > 0) {
		kill(sb->init, SIGKILL);
		while (waitpid(sb->init, NULL, 0) < 0 && errno == EINTR)
			;
		sb->init = 0;
	}
}

/* job.json, strictly. */
struct replay_jobfile {
	json_t *j;
	const char *exe;
	const char **argv;
	const char **env;
	uint64_t every;
	uint8_t c0[32];
	unsigned timeout_s;
	int allow_weak;
	size_t n_expected;
};

static int
replay_jobfile_read(const char *jobdir, struct replay_jobfile *jf,
    char *why, size_t cap)
{
	char path[PATH_MAX];
	uint8_t *data = NULL;
	const json_t *a, *en, *v;
	size_t len = 0, i;
	int e;

	memset(jf, 0, sizeof(*jf));
	snprintf(path, sizeof(path), "%s/job.json", jobdir);
	if ((e = file_read(path, REPLAY_JOB_MAX, &data, &len)) != 0) {
		snprintf(why, cap, "cannot read job.json");
		return e;
	}
	jf->j = json_loadb((const char *)data, len, 0, NULL);
	free(data);
	a = json_object_get(jf->j, "argv");
	en = json_object_get(jf->j, "env");
	jf->exe = json_string_value(json_object_get(jf->j, "exe"));
	if (jf->j == NULL || jf->exe == NULL || jf->exe[0] == '/' ||
	    strstr(jf->exe, "..") != NULL || !json_is_array(a) ||
	    json_array_size(a) == 0 ||
	    !json_is_array(en) || !replay_parse_digest(jf->j, "c0", jf->c0) ||
	    !json_is_integer(json_object_get(jf->j, "expected")) ||
	    json_integer_value(json_object_get(jf->j, "expected")) < 0 ||
	    json_integer_value(json_object_get(jf->j, "expected")) >
	    REPLAY_MAX_EXPECTED) {
		snprintf(why, cap, "job.json is malformed");
		return VIGIL_EINVAL;
	}
	jf->argv = calloc(json_array_size(a) + 1, sizeof(char *));
	jf->env = calloc(json_array_size(en) + 1, sizeof(char *));
	if (jf->argv == NULL || jf->env == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(a, i, v)
		if ((jf->argv[i] = json_string_value(v)) == NULL)
			goto bad;
	json_array_foreach(en, i, v)
		if ((jf->env[i] = json_string_value(v)) == NULL)
			goto bad;
	jf->every = (uint64_t)json_integer_value(json_object_get(jf->j,
	    "every_bytes"));
	jf->timeout_s = (unsigned)json_integer_value(json_object_get(jf->j,
	    "timeout_s"));
	jf->allow_weak = json_is_true(json_object_get(jf->j, "allow_weak"));
	jf->n_expected = (size_t)json_integer_value(json_object_get(jf->j,
	    "expected"));
	if (jf->timeout_s == 0 || jf->timeout_s > 86400)
		jf->timeout_s = REPLAY_DEFAULT_TIMEOUT;
	return 0;
 bad:
	snprintf(why, cap, "job.json: argv and env must be strings");
	return VIGIL_EINVAL;
}

static void
replay_jobfile_free(struct replay_jobfile *jf)
{
	free(jf->argv);
	free(jf->env);
	json_decref(jf->j);
}

static void
replay_print_result(const struct replay_outcome *o)
{
	json_t *j;
	char *div = NULL, *s;

	replay_divergence_json(o, &div);
	j = json_pack("{s:s, s:I}", "status", o->status, "compared",
	    (json_int_t)o->compared);
	if (j == NULL)
		goto out;
	if (o->error[0] != '\0')
		json_object_set_new(j, "error", json_string(o->error));
	if (o->weak[0] != '\0')
		json_object_set_new(j, "weak", json_string(o->weak));
	if (div != NULL)
		json_object_set_new(j, "divergence", json_loads(div, 0, NULL));
	if ((s = json_dumps(j, JSON_COMPACT)) != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(s);
	}
	json_decref(j);
 out:
	free(div);
}

/* Runs the job in the sandbox that was entered; fills out. */
static void
replay_run_job(const char *root, const char *work,
    const struct replay_jobfile *jf,
    const uint8_t *exp, int drop_uid, scmp_filter_ctx seccomp,
    struct replay_outcome *out)
{
	struct ckpt_run_opts o;
	struct ckpt_result res;
	struct replay_work w;
	char exe[PATH_MAX];
	char *page;
	int e;

	memset(&w, 0, sizeof(w));
	if (snprintf(exe, sizeof(exe), "%s/%s", root, jf->exe) >=
	    (int)sizeof(exe)) {
		replay_error(out, "the executable's path is too long");
		return;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	w.expected = exp;
	w.n_expected = jf->n_expected;
	w.out = out;
	w.seccomp = seccomp;
	w.drop_uid = drop_uid;
	w.cpu_s = (rlim_t)jf->timeout_s + 5;
	if (page != MAP_FAILED) {
		page[0] = '\0';
		w.child_err = page;
		w.child_err_cap = 4096;
	}
	memset(&o, 0, sizeof(o));
	o.argv = (char *const *)jf->argv;
	o.envp = (char *const *)jf->env;
	o.cwd = work;
	o.every_bytes = jf->every;
	o.c0 = jf->c0;
	o.timeout_s = (int)jf->timeout_s;
	o.passthrough_fd = -1;
	o.on_checkpoint = replay_on_checkpoint;
	o.arg = &w;
	o.child_setup = replay_child_setup;
	e = ckpt_run_exec(exe, &o, &res);
	if (w.child_err != NULL && w.child_err[0] != '\0') {
		replay_error(out, "sandbox unavailable: %s", w.child_err);
		goto out;
	}
	if (e == 1 && out->have_div) {
		snprintf(out->status, sizeof(out->status), "diverged");
		goto out;
	}
	if (e != 0) {
		replay_error(out, "running the recipe failed: %s",
		    vigil_strerror(e));
		goto out;
	}
	if (res.timed_out) {
		replay_error(out, "timeout: the replay ran past %u s",
		    jf->timeout_s);
		goto out;
	}
	if (res.count < jf->n_expected) {
		/* The record goes on where the replay stopped. */
		out->have_div = out->have_expected = 1;
		out->have_actual = 0;
		out->div_index = res.count + 1;
		memcpy(out->exp_state, exp + res.count * 64, 32);
		memcpy(out->exp_cum, exp + res.count * 64 + 32, 32);
		snprintf(out->status, sizeof(out->status), "diverged");
		goto out;
	}
	snprintf(out->status, sizeof(out->status), "match");
 out:
	if (page != MAP_FAILED)
		munmap(page, 4096);
}

int
replay_worker_main(const char *jobdir)
{
	struct replay_outcome out;
	struct replay_jobfile jf;
	struct replay_sandbox sb;
	scmp_filter_ctx seccomp = NULL;
	char work[PATH_MAX], path[PATH_MAX], root[PATH_MAX], why[256];
	uint8_t *exp = NULL;
	size_t len = 0;
	int e;

	memset(&out, 0, sizeof(out));
	memset(&sb, 0, sizeof(sb));
	log_init("vigil-replay-worker", LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	why[0] = '\0';
	if (replay_jobfile_read(jobdir, &jf, why, sizeof(why)) != 0) {
		replay_error(&out, "%s", why);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/expected.bin", jobdir);
	if (file_read(path, jf.n_expected * 64, &exp, &len) != 0 ||
	    len != jf.n_expected * 64) {
		replay_error(&out, "expected.bin does not hold %zu checkpoints",
		    jf.n_expected);
		goto out;
	}
	if (snprintf(work, sizeof(work), "%s/work", jobdir) >=
	    (int)sizeof(work) || realpath(work, path) == NULL) {
		replay_error(&out, "the job has no work directory");
		goto out;
	}
	snprintf(work, sizeof(work), "%s", path);
	if (realpath(jobdir, root) == NULL) {
		replay_error(&out, "the job directory cannot be resolved");
		goto out;
	}
	if ((e = replay_seccomp(&seccomp, why, sizeof(why))) != 0) {
		if (!jf.allow_weak) {
			replay_error(&out, "sandbox unavailable: %s", why);
			goto out;
		}
		replay_weak(&sb, why);
	}
	if (replay_sandbox_enter(work, jf.allow_weak, &sb, why,
	    sizeof(why)) != 0) {
		replay_error(&out, "sandbox unavailable: %s", why);
		goto out;
	}
	if (sb.weak[0] != '\0')
		log_warn("replay: weak sandbox (allowed by the operator): %s",
		    sb.weak);
	replay_run_job(root, work, &jf, exp, getuid() == 0, seccomp, &out);
	snprintf(out.weak, sizeof(out.weak), "%s", sb.weak);
 out:
	replay_sandbox_leave(&sb);
	if (seccomp != NULL)
		seccomp_release(seccomp);
	replay_print_result(&out);
	free(exp);
	replay_jobfile_free(&jf);
	return 0;
}
