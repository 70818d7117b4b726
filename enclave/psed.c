/* vigil-psed: the emulated platform service enclave (PSE) and migration
 * enclave (MigE) of one node (docs/pse.md).
 *
 *   vigil-psed init --dir D --vendor-ca-cert F --vendor-ca-key F [--days N]
 *   vigil-psed seal --dir D [--tcti T] (--pcrs FILE | --current)
 *   vigil-psed [run] --dir D [--tcti T] --socket S --msr F
 *              [--user NAME] [--allow-uid UID]... [--log-level L]
 *   vigil-psed binding --socket S --out F     asks for the AK binding
 *   vigil-psed check-binding --binding F --vendor-ca PEM [--ak F]
 *              verifies a binding as the verifier does (binding_verify,
 *              binding_check_ak against the marshaled TPM2B_PUBLIC in F);
 *              prints "binding ok platform <id>" or the failed check
 *
 * Keys: the platform attestation key (ECDSA P-256) and the MigE transport
 * key (ECDH P-256) are made, sealed and unsealed by the SMM service's
 * sealing code (smm-bridge/seal.h), in D: the platform key takes the
 * "log-signing" slot and the transport key the "key-wrapping" slot, so
 * D/log-signing.pub.der is the platform key and D/key-wrapping.pub.der the
 * transport key. init also writes D/platform.pub.der, D/transport.pub.der
 * (copies with plain names, for the boot step's --pse-pubkey and
 * --pse-transport-pubkey) and D/platform-cert.der, the platform key's
 * certificate from the vendor CA (in production the vendor's factory).
 * seal seals keys.pending to the predicted boot PCRs 0-7,11 (a file, or
 * the PCRs' current values, which equal them after the boot step and
 * before the cap). run unseals once, reads the "MSR", drops to its own
 * user, and serves enclave/pse_msg.h on the socket, one connection at a
 * time; every request is hostile input. Exit: 0 after SIGTERM/SIGINT, 1
 * on failure, 2 on a usage error. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/tpm.h"
#include "binding.h"
#include "err.h"
#include "log.h"
#include "migblob.h"
#include "pse_cert.h"
#include "pse_msg.h"
#include "pse_server.h"
#include "smm-bridge/seal.h"
#include "tpm_parse.h"



static volatile sig_atomic_t psed_stop;

static void
psed_on_signal(int sig)
{
	(void)sig;
	psed_stop = 1;
}

static int
psed_path(char *dst, size_t n, const char *dir, const char *file)
{
	if (snprintf(dst, n, "%s/%s", dir, file) >= (int)n) {
		log_err("psed: path too long: %s/%s", dir, file);
		return VIGIL_EINVAL;
	}
	return 0;
}

static int
psed_read_pem_file(const char *path, int key, X509 **x, EVP_PKEY **k)
{
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		log_err("psed: cannot open %s: %s", path, strerror(errno));
		return VIGIL_ENOTFOUND;
	}
	if (key)
		*k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	else
		*x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (key ? *k == NULL : *x == NULL) {
		log_err("psed: %s is not a PEM %s", path,
		    key ? "private key" : "certificate");
		ERR_clear_error();
		return VIGIL_EINVAL;
	}
	return 0;
}

static int
psed_read_spki(const char *path, EVP_PKEY **out)
{
	const unsigned char *p;
	uint8_t *der = NULL;
	size_t len;
	int e;

	if ((e = file_read(path, 4096, &der, &len)) != 0) {
		log_err("psed: cannot read %s: %s", path, vigil_strerror(e));
		return e;
	}
	p = der;
	*out = d2i_PUBKEY(NULL, &p, (long)len);
	if (*out == NULL || p != der + len) {
		log_err("psed: %s is not a DER public key", path);
		EVP_PKEY_free(*out);
		*out = NULL;
		e = VIGIL_EINVAL;
	}
	free(der);
	return e;
}

/* `init`: keys (seal_init), plain-named copies, the vendor certificate. */
static int
psed_init(const char *dir, const char *ca_cert, const char *ca_key,
    long days)
{
	char path[4096], cn[128], hex[2 * BINDING_ID_LEN + 1];
	uint8_t id[BINDING_ID_LEN];
	struct buf b = BUF_INIT;
	EVP_PKEY *cak = NULL, *pub = NULL, *tpub = NULL;
	X509 *cac = NULL, *cert = NULL;
	int e;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("psed: cannot create %s: %s", dir, strerror(errno));
		return VIGIL_EIO;
	}
	if ((e = seal_init(dir)) != 0 ||
	    (e = psed_read_pem_file(ca_cert, 0, &cac, NULL)) != 0 ||
	    (e = psed_read_pem_file(ca_key, 1, NULL, &cak)) != 0 ||
	    (e = psed_path(path, sizeof(path), dir, SEAL_FILE_LOG_PUB)) != 0 ||
	    (e = psed_read_spki(path, &pub)) != 0 ||
	    (e = psed_path(path, sizeof(path), dir, SEAL_FILE_WRAP_PUB)) !=
	    0 || (e = psed_read_spki(path, &tpub)) != 0 ||
	    (e = binding_platform_id(pub, id)) != 0)
		goto out;
	hex_encode(id, 8, hex);
	snprintf(cn, sizeof(cn), "Vigil platform attestation key %s", hex);
	if ((e = pse_cert_issue(PSE_CERT_PLATFORM, pub, cn, cak, cac, days,
	    &cert)) != 0 || (e = pse_cert_der(cert, &b)) != 0 ||
	    (e = psed_path(path, sizeof(path), dir, "platform-cert.der")) !=
	    0 || (e = file_write_atomic(path, b.data, b.len)) != 0)
		goto out;
	b.len = 0;
	if ((e = pse_cert_spki(pub, &b)) != 0 ||
	    (e = psed_path(path, sizeof(path), dir, "platform.pub.der")) !=
	    0 || (e = file_write_atomic(path, b.data, b.len)) != 0)
		goto out;
	b.len = 0;
	if ((e = pse_cert_spki(tpub, &b)) != 0 ||
	    (e = psed_path(path, sizeof(path), dir, "transport.pub.der")) !=
	    0 || (e = file_write_atomic(path, b.data, b.len)) != 0)
		goto out;
	hex_encode(id, BINDING_ID_LEN, hex);
	printf("platform id %s\n", hex);
 out:
	buf_free(&b);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(tpub);
	X509_free(cac);
	X509_free(cert);
	return e;
}

