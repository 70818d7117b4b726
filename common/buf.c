#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t ncap;
	uint8_t *n;

	if (extra > SIZE_MAX / 2 - b->len)
		return VIGIL_ETOOBIG;
	if (b->len + extra <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < b->len + extra)
		ncap *= 2;
	if ((n = realloc(b->data, ncap)) == NULL)
		return VIGIL_ENOMEM;
	b->data = n;
	b->cap = ncap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	int e;

	if (n == 0)
		return 0;
	if ((e = buf_reserve(b, n)) != 0)
		return e;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int
buf_add_uint(struct buf *b, uint64_t v, size_t n, int big)
{
	uint8_t tmp[8];
	size_t i;

	for (i = 0; i < n; i++)
		tmp[big ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
	return buf_add(b, tmp, n);
}

int buf_add_u8(struct buf *b, uint8_t v) { return buf_add(b, &v, 1); }
int buf_add_u16be(struct buf *b, uint16_t v) { return buf_add_uint(b, v, 2, 1); }
int buf_add_u32be(struct buf *b, uint32_t v) { return buf_add_uint(b, v, 4, 1); }
int buf_add_u64be(struct buf *b, uint64_t v) { return buf_add_uint(b, v, 8, 1); }
int buf_add_u16le(struct buf *b, uint16_t v) { return buf_add_uint(b, v, 2, 0); }
int buf_add_u32le(struct buf *b, uint32_t v) { return buf_add_uint(b, v, 4, 0); }
int buf_add_u64le(struct buf *b, uint64_t v) { return buf_add_uint(b, v, 8, 0); }

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, uint8_t *out, size_t outlen)
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * outlen)
		return VIGIL_EINVAL;
	for (i = 0; i < outlen; i++) {
		hi = hex_nibble(s[2 * i]);
		lo = hex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return VIGIL_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct buf b = BUF_INIT;
	uint8_t chunk[65536];
	ssize_t n;
	int fd, e = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_EIO;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = VIGIL_EIO;
			break;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			e = VIGIL_ETOOBIG;
			break;
		}
		if ((e = buf_add(&b, chunk, (size_t)n)) != 0)
			break;
	}
	close(fd);
	if (e != 0) {
		buf_free(&b);
		return e;
	}
	if (b.data == NULL && (b.data = malloc(1)) == NULL)
		return VIGIL_ENOMEM;
	*out = b.data;
	*len = b.len;
	return 0;
}

int
file_write_atomic(const char *path, const void *p, size_t len)
{
	char tmp[4096];
	const uint8_t *c = p;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path,
	    (int)getpid()) >= sizeof(tmp))
		return VIGIL_EINVAL;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return VIGIL_EIO;
	while (len > 0) {
		n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			unlink(tmp);
			return VIGIL_EIO;
		}
		c += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return VIGIL_EIO;
	}
	return 0;
}
