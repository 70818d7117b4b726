/* The verifier's store: SQLite in WAL mode, reached only through this
 * interface (so a PostgreSQL backend can follow). Migrations in
 * db/migrations/NNNN_name.sql are embedded at build time, applied in order
 * at open and recorded in schema_version.
 *
 * Writes go through one writer thread that commits in batches (group
 * commit): each write call queues its work and returns only after the
 * batch holding it committed (0) or failed (VIGIL_EDB). Each queued job
 * runs in its own SAVEPOINT, so one failing job does not sink the batch
 * (it returns its own error). Reads use a small pool of read-only
 * connections. All functions are thread-safe; store_close must come after
 * the last call of every other thread. Times are unix seconds.
 * Out-structs that own memory have a *_free; freeing NULL is a no-op. */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrs.h"

struct store;
struct appraisal;

/* VIGIL_EUNSUPP (and a log line) if the database's schema is newer than
 * this binary's migrations; VIGIL_EDB on any SQLite failure. */
int store_open(const char *path, struct store **out);
void store_close(struct store *s);
/* Schema version after migrations (for /readyz and tests). */
int store_schema_version(struct store *s, int *out);
/* 0 if a read and the writer work (for /readyz). */
int store_ping(struct store *s);

/* Writer counters (for /metrics). Bucket i of batch_hist counts committed
 * batches of 2^i .. 2^(i+1)-1 jobs. */
#define STORE_BATCH_MAX 256
#define STORE_BATCH_BUCKETS 9
struct store_stats {
	uint64_t commits;		/* batches committed */
	uint64_t commit_failures;	/* batches whose COMMIT (or BEGIN) failed */
	uint64_t jobs;			/* jobs run */
	uint64_t job_failures;		/* jobs that failed (their own error) */
	uint64_t max_batch;		/* largest batch so far */
	uint64_t queued;		/* jobs waiting right now */
	uint64_t running;		/* jobs of the batch running right now */
	uint64_t batch_hist[STORE_BATCH_BUCKETS];
};
void store_stats(struct store *s, struct store_stats *out);

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
	/* SHA-256 of the EK key's DER SubjectPublicKeyInfo and of the EK
	 * certificate; have_* 0 when not known (a row from before 0010, or a
	 * registration without them). */
	uint8_t ek_key_fp[SHA256_LEN]; int have_ek_key_fp;
	uint8_t ek_cert_fp[SHA256_LEN]; int have_ek_cert_fp;
};
void agent_rec_free(struct agent_rec *a);	/* frees the members */

int store_agent_get(struct store *s, const char *id, struct agent_rec *out);
/* The id of the agent whose AK has this name; VIGIL_ENOTFOUND if none.
 * An agent that never completed activation claims no AK. */
int store_agent_by_ak_name(struct store *s, const uint8_t *name, size_t len,
    char id_out[65]);
/* The id of an active agent other than id whose EK key (key_fp) or EK
 * certificate (cert_fp, may be NULL) is this one; *cert 1 when it is the
 * certificate that matched. VIGIL_ENOTFOUND if none. */
int store_agent_by_ek(struct store *s, const char *id,
    const uint8_t key_fp[SHA256_LEN], const uint8_t *cert_fp,
    char id_out[65], int *cert);

/* A registration waits this long for its activation, and an agent has at
 * most this many registrations waiting (each with its own secret). */
#define STORE_ACTIVATION_TTL_S 900
#define STORE_ACTIVATIONS_MAX 16

/* Records a registration (hostname, EK certificate, AK, fingerprints,
 * secret_hash of a) as a pending activation of a->id. A new agent is
 * inserted as pending; an existing agent's record does not change at all
 * (store_agent_activate applies the registration). VIGIL_EEXIST if a's AK
 * is another agent's, or the agent is active with another AK and no
 * re-enrolment is approved; VIGIL_ETOOBIG when the agent has
 * STORE_ACTIVATIONS_MAX registrations waiting (*retry_s, when not NULL,
 * gets the seconds until the oldest expires). */
int store_agent_register(struct store *s, const struct agent_rec *a,
    int64_t *retry_s);

/* What store_agent_activate did, or why it refused (VIGIL_EEXIST). */
struct agent_activation {
	int reenrolled;		/* an operator's approval was used */
	char why[200];
};
/* Completes the waiting registration of id whose secret hashes to
 * secret_hash: in one job, checks that the AK is no other agent's, that
 * no other active agent has the EK key or certificate, and that an active
 * agent's new AK was approved (the approval is used up by any activation
 * of an approved agent); then writes the registration into the agent's
 * record, active, and drops its waiting registrations. An approved
 * re-enrolment also records the appraisal *reenrol (status `none`), when
 * not NULL. VIGIL_ENOTFOUND: unknown agent; VIGIL_EDENIED: no waiting
 * registration with this secret (or it expired); VIGIL_EEXIST: refused,
 * out->why names the check. */
