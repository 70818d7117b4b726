/* SMM runtime evidence in a push, and the SMM routes (routes_smm.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api_who.h"
#include "buf.h"
#include "config.h"
#include "err.h"
#include "evbus.h"
#include "log.h"
#include "results.h"
#include "routes_smm.h"
#include "smm-bridge/keywrap.h"
#include "smm-bridge/mm.h"
#include "store_smm.h"

/* ---- the push ---- */

int
routes_smm_push_init(struct smm_push *p, size_t n_items)
{
	memset(p, 0, sizeof(*p));
	if (n_items == 0)
		return 0;
	if ((p->msgs = calloc(n_items, sizeof(*p->msgs))) == NULL)
		return VIGIL_ENOMEM;
	p->n_items = n_items;
	return 0;
}

void
routes_smm_push_free(struct smm_push *p)
{
	size_t i;

	for (i = 0; i < p->n_items; i++)
		if (p->msgs[i] != NULL)
			vigil__smm_log_entries__free_unpacked(p->msgs[i],
			    NULL);
	free(p->msgs);
	free(p->entries);
	free(p->lens);
	free(p->seqs);
	for (i = 0; i < p->n_keys; i++)
		free(p->keys[i]);
	free(p->refs_json);
	free(p->refs_sig);
	memset(p, 0, sizeof(*p));
}

static int
smm_grow(struct smm_push *p, size_t add)
{
	size_t n = p->n + add;
	const uint8_t **e;
	size_t *l;
	uint64_t *s;

	if ((e = realloc(p->entries, n * sizeof(*e))) == NULL)
		return VIGIL_ENOMEM;
	p->entries = e;
	if ((l = realloc(p->lens, n * sizeof(*l))) == NULL)
		return VIGIL_ENOMEM;
	p->lens = l;
	if ((s = realloc(p->seqs, n * sizeof(*s))) == NULL)
		return VIGIL_ENOMEM;
	p->seqs = s;
	return 0;
}

int
routes_smm_item(struct smm_push *p, size_t i, const Vigil__EvidenceItem *it,
    char *why, size_t whylen)
{
	Vigil__SmmLogEntries *m;
	size_t k;

	if (i >= p->n_items)
		return VIGIL_EINVAL;
	m = vigil__smm_log_entries__unpack(NULL, it->body.len, it->body.data);
	if (m == NULL || m->base.unknown_fields != NULL ||
	    m->first_seq == 0 || m->n_entries == 0 ||
	    m->first_seq > UINT64_MAX - m->n_entries ||
	    m->n_entries > ROUTES_SMM_MAX_ENTRIES) {
		snprintf(why, whylen, "item %zu (seq %llu): not a valid "
		    "SmmLogEntries (first_seq >= 1, 1..%u entries)", i,
		    (unsigned long long)it->seq, ROUTES_SMM_MAX_ENTRIES);
		goto bad;
	}
	for (k = 0; k < m->n_entries; k++)
		if (m->entries[k].len == 0 ||
		    m->entries[k].len > MM_MAX_ENTRY) {
			snprintf(why, whylen, "item %zu: SMM entry %zu empty "
			    "or over %u bytes", i, k, MM_MAX_ENTRY);
			goto bad;
		}
	/* Over the bound of one push: the rest is left out (the reply's
	 * smm_next_seq asks for it again). */
	if (p->n + m->n_entries > ROUTES_SMM_MAX_ENTRIES) {
		vigil__smm_log_entries__free_unpacked(m, NULL);
		return 0;
	}
	if (smm_grow(p, m->n_entries) != 0) {
		vigil__smm_log_entries__free_unpacked(m, NULL);
		return VIGIL_ENOMEM;
	}
	for (k = 0; k < m->n_entries; k++) {
		/* An entry spooled twice (an agent crash between spooling
		 * and noting it): the first copy stands; the chain and the
		 * signed head decide whether it is the true one. */
		if (p->n > 0 && m->first_seq + k <= p->seqs[p->n - 1])
			continue;
		p->entries[p->n] = m->entries[k].data;
		p->lens[p->n] = m->entries[k].len;
		p->seqs[p->n] = m->first_seq + k;
		p->n++;
	}
	p->msgs[i] = m;
	return 0;
 bad:
	if (m != NULL)
		vigil__smm_log_entries__free_unpacked(m, NULL);
	return VIGIL_EINVAL;
}

