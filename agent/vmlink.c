/* The agent's VM exchange with the verifier (vmlink.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest.h"
#include "buf.h"
#include "enclave/pse_msg.h"
#include "err.h"
#include "log.h"
#include "pcrs.h"
#include "push.h"
#include "spool.h"
#include "tpm.h"
#include "vmlink.h"

#define VMLINK_BLOB_MAX		(2u * 1024 * 1024)
#define VMLINK_SPEC_MAX		4096u

const char *
vmlink_vtpm_root(void)
{
	const char *s = getenv("VIGIL_VTPM_DIR");

	return s != NULL && s[0] != '\0' ? s : "/var/lib/vigil/vtpm";
}

const char *
vmlink_pse_socket(void)
{
	const char *s = getenv("VIGIL_PSE_SOCKET");

	return s != NULL && s[0] != '\0' ? s : "/run/vigil/psed.sock";
}

static int
vmlink_dir(const char *vm_id, char out[VTPM_MAX_PATH])
{
	if (vm_id == NULL ||
	    !pse_msg_id_valid((const uint8_t *)vm_id, strlen(vm_id)) ||
	    snprintf(out, VTPM_MAX_PATH, "%s/%s", vmlink_vtpm_root(), vm_id) >=
	    (int)VTPM_MAX_PATH)
		return VIGIL_EINVAL;
	return 0;
}

/* ---- the guest spec ---- */

int
vmlink_guest_save(const char *dir, const struct vtpm_guest *g)
{
	char path[VTPM_MAX_PATH + 32], spec[VMLINK_SPEC_MAX];
	int n;

	if (g->firmware == NULL || g->kernel == NULL)
		return 0;
	n = snprintf(spec, sizeof(spec), "firmware %s\nkernel %s\n%s%s%s",
	    g->firmware, g->kernel, g->cmdline ? "cmdline " : "",
	    g->cmdline ? g->cmdline : "", g->cmdline ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(spec) ||
	    snprintf(path, sizeof(path), "%s/state/%s", dir,
	    VMLINK_GUEST_FILE) >= (int)sizeof(path))
		return VIGIL_ETOOBIG;
	return file_write_atomic(path, spec, (size_t)n);
}

/* Boots the guest again from DIR/state/VMLINK_GUEST_FILE, if there is
 * one (after an import: the vTPM restarted with cleared PCRs). */
static int
vmlink_guest_reboot(const char *dir)
{
	char path[VTPM_MAX_PATH + 32], *fw = NULL, *k = NULL, *c = NULL;
	char *line, *save = NULL, *text = NULL;
	struct vtpm_guest g;
	struct stat sb;
	uint8_t *raw = NULL;
	size_t len = 0;
	int e;

	snprintf(path, sizeof(path), "%s/state/%s", dir, VMLINK_GUEST_FILE);
	if (access(path, F_OK) != 0)
		return 0;
	if ((e = file_read(path, VMLINK_SPEC_MAX, &raw, &len)) != 0)
		return e;
	if ((text = calloc(1, len + 1)) == NULL) {
		free(raw);
		return VIGIL_ENOMEM;
	}
	memcpy(text, raw, len);
	free(raw);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "firmware ", 9) == 0)
			fw = line + 9;
		else if (strncmp(line, "kernel ", 7) == 0)
			k = line + 7;
		else if (strncmp(line, "cmdline ", 8) == 0)
			c = line + 8;
	}
	e = 0;
	/* The spec came with the state: only regular files are measured. */
	if (fw != NULL && k != NULL && (stat(fw, &sb) != 0 ||
	    !S_ISREG(sb.st_mode) || stat(k, &sb) != 0 ||
	    !S_ISREG(sb.st_mode))) {
		log_warn("vm: %s: guest firmware or kernel is not a regular "
		    "file here; guest not booted", path);
	} else if (fw != NULL && k != NULL) {
		g.firmware = fw;
		g.kernel = k;
		g.cmdline = c;
		e = vtpm_boot(dir, &g);
	} else {
		log_warn("vm: %s: guest spec incomplete, guest not booted",
		    path);
	}
	free(text);
	return e;
}

