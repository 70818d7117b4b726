/* Quote appraisal without HTTP or store: a software AK (swquote) makes
 * valid and forged quotes over PCR values replayed from a generated event
 * log, and each check must fail with its own reason and tier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/appraise_quote.h"
#include "buf.h"
#include "cel.h"
#include "verifier/ear.h"
#include "err.h"
#include "events.h"
#include "evlog.h"
#include "log.h"
#include "verifier/nonce.h"
#include "verifier/refvals.h"
#include "swquote.h"
#include "tpm_parse.h"

struct fx {
	struct swquote *sq;
	struct nonce_table *nt;
	struct agent_rec agent;
	uint8_t ak[1024];
	size_t ak_len;
	struct buf log;			/* the node's firmware log */
	struct buf rt;			/* its runtime log: hand-off, cap */
	struct pcrs vals;		/* PCRs 0-7, 11 and 23 */
	struct refvals *refs;		/* all policy PCRs as booted */
	/* per-case */
	uint8_t nonce[NONCE_LEN];
	struct buf attest, sig;
	Vigil__PcrValue pv[PCR_COUNT], *pvp[PCR_COUNT];
	Vigil__Evidence ev;
	struct appraise_out out;
	int have_out;
};

static void
sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len;

	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* The tagged AK event: u32le tag, u32le size, data. */
static void
add_tagged(struct buf *log, uint32_t pcr, uint32_t tag, const uint8_t *data,
    size_t len, const uint8_t *digest_of, size_t digest_len)
{
	struct buf ev = BUF_INIT;
	uint8_t d[SHA256_LEN];

	assert_int_equal(buf_add_u32le(&ev, tag), 0);
	assert_int_equal(buf_add_u32le(&ev, (uint32_t)len), 0);
	assert_int_equal(buf_add(&ev, data, len), 0);
	if (digest_of != NULL)
		sha256(digest_of, digest_len, d);
	else
		sha256(ev.data, ev.len, d);
	assert_int_equal(evlog_write_event(log, pcr, EV_EVENT_TAG, d,
	    ev.data, (uint32_t)ev.len), 0);
	buf_free(&ev);
}

/* A tagged CEL record of the runtime log; digest_of as above. */
static void
add_rt(struct buf *rt, uint64_t recnum, uint32_t pcr, uint32_t tag,
    const uint8_t *data, size_t len, const uint8_t *digest_of,
    size_t digest_len)
{
	struct buf ev = BUF_INIT;
	uint8_t d[SHA256_LEN];

	assert_int_equal(buf_add_u32le(&ev, tag), 0);
	assert_int_equal(buf_add_u32le(&ev, (uint32_t)len), 0);
	assert_int_equal(buf_add(&ev, data, len), 0);
	if (digest_of != NULL)
		sha256(digest_of, digest_len, d);
	else
		sha256(ev.data, ev.len, d);
	assert_int_equal(cel_write_record(rt, recnum, pcr, d, EV_EVENT_TAG,
	    ev.data, (uint32_t)ev.len), 0);
	buf_free(&ev);
}

/* A runtime log like a PSE node's: the AK hand-off (PCR 23), the cap
 * (PCR 11). */
static void
make_rt(struct buf *rt, const uint8_t *ak, size_t ak_len, int bad_ak_digest)
{
	add_rt(rt, 0, VIGIL_RUNTIME_PCR, VIGIL_TAG_AK_PUBLIC, ak, ak_len,
	    bad_ak_digest ? (const uint8_t *)"other" : NULL, 5);
	add_rt(rt, 1, VIGIL_CAP_PCR, VIGIL_TAG_CAP,
	    (const uint8_t *)VIGIL_CAP_DATA, strlen(VIGIL_CAP_DATA), NULL, 0);
}