static int
smm_entry_get(void *ctx, uint64_t seq, uint8_t **out, size_t *len)
{
	void **c = ctx;

	return store_smm_entry_get(c[0], c[1], seq, out, len);
}

/* The newest reference set (parsed, unsigned here: we signed it). */
static int
smm_refs_current(struct vctx *vc, struct refs **out)
{
	uint8_t *sig = NULL;
	uint64_t version;
	size_t sig_len;
	char *json = NULL;
	int e;

	*out = NULL;
	e = store_smm_refset_latest(vc->store, &version, &json, &sig,
	    &sig_len);
	if (e == VIGIL_ENOTFOUND)
		return 0;
	if (e == 0 && (e = refs_parse((const uint8_t *)json, strlen(json),
	    out)) != 0)
		log_err("smm: stored reference set version %" PRIu64 " does "
		    "not parse", version);
	free(json);
	free(sig);
	return e;
}

int
routes_smm_appraise(struct vctx *vc, const char *agent_id,
    const struct refvals *refvals, const Vigil__Evidence *ev,
    struct appraise_out *ao, struct smm_push *p)
{
	struct appraise_smm_in in;
	struct smm_pins prev;
	struct refs *refs = NULL;
	uint8_t (*issued)[SMMLOG_HASH_LEN] = NULL;
	size_t n_issued = 0;
	void *ctx[2];
	int e, have_prev;

	if (!ao->quote_ok)
		return 0;
	e = store_smm_pins_get(vc->store, agent_id, &prev);
	if (e != 0 && e != VIGIL_ENOTFOUND)
		return e;
	have_prev = e == 0;
	p->pinned = have_prev;
	p->accepted = have_prev ? prev.seq : 0;
	if (!ao->smm.evaluated) {
		/* The event log did not verify: PCR 2 unknown. */
		if (have_prev)
			ear_reason(&ao->ear, "SMM runtime evidence not "
			    "appraised: the event log did not verify");
		return 0;
	}
	/* A node without an SMM service (nothing measured, pinned or sent):
	 * no claim, and no store reads on this path. */
	if (!ao->smm.present && !have_prev && ev->smm_head.len == 0 &&
	    p->n == 0)
		return 0;
	if ((e = store_smm_refset_digests(vc->store, &issued,
	    &n_issued)) != 0 || (e = smm_refs_current(vc, &refs)) != 0)
		goto out;
	ctx[0] = vc->store;
	ctx[1] = (void *)agent_id;
	memset(&in, 0, sizeof(in));
	in.boot = &ao->smm;
	in.prev = have_prev ? &prev : NULL;
	in.nonce = ev->nonce.data;
	in.nonce_len = ev->nonce.len;
	in.head = ev->smm_head.data;
	in.head_len = ev->smm_head.len;
	in.entries = p->entries;
	in.lens = p->lens;
	in.seqs = p->seqs;
	in.n = p->n;
	in.get = smm_entry_get;
	in.get_ctx = ctx;
	in.refs = refs;
	in.issued = (const uint8_t (*)[SMMLOG_HASH_LEN])issued;
	in.n_issued = n_issued;
	refvals_smm_images(refvals, &in.images, &in.n_images);
	in.image_tofu = vc->cfg->smm_image_tofu;
	if ((e = appraise_smm(&in, &ao->ear, &p->out)) != 0)
		goto out;
	p->appraised = 1;
	if (p->out.next.have) {
		p->pinned = 1;
		p->accepted = p->out.next.seq;
	}
	if (p->out.n_new > 0 || p->out.changed)
		log_info("smm: agent=%s accepted entries up to %llu (signed "
		    "head %llu)%s", agent_id,
		    (unsigned long long)p->out.next.seq,
		    (unsigned long long)p->out.last_signed,
		    p->out.next.n_taints > 0 || p->out.next.overflow[0] ?
		    ": tampered" : "");
 out:
	refs_free(refs);
	free(issued);
	return e;
}

/* smm.refusal for a refused key use the node's SMM service logged (an
 * accepted entry of the chain): for the key's tenant, when the key is one
 * the verifier holds for (this node, the entry's tenant, its key id), and
 * operators. A version-1 entry names no tenant: the node's only holder of
 * the id, if exactly one (as the audit attributes it, store_smm.h). */
