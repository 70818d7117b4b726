/* Measurement engine (measure.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "measure.h"

#define MEASURE_MAX_THREADS 64u

static unsigned measure_threads;

void
measure_set_threads(unsigned n)
{
	measure_threads = n;
}

static unsigned
measure_nthreads(void)
{
	long n;

	if (measure_threads > 0)
		return measure_threads > MEASURE_MAX_THREADS ?
		    MEASURE_MAX_THREADS : measure_threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return (unsigned)(n > (long)MEASURE_MAX_THREADS ? MEASURE_MAX_THREADS :
	    n);
}

void
measure_set_free(struct measure_set *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->r[i].leaves);
		s->r[i].leaves = NULL;
	}
	s->n = 0;
}

static uint64_t
measure_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

/* The state letter of /proc/PID/stat (after the last ')'). */
static int
measure_state(pid_t pid, char *st)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return VIGIL_ENOTFOUND;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return VIGIL_EIO;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return VIGIL_EIO;
	*st = p[2];
	return 0;
}

int
measure_stop(pid_t pid, int timeout_ms)
{
	uint64_t deadline = measure_now_us() + (uint64_t)timeout_ms * 1000;
	struct timespec nap = { 0, 20000 };
	char st;
	int e;

	if (kill(pid, SIGSTOP) != 0) {
		log_err("measure: SIGSTOP to %d: %s", (int)pid,
		    strerror(errno));
		return errno == ESRCH ? VIGIL_ENOTFOUND : VIGIL_EDENIED;
	}
	for (;;) {
		if ((e = measure_state(pid, &st)) != 0)
			return e;
		if (st == 'T' || st == 't')
			return 0;
		if (measure_now_us() > deadline) {
			log_err("measure: process %d not stopped after %d ms",
			    (int)pid, timeout_ms);
			(void)kill(pid, SIGCONT);
			return VIGIL_EIO;
		}
		nanosleep(&nap, NULL);
	}
}

int
measure_cont(pid_t pid)
{
	if (kill(pid, SIGCONT) != 0) {
		log_err("measure: SIGCONT to %d: %s", (int)pid,
		    strerror(errno));
		return VIGIL_EIO;
	}
	return 0;
}

/* Does the mapping (fname, lo, off) continue region r? */
static int
measure_extends(const struct measure_region *r, const char *fname,
    unsigned long long lo, unsigned long long off)
{
	size_t n = strlen(fname);

	return r->addr + r->size == lo && r->off + r->size == off &&
	    strncmp(r->name, fname, n) == 0 && r->name[n] == '@' &&
	    r->size + 0ull <= MEASURE_MAX_REGION_SIZE;
}

int
measure_maps(pid_t pid, struct measure_set *s)
{
	char path[64], line[4096 + 256], perms[8], fname[4096];
	unsigned long long lo, hi, off;
	FILE *f;
	int n, e = 0;

	s->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL) {
		log_err("measure: cannot open %s: %s", path, strerror(errno));
		return VIGIL_ENOTFOUND;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		fname[0] = '\0';
		n = sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo,
		    &hi, perms, &off, fname);
		if (n < 4 || strlen(perms) < 4 || hi <= lo)
			continue;
		/* File-backed executable mappings only: [vdso] and
		 * anonymous JIT pages have no stable reference. */
		if (perms[2] != 'x' || fname[0] != '/')
			continue;
		if (s->n > 0 && measure_extends(&s->r[s->n - 1], fname, lo,
		    off)) {
			s->r[s->n - 1].size += hi - lo;
			continue;
		}
		if (s->n == MEASURE_MAX_REGIONS) {
			log_err("measure: %d has over %u executable mappings",
			    (int)pid, MEASURE_MAX_REGIONS);
			e = VIGIL_ETOOBIG;
			break;
		}
		if (hi - lo > MEASURE_MAX_REGION_SIZE) {
			log_err("measure: mapping %s of %d over 1 GiB", fname,
			    (int)pid);
			e = VIGIL_ETOOBIG;
			break;
		}
		memset(&s->r[s->n], 0, sizeof(s->r[s->n]));
		n = snprintf(s->r[s->n].name, sizeof(s->r[s->n].name),
		    "%s@0x%llx", fname, off);
		if (n < 0 || (size_t)n >= sizeof(s->r[s->n].name)) {
			log_err("measure: mapping name too long: %s", fname);
			e = VIGIL_ETOOBIG;
			break;
		}
		s->r[s->n].addr = lo;
		s->r[s->n].off = off;
		s->r[s->n].size = hi - lo;
		s->n++;
	}
	fclose(f);
	return e;
}

