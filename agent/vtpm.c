/* The agent's vTPM manager (agent/vtpm.h): one swtpm per VM, provisioned
 * with swtpm_setup, its EK certificate issued by the local PSE and written
 * to its NV with tpm2-tools, then used through agent/tpm.h with its own
 * TCTI like the node's pTPM. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "enclave/binding.h"
#include "enclave/migblob.h"
#include "enclave/pse_msg.h"
#include "err.h"
#include "evlog.h"
#include "log.h"
#include "tpm.h"
#include "tpm_parse.h"
#include "vtpm.h"

#define VTPM_FILE_MAX	(64u * 1024)
#define VTPM_NV_ATTRS	"ppwrite|ppread|ownerread|authread|no_da|platformcreate"

static int
vtpm_path(char *dst, const char *dir, const char *file)
{
	if (snprintf(dst, VTPM_MAX_PATH, "%s/%s", dir, file) >=
	    (int)VTPM_MAX_PATH) {
		log_err("vtpm: path too long: %s/%s", dir, file);
		return VIGIL_EINVAL;
	}
	return 0;
}

/* Runs argv (PATH lookup) with TPM2TOOLS_TCTI=tcti when given, stdout and
 * stderr appended to DIR/tools.log; 0 only on exit status 0. */
static int
vtpm_exec(const char *dir, const char *tcti, char *const argv[])
{
	char logp[VTPM_MAX_PATH];
	pid_t pid;
	int st, fd;

	if (vtpm_path(logp, dir, "tools.log") != 0)
		return VIGIL_EINVAL;
	if ((pid = fork()) < 0) {
		log_err("vtpm: fork failed: %s", strerror(errno));
		return VIGIL_EIO;
	}
	if (pid == 0) {
		if ((fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600)) >=
		    0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (tcti != NULL)
			setenv("TPM2TOOLS_TCTI", tcti, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return VIGIL_EIO;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_err("vtpm: %s failed (status %d); see %s", argv[0],
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1, logp);
		return VIGIL_EIO;
	}
	return 0;
}

static int
vtpm_read_small(const char *dir, const char *file, struct buf *out)
{
	char p[VTPM_MAX_PATH];
	uint8_t *d = NULL;
	size_t len;
	int e;

	if ((e = vtpm_path(p, dir, file)) != 0 ||
	    (e = file_read(p, VTPM_FILE_MAX, &d, &len)) != 0)
		return e;
	e = buf_add(out, d, len);
	free(d);
	return e;
}

static int
vtpm_write(const char *dir, const char *file, const void *p, size_t len)
{
	char path[VTPM_MAX_PATH];
	int e;

	if ((e = vtpm_path(path, dir, file)) != 0)
		return e;
	if ((e = file_write_atomic(path, p, len)) != 0)
		log_err("vtpm: cannot write %s", path);
	return e;
}

/* The pid in DIR/swtpm.pid if that process lives and is a swtpm. */
static int
vtpm_pid(const char *dir, pid_t *out)
{
	struct buf b = BUF_INIT;
	char comm[64], p[64];
	long v;
	char *end;
	FILE *f;
	int ok = 0;

	*out = 0;
	if (vtpm_read_small(dir, "swtpm.pid", &b) != 0 || b.len == 0 ||
	    b.len > 20) {
		buf_free(&b);
		return 0;
	}
	memcpy(comm, b.data, b.len);
	comm[b.len] = '\0';
	buf_free(&b);
	v = strtol(comm, &end, 10);
	if (v <= 1 || (*end != '\0' && *end != '\n'))
		return 0;
	/* /proc/PID/stat: "PID (comm) S ...": a live (not zombie) swtpm. */
	snprintf(p, sizeof(p), "/proc/%ld/stat", v);
	if ((f = fopen(p, "r")) != NULL) {
		ok = fgets(comm, sizeof(comm), f) != NULL &&
		    (end = strstr(comm, " (swtpm) ")) != NULL &&
		    end[9] != 'Z';
		fclose(f);
	}
	if (ok)
		*out = (pid_t)v;
	return 0;
}

int
vtpm_status(const char *dir, struct vtpm_status *out)
{
	struct buf b = BUF_INIT;

	memset(out, 0, sizeof(*out));
	vtpm_pid(dir, &out->pid);
	out->running = out->pid > 0;
	if (out->running && vtpm_read_small(dir, "tcti", &b) == 0 &&
	    b.len > 0 && b.len < sizeof(out->tcti)) {
		memcpy(out->tcti, b.data, b.len);
		out->tcti[b.len] = '\0';
		out->tcti[strcspn(out->tcti, "\n")] = '\0';
	} else
		out->running = 0;
	buf_free(&b);
	return 0;
}

static int
vtpm_tcti(const char *dir, char tcti[128])
{
	struct vtpm_status st;

	vtpm_status(dir, &st);
	if (!st.running) {
		log_err("vtpm: the vTPM in %s is not running", dir);
		return VIGIL_ENOTFOUND;
	}
	memcpy(tcti, st.tcti, sizeof(st.tcti));
	return 0;
}

/* Neither port nor port + 1 answers on loopback. Racy like any such
 * check: swtpm then fails to bind and vtpm_start tries another pair. */
static int
vtpm_port_free(int port)
{
	struct sockaddr_in sa;
	int i, fd, taken = 0;

	for (i = 0; i < 2 && !taken; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return 0;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)(port + i));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		taken = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
	}
	return !taken;
}

