/* `vigil-agent measure`: Vigil's runtime log (measure.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "boot.h"
#include "cel.h"
#include "enclave/pse_events.h"
#include "err.h"
#include "events.h"
#include "log.h"
#include "measure.h"
#include "rd.h"
#include "tpm.h"

#define MEASURE_MAX_EVENTS 8

struct mplan {
	uint32_t pcr[MEASURE_MAX_EVENTS];
	uint32_t tag[MEASURE_MAX_EVENTS];
	struct buf data[MEASURE_MAX_EVENTS];	/* the tagged event data */
	uint8_t sha256[MEASURE_MAX_EVENTS][SHA256_LEN];
	size_t n;
};

static void
mplan_free(struct mplan *p)
{
	size_t i;

	for (i = 0; i < MEASURE_MAX_EVENTS; i++)
		buf_free(&p->data[i]);
	p->n = 0;
}

static int
mplan_add(struct mplan *p, uint32_t pcr, uint32_t tag, const void *d,
    size_t len)
{
	struct buf *b;
	int e;

	if (p->n >= MEASURE_MAX_EVENTS || len > EVLOG_MAX_EVENT_DATA - 8)
		return VIGIL_ETOOBIG;
	b = &p->data[p->n];
	if ((e = buf_add_u32le(b, tag)) != 0 ||
	    (e = buf_add_u32le(b, (uint32_t)len)) != 0 ||
	    (e = buf_add(b, d, len)) != 0 ||
	    (e = boot_sha256(b->data, b->len, p->sha256[p->n])) != 0)
		return e;
	p->pcr[p->n] = pcr;
	p->tag[p->n] = tag;
	p->n++;
	return 0;
}

