/* The agent's vTPM manager (agent/vtpm.h) with real swtpm vTPMs and a PSE
 * served in-process with test keys (enclave/pse_server.h): the vTPM's EK
 * certificate chains through the PSE's platform key to the vendor CA; it
 * boots and quotes; its state, migrated through a migration blob and the
 * MigE, starts in a new swtpm whose quotes verify with the same AK. Needs
 * swtpm: skipped without VIGIL_TEST_TCTI (tests/run.sh sets it when swtpm
 * is there). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/tpm.h"
#include "agent/vtpm.h"
#include "enclave/binding.h"
#include "enclave/migblob.h"
#include "enclave/pse_cert.h"
#include "enclave/pse_msg.h"
#include "enclave/pse_server.h"
#include "err.h"
#include "evlog.h"
#include "log.h"
#include "swek.h"
#include "tpm_parse.h"

struct fx {
	char root[64], sock[128], vm1[128], vm2[128], fw[128], kernel[128];
	EVP_PKEY *ca_key;
	X509 *ca;
	X509_STORE *store;
	struct pse_server pse;
	pthread_t thr;
	int lfd;
	volatile sig_atomic_t stop;
};

static void *
pse_thread(void *arg)
{
	struct fx *f = arg;
	struct pollfd p;
	int c;

	while (!f->stop) {
		p.fd = f->lfd;
		p.events = POLLIN;
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((c = accept(f->lfd, NULL, NULL)) < 0)
			continue;
		pse_server_conn(&f->pse, c, &f->stop);
		close(c);
	}
	return NULL;
}

static void
write_file(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(s, fp);
	fclose(fp);
}

static int
setup(void **state)
{
	struct fx *f;
	struct tpm *t = NULL;
	X509 *pc = NULL;

	if (getenv("VIGIL_TEST_TCTI") == NULL) {
		*state = NULL;
		return 0;
	}
	assert_non_null(f = calloc(1, sizeof(*f)));
	snprintf(f->root, sizeof(f->root), "/tmp/vigil-vtpm.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->sock, sizeof(f->sock), "%s/psed.sock", f->root);
	snprintf(f->vm1, sizeof(f->vm1), "%s/vm-1", f->root);
	snprintf(f->vm2, sizeof(f->vm2), "%s/vm-1-target", f->root);
	snprintf(f->fw, sizeof(f->fw), "%s/guest-fw", f->root);
	snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinuz", f->root);
	write_file(f->fw, "guest firmware image");
	write_file(f->kernel, "guest kernel image");
	/* The PSE: vendor CA, platform key and certificate, transport key,
	 * and an "MSR". */
	assert_int_equal(swek_test_ca("Test platform vendor CA", &f->ca_key,
	    &f->ca), 0);
	assert_non_null(f->store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(f->store, f->ca), 1);
	assert_non_null(f->pse.pkey = EVP_EC_gen("P-256"));
	assert_non_null(f->pse.tkey = EVP_EC_gen("P-256"));
	assert_int_equal(pse_cert_issue(PSE_CERT_PLATFORM, f->pse.pkey,
	    "test platform", f->ca_key, f->ca, 30, &pc), 0);
	assert_int_equal(pse_cert_der(pc, &f->pse.pcert_der), 0);
	X509_free(pc);
	/* The MSR holds the pTPM's AK, as the boot step would leave it. */
	assert_int_equal(tpm_open(getenv("VIGIL_TEST_TCTI"), &t), 0);
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &f->pse.msr), 0);
	tpm_close(t);
	f->pse.allow[f->pse.n_allow++] = getuid();
	assert_int_equal(pse_server_ready(&f->pse), 0);
	assert_int_equal(pse_server_listen(f->sock, &f->lfd), 0);
	assert_int_equal(pthread_create(&f->thr, NULL, pse_thread, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	if (f == NULL)
		return 0;
	f->stop = 1;
	pthread_join(f->thr, NULL);
	close(f->lfd);
	vtpm_destroy(f->vm1);
	vtpm_destroy(f->vm2);
	unlink(f->sock);
	unlink(f->fw);
	unlink(f->kernel);
	snprintf(p, sizeof(p), "%s", f->root);
	rmdir(p);
	pse_server_free(&f->pse);
	EVP_PKEY_free(f->ca_key);
	X509_free(f->ca);
	X509_STORE_free(f->store);
	free(f);
	return 0;
}

#define NEED_SWTPM(f) do { if ((f) == NULL) { skip(); return; } } while (0)

/* The binding the PSE would hand out, for its certificate chain. */
static void
pse_binding(struct fx *f, struct binding *b)
{
	const uint8_t *chain[1] = { f->pse.pcert_der.data };
	size_t lens[1] = { f->pse.pcert_der.len };

	assert_int_equal(binding_sign(f->pse.pkey, f->pse.msr.data,
	    f->pse.msr.len, chain, lens, 1, b), 0);
}

static void
quote_verifies(const char *dir, const struct buf *ak_pub)
{
	struct buf attest = BUF_INIT, sig = BUF_INIT;
	uint8_t nonce[20] = "vtpm-test-nonce-0001";
	TPM2B_PUBLIC ak;
	struct quote q;
	struct pcrs vals;
	const char *why = NULL;

	assert_int_equal(vtpm_quote(dir, nonce, sizeof(nonce), PCR_POLICY_MASK,
	    &attest, &sig, &vals), 0);
	assert_int_equal(tpm_public_parse(ak_pub->data, ak_pub->len, &ak), 0);
	assert_int_equal(quote_parse(attest.data, attest.len, sig.data,
	    sig.len, &q, &why), 0);
	assert_int_equal(quote_verify_sig(&q, &ak, &why), 0);
	assert_int_equal(q.attest.extraData.size, sizeof(nonce));
	assert_memory_equal(q.attest.extraData.buffer, nonce, sizeof(nonce));
	buf_free(&attest);
	buf_free(&sig);
}

static void
test_vtpm_create_refuses_bad_vm_id_and_existing_dir(void **state)
{
	struct fx *f = *state;

	NEED_SWTPM(f);
	assert_int_equal(vtpm_create("../x", f->vm2, f->sock), VIGIL_EINVAL);
	assert_int_equal(vtpm_create("vm-1", f->root, f->sock), VIGIL_EEXIST);
}

static void
test_vtpm_ek_cert_chains_through_pse_to_vendor_ca(void **state)
{
	struct fx *f = *state;
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct binding b;
	struct vtpm_status st;
	TPM2B_PUBLIC akp;
	const char *why = NULL;

	NEED_SWTPM(f);
	assert_int_equal(vtpm_create("vm-1", f->vm1, f->sock), 0);
	assert_int_equal(vtpm_status(f->vm1, &st), 0);
	assert_true(st.running);
	assert_int_equal(vtpm_identity(f->vm1, &ek, &cert, &ak), 0);
	pse_binding(f, &b);
	assert_int_equal(binding_verify_ek_cert(&b, f->store, cert.data,
	    cert.len, ek.data, ek.len, &why), 0);
	assert_int_equal(tpm_public_parse(ak.data, ak.len, &akp), 0);
	assert_int_equal(tpm_ak_check(&akp, &why), 0);
	binding_free(&b);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
}

static void
test_vtpm_boot_extends_guest_log_and_quotes(void **state)
{
	struct fx *f = *state;
	struct vtpm_guest g = { f->fw, f->kernel, "console=ttyS0" };
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct buf attest = BUF_INIT, sig = BUF_INIT;
	uint8_t replay[PCR_COUNT][SHA256_LEN];
	struct evlog *log = NULL;
	struct pcrs vals;
	uint32_t touched;
	char lp[200];
	uint8_t *raw;
	size_t len;
	int i;

	NEED_SWTPM(f);
	if (access(f->vm1, F_OK) != 0)	/* run alone */
		assert_int_equal(vtpm_create("vm-1", f->vm1, f->sock), 0);
	assert_int_equal(vtpm_boot(f->vm1, &g), 0);
	assert_int_equal(vtpm_boot(f->vm1, &g), VIGIL_EEXIST);
	assert_int_equal(vtpm_identity(f->vm1, &ek, &cert, &ak), 0);
	quote_verifies(f->vm1, &ak);
	/* The guest log replays to the vTPM's PCRs. */
	assert_int_equal(vtpm_quote(f->vm1, (const uint8_t *)"n", 1,
	    0x1ffu, &attest, &sig, &vals), 0);
	snprintf(lp, sizeof(lp), "%s/guest.evlog", f->vm1);
	assert_int_equal(file_read(lp, 1 << 20, &raw, &len), 0);
	assert_int_equal(evlog_parse(raw, len, &log), 0);
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, replay, &touched), 0);
	assert_int_equal(touched, 0x1ffu);
	for (i = 0; i <= 8; i++)
		assert_memory_equal(replay[i], vals.v[i], SHA256_LEN);
	evlog_free(log);
	free(raw);
	buf_free(&attest);
	buf_free(&sig);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
}

