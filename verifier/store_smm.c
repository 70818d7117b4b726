/* The SMM runtime evidence in the store (store_smm.h). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "store_internal.h"
#include "store_smm.h"

/* ---- pins ---- */

/* The node's tainted regions (db/migrations/0011), in their order. */
static int
store_smm_taints_get(sqlite3 *db, const char *agent_id, struct smm_pins *out)
{
	sqlite3_stmt *st = NULL;
	struct smm_taint *t;
	int r, rc = SQLITE_DONE;

	if ((r = store_prep(db, "SELECT target, region, reason FROM "
	    "smm_taints WHERE agent_id = ?1 ORDER BY pos, target, region",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, agent_id);
	while (out->n_taints < SMM_MAX_TAINTS &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = &out->taints[out->n_taints++];
		store_col_str(st, 0, t->target, sizeof(t->target));
		store_col_str(st, 1, t->region, sizeof(t->region));
		store_col_str(st, 2, t->reason, sizeof(t->reason));
	}
	if (out->n_taints < SMM_MAX_TAINTS && rc != SQLITE_DONE)
		r = store_dberr(db, "read smm taints");
	sqlite3_finalize(st);
	return r;
}

/* Replaces the node's tainted regions with p's. */
static int
store_smm_taints_put(sqlite3 *db, const char *agent_id,
    const struct smm_pins *p)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int r;

	if ((r = store_prep(db, "DELETE FROM smm_taints WHERE agent_id = ?1",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, agent_id);
	r = store_step_done(db, st, "delete smm taints");
	sqlite3_finalize(st);
	st = NULL;
	if (r != 0 || p->n_taints == 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO smm_taints (agent_id, target, "
	    "region, pos, reason) VALUES (?1, ?2, ?3, ?4, ?5)", &st)) != 0)
		return r;
	for (i = 0; i < p->n_taints && r == 0; i++) {
		sqlite3_reset(st);
		store_bind_text(st, 1, agent_id);
		store_bind_text(st, 2, p->taints[i].target);
		store_bind_text(st, 3, p->taints[i].region);
		sqlite3_bind_int64(st, 4, (int64_t)i);
		store_bind_text(st, 5, p->taints[i].reason);
		r = store_step_done(db, st, "insert smm taint");
	}
	sqlite3_finalize(st);
	return r;
}

int
store_smm_pins_get(struct store *s, const char *agent_id,
    struct smm_pins *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	const void *p;
	int r, rc, n;

	memset(out, 0, sizeof(*out));
	if (!store_id_ok(agent_id))
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT image, log_pub, wrap_pub, seq, head, "
	    "gaps, taint_key, taint FROM smm_pins WHERE agent_id = ?1",
	    &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_dberr(db, "read smm pins");
		goto out;
	}
	r = VIGIL_EDB;
	if ((p = sqlite3_column_blob(st, 0)) == NULL ||
	    sqlite3_column_bytes(st, 0) != SMMLOG_HASH_LEN)
		goto out;
	memcpy(out->image, p, SMMLOG_HASH_LEN);
	n = sqlite3_column_bytes(st, 1);
	if ((p = sqlite3_column_blob(st, 1)) == NULL || n <= 0 ||
	    (size_t)n > SMM_MAX_PUB)
		goto out;
	memcpy(out->log_pub, p, (size_t)n);
	out->log_pub_len = (size_t)n;
	n = sqlite3_column_bytes(st, 2);
	if ((p = sqlite3_column_blob(st, 2)) == NULL || n <= 0 ||
	    (size_t)n > SMM_MAX_PUB)
		goto out;
	memcpy(out->wrap_pub, p, (size_t)n);
	out->wrap_pub_len = (size_t)n;
	out->seq = (uint64_t)sqlite3_column_int64(st, 3);
	if ((p = sqlite3_column_blob(st, 4)) == NULL ||
	    sqlite3_column_bytes(st, 4) != SMMLOG_HASH_LEN)
		goto out;
	memcpy(out->head, p, SMMLOG_HASH_LEN);
	out->gaps = (uint64_t)sqlite3_column_int64(st, 5);
	store_col_str(st, 7, out->overflow, sizeof(out->overflow));
	out->have = 1;
	sqlite3_finalize(st);
	st = NULL;
	r = store_smm_taints_get(db, agent_id, out);
 out:
	if (r == VIGIL_EDB)
		log_err("store: smm pins of agent=%s are malformed", agent_id);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

struct smm_commit_job {
	const char *agent_id;
	const struct smm_pins *pins;
	const uint8_t *const *entries;
	const size_t *lens;
	const uint64_t *seqs;
	size_t n;
	int64_t now;
};

/* kind, time_ms, key id and tenant of an entry (a malformed one is not
 * stored: the appraisal parsed every accepted entry). tenant stays ""
 * for a version-1 KEY_USE entry, which names none. */
static int
store_smm_entry_meta(const uint8_t *p, size_t len, int *kind,
    int64_t *time_ms, char key[SMMLOG_MAX_KEYID + 1],
    char tenant[SMMLOG_MAX_TENANT + 1])
{
	struct smmlog_entry e;

	if (smmlog_entry_parse(p, len, &e) != 0)
		return VIGIL_EINVAL;
	*kind = e.kind;
	*time_ms = (int64_t)e.time_ms;
	key[0] = '\0';
	tenant[0] = '\0';
	if (e.kind == SMMLOG_KIND_KEY_USE &&
	    e.u.k.key_id_len <= SMMLOG_MAX_KEYID &&
	    e.u.k.tenant_len <= SMMLOG_MAX_TENANT) {
		memcpy(key, e.u.k.key_id, e.u.k.key_id_len);
		key[e.u.k.key_id_len] = '\0';
		/* A version-1 entry has no tenant (NULL, 0). */
		if (e.u.k.tenant_len > 0)
			memcpy(tenant, e.u.k.tenant, e.u.k.tenant_len);
		tenant[e.u.k.tenant_len] = '\0';
	}
	return 0;
}

static int
store_job_smm_commit(sqlite3 *db, void *arg)
{
	struct smm_commit_job *j = arg;
	const struct smm_pins *p = j->pins;
	char key[SMMLOG_MAX_KEYID + 1], tenant[SMMLOG_MAX_TENANT + 1];
	sqlite3_stmt *st = NULL;
	int64_t tms;
	size_t i;
	int r, kind;

	if ((r = store_prep(db, "INSERT INTO smm_pins (agent_id, image, "
	    "log_pub, wrap_pub, seq, head, gaps, taint_key, taint, pinned_at, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
	    "ON CONFLICT(agent_id) DO UPDATE SET seq = ?5, head = ?6, "
	    "gaps = ?7, taint_key = ?8, taint = ?9, updated_at = ?10",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, j->agent_id);
	store_bind_blob(st, 2, p->image, SMMLOG_HASH_LEN);
	store_bind_blob(st, 3, p->log_pub, p->log_pub_len);
	store_bind_blob(st, 4, p->wrap_pub, p->wrap_pub_len);
	sqlite3_bind_int64(st, 5, (int64_t)p->seq);
	store_bind_blob(st, 6, p->head, SMMLOG_HASH_LEN);
	sqlite3_bind_int64(st, 7, (int64_t)p->gaps);
	store_bind_text(st, 8, "");
	store_bind_text(st, 9, p->overflow);
	sqlite3_bind_int64(st, 10, j->now);
	r = store_step_done(db, st, "upsert smm pins");
	sqlite3_finalize(st);
	st = NULL;
	if (r == 0)
		r = store_smm_taints_put(db, j->agent_id, p);
	if (r != 0 || j->n == 0)
		return r;
	/* key_tenant: a version-2 entry's tenant (?8); a version-1 entry
	 * names none and is the node's only holder of that id, if there is
	 * exactly one (db/migrations/0014). */
	if ((r = store_prep(db, "INSERT OR IGNORE INTO smm_log (agent_id, "
	    "seq, kind, time_ms, key_id, key_tenant, entry, received_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NULL THEN NULL "
	    "WHEN ?8 IS NOT NULL THEN ?8 ELSE (SELECT CASE WHEN count(*) = 1 "
	    "THEN min(tenant) END FROM smm_keys WHERE agent_id = ?1 AND "
	    "id = ?5) END, ?6, ?7)", &st)) != 0)
		return r;
	for (i = 0; i < j->n && r == 0; i++) {
		if (store_smm_entry_meta(j->entries[i], j->lens[i], &kind,
		    &tms, key, tenant) != 0)
			continue;
		sqlite3_reset(st);
		store_bind_text(st, 1, j->agent_id);
		sqlite3_bind_int64(st, 2, (int64_t)j->seqs[i]);
		sqlite3_bind_int(st, 3, kind);
		sqlite3_bind_int64(st, 4, tms);
		if (key[0] != '\0')
			sqlite3_bind_text(st, 5, key, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 5);
		if (tenant[0] != '\0')
			sqlite3_bind_text(st, 8, tenant, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 8);
		store_bind_blob(st, 6, j->entries[i], j->lens[i]);
		sqlite3_bind_int64(st, 7, j->now);
		r = store_step_done(db, st, "insert smm log entry");
	}
	sqlite3_finalize(st);
	return r;
}

int
store_smm_commit(struct store *s, const char *agent_id,
    const struct smm_pins *pins, const uint8_t *const *entries,
    const size_t *lens, const uint64_t *seqs, size_t n)
{
	struct smm_commit_job j;

	if (!store_id_ok(agent_id) || !pins->have)
		return VIGIL_EINVAL;
	j.agent_id = agent_id;
	j.pins = pins;
	j.entries = entries;
	j.lens = lens;
	j.seqs = seqs;
	j.n = n;
	j.now = store_now();
	return store_write(s, store_job_smm_commit, &j);
}

int
store_smm_entry_get(struct store *s, const char *agent_id, uint64_t seq,
    uint8_t **out, size_t *len)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*out = NULL;
	*len = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT entry FROM smm_log WHERE agent_id = "
	    "?1 AND seq = ?2", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, (int64_t)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_col_blobdup(st, 0, out, len);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "read smm log entry");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- log pages ---- */

void
store_smm_rows_free(struct smm_log_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		free(rows[i].entry);
	free(rows);
}

/* Runs a SELECT agent_id, seq, received_at, entry with ?1 ?2 ?3 bound
 * (text, after, limit), and ?4 (text2), ?5 (text3) unless NULL, into
 * rows. */
static int
store_smm_rows(struct store *s, const char *sql, const char *text,
    const char *text2, const char *text3, uint64_t after, size_t limit,
    struct smm_log_row **rows, size_t *n)
{
	struct smm_log_row *v = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*rows = NULL;
	*n = 0;
	if (limit == 0 || limit > STORE_SMM_PAGE_MAX)
		return VIGIL_EINVAL;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, sql, &st)) != 0)
		goto out;
	store_bind_text(st, 1, text);
	sqlite3_bind_int64(st, 2, (int64_t)after);
	sqlite3_bind_int64(st, 3, (int64_t)limit);
	if (text2 != NULL)
		store_bind_text(st, 4, text2);
	if (text3 != NULL)
		store_bind_text(st, 5, text3);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_str(st, 0, v[k].agent_id, sizeof(v[k].agent_id));
		v[k].seq = (uint64_t)sqlite3_column_int64(st, 1);
		v[k].received_at = sqlite3_column_int64(st, 2);
		if ((r = store_col_blobdup(st, 3, &v[k].entry,
		    &v[k].entry_len)) != 0)
			goto out;
		k++;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "list smm log");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	store_smm_rows_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_smm_log_page(struct store *s, const char *agent_id,
    uint64_t after_seq, size_t limit, struct smm_log_row **rows, size_t *n)
{
	return store_smm_rows(s, "SELECT agent_id, seq, received_at, entry "
	    "FROM smm_log WHERE agent_id = ?1 AND seq > ?2 ORDER BY seq "
	    "LIMIT ?3", agent_id, NULL, NULL, after_seq, limit, rows, n);
}