/* A public key (cert = 0) or certificate (cert = 1), PEM or DER, as DER. */
static int
measure_der(const char *what, const char *path, int cert, struct buf *der)
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
		log_err("measure: %s file %s is not a PEM or DER %s", what, path,
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
measure_image(struct mplan *p, uint32_t tag, const char *what,
    const char *path)
{
	uint8_t h[SHA256_LEN];
	uint64_t size;
	int e;

	if ((e = boot_hash_file(what, path, h, &size)) != 0)
		return e;
	return mplan_add(p, VIGIL_RUNTIME_PCR, tag, h, sizeof(h));
}

static int
measure_key(struct mplan *p, uint32_t tag, const char *what,
    const char *path, int cert)
{
	struct buf der = BUF_INIT;
	int e;

	if ((e = measure_der(what, path, cert, &der)) == 0)
		e = mplan_add(p, VIGIL_RUNTIME_PCR, tag, der.data, der.len);
	buf_free(&der);
	return e;
}

/* Refuses a second hand-off or cap in one boot's log. */
static int
measure_once(const struct evlog *log, const struct mplan *p,
    const char *path)
{
	uint32_t tag;
	size_t i, k;
	struct rd r;

	for (k = 0; k < p->n; k++) {
		if (p->tag[k] != VIGIL_TAG_CAP &&
		    p->tag[k] != VIGIL_TAG_AK_PUBLIC)
			continue;
		for (i = 0; i < log->n; i++) {
			rd_init(&r, log->ev[i].data, log->ev[i].data_len);
			if (rd_u32le(&r, &tag) == 0 && tag == p->tag[k]) {
				log_err("measure: runtime log %s has its %s "
				    "already (record %zu): once per boot", path,
				    tag == VIGIL_TAG_CAP ? "cap" :
				    "AK hand-off", i);
				return VIGIL_EEXIST;
			}
		}
	}
	return 0;
}

/* Under an exclusive lock: the log parses, the events are extended, then
 * appended as the next records. */
static int
measure_append(const char *tcti, const char *path, const struct mplan *p)
{
	struct buf add = BUF_INIT;
	struct evlog *log = NULL;
	struct tpm *t = NULL;
	struct stat st;
	uint8_t *old = NULL;
	char why[200];
	size_t i, old_len = 0;
	ssize_t w;
	int fd, e;

	if ((fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) < 0) {
		log_err("measure: cannot open runtime log %s: %s", path,
		    strerror(errno));
		return VIGIL_EIO;
	}
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		log_err("measure: cannot lock runtime log %s: %s", path,
		    strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	if (st.st_size > 0 && (e = file_read(path, EVLOG_MAX_SIZE, &old,
	    &old_len)) != 0) {
		log_err("measure: cannot read runtime log %s: %s", path,
		    vigil_strerror(e));
		goto out;
	}
	if ((e = cel_parse(old, old_len, &log, why, sizeof(why))) != 0) {
		log_err("measure: runtime log %s does not parse: %s", path,
		    e == VIGIL_EVERIFY ? why : vigil_strerror(e));
		goto out;
	}
	if ((e = measure_once(log, p, path)) != 0)
		goto out;
	for (i = 0; i < p->n; i++)
		if ((e = cel_write_record(&add, log->n + i, p->pcr[i],
		    p->sha256[i], EV_EVENT_TAG, p->data[i].data,
		    (uint32_t)p->data[i].len)) != 0)
			goto out;
	if ((e = tpm_open(tcti, &t)) != 0)
		goto out;
	for (i = 0; i < p->n; i++) {
		if ((e = tpm_pcr_extend(t, p->pcr[i], p->sha256[i])) != 0) {
			log_err("measure: extending event 0x%08x into PCR %u "
			    "failed; the runtime log no longer matches the "
			    "TPM", p->tag[i], p->pcr[i]);
			goto out;
		}
	}
	w = write(fd, add.data, add.len);
	if (w != (ssize_t)add.len || fsync(fd) != 0) {
		log_err("measure: cannot append to runtime log %s: %s", path,
		    strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	log_info("measure: %zu event(s) extended and appended to %s",
	    p->n, path);
	e = 0;
 out:
	tpm_close(t);
	evlog_free(log);
	free(old);
	buf_free(&add);
	close(fd);
	return e;
}

static void
measure_usage(FILE *f)
{
	fputs("usage: vigil-agent measure [--tcti T] --runtime-log F WHAT\n"
	    "  WHAT is one of:\n"
	    "    --smm-image F --smm-log-pub F --smm-wrap-pub F\n"
	    "        vigil-smmd's image and keys, PCR 23\n"
	    "    --pse-image F --pse-pubkey F --pse-cert F "
	    "[--pse-transport-pubkey F]\n"
	    "        vigil-psed's image, keys and certificate, PCR 23\n"
	    "    --handoff MSR   the AK hand-off (the MSR's AK), PCR 23\n"
	    "    --cap           the cap, PCR 11, once the services "
	    "unsealed their keys\n"
	    "  --tcti T  TPM TCTI (default: $TPM2TOOLS_TCTI)\n", f);
}

int
measure_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tcti", required_argument, NULL, 't' },
		{ "runtime-log", required_argument, NULL, 'r' },
		{ "smm-image", required_argument, NULL, 'S' },
		{ "smm-log-pub", required_argument, NULL, 'L' },
		{ "smm-wrap-pub", required_argument, NULL, 'W' },
		{ "pse-image", required_argument, NULL, 'I' },
		{ "pse-pubkey", required_argument, NULL, 'P' },
		{ "pse-cert", required_argument, NULL, 'C' },
		{ "pse-transport-pubkey", required_argument, NULL, 'T' },
		{ "handoff", required_argument, NULL, 'H' },
		{ "cap", no_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char capdata[] = VIGIL_CAP_DATA;
	const char *tcti = getenv("TPM2TOOLS_TCTI"), *rt = NULL;
	const char *smm_image = NULL, *smm_log = NULL, *smm_wrap = NULL;
	const char *pse_image = NULL, *pse_pub = NULL, *pse_cert = NULL;
	const char *pse_transport = NULL, *handoff = NULL;
	struct mplan p;
	uint8_t *msr = NULL;
	size_t msr_len = 0;
	int c, e = 0, cap = 0, kinds;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': tcti = optarg; break;
		case 'r': rt = optarg; break;
		case 'S': smm_image = optarg; break;
		case 'L': smm_log = optarg; break;
		case 'W': smm_wrap = optarg; break;
		case 'I': pse_image = optarg; break;
		case 'P': pse_pub = optarg; break;
		case 'C': pse_cert = optarg; break;
		case 'T': pse_transport = optarg; break;
		case 'H': handoff = optarg; break;
		case 'X': cap = 1; break;
		case 'h': measure_usage(stdout); return 0;
		default: measure_usage(stderr); return 2;
		}
	}
	kinds = !!(smm_image || smm_log || smm_wrap) +
	    !!(pse_image || pse_pub || pse_cert || pse_transport) +
	    !!handoff + cap;
	if (optind != argc || tcti == NULL || rt == NULL || kinds != 1 ||
	    ((smm_image || smm_log || smm_wrap) &&
	    (!smm_image || !smm_log || !smm_wrap)) ||
	    ((pse_image || pse_pub || pse_cert || pse_transport) &&
	    (!pse_image || !pse_pub || !pse_cert))) {
		fprintf(stderr, "vigil-agent measure: %s\n",
		    optind != argc ? "unexpected argument" :
		    tcti == NULL ? "missing --tcti (or TPM2TOOLS_TCTI)" :
		    rt == NULL ? "missing --runtime-log" : kinds != 1 ?
		    "give exactly one of the SMM, PSE, --handoff or --cap "
		    "measurements" : "--smm-image, --smm-log-pub and "
		    "--smm-wrap-pub go together, as do --pse-image, "
		    "--pse-pubkey and --pse-cert");
		measure_usage(stderr);
		return 2;
	}
	memset(&p, 0, sizeof(p));
	if (smm_image != NULL) {
		if ((e = measure_image(&p, VIGIL_TAG_SMM_IMAGE, "smm-image",
		    smm_image)) == 0 &&
		    (e = measure_key(&p, VIGIL_TAG_SMM_LOG_PUB, "smm-log-pub",
		    smm_log, 0)) == 0)
			e = measure_key(&p, VIGIL_TAG_SMM_WRAP_PUB,
			    "smm-wrap-pub", smm_wrap, 0);
	} else if (pse_image != NULL) {
		if ((e = measure_image(&p, VIGIL_TAG_PSE_IMAGE, "pse-image",
		    pse_image)) == 0 &&
		    (e = measure_key(&p, VIGIL_TAG_PSE_PLATFORM_PUB,
		    "pse-pubkey", pse_pub, 0)) == 0 &&
		    (e = measure_key(&p, VIGIL_TAG_PSE_PLATFORM_CERT,
		    "pse-cert", pse_cert, 1)) == 0 && pse_transport != NULL)
			e = measure_key(&p, VIGIL_TAG_PSE_TRANSPORT_PUB,
			    "pse-transport-pubkey", pse_transport, 0);
	} else if (handoff != NULL) {
		if ((e = boot_read_small("MSR", handoff, &msr,
		    &msr_len)) == 0)
			e = mplan_add(&p, VIGIL_RUNTIME_PCR,
			    VIGIL_TAG_AK_PUBLIC, msr, msr_len);
	} else
		e = mplan_add(&p, VIGIL_CAP_PCR, VIGIL_TAG_CAP, capdata,
		    sizeof(capdata) - 1);
	if (e == 0)
		e = measure_append(tcti, rt, &p);
	mplan_free(&p);
	free(msr);
	if (e != 0) {
		fprintf(stderr, "vigil-agent measure: failed: %s\n",
		    vigil_strerror(e));
		return 1;
	}
	printf("measure: %s appended to %s\n", cap ? "the cap (PCR 11)" :
	    handoff ? "the AK hand-off (PCR 23)" : smm_image ?
	    "vigil-smmd's image and keys (PCR 23)" :
	    "vigil-psed's image and keys (PCR 23)", rt);
	return 0;
}
