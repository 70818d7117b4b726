/* The local socket server: one thread polling the listening socket, a stop
 * pipe and up to LOCALSOCK_MAX_CONNS non-blocking client connections. Each
 * connection is bounded in time (LOCALSOCK_TIMEOUT_MS per frame,
 * LOCALSOCK_CONN_MAX_MS in all), so silent or slow clients cannot hold the
 * socket. Replies are small and written at once; a client that does not
 * read them is dropped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "localsock.h"
#include "log.h"
#include "rd.h"
#include "vigil.pb-c.h"
#include "valid.h"

#define LOCALSOCK_MAX_ALLOW 64
#define LOCALSOCK_MAX_CONNS 32

struct localsock {
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uid_t allow[LOCALSOCK_MAX_ALLOW];
	size_t n_allow;
	localsock_status_fn status_fn;
	void *arg;
	pthread_mutex_t ckpt_mu;	/* guards ckpt_fn, ckpt_arg */
	localsock_ckpt_fn ckpt_fn;
	void *ckpt_arg;
};

static int64_t
localsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
localsock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return VIGIL_EINVAL;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Reads exactly n bytes before deadline (monotonic ms). VIGIL_ETRUNC on
 * EOF (*got says how much came), VIGIL_ESTALE on timeout. */
static int
localsock_read_full(int fd, uint8_t *p, size_t n, int64_t deadline,
    size_t *got)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	int64_t left;
	ssize_t r;

	*got = 0;
	while (*got < n) {
		left = deadline - localsock_now_ms();
		if (left <= 0)
			return VIGIL_ESTALE;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return VIGIL_EIO;
		if (r == 0)
			return VIGIL_ESTALE;
		r = read(fd, p + *got, n - *got);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return VIGIL_EIO;
		if (r == 0)
			return VIGIL_ETRUNC;
		*got += (size_t)r;
	}
	return 0;
}

