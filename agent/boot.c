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
 * | 7   | EV_EVENT_TAG                  | of the data       | TCG_PCClientTaggedEvent:      |
 * |     |                               |                   | VIGIL_TAG_BOOT_POLICY, file   |
 * | 0-7 | EV_SEPARATOR, PCR 0 first     | of the data       | 00 00 00 00                   |
 *
 * Every input file is read (and a missing one reported by name) before the
 * TPM is touched. The log is written atomically after the last extend.
 * Only what firmware would measure is here: Vigil's own events (SMM, PSE,
 * the AK hand-off, the cap) are made after boot by `vigil-agent measure`
 * into the runtime log (agent/measure.c), as on a real machine.
 *
 * `boot --firmware-log FILE` plays a real machine's firmware instead: it
 * extends FILE's events, in log order, each into every bank it carries a
 * digest for (SHA-1 and SHA-256), and writes nothing: the agent reads FILE
 * itself as its event_log. */
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

int
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
int
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
int
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

/* The boot policy's event and the separators. */
static int
boot_plan_rest(struct boot_plan *p, const uint8_t *policy, size_t policy_len)
{
	static const uint8_t sep[4] = { 0, 0, 0, 0 };
	uint32_t pcr;
	int e;

	if ((e = boot_plan_add_tagged(p, 7, VIGIL_TAG_BOOT_POLICY, policy,
	    policy_len)) != 0)
		return e;
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
	    o->boot_policy == NULL) {
		log_err("boot: tcti, event log and every input file must be "
		    "given");
		return VIGIL_EINVAL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = boot_plan_files(o, p, &policy, &policy_len)) != 0 ||
	    (e = tpm_open(o->tcti, &t)) != 0 ||
	    (e = tpm_ak_ensure(t, o->ek, &ak_pub)) != 0 ||
	    (e = boot_plan_rest(p, policy, policy_len)) != 0)
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

/* The "MSR": the AK public area, write-once (0444): the emulated
 * read-only register the PSE reads its AK from (docs/pse.md); vigil-agent
 * measure --handoff measures what it holds into the runtime log. */
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

/* A real machine's firmware log into the TPM: every event but
 * EV_NO_ACTION, in log order, into each bank it has a digest for. A log
 * whose PCR 0 starts at another locality (StartupLocality 3, H-CRTM) is
 * refused: this swtpm starts at locality 0, so PCR 0 could never match. */
static int
boot_replay_firmware_log(const char *tcti, const char *path)
{
	struct evlog *log = NULL;
	struct tpm *t = NULL;
	uint8_t *raw = NULL;
	size_t len = 0, i, n = 0;
	const struct evlog_event *ev;
	int e;

	if ((e = file_read(path, EVLOG_MAX_SIZE, &raw, &len)) != 0) {
		log_err("boot: cannot read firmware log %s: %s", path,
		    vigil_strerror(e));
		return e;
	}
	if ((e = evlog_parse(raw, len, &log)) != 0) {
		log_err("boot: firmware log %s does not parse: %s", path,
		    vigil_strerror(e));
		goto out;
	}
	if (log->startup_locality != 0) {
		log_err("boot: firmware log %s starts at locality %u; this TPM "
		    "starts at 0, so PCR 0 could not replay", path,
		    log->startup_locality);
		e = VIGIL_EUNSUPP;
		goto out;
	}
	if ((e = tpm_open(tcti, &t)) != 0)
		goto out;
	for (i = 0; i < log->n; i++) {
		ev = &log->ev[i];
		if (ev->type == EV_NO_ACTION)
			continue;
		if ((e = tpm_pcr_extend_banks(t, ev->pcr,
		    ev->has_sha1 ? ev->sha1 : NULL,
		    ev->has_sha256 ? ev->sha256 : NULL)) != 0) {
			log_err("boot: extending event %zu of %s (PCR %u) "
			    "failed", i, path, ev->pcr);
			goto out;
		}
		n++;
	}
	log_info("boot: replayed %zu events of firmware log %s", n, path);
 out:
	tpm_close(t);
	evlog_free(log);
	free(raw);
	return e;
}

static void
boot_usage(FILE *f)
{
	fputs("usage: vigil-agent boot [--tcti T] [--ek rsa|ecc] "
	    "[--msr FILE] --event-log OUT\n"
	    "           --firmware F --platform-config F --hypervisor F "
	    "--boot-policy F\n"
	    "       vigil-agent boot [--tcti T] [--ek rsa|ecc] [--msr FILE] "
	    "--firmware-log FILE\n"
	    "  --tcti T  TPM TCTI (default: $TPM2TOOLS_TCTI)\n"
	    "  --ek K    EK the AK is created under: rsa (default) or ecc\n"
	    "  --msr FILE  write the AK public area there, read-only: the "
	    "PSE's\n"
	    "              boot-time hand-off (measured by vigil-agent "
	    "measure --handoff)\n"
	    "  --firmware-log FILE  extend a real machine's firmware log "
	    "into the TPM\n"
	    "              (each event into every bank it has a digest for); "
	    "the agent\n"
	    "              reads FILE as its event_log\n"
	    "Vigil's own events go into the runtime log: see vigil-agent "
	    "measure --help.\n",
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
		{ "firmware-log", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *msr = NULL, *fwlog = NULL;
	struct boot_opts o;
	int c, e;

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
		case 'F': fwlog = optarg; break;
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
	if (fwlog != NULL) {
		if (o.tcti == NULL || o.event_log || o.firmware ||
		    o.platform_config || o.hypervisor || o.boot_policy) {
			fprintf(stderr, "vigil-agent boot --firmware-log: "
			    "%s\n", o.tcti == NULL ? "missing --tcti (or "
			    "TPM2TOOLS_TCTI)" : "takes no emulated boot "
			    "inputs and no --event-log");
			return 2;
		}
		e = boot_replay_firmware_log(o.tcti, fwlog);
		if (e == 0 && msr != NULL)
			e = boot_write_msr(o.tcti, o.ek, msr);
		if (e != 0) {
			fprintf(stderr, "vigil-agent boot: failed: %s\n",
			    vigil_strerror(e));
			return 1;
		}
		printf("boot: firmware log %s replayed into the TPM\n", fwlog);
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
	e = boot_run(&o);
	if (e == 0 && msr != NULL)
		e = boot_write_msr(o.tcti, o.ek, msr);
	if (e != 0) {
		fprintf(stderr, "vigil-agent boot: failed: %s\n",
		    vigil_strerror(e));
		return 1;
	}
	printf("boot: AK at 0x%08x under the %s EK; PCRs 0,1,4,7 measured, "
	    "separators in 0-7; event log %s\n", TPM_HANDLE_AK,
	    o.ek == TPM_EK_ECC ? "ECC" : "RSA", o.event_log);
	return 0;
}