/* A boot as firmware makes it: PCRs 0, 1, 4, 7, separators. */
static void
make_log(struct buf *log, const char *platform)
{
	static const uint8_t sep[4];
	uint8_t d[SHA256_LEN];
	uint32_t i;

	assert_int_equal(evlog_write_header(log), 0);
	sha256("firmware", 8, d);
	assert_int_equal(evlog_write_event(log, 0,
	    EV_EFI_PLATFORM_FIRMWARE_BLOB, d, NULL, 0), 0);
	sha256(platform, strlen(platform), d);
	assert_int_equal(evlog_write_event(log, 1, EV_PLATFORM_CONFIG_FLAGS,
	    d, platform, (uint32_t)strlen(platform)), 0);
	sha256("hypervisor", 10, d);
	assert_int_equal(evlog_write_event(log, 4, EV_IPL, d, "/hv", 3), 0);
	add_tagged(log, 7, VIGIL_TAG_BOOT_POLICY, (const uint8_t *)"policy",
	    6, NULL, 0);
	sha256(sep, 4, d);
	for (i = 0; i < 8; i++)
		assert_int_equal(evlog_write_event(log, i, EV_SEPARATOR, d,
		    sep, 4), 0);
}

/* PCR values as the firmware log replays, then the runtime log (rt may
 * be NULL: PCRs 11 and 23 stay zero). */
static void
replay_vals(const struct buf *log, const struct buf *rt, struct pcrs *vals)
{
	uint8_t pcr[PCR_COUNT][SHA256_LEN], cat[64];
	struct evlog *l = NULL;
	uint32_t touched, i;
	char why[200];

	assert_int_equal(evlog_parse(log->data, log->len, &l), 0);
	assert_int_equal(evlog_replay(l, EVLOG_SHA256, pcr, &touched), 0);
	evlog_free(l);
	memset(vals, 0, sizeof(*vals));
	for (i = 0; i < 8; i++)
		memcpy(vals->v[i], pcr[i], SHA256_LEN);
	if (rt != NULL && rt->len > 0) {
		assert_int_equal(cel_parse(rt->data, rt->len, &l, why,
		    sizeof(why)), 0);
		for (i = 0; i < l->n; i++) {
			memcpy(cat, vals->v[l->ev[i].pcr], 32);
			memcpy(cat + 32, l->ev[i].sha256, 32);
			sha256(cat, 64, vals->v[l->ev[i].pcr]);
		}
		evlog_free(l);
	}
	vals->mask = PCR_POLICY_MASK;
}

static char *
refdoc_for(const struct pcrs *vals, int skip_pcr)
{
	char *doc = malloc(8192), hex[65];
	size_t used;
	uint32_t i;

	assert_non_null(doc);
	used = (size_t)snprintf(doc, 8192, "{\"pcrs\":{");
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(PCR_POLICY_MASK & (1u << i)) || (int)i == skip_pcr)
			continue;
		hex_encode(vals->v[i], SHA256_LEN, hex);
		used += (size_t)snprintf(doc + used, 8192 - used,
		    "%s\"%u\":[\"%s\"]", doc[used - 1] == '{' ? "" : ",", i,
		    hex);
	}
	snprintf(doc + used, 8192 - used, "}}");
	return doc;
}

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	char *doc;

	assert_non_null(f);
	assert_int_equal(swquote_new(&f->sq), 0);
	assert_int_equal(nonce_table_new(60000, NULL, &f->nt), 0);
	assert_int_equal(swquote_ak_public(f->sq, &pub), 0);
	assert_int_equal(tpm_public_marshal(&pub, f->ak, sizeof(f->ak),
	    &f->ak_len), 0);
	assert_int_equal(tpm_public_name(&pub, &name), 0);
	memset(f->agent.id, 'a', 64);
	snprintf(f->agent.hostname, sizeof(f->agent.hostname), "node1");
	f->agent.state = AGENT_ACTIVE;
	f->agent.ak_pub = f->ak;
	f->agent.ak_pub_len = f->ak_len;
	memcpy(f->agent.ak_name, name.name, name.size);
	f->agent.ak_name_len = name.size;
	make_log(&f->log, "platform-a");
	make_rt(&f->rt, f->ak, f->ak_len, 0);
	replay_vals(&f->log, &f->rt, &f->vals);
	doc = refdoc_for(&f->vals, -1);
	assert_int_equal(refvals_parse(doc, strlen(doc), &f->refs, NULL, 0),
	    0);
	free(doc);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->have_out)
		appraise_out_free(&f->out);
	buf_free(&f->attest);
	buf_free(&f->sig);
	buf_free(&f->log);
	buf_free(&f->rt);
	refvals_free(f->refs);
	nonce_table_free(f->nt);
	swquote_free(f->sq);
	free(f);
	return 0;
}

