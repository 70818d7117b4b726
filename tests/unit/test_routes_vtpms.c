/* vTPM enrolment on the real server (plain HTTP on loopback, temporary
 * store; software keys: common/swek.h, common/swquote.h): a vTPM whose EK
 * certificate the node's PSE issued, presented with the PSE's binding of
 * the node's AK, gets a credential for its AK and, once activated, places
 * its VM on the node. An EK certificate not from a PSE, a binding over
 * another AK or a wrong secret are refused, each by its named check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "verifier/config.h"
#include "verifier/http.h"
#include "verifier/nonce.h"
#include "verifier/store_vms.h"
#include "verifier/tokens.h"
#include "enclave/binding.h"
#include "enclave/pse_cert.h"
#include "makecred.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "vigil.pb-c.h"
#include "tests/unit/helpers/tsrv.h"
#include <openssl/pem.h>

static struct tsrv g;

static int
group_setup(void **state)
{
	tsrv_start(&g, "test-routes-vtpms");
	return 0;
}

static int
group_teardown(void **state)
{
	return tsrv_stop(&g);
}

#define NODE_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"

/* The world of one node: its vendor CA, PSE platform key and certificate,
 * its pTPM AK (registered), a VM and its vTPM's EK and AK. */
static struct {
	EVP_PKEY *ca_key, *pkey;
	X509 *ca, *pcert;
	struct swquote *node_ak, *vtpm_ak;
	uint8_t nak[1024], vak[1024];
	size_t nak_len, vak_len;
	struct buf bnd;
} w;

static void
marshal_ak(struct swquote *sq, uint8_t *out, size_t cap, size_t *len)
{
	TPM2B_PUBLIC pub;

	assert_int_equal(swquote_ak_public(sq, &pub), 0);
	assert_int_equal(tpm_public_marshal(&pub, out, cap, len), 0);
}

/* The PSE's binding over ak. */
static void
sign_binding(const uint8_t *ak, size_t ak_len, struct buf *out)
{
	struct buf leaf = BUF_INIT;
	const uint8_t *chain[1];
	size_t lens[1];
	struct binding b;

	assert_int_equal(pse_cert_der(w.pcert, &leaf), 0);
	chain[0] = leaf.data;
	lens[0] = leaf.len;
	assert_int_equal(binding_sign(w.pkey, ak, ak_len, chain, lens, 1, &b),
	    0);
	buf_free(out);
	assert_int_equal(binding_marshal(&b, out), 0);
	binding_free(&b);
	buf_free(&leaf);
}

static int
world_setup(void **state)
{
	struct agent_rec a;
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	char path[128];
	FILE *f;

	assert_int_equal(group_setup(state), 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(swek_test_ca("Test platform vendor CA", &w.ca_key,
	    &w.ca), 0);
	snprintf(path, sizeof(path), "%s/platform-ca.pem", g.dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(f, w.ca), 1);
	fclose(f);
	snprintf(g.cfg.platform_ca, sizeof(g.cfg.platform_ca), "%s", path);
	assert_non_null(w.pkey = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, w.pkey,
	    "Vigil platform attestation key test", w.ca_key, w.ca, 30,
	    &w.pcert), 0);
	assert_int_equal(swquote_new(&w.node_ak), 0);
	assert_int_equal(swquote_new(&w.vtpm_ak), 0);
	marshal_ak(w.node_ak, w.nak, sizeof(w.nak), &w.nak_len);
	marshal_ak(w.vtpm_ak, w.vak, sizeof(w.vak), &w.vak_len);
	sign_binding(w.nak, w.nak_len, &w.bnd);
	/* The node, registered and active with its AK. */
	memset(&a, 0, sizeof(a));
	snprintf(a.id, sizeof(a.id), "%s", NODE_A);
	snprintf(a.hostname, sizeof(a.hostname), "node-a");
	a.ek_pub = w.vak;	/* any bytes: not looked at here */
	a.ek_pub_len = w.vak_len;
	a.ak_pub = w.nak;
	a.ak_pub_len = w.nak_len;
	assert_int_equal(tpm_public_parse(w.nak, w.nak_len, &pub), 0);
	assert_int_equal(tpm_public_name(&pub, &name), 0);
	memcpy(a.ak_name, name.name, name.size);
	a.ak_name_len = name.size;
	assert_int_equal(store_agent_register(g.vc.store, &a, NULL), 0);
	assert_int_equal(store_agent_activate(g.vc.store, NODE_A, a.secret_hash, NULL, NULL), 0);
	return 0;
}