/* process_vm_readv: needs only the ptrace access check (CAP_SYS_PTRACE
 * across users), not the DAC permission of /proc/PID/mem (mode 0600,
 * owned by the target), which a service user lacks. */
static int
measure_read_vm(pid_t pid, uint64_t addr, uint8_t *dst, size_t len)
{
	struct iovec l, r;
	ssize_t k;
	size_t done = 0;

	while (done < len) {
		l.iov_base = dst + done;
		l.iov_len = len - done;
		r.iov_base = (void *)(uintptr_t)(addr + done);
		r.iov_len = len - done;
		k = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			log_err("measure: process_vm_readv(%d) at 0x%" PRIx64
			    ": %s", (int)pid, addr + done,
			    k < 0 ? strerror(errno) : "nothing read");
			return k < 0 && errno == EPERM ? VIGIL_EDENIED :
			    VIGIL_EIO;
		}
		done += (size_t)k;
	}
	return 0;
}

/* len bytes at addr of pid's memory through an open /proc/PID/mem. */
static int
measure_pread_all(int fd, pid_t pid, uint64_t addr, uint8_t *dst,
    size_t len)
{
	size_t done = 0;
	ssize_t k;

	while (done < len) {
		k = pread(fd, dst + done, len - done, (off_t)(addr + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			log_err("measure: reading /proc/%d/mem at 0x%" PRIx64
			    ": %s", (int)pid, addr + done,
			    k < 0 ? strerror(errno) : "EOF");
			return VIGIL_EIO;
		}
		done += (size_t)k;
	}
	return 0;
}

int
measure_read_mem(pid_t pid, uint64_t addr, uint8_t *dst, size_t len)
{
	char path[64];
	int fd, e;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == EACCES)
			return measure_read_vm(pid, addr, dst, len);
		log_err("measure: cannot open %s: %s (needs CAP_SYS_PTRACE "
		    "or a ptracer grant)", path, strerror(errno));
		return VIGIL_EDENIED;
	}
	e = measure_pread_all(fd, pid, addr, dst, len);
	close(fd);
	return e;
}

struct measure_job {
	const uint8_t *data;
	size_t len;
	size_t first, last;	/* pages [first, last) */
	uint8_t (*leaves)[SMMLOG_HASH_LEN];
};

static void *
measure_worker(void *arg)
{
	struct measure_job *j = arg;
	size_t i, off, n;

	for (i = j->first; i < j->last; i++) {
		off = i * SMMLOG_PAGE;
		n = j->len - off < SMMLOG_PAGE ? j->len - off : SMMLOG_PAGE;
		smmlog_leaf(j->data + off, n, j->leaves[i]);
	}
	return NULL;
}

