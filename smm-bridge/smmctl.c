/* vigil-smm: sends requests through the SMM bridge as a tenant workload or
 * the agent would (docs/smm.md).
 *
 *   vigil-smm [--socket SPEC] measure [TARGET]
 *   vigil-smm [--socket SPEC] log [FROM [MAX]]   (no MAX: to the end)
 *   vigil-smm [--socket SPEC] head NONCEHEX
 *   vigil-smm [--socket SPEC] pubkeys [DIR]
 *   vigil-smm [--socket SPEC] provision FILE
 *   vigil-smm [--socket SPEC] sign|hmac|unwrap TENANT KEYID FILE
 *   vigil-smm [--socket SPEC] refs JSONFILE SIGFILE
 *   vigil-smm [--socket SPEC] raw FILE      FILE's bytes as the request
 *                                           (tests: malformed buffers)
 *   vigil-smm wrap --to PUB.der|PUB.pem --id ID --tenant T --ops sign,...
 *             --callers UID[,UID...] (--ec-key PEM | --secret FILE) --out F
 *
 * Binary results (signature, HMAC, unwrapped key, signed head) go to
 * standard output raw; everything else is text. Exit 0 when the service
 * answered ok, 1 when it refused (its status is printed on standard
 * error, e.g. "vigil-smm: refused: tampered"), 2 on usage or I/O error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "err.h"
#include "keywrap.h"
#include "log.h"
#include "mm.h"
#include "rd.h"
#include "smmlog.h"
#include "transport.h"

static int
smmctl_usage(void)
{
	fprintf(stderr,
	    "usage: vigil-smm [--socket SPEC] measure [TARGET] | log [FROM "
	    "[MAX]] |\n"
	    "         head NONCEHEX | pubkeys [DIR] | provision FILE |\n"
	    "         sign|hmac|unwrap TENANT KEYID FILE | refs JSON SIG | "
	    "raw FILE\n"
	    "       vigil-smm wrap --to PUB --id ID --tenant T --ops OPS "
	    "--callers UIDS\n"
	    "         (--ec-key PEM | --secret FILE) --out FILE\n");
	return 2;
}

static int
smmctl_write(const uint8_t *p, size_t n)
{
	return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 2;
}

static int
smmctl_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	*out = strtoull(s, &end, 0);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

static void
smmctl_print_entry(const uint8_t *p, size_t n)
{
	struct smmlog_entry e;
	char hex[2 * SMMLOG_HASH_LEN + 1];
	uint32_t i;

	if (smmlog_entry_parse(p, n, &e) != 0) {
		printf("? malformed entry\n");
		return;
	}
	printf("%" PRIu64 " %" PRIu64 " %s", e.seq, e.time_ms,
	    smmlog_kind_name(e.kind));
	switch (e.kind) {
	case SMMLOG_KIND_MEASURE:
		hex_encode(e.u.m.root, SMMLOG_HASH_LEN, hex);
		printf(" target=%.*s region=%.*s size=%" PRIu64 " root=%s "
		    "verdict=%s", (int)e.u.m.target_len, e.u.m.target,
		    (int)e.u.m.region_len, e.u.m.region, e.u.m.size, hex,
		    smmlog_verdict_name(e.u.m.verdict));
		if (e.u.m.n_pages > 0) {
			printf(" pages=");
			for (i = 0; i < e.u.m.n_pages; i++)
				printf("%s%u", i ? "," : "",
				    smmlog_entry_page(&e, i));
		}
		break;
	case SMMLOG_KIND_KEY_USE:
		/* A version-1 entry names no tenant: "-". */
		printf(" tenant=%.*s key=%.*s op=%s uid=%u %s status=%s "
		    "measure_seq=%" PRIu64, e.u.k.tenant_len > 0 ?
		    (int)e.u.k.tenant_len : 1, e.u.k.tenant_len > 0 ?
		    e.u.k.tenant : "-", (int)e.u.k.key_id_len, e.u.k.key_id,
		    mm_op_name(e.u.k.op), e.u.k.uid,
		    e.u.k.granted ? "granted" : "refused",
		    mm_status_name(e.u.k.status), e.u.k.measure_seq);
		break;
	case SMMLOG_KIND_START:
		printf(" boot=%u", e.u.start.boot);
		break;
	case SMMLOG_KIND_REFS:
		hex_encode(e.u.refs.digest, SMMLOG_HASH_LEN, hex);
		printf(" version=%" PRIu64 " digest=%s", e.u.refs.version,
		    hex);
		break;
	}
	printf("\n");
}

