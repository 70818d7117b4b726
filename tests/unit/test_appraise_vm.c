/* VM attestation appraisal (verifier/appraise_vm.h) with software keys:
 * the vTPM and the node's pTPM are software quoters (common/swquote.h), the
 * platform key is certified by a test vendor CA. A valid attestation
 * affirms with its host; each forgery is rejected by its named check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "enclave/binding.h"
#include "enclave/pse_cert.h"
#include "err.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "verifier/appraise_vm.h"

#define NODE_ID "1111111111111111111111111111111111111111111111111111111111111111"
#define NODE_B "2222222222222222222222222222222222222222222222222222222222222222"
#define VM_ID "0123456789abcdef0123456789abcdef"

struct fx {
	EVP_PKEY *ca_key, *pkey;
	X509 *ca, *pcert;
	X509_STORE *store;
	struct buf leaf;
	struct swquote *psq, *vsq;	/* the node's pTPM AK, the vTPM AK */
	uint8_t pak[1024], vak[1024];
	size_t pak_len, vak_len;
	struct agent_rec node;
	struct vm_rec vm;
	uint8_t nonce[32];
	struct pcrs vvals, pvals;
	struct refvals *refs;
	/* the answer */
	struct buf vq, vs, bnd, pq, ps;
	struct appraise_vm_in in;
};

static void
fx_ak(struct swquote **sq, uint8_t *out, size_t cap, size_t *len)
{
	TPM2B_PUBLIC pub;

	assert_int_equal(swquote_new(sq), 0);
	assert_int_equal(swquote_ak_public(*sq, &pub), 0);
	assert_int_equal(tpm_public_marshal(&pub, out, cap, len), 0);
}

/* Signs a binding over ak with key whose certificate is leaf. */
static void
fx_binding(EVP_PKEY *key, const struct buf *leaf, const uint8_t *ak,
    size_t ak_len, struct buf *out)
{
	const uint8_t *chain[1] = { leaf->data };
	size_t lens[1] = { leaf->len };
	struct binding b;

	assert_int_equal(binding_sign(key, ak, ak_len, chain, lens, 1, &b),
	    0);
	buf_free(out);
	assert_int_equal(binding_marshal(&b, out), 0);
	binding_free(&b);
}

static void
fx_vquote(struct fx *f, const uint8_t *nonce, uint64_t clock)
{
	buf_free(&f->vq);
	buf_free(&f->vs);
	assert_int_equal(swquote_make(f->vsq, nonce, 32, &f->vvals,
	    f->vvals.mask, clock, 3, 0, 1, &f->vq, &f->vs), 0);
}

/* The deep quote by sq over SHA-256(nonce || name of vak || vm_id). */
static void
fx_pquote(struct fx *f, struct swquote *sq, const uint8_t *vak,
    size_t vak_len, const char *vm_id)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	uint8_t d[32];

	assert_int_equal(tpm_public_parse(vak, vak_len, &pub), 0);
	assert_int_equal(tpm_public_name(&pub, &name), 0);
	assert_int_equal(binding_deep_quote_data(f->nonce, 32, name.name,
	    name.size, vm_id, d), 0);
	buf_free(&f->pq);
	buf_free(&f->ps);
	assert_int_equal(swquote_make(sq, d, 32, &f->pvals, f->pvals.mask,
	    777, 1, 0, 1, &f->pq, &f->ps), 0);
}

static void
fx_wire(struct fx *f)
{
	struct appraise_vm_in *in = &f->in;

	in->vquote = f->vq.data;
	in->vquote_len = f->vq.len;
	in->vsig = f->vs.data;
	in->vsig_len = f->vs.len;
	in->binding = f->bnd.data;
	in->binding_len = f->bnd.len;
	in->pquote = f->pq.data;
	in->pquote_len = f->pq.len;
	in->psig = f->ps.data;
	in->psig_len = f->ps.len;
}