int
vtpm_start(const char *dir)
{
	char state[VTPM_MAX_PATH + 16], pidf[VTPM_MAX_PATH + 16];
	char logf[VTPM_MAX_PATH + 16], srv[96], ctl[96], tcti[128];
	char sp[VTPM_MAX_PATH], pp[VTPM_MAX_PATH], lp[VTPM_MAX_PATH];
	struct vtpm_status st;
	struct tpm *t = NULL;
	uint16_t r;
	int port, i, e = VIGIL_EIO, attempt;

	vtpm_status(dir, &st);
	if (st.running)
		return 0;
	if ((e = vtpm_path(sp, dir, "state")) != 0 ||
	    (e = vtpm_path(pp, dir, "swtpm.pid")) != 0 ||
	    (e = vtpm_path(lp, dir, "swtpm.log")) != 0)
		return e;
	snprintf(state, sizeof(state), "dir=%s", sp);
	snprintf(pidf, sizeof(pidf), "file=%s", pp);
	snprintf(logf, sizeof(logf), "file=%s", lp);
	for (attempt = 0; attempt < 5; attempt++) {
		if (RAND_bytes((uint8_t *)&r, sizeof(r)) != 1)
			return VIGIL_ECRYPTO;
		/* below the kernel's ephemeral range (32768-) */
		port = 10000 + (r % 11000) * 2;
		if (!vtpm_port_free(port))
			continue;
		snprintf(srv, sizeof(srv),
		    "type=tcp,port=%d,bindaddr=127.0.0.1", port);
		snprintf(ctl, sizeof(ctl),
		    "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
		{
			char *argv[] = { "swtpm", "socket", "--tpm2",
			    "--tpmstate", state, "--server", srv, "--ctrl",
			    ctl, "--flags", "not-need-init,startup-clear",
			    "--pid", pidf, "--log", logf, "--daemon", NULL };

			if (vtpm_exec(dir, NULL, argv) != 0)
				continue;	/* port taken: another try */
		}
		snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d",
		    port);
		for (i = 0; i < 50; i++) {
			if (tpm_open(tcti, &t) == 0) {
				tpm_close(t);
				return vtpm_write(dir, "tcti", tcti,
				    strlen(tcti));
			}
			usleep(100000);
		}
		log_err("vtpm: swtpm on port %d did not answer; see %s", port,
		    lp);
		vtpm_stop(dir);
		return VIGIL_EIO;
	}
	log_err("vtpm: cannot start swtpm for %s (ports taken?)", dir);
	return VIGIL_EIO;
}

