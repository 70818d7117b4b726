/* The store's evidence writes (see store.h): store_commit_evidence (raw
 * bundle, idempotent items, event-log chunks, epochs, quote state and
 * appraisal in one writer job) and store_appraisal_add. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "verifier/store.h"
#include "verifier/store_internal.h"

static int
store_status_ok(const char *st)
{
	return strcmp(st, "affirming") == 0 || strcmp(st, "warning") == 0 ||
	    strcmp(st, "contraindicated") == 0 || strcmp(st, "none") == 0;
}

/* ---- evidence (writer side) ---- */

/* Stores bytes under their (precomputed) hash, once. */
int
store_w_blob(sqlite3 *db, const uint8_t sha[SHA256_LEN], const uint8_t *p,
    size_t n, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO blobs (sha256, size, data, "
	    "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
	    &st)) != 0)
		return r;
	store_bind_blob(st, 1, sha, SHA256_LEN);
	sqlite3_bind_int64(st, 2, (int64_t)n);
	store_bind_blob(st, 3, p, n);
	sqlite3_bind_int64(st, 4, now);
	r = store_step_done(db, st, "insert blob");
	sqlite3_finalize(st);
	return r;
}

static int
store_w_agent_exists(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	if ((r = store_prep(db, "SELECT 1 FROM agents WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		log_warn("store: unknown agent=%s", id);
		r = VIGIL_ENOTFOUND;
	} else if (rc != SQLITE_ROW) {
		r = store_dberr(db, "select agent");
	}
	sqlite3_finalize(st);
	return r;
}

static int
store_w_conflict(sqlite3 *db, const char *agent, const struct item_in *it,
    const uint8_t sha[SHA256_LEN], const char *why, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	log_warn("store: item conflict agent=%s epoch=%" PRIu64 " seq=%"
	    PRIu64 ": %s", agent, it->epoch, it->seq, why);
	if ((r = store_w_blob(db, sha, it->body, it->body_len, now)) != 0 ||
	    (r = store_prep(db, "INSERT INTO item_conflicts (agent_id, epoch, "
	    "seq, kind, body_sha256, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)it->epoch);
	sqlite3_bind_int64(st, 3, (int64_t)it->seq);
	sqlite3_bind_int64(st, 4, it->kind);
	store_bind_blob(st, 5, sha, SHA256_LEN);
	store_bind_text(st, 6, why);
	sqlite3_bind_int64(st, 7, now);
	r = store_step_done(db, st, "insert item_conflicts");
	sqlite3_finalize(st);
	return r;
}

/* Compares [off, off+n) of the stored log with p; *same 1 if equal. */
static int
store_w_evlog_same(sqlite3 *db, const char *agent, const struct item_in *it,
    int *same)
{
	sqlite3_stmt *st = NULL;
	uint64_t off = it->offset, end = it->offset + it->chunk_len;
	uint64_t cs, ce, lo, hi;
	const uint8_t *d;
	int r, rc;

	*same = 1;
	if (it->chunk_len == 0)
		return 0;
	if ((r = store_prep(db, "SELECT start_off, data FROM evlog_chunks "
	    "WHERE agent_id = ? AND boot_count = ? AND start_off < ? "
	    "ORDER BY start_off", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, STORE_EVLOG_KEY(it->log, it->boot_count));
	sqlite3_bind_int64(st, 3, (int64_t)end);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cs = (uint64_t)sqlite3_column_int64(st, 0);
		d = sqlite3_column_blob(st, 1);
		ce = cs + (uint64_t)sqlite3_column_bytes(st, 1);
		lo = cs > off ? cs : off;
		hi = ce < end ? ce : end;
		if (lo >= hi || d == NULL)
			continue;
		if (memcmp(d + (lo - cs), it->chunk + (lo - off),
		    hi - lo) != 0) {
			*same = 0;
			break;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_dberr(db, "select evlog_chunks");
	sqlite3_finalize(st);
	return r;
}

/* The stored length of one boot's event log (0 if none yet). */
static int
store_w_evlog_len(sqlite3 *db, const char *agent, uint32_t log,
    uint32_t boot_count, uint64_t *len)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*len = 0;
	if ((r = store_prep(db, "SELECT length FROM evlogs WHERE agent_id = ? "
	    "AND boot_count = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, STORE_EVLOG_KEY(log, boot_count));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*len = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		r = store_dberr(db, "select evlogs");
	sqlite3_finalize(st);
	return r;
}

/* Appends a chunk's bytes from skip on, which start at the log's
 * current end. */
static int
store_w_evlog_append(sqlite3 *db, const char *agent, const struct item_in *it,
    size_t skip, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (it->chunk_len <= skip)
		return 0;
	if ((r = store_prep(db, "INSERT INTO evlogs (agent_id, "
	    "boot_count, length, updated_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT DO UPDATE SET length = length + ?3, "
	    "updated_at = ?4", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, STORE_EVLOG_KEY(it->log, it->boot_count));
	sqlite3_bind_int64(st, 3, (int64_t)(it->chunk_len - skip));
	sqlite3_bind_int64(st, 4, now);
	if ((r = store_step_done(db, st, "upsert evlogs")) != 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = store_prep(db, "INSERT INTO evlog_chunks (agent_id, "
	    "boot_count, start_off, data) VALUES (?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, STORE_EVLOG_KEY(it->log, it->boot_count));
	sqlite3_bind_int64(st, 3, (int64_t)(it->offset + skip));
	store_bind_blob(st, 4, it->chunk + skip, it->chunk_len - skip);
	r = store_step_done(db, st, "insert evlog_chunks");
 out:
	sqlite3_finalize(st);
	return r;
}

/* Appends an event-log chunk at the log's end, or accepts it if it repeats
 * stored bytes; otherwise fills why (and appends nothing). */
static int
store_w_evlog(sqlite3 *db, const char *agent, const struct item_in *it,
    int64_t now, char *why, size_t whylen)
{
	uint64_t len = 0;
	int r, same;

	why[0] = '\0';
	if (it->offset > (uint64_t)INT64_MAX - STORE_BLOB_MAX) {
		snprintf(why, whylen, "event log chunk offset %" PRIu64
		    " out of range", it->offset);
		return 0;
	}
	if ((r = store_w_evlog_len(db, agent, it->log, it->boot_count,
	    &len)) != 0)
		return r;
	if (it->offset == len)
		return store_w_evlog_append(db, agent, it, 0, now);
	if (it->offset > len) {
		snprintf(why, whylen, "event log chunk at offset %" PRIu64
		    " leaves a gap after the stored %" PRIu64 " bytes "
		    "(boot %" PRIu32 ")", it->offset, len, it->boot_count);
		return 0;
	}
	if ((r = store_w_evlog_same(db, agent, it, &same)) != 0)
		return r;
	if (!same) {
		snprintf(why, whylen, "event log chunk at offset %" PRIu64
		    " of %zu bytes differs from the stored bytes (boot %"
		    PRIu32 ")", it->offset, it->chunk_len, it->boot_count);
		return 0;
	}
	/* Equal where it overlaps: its tail (if any) extends the log, as
	 * the appraisal read it (appraise_build_log). */
	if (it->offset + it->chunk_len > len)
		return store_w_evlog_append(db, agent, it,
		    (size_t)(len - it->offset), now);
	return 0;
}

/* A gap the agent's spool reported, for GET /v1/nodes/{id}. */
static int
store_w_gap(sqlite3 *db, const char *agent, const struct item_in *it,
    int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO item_gaps (agent_id, epoch, seq, "
	    "first_seq, last_seq, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT DO NOTHING", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)it->epoch);
	sqlite3_bind_int64(st, 3, (int64_t)it->seq);
	sqlite3_bind_int64(st, 4, (int64_t)it->gap_first);
	sqlite3_bind_int64(st, 5, (int64_t)it->gap_last);
	store_bind_text(st, 6, it->gap_reason ? it->gap_reason : "");
	sqlite3_bind_int64(st, 7, now);
	r = store_step_done(db, st, "insert item_gaps");
	sqlite3_finalize(st);
	return r;
}

static int
store_w_item(sqlite3 *db, const char *agent, const struct item_in *it,
    const uint8_t sha[SHA256_LEN], int64_t now, enum item_outcome *oc)
{
	sqlite3_stmt *st = NULL;
	const void *old;
	char why[200];
	int r, rc;

	if ((r = store_prep(db, "SELECT body_sha256 FROM items WHERE "
	    "agent_id = ? AND epoch = ? AND seq = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)it->epoch);
	sqlite3_bind_int64(st, 3, (int64_t)it->seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		old = sqlite3_column_blob(st, 0);
		if (sqlite3_column_bytes(st, 0) == SHA256_LEN && old != NULL &&
		    memcmp(old, sha, SHA256_LEN) == 0) {
			*oc = ITEM_DUPLICATE;
		} else {
			*oc = ITEM_CONFLICT;
			r = store_w_conflict(db, agent, it, sha, "same key, "
			    "different content", now);
		}
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select item");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (it->refused) {
		*oc = ITEM_REFUSED;
		return 0;
	}
	*oc = ITEM_NEW;
	if (it->kind == STORE_ITEM_GAP &&
	    (r = store_w_gap(db, agent, it, now)) != 0)
		goto out;
	if (it->kind == STORE_ITEM_EVENT_LOG && !it->no_log) {
		if ((r = store_w_evlog(db, agent, it, now, why,
		    sizeof(why))) != 0)
			goto out;
		if (why[0] != '\0') {
			*oc = ITEM_CONFLICT;
			if ((r = store_w_conflict(db, agent, it, sha, why,
			    now)) != 0)
				goto out;
		}
	}
	if ((r = store_w_blob(db, sha, it->body, it->body_len, now)) != 0 ||
	    (r = store_prep(db, "INSERT INTO items (agent_id, epoch, seq, "
	    "kind, body_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)",
	    &st)) != 0)
		goto out;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)it->epoch);
	sqlite3_bind_int64(st, 3, (int64_t)it->seq);
	sqlite3_bind_int64(st, 4, it->kind);
	store_bind_blob(st, 5, sha, SHA256_LEN);
	sqlite3_bind_int64(st, 6, now);
	r = store_step_done(db, st, "insert item");
 out:
	sqlite3_finalize(st);
	return r;
}

/* The last seq of a reported gap that covers seq (0 if none). */
static int
store_w_gap_end(sqlite3 *db, const char *agent, uint64_t epoch, uint64_t seq,
    uint64_t *end)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*end = 0;
	if ((r = store_prep(db, "SELECT max(last_seq) FROM item_gaps WHERE "
	    "agent_id = ? AND epoch = ? AND first_seq <= ?3 AND "
	    "last_seq >= ?3", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)epoch);
	sqlite3_bind_int64(st, 3, (int64_t)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*end = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		r = store_dberr(db, "select item_gaps");
	sqlite3_finalize(st);
	return r;
}

/* Advances the epoch's acked_seq over the items stored contiguously; the
 * items of a gap the agent reported count as stored (they will never
 * come: the gap item says so, and is itself stored). */
static int
store_w_advance(sqlite3 *db, const char *agent, uint64_t epoch, int64_t now,
    uint64_t *acked)
{
	sqlite3_stmt *st = NULL;
	uint64_t seq = 0, end;
	int r, rc;

	if ((r = store_prep(db, "INSERT INTO epochs (agent_id, epoch, "
	    "acked_seq, first_at, last_at) VALUES (?1, ?2, 0, ?3, ?3) "
	    "ON CONFLICT DO UPDATE SET last_at = ?3 RETURNING acked_seq",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)epoch);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = store_dberr(db, "upsert epochs");
		goto out;
	}
	seq = (uint64_t)sqlite3_column_int64(st, 0);
	(void)sqlite3_step(st);
	sqlite3_finalize(st);
	if ((r = store_prep(db, "SELECT 1 FROM items WHERE agent_id = ? AND "
	    "epoch = ? AND seq = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)epoch);
	for (;;) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 3, (int64_t)(seq + 1));
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			if ((r = store_w_gap_end(db, agent, epoch, seq + 1,
			    &end)) != 0)
				goto out;
			if (end <= seq)
				break;
			seq = end;
			continue;
		}
		if (rc != SQLITE_ROW) {
			r = store_dberr(db, "select item");
			goto out;
		}
		seq++;
	}
	sqlite3_finalize(st);
	if ((r = store_prep(db, "UPDATE epochs SET acked_seq = ? WHERE "
	    "agent_id = ? AND epoch = ?", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	store_bind_text(st, 2, agent);
	sqlite3_bind_int64(st, 3, (int64_t)epoch);
	if ((r = store_step_done(db, st, "update epochs")) == 0)
		*acked = seq;
 out:
	sqlite3_finalize(st);
	return r;
}

/* The agent's latest epoch and its acked_seq (0/0 if none). */
static int
store_w_acked_latest(sqlite3 *db, const char *agent, uint64_t *epoch,
    uint64_t *seq)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*epoch = *seq = 0;
	if ((r = store_prep(db, "SELECT e.epoch, e.acked_seq FROM agents a "
	    "JOIN epochs e ON e.agent_id = a.id AND e.epoch = a.cur_epoch "
	    "WHERE a.id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*epoch = (uint64_t)sqlite3_column_int64(st, 0);
		*seq = (uint64_t)sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select acked");
	}
	sqlite3_finalize(st);
	return r;
}

static int
store_w_quote_state(sqlite3 *db, const char *agent,
    const struct quote_state *qs)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO quote_state (agent_id, clock, "
	    "reset_count, restart_count, safe, at) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6) ON CONFLICT DO UPDATE SET clock = ?2, reset_count = ?3, "
	    "restart_count = ?4, safe = ?5, at = ?6", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, (int64_t)qs->clock);
	sqlite3_bind_int64(st, 3, qs->reset_count);
	sqlite3_bind_int64(st, 4, qs->restart_count);
	sqlite3_bind_int(st, 5, qs->safe != 0);
	sqlite3_bind_int64(st, 6, qs->at);
	r = store_step_done(db, st, "upsert quote_state");
	sqlite3_finalize(st);
	return r;
}

/* The dedup rule: equal to the latest row -> move its last_at. */
int
store_w_appraisal(sqlite3 *db, const char *agent, const struct appraisal *a)
{
	sqlite3_stmt *st = NULL;
	int64_t same_id = 0;
	int r, rc;

	if ((r = store_prep(db, "SELECT id FROM appraisals WHERE id = (SELECT "
	    "max(id) FROM appraisals WHERE agent_id = ?1) AND status = ?2 AND "
	    "vector_json = ?3 AND reasons_json = ?4", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	store_bind_text(st, 2, a->status);
	store_bind_text(st, 3, a->vector_json);
	store_bind_text(st, 4, a->reasons_json);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		same_id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		r = store_dberr(db, "select latest appraisal");
	sqlite3_finalize(st);
	st = NULL;
	if (r != 0)
		return r;
	if (same_id != 0) {
		r = store_prep(db, "UPDATE appraisals SET last_at = "
		    "max(last_at, ?2) WHERE id = ?1", &st);
		if (r == 0) {
			sqlite3_bind_int64(st, 1, same_id);
			sqlite3_bind_int64(st, 2, a->at);
		}
	} else {
		r = store_prep(db, "INSERT INTO appraisals (agent_id, status, "
		    "vector_json, reasons_json, first_at, last_at) VALUES "
		    "(?1, ?2, ?3, ?4, ?5, ?5)", &st);
		if (r == 0) {
			store_bind_text(st, 1, agent);
			store_bind_text(st, 2, a->status);
			store_bind_text(st, 3, a->vector_json);
			store_bind_text(st, 4, a->reasons_json);
			sqlite3_bind_int64(st, 5, a->at);
		}
	}
	if (r != 0 || (r = store_step_done(db, st, "write appraisal")) != 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = store_prep(db, "UPDATE agents SET status = ?2, "
	    "last_appraisal_at = max(last_appraisal_at, ?3) WHERE id = ?1",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	store_bind_text(st, 2, a->status);
	sqlite3_bind_int64(st, 3, a->at);
	r = store_step_done(db, st, "update agent status");
 out:
	sqlite3_finalize(st);
	return r;
}

static int
store_appraisal_ok(const struct appraisal *a)
{
	if (a->vector_json == NULL || a->reasons_json == NULL ||
	    strnlen(a->status, sizeof(a->status)) == sizeof(a->status) ||
	    !store_status_ok(a->status)) {
		log_err("store: appraisal with an unknown status or without "
		    "vector/reasons refused");
		return 0;
	}
	return 1;
}

struct store_ev_job {
	const struct evidence_commit *c;
	struct evidence_result *res;
	uint8_t bundle_sha[SHA256_LEN];
	uint8_t (*sha)[SHA256_LEN];	/* per item */
	int64_t now;
};

static int
store_job_evidence(sqlite3 *db, void *arg)
{
	struct store_ev_job *j = arg;
	const struct evidence_commit *c = j->c;
	sqlite3_stmt *st = NULL;
	uint64_t acked = 0;
	size_t i;
	int r;

	if ((r = store_w_agent_exists(db, c->agent_id)) != 0)
		return r;
	if (c->bundle != NULL && c->bundle_len > 0) {
		if ((r = store_w_blob(db, j->bundle_sha, c->bundle,
		    c->bundle_len, j->now)) != 0 ||
		    (r = store_prep(db, "INSERT INTO bundles (agent_id, "
		    "sha256, received_at) VALUES (?, ?, ?)", &st)) != 0)
			goto out;
		store_bind_text(st, 1, c->agent_id);
		store_bind_blob(st, 2, j->bundle_sha, SHA256_LEN);
		sqlite3_bind_int64(st, 3, j->now);
		if ((r = store_step_done(db, st, "insert bundle")) != 0)
			goto out;
		sqlite3_finalize(st);
		st = NULL;
	}
	for (i = 0; i < c->n_items; i++) {
		if ((r = store_w_item(db, c->agent_id, &c->items[i], j->sha[i],
		    j->now, &j->res->outcomes[i])) != 0)
			goto out;
	}
	for (i = 0; i < c->n_items; i++) {
		if (i + 1 < c->n_items &&
		    c->items[i + 1].epoch == c->items[i].epoch)
			continue;	/* once per run of one epoch */
		if ((r = store_w_advance(db, c->agent_id, c->items[i].epoch,
		    j->now, &acked)) != 0)
			goto out;
	}
	if ((r = store_prep(db, "UPDATE agents SET last_seen_at = ?2, "
	    "cur_epoch = CASE WHEN ?3 THEN ?4 ELSE cur_epoch END "
	    "WHERE id = ?1", &st)) != 0)
		goto out;
	store_bind_text(st, 1, c->agent_id);
	sqlite3_bind_int64(st, 2, j->now);
	sqlite3_bind_int(st, 3, c->n_items > 0);
	sqlite3_bind_int64(st, 4, c->n_items > 0 ?
	    (int64_t)c->items[c->n_items - 1].epoch : 0);
	if ((r = store_step_done(db, st, "update agent last_seen")) != 0)
		goto out;
	if (c->n_items > 0) {
		j->res->acked_epoch = c->items[c->n_items - 1].epoch;
		j->res->acked_seq = acked;
	} else if ((r = store_w_acked_latest(db, c->agent_id,
	    &j->res->acked_epoch, &j->res->acked_seq)) != 0) {
		goto out;
	}
	if (c->qs != NULL &&
	    (r = store_w_quote_state(db, c->agent_id, c->qs)) != 0)
		goto out;
	if (c->appraisal != NULL)
		r = store_w_appraisal(db, c->agent_id, c->appraisal);
 out:
	sqlite3_finalize(st);
	return r;
}

static int
store_ev_check(const struct evidence_commit *c, struct evidence_result *r)
{
	const struct item_in *it;
	size_t i;

	if (!store_id_ok(c->agent_id) || (c->n_items > 0 &&
	    (c->items == NULL || r->outcomes == NULL)) ||
	    (c->bundle == NULL && c->bundle_len > 0) ||
	    (c->appraisal != NULL && !store_appraisal_ok(c->appraisal))) {
		log_err("store: evidence commit with missing fields refused");
		return VIGIL_EINVAL;
	}
	if (c->bundle_len > STORE_BLOB_MAX) {
		log_err("store: evidence bundle of %zu bytes over the limit",
		    c->bundle_len);
		return VIGIL_ETOOBIG;
	}
	for (i = 0; i < c->n_items; i++) {
		it = &c->items[i];
		if (it->seq == 0 || it->seq > (uint64_t)INT64_MAX ||
		    (it->body == NULL && it->body_len > 0) ||
		    (it->chunk == NULL && it->chunk_len > 0)) {
			log_err("store: evidence item %zu (seq %" PRIu64 ") "
			    "malformed", i, it->seq);
			return VIGIL_EINVAL;
		}
		if (it->body_len > STORE_BLOB_MAX ||
		    it->chunk_len > STORE_BLOB_MAX) {
			log_err("store: evidence item seq %" PRIu64 " over "
			    "the size limit", it->seq);
			return VIGIL_ETOOBIG;
		}
	}
	return 0;
}

int
store_commit_evidence(struct store *s, const struct evidence_commit *c,
    struct evidence_result *res)
{
	struct store_ev_job j;
	size_t i;
	int r;

	memset(&j, 0, sizeof(j));
	j.c = c;
	j.res = res;
	j.now = store_now();
	res->acked_epoch = res->acked_seq = 0;
	if ((r = store_ev_check(c, res)) != 0)
		return r;
	/* Hash here, in the caller's thread, not in the writer's. */
	if (c->n_items > 0 &&
	    (j.sha = calloc(c->n_items, sizeof(*j.sha))) == NULL)
		return VIGIL_ENOMEM;
	if (c->bundle_len > 0 &&
	    (r = store_sha256(c->bundle, c->bundle_len, j.bundle_sha)) != 0)
		goto out;
	for (i = 0; i < c->n_items; i++) {
		if ((r = store_sha256(c->items[i].body, c->items[i].body_len,
		    j.sha[i])) != 0)
			goto out;
	}
	r = store_write(s, store_job_evidence, &j);
 out:
	free(j.sha);
	return r;
}

struct store_appr_job {
	const char *agent_id;
	const struct appraisal *a;
};

static int
store_job_appraisal_add(sqlite3 *db, void *arg)
{
	struct store_appr_job *j = arg;
	int r;

	if ((r = store_w_agent_exists(db, j->agent_id)) != 0)
		return r;
	return store_w_appraisal(db, j->agent_id, j->a);
}

int
store_appraisal_add(struct store *s, const char *agent_id,
    const struct appraisal *a)
{
	struct store_appr_job j = { agent_id, a };

	if (!store_id_ok(agent_id) || !store_appraisal_ok(a))
		return VIGIL_EINVAL;
	return store_write(s, store_job_appraisal_add, &j);
}