/* The runtime log get_log returns (set by run). */
static const struct buf *g_rt;

/* The node's stored logs: the same for every boot in these tests; ctx is
 * the firmware log, g_rt the runtime log. */
static int
get_log(void *ctx, const char *agent_id, uint32_t which, uint32_t boot,
    uint8_t **out, size_t *len)
{
	static const struct buf none = BUF_INIT;
	const struct buf *log = which == 1 ? (g_rt ? g_rt : &none) : ctx;

	if (log->len == 0) {
		*out = NULL;
		*len = 0;
		return 0;
	}
	*out = malloc(log->len);
	assert_non_null(*out);
	memcpy(*out, log->data, log->len);
	*len = log->len;
	return 0;
}

/* Builds the Evidence: a quote by sq over quoted (mask) with extraData
 * xdata, reporting reported. */
static void
make_evidence(struct fx *f, struct swquote *sq, const uint8_t *xdata,
    const struct pcrs *quoted, const struct pcrs *reported, uint32_t mask,
    uint64_t clock, uint32_t reset, uint32_t restart, int safe)
{
	uint32_t i;
	size_t n = 0;

	buf_free(&f->attest);
	buf_free(&f->sig);
	assert_int_equal(swquote_make(sq, xdata, NONCE_LEN, quoted, mask,
	    clock, reset, restart, safe, &f->attest, &f->sig), 0);
	vigil__evidence__init(&f->ev);
	f->ev.nonce.data = f->nonce;
	f->ev.nonce.len = NONCE_LEN;
	f->ev.quote.data = f->attest.data;
	f->ev.quote.len = f->attest.len;
	f->ev.signature.data = f->sig.data;
	f->ev.signature.len = f->sig.len;
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(mask & (1u << i)))
			continue;
		vigil__pcr_value__init(&f->pv[n]);
		f->pv[n].index = i;
		f->pv[n].digest.data = (uint8_t *)reported->v[i];
		f->pv[n].digest.len = SHA256_LEN;
		f->pvp[n] = &f->pv[n];
		n++;
	}
	f->ev.n_pcrs = n;
	f->ev.pcrs = f->pvp;
}

static void
issue_nonce(struct fx *f)
{
	assert_int_equal(nonce_issue(f->nt, f->agent.id, f->nonce), 0);
}

static void
run_rt(struct fx *f, const struct quote_state *prev, const struct buf *log,
    const struct buf *rt, int learn, const struct refvals *refs)
{
	struct appraise_in in;

	g_rt = rt;
	memset(&in, 0, sizeof(in));
	in.agent = &f->agent;
	in.ev = &f->ev;
	in.prev = prev;
	in.refs = refs;
	in.nonces = f->nt;
	in.evlog_get = get_log;
	in.evlog_ctx = (void *)log;
	in.learn = learn;
	in.now = 1000;
	if (f->have_out)
		appraise_out_free(&f->out);
	assert_int_equal(appraise_quote(&in, &f->out), 0);
	f->have_out = 1;
}

static void
run(struct fx *f, const struct quote_state *prev, const struct buf *log,
    int learn, const struct refvals *refs)
{
	run_rt(f, prev, log, &f->rt, learn, refs);
}

