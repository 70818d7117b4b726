/* vigil-vmbench: the verifier's VM-appraisal efficiency (issue 4,
 * `make bench`).
 *
 *   vigil-vmbench [--vms N] [--nodes K] [--seconds S]
 *
 * Builds N valid VM attestations with SOFTWARE keys (common/swquote.h for
 * the vTPM and pTPM AKs, a test platform vendor CA from common/swek.h and
 * a platform key it certifies, enclave/binding.h for the certified-AK
 * binding): K nodes, each with its own pTPM AK and binding; N VMs spread
 * over them, each with its own vTPM AK, nonce, vTPM quote and deep quote.
 * Then, in one thread, it runs appraise_vm over all N, round after round,
 * for at least S CPU-seconds (every result must be affirming), and, in the
 * same run, measures OpenSSL's ECDSA P-256/SHA-256 verifications per
 * CPU-second. A VM appraisal checks three such signatures (vTPM quote,
 * binding, deep quote), so the ceiling is that rate / 3 and the efficiency
 * is VM appraisals per CPU-second / ceiling. (appraise_vm also verifies
 * the binding's certificate chain - one more ECDSA verification by the
 * vendor CA - and parses everything; the ratio counts them as overhead.) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "buf.h"
#include "enclave/binding.h"
#include "enclave/pse_cert.h"
#include "err.h"
#include "log.h"
#include "swek.h"
#include "swquote.h"
#include "tpm_parse.h"
#include "verifier/appraise_vm.h"
#include "verifier/refvals.h"

#define VB_MAX_VMS 100000
#define VB_MAX_NODES 1000
#define VB_SIGS_PER_VM 3

struct vb_node {
	struct swquote *sq;
	uint8_t ak[1024];
	size_t ak_len;
	struct agent_rec rec;
	struct buf bnd;
};

struct vb_vm {
	struct swquote *sq;
	uint8_t ak[1024];
	size_t ak_len;
	struct vm_rec rec;
	uint8_t nonce[32];
	struct buf vq, vs, pq, ps;
	struct appraise_vm_in in;
};

struct vb {
	EVP_PKEY *ca_key, *pkey;
	X509 *ca, *pcert;
	X509_STORE *cas;
	struct buf leaf;
	struct refvals *refs;
	struct pcrs vvals, pvals;
	struct vb_node *nodes;
	size_t n_nodes;
	struct vb_vm *vms;
	size_t n_vms;
};

static double
vb_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
vb_ak(struct swquote **sq, uint8_t *out, size_t cap, size_t *len)
{
	TPM2B_PUBLIC pub;
	int e;

	if ((e = swquote_new(sq)) != 0 ||
	    (e = swquote_ak_public(*sq, &pub)) != 0 ||
	    (e = tpm_public_marshal(&pub, out, cap, len)) != 0)
		log_err("vmbench: software AK: %s", vigil_strerror(e));
	return e;
}

static void
vb_hex_id(const char *what, size_t i, char *out, size_t hexlen)
{
	static const char hx[] = "0123456789abcdef";
	char in[64];
	uint8_t d[32];
	unsigned int n;
	size_t k;

	snprintf(in, sizeof(in), "vigil-vmbench %s %zu", what, i);
	EVP_Digest(in, strlen(in), d, &n, EVP_sha256(), NULL);
	for (k = 0; k < hexlen / 2; k++) {
		out[2 * k] = hx[d[k] >> 4];
		out[2 * k + 1] = hx[d[k] & 15];
	}
	out[hexlen] = '\0';
}

static int
vb_node_init(struct vb *b, size_t i)
{
	struct vb_node *n = &b->nodes[i];
	const uint8_t *chain[1] = { b->leaf.data };
	size_t lens[1] = { b->leaf.len };
	struct binding bd;
	int e;

	if ((e = vb_ak(&n->sq, n->ak, sizeof(n->ak), &n->ak_len)) != 0)
		return e;
	vb_hex_id("node", i, n->rec.id, 64);
	snprintf(n->rec.hostname, sizeof(n->rec.hostname), "bench-%zu", i);
	n->rec.state = AGENT_ACTIVE;
	n->rec.ak_pub = n->ak;
	n->rec.ak_pub_len = n->ak_len;
	if ((e = binding_sign(b->pkey, n->ak, n->ak_len, chain, lens, 1,
	    &bd)) != 0) {
		log_err("vmbench: binding_sign: %s", vigil_strerror(e));
		return e;
	}
	e = binding_marshal(&bd, &n->bnd);
	binding_free(&bd);
	return e;
}

static int
vb_vm_init(struct vb *b, size_t i)
{
	struct vb_vm *v = &b->vms[i];
	struct vb_node *n = &b->nodes[i % b->n_nodes];
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	uint8_t d[32];
	int e;

	if ((e = vb_ak(&v->sq, v->ak, sizeof(v->ak), &v->ak_len)) != 0)
		return e;
	vb_hex_id("vm", i, v->rec.id, VM_ID_LEN);
	snprintf(v->rec.tenant, sizeof(v->rec.tenant), "bench");
	snprintf(v->rec.name, sizeof(v->rec.name), "vm-%zu", i);
	snprintf(v->rec.host_node, sizeof(v->rec.host_node), "%s",
	    n->rec.id);
	v->rec.vtpm_state = VM_VTPM_ENROLLED;
	v->rec.ak_pub = v->ak;
	v->rec.ak_pub_len = v->ak_len;
	if (RAND_bytes(v->nonce, sizeof(v->nonce)) != 1)
		return VIGIL_ECRYPTO;
	if ((e = swquote_make(v->sq, v->nonce, 32, &b->vvals, b->vvals.mask,
	    5000, 3, 0, 1, &v->vq, &v->vs)) != 0 ||
	    (e = tpm_public_parse(v->ak, v->ak_len, &pub)) != 0 ||
	    (e = tpm_public_name(&pub, &name)) != 0 ||
	    (e = binding_deep_quote_data(v->nonce, 32, name.name, name.size,
	    v->rec.id, d)) != 0 ||
	    (e = swquote_make(n->sq, d, 32, &b->pvals, b->pvals.mask, 777, 1,
	    0, 1, &v->pq, &v->ps)) != 0) {
		log_err("vmbench: VM %zu attestation: %s", i,
		    vigil_strerror(e));
		return e;
	}
	v->in.vm = &v->rec;
	v->in.node = &n->rec;
	v->in.node_status = "affirming";
	v->in.node_fresh = 1;
	/* The route reads this from the node's runtime log (vms_handoff);
	 * the simulated node measured its AK hand-off. */
	v->in.handoff = 1;
	v->in.nonce = v->nonce;
	v->in.nonce_len = 32;
	v->in.vquote = v->vq.data;
	v->in.vquote_len = v->vq.len;
	v->in.vsig = v->vs.data;
	v->in.vsig_len = v->vs.len;
	v->in.vpcrs = &b->vvals;
	v->in.binding = n->bnd.data;
	v->in.binding_len = n->bnd.len;
	v->in.pquote = v->pq.data;
	v->in.pquote_len = v->pq.len;
	v->in.psig = v->ps.data;
	v->in.psig_len = v->ps.len;
	v->in.platform_cas = b->cas;
	v->in.guest_refs = b->refs;
	return 0;
}

