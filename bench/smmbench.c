/* vigil-smmbench: the SMM service's measurement figures (issue 3).
 *
 *   vigil-smmbench measure --pid PID [--threads N] [--runs R] [--scans S]
 *                          [--bound-ms B] [--chunk BYTES]
 *       PID is a target such as `fakehv --exec-mib 64`.
 *       (1) R full measurements (measure_process, PID stopped, on N hashing
 *       threads, 0 = all cores) interleaved with R runs of the ceiling:
 *       OpenSSL SHA-256 over the same bytes, already in memory, split over
 *       the same N threads (one digest per thread over its share). The
 *       medians and their ratio are printed.
 *       (2) S periodic scans (measure_process_chunked, bound B ms, default
 *       5; first chunk BYTES, default 262144 as vigil-smmd's chunk_size),
 *       the pauses in the engine's own histogram: p99 (upper edge of its
 *       bucket) and the longest pause, each against the bound.
 *
 *   vigil-smmbench keys --socket SPEC --tenant T --key ID --pid PID [--n N]
 *                       [--threads T]
 *       N sign requests (MM USE_KEY, op sign, 32 bytes) to vigil-smmd
 *       through mm_call, each timed from open to parsed reply; every one
 *       must be granted. p50/p99 are printed next to the floor: the
 *       median time of one full measure_process of PID (stopped) in this
 *       process, one after every 5th request, with T hashing threads (default: all cores, as
 *       vigil-smmd's threads = 0). A key request measures every target
 *       atomically before it answers, so it cannot take less. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "smm-bridge/measure.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/transport.h"

#define SMMBENCH_MAX_RUNS	1000u
#define SMMBENCH_MAX_N		100000u
#define SMMBENCH_MAX_THREADS	64u
#define SMMBENCH_FLOOR_EVERY	5u	/* key requests per floor sample */

struct smmbench_opts {
	pid_t pid;
	unsigned threads, runs, scans, n;
	uint64_t bound_us;
	size_t chunk;
	const char *socket, *tenant, *key;
};

struct smmbench_sha_job {
	const uint8_t *p;
	size_t len;
	uint8_t md[EVP_MAX_MD_SIZE];
	int ok;
};

static double
smmbench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
smmbench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of v[0..n), sorting v. */
static double
smmbench_pct(double *v, size_t n, unsigned p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), smmbench_cmp_double);
	i = (n * p + 99) / 100;
	return v[i == 0 ? 0 : i - 1];
}

static int
smmbench_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *out > max) {
		log_err("smmbench: bad number '%s' (at most %llu)", s, max);
		return VIGIL_EINVAL;
	}
	return 0;
}

static unsigned
smmbench_cores(unsigned threads)
{
	long n;

	if (threads > 0)
		return threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > (long)SMMBENCH_MAX_THREADS ?
	    SMMBENCH_MAX_THREADS : (unsigned)n;
}

static void *
smmbench_sha_worker(void *arg)
{
	struct smmbench_sha_job *j = arg;
	unsigned int mdlen = 0;

	j->ok = EVP_Digest(j->p, j->len, j->md, &mdlen, EVP_sha256(), NULL);
	return NULL;
}

/* SHA-256 of data[0..len) split into nt contiguous shares, one thread
 * each; the seconds it took in *sec. */
static int
smmbench_sha(const uint8_t *data, size_t len, unsigned nt, double *sec)
{
	struct smmbench_sha_job job[SMMBENCH_MAX_THREADS];
	pthread_t th[SMMBENCH_MAX_THREADS];
	int started[SMMBENCH_MAX_THREADS] = { 0 };
	size_t per = (len + nt - 1) / nt, off;
	double t0;
	unsigned i;
	int e = 0;

	t0 = smmbench_now();
	for (i = 0; i < nt; i++) {
		off = (size_t)i * per < len ? (size_t)i * per : len;
		job[i].p = data + off;
		job[i].len = len - off < per ? len - off : per;
		job[i].ok = 0;
		if (i + 1 == nt || pthread_create(&th[i], NULL,
		    smmbench_sha_worker, &job[i]) != 0)
			smmbench_sha_worker(&job[i]);
		else
			started[i] = 1;
	}
	for (i = 0; i < nt; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		if (!job[i].ok)
			e = VIGIL_ECRYPTO;
	}
	*sec = smmbench_now() - t0;
	if (e != 0)
		log_err("smmbench: EVP_Digest failed");
	return e;
}

/* One full measurement of pid, stopped for it; bytes measured in *bytes,
 * seconds in *sec. Every region must have been read. */
