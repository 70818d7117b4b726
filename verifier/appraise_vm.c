/* VM attestation appraisal (appraise_vm.h). The checks, in order, each
 * failure naming its check (docs/appraisal.md "VM attestations"):
 *
 * guest (the vTPM):
 *   enrolment       the VM's vTPM is enrolled (an AK bound by credential
 *                   activation, its EK certified by a PSE)
 *   placement       the reporting node is the VM's host, or the target of
 *                   its migration under way (else a clone, or the old node
 *                   after the VM appeared on the new one)
 *   vTPM quote      parses, signed by the enrolled vTPM AK
 *   nonce           its extraData is the request's nonce
 *   PCR digest      the reported vTPM PCRs give the quoted digest
 *   clock           not going back (a clone or a rolled-back state)
 *   guest PCRs      against the tenant's guest reference values
 * host (the platform):
 *   binding         parses; binding_verify (chain to a trusted platform
 *                   vendor CA, signature); its platform certificate is the
 *                   one the node's boot measured into PCR 3
 *   bound AK        is the reporting node's registered AK
 *   deep quote      parses, signed by that AK, extraData =
 *                   SHA-256(nonce || vTPM AK name || VM id)
 *   node            fresh and `affirming`
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "appraise_vm.h"
#include "enclave/binding.h"
#include "err.h"
#include "log.h"
#include "tpm_parse.h"

/* 1 if the quote's extraData equals p[0..n). */
static int
appraise_vm_extra_is(const struct quote *q, const uint8_t *p, size_t n)
{
	const TPM2B_DATA *d = &q->attest.extraData;

	return d->size == n && n > 0 && CRYPTO_memcmp(d->buffer, p, n) == 0;
}

/* The vTPM's identity, placement and quote. */
static void
appraise_vm_guest(const struct appraise_vm_in *in,
    struct appraise_vm_out *out)
{
	const struct vm_rec *vm = in->vm;
	struct ear *g = &out->guest;
	TPM2B_PUBLIC ak;
	struct quote q;
	uint8_t dig[SHA256_LEN];
	const uint8_t (*vals)[SHA256_LEN];
	const TPMS_CLOCK_INFO *ci;
	const char *why = NULL;
	uint32_t mask, pcr;
	size_t n, i;
	int any = 0, ok;

	if (vm->vtpm_state != VM_VTPM_ENROLLED || vm->ak_pub == NULL ||
	    tpm_public_parse(vm->ak_pub, vm->ak_pub_len, &ak) != 0) {
		ear_claim(&g->instance_identity, AR_CONTRA);
		ear_reason(g, "enrolment: the VM's vTPM is not enrolled");
		return;
	}
	if (strcmp(in->node->id, vm->host_node) == 0) {
		/* its host */
	} else if (vm->migrate_to[0] != '\0' &&
	    strcmp(in->node->id, vm->migrate_to) == 0) {
		out->move = 1;
	} else {
		ear_claim(&g->instance_identity, AR_CONTRA);
		ear_reason(g, "placement: vTPM reported by node %.16s while "
		    "placed on node %.16s (a clone, or its old node after it "
		    "appeared on the new one)", in->node->id,
		    vm->host_node[0] != '\0' ? vm->host_node : "(none)");
		return;
	}
	if (quote_parse(in->vquote, in->vquote_len, in->vsig, in->vsig_len,
	    &q, &why) != 0 || quote_verify_sig(&q, &ak, &why) != 0) {
		ear_claim(&g->instance_identity, AR_CONTRA);
		ear_reason(g, "vTPM quote: %s", why != NULL ? why :
		    "does not parse or verify");
		return;
	}
	if (!appraise_vm_extra_is(&q, in->nonce, in->nonce_len)) {
		ear_claim(&g->instance_identity, AR_CONTRA);
		ear_reason(g, "nonce: the vTPM quote is not over this "
		    "request's nonce (replayed or for another request)");
		return;
	}
	ci = &q.attest.clockInfo;
	if (vm->has_clock && (ci->resetCount < vm->reset_count ||
	    (ci->resetCount == vm->reset_count &&
	    (ci->restartCount < vm->restart_count ||
	    (ci->restartCount == vm->restart_count &&
	    ci->clock < vm->clock))))) {
		ear_claim(&g->instance_identity, AR_CONTRA);
		ear_reason(g, "clock: the vTPM clock went back (reset %u "
		    "restart %u clock %llu after reset %u restart %u clock "
		    "%llu): a cloned or rolled-back vTPM", ci->resetCount,
		    ci->restartCount, (unsigned long long)ci->clock,
		    vm->reset_count, vm->restart_count,
		    (unsigned long long)vm->clock);
		return;
	}
	out->quote_ok = 1;
	out->clock = ci->clock;
	out->reset_count = ci->resetCount;
	out->restart_count = ci->restartCount;
	if (quote_selected_mask(&q, &mask, &why) != 0 ||
	    quote_pcr_digest(in->vpcrs, mask, dig) != 0 ||
	    q.attest.attested.quote.pcrDigest.size != SHA256_LEN ||
	    memcmp(q.attest.attested.quote.pcrDigest.buffer, dig,
	    SHA256_LEN) != 0) {
		ear_claim(&g->executables, AR_CONTRA);
		ear_reason(g, "PCR digest: the reported vTPM PCR values do not "
		    "match the quoted digest");
		return;
	}
	if (in->guest_refs == NULL) {
		ear_claim(&g->configuration, AR_WARN_CONFIG);
		ear_reason(g, "guest PCRs: the tenant has no guest reference "
		    "values");
		return;
	}
	for (pcr = 0; pcr < PCR_COUNT; pcr++) {
		refvals_for(in->guest_refs, in->vm->id, pcr, &vals, &n);
		if (n == 0)
			continue;
		any = 1;
		if (!(mask & (1u << pcr))) {
			ear_claim(&g->executables, AR_CONTRA);
			ear_reason(g, "guest PCRs: PCR %u is not covered by the "
			    "vTPM quote", pcr);
			continue;
		}
		for (ok = 0, i = 0; i < n && !ok; i++)
			ok = memcmp(vals[i], in->vpcrs->v[pcr],
			    SHA256_LEN) == 0;
		if (!ok) {
			ear_claim(&g->executables, AR_CONTRA);
			ear_reason(g, "guest PCRs: PCR %u is not among the "
			    "tenant's guest reference values", pcr);
		}
	}
	if (!any) {
		ear_claim(&g->configuration, AR_WARN_CONFIG);
		ear_reason(g, "guest PCRs: the guest reference values name no "
		    "PCR");
		return;
	}
	ear_claim(&g->instance_identity, AR_AFFIRMING);
	ear_claim(&g->executables, AR_AFFIRMING);
	ear_claim(&g->configuration, AR_AFFIRMING);
}

