/* The evidence spool in SQLite. Schema:
 *   meta(key TEXT PRIMARY KEY, value TEXT): epoch (16 hex digits), next_seq,
 *       agent_id, status, evlog_offset.<boot_count>
 *   items(seq INTEGER PRIMARY KEY, kind INTEGER, body BLOB)
 * Every change is one IMMEDIATE transaction, so a crash leaves either the
 * old or the new state, never an item without its sequence bookkeeping. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "spool.h"
#include "vigil.pb-c.h"

struct spool {
	/* The connection is opened NOMUTEX and the agent's push loop and
	 * checkpoint worker share it: every public function holds mu
	 * (recursive: some call others). */
	pthread_mutex_t mu;
	sqlite3 *db;
	uint64_t epoch;
	uint64_t max_items;
	char path[PATH_MAX];
};

static int
spool_mutex_init(pthread_mutex_t *mu)
{
	pthread_mutexattr_t at;
	int r;

	if (pthread_mutexattr_init(&at) != 0)
		return -1;
	r = pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE) == 0 &&
	    pthread_mutex_init(mu, &at) == 0 ? 0 : -1;
	pthread_mutexattr_destroy(&at);
	return r;
}

static int
spool_exec(struct spool *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("spool: sql=\"%s\" failed: %s path=%s", sql,
		    msg ? msg : sqlite3_errmsg(s->db), s->path);
		sqlite3_free(msg);
		return VIGIL_EDB;
	}
	return 0;
}

static int
spool_prepare(struct spool *s, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
		log_err("spool: prepare \"%s\" failed: %s", sql,
		    sqlite3_errmsg(s->db));
		return VIGIL_EDB;
	}
	return 0;
}

static int
spool_step_done(struct spool *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_err("spool: step failed: %s path=%s",
		    sqlite3_errmsg(s->db), s->path);
		return VIGIL_EDB;
	}
	return 0;
}

static int
spool_begin(struct spool *s)
{
	return spool_exec(s, "BEGIN IMMEDIATE");
}

static int
spool_end(struct spool *s, int e)
{
	if (e == 0)
		return spool_exec(s, "COMMIT");
	(void)spool_exec(s, "ROLLBACK");
	return e;
}

static int
spool_meta_get_impl(struct spool *s, const char *key, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *v;
	size_t n;
	int e, rc;

	if ((e = spool_prepare(s, "SELECT value FROM meta WHERE key = ?",
	    &st)) != 0)
		return e;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		log_err("spool: reading meta key=%s: %s", key,
		    sqlite3_errmsg(s->db));
		e = VIGIL_EDB;
		goto out;
	}
	v = sqlite3_column_text(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 0);
	if (v == NULL || n >= cap) {
		e = v == NULL ? VIGIL_EDB : VIGIL_ETOOBIG;
		goto out;
	}
	memcpy(out, v, n);
	out[n] = '\0';
 out:
	sqlite3_finalize(st);
	return e;
}

static int
spool_meta_set_impl(struct spool *s, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int e;

	if ((e = spool_prepare(s, "INSERT OR REPLACE INTO meta(key, value) "
	    "VALUES (?, ?)", &st)) != 0)
		return e;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	e = spool_step_done(s, st);
	sqlite3_finalize(st);
	return e;
}

static int
spool_meta_del_impl(struct spool *s, const char *key)
{
	sqlite3_stmt *st = NULL;
	int e;

	if ((e = spool_prepare(s, "DELETE FROM meta WHERE key = ?", &st)) != 0)
		return e;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	e = spool_step_done(s, st);
	sqlite3_finalize(st);
	return e;
}

static int
spool_meta_u64(struct spool *s, const char *key, int base, uint64_t *out)
{
	char v[32], *end;
	int e;

	if ((e = spool_meta_get(s, key, v, sizeof(v))) != 0)
		return e;
	errno = 0;
	*out = strtoull(v, &end, base);
	if (errno != 0 || end == v || *end != '\0') {
		log_err("spool: meta key=%s holds \"%s\", not a number", key,
		    v);
		return VIGIL_EDB;
	}
	return 0;
}