static void
assert_reason(const struct fx *f, const char *part)
{
	size_t i;

	for (i = 0; i < f->out.ear.n_reasons; i++)
		if (strstr(f->out.ear.reasons[i], part) != NULL)
			return;
	for (i = 0; i < f->out.ear.n_reasons; i++)
		print_error("reason: %s\n", f->out.ear.reasons[i]);
	fail_msg("no reason containing \"%s\"", part);
}

static enum ear_tier
status(const struct fx *f)
{
	return ear_status(&f->out.ear);
}

static void
valid_quote(struct fx *f, uint64_t clock, uint32_t reset, uint32_t restart)
{
	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &f->vals, &f->vals,
	    PCR_POLICY_MASK, clock, reset, restart, 1);
}

static void
test_quote_valid_is_affirming(void **state)
{
	struct fx *f = *state;

	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	assert_int_equal(f->out.ear.n_reasons, 0);
	assert_true(f->out.quote_ok);
	assert_int_equal(f->out.ear.instance_identity, AR_AFFIRMING);
	assert_int_equal(f->out.ear.hardware, AR_AFFIRMING);
	assert_int_equal(f->out.ear.executables, AR_AFFIRMING);
	assert_int_equal(f->out.ear.configuration, AR_AFFIRMING);
	assert_int_equal(f->out.qs.reset_count, 3);
	assert_true(f->out.qs.clock == 5000);
	assert_null(f->out.learnt_doc);
}

static void
test_quote_rejects_forged_signature(void **state)
{
	struct fx *f = *state;
	struct swquote *other;

	assert_int_equal(swquote_new(&other), 0);
	issue_nonce(f);
	make_evidence(f, other, f->nonce, &f->vals, &f->vals,
	    PCR_POLICY_MASK, 5000, 3, 0, 1);
	run(f, NULL, &f->log, 0, f->refs);
	swquote_free(other);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "quote signature does not verify with the "
	    "registered AK");
	assert_false(f->out.quote_ok);
	assert_int_equal(f->out.ear.instance_identity, AR_CONTRA);
}

static void
test_quote_rejects_reused_nonce(void **state)
{
	struct fx *f = *state;

	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(f->out.nonce_err, VIGIL_ESTALE);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "quote nonce refused: expired or already used");
	assert_false(f->out.quote_ok);
}

static void
test_quote_rejects_nonce_of_another_agent(void **state)
{
	struct fx *f = *state;

	assert_int_equal(nonce_issue(f->nt, "someone-else", f->nonce), 0);
	make_evidence(f, f->sq, f->nonce, &f->vals, &f->vals,
	    PCR_POLICY_MASK, 5000, 3, 0, 1);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(f->out.nonce_err, VIGIL_ENOTFOUND);
	assert_reason(f, "quote nonce refused: not issued to this agent");
}

static void
test_quote_rejects_wrong_extradata(void **state)
{
	struct fx *f = *state;
	uint8_t other[NONCE_LEN];

	memset(other, 0x42, sizeof(other));
	issue_nonce(f);
	make_evidence(f, f->sq, other, &f->vals, &f->vals, PCR_POLICY_MASK,
	    5000, 3, 0, 1);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "quote extraData is not the nonce issued");
	assert_false(f->out.quote_ok);
}

static void
test_quote_rejects_selection_missing_policy_pcr(void **state)
{
	struct fx *f = *state;

	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &f->vals, &f->vals,
	    PCR_POLICY_MASK & ~(1u << 11), 5000, 3, 0, 1);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "quote selection does not cover policy PCR(s) 11");
	assert_true(f->out.quote_ok);	/* signed and fresh: items kept */
	assert_int_equal(f->out.ear.configuration, AR_CONTRA);
}

static void
test_quote_rejects_reported_value_not_quoted(void **state)
{
	struct fx *f = *state;
	struct pcrs rep = f->vals;

	rep.v[7][0] ^= 1;
	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &f->vals, &rep, PCR_POLICY_MASK,
	    5000, 3, 0, 1);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "reported PCR values do not match the quote's "
	    "pcrDigest");
}

