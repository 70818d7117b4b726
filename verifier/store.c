/* The verifier's store on SQLite (see store.h): migrations at open, one
 * writer thread committing queued jobs in batches (group commit, one
 * SAVEPOINT per job), a small pool of read-only reader connections, the
 * statement helpers the other store files share (store_internal.h), stats,
 * ping and retention. Agents, tokens, reference values and audit are in
 * store_agents.c; evidence writes in store_evidence.c; API reads and blobs
 * in store_read.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "verifier/migrations.h"
#include "verifier/store.h"
#include "verifier/store_internal.h"

#define STORE_BUSY_MS 5000

/* ---- statement helpers (shared with the other store files through
 * store_internal.h) ---- */

int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

int
store_sha256(const uint8_t *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p != NULL ? p : (const uint8_t *)"", n, out, &len,
	    EVP_sha256(), NULL) != 1 || len != SHA256_LEN) {
		log_err("store: EVP_Digest(sha256) failed");
		return VIGIL_ECRYPTO;
	}
	return 0;
}

/* Logs the failing call with SQLite's message; returns VIGIL_EDB. */
int
store_dberr(sqlite3 *db, const char *what)
{
	log_err("store: %s failed: %s (%d)", what, sqlite3_errmsg(db),
	    sqlite3_extended_errcode(db));
	return VIGIL_EDB;
}

int
store_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		log_err("store: prepare \"%.60s\" failed: %s", sql,
		    sqlite3_errmsg(db));
		return VIGIL_EDB;
	}
	return 0;
}

int
store_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("store: exec \"%.60s\" failed: %s", sql,
		    msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return VIGIL_EDB;
	}
	return 0;
}

/* Steps a statement that returns no row. */
int
store_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		return store_dberr(db, what);
	return 0;
}

void
store_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(st, i, p != NULL ? p : "", n, SQLITE_STATIC);
}

void
store_bind_text(sqlite3_stmt *st, int i, const char *t)
{
	sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

/* Copies a text column into a fixed buffer (truncating safely). */
void
store_col_str(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
}

int
store_col_strdup(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	*out = strdup(t != NULL ? (const char *)t : "");
	return *out != NULL ? 0 : VIGIL_ENOMEM;
}

int
store_col_blobdup(sqlite3_stmt *st, int i, uint8_t **out, size_t *len)
{
	const void *p = sqlite3_column_blob(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);

	*out = NULL;
	*len = 0;
	if (p == NULL || n == 0)
		return 0;
	if ((*out = malloc(n)) == NULL)
		return VIGIL_ENOMEM;
	memcpy(*out, p, n);
	*len = n;
	return 0;
}

int
store_id_ok(const char *id)
{
	return id != NULL && id[0] != '\0' && strnlen(id, 65) < 65;
}

/* ---- connections and migrations ---- */

/* WAL mode; SQLite answers with the mode it could set. */
static int
store_set_wal(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int r;

	if ((r = store_prep(db, "PRAGMA journal_mode = WAL", &st)) != 0)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = store_dberr(db, "PRAGMA journal_mode = WAL");
	} else if ((mode = sqlite3_column_text(st, 0)) == NULL ||
	    strcmp((const char *)mode, "wal") != 0) {
		log_err("store: path=%s: WAL mode refused (journal_mode is "
		    "%s)", path, mode != NULL ? (const char *)mode : "?");
		r = VIGIL_EDB;
	}
	sqlite3_finalize(st);
	return r;
}

