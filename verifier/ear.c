#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ear.h"
#include "err.h"

void
ear_init(struct ear *e)
{
	memset(e, 0, sizeof(*e));
}

void
ear_claim(int *claim, int v)
{
	if (v > *claim)
		*claim = v;
}

void
ear_reason(struct ear *e, const char *fmt, ...)
{
	va_list ap;

	if (e->n_reasons >= EAR_MAX_REASONS)
		return;
	if (e->n_reasons == EAR_MAX_REASONS - 1) {
		snprintf(e->reasons[e->n_reasons++], EAR_REASON_LEN,
		    "... more reasons omitted");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(e->reasons[e->n_reasons], EAR_REASON_LEN, fmt, ap);
	va_end(ap);
	e->n_reasons++;
}

enum ear_tier
ear_claim_tier(int v)
{
	if (v >= 96)
		return EAR_TIER_CONTRAINDICATED;
	if (v >= 32)
		return EAR_TIER_WARNING;
	if (v >= 2)
		return EAR_TIER_AFFIRMING;
	return EAR_TIER_NONE;
}

enum ear_tier
ear_status(const struct ear *e)
{
	const int v[] = { e->instance_identity, e->hardware, e->executables,
	    e->configuration, e->runtime_opaque };
	enum ear_tier worst = EAR_TIER_NONE, t;
	size_t i;

	if (e->force_none)
		return EAR_TIER_NONE;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		t = ear_claim_tier(v[i]);
		if (t > worst)
			worst = t;
	}
	return worst;
}

static const char *const ear_tier_names[] = {
	"none", "affirming", "warning", "contraindicated",
};

const char *
ear_tier_name(enum ear_tier t)
{
	if ((unsigned)t > EAR_TIER_CONTRAINDICATED)
		return "none";
	return ear_tier_names[t];
}

int
ear_tier_parse(const char *s, enum ear_tier *out)
{
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, ear_tier_names[i]) == 0) {
			*out = (enum ear_tier)i;
			return 0;
		}
	}
	return VIGIL_EINVAL;
}

int
ear_to_appraisal(const struct ear *e, int64_t at, struct appraisal *out)
{
	json_t *vec = NULL, *rs = NULL;
	size_t i;
	int r = VIGIL_ENOMEM;

	memset(out, 0, sizeof(*out));
	if ((vec = json_object()) == NULL || (rs = json_array()) == NULL)
		goto out;
#define CLAIM(k, v) do {						\
		if ((v) != 0 && json_object_set_new(vec, k,		\
		    json_integer(v)) != 0)				\
			goto out;					\
	} while (0)
	CLAIM("instance-identity", e->instance_identity);
	CLAIM("hardware", e->hardware);
	CLAIM("executables", e->executables);
	CLAIM("configuration", e->configuration);
	CLAIM("runtime-opaque", e->runtime_opaque);
#undef CLAIM
	for (i = 0; i < e->n_reasons; i++)
		if (json_array_append_new(rs, json_string(e->reasons[i])) != 0)
			goto out;
	if ((out->vector_json = json_dumps(vec, JSON_COMPACT |
	    JSON_SORT_KEYS)) == NULL ||
	    (out->reasons_json = json_dumps(rs, JSON_COMPACT)) == NULL)
		goto out;
	snprintf(out->status, sizeof(out->status), "%s",
	    ear_tier_name(ear_status(e)));
	out->at = at;
	r = 0;
 out:
	json_decref(vec);
	json_decref(rs);
	if (r != 0)
		ear_appraisal_free(out);
	return r;
}

void
ear_appraisal_free(struct appraisal *a)
{
	if (a == NULL)
		return;
	free(a->vector_json);
	free(a->reasons_json);
	a->vector_json = NULL;
	a->reasons_json = NULL;
}

void
ear_reasons_join(const struct ear *e, char *out, size_t cap)
{
	size_t i, used = 0;
	int n;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < e->n_reasons && used < cap; i++) {
		n = snprintf(out + used, cap - used, "%s%s", i ? "; " : "",
		    e->reasons[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