static int
spool_init(struct spool *s)
{
	uint64_t epoch = 0;
	char v[32];
	int e;

	if ((e = spool_begin(s)) != 0)
		return e;
	if ((e = spool_exec(s, "CREATE TABLE IF NOT EXISTS meta ("
	    "key TEXT PRIMARY KEY, value TEXT NOT NULL)")) != 0 ||
	    (e = spool_exec(s, "CREATE TABLE IF NOT EXISTS items ("
	    "seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, "
	    "body BLOB NOT NULL)")) != 0)
		return spool_end(s, e);
	e = spool_meta_u64(s, "epoch", 16, &s->epoch);
	if (e == VIGIL_ENOTFOUND) {
		while (epoch == 0) {
			if (getrandom(&epoch, sizeof(epoch), 0) !=
			    sizeof(epoch)) {
				log_err("spool: getrandom failed: %s",
				    strerror(errno));
				return spool_end(s, VIGIL_EIO);
			}
		}
		snprintf(v, sizeof(v), "%016" PRIx64, epoch);
		if ((e = spool_meta_set(s, "epoch", v)) != 0 ||
		    (e = spool_meta_set(s, "next_seq", "1")) != 0)
			return spool_end(s, e);
		s->epoch = epoch;
		log_info("spool: new epoch=%016" PRIx64 " path=%s", epoch,
		    s->path);
	} else if (e != 0)
		return spool_end(s, e);
	return spool_end(s, 0);
}

int
spool_open(const char *dir, uint64_t max_items, struct spool **out)
{
	struct spool *s;
	int e;

	if (max_items == 0)
		return VIGIL_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	if (spool_mutex_init(&s->mu) != 0) {
		free(s);
		return VIGIL_ENOMEM;
	}
	s->max_items = max_items;
	if ((size_t)snprintf(s->path, sizeof(s->path), "%s/%s", dir,
	    SPOOL_FILE) >= sizeof(s->path)) {
		e = VIGIL_EINVAL;
		goto out;
	}
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_err("spool: cannot open path=%s: %s", s->path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		e = VIGIL_EDB;
		goto out;
	}
	(void)chmod(s->path, 0600);
	sqlite3_busy_timeout(s->db, 5000);
	if ((e = spool_exec(s, "PRAGMA journal_mode=WAL")) != 0 ||
	    (e = spool_exec(s, "PRAGMA synchronous=FULL")) != 0 ||
	    (e = spool_init(s)) != 0)
		goto out;
	*out = s;
	s = NULL;
 out:
	spool_close(s);
	return e;
}

void
spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warn("spool: close failed: %s", sqlite3_errmsg(s->db));
	pthread_mutex_destroy(&s->mu);
	free(s);
}

uint64_t
spool_epoch(const struct spool *s)
{
	return s->epoch;
}

/* Takes the next sequence number (inside the caller's transaction). */
static int
spool_next_seq(struct spool *s, uint64_t *seq)
{
	char v[32];
	int e;

	if ((e = spool_meta_u64(s, "next_seq", 10, seq)) != 0)
		return e;
	if (*seq == 0 || *seq >= INT64_MAX) {
		log_err("spool: next_seq=%" PRIu64 " out of range", *seq);
		return VIGIL_EDB;
	}
	snprintf(v, sizeof(v), "%" PRIu64, *seq + 1);
	return spool_meta_set(s, "next_seq", v);
}

static int
spool_insert(struct spool *s, uint64_t seq, int kind, const uint8_t *body,
    size_t len)
{
	sqlite3_stmt *st = NULL;
	int e;

	if (len > INT_MAX)
		return VIGIL_ETOOBIG;
	if ((e = spool_prepare(s, "INSERT OR REPLACE INTO items(seq, kind, "
	    "body) VALUES (?, ?, ?)", &st)) != 0)
		return e;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_blob(st, 3, len ? (const void *)body : "", (int)len,
	    SQLITE_STATIC);
	e = spool_step_done(s, st);
	sqlite3_finalize(st);
	return e;
}

