/* vigil-smmd's service: configuration, request handling, measurement
 * against references, the key gate and periodic scans (service.h). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "err.h"
#include "log.h"
#include "logstore.h"
#include "mm.h"
#include "rd.h"
#include "refs.h"
#include "service.h"
#include "transport.h"
#include "vault.h"

#define SMMD_MAX_GOOD (SMMD_MAX_TARGETS * 8)
#define SMMD_IO_TIMEOUT_MS 2000

/* Leaves of the last measurement that matched a reference root: what a
 * later mismatch is diffed against to name the changed pages. */
struct smmd_good {
	char target[SMMLOG_MAX_NAME + 1];
	char region[SMMLOG_MAX_REGION + 1];
	uint8_t root[SMMLOG_HASH_LEN];
	size_t n;
	uint8_t (*leaves)[SMMLOG_HASH_LEN];
};

struct smmd {
	struct smmd_config cfg;
	struct seal_keys keys;
	struct buf log_spki, wrap_spki;
	struct logstore *log;
	struct vault *vault;
	struct refs *refs;
	int refs_signed;
	EVP_PKEY *verifier;
	struct smmd_good good[SMMD_MAX_GOOD];
	size_t n_good;
	pid_t stopped[SMMD_MAX_TARGETS];
	size_t n_stopped;
	struct measure_hist hist;
	size_t chunk;
};

/* Reference sets. */

static int
smmd_path(char *dst, size_t n, const struct smmd *d, const char *file)
{
	int k = snprintf(dst, n, "%s/%s", d->cfg.state_dir, file);

	return k < 0 || (size_t)k >= n ? VIGIL_ECONFIG : 0;
}

static int
smmd_log_refs(struct smmd *d)
{
	struct smmlog_entry e = { .kind = SMMLOG_KIND_REFS };
	uint64_t seq;

	e.u.refs.version = d->refs->version;
	memcpy(e.u.refs.digest, d->refs->digest, SMMLOG_HASH_LEN);
	return logstore_append(d->log, &e, &seq);
}

/* At start: the stored signed set (checked again), or a stored baseline
 * when the operator opted in. */
static int
smmd_refs_load(struct smmd *d)
{
	char jp[1200], sp[1200];
	uint8_t *json = NULL, *sig = NULL;
	size_t jl = 0, sl = 0;
	int e;

	if ((e = smmd_path(jp, sizeof(jp), d, "refs.json")) != 0 ||
	    (e = smmd_path(sp, sizeof(sp), d, "refs.sig")) != 0)
		return e;
	if (file_read(jp, MM_MAX_REFS, &json, &jl) != 0)
		return 0;	/* none yet */
	if (file_read(sp, MM_MAX_SIG, &sig, &sl) == 0) {
		e = refs_verify_parse(json, jl, sig, sl, d->verifier,
		    &d->refs);
		d->refs_signed = e == 0;
	} else if (d->cfg.baseline_on_first_boot) {
		e = refs_parse(json, jl, &d->refs);
		if (e == 0 && d->refs->version != 0) {
			refs_free(d->refs);
			d->refs = NULL;
			e = VIGIL_EVERIFY;
		}
	} else {
		log_warn("smmd: unsigned %s ignored (no baseline opt-in)", jp);
		e = 0;
	}
	if (e != 0)
		log_err("smmd: stored reference set refused: %s",
		    vigil_strerror(e));
	free(json);
	free(sig);
	return 0;
}

