/* MM transports: vigil-smmd's Unix socket and the real software SMI
 * (transport.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/io.h>
#endif

#include "err.h"
#include "log.h"
#include "mm.h"
#include "transport.h"

enum mm_kind { MM_KIND_SOCK = 1, MM_KIND_SMI = 2 };

struct mm_transport {
	enum mm_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int timeout_ms;
	uint64_t smi_addr;
};

static int64_t
mm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before the deadline. */
static int
mm_read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t k;
	int64_t left;

	while (n > 0) {
		left = deadline - mm_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return VIGIL_EIO;
		k = read(fd, p, n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return VIGIL_EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int
mm_sock_read(int fd, int timeout_ms, struct buf *out)
{
	uint8_t hdr[MM_HDR_LEN];
	int64_t deadline = mm_now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
	size_t total;
	int e;

	if ((e = mm_read_full(fd, hdr, sizeof(hdr), deadline)) != 0)
		return e;
	if ((e = mm_frame_len(hdr, sizeof(hdr), &total)) != 0) {
		log_warn("mm: refusing a frame: %s header",
		    e == VIGIL_EINVAL ? "bad GUID in" : "oversized");
		/* Keep the header so the caller can answer from it. */
		buf_add(out, hdr, sizeof(hdr));
		return e;
	}
	if ((e = buf_add(out, hdr, sizeof(hdr))) != 0 ||
	    (e = buf_reserve(out, total - MM_HDR_LEN)) != 0)
		return e;
	if ((e = mm_read_full(fd, out->data + out->len, total - MM_HDR_LEN,
	    deadline)) != 0)
		return e;
	out->len += total - MM_HDR_LEN;
	return 0;
}

int
mm_sock_write(int fd, const uint8_t *p, size_t len)
{
	ssize_t k;

	while (len > 0) {
		k = send(fd, p, len, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return VIGIL_EIO;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int
mm_sock_peer(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) != 0) {
		log_err("mm: SO_PEERCRED failed: %s", strerror(errno));
		return VIGIL_EIO;
	}
	*uid = cr.uid;
	*pid = cr.pid;
	return 0;
}

int
mm_sock_listen(const char *path, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("mm: socket path too long: %s", path);
		return VIGIL_ECONFIG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return VIGIL_EIO;
	(void)unlink(path);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0666) != 0 || listen(s, 16) != 0) {
		log_err("mm: cannot listen on %s: %s", path, strerror(errno));
		close(s);
		return VIGIL_EIO;
	}
	*fd = s;
	return 0;
}

static int
mm_sock_call(struct mm_transport *t, const uint8_t *req, size_t req_len,
    struct buf *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, e;

	memcpy(sa.sun_path, t->path, sizeof(sa.sun_path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return VIGIL_EIO;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_err("mm: cannot connect to %s: %s", t->path,
		    strerror(errno));
		close(s);
		return VIGIL_EIO;
	}
	/* Half-close after the request: a server reading a short buffer
	 * sees the end at once instead of waiting for its timeout. */
	if ((e = mm_sock_write(s, req, req_len)) == 0 &&
	    shutdown(s, SHUT_WR) == 0)
		e = mm_sock_read(s, t->timeout_ms, reply);
	if (e == VIGIL_EIO)
		log_err("mm: no reply from %s", t->path);
	close(s);
	return e;
}

/* The buffer address firmware published (efivarfs: u32 attributes, then
 * the u64 little-endian value). */
static int
mm_smi_addr(uint64_t *addr)
{
	uint8_t v[12];
	ssize_t n;
	int fd, i;

	if ((fd = open(MM_SMI_ADDR_VAR, O_RDONLY | O_CLOEXEC)) < 0) {
		log_err("mm: smi transport unavailable: no firmware-published "
		    "MM communication buffer (%s: %s); this machine has no "
		    "Vigil SMM handler, use the emulator socket", MM_SMI_ADDR_VAR,
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	n = read(fd, v, sizeof(v));
	close(fd);
	if (n != (ssize_t)sizeof(v)) {
		log_err("mm: %s is not a u64 variable", MM_SMI_ADDR_VAR);
		return VIGIL_EUNSUPP;
	}
	*addr = 0;
	for (i = 7; i >= 0; i--)
		*addr = *addr << 8 | v[4 + i];
	return 0;
}

#if defined(__x86_64__)
static int
mm_smi_call(struct mm_transport *t, const uint8_t *req, size_t req_len,
    struct buf *reply)
{
	uint8_t *map = MAP_FAILED;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t base = t->smi_addr & ~(uint64_t)(pg - 1);
	size_t off = (size_t)(t->smi_addr - base), total;
	size_t maplen = off + MM_MAX_BUF;
	int fd, e = VIGIL_EUNSUPP;

	if ((fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC)) < 0) {
		log_err("mm: smi transport: cannot open /dev/mem: %s",
		    strerror(errno));
		return VIGIL_EUNSUPP;
	}
	map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    (off_t)base);
	if (map == MAP_FAILED) {
		log_err("mm: smi transport: cannot map the communication "
		    "buffer at 0x%llx: %s", (unsigned long long)t->smi_addr,
		    strerror(errno));
		goto out;
	}
	if (ioperm(MM_APM_CNT_PORT, 1, 1) != 0) {
		log_err("mm: smi transport: ioperm(0xB2): %s", strerror(errno));
		goto out;
	}
	memcpy(map + off, req, req_len);
	outb(MM_SMI_COMMAND, MM_APM_CNT_PORT);	/* the SMI: CPU enters SMM */
	e = VIGIL_EIO;
	if (mm_frame_len(map + off, MM_MAX_BUF, &total) != 0) {
		log_err("mm: smi transport: firmware left no valid reply");
		goto out;
	}
	e = buf_add(reply, map + off, total);
 out:
	if (map != MAP_FAILED)
		munmap(map, maplen);
	close(fd);
	return e;
}
#else
static int
mm_smi_call(struct mm_transport *t, const uint8_t *req, size_t req_len,
    struct buf *reply)
{
	log_err("mm: smi transport needs x86-64 (APM port 0xB2)");
	return VIGIL_EUNSUPP;
}
#endif

int
mm_transport_open(const char *spec, int timeout_ms, struct mm_transport **out)
{
	struct mm_transport *t;
	const char *path = spec;
	char *end;
	int e;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return VIGIL_ENOMEM;
	t->timeout_ms = timeout_ms;
	if (strcmp(spec, "smi") == 0 || strncmp(spec, "smi:", 4) == 0) {
#if !defined(__x86_64__)
		log_err("mm: smi transport needs x86-64 (APM port 0xB2)");
		free(t);
		return VIGIL_EUNSUPP;
#endif
		t->kind = MM_KIND_SMI;
		if (spec[3] == ':') {
			errno = 0;
			t->smi_addr = strtoull(spec + 4, &end, 0);
			if (errno != 0 || *end != '\0' || t->smi_addr == 0) {
				log_err("mm: bad smi address in '%s'", spec);
				free(t);
				return VIGIL_EINVAL;
			}
		} else if ((e = mm_smi_addr(&t->smi_addr)) != 0) {
			free(t);
			return e;
		}
		*out = t;
		return 0;
	}
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	if (*path == '\0' || strlen(path) >= sizeof(t->path)) {
		log_err("mm: bad socket path '%s'", spec);
		free(t);
		return VIGIL_EINVAL;
	}
	t->kind = MM_KIND_SOCK;
	memcpy(t->path, path, strlen(path) + 1);
	*out = t;
	return 0;
}

int
mm_transport_call(struct mm_transport *t, const uint8_t *req, size_t req_len,
    struct buf *reply)
{
	if (req_len > MM_MAX_BUF)
		return VIGIL_ETOOBIG;
	if (t->kind == MM_KIND_SMI)
		return mm_smi_call(t, req, req_len, reply);
	return mm_sock_call(t, req, req_len, reply);
}

void
mm_transport_close(struct mm_transport *t)
{
	free(t);
}

int
mm_call(const char *spec, int timeout_ms, const uint8_t *req, size_t req_len,
    struct buf *reply, struct mm_msg *msg)
{
	struct mm_transport *t = NULL;
	struct mm_msg q;
	int e;

	if ((e = mm_parse(req, req_len, &q)) != 0 || q.reply)
		return VIGIL_EINVAL;
	if ((e = mm_transport_open(spec, timeout_ms, &t)) != 0)
		return e;
	e = mm_transport_call(t, req, req_len, reply);
	mm_transport_close(t);
	if (e != 0)
		return e;
	if (mm_parse(reply->data, reply->len, msg) != 0 || !msg->reply ||
	    (msg->status == MM_ST_OK && msg->cmd != q.cmd)) {
		log_err("mm: invalid reply to %s from %s", mm_cmd_name(q.cmd),
		    spec);
		return VIGIL_EIO;
	}
	return 0;
}