static void
test_quote_rejects_log_that_does_not_replay(void **state)
{
	struct fx *f = *state;
	struct buf other = BUF_INIT;

	make_log(&other, "platform-b");
	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &other, 0, f->refs);
	buf_free(&other);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "event log does not replay to the quoted PCR 1");
	assert_int_equal(f->out.ear.executables, AR_CONTRA);
}

static void
test_quote_rejects_ak_event_digest_mismatch(void **state)
{
	struct fx *f = *state;
	struct buf bad = BUF_INIT;
	struct pcrs vals;

	make_rt(&bad, f->ak, f->ak_len, 1);
	replay_vals(&f->log, &bad, &vals);
	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &vals, &vals, PCR_POLICY_MASK,
	    5000, 3, 0, 1);
	run_rt(f, NULL, &f->log, &bad, 0, f->refs);
	buf_free(&bad);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "AK hand-off event digest is not SHA-256 of its data");
	assert_int_equal(f->out.ear.instance_identity, AR_CONTRA);
}

static void
test_quote_rejects_ak_event_of_another_ak(void **state)
{
	struct fx *f = *state;
	struct buf bad = BUF_INIT;
	struct swquote *other;
	TPM2B_PUBLIC pub;
	uint8_t ak[1024];
	size_t ak_len;
	struct pcrs vals;

	assert_int_equal(swquote_new(&other), 0);
	assert_int_equal(swquote_ak_public(other, &pub), 0);
	assert_int_equal(tpm_public_marshal(&pub, ak, sizeof(ak), &ak_len), 0);
	swquote_free(other);
	make_rt(&bad, ak, ak_len, 0);
	replay_vals(&f->log, &bad, &vals);
	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &vals, &vals, PCR_POLICY_MASK,
	    5000, 3, 0, 1);
	run_rt(f, NULL, &f->log, &bad, 0, f->refs);
	buf_free(&bad);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "AK hand-off event does not hold the registered AK");
}

static void
test_quote_rejects_clock_going_back_within_epoch(void **state)
{
	struct fx *f = *state;
	struct quote_state prev = { 9000, 3, 0, 1, 900 };

	valid_quote(f, 5000, 3, 0);
	run(f, &prev, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "TPM clock went back within one boot (attack?)");
	/* The stored state keeps its high-water mark: a next quote that
	 * continues from the rolled-back clock is caught again. */
	assert_true(f->out.quote_ok);
	assert_true(f->out.qs.clock == 9000);
	assert_int_equal(f->out.qs.reset_count, 3);
}

static void
test_quote_reports_reboot_and_stays_affirming(void **state)
{
	struct fx *f = *state;
	struct quote_state prev = { 9000, 2, 0, 1, 900 };

	valid_quote(f, 100, 3, 0);
	run(f, &prev, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	assert_reason(f, "node rebooted (resetCount 2 -> 3)");
	assert_int_equal(f->out.qs.reset_count, 3);
}

static void
test_quote_warns_on_restart_without_reboot(void **state)
{
	struct fx *f = *state;
	struct quote_state prev = { 9000, 3, 0, 1, 900 };

	valid_quote(f, 100, 3, 1);
	run(f, &prev, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_WARNING);
	assert_reason(f, "TPM restarted without reboot");
}

static void
test_quote_warns_when_clock_not_safe(void **state)
{
	struct fx *f = *state;

	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &f->vals, &f->vals,
	    PCR_POLICY_MASK, 5000, 3, 0, 0);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_WARNING);
	assert_reason(f, "TPM clock not safe");
}

static void
test_quote_rejects_pcr_matching_no_reference_value(void **state)
{
	struct fx *f = *state;
	struct refvals *refs;
	struct pcrs other = f->vals;
	char *doc;

	other.v[7][3] ^= 0x80;
	doc = refdoc_for(&other, -1);
	assert_int_equal(refvals_parse(doc, strlen(doc), &refs, NULL, 0), 0);
	free(doc);
	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &f->log, 0, refs);
	refvals_free(refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "PCR 7 value ");
	assert_reason(f, "matches no reference value");
	assert_int_equal(f->out.ear.configuration, AR_CONTRA);
	assert_int_equal(f->out.ear.executables, AR_AFFIRMING);
}

