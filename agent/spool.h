/* The agent's durable evidence spool (DESIGN.md, "Durability"): SQLite at
 * STATE_DIR/spool.db, WAL, synchronous=FULL. Every evidence item is written
 * as soon as it exists, gets the next sequence number of the spool's epoch
 * (a random u64 chosen when the file is created; sequence numbers are never
 * reused) and is deleted only when the verifier acknowledged it. When more
 * than max_items data items are pending, the oldest are dropped and named
 * by one ITEM_GAP item, so loss is never silent. The gap item gets its own
 * sequence number; while it is pending, later drops that continue its
 * range extend it in place (its first_seq..last_seq may then include its
 * own seq, which is not lost). Small state (agent id,
 * last status, event-log offsets) lives in the same file. One spool is used
 * by one thread at a time. */
#ifndef VIGIL_AGENT_SPOOL_H
#define VIGIL_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_FILE		"spool.db"
/* Event-log bytes are spooled in chunks of at most this size, so one item
 * always fits in a request. */
#define SPOOL_EVLOG_CHUNK	(1024u * 1024)

struct spool;

struct spool_item {
	uint64_t epoch;
	uint64_t seq;
	int kind;		/* VIGIL__ITEM_KIND__* */
	uint8_t *body;		/* owned by the item array */
	size_t len;
};

/* Opens (creating it and a new epoch if absent) dir/spool.db. */
int spool_open(const char *dir, uint64_t max_items, struct spool **out);
/* NULL is a no-op. */
void spool_close(struct spool *s);

uint64_t spool_epoch(const struct spool *s);
/* Appends an item; *seq (may be NULL) gets its sequence number. */
int spool_put(struct spool *s, int kind, const uint8_t *body, size_t len,
    uint64_t *seq);
/* Up to limit pending items in sequence order; free with
 * spool_items_free(*items, *n). */
int spool_pending(struct spool *s, size_t limit, struct spool_item **items,
    size_t *n);
void spool_items_free(struct spool_item *items, size_t n);
/* Deletes every item of epoch with sequence <= seq. An ack for another
 * epoch deletes nothing and returns VIGIL_ESTALE. */
int spool_ack(struct spool *s, uint64_t epoch, uint64_t seq);
/* Number of pending items (data and gap). */
int spool_count(struct spool *s, uint64_t *n);

/* Small text state. spool_meta_get: VIGIL_ENOTFOUND if absent; the value is
 * NUL-terminated, VIGIL_ETOOBIG if it does not fit in cap. */
int spool_meta_get(struct spool *s, const char *key, char *out, size_t cap);
int spool_meta_set(struct spool *s, const char *key, const char *value);
int spool_meta_del(struct spool *s, const char *key);

/* Event-log bookkeeping. The offset already spooled for boot_count (0 if
 * none recorded). */
int spool_evlog_offset(struct spool *s, uint32_t log, uint32_t boot_count,
    uint64_t *offset);
/* Given the whole current event log, spools the bytes past the recorded
 * offset of boot_count as ITEM_EVENT_LOG items (EventLogChunk, at most
 * SPOOL_EVLOG_CHUNK bytes each) and records the new offset, all in one
 * transaction; offsets of other boots are forgotten. *added gets the
 * number of bytes spooled. A log shorter than the recorded offset is
 * VIGIL_EINVAL (it was replaced within one boot). which is the log's
 * EventLogId (0 firmware, 1 runtime): each has its own offsets. */
int spool_evlog_collect(struct spool *s, uint32_t which, uint32_t boot_count,
    const uint8_t *log, size_t len, uint64_t *added);

#endif