int
vtpm_stop(const char *dir)
{
	char p[VTPM_MAX_PATH];
	pid_t pid;
	int i;

	vtpm_pid(dir, &pid);
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (i = 0; i < 50 && kill(pid, 0) == 0; i++) {
			vtpm_pid(dir, &pid);
			if (pid == 0)
				break;
			usleep(100000);
		}
		if (pid > 0 && kill(pid, 0) == 0) {
			log_warn("vtpm: swtpm %d ignored SIGTERM, killing it",
			    (int)pid);
			kill(pid, SIGKILL);
			usleep(100000);
		}
	}
	if (vtpm_path(p, dir, "swtpm.pid") == 0)
		(void)unlink(p);
	if (vtpm_path(p, dir, "tcti") == 0)
		(void)unlink(p);
	return 0;
}

/* The EK certificate from the PSE, for the RSA EK ek_pub. */
static int
vtpm_pse_ek_cert(const char *pse_socket, const char *vm_id,
    const struct buf *ek_pub, struct buf *cert)
{
	struct pse_msg req, rep;
	struct buf raw = BUF_INIT;
	int e;

	memset(&req, 0, sizeof(req));
	req.type = PSE_ISSUE_EK_CERT;
	req.vm_id = (struct pse_bytes){ (const uint8_t *)vm_id,
	    strlen(vm_id) };
	req.ek_pub = (struct pse_bytes){ ek_pub->data, ek_pub->len };
	if ((e = pse_msg_call(pse_socket, &req, &rep, &raw)) == 0) {
		if (rep.status != PSE_ST_OK)
			e = VIGIL_EDENIED;
		else
			e = buf_add(cert, rep.ek_cert.p, rep.ek_cert.len);
	}
	buf_free(&raw);
	return e;
}

static int
vtpm_nv_write_cert(const char *dir, const char *tcti, const struct buf *cert)
{
	char idx[16], size[16], certp[VTPM_MAX_PATH];
	int e;

	snprintf(idx, sizeof(idx), "0x%08x", TPM_NV_EK_CERT_RSA);
	snprintf(size, sizeof(size), "%zu", cert->len);
	if ((e = vtpm_path(certp, dir, "ek-cert.der")) != 0 ||
	    (e = file_write_atomic(certp, cert->data, cert->len)) != 0)
		return e;
	{
		char *def[] = { "tpm2_nvdefine", idx, "-C", "p", "-s", size,
		    "-a", VTPM_NV_ATTRS, NULL };
		char *wr[] = { "tpm2_nvwrite", idx, "-C", "p", "-i", certp,
		    NULL };

		if ((e = vtpm_exec(dir, tcti, def)) != 0 ||
		    (e = vtpm_exec(dir, tcti, wr)) != 0)
			log_err("vtpm: cannot write the EK certificate to NV "
			    "%s", idx);
	}
	return e;
}

/* Reads the EK and AK from the running vTPM into the identity files. */
int
vtpm_refresh(const char *dir)
{
	struct buf ek = BUF_INIT, cert = BUF_INIT, ak = BUF_INIT;
	struct tpm *t = NULL;
	char tcti[128];
	int e;

	if ((e = vtpm_tcti(dir, tcti)) != 0 || (e = tpm_open(tcti, &t)) != 0 ||
	    (e = tpm_ek_read(t, TPM_EK_RSA, &ek, &cert)) != 0 ||
	    (e = tpm_ak_ensure(t, TPM_EK_RSA, &ak)) != 0)
		goto out;
	tpm_close(t);
	t = NULL;
	if ((e = vtpm_write(dir, "ek.pub", ek.data, ek.len)) != 0 ||
	    (e = vtpm_write(dir, "ek-cert.der", cert.data, cert.len)) != 0 ||
	    (e = vtpm_write(dir, "ak.pub", ak.data, ak.len)) != 0)
		goto out;
 out:
	tpm_close(t);
	buf_free(&ek);
	buf_free(&cert);
	buf_free(&ak);
	return e;
}