static int
smmbench_measure_once(pid_t pid, uint64_t *bytes, double *sec)
{
	struct measure_set *s;
	double t0;
	size_t i;
	int e, ec;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = measure_stop(pid, 1000)) != 0) {
		log_err("smmbench: cannot stop pid %d", (int)pid);
		goto out;
	}
	t0 = smmbench_now();
	e = measure_process(pid, s);
	*sec = smmbench_now() - t0;
	ec = measure_cont(pid);
	if (e == 0)
		e = ec;
	if (e != 0)
		goto out;
	*bytes = 0;
	for (i = 0; i < s->n; i++) {
		if (s->r[i].error != 0) {
			log_err("smmbench: region %s unreadable", s->r[i].name);
			e = s->r[i].error;
			goto out;
		}
		*bytes += s->r[i].size;
	}
	if (s->n == 0) {
		log_err("smmbench: pid %d has no executable file mappings",
		    (int)pid);
		e = VIGIL_ENOTFOUND;
	}
 out:
	measure_set_free(s);
	free(s);
	return e;
}

/* The bytes measure_process hashes: every region of pid, read while it
 * is stopped, back to back in *data. */
static int
smmbench_snapshot(pid_t pid, uint8_t **data, size_t *len)
{
	struct measure_set *s;
	size_t i, total = 0;
	int e, stopped = 0;

	*data = NULL;
	*len = 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = measure_stop(pid, 1000)) != 0)
		goto out;
	stopped = 1;
	if ((e = measure_maps(pid, s)) != 0)
		goto out;
	for (i = 0; i < s->n; i++)
		total += s->r[i].size;
	if ((*data = malloc(total ? total : 1)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	for (i = 0; i < s->n; i++) {
		if ((e = measure_read_mem(pid, s->r[i].addr, *data + *len,
		    s->r[i].size)) != 0)
			goto out;
		*len += s->r[i].size;
	}
 out:
	if (stopped)
		(void)measure_cont(pid);
	if (e != 0) {
		free(*data);
		*data = NULL;
	}
	measure_set_free(s);
	free(s);
	return e;
}

/* Every region of s read out of pid (stopped) into dst; seconds in *sec. */
static int
smmbench_copy(pid_t pid, const struct measure_set *s, uint8_t *dst,
    size_t len, double *sec)
{
	size_t i, off = 0;
	double t0 = smmbench_now();
	int e = 0;

	for (i = 0; i < s->n && e == 0; i++) {
		if (s->r[i].size > len - off) {
			e = VIGIL_EINVAL;
			break;
		}
		e = measure_read_mem(pid, s->r[i].addr, dst + off,
		    s->r[i].size);
		off += s->r[i].size;
	}
	*sec = smmbench_now() - t0;
	return e;
}

/* Where measure_process's time goes: the copy out of the stopped
 * process (measure_read_mem of every region into a fresh buffer, as
 * measure_process does, then again into the same, already faulted-in
 * buffer) and the leaf hashing (measure_hash over data). */
static int
smmbench_breakdown(pid_t pid, const uint8_t *data, size_t len,
    double *read_s, double *reread_s, double *leaf_s)
{
	uint8_t (*leaves)[SMMLOG_HASH_LEN] = NULL;
	struct measure_set *s;
	uint8_t *dst = NULL;
	size_t n_pages;
	double t0;
	int e;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	if ((dst = malloc(len ? len : 1)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	if ((e = measure_stop(pid, 1000)) != 0)
		goto out;
	if ((e = measure_maps(pid, s)) == 0 &&
	    (e = smmbench_copy(pid, s, dst, len, read_s)) == 0)
		e = smmbench_copy(pid, s, dst, len, reread_s);
	(void)measure_cont(pid);
	if (e != 0)
		goto out;
	t0 = smmbench_now();
	e = measure_hash(data, len, &leaves, &n_pages);
	*leaf_s = smmbench_now() - t0;
 out:
	free(leaves);
	free(dst);
	measure_set_free(s);
	free(s);
	return e;
}

static int
smmbench_measure(const struct smmbench_opts *o)
{
	struct measure_hist h;
	struct measure_set *s = NULL;
	double *mt = NULL, *st = NULL, *rt = NULL, *rrt = NULL, *lt = NULL,
	    mmed, smed, mib, t0, wall;
	uint8_t *data = NULL;
	uint64_t bytes = 0, p99;
	size_t len = 0, chunk = o->chunk;
	unsigned nt = smmbench_cores(o->threads), i;
	int e;

	measure_set_threads(nt);
	mt = calloc(o->runs, sizeof(*mt));
	st = calloc(o->runs, sizeof(*st));
	rt = calloc(o->runs, sizeof(*rt));
	rrt = calloc(o->runs, sizeof(*rrt));
	lt = calloc(o->runs, sizeof(*lt));
	if (mt == NULL || st == NULL || rt == NULL || rrt == NULL ||
	    lt == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	if ((e = smmbench_snapshot(o->pid, &data, &len)) != 0)
		goto out;
	/* Interleaved, so the shared machine's noise hits both alike. */
	for (i = 0; i < o->runs; i++) {
		if ((e = smmbench_measure_once(o->pid, &bytes, &mt[i])) != 0 ||
		    (e = smmbench_sha(data, len, nt, &st[i])) != 0 ||
		    (e = smmbench_breakdown(o->pid, data, len, &rt[i],
		    &rrt[i], &lt[i])) != 0)
			goto out;
		if (bytes != len) {
			log_err("smmbench: target changed size (%" PRIu64
			    " vs %zu bytes)", bytes, len);
			e = VIGIL_EINVAL;
			goto out;
		}
	}
	mib = (double)len / (1024.0 * 1024.0);
	mmed = smmbench_pct(mt, o->runs, 50);
	smed = smmbench_pct(st, o->runs, 50);
	printf("   target: pid %d, %.1f MiB of executable mappings, %u "
	    "threads, %u runs (medians)\n", (int)o->pid, mib, nt, o->runs);
	printf("   measure_process (stopped, read + leaves + roots): "
	    "%.0f MiB/s (%.1f ms)\n", mib / mmed, mmed * 1e3);
	printf("   ceiling: OpenSSL SHA-256, same bytes in memory, %u threads: "
	    "%.0f MiB/s (%.1f ms)\n", nt, mib / smed, smed * 1e3);
	printf("   of which: copy out of the process %.1f ms (into a reused "
	    "buffer: %.1f ms), leaf hashing (measure_hash, %u threads) "
	    "%.1f ms\n", smmbench_pct(rt, o->runs, 50) * 1e3,
	    smmbench_pct(rrt, o->runs, 50) * 1e3, nt,
	    smmbench_pct(lt, o->runs, 50) * 1e3);
	printf("   measurement_ratio=%.2f (target >= 0.80)\n", smed / mmed);

	memset(&h, 0, sizeof(h));
	t0 = smmbench_now();
	for (i = 0; i < o->scans; i++) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			e = VIGIL_ENOMEM;
			goto out;
		}
		e = measure_process_chunked(o->pid, &chunk, o->bound_us, &h, s);
		measure_set_free(s);
		free(s);
		s = NULL;
		if (e != 0) {
			log_err("smmbench: chunked scan %u failed", i);
			goto out;
		}
		usleep(20000);
	}
	wall = smmbench_now() - t0;
	p99 = measure_hist_pct(&h, 99);
	printf("   periodic scans: %u scans, %" PRIu64 " pauses, chunk %zu "
	    "KiB at the end, %.0f ms per scan (wall, with 20 ms gaps)\n",
	    o->scans, h.count, chunk / 1024, wall * 1e3 / o->scans);
	printf("   pause histogram (<100,<250,<500,<1000,<2000,<5000,<10000,"
	    ">=10000 us):");
	for (i = 0; i < MEASURE_HIST_N; i++)
		printf(" %" PRIu64, h.bucket[i]);
	printf("\n   pause_p99<=%" PRIu64 "us (bucket edge) bound=%" PRIu64
	    "us ratio=%.2f (target <= 1.00)\n", p99, o->bound_us,
	    (double)p99 / (double)o->bound_us);
	printf("   pause_max=%" PRIu64 "us ratio=%.2f over_bound=%" PRIu64
	    "\n", h.max_us, (double)h.max_us / (double)o->bound_us,
	    h.over_bound);
	e = 0;
 out:
	free(data);
	free(mt);
	free(st);
	free(rt);
	free(rrt);
	free(lt);
	return e;
}

/* One sign request on a fresh connection; seconds in *sec. */
static int
smmbench_sign(const struct smmbench_opts *o, const struct buf *req,
    double *sec)
{
	struct buf reply = { 0 };
	struct mm_msg m;
	double t0;
	int e;

	t0 = smmbench_now();
	e = mm_call(o->socket, 30000, req->data, req->len, &reply, &m);
	*sec = smmbench_now() - t0;
	if (e == 0 && m.status != MM_ST_OK) {
		log_err("smmbench: sign refused: %s",
		    mm_status_name(m.status));
		e = VIGIL_EDENIED;
	}
	buf_free(&reply);
	return e;
}

static int
smmbench_keys(const struct smmbench_opts *o)
{
	static const uint8_t data[32] = "vigil-smmbench key request data";
	struct buf req = { 0 };
	double *lat = NULL, *fl = NULL, p50, p99, floor_s, warm;
	uint64_t bytes = 0;
	unsigned i, nf = 0;
	int e;

	measure_set_threads(smmbench_cores(o->threads));
	lat = calloc(o->n, sizeof(*lat));
	fl = calloc(o->n / SMMBENCH_FLOOR_EVERY + 1, sizeof(*fl));
	if (lat == NULL || fl == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	if ((e = mm_build_use_key(&req, MM_OP_SIGN, o->tenant, o->key, data,
	    sizeof(data))) != 0)
		goto out;
	if ((e = smmbench_sign(o, &req, &warm)) != 0)	/* warm-up */
		goto out;
	/* The floor interleaved with the requests: one measurement per
	 * SMMBENCH_FLOOR_EVERY requests, under the same machine load. */
	for (i = 0; i < o->n; i++) {
		if ((e = smmbench_sign(o, &req, &lat[i])) != 0)
			goto out;
		if (i % SMMBENCH_FLOOR_EVERY == 0 &&
		    (e = smmbench_measure_once(o->pid, &bytes, &fl[nf++])) != 0)
			goto out;
	}
	floor_s = smmbench_pct(fl, nf, 50);
	p50 = smmbench_pct(lat, o->n, 50);
	p99 = smmbench_pct(lat, o->n, 99);
	printf("   %u sign requests through %s (each measures the target "
	    "first)\n", o->n, o->socket);
	printf("   floor: one measure_process of the same %.1f MiB target: "
	    "%.1f ms (median of %u, interleaved)\n",
	    (double)bytes / (1024.0 * 1024.0), floor_s * 1e3, nf);
	printf("   key_p50=%.1fms ratio=%.2f  key_p99=%.1fms ratio=%.2f "
	    "(to the floor)\n", p50 * 1e3, p50 / floor_s, p99 * 1e3,
	    p99 / floor_s);
	e = 0;
 out:
	buf_free(&req);
	free(lat);
	free(fl);
	return e;
}

static int
smmbench_usage(void)
{
	fprintf(stderr,
	    "usage: vigil-smmbench measure --pid PID [--threads N] [--runs R]\n"
	    "                      [--scans S] [--bound-ms B] [--chunk BYTES]\n"
	    "       vigil-smmbench keys --socket SPEC --tenant T --key ID --pid PID "
	    "[--n N] [--threads T]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "runs", required_argument, NULL, 'r' },
		{ "scans", required_argument, NULL, 's' },
		{ "bound-ms", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "n", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct smmbench_opts o = { .runs = 5, .scans = 5, .n = 200,
	    .bound_us = 5000, .chunk = 262144 };
	unsigned long long v;
	const char *mode;
	int c, e = 0;

	log_init("vigil-smmbench", LOG_WARN);
	if (argc < 2)
		return smmbench_usage();
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if ((e = smmbench_uint(optarg, INT32_MAX, &v)) == 0)
				o.pid = (pid_t)v;
			break;
		case 't':
			if ((e = smmbench_uint(optarg, SMMBENCH_MAX_THREADS,
			    &v)) == 0)
				o.threads = (unsigned)v;
			break;
		case 'r':
			if ((e = smmbench_uint(optarg, SMMBENCH_MAX_RUNS,
			    &v)) == 0)
				o.runs = (unsigned)v;
			break;
		case 's':
			if ((e = smmbench_uint(optarg, SMMBENCH_MAX_RUNS,
			    &v)) == 0)
				o.scans = (unsigned)v;
			break;
		case 'b':
			if ((e = smmbench_uint(optarg, 60000, &v)) == 0)
				o.bound_us = v * 1000;
			break;
		case 'c':
			if ((e = smmbench_uint(optarg, MEASURE_MAX_REGION_SIZE,
			    &v)) == 0)
				o.chunk = (size_t)v;
			break;
		case 'S':
			o.socket = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'T':
			o.tenant = optarg;
			break;
		case 'n':
			if ((e = smmbench_uint(optarg, SMMBENCH_MAX_N,
			    &v)) == 0)
				o.n = (unsigned)v;
			break;
		default:
			return smmbench_usage();
		}
		if (e != 0)
			return smmbench_usage();
	}
	if (optind != argc || o.pid <= 0)
		return smmbench_usage();
	if (strcmp(mode, "measure") == 0) {
		if (o.runs == 0 || o.scans == 0 || o.bound_us == 0)
			return smmbench_usage();
		e = smmbench_measure(&o);
	} else if (strcmp(mode, "keys") == 0) {
		if (o.socket == NULL || o.key == NULL || o.tenant == NULL ||
		    o.n == 0 || strlen(o.key) > MM_MAX_KEYID ||
		    strlen(o.tenant) > MM_MAX_TENANT)
			return smmbench_usage();
		e = smmbench_keys(&o);
	} else {
		return smmbench_usage();
	}
	if (e != 0) {
		fprintf(stderr, "vigil-smmbench: %s failed: %s\n", mode,
		    vigil_strerror(e));
		return 1;
	}
	return 0;
}
