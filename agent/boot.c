/* The emulated node's measured-boot step (`vigil-agent boot`).
 *
 * It opens the TPM, makes sure the AK exists (tpm_ak_ensure), then extends
 * one event per row, in this order, into the SHA-256 bank, and writes the
 * same events as a crypto-agile TCG PC Client event log:
 *
 * | PCR | event type                    | digest (SHA-256)  | event data                    |
 * |-----|-------------------------------|-------------------|-------------------------------|
 * | 0   | EV_EFI_PLATFORM_FIRMWARE_BLOB | of the firmware   | UEFI_PLATFORM_FIRMWARE_BLOB:  |
 * |     |                               | file              | u64le base 0, u64le file size |
 * | 1   | EV_PLATFORM_CONFIG_FLAGS      | of the data       | the platform-config file      |
 * | 4   | EV_IPL                        | of the hypervisor | the hypervisor's path (no NUL)|
 * |     |                               | file              |                               |
 * | 5   | EV_EVENT_TAG                  | of the data       | TCG_PCClientTaggedEvent:      |
 * |     |                               |                   | u32le VIGIL_TAG_AK_PUBLIC,    |
 * |     |                               |                   | u32le size, marshaled         |
 * |     |                               |                   | TPM2B_PUBLIC of the AK        |
 * | 7   | EV_EVENT_TAG                  | of the data       | TCG_PCClientTaggedEvent:      |
 * |     |                               |                   | VIGIL_TAG_BOOT_POLICY, file   |
 * | any | boot_opts.extra, in order     | as given          | as given                      |
 * |     | (--pse-*: PCR 3, then --smm-*: PCR 2, VIGIL_TAG_SMM_* tagged)      |                               |
 * | 0-7 | EV_SEPARATOR, PCR 0 first     | of the data       | 00 00 00 00                   |
 *
 * Every input file is read (and a missing one reported by name) before the
 * TPM is touched. The log is written atomically after the last extend. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "boot.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "log.h"

#define BOOT_MAX_EVENTS 64

struct boot_ev {
	uint32_t pcr;
	uint32_t type;
	uint8_t sha256[SHA256_LEN];
	struct buf data;
};

struct boot_plan {
	struct boot_ev ev[BOOT_MAX_EVENTS];
	size_t n;
};

static void
boot_plan_free(struct boot_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		buf_free(&p->ev[i].data);
	p->n = 0;
}

static int
boot_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int dl;

	if (EVP_Digest(p, n, out, &dl, EVP_sha256(), NULL) != 1) {
		log_err("boot: SHA-256 failed");
		return VIGIL_ECRYPTO;
	}
	return 0;
}

/* SHA-256 and size of a file of any length, read in chunks. */
static int
boot_hash_file(const char *what, const char *path, uint8_t out[SHA256_LEN],
    uint64_t *size)
{
	uint8_t chunk[65536];
	unsigned int dl;
	EVP_MD_CTX *md = NULL;
	ssize_t n;
	int fd, e = VIGIL_EIO;

	*size = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_err("boot: cannot open %s file %s: %s", what, path,
		    strerror(errno));
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_EIO;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("boot: reading %s file %s: %s", what, path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, chunk, (size_t)n) != 1) {
			e = VIGIL_ECRYPTO;
			goto out;
		}
		*size += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md, out, &dl) != 1) {
		e = VIGIL_ECRYPTO;
		goto out;
	}
	e = 0;
 out:
	EVP_MD_CTX_free(md);
	close(fd);
	return e;
}

/* A small file whose contents become event data. */
static int
boot_read_small(const char *what, const char *path, uint8_t **out,
    size_t *len)
{
	int e;

	if ((e = file_read(path, BOOT_MAX_EVENT_FILE, out, len)) != 0)
		log_err("boot: cannot read %s file %s: %s", what, path,
		    vigil_strerror(e));
	return e;
}

