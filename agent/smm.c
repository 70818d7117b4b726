/* The agent's side of the SMM bridge (smm.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "rd.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/smmlog.h"
#include "smm-bridge/transport.h"
#include "smm.h"

#define AGENT_SMM_TIMEOUT_MS	10000

/* One request, one parsed reply (rep holds the bytes m points into). */
static int
agent_smm_call(const char *spec, const struct buf *req, uint32_t cmd,
    struct buf *rep, struct mm_msg *m)
{
	struct mm_transport *t = NULL;
	int e;

	if ((e = mm_transport_open(spec, AGENT_SMM_TIMEOUT_MS, &t)) != 0 ||
	    (e = mm_transport_call(t, req->data, req->len, rep)) != 0 ||
	    (e = mm_parse(rep->data, rep->len, m)) != 0)
		goto out;
	if (!m->reply || m->cmd != cmd) {
		log_err("smm: %s reply is not one", mm_cmd_name(cmd));
		e = VIGIL_EINVAL;
	} else if (m->status != MM_ST_OK) {
		log_warn("smm: %s refused by vigil-smmd: %s", mm_cmd_name(cmd),
		    mm_status_name(m->status));
		e = VIGIL_EDENIED;
	}
 out:
	if (e != 0 && e != VIGIL_EDENIED)
		log_err("smm: %s through %s failed: %s", mm_cmd_name(cmd),
		    spec, vigil_strerror(e));
	mm_transport_close(t);
	return e;
}

/* Entries from..to into the spool, AGENT_SMM_BATCH an item. */
static int
agent_smm_spool(const char *spec, struct spool *sp, uint64_t from,
    uint64_t to)
{
	Vigil__SmmLogEntries msg = VIGIL__SMM_LOG_ENTRIES__INIT;
	ProtobufCBinaryData bins[AGENT_SMM_BATCH];
	struct buf req = BUF_INIT, rep = BUF_INIT, body = BUF_INIT;
	struct mm_msg m = { 0 };
	const uint8_t *p;
	char val[32];
	size_t len;
	uint32_t want;
	struct rd r;
	int e = 0;

	while (from <= to) {
		want = to - from + 1 > AGENT_SMM_BATCH ? AGENT_SMM_BATCH :
		    (uint32_t)(to - from + 1);
		req.len = rep.len = body.len = 0;
		if ((e = mm_build_read_log(&req, from, want)) != 0 ||
		    (e = agent_smm_call(spec, &req, MM_CMD_READ_LOG, &rep,
		    &m)) != 0)
			break;
		if (m.rep.read_log.n == 0 || m.rep.read_log.n > want) {
			log_err("smm: READ_LOG from %" PRIu64 " gave %u "
			    "entries (wanted 1..%u)", from, m.rep.read_log.n,
			    want);
			e = VIGIL_EINVAL;
			break;
		}
		msg.first_seq = from;
		msg.n_entries = 0;
		rd_init(&r, m.rep.read_log.entries,
		    m.rep.read_log.entries_len);
		while (msg.n_entries < m.rep.read_log.n &&
		    mm_log_entry_next(&r, &p, &len) == 0) {
			bins[msg.n_entries].data = (uint8_t *)p;
			bins[msg.n_entries].len = len;
			msg.n_entries++;
		}
		if (msg.n_entries != m.rep.read_log.n) {
			e = VIGIL_EINVAL;
			break;
		}
		msg.entries = bins;
		if ((e = buf_reserve(&body,
		    vigil__smm_log_entries__get_packed_size(&msg))) != 0)
			break;
		body.len = vigil__smm_log_entries__pack(&msg, body.data);
		if ((e = spool_put(sp, VIGIL__ITEM_KIND__ITEM_SMM_LOG,
		    body.data, body.len, NULL)) != 0)
			break;
		from += msg.n_entries;
		snprintf(val, sizeof(val), "%" PRIu64, from - 1);
		if ((e = spool_meta_set(sp, AGENT_SMM_META_SEQ, val)) != 0)
			break;
		log_debug("smm: spooled entries up to %" PRIu64, from - 1);
	}
	buf_free(&req);
	buf_free(&rep);
	buf_free(&body);
	return e;
}

