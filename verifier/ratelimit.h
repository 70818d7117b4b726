/* Token buckets in memory for expensive routes (routes flagged
 * HTTP_RL_EXPENSIVE): one bucket per key (a bearer token's id, a client
 * address), holding at most per_minute tokens and refilled at per_minute
 * a minute. A bounded table: when full, the least recently used bucket is
 * forgotten (a forgotten key starts again with a full bucket). */
#ifndef VIGIL_RATELIMIT_H
#define VIGIL_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_SLOTS 4096

struct ratelimit;

int ratelimit_new(unsigned per_minute, struct ratelimit **out);
void ratelimit_free(struct ratelimit *rl);
/* Takes one token from key's bucket at now_ms (a monotonic clock). 0 if
 * there was one; VIGIL_EDENIED when the bucket is empty, with
 * *retry_after_s the whole seconds until one is back (>= 1). */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms,
    unsigned *retry_after_s);

#endif
