/* Checkpoints of repeatable computations (DESIGN.md "Repeatable
 * computations", trust chain step 6). The recorder (`vigil record`) and the
 * verifier's replay workers run a command through this same code, so the
 * checkpoint boundaries and digests are computed one way only.
 *
 *   C_0   = SHA-256("vigil-recipe" || recipe digest)
 *   state_i = SHA-256(all standard output of the command up to checkpoint i)
 *   C_i   = SHA-256(C_{i-1} || state_i)                       (i >= 1)
 *   commitment_i = SHA-256("vigil-ckpt" || computation id (its ASCII) ||
 *                          u64 big-endian i || state_i || C_i)
 *   (the TPM quote of checkpoint i carries commitment_i as extraData)
 *
 * A checkpoint is cut every `every_bytes` bytes of standard output (exactly
 * at that byte count), and at each marker the program writes on the
 * descriptor named by VIGIL_CHECKPOINT_FD: one end of a socket pair; the
 * program writes one byte and waits for a one-byte answer, sent only after
 * all output written before the marker has been read and hashed. At the
 * end, one final checkpoint is cut if output followed the last one (or if
 * there was none). Standard error is passed through, never hashed. */
#ifndef VIGIL_CKPT_H
#define VIGIL_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_LEN 32

void ckpt_c0(const uint8_t recipe_digest[CKPT_LEN], uint8_t c0[CKPT_LEN]);
void ckpt_next(const uint8_t prev[CKPT_LEN], const uint8_t state[CKPT_LEN],
    uint8_t out[CKPT_LEN]);
void ckpt_commitment(const char *computation_id, uint64_t index,
    const uint8_t state[CKPT_LEN], const uint8_t c[CKPT_LEN],
    uint8_t out[CKPT_LEN]);

struct ckpt_run_opts {
	char *const *argv;		/* argv[0] is the executable path */
	char *const *envp;		/* the whole environment of the child */
	const char *cwd;		/* NULL: inherit */
	uint64_t every_bytes;		/* 0: markers only */
	const uint8_t *c0;		/* CKPT_LEN bytes */
	int timeout_s;			/* 0: none; else the child is killed */
	int passthrough_fd;		/* copy stdout here too (-1: no) */
	/* Called for each checkpoint, in order, index from 1. A non-zero
	 * return stops the run (the child is killed) and is returned. */
	int (*on_checkpoint)(void *arg, uint64_t index,
	    const uint8_t state[CKPT_LEN], const uint8_t cum[CKPT_LEN]);
	void *arg;
	/* Called in the child after fork, before exec (the replay sandbox);
	 * a non-zero return makes the child exit with status 127. */
	int (*child_setup)(void *arg);
};

struct ckpt_result {
	int exit_status;	/* as from waitpid: use WIFEXITED etc. */
	int timed_out;
	uint64_t count;		/* checkpoints cut */
	uint64_t bytes;		/* stdout bytes hashed */
	uint8_t final[CKPT_LEN];	/* C_count (C_0 if count == 0) */
};

int ckpt_run(const struct ckpt_run_opts *o, struct ckpt_result *res);
/* Details of the rules above (docs/record.md "Where checkpoints fall"):
 * size boundaries are the multiples of every_bytes of the whole output,
 * independent of markers; every marker byte cuts one checkpoint, also
 * without new output since the last; the answer byte is '\n' (a shell
 * waits with `read`). The child gets stdin /dev/null, stdout the pipe,
 * stderr inherited, the socket as descriptor 3 and nothing else, its own
 * process group (killed as a whole on timeout or error); child_setup runs
 * after the descriptors are set, before chdir(cwd) and execve.
 *
 * As ckpt_run, but executes the file at path with argv[0] as given (the
 * recorder runs the resolved /usr/bin/prog with the recipe's argv[0],
 * e.g. "prog"; a replay runs DIR/prog with the same argv). Returns 0 with
 * res filled (exit_status as from waitpid; timed_out set when the
 * timeout killed the command, and then no final checkpoint is cut), the
 * non-zero return of on_checkpoint, or a VIGIL_E* code. */
int ckpt_run_exec(const char *path, const struct ckpt_run_opts *o,
    struct ckpt_result *res);

#endif