int store_agent_activate(struct store *s, const char *id,
    const uint8_t secret_hash[SHA256_LEN], const struct appraisal *reenrol,
    struct agent_activation *out);
int store_agent_approve_reenrol(struct store *s, const char *id);
/* The ids of the active agents with this host name (at most max, by id);
 * *n their number, up to max. */
int store_agents_by_hostname(struct store *s, const char *hostname,
    char (*ids)[65], size_t max, size_t *n);

/* ---- evidence items: idempotent on (agent, epoch, seq) ---- */
enum item_outcome {
	ITEM_NEW = 0,		/* stored now */
	ITEM_DUPLICATE = 1,	/* same key, same content: acknowledged again */
	ITEM_CONFLICT = 2,	/* same key, different content: flagged */
	ITEM_REFUSED = 3,	/* item_in.refused and new: not stored */
};

struct item_in {
	uint64_t epoch, seq;
	uint32_t kind;			/* ItemKind of vigil.proto */
	const uint8_t *body; size_t body_len;
	/* for kind == event log (log: EventLogId, firmware 0 or runtime 1): */
	uint32_t boot_count, log; uint64_t offset;
	const uint8_t *chunk; size_t chunk_len;
	/* The appraisal's word on an event-log chunk: refused (not stored,
	 * so not acknowledged; a known key is still a duplicate or a
	 * conflict), or kept without appending it to any log. */
	int refused, no_log;
	/* for kind == gap (the spool dropped items first..last): */
	uint64_t gap_first, gap_last;
	const char *gap_reason;
};

/* item_in.kind of spool gaps (= ItemKind ITEM_GAP). */
#define STORE_ITEM_GAP 2u

/* item_in.kind of event-log chunks (= ItemKind ITEM_EVENT_LOG). */
#define STORE_ITEM_EVENT_LOG 1u
/* Larger blobs (bundle, body, chunk) are refused with VIGIL_ETOOBIG. */
#define STORE_BLOB_MAX (64u * 1024 * 1024)

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

/* acked_epoch is the epoch of the last item (or, with no items, the
 * agent's latest epoch; 0/0 if it never sent one); acked_seq the highest
 * seq with items 1..seq of that epoch all stored. A conflicting item counts
 * as stored (the first content stays; the other is kept and flagged in
 * item_conflicts), and so does an event-log item whose chunk did not fit
 * (ITEM_CONFLICT, chunk not appended); a refused one does not
 * (ITEM_REFUSED). A chunk overlapping the log's end with equal bytes has
 * its new tail appended. A new gap item is also a row of item_gaps.
 * VIGIL_ENOTFOUND: unknown agent. */
int store_commit_evidence(struct store *s, const struct evidence_commit *c,
    struct evidence_result *r);
/* The snapshot a push's appraisal takes (docs/appraisal.md, "Conflicts
 * and gaps"): out[i] ITEM_NEW when (epoch, seq) of items[i] is not
 * stored, ITEM_DUPLICATE when it is with the same body, ITEM_CONFLICT
 * with another. The commit decides again (a concurrent push may race). */
int store_items_known(struct store *s, const char *agent_id,
    const struct item_in *items, size_t n, enum item_outcome *out);

/* A node's item conflicts and spool gaps, newest first, at most limit
 * (1..STORE_GAPS_MAX); *total counts them all. *rows: free(). */
#define STORE_GAPS_MAX 100
struct conflict_row {
	int64_t id, at;
	uint64_t epoch, seq;
	uint32_t kind;			/* ItemKind */
	char body_sha256[65];		/* the other content (in blobs) */
	char reason[256];
};
int store_conflicts_list(struct store *s, const char *agent_id, size_t limit,
    struct conflict_row **rows, size_t *n, uint64_t *total);
struct gap_row {
	int64_t id, at;
	uint64_t epoch, seq;		/* the gap item */
	uint64_t first_seq, last_seq;	/* what the spool dropped */
	char reason[256];
};
int store_gaps_list(struct store *s, const char *agent_id, size_t limit,
    struct gap_row **rows, size_t *n, uint64_t *total);

/* One log (EventLogId: 0 firmware, 1 runtime) of one boot as stored so
 * far (malloc'd; *len 0 if none). Both logs live in evlogs/evlog_chunks,
 * whose boot_count column holds STORE_EVLOG_KEY(log, boot). */
