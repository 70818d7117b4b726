/* The store's computation tables (see store_comp.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "verifier/store_comp.h"
#include "verifier/store_internal.h"

#define STORE_QH_KEEP_S (30 * 86400)	/* quote history kept this long */

#define COMP_COLS "id, tenant, name, recipe_json, recipe_sha256, c0, " \
	"agent_id, status, reason, exit_status, count, final_cumulative, " \
	"created_at"
#define CKPT_COLS "idx, agent_id, state, cumulative, commitment_ok, clock, " \
	"reset_count, restart_count, verdict, reason, at, pending"
#define REPLAY_COLS "id, computation_id, tenant, status, " \
	"checkpoints_compared, divergence, error, created_at, " \
	"coalesce(started_at, 0), coalesce(finished_at, 0)"

void
comp_rec_clear(struct comp_rec *c)
{
	if (c == NULL)
		return;
	free(c->recipe_json);
	c->recipe_json = NULL;
}

void
comp_recs_free(struct comp_rec *rows, size_t n)
{
	size_t i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		comp_rec_clear(&rows[i]);
	free(rows);
}

const char *
ckpt_verdict_name(enum ckpt_verdict v)
{
	switch (v) {
	case CKPT_VALID: return "valid";
	case CKPT_FLAGGED: return "flagged";
	case CKPT_REJECTED: return "rejected";
	}
	return "rejected";
}

static enum ckpt_verdict
store_verdict_parse(const char *s)
{
	if (strcmp(s, "valid") == 0)
		return CKPT_VALID;
	if (strcmp(s, "flagged") == 0)
		return CKPT_FLAGGED;
	return CKPT_REJECTED;
}

static void
store_col_digest(sqlite3_stmt *st, int i, uint8_t out[COMP_DIGEST_LEN])
{
	const void *p = sqlite3_column_blob(st, i);

	memset(out, 0, COMP_DIGEST_LEN);
	if (p != NULL && sqlite3_column_bytes(st, i) == COMP_DIGEST_LEN)
		memcpy(out, p, COMP_DIGEST_LEN);
}

/* ---- computations ---- */

struct comp_add_job {
	const struct comp_rec *c;
	int64_t now;
};

