/* Appraisal of the SMM runtime evidence (appraise_smm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "appraise_smm.h"
#include "buf.h"
#include "err.h"
#include "events.h"
#include "log.h"
#include "rd.h"
#include "smm-bridge/mm.h"

static const uint32_t smm_tags[3] = { VIGIL_TAG_SMM_IMAGE,
    VIGIL_TAG_SMM_LOG_PUB, VIGIL_TAG_SMM_WRAP_PUB };
static const char *const smm_tag_names[3] = { "image digest",
    "log-signing key", "key-wrapping key" };

static int
smm_plain_separator(const struct evlog_event *ev)
{
	static const uint8_t zero4[4];
	uint8_t dg[SHA256_LEN];
	unsigned int dl;

	return ev->type == EV_SEPARATOR && ev->data_len == 4 &&
	    memcmp(ev->data, zero4, 4) == 0 && ev->has_sha256 &&
	    EVP_Digest(zero4, 4, dg, &dl, EVP_sha256(), NULL) == 1 &&
	    memcmp(dg, ev->sha256, SHA256_LEN) == 0;
}

/* Stores one tagged event's data into out; k is its index in smm_tags. */
static int
smm_event_take(struct smm_boot *out, int k, const uint8_t *d, uint32_t n,
    char *why, size_t whylen)
{
	uint8_t *dst = k == 1 ? out->log_pub : out->wrap_pub;
	size_t *dlen = k == 1 ? &out->log_pub_len : &out->wrap_pub_len;

	if (k == 0) {
		if (n != SMMLOG_HASH_LEN) {
			snprintf(why, whylen, "SMM image digest event holds "
			    "%u bytes, not 32", n);
			return VIGIL_EVERIFY;
		}
		memcpy(out->image, d, n);
		return 0;
	}
	if (n == 0 || n > SMM_MAX_PUB) {
		snprintf(why, whylen, "SMM %s event holds %u bytes (1..%u)",
		    smm_tag_names[k], n, SMM_MAX_PUB);
		return VIGIL_EVERIFY;
	}
	memcpy(dst, d, n);
	*dlen = n;
	return 0;
}

int
appraise_smm_events(const struct evlog *log, struct smm_boot *out,
    char *why, size_t whylen)
{
	const struct evlog_event *ev;
	const uint8_t *data;
	uint8_t dg[SHA256_LEN];
	unsigned int dl;
	uint32_t tag, size;
	size_t i;
	int k, next = 0, separated = 0, other = 0;
	struct rd r;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < log->n; i++) {
		ev = &log->ev[i];
		if (ev->pcr != VIGIL_RUNTIME_PCR || ev->type == EV_NO_ACTION)
			continue;
		if (ev->type == EV_SEPARATOR) {
			separated = 1;
			if (!smm_plain_separator(ev))
				other = 1;
			continue;
		}
		rd_init(&r, ev->data, ev->data_len);
		k = -1;
		if (ev->type == EV_EVENT_TAG && rd_u32le(&r, &tag) == 0)
			for (k = 2; k >= 0 && smm_tags[k] != tag; k--)
				;
		if (k < 0) {
			other = 1;
			continue;
		}
		if (separated) {
			snprintf(why, whylen, "SMM %s event in PCR 23 after the "
			    "separator", smm_tag_names[k]);
			return VIGIL_EVERIFY;
		}
		if (k != next) {
			snprintf(why, whylen, "SMM %s event in PCR 23 %s",
			    smm_tag_names[k], k < next ? "more than once" :
			    "out of order");
			return VIGIL_EVERIFY;
		}
		if (rd_u32le(&r, &size) != 0 || rd_bytes(&r, size, &data) !=
		    0 || r.left != 0) {
			snprintf(why, whylen, "SMM %s event data is not a "
			    "well-formed tagged event", smm_tag_names[k]);
			return VIGIL_EVERIFY;
		}
		if (!ev->has_sha256 || EVP_Digest(ev->data, ev->data_len, dg,
		    &dl, EVP_sha256(), NULL) != 1 ||
		    memcmp(dg, ev->sha256, SHA256_LEN) != 0) {
			snprintf(why, whylen, "SMM %s event digest is not "
			    "SHA-256 of its data", smm_tag_names[k]);
			return VIGIL_EVERIFY;
		}
		if (smm_event_take(out, k, data, size, why, whylen) != 0)
			return VIGIL_EVERIFY;
		next++;
	}
	if (next == 0) {
		out->evaluated = 1;
		return 0;
	}
	if (next != 3) {
		snprintf(why, whylen, "SMM %s event missing from PCR 23",
		    smm_tag_names[next]);
		return VIGIL_EVERIFY;
	}
	out->present = 1;
	out->evaluated = 1;
	out->only = !other;
	return 0;
}