static void
test_quote_warns_on_missing_reference_value(void **state)
{
	struct fx *f = *state;
	struct refvals *refs;
	char *doc;

	doc = refdoc_for(&f->vals, 4);
	assert_int_equal(refvals_parse(doc, strlen(doc), &refs, NULL, 0), 0);
	free(doc);
	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &f->log, 0, refs);
	refvals_free(refs);
	assert_int_equal(status(f), EAR_TIER_WARNING);
	assert_reason(f, "no reference value for PCR 4");
	assert_int_equal(f->out.ear.executables, AR_WARN_EXEC);
	assert_null(f->out.learnt_doc);
}

static void
test_quote_learns_reference_values_on_first_use(void **state)
{
	struct fx *f = *state;
	struct refvals *learnt;
	const uint8_t (*acc)[SHA256_LEN];
	size_t n;

	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &f->log, 1, NULL);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	assert_non_null(f->out.learnt_doc);
	assert_reason(f, "learnt on first use");
	assert_int_equal(refvals_parse(f->out.learnt_doc,
	    strlen(f->out.learnt_doc), &learnt, NULL, 0), 0);
	/* Learnt fleet-wide, so another node is compared with it. */
	refvals_for(learnt, "another-node", 4, &acc, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(acc[0], f->vals.v[4], SHA256_LEN);
	/* PCRs 11 and 23 hold only the cap and the AK hand-off,
	 * recomputed: nothing to learn. */
	refvals_for(learnt, f->agent.id, 11, &acc, &n);
	assert_int_equal(n, 0);
	refvals_for(learnt, f->agent.id, 23, &acc, &n);
	assert_int_equal(n, 0);
	refvals_free(learnt);
}

/* A quote may cover more than the policy PCRs; learning writes reference
 * values for the policy PCRs only (a value for PCR 9 would be refused by
 * PUT /v1/reference-values: nothing compares it). */
static void
test_quote_learns_only_policy_pcrs_when_more_are_quoted(void **state)
{
	struct fx *f = *state;
	struct pcrs more = f->vals;

	memset(more.v[9], 0x99, SHA256_LEN);
	more.mask |= 1u << 9;
	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &more, &more,
	    PCR_POLICY_MASK | (1u << 9), 5000, 3, 0, 1);
	run(f, NULL, &f->log, 1, NULL);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	assert_non_null(f->out.learnt_doc);
	assert_non_null(strstr(f->out.learnt_doc, "\"7\""));
	assert_null(strstr(f->out.learnt_doc, "\"9\""));
}

static void
test_quote_runtime_pcrs_of_only_vigil_events_need_no_reference(void **state)
{
	struct fx *f = *state;
	struct refvals *refs;
	char *doc;

	doc = refdoc_for(&f->vals, 23);
	assert_int_equal(refvals_parse(doc, strlen(doc), &refs, NULL, 0), 0);
	free(doc);
	valid_quote(f, 5000, 3, 0);
	run(f, NULL, &f->log, 0, refs);
	refvals_free(refs);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	assert_int_equal(f->out.recomputed, (1u << 11) | (1u << 23));
	assert_true(f->out.handoff);
	assert_true(f->out.capped);
	assert_null(f->out.learnt_doc);
}

/* A plain server: a firmware log, no runtime log (no vigil-smmd, no
 * vigil-psed), PCRs 11 and 23 untouched: affirming on its TPM evidence
 * alone, and it claims no PSE binding. */