static void
test_vtpm_attest_deep_quote_vouches_for_this_vtpm(void **state)
{
	struct fx *f = *state;
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct vtpm_attestation a;
	uint8_t nonce[16] = "deep-quote-nonce", deep[32];
	TPM2B_PUBLIC vak, pak;
	TPM2B_NAME name;
	struct binding b;
	struct quote q;
	const char *why = NULL;

	NEED_SWTPM(f);
	if (access(f->vm1, F_OK) != 0)
		assert_int_equal(vtpm_create("vm-1", f->vm1, f->sock), 0);
	assert_int_equal(vtpm_start(f->vm1), 0);
	assert_int_equal(vtpm_identity(f->vm1, &ek, &cert, &ak), 0);
	assert_int_equal(vtpm_attest(f->vm1, "vm-1", f->sock,
	    getenv("VIGIL_TEST_TCTI"), nonce, sizeof(nonce), PCR_POLICY_MASK,
	    PCR_POLICY_MASK, &a), 0);
	/* vTPM quote: by the vTPM's AK, over the verifier's nonce. */
	assert_int_equal(tpm_public_parse(ak.data, ak.len, &vak), 0);
	assert_int_equal(quote_parse(a.v_attest.data, a.v_attest.len,
	    a.v_sig.data, a.v_sig.len, &q, &why), 0);
	assert_int_equal(quote_verify_sig(&q, &vak, &why), 0);
	assert_memory_equal(q.attest.extraData.buffer, nonce, sizeof(nonce));
	/* Binding: trusted, over the pTPM's AK. */
	assert_int_equal(binding_parse(a.binding.data, a.binding.len, &b), 0);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why), 0);
	assert_int_equal(binding_check_ak(&b, f->pse.msr.data, f->pse.msr.len,
	    &why), 0);
	/* Deep quote: by the pTPM's AK, over SHA-256(nonce||name||vm id). */
	assert_int_equal(tpm_public_parse(f->pse.msr.data, f->pse.msr.len,
	    &pak), 0);
	assert_int_equal(quote_parse(a.p_attest.data, a.p_attest.len,
	    a.p_sig.data, a.p_sig.len, &q, &why), 0);
	assert_int_equal(quote_verify_sig(&q, &pak, &why), 0);
	assert_int_equal(tpm_public_name(&vak, &name), 0);
	assert_int_equal(binding_deep_quote_data(nonce, sizeof(nonce),
	    name.name, name.size, "vm-1", deep), 0);
	assert_int_equal(q.attest.extraData.size, sizeof(deep));
	assert_memory_equal(q.attest.extraData.buffer, deep, sizeof(deep));
	/* ... which a deep quote for another VM would not match. */
	assert_int_equal(binding_deep_quote_data(nonce, sizeof(nonce),
	    name.name, name.size, "vm-2", deep), 0);
	assert_memory_not_equal(q.attest.extraData.buffer, deep, sizeof(deep));
	binding_free(&b);
	vtpm_attestation_free(&a);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
}

