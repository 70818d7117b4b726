/* Events and webhooks in the store (see store_events.h). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "store_events.h"
#include "store_internal.h"

#define EVENTS_LIST_MAX 1000

void
event_rows_free(struct event_row *rows, size_t n)
{
	size_t i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		free(rows[i].data);
	free(rows);
}

struct store_event_job {
	const char *kind, *subject, *tenant, *data;
	int64_t id;
};

static int
store_job_event(sqlite3 *db, void *arg)
{
	struct store_event_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO events (at, kind, subject, "
	    "tenant, data) VALUES (?, ?, ?, ?, ?)", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, store_now());
	store_bind_text(st, 2, j->kind);
	store_bind_text(st, 3, j->subject);
	if (j->tenant != NULL)
		store_bind_text(st, 4, j->tenant);
	else
		sqlite3_bind_null(st, 4);
	store_bind_text(st, 5, j->data);
	if ((r = store_step_done(db, st, "insert event")) == 0)
		j->id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return r;
}

int
store_event_add(struct store *s, const char *kind, const char *subject,
    const char *tenant, const char *data_json, int64_t *id)
{
	struct store_event_job j;
	json_t *d;
	int r;

	if (data_json == NULL)
		data_json = "{}";
	if (kind == NULL || subject == NULL || kind[0] == '\0' ||
	    subject[0] == '\0' || strlen(kind) > EVENT_KIND_MAX ||
	    strlen(subject) > EVENT_SUBJECT_MAX ||
	    (tenant != NULL && (tenant[0] == '\0' || strlen(tenant) > 63)) ||
	    strlen(data_json) > EVENT_DATA_MAX) {
		log_err("events: refused event kind=%s subject=%s: empty or "
		    "oversized field", kind ? kind : "-",
		    subject ? subject : "-");
		return VIGIL_EINVAL;
	}
	if ((d = json_loads(data_json, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(d)) {
		json_decref(d);
		log_err("events: refused event kind=%s: data is not a JSON "
		    "object", kind);
		return VIGIL_EINVAL;
	}
	json_decref(d);
	memset(&j, 0, sizeof(j));
	j.kind = kind;
	j.subject = subject;
	j.tenant = tenant;
	j.data = data_json;
	if ((r = store_write(s, store_job_event, &j)) == 0 && id != NULL)
		*id = j.id;
	return r;
}

int
store_events_after(struct store *s, int64_t after, int64_t upto,
    const char *tenant, size_t limit, struct event_row **rows, size_t *n)
{
	struct event_row *v = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	if (limit > EVENTS_LIST_MAX)
		limit = EVENTS_LIST_MAX;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT id, at, kind, subject, "
	    "coalesce(tenant, ''), data FROM events WHERE id > ?1 AND "
	    "(?2 = 0 OR id <= ?2) AND (?3 IS NULL OR tenant = ?3) "
	    "ORDER BY id LIMIT ?4", &st)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, upto);
	if (tenant != NULL)
		store_bind_text(st, 3, tenant);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, (int64_t)limit);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		v[k].id = sqlite3_column_int64(st, 0);
		v[k].at = sqlite3_column_int64(st, 1);
		store_col_str(st, 2, v[k].kind, sizeof(v[k].kind));
		store_col_str(st, 3, v[k].subject, sizeof(v[k].subject));
		store_col_str(st, 4, v[k].tenant, sizeof(v[k].tenant));
		k++;
		if ((r = store_col_strdup(st, 5, &v[k - 1].data)) != 0)
			goto out;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "select events");
		goto out;
	}
	*rows = v;
	*n = k;
	v = NULL;
 out:
	event_rows_free(v, k);
	sqlite3_finalize(st);
	store_rd_put(s, db);
	return r;
}

static int
store_max_id(sqlite3 *db, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "SELECT coalesce(max(id), 0) FROM events",
	    &st)) != 0)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		r = store_dberr(db, "select max(event id)");
	sqlite3_finalize(st);
	return r;
}

int
store_events_max(struct store *s, int64_t *out)
{
	sqlite3 *db;
	int r;

	*out = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_max_id(db, out);
	store_rd_put(s, db);
	return r;
}

static int
store_job_webhook_add(sqlite3 *db, void *arg)
{
	struct webhook_rec *w = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_max_id(db, &w->cursor)) != 0)
		return r;
	if ((r = store_prep(db, "INSERT INTO webhooks (id, tenant, url, "
	    "secret, created_at, cursor) VALUES (?, ?, ?, ?, ?, ?)",
	    &st)) != 0)
		return r;
	store_bind_text(st, 1, w->id);
	if (w->tenant[0] != '\0')
		store_bind_text(st, 2, w->tenant);
	else
		sqlite3_bind_null(st, 2);
	store_bind_text(st, 3, w->url);
	store_bind_text(st, 4, w->secret);
	sqlite3_bind_int64(st, 5, w->created_at);
	sqlite3_bind_int64(st, 6, w->cursor);
	switch (sqlite3_step(st)) {
	case SQLITE_DONE:
		r = 0;
		break;
	case SQLITE_CONSTRAINT:
		r = VIGIL_EEXIST;
		break;
	default:
		r = store_dberr(db, "insert webhook");
		break;
	}
	sqlite3_finalize(st);
	return r;
}

int
store_webhook_add(struct store *s, struct webhook_rec *w)
{
	if (w->id[0] == '\0' || w->url[0] == '\0' || w->secret[0] == '\0')
		return VIGIL_EINVAL;
	w->created_at = store_now();
	return store_write(s, store_job_webhook_add, w);
}

int
store_webhook_list(struct store *s, const char *tenant,
    struct webhook_rec **rows, size_t *n)
{
	struct webhook_rec *v = NULL, *nv;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0, cap = 0;
	int r, rc;

	*rows = NULL;
	*n = 0;
	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	if ((r = store_prep(db, "SELECT id, coalesce(tenant, ''), url, secret, "
	    "created_at, cursor, attempts, next_at_ms FROM webhooks WHERE "
	    "?1 IS NULL OR coalesce(tenant, '') = ?1 ORDER BY id", &st)) != 0)
		goto out;
	if (tenant != NULL)
		store_bind_text(st, 1, tenant);
	else
		sqlite3_bind_null(st, 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				r = VIGIL_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[k], 0, sizeof(v[k]));
		store_col_str(st, 0, v[k].id, sizeof(v[k].id));
		store_col_str(st, 1, v[k].tenant, sizeof(v[k].tenant));
		store_col_str(st, 2, v[k].url, sizeof(v[k].url));
		store_col_str(st, 3, v[k].secret, sizeof(v[k].secret));
		v[k].created_at = sqlite3_column_int64(st, 4);
		v[k].cursor = sqlite3_column_int64(st, 5);
		v[k].attempts = (unsigned)sqlite3_column_int64(st, 6);
		v[k].next_at_ms = sqlite3_column_int64(st, 7);
		k++;
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select webhooks");
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

struct store_webhook_del_job {
	const char *id, *tenant;
};

static int
store_job_webhook_delete(sqlite3 *db, void *arg)
{
	struct store_webhook_del_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "DELETE FROM webhooks WHERE id = ?1 AND "
	    "(?2 IS NULL OR tenant = ?2)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->id);
	if (j->tenant != NULL)
		store_bind_text(st, 2, j->tenant);
	else
		sqlite3_bind_null(st, 2);
	if ((r = store_step_done(db, st, "delete webhook")) == 0 &&
	    sqlite3_changes(db) == 0)
		r = VIGIL_ENOTFOUND;
	sqlite3_finalize(st);
	return r;
}

int
store_webhook_delete(struct store *s, const char *id, const char *tenant)
{
	struct store_webhook_del_job j = { id, tenant };

	return store_write(s, store_job_webhook_delete, &j);
}

struct store_attempt_job {
	const char *id, *outcome, *error;
	int64_t event_id, cursor, next_at_ms;
	unsigned attempt, attempts;
	long http_status;
};

static int
store_job_attempt(sqlite3 *db, void *arg)
{
	struct store_attempt_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_prep(db, "INSERT INTO webhook_deliveries (webhook_id, "
	    "event_id, at, attempt, http_status, outcome, error) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?)", &st)) != 0)
		return r;
	store_bind_text(st, 1, j->id);
	sqlite3_bind_int64(st, 2, j->event_id);
	sqlite3_bind_int64(st, 3, store_now());
	sqlite3_bind_int64(st, 4, j->attempt);
	sqlite3_bind_int64(st, 5, j->http_status);
	store_bind_text(st, 6, j->outcome);
	store_bind_text(st, 7, j->error);
	r = store_step_done(db, st, "insert webhook delivery");
	sqlite3_finalize(st);
	st = NULL;
	if (r != 0)
		return r;
	if ((r = store_prep(db, "UPDATE webhooks SET cursor = ?, attempts = ?, "
	    "next_at_ms = ? WHERE id = ?", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, j->cursor);
	sqlite3_bind_int64(st, 2, j->attempts);
	sqlite3_bind_int64(st, 3, j->next_at_ms);
	store_bind_text(st, 4, j->id);
	r = store_step_done(db, st, "update webhook progress");
	sqlite3_finalize(st);
	return r;
}

int
store_webhook_attempt(struct store *s, const char *id, int64_t event_id,
    unsigned attempt, long http_status, const char *outcome,
    const char *error, int64_t cursor, unsigned attempts, int64_t next_at_ms)
{
	struct store_attempt_job j;

	memset(&j, 0, sizeof(j));
	j.id = id;
	j.outcome = outcome;
	j.error = error != NULL ? error : "";
	j.event_id = event_id;
	j.cursor = cursor;
	j.next_at_ms = next_at_ms;
	j.attempt = attempt;
	j.attempts = attempts;
	j.http_status = http_status;
	return store_write(s, store_job_attempt, &j);
}

int
store_webhook_deliveries(struct store *s, const char *id, size_t limit,
    struct delivery_row **rows, size_t *n)
{
	struct delivery_row *v = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	if (limit > EVENTS_LIST_MAX)
		limit = EVENTS_LIST_MAX;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((r = store_rd_get(s, &db)) != 0) {
		free(v);
		return r;
	}
	if ((r = store_prep(db, "SELECT id, event_id, at, attempt, "
	    "http_status, outcome, error FROM webhook_deliveries WHERE "
	    "webhook_id = ? ORDER BY id DESC LIMIT ?", &st)) != 0)
		goto out;
	store_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)limit);
	while (k < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		v[k].id = sqlite3_column_int64(st, 0);
		v[k].event_id = sqlite3_column_int64(st, 1);
		v[k].at = sqlite3_column_int64(st, 2);
		v[k].attempt = (unsigned)sqlite3_column_int64(st, 3);
		v[k].http_status = (long)sqlite3_column_int64(st, 4);
		store_col_str(st, 5, v[k].outcome, sizeof(v[k].outcome));
		store_col_str(st, 6, v[k].error, sizeof(v[k].error));
		k++;
	}
	if (k < limit && rc != SQLITE_DONE) {
		r = store_dberr(db, "select webhook deliveries");
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