static int
store_job_comp_add(sqlite3 *db, void *arg)
{
	struct comp_add_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "INSERT INTO computations (id, tenant, name, "
	    "recipe_json, recipe_sha256, c0, created_at) VALUES (?, ?, ?, ?, "
	    "?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->c->id);
	store_bind_text(st, 2, j->c->tenant);
	store_bind_text(st, 3, j->c->name);
	store_bind_text(st, 4, j->c->recipe_json);
	store_bind_blob(st, 5, j->c->recipe_sha256, COMP_DIGEST_LEN);
	store_bind_blob(st, 6, j->c->c0, COMP_DIGEST_LEN);
	sqlite3_bind_int64(st, 7, j->now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = 0;
	else if ((rc & 0xff) == SQLITE_CONSTRAINT)
		r = VIGIL_EEXIST;
	else
		r = store_dberr(db, "insert computation");
	sqlite3_finalize(st);
	return r;
}

int
store_comp_add(struct store *s, const struct comp_rec *c)
{
	struct comp_add_job j = { c, 0 };

	if (c->recipe_json == NULL || strlen(c->id) != COMP_ID_LEN)
		return VIGIL_EINVAL;
	j.now = c->created_at != 0 ? c->created_at : store_now();
	return store_write(s, store_job_comp_add, &j);
}

static int
store_comp_row(sqlite3_stmt *st, struct comp_rec *c)
{
	memset(c, 0, sizeof(*c));
	store_col_str(st, 0, c->id, sizeof(c->id));
	store_col_str(st, 1, c->tenant, sizeof(c->tenant));
	store_col_str(st, 2, c->name, sizeof(c->name));
	if (store_col_strdup(st, 3, &c->recipe_json) != 0)
		return VIGIL_ENOMEM;
	store_col_digest(st, 4, c->recipe_sha256);
	store_col_digest(st, 5, c->c0);
	store_col_str(st, 6, c->agent_id, sizeof(c->agent_id));
	store_col_str(st, 7, c->status, sizeof(c->status));
	store_col_str(st, 8, c->reason, sizeof(c->reason));
	c->has_end = sqlite3_column_type(st, 10) != SQLITE_NULL;
	c->exit_status = sqlite3_column_int(st, 9);
	c->count = (uint64_t)sqlite3_column_int64(st, 10);
	store_col_digest(st, 11, c->final_cum);
	c->created_at = sqlite3_column_int64(st, 12);
	return 0;
}

int
store_comp_get(struct store *s, const char *id, struct comp_rec *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT " COMP_COLS " FROM computations "
	    "WHERE id = ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_comp_row(st, out);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select computation");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_comp_list(struct store *s, const char *tenant, const char *after_id,
    size_t limit, struct comp_rec **rows, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct comp_rec *v = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if (limit == 0 || limit > 1000)
		return VIGIL_EINVAL;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT " COMP_COLS " FROM computations "
	    "WHERE (?1 IS NULL OR tenant = ?1) AND id > ?2 ORDER BY id "
	    "LIMIT ?3", &st)) != 0)
		goto out;
	if (tenant != NULL)
		store_bind_text(st, 1, tenant);
	store_bind_text(st, 2, after_id != NULL ? after_id : "");
	sqlite3_bind_int64(st, 3, (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < limit) {
		if ((r = store_comp_row(st, &v[k])) != 0)
			goto out;
		k++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = store_dberr(db, "select computations");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	comp_recs_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- checkpoints ---- */

static int store_w_comp_status(sqlite3 *db, const char *comp_id,
    char status[16]);

struct ckpt_add_job {
	const char *comp_id;
	const struct ckpt_row *r;
	int added;
};

static int
store_w_comp_exists(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT 1 FROM computations WHERE id = ?",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else if (rc != SQLITE_ROW)
		r = store_dberr(db, "select computation");
	sqlite3_finalize(st);
	return r;
}

static int
store_job_ckpt_add(sqlite3 *db, void *arg)
{
	struct ckpt_add_job *j = arg;
	const struct ckpt_row *c = j->r;
	sqlite3_stmt *st = NULL;
	char status[16];
	int r;

	if ((r = store_w_comp_exists(db, j->comp_id)) != 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO checkpoints (computation_id, idx, "
	    "agent_id, state, cumulative, commitment_ok, clock, reset_count, "
	    "restart_count, verdict, reason, at, pending) VALUES (?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (computation_id, idx) DO "
	    "UPDATE SET pending = excluded.pending, "
	    "agent_id = excluded.agent_id, state = excluded.state, "
	    "cumulative = excluded.cumulative, commitment_ok = 1, clock = "
	    "excluded.clock, reset_count = excluded.reset_count, "
	    "restart_count = excluded.restart_count, verdict = "
	    "excluded.verdict, reason = excluded.reason, at = excluded.at "
	    "WHERE checkpoints.commitment_ok = 0 AND excluded.commitment_ok = "
	    "1", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->comp_id);
	sqlite3_bind_int64(st, 2, (int64_t)c->idx);
	store_bind_text(st, 3, c->agent_id);
	store_bind_blob(st, 4, c->state, COMP_DIGEST_LEN);
	store_bind_blob(st, 5, c->cum, COMP_DIGEST_LEN);
	sqlite3_bind_int(st, 6, c->commitment_ok);
	sqlite3_bind_int64(st, 7, (int64_t)c->clock);
	sqlite3_bind_int64(st, 8, c->reset_count);
	sqlite3_bind_int64(st, 9, c->restart_count);
	store_bind_text(st, 10, ckpt_verdict_name(c->verdict));
	store_bind_text(st, 11, c->reason);
	sqlite3_bind_int64(st, 12, c->at);
	sqlite3_bind_int(st, 13, c->pending);
	r = store_step_done(db, st, "insert checkpoint");
	sqlite3_finalize(st);
	if (r != 0)
		return r;
	j->added = sqlite3_changes(db) > 0;
	if (!j->added)
		return 0;
	/* Only evidence the node's own TPM signed names the node. */
	if (c->commitment_ok) {
		if ((r = store_prep(db, "UPDATE computations SET agent_id = "
		    "coalesce(agent_id, ?) WHERE id = ?", &st)) != 0)
			return r;
		store_bind_text(st, 1, c->agent_id);
		store_bind_text(st, 2, j->comp_id);
		r = store_step_done(db, st, "update computation node");
		sqlite3_finalize(st);
		if (r != 0)
			return r;
	}
	/* A checkpoint after the end: the status is decided again. */
	return store_w_comp_status(db, j->comp_id, status);
}

int
store_ckpt_add(struct store *s, const char *comp_id, const struct ckpt_row *r,
    int *added)
{
	struct ckpt_add_job j = { comp_id, r, 0 };
	int e;

	if (r->idx == 0 || r->idx > INT64_MAX)
		return VIGIL_EINVAL;
	e = store_write(s, store_job_ckpt_add, &j);
	if (added != NULL)
		*added = j.added;
	return e;
}

static void
store_ckpt_row_read(sqlite3_stmt *st, struct ckpt_row *c)
{
	char v[16];

	memset(c, 0, sizeof(*c));
	c->idx = (uint64_t)sqlite3_column_int64(st, 0);
	store_col_str(st, 1, c->agent_id, sizeof(c->agent_id));
	store_col_digest(st, 2, c->state);
	store_col_digest(st, 3, c->cum);
	c->commitment_ok = sqlite3_column_int(st, 4);
	c->clock = (uint64_t)sqlite3_column_int64(st, 5);
	c->reset_count = (uint32_t)sqlite3_column_int64(st, 6);
	c->restart_count = (uint32_t)sqlite3_column_int64(st, 7);
	store_col_str(st, 8, v, sizeof(v));
	c->verdict = store_verdict_parse(v);
	store_col_str(st, 9, c->reason, sizeof(c->reason));
	c->at = sqlite3_column_int64(st, 10);
	c->pending = sqlite3_column_int(st, 11);
}

int
store_ckpt_get(struct store *s, const char *comp_id, uint64_t idx,
    struct ckpt_row *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT " CKPT_COLS " FROM checkpoints WHERE "
	    "computation_id = ? AND idx = ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, comp_id);
	sqlite3_bind_int64(st, 2, (int64_t)idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_ckpt_row_read(st, out);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select checkpoint");
 out:
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_ckpt_list(struct store *s, const char *comp_id, struct ckpt_row **rows,
    size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct ckpt_row *v = NULL, *nv;
	sqlite3 *db;
	size_t k = 0, cap = 0;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT " CKPT_COLS " FROM checkpoints WHERE "
	    "computation_id = ? ORDER BY idx", &st)) != 0)
		goto out;
	store_bind_text(st, 1, comp_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = nv;
		}
		store_ckpt_row_read(st, &v[k++]);
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select checkpoints");
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

/* ---- the end of a computation ---- */

/* What the end and the recorded checkpoints say together. */
struct end_facts {
	char node[65];			/* the computation's node, or "" */
	char end_node[65];		/* who sent the end */
	uint64_t count;
	uint8_t final_cum[COMP_DIGEST_LEN];
};

/* Why the recorded checkpoints disagree with the end ("" if they do not);
 * *pending: checkpoints still waiting for their clock check. */
static int
store_w_end_reason(sqlite3 *db, const char *comp_id,
    const struct end_facts *f, char *why, size_t cap, int64_t *pending)
{
	sqlite3_stmt *st = NULL;
	int64_t rows = 0, bad = 0, maxidx = 0;
	uint8_t last[COMP_DIGEST_LEN];
	int r, rc, have_last = 0;

	why[0] = '\0';
	*pending = 0;
	if (f->node[0] != '\0' && strcmp(f->node, f->end_node) != 0) {
		snprintf(why, cap, "the end was sent by node %.64s, the "
		    "checkpoints by %.64s", f->end_node, f->node);
		return 0;
	}
	if ((r = store_prep(db, "SELECT count(*), coalesce(sum(verdict <> "
	    "'valid' AND pending = 0), 0), coalesce(max(idx), 0), "
	    "coalesce(sum(pending), 0) FROM checkpoints WHERE "
	    "computation_id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, comp_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = sqlite3_column_int64(st, 0);
		bad = sqlite3_column_int64(st, 1);
		maxidx = sqlite3_column_int64(st, 2);
		*pending = sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return store_dberr(db, "count checkpoints");
	if ((r = store_prep(db, "SELECT cumulative FROM checkpoints WHERE "
	    "computation_id = ? ORDER BY idx DESC LIMIT 1", &st)) != 0)
		return r;
	store_bind_text(st, 1, comp_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_digest(st, 0, last);
		have_last = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_dberr(db, "select last checkpoint");
	if (bad > 0)
		snprintf(why, cap, "%" PRId64 " checkpoint(s) failed their "
		    "checks", bad);
	else if ((uint64_t)rows != f->count || (uint64_t)maxidx != f->count)
		snprintf(why, cap, "the end counts %" PRIu64 " checkpoints, "
		    "%" PRId64 " recorded (highest index %" PRId64 ")",
		    f->count, rows, maxidx);
	else if (have_last && memcmp(last, f->final_cum, COMP_DIGEST_LEN) != 0)
		snprintf(why, cap, "the end's final cumulative digest differs "
		    "from checkpoint %" PRIu64 "'s", f->count);
	return 0;
}

/* Sets the status of an ended computation from its checkpoints: invalid
 * with a reason, recording while a checkpoint's clock check is pending,
 * else complete. A computation without its end is left alone. */
static int
store_w_comp_status(sqlite3 *db, const char *comp_id, char status[16])
{
	sqlite3_stmt *st = NULL;
	struct end_facts f;
	char why[256];
	int64_t pending = 0;
	int r, rc, ended = 0;

	memset(&f, 0, sizeof(f));
	if ((r = store_prep(db, "SELECT coalesce(agent_id, ''), count IS NOT "
	    "NULL, coalesce(count, 0), final_cumulative, coalesce(end_agent, "
	    "''), status FROM computations WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, comp_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_col_str(st, 0, f.node, sizeof(f.node));
		ended = sqlite3_column_int(st, 1);
		f.count = (uint64_t)sqlite3_column_int64(st, 2);
		store_col_digest(st, 3, f.final_cum);
		store_col_str(st, 4, f.end_node, sizeof(f.end_node));
		store_col_str(st, 5, status, 16);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return VIGIL_ENOTFOUND;
	if (rc != SQLITE_ROW)
		return store_dberr(db, "select computation");
	if (!ended)
		return 0;
	if ((r = store_w_end_reason(db, comp_id, &f, why, sizeof(why),
	    &pending)) != 0)
		return r;
	snprintf(status, 16, "%s", why[0] ? "invalid" : pending > 0 ?
	    "recording" : "complete");
	if ((r = store_prep(db, "UPDATE computations SET status = ?, reason = "
	    "? WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, status);
	store_bind_text(st, 2, why);
	store_bind_text(st, 3, comp_id);
	r = store_step_done(db, st, "update computation status");
	sqlite3_finalize(st);
	return r;
}

struct comp_end_job {
	const char *comp_id, *agent_id;
	int exit_status;
	uint64_t count;
	const uint8_t *final_cum;
	char status[16];
};

static int
store_job_comp_end(sqlite3 *db, void *arg)
{
	struct comp_end_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	/* A repeated end changes nothing (count IS NULL only once). */
	if ((r = store_prep(db, "UPDATE computations SET exit_status = ?, "
	    "count = ?, final_cumulative = ?, end_agent = ?, agent_id = "
	    "coalesce(agent_id, ?) WHERE id = ? AND count IS NULL", &st)) != 0)
		return r;
	sqlite3_bind_int(st, 1, j->exit_status);
	sqlite3_bind_int64(st, 2, (int64_t)j->count);
	store_bind_blob(st, 3, j->final_cum, COMP_DIGEST_LEN);
	store_bind_text(st, 4, j->agent_id);
	store_bind_text(st, 5, j->agent_id);
	store_bind_text(st, 6, j->comp_id);
	r = store_step_done(db, st, "update computation end");
	sqlite3_finalize(st);
	if (r != 0)
		return r;
	return store_w_comp_status(db, j->comp_id, j->status);
}

int
store_comp_end(struct store *s, const char *comp_id, const char *agent_id,
    int exit_status, uint64_t count, const uint8_t final_cum[COMP_DIGEST_LEN],
    char status_out[16])
{
	struct comp_end_job j;
	int e;

	memset(&j, 0, sizeof(j));
	if (count > INT64_MAX)
		return VIGIL_EINVAL;
	j.comp_id = comp_id;
	j.agent_id = agent_id;
	j.exit_status = exit_status;
	j.count = count;
	j.final_cum = final_cum;
	e = store_write(s, store_job_comp_end, &j);
	if (e == 0 && status_out != NULL)
		snprintf(status_out, 16, "%s", j.status);
	return e;
}

/* ---- checkpoints whose clock check waits for the next quote ---- */

int
store_ckpt_pending(struct store *s, const char *agent_id,
    struct ckpt_pending **rows, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct ckpt_pending *v = NULL, *nv;
	sqlite3 *db;
	size_t k = 0, cap = 0;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT " CKPT_COLS ", computation_id FROM "
	    "checkpoints WHERE agent_id = ? AND pending = 1 ORDER BY "
	    "computation_id, idx LIMIT 10000", &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = nv;
		}
		store_ckpt_row_read(st, &v[k].r);
		store_col_str(st, 12, v[k].comp_id, sizeof(v[k].comp_id));
		k++;
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select pending checkpoints");
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

struct ckpt_resolve_job {
	const char *comp_id;
	const struct ckpt_row *r;
	char status[16];
};

static int
store_job_ckpt_resolve(sqlite3 *db, void *arg)
{
	struct ckpt_resolve_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE checkpoints SET verdict = ?, reason = "
	    "?, pending = 0 WHERE computation_id = ? AND idx = ? AND pending = "
	    "1", &st)) != 0)
		return r;
	store_bind_text(st, 1, ckpt_verdict_name(j->r->verdict));
	store_bind_text(st, 2, j->r->reason);
	store_bind_text(st, 3, j->comp_id);
	sqlite3_bind_int64(st, 4, (int64_t)j->r->idx);
	r = store_step_done(db, st, "resolve checkpoint");
	sqlite3_finalize(st);
	if (r != 0 || sqlite3_changes(db) == 0)
		return r;
	return store_w_comp_status(db, j->comp_id, j->status);
}

int
store_ckpt_resolve(struct store *s, const char *comp_id,
    const struct ckpt_row *r)
{
	struct ckpt_resolve_job j = { comp_id, r, { 0 } };

	return store_write(s, store_job_ckpt_resolve, &j);
}

/* ---- quote history ---- */

struct qh_add_job {
	const char *agent_id, *status;
	uint32_t reset_count, restart_count;
	uint64_t clock;
	int64_t at;
};

static int
store_job_qh_add(sqlite3 *db, void *arg)
{
	struct qh_add_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO quote_history (agent_id, "
	    "reset_count, restart_count, clock, status, at) VALUES (?, ?, ?, "
	    "?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->agent_id);
	sqlite3_bind_int64(st, 2, j->reset_count);
	sqlite3_bind_int64(st, 3, j->restart_count);
	sqlite3_bind_int64(st, 4, (int64_t)j->clock);
	store_bind_text(st, 5, j->status);
	sqlite3_bind_int64(st, 6, j->at);
	r = store_step_done(db, st, "insert quote_history");
	sqlite3_finalize(st);
	if (r != 0)
		return r;
	if ((r = store_prep(db, "DELETE FROM quote_history WHERE agent_id = ? "
	    "AND at < ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->agent_id);
	sqlite3_bind_int64(st, 2, j->at - STORE_QH_KEEP_S);
	r = store_step_done(db, st, "prune quote_history");
	sqlite3_finalize(st);
	return r;
}

int
store_qh_add(struct store *s, const char *agent_id, uint32_t reset_count,
    uint32_t restart_count, uint64_t clock, const char *status, int64_t at)
{
	struct qh_add_job j = { agent_id, status, reset_count, restart_count,
	    clock, at };

	if (!store_id_ok(agent_id) || clock > INT64_MAX)
		return VIGIL_EINVAL;
	return store_write(s, store_job_qh_add, &j);
}

static int
store_qh_one(sqlite3 *db, const char *sql, const char *agent_id,
    uint32_t reset_count, uint32_t restart_count, uint64_t clock,
    struct qh_row *out, int *have)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*have = 0;
	memset(out, 0, sizeof(*out));
	if ((r = store_prep(db, sql, &st)) != 0)
		return r;
	store_bind_text(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, reset_count);
	sqlite3_bind_int64(st, 3, restart_count);
	sqlite3_bind_int64(st, 4, (int64_t)clock);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->clock = (uint64_t)sqlite3_column_int64(st, 0);
		store_col_str(st, 1, out->status, sizeof(out->status));
		out->at = sqlite3_column_int64(st, 2);
		*have = 1;
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select quote_history");
	}
	sqlite3_finalize(st);
	return r;
}

int
store_qh_window(struct store *s, const char *agent_id, uint32_t reset_count,
    uint32_t restart_count, uint64_t clock, struct qh_row *lo, int *have_lo,
    struct qh_row *hi, int *have_hi)
{
	sqlite3 *db;
	int r;

	*have_lo = *have_hi = 0;
	if (clock > INT64_MAX)
		return VIGIL_EINVAL;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	/* Among equal clocks, a non-affirming row wins: the worse status. */
	r = store_qh_one(db, "SELECT clock, status, at FROM quote_history "
	    "WHERE agent_id = ? AND reset_count = ? AND restart_count = ? AND "
	    "clock <= ? ORDER BY clock DESC, status = 'affirming', rowid DESC "
	    "LIMIT 1", agent_id, reset_count, restart_count, clock, lo,
	    have_lo);
	if (r == 0)
		r = store_qh_one(db, "SELECT clock, status, at FROM "
		    "quote_history WHERE agent_id = ? AND reset_count = ? AND "
		    "restart_count = ? AND clock >= ? ORDER BY clock, status = "
		    "'affirming', rowid LIMIT 1", agent_id, reset_count,
		    restart_count, clock, hi, have_hi);
	store_rd_put(s, db);
	return r;
}

int
store_comp_blob_exists(struct store *s, const uint8_t sha[SHA256_LEN],
    int *exists)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*exists = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT 1 FROM blobs WHERE sha256 = ?",
	    &st)) == 0) {
		store_bind_blob(st, 1, sha, SHA256_LEN);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*exists = 1;
		else if (rc != SQLITE_DONE)
			r = store_dberr(db, "select blob");
	}
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

/* ---- tenants' blobs and their quota ---- */

static int
store_w_tenant_bytes(sqlite3 *db, const char *tenant, uint64_t *held)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "SELECT COALESCE(SUM(size), 0) FROM "
	    "tenant_blobs WHERE tenant = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, tenant);
	if (sqlite3_step(st) == SQLITE_ROW)
		*held = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = store_dberr(db, "sum tenant_blobs");
	sqlite3_finalize(st);
	return r;
}

int
store_tenant_blob_bytes(struct store *s, const char *tenant, uint64_t *held)
{
	sqlite3 *db;
	int r;

	*held = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_w_tenant_bytes(db, tenant, held);
	store_rd_put(s, db);
	return r;
}

struct tenant_blob_job {
	const char *tenant;
	const uint8_t *sha, *data;
	size_t len;
	uint64_t quota, held;
};

/* 1 in *yes if the query (one blob parameter, sha, after an optional
 * tenant) finds a row. */
static int
store_w_blob_row(sqlite3 *db, const char *sql, const char *tenant,
    const uint8_t *sha, int *yes)
{
	sqlite3_stmt *st = NULL;
	int r, rc, k = 1;

	*yes = 0;
	if ((r = store_prep(db, sql, &st)) != 0)
		return r;
	if (tenant != NULL)
		store_bind_text(st, k++, tenant);
	store_bind_blob(st, k, sha, SHA256_LEN);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*yes = 1;
	else if (rc != SQLITE_DONE)
		r = store_dberr(db, "select blob row");
	sqlite3_finalize(st);
	return r;
}

static int
store_job_tenant_blob_put(sqlite3 *db, void *arg)
{
	struct tenant_blob_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, mine, stored;

	if ((r = store_w_tenant_bytes(db, j->tenant, &j->held)) != 0 ||
	    (r = store_w_blob_row(db, "SELECT 1 FROM tenant_blobs WHERE "
	    "tenant = ? AND sha256 = ?", j->tenant, j->sha, &mine)) != 0)
		return r;
	if (mine)
		return 0;
	if (j->quota > 0 && (j->held > j->quota ||
	    (uint64_t)j->len > j->quota - j->held))
		return VIGIL_ETOOBIG;
	if ((r = store_w_blob_row(db, "SELECT 1 FROM blobs WHERE sha256 = ?",
	    NULL, j->sha, &stored)) != 0)
		return r;
	if (!stored && (r = store_w_blob(db, j->sha, j->data, j->len,
	    store_now())) != 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO tenant_blobs (tenant, sha256, "
	    "size, created_at) VALUES (?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->tenant);
	store_bind_blob(st, 2, j->sha, SHA256_LEN);
	sqlite3_bind_int64(st, 3, (int64_t)j->len);
	sqlite3_bind_int64(st, 4, store_now());
	r = store_step_done(db, st, "insert tenant_blobs");
	sqlite3_finalize(st);
	return r;
}

int
store_tenant_blob_put(struct store *s, const char *tenant,
    const uint8_t sha[SHA256_LEN], const uint8_t *data, size_t len,
    uint64_t quota, uint64_t *held)
{
	struct tenant_blob_job j = { tenant, sha, data, len, quota, 0 };
	int r;

	if (tenant == NULL || tenant[0] == '\0' || (data == NULL && len > 0))
		return VIGIL_EINVAL;
	if (len > STORE_BLOB_MAX)
		return VIGIL_ETOOBIG;
	r = store_write(s, store_job_tenant_blob_put, &j);
	if (held != NULL)
		*held = j.held;
	return r;
}

/* ---- replays ---- */

void
replay_rec_clear(struct replay_rec *r)
{
	if (r == NULL)
		return;
	free(r->divergence_json);
	free(r->error);
	r->divergence_json = NULL;
	r->error = NULL;
}

static int
store_job_replay_add(sqlite3 *db, void *arg)
{
	const struct replay_rec *rr = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_w_comp_exists(db, rr->comp_id)) != 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO replays (id, computation_id, "
	    "tenant, status, created_at) VALUES (?, ?, ?, 'queued', ?)",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, rr->id);
	store_bind_text(st, 2, rr->comp_id);
	store_bind_text(st, 3, rr->tenant);
	sqlite3_bind_int64(st, 4, rr->created_at);
	r = store_step_done(db, st, "insert replay");
	sqlite3_finalize(st);
	return r;
}

int
store_replay_add(struct store *s, const struct replay_rec *r)
{
	return store_write(s, store_job_replay_add, (void *)r);
}

static int
store_replay_row(sqlite3_stmt *st, struct replay_rec *o)
{
	memset(o, 0, sizeof(*o));
	store_col_str(st, 0, o->id, sizeof(o->id));
	store_col_str(st, 1, o->comp_id, sizeof(o->comp_id));
	store_col_str(st, 2, o->tenant, sizeof(o->tenant));
	store_col_str(st, 3, o->status, sizeof(o->status));
	o->compared = (uint64_t)sqlite3_column_int64(st, 4);
	if (sqlite3_column_type(st, 5) != SQLITE_NULL &&
	    store_col_strdup(st, 5, &o->divergence_json) != 0)
		return VIGIL_ENOMEM;
	if (sqlite3_column_type(st, 6) != SQLITE_NULL &&
	    store_col_strdup(st, 6, &o->error) != 0) {
		replay_rec_clear(o);
		return VIGIL_ENOMEM;
	}
	o->created_at = sqlite3_column_int64(st, 7);
	o->started_at = sqlite3_column_int64(st, 8);
	o->finished_at = sqlite3_column_int64(st, 9);
	return 0;
}

static int
store_replay_select(struct store *s, const char *sql, const char *key,
    struct replay_rec *out)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, sql, &st)) == 0) {
		store_bind_text(st, 1, key);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			r = store_replay_row(st, out);
		else if (rc == SQLITE_DONE)
			r = VIGIL_ENOTFOUND;
		else
			r = store_dberr(db, "select replay");
	}
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_replay_get(struct store *s, const char *id, struct replay_rec *out)
{
	return store_replay_select(s, "SELECT " REPLAY_COLS " FROM replays "
	    "WHERE id = ?", id, out);
}

int
store_replay_latest(struct store *s, const char *comp_id,
    struct replay_rec *out)
{
	return store_replay_select(s, "SELECT " REPLAY_COLS " FROM replays "
	    "WHERE computation_id = ? ORDER BY created_at DESC, rowid DESC "
	    "LIMIT 1", comp_id, out);
}

struct replay_claim_job {
	int64_t now;
	struct replay_rec *out;
};

static int
store_job_replay_claim(sqlite3 *db, void *arg)
{
	struct replay_claim_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT " REPLAY_COLS " FROM replays WHERE "
	    "status = 'queued' ORDER BY created_at, rowid LIMIT 1", &st)) != 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = store_replay_row(st, j->out);
	else if (rc == SQLITE_DONE)
		r = VIGIL_ENOTFOUND;
	else
		r = store_dberr(db, "select queued replay");
	sqlite3_finalize(st);
	if (r != 0)
		return r;
	if ((r = store_prep(db, "UPDATE replays SET status = 'running', "
	    "started_at = ? WHERE id = ?", &st)) != 0)
		goto fail;
	sqlite3_bind_int64(st, 1, j->now);
	store_bind_text(st, 2, j->out->id);
	r = store_step_done(db, st, "update replay running");
	sqlite3_finalize(st);
	if (r == 0) {
		snprintf(j->out->status, sizeof(j->out->status), "running");
		j->out->started_at = j->now;
		return 0;
	}
 fail:
	replay_rec_clear(j->out);
	return r;
}

/* 1 in *any if a replay is queued (a read: polling costs no write). */
static int
store_replay_any_queued(struct store *s, int *any)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r, rc;

	*any = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT 1 FROM replays WHERE status = "
	    "'queued' LIMIT 1", &st)) == 0) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*any = 1;
		else if (rc != SQLITE_DONE)
			r = store_dberr(db, "select queued replays");
	}
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