static int
setup(void **state)
{
	static const char refs[] = "{\"pcrs\": {\"0\": [\"aaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"], \"4\": "
	    "[\"4444444444444444444444444444444444444444444444444444444444444444"
	    "\"]}}";
	struct fx *f = calloc(1, sizeof(*f));
	int i;

	assert_non_null(f);
	assert_int_equal(swek_test_ca("Test platform vendor CA", &f->ca_key,
	    &f->ca), 0);
	assert_non_null(f->pkey = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, f->pkey,
	    "Vigil platform attestation key test", f->ca_key, f->ca, 30,
	    &f->pcert), 0);
	assert_int_equal(pse_cert_der(f->pcert, &f->leaf), 0);
	assert_non_null(f->store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(f->store, f->ca), 1);
	fx_ak(&f->psq, f->pak, sizeof(f->pak), &f->pak_len);
	fx_ak(&f->vsq, f->vak, sizeof(f->vak), &f->vak_len);

	snprintf(f->node.id, sizeof(f->node.id), "%s", NODE_ID);
	snprintf(f->node.hostname, sizeof(f->node.hostname), "node-a");
	f->node.state = AGENT_ACTIVE;
	f->node.ak_pub = f->pak;
	f->node.ak_pub_len = f->pak_len;

	snprintf(f->vm.id, sizeof(f->vm.id), "%s", VM_ID);
	snprintf(f->vm.tenant, sizeof(f->vm.tenant), "acme");
	snprintf(f->vm.name, sizeof(f->vm.name), "web");
	snprintf(f->vm.host_node, sizeof(f->vm.host_node), "%s", NODE_ID);
	f->vm.vtpm_state = VM_VTPM_ENROLLED;
	f->vm.ak_pub = f->vak;
	f->vm.ak_pub_len = f->vak_len;

	for (i = 0; i < 32; i++)
		f->nonce[i] = (uint8_t)(0x40 + i);
	f->vvals.mask = (1u << 0) | (1u << 4) | (1u << 8);
	memset(f->vvals.v[0], 0xaa, 32);
	memset(f->vvals.v[4], 0x44, 32);
	memset(f->vvals.v[8], 0x88, 32);
	f->pvals.mask = PCR_POLICY_MASK;
	assert_int_equal(refvals_parse(refs, strlen(refs), &f->refs, NULL, 0),
	    0);

	fx_vquote(f, f->nonce, 5000);
	fx_binding(f->pkey, &f->leaf, f->pak, f->pak_len, &f->bnd);
	fx_pquote(f, f->psq, f->vak, f->vak_len, VM_ID);

	f->in.vm = &f->vm;
	f->in.node = &f->node;
	f->in.node_status = "affirming";
	f->in.node_fresh = 1;
	f->in.nonce = f->nonce;
	f->in.nonce_len = 32;
	f->in.vpcrs = &f->vvals;
	f->in.platform_cas = f->store;
	f->in.guest_refs = f->refs;
	f->in.handoff = 1;
	fx_wire(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->pkey);
	X509_free(f->ca);
	X509_free(f->pcert);
	X509_STORE_free(f->store);
	buf_free(&f->leaf);
	swquote_free(f->psq);
	swquote_free(f->vsq);
	refvals_free(f->refs);
	buf_free(&f->vq);
	buf_free(&f->vs);
	buf_free(&f->bnd);
	buf_free(&f->pq);
	buf_free(&f->ps);
	free(f);
	return 0;
}

/* 1 if some reason of e starts with prefix. */
static int
has_reason(const struct ear *e, const char *prefix)
{
	size_t i;

	for (i = 0; i < e->n_reasons; i++)
		if (strncmp(e->reasons[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

static void
test_vm_valid_attestation_affirms_with_its_host(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;
	json_t *j, *h;
	char *s = NULL;

	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_AFFIRMING);
	assert_int_equal(ear_status(&o.guest), EAR_TIER_AFFIRMING);
	assert_int_equal(ear_status(&o.host), EAR_TIER_AFFIRMING);
	assert_int_equal(o.guest.n_reasons, 0);
	assert_int_equal(o.host.n_reasons, 0);
	assert_int_equal(o.quote_ok, 1);
	assert_int_equal(o.clock, 5000);
	assert_int_equal(o.reset_count, 3);
	assert_int_equal(o.move, 0);
	assert_int_equal(appraise_vm_result_json(&f->in, &o, 42, &s), 0);
	assert_non_null(j = json_loads(s, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "affirming");
	assert_non_null(h = json_object_get(j, "host"));
	assert_string_equal(json_string_value(json_object_get(h, "node")),
	    NODE_ID);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "guest"), "status")), "affirming");
	json_decref(j);
	free(s);
}