/* After swtpm_setup: the RSA EK's public area, by tpm2_readpublic. */
static int
vtpm_read_ek(const char *dir, const char *tcti, struct buf *ek)
{
	char h[16], out[VTPM_MAX_PATH];
	int e;

	snprintf(h, sizeof(h), "0x%08x", TPM_HANDLE_EK_RSA);
	if ((e = vtpm_path(out, dir, "ek.pub")) != 0)
		return e;
	{
		char *argv[] = { "tpm2_readpublic", "-c", h, "-o", out, NULL };

		if ((e = vtpm_exec(dir, tcti, argv)) != 0)
			return e;
	}
	return vtpm_read_small(dir, "ek.pub", ek);
}

int
vtpm_create(const char *vm_id, const char *dir, const char *pse_socket)
{
	char sp[VTPM_MAX_PATH], tcti[128];
	struct buf ek = BUF_INIT, cert = BUF_INIT;
	int e;

	if (!pse_msg_id_valid((const uint8_t *)vm_id, strlen(vm_id))) {
		log_err("vtpm: bad VM id \"%s\"", vm_id);
		return VIGIL_EINVAL;
	}
	if (mkdir(dir, 0700) != 0) {
		log_err("vtpm: cannot create %s: %s", dir, strerror(errno));
		return errno == EEXIST ? VIGIL_EEXIST : VIGIL_EIO;
	}
	if ((e = vtpm_path(sp, dir, "state")) != 0)
		goto fail;
	if (mkdir(sp, 0700) != 0) {
		e = VIGIL_EIO;
		goto fail;
	}
	{
		char *argv[] = { "swtpm_setup", "--tpm2", "--tpmstate", sp,
		    "--createek", "--pcr-banks", "sha256", "--overwrite",
		    "--config", "/dev/null", NULL };

		if ((e = vtpm_exec(dir, NULL, argv)) != 0)
			goto fail;
	}
	if ((e = vtpm_start(dir)) != 0 || (e = vtpm_tcti(dir, tcti)) != 0 ||
	    (e = vtpm_read_ek(dir, tcti, &ek)) != 0 ||
	    (e = vtpm_pse_ek_cert(pse_socket, vm_id, &ek, &cert)) != 0 ||
	    (e = vtpm_nv_write_cert(dir, tcti, &cert)) != 0 ||
	    (e = vtpm_refresh(dir)) != 0)
		goto fail;
	log_info("vtpm: created the vTPM of VM %s in %s (%s)", vm_id, dir,
	    tcti);
	buf_free(&ek);
	buf_free(&cert);
	return 0;
 fail:
	log_err("vtpm: creating the vTPM of VM %s failed: %s", vm_id,
	    vigil_strerror(e));
	buf_free(&ek);
	buf_free(&cert);
	vtpm_destroy(dir);
	return e;
}

static int
vtpm_hash_file(const char *path, uint8_t out[SHA256_LEN], uint64_t *size)
{
	uint8_t chunk[65536];
	unsigned int dl;
	EVP_MD_CTX *md = NULL;
	ssize_t n;
	int fd, e = VIGIL_EIO;

	*size = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_err("vtpm: cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_EIO;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || EVP_DigestUpdate(md, chunk, (size_t)n) != 1)
			goto out;
		*size += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md, out, &dl) == 1)
		e = 0;
 out:
	EVP_MD_CTX_free(md);
	close(fd);
	return e;
}

/* Extends one event into the vTPM and appends it to the log. */
static int
vtpm_event(struct tpm *t, struct buf *log, uint32_t pcr, uint32_t type,
    const uint8_t *digest, const void *data, size_t len)
{
	uint8_t h[SHA256_LEN];
	unsigned int dl;
	int e;

	if (digest == NULL) {
		if (EVP_Digest(data, len, h, &dl, EVP_sha256(), NULL) != 1)
			return VIGIL_ECRYPTO;
		digest = h;
	}
	if ((e = tpm_pcr_extend(t, pcr, digest)) != 0)
		return e;
	return evlog_write_event(log, pcr, type, digest, data, (uint32_t)len);
}

