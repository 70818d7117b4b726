/* The store's tables for repeatable computations (db/migrations/
 * 0003_computations.sql): computations, their checkpoints with verdicts,
 * replays, and the quote history whose windows a checkpoint's TPM clock must
 * fall in. Same rules as store.h: thread-safe, writes through the writer
 * thread, 0 or a negative VIGIL_E* code. */
#ifndef VIGIL_STORE_COMP_H
#define VIGIL_STORE_COMP_H

#include <stddef.h>
#include <stdint.h>

#include "verifier/store.h"

#define COMP_ID_LEN 32		/* hex characters of a computation/replay id */
#define COMP_DIGEST_LEN 32

struct comp_rec {
	char id[COMP_ID_LEN + 1];
	char tenant[64];
	char name[128];
	char *recipe_json;		/* malloc'd (reads); borrowed (add) */
	uint8_t recipe_sha256[COMP_DIGEST_LEN];
	uint8_t c0[COMP_DIGEST_LEN];
	char agent_id[65];		/* "" until the first checkpoint */
	char status[16];		/* recording|complete|invalid */
	char reason[256];		/* why invalid, or "" */
	int has_end;			/* the ComputationEnd arrived */
	int exit_status;
	uint64_t count;
	uint8_t final_cum[COMP_DIGEST_LEN];
	int64_t created_at;
};
/* Frees recipe_json of a record read from the store. */
void comp_rec_clear(struct comp_rec *c);
void comp_recs_free(struct comp_rec *rows, size_t n);

/* VIGIL_EEXIST if the id is taken. */
int store_comp_add(struct store *s, const struct comp_rec *c);
/* VIGIL_ENOTFOUND if none. */
int store_comp_get(struct store *s, const char *id, struct comp_rec *out);
/* Computations ordered by id after after_id ("" first page); tenant NULL
 * lists every tenant's. *rows is malloc'd: comp_recs_free. */
int store_comp_list(struct store *s, const char *tenant, const char *after_id,
    size_t limit, struct comp_rec **rows, size_t *n);

enum ckpt_verdict {
	CKPT_VALID = 0,
	CKPT_FLAGGED = 1,	/* evidence holds, its context does not */
	CKPT_REJECTED = 2,	/* evidence does not hold */
};
const char *ckpt_verdict_name(enum ckpt_verdict v);

struct ckpt_row {
	uint64_t idx;
	char agent_id[65];
	uint8_t state[COMP_DIGEST_LEN];
	uint8_t cum[COMP_DIGEST_LEN];
	int commitment_ok;
	uint64_t clock;
	uint32_t reset_count, restart_count;
	enum ckpt_verdict verdict;
	char reason[256];
	int pending;		/* clock check waits for the next quote */
	int64_t at;
};

/* Records one appraised checkpoint once: a second row for the same index
 * is ignored (*added = 0), unless the stored one's quote did not verify
 * (commitment_ok 0) and this one's did, which replaces it. A row whose
 * quote verified sets the computation's node if unset. An ended
 * computation's status is decided again (see store_comp_end).
 * VIGIL_ENOTFOUND: unknown computation. */
int store_ckpt_add(struct store *s, const char *comp_id,
    const struct ckpt_row *r, int *added);
/* VIGIL_ENOTFOUND if that index is not recorded. */
int store_ckpt_get(struct store *s, const char *comp_id, uint64_t idx,
    struct ckpt_row *out);
/* All checkpoints in index order; *rows malloc'd (free). */
int store_ckpt_list(struct store *s, const char *comp_id,
    struct ckpt_row **rows, size_t *n);

/* The ComputationEnd: records exit status, count and final C, and sets
 * status complete, or invalid (with the reason) when a checkpoint is not
 * valid, the count or the final cumulative digest disagree with the
 * recorded checkpoints, or another node sent it; it stays recording while
 * a checkpoint's clock check is pending. A repeated end is ignored.
 * status_out (16 bytes) gets the resulting status. */
int store_comp_end(struct store *s, const char *comp_id,
    const char *agent_id, int exit_status, uint64_t count,
    const uint8_t final_cum[COMP_DIGEST_LEN], char status_out[16]);

/* Checkpoints of an agent whose clock check is pending (at most 10000). */
struct ckpt_pending {
	char comp_id[COMP_ID_LEN + 1];
	struct ckpt_row r;
};
int store_ckpt_pending(struct store *s, const char *agent_id,
    struct ckpt_pending **rows, size_t *n);
/* Stores the final verdict and reason of a pending checkpoint (pending
 * becomes 0) and recomputes its ended computation's status. */
int store_ckpt_resolve(struct store *s, const char *comp_id,
    const struct ckpt_row *r);

/* ---- quote history ---- */
struct qh_row {
	uint64_t clock;
	char status[24];
	int64_t at;
};
/* Adds one accepted push quote; the agent's rows older than 30 days
 * before `at` are deleted in the same job. */
int store_qh_add(struct store *s, const char *agent_id, uint32_t reset_count,
    uint32_t restart_count, uint64_t clock, const char *status, int64_t at);
/* In the (reset, restart) epoch of the agent: the accepted quote with the
 * greatest clock <= clock (lo) and the one with the least clock >= clock
 * (hi); *have_lo / *have_hi say whether each exists. */
int store_qh_window(struct store *s, const char *agent_id,
    uint32_t reset_count, uint32_t restart_count, uint64_t clock,
    struct qh_row *lo, int *have_lo, struct qh_row *hi, int *have_hi);

/* 1 in *exists if a blob with this hash is stored. */
int store_comp_blob_exists(struct store *s, const uint8_t sha[SHA256_LEN],
    int *exists);

/* Blob bytes the tenant holds (tenant_blobs; every blob it uploaded). */
int store_tenant_blob_bytes(struct store *s, const char *tenant,
    uint64_t *held);
/* Stores data (its SHA-256 is sha) as a blob the tenant holds, in one
 * transaction with the quota check: when the tenant does not hold it yet
 * and its held bytes plus len would pass quota (0: no quota), nothing is
 * written and VIGIL_ETOOBIG is returned. *held gets the tenant's bytes
 * before this upload. Bytes already stored (by anyone) are not written
 * again. */
int store_tenant_blob_put(struct store *s, const char *tenant,
    const uint8_t sha[SHA256_LEN], const uint8_t *data, size_t len,
    uint64_t quota, uint64_t *held);

/* ---- replays ---- */
struct replay_rec {
	char id[COMP_ID_LEN + 1];
	char comp_id[COMP_ID_LEN + 1];
	char tenant[64];
	char status[16];		/* queued|running|match|diverged|error */
	uint64_t compared;
	char *divergence_json;		/* malloc'd or NULL */
	char *error;			/* malloc'd or NULL */
	int64_t created_at, started_at, finished_at;
};
void replay_rec_clear(struct replay_rec *r);

int store_replay_add(struct store *s, const struct replay_rec *r);
int store_replay_get(struct store *s, const char *id, struct replay_rec *out);
/* The newest replay of a computation; VIGIL_ENOTFOUND if none. */
int store_replay_latest(struct store *s, const char *comp_id,
    struct replay_rec *out);
/* Takes the oldest queued replay and marks it running; VIGIL_ENOTFOUND
 * when none is queued. */
int store_replay_claim(struct store *s, int64_t now, struct replay_rec *out);
int store_replay_finish(struct store *s, const char *id, const char *status,
    uint64_t compared, const char *divergence_json, const char *error,
    int64_t now);
/* At start: replays left running by a previous process end in error. */
int store_replay_recover(struct store *s, int64_t now);

#endif
