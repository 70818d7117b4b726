/* Checkpoints of repeatable computations: the digests of ckpt.h and the one
 * runner shared by `vigil record` and the verifier's replay workers.
 *
 * Boundary rules (the same in every run, see docs/record.md):
 *   - every_bytes N > 0: a checkpoint at every total stdout byte count that
 *     is a multiple of N (absolute positions, independent of markers); a
 *     read that crosses a boundary is split there.
 *   - each marker byte on the checkpoint socket cuts one checkpoint after
 *     all stdout written before it is hashed (the stdout pipe is drained
 *     until it would block), even when no output came since the last one;
 *     then the one-byte answer is sent.
 *   - at the end (both stdout and the checkpoint socket at EOF), one final
 *     checkpoint if output followed the last checkpoint or none was cut.
 *     A run that timed out or was stopped by on_checkpoint gets none.
 * The child: its own process group, stdin /dev/null, stdout the pipe,
 * stderr inherited, the checkpoint socket at CKPT_CHILD_FD, every other
 * descriptor closed, SIGPIPE default; child_setup runs before chdir(cwd)
 * and execve. */
#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "log.h"

#define CKPT_CHILD_FD 3
#define CKPT_ENV "VIGIL_CHECKPOINT_FD="
#define CKPT_ENV_SET "VIGIL_CHECKPOINT_FD=3"
#define CKPT_READ_MAX (256 * 1024)
#define CKPT_PIPE_SIZE (1024 * 1024)	/* asked for; the kernel may give less */

/* One SHA-256 over a list of byte strings; aborts only if OpenSSL cannot
 * compute SHA-256 at all (the void API of ckpt.h has no error path, and a
 * zero digest would be a silent wrong answer). */
struct ckpt_part {
	const void *p;
	size_t len;
};

static void
ckpt_sha256(const struct ckpt_part *parts, size_t n, uint8_t out[CKPT_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	size_t i;
	int ok;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == CKPT_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		log_err("ckpt: SHA-256 unavailable (EVP_Digest* failed)");
		abort();
	}
}

void
ckpt_c0(const uint8_t recipe_digest[CKPT_LEN], uint8_t c0[CKPT_LEN])
{
	struct ckpt_part parts[] = {
		{ "vigil-recipe", 12 },
		{ recipe_digest, CKPT_LEN },
	};

	ckpt_sha256(parts, 2, c0);
}

void
ckpt_next(const uint8_t prev[CKPT_LEN], const uint8_t state[CKPT_LEN],
    uint8_t out[CKPT_LEN])
{
	uint8_t tmp[CKPT_LEN];
	struct ckpt_part parts[] = {
		{ prev, CKPT_LEN },
		{ state, CKPT_LEN },
	};

	/* out may alias prev. */
	ckpt_sha256(parts, 2, tmp);
	memcpy(out, tmp, CKPT_LEN);
}

void
ckpt_commitment(const char *computation_id, uint64_t index,
    const uint8_t state[CKPT_LEN], const uint8_t c[CKPT_LEN],
    uint8_t out[CKPT_LEN])
{
	uint8_t be[8];
	int i;

	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(index >> (56 - 8 * i));
	struct ckpt_part parts[] = {
		{ "vigil-ckpt", 10 },
		{ computation_id, strlen(computation_id) },
		{ be, 8 },
		{ state, CKPT_LEN },
		{ c, CKPT_LEN },
	};
	ckpt_sha256(parts, 5, out);
}

/* The running state of one run. */
struct ckpt_run {
	const struct ckpt_run_opts *o;
	struct ckpt_result *res;
	EVP_MD_CTX *md;
	uint8_t cum[CKPT_LEN];
	uint64_t bytes_at_cut;	/* res->bytes at the last checkpoint */
	int passthrough_ok;
	int out_fd, ck_fd;
};

