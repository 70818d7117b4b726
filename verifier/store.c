/* The verifier's store on SQLite (see store.h): migrations at open, one
 * writer thread committing queued jobs in batches (group commit, one
 * SAVEPOINT per job), and a small pool of read-only reader connections. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/migrations.h"
#include "verifier/store.h"

#define STORE_BUSY_MS 5000
#define STORE_READERS 8

/* One unit of work for the writer; lives on the caller's stack. */
struct store_job {
	int (*fn)(sqlite3 *db, void *arg);
	void *arg;
	int rc;
	int done;
	struct store_job *next;
};

struct store {
	char *path;
	sqlite3 *wdb;			/* the writer's connection */
	pthread_t writer;
	int writer_started;

	pthread_mutex_t mu;		/* queue, stats, stop */
	pthread_cond_t work_cv;		/* the writer waits for jobs */
	pthread_cond_t done_cv;		/* callers wait for their batch */
	struct store_job *head, *tail;
	size_t queued;
	size_t running;
	int stop;
	struct store_stats st;

	pthread_mutex_t rmu;		/* reader pool */
	pthread_cond_t rcv;
	sqlite3 *readers[STORE_READERS];
	int reader_busy[STORE_READERS];
	int n_readers;
};

/* ---- small helpers ---- */

static int64_t
store_now(void)
{
	return (int64_t)time(NULL);
}

static int
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
static int
store_dberr(sqlite3 *db, const char *what)
{
	log_err("store: %s failed: %s (%d)", what, sqlite3_errmsg(db),
	    sqlite3_extended_errcode(db));
	return VIGIL_EDB;
}

static int
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

static int
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
static int
store_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		return store_dberr(db, what);
	return 0;
}

static void
store_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob64(st, i, p != NULL ? p : "", n, SQLITE_STATIC);
}