static void
test_quote_node_without_runtime_log_is_affirming(void **state)
{
	struct fx *f = *state;
	struct refvals *refs;
	struct pcrs vals;
	char *doc;

	replay_vals(&f->log, NULL, &vals);
	doc = refdoc_for(&vals, -1);
	assert_int_equal(refvals_parse(doc, strlen(doc), &refs, NULL, 0), 0);
	free(doc);
	issue_nonce(f);
	make_evidence(f, f->sq, f->nonce, &vals, &vals, PCR_POLICY_MASK,
	    5000, 3, 0, 1);
	run_rt(f, NULL, &f->log, NULL, 0, refs);
	refvals_free(refs);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
	assert_int_equal(f->out.ear.n_reasons, 0);
	assert_false(f->out.handoff);
	assert_false(f->out.capped);
	assert_int_equal(f->out.ear.runtime_opaque, AR_NONE);
	assert_false(f->out.smm.present);
}

/* Quotes over the fixture's true PCRs, appraised with a tampered runtime
 * log: the named reason, contraindicated, the log not stored. */
static void
rt_tampered(struct fx *f, const struct buf *rt, const char *reason)
{
	valid_quote(f, 5000, 3, 0);
	run_rt(f, NULL, &f->log, rt, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, reason);
	assert_false(f->out.evlog_ok);
}

static void
test_quote_rejects_runtime_record_removed(void **state)
{
	struct fx *f = *state;
	struct buf rt = BUF_INIT;

	/* The hand-off (record 0) removed: the cap is record 0 now. */
	add_rt(&rt, 1, VIGIL_CAP_PCR, VIGIL_TAG_CAP,
	    (const uint8_t *)VIGIL_CAP_DATA, strlen(VIGIL_CAP_DATA), NULL, 0);
	rt_tampered(f, &rt, "runtime log: record 0 has recnum 1: a record was "
	    "removed, inserted or reordered");
	/* ... and renumbered: PCR 23 no longer replays. */
	rt.len = 0;
	add_rt(&rt, 0, VIGIL_CAP_PCR, VIGIL_TAG_CAP,
	    (const uint8_t *)VIGIL_CAP_DATA, strlen(VIGIL_CAP_DATA), NULL, 0);
	rt_tampered(f, &rt, "runtime log does not replay to the quoted PCR 23");
	buf_free(&rt);
}

static void
test_quote_rejects_runtime_records_reordered(void **state)
{
	struct fx *f = *state;
	struct buf rt = BUF_INIT;

	add_rt(&rt, 1, VIGIL_CAP_PCR, VIGIL_TAG_CAP,
	    (const uint8_t *)VIGIL_CAP_DATA, strlen(VIGIL_CAP_DATA), NULL, 0);
	add_rt(&rt, 0, VIGIL_RUNTIME_PCR, VIGIL_TAG_AK_PUBLIC, f->ak,
	    f->ak_len, NULL, 0);
	rt_tampered(f, &rt, "runtime log: record 0 has recnum 1: a record was "
	    "removed, inserted or reordered");
	buf_free(&rt);
}

static void
test_quote_rejects_runtime_record_altered(void **state)
{
	struct fx *f = *state;
	struct buf rt = BUF_INIT;

	/* The last byte of the hand-off's data (its AK) changed. */
	add_rt(&rt, 0, VIGIL_RUNTIME_PCR, VIGIL_TAG_AK_PUBLIC, f->ak,
	    f->ak_len, NULL, 0);
	rt.data[rt.len - 1] ^= 0x01;
	add_rt(&rt, 1, VIGIL_CAP_PCR, VIGIL_TAG_CAP,
	    (const uint8_t *)VIGIL_CAP_DATA, strlen(VIGIL_CAP_DATA), NULL, 0);
	rt_tampered(f, &rt, "AK hand-off event digest is not SHA-256 of its "
	    "data");
	/* A record's data and digest changed: the replay differs. */
	rt.len = 0;
	add_rt(&rt, 0, VIGIL_RUNTIME_PCR, VIGIL_TAG_AK_PUBLIC, f->ak,
	    f->ak_len, NULL, 0);
	add_rt(&rt, 1, VIGIL_CAP_PCR, VIGIL_TAG_CAP,
	    (const uint8_t *)"vigil-cap-v2", 12, NULL, 0);
	rt_tampered(f, &rt, "runtime log does not replay to the quoted PCR "
	    "11");
	/* A record that extends a firmware PCR. */
	rt.len = 0;
	add_rt(&rt, 0, 4, VIGIL_TAG_AK_PUBLIC, f->ak, f->ak_len, NULL, 0);
	rt_tampered(f, &rt, "runtime log record 0 extends PCR 4: only PCRs 11 "
	    "and 23 are Vigil's");
	buf_free(&rt);
}