static uint32_t
smmd_set_refs(struct smmd *d, const struct mm_msg *m, uint64_t *version)
{
	struct refs *r = NULL;
	char jp[1200], sp[1200];
	int e;

	e = refs_verify_parse(m->req.set_refs.refs, m->req.set_refs.refs_len,
	    m->req.set_refs.sig, m->req.set_refs.sig_len, d->verifier, &r);
	if (e == VIGIL_EVERIFY || e == VIGIL_ECONFIG)
		return MM_ST_BAD_SIGNATURE;
	if (e != 0)
		return MM_ST_BAD_REQUEST;
	if (d->refs != NULL && d->refs_signed &&
	    (r->version < d->refs->version || (r->version ==
	    d->refs->version && memcmp(r->digest, d->refs->digest,
	    SMMLOG_HASH_LEN) != 0))) {
		log_warn("smmd: reference set version %" PRIu64 " refused: "
		    "version %" PRIu64 " is in force", r->version,
		    d->refs->version);
		refs_free(r);
		return MM_ST_STALE;
	}
	if (d->refs != NULL && d->refs_signed &&
	    r->version == d->refs->version) {
		*version = r->version;	/* the same set again */
		refs_free(r);
		return MM_ST_OK;
	}
	if (smmd_path(jp, sizeof(jp), d, "refs.json") != 0 ||
	    smmd_path(sp, sizeof(sp), d, "refs.sig") != 0 ||
	    file_write_atomic(sp, m->req.set_refs.sig,
	    m->req.set_refs.sig_len) != 0 ||
	    file_write_atomic(jp, m->req.set_refs.refs,
	    m->req.set_refs.refs_len) != 0) {
		refs_free(r);
		return MM_ST_INTERNAL;
	}
	refs_free(d->refs);
	d->refs = r;
	d->refs_signed = 1;
	*version = r->version;
	log_info("smmd: reference set version %" PRIu64 " accepted "
	    "(%zu regions)", r->version, r->n);
	return smmd_log_refs(d) == 0 ? MM_ST_OK : MM_ST_INTERNAL;
}

/* The first-boot baseline from a measurement (opt-in only). */
static int
smmd_baseline(struct smmd *d, const char *target,
    const struct measure_set *s)
{
	struct buf j = BUF_INIT;
	char path[1200], hex[SMMLOG_HASH_LEN * 2 + 1], line[1400];
	size_t i;
	int e = 0, first = 1, n, added = 0;

	if ((e = buf_add(&j, "{\"version\": 0, \"regions\": [", 27)) != 0)
		goto out;
	for (i = 0; d->refs != NULL && i < d->refs->n; i++) {
		hex_encode(d->refs->r[i].roots[0], SMMLOG_HASH_LEN, hex);
		n = snprintf(line, sizeof(line), "%s{\"target\": \"%s\", "
		    "\"region\": \"%s\", \"roots\": [\"%s\"]}", first ? "" :
		    ", ", d->refs->r[i].target, d->refs->r[i].region, hex);
		if ((e = buf_add(&j, line, (size_t)n)) != 0)
			goto out;
		first = 0;
	}
	for (i = 0; i < s->n; i++) {
		const struct refs_region *have;

		if (s->r[i].error != 0 ||
		    refs_lookup(d->refs, target, s->r[i].name, &have) == 0 ||
		    strchr(s->r[i].name, '"') || strchr(s->r[i].name, '\\'))
			continue;
		hex_encode(s->r[i].root, SMMLOG_HASH_LEN, hex);
		n = snprintf(line, sizeof(line), "%s{\"target\": \"%s\", "
		    "\"region\": \"%s\", \"roots\": [\"%s\"]}", first ? "" :
		    ", ", target, s->r[i].name, hex);
		if (n < 0 || (size_t)n >= sizeof(line) ||
		    (e = buf_add(&j, line, (size_t)n)) != 0)
			goto out;
		first = 0;
		added++;
	}
	if (added == 0)
		goto out;
	if ((e = buf_add(&j, "]}", 2)) != 0)
		goto out;
	refs_free(d->refs);
	d->refs = NULL;
	if ((e = refs_parse(j.data, j.len, &d->refs)) != 0 ||
	    (e = smmd_path(path, sizeof(path), d, "refs.json")) != 0 ||
	    (e = file_write_atomic(path, j.data, j.len)) != 0)
		goto out;
	log_warn("smmd: first-boot baseline taken for target %s (operator "
	    "opt-in): %zu regions", target, d->refs->n);
	e = smmd_log_refs(d);
 out:
	buf_free(&j);
	return e;
}

/* Measurement against references. */

static struct smmd_good *
smmd_good_find(struct smmd *d, const char *target, const char *region)
{
	size_t i;

	for (i = 0; i < d->n_good; i++)
		if (strcmp(d->good[i].target, target) == 0 &&
		    strcmp(d->good[i].region, region) == 0)
			return &d->good[i];
	return NULL;
}

