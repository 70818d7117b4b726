/* The checks of docs/appraisal.md, in that order. Each failure adds one
 * reason naming the check and raises the claim it concerns. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appraise_boot.h"
#include "appraise_pse.h"
#include "appraise_quote.h"
#include "buf.h"
#include "cel.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "log.h"
#include "rd.h"
#include "tpm_parse.h"

#define PCR_EXEC_MASK ((1u << 0) | (1u << 4))	/* "executables" */

static void
appraise_mask_str(uint32_t mask, char *out, size_t cap)
{
	size_t used = 0;
	uint32_t i;
	int n;

	out[0] = '\0';
	for (i = 0; i < PCR_COUNT && used < cap; i++) {
		if (!(mask & (1u << i)))
			continue;
		n = snprintf(out + used, cap - used, "%s%u", used ? "," : "",
		    i);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Fails the identity claim: the quote cannot be trusted at all. */
static void
appraise_fail_identity(struct ear *e)
{
	ear_claim(&e->instance_identity, AR_CONTRA);
}

/* The reported values into out->vals: indices < 24, SHA-256 sized, each
 * PCR once. */
static int
appraise_values(const Vigil__Evidence *ev, struct pcrs *vals, char *why,
    size_t whylen)
{
	const Vigil__PcrValue *pv;
	size_t i;

	memset(vals, 0, sizeof(*vals));
	if (ev->n_pcrs > PCR_COUNT) {
		snprintf(why, whylen, "%zu PCR values reported (at most %d)",
		    ev->n_pcrs, PCR_COUNT);
		return VIGIL_EINVAL;
	}
	for (i = 0; i < ev->n_pcrs; i++) {
		pv = ev->pcrs[i];
		if (pv->index >= PCR_COUNT) {
			snprintf(why, whylen, "PCR index %u out of range",
			    pv->index);
			return VIGIL_EINVAL;
		}
		if (pv->digest.len != SHA256_LEN) {
			snprintf(why, whylen, "PCR %u value is %zu bytes, not %d",
			    pv->index, pv->digest.len, SHA256_LEN);
			return VIGIL_EINVAL;
		}
		if (vals->mask & (1u << pv->index)) {
			snprintf(why, whylen, "PCR %u reported twice",
			    pv->index);
			return VIGIL_EINVAL;
		}
		vals->mask |= 1u << pv->index;
		memcpy(vals->v[pv->index], pv->digest.data, SHA256_LEN);
	}
	return 0;
}

/* The stored log of this boot with this push's chunks applied. A chunk
 * must start inside or at the end of what is known, and agree with the
 * bytes it overlaps. */
static int
appraise_build_log(const struct appraise_in *in, uint32_t which,
    uint32_t boot, struct buf *log, char *why, size_t whylen)
{
	const struct item_in *it;
	uint8_t *stored = NULL;
	size_t stored_len = 0, i, overlap;
	int e;

	if (in->evlog_get != NULL) {
		if ((e = in->evlog_get(in->evlog_ctx, in->agent->id, which,
		    boot, &stored, &stored_len)) != 0)
			return e;
		e = buf_add(log, stored, stored_len);
		free(stored);
		if (e != 0)
			return e;
	}
	for (i = 0; i < in->n_items; i++) {
		it = &in->items[i];
		if (it->kind != VIGIL__ITEM_KIND__ITEM_EVENT_LOG ||
		    it->boot_count != boot || it->log != which)
			continue;
		if (it->offset > log->len) {
			snprintf(why, whylen, "%s chunk at offset %llu "
			    "leaves a gap after %zu bytes", which ==
			    VIGIL__EVENT_LOG_ID__LOG_RUNTIME ? "runtime log" :
			    "event log", (unsigned long long)it->offset,
			    log->len);
			return VIGIL_EVERIFY;
		}
		overlap = log->len - (size_t)it->offset;
		if (overlap > it->chunk_len)
			overlap = it->chunk_len;
		if (overlap > 0 && memcmp(log->data + it->offset, it->chunk,
		    overlap) != 0) {
			snprintf(why, whylen, "%s chunk at offset %llu "
			    "differs from the log already received", which ==
			    VIGIL__EVENT_LOG_ID__LOG_RUNTIME ? "runtime log" :
			    "event log", (unsigned long long)it->offset);
			return VIGIL_EVERIFY;
		}
		if (log->len + (it->chunk_len - overlap) > EVLOG_MAX_SIZE) {
			snprintf(why, whylen, "event log over %u bytes",
			    EVLOG_MAX_SIZE);
			return VIGIL_EVERIFY;
		}
		if ((e = buf_add(log, it->chunk + overlap,
		    it->chunk_len - overlap)) != 0)
			return e;
	}
	return 0;
}

/* Replays the firmware log, then the runtime log on top of it, and
 * compares PCRs 0-7 and the runtime PCRs (11, 23) with the reported
 * values: firmware and boot loader may have extended PCR 11 before the OS
 * ran (systemd-stub), so a runtime PCR starts from what the firmware log
 * gives it. The runtime log may extend only the runtime PCRs. */
static int
appraise_replay(const struct evlog *log, const struct evlog *rt,
    const struct pcrs *vals, char *why, size_t whylen)
{
	uint8_t pcr[PCR_COUNT][SHA256_LEN], buf[2 * SHA256_LEN];
	static const uint8_t zero[SHA256_LEN];
	uint32_t touched = 0, check = 0xffu | VIGIL_RUNTIME_MASK, i;
	const struct evlog_event *ev;
	char hexw[65], hexg[65];
	unsigned int dl;
	size_t k;

	if (evlog_replay(log, EVLOG_SHA256, pcr, &touched) != 0) {
		snprintf(why, whylen, "event log has events without a "
		    "SHA-256 digest");
		return VIGIL_EVERIFY;
	}
	for (i = 0; i < PCR_COUNT; i++)
		if (!(touched & (1u << i)))
			memcpy(pcr[i], zero, SHA256_LEN);
	for (k = 0; rt != NULL && k < rt->n; k++) {
		ev = &rt->ev[k];
		if (!(VIGIL_RUNTIME_MASK & (1u << ev->pcr))) {
			snprintf(why, whylen, "runtime log record %zu extends "
			    "PCR %u: only PCRs %u and %u are Vigil's", k,
			    ev->pcr, VIGIL_CAP_PCR, VIGIL_RUNTIME_PCR);
			return VIGIL_EVERIFY;
		}
		memcpy(buf, pcr[ev->pcr], SHA256_LEN);
		memcpy(buf + SHA256_LEN, ev->sha256, SHA256_LEN);
		if (EVP_Digest(buf, sizeof(buf), pcr[ev->pcr], &dl,
		    EVP_sha256(), NULL) != 1)
			return VIGIL_ECRYPTO;
	}
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(check & (1u << i)) ||
		    memcmp(pcr[i], vals->v[i], SHA256_LEN) == 0)
			continue;
		hex_encode(pcr[i], SHA256_LEN, hexw);
		hex_encode(vals->v[i], SHA256_LEN, hexg);
		if (i < 8)
			snprintf(why, whylen, "event log does not replay to "
			    "the quoted PCR %u (log gives %.16s..., quote has "
			    "%.16s...)", i, hexw, hexg);
		else
			snprintf(why, whylen, "runtime log does not replay to "
			    "the quoted PCR %u (logs give %.16s..., quote has "
			    "%.16s...)", i, hexw, hexg);
		return VIGIL_EVERIFY;
	}
	return 0;
}