static void
test_vtpm_state_migrates_through_mige_with_same_ak(void **state)
{
	struct fx *f = *state;
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct buf ek2 = BUF_INIT, cert2 = BUF_INIT, ak2 = BUF_INIT;
	struct buf st = BUF_INIT, blob = BUF_INIT, bind = BUF_INIT;
	struct vtpm_guest g = { f->fw, f->kernel, NULL };
	struct pse_msg req, rep;
	struct binding b;
	struct buf raw = BUF_INIT;
	const char *why = NULL;

	NEED_SWTPM(f);
	if (access(f->vm1, F_OK) != 0)
		assert_int_equal(vtpm_create("vm-1", f->vm1, f->sock), 0);
	assert_int_equal(vtpm_identity(f->vm1, &ek, &cert, &ak), 0);
	assert_int_equal(vtpm_state_export(f->vm1, &st), VIGIL_EEXIST);
	/* The target's transport key, checked as the source would. */
	memset(&req, 0, sizeof(req));
	req.type = PSE_MIG_TRANSPORT_KEY;
	assert_int_equal(pse_msg_call(f->sock, &req, &rep, &raw), 0);
	assert_int_equal(rep.status, PSE_ST_OK);
	assert_int_equal(pse_transport_verify(f->pse.pkey, rep.platform_id.p,
	    rep.transport_pub.p, rep.transport_pub.len, rep.sig.p,
	    rep.sig.len), 0);
	/* Source: stop, export, seal to it. */
	assert_int_equal(vtpm_migrate_out(f->vm1, "vm-1", "node-a",
	    rep.transport_pub.p, rep.transport_pub.len, &blob), 0);
	buf_free(&raw);
	/* Target: the MigE refuses a blob from another source ... */
	assert_int_equal(vtpm_migrate_in(f->vm2, "vm-1", "node-b", f->sock,
	    blob.data, blob.len, &bind), VIGIL_EVERIFY);
	assert_int_equal(bind.len, 0);
	/* ... opens the real one and hands over its binding. */
	assert_int_equal(vtpm_migrate_in(f->vm2, "vm-1", "node-a", f->sock,
	    blob.data, blob.len, &bind), 0);
	assert_int_equal(binding_parse(bind.data, bind.len, &b), 0);
	assert_int_equal(binding_verify(&b, f->store, NULL, &why), 0);
	assert_int_equal(vtpm_identity(f->vm2, &ek2, &cert2, &ak2), 0);
	assert_int_equal(ak2.len, ak.len);
	assert_memory_equal(ak2.data, ak.data, ak.len);
	assert_int_equal(cert2.len, cert.len);
	assert_memory_equal(cert2.data, cert.data, cert.len);
	assert_int_equal(vtpm_boot(f->vm2, &g), 0);
	quote_verifies(f->vm2, &ak);
	/* The source deletes its copy. */
	assert_int_equal(vtpm_destroy(f->vm1), 0);
	assert_int_not_equal(access(f->vm1, F_OK), 0);
	binding_free(&b);
	buf_free(&st);
	buf_free(&blob);
	buf_free(&bind);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
	buf_free(&ek2);
	buf_free(&cert2);
	buf_free(&ak2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vtpm_create_refuses_bad_vm_id_and_existing_dir),
		cmocka_unit_test(test_vtpm_ek_cert_chains_through_pse_to_vendor_ca),
		cmocka_unit_test(test_vtpm_boot_extends_guest_log_and_quotes),
		cmocka_unit_test(test_vtpm_attest_deep_quote_vouches_for_this_vtpm),
		cmocka_unit_test(test_vtpm_state_migrates_through_mige_with_same_ak),
	};

	log_init("test_vtpm", LOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
