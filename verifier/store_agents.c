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

/* A SHA-256 column into out; 1 if it held one. */
static int
store_col_sha(sqlite3_stmt *st, int i, uint8_t out[SHA256_LEN])
{
	if (sqlite3_column_bytes(st, i) != SHA256_LEN)
		return 0;
	memcpy(out, sqlite3_column_blob(st, i), SHA256_LEN);
	return 1;
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
	    "ek_pub, ek_cert, ak_pub, ak_name, secret_hash, created_at, "
	    "ek_key_sha256, ek_cert_sha256 FROM agents WHERE id = ?",
	    &st)) != 0)
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
	store_col_sha(st, 7, out->secret_hash);
	out->created_at = sqlite3_column_int64(st, 8);
	out->have_ek_key_fp = store_col_sha(st, 9, out->ek_key_fp);
	out->have_ek_cert_fp = store_col_sha(st, 10, out->ek_cert_fp);
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	if (r != 0)
		agent_rec_free(out);
	return r;
}

int
store_q_agent_by_blob(sqlite3 *db, const char *sql, const void *blob,
    size_t len, const char *not_id, char id_out[65], const char *what)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, sql, &st)) != 0)
		return r;
	store_bind_blob(st, 1, blob, len);
	if (not_id != NULL)
		store_bind_text(st, 2, not_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_col_str(st, 0, id_out, 65);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, what);
	sqlite3_finalize(st);
	return r;
}

int
store_agent_by_ak_name(struct store *s, const uint8_t *name, size_t len,
    char id_out[65])
{
	sqlite3 *db;
	int r;

	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_q_agent_by_blob(db, "SELECT id FROM agents WHERE "
	    "ak_name = ?1", name, len, NULL, id_out, "select agent by ak_name");
	store_rd_put(s, db);
	return r;
}

#define STORE_EK_SQL "SELECT id, ek_key_sha256 IS NOT ?2 FROM agents " \
	"WHERE state = 1 AND id <> ?1 AND (ek_key_sha256 = ?2 OR " \
	"ek_cert_sha256 = ?3) ORDER BY id LIMIT 1"

/* The other active agent with this EK key or certificate (0), or
 * VIGIL_ENOTFOUND. */
static int
store_q_agent_by_ek(sqlite3 *db, const char *id, const uint8_t *key_fp,
    const uint8_t *cert_fp, char id_out[65], int *cert)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, STORE_EK_SQL, &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	if (key_fp != NULL)
		store_bind_blob(st, 2, key_fp, SHA256_LEN);
	if (cert_fp != NULL)
		store_bind_blob(st, 3, cert_fp, SHA256_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_col_str(st, 0, id_out, 65);
		*cert = sqlite3_column_int(st, 1) != 0;
	} else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select agent by EK");
	sqlite3_finalize(st);
	return r;
}

int
store_agent_by_ek(struct store *s, const char *id,
    const uint8_t key_fp[SHA256_LEN], const uint8_t *cert_fp,
    char id_out[65], int *cert)
{
	sqlite3 *db;
	int r;

	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_q_agent_by_ek(db, id, key_fp, cert_fp, id_out, cert);
	store_rd_put(s, db);
	return r;
}

/* The other agent holding the AK named (name, len), or VIGIL_ENOTFOUND. */
static int
store_q_ak_holder(sqlite3 *db, const char *id, const uint8_t *name,
    size_t len, char id_out[65])
{
	return store_q_agent_by_blob(db, "SELECT id FROM agents WHERE "
	    "ak_name = ?1 AND id <> ?2", name, len, id, id_out,
	    "select agent by ak_name");
}

/* The existing record's state, approval and AK name; *exists 0 if none. */
struct store_agent_now {
	int exists, state, approved;
	uint8_t ak_name[128];
	size_t ak_name_len;
};

