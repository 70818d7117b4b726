/* The checkpoint worker: a bounded ring of requests, one thread that
 * quotes and spools them in order. The ring's lock is never held across a
 * TPM or SQLite call, so the local socket answers at once however slow the
 * TPM is. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "checkpoint.h"
#include "ckpt.h"
#include "err.h"
#include "log.h"
#include "pcrs.h"
#include "tpm.h"
#include "vigil.pb-c.h"

struct checkpoint_worker {
	char *tcti;
	struct spool *spool;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t more;	/* an item was queued, or stop */
	pthread_cond_t idle;	/* the ring emptied and nothing in flight */
	struct localsock_ckpt *ring;
	size_t cap, head, len;
	size_t busy;		/* taken off the ring, not yet spooled */
	int stopping;
};

static int
checkpoint_quote(struct checkpoint_worker *w, struct tpm **t,
    const struct localsock_ckpt *r, struct buf *att, struct buf *sig,
    struct pcrs *vals)
{
	uint8_t nonce[CKPT_LEN];
	struct timespec pause = { 0, 200 * 1000000L };
	int e = VIGIL_ETPM, i;

	ckpt_commitment(r->id, r->index, r->state, r->cum, nonce);
	for (i = 0; i < CHECKPOINT_TPM_TRIES; i++) {
		if (i > 0)
			nanosleep(&pause, NULL);
		if (*t == NULL && (e = tpm_open(w->tcti, t)) != 0) {
			log_err("checkpoint: cannot open the TPM tcti=%s "
			    "(attempt %d)", w->tcti, i + 1);
			continue;
		}
		att->len = sig->len = 0;
		if ((e = tpm_quote(*t, nonce, sizeof(nonce), PCR_POLICY_MASK,
		    att, sig, vals)) == 0)
			return 0;
		log_err("checkpoint: TPM2_Quote computation=%s index=%llu "
		    "failed (attempt %d): %s", r->id,
		    (unsigned long long)r->index, i + 1, vigil_strerror(e));
		tpm_close(*t);
		*t = NULL;
	}
	return e;
}

static int
checkpoint_spool_ckpt(struct checkpoint_worker *w, struct tpm **t,
    const struct localsock_ckpt *r)
{
	Vigil__Checkpoint c = VIGIL__CHECKPOINT__INIT;
	Vigil__PcrValue pv[PCR_COUNT], *pvp[PCR_COUNT];
	struct buf att = BUF_INIT, sig = BUF_INIT, body = BUF_INIT;
	struct pcrs vals;
	size_t i;
	int e;

	memset(&vals, 0, sizeof(vals));
	if (checkpoint_quote(w, t, r, &att, &sig, &vals) != 0) {
		/* Spooled unquoted: the verifier rejects it by name. */
		log_err("checkpoint: computation=%s index=%llu spooled "
		    "WITHOUT a quote", r->id, (unsigned long long)r->index);
		att.len = sig.len = 0;
		vals.mask = 0;
	}
	c.computation_id = (char *)r->id;
	c.index = r->index;
	c.state.data = (uint8_t *)r->state;
	c.state.len = CKPT_LEN;
	c.cumulative.data = (uint8_t *)r->cum;
	c.cumulative.len = CKPT_LEN;
	c.quote.data = att.data;
	c.quote.len = att.len;
	c.signature.data = sig.data;
	c.signature.len = sig.len;
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(vals.mask & (1u << i)))
			continue;
		vigil__pcr_value__init(&pv[c.n_pcrs]);
		pv[c.n_pcrs].index = (uint32_t)i;
		pv[c.n_pcrs].digest.data = vals.v[i];
		pv[c.n_pcrs].digest.len = SHA256_LEN;
		pvp[c.n_pcrs] = &pv[c.n_pcrs];
		c.n_pcrs++;
	}
	c.pcrs = pvp;
	if ((e = buf_reserve(&body,
	    vigil__checkpoint__get_packed_size(&c))) != 0)
		goto out;
	body.len = vigil__checkpoint__pack(&c, body.data);
	e = spool_put(w->spool, VIGIL__ITEM_KIND__ITEM_CHECKPOINT, body.data,
	    body.len, NULL);
 out:
	buf_free(&att);
	buf_free(&sig);
	buf_free(&body);
	return e;
}