/* ---- push loop ---- */

static int
vmlink_pcr_list(const struct pcrs *v, Vigil__PcrValue **vals,
    Vigil__PcrValue ***ptrs, size_t *n)
{
	Vigil__PcrValue *a;
	Vigil__PcrValue **p;
	size_t i, k = 0;

	*vals = NULL;
	*ptrs = NULL;
	*n = 0;
	if ((a = calloc(PCR_COUNT, sizeof(*a))) == NULL ||
	    (p = calloc(PCR_COUNT, sizeof(*p))) == NULL) {
		free(a);
		return VIGIL_ENOMEM;
	}
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(v->mask & (1u << i)))
			continue;
		vigil__pcr_value__init(&a[k]);
		a[k].index = (uint32_t)i;
		a[k].digest.data = (uint8_t *)v->v[i];
		a[k].digest.len = SHA256_LEN;
		p[k] = &a[k];
		k++;
	}
	*vals = a;
	*ptrs = p;
	*n = k;
	return 0;
}

/* The nonces answered lately: a request the verifier sends again (its
 * answer refused, or not yet seen) is not answered twice. The push loop is
 * the only caller. */
#define VMLINK_ANSWERED 32
static uint8_t vmlink_answered[VMLINK_ANSWERED][64];
static size_t vmlink_answered_len[VMLINK_ANSWERED];
static size_t vmlink_answered_next;

static int
vmlink_seen(const ProtobufCBinaryData *nonce)
{
	size_t i;

	for (i = 0; i < VMLINK_ANSWERED; i++)
		if (vmlink_answered_len[i] == nonce->len &&
		    memcmp(vmlink_answered[i], nonce->data, nonce->len) == 0)
			return 1;
	return 0;
}

static void
vmlink_remember(const ProtobufCBinaryData *nonce)
{
	size_t k = vmlink_answered_next++ % VMLINK_ANSWERED;

	memcpy(vmlink_answered[k], nonce->data, nonce->len);
	vmlink_answered_len[k] = nonce->len;
}

/* One attestation request: the attestation, spooled. */
static int
vmlink_attest(const struct agent_config *cfg, struct spool *spool,
    const Vigil__VmAttestRequest *q)
{
	Vigil__VmAttestation m = VIGIL__VM_ATTESTATION__INIT;
	Vigil__PcrValue *va = NULL, *pa = NULL, **vp = NULL, **pp = NULL;
	struct vtpm_attestation at;
	char dir[VTPM_MAX_PATH];
	struct buf body = BUF_INIT;
	uint64_t seq = 0;
	size_t nv = 0, np = 0;
	int e;

	memset(&at, 0, sizeof(at));
	if ((e = vmlink_dir(q->vm_id, dir)) != 0 || q->nonce.len == 0 ||
	    q->nonce.len > 64) {
		log_warn("vm: attestation request refused: bad VM id or "
		    "nonce");
		return VIGIL_EINVAL;
	}
	if (vmlink_seen(&q->nonce))
		return VIGIL_EEXIST;	/* answered already */
	if (access(dir, F_OK) != 0) {
		log_warn("vm %s: attestation requested but its vTPM is not on "
		    "this node", q->vm_id);
		return VIGIL_ENOTFOUND;
	}
	if ((e = vtpm_attest(dir, q->vm_id, vmlink_pse_socket(), cfg->tcti,
	    q->nonce.data, q->nonce.len, VMLINK_VTPM_MASK, PCR_POLICY_MASK,
	    &at)) != 0)
		goto out;
	if ((e = vmlink_pcr_list(&at.v_vals, &va, &vp, &nv)) != 0 ||
	    (e = vmlink_pcr_list(&at.p_vals, &pa, &pp, &np)) != 0)
		goto out;
	m.vm_id = q->vm_id;
	m.nonce = q->nonce;
	m.vtpm_quote.data = at.v_attest.data;
	m.vtpm_quote.len = at.v_attest.len;
	m.vtpm_signature.data = at.v_sig.data;
	m.vtpm_signature.len = at.v_sig.len;
	m.n_vtpm_pcrs = nv;
	m.vtpm_pcrs = vp;
	m.binding.data = at.binding.data;
	m.binding.len = at.binding.len;
	m.deep_quote.data = at.p_attest.data;
	m.deep_quote.len = at.p_attest.len;
	m.deep_signature.data = at.p_sig.data;
	m.deep_signature.len = at.p_sig.len;
	m.n_deep_pcrs = np;
	m.deep_pcrs = pp;
	if ((e = buf_reserve(&body,
	    vigil__vm_attestation__get_packed_size(&m))) != 0)
		goto out;
	body.len = vigil__vm_attestation__pack(&m, body.data);
	if ((e = spool_put(spool, VIGIL__ITEM_KIND__ITEM_VM_ATTESTATION,
	    body.data, body.len, &seq)) != 0)
		goto out;
	vmlink_remember(&q->nonce);
	log_info("vm %s: attestation spooled (seq %llu)", q->vm_id,
	    (unsigned long long)seq);
 out:
	if (e != 0)
		log_err("vm %s: attestation failed: %s", q->vm_id,
		    vigil_strerror(e));
	vtpm_attestation_free(&at);
	free(va);
	free(vp);
	free(pa);
	free(pp);
	buf_free(&body);
	return e;
}