static void
smmd_good_put(struct smmd *d, const char *target,
    const struct measure_region *r)
{
	struct smmd_good *g = smmd_good_find(d, target, r->name);
	uint8_t (*copy)[SMMLOG_HASH_LEN];

	if (g == NULL) {
		if (d->n_good == SMMD_MAX_GOOD)
			return;
		g = &d->good[d->n_good++];
		snprintf(g->target, sizeof(g->target), "%s", target);
		snprintf(g->region, sizeof(g->region), "%s", r->name);
	} else if (memcmp(g->root, r->root, SMMLOG_HASH_LEN) == 0) {
		return;
	}
	if ((copy = malloc(r->n_pages * SMMLOG_HASH_LEN + 1)) == NULL)
		return;
	memcpy(copy, r->leaves, r->n_pages * SMMLOG_HASH_LEN);
	free(g->leaves);
	g->leaves = copy;
	g->n = r->n_pages;
	memcpy(g->root, r->root, SMMLOG_HASH_LEN);
}

/* Compares one region, appends its MEASURE entry; *verdict, *changed. */
static int
smmd_judge(struct smmd *d, const char *target, struct measure_region *r,
    uint8_t *verdict, uint32_t *changed, uint64_t *seq)
{
	struct smmlog_entry e = { .kind = SMMLOG_KIND_MEASURE };
	const struct refs_region *ref;
	struct smmd_good *g;
	uint32_t pages[SMMLOG_MAX_PAGES];
	size_t n = 0;

	e.u.m.target = target;
	e.u.m.target_len = strlen(target);
	e.u.m.region = r->name;
	e.u.m.region_len = strlen(r->name);
	e.u.m.size = r->size;
	memcpy(e.u.m.root, r->root, SMMLOG_HASH_LEN);
	if (r->error != 0) {
		e.u.m.verdict = SMMLOG_VERDICT_ERROR;
	} else if (refs_lookup(d->refs, target, r->name, &ref) != 0) {
		e.u.m.verdict = SMMLOG_VERDICT_NO_REFERENCE;
	} else if (refs_match(ref, r->root)) {
		e.u.m.verdict = SMMLOG_VERDICT_MATCH;
		smmd_good_put(d, target, r);
	} else {
		e.u.m.verdict = SMMLOG_VERDICT_MISMATCH;
		g = smmd_good_find(d, target, r->name);
		if (g != NULL && g->n == r->n_pages && refs_match(ref, g->root))
			n = measure_diff((const uint8_t (*)[SMMLOG_HASH_LEN])
			    g->leaves, (const uint8_t (*)[SMMLOG_HASH_LEN])
			    r->leaves, g->n, pages, SMMLOG_MAX_PAGES);
		*changed += (uint32_t)n;
		e.u.m.n_pages = (uint32_t)(n < SMMLOG_MAX_PAGES ? n :
		    SMMLOG_MAX_PAGES);
		e.u.m.pages_host = pages;
		log_warn("smmd: target %s region %s does not match its "
		    "reference: %zu pages changed%s", target, r->name, n,
		    g == NULL ? " (no earlier good measurement to name them)" :
		    "");
	}
	if (e.u.m.verdict > *verdict)
		*verdict = e.u.m.verdict;
	return logstore_append(d->log, &e, seq);
}

static int
smmd_target_pid(const struct smmd_target *t, pid_t *pid)
{
	uint8_t *b = NULL;
	size_t n = 0;
	char tmp[32], *end;
	unsigned long long v;
	int ok;

	*pid = t->pid;
	if (t->pid_file[0] == '\0')
		return 0;
	if (file_read(t->pid_file, 31, &b, &n) != 0) {
		log_err("smmd: target %s: cannot read %s", t->name,
		    t->pid_file);
		return VIGIL_ENOTFOUND;
	}
	memcpy(tmp, b, n);
	tmp[n] = '\0';
	free(b);
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
		tmp[--n] = '\0';
	errno = 0;
	v = strtoull(tmp, &end, 10);
	ok = errno == 0 && end != tmp && *end == '\0' && v >= 1 &&
	    v <= 4194304 && tmp[0] != '-';
	if (!ok) {
		log_err("smmd: target %s: %s holds no pid", t->name,
		    t->pid_file);
		return VIGIL_EINVAL;
	}
	*pid = (pid_t)v;
	return 0;
}

/* Does the reference set name target at all? A baseline is taken once
 * per target: a region appearing later has no reference. */
