/* Token buckets for expensive routes (see ratelimit.h). Tokens are kept
 * in units of 1/60000: a bucket refilled at per_minute tokens a minute
 * gains exactly per_minute units a millisecond, with no rounding. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ratelimit.h"

#define RL_KEY_MAX 80
#define RL_PROBE 16
#define RL_UNIT 60000	/* units in one token */

struct rl_slot {
	char key[RL_KEY_MAX];	/* "" when free */
	int64_t units;		/* current tokens x RL_UNIT */
	int64_t last_ms;	/* last refill */
};

struct ratelimit {
	pthread_mutex_t mu;
	int64_t cap;		/* per_minute x RL_UNIT */
	int64_t per_minute;
	struct rl_slot slots[RATELIMIT_SLOTS];
};

int
ratelimit_new(unsigned per_minute, struct ratelimit **out)
{
	struct ratelimit *rl;

	if (per_minute == 0)
		return VIGIL_EINVAL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return VIGIL_ENOMEM;
	pthread_mutex_init(&rl->mu, NULL);
	rl->per_minute = per_minute;
	rl->cap = (int64_t)per_minute * RL_UNIT;
	*out = rl;
	return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

/* FNV-1a: only picks a slot; the key itself is compared. */
static uint64_t
ratelimit_hash(const char *k)
{
	uint64_t h = 1469598103934665603ull;

	while (*k != '\0') {
		h ^= (unsigned char)*k++;
		h *= 1099511628211ull;
	}
	return h;
}

/* The slot for key: its own, else a free one, else the least recently
 * used of the probed ones (reset for key). */
static struct rl_slot *
ratelimit_slot(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct rl_slot *s, *victim = NULL;
	size_t i, at = (size_t)(ratelimit_hash(key) % RATELIMIT_SLOTS);

	for (i = 0; i < RL_PROBE; i++) {
		s = &rl->slots[(at + i) % RATELIMIT_SLOTS];
		if (strcmp(s->key, key) == 0)
			return s;
		if (s->key[0] == '\0') {
			if (victim == NULL || victim->key[0] != '\0')
				victim = s;
		} else if (victim == NULL || (victim->key[0] != '\0' &&
		    s->last_ms < victim->last_ms))
			victim = s;
	}
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->units = rl->cap;
	victim->last_ms = now_ms;
	return victim;
}

int
ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms,
    unsigned *retry_after_s)
{
	struct rl_slot *s;
	int64_t dt, need;
	int e = 0;

	if (strlen(key) >= RL_KEY_MAX)
		return VIGIL_EINVAL;
	pthread_mutex_lock(&rl->mu);
	s = ratelimit_slot(rl, key, now_ms);
	dt = now_ms - s->last_ms;
	if (dt > 0) {
		s->units += dt * rl->per_minute;
		if (s->units > rl->cap)
			s->units = rl->cap;
		s->last_ms = now_ms;
	}
	if (s->units >= RL_UNIT)
		s->units -= RL_UNIT;
	else {
		need = RL_UNIT - s->units;	/* units missing */
		/* ms until refilled: need / per_minute, in whole seconds,
		 * rounded up. */
		*retry_after_s = (unsigned)((need / rl->per_minute + 999) /
		    1000);
		if (*retry_after_s == 0)
			*retry_after_s = 1;
		e = VIGIL_EDENIED;
	}
	pthread_mutex_unlock(&rl->mu);
	return e;
}
