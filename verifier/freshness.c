#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ear.h"
#include "err.h"
#include "freshness.h"
#include "log.h"

#define FRESHNESS_PAGE 256

struct freshness {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct store *s;
	uint32_t interval_ms, stale_intervals;
};

static int
freshness_mark(struct store *s, const char *id, uint32_t stale_intervals)
{
	struct quote_state qs;
	struct appraisal ap;
	struct ear e;
	char when[32] = "never";
	time_t t;
	struct tm tm;
	int r;

	if ((r = store_quote_state_get(s, id, &qs)) == 0) {
		t = (time_t)qs.at;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	} else if (r != VIGIL_ENOTFOUND)
		return r;
	ear_init(&e);
	e.force_none = 1;
	ear_reason(&e, "no fresh quote for %u intervals (last at %s)",
	    stale_intervals, when);
	if ((r = ear_to_appraisal(&e, (int64_t)time(NULL), &ap)) != 0)
		return r;
	r = store_appraisal_add(s, id, &ap);
	ear_appraisal_free(&ap);
	if (r == 0)
		log_info("appraisal agent=%s status=none reasons=%s", id,
		    e.reasons[0]);
	return r;
}

int
freshness_sweep(struct store *s, uint32_t interval_ms,
    uint32_t stale_intervals, int64_t now, unsigned *marked)
{
	char (*ids)[65] = NULL;
	char after[65] = "";
	int64_t limit_s;
	size_t n, i;
	int e = 0;

	*marked = 0;
	limit_s = ((int64_t)interval_ms * stale_intervals + 999) / 1000;
	for (;;) {
		if ((e = store_nodes_stale(s, now - limit_s, after,
		    FRESHNESS_PAGE, &ids, &n)) != 0)
			return e;
		for (i = 0; i < n && e == 0; i++) {
			if ((e = freshness_mark(s, ids[i], stale_intervals)) ==
			    0)
				(*marked)++;
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", ids[n - 1]);
		free(ids);
		ids = NULL;
		if (e != 0 || n < FRESHNESS_PAGE)
			break;
	}
	return e;
}

static void *
freshness_main(void *arg)
{
	struct freshness *f = arg;
	struct timespec ts;
	unsigned marked;
	int e;

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		pthread_mutex_unlock(&f->mu);
		if ((e = freshness_sweep(f->s, f->interval_ms,
		    f->stale_intervals, (int64_t)time(NULL), &marked)) != 0)
			log_warn("freshness: sweep failed: %s",
			    vigil_strerror(e));
		pthread_mutex_lock(&f->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu,
		    &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int
freshness_start(struct store *s, uint32_t interval_ms,
    uint32_t stale_intervals, struct freshness **out)
{
	struct freshness *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return VIGIL_ENOMEM;
	f->s = s;
	f->interval_ms = interval_ms;
	f->stale_intervals = stale_intervals;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (pthread_create(&f->th, NULL, freshness_main, f) != 0) {
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv);
		free(f);
		return VIGIL_EIO;
	}
	*out = f;
	return 0;
}

void
freshness_stop(struct freshness *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