/* The AK hand-off (the "MSR", docs/pse.md) in the runtime log: at most
 * one VIGIL_TAG_AK_PUBLIC event in PCR 23, its digest recomputed from its
 * data, its data the registered AK. *found is 1 when it is there and
 * holds. Not having one is no failure: the node then does not claim the
 * PSE binding (appraise_vm refuses it one). */
int
appraise_quote_handoff(const struct evlog *rt, const struct agent_rec *agent,
    int *found, char *why, size_t whylen)
{
	const struct evlog_event *ev;
	const uint8_t *data;
	uint8_t dg[SHA256_LEN];
	unsigned int dlen;
	uint32_t tag, size;
	size_t i;
	struct rd r;

	*found = 0;
	for (i = 0; i < rt->n; i++) {
		ev = &rt->ev[i];
		rd_init(&r, ev->data, ev->data_len);
		if (ev->type != EV_EVENT_TAG || rd_u32le(&r, &tag) != 0 ||
		    tag != VIGIL_TAG_AK_PUBLIC)
			continue;
		if (ev->pcr != VIGIL_RUNTIME_PCR) {
			snprintf(why, whylen, "AK hand-off event (runtime log "
			    "record %zu) in PCR %u, not %u", i, ev->pcr,
			    VIGIL_RUNTIME_PCR);
			return VIGIL_EVERIFY;
		}
		if (*found) {
			snprintf(why, whylen, "more than one AK hand-off event "
			    "in the runtime log");
			return VIGIL_EVERIFY;
		}
		if (rd_u32le(&r, &size) != 0 || rd_bytes(&r, size, &data) != 0 ||
		    r.left != 0) {
			snprintf(why, whylen, "AK hand-off event data is not a "
			    "well-formed tagged event");
			return VIGIL_EVERIFY;
		}
		if (EVP_Digest(ev->data, ev->data_len, dg, &dlen,
		    EVP_sha256(), NULL) != 1 ||
		    memcmp(dg, ev->sha256, SHA256_LEN) != 0) {
			snprintf(why, whylen, "AK hand-off event digest is not "
			    "SHA-256 of its data");
			return VIGIL_EVERIFY;
		}
		if (size != agent->ak_pub_len ||
		    memcmp(data, agent->ak_pub, size) != 0) {
			snprintf(why, whylen, "AK hand-off event does not hold "
			    "the registered AK");
			return VIGIL_EVERIFY;
		}
		*found = 1;
	}
	return 0;
}