static void
test_vm_rejects_binding_by_self_signed_pse_key(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;
	EVP_PKEY *k, *other;
	X509 *self = NULL;
	struct buf der = BUF_INIT;

	/* A PSE key "certified" by a CA of its own making. */
	assert_int_equal(swek_test_ca("Rogue platform CA", &other, &self), 0);
	assert_non_null(k = EVP_EC_gen("P-256"));
	{
		X509 *c = NULL;

		assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, k, "rogue",
		    other, self, 30, &c), 0);
		assert_int_equal(pse_cert_der(c, &der), 0);
		X509_free(c);
	}
	fx_binding(k, &der, f->pak, f->pak_len, &f->bnd);
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "binding: binding certificate chain "
	    "does not lead to a trusted platform vendor CA"));
	assert_int_equal(ear_status(&o.guest), EAR_TIER_AFFIRMING);
	buf_free(&der);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	X509_free(self);
}

static void
test_vm_rejects_binding_over_another_ak(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	/* A valid binding, but over the vTPM's AK, not the node's. */
	fx_binding(f->pkey, &f->leaf, f->vak, f->vak_len, &f->bnd);
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "bound AK: binding is over a "
	    "different AK"));
}

/* A host whose runtime log has no AK hand-off does not claim the PSE
 * binding: the VM's host part is refused, naming why. */
static void
test_vm_rejects_binding_of_a_node_without_handoff(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->in.handoff = 0;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_int_equal(o.host.hardware, AR_CONTRA_HW);
	assert_true(has_reason(&o.host, "binding: node "));
	assert_non_null(strstr(o.host.reasons[0], " measured no AK hand-off "
	    "in its runtime log (PCR 23): it does not claim the PSE "
	    "binding"));
}

static void
test_vm_rejects_malformed_binding(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->bnd.data[0] ^= 0xff;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "binding: malformed"));
}

static void
test_vm_rejects_binding_without_platform_ca(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->in.platform_cas = NULL;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "binding: no platform vendor CA"));
}

static void
test_vm_binding_must_come_from_the_pse_the_node_measured(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;
	struct buf other = BUF_INIT;
	EVP_PKEY *k;
	X509 *c = NULL;

	/* The node's PCR 3 measured exactly this certificate: fine. */
	f->in.measured_cert = f->leaf.data;
	f->in.measured_cert_len = f->leaf.len;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_AFFIRMING);
	/* Another platform key of the same vendor: a valid binding, but not
	 * from the PSE this node booted. */
	assert_non_null(k = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, k, "other", f->ca_key,
	    f->ca, 30, &c), 0);
	assert_int_equal(pse_cert_der(c, &other), 0);
	f->in.measured_cert = other.data;
	f->in.measured_cert_len = other.len;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "binding: its platform certificate is "
	    "not the one node"));
	buf_free(&other);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void
test_vm_rejects_deep_quote_for_another_vtpm(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;
	struct swquote *x;
	uint8_t xak[1024];
	size_t xlen;

	fx_ak(&x, xak, sizeof(xak), &xlen);
	fx_pquote(f, f->psq, xak, xlen, VM_ID);
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "deep quote: extraData"));
	swquote_free(x);
}

static void
test_vm_rejects_deep_quote_for_another_vm(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	fx_pquote(f, f->psq, f->vak, f->vak_len,
	    "ffffffffffffffffffffffffffffffff");
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "deep quote: extraData"));
}

static void
test_vm_rejects_deep_quote_by_another_tpm(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	/* Signed by the vTPM's key instead of the node's AK. */
	fx_pquote(f, f->vsq, f->vak, f->vak_len, VM_ID);
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.host, "deep quote: "));
}

static void
test_vm_rejects_replayed_vtpm_quote(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;
	uint8_t old[32];

	memset(old, 0x11, sizeof(old));
	fx_vquote(f, old, 5000);
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_int_equal(o.quote_ok, 0);
	assert_true(has_reason(&o.guest, "nonce: "));
}

static void
test_vm_rejects_vtpm_quote_by_another_key(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->vm.ak_pub = f->pak;
	f->vm.ak_pub_len = f->pak_len;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.guest, "vTPM quote: "));
}