int
store_smm_key_uses(struct store *s, const char *agent_id,
    const char *tenant, const char *key_id, uint64_t after_seq,
    size_t limit, struct smm_log_row **rows, size_t *n)
{
	if (!store_id_ok(agent_id) || tenant == NULL || tenant[0] == '\0')
		return VIGIL_EINVAL;
	return store_smm_rows(s, "SELECT agent_id, seq, received_at, entry "
	    "FROM smm_log WHERE agent_id = ?4 AND key_tenant = ?5 AND "
	    "key_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3", key_id,
	    agent_id, tenant, after_seq, limit, rows, n);
}

/* ---- wrapped keys ---- */

struct smm_key_job {
	const char *id, *tenant, *agent_id;
	const uint8_t *blob;
	size_t len;
	int64_t now;
};

/* 1 in *found when sql (?1, ?2 bound) returns a row. */
static int
store_smm_key_probe(sqlite3 *db, const char *sql, const char *a,
    const char *b, int *found)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*found = 0;
	if ((r = store_prep(db, sql, &st)) != 0)
		return r;
	store_bind_text(st, 1, a);
	store_bind_text(st, 2, b);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		*found = 1;
	else if (rc != SQLITE_DONE)
		return store_dberr(db, "look up smm key");
	return 0;
}