static int
spool_gap_body(uint64_t first, uint64_t last, struct buf *out)
{
	Vigil__Gap g = VIGIL__GAP__INIT;
	char reason[128];
	size_t n;
	int e;

	snprintf(reason, sizeof(reason), "spool full: items %" PRIu64
	    "..%" PRIu64 " dropped", first, last);
	g.first_seq = first;
	g.last_seq = last;
	g.reason = reason;
	n = vigil__gap__get_packed_size(&g);
	if ((e = buf_reserve(out, n)) != 0)
		return e;
	out->len = vigil__gap__pack(&g, out->data);
	return 0;
}

/* Records that data items first..last were dropped: extends the newest
 * pending gap item when the ranges touch, else adds a gap item. */
static int
spool_record_gap(struct spool *s, uint64_t first, uint64_t last)
{
	sqlite3_stmt *st = NULL;
	Vigil__Gap *g = NULL;
	struct buf body = BUF_INIT;
	uint64_t gseq = 0;
	int e, rc;

	if ((e = spool_prepare(s, "SELECT seq, body FROM items WHERE kind = ? "
	    "ORDER BY seq DESC LIMIT 1", &st)) != 0)
		return e;
	sqlite3_bind_int(st, 1, VIGIL__ITEM_KIND__ITEM_GAP);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		gseq = (uint64_t)sqlite3_column_int64(st, 0);
		g = vigil__gap__unpack(NULL,
		    (size_t)sqlite3_column_bytes(st, 1),
		    sqlite3_column_blob(st, 1));
	} else if (rc != SQLITE_DONE) {
		e = VIGIL_EDB;
		goto out;
	}
	/* The ranges touch if only the gap item itself lies between. */
	if (g != NULL && first > g->last_seq && (first == g->last_seq + 1 ||
	    (first == g->last_seq + 2 && gseq == g->last_seq + 1))) {
		first = g->first_seq;
	} else if ((e = spool_next_seq(s, &gseq)) != 0)
		goto out;
	if ((e = spool_gap_body(first, last, &body)) != 0 ||
	    (e = spool_insert(s, gseq, VIGIL__ITEM_KIND__ITEM_GAP, body.data,
	    body.len)) != 0)
		goto out;
	log_warn("spool: full (max_items=%" PRIu64 "), dropped items "
	    "first_seq=%" PRIu64 " last_seq=%" PRIu64 " gap_seq=%" PRIu64,
	    s->max_items, first, last, gseq);
 out:
	vigil__gap__free_unpacked(g, NULL);
	sqlite3_finalize(st);
	buf_free(&body);
	return e;
}

/* Makes room for one more data item within max_items. */
static int
spool_make_room(struct spool *s)
{
	sqlite3_stmt *st = NULL;
	uint64_t count, ndrop, first, last;
	int e;

	if ((e = spool_prepare(s, "SELECT count(*), min(seq) FROM items "
	    "WHERE kind != ?", &st)) != 0)
		return e;
	sqlite3_bind_int(st, 1, VIGIL__ITEM_KIND__ITEM_GAP);
	if (sqlite3_step(st) != SQLITE_ROW) {
		e = VIGIL_EDB;
		goto out;
	}
	count = (uint64_t)sqlite3_column_int64(st, 0);
	first = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	st = NULL;
	if (count < s->max_items)
		return 0;
	ndrop = count - s->max_items + 1;
	if ((e = spool_prepare(s, "SELECT max(seq) FROM (SELECT seq FROM items "
	    "WHERE kind != ? ORDER BY seq LIMIT ?)", &st)) != 0)
		return e;
	sqlite3_bind_int(st, 1, VIGIL__ITEM_KIND__ITEM_GAP);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ndrop);
	if (sqlite3_step(st) != SQLITE_ROW) {
		e = VIGIL_EDB;
		goto out;
	}
	last = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if ((e = spool_prepare(s, "DELETE FROM items WHERE kind != ? AND "
	    "seq <= ?", &st)) != 0)
		return e;
	sqlite3_bind_int(st, 1, VIGIL__ITEM_KIND__ITEM_GAP);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)last);
	if ((e = spool_step_done(s, st)) != 0)
		goto out;
	e = spool_record_gap(s, first, last);
 out:
	sqlite3_finalize(st);
	return e;
}