/* Appends an event; digest = SHA-256(data) unless digest is given. */
static int
boot_plan_add(struct boot_plan *p, uint32_t pcr, uint32_t type,
    const uint8_t *digest, const void *data, size_t len)
{
	struct boot_ev *ev;
	int e;

	if (p->n >= BOOT_MAX_EVENTS) {
		log_err("boot: more than %d events", BOOT_MAX_EVENTS);
		return VIGIL_ETOOBIG;
	}
	if (pcr >= PCR_COUNT || len > EVLOG_MAX_EVENT_DATA) {
		log_err("boot: event for PCR %u with %zu bytes of data is out "
		    "of range", pcr, len);
		return VIGIL_EINVAL;
	}
	ev = &p->ev[p->n];
	memset(ev, 0, sizeof(*ev));
	ev->pcr = pcr;
	ev->type = type;
	if ((e = buf_add(&ev->data, data, len)) != 0)
		return e;
	p->n++;
	if (digest != NULL) {
		memcpy(ev->sha256, digest, SHA256_LEN);
		return 0;
	}
	return boot_sha256(ev->data.data, ev->data.len, ev->sha256);
}

/* A TCG_PCClientTaggedEvent with digest SHA-256 of the whole event data. */
static int
boot_plan_add_tagged(struct boot_plan *p, uint32_t pcr, uint32_t tag,
    const uint8_t *data, size_t len)
{
	struct buf ev = BUF_INIT;
	int e;

	if (len > EVLOG_MAX_EVENT_DATA - 8) {
		log_err("boot: tagged event 0x%08x too large (%zu bytes)",
		    tag, len);
		return VIGIL_ETOOBIG;
	}
	if ((e = buf_add_u32le(&ev, tag)) == 0 &&
	    (e = buf_add_u32le(&ev, (uint32_t)len)) == 0 &&
	    (e = buf_add(&ev, data, len)) == 0)
		e = boot_plan_add(p, pcr, EV_EVENT_TAG, NULL, ev.data, ev.len);
	buf_free(&ev);
	return e;
}

/* Every event before the AK's: from the input files only. */
static int
boot_plan_files(const struct boot_opts *o, struct boot_plan *p,
    uint8_t **policy, size_t *policy_len)
{
	uint8_t fw_hash[SHA256_LEN], hv_hash[SHA256_LEN];
	uint8_t *cfg = NULL;
	size_t cfg_len;
	uint64_t fw_size, hv_size;
	struct buf blob = BUF_INIT;
	int e;

	if ((e = boot_hash_file("firmware", o->firmware, fw_hash,
	    &fw_size)) != 0 ||
	    (e = boot_read_small("platform-config", o->platform_config, &cfg,
	    &cfg_len)) != 0 ||
	    (e = boot_hash_file("hypervisor", o->hypervisor, hv_hash,
	    &hv_size)) != 0 ||
	    (e = boot_read_small("boot-policy", o->boot_policy, policy,
	    policy_len)) != 0)
		goto out;
	/* UEFI_PLATFORM_FIRMWARE_BLOB: BlobBase, BlobLength. */
	if ((e = buf_add_u64le(&blob, 0)) != 0 ||
	    (e = buf_add_u64le(&blob, fw_size)) != 0 ||
	    (e = boot_plan_add(p, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB, fw_hash,
	    blob.data, blob.len)) != 0 ||
	    (e = boot_plan_add(p, 1, EV_PLATFORM_CONFIG_FLAGS, NULL, cfg,
	    cfg_len)) != 0 ||
	    (e = boot_plan_add(p, 4, EV_IPL, hv_hash, o->hypervisor,
	    strlen(o->hypervisor))) != 0)
		goto out;
 out:
	free(cfg);
	buf_free(&blob);
	return e;
}

/* The AK's, the boot policy's, the extra events and the separators. */
static int
boot_plan_rest(const struct boot_opts *o, struct boot_plan *p,
    const struct buf *ak_pub, const uint8_t *policy, size_t policy_len)
{
	static const uint8_t sep[4] = { 0, 0, 0, 0 };
	const struct boot_event *x;
	uint32_t pcr;
	size_t i;
	int e;

	if ((e = boot_plan_add_tagged(p, 5, VIGIL_TAG_AK_PUBLIC, ak_pub->data,
	    ak_pub->len)) != 0 ||
	    (e = boot_plan_add_tagged(p, 7, VIGIL_TAG_BOOT_POLICY, policy,
	    policy_len)) != 0)
		return e;
	for (i = 0; i < o->n_extra; i++) {
		x = &o->extra[i];
		if ((e = boot_plan_add(p, x->pcr, x->type, x->sha256, x->data,
		    x->data_len)) != 0)
			return e;
	}
	for (pcr = 0; pcr <= 7; pcr++)
		if ((e = boot_plan_add(p, pcr, EV_SEPARATOR, NULL, sep,
		    sizeof(sep))) != 0)
			return e;
	return 0;
}