/* The platform vouching for the vTPM now. */
static int
appraise_vm_host(const struct appraise_vm_in *in, struct appraise_vm_out *out)
{
	const struct agent_rec *node = in->node;
	struct ear *h = &out->host;
	struct binding b;
	TPM2B_PUBLIC ak, vak;
	TPM2B_NAME vname;
	struct quote q;
	uint8_t want[SHA256_LEN];
	const char *why = NULL;
	int r = 0, have_b = 0;

	memset(&b, 0, sizeof(b));
	if (binding_parse(in->binding, in->binding_len, &b) != 0) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "binding: malformed certified AK binding");
		goto out;
	}
	have_b = 1;
	if (in->platform_cas == NULL) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "binding: no platform vendor CA is configured "
		    "([attestation] platform_ca)");
		goto out;
	}
	if (binding_verify(&b, in->platform_cas, NULL, &why) != 0) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "binding: %s", why != NULL ? why :
		    "does not verify");
		goto out;
	}
	if (in->measured_cert != NULL && (b.chain[0].len !=
	    in->measured_cert_len || memcmp(b.chain[0].data,
	    in->measured_cert, in->measured_cert_len) != 0)) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "binding: its platform certificate is not the one "
		    "node %.16s measured at boot (PCR 23)", node->id);
		goto out;
	}
	if (!in->handoff) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "binding: node %.16s measured no AK hand-off in "
		    "its runtime log (PCR 23): it does not claim the PSE "
		    "binding", node->id);
		goto out;
	}
	if (binding_check_ak(&b, node->ak_pub, node->ak_pub_len, &why) != 0) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "bound AK: %s, not node %.16s's registered AK",
		    why != NULL ? why : "binding is over a different AK",
		    node->id);
		goto out;
	}
	if (tpm_public_parse(node->ak_pub, node->ak_pub_len, &ak) != 0 ||
	    quote_parse(in->pquote, in->pquote_len, in->psig, in->psig_len,
	    &q, &why) != 0 || quote_verify_sig(&q, &ak, &why) != 0) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "deep quote: %s", why != NULL ? why :
		    "does not verify with the node's AK");
		goto out;
	}
	if (in->vm->ak_pub == NULL ||
	    tpm_public_parse(in->vm->ak_pub, in->vm->ak_pub_len, &vak) != 0 ||
	    tpm_public_name(&vak, &vname) != 0) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "deep quote: the VM has no enrolled vTPM AK");
		goto out;
	}
	if (binding_deep_quote_data(in->nonce, in->nonce_len, vname.name,
	    vname.size, in->vm->id, want) != 0 ||
	    !appraise_vm_extra_is(&q, want, sizeof(want))) {
		ear_claim(&h->hardware, AR_CONTRA_HW);
		ear_reason(h, "deep quote: extraData is not SHA-256(nonce || "
		    "vTPM AK name || VM id) for this request (a deep quote "
		    "for another vTPM, VM or nonce)");
		goto out;
	}
	ear_claim(&h->hardware, AR_AFFIRMING);
	ear_claim(&h->instance_identity, AR_AFFIRMING);
	if (!in->node_fresh) {
		h->force_none = 1;
		ear_reason(h, "node: host node %.16s has no fresh quote",
		    node->id);
	} else if (in->node_status == NULL ||
	    strcmp(in->node_status, "affirming") != 0) {
		enum ear_tier t = EAR_TIER_NONE;

		if (in->node_status != NULL)
			ear_tier_parse(in->node_status, &t);
		if (t == EAR_TIER_CONTRAINDICATED)
			ear_claim(&h->configuration, AR_CONTRA);
		else if (t == EAR_TIER_WARNING)
			ear_claim(&h->configuration, AR_WARN_CONFIG);
		else
			h->force_none = 1;
		ear_reason(h, "node: host node %.16s is %s, not affirming",
		    node->id, in->node_status != NULL ? in->node_status :
		    "none");
	} else {
		ear_claim(&h->configuration, AR_AFFIRMING);
	}
 out:
	if (have_b)
		binding_free(&b);
	return r;
}