static int
store_w_agent_now(sqlite3 *db, const char *id, struct store_agent_now *o)
{
	sqlite3_stmt *st = NULL;
	size_t n;
	int r, rc;

	memset(o, 0, sizeof(*o));
	if ((r = store_prep(db, "SELECT state, reenrol_approved, ak_name "
	    "FROM agents WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		o->exists = 1;
		o->state = sqlite3_column_int(st, 0);
		o->approved = sqlite3_column_int(st, 1);
		n = (size_t)sqlite3_column_bytes(st, 2);
		if (n <= sizeof(o->ak_name)) {
			if (n > 0)
				memcpy(o->ak_name, sqlite3_column_blob(st, 2),
				    n);
			o->ak_name_len = n;
		}
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select agent");
	}
	sqlite3_finalize(st);
	return r;
}

/* A never-activated agent claims no AK (an outsider replaying a node's
 * public AK must not block the node): its record holds a placeholder name
 * no TPM object has (algorithm 0x0000, then the agent id). */
static void
store_pending_ak_name(const char *id, uint8_t out[128], size_t *len)
{
	out[0] = out[1] = 0;
	memcpy(out + 2, id, 64);
	*len = 66;
}

static int
store_w_agent_insert(sqlite3 *db, const struct agent_rec *a, int64_t now)
{
	sqlite3_stmt *st = NULL;
	uint8_t name[128];
	size_t nlen;
	int r;

	store_pending_ak_name(a->id, name, &nlen);
	if ((r = store_prep(db, "INSERT INTO agents (id, hostname, state, "
	    "ek_pub, ek_cert, ak_pub, ak_name, secret_hash, created_at, "
	    "updated_at) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->hostname);
	store_bind_blob(st, 3, a->ek_pub, a->ek_pub_len);
	if (a->ek_cert != NULL && a->ek_cert_len > 0)
		store_bind_blob(st, 4, a->ek_cert, a->ek_cert_len);
	store_bind_blob(st, 5, a->ak_pub, a->ak_pub_len);
	store_bind_blob(st, 6, name, nlen);
	store_bind_blob(st, 7, a->secret_hash, SHA256_LEN);
	sqlite3_bind_int64(st, 8, now);
	r = store_step_done(db, st, "insert agent");
	sqlite3_finalize(st);
	return r;
}

/* Drops a's expired registrations; VIGIL_ETOOBIG (and *retry_s) when the
 * rest fill the agent's allowance. */
static int
store_w_activations_room(sqlite3 *db, const char *id, int64_t now,
    int64_t *retry_s)
{
	sqlite3_stmt *st = NULL;
	int64_t oldest = 0, n = 0;
	int r, rc;

	if ((r = store_prep(db, "DELETE FROM agent_activations WHERE "
	    "agent_id = ?1 AND created_at < ?2", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now - STORE_ACTIVATION_TTL_S);
	r = store_step_done(db, st, "expire activations");
	sqlite3_finalize(st);
	if (r != 0 || (r = store_prep(db, "SELECT count(*), "
	    "coalesce(min(created_at), 0) FROM agent_activations WHERE "
	    "agent_id = ?1", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
		oldest = sqlite3_column_int64(st, 1);
	} else
		r = store_dberr(db, "count activations");
	sqlite3_finalize(st);
	if (r == 0 && n >= STORE_ACTIVATIONS_MAX) {
		log_warn("store: register agent=%s refused: %lld registrations "
		    "wait for activation", id, (long long)n);
		if (retry_s != NULL)
			*retry_s = oldest + STORE_ACTIVATION_TTL_S - now + 1;
		r = VIGIL_ETOOBIG;
	}
	return r;
}

static int
store_w_activation_add(sqlite3 *db, const struct agent_rec *a, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO agent_activations (agent_id, "
	    "hostname, ek_cert, ak_pub, ak_name, ek_key_sha256, "
	    "ek_cert_sha256, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6, ?7, ?8, ?9)", &st)) != 0)
		return r;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->hostname);
	if (a->ek_cert != NULL && a->ek_cert_len > 0)
		store_bind_blob(st, 3, a->ek_cert, a->ek_cert_len);
	store_bind_blob(st, 4, a->ak_pub, a->ak_pub_len);
	store_bind_blob(st, 5, a->ak_name, a->ak_name_len);
	if (a->have_ek_key_fp)
		store_bind_blob(st, 6, a->ek_key_fp, SHA256_LEN);
	if (a->have_ek_cert_fp)
		store_bind_blob(st, 7, a->ek_cert_fp, SHA256_LEN);
	store_bind_blob(st, 8, a->secret_hash, SHA256_LEN);
	sqlite3_bind_int64(st, 9, now);
	r = store_step_done(db, st, "insert activation");
	sqlite3_finalize(st);
	return r;
}

struct store_register_job {
	const struct agent_rec *a;
	int64_t *retry_s;
};

static int
store_job_agent_register(sqlite3 *db, void *arg)
{
	struct store_register_job *j = arg;
	const struct agent_rec *a = j->a;
	struct store_agent_now now_rec;
	int64_t now = store_now();
	char other[65];
	int r;

	/* The AK must not belong to another agent. */
	r = store_q_ak_holder(db, a->id, a->ak_name, a->ak_name_len, other);
	if (r == 0) {
		log_warn("store: register agent=%s refused: its AK is "
		    "registered to agent=%s", a->id, other);
		return VIGIL_EEXIST;
	}
	if (r != VIGIL_ENOTFOUND ||
	    (r = store_w_agent_now(db, a->id, &now_rec)) != 0)
		return r;
	if (now_rec.exists && now_rec.state == AGENT_ACTIVE &&
	    !now_rec.approved && (now_rec.ak_name_len != a->ak_name_len ||
	    memcmp(now_rec.ak_name, a->ak_name, a->ak_name_len) != 0)) {
		log_warn("store: register agent=%s refused: already active "
		    "with another AK and no re-enrolment approved", a->id);
		return VIGIL_EEXIST;
	}
	if (!now_rec.exists && (r = store_w_agent_insert(db, a, now)) != 0)
		return r;
	if ((r = store_w_activations_room(db, a->id, now, j->retry_s)) != 0 ||
	    (r = store_w_activation_add(db, a, now)) != 0)
		return r;
	if (now_rec.exists && now_rec.state == AGENT_ACTIVE)
		log_info("store: agent=%s registered again; its record stays "
		    "as it is until this registration's activation", a->id);
	return 0;
}

int
store_agent_register(struct store *s, const struct agent_rec *a,
    int64_t *retry_s)
{
	struct store_register_job j = { a, retry_s };

	if (!store_id_ok(a->id) || strlen(a->id) != 64 || a->ek_pub == NULL ||
	    a->ek_pub_len == 0 || a->ak_pub == NULL || a->ak_pub_len == 0 ||
	    a->ak_name_len == 0 || a->ak_name_len > sizeof(a->ak_name) ||
	    strnlen(a->hostname, sizeof(a->hostname)) == sizeof(a->hostname))
		return VIGIL_EINVAL;
	return store_write(s, store_job_agent_register, &j);
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

/* ---- activation ---- */

/* One waiting registration, as store_w_activation_find reads it. The
 * blobs point into the statement, valid until it is finalized. */
struct store_act {
	int64_t id;
	const char *hostname;
	const void *ek_cert, *ak_pub, *ak_name, *key_fp, *cert_fp;
	int ek_cert_len, ak_pub_len, ak_name_len, key_fp_len, cert_fp_len;
	const void *secret_hash;
};

static int
store_w_activation_find(sqlite3 *db, const char *id,
    const uint8_t secret_hash[SHA256_LEN], int64_t now, sqlite3_stmt **st,
    struct store_act *o)
{
	int r, rc;

	memset(o, 0, sizeof(*o));
	if ((r = store_prep(db, "SELECT id, hostname, ek_cert, ak_pub, "
	    "ak_name, ek_key_sha256, ek_cert_sha256, secret_hash FROM "
	    "agent_activations WHERE agent_id = ?1 AND secret_hash = ?2 AND "
	    "created_at >= ?3 ORDER BY id DESC LIMIT 1", st)) != 0)
		return r;
	store_bind_text(*st, 1, id);
	store_bind_blob(*st, 2, secret_hash, SHA256_LEN);
	sqlite3_bind_int64(*st, 3, now - STORE_ACTIVATION_TTL_S);
	rc = sqlite3_step(*st);
	if (rc == SQLITE_DONE)
		return VIGIL_EDENIED;
	if (rc != SQLITE_ROW)
		return store_dberr(db, "select activation");
	o->id = sqlite3_column_int64(*st, 0);
	o->hostname = (const char *)sqlite3_column_text(*st, 1);
#define STORE_ACT_BLOB(i, p, n) do { \
	(p) = sqlite3_column_blob(*st, (i)); \
	(n) = sqlite3_column_bytes(*st, (i)); } while (0)
	STORE_ACT_BLOB(2, o->ek_cert, o->ek_cert_len);
	STORE_ACT_BLOB(3, o->ak_pub, o->ak_pub_len);
	STORE_ACT_BLOB(4, o->ak_name, o->ak_name_len);
	STORE_ACT_BLOB(5, o->key_fp, o->key_fp_len);
	STORE_ACT_BLOB(6, o->cert_fp, o->cert_fp_len);
#undef STORE_ACT_BLOB
	o->secret_hash = sqlite3_column_blob(*st, 7);
	return 0;
}

/* The identity checks of an activation; 0 or VIGIL_EEXIST with the reason
 * in out->why. */
static int
store_w_activation_check(sqlite3 *db, const char *id,
    const struct store_agent_now *cur, const struct store_act *act,
    struct agent_activation *out)
{
	char other[65];
	int r, cert = 0;

	if (cur->state == AGENT_ACTIVE && !cur->approved &&
	    (cur->ak_name_len != (size_t)act->ak_name_len ||
	    memcmp(cur->ak_name, act->ak_name, cur->ak_name_len) != 0)) {
		snprintf(out->why, sizeof(out->why), "re-enrolment not "
		    "approved: agent %s is active with another AK (POST "
		    "/v1/nodes/{id}/re-enrol)", id);
		return VIGIL_EEXIST;
	}
	r = store_q_ak_holder(db, id, act->ak_name, (size_t)act->ak_name_len,
	    other);
	if (r == 0) {
		snprintf(out->why, sizeof(out->why), "AK uniqueness: this AK "
		    "is registered to agent %s", other);
		return VIGIL_EEXIST;
	}
	if (r != VIGIL_ENOTFOUND)
		return r;
	r = store_q_agent_by_ek(db, id, act->key_fp_len == SHA256_LEN ?
	    act->key_fp : NULL, act->cert_fp_len == SHA256_LEN ?
	    act->cert_fp : NULL, other, &cert);
	if (r == 0) {
		snprintf(out->why, sizeof(out->why), "EK uniqueness: this %s "
		    "belongs to active agent %s", cert ? "EK certificate" :
		    "EK key", other);
		return VIGIL_EEXIST;
	}
	return r == VIGIL_ENOTFOUND ? 0 : r;
}

static int
store_w_activation_apply(sqlite3 *db, const char *id,
    const struct store_act *act, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE agents SET hostname = ?2, ek_cert = "
	    "?3, ak_pub = ?4, ak_name = ?5, ek_key_sha256 = ?6, "
	    "ek_cert_sha256 = ?7, secret_hash = ?8, state = 1, "
	    "reenrol_approved = 0, updated_at = ?9 WHERE id = ?1", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, act->hostname);
	if (act->ek_cert_len > 0)
		store_bind_blob(st, 3, act->ek_cert, (size_t)act->ek_cert_len);
	store_bind_blob(st, 4, act->ak_pub, (size_t)act->ak_pub_len);
	store_bind_blob(st, 5, act->ak_name, (size_t)act->ak_name_len);
	if (act->key_fp_len == SHA256_LEN)
		store_bind_blob(st, 6, act->key_fp, SHA256_LEN);
	if (act->cert_fp_len == SHA256_LEN)
		store_bind_blob(st, 7, act->cert_fp, SHA256_LEN);
	store_bind_blob(st, 8, act->secret_hash, SHA256_LEN);
	sqlite3_bind_int64(st, 9, now);
	r = store_step_done(db, st, "activate agent");
	sqlite3_finalize(st);
	if (r != 0 || (r = store_prep(db, "DELETE FROM agent_activations "
	    "WHERE agent_id = ?1", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	r = store_step_done(db, st, "drop activations");
	sqlite3_finalize(st);
	return r;
}

struct store_activate_job {
	const char *id;
	const uint8_t *secret_hash;
	const struct appraisal *reenrol;
	struct agent_activation *out;
};

static int
store_job_agent_activate(sqlite3 *db, void *arg)
{
	struct store_activate_job *j = arg;
	struct store_agent_now cur;
	struct store_act act;
	sqlite3_stmt *st = NULL;
	int64_t now = store_now();
	int r;

	if ((r = store_w_agent_now(db, j->id, &cur)) != 0)
		return r;
	if (!cur.exists)
		return VIGIL_ENOTFOUND;
	if ((r = store_w_activation_find(db, j->id, j->secret_hash, now, &st,
	    &act)) != 0 ||
	    (r = store_w_activation_check(db, j->id, &cur, &act,
	    j->out)) != 0 ||
	    (r = store_w_activation_apply(db, j->id, &act, now)) != 0)
		goto out;
	j->out->reenrolled = cur.approved != 0;
	if (cur.approved && j->reenrol != NULL)
		r = store_w_appraisal(db, j->id, j->reenrol);
 out:
	sqlite3_finalize(st);
	if (r == VIGIL_EEXIST)
		log_warn("store: activate agent=%s refused: %s", j->id,
		    j->out->why);
	return r;
}

int
store_agent_activate(struct store *s, const char *id,
    const uint8_t secret_hash[SHA256_LEN], const struct appraisal *reenrol,
    struct agent_activation *out)
{
	struct agent_activation tmp;
	struct store_activate_job j = { id, secret_hash, reenrol, out };

	if (j.out == NULL)
		j.out = &tmp;
	memset(j.out, 0, sizeof(*j.out));
	if (!store_id_ok(id))
		return VIGIL_EINVAL;
	return store_write(s, store_job_agent_activate, &j);
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

int
store_agents_by_hostname(struct store *s, const char *hostname,
    char (*ids)[65], size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id FROM agents WHERE hostname = ?1 "
	    "AND state = 1 ORDER BY id LIMIT ?2", &st)) != 0)
		goto out;
	store_bind_text(st, 1, hostname);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		store_col_str(st, 0, ids[(*n)++], 65);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_dberr(db, "select agents by hostname");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
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