/* ---- the runtime evidence ---- */

static void
smm_contra(struct ear *e)
{
	ear_claim(&e->runtime_opaque, AR_CONTRA);
}

static void
smm_hex_short(const uint8_t *p, char out[17])
{
	hex_encode(p, 8, out);
}

/* "3, 4, 7" (at most what fits; "..." when cut). */
static void
smm_pages_str(const struct smmlog_entry *x, char *out, size_t cap)
{
	size_t o = 0;
	uint32_t i;
	int w;

	out[0] = '\0';
	for (i = 0; i < x->u.m.n_pages; i++) {
		w = snprintf(out + o, cap - o, "%s%u", i ? ", " : "",
		    smmlog_entry_page(x, i));
		if (w < 0 || (size_t)w >= cap - o) {
			if (cap > 4)
				memcpy(out + cap - 4, "...", 4);
			return;
		}
		o += (size_t)w;
	}
}

/* The image digest against the reference values: listed, or (none
 * listed) trusted on first use where the operator opted in. */
static int
smm_check_image(const struct appraise_smm_in *in, struct ear *e)
{
	char hex[2 * SMMLOG_HASH_LEN + 1];
	size_t i;

	for (i = 0; i < in->n_images; i++)
		if (memcmp(in->images[i], in->boot->image, SMMLOG_HASH_LEN) ==
		    0)
			return 0;
	if (in->n_images == 0 && in->image_tofu)
		return 0;
	hex_encode(in->boot->image, SMMLOG_HASH_LEN, hex);
	if (in->n_images > 0)
		ear_reason(e, "SMM service image digest %s in PCR 23 is not "
		    "among the reference values (smm_images)", hex);
	else
		ear_reason(e, "SMM service image digest %s in PCR 23 cannot "
		    "be appraised: the reference values list no smm_images "
		    "and trust on first use is off ([attestation] "
		    "smm_image_tofu)", hex);
	ear_claim(&e->executables, AR_CONTRA);
	smm_contra(e);
	return VIGIL_EVERIFY;
}

/* The pins: first seen, pinned; the same, fine; a change, reported. */
static int
smm_check_pins(const struct appraise_smm_in *in, struct ear *e,
    struct appraise_smm_out *out)
{
	const struct smm_boot *b = in->boot;
	struct smm_pins *n = &out->next;
	const char *what = NULL;

	if (smm_check_image(in, e) != 0)
		return VIGIL_EVERIFY;
	if (!n->have) {
		memcpy(n->image, b->image, sizeof(n->image));
		memcpy(n->log_pub, b->log_pub, b->log_pub_len);
		n->log_pub_len = b->log_pub_len;
		memcpy(n->wrap_pub, b->wrap_pub, b->wrap_pub_len);
		n->wrap_pub_len = b->wrap_pub_len;
		n->have = 1;
		out->changed = 1;
		ear_reason(e, "SMM service image and keys pinned on first use"
		    "%s", in->n_images > 0 ? " (image among smm_images)" :
		    " (image trusted on first use: smm_image_tofu)");
		return 0;
	}
	if (memcmp(n->image, b->image, sizeof(n->image)) != 0)
		what = "image digest";
	else if (n->log_pub_len != b->log_pub_len ||
	    memcmp(n->log_pub, b->log_pub, b->log_pub_len) != 0)
		what = "log-signing key";
	else if (n->wrap_pub_len != b->wrap_pub_len ||
	    memcmp(n->wrap_pub, b->wrap_pub, b->wrap_pub_len) != 0)
		what = "key-wrapping key";
	if (what == NULL)
		return 0;
	ear_reason(e, "SMM service %s in PCR 23 differs from the one pinned "
	    "for this node", what);
	smm_contra(e);
	return VIGIL_EVERIFY;
}