/* The cap in PCR 11: at most one VIGIL_TAG_CAP event, its digest SHA-256
 * of its data, its data VIGIL_CAP_DATA. *only is set when PCR 11 holds
 * nothing else in either log (then its value is recomputed). */
static int
appraise_cap(const struct evlog *fw, const struct evlog *rt, int *capped,
    int *only, char *why, size_t whylen)
{
	static const char capdata[] = VIGIL_CAP_DATA;
	const struct evlog_event *ev;
	uint8_t dg[SHA256_LEN];
	unsigned int dl;
	uint32_t tag, size;
	size_t i;
	struct rd r;

	*capped = 0;
	*only = 1;
	for (i = 0; i < fw->n; i++)
		if (fw->ev[i].pcr == VIGIL_CAP_PCR &&
		    fw->ev[i].type != EV_NO_ACTION)
			*only = 0;
	for (i = 0; i < rt->n; i++) {
		ev = &rt->ev[i];
		if (ev->pcr != VIGIL_CAP_PCR)
			continue;
		rd_init(&r, ev->data, ev->data_len);
		if (ev->type != EV_EVENT_TAG || rd_u32le(&r, &tag) != 0 ||
		    tag != VIGIL_TAG_CAP) {
			*only = 0;
			continue;
		}
		if (*capped) {
			snprintf(why, whylen, "runtime log: PCR %u capped twice "
			    "(record %zu)", VIGIL_CAP_PCR, i);
			return VIGIL_EVERIFY;
		}
		if (rd_u32le(&r, &size) != 0 || size != sizeof(capdata) - 1 ||
		    r.left != size || memcmp(r.p, capdata, size) != 0 ||
		    EVP_Digest(ev->data, ev->data_len, dg, &dl, EVP_sha256(),
		    NULL) != 1 || memcmp(dg, ev->sha256, SHA256_LEN) != 0) {
			snprintf(why, whylen, "runtime log: the cap (record "
			    "%zu) is not VIGIL_TAG_CAP \"%s\" with its digest "
			    "SHA-256 of its data", i, capdata);
			return VIGIL_EVERIFY;
		}
		*capped = 1;
	}
	return 0;
}