static int
store_job_smm_key_add(sqlite3 *db, void *arg)
{
	struct smm_key_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, found;

	if ((r = store_smm_key_probe(db, "SELECT 1 FROM smm_keys WHERE "
	    "tenant = ?1 AND id = ?2", j->tenant, j->id, &found)) != 0)
		return r;
	if (found)
		return VIGIL_EEXIST;
	/* Another tenant's key of this id, on this node or any, is not
	 * looked at: the node's SMM service names keys by (tenant, id). */
	if ((r = store_prep(db, "INSERT INTO smm_keys (id, tenant, agent_id, "
	    "blob, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->id);
	store_bind_text(st, 2, j->tenant);
	store_bind_text(st, 3, j->agent_id);
	store_bind_blob(st, 4, j->blob, j->len);
	sqlite3_bind_int64(st, 5, j->now);
	r = store_step_done(db, st, "insert smm key");
	sqlite3_finalize(st);
	return r;
}

int
store_smm_key_add(struct store *s, const char *id, const char *tenant,
    const char *agent_id, const uint8_t *blob, size_t len)
{
	struct smm_key_job j = { id, tenant, agent_id, blob, len,
	    store_now() };
	int r;

	if (!store_id_ok(agent_id) || len == 0)
		return VIGIL_EINVAL;
	/* The job's EEXIST fails the batch's savepoint only. */
	r = store_write(s, store_job_smm_key_add, &j);
	return r;
}

/* One smm_keys row by where (?1 = a, ?2 = id, ?3 = b bound unless NULL);
 * a second row makes it VIGIL_ENOTFOUND too (ambiguous). */
static int
smm_key_read(struct store *s, const char *where, const char *a,
    const char *b, const char *id, struct smm_key_rec *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	char sql[256];
	int r, rc;

	memset(out, 0, sizeof(*out));
	snprintf(sql, sizeof(sql), "SELECT id, tenant, agent_id, created_at, "
	    "coalesce(delivered_at, 0) FROM smm_keys WHERE %s AND id = ?2 "
	    "LIMIT 2", where);
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, sql, &st)) != 0)
		goto out;
	store_bind_text(st, 1, a);
	store_bind_text(st, 2, id);
	if (b != NULL)
		store_bind_text(st, 3, b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_col_str(st, 0, out->id, sizeof(out->id));
		store_col_str(st, 1, out->tenant, sizeof(out->tenant));
		store_col_str(st, 2, out->agent_id, sizeof(out->agent_id));
		out->created_at = sqlite3_column_int64(st, 3);
		out->delivered_at = sqlite3_column_int64(st, 4);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			/* two holders: none of them is the one */
			memset(out, 0, sizeof(*out));
			r = VIGIL_ENOTFOUND;
		} else if (rc != SQLITE_DONE)
			r = store_dberr(db, "read smm key");
	} else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "read smm key");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_smm_key_get(struct store *s, const char *tenant, const char *id,
    struct smm_key_rec *out)
{
	return smm_key_read(s, "tenant = ?1", tenant, NULL, id, out);
}

