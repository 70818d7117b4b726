/* The store's agents (registration, activation, re-enrolment), reference
 * value documents, API tokens and the audit log (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "verifier/store.h"
#include "verifier/store_internal.h"

/* ---- agents ---- */

void
agent_rec_free(struct agent_rec *a)
{
	if (a == NULL)
		return;
	free(a->ek_pub);
	free(a->ek_cert);
	free(a->ak_pub);
	a->ek_pub = a->ek_cert = a->ak_pub = NULL;
	a->ek_pub_len = a->ek_cert_len = a->ak_pub_len = 0;
}

int
store_agent_get(struct store *s, const char *id, struct agent_rec *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	const void *p;
	size_t n;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if (!store_id_ok(id))
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT hostname, state, reenrol_approved, "
	    "ek_pub, ek_cert, ak_pub, ak_name, secret_hash, created_at "
	    "FROM agents WHERE id = ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_dberr(db, "select agent");
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", id);
	store_col_str(st, 0, out->hostname, sizeof(out->hostname));
	out->state = sqlite3_column_int(st, 1) == AGENT_ACTIVE ?
	    AGENT_ACTIVE : AGENT_PENDING;
	out->reenrol_approved = sqlite3_column_int(st, 2) != 0;
	if ((r = store_col_blobdup(st, 3, &out->ek_pub,
	    &out->ek_pub_len)) != 0 ||
	    (r = store_col_blobdup(st, 4, &out->ek_cert,
	    &out->ek_cert_len)) != 0 ||
	    (r = store_col_blobdup(st, 5, &out->ak_pub,
	    &out->ak_pub_len)) != 0)
		goto out;
	p = sqlite3_column_blob(st, 6);
	n = (size_t)sqlite3_column_bytes(st, 6);
	if (n > sizeof(out->ak_name)) {
		log_err("store: agent id=%s ak_name of %zu bytes too long",
		    id, n);
		r = VIGIL_EDB;
		goto out;
	}
	if (n > 0)
		memcpy(out->ak_name, p, n);
	out->ak_name_len = n;
	p = sqlite3_column_blob(st, 7);
	if (sqlite3_column_bytes(st, 7) == SHA256_LEN)
		memcpy(out->secret_hash, p, SHA256_LEN);
	out->created_at = sqlite3_column_int64(st, 8);
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	if (r != 0)
		agent_rec_free(out);
	return r;
}

int
store_agent_by_ak_name(struct store *s, const uint8_t *name, size_t len,
    char id_out[65])
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id FROM agents WHERE ak_name = ?",
	    &st)) != 0)
		goto out;
	store_bind_blob(st, 1, name, len);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_col_str(st, 0, id_out, 65);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select agent by ak_name");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* VIGIL_EEXIST if a's AK is registered to another agent. */
static int
store_w_ak_unclaimed(sqlite3 *db, const struct agent_rec *a)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT id FROM agents WHERE ak_name = ? AND "
	    "id <> ?", &st)) != 0)
		return r;
	store_bind_blob(st, 1, a->ak_name, a->ak_name_len);
	store_bind_text(st, 2, a->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		log_warn("store: register agent=%s refused: its AK is "
		    "registered to agent=%s", a->id,
		    (const char *)sqlite3_column_text(st, 0));
		r = VIGIL_EEXIST;
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select agent by ak_name");
	}
	sqlite3_finalize(st);
	return r;
}

/* The existing record's state and approval; *exists 0 if there is none. */
static int
store_w_agent_state(sqlite3 *db, const char *id, int *exists, int *state,
    int *approved)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*exists = *state = *approved = 0;
	if ((r = store_prep(db, "SELECT state, reenrol_approved FROM agents "
	    "WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*exists = 1;
		*state = sqlite3_column_int(st, 0);
		*approved = sqlite3_column_int(st, 1);
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select agent");
	}
	sqlite3_finalize(st);
	return r;
}

/* Writes a as a pending record: replaces the existing one, or inserts. */
static int
store_w_agent_write(sqlite3 *db, const struct agent_rec *a, int exists,
    int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (exists) {
		r = store_prep(db, "UPDATE agents SET hostname = ?2, "
		    "state = 0, reenrol_approved = 0, ek_pub = ?3, "
		    "ek_cert = ?4, ak_pub = ?5, ak_name = ?6, "
		    "secret_hash = ?7, updated_at = ?8 WHERE id = ?1", &st);
	} else {
		r = store_prep(db, "INSERT INTO agents (id, hostname, state, "
		    "ek_pub, ek_cert, ak_pub, ak_name, secret_hash, "
		    "created_at, updated_at) VALUES (?1, ?2, 0, ?3, ?4, ?5, "
		    "?6, ?7, ?8, ?8)", &st);
	}
	if (r != 0)
		return r;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->hostname);
	store_bind_blob(st, 3, a->ek_pub, a->ek_pub_len);
	if (a->ek_cert != NULL && a->ek_cert_len > 0)
		store_bind_blob(st, 4, a->ek_cert, a->ek_cert_len);
	store_bind_blob(st, 5, a->ak_pub, a->ak_pub_len);
	store_bind_blob(st, 6, a->ak_name, a->ak_name_len);
	store_bind_blob(st, 7, a->secret_hash, SHA256_LEN);
	sqlite3_bind_int64(st, 8, now);
	r = store_step_done(db, st, "write agent");
	sqlite3_finalize(st);
	return r;
}