/* 1 when every runtime event in PCR 23 is one Vigil's checks recompute
 * (SMM, PSE, the AK hand-off; each already checked by its step). */
static int
appraise_rt_only_vigil(const struct evlog *rt)
{
	static const uint32_t known[] = { VIGIL_TAG_SMM_IMAGE,
	    VIGIL_TAG_SMM_LOG_PUB, VIGIL_TAG_SMM_WRAP_PUB, VIGIL_TAG_PSE_IMAGE,
	    VIGIL_TAG_PSE_PLATFORM_PUB, VIGIL_TAG_PSE_PLATFORM_CERT,
	    VIGIL_TAG_PSE_TRANSPORT_PUB, VIGIL_TAG_AK_PUBLIC };
	const struct evlog_event *ev;
	uint32_t tag;
	size_t i, k;
	struct rd r;

	for (i = 0; i < rt->n; i++) {
		ev = &rt->ev[i];
		if (ev->pcr != VIGIL_RUNTIME_PCR)
			continue;
		rd_init(&r, ev->data, ev->data_len);
		if (ev->type != EV_EVENT_TAG || rd_u32le(&r, &tag) != 0)
			return 0;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (known[k] == tag)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return 0;
	}
	return 1;
}

/* The PCR digest and event-log checks. 0 when the values can be trusted
 * as what the node booted. */
static int
appraise_pcrs(const struct appraise_in *in, const struct quote *q,
    struct appraise_out *out)
{
	const TPM2B_DIGEST *qd = &q->attest.attested.quote.pcrDigest;
	struct ear *e = &out->ear;
	struct evlog *log = NULL, *rt = NULL;
	struct pse_boot pse;
	struct buf lb = BUF_INIT, rb = BUF_INIT;
	uint32_t boot;
	uint8_t dg[SHA256_LEN];
	char why[200], list[80];
	const char *w = NULL;
	uint32_t sel = 0;
	int r, only = 0;