int
agent_smm_collect(const char *spec, struct spool *sp, const uint8_t *nonce,
    size_t nonce_len, struct buf *head)
{
	struct buf req = BUF_INIT, rep = BUF_INIT;
	struct smmlog_head h;
	struct mm_msg m = { 0 };
	uint64_t done = 0;
	char val[32], *end;
	int e;

	if ((e = mm_build_sign_head(&req, nonce, nonce_len)) != 0 ||
	    (e = agent_smm_call(spec, &req, MM_CMD_SIGN_HEAD, &rep, &m)) != 0)
		goto out;
	if ((e = smmlog_head_parse(m.rep.sign_head.head,
	    m.rep.sign_head.head_len, &h)) != 0) {
		log_err("smm: the signed head does not parse");
		goto out;
	}
	if ((e = buf_add(head, m.rep.sign_head.head,
	    m.rep.sign_head.head_len)) != 0)
		goto out;
	if (spool_meta_get(sp, AGENT_SMM_META_SEQ, val, sizeof(val)) == 0) {
		done = strtoull(val, &end, 10);
		if (*end != '\0')
			done = 0;
	}
	if (done > h.last_seq) {
		/* vigil-smmd's log is shorter than what we spooled: its
		 * state was reset. Start over; the verifier judges. */
		log_warn("smm: log ends at %" PRIu64 " but %" PRIu64 " were "
		    "spooled: vigil-smmd state reset?", h.last_seq, done);
		done = 0;
	}
	if (done < h.last_seq)
		e = agent_smm_spool(spec, sp, done + 1, h.last_seq);
 out:
	buf_free(&req);
	buf_free(&rep);
	return e;
}

void
agent_smm_rewind(struct spool *sp, uint64_t next_seq)
{
	uint64_t done = 0;
	char val[32], *end;

	if (next_seq == 0 || spool_meta_get(sp, AGENT_SMM_META_SEQ, val,
	    sizeof(val)) != 0)
		return;
	done = strtoull(val, &end, 10);
	if (*end != '\0' || next_seq - 1 >= done)
		return;
	log_warn("smm: the verifier accepted entries up to %" PRIu64 " of %"
	    PRIu64 " spooled: spooling again from %" PRIu64, next_seq - 1,
	    done, next_seq);
	snprintf(val, sizeof(val), "%" PRIu64, next_seq - 1);
	(void)spool_meta_set(sp, AGENT_SMM_META_SEQ, val);
}

void
agent_smm_deliver(const char *spec, const Vigil__EvidenceReply *r)
{
	struct buf req = BUF_INIT, rep = BUF_INIT;
	struct mm_msg m = { 0 };
	size_t i;

	if (r->smm_refs.len > 0 && r->smm_refs_sig.len > 0 &&
	    r->smm_refs.len <= MM_MAX_REFS && r->smm_refs_sig.len <= MM_MAX_SIG &&
	    mm_build_set_refs(&req, r->smm_refs.data, r->smm_refs.len,
	    r->smm_refs_sig.data, r->smm_refs_sig.len) == 0 &&
	    agent_smm_call(spec, &req, MM_CMD_SET_REFS, &rep, &m) == 0)
		log_debug("smm: reference set version %" PRIu64 " in force",
		    m.rep.set_refs.version);
	for (i = 0; i < r->n_smm_wrapped_keys; i++) {
		req.len = rep.len = 0;
		if (r->smm_wrapped_keys[i].len == 0 ||
		    r->smm_wrapped_keys[i].len > MM_MAX_BLOB ||
		    mm_build_provision(&req, r->smm_wrapped_keys[i].data,
		    r->smm_wrapped_keys[i].len) != 0)
			continue;
		if (agent_smm_call(spec, &req, MM_CMD_PROVISION, &rep,
		    &m) == 0)
			log_info("smm: key %.*s provisioned",
			    (int)m.rep.provision.id_len,
			    (const char *)m.rep.provision.id);
	}
	buf_free(&req);
	buf_free(&rep);
}