static int
vb_init(struct vb *b, size_t n_vms, size_t n_nodes)
{
	static const char refs[] = "{\"pcrs\": {\"0\": [\"aaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"], \"4\": "
	    "[\"44444444444444444444444444444444"
	    "44444444444444444444444444444444\"]}}";
	size_t i;
	int e;

	if ((e = swek_test_ca("vigil-vmbench platform vendor CA (bench only)",
	    &b->ca_key, &b->ca)) != 0 ||
	    (b->pkey = EVP_EC_gen("P-256")) == NULL ||
	    (e = pse_cert_issue(PSE_CERT_PLATFORM, b->pkey,
	    "vigil-vmbench platform key", b->ca_key, b->ca, 2,
	    &b->pcert)) != 0 ||
	    (e = pse_cert_der(b->pcert, &b->leaf)) != 0 ||
	    (b->cas = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(b->cas, b->ca) != 1) {
		log_err("vmbench: platform vendor CA and key: %s",
		    vigil_strerror(e != 0 ? e : VIGIL_ECRYPTO));
		return e != 0 ? e : VIGIL_ECRYPTO;
	}
	if ((e = refvals_parse(refs, strlen(refs), &b->refs, NULL, 0)) != 0)
		return e;
	b->vvals.mask = (1u << 0) | (1u << 4) | (1u << 8);
	memset(b->vvals.v[0], 0xaa, 32);
	memset(b->vvals.v[4], 0x44, 32);
	memset(b->vvals.v[8], 0x88, 32);
	b->pvals.mask = PCR_POLICY_MASK;
	if ((b->nodes = calloc(n_nodes, sizeof(*b->nodes))) == NULL ||
	    (b->vms = calloc(n_vms, sizeof(*b->vms))) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < n_nodes; i++, b->n_nodes++)
		if ((e = vb_node_init(b, i)) != 0)
			return e;
	for (i = 0; i < n_vms; i++, b->n_vms++)
		if ((e = vb_vm_init(b, i)) != 0)
			return e;
	return 0;
}