/* A migration blob for this node's MigE: imported, its vTPM started and
 * its guest booted again. A vTPM already running here is left alone. */
static int
vmlink_import(const char *agent_id, const Vigil__VmMigration *m)
{
	struct vtpm_status st;
	struct buf bnd = BUF_INIT;
	char dir[VTPM_MAX_PATH];
	int e;

	if ((e = vmlink_dir(m->vm_id, dir)) != 0 ||
	    !pse_msg_id_valid((const uint8_t *)m->source_node,
	    strlen(m->source_node)) || m->blob.len == 0 ||
	    m->blob.len > VMLINK_BLOB_MAX ||
	    strcmp(m->target_node, agent_id) != 0) {
		log_warn("vm: migration blob refused: bad VM id, source, "
		    "target or size");
		return VIGIL_EINVAL;
	}
	if (vtpm_status(dir, &st) == 0 && st.running)
		return 0;
	if ((e = vtpm_migrate_in(dir, m->vm_id, m->source_node,
	    vmlink_pse_socket(), m->blob.data, m->blob.len, &bnd)) != 0 ||
	    (e = vmlink_guest_reboot(dir)) != 0)
		goto out;
	log_info("vm %s: migrated in from node %.16s: vTPM running here",
	    m->vm_id, m->source_node);
 out:
	if (e != 0)
		log_err("vm %s: import failed: %s", m->vm_id,
		    vigil_strerror(e));
	buf_free(&bnd);
	return e;
}

int
vmlink_deliver(const struct agent_config *cfg, struct spool *spool,
    const char *agent_id, const Vigil__EvidenceReply *r)
{
	char dir[VTPM_MAX_PATH];
	size_t i;
	int n = 0;

	for (i = 0; i < r->n_vm_migrations; i++)
		(void)vmlink_import(agent_id, r->vm_migrations[i]);
	for (i = 0; i < r->n_vm_attest; i++)
		if (vmlink_attest(cfg, spool, r->vm_attest[i]) == 0)
			n++;
	for (i = 0; i < r->n_vm_released; i++) {
		if (vmlink_dir(r->vm_released[i], dir) != 0 ||
		    access(dir, F_OK) != 0)
			continue;
		if (vtpm_destroy(dir) == 0)
			log_info("vm %s: migration confirmed on the target; "
			    "local vTPM state deleted", r->vm_released[i]);
	}
	return n;
}

