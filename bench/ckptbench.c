/* vigil-ckptbench: how fast the checkpoint runner (common/ckpt.c, the code
 * replay workers and `vigil record` use) hashes a program's output, next to
 * the machine's SHA-256 throughput measured in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ckpt.h"
#include "err.h"
#include "log.h"

static double
cb_now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SHA-256 bytes per second of one thread over 64 KiB updates. */
static double
cb_sha256_rate(void)
{
	static unsigned char blk[65536];
	unsigned char md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	double t0, t1;
	size_t n = 0;

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	t0 = cb_now(CLOCK_THREAD_CPUTIME_ID);
	do {
		EVP_DigestUpdate(c, blk, sizeof(blk));
		n += sizeof(blk);
		t1 = cb_now(CLOCK_THREAD_CPUTIME_ID);
	} while (t1 - t0 < 2.0);
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	return (double)n / (t1 - t0);
}

static int
cb_count(void *arg, uint64_t index, const uint8_t state[CKPT_LEN],
    const uint8_t cum[CKPT_LEN])
{
	(*(uint64_t *)arg)++;
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long long mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
	char count[32], *args[] = { "dd", "if=/dev/zero", "bs=1M", count,
	    "status=none", NULL };
	char *envp[] = { NULL };
	uint8_t c0[CKPT_LEN] = { 0 };
	struct ckpt_run_opts o;
	struct ckpt_result res;
	uint64_t n = 0;
	double t0, wall, cpu0, cpu, ceiling;

	log_init("vigil-ckptbench", LOG_WARN);
	if (mib == 0 || mib > 65536) {
		fprintf(stderr, "usage: vigil-ckptbench [MiB (default 1024)]\n");
		return 2;
	}
	snprintf(count, sizeof(count), "count=%llu", mib);
	memset(&o, 0, sizeof(o));
	o.argv = args;
	o.envp = envp;
	o.every_bytes = 4u << 20;
	o.c0 = c0;
	o.passthrough_fd = -1;
	o.on_checkpoint = cb_count;
	o.arg = &n;
	cpu0 = cb_now(CLOCK_PROCESS_CPUTIME_ID);
	t0 = cb_now(CLOCK_MONOTONIC);
	if (ckpt_run_exec("/usr/bin/dd", &o, &res) != 0 ||
	    res.bytes != (uint64_t)mib << 20) {
		fprintf(stderr, "vigil-ckptbench: the run failed\n");
		return 1;
	}
	wall = cb_now(CLOCK_MONOTONIC) - t0;
	cpu = cb_now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	ceiling = cb_sha256_rate();
	printf("checkpoint runner: %llu MiB, %llu checkpoints in %.2f s wall "
	    "(%.0f MiB/s), %.2f s CPU in the runner\n", mib,
	    (unsigned long long)n, wall, (double)mib / wall, cpu);
	printf("openssl SHA-256, one thread: %.0f MiB/s\n",
	    ceiling / 1048576.0);
	/* The producer runs on the other core: per CPU-second of the runner
	 * is the runner's own cost; wall time also counts the producer and
	 * whatever else shares the machine. */
	printf("replay hashing throughput ratio: %.2f per runner CPU-second, "
	    "%.2f by wall time (runner MiB/s / SHA-256 MiB/s; target 0.8)\n",
	    ((double)mib / cpu) / (ceiling / 1048576.0),
	    ((double)mib / wall) / (ceiling / 1048576.0));
	return 0;
}