/* Cuts checkpoint res->count + 1 over the output hashed so far. */
static int
ckpt_cut(struct ckpt_run *s)
{
	EVP_MD_CTX *copy = EVP_MD_CTX_new();
	uint8_t state[CKPT_LEN];
	unsigned int len = 0;
	int r = 0;

	if (copy == NULL)
		return VIGIL_ENOMEM;
	if (EVP_MD_CTX_copy_ex(copy, s->md) != 1 ||
	    EVP_DigestFinal_ex(copy, state, &len) != 1 || len != CKPT_LEN) {
		log_err("ckpt: EVP_MD_CTX_copy_ex/EVP_DigestFinal_ex failed");
		r = VIGIL_ECRYPTO;
		goto out;
	}
	ckpt_next(s->cum, state, s->cum);
	s->res->count++;
	s->bytes_at_cut = s->res->bytes;
	memcpy(s->res->final, s->cum, CKPT_LEN);
	if (s->o->on_checkpoint != NULL)
		r = s->o->on_checkpoint(s->o->arg, s->res->count, state,
		    s->cum);
 out:
	EVP_MD_CTX_free(copy);
	return r;
}

static void
ckpt_passthrough(struct ckpt_run *s, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (s->passthrough_ok && n > 0) {
		w = write(s->o->passthrough_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("ckpt: passthrough write failed (%s); output "
			    "is still hashed but no longer copied",
			    w < 0 ? strerror(errno) : "short write");
			s->passthrough_ok = 0;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Hashes n bytes of output, cutting at every multiple of every_bytes. */
static int
ckpt_feed(struct ckpt_run *s, const uint8_t *p, size_t n)
{
	uint64_t every = s->o->every_bytes, room;
	size_t take;
	int r;

	ckpt_passthrough(s, p, n);
	while (n > 0) {
		take = n;
		if (every > 0) {
			room = every - s->res->bytes % every;
			if (room < take)
				take = (size_t)room;
		}
		if (EVP_DigestUpdate(s->md, p, take) != 1) {
			log_err("ckpt: EVP_DigestUpdate failed");
			return VIGIL_ECRYPTO;
		}
		s->res->bytes += take;
		p += take;
		n -= take;
		if (every > 0 && s->res->bytes % every == 0 &&
		    (r = ckpt_cut(s)) != 0)
			return r;
	}
	return 0;
}

/* Reads stdout once (drain == 0) or until it would block (drain != 0).
 * Closes out_fd and sets it to -1 at EOF. */
static int
ckpt_read_out(struct ckpt_run *s, int drain)
{
	uint8_t buf[CKPT_READ_MAX];
	ssize_t n;
	int r;

	while (s->out_fd >= 0) {
		n = read(s->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			log_err("ckpt: read of the command's stdout failed: %s",
			    strerror(errno));
			return VIGIL_EIO;
		}
		if (n == 0) {
			close(s->out_fd);
			s->out_fd = -1;
			return 0;
		}
		if ((r = ckpt_feed(s, buf, (size_t)n)) != 0)
			return r;
		if (!drain)
			return 0;
	}
	return 0;
}

/* Answers the markers waiting on the checkpoint socket. */
static int
ckpt_read_markers(struct ckpt_run *s)
{
	uint8_t buf[64], ack = '\n';
	ssize_t n, i;
	int r;

	n = recv(s->ck_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		/* EOF, or the child reset it: no more markers. */
		close(s->ck_fd);
		s->ck_fd = -1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		/* Everything written before the marker is in the pipe. */
		if ((r = ckpt_read_out(s, 1)) != 0 || (r = ckpt_cut(s)) != 0)
			return r;
		if (send(s->ck_fd, &ack, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
			log_warn("ckpt: marker answer not delivered: %s",
			    strerror(errno));
	}
	return 0;
}

static int64_t
ckpt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A copy of envp without any VIGIL_CHECKPOINT_FD and with ours added. */
static int
ckpt_envp(char *const *envp, char ***out)
{
	size_t n = 0, i, j = 0;
	char **e;

	while (envp[n] != NULL)
		n++;
	if ((e = calloc(n + 2, sizeof(*e))) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < n; i++)
		if (strncmp(envp[i], CKPT_ENV, strlen(CKPT_ENV)) != 0)
			e[j++] = envp[i];
	e[j++] = (char *)CKPT_ENV_SET;
	e[j] = NULL;
	*out = e;
	return 0;
}

/* In the child; max (the descriptor limit) was read before fork, since
 * sysconf is not async-signal-safe. */
static void
ckpt_close_from(int lowfd, int max)
{
	int fd;

	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return;
	for (fd = lowfd; fd < max; fd++)
		close(fd);
}

/* In the child: only async-signal-safe calls until execve. */
static void __attribute__((noreturn))
ckpt_child(const char *path, const struct ckpt_run_opts *o, char **envp,
    int out_w, int ck_c, int fd_max)
{
	sigset_t all;
	int o2, c2, nul;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Move both above the target numbers so dup2 never collides. nul
	 * has no O_CLOEXEC: if it is 0 itself (stdin was closed), dup2 is a
	 * no-op and it must stay open; elsewhere it is closed below. */
	if ((o2 = fcntl(out_w, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (c2 = fcntl(ck_c, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (nul = open("/dev/null", O_RDONLY)) < 0)
		_exit(127);
	if (dup2(nul, 0) < 0 || dup2(o2, 1) < 0 ||
	    dup2(c2, CKPT_CHILD_FD) < 0)
		_exit(127);
	ckpt_close_from(CKPT_CHILD_FD + 1, fd_max);
	if (o->child_setup != NULL && o->child_setup(o->arg) != 0)
		_exit(127);
	if (o->cwd != NULL && chdir(o->cwd) != 0)
		_exit(127);
	execve(path, o->argv, envp);
	_exit(127);
}

/* Waits for the child; with a deadline, kills its group when it passes. */
static int
ckpt_wait(pid_t pid, int64_t deadline, struct ckpt_result *res)
{
	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
	pid_t w;
	int st;

	for (;;) {
		w = waitpid(pid, &st, deadline > 0 ? WNOHANG : 0);
		if (w == pid) {
			res->exit_status = st;
			return 0;
		}
		if (w < 0 && errno != EINTR) {
			log_err("ckpt: waitpid failed: %s", strerror(errno));
			return VIGIL_EIO;
		}
		if (deadline > 0 && ckpt_now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			res->timed_out = 1;
			deadline = 0;
			continue;
		}
		if (w == 0)
			nanosleep(&ten_ms, NULL);
	}
}

/* The poll loop until stdout and the checkpoint socket are both at EOF. */
static int
ckpt_loop(struct ckpt_run *s, int64_t deadline)
{
	struct pollfd pf[2];
	int n, timeout, r;

	while (s->out_fd >= 0 || s->ck_fd >= 0) {
		timeout = -1;
		if (deadline > 0) {
			int64_t left = deadline - ckpt_now_ms();
			if (left <= 0) {
				s->res->timed_out = 1;
				return 0;
			}
			timeout = left > 60000 ? 60000 : (int)left;
		}
		pf[0].fd = s->out_fd;	/* negative fds are ignored */
		pf[0].events = POLLIN;
		pf[0].revents = 0;
		pf[1].fd = s->ck_fd;
		pf[1].events = POLLIN;
		pf[1].revents = 0;
		n = poll(pf, 2, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("ckpt: poll failed: %s", strerror(errno));
			return VIGIL_EIO;
		}
		if (pf[1].revents != 0 && (r = ckpt_read_markers(s)) != 0)
			return r;
		if (pf[0].revents != 0 && s->out_fd >= 0 &&
		    (r = ckpt_read_out(s, 0)) != 0)
			return r;
	}
	return 0;
}

int
ckpt_run(const struct ckpt_run_opts *o, struct ckpt_result *res)
{
	if (o == NULL || o->argv == NULL)
		return ckpt_run_exec(NULL, o, res);
	return ckpt_run_exec(o->argv[0], o, res);
}

int
ckpt_run_exec(const char *path, const struct ckpt_run_opts *o,
    struct ckpt_result *res)
{
	struct ckpt_run s;
	char **envp = NULL;
	int outp[2] = { -1, -1 }, sv[2] = { -1, -1 }, r;
	int64_t deadline = 0;
	long fd_max = sysconf(_SC_OPEN_MAX);
	pid_t pid = -1;

	memset(&s, 0, sizeof(s));
	s.out_fd = s.ck_fd = -1;
	if (path == NULL || o == NULL || res == NULL || o->argv == NULL ||
	    o->argv[0] == NULL || o->envp == NULL || o->c0 == NULL ||
	    o->timeout_s < 0) {
		log_err("ckpt: run options incomplete (path, argv, envp, c0 "
		    "needed)");
		return VIGIL_EINVAL;
	}
	memset(res, 0, sizeof(*res));
	memcpy(s.cum, o->c0, CKPT_LEN);
	memcpy(res->final, o->c0, CKPT_LEN);
	s.o = o;
	s.res = res;
	s.passthrough_ok = o->passthrough_fd >= 0;
	if ((r = ckpt_envp(o->envp, &envp)) != 0)
		goto out;
	if ((s.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
		log_err("ckpt: EVP_DigestInit_ex failed");
		r = VIGIL_ECRYPTO;
		goto out;
	}
	if (pipe2(outp, O_CLOEXEC) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_err("ckpt: pipe2/socketpair failed: %s", strerror(errno));
		r = VIGIL_EIO;
		goto out;
	}
	/* A larger pipe means fewer wake-ups of the writer and of us; a
	 * refusal (pipe-max-size) only costs speed. */
	(void)fcntl(outp[0], F_SETPIPE_SZ, CKPT_PIPE_SIZE);
	if (o->timeout_s > 0)
		deadline = ckpt_now_ms() + (int64_t)o->timeout_s * 1000;
	if ((pid = fork()) < 0) {
		log_err("ckpt: fork failed: %s", strerror(errno));
		r = VIGIL_EIO;
		goto out;
	}
	if (pid == 0)
		ckpt_child(path, o, envp, outp[1], sv[1],
		    fd_max < 0 || fd_max > 65536 ? 65536 : (int)fd_max);
	setpgid(pid, pid);	/* also here: no race with kill(-pid) */
	close(outp[1]);
	close(sv[1]);
	outp[1] = sv[1] = -1;
	s.out_fd = outp[0];
	s.ck_fd = sv[0];
	outp[0] = sv[0] = -1;
	if (fcntl(s.out_fd, F_SETFL, O_NONBLOCK) != 0) {
		log_err("ckpt: fcntl O_NONBLOCK failed: %s", strerror(errno));
		r = VIGIL_EIO;
		goto out;
	}
	r = ckpt_loop(&s, deadline);
	if (r == 0 && !res->timed_out &&
	    (res->bytes > s.bytes_at_cut || res->count == 0))
		r = ckpt_cut(&s);
 out:
	if (s.out_fd >= 0)
		close(s.out_fd);
	if (s.ck_fd >= 0)
		close(s.ck_fd);
	if (pid > 0) {
		int wr;

		if (r != 0 || res->timed_out)
			kill(-pid, SIGKILL);
		if ((wr = ckpt_wait(pid, r != 0 ? 0 : deadline, res)) != 0 &&
		    r == 0)
			r = wr;
		if (res->timed_out)
			log_warn("ckpt: command timed out after %d s, killed",
			    o->timeout_s);
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (sv[i] >= 0)
			close(sv[i]);
	}
	EVP_MD_CTX_free(s.md);
	free(envp);
	return r;
}