static void
smm_refusal_event(struct vctx *vc, const char *agent_id,
    const struct smmlog_entry *x)
{
	struct smm_key_rec k;
	char key[SMMLOG_MAX_KEYID + 1], who[SMMLOG_MAX_TENANT + 1];
	char *data = NULL;
	const char *tenant = NULL;
	json_t *d;

	snprintf(key, sizeof(key), "%.*s", (int)x->u.k.key_id_len,
	    x->u.k.key_id);
	snprintf(who, sizeof(who), "%.*s", (int)x->u.k.tenant_len,
	    x->u.k.tenant != NULL ? x->u.k.tenant : "");
	memset(&k, 0, sizeof(k));
	if (store_smm_key_on_node(vc->store, agent_id, who[0] ? who : NULL,
	    key, &k) == 0)
		tenant = k.tenant;
	d = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:I}", "node",
	    agent_id, "seq", (json_int_t)x->seq, "key_id", key, "op",
	    mm_op_name(x->u.k.op), "caller_uid", (json_int_t)x->u.k.uid,
	    "status", mm_status_name(x->u.k.status), "measure_seq",
	    (json_int_t)x->u.k.measure_seq);
	if (d != NULL && tenant != NULL)
		json_object_set_new(d, "tenant", json_string(tenant));
	if (d != NULL && (data = json_dumps(d, JSON_COMPACT)) != NULL)
		(void)events_emit(vc->store, "smm.refusal", agent_id, tenant,
		    data);
	free(data);
	json_decref(d);
}

int
routes_smm_commit(struct vctx *vc, const char *agent_id, struct smm_push *p)
{
	size_t f = p->out.first_new, i;
	struct smmlog_entry x;
	int e;

	if (!p->appraised || !p->out.next.have ||
	    (!p->out.changed && p->out.n_new == 0))
		return 0;
	e = store_smm_commit(vc->store, agent_id, &p->out.next,
	    p->entries + f, p->lens + f, p->seqs + f, p->out.n_new);
	if (e != 0) {
		log_err("smm: agent=%s storing the SMM chain state failed: %s",
		    agent_id, vigil_strerror(e));
		return e;
	}
	/* The accepted entries are stored once (a resent one is not new):
	 * one event per refusal. */
	for (i = f; i < f + p->out.n_new; i++)
		if (smmlog_entry_parse(p->entries[i], p->lens[i], &x) == 0 &&
		    x.kind == SMMLOG_KIND_KEY_USE && !x.u.k.granted)
			smm_refusal_event(vc, agent_id, &x);
	return 0;
}

void
routes_smm_reply(struct vctx *vc, const char *agent_id, enum ear_tier tier,
    struct smm_push *p, Vigil__EvidenceReply *out)
{
	uint64_t version;
	size_t i;

	if (!p->pinned)
		return;		/* no SMM service known on this node */
	out->smm_next_seq = p->accepted + 1;
	if (store_smm_refset_latest(vc->store, &version, &p->refs_json,
	    &p->refs_sig, &p->refs_sig_len) == 0) {
		out->smm_refs.data = (uint8_t *)p->refs_json;
		out->smm_refs.len = strlen(p->refs_json);
		out->smm_refs_sig.data = p->refs_sig;
		out->smm_refs_sig.len = p->refs_sig_len;
	}
	/* Keys go only to a node this push found `affirming`, measured
	 * with its SMM service (a fresh appraisal by construction). */
	if (tier != EAR_TIER_AFFIRMING || !p->appraised)
		return;
	if (store_smm_keys_pending(vc->store, agent_id, ROUTES_SMM_MAX_KEYS,
	    p->keys, p->key_lens, p->key_tenants, p->key_ids,
	    &p->n_keys) != 0 ||
	    p->n_keys == 0)
		return;
	out->smm_wrapped_keys = calloc(p->n_keys,
	    sizeof(*out->smm_wrapped_keys));
	if (out->smm_wrapped_keys == NULL)
		return;
	for (i = 0; i < p->n_keys; i++) {
		out->smm_wrapped_keys[i].data = p->keys[i];
		out->smm_wrapped_keys[i].len = p->key_lens[i];
		(void)store_smm_key_delivered(vc->store, agent_id,
		    p->key_tenants[i], p->key_ids[i]);
		log_info("smm: key %s of tenant %s forwarded to agent=%s "
		    "(affirming)", p->key_ids[i], p->key_tenants[i], agent_id);
	}
	out->n_smm_wrapped_keys = p->n_keys;
}

/* ---- routes ---- */

static int
smm_is_id(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && strspn(s, "0123456789abcdef") == n;
}

