/* The agent's side of the SMM bridge (docs/smm.md): before each push it
 * asks vigil-smmd to sign its log head for the push's nonce and spools the
 * log entries up to that head as ITEM_SMM_LOG items; after a push it hands
 * vigil-smmd what the verifier sent for it (wrapped keys, a signed
 * reference set). The agent is untrusted here: vigil-smmd checks what it
 * is given, the verifier checks what it carries. */
#ifndef VIGIL_AGENT_SMM_H
#define VIGIL_AGENT_SMM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "spool.h"
#include "vigil.pb-c.h"

#define AGENT_SMM_META_SEQ	"smm_seq"	/* spool meta: last spooled */
#define AGENT_SMM_BATCH		64u		/* entries per item */

/* Signs the head for nonce (appended to head) and spools the entries
 * after the last spooled one up to the head's last_seq. 0 or a VIGIL_E*
 * code (the push goes on without SMM evidence; the verifier sees none). */
int agent_smm_collect(const char *spec, struct spool *sp,
    const uint8_t *nonce, size_t nonce_len, struct buf *head);

/* The verifier wants entries from next_seq on (EvidenceReply
 * smm_next_seq; 0: nothing): if fewer were accepted than spooled (items
 * lost or refused), the next collect spools again from there. Only after
 * a push that carried every pending item. */
void agent_smm_rewind(struct spool *sp, uint64_t next_seq);

/* Forwards the reply's wrapped keys and reference set to vigil-smmd;
 * failures are logged. */
void agent_smm_deliver(const char *spec, const Vigil__EvidenceReply *r);

#endif
