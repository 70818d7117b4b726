/* fakehv: the test "hypervisor" whose code pages vigil-smmd measures.
 *
 *   fakehv [--pid-file FILE]
 *
 * It runs a small loop in its own code. On SIGUSR1 it rewrites a few
 * bytes of its own code (in fakehv_pad, a page of code of its own) with
 * mprotect + write, then restores the protection and keeps
 * running. It lets any process of the same user (or with CAP_SYS_PTRACE)
 * read its memory (PR_SET_PTRACER_ANY, for Yama). SIGTERM ends it. */
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

int
main(int argc, char **argv)
{
	struct sigaction sa;
	volatile int acc = 0;
	FILE *f;

	(void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fakehv_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = fakehv_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc == 3 && strcmp(argv[1], "--pid-file") == 0) {
		if ((f = fopen(argv[2], "w")) == NULL) {
			perror("fakehv: pid file");
			return 1;
		}
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	} else if (argc != 1) {
		fprintf(stderr, "usage: fakehv [--pid-file FILE]\n");
		return 2;
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
