/* vigil-smmd's measurement engine: the executable mappings of a running
 * process (/proc/PID/maps + /proc/PID/mem, read while the process is
 * stopped) and image files, hashed into Merkle trees over 4 KiB pages
 * (layout in smmlog.h) on all cores. */
#ifndef VIGIL_SMM_MEASURE_H
#define VIGIL_SMM_MEASURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smmlog.h"

#define MEASURE_MAX_REGIONS	64u
#define MEASURE_MAX_REGION_SIZE	(1024ull * 1024 * 1024)	/* 1 GiB */

/* One measured region: a mapping "PATH@0xOFFSET" or an image file path. */
struct measure_region {
	char name[SMMLOG_MAX_REGION + 1];
	uint64_t addr;		/* start address (process) or 0 (file) */
	uint64_t off;		/* file offset of addr (process) */
	uint64_t size;		/* bytes */
	size_t n_pages;
	uint8_t (*leaves)[SMMLOG_HASH_LEN];	/* n_pages leaves */
	uint8_t root[SMMLOG_HASH_LEN];
	int error;		/* 0, or the VIGIL_E* reading it failed */
};

struct measure_set {
	size_t n;
	struct measure_region r[MEASURE_MAX_REGIONS];
};

void measure_set_free(struct measure_set *s);	/* frees leaves; NULL-safe */

/* Worker threads for hashing: 0 = all online cores. */
void measure_set_threads(unsigned n);

/* Stops pid (SIGSTOP) and waits until /proc/PID/stat shows it stopped
 * ('T' or 't'), at most timeout_ms. measure_cont sends SIGCONT. */
int measure_stop(pid_t pid, int timeout_ms);
int measure_cont(pid_t pid);

/* The executable file-backed mappings of pid (name, addr, size; no
 * hashing): fills s->r[i].name/addr/off/size, s->n. Adjacent mappings of
 * the same file, contiguous in memory and in the file, are one region
 * (an mprotect can split a mapping; the region's name must not change). */
int measure_maps(pid_t pid, struct measure_set *s);

/* Reads len bytes of pid's memory at addr into dst (/proc/PID/mem). */
int measure_read_mem(pid_t pid, uint64_t addr, uint8_t *dst, size_t len);

/* Leaves of len bytes at data (4 KiB pages, the last one zero-padded),
 * hashed by the worker threads. *leaves is allocated; caller frees. */
int measure_hash(const uint8_t *data, size_t len,
    uint8_t (**leaves)[SMMLOG_HASH_LEN], size_t *n_pages);

/* A whole process measurement: maps, reads and hashes every executable
 * mapping. The caller stops the process first (measure_stop) and
 * continues it when it no longer needs the result to hold. */
int measure_process(pid_t pid, struct measure_set *out);

/* An image file, one region named by its path. */
int measure_file(const char *path, struct measure_region *out);

/* Pages where a and b differ (both n leaves), ascending, at most max;
 * *count is the number of differing pages (may exceed max). */
size_t measure_diff(const uint8_t (*a)[SMMLOG_HASH_LEN],
    const uint8_t (*b)[SMMLOG_HASH_LEN], size_t n, uint32_t *pages,
    size_t max);

/* Pause histogram of periodic scans (µs buckets). */
#define MEASURE_HIST_N 8
struct measure_hist {
	uint64_t bucket[MEASURE_HIST_N];	/* <100,<250,<500,<1000,
						   <2000,<5000,<10000,>= */
	uint64_t count, over_bound, max_us;
};
void measure_hist_add(struct measure_hist *h, uint64_t us, uint64_t bound_us);
/* p-th percentile (0..100) as the upper edge of its bucket, in µs. */
uint64_t measure_hist_pct(const struct measure_hist *h, unsigned p);

/* A chunked scan of one process: every executable mapping read in chunks
 * of at most *chunk bytes, the process stopped only while one chunk is
 * copied; each pause timed into hist. A pause over bound_us halves *chunk
 * for the next (never below 4 KiB). Hashing happens with the process
 * running. Not atomic across chunks (a key request uses
 * measure_process instead). */
int measure_process_chunked(pid_t pid, size_t *chunk, uint64_t bound_us,
    struct measure_hist *hist, struct measure_set *out);

#endif
