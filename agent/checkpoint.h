/* The agent's checkpoint worker (docs/record.md): OP_CHECKPOINT requests
 * from the local socket are queued and answered at once; one thread takes
 * them in order, quotes each with the AK (extraData = ckpt_commitment of
 * the checkpoint, PCRs PCR_POLICY_MASK) and spools an ITEM_CHECKPOINT item.
 * OP_COMPUTATION_END goes through the same queue, so its ITEM_COMPUTATION_END
 * item follows the checkpoints queued before it. A checkpoint the TPM
 * cannot quote (after CHECKPOINT_TPM_TRIES attempts) is still spooled,
 * with an empty quote, so the verifier sees the failure instead of a
 * silent hole. */
#ifndef VIGIL_AGENT_CHECKPOINT_H
#define VIGIL_AGENT_CHECKPOINT_H

#include <stddef.h>

#include "localsock.h"
#include "spool.h"

#define CHECKPOINT_QUEUE_MAX	4096
#define CHECKPOINT_TPM_TRIES	3
/* Checkpoints quoted on one TPM connection before it is closed, so the
 * push loop gets the TPM in between. */
#define CHECKPOINT_BATCH	32

struct checkpoint_worker;

/* Starts the thread. tcti is copied; spool must outlive the worker.
 * max_queue 0 means CHECKPOINT_QUEUE_MAX. */
int checkpoint_start(const char *tcti, struct spool *spool, size_t max_queue,
    struct checkpoint_worker **out);
/* A localsock_ckpt_fn (arg is the worker): queues r, VIGIL_ETOOBIG when
 * the queue is full, VIGIL_ESTALE when the worker is stopping. */
int checkpoint_submit(void *arg, const struct localsock_ckpt *r);
/* Waits until everything queued so far is spooled; VIGIL_ESTALE if that
 * took longer than timeout_ms. */
int checkpoint_drain(struct checkpoint_worker *w, int timeout_ms);
/* Spools what is queued, then stops the thread. NULL is a no-op. */
void checkpoint_stop(struct checkpoint_worker *w);

#endif