static int
boot_write_log(const char *path, const struct boot_plan *p)
{
	struct buf log = BUF_INIT;
	size_t i;
	int e;

	if ((e = evlog_write_header(&log)) != 0) {
		log_err("boot: event log header: %s", vigil_strerror(e));
		goto out;
	}
	for (i = 0; i < p->n; i++) {
		if ((e = evlog_write_event(&log, p->ev[i].pcr, p->ev[i].type,
		    p->ev[i].sha256, p->ev[i].data.data,
		    (uint32_t)p->ev[i].data.len)) != 0) {
			log_err("boot: event log record %zu: %s", i,
			    vigil_strerror(e));
			goto out;
		}
	}
	if ((e = file_write_atomic(path, log.data, log.len)) != 0)
		log_err("boot: cannot write event log %s: %s", path,
		    vigil_strerror(e));
 out:
	buf_free(&log);
	return e;
}

int
boot_run(const struct boot_opts *o)
{
	struct boot_plan *p = NULL;
	struct buf ak_pub = BUF_INIT;
	struct tpm *t = NULL;
	uint8_t *policy = NULL;
	size_t policy_len = 0, i;
	int e;

	if (o->tcti == NULL || o->event_log == NULL || o->firmware == NULL ||
	    o->platform_config == NULL || o->hypervisor == NULL ||
	    o->boot_policy == NULL || (o->n_extra > 0 && o->extra == NULL)) {
		log_err("boot: tcti, event log and every input file must be "
		    "given");
		return VIGIL_EINVAL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = boot_plan_files(o, p, &policy, &policy_len)) != 0 ||
	    (e = tpm_open(o->tcti, &t)) != 0 ||
	    (e = tpm_ak_ensure(t, o->ek, &ak_pub)) != 0 ||
	    (e = boot_plan_rest(o, p, &ak_pub, policy, policy_len)) != 0)
		goto out;
	for (i = 0; i < p->n; i++) {
		if ((e = tpm_pcr_extend(t, p->ev[i].pcr, p->ev[i].sha256)) !=
		    0) {
			log_err("boot: extending event %zu (PCR %u) failed; "
			    "the PCRs no longer match any log", i,
			    p->ev[i].pcr);
			goto out;
		}
	}
	tpm_close(t);
	t = NULL;
	if ((e = boot_write_log(o->event_log, p)) != 0)
		goto out;
	log_info("boot: extended %zu events into PCRs 0-7, event log %s",
	    p->n, o->event_log);
 out:
	tpm_close(t);
	buf_free(&ak_pub);
	free(policy);
	if (p != NULL)
		boot_plan_free(p);
	free(p);
	return e;
}

/* --- PSE (issue 4): the PCR 3 events and the "MSR" hand-off ---
 * `--pse-image F --pse-pubkey F --pse-cert F [--pse-transport-pubkey F]`
 * add the tagged events of enclave/pse_events.h to boot_opts.extra (after
 * the PCR 7 event, before the separators): the image's SHA-256, the
 * platform attestation key (DER SPKI), its certificate (DER) and the MigE
 * transport key (DER SPKI); key and certificate files may be PEM or DER,
 * the event data is always DER. `--msr FILE` writes, after the extends,
 * the AK public area the PCR 5 event measured (marshaled TPM2B_PUBLIC) to
 * FILE, replacing the previous boot's, and makes it read-only (0444): the
 * emulated write-once register vigil-psed reads. */
#define BOOT_PSE_EVENTS 4

struct boot_pse {
	struct buf data[BOOT_PSE_EVENTS];
	struct boot_event ev[BOOT_PSE_EVENTS];
	size_t n;
};

static void
boot_pse_free(struct boot_pse *p)
{
	size_t i;

	for (i = 0; i < BOOT_PSE_EVENTS; i++)
		buf_free(&p->data[i]);
	p->n = 0;
}