static int
localsock_write_full(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return VIGIL_EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Frames and sends a packed message. */
static int
localsock_send_frame(int fd, const uint8_t *msg, size_t len)
{
	struct buf b = BUF_INIT;
	int e;

	if (len > LOCALSOCK_MAX_FRAME)
		return VIGIL_ETOOBIG;
	if ((e = buf_add_u32be(&b, (uint32_t)len)) == 0 &&
	    (e = buf_add(&b, msg, len)) == 0)
		e = localsock_write_full(fd, b.data, b.len);
	buf_free(&b);
	return e;
}

static int
localsock_send_reply(int fd, const Vigil__LocalReply *rep)
{
	uint8_t out[LOCALSOCK_MAX_FRAME];
	size_t n;

	n = vigil__local_reply__get_packed_size(rep);
	if (n > sizeof(out))
		return VIGIL_ETOOBIG;
	vigil__local_reply__pack(rep, out);
	return localsock_send_frame(fd, out, n);
}

static int
localsock_send_error(int fd, int code, const char *msg)
{
	Vigil__LocalReply rep = VIGIL__LOCAL_REPLY__INIT;

	rep.code = code;
	rep.error = (char *)msg;
	return localsock_send_reply(fd, &rep);
}

static int
localsock_uid_allowed(const struct localsock *ls, uid_t uid)
{
	size_t i;

	for (i = 0; i < ls->n_allow; i++)
		if (ls->allow[i] == uid)
			return 1;
	return 0;
}

static int
localsock_op_status(struct localsock *ls, int fd)
{
	Vigil__LocalReply rep = VIGIL__LOCAL_REPLY__INIT;
	struct localsock_status st;
	int e;

	memset(&st, 0, sizeof(st));
	if ((e = ls->status_fn(ls->arg, &st)) != 0)
		return localsock_send_error(fd, e, vigil_strerror(e));
	st.agent_id[sizeof(st.agent_id) - 1] = '\0';
	st.status[sizeof(st.status) - 1] = '\0';
	rep.agent_id = st.agent_id;
	rep.status = st.status;
	rep.last_push_unix = st.last_push_unix;
	rep.spool_pending = st.spool_pending;
	rep.spool_epoch = st.spool_epoch;
	return localsock_send_reply(fd, &rep);
}

/* Validates a computation op into *out; msg gets the failed check. */
static int
localsock_ckpt_parse(const Vigil__LocalRequest *req, uid_t uid,
    struct localsock_ckpt *out, char *msg, size_t cap)
{
	const char *id = req->computation_id;

	memset(out, 0, sizeof(*out));
	out->end = req->op == VIGIL__LOCAL_REQUEST__OP__OP_COMPUTATION_END;
	if (id == NULL || !valid_lowerhex(id, 32)) {
		snprintf(msg, cap, "computation_id is not 32 lowercase hex "
		    "digits");
		goto bad;
	}
	memcpy(out->id, id, 33);
	if (req->cumulative.len != LOCALSOCK_CKPT_LEN) {
		snprintf(msg, cap, "cumulative is %zu bytes, not 32",
		    req->cumulative.len);
		goto bad;
	}
	memcpy(out->cum, req->cumulative.data, LOCALSOCK_CKPT_LEN);
	if (out->end) {
		if (req->state.len != 0 || req->index != 0) {
			snprintf(msg, cap, "computation end carries a state "
			    "or index");
			goto bad;
		}
		out->exit_status = req->exit_status;
		out->count = req->count;
		return 0;
	}
	if (req->index == 0) {
		snprintf(msg, cap, "checkpoint index is 0 (counts from 1)");
		goto bad;
	}
	if (req->state.len != LOCALSOCK_CKPT_LEN) {
		snprintf(msg, cap, "state is %zu bytes, not 32",
		    req->state.len);
		goto bad;
	}
	if (req->count != 0 || req->exit_status != 0) {
		snprintf(msg, cap, "checkpoint carries a count or exit status");
		goto bad;
	}
	out->index = req->index;
	memcpy(out->state, req->state.data, LOCALSOCK_CKPT_LEN);
	return 0;
 bad:
	log_warn("localsock: uid=%u op=%d refused: %s", (unsigned)uid,
	    (int)req->op, msg);
	return VIGIL_EINVAL;
}

static int
localsock_op_ckpt(struct localsock *ls, int fd, uid_t uid,
    const Vigil__LocalRequest *req)
{
	Vigil__LocalReply rep = VIGIL__LOCAL_REPLY__INIT;
	struct localsock_ckpt c;
	localsock_ckpt_fn fn;
	void *arg;
	char msg[96];
	int e;

	if ((e = localsock_ckpt_parse(req, uid, &c, msg, sizeof(msg))) != 0)
		return localsock_send_error(fd, e, msg);
	pthread_mutex_lock(&ls->ckpt_mu);
	fn = ls->ckpt_fn;
	arg = ls->ckpt_arg;
	pthread_mutex_unlock(&ls->ckpt_mu);
	if (fn == NULL)
		return localsock_send_error(fd, VIGIL_EUNSUPP,
		    "this agent does not record computations");
	if ((e = fn(arg, &c)) != 0) {
		log_warn("localsock: uid=%u computation=%s op=%d refused: %s",
		    (unsigned)uid, c.id, (int)req->op, vigil_strerror(e));
		return localsock_send_error(fd, e, e == VIGIL_ETOOBIG ?
		    "checkpoint queue full" : vigil_strerror(e));
	}
	return localsock_send_reply(fd, &rep);
}

/* One request: authorize by op, then dispatch. */
static int
localsock_dispatch(struct localsock *ls, int fd, uid_t uid,
    const uint8_t *p, size_t len)
{
	Vigil__LocalRequest *req;
	char msg[96];
	int e, op;

	if ((req = vigil__local_request__unpack(NULL, len, p)) == NULL) {
		log_warn("localsock: uid=%u sent a frame of %zu bytes that is "
		    "not a LocalRequest", (unsigned)uid, len);
		return localsock_send_error(fd, VIGIL_EINVAL,
		    "request is not a valid LocalRequest");
	}
	op = (int)req->op;
	if (op == VIGIL__LOCAL_REQUEST__OP__OP_STATUS) {
		/* Anyone may ask for the status. */
		e = localsock_op_status(ls, fd);
		goto out;
	}
	/* Every other op needs an allowed uid. */
	if (!localsock_uid_allowed(ls, uid)) {
		log_warn("localsock: uid=%u refused op=%d (not in "
		    "socket_allow_uids)", (unsigned)uid, op);
		e = localsock_send_error(fd, VIGIL_EDENIED,
		    "operation not allowed for this uid");
		goto out;
	}
	switch (op) {
	case VIGIL__LOCAL_REQUEST__OP__OP_CHECKPOINT:
	case VIGIL__LOCAL_REQUEST__OP__OP_COMPUTATION_END:
		e = localsock_op_ckpt(ls, fd, uid, req);
		break;
	default:
		log_warn("localsock: uid=%u sent unknown op=%d",
		    (unsigned)uid, op);
		snprintf(msg, sizeof(msg), "unknown op %d", op);
		e = localsock_send_error(fd, VIGIL_EUNSUPP, msg);
		break;
	}
 out:
	vigil__local_request__free_unpacked(req, NULL);
	return e;
}

/* One client connection: a frame is read in two parts, header then body,
 * without blocking; deadlines bound each frame and the connection. */
struct localsock_conn {
	int fd;
	uid_t uid;
	uint8_t hdr[4];
	size_t hdr_got;
	uint32_t len;
	uint8_t *body;		/* LOCALSOCK_MAX_FRAME bytes */
	size_t body_got;
	int64_t frame_deadline;
	int64_t conn_deadline;
};

static void
localsock_conn_close(struct localsock_conn *c)
{
	close(c->fd);
	free(c->body);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
localsock_conn_open(struct localsock_conn *c, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int64_t now = localsock_now_ms();

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    (c->body = malloc(LOCALSOCK_MAX_FRAME)) == NULL) {
		log_warn("localsock: SO_PEERCRED or allocation failed");
		localsock_conn_close(c);
		return;
	}
	c->uid = cred.uid;
	c->frame_deadline = now + LOCALSOCK_TIMEOUT_MS;
	c->conn_deadline = now + LOCALSOCK_CONN_MAX_MS;
}

/* Ends the connection with an error reply. */
static void
localsock_conn_fail(struct localsock_conn *c, int code, const char *msg)
{
	(void)localsock_send_error(c->fd, code, msg);
	localsock_conn_close(c);
}

static void
localsock_conn_timeout(struct localsock_conn *c, int64_t now)
{
	if (now < c->frame_deadline && now < c->conn_deadline)
		return;
	log_warn("localsock: uid=%u timed out (got header=%zu body=%zu of "
	    "len=%u)", (unsigned)c->uid, c->hdr_got, c->body_got,
	    c->hdr_got == 4 ? c->len : 0);
	localsock_conn_fail(c, VIGIL_ESTALE, "timed out waiting for a frame");
}

/* Reads what is there; dispatches a complete frame. */
static void
localsock_conn_read(struct localsock *ls, struct localsock_conn *c)
{
	struct rd r;
	ssize_t n;

	if (c->hdr_got < 4)
		n = read(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got);
	else
		n = read(c->fd, c->body + c->body_got, c->len - c->body_got);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		localsock_conn_close(c);
		return;
	}
	if (n == 0) {
		if (c->hdr_got == 0) {
			localsock_conn_close(c);	/* clean close */
			return;
		}
		log_warn("localsock: uid=%u truncated frame: header=%zu "
		    "body=%zu of len=%u", (unsigned)c->uid, c->hdr_got,
		    c->body_got, c->hdr_got == 4 ? c->len : 0);
		localsock_conn_fail(c, VIGIL_ETRUNC, "truncated frame");
		return;
	}
	if (c->hdr_got < 4) {
		c->hdr_got += (size_t)n;
		if (c->hdr_got < 4)
			return;
		rd_init(&r, c->hdr, sizeof(c->hdr));
		if (rd_u32be(&r, &c->len) != 0 || c->len > LOCALSOCK_MAX_FRAME) {
			log_warn("localsock: uid=%u frame length=%u over "
			    "max=%u", (unsigned)c->uid, c->len,
			    LOCALSOCK_MAX_FRAME);
			localsock_conn_fail(c, VIGIL_ETOOBIG,
			    "frame length over 65536 bytes");
			return;
		}
	} else
		c->body_got += (size_t)n;
	if (c->body_got < c->len)
		return;
	if (localsock_dispatch(ls, c->fd, c->uid, c->body, c->len) != 0) {
		localsock_conn_close(c);
		return;
	}
	c->hdr_got = c->body_got = 0;
	c->len = 0;
	c->frame_deadline = localsock_now_ms() + LOCALSOCK_TIMEOUT_MS;
}