int
store_smm_key_on_node(struct store *s, const char *agent_id,
    const char *tenant, const char *id, struct smm_key_rec *out)
{
	if (tenant != NULL)
		return smm_key_read(s, "agent_id = ?1 AND tenant = ?3",
		    agent_id, tenant, id, out);
	return smm_key_read(s, "agent_id = ?1", agent_id, NULL, id, out);
}

int
store_smm_keys_pending(struct store *s, const char *agent_id, size_t max,
    uint8_t **blobs, size_t *lens, char (*tenants)[65], char (*ids)[65],
    size_t *n)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id, blob, tenant FROM smm_keys WHERE "
	    "agent_id = ?1 AND delivered_at IS NULL ORDER BY created_at, "
	    "tenant, id", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	while (k < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_str(st, 0, ids[k], 65);
		store_col_str(st, 2, tenants[k], 65);
		if ((r = store_col_blobdup(st, 1, &blobs[k], &lens[k])) != 0)
			goto out;
		k++;
	}
	if (k < max && rc != SQLITE_DONE)
		r = store_dberr(db, "list pending smm keys");
 out:
	if (r != 0) {
		while (k > 0)
			free(blobs[--k]);
	}
	*n = k;
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

struct smm_deliv_job {
	const char *agent_id, *tenant, *id;
	int64_t now;
};

