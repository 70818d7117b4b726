/* An appraisal result shaped like an EAR (IETF RATS EAT Attestation
 * Result): a trustworthiness vector of AR4SI claim values, the reasons,
 * and the status, which is the worst tier of the vector. */
#ifndef VIGIL_EAR_H
#define VIGIL_EAR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* AR4SI claim values used by Vigil (0 = no claim). */
#define AR_NONE			0
#define AR_AFFIRMING		2
#define AR_WARN_CONFIG		32	/* configuration: unsafe/unknown */
#define AR_WARN_EXEC		33	/* executables: not recognised */
#define AR_CONTRA		96
#define AR_CONTRA_HW		97	/* hardware not recognised */

enum ear_tier {
	EAR_TIER_NONE = 0,
	EAR_TIER_AFFIRMING = 1,
	EAR_TIER_WARNING = 2,
	EAR_TIER_CONTRAINDICATED = 3,
};

#define EAR_MAX_REASONS 64
#define EAR_REASON_LEN 256

struct ear {
	int instance_identity;
	int hardware;
	int executables;
	int configuration;
	int runtime_opaque;	/* the SMM runtime measurement (issue 3) */
	int force_none;		/* status none whatever the vector (stale) */
	size_t n_reasons;
	char reasons[EAR_MAX_REASONS][EAR_REASON_LEN];
};

void ear_init(struct ear *e);
/* Raises a claim to v when v is worse (a higher AR4SI value). */
void ear_claim(int *claim, int v);
/* Appends a reason (truncated to EAR_REASON_LEN; extra reasons dropped
 * with a last "... more reasons omitted"). */
void ear_reason(struct ear *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum ear_tier ear_claim_tier(int v);
/* Worst tier over the vector; EAR_TIER_NONE if no claim or force_none. */
enum ear_tier ear_status(const struct ear *e);
const char *ear_tier_name(enum ear_tier t);
/* 0 and the tier for "affirming", "warning", ...; VIGIL_EINVAL otherwise. */
int ear_tier_parse(const char *s, enum ear_tier *out);
/* Fills a store appraisal (vector_json and reasons_json malloc'd; free
 * them with ear_appraisal_free). */
int ear_to_appraisal(const struct ear *e, int64_t at, struct appraisal *out);
void ear_appraisal_free(struct appraisal *a);
/* "reason one; reason two" for log lines (truncated to cap). */
void ear_reasons_join(const struct ear *e, char *out, size_t cap);

#endif