	if (quote_selected_mask(q, &sel, &w) != 0) {
		ear_reason(e, "quote selection: %s", w ? w : "unreadable");
		goto fail;
	}
	if ((sel & PCR_POLICY_MASK) != PCR_POLICY_MASK) {
		appraise_mask_str(PCR_POLICY_MASK & ~sel, list, sizeof(list));
		ear_reason(e, "quote selection does not cover policy PCR(s) %s",
		    list);
		goto fail;
	}
	if (appraise_values(in->ev, &out->vals, why, sizeof(why)) != 0) {
		ear_reason(e, "reported PCR values: %s", why);
		goto fail;
	}
	if ((out->vals.mask & sel) != sel) {
		appraise_mask_str(sel & ~out->vals.mask, list, sizeof(list));
		ear_reason(e, "reported PCR values incomplete: PCR(s) %s "
		    "quoted but not reported", list);
		goto fail;
	}
	if ((out->vals.mask & ~sel) != 0) {
		appraise_mask_str(out->vals.mask & ~sel, list, sizeof(list));
		ear_reason(e, "reported PCR values: PCR(s) %s reported but "
		    "not quoted", list);
		goto fail;
	}
	if ((r = quote_pcr_digest(&out->vals, sel, dg)) != 0)
		return r;
	if (qd->size != SHA256_LEN || memcmp(qd->buffer, dg, SHA256_LEN) != 0) {
		ear_reason(e, "reported PCR values do not match the quote's "
		    "pcrDigest");
		goto fail;
	}
	why[0] = '\0';
	boot = q->attest.clockInfo.resetCount;
	if ((r = appraise_build_log(in, VIGIL__EVENT_LOG_ID__LOG_FIRMWARE,
	    boot, &lb, why, sizeof(why))) != 0 ||
	    (r = appraise_build_log(in, VIGIL__EVENT_LOG_ID__LOG_RUNTIME,
	    boot, &rb, why, sizeof(why))) != 0) {
		if (r != VIGIL_EVERIFY)
			goto out;
		ear_reason(e, "event log: %s", why);
		goto faillog;
	}
	if (lb.len == 0) {
		ear_reason(e, "event log: none received for boot %u", boot);
		goto faillog;
	}
	if (evlog_parse(lb.data, lb.len, &log) != 0) {
		ear_reason(e, "event log: does not parse");
		goto faillog;
	}
	if ((r = cel_parse(rb.data, rb.len, &rt, why, sizeof(why))) != 0) {
		if (r != VIGIL_EVERIFY)
			goto out;
		ear_reason(e, "runtime log: %s", why);
		goto faillog;
	}
	if ((r = appraise_replay(log, rt, &out->vals, why, sizeof(why))) !=
	    0) {
		if (r != VIGIL_EVERIFY)
			goto out;
		ear_reason(e, "%s", why);
		goto faillog;
	}
	if (appraise_quote_handoff(rt, in->agent, &out->handoff, why,
	    sizeof(why)) != 0) {
		ear_reason(e, "%s", why);
		appraise_fail_identity(e);
		r = VIGIL_EVERIFY;
		goto out;
	}
	if (appraise_cap(log, rt, &out->capped, &only, why, sizeof(why)) !=
	    0) {
		ear_reason(e, "%s", why);
		goto faillog;
	}
	if (only)
		out->recomputed |= 1u << VIGIL_CAP_PCR;
	/* The SMM service's events (runtime log, PCR 23), recomputed; its
	 * image digest and keys are pinned per node by appraise_smm. */
	if (appraise_smm_events(rt, &out->smm, why, sizeof(why)) != 0) {
		ear_reason(e, "%s", why);
		ear_claim(&e->runtime_opaque, AR_CONTRA);
		goto faillog;
	}
	/* The PSE's events (runtime log, PCR 23), recomputed
	 * (appraise_pse.h). */
	if (appraise_pse_events(rt, &pse, why, sizeof(why)) != 0) {
		ear_reason(e, "%s", why);
		ear_claim(&e->hardware, AR_CONTRA);
		goto faillog;
	}
	if (appraise_pse_copy(&pse, &out->pse, why, sizeof(why)) != 0) {
		ear_reason(e, "%s", why);
		ear_claim(&e->hardware, AR_CONTRA);
		goto faillog;
	}
	out->pse_evaluated = 1;
	/* PCR 23 holding Vigil's events only is recomputed from them: its
	 * keys differ per node, so it has no fleet-wide reference value. */
	if (appraise_rt_only_vigil(rt))
		out->recomputed |= 1u << VIGIL_RUNTIME_PCR;
	if ((out->smm.present || pse.present) && !out->capped) {
		ear_reason(e, "runtime log: the %s keys are measured but PCR "
		    "%u is not capped: they can still be unsealed on the node",
		    out->smm.present ? "SMM service's" : "PSE's",
		    VIGIL_CAP_PCR);
		ear_claim(&e->configuration, AR_WARN_CONFIG);
	}
	if (pse.present && !out->handoff)
		ear_reason(e, "runtime log: no AK hand-off event, so the PSE "
		    "binding is not claimed (the node can host no VM)");
	/* Step 7b: the firmware log's events against the node's boot policy
	 * (appraise_boot.h), over PCRs 0-7, those appraise_replay compared
	 * with the quote. The log stays faithful whatever it says. */
	if ((r = appraise_boot_step(log, in->refs, in->agent->id, 0xffu, e,
	    &out->recomputed)) != 0)
		goto out;
	r = 0;
	goto out;
 fail:
	ear_claim(&e->configuration, AR_CONTRA);
	r = VIGIL_EVERIFY;
	goto out;
 faillog:
	ear_claim(&e->executables, AR_CONTRA);
	ear_claim(&e->configuration, AR_CONTRA);
	r = VIGIL_EVERIFY;
 out:
	evlog_free(log);
	evlog_free(rt);
	buf_free(&lb);
	buf_free(&rb);
	return r;
}