static int
smm_key_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= KEYWRAP_MAX_ID && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/* The node's cached status and whether it is fresh. */
static int
smm_node_status(struct vctx *vc, const char *id, char status[24],
    int *fresh)
{
	struct node_row *rows = NULL;
	size_t n = 0, i;
	int64_t window;
	char before[65];
	int e;

	*fresh = 0;
	snprintf(status, 24, "none");
	/* store_nodes_list lists after a cursor: start just before id. */
	snprintf(before, sizeof(before), "%.63s", id);
	if ((e = store_nodes_list(vc->store, before, 16, &rows, &n)) != 0)
		return e;
	e = VIGIL_ENOTFOUND;
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].id, id) != 0)
			continue;
		snprintf(status, 24, "%s", rows[i].status);
		window = (int64_t)vc->cfg->interval_ms *
		    (vc->cfg->stale_intervals ? vc->cfg->stale_intervals : 3) /
		    1000;
		*fresh = rows[i].last_appraisal_at > 0 &&
		    (int64_t)time(NULL) - rows[i].last_appraisal_at <=
		    window + 1;
		e = 0;
	}
	free(rows);
	return e;
}

static int
smm_store_error(struct http_resp *resp, const char *what, int e)
{
	log_err("smm: %s: %s", what, vigil_strerror(e));
	return http_problem(resp, 503, "store", "Store unavailable",
	    "%s failed: %s", what, vigil_strerror(e));
}