static int
boot_pse_add(struct boot_pse *p, uint32_t tag, const uint8_t *d, size_t len)
{
	struct buf *b = &p->data[p->n];
	int e;

	if (p->n >= BOOT_PSE_EVENTS || len > EVLOG_MAX_EVENT_DATA - 8)
		return VIGIL_ETOOBIG;
	if ((e = buf_add_u32le(b, tag)) != 0 ||
	    (e = buf_add_u32le(b, (uint32_t)len)) != 0 ||
	    (e = buf_add(b, d, len)) != 0 ||
	    (e = boot_sha256(b->data, b->len, p->ev[p->n].sha256)) != 0)
		return e;
	p->ev[p->n].pcr = 3;
	p->ev[p->n].type = EV_EVENT_TAG;
	p->ev[p->n].data = b->data;
	p->ev[p->n].data_len = (uint32_t)b->len;
	p->n++;
	return 0;
}

/* A public key (cert = 0) or certificate (cert = 1), PEM or DER, as DER. */
static int
boot_pse_der(const char *what, const char *path, int cert, struct buf *der)
{
	const unsigned char *q;
	unsigned char *out = NULL;
	uint8_t *raw = NULL;
	size_t len;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	BIO *bio = NULL;
	int n = -1, e;

	if ((e = boot_read_small(what, path, &raw, &len)) != 0)
		return e;
	if (len > 10 && memcmp(raw, "-----BEGIN", 10) == 0) {
		if ((bio = BIO_new_mem_buf(raw, (int)len)) != NULL) {
			if (cert)
				x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
			else
				k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		}
	} else {
		q = raw;
		if (cert)
			x = d2i_X509(NULL, &q, (long)len);
		else
			k = d2i_PUBKEY(NULL, &q, (long)len);
		if (q != raw + len) {
			X509_free(x);
			EVP_PKEY_free(k);
			x = NULL;
			k = NULL;
		}
	}
	if (x != NULL)
		n = i2d_X509(x, &out);
	else if (k != NULL)
		n = i2d_PUBKEY(k, &out);
	if (n <= 0) {
		log_err("boot: %s file %s is not a PEM or DER %s", what, path,
		    cert ? "certificate" : "public key");
		e = VIGIL_EINVAL;
	} else
		e = buf_add(der, out, (size_t)n);
	OPENSSL_free(out);
	X509_free(x);
	EVP_PKEY_free(k);
	BIO_free(bio);
	free(raw);
	return e;
}

static int
boot_pse_plan(const char *image, const char *pubkey, const char *cert,
    const char *transport, struct boot_pse *p)
{
	uint8_t h[SHA256_LEN];
	uint64_t size;
	struct buf der = BUF_INIT;
	int e;

	if ((e = boot_hash_file("pse-image", image, h, &size)) != 0 ||
	    (e = boot_pse_add(p, VIGIL_TAG_PSE_IMAGE, h, sizeof(h))) != 0 ||
	    (e = boot_pse_der("pse-pubkey", pubkey, 0, &der)) != 0 ||
	    (e = boot_pse_add(p, VIGIL_TAG_PSE_PLATFORM_PUB, der.data,
	    der.len)) != 0)
		goto out;
	der.len = 0;
	if ((e = boot_pse_der("pse-cert", cert, 1, &der)) != 0 ||
	    (e = boot_pse_add(p, VIGIL_TAG_PSE_PLATFORM_CERT, der.data,
	    der.len)) != 0)
		goto out;
	der.len = 0;
	if (transport != NULL &&
	    ((e = boot_pse_der("pse-transport-pubkey", transport, 0, &der)) !=
	    0 || (e = boot_pse_add(p, VIGIL_TAG_PSE_TRANSPORT_PUB, der.data,
	    der.len)) != 0))
		goto out;
 out:
	buf_free(&der);
	return e;
}