/* Contraindicated anywhere wins; then a host that is `none` (stale)
 * makes the VM `none`; then the worst tier. */
static enum ear_tier
appraise_vm_combine(enum ear_tier g, enum ear_tier h, int host_none)
{
	if (g == EAR_TIER_CONTRAINDICATED || h == EAR_TIER_CONTRAINDICATED)
		return EAR_TIER_CONTRAINDICATED;
	if (host_none || h == EAR_TIER_NONE || g == EAR_TIER_NONE)
		return EAR_TIER_NONE;
	return g > h ? g : h;
}

int
appraise_vm(const struct appraise_vm_in *in, struct appraise_vm_out *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	ear_init(&out->guest);
	ear_init(&out->host);
	appraise_vm_guest(in, out);
	if ((r = appraise_vm_host(in, out)) != 0)
		return r;
	out->status = appraise_vm_combine(ear_status(&out->guest),
	    ear_status(&out->host), out->host.force_none);
	/* A migration completes only on a wholly accepted answer. */
	if (out->status != EAR_TIER_AFFIRMING &&
	    out->status != EAR_TIER_WARNING)
		out->move = 0;
	return 0;
}

static json_t *
appraise_vm_ear_json(const struct ear *e)
{
	struct appraisal a;
	json_t *o = NULL, *v, *rs;

	memset(&a, 0, sizeof(a));
	if (ear_to_appraisal(e, 0, &a) != 0)
		return NULL;
	v = json_loads(a.vector_json, 0, NULL);
	rs = json_loads(a.reasons_json, 0, NULL);
	if (v != NULL && rs != NULL)
		o = json_pack("{s:s, s:O, s:O}", "status", a.status,
		    "trustworthiness-vector", v, "reasons", rs);
	json_decref(v);
	json_decref(rs);
	ear_appraisal_free(&a);
	return o;
}

int
appraise_vm_result_json(const struct appraise_vm_in *in,
    const struct appraise_vm_out *out, int64_t at, char **json)
{
	json_t *o = NULL, *g, *h;
	int r = VIGIL_ENOMEM;

	*json = NULL;
	g = appraise_vm_ear_json(&out->guest);
	h = appraise_vm_ear_json(&out->host);
	if (g == NULL || h == NULL)
		goto out;
	if (json_object_set_new(h, "node", json_string(in->node->id)) != 0 ||
	    json_object_set_new(h, "hostname",
	    json_string(in->node->hostname)) != 0 ||
	    json_object_set_new(h, "node_status", json_string(
	    in->node_status != NULL ? in->node_status : "none")) != 0)
		goto out;
	if ((o = json_pack("{s:s, s:s, s:s, s:I, s:O, s:O}", "vm",
	    in->vm->id, "name", in->vm->name, "status",
	    ear_tier_name(out->status), "appraised_at", (json_int_t)at,
	    "guest", g, "host", h)) == NULL)
		goto out;
	if ((*json = json_dumps(o, JSON_COMPACT)) != NULL)
		r = 0;
 out:
	json_decref(o);
	json_decref(g);
	json_decref(h);
	return r;
}