static int
psed_seal(const char *dir, const char *tcti, const char *pcrs_file,
    int current)
{
	struct pcrs pred;
	struct tpm *t = NULL;
	int e;

	memset(&pred, 0, sizeof(pred));
	if (current) {
		if ((e = tpm_open(tcti, &t)) != 0 ||
		    (e = tpm_pcr_read(t, SEAL_PCR_MASK, &pred)) != 0) {
			tpm_close(t);
			return e;
		}
		tpm_close(t);
	} else if ((e = seal_pcrs_parse(pcrs_file, &pred)) != 0)
		return e;
	return seal_seal(dir, tcti, &pred);
}

/* Unseals the keys and loads the certificate and the MSR. */
static int
psed_load(struct pse_server *d, const char *dir, const char *tcti,
    const char *msr)
{
	struct seal_keys k = { NULL, NULL };
	char path[4096];
	int e;

	if ((e = seal_unseal(dir, tcti, &k)) != 0) {
		log_err("psed: cannot unseal the platform keys: %s (rebooted "
		    "node? PCR 11 capped already?)", vigil_strerror(e));
		return e;
	}
	d->pkey = k.log_key;
	d->tkey = k.wrap_key;
	if ((e = psed_path(path, sizeof(path), dir, "platform-cert.der")) !=
	    0 || (e = file_read(path, BINDING_MAX_CERT, &d->pcert_der.data,
	    &d->pcert_der.len)) != 0) {
		log_err("psed: cannot read the platform certificate %s", path);
		return e ? e : VIGIL_EINVAL;
	}
	d->pcert_der.cap = d->pcert_der.len;
	if ((e = file_read(msr, BINDING_MAX_AK, &d->msr.data, &d->msr.len)) !=
	    0) {
		log_err("psed: cannot read the MSR %s: %s", msr,
		    vigil_strerror(e));
		return e;
	}
	d->msr.cap = d->msr.len;
	return pse_server_ready(d);
}

/* Root drops to user (own user: the keys then live in its memory only). */
static int
psed_drop(const char *user, uid_t *uid_out)
{
	struct passwd *pw;

	*uid_out = getuid();
	if (getuid() != 0)
		return 0;
	if (user == NULL)
		user = "vigil-psed";
	if ((pw = getpwnam(user)) == NULL) {
		log_err("psed: running as root needs its own user: no user "
		    "\"%s\" (create it or pass --user)", user);
		return VIGIL_ECONFIG;
	}
	if (pw->pw_uid == 0 || setgroups(0, NULL) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0 ||
	    setuid(0) == 0) {
		log_err("psed: cannot drop to user %s", user);
		return VIGIL_EDENIED;
	}
	*uid_out = pw->pw_uid;
	log_info("psed: running as %s (uid %u)", user, (unsigned)pw->pw_uid);
	return 0;
}

