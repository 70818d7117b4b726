/* Nonces in memory: an open-addressing hash table of agents (FNV-1a of the
 * agent id, linear probing), each agent holding its last NONCE_PER_AGENT
 * nonces. Issue and consume touch one agent's entry, so their cost does not
 * grow with the number of agents. The table doubles when half full. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "nonce.h"

#define NONCE_INITIAL_AGENTS 1024u

struct nonce_slot {
	int in_use;
	int used;
	int64_t issued, expires;
	uint8_t v[NONCE_LEN];
};

/* Used and expired nonces stay one more TTL so that a late or replayed
 * nonce is reported as stale rather than unknown. */
struct nonce_agent {
	char id[65];			/* "" : never used */
	struct nonce_slot slot[NONCE_PER_AGENT];
};

struct nonce_table {
	pthread_mutex_t mu;
	uint32_t ttl_ms;
	int64_t (*now_ms)(void);
	struct nonce_agent *ag;
	size_t cap;			/* a power of two */
	size_t used;			/* entries with an id */
};

static int64_t
nonce_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
nonce_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	while (*id != '\0') {
		h ^= (uint8_t)*id++;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* The entry of id, or NULL. */
static struct nonce_agent *
nonce_find(const struct nonce_table *t, const char *id)
{
	size_t i, n;

	for (i = nonce_hash(id) & (t->cap - 1), n = 0; n < t->cap;
	    i = (i + 1) & (t->cap - 1), n++) {
		if (t->ag[i].id[0] == '\0')
			return NULL;
		if (strcmp(t->ag[i].id, id) == 0)
			return &t->ag[i];
	}
	return NULL;
}

/* Where id goes in ag[cap] (its entry, or the first free one). */
static struct nonce_agent *
nonce_place(struct nonce_agent *ag, size_t cap, const char *id)
{
	size_t i;

	for (i = nonce_hash(id) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (ag[i].id[0] == '\0' || strcmp(ag[i].id, id) == 0)
			return &ag[i];
}

static int
nonce_grow(struct nonce_table *t)
{
	struct nonce_agent *n;
	size_t i, cap = t->cap * 2;

	if ((n = calloc(cap, sizeof(*n))) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < t->cap; i++)
		if (t->ag[i].id[0] != '\0')
			*nonce_place(n, cap, t->ag[i].id) = t->ag[i];
	free(t->ag);
	t->ag = n;
	t->cap = cap;
	return 0;
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
	if ((t->ag = calloc(NONCE_INITIAL_AGENTS, sizeof(*t->ag))) == NULL) {
		free(t);
		return VIGIL_ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->cap = NONCE_INITIAL_AGENTS;
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
	OPENSSL_cleanse(t->ag, t->cap * sizeof(*t->ag));
	free(t->ag);
	free(t);
}

/* The slot a new nonce takes: a free or long-dead one, else the oldest. */
static struct nonce_slot *
nonce_victim(struct nonce_agent *a, int64_t now, uint32_t ttl_ms)
{
	struct nonce_slot *s, *oldest = &a->slot[0];
	size_t i;

	for (i = 0; i < NONCE_PER_AGENT; i++) {
		s = &a->slot[i];
		if (!s->in_use || now >= s->expires + (int64_t)ttl_ms)
			return s;
		if (s->issued < oldest->issued)
			oldest = s;
	}
	return oldest;
}

int
nonce_issue(struct nonce_table *t, const char *agent_id,
    uint8_t out[NONCE_LEN])
{
	struct nonce_agent *a;
	struct nonce_slot *s;
	int64_t now;
	int r = 0;

	if (agent_id[0] == '\0' || strlen(agent_id) >= sizeof(a->id))
		return VIGIL_EINVAL;
	if (RAND_bytes(out, NONCE_LEN) != 1)
		return VIGIL_ECRYPTO;
	pthread_mutex_lock(&t->mu);
	if ((a = nonce_find(t, agent_id)) == NULL) {
		if (2 * (t->used + 1) > t->cap && (r = nonce_grow(t)) != 0)
			goto out;
		a = nonce_place(t->ag, t->cap, agent_id);
		snprintf(a->id, sizeof(a->id), "%s", agent_id);
		t->used++;
	}
	now = t->now_ms();
	s = nonce_victim(a, now, t->ttl_ms);
	memset(s, 0, sizeof(*s));
	s->in_use = 1;
	s->issued = now;
	s->expires = now + t->ttl_ms;
	memcpy(s->v, out, NONCE_LEN);
 out:
	pthread_mutex_unlock(&t->mu);
	return r;
}

int
nonce_consume(struct nonce_table *t, const char *agent_id,
    const uint8_t *nonce, size_t len)
{
	struct nonce_agent *a;
	struct nonce_slot *s;
	size_t i;
	int64_t now;
	int r = VIGIL_ENOTFOUND;

	if (len != NONCE_LEN)
		return VIGIL_ENOTFOUND;
	pthread_mutex_lock(&t->mu);
	now = t->now_ms();
	if ((a = nonce_find(t, agent_id)) == NULL)
		goto out;
	for (i = 0; i < NONCE_PER_AGENT; i++) {
		s = &a->slot[i];
		if (!s->in_use || CRYPTO_memcmp(s->v, nonce, NONCE_LEN) != 0)
			continue;
		if (now >= s->expires + (int64_t)t->ttl_ms)
			break;		/* long dead: forgotten */
		if (s->used || now >= s->expires) {
			r = VIGIL_ESTALE;
			break;
		}
		s->used = 1;
		r = 0;
		break;
	}
 out:
	pthread_mutex_unlock(&t->mu);
	return r;
}