static int
spool_put_locked(struct spool *s, int kind, const uint8_t *body, size_t len,
    uint64_t *seq)
{
	uint64_t n;
	int e;

	if ((e = spool_make_room(s)) != 0 ||
	    (e = spool_next_seq(s, &n)) != 0 ||
	    (e = spool_insert(s, n, kind, body, len)) != 0)
		return e;
	if (seq != NULL)
		*seq = n;
	return 0;
}

static int
spool_put_impl(struct spool *s, int kind, const uint8_t *body, size_t len,
    uint64_t *seq)
{
	int e;

	if (kind == VIGIL__ITEM_KIND__ITEM_GAP || kind <= 0)
		return VIGIL_EINVAL;
	if ((e = spool_begin(s)) != 0)
		return e;
	return spool_end(s, spool_put_locked(s, kind, body, len, seq));
}

void
spool_items_free(struct spool_item *items, size_t n)
{
	size_t i;

	if (items == NULL)
		return;
	for (i = 0; i < n; i++)
		free(items[i].body);
	free(items);
}

static int
spool_pending_impl(struct spool *s, size_t limit,
    struct spool_item **items, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct spool_item *v = NULL, *it;
	size_t cnt = 0, len;
	int e, rc;

	*items = NULL;
	*n = 0;
	if (limit == 0)
		return 0;
	if (limit > 1000000)
		limit = 1000000;
	if ((v = calloc(limit, sizeof(*v))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = spool_prepare(s, "SELECT seq, kind, body FROM items ORDER BY "
	    "seq LIMIT ?", &st)) != 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && cnt < limit) {
		it = &v[cnt];
		it->epoch = s->epoch;
		it->seq = (uint64_t)sqlite3_column_int64(st, 0);
		it->kind = sqlite3_column_int(st, 1);
		len = (size_t)sqlite3_column_bytes(st, 2);
		if ((it->body = malloc(len ? len : 1)) == NULL) {
			e = VIGIL_ENOMEM;
			goto out;
		}
		if (len > 0)
			memcpy(it->body, sqlite3_column_blob(st, 2), len);
		it->len = len;
		cnt++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_err("spool: reading pending items: %s",
		    sqlite3_errmsg(s->db));
		e = VIGIL_EDB;
		goto out;
	}
	*items = v;
	*n = cnt;
	v = NULL;
 out:
	sqlite3_finalize(st);
	spool_items_free(v, cnt);
	return e;
}

static int
spool_ack_impl(struct spool *s, uint64_t epoch, uint64_t seq)
{
	sqlite3_stmt *st = NULL;
	int e;

	if (epoch != s->epoch) {
		log_warn("spool: ack for epoch=%016" PRIx64 " ignored, "
		    "current epoch=%016" PRIx64, epoch, s->epoch);
		return VIGIL_ESTALE;
	}
	if (seq > INT64_MAX)
		seq = INT64_MAX;
	if ((e = spool_prepare(s, "DELETE FROM items WHERE seq <= ?",
	    &st)) != 0)
		return e;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	e = spool_step_done(s, st);
	sqlite3_finalize(st);
	return e;
}

static int
spool_count_impl(struct spool *s, uint64_t *n)
{
	sqlite3_stmt *st = NULL;
	int e;

	if ((e = spool_prepare(s, "SELECT count(*) FROM items", &st)) != 0)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	else
		e = VIGIL_EDB;
	sqlite3_finalize(st);
	return e;
}

/* The firmware log keeps the key it always had; the runtime log's is
 * "rtlog_offset.B" (LIKE 'evlog_offset.%' does not match it). */
static void
spool_evlog_key(uint32_t which, uint32_t boot_count, char *key, size_t cap)
{
	snprintf(key, cap, "%s_offset.%" PRIu32, which ? "rtlog" : "evlog",
	    boot_count);
}

static int
spool_evlog_offset_impl(struct spool *s, uint32_t which,
    uint32_t boot_count, uint64_t *offset)
{
	char key[64];
	int e;

	spool_evlog_key(which, boot_count, key, sizeof(key));
	e = spool_meta_u64(s, key, 10, offset);
	if (e == VIGIL_ENOTFOUND) {
		*offset = 0;
		return 0;
	}
	return e;
}