static int
checkpoint_spool_end(struct checkpoint_worker *w,
    const struct localsock_ckpt *r)
{
	Vigil__ComputationEnd c = VIGIL__COMPUTATION_END__INIT;
	struct buf body = BUF_INIT;
	int e;

	c.computation_id = (char *)r->id;
	c.exit_status = r->exit_status;
	c.count = r->count;
	c.final_cumulative.data = (uint8_t *)r->cum;
	c.final_cumulative.len = CKPT_LEN;
	if ((e = buf_reserve(&body,
	    vigil__computation_end__get_packed_size(&c))) == 0) {
		body.len = vigil__computation_end__pack(&c, body.data);
		e = spool_put(w->spool, VIGIL__ITEM_KIND__ITEM_COMPUTATION_END,
		    body.data, body.len, NULL);
	}
	buf_free(&body);
	return e;
}

static void *
checkpoint_thread(void *arg)
{
	struct checkpoint_worker *w = arg;
	struct localsock_ckpt r;
	struct tpm *t = NULL;
	size_t batch = 0;
	int e;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		if (w->len == 0 || batch >= CHECKPOINT_BATCH) {
			/* Let the push loop have the TPM. */
			pthread_mutex_unlock(&w->mu);
			tpm_close(t);
			t = NULL;
			batch = 0;
			pthread_mutex_lock(&w->mu);
		}
		while (w->len == 0 && !w->stopping)
			pthread_cond_wait(&w->more, &w->mu);
		if (w->len == 0) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		r = w->ring[w->head];
		w->head = (w->head + 1) % w->cap;
		w->len--;
		w->busy = 1;
		pthread_mutex_unlock(&w->mu);

		if (r.end)
			e = checkpoint_spool_end(w, &r);
		else {
			e = checkpoint_spool_ckpt(w, &t, &r);
			batch++;
		}
		if (e != 0)
			log_err("checkpoint: spooling computation=%s %s=%llu "
			    "failed: %s", r.id, r.end ? "end count" : "index",
			    (unsigned long long)(r.end ? r.count : r.index),
			    vigil_strerror(e));
		else
			log_debug("checkpoint: spooled computation=%s %s=%llu",
			    r.id, r.end ? "end count" : "index",
			    (unsigned long long)(r.end ? r.count : r.index));

		pthread_mutex_lock(&w->mu);
		w->busy = 0;
		if (w->len == 0)
			pthread_cond_broadcast(&w->idle);
		pthread_mutex_unlock(&w->mu);
	}
	tpm_close(t);
	return NULL;
}

int
checkpoint_start(const char *tcti, struct spool *spool, size_t max_queue,
    struct checkpoint_worker **out)
{
	struct checkpoint_worker *w;
	int e = VIGIL_ENOMEM;

	if (tcti == NULL || spool == NULL)
		return VIGIL_EINVAL;
	if (max_queue == 0)
		max_queue = CHECKPOINT_QUEUE_MAX;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return VIGIL_ENOMEM;
	if ((w->tcti = strdup(tcti)) == NULL ||
	    (w->ring = calloc(max_queue, sizeof(*w->ring))) == NULL)
		goto fail;
	w->cap = max_queue;
	w->spool = spool;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->idle, NULL);
	if (pthread_create(&w->thread, NULL, checkpoint_thread, w) != 0) {
		log_err("checkpoint: pthread_create failed");
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->more);
		pthread_cond_destroy(&w->idle);
		e = VIGIL_EIO;
		goto fail;
	}
	*out = w;
	return 0;
 fail:
	free(w->ring);
	free(w->tcti);
	free(w);
	return e;
}

int
checkpoint_submit(void *arg, const struct localsock_ckpt *r)
{
	struct checkpoint_worker *w = arg;
	int e = 0;

	pthread_mutex_lock(&w->mu);
	if (w->stopping)
		e = VIGIL_ESTALE;
	else if (w->len == w->cap) {
		log_warn("checkpoint: queue full (%zu), computation=%s "
		    "refused", w->cap, r->id);
		e = VIGIL_ETOOBIG;
	} else {
		w->ring[(w->head + w->len) % w->cap] = *r;
		w->len++;
		pthread_cond_signal(&w->more);
	}
	pthread_mutex_unlock(&w->mu);
	return e;
}

int
checkpoint_drain(struct checkpoint_worker *w, int timeout_ms)
{
	struct timespec until;
	int e = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while ((w->len > 0 || w->busy) && e == 0)
		if (pthread_cond_timedwait(&w->idle, &w->mu, &until) ==
		    ETIMEDOUT)
			e = VIGIL_ESTALE;
	if (w->len == 0 && !w->busy)
		e = 0;
	pthread_mutex_unlock(&w->mu);
	return e;
}

void
checkpoint_stop(struct checkpoint_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->len > 0)
		log_info("checkpoint: stopping, spooling %zu queued first",
		    w->len);
	w->stopping = 1;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->idle);
	free(w->ring);
	free(w->tcti);
	free(w);
}