/* Clock, resetCount, restartCount against the last accepted quote. */
/* Returns 1 when a counter or the clock went back: the stored state must
 * then keep its high-water mark, or the next quote continuing from the
 * rolled-back value would look normal. */
static int
appraise_clock(const struct appraise_in *in, const TPMS_CLOCK_INFO *ci,
    struct ear *e)
{
	const struct quote_state *p = in->prev;
	int back = 0;

	if (p != NULL) {
		if (ci->resetCount < p->reset_count) {
			ear_reason(e, "TPM resetCount went back (%u -> %u): "
			    "TPM cleared or cloned?", p->reset_count,
			    ci->resetCount);
			appraise_fail_identity(e);
			back = 1;
		} else if (ci->resetCount > p->reset_count) {
			ear_reason(e, "node rebooted (resetCount %u -> %u)",
			    p->reset_count, ci->resetCount);
		} else if (ci->restartCount < p->restart_count) {
			ear_reason(e, "TPM restartCount went back within one "
			    "boot (%u -> %u)", p->restart_count,
			    ci->restartCount);
			appraise_fail_identity(e);
			back = 1;
		} else if (ci->restartCount > p->restart_count) {
			ear_reason(e, "TPM restarted without reboot "
			    "(restartCount %u -> %u)", p->restart_count,
			    ci->restartCount);
			ear_claim(&e->configuration, AR_WARN_CONFIG);
		} else if (ci->clock < p->clock) {
			ear_reason(e, "TPM clock went back within one boot "
			    "(attack?) (%llu -> %llu ms)",
			    (unsigned long long)p->clock,
			    (unsigned long long)ci->clock);
			appraise_fail_identity(e);
			back = 1;
		}
	}
	if (ci->safe == 0) {
		ear_reason(e, "TPM clock not safe (safe = 0): it may have "
		    "gone back unnoticed");
		ear_claim(&e->configuration, AR_WARN_CONFIG);
	}
	return back;
}

/* Each policy PCR against the reference values. */
static int
appraise_refs(const struct appraise_in *in, struct appraise_out *out)
{
	const uint8_t (*acc)[SHA256_LEN];
	struct ear *e = &out->ear;
	uint32_t i, missing = 0;
	size_t n, k;
	char hex[65], list[80];
	int *claim;

	for (i = 0; i < PCR_COUNT; i++) {
		if (!(PCR_POLICY_MASK & (1u << i)))
			continue;
		claim = (PCR_EXEC_MASK & (1u << i)) ? &e->executables :
		    &e->configuration;
		refvals_for(in->refs, in->agent->id, i, &acc, &n);
		if (n == 0 && (out->recomputed & (1u << i))) {
			/* Every event recomputed from what we hold (the
			 * registered AK): the value is known good. */
			ear_claim(claim, AR_AFFIRMING);
			continue;
		}
		if (n == 0) {
			missing |= 1u << i;
			continue;
		}
		for (k = 0; k < n; k++)
			if (memcmp(acc[k], out->vals.v[i], SHA256_LEN) == 0)
				break;
		if (k == n) {
			hex_encode(out->vals.v[i], SHA256_LEN, hex);
			ear_reason(e, "PCR %u value %s matches no reference "
			    "value", i, hex);
			ear_claim(claim, AR_CONTRA);
		} else
			ear_claim(claim, AR_AFFIRMING);
	}
	if (missing == 0)
		return 0;
	if (in->learn && ear_status(e) != EAR_TIER_CONTRAINDICATED) {
		appraise_mask_str(missing, list, sizeof(list));
		ear_reason(e, "reference values for PCR(s) %s learnt on first "
		    "use", list);
		log_warn("appraisal agent=%s learning reference values for "
		    "PCR(s) %s (learn_reference_values = yes)", in->agent->id,
		    list);
		if (missing & PCR_EXEC_MASK)
			ear_claim(&e->executables, AR_AFFIRMING);
		if (missing & ~PCR_EXEC_MASK)
			ear_claim(&e->configuration, AR_AFFIRMING);
		return refvals_learn(in->refs, &out->vals,
		    missing, &out->learnt_doc);
	}
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(missing & (1u << i)))
			continue;
		ear_reason(e, "no reference value for PCR %u", i);
		if (PCR_EXEC_MASK & (1u << i))
			ear_claim(&e->executables, AR_WARN_EXEC);
		else
			ear_claim(&e->configuration, AR_WARN_CONFIG);
	}
	return 0;
}