/* The "MSR": the AK public area (the PCR 5 event's data), write-once. */
static int
boot_write_msr(const char *tcti, enum tpm_ek_kind ek, const char *path)
{
	struct buf ak = BUF_INIT;
	struct tpm *t = NULL;
	ssize_t w;
	int fd = -1, e;

	if ((e = tpm_open(tcti, &t)) != 0 ||
	    (e = tpm_ak_ensure(t, ek, &ak)) != 0)
		goto out;
	tpm_close(t);
	t = NULL;
	if (unlink(path) != 0 && errno != ENOENT) {
		log_err("boot: cannot replace MSR file %s: %s", path,
		    strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	e = VIGIL_EIO;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0444)) < 0) {
		log_err("boot: cannot create MSR file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	w = write(fd, ak.data, ak.len);
	if (w != (ssize_t)ak.len || fchmod(fd, 0444) != 0 || fsync(fd) != 0) {
		log_err("boot: cannot write MSR file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	e = 0;
 out:
	if (fd >= 0)
		close(fd);
	tpm_close(t);
	buf_free(&ak);
	return e;
}

/* --- SMM (issue 3): the PCR 2 events and the PCR 11 cap ---
 * `--smm-image F --smm-log-pub F --smm-wrap-pub F` add the tagged events
 * of common/events.h to boot_opts.extra, in this order: the SHA-256 of
 * vigil-smmd's image, its log-signing and its key-wrapping public key
 * (DER SubjectPublicKeyInfo; the files vigil-smmd init wrote, PEM or DER).
 * `boot --cap --event-log F` (after vigil-smmd unsealed its keys) extends
 * PCR 11 with the VIGIL_TAG_CAP event and appends it to the event log; a
 * second cap in one boot is refused (docs/smm.md, boot order). */
#define BOOT_SMM_EVENTS 3

struct boot_smm {
	struct buf data[BOOT_SMM_EVENTS];
	struct boot_event ev[BOOT_SMM_EVENTS];
	size_t n;
};

static void
boot_smm_free(struct boot_smm *p)
{
	size_t i;

	for (i = 0; i < BOOT_SMM_EVENTS; i++)
		buf_free(&p->data[i]);
	p->n = 0;
}

static int
boot_smm_add(struct boot_smm *p, uint32_t tag, const uint8_t *d, size_t len)
{
	struct buf *b = &p->data[p->n];
	int e;

	if (p->n >= BOOT_SMM_EVENTS || len > EVLOG_MAX_EVENT_DATA - 8)
		return VIGIL_ETOOBIG;
	if ((e = buf_add_u32le(b, tag)) != 0 ||
	    (e = buf_add_u32le(b, (uint32_t)len)) != 0 ||
	    (e = buf_add(b, d, len)) != 0 ||
	    (e = boot_sha256(b->data, b->len, p->ev[p->n].sha256)) != 0)
		return e;
	p->ev[p->n].pcr = 2;
	p->ev[p->n].type = EV_EVENT_TAG;
	p->ev[p->n].data = b->data;
	p->ev[p->n].data_len = (uint32_t)b->len;
	p->n++;
	return 0;
}

static int
boot_smm_plan(const char *image, const char *log_pub, const char *wrap_pub,
    struct boot_smm *p)
{
	uint8_t h[SHA256_LEN];
	uint64_t size;
	struct buf der = BUF_INIT;
	int e;

	if ((e = boot_hash_file("smm-image", image, h, &size)) != 0 ||
	    (e = boot_smm_add(p, VIGIL_TAG_SMM_IMAGE, h, sizeof(h))) != 0 ||
	    (e = boot_pse_der("smm-log-pub", log_pub, 0, &der)) != 0 ||
	    (e = boot_smm_add(p, VIGIL_TAG_SMM_LOG_PUB, der.data,
	    der.len)) != 0)
		goto out;
	der.len = 0;
	if ((e = boot_pse_der("smm-wrap-pub", wrap_pub, 0, &der)) != 0 ||
	    (e = boot_smm_add(p, VIGIL_TAG_SMM_WRAP_PUB, der.data,
	    der.len)) != 0)
		goto out;
 out:
	buf_free(&der);
	return e;
}

/* The cap: PCR 11 extended once per boot, the event appended to the log. */
static int
boot_cap(const char *tcti, const char *event_log)
{
	static const char capdata[] = VIGIL_CAP_DATA;
	struct buf ev = BUF_INIT, log = BUF_INIT;
	struct evlog *parsed = NULL;
	uint8_t dg[SHA256_LEN], *old = NULL;
	size_t old_len = 0, i;
	struct tpm *t = NULL;
	int e;

	if ((e = file_read(event_log, EVLOG_MAX_SIZE, &old, &old_len)) != 0) {
		log_err("boot: cap: cannot read event log %s: %s", event_log,
		    vigil_strerror(e));
		goto out;
	}
	if ((e = evlog_parse(old, old_len, &parsed)) != 0) {
		log_err("boot: cap: event log %s does not parse", event_log);
		goto out;
	}
	for (i = 0; i < parsed->n; i++)
		if (parsed->ev[i].pcr == 11) {
			log_err("boot: cap: PCR 11 is capped already in this "
			    "boot (event log %s)", event_log);
			e = VIGIL_EEXIST;
			goto out;
		}
	if ((e = buf_add_u32le(&ev, VIGIL_TAG_CAP)) != 0 ||
	    (e = buf_add_u32le(&ev, sizeof(capdata) - 1)) != 0 ||
	    (e = buf_add(&ev, capdata, sizeof(capdata) - 1)) != 0 ||
	    (e = boot_sha256(ev.data, ev.len, dg)) != 0 ||
	    (e = buf_add(&log, old, old_len)) != 0 ||
	    (e = evlog_write_event(&log, 11, EV_EVENT_TAG, dg, ev.data,
	    (uint32_t)ev.len)) != 0)
		goto out;
	if ((e = tpm_open(tcti, &t)) != 0 ||
	    (e = tpm_pcr_extend(t, 11, dg)) != 0) {
		log_err("boot: cap: extending PCR 11 failed: %s",
		    vigil_strerror(e));
		goto out;
	}
	tpm_close(t);
	t = NULL;
	if ((e = file_write_atomic(event_log, log.data, log.len)) != 0)
		log_err("boot: cap: cannot write event log %s: %s", event_log,
		    vigil_strerror(e));
 out:
	tpm_close(t);
	evlog_free(parsed);
	free(old);
	buf_free(&ev);
	buf_free(&log);
	return e;
}

static void
boot_usage(FILE *f)
{
	fputs("usage: vigil-agent boot [--tcti T] [--ek rsa|ecc] "
	    "--event-log OUT\n"
	    "           --firmware F --platform-config F --hypervisor F "
	    "--boot-policy F\n"
	    "  --tcti T  TPM TCTI (default: $TPM2TOOLS_TCTI)\n"
	    "  --ek K    EK the AK is created under: rsa (default) or ecc\n"
	    "  --msr FILE  write the AK public area (the PCR 5 event's data)\n"
	    "              there, read-only: the PSE's boot-time hand-off\n"
	    "  --pse-image F --pse-pubkey F --pse-cert F "
	    "[--pse-transport-pubkey F]\n"
	    "              measure vigil-psed's image and keys into PCR 3\n"
	    "  --smm-image F --smm-log-pub F --smm-wrap-pub F\n"
	    "              measure vigil-smmd's image and keys into PCR 2\n"
	    "       vigil-agent boot --cap [--tcti T] --event-log F\n"
	    "              cap PCR 11 once vigil-smmd unsealed its keys\n",
	    f);
}

int
boot_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tcti", required_argument, NULL, 't' },
		{ "ek", required_argument, NULL, 'k' },
		{ "event-log", required_argument, NULL, 'l' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "platform-config", required_argument, NULL, 'c' },
		{ "hypervisor", required_argument, NULL, 'y' },
		{ "boot-policy", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "msr", required_argument, NULL, 'M' },
		{ "pse-image", required_argument, NULL, 'I' },
		{ "pse-pubkey", required_argument, NULL, 'P' },
		{ "pse-cert", required_argument, NULL, 'C' },
		{ "pse-transport-pubkey", required_argument, NULL, 'T' },
		{ "smm-image", required_argument, NULL, 'S' },
		{ "smm-log-pub", required_argument, NULL, 'L' },
		{ "smm-wrap-pub", required_argument, NULL, 'W' },
		{ "cap", no_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	const char *msr = NULL, *pse_image = NULL, *pse_pub = NULL;
	const char *pse_cert = NULL, *pse_transport = NULL;
	const char *smm_image = NULL, *smm_log = NULL, *smm_wrap = NULL;
	struct boot_event extra[BOOT_PSE_EVENTS + BOOT_SMM_EVENTS];
	struct boot_smm smm;
	struct boot_pse pse;
	struct boot_opts o;
	int c, e, cap = 0;

	memset(&o, 0, sizeof(o));
	o.ek = TPM_EK_RSA;
	o.tcti = getenv("TPM2TOOLS_TCTI");
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o.tcti = optarg; break;
		case 'k':
			if (tpm_ek_kind_parse(optarg, &o.ek) != 0)
				return 2;
			break;
		case 'l': o.event_log = optarg; break;
		case 'f': o.firmware = optarg; break;
		case 'c': o.platform_config = optarg; break;
		case 'y': o.hypervisor = optarg; break;
		case 'p': o.boot_policy = optarg; break;
		case 'M': msr = optarg; break;
		case 'I': pse_image = optarg; break;
		case 'P': pse_pub = optarg; break;
		case 'C': pse_cert = optarg; break;
		case 'T': pse_transport = optarg; break;
		case 'S': smm_image = optarg; break;
		case 'L': smm_log = optarg; break;
		case 'W': smm_wrap = optarg; break;
		case 'X': cap = 1; break;
		case 'h': boot_usage(stdout); return 0;
		default: boot_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigil-agent boot: unexpected argument %s\n",
		    argv[optind]);
		boot_usage(stderr);
		return 2;
	}
	if (cap) {
		if (o.tcti == NULL || o.event_log == NULL) {
			fprintf(stderr, "vigil-agent boot --cap: missing "
			    "%s\n", o.tcti == NULL ? "--tcti" : "--event-log");
			return 2;
		}
		if ((e = boot_cap(o.tcti, o.event_log)) != 0) {
			fprintf(stderr, "vigil-agent boot --cap: failed: %s\n",
			    vigil_strerror(e));
			return 1;
		}
		printf("boot: PCR 11 capped; event appended to %s\n",
		    o.event_log);
		return 0;
	}
	if (o.tcti == NULL || o.event_log == NULL || o.firmware == NULL ||
	    o.platform_config == NULL || o.hypervisor == NULL ||
	    o.boot_policy == NULL) {
		fprintf(stderr, "vigil-agent boot: missing %s\n",
		    o.tcti == NULL ? "--tcti (or TPM2TOOLS_TCTI)" :
		    o.event_log == NULL ? "--event-log" :
		    o.firmware == NULL ? "--firmware" :
		    o.platform_config == NULL ? "--platform-config" :
		    o.hypervisor == NULL ? "--hypervisor" : "--boot-policy");
		boot_usage(stderr);
		return 2;
	}
	memset(&pse, 0, sizeof(pse));
	memset(&smm, 0, sizeof(smm));
	if ((smm_image || smm_log || smm_wrap) &&
	    (!smm_image || !smm_log || !smm_wrap)) {
		fprintf(stderr, "vigil-agent boot: --smm-image, --smm-log-pub "
		    "and --smm-wrap-pub go together\n");
		return 2;
	}
	if ((pse_image || pse_pub || pse_cert || pse_transport) &&
	    (!pse_image || !pse_pub || !pse_cert)) {
		fprintf(stderr, "vigil-agent boot: --pse-image, --pse-pubkey "
		    "and --pse-cert go together\n");
		return 2;
	}
	if (pse_image != NULL) {
		if ((e = boot_pse_plan(pse_image, pse_pub, pse_cert,
		    pse_transport, &pse)) != 0) {
			boot_pse_free(&pse);
			fprintf(stderr, "vigil-agent boot: failed: %s\n",
			    vigil_strerror(e));
			return 1;
		}
		o.extra = pse.ev;
		o.n_extra = pse.n;
	}
	if (smm_image != NULL) {
		if ((e = boot_smm_plan(smm_image, smm_log, smm_wrap,
		    &smm)) != 0) {
			boot_pse_free(&pse);
			boot_smm_free(&smm);
			fprintf(stderr, "vigil-agent boot: failed: %s\n",
			    vigil_strerror(e));
			return 1;
		}
		memcpy(extra, pse.ev, pse.n * sizeof(pse.ev[0]));
		memcpy(extra + pse.n, smm.ev, smm.n * sizeof(smm.ev[0]));
		o.extra = extra;
		o.n_extra = pse.n + smm.n;
	}
	e = boot_run(&o);
	if (e == 0 && msr != NULL)
		e = boot_write_msr(o.tcti, o.ek, msr);
	boot_pse_free(&pse);
	boot_smm_free(&smm);
	if (e != 0) {
		fprintf(stderr, "vigil-agent boot: failed: %s\n",
		    vigil_strerror(e));
		return 1;
	}
	printf("boot: AK at 0x%08x under the %s EK; PCRs 0,1,4,5,7 measured, "
	    "separators in 0-7; event log %s\n", TPM_HANDLE_AK,
	    o.ek == TPM_EK_ECC ? "ECC" : "RSA", o.event_log);
	return 0;
}