static int
psed_run(struct pse_server *d, const char *dir, const char *tcti,
    const char *sock, const char *msr, const char *user)
{
	struct sigaction sa;
	struct pollfd pfd;
	uid_t self;
	int lfd = -1, cfd, e;

	/* Keys in memory: no core dumps, no ptrace by the same uid. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if ((e = psed_load(d, dir, tcti, msr)) != 0 ||
	    (e = pse_server_listen(sock, &lfd)) != 0 ||
	    (e = psed_drop(user, &self)) != 0)
		goto out;
	if (d->n_allow < PSE_SERVER_MAX_UIDS)
		d->allow[d->n_allow++] = 0;
	if (d->n_allow < PSE_SERVER_MAX_UIDS)
		d->allow[d->n_allow++] = self;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = psed_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("psed: serving on %s; platform key and transport key "
	    "unsealed; cap PCR 11 now", sock);
	while (!psed_stop) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		pse_server_conn(d, cfd, &psed_stop);
		close(cfd);
	}
	log_info("psed: stopping");
 out:
	if (lfd >= 0) {
		close(lfd);
		(void)unlink(sock);
	}
	return e;
}

static int
psed_get_binding(const char *sock, const char *out)
{
	struct pse_msg req, rep;
	struct buf raw = BUF_INIT;
	int e;

	memset(&req, 0, sizeof(req));
	req.type = PSE_CERTIFY_AK;
	if ((e = pse_msg_call(sock, &req, &rep, &raw)) == 0) {
		if (rep.status != PSE_ST_OK)
			e = VIGIL_EDENIED;
		else
			e = file_write_atomic(out, rep.binding.p,
			    rep.binding.len);
	}
	buf_free(&raw);
	return e;
}

static int
psed_check_binding(const char *path, const char *ca, const char *ak_path)
{
	const char *cas[1] = { ca }, *why = NULL;
	char hex[2 * BINDING_ID_LEN + 1];
	uint8_t id[BINDING_ID_LEN], *raw = NULL, *ak = NULL;
	size_t len, ak_len = 0;
	struct binding b;
	X509_STORE *st = NULL;
	int e;

	memset(&b, 0, sizeof(b));
	if ((e = file_read(path, PSE_MAX_BINDING, &raw, &len)) != 0 ||
	    (e = binding_parse(raw, len, &b)) != 0 ||
	    (e = binding_store_load(cas, 1, &st)) != 0 ||
	    (ak_path != NULL && (e = file_read(ak_path, BINDING_MAX_AK, &ak,
	    &ak_len)) != 0))
		goto out;
	if ((e = binding_verify(&b, st, id, &why)) != 0 ||
	    (ak != NULL && (e = binding_check_ak(&b, ak, ak_len, &why)) !=
	    0)) {
		printf("binding rejected: %s\n", why ? why : vigil_strerror(e));
		goto out;
	}
	hex_encode(id, BINDING_ID_LEN, hex);
	printf("binding ok platform %s\n", hex);
 out:
	binding_free(&b);
	X509_STORE_free(st);
	free(raw);
	free(ak);
	return e;
}

static void
psed_usage(FILE *f)
{
	fputs("usage: vigil-psed init --dir D --vendor-ca-cert F "
	    "--vendor-ca-key F [--days N]\n"
	    "       vigil-psed seal --dir D [--tcti T] (--pcrs FILE | "
	    "--current)\n"
	    "       vigil-psed [run] --dir D [--tcti T] --socket S --msr F\n"
	    "                  [--user NAME] [--allow-uid UID]... "
	    "[--log-level L]\n"
	    "       vigil-psed binding --socket S --out F\n"
	    "       vigil-psed check-binding --binding F --vendor-ca PEM "
	    "[--ak F]\n"
	    "  --tcti defaults to $TPM2TOOLS_TCTI\n", f);
}

struct psed_args {
	const char *cmd, *dir, *tcti, *ca_cert, *ca_key, *pcrs, *sock, *msr;
	const char *user, *out, *bfile, *vca, *akf;
	long days;
	int current;
};

/* Options into *a and d->allow; 0, or the exit status to return. */
static int
psed_args_parse(int argc, char **argv, struct psed_args *a,
    struct pse_server *d)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "tcti", required_argument, NULL, 't' },
		{ "vendor-ca-cert", required_argument, NULL, 'c' },
		{ "vendor-ca-key", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'D' },
		{ "pcrs", required_argument, NULL, 'p' },
		{ "current", no_argument, NULL, 'C' },
		{ "socket", required_argument, NULL, 's' },
		{ "msr", required_argument, NULL, 'm' },
		{ "user", required_argument, NULL, 'u' },
		{ "allow-uid", required_argument, NULL, 'a' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "binding", required_argument, NULL, 'b' },
		{ "vendor-ca", required_argument, NULL, 'V' },
		{ "ak", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum log_level lvl;
	unsigned long v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': a->dir = optarg; break;
		case 't': a->tcti = optarg; break;
		case 'c': a->ca_cert = optarg; break;
		case 'k': a->ca_key = optarg; break;
		case 'p': a->pcrs = optarg; break;
		case 'C': a->current = 1; break;
		case 's': a->sock = optarg; break;
		case 'm': a->msr = optarg; break;
		case 'u': a->user = optarg; break;
		case 'o': a->out = optarg; break;
		case 'b': a->bfile = optarg; break;
		case 'V': a->vca = optarg; break;
		case 'A': a->akf = optarg; break;
		case 'D':
			a->days = strtol(optarg, &end, 10);
			if (*end != '\0' || a->days < 1 || a->days > 36500) {
				fprintf(stderr, "vigil-psed: bad --days\n");
				return 2;
			}
			break;
		case 'a':
			v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v > 0x7fffffffUL ||
			    d->n_allow >= PSE_SERVER_MAX_UIDS - 2) {
				fprintf(stderr, "vigil-psed: bad --allow-uid\n");
				return 2;
			}
			d->allow[d->n_allow++] = (uid_t)v;
			break;
		case 'l':
			if (log_level_parse(optarg, &lvl) != 0) {
				fprintf(stderr, "vigil-psed: bad --log-level\n");
				return 2;
			}
			log_init("vigil-psed", lvl);
			break;
		case 'h': psed_usage(stdout); return 0;
		default: psed_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		psed_usage(stderr);
		return 2;
	}
	return -1;
}