static int
smmd_refs_has_target(const struct smmd *d, const char *target)
{
	size_t i;

	for (i = 0; d->refs != NULL && i < d->refs->n; i++)
		if (strcmp(d->refs->r[i].target, target) == 0)
			return 1;
	return 0;
}

/* Measures target ti (process regions then image), judges each region.
 * chunked: a periodic scan (bounded pauses); otherwise the process must
 * already be stopped by the caller. */
static int
smmd_measure_target(struct smmd *d, size_t ti, pid_t pid, int chunked,
    uint8_t *verdict, uint32_t *changed, uint64_t *seq)
{
	const struct smmd_target *t = &d->cfg.targets[ti];
	struct measure_set *s;
	size_t i;
	int e = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	if (pid > 0) {
		e = chunked ? measure_process_chunked(pid, &d->chunk,
		    d->cfg.pause_bound_us, &d->hist, s) :
		    measure_process(pid, s);
		if (e == 0 && s->n == 0)
			e = VIGIL_ENOTFOUND;
		if (e != 0) {
			/* The target is gone or unreadable: an ERROR entry. */
			measure_set_free(s);
			s->n = 1;
			snprintf(s->r[0].name, sizeof(s->r[0].name), "pid:%d",
			    (int)pid);
			s->r[0].error = e;
		}
	}
	if (t->image[0] != '\0' && s->n < MEASURE_MAX_REGIONS) {
		if ((e = measure_file(t->image, &s->r[s->n])) != 0)
			goto out;
		s->n++;
	}
	if (d->cfg.baseline_on_first_boot && !d->refs_signed &&
	    !smmd_refs_has_target(d, t->name) &&
	    (e = smmd_baseline(d, t->name, s)) != 0)
		goto out;
	for (i = 0; i < s->n; i++)
		if ((e = smmd_judge(d, t->name, &s->r[i], verdict, changed,
		    seq)) != 0)
			goto out;
	e = 0;
 out:
	measure_set_free(s);
	free(s);
	return e;
}

void
smmd_resume(struct smmd *d)
{
	size_t i;

	for (i = 0; i < d->n_stopped; i++)
		(void)measure_cont(d->stopped[i]);
	d->n_stopped = 0;
}

/* The atomic measurement of a key request or MEASURE: every process
 * target stopped first, measured, and left stopped for smmd_resume. */
static int
smmd_measure_all(struct smmd *d, uint32_t only, uint8_t *verdict,
    uint32_t *changed, uint64_t *seq)
{
	pid_t pids[SMMD_MAX_TARGETS] = { 0 };
	size_t i;
	int e;

	*verdict = SMMLOG_VERDICT_MATCH;
	*changed = 0;
	if (d->cfg.n_targets == 0) {
		*verdict = SMMLOG_VERDICT_NO_REFERENCE;
		return 0;
	}
	for (i = 0; i < d->cfg.n_targets; i++) {
		if (only != MM_TARGET_ALL && i != only)
			continue;
		if (smmd_target_pid(&d->cfg.targets[i], &pids[i]) != 0) {
			*verdict = SMMLOG_VERDICT_ERROR;
			continue;
		}
		if (pids[i] <= 0)
			continue;
		if (measure_stop(pids[i], 1000) == 0)
			d->stopped[d->n_stopped++] = pids[i];
		else
			*verdict = SMMLOG_VERDICT_ERROR;	/* not held */
	}
	for (i = 0; i < d->cfg.n_targets; i++) {
		if (only != MM_TARGET_ALL && i != only)
			continue;
		if ((e = smmd_measure_target(d, i, pids[i], 0, verdict,
		    changed, seq)) != 0)
			return e;
	}
	return 0;
}

int
smmd_scan(struct smmd *d)
{
	uint8_t verdict = SMMLOG_VERDICT_MATCH;
	uint32_t changed = 0;
	uint64_t seq = 0;
	pid_t pid;
	size_t i;
	int e;

	for (i = 0; i < d->cfg.n_targets; i++) {
		if (smmd_target_pid(&d->cfg.targets[i], &pid) != 0)
			pid = -1;
		if ((e = smmd_measure_target(d, i, pid, 1, &verdict, &changed,
		    &seq)) != 0)
			return e;
	}
	log_info("smmd: scan: verdict=%s changed=%u pauses=%" PRIu64
	    " p99=%" PRIu64 "us max=%" PRIu64 "us over_bound=%" PRIu64
	    " chunk=%zu", smmlog_verdict_name(verdict), changed,
	    d->hist.count, measure_hist_pct(&d->hist, 99), d->hist.max_us,
	    d->hist.over_bound, d->chunk);
	return 0;
}

