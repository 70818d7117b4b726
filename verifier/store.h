/* The verifier's store: SQLite in WAL mode, reached only through this
 * interface (so a PostgreSQL backend can follow). Migrations in
 * db/migrations/NNNN_name.sql are embedded at build time, applied in order
 * at open and recorded in schema_version.
 *
 * Writes go through one writer thread that commits in batches (group
 * commit): each write call queues its work and returns only after the
 * batch holding it committed (0) or failed (VIGIL_EDB). Each queued job
 * runs in its own SAVEPOINT, so one failing job does not sink the batch.
 * Reads use per-thread reader connections. All functions are thread-safe.
 * Out-structs that own memory have a *_free; freeing NULL is a no-op. */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrs.h"

struct store;

int store_open(const char *path, struct store **out);
void store_close(struct store *s);
/* Schema version after migrations (for /readyz and tests). */
int store_schema_version(struct store *s, int *out);
/* 0 if a read and the writer work (for /readyz). */
int store_ping(struct store *s);

/* ---- agents (nodes) ---- */
enum agent_state {
	AGENT_PENDING = 0,	/* registered, credential not yet activated */
	AGENT_ACTIVE = 1,
};

struct agent_rec {
	char id[65];
	char hostname[256];
	enum agent_state state;
	int reenrol_approved;	/* operator allowed a new EK/AK once */
	uint8_t *ek_pub; size_t ek_pub_len;	/* marshaled TPM2B_PUBLIC */
	uint8_t *ek_cert; size_t ek_cert_len;	/* DER */
	uint8_t *ak_pub; size_t ak_pub_len;	/* marshaled TPM2B_PUBLIC */
	uint8_t ak_name[128]; size_t ak_name_len;
	uint8_t secret_hash[SHA256_LEN];	/* SHA-256 of the credential secret */
	int64_t created_at;	/* unix seconds */
};
void agent_rec_free(struct agent_rec *a);	/* frees the members */

int store_agent_get(struct store *s, const char *id, struct agent_rec *out);
/* The id of the agent whose AK has this name; VIGIL_ENOTFOUND if none. */
int store_agent_by_ak_name(struct store *s, const uint8_t *name, size_t len,
    char id_out[65]);
/* Inserts a new pending agent, or replaces a pending one's record, or -
 * when reenrol_approved is set on the existing record - replaces its EK/AK
 * and clears the approval. VIGIL_EEXIST if active and not approved. */
int store_agent_register(struct store *s, const struct agent_rec *a);
int store_agent_activate(struct store *s, const char *id);
int store_agent_approve_reenrol(struct store *s, const char *id);

/* ---- evidence items: idempotent on (agent, epoch, seq) ---- */
enum item_outcome {
	ITEM_NEW = 0,		/* stored now */
	ITEM_DUPLICATE = 1,	/* same key, same content: acknowledged again */
	ITEM_CONFLICT = 2,	/* same key, different content: flagged */
};

struct item_in {
	uint64_t epoch, seq;
	uint32_t kind;
	const uint8_t *body; size_t body_len;
	/* for kind == event log: */
	uint32_t boot_count; uint64_t offset;
	const uint8_t *chunk; size_t chunk_len;
};

/* The result of one appraisal, EAR-shaped. */
struct appraisal {
	char status[24];		/* affirming|warning|contraindicated|none */
	char *vector_json;		/* {"instance-identity":2,...} */
	char *reasons_json;		/* ["quote nonce ...", ...] */
	int64_t at;			/* unix seconds */
};

struct quote_state {
	uint64_t clock;
	uint32_t reset_count, restart_count;
	int safe;
	int64_t at;
};

/* Everything one evidence push commits, in one job of the writer: the raw
 * bundle (content-addressed blob), the items (event-log chunks appended to
 * the log of their boot; a chunk must start at the log's current end, or
 * lie wholly inside it with equal bytes), the quote state and the
 * appraisal. An appraisal equal (status, vector, reasons) to the agent's
 * latest only moves that row's last_at; otherwise a row is appended. */
struct evidence_commit {
	const char *agent_id;
	const uint8_t *bundle; size_t bundle_len;
	const struct item_in *items; size_t n_items;
	const struct quote_state *qs;	/* NULL: quote not accepted */
	const struct appraisal *appraisal;
};

struct evidence_result {
	enum item_outcome *outcomes;	/* n_items, caller-allocated */
	uint64_t acked_epoch, acked_seq;	/* highest committed in order */
};

int store_commit_evidence(struct store *s, const struct evidence_commit *c,
    struct evidence_result *r);
/* The event log of one boot as stored so far (malloc'd; *len 0 if none). */
int store_evlog_get(struct store *s, const char *agent_id,
    uint32_t boot_count, uint8_t **out, size_t *len);
int store_quote_state_get(struct store *s, const char *agent_id,
    struct quote_state *out);	/* VIGIL_ENOTFOUND if none yet */
/* Stores an appraisal without evidence (e.g. the freshness sweep turning a
 * node `none`), with the same dedup rule. */
int store_appraisal_add(struct store *s, const char *agent_id,
    const struct appraisal *a);

/* ---- reads for the API ---- */
struct node_row {
	char id[65];
	char hostname[256];
	char status[24];
	int64_t last_appraisal_at, last_seen_at, created_at;
};

/* Nodes ordered by id, after cursor (an id, or "" for the first page). */
int store_nodes_list(struct store *s, const char *after_id, size_t limit,
    struct node_row **rows, size_t *n);

struct appraisal_row {
	int64_t id;
	struct appraisal a;
	int64_t first_at, last_at;
};
void appraisal_rows_free(struct appraisal_row *rows, size_t n);

/* Newest first; before_id 0 for the first page. */
int store_appraisals_list(struct store *s, const char *agent_id,
    int64_t before_id, size_t limit, struct appraisal_row **rows, size_t *n);
int store_appraisal_latest(struct store *s, const char *agent_id,
    struct appraisal_row *out);

/* ---- reference values: versioned JSON documents ---- */
/* Stores doc as the next version; *version gets its number. */
int store_refvals_put(struct store *s, const char *doc_json,
    const char *author, int64_t *version);
/* Latest document (malloc'd) and version; VIGIL_ENOTFOUND if none. */
int store_refvals_get(struct store *s, char **doc_json, int64_t *version);

/* ---- tokens: only SHA-256 of the token is stored ---- */
struct token_rec {
	char role[16];		/* operator | tenant */
	char tenant[64];	/* "" for operators */
	int revoked;
};
int store_token_add(struct store *s, const uint8_t hash[SHA256_LEN],
    const char *role, const char *tenant, const char *label);
int store_token_lookup(struct store *s, const uint8_t hash[SHA256_LEN],
    struct token_rec *out);	/* VIGIL_ENOTFOUND / VIGIL_EDENIED if revoked */

/* ---- audit ---- */
int store_audit(struct store *s, const char *who, const char *action,
    const char *object, const char *detail);

#endif
