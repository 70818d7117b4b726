/* The persistent SMM log (logstore.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "logstore.h"
#include "mm.h"
#include "rd.h"

struct logstore {
	int fd;
	char head_path[4096];
	uint64_t seq;
	uint8_t head[SMMLOG_HASH_LEN];
	uint64_t *off;		/* off[i]: file offset of entry seq i + 1 */
	size_t cap;
	uint64_t end;		/* file size */
};

void
logstore_close(struct logstore *ls)
{
	if (ls == NULL)
		return;
	if (ls->fd >= 0)
		close(ls->fd);
	free(ls->off);
	free(ls);
}

static int
logstore_push_off(struct logstore *ls, uint64_t off)
{
	uint64_t *n;
	size_t cap;

	if (ls->seq < ls->cap)
		goto put;
	if (ls->seq >= LOGSTORE_MAX_ENTRIES)
		return VIGIL_ETOOBIG;
	cap = ls->cap ? ls->cap * 2 : 1024;
	if ((n = realloc(ls->off, cap * sizeof(*n))) == NULL)
		return VIGIL_ENOMEM;
	ls->off = n;
	ls->cap = cap;
 put:
	ls->off[ls->seq] = off;
	return 0;
}

/* Replays smm.log into the chain; cuts a torn tail. */
static int
logstore_replay(struct logstore *ls)
{
	struct stat st;
	uint8_t *data = NULL, *p;
	struct smmlog_entry e;
	struct rd r;
	uint32_t len;
	uint64_t off = 0;
	int err;

	if (fstat(ls->fd, &st) != 0)
		return VIGIL_EIO;
	if (st.st_size == 0)
		return 0;
	if ((data = malloc((size_t)st.st_size)) == NULL)
		return VIGIL_ENOMEM;
	if (pread(ls->fd, data, (size_t)st.st_size, 0) != st.st_size) {
		free(data);
		return VIGIL_EIO;
	}
	rd_init(&r, data, (size_t)st.st_size);
	while (r.left > 0) {
		if (rd_u32le(&r, &len) != 0 || len == 0 || len > MM_MAX_ENTRY ||
		    rd_bytes(&r, len, (const uint8_t **)&p) != 0) {
			log_warn("logstore: torn record at offset %llu cut off",
			    (unsigned long long)off);
			if (ftruncate(ls->fd, (off_t)off) != 0) {
				free(data);
				return VIGIL_EIO;
			}
			break;
		}
		if ((err = smmlog_entry_parse(p, len, &e)) != 0 ||
		    e.seq != ls->seq + 1) {
			log_err("logstore: entry at offset %llu is invalid or "
			    "out of sequence", (unsigned long long)off);
			free(data);
			return VIGIL_EVERIFY;
		}
		if ((err = logstore_push_off(ls, off)) != 0 ||
		    (err = smmlog_chain_next(ls->head, p, len, ls->head)) != 0) {
			free(data);
			return err;
		}
		ls->seq++;
		off += 4 + (uint64_t)len;
	}
	ls->end = off;
	free(data);
	return 0;
}