const struct measure_hist *
smmd_hist(const struct smmd *d)
{
	return &d->hist;
}

/* Requests. */

static int
smmd_log_key_use(struct smmd *d, const char *tenant, const char *id,
    uint8_t op, uid_t uid, uint32_t st, uint64_t mseq)
{
	struct smmlog_entry e = { .kind = SMMLOG_KIND_KEY_USE };
	uint64_t seq;

	e.u.k.tenant = tenant;
	e.u.k.tenant_len = strlen(tenant);
	e.u.k.key_id = id;
	e.u.k.key_id_len = strlen(id);
	e.u.k.op = op;
	e.u.k.uid = (uint32_t)uid;
	e.u.k.granted = st == MM_ST_OK;
	e.u.k.status = (uint8_t)st;
	e.u.k.measure_seq = mseq;
	log_info("smmd: key %s of tenant %s %s for uid %u: %s", id, tenant,
	    mm_op_name(op), (unsigned)uid, st == MM_ST_OK ? "granted" :
	    mm_status_name(st));
	return logstore_append(d->log, &e, &seq);
}

static uint32_t
smmd_use_key(struct smmd *d, const struct mm_msg *m, uid_t uid,
    struct buf *out)
{
	char id[MM_MAX_KEYID + 1], tenant[MM_MAX_TENANT + 1];
	uint8_t op = m->req.use_key.op, verdict;
	uint32_t st, changed;
	uint64_t mseq = 0;

	/* mm_parse checked both names' lengths and alphabet. */
	memcpy(tenant, m->req.use_key.tenant, m->req.use_key.tenant_len);
	tenant[m->req.use_key.tenant_len] = '\0';
	memcpy(id, m->req.use_key.id, m->req.use_key.id_len);
	id[m->req.use_key.id_len] = '\0';
	st = vault_check(d->vault, tenant, id, op, uid);
	if (st == MM_ST_OK) {
		if (smmd_measure_all(d, MM_TARGET_ALL, &verdict, &changed,
		    &mseq) != 0)
			st = MM_ST_INTERNAL;
		else if (verdict == SMMLOG_VERDICT_NO_REFERENCE)
			st = MM_ST_NO_REFERENCE;
		else if (verdict == SMMLOG_VERDICT_MISMATCH)
			st = MM_ST_TAMPERED;
		else if (verdict != SMMLOG_VERDICT_MATCH)
			st = MM_ST_INTERNAL;	/* target unreadable or gone */
	}
	if (st == MM_ST_OK && vault_use(d->vault, tenant, id, op,
	    m->req.use_key.data, m->req.use_key.data_len, out) != 0)
		st = op == MM_OP_UNWRAP ? MM_ST_BAD_REQUEST : MM_ST_INTERNAL;
	if (smmd_log_key_use(d, tenant, id, op, uid, st, mseq) != 0)
		st = MM_ST_INTERNAL;	/* no unlogged key use */
	return st;
}

int
smmd_handle(struct smmd *d, const uint8_t *req, size_t len, uid_t uid,
    struct buf *reply)
{
	struct mm_msg m, r = { .reply = 1 };
	struct buf body = BUF_INIT;
	char id[KEYWRAP_MAX_ID + 1], tenant[KEYWRAP_MAX_ID + 1];
	uint8_t verdict, head[SMMLOG_HASH_LEN];
	uint64_t seq = 0;
	uint32_t n;
	int e;