/* One reason for the chunks of one fate: "seq 7" or "seq 7-9". */
static void
appraise_chunk_seqs(const struct appraise_in *in, const enum chunk_fate *f,
    enum chunk_fate want, uint32_t boot, char *out, size_t cap)
{
	uint64_t first = 0, last = 0;
	size_t i;

	for (i = 0; i < in->n_items; i++) {
		if (f[i] != want || in->items[i].boot_count != boot)
			continue;
		if (first == 0)
			first = in->items[i].seq;
		last = in->items[i].seq;
	}
	if (first == last)
		snprintf(out, cap, "seq %llu", (unsigned long long)first);
	else
		snprintf(out, cap, "seq %llu-%llu", (unsigned long long)first,
		    (unsigned long long)last);
}

/* The fate of each event-log chunk (enum chunk_fate), with a reason for
 * every chunk not stored: why names the check the quoted boot's log
 * failed (NULL when it verified). */
static int
appraise_chunks(const struct appraise_in *in, uint32_t quoted_boot,
    const char *why, struct appraise_out *out)
{
	struct ear *e = &out->ear;
	enum chunk_fate *f;
	uint32_t boot;
	char seqs[64];
	size_t i, k;

	for (i = 0; i < in->n_items; i++)
		if (in->items[i].kind == VIGIL__ITEM_KIND__ITEM_EVENT_LOG)
			break;
	if (i == in->n_items)
		return 0;
	if ((f = calloc(in->n_items, sizeof(*f))) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < in->n_items; i++) {
		if (in->items[i].kind != VIGIL__ITEM_KIND__ITEM_EVENT_LOG)
			continue;
		boot = in->items[i].boot_count;
		if (boot == quoted_boot)
			f[i] = why == NULL ? CHUNK_STORE : CHUNK_REFUSED;
		else
			f[i] = boot < quoted_boot ? CHUNK_OLD_BOOT :
			    CHUNK_REFUSED;
	}
	/* One reason per boot the push has chunks of, in item order. */
	for (i = 0; i < in->n_items; i++) {
		if (f[i] == CHUNK_NONE || f[i] == CHUNK_STORE)
			continue;
		boot = in->items[i].boot_count;
		for (k = 0; k < i; k++)
			if (f[k] != CHUNK_NONE &&
			    in->items[k].boot_count == boot)
				break;
		if (k < i)
			continue;
		appraise_chunk_seqs(in, f, f[i], boot, seqs, sizeof(seqs));
		if (boot == quoted_boot) {
			ear_reason(e, "event log chunk(s) %s of boot %u "
			    "refused, not stored: %s", seqs, boot, why);
		} else if (boot > quoted_boot) {
			ear_reason(e, "event log chunk(s) %s of boot %u "
			    "refused, not stored: the quote is of boot %u, an "
			    "earlier one", seqs, boot, quoted_boot);
			ear_claim(&e->configuration, AR_WARN_CONFIG);
		} else
			ear_reason(e, "event log chunk(s) %s of boot %u kept "
			    "as evidence, not appraised: the quote is of boot "
			    "%u", seqs, boot, quoted_boot);
	}
	out->fate = f;
	return 0;
}