int
logstore_open(const char *state_dir, struct logstore **out)
{
	struct logstore *ls;
	char path[4096];
	uint8_t *hb = NULL;
	size_t hl = 0;
	struct rd r;
	uint64_t hseq;
	int e, n;

	*out = NULL;
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return VIGIL_ENOMEM;
	ls->fd = -1;
	n = snprintf(path, sizeof(path), "%s/smm.log", state_dir);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    snprintf(ls->head_path, sizeof(ls->head_path), "%s/smm.head",
	    state_dir) >= (int)sizeof(ls->head_path)) {
		e = VIGIL_ECONFIG;
		goto out;
	}
	if ((ls->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_err("logstore: cannot open %s: %s", path, strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	if ((e = logstore_replay(ls)) != 0)
		goto out;
	if (file_read(ls->head_path, 64, &hb, &hl) == 0) {
		rd_init(&r, hb, hl);
		if (rd_u64le(&r, &hseq) != 0 || hl != 40) {
			log_err("logstore: %s is malformed", ls->head_path);
			e = VIGIL_EVERIFY;
			goto out;
		}
		if (hseq > ls->seq) {
			log_err("logstore: %s says %llu entries, smm.log has "
			    "%llu: entries were lost", ls->head_path,
			    (unsigned long long)hseq,
			    (unsigned long long)ls->seq);
			e = VIGIL_EVERIFY;
			goto out;
		}
		if (hseq == ls->seq &&
		    memcmp(hb + 8, ls->head, SMMLOG_HASH_LEN) != 0) {
			log_err("logstore: smm.log does not chain to %s",
			    ls->head_path);
			e = VIGIL_EVERIFY;
			goto out;
		}
	}
	log_info("logstore: %s: %llu entries", path,
	    (unsigned long long)ls->seq);
	*out = ls;
	ls = NULL;
	e = 0;
 out:
	free(hb);
	logstore_close(ls);
	return e;
}

int
logstore_append(struct logstore *ls, struct smmlog_entry *e, uint64_t *seq)
{
	struct buf b = BUF_INIT, hb = BUF_INIT;
	struct timespec ts;
	uint8_t next[SMMLOG_HASH_LEN];
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	e->seq = ls->seq + 1;
	e->time_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec /
	    1000000;
	if ((err = buf_add_u32le(&b, 0)) != 0 ||
	    (err = smmlog_entry_encode(e, &b)) != 0)
		goto out;
	b.data[0] = (uint8_t)(b.len - 4);
	b.data[1] = (uint8_t)((b.len - 4) >> 8);
	b.data[2] = (uint8_t)((b.len - 4) >> 16);
	b.data[3] = (uint8_t)((b.len - 4) >> 24);
	if ((err = smmlog_chain_next(ls->head, b.data + 4, b.len - 4,
	    next)) != 0 || (err = logstore_push_off(ls, ls->end)) != 0)
		goto out;
	if (pwrite(ls->fd, b.data, b.len, (off_t)ls->end) !=
	    (ssize_t)b.len || fdatasync(ls->fd) != 0) {
		log_err("logstore: append failed: %s", strerror(errno));
		err = VIGIL_EIO;
		goto out;
	}
	ls->end += b.len;
	ls->seq++;
	memcpy(ls->head, next, SMMLOG_HASH_LEN);
	if ((err = buf_add_u64le(&hb, ls->seq)) != 0 ||
	    (err = buf_add(&hb, ls->head, SMMLOG_HASH_LEN)) != 0 ||
	    (err = file_write_atomic(ls->head_path, hb.data, hb.len)) != 0)
		goto out;
	*seq = ls->seq;
 out:
	buf_free(&b);
	buf_free(&hb);
	return err;
}

/* File offset just past entry seq k. */
static uint64_t
logstore_end_of(const struct logstore *ls, uint64_t k)
{
	return k == ls->seq ? ls->end : ls->off[k];
}

int
logstore_read(struct logstore *ls, uint64_t from_seq, uint32_t max_n,
    struct buf *out, uint32_t *n)
{
	uint64_t s, a, z, last;
	uint8_t *tmp;
	int e;

	*n = 0;
	if (from_seq == 0 || from_seq > ls->seq)
		return 0;
	last = from_seq + max_n - 1;
	if (last > ls->seq)
		last = ls->seq;
	a = ls->off[from_seq - 1];
	/* As many entries as fit one reply (each is far smaller). */
	for (s = from_seq; s < last &&
	    logstore_end_of(ls, s + 1) - a <= MM_MAX_MSG - 64; s++)
		;
	z = logstore_end_of(ls, s);
	if ((tmp = malloc(z - a)) == NULL)
		return VIGIL_ENOMEM;
	if (pread(ls->fd, tmp, z - a, (off_t)a) != (ssize_t)(z - a)) {
		free(tmp);
		return VIGIL_EIO;
	}
	e = buf_add(out, tmp, z - a);
	free(tmp);
	if (e == 0)
		*n = (uint32_t)(s - from_seq + 1);
	return e;
}

void
logstore_head(const struct logstore *ls, uint64_t *seq,
    uint8_t head[SMMLOG_HASH_LEN])
{
	*seq = ls->seq;
	memcpy(head, ls->head, SMMLOG_HASH_LEN);
}