static int
store_job_smm_delivered(sqlite3 *db, void *arg)
{
	struct smm_deliv_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE smm_keys SET delivered_at = ?2 WHERE "
	    "id = ?1 AND agent_id = ?3 AND tenant = ?4", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->id);
	sqlite3_bind_int64(st, 2, j->now);
	store_bind_text(st, 3, j->agent_id);
	store_bind_text(st, 4, j->tenant);
	r = store_step_done(db, st, "mark smm key delivered");
	sqlite3_finalize(st);
	return r;
}

int
store_smm_key_delivered(struct store *s, const char *agent_id,
    const char *tenant, const char *id)
{
	struct smm_deliv_job j = { agent_id, tenant, id, store_now() };

	return store_write(s, store_job_smm_delivered, &j);
}

/* ---- reference sets ---- */

struct smm_refset_job {
	uint64_t version;
	const char *json;
	const uint8_t *sig;
	size_t sig_len;
	const uint8_t *digest;
	int64_t now;
};

static int
store_job_smm_refset(sqlite3 *db, void *arg)
{
	struct smm_refset_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO smm_refsets (version, json, sig, "
	    "digest, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)j->version);
	store_bind_text(st, 2, j->json);
	store_bind_blob(st, 3, j->sig, j->sig_len);
	store_bind_blob(st, 4, j->digest, SMMLOG_HASH_LEN);
	sqlite3_bind_int64(st, 5, j->now);
	r = store_step_done(db, st, "insert smm refset");
	sqlite3_finalize(st);
	return r;
}

int
store_smm_refset_add(struct store *s, uint64_t version, const char *json,
    const uint8_t *sig, size_t sig_len, const uint8_t digest[32])
{
	struct smm_refset_job j = { version, json, sig, sig_len, digest,
	    store_now() };

	if (version == 0 || version > INT64_MAX || sig_len == 0)
		return VIGIL_EINVAL;
	return store_write(s, store_job_smm_refset, &j);
}

int
store_smm_refset_latest(struct store *s, uint64_t *version, char **json,
    uint8_t **sig, size_t *sig_len)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*json = NULL;
	*sig = NULL;
	*sig_len = 0;
	*version = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT version, json, sig FROM smm_refsets "
	    "ORDER BY version DESC LIMIT 1", &st)) != 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_dberr(db, "read smm refset");
		goto out;
	}
	*version = (uint64_t)sqlite3_column_int64(st, 0);
	if ((r = store_col_strdup(st, 1, json)) != 0 ||
	    (r = store_col_blobdup(st, 2, sig, sig_len)) != 0) {
		free(*json);
		*json = NULL;
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_smm_refset_digests(struct store *s, uint8_t (**out)[SMMLOG_HASH_LEN],
    size_t *n)
{
	uint8_t (*v)[SMMLOG_HASH_LEN] = NULL;
	sqlite3_stmt *st = NULL;
	const void *p;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	if ((v = calloc(STORE_SMM_ISSUED_MAX, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT digest FROM smm_refsets ORDER BY "
	    "version DESC LIMIT ?1", &st)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, STORE_SMM_ISSUED_MAX);
	while (k < STORE_SMM_ISSUED_MAX && (rc = sqlite3_step(st)) ==
	    SQLITE_ROW) {
		if ((p = sqlite3_column_blob(st, 0)) != NULL &&
		    sqlite3_column_bytes(st, 0) == SMMLOG_HASH_LEN)
			memcpy(v[k++], p, SMMLOG_HASH_LEN);
	}
	if (k < STORE_SMM_ISSUED_MAX && rc != SQLITE_DONE) {
		r = store_dberr(db, "list smm refset digests");
		goto out;
	}
	*out = v;
	*n = k;
	v = NULL;
 out:
	free(v);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}