static char *
smm_pem(const uint8_t *der, size_t len)
{
	const unsigned char *q = der;
	EVP_PKEY *k;
	BIO *b = NULL;
	char *out = NULL, *p;
	long n;

	if ((k = d2i_PUBKEY(NULL, &q, (long)len)) == NULL)
		return NULL;
	if ((b = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_PUBKEY(b, k) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	EVP_PKEY_free(k);
	return out;
}

int
routes_smm_key(struct http_req *req, struct http_resp *resp)
{
	struct api_who w;
	struct smm_pins pins;
	char status[24], hex[65], *pem = NULL;
	uint8_t fp[SHA256_LEN];
	unsigned int dl;
	json_t *o;
	int e, fresh;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (!smm_is_id(req->id) ||
	    (e = store_smm_pins_get(req->vc->store, req->id, &pins)) ==
	    VIGIL_ENOTFOUND)
		return http_problem(resp, 404, "not-found", "Not found",
		    "no attested SMM key-wrapping key for node %.64s",
		    req->id);
	if (e != 0)
		return smm_store_error(resp, "reading the SMM pins", e);
	if ((e = smm_node_status(req->vc, req->id, status, &fresh)) != 0 &&
	    e != VIGIL_ENOTFOUND)
		return smm_store_error(resp, "reading the node", e);
	if ((pem = smm_pem(pins.wrap_pub, pins.wrap_pub_len)) == NULL ||
	    EVP_Digest(pins.wrap_pub, pins.wrap_pub_len, fp, &dl,
	    EVP_sha256(), NULL) != 1) {
		free(pem);
		return http_problem(resp, 500, "internal", "Internal error",
		    "the pinned key does not encode");
	}
	hex_encode(fp, sizeof(fp), hex);
	o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "node", req->id,
	    "wrap_pub_pem", pem, "fingerprint", hex, "status", status,
	    "fresh", fresh, "log_seq", (json_int_t)pins.seq);
	free(pem);
	if (o == NULL)
		return VIGIL_ENOMEM;
	return http_json(resp, 200, o);
}

/* One entry as JSON (its bytes base64 beside the decoded fields). */
static json_t *
smm_entry_json(const struct smm_log_row *r)
{
	struct smmlog_entry x;
	char hex[2 * SMMLOG_HASH_LEN + 1];
	json_t *o, *pages;
	uint32_t i;

	if (smmlog_entry_parse(r->entry, r->entry_len, &x) != 0)
		return json_pack("{s:I, s:s}", "seq", (json_int_t)r->seq,
		    "kind", "malformed");
	o = json_pack("{s:s, s:I, s:s, s:I}", "node", r->agent_id, "seq",
	    (json_int_t)x.seq, "kind", smmlog_kind_name(x.kind), "time_ms",
	    (json_int_t)x.time_ms);
	if (o == NULL)
		return NULL;
	switch (x.kind) {
	case SMMLOG_KIND_MEASURE:
		hex_encode(x.u.m.root, SMMLOG_HASH_LEN, hex);
		pages = json_array();
		for (i = 0; pages != NULL && i < x.u.m.n_pages; i++)
			json_array_append_new(pages,
			    json_integer(smmlog_entry_page(&x, i)));
		json_object_set_new(o, "target", json_stringn(x.u.m.target,
		    x.u.m.target_len));
		json_object_set_new(o, "region", json_stringn(x.u.m.region,
		    x.u.m.region_len));
		json_object_set_new(o, "size", json_integer((json_int_t)
		    x.u.m.size));
		json_object_set_new(o, "root", json_string(hex));
		json_object_set_new(o, "verdict",
		    json_string(smmlog_verdict_name(x.u.m.verdict)));
		json_object_set_new(o, "changed_pages", pages ? pages :
		    json_array());
		break;
	case SMMLOG_KIND_KEY_USE:
		/* null: a version-1 entry, which names no tenant */
		json_object_set_new(o, "tenant", x.u.k.tenant_len > 0 ?
		    json_stringn(x.u.k.tenant, x.u.k.tenant_len) :
		    json_null());
		json_object_set_new(o, "key_id", json_stringn(x.u.k.key_id,
		    x.u.k.key_id_len));
		json_object_set_new(o, "op", json_string(mm_op_name(
		    x.u.k.op)));
		json_object_set_new(o, "caller_uid", json_integer(
		    x.u.k.uid));
		json_object_set_new(o, "granted", json_boolean(
		    x.u.k.granted));
		json_object_set_new(o, "status", json_string(mm_status_name(
		    x.u.k.status)));
		json_object_set_new(o, "measure_seq", json_integer(
		    (json_int_t)x.u.k.measure_seq));
		break;
	case SMMLOG_KIND_START:
		json_object_set_new(o, "boot", json_integer(x.u.start.boot));
		break;
	case SMMLOG_KIND_REFS:
		hex_encode(x.u.refs.digest, SMMLOG_HASH_LEN, hex);
		json_object_set_new(o, "version", json_integer((json_int_t)
		    x.u.refs.version));
		json_object_set_new(o, "digest", json_string(hex));
		break;
	default:
		break;
	}
	return o;
}

/* ?after_seq= and ?limit= (default 100). */
static int
smm_page_args(struct http_req *req, struct http_resp *resp, uint64_t *after,
    size_t *limit)
{
	const char *a = http_query(req, "after_seq");
	const char *l = http_query(req, "limit");
	unsigned long long v;
	char *end;

	*after = 0;
	*limit = 100;
	if (a != NULL) {
		v = strtoull(a, &end, 10);
		if (*a < '0' || *a > '9' || *end != '\0' || v > INT64_MAX) {
			http_problem(resp, 400, "bad-request", "Bad request",
			    "after_seq must be a sequence number");
			return VIGIL_EINVAL;
		}
		*after = v;
	}
	if (l != NULL) {
		v = strtoull(l, &end, 10);
		if (*l < '0' || *l > '9' || *end != '\0' || v == 0 ||
		    v > STORE_SMM_PAGE_MAX) {
			http_problem(resp, 400, "bad-request", "Bad request",
			    "limit must be 1..%u", STORE_SMM_PAGE_MAX);
			return VIGIL_EINVAL;
		}
		*limit = (size_t)v;
	}
	return 0;
}

static int
smm_rows_reply(struct http_resp *resp, struct smm_log_row *rows, size_t n,
    size_t limit)
{
	json_t *o, *arr;
	size_t i;

	if ((arr = json_array()) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < n; i++)
		json_array_append_new(arr, smm_entry_json(&rows[i]));
	o = json_pack("{s:o}", "entries", arr);
	if (o == NULL)
		return VIGIL_ENOMEM;
	if (n == limit)
		json_object_set_new(o, "next_after_seq",
		    json_integer((json_int_t)rows[n - 1].seq));
	return http_json(resp, 200, o);
}

int
routes_smm_log(struct http_req *req, struct http_resp *resp)
{
	struct smm_log_row *rows = NULL;
	struct agent_rec a;
	uint64_t after;
	size_t limit, n = 0;
	int e;

	if (!smm_is_id(req->id))
		return http_problem(resp, 404, "not-found", "Not found",
		    "no node %.64s", req->id);
	/* An unknown node is 404 like on every node route, not an empty
	 * log. */
	memset(&a, 0, sizeof(a));
	if ((e = store_agent_get(req->vc->store, req->id, &a)) != 0)
		return e == VIGIL_ENOTFOUND ? http_problem(resp, 404,
		    "not-found", "Not found", "no node %.64s", req->id) :
		    smm_store_error(resp, "reading the node", e);
	agent_rec_free(&a);
	if (smm_page_args(req, resp, &after, &limit) != 0)
		return 0;
	if ((e = store_smm_log_page(req->vc->store, req->id, after, limit,
	    &rows, &n)) != 0)
		return smm_store_error(resp, "reading the SMM log", e);
	e = smm_rows_reply(resp, rows, n, limit);
	store_smm_rows_free(rows, n);
	return e;
}

/* Standard base64 (with padding) into a malloc'd buffer. */
static int
smm_b64_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	uint8_t *b;
	int r;

	*out = NULL;
	*len = 0;
	if (n == 0 || n % 4 != 0 || n > INT32_MAX)
		return VIGIL_EINVAL;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	if ((b = malloc(n / 4 * 3 + 1)) == NULL)
		return VIGIL_ENOMEM;
	r = EVP_DecodeBlock(b, (const unsigned char *)s, (int)n);
	if (r < 0 || (size_t)r < pad) {
		free(b);
		return VIGIL_EINVAL;
	}
	*out = b;
	*len = (size_t)r - pad;
	return 0;
}

