/* What the store's files (store.c, store_agents.c, store_evidence.c,
 * store_read.c) share: the store itself, job submission to the writer,
 * the reader pool and the statement helpers. Not for other modules: they
 * use store.h only. */
#ifndef VIGIL_STORE_INTERNAL_H
#define VIGIL_STORE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "verifier/store.h"

#define STORE_READERS 8

/* One unit of work for the writer; on the heap, owned by store_write. */
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

/* ---- jobs and readers (store.c) ---- */

/* Queues fn(arg) for the writer thread, which runs it in its own
 * SAVEPOINT of a batch; returns fn's result once the batch committed, or
 * VIGIL_EDB if the batch failed. fn must not keep arg past its return. */
int store_write(struct store *s, int (*fn)(sqlite3 *, void *), void *arg);
/* Borrows a read-only connection (waits while all are busy); give it back
 * with store_rd_put. */
int store_rd_get(struct store *s, sqlite3 **out);
void store_rd_put(struct store *s, sqlite3 *db);

/* ---- small helpers (store.c) ---- */

int64_t store_now(void);
int store_sha256(const uint8_t *p, size_t n, uint8_t out[SHA256_LEN]);
/* Logs the failing call with SQLite's message; returns VIGIL_EDB. */
int store_dberr(sqlite3 *db, const char *what);
int store_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st);
int store_exec(sqlite3 *db, const char *sql);
/* Steps a statement that returns no row. */
int store_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what);
/* Bind without copying (SQLITE_STATIC): the data must outlive the step. */
void store_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n);
void store_bind_text(sqlite3_stmt *st, int i, const char *t);
/* Copies a text column into a fixed buffer (truncating safely). */
void store_col_str(sqlite3_stmt *st, int i, char *out, size_t cap);
/* The agent id in column 0 of sql's first row, with blob bound to ?1 and
 * not_id (unless NULL) to ?2; VIGIL_ENOTFOUND for no row; what names the
 * query in the error. */
int store_q_agent_by_blob(sqlite3 *db, const char *sql, const void *blob,
    size_t len, const char *not_id, char id_out[65], const char *what);
/* malloc'd copies of a column ("" / NULL,0 for NULL). */
int store_col_strdup(sqlite3_stmt *st, int i, char **out);
int store_col_blobdup(sqlite3_stmt *st, int i, uint8_t **out, size_t *len);
/* Appends (or, equal to the latest, extends) an appraisal of agent and
 * sets the agent's status, inside a writer job (store_evidence.c). */
int store_w_appraisal(sqlite3 *db, const char *agent,
    const struct appraisal *a);
/* 1 if id is a non-empty agent id of at most 64 chars. */
int store_id_ok(const char *id);

/* ---- writer-side helpers (store_evidence.c) ---- */

/* In a writer job: stores bytes under their (precomputed) hash, once. */
int store_w_blob(sqlite3 *db, const uint8_t sha[SHA256_LEN],
    const uint8_t *p, size_t n, int64_t now);

#endif