/* Entries the verifier has already (resent items): equal or a fork. */
static int
smm_resent(const struct appraise_smm_in *in, size_t i, struct ear *e)
{
	uint8_t *old = NULL;
	size_t len = 0;
	int r, same;

	if (in->get == NULL)
		return 0;
	r = in->get(in->get_ctx, in->seqs[i], &old, &len);
	if (r == VIGIL_ENOTFOUND)
		return 0;
	if (r != 0)
		return r;
	same = len == in->lens[i] && memcmp(old, in->entries[i], len) == 0;
	free(old);
	if (same)
		return 0;
	ear_reason(e, "SMM log fork: entry %llu differs from the one "
	    "accepted before", (unsigned long long)in->seqs[i]);
	smm_contra(e);
	return VIGIL_EVERIFY;
}

/* The slot of (target, region) in n's taints, or NULL. */
static struct smm_taint *
smm_taint_find(struct smm_pins *n, const char *target, const char *region)
{
	size_t i;

	for (i = 0; i < n->n_taints; i++)
		if (strcmp(n->taints[i].target, target) == 0 &&
		    strcmp(n->taints[i].region, region) == 0)
			return &n->taints[i];
	return NULL;
}

/* Taints (target, region) with reason (replacing that region's older
 * reason; other regions keep theirs). With every slot taken by other
 * regions the reason goes to the overflow, which stands: the verifier
 * could not see that region match again. */
