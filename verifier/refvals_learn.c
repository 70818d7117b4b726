/* Learn on first use, stored by compare and swap (refvals.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "refvals.h"
#include "store.h"

#define REFVALS_LEARN_TRIES 4

/* The PCRs learnt has values for and base has none for, with the value
 * learnt added (the last one in its list). */
static void
refvals_learnt_pcrs(const struct refvals *base, const struct refvals *learnt,
    const char *agent_id, struct pcrs *vals)
{
	const uint8_t (*v)[SHA256_LEN];
	size_t n;
	uint32_t i;

	memset(vals, 0, sizeof(*vals));
	for (i = 0; i < PCR_COUNT; i++) {
		refvals_for(base, agent_id, i, &v, &n);
		if (n > 0)
			continue;
		refvals_for(learnt, agent_id, i, &v, &n);
		if (n == 0)
			continue;
		memcpy(vals->v[i], v[n - 1], SHA256_LEN);
		vals->mask |= 1u << i;
	}
}

/* The PCRs of mask that r has no value for (for agent_id). */
static uint32_t
refvals_still_missing(const struct refvals *r, const char *agent_id,
    uint32_t mask)
{
	const uint8_t (*v)[SHA256_LEN];
	uint32_t i, out = 0;
	size_t n;

	for (i = 0; i < PCR_COUNT; i++) {
		if (!(mask & (1u << i)))
			continue;
		refvals_for(r, agent_id, i, &v, &n);
		if (n == 0)
			out |= 1u << i;
	}
	return out;
}

/* The latest document, parsed; *r NULL and *version 0 when none. */
static int
refvals_latest(struct store *s, struct refvals **r, int64_t *version)
{
	char why[200], *doc = NULL;
	int e;

	*r = NULL;
	*version = 0;
	e = store_refvals_get(s, &doc, version);
	if (e == VIGIL_ENOTFOUND) {
		*version = 0;
		return 0;
	}
	if (e != 0)
		return e;
	if ((e = refvals_parse(doc, strlen(doc), r, why, sizeof(why))) != 0)
		log_err("reference-values: stored version %lld does not parse: "
		    "%s", (long long)*version, why);
	free(doc);
	return e;
}

int
refvals_learn_store(struct store *s, const char *agent_id,
    const struct refvals *base, int64_t base_version, const char *learnt,
    int64_t *version)
{
	struct refvals *lr = NULL, *cur = NULL;
	struct pcrs vals;
	char *doc = NULL, why[200];
	int64_t expected = base_version, latest;
	uint32_t mask;
	int e, tries;

	if ((e = refvals_parse(learnt, strlen(learnt), &lr, why,
	    sizeof(why))) != 0) {
		log_err("reference-values: learnt document does not parse: %s",
		    why);
		return e;
	}
	refvals_learnt_pcrs(base, lr, agent_id, &vals);
	refvals_free(lr);
	mask = vals.mask;
	for (tries = 0; tries < REFVALS_LEARN_TRIES; tries++) {
		e = store_refvals_put_if(s, doc != NULL ? doc : learnt,
		    "learn-on-first-use", expected, &latest);
		if (e != VIGIL_ESTALE || tries + 1 == REFVALS_LEARN_TRIES)
			break;
		/* An operator (or another node's learning) wrote a newer
		 * document since we read ours: never overwrite it. Learn
		 * onto it only the PCRs it still has no value for. */
		refvals_free(cur);
		if ((e = refvals_latest(s, &cur, &latest)) != 0)
			break;
		mask = refvals_still_missing(cur, agent_id, mask);
		log_warn("reference-values: version moved from %lld to %lld "
		    "while agent=%s was learning; %s", (long long)expected,
		    (long long)latest, agent_id, mask != 0 ?
		    "re-applying the learnt values onto it" :
		    "it names every learnt PCR, learnt values dropped");
		if (mask == 0) {
			e = VIGIL_ESTALE;
			goto out;
		}
		vals.mask = mask;
		free(doc);
		doc = NULL;
		if ((e = refvals_learn(cur, &vals, mask, &doc)) != 0)
			break;
		expected = latest;
		e = VIGIL_ESTALE;
	}
	if (e == VIGIL_ESTALE)
		log_warn("reference-values: learnt values from agent=%s dropped "
		    "after %d tries: the document kept moving", agent_id,
		    REFVALS_LEARN_TRIES);
	else if (e == 0 && version != NULL)
		*version = latest;
 out:
	refvals_free(cur);
	free(doc);
	return e;
}
