/* The store's reads (see store.h): event logs and quote state, node and
 * appraisal listings for the API, the freshness sweep's stale nodes, and
 * content-addressed blobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/store.h"
#include "verifier/store_internal.h"

/* ---- evidence (reads) ---- */

int
store_evlog_get(struct store *s, const char *agent_id, uint32_t log,
    uint32_t boot_count, uint8_t **out, size_t *len)
{
	sqlite3_stmt *st = NULL;
	struct buf b = BUF_INIT;
	sqlite3 *db;
	int r, rc;

	*out = NULL;
	*len = 0;
	if (!store_id_ok(agent_id))
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT data FROM evlog_chunks WHERE "
	    "agent_id = ? AND boot_count = ? ORDER BY start_off", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, STORE_EVLOG_KEY(log, boot_count));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = buf_add(&b, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0))) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select evlog_chunks");
		goto out;
	}
	*out = b.data;
	*len = b.len;
	b.data = NULL;
 out:
	buf_free(&b);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_quote_state_get(struct store *s, const char *agent_id,
    struct quote_state *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if (!store_id_ok(agent_id))
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT clock, reset_count, restart_count, "
	    "safe, at FROM quote_state WHERE agent_id = ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->clock = (uint64_t)sqlite3_column_int64(st, 0);
		out->reset_count = (uint32_t)sqlite3_column_int64(st, 1);
		out->restart_count = (uint32_t)sqlite3_column_int64(st, 2);
		out->safe = sqlite3_column_int(st, 3);
		out->at = sqlite3_column_int64(st, 4);
	} else if (rc == SQLITE_DONE) {
		r = VIGIL_ENOTFOUND;
	} else {
		r = store_dberr(db, "select quote_state");
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- reads for the API ---- */

int
store_nodes_list(struct store *s, const char *after_id, size_t limit,
    struct node_row **rows, size_t *n)
{
	struct node_row *v = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc;

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
	if ((r = store_prep(db, "SELECT id, hostname, status, "
	    "last_appraisal_at, last_seen_at, created_at FROM agents "
	    "WHERE id > ? ORDER BY id LIMIT ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, after_id != NULL ? after_id : "");
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_str(st, 0, v[k].id, sizeof(v[k].id));
		store_col_str(st, 1, v[k].hostname, sizeof(v[k].hostname));
		store_col_str(st, 2, v[k].status, sizeof(v[k].status));
		v[k].last_appraisal_at = sqlite3_column_int64(st, 3);
		v[k].last_seen_at = sqlite3_column_int64(st, 4);
		v[k].created_at = sqlite3_column_int64(st, 5);
		k++;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "select nodes");
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

void
appraisal_row_clear(struct appraisal_row *r)
{
	if (r == NULL)
		return;
	free(r->a.vector_json);
	free(r->a.reasons_json);
	r->a.vector_json = r->a.reasons_json = NULL;
}

void
appraisal_rows_free(struct appraisal_row *rows, size_t n)
{
	size_t i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		appraisal_row_clear(&rows[i]);
	free(rows);
}

static int
store_appraisal_row(sqlite3_stmt *st, struct appraisal_row *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(st, 0);
	store_col_str(st, 1, out->a.status, sizeof(out->a.status));
	out->first_at = sqlite3_column_int64(st, 4);
	out->last_at = sqlite3_column_int64(st, 5);
	out->a.at = out->last_at;
	if ((r = store_col_strdup(st, 2, &out->a.vector_json)) != 0 ||
	    (r = store_col_strdup(st, 3, &out->a.reasons_json)) != 0)
		appraisal_row_clear(out);
	return r;
}

#define STORE_APPR_COLS "id, status, vector_json, reasons_json, first_at, " \
	"last_at"

int
store_appraisals_list(struct store *s, const char *agent_id,
    int64_t before_id, size_t limit, struct appraisal_row **rows, size_t *n)
{
	struct appraisal_row *v = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if (!store_id_ok(agent_id))
		return VIGIL_EINVAL;
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
	if ((r = store_prep(db, "SELECT " STORE_APPR_COLS " FROM appraisals "
	    "WHERE agent_id = ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC "
	    "LIMIT ?3", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, before_id);
	sqlite3_bind_int64(st, 3, (int64_t)limit);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = store_appraisal_row(st, &v[k])) != 0)
			goto out;
		k++;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "select appraisals");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	appraisal_rows_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_appraisal_latest(struct store *s, const char *agent_id,
    struct appraisal_row *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if (!store_id_ok(agent_id))
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT " STORE_APPR_COLS " FROM appraisals "
	    "WHERE agent_id = ? ORDER BY id DESC LIMIT 1", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_appraisal_row(st, out);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select latest appraisal");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_nodes_stale(struct store *s, int64_t fresh_after, const char *after_id,
    size_t limit, char (**ids)[65], size_t *n)
{
	char (*v)[65] = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*ids = NULL;
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
	if ((r = store_prep(db, "SELECT a.id FROM agents a LEFT JOIN "
	    "quote_state q ON q.agent_id = a.id WHERE a.id > ?1 AND "
	    "a.state = 1 AND a.status <> 'none' AND (q.at IS NULL OR "
	    "q.at < ?2) ORDER BY a.id LIMIT ?3", &st)) != 0)
		goto out;
	store_bind_text(st, 1, after_id != NULL ? after_id : "");
	sqlite3_bind_int64(st, 2, fresh_after);
	sqlite3_bind_int64(st, 3, (int64_t)limit);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_str(st, 0, v[k], sizeof(v[k]));
		k++;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "select stale nodes");
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

/* ---- blobs ---- */

struct store_blob_job {
	const uint8_t *data;
	size_t len;
	uint8_t sha[SHA256_LEN];
};

static int
store_job_blob_put(sqlite3 *db, void *arg)
{
	struct store_blob_job *j = arg;

	return store_w_blob(db, j->sha, j->data, j->len, store_now());
}

int
store_blob_put(struct store *s, const uint8_t *data, size_t len,
    uint8_t sha_out[SHA256_LEN])
{
	struct store_blob_job j = { data, len, { 0 } };
	int r;

	if (data == NULL && len > 0)
		return VIGIL_EINVAL;
	if (len > STORE_BLOB_MAX) {
		log_err("store: blob of %zu bytes over the limit", len);
		return VIGIL_ETOOBIG;
	}
	if ((r = store_sha256(data, len, j.sha)) != 0 ||
	    (r = store_write(s, store_job_blob_put, &j)) != 0)
		return r;
	if (sha_out != NULL)
		memcpy(sha_out, j.sha, SHA256_LEN);
	return 0;
}

int
store_blob_get(struct store *s, const uint8_t sha[SHA256_LEN], uint8_t **out,
    size_t *len)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*out = NULL;
	*len = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT data FROM blobs WHERE sha256 = ?",
	    &st)) != 0)
		goto out;
	store_bind_blob(st, 1, sha, SHA256_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_col_blobdup(st, 0, out, len);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select blob");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}