int
vtpm_boot(const char *dir, const struct vtpm_guest *g)
{
	static const uint8_t sep[4] = { 0, 0, 0, 0 };
	static const uint8_t zero[SHA256_LEN];
	uint8_t fw[SHA256_LEN], kh[SHA256_LEN];
	uint64_t fw_size, k_size;
	struct buf log = BUF_INIT, blob = BUF_INIT;
	struct pcrs vals;
	struct tpm *t = NULL;
	char tcti[128];
	uint32_t pcr;
	int e;

	if (g->firmware == NULL || g->kernel == NULL)
		return VIGIL_EINVAL;
	if ((e = vtpm_hash_file(g->firmware, fw, &fw_size)) != 0 ||
	    (e = vtpm_hash_file(g->kernel, kh, &k_size)) != 0 ||
	    (e = vtpm_tcti(dir, tcti)) != 0 || (e = tpm_open(tcti, &t)) != 0 ||
	    (e = tpm_pcr_read(t, 1u, &vals)) != 0)
		goto out;
	if (memcmp(vals.v[0], zero, SHA256_LEN) != 0) {
		log_err("vtpm: the vTPM in %s booted already (PCR 0 is set); "
		    "restart it first", dir);
		e = VIGIL_EEXIST;
		goto out;
	}
	if ((e = evlog_write_header(&log)) != 0 ||
	    (e = buf_add_u64le(&blob, 0)) != 0 ||
	    (e = buf_add_u64le(&blob, fw_size)) != 0 ||
	    (e = vtpm_event(t, &log, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB, fw,
	    blob.data, blob.len)) != 0 ||
	    (e = vtpm_event(t, &log, 4, EV_IPL, kh, g->kernel,
	    strlen(g->kernel))) != 0)
		goto out;
	if (g->cmdline != NULL && (e = vtpm_event(t, &log, 8, EV_IPL, NULL,
	    g->cmdline, strlen(g->cmdline))) != 0)
		goto out;
	for (pcr = 0; pcr <= 7; pcr++)
		if ((e = vtpm_event(t, &log, pcr, EV_SEPARATOR, NULL, sep,
		    sizeof(sep))) != 0)
			goto out;
	tpm_close(t);
	t = NULL;
	e = vtpm_write(dir, "guest.evlog", log.data, log.len);
 out:
	tpm_close(t);
	buf_free(&log);
	buf_free(&blob);
	return e;
}

int
vtpm_quote(const char *dir, const uint8_t *nonce, size_t nonce_len,
    uint32_t mask, struct buf *attest, struct buf *sig, struct pcrs *vals)
{
	struct tpm *t = NULL;
	char tcti[128];
	int e;

	if ((e = vtpm_tcti(dir, tcti)) != 0 || (e = tpm_open(tcti, &t)) != 0)
		return e;
	e = tpm_quote(t, nonce, nonce_len, mask, attest, sig, vals);
	tpm_close(t);
	return e;
}

void
vtpm_attestation_free(struct vtpm_attestation *a)
{
	if (a == NULL)
		return;
	buf_free(&a->v_attest);
	buf_free(&a->v_sig);
	buf_free(&a->binding);
	buf_free(&a->p_attest);
	buf_free(&a->p_sig);
	memset(a, 0, sizeof(*a));
}