static int
localsock_poll_timeout(const struct localsock_conn *conns, int64_t now)
{
	int64_t t = -1, d;
	size_t i;

	for (i = 0; i < LOCALSOCK_MAX_CONNS; i++) {
		if (conns[i].fd < 0)
			continue;
		d = conns[i].frame_deadline < conns[i].conn_deadline ?
		    conns[i].frame_deadline : conns[i].conn_deadline;
		d = d > now ? d - now : 0;
		if (t < 0 || d < t)
			t = d;
	}
	return (int)t;
}

static void *
localsock_thread(void *arg)
{
	struct localsock *ls = arg;
	struct localsock_conn conns[LOCALSOCK_MAX_CONNS];
	struct pollfd pfd[2 + LOCALSOCK_MAX_CONNS];
	size_t i, n, nconn, slot[LOCALSOCK_MAX_CONNS];
	int64_t now;
	int c;

	for (i = 0; i < LOCALSOCK_MAX_CONNS; i++)
		conns[i].fd = -1;
	for (;;) {
		pfd[0].fd = ls->stop_pipe[0];
		pfd[0].events = POLLIN;
		n = 1;
		nconn = 0;
		for (i = 0; i < LOCALSOCK_MAX_CONNS; i++) {
			if (conns[i].fd < 0)
				continue;
			pfd[n].fd = conns[i].fd;
			pfd[n].events = POLLIN;
			slot[nconn++] = i;
			n++;
		}
		/* When every slot is taken, new clients wait in the backlog. */
		pfd[n].fd = nconn < LOCALSOCK_MAX_CONNS ? ls->fd : -1;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		if (poll(pfd, n + 1, localsock_poll_timeout(conns,
		    localsock_now_ms())) < 0) {
			if (errno == EINTR)
				continue;
			log_err("localsock: poll failed: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents != 0)
			break;
		for (i = 0; i < nconn; i++)
			if (pfd[1 + i].revents != 0)
				localsock_conn_read(ls, &conns[slot[i]]);
		now = localsock_now_ms();
		for (i = 0; i < LOCALSOCK_MAX_CONNS; i++)
			if (conns[i].fd >= 0)
				localsock_conn_timeout(&conns[i], now);
		if (!(pfd[n].revents & POLLIN))
			continue;
		c = accept4(ls->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			continue;
		for (i = 0; i < LOCALSOCK_MAX_CONNS && conns[i].fd >= 0; i++)
			;
		if (i == LOCALSOCK_MAX_CONNS)
			close(c);
		else
			localsock_conn_open(&conns[i], c);
	}
	for (i = 0; i < LOCALSOCK_MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			localsock_conn_close(&conns[i]);
	return NULL;
}

/* Refuses to take over a socket some process still answers on. */
static int
localsock_clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, alive;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : VIGIL_EIO;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("localsock: path=%s exists and is not a socket", path);
		return VIGIL_EEXIST;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return VIGIL_EIO;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	if (alive) {
		log_err("localsock: path=%s: another process is listening "
		    "(agent already running?)", path);
		return VIGIL_EEXIST;
	}
	return unlink(path) == 0 ? 0 : VIGIL_EIO;
}

/* Creates the socket's directory (0755) if it is missing, e.g. /run/vigil. */
static int
localsock_make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		log_err("localsock: cannot create directory=%s: %s", dir,
		    strerror(errno));
		return VIGIL_EIO;
	}
	return 0;
}

int
localsock_start(const char *path, const uid_t *allow, size_t n_allow,
    localsock_status_fn status_fn, void *arg, struct localsock **out)
{
	struct localsock *ls;
	struct sockaddr_un sa;
	int e;

	if (n_allow > LOCALSOCK_MAX_ALLOW || localsock_addr(path, &sa) != 0)
		return VIGIL_EINVAL;
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return VIGIL_ENOMEM;
	ls->fd = ls->stop_pipe[0] = ls->stop_pipe[1] = -1;
	memcpy(ls->path, sa.sun_path, sizeof(ls->path));
	if (n_allow > 0)
		memcpy(ls->allow, allow, n_allow * sizeof(*allow));
	ls->n_allow = n_allow;
	ls->status_fn = status_fn;
	ls->arg = arg;
	pthread_mutex_init(&ls->ckpt_mu, NULL);
	if ((e = localsock_make_parent(path)) != 0 ||
	    (e = localsock_clear_stale(path, &sa)) != 0)
		goto fail;
	e = VIGIL_EIO;
	if (pipe2(ls->stop_pipe, O_CLOEXEC) != 0 ||
	    (ls->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0) {
		log_err("localsock: socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(ls->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_err("localsock: bind path=%s: %s", path, strerror(errno));
		goto fail;
	}
	/* Anyone may connect; each request is authorized by SO_PEERCRED. */
	if (chmod(path, 0666) != 0 || listen(ls->fd, 16) != 0) {
		log_err("localsock: chmod/listen path=%s: %s", path,
		    strerror(errno));
		unlink(path);
		goto fail;
	}
	if (pthread_create(&ls->thread, NULL, localsock_thread, ls) != 0) {
		log_err("localsock: pthread_create failed");
		unlink(path);
		goto fail;
	}
	log_info("localsock: listening path=%s", path);
	*out = ls;
	return 0;
 fail:
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->stop_pipe[0] >= 0) {
		close(ls->stop_pipe[0]);
		close(ls->stop_pipe[1]);
	}
	pthread_mutex_destroy(&ls->ckpt_mu);
	free(ls);
	return e;
}

void
localsock_stop(struct localsock *ls)
{
	if (ls == NULL)
		return;
	if (write(ls->stop_pipe[1], "x", 1) != 1)
		log_warn("localsock: cannot signal the server thread");
	pthread_join(ls->thread, NULL);
	close(ls->fd);
	close(ls->stop_pipe[0]);
	close(ls->stop_pipe[1]);
	unlink(ls->path);
	pthread_mutex_destroy(&ls->ckpt_mu);
	free(ls);
}

void
localsock_set_ckpt_fn(struct localsock *ls, localsock_ckpt_fn fn, void *arg)
{
	pthread_mutex_lock(&ls->ckpt_mu);
	ls->ckpt_fn = fn;
	ls->ckpt_arg = arg;
	pthread_mutex_unlock(&ls->ckpt_mu);
}

/* Connects to the agent's socket at path. */
static int
localsock_connect(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sa;

	*fd = -1;
	if (localsock_addr(path, &sa) != 0) {
		snprintf(err, errlen, "socket path too long");
		return VIGIL_EINVAL;
	}
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", path,
		    strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return VIGIL_EIO;
	}
	return 0;
}

/* Sends one request and reads its reply; a reply with a non-zero code is
 * returned as that code with the agent's message in err. */
static int
localsock_roundtrip(int fd, const Vigil__LocalRequest *req,
    Vigil__LocalReply **out, char *err, size_t errlen)
{
	Vigil__LocalReply *rep = NULL;
	uint8_t msg[512], hdr[4], *frame = NULL;
	struct rd r;
	uint32_t len;
	size_t n, got;
	int64_t deadline;
	int e;

	*out = NULL;
	if ((n = vigil__local_request__get_packed_size(req)) > sizeof(msg))
		return VIGIL_ETOOBIG;
	n = vigil__local_request__pack(req, msg);
	deadline = localsock_now_ms() + 5000;
	if ((e = localsock_send_frame(fd, msg, n)) != 0 ||
	    (e = localsock_read_full(fd, hdr, 4, deadline, &got)) != 0) {
		snprintf(err, errlen, "no answer from the agent");
		return VIGIL_EIO;
	}
	rd_init(&r, hdr, sizeof(hdr));
	if ((e = rd_u32be(&r, &len)) != 0 || len > LOCALSOCK_MAX_FRAME) {
		snprintf(err, errlen, "reply length %u over the limit", len);
		return VIGIL_ETOOBIG;
	}
	if ((frame = malloc(len ? len : 1)) == NULL)
		return VIGIL_ENOMEM;
	if ((e = localsock_read_full(fd, frame, len, deadline, &got)) != 0 ||
	    (rep = vigil__local_reply__unpack(NULL, len, frame)) == NULL) {
		snprintf(err, errlen, "truncated or malformed reply");
		e = VIGIL_EINVAL;
		goto out;
	}
	if (rep->code != 0) {
		snprintf(err, errlen, "agent refused: %s", rep->error);
		e = rep->code < 0 ? rep->code : VIGIL_EINVAL;
		goto out;
	}
	*out = rep;
	rep = NULL;
	e = 0;
 out:
	vigil__local_reply__free_unpacked(rep, NULL);
	free(frame);
	return e;
}

int
localsock_query_status(const char *path, struct localsock_status *out,
    char *err, size_t errlen)
{
	Vigil__LocalRequest req = VIGIL__LOCAL_REQUEST__INIT;
	Vigil__LocalReply *rep = NULL;
	int fd = -1, e;

	memset(out, 0, sizeof(*out));
	if ((e = localsock_connect(path, &fd, err, errlen)) != 0)
		return e;
	req.op = VIGIL__LOCAL_REQUEST__OP__OP_STATUS;
	if ((e = localsock_roundtrip(fd, &req, &rep, err, errlen)) != 0)
		goto out;
	snprintf(out->agent_id, sizeof(out->agent_id), "%s", rep->agent_id);
	snprintf(out->status, sizeof(out->status), "%s", rep->status);
	out->last_push_unix = rep->last_push_unix;
	out->spool_pending = rep->spool_pending;
	out->spool_epoch = rep->spool_epoch;
 out:
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	return e;
}

/* Reopened after this long, well inside LOCALSOCK_CONN_MAX_MS. */
#define LOCALSOCK_CLIENT_REUSE_MS (LOCALSOCK_CONN_MAX_MS / 2)

struct localsock_client {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	int64_t opened_ms;
};

int
localsock_client_open(const char *path, struct localsock_client **out,
    char *err, size_t errlen)
{
	struct localsock_client *c;
	struct sockaddr_un sa;
	int e;

	if (localsock_addr(path, &sa) != 0) {
		snprintf(err, errlen, "socket path too long");
		return VIGIL_EINVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return VIGIL_ENOMEM;
	memcpy(c->path, sa.sun_path, sizeof(c->path));
	if ((e = localsock_connect(c->path, &c->fd, err, errlen)) != 0) {
		free(c);
		return e;
	}
	c->opened_ms = localsock_now_ms();
	*out = c;
	return 0;
}

int
localsock_client_send(struct localsock_client *c,
    const struct localsock_ckpt *r, char *err, size_t errlen)
{
	Vigil__LocalRequest req = VIGIL__LOCAL_REQUEST__INIT;
	Vigil__LocalReply *rep = NULL;
	int e;

	if (c->fd < 0 ||
	    localsock_now_ms() - c->opened_ms > LOCALSOCK_CLIENT_REUSE_MS) {
		if (c->fd >= 0)
			close(c->fd);
		if ((e = localsock_connect(c->path, &c->fd, err, errlen)) != 0)
			return e;
		c->opened_ms = localsock_now_ms();
	}
	req.computation_id = (char *)r->id;
	req.cumulative.data = (uint8_t *)r->cum;
	req.cumulative.len = LOCALSOCK_CKPT_LEN;
	if (r->end) {
		req.op = VIGIL__LOCAL_REQUEST__OP__OP_COMPUTATION_END;
		req.exit_status = r->exit_status;
		req.count = r->count;
	} else {
		req.op = VIGIL__LOCAL_REQUEST__OP__OP_CHECKPOINT;
		req.index = r->index;
		req.state.data = (uint8_t *)r->state;
		req.state.len = LOCALSOCK_CKPT_LEN;
	}
	e = localsock_roundtrip(c->fd, &req, &rep, err, errlen);
	vigil__local_reply__free_unpacked(rep, NULL);
	if (e == VIGIL_EIO || e == VIGIL_EINVAL || e == VIGIL_ETOOBIG) {
		/* The stream may be out of step: start afresh next time. */
		close(c->fd);
		c->fd = -1;
	}
	return e;
}

void
localsock_client_close(struct localsock_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