/* ---- `vm start` / `vm migrate`: the agent's identity ---- */

struct vmlink_ctx {
	struct agent_config cfg;
	struct push *push;
	char agent_id[65];
};

static int
vmlink_open(const char *config_path, struct vmlink_ctx *c)
{
	char err[256], kpath[1100], cpath[1100];
	struct spool *sp = NULL;
	int e;

	memset(c, 0, sizeof(*c));
	if (config_path == NULL)
		config_path = getenv("VIGIL_AGENT_CONFIG");
	if (config_path == NULL || config_path[0] == '\0')
		config_path = AGENT_CONFIG_DEFAULT;
	if ((e = agent_config_load(config_path, &c->cfg, err,
	    sizeof(err))) != 0) {
		log_err("vm: agent config %s: %s", config_path, err);
		return e;
	}
	if ((e = spool_open(c->cfg.state_dir, c->cfg.spool_max_items,
	    &sp)) != 0)
		return e;
	e = spool_meta_get(sp, "agent_id", c->agent_id, sizeof(c->agent_id));
	spool_close(sp);
	if (e != 0 || strlen(c->agent_id) != 64) {
		log_err("vm: the agent is not enrolled yet (no agent id in %s)",
		    c->cfg.state_dir);
		return VIGIL_ENOTFOUND;
	}
	snprintf(kpath, sizeof(kpath), "%s/%s", c->cfg.state_dir,
	    ATTEST_KEY_FILE);
	snprintf(cpath, sizeof(cpath), "%s/%s", c->cfg.state_dir,
	    ATTEST_CERT_FILE);
	if ((e = push_new(c->cfg.verifier_url, &c->push)) != 0)
		return e;
	if (c->cfg.verifier_ca[0] != '\0' &&
	    (e = push_set_ca(c->push, c->cfg.verifier_ca)) != 0)
		return e;
	if (access(cpath, R_OK) == 0 && access(kpath, R_OK) == 0 &&
	    (e = push_set_client_cert(c->push, cpath, kpath)) != 0)
		return e;
	return 0;
}

static void
vmlink_close(struct vmlink_ctx *c)
{
	push_free(c->push);
	c->push = NULL;
}

/* POSTs a message to /v1/agents/{id}/SUFFIX; 0 only for a 2xx reply. */
static int
vmlink_post(struct vmlink_ctx *c, const char *suffix,
    const ProtobufCMessage *m, struct push_reply *rep, const char *what)
{
	struct buf body = BUF_INIT;
	char path[160], d[800];
	int e;

	memset(rep, 0, sizeof(*rep));
	snprintf(path, sizeof(path), "/v1/agents/%s/%s", c->agent_id, suffix);
	if ((e = buf_reserve(&body,
	    protobuf_c_message_get_packed_size(m) + 1)) != 0)
		return e;
	body.len = protobuf_c_message_pack(m, body.data);
	e = push_post(c->push, path, body.data, body.len, rep);
	buf_free(&body);
	if (e != 0) {
		log_err("vm: %s: verifier unreachable", what);
		return e;
	}
	if (rep->status < 200 || rep->status > 299) {
		push_reply_describe(rep, d, sizeof(d));
		log_err("vm: %s: refused by verifier: %s", what, d);
		fprintf(stderr, "vigil-agent vm: %s refused: %s\n", what, d);
		return VIGIL_EDENIED;
	}
	return 0;
}

/* The local PSE's binding (its chain certifies the vTPM's EK). */
static int
vmlink_binding(const char *pse_socket, struct buf *out)
{
	struct pse_msg req, rep;
	struct buf raw = BUF_INIT;
	int e;

	memset(&req, 0, sizeof(req));
	req.type = PSE_CERTIFY_AK;
	if ((e = pse_msg_call(pse_socket, &req, &rep, &raw)) == 0)
		e = rep.status != PSE_ST_OK ? VIGIL_EDENIED :
		    buf_add(out, rep.binding.p, rep.binding.len);
	buf_free(&raw);
	return e;
}