int
vtpm_attest(const char *dir, const char *vm_id, const char *pse_socket,
    const char *ptpm_tcti, const uint8_t *nonce, size_t nonce_len,
    uint32_t vmask, uint32_t pmask, struct vtpm_attestation *out)
{
	struct vtpm_attestation a;
	struct buf ak = BUF_INIT, raw = BUF_INIT;
	struct pse_msg req, rep;
	struct tpm *t = NULL;
	TPM2B_PUBLIC akp;
	TPM2B_NAME name;
	uint8_t deep[32];
	int e;

	memset(&a, 0, sizeof(a));
	memset(&req, 0, sizeof(req));
	req.type = PSE_CERTIFY_AK;
	if ((e = vtpm_read_small(dir, "ak.pub", &ak)) != 0 ||
	    (e = tpm_public_parse(ak.data, ak.len, &akp)) != 0 ||
	    (e = tpm_public_name(&akp, &name)) != 0 ||
	    (e = binding_deep_quote_data(nonce, nonce_len, name.name,
	    name.size, vm_id, deep)) != 0)
		goto out;
	if ((e = vtpm_quote(dir, nonce, nonce_len, vmask, &a.v_attest,
	    &a.v_sig, &a.v_vals)) != 0)
		goto out;
	if ((e = pse_msg_call(pse_socket, &req, &rep, &raw)) != 0)
		goto out;
	if (rep.status != PSE_ST_OK) {
		e = VIGIL_EDENIED;
		goto out;
	}
	if ((e = buf_add(&a.binding, rep.binding.p, rep.binding.len)) != 0 ||
	    (e = tpm_open(ptpm_tcti, &t)) != 0 ||
	    (e = tpm_quote(t, deep, sizeof(deep), pmask, &a.p_attest,
	    &a.p_sig, &a.p_vals)) != 0)
		goto out;
	*out = a;
	memset(&a, 0, sizeof(a));
 out:
	if (e != 0)
		log_err("vtpm: attestation of VM %s failed: %s", vm_id,
		    vigil_strerror(e));
	tpm_close(t);
	vtpm_attestation_free(&a);
	buf_free(&ak);
	buf_free(&raw);
	return e;
}

int
vtpm_identity(const char *dir, struct buf *ek_pub, struct buf *ek_cert,
    struct buf *ak_pub)
{
	int e;

	if ((e = vtpm_read_small(dir, "ek.pub", ek_pub)) != 0 ||
	    (e = vtpm_read_small(dir, "ek-cert.der", ek_cert)) != 0 ||
	    (e = vtpm_read_small(dir, "ak.pub", ak_pub)) != 0)
		log_err("vtpm: %s lacks its identity files", dir);
	return e;
}

int
vtpm_state_export(const char *dir, struct buf *out)
{
	char sp[VTPM_MAX_PATH], fp[VTPM_MAX_PATH * 2];
	struct vtpm_status st;
	struct migstate s;
	struct dirent *de;
	uint8_t *d;
	size_t len;
	DIR *dh = NULL;
	int e;

	memset(&s, 0, sizeof(s));
	vtpm_status(dir, &st);
	if (st.running) {
		log_err("vtpm: stop the vTPM in %s before exporting it", dir);
		return VIGIL_EEXIST;
	}
	if ((e = vtpm_path(sp, dir, "state")) != 0)
		return e;
	if ((dh = opendir(sp)) == NULL) {
		log_err("vtpm: cannot open %s: %s", sp, strerror(errno));
		return VIGIL_ENOTFOUND;
	}
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')	/* ., .., swtpm's .lock */
			continue;
		snprintf(fp, sizeof(fp), "%s/%s", sp, de->d_name);
		if ((e = file_read(fp, MIGBLOB_MAX_STATE, &d, &len)) != 0)
			goto out;
		e = migstate_add(&s, de->d_name, d, len);
		free(d);
		if (e != 0)
			goto out;
	}
	if (s.n == 0) {
		log_err("vtpm: no state files in %s", sp);
		e = VIGIL_ENOTFOUND;
		goto out;
	}
	e = migstate_marshal(&s, out);
 out:
	closedir(dh);
	migstate_free(&s);
	return e;
}

/* Removes the regular files of one directory level (no recursion). */
static void
vtpm_rm_files(const char *d)
{
	char fp[VTPM_MAX_PATH * 2];
	struct dirent *de;
	DIR *dh;

	if ((dh = opendir(d)) == NULL)
		return;
	while ((de = readdir(dh)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") ==
		    0)
			continue;
		snprintf(fp, sizeof(fp), "%s/%s", d, de->d_name);
		(void)unlink(fp);
	}
	closedir(dh);
}