static int
store_conn_open(const char *path, int readonly, sqlite3 **out)
{
	sqlite3 *db = NULL;
	int flags, r;

	flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_err("store: open path=%s failed: %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		r = VIGIL_EDB;
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if (readonly)
		r = store_exec(db, "PRAGMA query_only = ON");
	else if ((r = store_set_wal(db, path)) == 0 &&
	    (r = store_exec(db, "PRAGMA synchronous = FULL")) == 0)
		r = store_exec(db, "PRAGMA foreign_keys = ON");
	if (r != 0)
		goto out;
	*out = db;
	db = NULL;
 out:
	sqlite3_close(db);
	return r;
}

/* The highest applied migration; 0 on a fresh database. */
static int
store_db_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	*out = 0;
	if ((r = store_prep(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'schema_version'", &st)) != 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_dberr(db, "schema_version lookup");
		goto out;
	}
	if (sqlite3_column_int(st, 0) == 0)
		goto out;
	sqlite3_finalize(st);
	if ((r = store_prep(db, "SELECT coalesce(max(version), 0) FROM "
	    "schema_version", &st)) != 0)
		return r;
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = store_dberr(db, "select max(version)");
		goto out;
	}
	*out = sqlite3_column_int(st, 0);
 out:
	sqlite3_finalize(st);
	return r;
}

static int
store_migrate_one(sqlite3 *db, const struct migration *m)
{
	sqlite3_stmt *st = NULL;
	int r, cur;

	if ((r = store_exec(db, "BEGIN IMMEDIATE")) != 0)
		return r;
	/* Another process may have applied it while we waited. */
	if ((r = store_db_version(db, &cur)) != 0 || cur >= m->version)
		goto out;
	if ((r = store_exec(db, m->sql)) != 0) {
		log_err("store: migration %s failed; rolled back", m->name);
		goto out;
	}
	if ((r = store_prep(db, "INSERT INTO schema_version (version, name, "
	    "applied_at) VALUES (?, ?, ?)", &st)) != 0)
		goto out;
	sqlite3_bind_int(st, 1, m->version);
	store_bind_text(st, 2, m->name);
	sqlite3_bind_int64(st, 3, store_now());
	if ((r = store_step_done(db, st, "record migration")) != 0)
		goto out;
	r = store_exec(db, "COMMIT");
	if (r == 0)
		log_info("store: applied migration %s", m->name);
 out:
	sqlite3_finalize(st);
	if (r != 0 || !sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int
store_migrate(sqlite3 *db, const char *path)
{
	int known = 0, cur, r, last = 0;
	size_t i;

	for (i = 0; i < vigil_migrations_n; i++) {
		if (vigil_migrations[i].version <= last) {
			log_err("store: migration %s is out of order",
			    vigil_migrations[i].name);
			return VIGIL_EINVAL;
		}
		last = known = vigil_migrations[i].version;
	}
	if ((r = store_db_version(db, &cur)) != 0)
		return r;
	if (cur > known) {
		log_err("store: database path=%s has schema version %d, newer "
		    "than this binary knows (%d); refusing to open it", path,
		    cur, known);
		return VIGIL_EUNSUPP;
	}
	for (i = 0; i < vigil_migrations_n; i++) {
		if (vigil_migrations[i].version <= cur)
			continue;
		if ((r = store_migrate_one(db, &vigil_migrations[i])) != 0)
			return r;
	}
	return 0;
}

/* ---- readers ---- */

int
store_rd_get(struct store *s, sqlite3 **out)
{
	int i, r = 0;

	pthread_mutex_lock(&s->rmu);
	for (;;) {
		for (i = 0; i < s->n_readers; i++) {
			if (!s->reader_busy[i]) {
				s->reader_busy[i] = 1;
				*out = s->readers[i];
				goto out;
			}
		}
		if (s->n_readers < STORE_READERS) {
			i = s->n_readers;
			if ((r = store_conn_open(s->path, 1,
			    &s->readers[i])) != 0)
				goto out;
			s->n_readers++;
			s->reader_busy[i] = 1;
			*out = s->readers[i];
			goto out;
		}
		pthread_cond_wait(&s->rcv, &s->rmu);
	}
 out:
	pthread_mutex_unlock(&s->rmu);
	return r;
}

void
store_rd_put(struct store *s, sqlite3 *db)
{
	int i;

	pthread_mutex_lock(&s->rmu);
	for (i = 0; i < s->n_readers; i++) {
		if (s->readers[i] == db)
			s->reader_busy[i] = 0;
	}
	pthread_cond_signal(&s->rcv);
	pthread_mutex_unlock(&s->rmu);
}

/* ---- the writer ---- */

static unsigned
store_bucket(size_t n)
{
	unsigned b = 0;

	while (n > 1 && b + 1 < STORE_BATCH_BUCKETS) {
		n >>= 1;
		b++;
	}
	return b;
}

/* Fails (VIGIL_EDB) the jobs from j up to stop (NULL: to the end) that had
 * succeeded; returns how many it failed. */
static size_t
store_fail_done_jobs(struct store_job *j, const struct store_job *stop)
{
	size_t n = 0;

	for (; j != stop; j = j->next) {
		if (j->rc == 0) {
			j->rc = VIGIL_EDB;
			n++;
		}
	}
	return n;
}

/* Runs each job of the batch in its own SAVEPOINT of the open transaction;
 * returns how many failed. */
static size_t
store_run_jobs(struct store *s, struct store_job *batch)
{
	struct store_job *j;
	size_t failed = 0;

	for (j = batch; j != NULL; j = j->next) {
		if (sqlite3_get_autocommit(s->wdb) &&
		    store_exec(s->wdb, "BEGIN IMMEDIATE") != 0) {
			j->rc = VIGIL_EDB;
			failed++;
			continue;
		}
		if (store_exec(s->wdb, "SAVEPOINT job") != 0) {
			j->rc = VIGIL_EDB;
			failed++;
			continue;
		}
		j->rc = j->fn(s->wdb, j->arg);
		if (j->rc == 0) {
			(void)store_exec(s->wdb, "RELEASE job");
			continue;
		}
		failed++;
		if (!sqlite3_get_autocommit(s->wdb)) {
			(void)store_exec(s->wdb, "ROLLBACK TO job");
			(void)store_exec(s->wdb, "RELEASE job");
			continue;
		}
		/* SQLite rolled the whole transaction back (e.g. disk full):
		 * the jobs before this one are lost with it. */
		log_err("store: transaction rolled back by SQLite; failing "
		    "the jobs before it in this batch");
		failed += store_fail_done_jobs(batch, j);
	}
	return failed;
}

/* Counts the finished batch and wakes its callers. */
static void
store_batch_done(struct store *s, struct store_job *batch, size_t n,
    size_t failed, int commit_ok)
{
	struct store_job *j, *k;

	pthread_mutex_lock(&s->mu);
	s->running = 0;
	s->st.jobs += n;
	s->st.job_failures += failed;
	if (commit_ok) {
		s->st.commits++;
		s->st.batch_hist[store_bucket(n)]++;
		if (n > s->st.max_batch)
			s->st.max_batch = n;
	} else {
		s->st.commit_failures++;
	}
	/* A caller may free its job once done is set: read next first. */
	for (j = batch; j != NULL; j = k) {
		k = j->next;
		j->done = 1;
	}
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
}

/* Runs one batch: BEGIN IMMEDIATE, a SAVEPOINT per job, COMMIT. */
static void
store_run_batch(struct store *s, struct store_job *batch, size_t n)
{
	size_t failed;
	int commit_ok = 0;

	if (store_exec(s->wdb, "BEGIN IMMEDIATE") != 0) {
		failed = store_fail_done_jobs(batch, NULL);
		goto out;
	}
	failed = store_run_jobs(s, batch);
	if (sqlite3_get_autocommit(s->wdb) ||
	    store_exec(s->wdb, "COMMIT") != 0) {
		(void)sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
		failed += store_fail_done_jobs(batch, NULL);
		goto out;
	}
	commit_ok = 1;
 out:
	store_batch_done(s, batch, n, failed, commit_ok);
}

static void *
store_writer_main(void *arg)
{
	struct store *s = arg;
	struct store_job *batch, *last;
	size_t n;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->head == NULL && !s->stop)
			pthread_cond_wait(&s->work_cv, &s->mu);
		if (s->head == NULL)
			break;		/* stopping and drained */
		batch = last = s->head;
		n = 1;
		while (last->next != NULL && n < STORE_BATCH_MAX) {
			last = last->next;
			n++;
		}
		s->head = last->next;
		if (s->head == NULL)
			s->tail = NULL;
		last->next = NULL;
		s->queued -= n;
		s->running = n;
		pthread_mutex_unlock(&s->mu);
		store_run_batch(s, batch, n);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Queues fn(arg) and waits until its batch committed or failed. The job
 * is on the heap (not the caller's stack) so no queue ever points into a
 * stack frame; the writer lets go of it before it sets done. */
int
store_write(struct store *s, int (*fn)(sqlite3 *, void *), void *arg)
{
	struct store_job *job;
	int r;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return VIGIL_ENOMEM;
	job->fn = fn;
	job->arg = arg;
	pthread_mutex_lock(&s->mu);
	if (s->stop) {
		pthread_mutex_unlock(&s->mu);
		free(job);
		log_err("store: write after store_close began");
		return VIGIL_EDB;
	}
	if (s->tail != NULL)
		s->tail->next = job;
	else
		s->head = job;
	s->tail = job;
	s->queued++;
	pthread_cond_signal(&s->work_cv);
	while (!job->done)
		pthread_cond_wait(&s->done_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	r = job->rc;
	free(job);
	return r;
}

/* ---- open, close, status ---- */

/* The store holds every tenant's recipes, blobs and webhook secrets: it
 * and its WAL are the verifier's alone. A file a previous version (or a
 * wide umask) left readable by others is narrowed, and said so. */
static void
store_tighten_modes(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (snprintf(p, sizeof(p), "%s%s", path, sfx[i]) >=
		    (int)sizeof(p) || stat(p, &st) != 0 ||
		    (st.st_mode & 077) == 0)
			continue;
		if (chmod(p, st.st_mode & 0700) == 0)
			log_warn("store: %s was mode %03o (others could read "
			    "it); now %03o", p, (unsigned)(st.st_mode & 0777),
			    (unsigned)(st.st_mode & 0700));
		else
			log_err("store: %s is mode %03o and cannot be "
			    "narrowed: %s", p, (unsigned)(st.st_mode & 0777),
			    strerror(errno));
	}
}

int
store_open(const char *path, struct store **out)
{
	struct store *s;
	int r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	pthread_mutex_init(&s->rmu, NULL);
	pthread_cond_init(&s->rcv, NULL);
	if ((s->path = strdup(path)) == NULL) {
		r = VIGIL_ENOMEM;
		goto out;
	}
	if ((r = store_conn_open(path, 0, &s->wdb)) != 0 ||
	    (r = store_migrate(s->wdb, path)) != 0)
		goto out;
	store_tighten_modes(path);
	if (pthread_create(&s->writer, NULL, store_writer_main, s) != 0) {
		log_err("store: pthread_create(writer) failed");
		r = VIGIL_EIO;
		goto out;
	}
	s->writer_started = 1;
	*out = s;
	s = NULL;
 out:
	store_close(s);
	return r;
}

void
store_close(struct store *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->work_cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
	}
	for (i = 0; i < s->n_readers; i++)
		sqlite3_close(s->readers[i]);
	if (s->wdb != NULL && sqlite3_close(s->wdb) != SQLITE_OK)
		log_err("store: close failed: %s", sqlite3_errmsg(s->wdb));
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work_cv);
	pthread_cond_destroy(&s->done_cv);
	pthread_mutex_destroy(&s->rmu);
	pthread_cond_destroy(&s->rcv);
	free(s->path);
	free(s);
}

void
store_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	out->queued = s->queued;
	out->running = s->running;
	pthread_mutex_unlock(&s->mu);
}

int
store_schema_version(struct store *s, int *out)
{
	sqlite3 *db;
	int r;

	if ((r = store_rd_get(s, &db)) != 0)
		return r;
	r = store_db_version(db, out);
	store_rd_put(s, db);
	return r;
}

static int
store_job_ping(sqlite3 *db, void *arg)
{
	return store_exec(db, "SELECT 1");
}

int
store_ping(struct store *s)
{
	int v, r;

	if ((r = store_schema_version(s, &v)) != 0)
		return r;
	return store_write(s, store_job_ping, NULL);
}

/* ---- retention ---- */

struct store_prune_job {
	int64_t before;
	size_t max;
	size_t deleted;
};

struct store_prune_row {
	int64_t id;
	uint8_t sha[SHA256_LEN];
};

static int
store_w_prune_bundles(sqlite3 *db, struct store_prune_job *j)
{
	sqlite3_stmt *sel = NULL, *del = NULL, *gc = NULL;
	struct store_prune_row *v = NULL;
	size_t n = 0, i;
	int r, rc = SQLITE_DONE;

	if ((v = calloc(j->max, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	/* Collect first, then delete: no writes under an open scan. */
	if ((r = store_prep(db, "SELECT id, sha256 FROM bundles WHERE "
	    "received_at < ? ORDER BY received_at LIMIT ?", &sel)) != 0)
		goto out;
	sqlite3_bind_int64(sel, 1, j->before);
	sqlite3_bind_int64(sel, 2, (int64_t)j->max);
	while (n < j->max && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(sel, 1) != SHA256_LEN) {
			r = store_dberr(db, "bundle sha256 length");
			goto out;
		}
		v[n].id = sqlite3_column_int64(sel, 0);
		memcpy(v[n].sha, sqlite3_column_blob(sel, 1), SHA256_LEN);
		n++;
	}
	if (n < j->max && rc != SQLITE_DONE) {
		r = store_dberr(db, "select bundles");
		goto out;
	}
	if ((r = store_prep(db, "DELETE FROM bundles WHERE id = ?",
	    &del)) != 0 ||
	    (r = store_prep(db, "DELETE FROM blobs WHERE sha256 = ?1 AND "
	    "NOT EXISTS (SELECT 1 FROM bundles WHERE sha256 = ?1) AND "
	    "NOT EXISTS (SELECT 1 FROM items WHERE body_sha256 = ?1) AND "
	    "NOT EXISTS (SELECT 1 FROM item_conflicts WHERE "
	    "body_sha256 = ?1)", &gc)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, v[i].id);
		if ((r = store_step_done(db, del, "delete bundle")) != 0)
			goto out;
		sqlite3_reset(gc);
		store_bind_blob(gc, 1, v[i].sha, SHA256_LEN);
		if ((r = store_step_done(db, gc, "delete blob")) != 0)
			goto out;
		j->deleted++;
	}
 out:
	free(v);
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	sqlite3_finalize(gc);
	return r;
}

static int
store_job_prune(sqlite3 *db, void *arg)
{
	struct store_prune_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = store_w_prune_bundles(db, j)) != 0)
		return r;
	if ((r = store_prep(db, "DELETE FROM appraisals WHERE id IN (SELECT "
	    "a.id FROM appraisals a WHERE a.last_at < ?1 AND a.id < (SELECT "
	    "max(b.id) FROM appraisals b WHERE b.agent_id = a.agent_id) "
	    "LIMIT ?2)", &st)) != 0)
		return r;
	sqlite3_bind_int64(st, 1, j->before);
	sqlite3_bind_int64(st, 2, (int64_t)j->max);
	if ((r = store_step_done(db, st, "prune appraisals")) == 0)
		j->deleted += (size_t)sqlite3_changes(db);
	sqlite3_finalize(st);
	return r;
}

int
store_prune(struct store *s, int64_t before, size_t max, size_t *deleted)
{
	struct store_prune_job j = { before, max, 0 };
	int r;

	*deleted = 0;
	if (max == 0 || max > 100000)
		return VIGIL_EINVAL;
	if ((r = store_write(s, store_job_prune, &j)) == 0) {
		*deleted = j.deleted;
		if (j.deleted > 0)
			log_info("store: retention deleted %zu rows older "
			    "than %" PRId64, j.deleted, before);
	}
	return r;
}