int
routes_keys_create(struct http_req *req, struct http_resp *resp)
{
	struct keywrap_policy pol;
	struct smm_pins pins;
	struct api_who w;
	json_t *body = NULL, *o;
	const char *node, *b64;
	char status[24];
	uint8_t fp[SHA256_LEN], *blob = NULL;
	unsigned int dl;
	size_t blen = 0;
	int e, fresh;

	if (api_who(req, resp, &w) != 0)
		return 0;
	if (w.operator || w.tenant[0] == '\0')
		return http_problem(resp, 403, "forbidden", "Forbidden",
		    "keys belong to tenants: use a tenant token");
	body = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (body == NULL || json_unpack(body, "{s:s, s:s !}", "node", &node,
	    "wrapped", &b64) != 0 || !smm_is_id(node) ||
	    strlen(b64) > 4 * ((MM_MAX_BLOB + 2) / 3)) {
		e = http_problem(resp, 400, "bad-request", "Bad request",
		    "body must be {\"node\": ID, \"wrapped\": BASE64} (a "
		    "keywrap blob of at most %u bytes)", MM_MAX_BLOB);
		goto out;
	}
	if (smm_b64_decode(b64, &blob, &blen) != 0 ||
	    keywrap_peek(blob, blen, &pol) != 0) {
		e = http_problem(resp, 400, "bad-request", "Bad request",
		    "wrapped is not a well-formed wrapped key (docs/smm.md)");
		goto out;
	}
	if (strcmp(pol.tenant, w.tenant) != 0) {
		e = http_problem(resp, 403, "forbidden", "Forbidden",
		    "the wrapped key names tenant %s, not yours", pol.tenant);
		goto out;
	}
	if ((e = store_smm_pins_get(req->vc->store, node, &pins)) != 0 ||
	    EVP_Digest(pins.wrap_pub, pins.wrap_pub_len, fp, &dl,
	    EVP_sha256(), NULL) != 1 ||
	    memcmp(fp, pol.recipient_fp, SHA256_LEN) != 0) {
		e = http_problem(resp, 409, "wrong-recipient", "Conflict",
		    "the key is not wrapped to node %s's attested "
		    "key-wrapping key (GET /v1/nodes/%s/smm-key)", node, node);
		goto out;
	}
	if ((e = smm_node_status(req->vc, node, status, &fresh)) != 0 ||
	    strcmp(status, "affirming") != 0 || !fresh) {
		e = http_problem(resp, 409, "node-not-trusted", "Conflict",
		    "node %s is not fresh and affirming (%s): keys are "
		    "forwarded only to such a node", node, status);
		goto out;
	}
	/* Key ids are the tenant's own: only this tenant's keys can make
	 * it exist, on the verifier and in the node's SMM service, which
	 * names keys by (tenant, id). */
	e = store_smm_key_add(req->vc->store, pol.key_id, w.tenant, node,
	    blob, blen);
	if (e == VIGIL_EEXIST) {
		e = http_problem(resp, 409, "exists", "Conflict",
		    "you already have a key with id %s", pol.key_id);
		goto out;
	}
	if (e != 0) {
		e = smm_store_error(resp, "storing the key", e);
		goto out;
	}
	(void)http_audit(req, "key.create", pol.key_id, "node %s", node);
	log_info("smm: tenant=%s stored wrapped key %s for node %s", w.tenant,
	    pol.key_id, node);
	o = json_pack("{s:s, s:s, s:s, s:s}", "id", pol.key_id, "tenant",
	    w.tenant, "node", node, "state", "pending");
	e = o ? http_json(resp, 201, o) : VIGIL_ENOMEM;
 out:
	free(blob);
	json_decref(body);
	return e;
}