static void
store_bind_text(sqlite3_stmt *st, int i, const char *t)
{
	sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

/* Copies a text column into a fixed buffer (truncating safely). */
static void
store_col_str(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
}

static int
store_col_strdup(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	*out = strdup(t != NULL ? (const char *)t : "");
	return *out != NULL ? 0 : VIGIL_ENOMEM;
}

static int
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

static int
store_id_ok(const char *id)
{
	return id != NULL && id[0] != '\0' && strnlen(id, 65) < 65;
}

static int
store_status_ok(const char *st)
{
	return strcmp(st, "affirming") == 0 || strcmp(st, "warning") == 0 ||
	    strcmp(st, "contraindicated") == 0 || strcmp(st, "none") == 0;
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

static int
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

static void
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

/* Runs one batch: BEGIN IMMEDIATE, a SAVEPOINT per job, COMMIT. */
static void
store_run_batch(struct store *s, struct store_job *batch, size_t n)
{
	struct store_job *j, *k;
	size_t failed = 0;
	int commit_ok = 0;

	if (store_exec(s->wdb, "BEGIN IMMEDIATE") != 0) {
		for (j = batch; j != NULL; j = j->next)
			j->rc = VIGIL_EDB;
		failed = n;
		goto out;
	}
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
		for (k = batch; k != j; k = k->next) {
			if (k->rc == 0) {
				k->rc = VIGIL_EDB;
				failed++;
			}
		}
	}
	if (sqlite3_get_autocommit(s->wdb) ||
	    store_exec(s->wdb, "COMMIT") != 0) {
		(void)sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
		for (j = batch; j != NULL; j = j->next) {
			if (j->rc == 0) {
				j->rc = VIGIL_EDB;
				failed++;
			}
		}
		goto out;
	}
	commit_ok = 1;
 out:
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
	for (j = batch; j != NULL; j = k) {
		k = j->next;
		j->done = 1;
	}
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
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
static int
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

static int
store_job_agent_register(sqlite3 *db, void *arg)
{
	const struct agent_rec *a = arg;
	sqlite3_stmt *st = NULL;
	int r, rc, exists = 0, state = 0, approved = 0;
	int64_t now = store_now();

	/* The AK must not belong to another agent. */
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
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select agent by ak_name");
		goto out;
	}
	sqlite3_finalize(st);
	if ((r = store_prep(db, "SELECT state, reenrol_approved FROM agents "
	    "WHERE id = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, a->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		exists = 1;
		state = sqlite3_column_int(st, 0);
		approved = sqlite3_column_int(st, 1);
	} else if (rc != SQLITE_DONE) {
		r = store_dberr(db, "select agent");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (exists && state == AGENT_ACTIVE && !approved) {
		log_warn("store: register agent=%s refused: already active "
		    "and no re-enrolment approved", a->id);
		r = VIGIL_EEXIST;
		goto out;
	}
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
		goto out;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->hostname);
	store_bind_blob(st, 3, a->ek_pub, a->ek_pub_len);
	if (a->ek_cert != NULL && a->ek_cert_len > 0)
		store_bind_blob(st, 4, a->ek_cert, a->ek_cert_len);
	store_bind_blob(st, 5, a->ak_pub, a->ak_pub_len);
	store_bind_blob(st, 6, a->ak_name, a->ak_name_len);
	store_bind_blob(st, 7, a->secret_hash, SHA256_LEN);
	sqlite3_bind_int64(st, 8, now);
	if ((r = store_step_done(db, st, "write agent")) != 0)
		goto out;
	if (exists && state == AGENT_ACTIVE)
		log_info("store: agent=%s re-enrolled with new EK/AK "
		    "(approved)", a->id);
 out:
	sqlite3_finalize(st);
	return r;
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

/* ---- evidence (writer side) ---- */

/* Stores bytes under their (precomputed) hash, once. */
static int
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
	sqlite3_bind_int64(st, 2, it->boot_count);
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

/* Appends an event-log chunk at the log's end, or accepts it if it repeats
 * stored bytes; otherwise fills why (and appends nothing). */
static int
store_w_evlog(sqlite3 *db, const char *agent, const struct item_in *it,
    int64_t now, char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL;
	uint64_t len = 0;
	int r, rc, same;

	why[0] = '\0';
	if (it->offset > (uint64_t)INT64_MAX - STORE_BLOB_MAX) {
		snprintf(why, whylen, "event log chunk offset %" PRIu64
		    " out of range", it->offset);
		return 0;
	}
	if ((r = store_prep(db, "SELECT length FROM evlogs WHERE agent_id = ? "
	    "AND boot_count = ?", &st)) != 0)
		return r;
	store_bind_text(st, 1, agent);
	sqlite3_bind_int64(st, 2, it->boot_count);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		len = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		r = store_dberr(db, "select evlogs");
	sqlite3_finalize(st);
	st = NULL;
	if (r != 0)
		return r;
	if (it->offset == len) {
		if (it->chunk_len == 0)
			return 0;
		if ((r = store_prep(db, "INSERT INTO evlogs (agent_id, "
		    "boot_count, length, updated_at) VALUES (?1, ?2, ?3, ?4) "
		    "ON CONFLICT DO UPDATE SET length = length + ?3, "
		    "updated_at = ?4", &st)) != 0)
			return r;
		store_bind_text(st, 1, agent);
		sqlite3_bind_int64(st, 2, it->boot_count);
		sqlite3_bind_int64(st, 3, (int64_t)it->chunk_len);
		sqlite3_bind_int64(st, 4, now);
		if ((r = store_step_done(db, st, "upsert evlogs")) != 0)
			goto out;
		sqlite3_finalize(st);
		if ((r = store_prep(db, "INSERT INTO evlog_chunks (agent_id, "
		    "boot_count, start_off, data) VALUES (?, ?, ?, ?)",
		    &st)) != 0)
			return r;
		store_bind_text(st, 1, agent);
		sqlite3_bind_int64(st, 2, it->boot_count);
		sqlite3_bind_int64(st, 3, (int64_t)it->offset);
		store_bind_blob(st, 4, it->chunk, it->chunk_len);
		r = store_step_done(db, st, "insert evlog_chunks");
		goto out;
	}
	if (it->offset > len) {
		snprintf(why, whylen, "event log chunk at offset %" PRIu64
		    " leaves a gap after the stored %" PRIu64 " bytes "
		    "(boot %" PRIu32 ")", it->offset, len, it->boot_count);
		return 0;
	}
	if (it->offset + it->chunk_len > len) {
		snprintf(why, whylen, "event log chunk at offset %" PRIu64
		    " of %zu bytes overlaps the end of the stored %" PRIu64
		    " bytes (boot %" PRIu32 ")", it->offset, it->chunk_len,
		    len, it->boot_count);
		return 0;
	}
	if ((r = store_w_evlog_same(db, agent, it, &same)) != 0)
		return r;
	if (!same)
		snprintf(why, whylen, "event log chunk at offset %" PRIu64
		    " of %zu bytes differs from the stored bytes (boot %"
		    PRIu32 ")", it->offset, it->chunk_len, it->boot_count);
 out:
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
	*oc = ITEM_NEW;
	if (it->kind == STORE_ITEM_EVENT_LOG) {
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

/* Advances the epoch's acked_seq over the items stored contiguously. */
static int
store_w_advance(sqlite3 *db, const char *agent, uint64_t epoch, int64_t now,
    uint64_t *acked)
{
	sqlite3_stmt *st = NULL;
	uint64_t seq = 0;
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
		if (rc == SQLITE_DONE)
			break;
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
static int
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

/* ---- evidence (reads) ---- */

int
store_evlog_get(struct store *s, const char *agent_id, uint32_t boot_count,
    uint8_t **out, size_t *len)
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
	sqlite3_bind_int64(st, 2, boot_count);
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

/* ---- reference values ---- */

struct store_refvals_job {
	const char *doc, *author;
	int64_t version;
};

static int
store_job_refvals_put(sqlite3 *db, void *arg)
{
	struct store_refvals_job *j = arg;
	sqlite3_stmt *st = NULL;
	int r;

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

int
store_refvals_put(struct store *s, const char *doc_json, const char *author,
    int64_t *version)
{
	struct store_refvals_job j = { doc_json, author, 0 };
	int r;

	if (doc_json == NULL || author == NULL)
		return VIGIL_EINVAL;
	if (strlen(doc_json) > STORE_BLOB_MAX) {
		log_err("store: reference values document over the limit");
		return VIGIL_ETOOBIG;
	}
	if ((r = store_write(s, store_job_refvals_put, &j)) == 0 &&
	    version != NULL)
		*version = j.version;
	return r;
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

/* ---- more reads ---- */

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