static void
vb_free(struct vb *b)
{
	size_t i;

	for (i = 0; i < b->n_vms; i++) {
		swquote_free(b->vms[i].sq);
		buf_free(&b->vms[i].vq);
		buf_free(&b->vms[i].vs);
		buf_free(&b->vms[i].pq);
		buf_free(&b->vms[i].ps);
	}
	for (i = 0; i < b->n_nodes; i++) {
		swquote_free(b->nodes[i].sq);
		buf_free(&b->nodes[i].bnd);
	}
	free(b->vms);
	free(b->nodes);
	refvals_free(b->refs);
	buf_free(&b->leaf);
	X509_STORE_free(b->cas);
	X509_free(b->pcert);
	X509_free(b->ca);
	EVP_PKEY_free(b->pkey);
	EVP_PKEY_free(b->ca_key);
}

/* VM appraisals per CPU-second over all VMs for at least secs. */
static int
vb_appraise_rate(struct vb *b, double secs, double *rate, long *count,
    double *spent)
{
	struct appraise_vm_out o;
	double t0, t1;
	long n = 0;
	size_t i;
	int e;

	t0 = vb_cpu();
	do {
		for (i = 0; i < b->n_vms; i++) {
			if ((e = appraise_vm(&b->vms[i].in, &o)) != 0)
				return e;
			if (o.status != EAR_TIER_AFFIRMING) {
				char j[512];

				ear_reasons_join(&o.host, j, sizeof(j));
				log_err("vmbench: VM %zu not affirming: "
				    "host: %s", i, j);
				ear_reasons_join(&o.guest, j, sizeof(j));
				log_err("vmbench: VM %zu guest: %s", i, j);
				return VIGIL_EVERIFY;
			}
			n++;
		}
		t1 = vb_cpu();
	} while (t1 - t0 < secs);
	*count = n;
	*spent = t1 - t0;
	*rate = (double)n / (t1 - t0);
	return 0;
}

/* For the breakdown: binding_parse + binding_verify (the chain to the
 * vendor CA and the binding signature) per CPU-second, over the nodes'
 * bindings, for at least secs. */
static int
vb_binding_rate(struct vb *b, double secs, double *rate)
{
	struct binding bd;
	const char *why = NULL;
	double t0, t1;
	long n = 0;
	size_t i;

	t0 = vb_cpu();
	do {
		for (i = 0; i < b->n_nodes; i++) {
			if (binding_parse(b->nodes[i].bnd.data,
			    b->nodes[i].bnd.len, &bd) != 0)
				return VIGIL_EVERIFY;
			if (binding_verify(&bd, b->cas, NULL, &why) != 0) {
				binding_free(&bd);
				log_err("vmbench: binding: %s", why);
				return VIGIL_EVERIFY;
			}
			binding_free(&bd);
			n++;
		}
		t1 = vb_cpu();
	} while (t1 - t0 < secs);
	*rate = (double)n / (t1 - t0);
	return 0;
}

