/* The store's reads of item conflicts and spool gaps (see store.h): the
 * snapshot a push's appraisal takes of its items' keys, and the lists
 * GET /v1/nodes/{id} shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/store.h"
#include "verifier/store_internal.h"

int
store_items_known(struct store *s, const char *agent_id,
    const struct item_in *items, size_t n, enum item_outcome *out)
{
	sqlite3_stmt *st = NULL;
	uint8_t sha[SHA256_LEN];
	const void *old;
	sqlite3 *db;
	size_t i;
	int r, rc;

	if (!store_id_ok(agent_id) || (n > 0 && (items == NULL ||
	    out == NULL)))
		return VIGIL_EINVAL;
	if (n == 0)
		return 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT body_sha256 FROM items WHERE "
	    "agent_id = ? AND epoch = ? AND seq = ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	for (i = 0; i < n; i++) {
		out[i] = ITEM_NEW;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 2, (int64_t)items[i].epoch);
		sqlite3_bind_int64(st, 3, (int64_t)items[i].seq);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			continue;
		if (rc != SQLITE_ROW) {
			r = store_dberr(db, "select item");
			goto out;
		}
		if ((r = store_sha256(items[i].body, items[i].body_len,
		    sha)) != 0)
			goto out;
		old = sqlite3_column_blob(st, 0);
		out[i] = sqlite3_column_bytes(st, 0) == SHA256_LEN &&
		    old != NULL && memcmp(old, sha, SHA256_LEN) == 0 ?
		    ITEM_DUPLICATE : ITEM_CONFLICT;
	}
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* SELECT count(*) with the agent bound to ?1. */
static int
store_gaps_count(sqlite3 *db, const char *sql, const char *agent_id,
    uint64_t *total)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, sql, &st)) != 0)
		return r;
	store_bind_text(st, 1, agent_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*total = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = store_dberr(db, "count");
	sqlite3_finalize(st);
	return r;
}

/* One list of GET /v1/nodes/{id}'s `evidence`: the table's count for
 * the agent, then its newest `limit` rows, each read by row_fn into the
 * i-th element (elsize bytes) of a calloc'd array. */
struct store_rows {
	const char *what;	/* the table, for the error */
	const char *count_sql, *list_sql;	/* ?1 agent (, ?2 limit) */
	size_t elsize;
	void (*row_fn)(sqlite3_stmt *st, void *row);
};

static int
store_rows_list(struct store *s, const struct store_rows *q,
    const char *agent_id, size_t limit, void **rows, size_t *n,
    uint64_t *total)
{
	sqlite3_stmt *st = NULL;
	uint8_t *v = NULL;
	sqlite3 *db;
	int r, rc = SQLITE_DONE;

	*rows = NULL;
	*n = 0;
	*total = 0;
	if (!store_id_ok(agent_id) || limit == 0 || limit > STORE_GAPS_MAX)
		return VIGIL_EINVAL;
	if ((v = calloc(limit, q->elsize)) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_gaps_count(db, q->count_sql, agent_id, total)) != 0 ||
	    (r = store_prep(db, q->list_sql, &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit)
		q->row_fn(st, v + (*n)++ * q->elsize);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_dberr(db, q->what);
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	if (r != 0) {
		free(v);
		*n = 0;
		return r;
	}
	*rows = v;
	return 0;
}

static void
store_conflict_row(sqlite3_stmt *st, void *row)
{
	struct conflict_row *c = row;
	const uint8_t *p;

	c->id = sqlite3_column_int64(st, 0);
	c->epoch = (uint64_t)sqlite3_column_int64(st, 1);
	c->seq = (uint64_t)sqlite3_column_int64(st, 2);
	c->kind = (uint32_t)sqlite3_column_int64(st, 3);
	p = sqlite3_column_blob(st, 4);
	if (p != NULL && sqlite3_column_bytes(st, 4) == SHA256_LEN)
		hex_encode(p, SHA256_LEN, c->body_sha256);
	store_col_str(st, 5, c->reason, sizeof(c->reason));
	c->at = sqlite3_column_int64(st, 6);
}

static void
store_gap_row(sqlite3_stmt *st, void *row)
{
	struct gap_row *g = row;

	g->id = sqlite3_column_int64(st, 0);
	g->epoch = (uint64_t)sqlite3_column_int64(st, 1);
	g->seq = (uint64_t)sqlite3_column_int64(st, 2);
	g->first_seq = (uint64_t)sqlite3_column_int64(st, 3);
	g->last_seq = (uint64_t)sqlite3_column_int64(st, 4);
	store_col_str(st, 5, g->reason, sizeof(g->reason));
	g->at = sqlite3_column_int64(st, 6);
}

int
store_conflicts_list(struct store *s, const char *agent_id, size_t limit,
    struct conflict_row **rows, size_t *n, uint64_t *total)
{
	static const struct store_rows q = { "select item_conflicts",
	    "SELECT count(*) FROM item_conflicts WHERE agent_id = ?1",
	    "SELECT id, epoch, seq, kind, body_sha256, reason, at FROM "
	    "item_conflicts WHERE agent_id = ?1 ORDER BY id DESC LIMIT ?2",
	    sizeof(struct conflict_row), store_conflict_row };

	return store_rows_list(s, &q, agent_id, limit, (void **)rows, n,
	    total);
}

int
store_gaps_list(struct store *s, const char *agent_id, size_t limit,
    struct gap_row **rows, size_t *n, uint64_t *total)
{
	static const struct store_rows q = { "select item_gaps",
	    "SELECT count(*) FROM item_gaps WHERE agent_id = ?1",
	    "SELECT id, epoch, seq, first_seq, last_seq, reason, at FROM "
	    "item_gaps WHERE agent_id = ?1 ORDER BY id DESC LIMIT ?2",
	    sizeof(struct gap_row), store_gap_row };

	return store_rows_list(s, &q, agent_id, limit, (void **)rows, n,
	    total);
}
