/* vigil-smmd's persistent measurement log (smmlog.h format) in its state
 * directory:
 *   smm.log   append-only: per entry u32le length + the entry's bytes
 *   smm.head  u64le last_seq + head (40 bytes), rewritten atomically
 *             after every append
 * At open the chain is recomputed from smm.log; a torn last record (a
 * crash mid-append) is cut off; smm.head must then be at or before the
 * recomputed end (otherwise entries were lost: VIGIL_EVERIFY). */
#ifndef VIGIL_SMM_LOGSTORE_H
#define VIGIL_SMM_LOGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "smmlog.h"

#define LOGSTORE_MAX_ENTRIES	(16u * 1024 * 1024)

struct logstore;

int logstore_open(const char *state_dir, struct logstore **out);
void logstore_close(struct logstore *ls);	/* NULL-safe */
/* Appends e (its seq and time_ms are set here), fsyncs, advances the
 * chain; *seq gets the new entry's sequence. */
int logstore_append(struct logstore *ls, struct smmlog_entry *e,
    uint64_t *seq);
/* Entries from_seq.. (at most max_n) in the READ_LOG reply form (u32le
 * length + bytes each) appended to out; *n how many (0 past the end). */
int logstore_read(struct logstore *ls, uint64_t from_seq, uint32_t max_n,
    struct buf *out, uint32_t *n);
void logstore_head(const struct logstore *ls, uint64_t *seq,
    uint8_t head[SMMLOG_HASH_LEN]);

#endif