/* 0 if the stored EK and AK of a->id are a's, VIGIL_EEXIST if not. */
static int
store_w_agent_same_keys(sqlite3 *db, const struct agent_rec *a)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT 1 FROM agents WHERE id = ?1 AND "
	    "ek_pub = ?2 AND ak_pub = ?3", &st)) != 0)
		return r;
	store_bind_text(st, 1, a->id);
	store_bind_blob(st, 2, a->ek_pub, a->ek_pub_len);
	store_bind_blob(st, 3, a->ak_pub, a->ak_pub_len);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = 0;
	else if (rc == SQLITE_DONE)
		r = VIGIL_EEXIST;
	else
		r = store_dberr(db, "select agent keys");
	sqlite3_finalize(st);
	return r;
}

/* A new credential secret (and host name) for an active agent. */
static int
store_w_agent_secret(sqlite3 *db, const struct agent_rec *a, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE agents SET hostname = ?2, "
	    "secret_hash = ?3, updated_at = ?4 WHERE id = ?1", &st)) != 0)
		return r;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->hostname);
	store_bind_blob(st, 3, a->secret_hash, SHA256_LEN);
	sqlite3_bind_int64(st, 4, now);
	r = store_step_done(db, st, "write agent secret");
	sqlite3_finalize(st);
	if (r == 0)
		log_info("store: agent=%s registered again with its pinned "
		    "EK and AK; stays active pending activation", a->id);
	return r;
}

static int
store_job_agent_register(sqlite3 *db, void *arg)
{
	const struct agent_rec *a = arg;
	int r, exists, state, approved;
	int64_t now = store_now();

	/* The AK must not belong to another agent. */
	if ((r = store_w_ak_unclaimed(db, a)) != 0 ||
	    (r = store_w_agent_state(db, a->id, &exists, &state,
	    &approved)) != 0)
		return r;
	if (exists && state == AGENT_ACTIVE && !approved) {
		/* The same TPM registering again (its state was lost) only
		 * gets a new credential to activate; the node stays active
		 * and its keys stay pinned. Other keys need an operator. */
		if ((r = store_w_agent_same_keys(db, a)) == 0)
			return store_w_agent_secret(db, a, now);
		if (r != VIGIL_EEXIST)
			return r;
		log_warn("store: register agent=%s refused: already active "
		    "with another EK or AK and no re-enrolment approved",
		    a->id);
		return VIGIL_EEXIST;
	}
	if ((r = store_w_agent_write(db, a, exists, now)) != 0)
		return r;
	if (exists && state == AGENT_ACTIVE)
		log_info("store: agent=%s re-enrolled with new EK/AK "
		    "(approved)", a->id);
	return 0;
}

int
store_agent_register(struct store *s, const struct agent_rec *a)
{
	if (!store_id_ok(a->id) || a->ek_pub == NULL || a->ek_pub_len == 0 ||
	    a->ak_pub == NULL || a->ak_pub_len == 0 || a->ak_name_len == 0 ||
	    a->ak_name_len > sizeof(a->ak_name) ||
	    strnlen(a->hostname, sizeof(a->hostname)) == sizeof(a->hostname))
		return VIGIL_EINVAL;
	return store_write(s, store_job_agent_register, (void *)a);
}

struct store_agent_set {
	const char *id;
	const char *sql;
};

