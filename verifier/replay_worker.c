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
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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
	int full_ids;		/* setgroups is allowed (not the weak map) */
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
	/* Inside the user namespace, REPLAY_UID: outside, nobody (or, in
	 * the weak map, the verifier's uid). */
	if ((w->full_ids && setgroups(0, NULL) != 0) ||
	    setresgid(REPLAY_UID, REPLAY_UID, REPLAY_UID) != 0 ||
	    setresuid(REPLAY_UID, REPLAY_UID, REPLAY_UID) != 0) {
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

/* ============================ the sandbox ============================ */

/* The replayed program's own root, built by the sandbox's leader in its
 * mount namespace (docs/computations.md "The sandbox"):
 *   /            a small tmpfs, read-only once built, owned by the ns root
 *   /usr         the host's /usr, read-only (interpreters and libraries)
 *   /bin /lib... the host's top-level links into /usr (or read-only binds)
 *   /etc/ld.so.cache  read-only, when the host has one
 *   /dev/{null,zero,full,random,urandom}  binds of the host's nodes
 *   /proc        a fresh proc of the replay's PID namespace
 *   /exe         the recipe's executable found through PATH (read-only)
 *   /work        a tmpfs with the job's work/ copied in, the program's cwd
 *   /tmp         a tmpfs
 * Nothing else of the host: no /etc, /var, /run, /home, no job directory. */
#define SANDBOX_ROOT "root"		/* under the job directory */
#define SANDBOX_TMPFS_WORK "size=1g,mode=0755"
#define SANDBOX_TMPFS_TMP "size=256m,mode=1777"

static const char *const sandbox_toplinks[] = { "bin", "sbin", "lib",
    "lib32", "lib64", "libx32" };
static const char *const sandbox_devs[] = { "null", "zero", "full",
    "random", "urandom" };

struct replay_sandbox {
	int full_ids;		/* the program's uid is not the verifier's */
	char weak[256];		/* parts that could not be had */
};

static void
replay_weak(struct replay_sandbox *sb, const char *what)
{
	size_t n = strlen(sb->weak);

	snprintf(sb->weak + n, sizeof(sb->weak) - n, "%s%s", n ? "; " : "",
	    what);
}

/* Whether this process may map other ids into a user namespace it owns:
 * root, or CAP_SETUID and CAP_SETGID in its effective set (the systemd
 * unit's AmbientCapabilities). */
static int
replay_can_map_ids(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (geteuid() == 0)
		return 1;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return 0;
	return (d[0].effective & (1u << CAP_SETUID)) != 0 &&
	    (d[0].effective & (1u << CAP_SETGID)) != 0;
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

/* The id maps of the leader's user namespace, written by the worker (in
 * the parent namespace, with CAP_SETUID/CAP_SETGID): the worker's own uid
 * is the namespace's root, and REPLAY_UID inside is REPLAY_UID outside,
 * an id that owns nothing of the verifier's. */
static int
replay_map_ids(pid_t leader, char *why, size_t cap)
{
	char path[64], map[96];

	snprintf(map, sizeof(map), "0 %u 1\n%u %u 1\n", (unsigned)getuid(),
	    REPLAY_UID, REPLAY_UID);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)leader);
	if (replay_write_file(path, map) != 0) {
		snprintf(why, cap, "writing the sandbox's uid map: %s",
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	snprintf(map, sizeof(map), "0 %u 1\n%u %u 1\n", (unsigned)getgid(),
	    REPLAY_UID, REPLAY_UID);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)leader);
	if (replay_write_file(path, map) != 0) {
		snprintf(why, cap, "writing the sandbox's gid map: %s",
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	return 0;
}

/* The weak fallback (allow_weak only): the leader maps its own ids to
 * REPLAY_UID, so the program runs as the verifier's uid outside. */
static int
replay_map_self(uid_t uid, gid_t gid)
{
	char map[64];

	snprintf(map, sizeof(map), "%u %u 1\n", REPLAY_UID, (unsigned)uid);
	if (replay_write_file("/proc/self/setgroups", "deny") != 0 ||
	    replay_write_file("/proc/self/uid_map", map) != 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", REPLAY_UID, (unsigned)gid);
	return replay_write_file("/proc/self/gid_map", map);
}

static int
replay_copy_fd(int from, int to)
{
	uint8_t b[65536];
	ssize_t n, w, off;

	for (;;) {
		n = read(from, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		for (off = 0; off < n; off += w) {
			w = write(to, b + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return -1;
		}
	}
}

/* nftw has no argument pointer: the copy's source and destination. */
static const char *copy_src, *copy_dst;
static uid_t copy_owner;

static int
replay_copy_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	char dst[PATH_MAX];
	const char *rel = path + strlen(copy_src);
	int in, out, r;

	(void)ftw;
	if (snprintf(dst, sizeof(dst), "%s%s", copy_dst, rel) >=
	    (int)sizeof(dst))
		return -1;
	if (flag == FTW_D) {
		if (rel[0] != '\0' && mkdir(dst, 0755) != 0)
			return -1;
		return lchown(dst, copy_owner, copy_owner);
	}
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return -1;	/* the job holds directories and files only */
	if ((in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    st->st_mode & 0755);
	r = out < 0 || replay_copy_fd(in, out) != 0 ||
	    fchown(out, copy_owner, copy_owner) != 0 ||
	    fchmod(out, st->st_mode & 0755) != 0 ? -1 : 0;
	close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int
replay_copy_tree(const char *src, const char *dst, uid_t owner)
{
	copy_src = src;
	copy_dst = dst;
	copy_owner = owner;
	return nftw(src, replay_copy_one, 16, FTW_PHYS);
}

static int
replay_bind_ro(const char *src, const char *dst, int is_dir)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY |
	    MOUNT_ATTR_NOSUID };
	int fd;

	if (is_dir) {
		if (mkdir(dst, 0755) != 0 && errno != EEXIST)
			return -1;
	} else {
		if ((fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
			return -1;
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
		return -1;
	return mount_setattr(AT_FDCWD, dst, AT_RECURSIVE, &ro, sizeof(ro));
}

/* Builds the program's root at root (see the table above); work and bin
 * are the job's directories. */
static int
replay_root_build(const char *root, const char *work, const char *bin,
    uid_t exe_owner, char *why, size_t cap)
{
	char p[PATH_MAX], q[PATH_MAX], link[PATH_MAX];
	struct stat st;
	ssize_t n;
	size_t i;
	int fd;

#define FAIL(what) do {							\
		if (snprintf(why, cap, "building the sandbox's root: %.64s: "	\
		    "%s", (what), strerror(errno)) < 0)			\
			why[0] = '\0';					\
		return VIGIL_EUNSUPP;					\
	} while (0)
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=4m,mode=0755") != 0)
		FAIL("tmpfs /");
	if (snprintf(p, sizeof(p), "%s/usr", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (replay_bind_ro("/usr", p, 1) != 0)
		FAIL("/usr");
	for (i = 0; i < sizeof(sandbox_toplinks) / sizeof(*sandbox_toplinks);
	    i++) {
		if (snprintf(q, sizeof(q), "/%s", sandbox_toplinks[i]) >= (int)sizeof(q))
		return VIGIL_ETOOBIG;
		if (snprintf(p, sizeof(p), "%s/%s", root, sandbox_toplinks[i]) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
		if (lstat(q, &st) != 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if ((n = readlink(q, link, sizeof(link) - 1)) <= 0)
				FAIL(q);
			link[n] = '\0';
			if (symlink(link, p) != 0)
				FAIL(q);
		} else if (S_ISDIR(st.st_mode) && replay_bind_ro(q, p, 1) != 0)
			FAIL(q);
	}
	if (snprintf(p, sizeof(p), "%s/etc", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (mkdir(p, 0755) != 0)
		FAIL("/etc");
	if (snprintf(p, sizeof(p), "%s/etc/ld.so.cache", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (access("/etc/ld.so.cache", R_OK) == 0 &&
	    replay_bind_ro("/etc/ld.so.cache", p, 0) != 0)
		FAIL("/etc/ld.so.cache");
	if (snprintf(p, sizeof(p), "%s/dev", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (mkdir(p, 0755) != 0)
		FAIL("/dev");
	for (i = 0; i < sizeof(sandbox_devs) / sizeof(*sandbox_devs); i++) {
		if (snprintf(q, sizeof(q), "/dev/%s", sandbox_devs[i]) >= (int)sizeof(q))
		return VIGIL_ETOOBIG;
		if (snprintf(p, sizeof(p), "%s/dev/%s", root, sandbox_devs[i]) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
		if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
			FAIL(q);
		close(fd);
		if (mount(q, p, NULL, MS_BIND, NULL) != 0)
			FAIL(q);
	}
	if (snprintf(p, sizeof(p), "%s/proc", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (mkdir(p, 0555) != 0)
		FAIL("/proc");
	if (snprintf(p, sizeof(p), "%s/exe", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (mkdir(p, 0755) != 0 || replay_copy_tree(bin, p, exe_owner) != 0)
		FAIL("/exe");
	if (snprintf(p, sizeof(p), "%s/work", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (mkdir(p, 0755) != 0 || mount("tmpfs", p, "tmpfs", MS_NOSUID |
	    MS_NODEV, SANDBOX_TMPFS_WORK) != 0 ||
	    replay_copy_tree(work, p, REPLAY_UID) != 0)
		FAIL("/work");
	if (snprintf(p, sizeof(p), "%s/tmp", root) >= (int)sizeof(p))
		return VIGIL_ETOOBIG;
	if (mkdir(p, 01777) != 0 || mount("tmpfs", p, "tmpfs", MS_NOSUID |
	    MS_NODEV, SANDBOX_TMPFS_TMP) != 0)
		FAIL("/tmp");
	/* The root itself read-only from here on (its mounts stay as set). */
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
	    MS_NOSUID | MS_NODEV, NULL) != 0)
		FAIL("remounting / read-only");
#undef FAIL
	return 0;
}

/* The PID namespace's init: mounts a fresh /proc at proc (in the new
 * root, before the pivot: a user namespace may mount proc only while
 * another proc is visible), says so on ready_w, then reaps orphans.
 * Not dumpable: the program cannot read its memory or environment. */
static void __attribute__((noreturn))
replay_init(int ready_w, const char *proc)
{
	char ok = 1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);
	clearenv();
	if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC |
	    MS_RDONLY, NULL) != 0)
		ok = 0;
	if (write(ready_w, &ok, 1) != 1)
		_exit(1);
	close(ready_w);
	for (;;)
		if (wait(NULL) < 0 && errno == ECHILD)
			pause();
}

/* In the leader, in its new namespaces: the root, the init, the pivot.
 * On return the leader's root and cwd are the program's root. */
static int
replay_sandbox_enter(const char *jobdir, int full_ids, pid_t *init, char *why,
    size_t cap)
{
	char root[PATH_MAX], work[PATH_MAX], bin[PATH_MAX], proc[PATH_MAX];
	int ready[2] = { -1, -1 }, e;
	char ok = 0;

	*init = 0;
	if (snprintf(root, sizeof(root), "%s/%s", jobdir, SANDBOX_ROOT) >= (int)sizeof(root))
		return VIGIL_ETOOBIG;
	if (snprintf(work, sizeof(work), "%s/work", jobdir) >= (int)sizeof(work))
		return VIGIL_ETOOBIG;
	if (snprintf(bin, sizeof(bin), "%s/bin", jobdir) >= (int)sizeof(bin))
		return VIGIL_ETOOBIG;
	if (snprintf(proc, sizeof(proc), "%s/proc", root) >= (int)sizeof(proc))
		return VIGIL_ETOOBIG;
	/* The root's modes as written below (the worker's umask is 077). */
	umask(022);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(why, cap, "making the mount tree private: %s",
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	if ((mkdir(root, 0700) != 0 && errno != EEXIST) ||
	    (e = replay_root_build(root, work, bin, full_ids ? 0 : REPLAY_UID,
	    why, cap)) != 0) {
		if (why[0] == '\0')
			if (snprintf(why, cap, "mkdir of the sandbox's root: "
			    "%s", strerror(errno)) < 0)
				why[0] = '\0';
		return VIGIL_EUNSUPP;
	}
	/* The first child is the PID namespace's init (pid 1). */
	if (pipe2(ready, O_CLOEXEC) != 0)
		return VIGIL_EIO;
	if ((*init = fork()) < 0) {
		close(ready[0]);
		close(ready[1]);
		snprintf(why, cap, "fork of the namespace's init: %s",
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	if (*init == 0) {
		close(ready[0]);
		replay_init(ready[1], proc);
	}
	close(ready[1]);
	if (read(ready[0], &ok, 1) != 1)
		ok = 0;
	close(ready[0]);
	if (!ok) {
		snprintf(why, cap, "a fresh /proc for the PID namespace could "
		    "not be mounted");
		return VIGIL_EUNSUPP;
	}
	/* pivot_root(".", "."): the old root ends up on top, detached. */
	if (chdir(root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
	    umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
		if (snprintf(why, cap, "pivot_root into the sandbox's root: "
		    "%s", strerror(errno)) < 0)
			why[0] = '\0';
		return VIGIL_EUNSUPP;
	}
	return 0;
}

static void
replay_init_stop(pid_t init)
{
	if (init > 0) {
		kill(init, SIGKILL);
		while (waitpid(init, NULL, 0) < 0 && errno == EINTR)
			;
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
replay_run_job(const struct replay_jobfile *jf, const uint8_t *exp,
    int full_ids, scmp_filter_ctx seccomp, struct replay_outcome *out)
{
	struct ckpt_run_opts o;
	struct ckpt_result res;
	struct replay_work w;
	char exe[PATH_MAX];
	char *page;
	int e;

	memset(&w, 0, sizeof(w));
	/* job.json names it in the job directory: bin/NAME is /exe/NAME
	 * in the sandbox, work/PATH is /work/PATH. */
	if (strncmp(jf->exe, "bin/", 4) == 0)
		e = snprintf(exe, sizeof(exe), "/exe/%s", jf->exe + 4);
	else if (strncmp(jf->exe, "work/", 5) == 0)
		e = snprintf(exe, sizeof(exe), "/work/%s", jf->exe + 5);
	else {
		replay_error(out, "job.json: the executable is neither in bin/ "
		    "nor in work/");
		return;
	}
	if (e >= (int)sizeof(exe)) {
		replay_error(out, "the executable's path is too long");
		return;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	w.expected = exp;
	w.n_expected = jf->n_expected;
	w.out = out;
	w.seccomp = seccomp;
	w.full_ids = full_ids;
	w.cpu_s = (rlim_t)jf->timeout_s + 5;
	if (page != MAP_FAILED) {
		page[0] = '\0';
		w.child_err = page;
		w.child_err_cap = 4096;
	}
	memset(&o, 0, sizeof(o));
	o.argv = (char *const *)jf->argv;
	o.envp = (char *const *)jf->env;
	o.cwd = "/work";
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

/* The sandbox's leader: a child of the worker that enters the
 * namespaces, builds the root and runs the job; its outcome goes to the
 * shared page out. sync: [0] read from the worker, [1] write to it. */
static void __attribute__((noreturn))
replay_leader(const char *jobdir, const struct replay_jobfile *jf,
    const uint8_t *exp, int full_ids, scmp_filter_ctx seccomp,
    int to_w, int from_w, struct replay_outcome *out)
{
	char why[256], c = 0;
	uid_t uid = getuid();
	gid_t gid = getgid();
	pid_t init = 0;

	why[0] = '\0';
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID |
	    CLONE_NEWIPC | CLONE_NEWNET) != 0) {
		replay_error(out, "sandbox unavailable: unshare(user, mount, "
		    "pid, ipc, net namespaces): %s", strerror(errno));
		_exit(0);
	}
	if (full_ids) {
		/* The worker writes our maps from outside. */
		if (write(to_w, "u", 1) != 1 || read(from_w, &c, 1) != 1 ||
		    c != 'm')
			_exit(0);	/* the worker says why */
	} else if (replay_map_self(uid, gid) != 0) {
		replay_error(out, "sandbox unavailable: user namespace id "
		    "maps: %s", strerror(errno));
		_exit(0);
	}
	if (replay_sandbox_enter(jobdir, full_ids, &init, why,
	    sizeof(why)) != 0) {
		replay_init_stop(init);
		replay_error(out, "sandbox unavailable: %s", why);
		_exit(0);
	}
	replay_run_job(jf, exp, full_ids, seccomp, out);
	replay_init_stop(init);
	_exit(0);
}

/* Runs the leader and waits for it; the outcome is in out. */
static void
replay_sandboxed(const char *jobdir, const struct replay_jobfile *jf,
    const uint8_t *exp, int full_ids, scmp_filter_ctx seccomp,
    struct replay_outcome *out)
{
	struct replay_outcome *shared;
	int up[2] = { -1, -1 }, down[2] = { -1, -1 }, st = 0;
	char why[256], c = 0;
	pid_t leader;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || pipe2(up, O_CLOEXEC) != 0 ||
	    pipe2(down, O_CLOEXEC) != 0) {
		replay_error(out, "the worker cannot set up its sandbox: %s",
		    strerror(errno));
		goto out;
	}
	memset(shared, 0, sizeof(*shared));
	if ((leader = fork()) < 0) {
		replay_error(out, "fork of the sandbox's leader: %s",
		    strerror(errno));
		goto out;
	}
	if (leader == 0) {
		close(up[0]);
		close(down[1]);
		replay_leader(jobdir, jf, exp, full_ids, seccomp, up[1],
		    down[0], shared);
	}
	close(up[1]);
	close(down[0]);
	up[1] = down[0] = -1;
	if (full_ids && read(up[0], &c, 1) == 1 && c == 'u') {
		if (replay_map_ids(leader, why, sizeof(why)) == 0)
			c = write(down[1], "m", 1) == 1 ? 'm' : 0;
		else
			replay_error(shared, "sandbox unavailable: %s", why);
	}
	close(down[1]);
	down[1] = -1;
	while (waitpid(leader, &st, 0) < 0 && errno == EINTR)
		;
	*out = *shared;
	if (out->status[0] == '\0')
		replay_error(out, "the sandbox's leader ended without a "
		    "result (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) :
		    128 + WTERMSIG(st));
 out:
	if (shared != MAP_FAILED)
		munmap(shared, sizeof(*shared));
	if (up[0] >= 0)
		close(up[0]);
	if (up[1] >= 0)
		close(up[1]);
	if (down[0] >= 0)
		close(down[0]);
	if (down[1] >= 0)
		close(down[1]);
}

int
replay_worker_main(const char *jobdir)
{
	struct replay_outcome out;
	struct replay_jobfile jf;
	struct replay_sandbox sb;
	scmp_filter_ctx seccomp = NULL;
	char path[PATH_MAX], root[PATH_MAX], why[256];
	uint8_t *exp = NULL, d[32];
	unsigned int dl = 0;
	size_t len = 0;
	int e;

	memset(&out, 0, sizeof(out));
	memset(&sb, 0, sizeof(sb));
	log_init("vigil-replay-worker", LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	umask(077);
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
	if (realpath(jobdir, root) == NULL) {
		replay_error(&out, "the job directory cannot be resolved");
		goto out;
	}
	if (getuid() == REPLAY_UID || getgid() == REPLAY_UID) {
		replay_error(&out, "sandbox unavailable: the verifier runs as "
		    "uid or gid %u, the id the replayed program runs as; run "
		    "the verifier as another user", REPLAY_UID);
		goto out;
	}
	sb.full_ids = replay_can_map_ids();
	if (!sb.full_ids) {
		snprintf(why, sizeof(why), "the verifier runs as uid %u "
		    "without CAP_SETUID and CAP_SETGID, so the replayed "
		    "program could only run as the verifier's own uid (run "
		    "the verifier as root, or give it both capabilities as "
		    "deploy/systemd/vigil-verifier.service does)",
		    (unsigned)getuid());
		if (!jf.allow_weak) {
			replay_error(&out, "sandbox unavailable: %s", why);
			goto out;
		}
		replay_weak(&sb, why);
	}
	if ((e = replay_seccomp(&seccomp, why, sizeof(why))) != 0) {
		if (!jf.allow_weak) {
			replay_error(&out, "sandbox unavailable: %s", why);
			goto out;
		}
		replay_weak(&sb, why);
	}
	if (sb.weak[0] != '\0')
		log_warn("replay: weak sandbox (allowed by the operator): %s",
		    sb.weak);
	/* OpenSSL loads its configuration on first use: before the pivot. */
	EVP_Digest("", 0, d, &dl, EVP_sha256(), NULL);
	replay_sandboxed(root, &jf, exp, sb.full_ids, seccomp, &out);
	snprintf(out.weak, sizeof(out.weak), "%s", sb.weak);
 out:
	if (seccomp != NULL)
		seccomp_release(seccomp);
	replay_print_result(&out);
	free(exp);
	replay_jobfile_free(&jf);
	return 0;
}