	if (mm_parse(req, len, &m) != 0 || m.reply) {
		e = mm_build_error(reply, m.cmd, m.reply && m.status ==
		    MM_ST_OK ? MM_ST_BAD_REQUEST : m.status);
		goto out;
	}
	r.cmd = m.cmd;
	r.status = MM_ST_OK;
	switch (m.cmd) {
	case MM_CMD_MEASURE:
		if (m.req.measure.target != MM_TARGET_ALL &&
		    m.req.measure.target >= d->cfg.n_targets) {
			r.status = MM_ST_NOT_FOUND;
			break;
		}
		if (smmd_measure_all(d, m.req.measure.target, &verdict,
		    &r.rep.measure.changed, &seq) != 0) {
			r.status = MM_ST_INTERNAL;
			break;
		}
		r.rep.measure.verdict = verdict;
		logstore_head(d->log, &r.rep.measure.last_seq, head);
		break;
	case MM_CMD_READ_LOG:
		if (logstore_read(d->log, m.req.read_log.from_seq,
		    m.req.read_log.max_n, &body, &n) != 0) {
			r.status = MM_ST_INTERNAL;
			break;
		}
		r.rep.read_log.n = n;
		r.rep.read_log.entries = body.data;
		r.rep.read_log.entries_len = body.len;
		break;
	case MM_CMD_SIGN_HEAD:
		logstore_head(d->log, &seq, head);
		if (smmlog_head_sign(d->keys.log_key, m.req.sign_head.nonce,
		    m.req.sign_head.nonce_len, seq, head, &body) != 0) {
			r.status = MM_ST_INTERNAL;
			break;
		}
		r.rep.sign_head.head = body.data;
		r.rep.sign_head.head_len = body.len;
		break;
	case MM_CMD_PROVISION:
		e = vault_provision(d->vault, m.req.provision.blob,
		    m.req.provision.blob_len, tenant, id);
		if (e == VIGIL_EEXIST)
			r.status = MM_ST_EXISTS;
		else if (e == VIGIL_ECRYPTO || e == VIGIL_EDENIED)
			r.status = MM_ST_BAD_SIGNATURE;
		else if (e != 0)
			r.status = e == VIGIL_ETOOBIG ? MM_ST_INTERNAL :
			    MM_ST_BAD_REQUEST;
		r.rep.provision.id = (const uint8_t *)id;
		r.rep.provision.id_len = e == 0 ? strlen(id) : 0;
		break;
	case MM_CMD_USE_KEY:
		r.status = smmd_use_key(d, &m, uid, &body);
		r.rep.use_key.out = body.data;
		r.rep.use_key.out_len = body.len;
		break;
	case MM_CMD_GET_PUBKEYS:
		r.rep.pubkeys.log_pub = d->log_spki.data;
		r.rep.pubkeys.log_pub_len = d->log_spki.len;
		r.rep.pubkeys.wrap_pub = d->wrap_spki.data;
		r.rep.pubkeys.wrap_pub_len = d->wrap_spki.len;
		break;
	case MM_CMD_SET_REFS:
		r.status = smmd_set_refs(d, &m, &r.rep.set_refs.version);
		break;
	default:
		r.status = MM_ST_UNKNOWN_CMD;
	}
	log_debug("smmd: %s from uid %u: %s", mm_cmd_name(m.cmd),
	    (unsigned)uid, mm_status_name(r.status));
	e = mm_build(&r, reply);
 out:
	buf_free(&body);
	return e;
}

/* Opening. */

static int
smmd_load_verifier(struct smmd *d)
{
	FILE *f;

	if (d->cfg.verifier_key[0] == '\0') {
		log_warn("smmd: no verifier_key configured: signed reference "
		    "sets will be refused");
		return 0;
	}
	if ((f = fopen(d->cfg.verifier_key, "re")) == NULL) {
		log_err("smmd: cannot open verifier key %s: %s",
		    d->cfg.verifier_key, strerror(errno));
		return VIGIL_ECONFIG;
	}
	d->verifier = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (d->verifier == NULL || EVP_PKEY_get_base_id(d->verifier) !=
	    EVP_PKEY_EC) {
		log_err("smmd: %s is not an EC public key (PEM)",
		    d->cfg.verifier_key);
		return VIGIL_ECONFIG;
	}
	return 0;
}