int
vmlink_enrol(const char *config_path, const char *vm_id, const char *dir,
    const char *pse_socket)
{
	Vigil__VtpmRegisterRequest reg = VIGIL__VTPM_REGISTER_REQUEST__INIT;
	Vigil__VtpmActivateRequest act = VIGIL__VTPM_ACTIVATE_REQUEST__INIT;
	Vigil__RegisterResponse *res = NULL;
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct buf bnd = BUF_INIT, secret = BUF_INIT;
	struct push_reply rep, rep2;
	struct vtpm_status st;
	struct vmlink_ctx c;
	struct tpm *t = NULL;
	int e;

	memset(&rep, 0, sizeof(rep));
	memset(&rep2, 0, sizeof(rep2));
	if ((e = vmlink_open(config_path, &c)) != 0)
		goto out;
	if ((e = vtpm_identity(dir, &ek, &cert, &ak)) != 0 ||
	    (e = vmlink_binding(pse_socket, &bnd)) != 0) {
		log_err("vm %s: vTPM identity or PSE binding unavailable",
		    vm_id);
		goto out;
	}
	reg.vm_id = (char *)vm_id;
	reg.ek_public.data = ek.data;
	reg.ek_public.len = ek.len;
	reg.ek_cert.data = cert.data;
	reg.ek_cert.len = cert.len;
	reg.ak_public.data = ak.data;
	reg.ak_public.len = ak.len;
	reg.binding.data = bnd.data;
	reg.binding.len = bnd.len;
	if ((e = vmlink_post(&c, "vtpms", &reg.base, &rep,
	    "vTPM registration")) != 0)
		goto out;
	if ((res = vigil__register_response__unpack(NULL, rep.body.len,
	    rep.body.data)) == NULL || strcmp(res->agent_id, vm_id) != 0 ||
	    res->credential_blob.len == 0 ||
	    res->credential_blob.len > 4096 ||
	    res->encrypted_secret.len == 0 ||
	    res->encrypted_secret.len > 4096) {
		log_err("vm %s: registration reply malformed", vm_id);
		e = VIGIL_EINVAL;
		goto out;
	}
	if ((e = vtpm_status(dir, &st)) != 0 || !st.running ||
	    (e = tpm_open(st.tcti, &t)) != 0) {
		log_err("vm %s: the vTPM is not running", vm_id);
		e = e != 0 ? e : VIGIL_EIO;
		goto out;
	}
	e = tpm_activate(t, TPM_EK_RSA, res->credential_blob.data,
	    res->credential_blob.len, res->encrypted_secret.data,
	    res->encrypted_secret.len, &secret);
	tpm_close(t);
	if (e != 0) {
		log_err("vm %s: TPM2_ActivateCredential in the vTPM failed: "
		    "%s", vm_id, vigil_strerror(e));
		goto out;
	}
	act.vm_id = (char *)vm_id;
	act.secret.data = secret.data;
	act.secret.len = secret.len;
	if ((e = vmlink_post(&c, "vtpms/activate", &act.base, &rep2,
	    "vTPM activation")) != 0)
		goto out;
	log_info("vm %s: vTPM enrolled with the verifier", vm_id);
 out:
	if (res != NULL)
		vigil__register_response__free_unpacked(res, NULL);
	if (secret.data != NULL)
		memset(secret.data, 0, secret.len);
	buf_free(&secret);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
	buf_free(&bnd);
	push_reply_free(&rep);
	push_reply_free(&rep2);
	vmlink_close(&c);
	return e;
}

/* The target's MigE transport key (DER SPKI), from its attested event
 * log through the verifier. */
