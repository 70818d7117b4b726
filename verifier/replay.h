/* Replays of recorded computations (DESIGN.md "Repeatable computations";
 * docs/computations.md "Replay" and "The sandbox").
 *
 * The verifier prepares a job directory (job.json, expected.bin with the
 * recorded state||cumulative digests, work/ with the executable and the
 * inputs taken from the blob store and checked against the recipe's
 * hashes), then starts one worker process per replay: fork + exec of
 * `vigil-verifier replay-worker JOBDIR` with every other descriptor closed
 * and an empty environment, so a worker holds none of the verifier's keys,
 * tokens or database handles. The worker enters the sandbox and runs the
 * recipe through ckpt_run (common/ckpt.h), comparing every checkpoint with
 * the record, and prints one JSON result on its standard output.
 *
 * Sandbox (docs/computations.md "The sandbox"): user, mount, PID, IPC and
 * network namespaces in every mode; a root of its own (a tmpfs with /usr
 * read-only, five /dev nodes, a fresh /proc, /work and /tmp tmpfs, entered
 * by pivot_root: none of the verifier's files); uid/gid 65534 inside and
 * outside (the worker maps it with CAP_SETUID/CAP_SETGID, or is root);
 * no_new_privs, rlimits (CPU, AS, FSIZE, NOFILE, NPROC, CORE), a seccomp
 * filter (libseccomp) refusing AF_INET/AF_INET6/AF_PACKET sockets,
 * ptrace, mount, namespace and module calls, and signals to pid 1 or -1,
 * and a wall-clock timeout. A missing part ends the replay in `error`
 * ("sandbox unavailable: ..."); allow_weak accepts only the verifier's own
 * uid (no capabilities to map another) and a missing seccomp filter. */
#ifndef VIGIL_REPLAY_H
#define VIGIL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_comp.h"

#define REPLAY_UID 65534u	/* the sandbox's user and group (nobody) */
#define REPLAY_MAX_EXPECTED (4u * 1024 * 1024)	/* checkpoints per replay */

struct replay_opts {
	/* Executed as "EXE replay-worker JOBDIR". NULL: fork and call
	 * replay_worker_main in the child, without exec (unit tests). */
	const char *worker_exe;
	unsigned timeout_s;	/* 0: REPLAY default of 600 s */
	int allow_weak;		/* [replay] allow_weak_sandbox */
	const char *dir;	/* parent of job directories; NULL: /tmp */
};

struct replay_outcome {
	char status[16];		/* match|diverged|error */
	uint64_t compared;		/* checkpoints compared */
	int have_div;
	uint64_t div_index;
	int have_expected, have_actual;
	uint8_t exp_state[32], exp_cum[32], act_state[32], act_cum[32];
	char error[256];
	char weak[256];			/* what the sandbox lacked, or "" */
};

/* What a worker runs (job.json + expected.bin). */
struct replay_spec {
	const char *exe;		/* work/EXE is executed; NULL: argv[0] */
	char *const *argv;		/* argv[0] as the recipe gives it */
	size_t argc;
	char *const *env;		/* "NAME=VALUE" */
	size_t envc;
	uint64_t every_bytes;
	uint8_t c0[32];
	unsigned timeout_s;
	int allow_weak;
	const uint8_t *expected;	/* n_expected x (state || cumulative) */
	size_t n_expected;
};

/* Makes PARENT/vigil-replay-XXXXXX (mode 0700) with empty work/, bin/. */
int replay_jobdir_new(const char *parent, char *out, size_t cap);
/* Writes job.json and expected.bin into jobdir. */
int replay_job_write(const char *jobdir, const struct replay_spec *sp);
/* Starts the worker on jobdir and waits for its result (the wall-clock
 * limit is the job's timeout plus a margin). 0 with *out filled; a
 * negative code only for an internal failure. */
int replay_job_run(const char *jobdir, const struct replay_opts *o,
    struct replay_outcome *out);
/* Removes the job directory and everything in it. */
void replay_jobdir_remove(const char *jobdir);

/* From the store: the computation's recipe, its recorded checkpoints and
 * blobs into jobdir. 0 when the job is ready; 0 with out->status "error"
 * and the reason (input missing, executable differs, record incomplete)
 * when it cannot run; negative codes for internal failures. */
int replay_prepare(struct store *s, const char *comp_id, const char *jobdir,
    const struct replay_opts *o, struct replay_outcome *out);
/* Prepare, run, clean up: the whole replay of one computation. */
int replay_execute(struct store *s, const struct replay_opts *o,
    const char *comp_id, struct replay_outcome *out);
/* {"index", "expected_state", ...} of a divergence (malloc'd), or NULL
 * in *out when there is none. */
int replay_divergence_json(const struct replay_outcome *o, char **out);

/* The replay-worker subcommand: runs the job in jobdir and prints the
 * result JSON on standard output. Returns the process exit status. */
int replay_worker_main(const char *jobdir);

/* Worker threads that take queued replays from the store (polling), run
 * them and store the results. Replays left running by a previous process
 * are marked error at start. n = 0 starts nothing. */
struct replay_pool;
int replay_pool_start(struct store *s, const struct replay_opts *o,
    unsigned n, struct replay_pool **out);
void replay_pool_stop(struct replay_pool *p);

#endif