static int
world_teardown(void **state)
{
	EVP_PKEY_free(w.ca_key);
	EVP_PKEY_free(w.pkey);
	X509_free(w.ca);
	X509_free(w.pcert);
	swquote_free(w.node_ak);
	swquote_free(w.vtpm_ak);
	buf_free(&w.bnd);
	return group_teardown(state);
}

/* POSTs a protobuf message to an agent route of NODE_A. */
static long
post_pb(const char *suffix, const ProtobufCMessage *m, struct treply *r)
{
	struct buf body = BUF_INIT;
	char path[160];
	long st;

	snprintf(path, sizeof(path), "/v1/agents/%s/%s", NODE_A, suffix);
	assert_int_equal(buf_reserve(&body,
	    protobuf_c_message_get_packed_size(m) + 1), 0);
	body.len = protobuf_c_message_pack(m, body.data);
	st = treq(&g, "POST", path, NULL, body.data, body.len, r);
	buf_free(&body);
	return st;
}

/* Registers the vTPM (EK ek, its certificate cert) of VM vm with binding
 * bnd; returns the HTTP status. */
static long
register_vtpm(const char *vm, struct swek *ek, const struct buf *cert,
    const struct buf *bnd, struct treply *r)
{
	Vigil__VtpmRegisterRequest m = VIGIL__VTPM_REGISTER_REQUEST__INIT;
	uint8_t ekb[1024];
	size_t ek_len;

	assert_int_equal(tpm_public_marshal(swek_public(ek), ekb, sizeof(ekb),
	    &ek_len), 0);
	m.vm_id = (char *)vm;
	m.ek_public.data = ekb;
	m.ek_public.len = ek_len;
	m.ek_cert.data = cert->data;
	m.ek_cert.len = cert->len;
	m.ak_public.data = w.vak;
	m.ak_public.len = w.vak_len;
	m.binding.data = bnd->data;
	m.binding.len = bnd->len;
	return post_pb("vtpms", &m.base, r);
}