int
routes_keys_uses(struct http_req *req, struct http_resp *resp)
{
	struct smm_log_row *rows = NULL;
	struct smm_key_rec k;
	struct api_who w;
	uint64_t after;
	size_t limit, n = 0;
	int e;

	if (api_who(req, resp, &w) != 0)
		return 0;
	/* Owner only: another tenant (or an operator) learns nothing, not
	 * even that the key exists. */
	if (w.operator || !smm_key_id_ok(req->id) ||
	    (e = store_smm_key_get(req->vc->store, w.tenant, req->id, &k)) ==
	    VIGIL_ENOTFOUND)
		return http_problem(resp, 404, "not-found", "Not found",
		    "no key %.64s", req->id);
	if (e != 0)
		return smm_store_error(resp, "reading the key", e);
	if (smm_page_args(req, resp, &after, &limit) != 0)
		return 0;
	/* Only the entries of (the node the key belongs to, this tenant,
	 * this id): another node logging uses under this id, or another
	 * tenant's key of this id on the same node, is not this key's
	 * audit. */
	if ((e = store_smm_key_uses(req->vc->store, k.agent_id, w.tenant,
	    req->id, after, limit, &rows, &n)) != 0)
		return smm_store_error(resp, "reading the key uses", e);
	e = smm_rows_reply(resp, rows, n, limit);
	store_smm_rows_free(rows, n);
	return e;
}

/* ---- reference sets for vigil-smmd, signed by the verifier ---- */

/* The verifier's reference-set key: ROUTES_SMM_REFS_KEY in the
 * [results] key_dir, a P-256 private key (PEM), made on first use (0600).
 * Separate from the result-signing keys, which rotate: vigil-smmd is
 * configured with this key's public half (measured in PCR 1). */
static int
smm_refs_key(struct vctx *vc, EVP_PKEY **out)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	EVP_PKEY *k = NULL;
	FILE *f;
	int fd;

	*out = NULL;
	if (results_key_dir(vc->cfg, dir) != 0)
		return VIGIL_ETOOBIG;
	snprintf(path, sizeof(path), "%s/%s", dir, ROUTES_SMM_REFS_KEY);
	if ((f = fopen(path, "re")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
			EVP_PKEY_free(k);
			log_err("smm: %s is not a P-256 private key", path);
			return VIGIL_EINVAL;
		}
		*out = k;
		return 0;
	}
	if (errno != ENOENT) {
		log_err("smm: cannot read %s: %s", path, strerror(errno));
		return VIGIL_EIO;
	}
	if ((k = EVP_EC_gen("P-256")) == NULL)
		return VIGIL_ECRYPTO;
	(void)mkdir(dir, 0700);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		log_err("smm: cannot create %s: %s", path, strerror(errno));
		EVP_PKEY_free(k);
		return VIGIL_EIO;
	}
	if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0) {
		log_err("smm: cannot write %s", path);
		EVP_PKEY_free(k);
		return VIGIL_EIO;
	}
	log_warn("smm: created the reference-set key %s: configure nodes' "
	    "vigil-smmd verifier_key with its public key (GET "
	    "/v1/smm/reference-set)", path);
	*out = k;
	return 0;
}

