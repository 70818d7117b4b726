#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "nonce.h"

/* Used and expired entries are kept for one more TTL so that a late or
 * replayed nonce is reported as stale rather than unknown. */
struct nonce_ent {
	int in_use;
	int used;
	int64_t issued, expires;
	char agent[65];
	uint8_t v[NONCE_LEN];
};

struct nonce_table {
	pthread_mutex_t mu;
	uint32_t ttl_ms;
	int64_t (*now_ms)(void);
	struct nonce_ent *ent;
	size_t cap;
};

static int64_t
nonce_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
nonce_table_new(uint32_t ttl_ms, int64_t (*now_ms)(void),
    struct nonce_table **out)
{
	struct nonce_table *t;

	if (ttl_ms == 0)
		return VIGIL_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return VIGIL_ENOMEM;
	if ((t->ent = calloc(NONCE_TABLE_MAX, sizeof(*t->ent))) == NULL) {
		free(t);
		return VIGIL_ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->cap = NONCE_TABLE_MAX;
	t->ttl_ms = ttl_ms;
	t->now_ms = now_ms != NULL ? now_ms : nonce_mono_ms;
	*out = t;
	return 0;
}

void
nonce_table_free(struct nonce_table *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->ent);
	free(t);
}

int
nonce_issue(struct nonce_table *t, const char *agent_id,
    uint8_t out[NONCE_LEN])
{
	struct nonce_ent *e, *slot = NULL, *oldest_mine = NULL;
	struct nonce_ent *oldest_any = NULL;
	size_t i, mine = 0;
	int64_t now;

	if (strlen(agent_id) >= sizeof(e->agent))
		return VIGIL_EINVAL;
	if (RAND_bytes(out, NONCE_LEN) != 1)
		return VIGIL_ECRYPTO;
	pthread_mutex_lock(&t->mu);
	now = t->now_ms();
	for (i = 0; i < t->cap; i++) {
		e = &t->ent[i];
		if (e->in_use && now >= e->expires + (int64_t)t->ttl_ms)
			e->in_use = 0;	/* long dead: forget it */
		if (!e->in_use) {
			if (slot == NULL)
				slot = e;
			continue;
		}
		if (oldest_any == NULL || e->issued < oldest_any->issued)
			oldest_any = e;
		if (strcmp(e->agent, agent_id) == 0 && !e->used &&
		    now < e->expires) {
			mine++;
			if (oldest_mine == NULL ||
			    e->issued < oldest_mine->issued)
				oldest_mine = e;
		}
	}
	if (mine >= NONCE_PER_AGENT)
		slot = oldest_mine;
	else if (slot == NULL) {
		log_warn("nonce: table full (%u), evicting the oldest",
		    (unsigned)t->cap);
		slot = oldest_any;
	}
	memset(slot, 0, sizeof(*slot));
	slot->in_use = 1;
	slot->issued = now;
	slot->expires = now + t->ttl_ms;
	snprintf(slot->agent, sizeof(slot->agent), "%s", agent_id);
	memcpy(slot->v, out, NONCE_LEN);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
nonce_consume(struct nonce_table *t, const char *agent_id,
    const uint8_t *nonce, size_t len)
{
	struct nonce_ent *e;
	size_t i;
	int64_t now;
	int r = VIGIL_ENOTFOUND;

	if (len != NONCE_LEN)
		return VIGIL_ENOTFOUND;
	pthread_mutex_lock(&t->mu);
	now = t->now_ms();
	for (i = 0; i < t->cap; i++) {
		e = &t->ent[i];
		if (!e->in_use || CRYPTO_memcmp(e->v, nonce, NONCE_LEN) != 0)
			continue;
		if (strcmp(e->agent, agent_id) != 0)
			break;
		if (e->used || now >= e->expires) {
			r = VIGIL_ESTALE;
			break;
		}
		e->used = 1;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}