static void
test_vm_rejects_cloned_vtpm_clock_going_back(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->vm.has_clock = 1;
	f->vm.clock = 9000;
	f->vm.reset_count = 3;
	f->vm.restart_count = 0;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.guest, "clock: the vTPM clock went back"));
	/* An older reset count is a clone too, whatever its clock. */
	f->vm.clock = 1;
	f->vm.reset_count = 4;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_true(has_reason(&o.guest, "clock: "));
	/* A later reset (a restart after a migration) with a lower clock is
	 * fine. */
	f->vm.clock = 9000;
	f->vm.reset_count = 2;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_AFFIRMING);
}

static void
test_vm_rejects_report_from_a_node_not_its_host(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	snprintf(f->vm.host_node, sizeof(f->vm.host_node), "%s", NODE_B);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.guest, "placement: vTPM reported by node"));
	assert_int_equal(o.move, 0);
}

static void
test_vm_accepts_its_migration_target_and_moves(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	snprintf(f->vm.host_node, sizeof(f->vm.host_node), "%s", NODE_B);
	snprintf(f->vm.migrate_to, sizeof(f->vm.migrate_to), "%s", NODE_ID);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_AFFIRMING);
	assert_int_equal(o.move, 1);
	/* Not when the answer fails. */
	f->in.node_status = "contraindicated";
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.move, 0);
}

static void
test_vm_guest_pcr_out_of_policy_contraindicates(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->vvals.v[4][0] ^= 1;
	fx_vquote(f, f->nonce, 5000);
	fx_wire(f);
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.guest, "guest PCRs: PCR 4 is not among"));
	assert_int_equal(ear_status(&o.host), EAR_TIER_AFFIRMING);
}

static void
test_vm_reported_pcrs_must_match_the_quote(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->vvals.v[8][0] ^= 1;	/* after quoting */
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.guest, "PCR digest: "));
}

static void
test_vm_without_guest_references_warns(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->in.guest_refs = NULL;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_WARNING);
	assert_true(has_reason(&o.guest, "guest PCRs: the tenant has no"));
}

static void
test_vm_on_contraindicated_host_is_contraindicated(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->in.node_status = "contraindicated";
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_int_equal(ear_status(&o.guest), EAR_TIER_AFFIRMING);
	assert_true(has_reason(&o.host, "node: host node"));
}

static void
test_vm_on_stale_host_is_none(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->in.node_fresh = 0;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_NONE);
	assert_true(has_reason(&o.host, "node: host node"));
}

static void
test_vm_not_enrolled_is_contraindicated(void **state)
{
	struct fx *f = *state;
	struct appraise_vm_out o;

	f->vm.vtpm_state = VM_VTPM_PENDING;
	assert_int_equal(appraise_vm(&f->in, &o), 0);
	assert_int_equal(o.status, EAR_TIER_CONTRAINDICATED);
	assert_true(has_reason(&o.guest, "enrolment: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_vm_valid_attestation_affirms_with_its_host),
		T(test_vm_rejects_binding_by_self_signed_pse_key),
		T(test_vm_rejects_binding_over_another_ak),
		T(test_vm_rejects_binding_of_a_node_without_handoff),
		T(test_vm_rejects_malformed_binding),
		T(test_vm_rejects_binding_without_platform_ca),
		T(test_vm_binding_must_come_from_the_pse_the_node_measured),
		T(test_vm_rejects_deep_quote_for_another_vtpm),
		T(test_vm_rejects_deep_quote_for_another_vm),
		T(test_vm_rejects_deep_quote_by_another_tpm),
		T(test_vm_rejects_replayed_vtpm_quote),
		T(test_vm_rejects_vtpm_quote_by_another_key),
		T(test_vm_rejects_cloned_vtpm_clock_going_back),
		T(test_vm_rejects_report_from_a_node_not_its_host),
		T(test_vm_accepts_its_migration_target_and_moves),
		T(test_vm_guest_pcr_out_of_policy_contraindicates),
		T(test_vm_reported_pcrs_must_match_the_quote),
		T(test_vm_without_guest_references_warns),
		T(test_vm_on_contraindicated_host_is_contraindicated),
		T(test_vm_on_stale_host_is_none),
		T(test_vm_not_enrolled_is_contraindicated),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