int
store_replay_claim(struct store *s, int64_t now, struct replay_rec *out)
{
	struct replay_claim_job j = { now, out };
	int r, any = 0;

	memset(out, 0, sizeof(*out));
	if ((r = store_replay_any_queued(s, &any)) != 0)
		return r;
	if (!any)
		return VIGIL_ENOTFOUND;
	return store_write(s, store_job_replay_claim, &j);
}

struct replay_finish_job {
	const char *id, *status, *div, *error;
	uint64_t compared;
	int64_t now;
};

static int
store_job_replay_finish(sqlite3 *db, void *arg)
{
	struct replay_finish_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE replays SET status = ?, "
	    "checkpoints_compared = ?, divergence = ?, error = ?, "
	    "finished_at = ? WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->status);
	sqlite3_bind_int64(st, 2, (int64_t)j->compared);
	if (j->div != NULL)
		store_bind_text(st, 3, j->div);
	if (j->error != NULL)
		store_bind_text(st, 4, j->error);
	sqlite3_bind_int64(st, 5, j->now);
	store_bind_text(st, 6, j->id);
	r = store_step_done(db, st, "update replay result");
	sqlite3_finalize(st);
	if (r == 0 && sqlite3_changes(db) == 0)
		r = VIGIL_ENOTFOUND;
	return r;
}

int
store_replay_finish(struct store *s, const char *id, const char *status,
    uint64_t compared, const char *divergence_json, const char *error,
    int64_t now)
{
	struct replay_finish_job j = { id, status, divergence_json, error,
	    compared > INT64_MAX ? INT64_MAX : compared, now };

	return store_write(s, store_job_replay_finish, &j);
}

static int
store_job_replay_recover(sqlite3 *db, void *arg)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "UPDATE replays SET status = 'error', error = "
	    "'the verifier stopped while the replay ran', finished_at = ? "
	    "WHERE status = 'running'", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, *(int64_t *)arg);
	r = store_step_done(db, st, "recover replays");
	sqlite3_finalize(st);
	return r;
}

int
store_replay_recover(struct store *s, int64_t now)
{
	return store_write(s, store_job_replay_recover, &now);
}