static int
vmlink_mige_key(struct vmlink_ctx *c, const char *target, struct buf *spki,
    char node_id[65])
{
	Vigil__MigeKeyRequest req = VIGIL__MIGE_KEY_REQUEST__INIT;
	Vigil__MigeKeyResponse *res = NULL;
	struct push_reply rep;
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	int e;

	req.node = (char *)target;
	if ((e = vmlink_post(c, "mige-key", &req.base, &rep,
	    "MigE key lookup")) != 0)
		goto out;
	e = VIGIL_EINVAL;
	if ((res = vigil__mige_key_response__unpack(NULL, rep.body.len,
	    rep.body.data)) == NULL || strlen(res->node_id) != 64 ||
	    res->transport_pub.len == 0 || res->transport_pub.len > 1024)
		goto out;
	p = res->transport_pub.data;
	if ((key = d2i_PUBKEY(NULL, &p, (long)res->transport_pub.len)) ==
	    NULL || p != res->transport_pub.data + res->transport_pub.len) {
		log_err("vm: the MigE key of %s is not a DER public key",
		    target);
		goto out;
	}
	if ((e = buf_add(spki, res->transport_pub.data,
	    res->transport_pub.len)) != 0)
		goto out;
	memcpy(node_id, res->node_id, 65);
 out:
	EVP_PKEY_free(key);
	if (res != NULL)
		vigil__mige_key_response__free_unpacked(res, NULL);
	push_reply_free(&rep);
	return e;
}

int
vmlink_migrate(const char *config_path, const char *vm_id, const char *dir,
    const char *target, unsigned timeout_s)
{
	Vigil__VmMigration m = VIGIL__VM_MIGRATION__INIT;
	struct buf spki = BUF_INIT, blob = BUF_INIT;
	struct push_reply rep;
	struct vmlink_ctx c;
	char node[65];
	time_t until;
	int e, stopped = 0, handed = 0;

	memset(&rep, 0, sizeof(rep));
	if ((e = vmlink_open(config_path, &c)) != 0)
		goto out;
	if (access(dir, F_OK) != 0) {
		fprintf(stderr, "vigil-agent vm migrate: VM %s has no vTPM on "
		    "this node\n", vm_id);
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	if ((e = vmlink_mige_key(&c, target, &spki, node)) != 0)
		goto out;
	if (strcmp(node, c.agent_id) == 0) {
		fprintf(stderr, "vigil-agent vm migrate: %s is this node\n",
		    target);
		e = VIGIL_EINVAL;
		goto out;
	}
	stopped = 1;
	if ((e = vtpm_migrate_out(dir, vm_id, c.agent_id, spki.data, spki.len,
	    &blob)) != 0)
		goto out;
	m.vm_id = (char *)vm_id;
	m.source_node = c.agent_id;
	m.target_node = node;
	m.blob.data = blob.data;
	m.blob.len = blob.len;
	if ((e = vmlink_post(&c, "vtpms/migrate", &m.base, &rep,
	    "migration hand-over")) != 0)
		goto out;
	handed = 1;
	log_info("vm %s: state sealed to node %.16s's MigE and handed to the "
	    "verifier (%zu bytes)", vm_id, node, blob.len);
	/* The push loop deletes the local copy once the verifier confirmed
	 * the VM attested on the target. */
	until = time(NULL) + (time_t)timeout_s;
	while (access(dir, F_OK) == 0 && time(NULL) < until)
		sleep(1);
	if (access(dir, F_OK) == 0) {
		fprintf(stderr, "vigil-agent vm migrate: VM %s not confirmed on "
		    "the target within %u s (the hand-over stands)\n", vm_id,
		    timeout_s);
		e = VIGIL_ESTALE;
		goto out;
	}
	printf("vm %s migrated to %s\n", vm_id, node);
 out:
	if (e != 0 && stopped && !handed && vtpm_start(dir) == 0 &&
	    vmlink_guest_reboot(dir) == 0)
		log_warn("vm %s: migration failed before the hand-over; vTPM "
		    "running here again", vm_id);
	buf_free(&spki);
	buf_free(&blob);
	push_reply_free(&rep);
	vmlink_close(&c);
	return e;
}