int
vtpm_state_import(const char *dir, const uint8_t *state, size_t len)
{
	char sp[VTPM_MAX_PATH], fp[VTPM_MAX_PATH * 2];
	struct vtpm_status st;
	struct migstate s;
	size_t i;
	int e;

	if ((e = migstate_parse(state, len, &s)) != 0)
		return e;
	vtpm_status(dir, &st);
	if (st.running) {
		log_err("vtpm: stop the vTPM in %s before importing", dir);
		e = VIGIL_EEXIST;
		goto out;
	}
	if ((e = vtpm_path(sp, dir, "state")) != 0)
		goto out;
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(sp, 0700) != 0 && errno != EEXIST)) {
		log_err("vtpm: cannot create %s: %s", sp, strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	vtpm_rm_files(sp);
	for (i = 0; i < s.n; i++) {
		snprintf(fp, sizeof(fp), "%s/%s", sp, s.f[i].name);
		if ((e = file_write_atomic(fp, s.f[i].data.data,
		    s.f[i].data.len)) != 0) {
			log_err("vtpm: cannot write %s", fp);
			goto out;
		}
	}
 out:
	migstate_free(&s);
	return e;
}

int
vtpm_migrate_out(const char *dir, const char *vm_id, const char *source,
    const uint8_t *target_spki, size_t spki_len, struct buf *out)
{
	const unsigned char *p = target_spki;
	struct buf st = BUF_INIT;
	EVP_PKEY *target = NULL;
	int e;

	if ((target = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL ||
	    p != target_spki + spki_len) {
		log_err("vtpm: the target transport key is not a DER public "
		    "key");
		e = VIGIL_EINVAL;
		goto out;
	}
	if ((e = vtpm_stop(dir)) != 0 ||
	    (e = vtpm_state_export(dir, &st)) != 0 ||
	    (e = migblob_seal(target, vm_id, source, st.data, st.len, out)) !=
	    0)
		goto out;
	log_info("vtpm: VM %s sealed for migration (%zu bytes of state)",
	    vm_id, st.len);
 out:
	if (st.data != NULL)
		OPENSSL_cleanse(st.data, st.cap);
	buf_free(&st);
	EVP_PKEY_free(target);
	return e;
}

int
vtpm_migrate_in(const char *dir, const char *vm_id, const char *source,
    const char *pse_socket, const uint8_t *blob, size_t blob_len,
    struct buf *binding)
{
	struct pse_msg req, rep;
	struct buf raw = BUF_INIT;
	int e;

	memset(&req, 0, sizeof(req));
	req.type = PSE_MIG_IMPORT;
	req.vm_id = (struct pse_bytes){ (const uint8_t *)vm_id,
	    strlen(vm_id) };
	req.source_node = (struct pse_bytes){ (const uint8_t *)source,
	    strlen(source) };
	req.blob = (struct pse_bytes){ blob, blob_len };
	if ((e = pse_msg_call(pse_socket, &req, &rep, &raw)) != 0)
		goto out;
	if (rep.status != PSE_ST_OK) {
		e = rep.status == PSE_ST_VERIFY ? VIGIL_EVERIFY :
		    VIGIL_EDENIED;
		goto out;
	}
	if ((e = vtpm_state_import(dir, rep.state.p, rep.state.len)) != 0 ||
	    (e = vtpm_start(dir)) != 0 || (e = vtpm_refresh(dir)) != 0 ||
	    (e = buf_add(binding, rep.binding.p, rep.binding.len)) != 0)
		goto out;
	log_info("vtpm: VM %s arrived from %s", vm_id, source);
 out:
	if (raw.data != NULL)
		OPENSSL_cleanse(raw.data, raw.cap);
	buf_free(&raw);
	return e;
}

int
vtpm_destroy(const char *dir)
{
	char sp[VTPM_MAX_PATH];

	vtpm_stop(dir);
	if (vtpm_path(sp, dir, "state") == 0) {
		vtpm_rm_files(sp);
		(void)rmdir(sp);
	}
	vtpm_rm_files(dir);
	if (rmdir(dir) != 0 && errno != ENOENT) {
		log_err("vtpm: cannot remove %s: %s", dir, strerror(errno));
		return VIGIL_EIO;
	}
	return 0;
}