static int
store_job_agent_set(sqlite3 *db, void *arg)
{
	const struct store_agent_set *a = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, a->sql, &st)) != 0)
		return r;
	store_bind_text(st, 1, a->id);
	sqlite3_bind_int64(st, 2, store_now());
	if ((r = store_step_done(db, st, "update agent")) == 0 &&
	    sqlite3_changes(db) == 0)
		r = VIGIL_ENOTFOUND;
	sqlite3_finalize(st);
	return r;
}

int
store_agent_activate(struct store *s, const char *id)
{
	struct store_agent_set a = { id, "UPDATE agents SET state = 1, "
	    "updated_at = ?2 WHERE id = ?1" };

	if (!store_id_ok(id))
		return VIGIL_EINVAL;
	return store_write(s, store_job_agent_set, &a);
}

int
store_agent_approve_reenrol(struct store *s, const char *id)
{
	struct store_agent_set a = { id, "UPDATE agents SET "
	    "reenrol_approved = 1, updated_at = ?2 WHERE id = ?1" };

	if (!store_id_ok(id))
		return VIGIL_EINVAL;
	return store_write(s, store_job_agent_set, &a);
}

/* ---- reference values ---- */

struct store_refvals_job {
	const char *doc, *author;
	int64_t version;
	int64_t expected;	/* -1: any; else the latest must be this */
};

static int
store_job_refvals_put(sqlite3 *db, void *arg)
{
	struct store_refvals_job *j = arg;
	sqlite3_stmt *st = NULL;
	int64_t latest;
	int r;

	if (j->expected >= 0) {
		/* Compare and swap, inside the write transaction: nothing
		 * commits between this read and the insert. */
		if ((r = store_prep(db, "SELECT COALESCE(MAX(version), 0) "
		    "FROM refvals", &st)) != 0)
			return r;
		if (sqlite3_step(st) != SQLITE_ROW) {
			r = store_dberr(db, "latest refvals version");
			sqlite3_finalize(st);
			return r;
		}
		latest = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (latest != j->expected) {
			j->version = latest;
			return VIGIL_ESTALE;
		}
	}
	if ((r = store_prep(db, "INSERT INTO refvals (doc, author, "
	    "created_at) VALUES (?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->doc);
	store_bind_text(st, 2, j->author);
	sqlite3_bind_int64(st, 3, store_now());
	if ((r = store_step_done(db, st, "insert refvals")) == 0)
		j->version = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return r;
}

static int
store_refvals_write(struct store *s, const char *doc_json, const char *author,
    int64_t expected, int64_t *version)
{
	struct store_refvals_job j = { doc_json, author, 0, expected };
	int r;

	if (doc_json == NULL || author == NULL)
		return VIGIL_EINVAL;
	if (strlen(doc_json) > STORE_BLOB_MAX) {
		log_err("store: reference values document over the limit");
		return VIGIL_ETOOBIG;
	}
	r = store_write(s, store_job_refvals_put, &j);
	if ((r == 0 || r == VIGIL_ESTALE) && version != NULL)
		*version = j.version;
	return r;
}

int
store_refvals_put(struct store *s, const char *doc_json, const char *author,
    int64_t *version)
{
	return store_refvals_write(s, doc_json, author, -1, version);
}

int
store_refvals_put_if(struct store *s, const char *doc_json,
    const char *author, int64_t expected, int64_t *version)
{
	if (expected < 0)
		return VIGIL_EINVAL;
	return store_refvals_write(s, doc_json, author, expected, version);
}

int
store_refvals_get(struct store *s, char **doc_json, int64_t *version)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*doc_json = NULL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT version, doc FROM refvals ORDER BY "
	    "version DESC LIMIT 1", &st)) != 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if ((r = store_col_strdup(st, 1, doc_json)) == 0 &&
		    version != NULL)
			*version = sqlite3_column_int64(st, 0);
	} else if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
	} else {
		r = store_dberr(db, "select refvals");
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_refvals_get_version(struct store *s, int64_t version, char **doc_json)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*doc_json = NULL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT doc FROM refvals WHERE version = ?",
	    &st)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_col_strdup(st, 0, doc_json);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select refvals version");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- tokens ---- */

struct store_token_job {
	const uint8_t *hash;
	const char *role, *tenant, *label;
};

static int
store_job_token_add(sqlite3 *db, void *arg)
{
	struct store_token_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "INSERT INTO tokens (hash, role, tenant, "
	    "label, created_at) VALUES (?, ?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_blob(st, 1, j->hash, SHA256_LEN);
	store_bind_text(st, 2, j->role);
	store_bind_text(st, 3, j->tenant);
	store_bind_text(st, 4, j->label);
	sqlite3_bind_int64(st, 5, store_now());
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		log_warn("store: token already exists");
		r = VIGIL_EEXIST;
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "insert token");
	}
	sqlite3_finalize(st);
	return r;
}

