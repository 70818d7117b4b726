/* VMs, vTPM enrolment, placements, attestation requests, migration blobs
 * and guest reference values (store_vms.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "err.h"
#include "log.h"
#include "store_internal.h"
#include "store_vms.h"

#define STORE_VMS_MAX 10000		/* rows of one list */

void
vm_rec_free(struct vm_rec *v)
{
	if (v == NULL)
		return;
	free(v->ek_pub);
	free(v->ek_cert);
	free(v->ak_pub);
	free(v->result_json);
	v->ek_pub = v->ek_cert = v->ak_pub = NULL;
	v->result_json = NULL;
}

void
vm_attest_req_clear(struct vm_attest_req *r)
{
	if (r == NULL)
		return;
	free(r->result_json);
	r->result_json = NULL;
}

void
vm_attest_reqs_free(struct vm_attest_req *r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		vm_attest_req_clear(&r[i]);
	free(r);
}

void
vm_migrations_free(struct vm_migration *m, size_t n)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < n; i++)
		free(m[i].blob);
	free(m);
}

static int
store_vm_chars_ok(const char *s, size_t max)
{
	size_t i, n;

	if (s == NULL || (n = strnlen(s, max + 1)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

int
store_vm_name_ok(const char *name)
{
	return store_vm_chars_ok(name, VM_NAME_MAX);
}

int
store_vm_id_ok(const char *id)
{
	size_t i;

	if (id == NULL || strnlen(id, VM_ID_LEN + 1) != VM_ID_LEN)
		return 0;
	for (i = 0; i < VM_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

/* Steps a statement that returns no row and finalizes it. */
static int
store_vm_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int r = store_step_done(db, st, what);

	sqlite3_finalize(st);
	return r;
}

/* ---- VMs ---- */

struct vm_create_job {
	const char *tenant, *name, *id;
};

static int
store_vm_create_job(sqlite3 *db, void *arg)
{
	struct vm_create_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT 1 FROM vms WHERE tenant = ? AND "
	    "name = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->tenant);
	store_bind_text(st, 2, j->name);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_ROW)
		return VIGIL_EEXIST;
	if (rc != SQLITE_DONE)
		return store_dberr(db, "find vm by name");
	if ((r = store_prep(db, "INSERT INTO vms (id, tenant, name, "
	    "created_at) VALUES (?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->id);
	store_bind_text(st, 2, j->tenant);
	store_bind_text(st, 3, j->name);
	sqlite3_bind_int64(st, 4, store_now());
	return store_vm_done(db, st, "insert vm");
}

int
store_vm_create(struct store *s, const char *tenant, const char *name,
    char id_out[VM_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	struct vm_create_job j;
	uint8_t rnd[VM_ID_LEN / 2];
	size_t i;

	if (tenant == NULL || tenant[0] == '\0' || !store_vm_name_ok(name))
		return VIGIL_EINVAL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return VIGIL_ECRYPTO;
	for (i = 0; i < sizeof(rnd); i++) {
		id_out[2 * i] = hex[rnd[i] >> 4];
		id_out[2 * i + 1] = hex[rnd[i] & 15];
	}
	id_out[VM_ID_LEN] = '\0';
	j.tenant = tenant;
	j.name = name;
	j.id = id_out;
	return store_write(s, store_vm_create_job, &j);
}

#define VM_COLS "id, tenant, name, created_at, coalesce(host_node, ''), " \
	"vtpm_state, ek_pub, ek_cert, ak_pub, ak_name, secret_hash, status, " \
	"result_json, last_appraisal_at, clock IS NOT NULL, " \
	"coalesce(clock, 0), coalesce(reset_count, 0), " \
	"coalesce(restart_count, 0), coalesce(migrate_to, '')"

static int
store_vm_row(sqlite3_stmt *st, struct vm_rec *v)
{
	const void *p;
	size_t n;
	int r;

	memset(v, 0, sizeof(*v));
	store_col_str(st, 0, v->id, sizeof(v->id));
	store_col_str(st, 1, v->tenant, sizeof(v->tenant));
	store_col_str(st, 2, v->name, sizeof(v->name));
	v->created_at = sqlite3_column_int64(st, 3);
	store_col_str(st, 4, v->host_node, sizeof(v->host_node));
	v->vtpm_state = (enum vm_vtpm_state)sqlite3_column_int(st, 5);
	if ((r = store_col_blobdup(st, 6, &v->ek_pub, &v->ek_pub_len)) != 0 ||
	    (r = store_col_blobdup(st, 7, &v->ek_cert,
	    &v->ek_cert_len)) != 0 ||
	    (r = store_col_blobdup(st, 8, &v->ak_pub, &v->ak_pub_len)) != 0)
		goto fail;
	p = sqlite3_column_blob(st, 9);
	n = (size_t)sqlite3_column_bytes(st, 9);
	if (p != NULL && n <= sizeof(v->ak_name)) {
		memcpy(v->ak_name, p, n);
		v->ak_name_len = n;
	}
	p = sqlite3_column_blob(st, 10);
	if (p != NULL && sqlite3_column_bytes(st, 10) == SHA256_LEN)
		memcpy(v->secret_hash, p, SHA256_LEN);
	store_col_str(st, 11, v->status, sizeof(v->status));
	if (sqlite3_column_type(st, 12) != SQLITE_NULL &&
	    (r = store_col_strdup(st, 12, &v->result_json)) != 0)
		goto fail;
	v->last_appraisal_at = sqlite3_column_int64(st, 13);
	v->has_clock = sqlite3_column_int(st, 14);
	v->clock = (uint64_t)sqlite3_column_int64(st, 15);
	v->reset_count = (uint32_t)sqlite3_column_int64(st, 16);
	v->restart_count = (uint32_t)sqlite3_column_int64(st, 17);
	store_col_str(st, 18, v->migrate_to, sizeof(v->migrate_to));
	return 0;
 fail:
	vm_rec_free(v);
	return r;
}

/* Reads one VM on a given connection (reader or writer). */
static int
store_vm_read(sqlite3 *db, const char *id, const char *tenant,
    struct vm_rec *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT " VM_COLS " FROM vms WHERE id = ? "
	    "AND (? IS NULL OR tenant = ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	if (tenant != NULL) {
		store_bind_text(st, 2, tenant);
		store_bind_text(st, 3, tenant);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_vm_row(st, out);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "read vm");
	sqlite3_finalize(st);
	return r;
}

int
store_vm_get(struct store *s, const char *id, const char *tenant,
    struct vm_rec *out)
{
	sqlite3 *db;
	int r;

	memset(out, 0, sizeof(*out));
	if (!store_vm_id_ok(id))
		return VIGIL_ENOTFOUND;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_vm_read(db, id, tenant, out);
	store_rd_put(s, db);
	return r;
}

int
store_vm_list(struct store *s, const char *tenant, struct vm_row **rows,
    size_t *n)
{
	struct vm_row *v = NULL, *t;
	sqlite3_stmt *st = NULL;
	size_t k = 0, cap = 0;
	sqlite3 *db;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id, tenant, name, "
	    "coalesce(host_node, ''), status, created_at, last_appraisal_at "
	    "FROM vms WHERE ? IS NULL OR tenant = ? ORDER BY id", &st)) != 0)
		goto out;
	if (tenant != NULL) {
		store_bind_text(st, 1, tenant);
		store_bind_text(st, 2, tenant);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == STORE_VMS_MAX)
			break;
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			if ((t = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = t;
		}
		t = &v[k++];
		memset(t, 0, sizeof(*t));
		store_col_str(st, 0, t->id, sizeof(t->id));
		store_col_str(st, 1, t->tenant, sizeof(t->tenant));
		store_col_str(st, 2, t->name, sizeof(t->name));
		store_col_str(st, 3, t->host_node, sizeof(t->host_node));
		store_col_str(st, 4, t->status, sizeof(t->status));
		t->created_at = sqlite3_column_int64(st, 5);
		t->last_appraisal_at = sqlite3_column_int64(st, 6);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = store_dberr(db, "list vms");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	free(v);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- vTPM enrolment ---- */

static int
store_vm_vtpm_register_job(sqlite3 *db, void *arg)
{
	const struct vm_vtpm_reg *g = arg;
	sqlite3_stmt *st = NULL;
	struct vm_rec v;
	int r, rc;

	if ((r = store_vm_read(db, g->vm_id, NULL, &v)) != 0)
		return r;
	if (v.vtpm_state == VM_VTPM_ENROLLED && v.host_node[0] != '\0' &&
	    strcmp(v.host_node, g->node_id) != 0) {
		log_warn("store: vm %s: vTPM enrolment from node %.16s refused: "
		    "enrolled on node %.16s", g->vm_id, g->node_id,
		    v.host_node);
		vm_rec_free(&v);
		return VIGIL_EEXIST;
	}
	if (v.vtpm_state == VM_VTPM_ENROLLED && v.migrate_to[0] != '\0') {
		log_warn("store: vm %s: vTPM enrolment from node %.16s refused: "
		    "a migration to node %.16s is under way", g->vm_id,
		    g->node_id, v.migrate_to);
		vm_rec_free(&v);
		return VIGIL_EEXIST;
	}
	vm_rec_free(&v);
	if ((r = store_prep(db, "SELECT 1 FROM vms WHERE ak_name = ? AND "
	    "id <> ?", &st)) != 0)
		return r;
	store_bind_blob(st, 1, g->ak_name, g->ak_name_len);
	store_bind_text(st, 2, g->vm_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_ROW) {
		log_warn("store: vm %s: vTPM AK belongs to another VM",
		    g->vm_id);
		return VIGIL_EEXIST;
	}
	if (rc != SQLITE_DONE)
		return store_dberr(db, "find vm by ak");
	if ((r = store_prep(db, "UPDATE vms SET vtpm_state = 1, ek_pub = ?, "
	    "ek_cert = ?, ak_pub = ?, ak_name = ?, secret_hash = ?, "
	    "migrate_to = ? WHERE id = ?", &st)) != 0)
		return r;
	store_bind_blob(st, 1, g->ek_pub, g->ek_pub_len);
	store_bind_blob(st, 2, g->ek_cert, g->ek_cert_len);
	store_bind_blob(st, 3, g->ak_pub, g->ak_pub_len);
	store_bind_blob(st, 4, g->ak_name, g->ak_name_len);
	store_bind_blob(st, 5, g->secret_hash, SHA256_LEN);
	store_bind_text(st, 6, g->node_id);
	store_bind_text(st, 7, g->vm_id);
	return store_vm_done(db, st, "register vtpm");
}

int
store_vm_vtpm_register(struct store *s, const struct vm_vtpm_reg *r)
{
	if (!store_vm_id_ok(r->vm_id) || !store_id_ok(r->node_id))
		return VIGIL_EINVAL;
	return store_write(s, store_vm_vtpm_register_job, (void *)r);
}

struct vm_place_job {
	const char *vm_id, *node_id;
};

static int
store_vm_place(sqlite3 *db, const char *vm_id, const char *node_id,
    const char *event)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE vms SET host_node = ?, "
	    "migrate_to = NULL WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, node_id);
	store_bind_text(st, 2, vm_id);
	if ((r = store_vm_done(db, st, "place vm")) != 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO vm_placements (vm_id, node_id, "
	    "event, at) VALUES (?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, vm_id);
	store_bind_text(st, 2, node_id);
	store_bind_text(st, 3, event);
	sqlite3_bind_int64(st, 4, store_now());
	return store_vm_done(db, st, "insert placement");
}

static int
store_vm_vtpm_activate_job(sqlite3 *db, void *arg)
{
	struct vm_place_job *j = arg;
	struct vm_rec v;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_vm_read(db, j->vm_id, NULL, &v)) != 0)
		return r;
	if (v.vtpm_state != VM_VTPM_PENDING ||
	    strcmp(v.migrate_to, j->node_id) != 0) {
		vm_rec_free(&v);
		return VIGIL_EINVAL;
	}
	vm_rec_free(&v);
	if ((r = store_prep(db, "UPDATE vms SET vtpm_state = 2, status = "
	    "'none', result_json = NULL, clock = NULL, reset_count = NULL, "
	    "restart_count = NULL WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->vm_id);
	if ((r = store_vm_done(db, st, "activate vtpm")) != 0)
		return r;
	return store_vm_place(db, j->vm_id, j->node_id, "start");
}

int
store_vm_vtpm_activate(struct store *s, const char *vm_id,
    const char *node_id)
{
	struct vm_place_job j = { vm_id, node_id };

	if (!store_vm_id_ok(vm_id) || !store_id_ok(node_id))
		return VIGIL_EINVAL;
	return store_write(s, store_vm_vtpm_activate_job, &j);
}

int
store_vm_placements(struct store *s, const char *vm_id,
    struct vm_placement **rows, size_t *n)
{
	struct vm_placement *v = NULL, *t;
	sqlite3_stmt *st = NULL;
	size_t k = 0, cap = 0;
	sqlite3 *db;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT node_id, event, at FROM "
	    "vm_placements WHERE vm_id = ? ORDER BY id", &st)) != 0)
		goto out;
	store_bind_text(st, 1, vm_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < STORE_VMS_MAX) {
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			if ((t = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = t;
		}
		t = &v[k++];
		store_col_str(st, 0, t->node_id, sizeof(t->node_id));
		store_col_str(st, 1, t->event, sizeof(t->event));
		t->at = sqlite3_column_int64(st, 2);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = store_dberr(db, "list placements");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	free(v);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- attestation requests ---- */

#define REQ_COLS "id, vm_id, node_id, nonce, created_at, expires_at, done, " \
	"coalesce(status, ''), result_json"

static int
store_vm_req_row(sqlite3_stmt *st, struct vm_attest_req *q)
{
	const void *p;

	memset(q, 0, sizeof(*q));
	q->id = sqlite3_column_int64(st, 0);
	store_col_str(st, 1, q->vm_id, sizeof(q->vm_id));
	store_col_str(st, 2, q->node_id, sizeof(q->node_id));
	p = sqlite3_column_blob(st, 3);
	if (p == NULL || sqlite3_column_bytes(st, 3) != VM_NONCE_LEN)
		return VIGIL_EDB;
	memcpy(q->nonce, p, VM_NONCE_LEN);
	q->created_at = sqlite3_column_int64(st, 4);
	q->expires_at = sqlite3_column_int64(st, 5);
	q->done = sqlite3_column_int(st, 6);
	store_col_str(st, 7, q->status, sizeof(q->status));
	if (sqlite3_column_type(st, 8) != SQLITE_NULL)
		return store_col_strdup(st, 8, &q->result_json);
	return 0;
}

struct vm_req_job {
	struct vm_attest_req *q;
};

static int
store_vm_attest_add_job(sqlite3 *db, void *arg)
{
	struct vm_attest_req *q = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO vm_attest_requests (vm_id, "
	    "node_id, nonce, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, q->vm_id);
	store_bind_text(st, 2, q->node_id);
	store_bind_blob(st, 3, q->nonce, VM_NONCE_LEN);
	sqlite3_bind_int64(st, 4, q->created_at);
	sqlite3_bind_int64(st, 5, q->expires_at);
	if ((r = store_vm_done(db, st, "insert attest request")) != 0)
		return r;
	q->id = sqlite3_last_insert_rowid(db);
	return 0;
}

int
store_vm_attest_add(struct store *s, const char *vm_id, const char *node_id,
    int64_t ttl, struct vm_attest_req *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_vm_id_ok(vm_id) || !store_id_ok(node_id))
		return VIGIL_EINVAL;
	snprintf(out->vm_id, sizeof(out->vm_id), "%s", vm_id);
	snprintf(out->node_id, sizeof(out->node_id), "%s", node_id);
	if (RAND_bytes(out->nonce, VM_NONCE_LEN) != 1)
		return VIGIL_ECRYPTO;
	out->created_at = store_now();
	out->expires_at = out->created_at + ttl;
	return store_write(s, store_vm_attest_add_job, out);
}

static int
store_vm_req_one(struct store *s, const char *where, int64_t id,
    const uint8_t *nonce, size_t len, struct vm_attest_req *out)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	snprintf(sql, sizeof(sql), "SELECT " REQ_COLS " FROM "
	    "vm_attest_requests WHERE %s", where);
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, sql, &st)) != 0)
		goto out;
	if (nonce != NULL)
		store_bind_blob(st, 1, nonce, len);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_vm_req_row(st, out);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "read attest request");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_vm_attest_get(struct store *s, int64_t id, struct vm_attest_req *out)
{
	return store_vm_req_one(s, "id = ?", id, NULL, 0, out);
}

int
store_vm_attest_by_nonce(struct store *s, const uint8_t *nonce, size_t len,
    struct vm_attest_req *out)
{
	if (len != VM_NONCE_LEN) {
		memset(out, 0, sizeof(*out));
		return VIGIL_ENOTFOUND;
	}
	return store_vm_req_one(s, "nonce = ?", 0, nonce, len, out);
}

int
store_vm_attest_pending(struct store *s, const char *node_id, int64_t now,
    size_t max, struct vm_attest_req **rows, size_t *n)
{
	struct vm_attest_req *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t k = 0;
	sqlite3 *db;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if (max == 0)
		return 0;
	if ((v = calloc(max, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT " REQ_COLS " FROM vm_attest_requests "
	    "WHERE node_id = ? AND done = 0 AND expires_at > ? ORDER BY id "
	    "LIMIT ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, node_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < max)
		if ((r = store_vm_req_row(st, &v[k++])) != 0)
			goto out;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = store_dberr(db, "pending attest requests");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
	k = 0;
 out:
	vm_attest_reqs_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

static int
store_vm_result_job(sqlite3 *db, void *arg)
{
	const struct vm_result_commit *c = arg;
	sqlite3_stmt *st = NULL;
	int64_t now = store_now();
	int r;

	if ((r = store_prep(db, "UPDATE vm_attest_requests SET done = 1, "
	    "status = ?, result_json = ? WHERE id = ? AND done = 0", &st)) != 0)
		return r;
	store_bind_text(st, 1, c->status);
	store_bind_text(st, 2, c->result_json);
	sqlite3_bind_int64(st, 3, c->req_id);
	if ((r = store_vm_done(db, st, "finish attest request")) != 0)
		return r;
	if (sqlite3_changes(db) != 1)
		return VIGIL_EEXIST;
	if ((r = store_prep(db, "UPDATE vms SET status = ?, result_json = ?, "
	    "last_appraisal_at = ? WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, c->status);
	store_bind_text(st, 2, c->result_json);
	sqlite3_bind_int64(st, 3, now);
	store_bind_text(st, 4, c->vm_id);
	if ((r = store_vm_done(db, st, "vm result")) != 0)
		return r;
	if (c->qs_ok) {
		if ((r = store_prep(db, "UPDATE vms SET clock = ?, "
		    "reset_count = ?, restart_count = ? WHERE id = ?",
		    &st)) != 0)
			return r;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)c->clock);
		sqlite3_bind_int64(st, 2, c->reset_count);
		sqlite3_bind_int64(st, 3, c->restart_count);
		store_bind_text(st, 4, c->vm_id);
		if ((r = store_vm_done(db, st, "vm clock")) != 0)
			return r;
	}
	if (!c->move)
		return 0;
	if ((r = store_vm_place(db, c->vm_id, c->node_id, "migrate")) != 0)
		return r;
	if ((r = store_prep(db, "UPDATE vm_migrations SET state = 2 WHERE "
	    "vm_id = ? AND target_node = ? AND state < 2", &st)) != 0)
		return r;
	store_bind_text(st, 1, c->vm_id);
	store_bind_text(st, 2, c->node_id);
	return store_vm_done(db, st, "confirm migration");
}

int
store_vm_result(struct store *s, const struct vm_result_commit *c)
{
	if (!store_vm_id_ok(c->vm_id) || !store_id_ok(c->node_id) ||
	    c->status == NULL || c->result_json == NULL)
		return VIGIL_EINVAL;
	return store_write(s, store_vm_result_job, (void *)c);
}

/* ---- migration blobs ---- */

struct vm_mig_job {
	const char *vm_id, *source, *target;
	const uint8_t *blob;
	size_t len;
	int64_t id;
};

static int
store_vm_migration_add_job(sqlite3 *db, void *arg)
{
	struct vm_mig_job *j = arg;
	sqlite3_stmt *st = NULL;
	struct vm_rec v;
	int r;

	if ((r = store_vm_read(db, j->vm_id, NULL, &v)) != 0)
		return r;
	r = (v.vtpm_state == VM_VTPM_ENROLLED &&
	    strcmp(v.host_node, j->source) == 0) ? 0 : VIGIL_EDENIED;
	vm_rec_free(&v);
	if (r != 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO vm_migrations (vm_id, "
	    "source_node, target_node, blob, created_at) VALUES (?, ?, ?, ?, "
	    "?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->vm_id);
	store_bind_text(st, 2, j->source);
	store_bind_text(st, 3, j->target);
	store_bind_blob(st, 4, j->blob, j->len);
	sqlite3_bind_int64(st, 5, store_now());
	if ((r = store_vm_done(db, st, "insert migration")) != 0)
		return r;
	if ((r = store_prep(db, "UPDATE vms SET migrate_to = ? WHERE id = ?",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, j->target);
	store_bind_text(st, 2, j->vm_id);
	return store_vm_done(db, st, "vm migrate_to");
}

int
store_vm_migration_add(struct store *s, const char *vm_id,
    const char *source, const char *target, const uint8_t *blob,
    size_t len)
{
	struct vm_mig_job j = { vm_id, source, target, blob, len, 0 };

	if (!store_vm_id_ok(vm_id) || !store_id_ok(source) ||
	    !store_id_ok(target) || strcmp(source, target) == 0 || len == 0)
		return VIGIL_EINVAL;
	return store_write(s, store_vm_migration_add_job, &j);
}

int
store_vm_migrations_for(struct store *s, const char *target,
    struct vm_migration **rows, size_t *n)
{
	struct vm_migration *v = NULL, *t;
	sqlite3_stmt *st = NULL;
	size_t k = 0, cap = 0;
	sqlite3 *db;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id, vm_id, source_node, target_node, "
	    "blob, state FROM vm_migrations WHERE target_node = ? AND "
	    "state < 2 ORDER BY id LIMIT 8", &st)) != 0)
		goto out;
	store_bind_text(st, 1, target);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 4;
			if ((t = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = t;
		}
		t = &v[k++];
		memset(t, 0, sizeof(*t));
		t->id = sqlite3_column_int64(st, 0);
		store_col_str(st, 1, t->vm_id, sizeof(t->vm_id));
		store_col_str(st, 2, t->source_node, sizeof(t->source_node));
		store_col_str(st, 3, t->target_node, sizeof(t->target_node));
		if ((r = store_col_blobdup(st, 4, &t->blob,
		    &t->blob_len)) != 0)
			goto out;
		t->state = sqlite3_column_int(st, 5);
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "pending migrations");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
	k = 0;
 out:
	vm_migrations_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

static int
store_vm_migration_delivered_job(sqlite3 *db, void *arg)
{
	int64_t *id = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE vm_migrations SET state = 1 WHERE "
	    "id = ? AND state = 0", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, *id);
	return store_vm_done(db, st, "migration delivered");
}

int
store_vm_migration_delivered(struct store *s, int64_t id)
{
	return store_write(s, store_vm_migration_delivered_job, &id);
}

int
store_vm_migration_last(struct store *s, const char *vm_id,
    struct vm_migration *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id, source_node, target_node, state "
	    "FROM vm_migrations WHERE vm_id = ? ORDER BY id DESC LIMIT 1",
	    &st)) != 0)
		goto out;
	store_bind_text(st, 1, vm_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		snprintf(out->vm_id, sizeof(out->vm_id), "%s", vm_id);
		store_col_str(st, 1, out->source_node,
		    sizeof(out->source_node));
		store_col_str(st, 2, out->target_node,
		    sizeof(out->target_node));
		out->state = sqlite3_column_int(st, 3);
	} else if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
	} else {
		r = store_dberr(db, "last migration");
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_vm_released(struct store *s, const char *source, int64_t since,
    char (**ids)[VM_ID_LEN + 1], size_t *n)
{
	char (*v)[VM_ID_LEN + 1] = NULL;
	sqlite3_stmt *st = NULL;
	size_t k = 0;
	sqlite3 *db;
	int r, rc;

	*ids = NULL;
	*n = 0;
	if ((v = calloc(64, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT DISTINCT vm_id FROM vm_migrations "
	    "WHERE source_node = ? AND state = 2 AND created_at >= ? AND "
	    "vm_id IN (SELECT id FROM vms WHERE host_node IS NOT ?) "
	    "LIMIT 64", &st)) != 0)
		goto out;
	store_bind_text(st, 1, source);
	sqlite3_bind_int64(st, 2, since);
	store_bind_text(st, 3, source);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < 64)
		store_col_str(st, 0, v[k++], sizeof(v[0]));
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = store_dberr(db, "released vms");
		goto out;
	}
	*ids = v;
	*n = k;
	v = NULL;
 out:
	free(v);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- guest reference values ---- */

struct vm_refvals_job {
	const char *tenant, *doc, *author;
	int64_t version;
};

static int
store_vm_refvals_put_job(sqlite3 *db, void *arg)
{
	struct vm_refvals_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT coalesce(max(version), 0) + 1 FROM "
	    "vm_refvals WHERE tenant = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->tenant);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return store_dberr(db, "next guest refvals version");
	}
	j->version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((r = store_prep(db, "INSERT INTO vm_refvals (tenant, version, "
	    "doc, author, created_at) VALUES (?, ?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->tenant);
	sqlite3_bind_int64(st, 2, j->version);
	store_bind_text(st, 3, j->doc);
	store_bind_text(st, 4, j->author);
	sqlite3_bind_int64(st, 5, store_now());
	return store_vm_done(db, st, "insert guest refvals");
}

int
store_vm_refvals_put(struct store *s, const char *tenant,
    const char *doc_json, const char *author, int64_t *version)
{
	struct vm_refvals_job j = { tenant, doc_json, author, 0 };
	int r;

	if (tenant == NULL || tenant[0] == '\0' || doc_json == NULL)
		return VIGIL_EINVAL;
	if ((r = store_write(s, store_vm_refvals_put_job, &j)) != 0)
		return r;
	if (version != NULL)
		*version = j.version;
	return 0;
}

int
store_vm_refvals_get(struct store *s, const char *tenant, char **doc_json,
    int64_t *version)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*doc_json = NULL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT doc, version FROM vm_refvals WHERE "
	    "tenant = ? ORDER BY version DESC LIMIT 1", &st)) != 0)
		goto out;
	store_bind_text(st, 1, tenant);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r = store_col_strdup(st, 0, doc_json);
		if (version != NULL)
			*version = sqlite3_column_int64(st, 1);
	} else if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
	} else {
		r = store_dberr(db, "read guest refvals");
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}
