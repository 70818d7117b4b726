/* The store's VMs (db/migrations/0007_vms.sql): tenant-declared VMs, their
 * enrolled vTPMs, placement history, attestation requests, relayed
 * migration blobs and per-tenant guest reference values. Same rules as
 * store.h: thread-safe, writes through the writer thread, times in unix
 * seconds, VIGIL_ENOTFOUND for what does not exist. A `tenant` argument
 * scopes a lookup (NULL: any tenant, for operators and agents). */
#ifndef VIGIL_STORE_VMS_H
#define VIGIL_STORE_VMS_H

#include <stddef.h>
#include <stdint.h>

#include "pcrs.h"
#include "store.h"

#define VM_ID_LEN 32		/* lowercase hex */
#define VM_NAME_MAX 64		/* [A-Za-z0-9._-] */
#define VM_NONCE_LEN 32

enum vm_vtpm_state {
	VM_VTPM_NONE = 0,
	VM_VTPM_PENDING = 1,	/* registered, credential not yet activated */
	VM_VTPM_ENROLLED = 2,
};

struct vm_rec {
	char id[VM_ID_LEN + 1];
	char tenant[64];
	char name[VM_NAME_MAX + 1];
	int64_t created_at;
	char host_node[65];	/* "" when not placed */
	enum vm_vtpm_state vtpm_state;
	uint8_t *ek_pub; size_t ek_pub_len;
	uint8_t *ek_cert; size_t ek_cert_len;
	uint8_t *ak_pub; size_t ak_pub_len;
	uint8_t ak_name[128]; size_t ak_name_len;
	uint8_t secret_hash[SHA256_LEN];
	char status[24];
	char *result_json;	/* NULL before the first appraisal */
	int64_t last_appraisal_at;
	int has_clock;
	uint64_t clock;
	uint32_t reset_count, restart_count;
	char migrate_to[65];	/* "" unless a migration is under way */
};
void vm_rec_free(struct vm_rec *v);	/* members only */

/* 1 if name is 1 .. VM_NAME_MAX bytes of [A-Za-z0-9._-]. */
int store_vm_name_ok(const char *name);
/* 1 if id is VM_ID_LEN lowercase hex digits. */
int store_vm_id_ok(const char *id);

/* A new VM with a random id; VIGIL_EEXIST if the tenant has one of that
 * name. */
int store_vm_create(struct store *s, const char *tenant, const char *name,
    char id_out[VM_ID_LEN + 1]);
int store_vm_get(struct store *s, const char *id, const char *tenant,
    struct vm_rec *out);

struct vm_row {
	char id[VM_ID_LEN + 1];
	char tenant[64];
	char name[VM_NAME_MAX + 1];
	char host_node[65];
	char status[24];
	int64_t created_at, last_appraisal_at;
};
/* Ordered by id; *rows one malloc'd array (free it). At most 10000. */
int store_vm_list(struct store *s, const char *tenant, struct vm_row **rows,
    size_t *n);

/* vTPM enrolment by node_id. Register: VIGIL_EEXIST when the VM's vTPM is
 * enrolled on another node (a migration keeps its identity and does not
 * enrol again) or the AK belongs to another VM. */
struct vm_vtpm_reg {
	const char *vm_id, *node_id;
	const uint8_t *ek_pub; size_t ek_pub_len;
	const uint8_t *ek_cert; size_t ek_cert_len;
	const uint8_t *ak_pub; size_t ak_pub_len;
	const uint8_t *ak_name; size_t ak_name_len;
	const uint8_t *secret_hash;	/* SHA256_LEN */
};
int store_vm_vtpm_register(struct store *s, const struct vm_vtpm_reg *r);
/* Pending -> enrolled, placed on node_id (a 'start' placement event). */
int store_vm_vtpm_activate(struct store *s, const char *vm_id,
    const char *node_id);

struct vm_placement {
	char node_id[65];
	char event[12];		/* start | migrate */
	int64_t at;
};
/* Oldest first; *rows malloc'd. */
int store_vm_placements(struct store *s, const char *vm_id,
    struct vm_placement **rows, size_t *n);

/* ---- attestation requests ---- */
struct vm_attest_req {
	int64_t id;
	char vm_id[VM_ID_LEN + 1];
	char node_id[65];
	uint8_t nonce[VM_NONCE_LEN];
	int64_t created_at, expires_at;
	int done;
	char status[24];	/* when done */
	char *result_json;	/* when done; malloc'd */
};
void vm_attest_req_clear(struct vm_attest_req *r);
void vm_attest_reqs_free(struct vm_attest_req *r, size_t n);

/* A request to node_id with a fresh random nonce, expiring after ttl. */
int store_vm_attest_add(struct store *s, const char *vm_id,
    const char *node_id, int64_t ttl, struct vm_attest_req *out);
int store_vm_attest_get(struct store *s, int64_t id,
    struct vm_attest_req *out);
/* By nonce (the one an answer names); done or not. */
int store_vm_attest_by_nonce(struct store *s, const uint8_t *nonce,
    size_t len, struct vm_attest_req *out);
/* Open, unexpired requests to node_id (at most max, oldest first). */
int store_vm_attest_pending(struct store *s, const char *node_id,
    int64_t now, size_t max, struct vm_attest_req **rows, size_t *n);

/* One appraised VM attestation, committed in one writer job: the request
 * done (single use: VIGIL_EEXIST if it was done already), the VM's status
 * and result, its vTPM clock when accepted (qs_ok), and - when node_id is
 * the VM's pending migration target and the result is accepted - the
 * placement moved there (a 'migrate' event) and the migration confirmed. */
struct vm_result_commit {
	int64_t req_id;
	const char *vm_id, *node_id;
	const char *status;
	const char *result_json;
	int qs_ok;
	uint64_t clock;
	uint32_t reset_count, restart_count;
	int move;		/* 1: complete the migration to node_id */
};
int store_vm_result(struct store *s, const struct vm_result_commit *c);

/* ---- migration blobs ---- */
struct vm_migration {
	int64_t id;
	char vm_id[VM_ID_LEN + 1];
	char source_node[65], target_node[65];
	uint8_t *blob; size_t blob_len;
	int state;		/* 0 queued, 1 delivered, 2 confirmed */
};
void vm_migrations_free(struct vm_migration *m, size_t n);
/* Queues a blob from the VM's host (VIGIL_EDENIED if source is not the
 * host) for target; sets migrate_to. */
int store_vm_migration_add(struct store *s, const char *vm_id,
    const char *source, const char *target, const uint8_t *blob,
    size_t len);
/* Queued or delivered (not yet confirmed) blobs for target. */
int store_vm_migrations_for(struct store *s, const char *target,
    struct vm_migration **rows, size_t *n);
int store_vm_migration_delivered(struct store *s, int64_t id);
/* The newest migration of vm_id (blob not loaded). */
int store_vm_migration_last(struct store *s, const char *vm_id,
    struct vm_migration *out);

/* VMs whose migration away from source was confirmed since `since`
 * (the source deletes its copy). *ids one malloc'd array, at most 64. */
int store_vm_released(struct store *s, const char *source, int64_t since,
    char (**ids)[VM_ID_LEN + 1], size_t *n);

/* ---- guest reference values per tenant ---- */
int store_vm_refvals_put(struct store *s, const char *tenant,
    const char *doc_json, const char *author, int64_t *version);
int store_vm_refvals_get(struct store *s, const char *tenant,
    char **doc_json, int64_t *version);

#endif