int
store_token_add(struct store *s, const uint8_t hash[SHA256_LEN],
    const char *role, const char *tenant, const char *label)
{
	struct store_token_job j = { hash, role, tenant != NULL ? tenant : "",
	    label != NULL ? label : "" };
	int is_tenant;

	if (hash == NULL || role == NULL)
		return VIGIL_EINVAL;
	is_tenant = strcmp(role, "tenant") == 0;
	if ((!is_tenant && strcmp(role, "operator") != 0) ||
	    is_tenant != (j.tenant[0] != '\0') ||
	    strlen(j.tenant) >= sizeof(((struct token_rec *)0)->tenant)) {
		log_err("store: token role=%s tenant=%s refused (a tenant "
		    "token names a tenant, an operator token none)", role,
		    j.tenant);
		return VIGIL_EINVAL;
	}
	return store_write(s, store_job_token_add, &j);
}

int
store_token_lookup(struct store *s, const uint8_t hash[SHA256_LEN],
    struct token_rec *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT role, tenant, revoked_at IS NOT NULL "
	    "FROM tokens WHERE hash = ?", &st)) != 0)
		goto out;
	store_bind_blob(st, 1, hash, SHA256_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_col_str(st, 0, out->role, sizeof(out->role));
		store_col_str(st, 1, out->tenant, sizeof(out->tenant));
		out->revoked = sqlite3_column_int(st, 2);
		if (out->revoked)
			r = VIGIL_EDENIED;
	} else if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
	} else {
		r = store_dberr(db, "select token");
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

static int
store_job_token_revoke(sqlite3 *db, void *arg)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE tokens SET revoked_at = "
	    "coalesce(revoked_at, ?2) WHERE hash = ?1", &st)) != 0)
		return r;
	store_bind_blob(st, 1, arg, SHA256_LEN);
	sqlite3_bind_int64(st, 2, store_now());
	if ((r = store_step_done(db, st, "revoke token")) == 0 &&
	    sqlite3_changes(db) == 0)
		r = VIGIL_ENOTFOUND;
	sqlite3_finalize(st);
	return r;
}

int
store_token_revoke(struct store *s, const uint8_t hash[SHA256_LEN])
{
	if (hash == NULL)
		return VIGIL_EINVAL;
	return store_write(s, store_job_token_revoke, (void *)hash);
}

/* ---- audit ---- */

struct store_audit_job {
	const char *who, *action, *object, *detail;
};

static int
store_job_audit(sqlite3 *db, void *arg)
{
	struct store_audit_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO audit (at, who, action, object, "
	    "detail) VALUES (?, ?, ?, ?, ?)", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, store_now());
	store_bind_text(st, 2, j->who);
	store_bind_text(st, 3, j->action);
	store_bind_text(st, 4, j->object);
	store_bind_text(st, 5, j->detail);
	r = store_step_done(db, st, "insert audit");
	sqlite3_finalize(st);
	return r;
}

int
store_audit(struct store *s, const char *who, const char *action,
    const char *object, const char *detail)
{
	struct store_audit_job j = { who, action, object,
	    detail != NULL ? detail : "" };

	if (who == NULL || action == NULL || object == NULL)
		return VIGIL_EINVAL;
	return store_write(s, store_job_audit, &j);
}

void
audit_rows_free(struct audit_row *rows, size_t n)
{
	size_t i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].who);
		free(rows[i].action);
		free(rows[i].object);
		free(rows[i].detail);
	}
	free(rows);
}

int
store_audit_list(struct store *s, int64_t before_id, size_t limit,
    struct audit_row **rows, size_t *n)
{
	struct audit_row *v = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	if (limit > 10000)
		limit = 10000;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT id, at, who, action, object, detail "
	    "FROM audit WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2",
	    &st)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, before_id);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		v[k].id = sqlite3_column_int64(st, 0);
		v[k].at = sqlite3_column_int64(st, 1);
		k++;
		if ((r = store_col_strdup(st, 2, &v[k - 1].who)) != 0 ||
		    (r = store_col_strdup(st, 3, &v[k - 1].action)) != 0 ||
		    (r = store_col_strdup(st, 4, &v[k - 1].object)) != 0 ||
		    (r = store_col_strdup(st, 5, &v[k - 1].detail)) != 0)
			goto out;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "select audit");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	audit_rows_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}
