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

int
store_conflicts_list(struct store *s, const char *agent_id, size_t limit,
    struct conflict_row **rows, size_t *n, uint64_t *total)
{
	sqlite3_stmt *st = NULL;
	struct conflict_row *v = NULL;
	const uint8_t *p;
	sqlite3 *db;
	int r, rc;

	*rows = NULL;
	*n = 0;
	*total = 0;
	if (!store_id_ok(agent_id) || limit == 0 || limit > STORE_GAPS_MAX)
		return VIGIL_EINVAL;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_gaps_count(db, "SELECT count(*) FROM item_conflicts "
	    "WHERE agent_id = ?1", agent_id, total)) != 0 ||
	    (r = store_prep(db, "SELECT id, epoch, seq, kind, body_sha256, "
	    "reason, at FROM item_conflicts WHERE agent_id = ? ORDER BY id "
	    "DESC LIMIT ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
		v[*n].id = sqlite3_column_int64(st, 0);
		v[*n].epoch = (uint64_t)sqlite3_column_int64(st, 1);
		v[*n].seq = (uint64_t)sqlite3_column_int64(st, 2);
		v[*n].kind = (uint32_t)sqlite3_column_int64(st, 3);
		p = sqlite3_column_blob(st, 4);
		if (p != NULL && sqlite3_column_bytes(st, 4) == SHA256_LEN)
			hex_encode(p, SHA256_LEN, v[*n].body_sha256);
		store_col_str(st, 5, v[*n].reason, sizeof(v[*n].reason));
		v[*n].at = sqlite3_column_int64(st, 6);
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_dberr(db, "select item_conflicts");
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

int
store_gaps_list(struct store *s, const char *agent_id, size_t limit,
    struct gap_row **rows, size_t *n, uint64_t *total)
{
	sqlite3_stmt *st = NULL;
	struct gap_row *v = NULL;
	sqlite3 *db;
	int r, rc;

	*rows = NULL;
	*n = 0;
	*total = 0;
	if (!store_id_ok(agent_id) || limit == 0 || limit > STORE_GAPS_MAX)
		return VIGIL_EINVAL;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_gaps_count(db, "SELECT count(*) FROM item_gaps WHERE "
	    "agent_id = ?1", agent_id, total)) != 0 ||
	    (r = store_prep(db, "SELECT id, epoch, seq, first_seq, last_seq, "
	    "reason, at FROM item_gaps WHERE agent_id = ? ORDER BY id DESC "
	    "LIMIT ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
		v[*n].id = sqlite3_column_int64(st, 0);
		v[*n].epoch = (uint64_t)sqlite3_column_int64(st, 1);
		v[*n].seq = (uint64_t)sqlite3_column_int64(st, 2);
		v[*n].first_seq = (uint64_t)sqlite3_column_int64(st, 3);
		v[*n].last_seq = (uint64_t)sqlite3_column_int64(st, 4);
		store_col_str(st, 5, v[*n].reason, sizeof(v[*n].reason));
		v[*n].at = sqlite3_column_int64(st, 6);
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_dberr(db, "select item_gaps");
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