#define STORE_EVLOG_KEY(log, boot) \
	((int64_t)(boot) | ((int64_t)(log) << 32))
int store_evlog_get(struct store *s, const char *agent_id, uint32_t log,
    uint32_t boot_count, uint8_t **out, size_t *len);
int store_quote_state_get(struct store *s, const char *agent_id,
    struct quote_state *out);	/* VIGIL_ENOTFOUND if none yet */
/* Stores an appraisal without evidence (e.g. the freshness sweep turning a
 * node `none`), with the same dedup rule. */
int store_appraisal_add(struct store *s, const char *agent_id,
    const struct appraisal *a);

/* Retention: deletes evidence bundles received before `before` (and their
 * bytes, unless an item or another bundle has the same) and appraisal rows
 * whose last_at is before it, except each agent's latest. At most max rows
 * of each per call, in one writer job; *deleted gets the rows deleted, so
 * call again while it is not 0. Items, event logs and audit are kept. */
int store_prune(struct store *s, int64_t before, size_t max,
    size_t *deleted);

/* ---- reads for the API ---- */
struct node_row {
	char id[65];
	char hostname[256];
	char status[24];
	int64_t last_appraisal_at, last_seen_at, created_at;
};

/* Nodes ordered by id, after cursor (an id, or "" for the first page).
 * *rows is one malloc'd array: free(*rows). */
int store_nodes_list(struct store *s, const char *after_id, size_t limit,
    struct node_row **rows, size_t *n);

/* Active agents whose status is not `none` and whose last accepted quote
 * is older than fresh_after (or that never had one): what the freshness
 * sweep turns `none`. *ids is one malloc'd array: free(*ids). At most
 * limit ids after after_id, ordered by id. */
int store_nodes_stale(struct store *s, int64_t fresh_after,
    const char *after_id, size_t limit, char (**ids)[65], size_t *n);

struct appraisal_row {
	int64_t id;
	struct appraisal a;
	int64_t first_at, last_at;
};
void appraisal_rows_free(struct appraisal_row *rows, size_t n);
/* Frees the members of one row (e.g. from store_appraisal_latest). */
void appraisal_row_clear(struct appraisal_row *r);

/* Newest first; before_id 0 for the first page. */
int store_appraisals_list(struct store *s, const char *agent_id,
    int64_t before_id, size_t limit, struct appraisal_row **rows, size_t *n);
int store_appraisal_latest(struct store *s, const char *agent_id,
    struct appraisal_row *out);

/* ---- reference values: versioned JSON documents ---- */
/* Stores doc as the next version; *version gets its number. */
int store_refvals_put(struct store *s, const char *doc_json,
    const char *author, int64_t *version);
/* The same, only if the latest version is still expected (0: there is
 * no document yet); otherwise VIGIL_ESTALE, nothing is written and
 * *version gets the latest version. A compare and swap, for writers that
 * derived doc from what they read (learn on first use). */
int store_refvals_put_if(struct store *s, const char *doc_json,
    const char *author, int64_t expected, int64_t *version);
/* Latest document (malloc'd) and version; VIGIL_ENOTFOUND if none. */
int store_refvals_get(struct store *s, char **doc_json, int64_t *version);
/* One given version's document (malloc'd); VIGIL_ENOTFOUND if none. */
int store_refvals_get_version(struct store *s, int64_t version,
    char **doc_json);

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
/* Marks a token revoked; VIGIL_ENOTFOUND if unknown (revoking twice is 0). */
int store_token_revoke(struct store *s, const uint8_t hash[SHA256_LEN]);

/* ---- content-addressed blobs (computation inputs, raw evidence) ---- */
/* Stores data under its SHA-256 (once); sha_out may be NULL. */
int store_blob_put(struct store *s, const uint8_t *data, size_t len,
    uint8_t sha_out[SHA256_LEN]);
/* malloc'd copy of the blob; VIGIL_ENOTFOUND if none. */
int store_blob_get(struct store *s, const uint8_t sha[SHA256_LEN],
    uint8_t **out, size_t *len);

/* ---- audit ---- */
int store_audit(struct store *s, const char *who, const char *action,
    const char *object, const char *detail);
struct audit_row {
	int64_t id, at;
	char *who, *action, *object, *detail;	/* malloc'd */
};
/* Newest first; before_id 0 for the first page. */
int store_audit_list(struct store *s, int64_t before_id, size_t limit,
    struct audit_row **rows, size_t *n);
void audit_rows_free(struct audit_row *rows, size_t n);

#endif