int
measure_hash(const uint8_t *data, size_t len,
    uint8_t (**leaves)[SMMLOG_HASH_LEN], size_t *n_pages)
{
	struct measure_job jobs[MEASURE_MAX_THREADS];
	pthread_t th[MEASURE_MAX_THREADS];
	int started[MEASURE_MAX_THREADS] = { 0 };
	size_t pages = (len + SMMLOG_PAGE - 1) / SMMLOG_PAGE, per, i;
	unsigned nt = measure_nthreads();

	*leaves = NULL;
	*n_pages = pages;
	if (pages == 0)
		return 0;
	if ((*leaves = calloc(pages, SMMLOG_HASH_LEN)) == NULL)
		return VIGIL_ENOMEM;
	if (pages < 64)
		nt = 1;		/* threads cost more than they save */
	if (nt > pages)
		nt = (unsigned)pages;
	per = (pages + nt - 1) / nt;
	for (i = 0; i < nt; i++) {
		jobs[i].data = data;
		jobs[i].len = len;
		jobs[i].first = i * per;
		jobs[i].last = (i + 1) * per < pages ? (i + 1) * per : pages;
		jobs[i].leaves = *leaves;
		if (jobs[i].first >= jobs[i].last)
			continue;
		if (i + 1 == nt || pthread_create(&th[i], NULL,
		    measure_worker, &jobs[i]) != 0)
			measure_worker(&jobs[i]);	/* this thread */
		else
			started[i] = 1;
	}
	for (i = 0; i < nt; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	return 0;
}

static int
measure_region_finish(struct measure_region *r, const uint8_t *data)
{
	int e;

	if ((e = measure_hash(data, r->size, &r->leaves, &r->n_pages)) != 0)
		return e;
	return smmlog_merkle_root((const uint8_t (*)[SMMLOG_HASH_LEN])
	    r->leaves, r->n_pages, r->root);
}

/* Streaming measurement of one region of a stopped process: each worker
 * reads its own share of the pages in blocks into a small buffer it keeps
 * and hashes them while the others read, so copying and hashing overlap
 * and no region-sized buffer is faulted in (that copy, not the hashing,
 * bounded the throughput). */
#define MEASURE_BLOCK_PAGES 64u		/* 256 KiB per read */

struct measure_sjob {
	pid_t pid;
	uint64_t addr;
	size_t len;
	size_t first, last;	/* pages [first, last) */
	uint8_t (*leaves)[SMMLOG_HASH_LEN];
	int err;
};

static void *
measure_sworker(void *arg)
{
	struct measure_sjob *j = arg;
	size_t p, np, k, off, n, leafn;
	uint8_t *buf;

	char path[64];
	int fd;

	if ((buf = malloc((size_t)MEASURE_BLOCK_PAGES * SMMLOG_PAGE)) ==
	    NULL) {
		j->err = VIGIL_ENOMEM;
		return NULL;
	}
	/* One descriptor per worker; without the DAC permission on
	 * /proc/PID/mem (a dropped service user) process_vm_readv reads. */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)j->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	for (p = j->first; p < j->last; p += np) {
		np = j->last - p < MEASURE_BLOCK_PAGES ? j->last - p :
		    MEASURE_BLOCK_PAGES;
		off = p * SMMLOG_PAGE;
		n = j->len - off < np * SMMLOG_PAGE ? j->len - off :
		    np * SMMLOG_PAGE;
		if ((j->err = fd >= 0 ? measure_pread_all(fd, j->pid,
		    j->addr + off, buf, n) : measure_read_vm(j->pid,
		    j->addr + off, buf, n)) != 0)
			break;
		for (k = 0; k < np; k++) {
			leafn = n - k * SMMLOG_PAGE < SMMLOG_PAGE ?
			    n - k * SMMLOG_PAGE : SMMLOG_PAGE;
			smmlog_leaf(buf + k * SMMLOG_PAGE, leafn,
			    j->leaves[p + k]);
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* 0 with r's leaves and root; a read failure goes to r->error (and r
 * has no leaves), as the caller reports unreadable regions. */
static int
measure_region_stream(pid_t pid, struct measure_region *r)
{
	struct measure_sjob jobs[MEASURE_MAX_THREADS];
	pthread_t th[MEASURE_MAX_THREADS];
	int started[MEASURE_MAX_THREADS] = { 0 };
	size_t pages = (r->size + SMMLOG_PAGE - 1) / SMMLOG_PAGE, per, i;
	unsigned nt = measure_nthreads();

	r->leaves = NULL;
	r->n_pages = 0;
	r->error = 0;
	if (pages == 0)
		return smmlog_merkle_root(NULL, 0, r->root);
	if ((r->leaves = calloc(pages, SMMLOG_HASH_LEN)) == NULL)
		return VIGIL_ENOMEM;
	if (pages < 2 * MEASURE_BLOCK_PAGES)
		nt = 1;		/* threads cost more than they save */
	if (nt > pages)
		nt = (unsigned)pages;
	per = (pages + nt - 1) / nt;
	for (i = 0; i < nt; i++) {
		jobs[i] = (struct measure_sjob){ pid, r->addr, r->size,
		    i * per, (i + 1) * per < pages ? (i + 1) * per : pages,
		    r->leaves, 0 };
		if (jobs[i].first >= jobs[i].last)
			continue;
		if (i + 1 == nt || pthread_create(&th[i], NULL,
		    measure_sworker, &jobs[i]) != 0)
			measure_sworker(&jobs[i]);	/* this thread */
		else
			started[i] = 1;
	}
	for (i = 0; i < nt; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (i = 0; i < nt; i++) {
		if (jobs[i].err == VIGIL_ENOMEM)
			return VIGIL_ENOMEM;
		if (jobs[i].err != 0 && r->error == 0)
			r->error = jobs[i].err;
	}
	if (r->error != 0) {
		free(r->leaves);
		r->leaves = NULL;
		return 0;
	}
	r->n_pages = pages;
	return smmlog_merkle_root((const uint8_t (*)[SMMLOG_HASH_LEN])
	    r->leaves, r->n_pages, r->root);
}

int
measure_process(pid_t pid, struct measure_set *out)
{
	size_t i;
	int e;

	if ((e = measure_maps(pid, out)) != 0)
		return e;
	for (i = 0; i < out->n; i++)
		if ((e = measure_region_stream(pid, &out->r[i])) != 0)
			return e;
	return 0;
}

int
measure_file(const char *path, struct measure_region *out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int e, n;

	memset(out, 0, sizeof(*out));
	n = snprintf(out->name, sizeof(out->name), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(out->name))
		return VIGIL_ETOOBIG;
	if ((e = file_read(path, MEASURE_MAX_REGION_SIZE, &data, &len)) != 0) {
		log_err("measure: cannot read image %s: %s", path,
		    vigil_strerror(e));
		out->error = e;
		return 0;
	}
	out->size = len;
	e = measure_region_finish(out, data);
	free(data);
	return e;
}

size_t
measure_diff(const uint8_t (*a)[SMMLOG_HASH_LEN],
    const uint8_t (*b)[SMMLOG_HASH_LEN], size_t n, uint32_t *pages,
    size_t max)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (memcmp(a[i], b[i], SMMLOG_HASH_LEN) != 0) {
			if (k < max)
				pages[k] = (uint32_t)i;
			k++;
		}
	return k;
}

void
measure_hist_add(struct measure_hist *h, uint64_t us, uint64_t bound_us)
{
	static const uint64_t edge[MEASURE_HIST_N - 1] = { 100, 250, 500,
	    1000, 2000, 5000, 10000 };
	unsigned i;

	for (i = 0; i < MEASURE_HIST_N - 1 && us >= edge[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	if (us > bound_us)
		h->over_bound++;
	if (us > h->max_us)
		h->max_us = us;
}

uint64_t
measure_hist_pct(const struct measure_hist *h, unsigned p)
{
	static const uint64_t edge[MEASURE_HIST_N] = { 100, 250, 500, 1000,
	    2000, 5000, 10000, UINT64_MAX };
	uint64_t want, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	want = (h->count * p + 99) / 100;
	for (i = 0; i < MEASURE_HIST_N; i++) {
		seen += h->bucket[i];
		if (seen >= want)
			return i == MEASURE_HIST_N - 1 ? h->max_us : edge[i];
	}
	return h->max_us;
}

int
measure_process_chunked(pid_t pid, size_t *chunk, uint64_t bound_us,
    struct measure_hist *hist, struct measure_set *out)
{
	uint8_t *data = NULL;
	uint64_t t0, us;
	size_t i, off, n;
	int e, er;

	if (*chunk < SMMLOG_PAGE)
		*chunk = SMMLOG_PAGE;
	/* The map list itself is read with the process stopped too. */
	if ((e = measure_stop(pid, 1000)) != 0)
		return e;
	e = measure_maps(pid, out);
	(void)measure_cont(pid);
	if (e != 0)
		return e;
	for (i = 0; i < out->n; i++) {
		struct measure_region *r = &out->r[i];

		free(data);
		if ((data = malloc(r->size)) == NULL) {
			e = VIGIL_ENOMEM;
			goto out;
		}
		for (off = 0; off < r->size && r->error == 0; off += n) {
			n = r->size - off < *chunk ? r->size - off : *chunk;
			t0 = measure_now_us();
			if ((e = measure_stop(pid, 1000)) != 0)
				goto out;
			er = measure_read_mem(pid, r->addr + off, data + off, n);
			(void)measure_cont(pid);
			us = measure_now_us() - t0;
			measure_hist_add(hist, us, bound_us);
			if (us > bound_us && *chunk > SMMLOG_PAGE) {
				*chunk /= 2;
				*chunk -= *chunk % SMMLOG_PAGE;
				if (*chunk < SMMLOG_PAGE)
					*chunk = SMMLOG_PAGE;
				log_warn("measure: pause %" PRIu64 " us over "
				    "the bound %" PRIu64 " us; chunk now %zu",
				    us, bound_us, *chunk);
			}
			r->error = er;
		}
		if (r->error == 0 && (e = measure_region_finish(r, data)) != 0)
			goto out;
	}
	e = 0;
 out:
	free(data);
	return e;
}