static void
smm_taint_set(struct smm_pins *n, const char *target, const char *region,
    const char *reason)
{
	struct smm_taint *t = smm_taint_find(n, target, region);

	if (t == NULL && n->n_taints == SMM_MAX_TAINTS) {
		snprintf(n->overflow, sizeof(n->overflow), "more than %u "
		    "hypervisor regions tainted at once (stands until "
		    "re-enrolment); the last: %s", SMM_MAX_TAINTS, reason);
		return;
	}
	if (t == NULL) {
		t = &n->taints[n->n_taints++];
		memset(t, 0, sizeof(*t));
		snprintf(t->target, sizeof(t->target), "%s", target);
		snprintf(t->region, sizeof(t->region), "%s", region);
	}
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

/* (target, region) matched: its own taint, if any, is lifted. */
static void
smm_taint_clear(struct smm_pins *n, const char *target, const char *region)
{
	struct smm_taint *t = smm_taint_find(n, target, region);
	size_t i;

	if (t == NULL)
		return;
	i = (size_t)(t - n->taints);
	memmove(t, t + 1, (n->n_taints - i - 1) * sizeof(*t));
	n->n_taints--;
	memset(&n->taints[n->n_taints], 0, sizeof(*t));
}

/* 1 when a and b hold the same taints. */
static int
smm_taints_equal(const struct smm_pins *a, const struct smm_pins *b)
{
	size_t i;

	if (a->n_taints != b->n_taints ||
	    strcmp(a->overflow, b->overflow) != 0)
		return 0;
	for (i = 0; i < a->n_taints; i++)
		if (strcmp(a->taints[i].target, b->taints[i].target) != 0 ||
		    strcmp(a->taints[i].region, b->taints[i].region) != 0 ||
		    strcmp(a->taints[i].reason, b->taints[i].reason) != 0)
			return 0;
	return 1;
}

/* One accepted MEASURE entry: its verdict and root. */
static void
smm_measure(const struct appraise_smm_in *in, const struct smmlog_entry *x,
    struct ear *e, struct smm_pins *n)
{
	const struct refs_region *rr = NULL;
	char target[SMMLOG_MAX_NAME + 1], region[SMMLOG_MAX_REGION + 1];
	char why[SMM_TAINT_LEN], pages[121], root[17];
	int refd;

	snprintf(target, sizeof(target), "%.*s", (int)x->u.m.target_len,
	    x->u.m.target);
	snprintf(region, sizeof(region), "%.*s", (int)x->u.m.region_len,
	    x->u.m.region);
	smm_hex_short(x->u.m.root, root);
	refd = in->refs != NULL && refs_lookup(in->refs, target, region,
	    &rr) == 0;
	switch (x->u.m.verdict) {
	case SMMLOG_VERDICT_MATCH:
		if (refd && !refs_match(rr, x->u.m.root)) {
			snprintf(why, sizeof(why), "SMM entry %llu: "
			    "hypervisor %.32s region %.200s root %s... matches "
			    "no reference value of the verifier",
			    (unsigned long long)x->seq, target, region, root);
			smm_taint_set(n, target, region, why);
		} else
			smm_taint_clear(n, target, region);
		break;
	case SMMLOG_VERDICT_MISMATCH:
		smm_pages_str(x, pages, sizeof(pages));
		snprintf(why, sizeof(why), "SMM entry %llu: page(s) "
		    "%.120s changed in hypervisor %.32s region %.200s (root "
		    "%s...)", (unsigned long long)x->seq,
		    x->u.m.n_pages ? pages : "?", target, region, root);
		smm_taint_set(n, target, region, why);
		break;
	case SMMLOG_VERDICT_NO_REFERENCE:
		ear_reason(e, "SMM entry %llu: no reference for hypervisor "
		    "%s region %s", (unsigned long long)x->seq, target,
		    region);
		ear_claim(&e->runtime_opaque, AR_WARN_CONFIG);
		break;
	default:
		ear_reason(e, "SMM entry %llu: hypervisor %s region %s could "
		    "not be measured", (unsigned long long)x->seq, target,
		    region);
		ear_claim(&e->runtime_opaque, AR_WARN_CONFIG);
		break;
	}
}

/* A REFS entry: the set vigil-smmd took must be one this verifier
 * signed (version 0: the operator's first-boot baseline). */
static void
smm_refs_entry(const struct appraise_smm_in *in,
    const struct smmlog_entry *x, struct ear *e)
{
	char d[17];
	size_t i;

	if (x->u.refs.version == 0) {
		ear_reason(e, "SMM entry %llu: reference baseline taken on "
		    "first boot (operator opted in)",
		    (unsigned long long)x->seq);
		return;
	}
	for (i = 0; i < in->n_issued; i++)
		if (memcmp(in->issued[i], x->u.refs.digest,
		    SMMLOG_HASH_LEN) == 0)
			return;
	smm_hex_short(x->u.refs.digest, d);
	ear_reason(e, "SMM entry %llu: reference set version %llu (%s...) "
	    "was not signed by this verifier", (unsigned long long)x->seq,
	    (unsigned long long)x->u.refs.version, d);
	smm_contra(e);
}

/* The accepted entries, one by one. */
static void
smm_entries(const struct appraise_smm_in *in, struct ear *e,
    struct appraise_smm_out *out)
{
	struct smmlog_entry x;
	size_t i;

	for (i = out->first_new; i < out->first_new + out->n_new; i++) {
		if (smmlog_entry_parse(in->entries[i], in->lens[i], &x) != 0)
			continue;	/* smmlog_verify_entries parsed it */
		if (x.kind == SMMLOG_KIND_MEASURE)
			smm_measure(in, &x, e, &out->next);
		else if (x.kind == SMMLOG_KIND_REFS)
			smm_refs_entry(in, &x, e);
		else if (x.kind == SMMLOG_KIND_KEY_USE && !x.u.k.granted)
			ear_reason(e, "SMM entry %llu: key %.*s %s refused "
			    "(%s)", (unsigned long long)x.seq,
			    (int)x.u.k.key_id_len, x.u.k.key_id,
			    mm_op_name(x.u.k.op),
			    mm_status_name(x.u.k.status));
	}
}

/* The signed head and the chain. 0 when the chain advanced (or held). */
static int
smm_chain(const struct appraise_smm_in *in, struct ear *e,
    struct appraise_smm_out *out)
{
	struct smm_pins *n = &out->next;
	uint8_t signed_head[SMMLOG_HASH_LEN], head[SMMLOG_HASH_LEN];
	uint64_t last = 0, seq;
	size_t i;
	int r;

	if (in->head == NULL || in->head_len == 0) {
		ear_reason(e, "no SMM log head signed for this push");
		ear_claim(&e->runtime_opaque, AR_WARN_CONFIG);
		return VIGIL_EVERIFY;
	}
	if (smmlog_verify_head(in->head, in->head_len, n->log_pub,
	    n->log_pub_len, in->nonce, in->nonce_len, &last,
	    signed_head) != 0) {
		ear_reason(e, "SMM log head is not signed by the pinned "
		    "log-signing key over this push's nonce (replayed or "
		    "forged)");
		smm_contra(e);
		return VIGIL_EVERIFY;
	}
	out->last_signed = last;
	if (last < n->seq) {
		ear_reason(e, "SMM log fork: signed head at entry %llu, %llu "
		    "accepted before", (unsigned long long)last,
		    (unsigned long long)n->seq);
		smm_contra(e);
		return VIGIL_EVERIFY;
	}
	for (i = 0; i < in->n && in->seqs[i] <= n->seq; i++)
		if ((r = smm_resent(in, i, e)) != 0)
			return r;
	out->first_new = i;
	out->n_new = in->n - i;
	if (out->n_new > 0 && in->seqs[i] != n->seq + 1) {
		ear_reason(e, "SMM log gap: entries %llu..%llu missing",
		    (unsigned long long)(n->seq + 1),
		    (unsigned long long)(in->seqs[i] - 1));
		smm_contra(e);
		n->gaps++;
		out->changed = 1;
		out->n_new = 0;
		return VIGIL_EVERIFY;
	}
	memcpy(head, n->head, sizeof(head));
	seq = n->seq;
	if (out->n_new > 0 && smmlog_verify_entries(n->seq, n->head,
	    in->entries + i, in->lens + i, out->n_new, &seq, head) != 0) {
		ear_reason(e, "SMM log entries do not continue the chain "
		    "accepted up to entry %llu (altered, removed or "
		    "reordered)", (unsigned long long)n->seq);
		smm_contra(e);
		n->gaps++;
		out->changed = 1;
		out->n_new = 0;
		return VIGIL_EVERIFY;
	}
	if (seq > last || (seq == last && CRYPTO_memcmp(head, signed_head,
	    SMMLOG_HASH_LEN) != 0)) {
		ear_reason(e, "SMM log entries up to %llu do not end in the "
		    "signed head (entry %llu): altered or forked",
		    (unsigned long long)seq, (unsigned long long)last);
		smm_contra(e);
		n->gaps++;
		out->changed = 1;
		out->n_new = 0;
		return VIGIL_EVERIFY;
	}
	if (seq < last) {
		ear_reason(e, "SMM log: entries %llu..%llu signed but not yet "
		    "received", (unsigned long long)(seq + 1),
		    (unsigned long long)last);
		ear_claim(&e->runtime_opaque, AR_WARN_CONFIG);
	}
	if (out->n_new > 0) {
		n->seq = seq;
		memcpy(n->head, head, sizeof(n->head));
		out->changed = 1;
	}
	return 0;
}

int
appraise_smm(const struct appraise_smm_in *in, struct ear *e,
    struct appraise_smm_out *out)
{
	const struct smm_pins *p = in->prev;
	size_t i;
	int held;

	memset(out, 0, sizeof(*out));
	if (p != NULL)
		out->next = *p;
	if (!in->boot->present) {
		if (p != NULL && p->have) {
			ear_reason(e, "SMM service events missing from PCR 23 "
			    "of a node whose SMM keys are pinned");
			smm_contra(e);
		} else if (in->head_len > 0 || in->n > 0) {
			ear_reason(e, "SMM evidence sent but PCR 23 measures "
			    "no SMM service");
			ear_claim(&e->runtime_opaque, AR_WARN_CONFIG);
		}
		return 0;
	}
	if (smm_check_pins(in, e, out) != 0)
		return 0;
	held = smm_chain(in, e, out);
	if (held != 0 && held != VIGIL_EVERIFY)
		return held;
	if (held == 0)
		smm_entries(in, e, out);
	for (i = 0; i < out->next.n_taints; i++) {
		ear_reason(e, "%s", out->next.taints[i].reason);
		smm_contra(e);
	}
	if (out->next.overflow[0] != '\0') {
		ear_reason(e, "%s", out->next.overflow);
		smm_contra(e);
	}
	if (p == NULL || !smm_taints_equal(p, &out->next))
		out->changed = 1;
	if (held == 0)
		ear_claim(&e->runtime_opaque, AR_AFFIRMING);
	return 0;
}
