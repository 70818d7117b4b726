/* fakehv: the test "hypervisor" whose code pages vigil-smmd measures.
 *
 *   fakehv [--pid-file FILE] [--exec-mib N]
 *
 * --exec-mib N (bench only) also maps N MiB of executable code-like bytes
 * (deterministic, the same in every run) from a memfd, mapped
 * PROT_READ|PROT_EXEC: a file-backed executable mapping
 * ("/memfd:fakehv-exec"), so the measurement engine measures it like a
 * hypervisor image. Without it fakehv maps nothing extra.
 *
 * It runs a small loop in its own code. On SIGUSR1 it rewrites a few
 * bytes of its own code (in fakehv_pad, a page of code of its own) with
 * mprotect + write, then restores the protection and keeps
 * running. It lets any process of the same user (or with CAP_SYS_PTRACE)
 * read its memory (PR_SET_PTRACER_ANY, for Yama). SIGTERM ends it. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static volatile sig_atomic_t fakehv_tamper, fakehv_stop;

/* Two pages of code nobody calls (0xc3 = ret), page-aligned: the patch
 * lands in the first, which holds nothing else. */
__asm__(".section .text.fakehv_pad,\"ax\",@progbits\n"
    ".balign 4096\n"
    ".globl fakehv_pad\n"
    "fakehv_pad:\n"
    ".skip 8192, 0xc3\n"
    ".previous\n");
extern const uint8_t fakehv_pad[];

__attribute__((noinline)) static int
fakehv_work(int x)
{
	return x * 3 + 1;
}

static void
fakehv_on_usr1(int sig)
{
	fakehv_tamper = 1;
}

static void
fakehv_on_term(int sig)
{
	fakehv_stop = 1;
}

/* Overwrites 4 bytes in the middle of fakehv_pad's first page. */
static int
fakehv_patch(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t page = (uintptr_t)fakehv_pad & ~(uintptr_t)(pg - 1);
	static const uint8_t junk[4] = { 0xcc, 0xcc, 0x90, 0xcc };

	if (mprotect((void *)page, (size_t)pg, PROT_READ | PROT_WRITE |
	    PROT_EXEC) != 0) {
		perror("fakehv: mprotect");
		return -1;
	}
	memcpy((uint8_t *)page + 2048, junk, sizeof(junk));
	if (mprotect((void *)page, (size_t)pg, PROT_READ | PROT_EXEC) != 0) {
		perror("fakehv: mprotect");
		return -1;
	}
	fprintf(stderr, "fakehv: patched code page at %p\n", (void *)page);
	return 0;
}

/* Maps mib MiB of deterministic bytes (an xorshift stream) from a memfd,
 * read-only and executable. */
static int
fakehv_map_exec(unsigned long mib)
{
	size_t len = (size_t)mib << 20, i;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint64_t *p;
	void *m;
	int fd;

	if ((fd = memfd_create("fakehv-exec", MFD_CLOEXEC)) < 0) {
		perror("fakehv: memfd_create");
		return -1;
	}
	if (ftruncate(fd, (off_t)len) != 0) {
		perror("fakehv: ftruncate");
		close(fd);
		return -1;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("fakehv: mmap");
		close(fd);
		return -1;
	}
	p = m;
	for (i = 0; i < len / sizeof(*p); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	/* Write access gone: a read-only, executable mapping of the file. */
	if (mprotect(m, len, PROT_READ | PROT_EXEC) != 0) {
		perror("fakehv: mprotect exec region");
		close(fd);
		return -1;
	}
	close(fd);
	fprintf(stderr, "fakehv: %lu MiB executable region at %p\n", mib, m);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	volatile int acc = 0;
	const char *pid_file = NULL;
	unsigned long mib = 0;
	char *end;
	FILE *f;
	int i;

	(void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fakehv_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = fakehv_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 1; i < argc; i += 2) {
		if (i + 1 < argc && strcmp(argv[i], "--pid-file") == 0) {
			pid_file = argv[i + 1];
		} else if (i + 1 < argc && strcmp(argv[i], "--exec-mib") == 0) {
			errno = 0;
			mib = strtoul(argv[i + 1], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i + 1] ||
			    mib == 0 || mib > 1024) {
				fprintf(stderr, "fakehv: --exec-mib 1..1024\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: fakehv [--pid-file FILE] "
			    "[--exec-mib N]\n");
			return 2;
		}
	}
	if (mib > 0 && fakehv_map_exec(mib) != 0)
		return 1;
	/* The pid file last: when it appears, the process is ready. */
	if (pid_file != NULL) {
		if ((f = fopen(pid_file, "w")) == NULL) {
			perror("fakehv: pid file");
			return 1;
		}
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	while (!fakehv_stop) {
		if (fakehv_tamper) {
			fakehv_tamper = 0;
			if (fakehv_patch() != 0)
				return 1;
		}
		acc = fakehv_work(acc) & 0xffff;
		usleep(1000);
	}
	return 0;
}