static void
test_vtpm_with_pse_ek_cert_enrols_and_places_its_vm(void **state)
{
	Vigil__RegisterResponse *res;
	Vigil__VtpmActivateRequest act = VIGIL__VTPM_ACTIVATE_REQUEST__INIT;
	struct vm_placement *pl = NULL;
	struct buf cert = BUF_INIT;
	struct swek *ek = NULL;
	struct treply r;
	struct vm_rec v;
	TPM2B_PUBLIC vp;
	TPM2B_NAME vname;
	char vm[VM_ID_LEN + 1];
	uint8_t secret[64];
	size_t slen = sizeof(secret), n = 0;

	(void)state;
	assert_int_equal(store_vm_create(g.vc.store, "acme", "web", vm), 0);
	/* The vTPM's EK certified by the node's PSE (its platform key). */
	assert_int_equal(swek_new(w.pkey, w.pcert, &ek), 0);
	assert_int_equal(swek_cert_der(ek, &cert), 0);
	assert_int_equal(register_vtpm(vm, ek, &cert, &w.bnd, &r), 200);
	assert_non_null(res = vigil__register_response__unpack(NULL,
	    r.body.len, r.body.data));
	assert_string_equal(res->agent_id, vm);
	treply_free(&r);
	/* The vTPM activates the credential for its AK. */
	assert_int_equal(tpm_public_parse(w.vak, w.vak_len, &vp), 0);
	assert_int_equal(tpm_public_name(&vp, &vname), 0);
	assert_int_equal(makecred_activate_sw(swek_public(ek), swek_key(ek),
	    &vname, res->credential_blob.data, res->credential_blob.len,
	    res->encrypted_secret.data, res->encrypted_secret.len, secret,
	    &slen), 0);
	vigil__register_response__free_unpacked(res, NULL);
	/* A wrong secret first: refused. */
	act.vm_id = vm;
	secret[0] ^= 1;
	act.secret.data = secret;
	act.secret.len = slen;
	assert_int_equal(post_pb("vtpms/activate", &act.base, &r), 403);
	assert_non_null(strstr(treply_detail(&r), "secret does not match"));
	treply_free(&r);
	secret[0] ^= 1;
	assert_int_equal(post_pb("vtpms/activate", &act.base, &r), 200);
	treply_free(&r);
	assert_int_equal(store_vm_get(g.vc.store, vm, "acme", &v), 0);
	assert_int_equal(v.vtpm_state, VM_VTPM_ENROLLED);
	assert_string_equal(v.host_node, NODE_A);
	assert_int_equal(v.ak_pub_len, w.vak_len);
	assert_memory_equal(v.ak_pub, w.vak, w.vak_len);
	vm_rec_free(&v);
	assert_int_equal(store_vm_placements(g.vc.store, vm, &pl, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(pl[0].node_id, NODE_A);
	free(pl);
	swek_free(ek);
	buf_free(&cert);
}

static void
test_vtpm_ek_cert_not_from_a_pse_is_refused(void **state)
{
	struct buf cert = BUF_INIT;
	struct swek *ek = NULL;
	EVP_PKEY *k;
	X509 *c;
	struct treply r;
	char vm[VM_ID_LEN + 1];

	(void)state;
	assert_int_equal(store_vm_create(g.vc.store, "acme", "rogue", vm), 0);
	/* An EK certificate from some other CA. */
	assert_int_equal(swek_test_ca("Some TPM vendor", &k, &c), 0);
	assert_int_equal(swek_new(k, c, &ek), 0);
	assert_int_equal(swek_cert_der(ek, &cert), 0);
	assert_int_equal(register_vtpm(vm, ek, &cert, &w.bnd, &r), 403);
	assert_non_null(strstr(treply_detail(&r), "vTPM EK certificate does not "
	    "chain to a trusted PSE: vTPM EK certificate is not signed by "
	    "the platform key"));
	treply_free(&r);
	swek_free(ek);
	buf_free(&cert);
	EVP_PKEY_free(k);
	X509_free(c);
}

static void
test_vtpm_binding_over_another_ak_is_refused(void **state)
{
	struct buf cert = BUF_INIT, other = BUF_INIT;
	struct swek *ek = NULL;
	struct treply r;
	char vm[VM_ID_LEN + 1];

	(void)state;
	assert_int_equal(store_vm_create(g.vc.store, "acme", "swap", vm), 0);
	assert_int_equal(swek_new(w.pkey, w.pcert, &ek), 0);
	assert_int_equal(swek_cert_der(ek, &cert), 0);
	sign_binding(w.vak, w.vak_len, &other);
	assert_int_equal(register_vtpm(vm, ek, &cert, &other, &r), 403);
	assert_non_null(strstr(treply_detail(&r), "binding is over a different AK"));
	treply_free(&r);
	swek_free(ek);
	buf_free(&cert);
	buf_free(&other);
}

static void
test_vtpm_for_an_unknown_vm_is_404(void **state)
{
	struct buf cert = BUF_INIT;
	struct swek *ek = NULL;
	struct treply r;

	(void)state;
	assert_int_equal(swek_new(w.pkey, w.pcert, &ek), 0);
	assert_int_equal(swek_cert_der(ek, &cert), 0);
	assert_int_equal(register_vtpm("00000000000000000000000000000000", ek,
	    &cert, &w.bnd, &r), 404);
	treply_free(&r);
	swek_free(ek);
	buf_free(&cert);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_vtpm_with_pse_ek_cert_enrols_and_places_its_vm),
		cmocka_unit_test(test_vtpm_ek_cert_not_from_a_pse_is_refused),
		cmocka_unit_test(test_vtpm_binding_over_another_ak_is_refused),
		cmocka_unit_test(test_vtpm_for_an_unknown_vm_is_404),
	};

	return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