static int
smmctl_pubkeys(const struct mm_msg *m, const char *dir)
{
	const uint8_t *p[2] = { m->rep.pubkeys.log_pub,
	    m->rep.pubkeys.wrap_pub };
	size_t n[2] = { m->rep.pubkeys.log_pub_len,
	    m->rep.pubkeys.wrap_pub_len };
	static const char *const names[2] = { "log-signing",
	    "key-wrapping" };
	const unsigned char *q;
	char path[2048];
	EVP_PKEY *k;
	FILE *f;
	int i;

	for (i = 0; i < 2; i++) {
		q = p[i];
		if ((k = d2i_PUBKEY(NULL, &q, (long)n[i])) == NULL) {
			fprintf(stderr, "vigil-smm: %s key malformed\n",
			    names[i]);
			return 2;
		}
		if (dir != NULL) {
			snprintf(path, sizeof(path), "%s/%s.pem", dir,
			    names[i]);
			if ((f = fopen(path, "we")) == NULL) {
				EVP_PKEY_free(k);
				return 2;
			}
			PEM_write_PUBKEY(f, k);
			fclose(f);
		} else {
			printf("# %s\n", names[i]);
			PEM_write_PUBKEY(stdout, k);
		}
		EVP_PKEY_free(k);
	}
	return 0;
}