static int
spool_evlog_chunk(struct spool *s, uint32_t which, uint32_t boot_count,
    uint64_t offset, const uint8_t *p, size_t n)
{
	Vigil__EventLogChunk c = VIGIL__EVENT_LOG_CHUNK__INIT;
	struct buf body = BUF_INIT;
	int e;

	c.boot_count = boot_count;
	c.log = (Vigil__EventLogId)which;
	c.offset = offset;
	c.data.data = (uint8_t *)p;
	c.data.len = n;
	if ((e = buf_reserve(&body,
	    vigil__event_log_chunk__get_packed_size(&c))) != 0)
		return e;
	body.len = vigil__event_log_chunk__pack(&c, body.data);
	e = spool_put_locked(s, VIGIL__ITEM_KIND__ITEM_EVENT_LOG, body.data,
	    body.len, NULL);
	buf_free(&body);
	return e;
}

static int
spool_evlog_collect_impl(struct spool *s, uint32_t which,
    uint32_t boot_count, const uint8_t *log, size_t len, uint64_t *added)
{
	sqlite3_stmt *st = NULL;
	uint64_t off, pos;
	char key[64], v[32];
	size_t n;
	int e;

	*added = 0;
	if ((e = spool_begin(s)) != 0)
		return e;
	if ((e = spool_evlog_offset_impl(s, which, boot_count, &off)) != 0)
		goto out;
	if (len < off) {
		e = VIGIL_EINVAL;	/* the caller logs it */
		goto out;
	}
	if (len == off)
		goto out;
	for (pos = off; pos < len; pos += n) {
		n = len - pos > SPOOL_EVLOG_CHUNK ? SPOOL_EVLOG_CHUNK :
		    (size_t)(len - pos);
		if ((e = spool_evlog_chunk(s, which, boot_count, pos,
		    log + pos, n)) != 0)
			goto out;
	}
	spool_evlog_key(which, boot_count, key, sizeof(key));
	if ((e = spool_prepare(s, "DELETE FROM meta WHERE key LIKE ? "
	    "AND key != ?", &st)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, which ? "rtlog_offset.%" : "evlog_offset.%",
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if ((e = spool_step_done(s, st)) != 0)
		goto out;
	snprintf(v, sizeof(v), "%zu", len);
	if ((e = spool_meta_set(s, key, v)) != 0)
		goto out;
	*added = len - off;
 out:
	sqlite3_finalize(st);
	e = spool_end(s, e);
	if (e != 0)
		*added = 0;
	return e;
}

/* The public functions: each holds the spool's mutex. */

int
spool_meta_get(struct spool *s, const char *key, char *out, size_t cap)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_meta_get_impl(s, key, out, cap);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_meta_set(struct spool *s, const char *key, const char *value)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_meta_set_impl(s, key, value);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_meta_del(struct spool *s, const char *key)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_meta_del_impl(s, key);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_put(struct spool *s, int kind, const uint8_t *body, size_t len,
    uint64_t *seq)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_put_impl(s, kind, body, len, seq);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_pending(struct spool *s, size_t limit, struct spool_item **items,
    size_t *n)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_pending_impl(s, limit, items, n);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_ack(struct spool *s, uint64_t epoch, uint64_t seq)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_ack_impl(s, epoch, seq);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_count(struct spool *s, uint64_t *n)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_count_impl(s, n);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_evlog_offset(struct spool *s, uint32_t which, uint32_t boot_count,
    uint64_t *offset)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_evlog_offset_impl(s, which, boot_count, offset);
	pthread_mutex_unlock(&s->mu);
	return e;
}

int
spool_evlog_collect(struct spool *s, uint32_t which, uint32_t boot_count,
    const uint8_t *log, size_t len, uint64_t *added)
{
	int e;

	pthread_mutex_lock(&s->mu);
	e = spool_evlog_collect_impl(s, which, boot_count, log, len, added);
	pthread_mutex_unlock(&s->mu);
	return e;
}