/* Is every option command a->cmd needs there? */
static int
psed_args_complete(const struct psed_args *a)
{
	const char *cmd = a->cmd;

	if (strcmp(cmd, "binding") == 0)
		return a->sock != NULL && a->out != NULL;
	if (strcmp(cmd, "check-binding") == 0)
		return a->bfile != NULL && a->vca != NULL;
	if (a->dir == NULL)
		return 0;
	if (strcmp(cmd, "init") == 0)
		return a->ca_cert != NULL && a->ca_key != NULL;
	if (strcmp(cmd, "seal") == 0)
		return a->tcti != NULL && (a->pcrs != NULL) != a->current;
	if (strcmp(cmd, "run") == 0)
		return a->tcti != NULL && a->sock != NULL && a->msr != NULL;
	return 0;
}

static int
psed_dispatch(const struct psed_args *a, struct pse_server *d)
{
	const char *cmd = a->cmd;

	if (strcmp(cmd, "binding") == 0)
		return psed_get_binding(a->sock, a->out);
	if (strcmp(cmd, "check-binding") == 0)
		return psed_check_binding(a->bfile, a->vca, a->akf);
	if (strcmp(cmd, "init") == 0)
		return psed_init(a->dir, a->ca_cert, a->ca_key, a->days);
	if (strcmp(cmd, "seal") == 0)
		return psed_seal(a->dir, a->tcti, a->pcrs, a->current);
	return psed_run(d, a->dir, a->tcti, a->sock, a->msr, a->user);
}

int
main(int argc, char **argv)
{
	struct psed_args a;
	struct pse_server d;
	int st, e;

	memset(&a, 0, sizeof(a));
	memset(&d, 0, sizeof(d));
	a.cmd = "run";
	a.days = 3650;
	a.tcti = getenv("TPM2TOOLS_TCTI");
	if (argc > 1 && argv[1][0] != '-') {
		a.cmd = argv[1];
		argv++;
		argc--;
	}
	log_init("vigil-psed", LOG_INFO);
	if ((st = psed_args_parse(argc, argv, &a, &d)) >= 0)
		return st;
	if (!psed_args_complete(&a)) {
		psed_usage(stderr);
		return 2;
	}
	e = psed_dispatch(&a, &d);
	pse_server_free(&d);
	if (e != 0) {
		fprintf(stderr, "vigil-psed %s: failed: %s\n", a.cmd,
		    vigil_strerror(e));
		return 1;
	}
	return 0;
}