int
smmd_open(const struct smmd_config *cfg, struct seal_keys *keys,
    struct smmd **out)
{
	struct smmd *d;
	struct smmlog_entry st = { .kind = SMMLOG_KIND_START };
	struct buf rb = BUF_INIT;
	struct smmlog_entry le;
	uint64_t seq, s;
	uint8_t head[SMMLOG_HASH_LEN];
	uint32_t n, boots = 0;
	const uint8_t *ep;
	size_t el;
	struct rd r;
	int e;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return VIGIL_ENOMEM;
	d->cfg = *cfg;
	d->keys = *keys;
	memset(keys, 0, sizeof(*keys));
	d->chunk = cfg->chunk_size;
	measure_set_threads(cfg->threads);
	if ((e = seal_spki(d->keys.log_key, &d->log_spki)) != 0 ||
	    (e = seal_spki(d->keys.wrap_key, &d->wrap_spki)) != 0 ||
	    (e = smmd_load_verifier(d)) != 0 ||
	    (e = logstore_open(cfg->state_dir, &d->log)) != 0 ||
	    (e = vault_open(cfg->state_dir, d->keys.wrap_key,
	    &d->vault)) != 0 ||
	    (e = smmd_refs_load(d)) != 0)
		goto out;
	/* The boot counter: the last START entry's plus one. */
	logstore_head(d->log, &seq, head);
	for (s = 1; s <= seq; s += n) {
		rb.len = 0;
		if ((e = logstore_read(d->log, s, MM_MAX_LOG_N, &rb, &n)) != 0)
			goto out;
		if (n == 0)
			break;
		rd_init(&r, rb.data, rb.len);
		while (mm_log_entry_next(&r, &ep, &el) == 0)
			if (smmlog_entry_parse(ep, el, &le) == 0 &&
			    le.kind == SMMLOG_KIND_START)
				boots = le.u.start.boot;
	}
	st.u.start.boot = boots + 1;
	if ((e = logstore_append(d->log, &st, &seq)) != 0)
		goto out;
	log_info("smmd: started (boot %u, log at seq %" PRIu64 ")",
	    st.u.start.boot, seq);
	*out = d;
	d = NULL;
 out:
	buf_free(&rb);
	smmd_close(d);
	return e;
}

void
smmd_close(struct smmd *d)
{
	size_t i;

	if (d == NULL)
		return;
	smmd_resume(d);
	for (i = 0; i < d->n_good; i++)
		free(d->good[i].leaves);
	vault_close(d->vault);
	logstore_close(d->log);
	refs_free(d->refs);
	EVP_PKEY_free(d->verifier);
	seal_keys_free(&d->keys);
	buf_free(&d->log_spki);
	buf_free(&d->wrap_spki);
	free(d);
}

/* Serving. */

static uint64_t
smmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
smmd_conn(struct smmd *d, int c)
{
	struct buf req = BUF_INIT, rep = BUF_INIT;
	struct mm_msg m;
	uid_t uid;
	pid_t pid;
	int e;

	if (mm_sock_peer(c, &uid, &pid) != 0)
		goto out;
	e = mm_sock_read(c, SMMD_IO_TIMEOUT_MS, &req);
	if (e == VIGIL_EIO)
		goto out;	/* EOF or timeout: nothing to answer */
	if (e != 0) {
		/* A header mm_frame_len refused: answer from it. */
		(void)mm_parse(req.data, req.len, &m);
		if (mm_build_error(&rep, 0, m.status != MM_ST_OK ? m.status :
		    MM_ST_BAD_LENGTH) == 0)
			(void)mm_sock_write(c, rep.data, rep.len);
		goto out;
	}
	if (smmd_handle(d, req.data, req.len, uid, &rep) == 0)
		(void)mm_sock_write(c, rep.data, rep.len);
	smmd_resume(d);		/* after the answer, as an SMI would */
 out:
	smmd_resume(d);
	buf_free(&req);
	buf_free(&rep);
}

int
smmd_serve(struct smmd *d, int fd, volatile sig_atomic_t *stop)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t next = smmd_now_ms(), now;
	int c, wait;

	while (!*stop) {
		now = smmd_now_ms();
		if (d->cfg.scan_interval > 0 && now >= next) {
			if (smmd_scan(d) != 0)
				log_err("smmd: periodic scan failed");
			next = smmd_now_ms() + d->cfg.scan_interval * 1000ull;
			continue;
		}
		wait = d->cfg.scan_interval > 0 ? (int)(next - now) : 1000;
		if (poll(&p, 1, wait) <= 0)
			continue;
		if ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		smmd_conn(d, c);
		close(c);
	}
	log_info("smmd: stopping; pauses=%" PRIu64 " p99=%" PRIu64
	    "us max=%" PRIu64 "us over_bound=%" PRIu64, d->hist.count,
	    measure_hist_pct(&d->hist, 99), d->hist.max_us,
	    d->hist.over_bound);
	return 0;
}