/* Loads a public key from PEM or DER SPKI. */
static EVP_PKEY *
smmctl_load_pub(const char *path)
{
	uint8_t *d = NULL;
	size_t n = 0;
	const unsigned char *p;
	EVP_PKEY *k = NULL;
	BIO *b;

	if (file_read(path, 16384, &d, &n) != 0)
		return NULL;
	p = d;
	if ((k = d2i_PUBKEY(NULL, &p, (long)n)) == NULL &&
	    (b = BIO_new_mem_buf(d, (int)n)) != NULL) {
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	free(d);
	return k;
}

static int
smmctl_wrap(int argc, char **argv)
{
	struct keywrap_key key;
	struct buf out = BUF_INIT;
	const char *to = NULL, *ecpem = NULL, *secret = NULL, *outp = NULL;
	EVP_PKEY *pub = NULL, *ec = NULL;
	uint8_t *sec = NULL;
	size_t sl = 0;
	char *tok, *save = NULL;
	uint64_t v;
	FILE *f;
	int i, rc = 2;

	memset(&key, 0, sizeof(key));
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--to") == 0)
			to = argv[i + 1];
		else if (strcmp(argv[i], "--id") == 0)
			snprintf(key.pol.key_id, sizeof(key.pol.key_id), "%s",
			    argv[i + 1]);
		else if (strcmp(argv[i], "--tenant") == 0)
			snprintf(key.pol.tenant, sizeof(key.pol.tenant), "%s",
			    argv[i + 1]);
		else if (strcmp(argv[i], "--ops") == 0) {
			if (keywrap_ops_parse(argv[i + 1], &key.pol.ops) != 0)
				return smmctl_usage();
		} else if (strcmp(argv[i], "--callers") == 0) {
			for (tok = strtok_r(argv[i + 1], ",", &save);
			    tok != NULL; tok = strtok_r(NULL, ",", &save)) {
				if (smmctl_u64(tok, &v) != 0 ||
				    v > UINT32_MAX || key.pol.n_callers ==
				    KEYWRAP_MAX_CALLERS)
					return smmctl_usage();
				key.pol.callers[key.pol.n_callers++] =
				    (uint32_t)v;
			}
		} else if (strcmp(argv[i], "--ec-key") == 0)
			ecpem = argv[i + 1];
		else if (strcmp(argv[i], "--secret") == 0)
			secret = argv[i + 1];
		else if (strcmp(argv[i], "--out") == 0)
			outp = argv[i + 1];
		else
			return smmctl_usage();
	}
	if (i != argc || to == NULL || outp == NULL ||
	    (ecpem == NULL) == (secret == NULL))
		return smmctl_usage();
	if ((pub = smmctl_load_pub(to)) == NULL) {
		fprintf(stderr, "vigil-smm: cannot load public key %s\n", to);
		goto out;
	}
	if (ecpem != NULL) {
		if ((f = fopen(ecpem, "re")) == NULL ||
		    (ec = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL ||
		    keywrap_ec_scalar(ec, key.material) != 0) {
			if (f != NULL)
				fclose(f);
			fprintf(stderr, "vigil-smm: cannot load EC key %s\n",
			    ecpem);
			goto out;
		}
		fclose(f);
		key.material_len = 32;
		key.pol.type = KEYWRAP_TYPE_EC_P256;
	} else {
		if (file_read(secret, KEYWRAP_MAX_MATERIAL, &sec, &sl) != 0) {
			fprintf(stderr, "vigil-smm: cannot read secret %s "
			    "(16..64 bytes)\n", secret);
			goto out;
		}
		memcpy(key.material, sec, sl);
		key.material_len = sl;
		key.pol.type = KEYWRAP_TYPE_SECRET;
	}
	if (keywrap_wrap(pub, &key, &out) != 0 ||
	    file_write_atomic(outp, out.data, out.len) != 0) {
		fprintf(stderr, "vigil-smm: wrapping failed\n");
		goto out;
	}
	rc = 0;
 out:
	OPENSSL_cleanse(&key, sizeof(key));
	if (sec != NULL)
		OPENSSL_cleanse(sec, sl);
	free(sec);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ec);
	buf_free(&out);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *sock = getenv("VIGIL_SMM_SOCKET");
	struct mm_transport *t = NULL;
	struct buf req = BUF_INIT, rep = BUF_INIT;
	uint8_t *file = NULL, *sig = NULL, nonce[MM_MAX_NONCE], op;
	size_t flen = 0, slen = 0;
	struct mm_msg m;
	const uint8_t *ep;
	size_t el;
	struct rd r;
	uint64_t a = 1, b = MM_MAX_LOG_N;
	int rc = 2, i = 1;

	log_init("vigil-smm", LOG_WARN);
	if (sock == NULL)
		sock = MM_DEFAULT_SOCKET;
	if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
		sock = argv[2];
		i = 3;
	}
	if (i >= argc)
		return smmctl_usage();
	argc -= i;
	argv += i;
	if (strcmp(argv[0], "wrap") == 0)
		return smmctl_wrap(argc, argv);
	if (strcmp(argv[0], "measure") == 0 && argc <= 2) {
		if (argc == 2 && (smmctl_u64(argv[1], &a) != 0 ||
		    a > UINT32_MAX))
			return smmctl_usage();
		rc = mm_build_measure(&req, argc == 2 ? (uint32_t)a :
		    MM_TARGET_ALL);
	} else if (strcmp(argv[0], "log") == 0 && argc <= 3) {
		if ((argc > 1 && smmctl_u64(argv[1], &a) != 0) ||
		    (argc > 2 && smmctl_u64(argv[2], &b) != 0) ||
		    b == 0 || b > MM_MAX_LOG_N)
			return smmctl_usage();
		rc = mm_build_read_log(&req, a, (uint32_t)b);
	} else if (strcmp(argv[0], "head") == 0 && argc == 2) {
		flen = strlen(argv[1]) / 2;
		if (flen == 0 || flen > MM_MAX_NONCE ||
		    strlen(argv[1]) != 2 * flen ||
		    hex_decode(argv[1], nonce, flen) != 0)
			return smmctl_usage();
		rc = mm_build_sign_head(&req, nonce, flen);
		flen = 0;
	} else if (strcmp(argv[0], "pubkeys") == 0 && argc <= 2) {
		rc = mm_build_get_pubkeys(&req);
	} else if (strcmp(argv[0], "provision") == 0 && argc == 2) {
		if (file_read(argv[1], MM_MAX_BLOB, &file, &flen) != 0)
			goto out;
		rc = mm_build_provision(&req, file, flen);
	} else if (argc == 4 && mm_op_parse(argv[0], &op) == 0) {
		if (strlen(argv[1]) > MM_MAX_TENANT ||
		    strlen(argv[2]) > MM_MAX_KEYID ||
		    file_read(argv[3], MM_MAX_DATA, &file, &flen) != 0)
			goto out;
		rc = mm_build_use_key(&req, op, argv[1], argv[2], file, flen);
	} else if (strcmp(argv[0], "raw") == 0 && argc == 2) {
		if (file_read(argv[1], MM_MAX_BUF, &file, &flen) != 0 ||
		    (rc = buf_add(&req, file, flen)) != 0)
			goto out;
	} else if (strcmp(argv[0], "refs") == 0 && argc == 3) {
		if (file_read(argv[1], MM_MAX_REFS, &file, &flen) != 0 ||
		    file_read(argv[2], MM_MAX_SIG, &sig, &slen) != 0)
			goto out;
		rc = mm_build_set_refs(&req, file, flen, sig, slen);
	} else {
		return smmctl_usage();
	}
	if (rc != 0 || req.len == 0) {
		fprintf(stderr, "vigil-smm: request too large or empty\n");
		rc = 2;
		goto out;
	}
	rc = 2;
	if (mm_transport_open(sock, 0, &t) != 0 ||
	    mm_transport_call(t, req.data, req.len, &rep) != 0 ||
	    mm_parse(rep.data, rep.len, &m) != 0 || !m.reply) {
		fprintf(stderr, "vigil-smm: no valid reply from %s\n", sock);
		goto out;
	}
	if (m.status != MM_ST_OK) {
		fprintf(stderr, "vigil-smm: refused: %s\n",
		    mm_status_name(m.status));
		rc = 1;
		goto out;
	}
	rc = 0;
	switch (m.cmd) {
	case MM_CMD_MEASURE:
		printf("verdict=%s changed=%u last_seq=%" PRIu64 "\n",
		    smmlog_verdict_name((uint8_t)m.rep.measure.verdict),
		    m.rep.measure.changed, m.rep.measure.last_seq);
		rc = m.rep.measure.verdict == SMMLOG_VERDICT_MATCH ? 0 : 1;
		break;
	case MM_CMD_READ_LOG:
		for (;;) {
			rd_init(&r, m.rep.read_log.entries,
			    m.rep.read_log.entries_len);
			while (mm_log_entry_next(&r, &ep, &el) == 0)
				smmctl_print_entry(ep, el);
			/* Without MAX: page on to the end of the log. */
			if (argc > 2 || m.rep.read_log.n == 0)
				break;
			a += m.rep.read_log.n;
			req.len = rep.len = 0;
			if (mm_build_read_log(&req, a, MM_MAX_LOG_N) != 0 ||
			    mm_transport_call(t, req.data, req.len, &rep) != 0 ||
			    mm_parse(rep.data, rep.len, &m) != 0 ||
			    !m.reply || m.status != MM_ST_OK ||
			    m.cmd != MM_CMD_READ_LOG) {
				fprintf(stderr, "vigil-smm: reading the log "
				    "from %" PRIu64 " failed\n", a);
				rc = 2;
				break;
			}
		}
		break;
	case MM_CMD_SIGN_HEAD:
		rc = smmctl_write(m.rep.sign_head.head,
		    m.rep.sign_head.head_len);
		break;
	case MM_CMD_PROVISION:
		printf("%.*s\n", (int)m.rep.provision.id_len,
		    (const char *)m.rep.provision.id);
		break;
	case MM_CMD_USE_KEY:
		rc = smmctl_write(m.rep.use_key.out, m.rep.use_key.out_len);
		break;
	case MM_CMD_GET_PUBKEYS:
		rc = smmctl_pubkeys(&m, argc == 2 ? argv[1] : NULL);
		break;
	case MM_CMD_SET_REFS:
		printf("version=%" PRIu64 "\n", m.rep.set_refs.version);
		break;
	}
 out:
	mm_transport_close(t);
	buf_free(&req);
	buf_free(&rep);
	free(file);
	free(sig);
	return rc;
}