/* OpenSSL ECDSA P-256/SHA-256 verifications per CPU-second over a message
 * the size of a quote, for at least secs. */
static int
vb_openssl_rate(double secs, double *rate)
{
	uint8_t msg[145], sig[80];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_PKEY *k = EVP_EC_gen("P-256");
	double t0, t1 = 0;
	long n = 0;
	int e = VIGIL_ECRYPTO;

	if (c == NULL || k == NULL || RAND_bytes(msg, sizeof(msg)) != 1 ||
	    EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(c, sig, &siglen, msg, sizeof(msg)) != 1)
		goto out;
	t0 = vb_cpu();
	do {
		EVP_MD_CTX_reset(c);
		if (EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestVerify(c, sig, siglen, msg, sizeof(msg)) != 1)
			goto out;
		n++;
		t1 = vb_cpu();
	} while (t1 - t0 < secs);
	*rate = (double)n / (t1 - t0);
	e = 0;
 out:
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return e;
}

static int
vb_count(const char *s, long max, long *out)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > max)
		return VIGIL_EINVAL;
	*out = v;
	return 0;
}

static void
vb_usage(void)
{
	fprintf(stderr,
"usage: vigil-vmbench [--vms N] [--nodes K] [--seconds S]\n"
"VM appraisals (appraise_vm, software keys, NOT TPMs) per CPU-second,\n"
"against OpenSSL's ECDSA P-256 verifications per CPU-second / 3.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vms", required_argument, NULL, 'v' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vb b;
	long vms = 200, nodes = 8, secs = 3, count = 0;
	double vrate = 0, orate = 0, brate = 0, spent = 0, ceiling;
	int c, e, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((c == 'v' && vb_count(optarg, VB_MAX_VMS, &vms) == 0) ||
		    (c == 'n' && vb_count(optarg, VB_MAX_NODES, &nodes) ==
		    0) || (c == 's' && vb_count(optarg, 600, &secs) == 0))
			continue;
		vb_usage();
		return c == 'h' ? 0 : 2;
	}
	if (optind != argc) {
		vb_usage();
		return 2;
	}
	memset(&b, 0, sizeof(b));
	if ((e = vb_init(&b, (size_t)vms, (size_t)nodes)) != 0) {
		fprintf(stderr, "vigil-vmbench: setup failed: %s\n",
		    vigil_strerror(e));
		goto out;
	}
	if ((e = vb_appraise_rate(&b, (double)secs, &vrate, &count,
	    &spent)) != 0) {
		fprintf(stderr, "vigil-vmbench: appraisal failed: %s\n",
		    vigil_strerror(e));
		goto out;
	}
	if ((e = vb_openssl_rate((double)secs, &orate)) != 0) {
		fprintf(stderr, "vigil-vmbench: OpenSSL verify failed\n");
		goto out;
	}
	if ((e = vb_binding_rate(&b, (double)secs / 2, &brate)) != 0) {
		fprintf(stderr, "vigil-vmbench: binding verify failed\n");
		goto out;
	}
	ceiling = orate / VB_SIGS_PER_VM;
	printf("vm appraisals: %ld VMs on %ld nodes, %ld appraisals (all "
	    "affirming) in %.2f CPU-s: %.0f per CPU-second\n", vms, nodes,
	    count, spent, vrate);
	printf("openssl ECDSA P-256 verify: %.0f per CPU-second; / %d "
	    "signatures per VM appraisal = %.0f VM appraisals per "
	    "CPU-second\n", orate, VB_SIGS_PER_VM, ceiling);
	printf("efficiency: %.2f (VM appraisals per CPU-second / OpenSSL "
	    "ceiling)\n", vrate / ceiling);
	printf("breakdown: binding parse + verify (chain to the vendor CA and "
	    "signature) %.0f per CPU-second = %.0f%% of a VM appraisal's "
	    "CPU\n", brate, 100.0 * vrate / brate);
	rc = 0;
 out:
	vb_free(&b);
	return rc;
}