static char *
smm_pub_pem(EVP_PKEY *k)
{
	BIO *b;
	char *out = NULL, *p;
	long n;

	if ((b = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_PUBKEY(b, k) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

int
routes_smm_refs_get(struct http_req *req, struct http_resp *resp)
{
	EVP_PKEY *k = NULL;
	uint8_t *sig = NULL;
	uint64_t version = 0;
	size_t sig_len = 0;
	char *json = NULL, *pem = NULL;
	json_t *o = NULL, *doc = NULL;
	int e;

	if ((e = smm_refs_key(req->vc, &k)) != 0)
		return http_problem(resp, 503, "key", "Key unavailable",
		    "the reference-set key cannot be loaded: %s",
		    vigil_strerror(e));
	pem = smm_pub_pem(k);
	EVP_PKEY_free(k);
	e = store_smm_refset_latest(req->vc->store, &version, &json, &sig,
	    &sig_len);
	if (e != 0 && e != VIGIL_ENOTFOUND) {
		free(pem);
		return smm_store_error(resp, "reading the reference set", e);
	}
	if (json != NULL)
		doc = json_loads(json, 0, NULL);
	o = json_pack("{s:s?, s:I, s:o}", "verifier_key_pem", pem,
	    "version", (json_int_t)version, "document",
	    doc ? doc : json_null());
	free(pem);
	free(json);
	free(sig);
	if (o == NULL)
		return VIGIL_ENOMEM;
	return http_json(resp, 200, o);
}

int
routes_smm_refs_put(struct http_req *req, struct http_resp *resp)
{
	struct refs *parsed = NULL;
	struct buf sig = BUF_INIT;
	EVP_PKEY *k = NULL;
	json_t *body = NULL, *regions, *o;
	uint8_t *old_sig = NULL, dg[SHA256_LEN];
	uint64_t version = 0;
	size_t old_len;
	unsigned int dl;
	char *old = NULL, *rj = NULL, *doc = NULL, hex[65];
	size_t n;
	int e;

	body = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (body == NULL || json_unpack(body, "{s:o !}", "regions",
	    &regions) != 0 || !json_is_array(regions) ||
	    (rj = json_dumps(regions, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		e = http_problem(resp, 400, "bad-request", "Bad request",
		    "body must be {\"regions\": [{\"target\", \"region\", "
		    "\"roots\": [HEX...]}...]} (docs/smm.md)");
		goto out;
	}
	e = store_smm_refset_latest(req->vc->store, &version, &old, &old_sig,
	    &old_len);
	if (e != 0 && e != VIGIL_ENOTFOUND) {
		e = smm_store_error(resp, "reading the reference set", e);
		goto out;
	}
	version++;
	n = strlen(rj) + 64;
	if ((doc = malloc(n)) == NULL) {
		e = VIGIL_ENOMEM;
		goto out;
	}
	snprintf(doc, n, "{\"version\": %" PRIu64 ", \"regions\": %s}",
	    version, rj);
	if (strlen(doc) > MM_MAX_REFS || refs_parse((const uint8_t *)doc,
	    strlen(doc), &parsed) != 0) {
		e = http_problem(resp, 400, "bad-request", "Bad request",
		    "not a valid reference set (docs/smm.md: target, region, "
		    "1..%u roots of 64 hex digits; at most %u bytes)",
		    REFS_MAX_ROOTS, MM_MAX_REFS);
		goto out;
	}
	if ((e = smm_refs_key(req->vc, &k)) != 0) {
		e = http_problem(resp, 503, "key", "Key unavailable",
		    "the reference-set key cannot be loaded: %s",
		    vigil_strerror(e));
		goto out;
	}
	if (refs_sign(k, (const uint8_t *)doc, strlen(doc), &sig) != 0 ||
	    EVP_Digest(doc, strlen(doc), dg, &dl, EVP_sha256(), NULL) != 1) {
		e = http_problem(resp, 500, "internal", "Internal error",
		    "signing the reference set failed");
		goto out;
	}
	if ((e = store_smm_refset_add(req->vc->store, version, doc, sig.data,
	    sig.len, dg)) != 0) {
		e = smm_store_error(resp, "storing the reference set", e);
		goto out;
	}
	hex_encode(dg, sizeof(dg), hex);
	(void)http_audit(req, "smm-reference-set.put", "", "version %" PRIu64
	    " (%zu regions) sha256 %s", version, parsed->n, hex);
	log_info("smm: reference set version %" PRIu64 " signed (%zu "
	    "regions); forwarded with every push reply", version, parsed->n);
	o = json_pack("{s:I, s:s}", "version", (json_int_t)version, "sha256",
	    hex);
	e = o ? http_json(resp, 200, o) : VIGIL_ENOMEM;
 out:
	refs_free(parsed);
	buf_free(&sig);
	EVP_PKEY_free(k);
	json_decref(body);
	free(rj);
	free(doc);
	free(old);
	free(old_sig);
	return e;
}
