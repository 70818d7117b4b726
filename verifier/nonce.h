/* Verifier nonces for quotes: 32 random bytes bound to one agent, single
 * use, expiring after a TTL. Kept in memory (a restarted verifier refuses
 * old nonces and the agent asks for a new one). Thread-safe. */
#ifndef VIGIL_NONCE_H
#define VIGIL_NONCE_H

#include <stddef.h>
#include <stdint.h>

#define NONCE_LEN 32
#define NONCE_PER_AGENT 4	/* live nonces per agent; the oldest goes */

struct nonce_table;

/* now_ms: a clock for tests (NULL: CLOCK_MONOTONIC). */
int nonce_table_new(uint32_t ttl_ms, int64_t (*now_ms)(void),
    struct nonce_table **out);
void nonce_table_free(struct nonce_table *t);

int nonce_issue(struct nonce_table *t, const char *agent_id,
    uint8_t out[NONCE_LEN]);
/* 0: the nonce was issued to this agent, is unused and unexpired, and is
 * now used. VIGIL_ESTALE: expired or already used. VIGIL_ENOTFOUND:
 * unknown, or issued to another agent (left untouched). */
int nonce_consume(struct nonce_table *t, const char *agent_id,
    const uint8_t *nonce, size_t len);

#endif