static void
test_quote_uses_log_chunks_of_this_push(void **state)
{
	struct fx *f = *state;
	struct buf head = BUF_INIT;
	struct item_in it;
	struct appraise_in in;
	size_t split = f->log.len / 2;

	assert_int_equal(buf_add(&head, f->log.data, split), 0);
	valid_quote(f, 5000, 3, 0);
	memset(&it, 0, sizeof(it));
	it.kind = VIGIL__ITEM_KIND__ITEM_EVENT_LOG;
	it.seq = 1;
	it.boot_count = 3;
	it.offset = split - 10;		/* overlaps what is stored */
	it.chunk = f->log.data + split - 10;
	it.chunk_len = f->log.len - split + 10;
	memset(&in, 0, sizeof(in));
	in.agent = &f->agent;
	in.ev = &f->ev;
	in.items = &it;
	in.n_items = 1;
	in.refs = f->refs;
	in.nonces = f->nt;
	in.evlog_get = get_log;
	in.evlog_ctx = &head;
	g_rt = &f->rt;
	assert_int_equal(appraise_quote(&in, &f->out), 0);
	f->have_out = 1;
	buf_free(&head);
	assert_int_equal(status(f), EAR_TIER_AFFIRMING);
}

static void
test_quote_rejects_garbage_quote(void **state)
{
	struct fx *f = *state;
	uint8_t junk[16] = { 0, 14, 0xff, 0x54, 0x43, 0x47 };

	valid_quote(f, 5000, 3, 0);
	f->ev.quote.data = junk;
	f->ev.quote.len = sizeof(junk);
	run(f, NULL, &f->log, 0, f->refs);
	assert_int_equal(status(f), EAR_TIER_CONTRAINDICATED);
	assert_reason(f, "quote: ");
	assert_false(f->out.quote_ok);
}

#define T(n) cmocka_unit_test_setup_teardown(n, fx_setup, fx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_quote_valid_is_affirming),
		T(test_quote_rejects_forged_signature),
		T(test_quote_rejects_reused_nonce),
		T(test_quote_rejects_nonce_of_another_agent),
		T(test_quote_rejects_wrong_extradata),
		T(test_quote_rejects_selection_missing_policy_pcr),
		T(test_quote_rejects_reported_value_not_quoted),
		T(test_quote_rejects_log_that_does_not_replay),
		T(test_quote_rejects_ak_event_digest_mismatch),
		T(test_quote_rejects_ak_event_of_another_ak),
		T(test_quote_rejects_clock_going_back_within_epoch),
		T(test_quote_reports_reboot_and_stays_affirming),
		T(test_quote_warns_on_restart_without_reboot),
		T(test_quote_warns_when_clock_not_safe),
		T(test_quote_rejects_pcr_matching_no_reference_value),
		T(test_quote_warns_on_missing_reference_value),
		T(test_quote_learns_reference_values_on_first_use),
		T(test_quote_learns_only_policy_pcrs_when_more_are_quoted),
		T(test_quote_runtime_pcrs_of_only_vigil_events_need_no_reference),
		T(test_quote_node_without_runtime_log_is_affirming),
		T(test_quote_rejects_runtime_record_removed),
		T(test_quote_rejects_runtime_records_reordered),
		T(test_quote_rejects_runtime_record_altered),
		T(test_quote_uses_log_chunks_of_this_push),
		T(test_quote_rejects_garbage_quote),
	};

	log_init("test_appraise_quote", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