int
appraise_quote(const struct appraise_in *in, struct appraise_out *out)
{
	const Vigil__Evidence *ev = in->ev;
	struct ear *e = &out->ear;
	const TPM2B_DATA *xd;
	TPM2B_PUBLIC ak;
	struct quote q;
	const char *why = NULL;
	size_t n_before;
	int r, r2;

	memset(out, 0, sizeof(*out));
	ear_init(e);
	/* A registered agent's EK certificate chained at registration. */
	e->hardware = AR_AFFIRMING;
	if (in->nonces != NULL && (r = nonce_consume(in->nonces,
	    in->agent->id, ev->nonce.data, ev->nonce.len)) != 0) {
		out->nonce_err = r;
		ear_reason(e, "quote nonce refused: %s", r == VIGIL_ESTALE ?
		    "expired or already used" :
		    "not issued to this agent");
		appraise_fail_identity(e);
		return 0;
	}
	memset(&q, 0, sizeof(q));
	if (quote_parse(ev->quote.data, ev->quote.len, ev->signature.data,
	    ev->signature.len, &q, &why) != 0) {
		ear_reason(e, "quote: %s", why ? why : "does not parse");
		appraise_fail_identity(e);
		return 0;
	}
	why = NULL;
	if (tpm_public_parse(in->agent->ak_pub, in->agent->ak_pub_len,
	    &ak) != 0) {
		ear_reason(e, "registered AK public does not parse");
		appraise_fail_identity(e);
		return 0;
	}
	if (quote_verify_sig(&q, &ak, &why) != 0) {
		ear_reason(e, "quote signature does not verify with the "
		    "registered AK%s%s", why ? ": " : "", why ? why : "");
		appraise_fail_identity(e);
		return 0;
	}
	xd = &q.attest.extraData;
	if (xd->size != ev->nonce.len || ev->nonce.len == 0 ||
	    CRYPTO_memcmp(xd->buffer, ev->nonce.data, xd->size) != 0) {
		ear_reason(e, "quote extraData is not the nonce issued for "
		    "this push");
		appraise_fail_identity(e);
		return 0;
	}
	out->quote_ok = 1;
	e->instance_identity = AR_AFFIRMING;
	out->qs.clock = q.attest.clockInfo.clock;
	out->qs.reset_count = q.attest.clockInfo.resetCount;
	out->qs.restart_count = q.attest.clockInfo.restartCount;
	out->qs.safe = q.attest.clockInfo.safe;
	out->qs.at = in->now;

	n_before = e->n_reasons;
	r = appraise_pcrs(in, &q, out);
	if (r != 0 && r != VIGIL_EVERIFY)
		goto fail;
	out->evlog_ok = r == 0;
	if ((r2 = appraise_chunks(in, q.attest.clockInfo.resetCount,
	    r == 0 ? NULL : e->n_reasons > n_before ? e->reasons[n_before] :
	    "the event log did not verify", out)) != 0) {
		r = r2;
		goto fail;
	}
	if (appraise_clock(in, &q.attest.clockInfo, e)) {
		out->qs.clock = in->prev->clock;
		out->qs.reset_count = in->prev->reset_count;
		out->qs.restart_count = in->prev->restart_count;
	}
	if (r == 0 && (r = appraise_refs(in, out)) != 0)
		goto fail;
	return 0;
 fail:
	appraise_out_free(out);
	return r;
}

void
appraise_out_free(struct appraise_out *out)
{
	if (out == NULL)
		return;
	free(out->learnt_doc);
	out->learnt_doc = NULL;
	free(out->fate);
	out->fate = NULL;
}
