#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appraise_boot.h"
#include "buf.h"
#include "err.h"
#include "refvals.h"
#include "valid.h"

struct refvals_pcrs {
	uint32_t named;		/* PCRs the document names (even with []) */
	size_t n[PCR_COUNT];
	uint8_t (*v[PCR_COUNT])[SHA256_LEN];
};

struct refvals_node {
	char id[65];
	struct refvals_pcrs p;
	const char *boot_policy;	/* "boot_policy", in doc, or NULL */
};

/* "boot_policies": the measured-boot policies by name (appraise_boot.h) */
struct refvals_bootpol {
	const char *name;		/* in doc */
	struct bootpol *p;
};

/* "groups": nodes sharing a boot policy */
struct refvals_group {
	const char *name;		/* in doc */
	const char *boot_policy;	/* in doc, or NULL */
	const json_t *nodes;		/* in doc: array of agent ids */
};

struct refvals {
	json_t *doc;		/* the validated document */
	struct refvals_pcrs global;
	struct refvals_node *nodes;
	size_t n_nodes;
	/* "pse_images": accepted vigil-psed image digests */
	uint8_t (*pse_images)[SHA256_LEN];
	size_t n_pse_images;
	/* "smm_images": accepted vigil-smmd image digests */
	uint8_t (*smm_images)[SHA256_LEN];
	size_t n_smm_images;
	struct refvals_bootpol *bootpols;
	size_t n_bootpols;
	struct refvals_group *groups;
	size_t n_groups;
	const char *boot_policy;	/* fleet-wide "boot_policy", or NULL */
};

static void
refvals_pcrs_free(struct refvals_pcrs *p)
{
	size_t i;

	for (i = 0; i < PCR_COUNT; i++)
		free(p->v[i]);
}

void
refvals_free(struct refvals *r)
{
	size_t i;

	if (r == NULL)
		return;
	refvals_pcrs_free(&r->global);
	for (i = 0; i < r->n_nodes; i++)
		refvals_pcrs_free(&r->nodes[i].p);
	free(r->nodes);
	free(r->pse_images);
	free(r->smm_images);
	for (i = 0; i < r->n_bootpols; i++)
		bootpol_free(r->bootpols[i].p);
	free(r->bootpols);
	free(r->groups);
	json_decref(r->doc);
	free(r);
}


/* PCR index from a JSON key: decimal, no sign or leading zero, < 24. */
static int
refvals_pcr_index(const char *k, uint32_t *out)
{
	size_t len = strlen(k);

	if (len == 0 || len > 2 || (len == 2 && k[0] == '0'))
		return VIGIL_EINVAL;
	if (k[0] < '0' || k[0] > '9' || (len == 2 && (k[1] < '0' ||
	    k[1] > '9')))
		return VIGIL_EINVAL;
	*out = (uint32_t)(len == 1 ? k[0] - '0' :
	    (k[0] - '0') * 10 + k[1] - '0');
	return *out < PCR_COUNT ? 0 : VIGIL_EINVAL;
}

static int
refvals_parse_pcrs(json_t *obj, const char *where, struct refvals_pcrs *p,
    char *why, size_t whylen)
{
	const char *k;
	json_t *arr, *s;
	uint32_t idx;
	size_t i;

	if (!json_is_object(obj)) {
		snprintf(why, whylen, "%s: not an object", where);
		return VIGIL_EINVAL;
	}
	json_object_foreach(obj, k, arr) {
		if (refvals_pcr_index(k, &idx) != 0) {
			snprintf(why, whylen, "%s.\"%s\": not a PCR number "
			    "0-23", where, k);
			return VIGIL_EINVAL;
		}
		if (!json_is_array(arr)) {
			snprintf(why, whylen, "%s.\"%s\": not an array",
			    where, k);
			return VIGIL_EINVAL;
		}
		if (json_array_size(arr) > REFVALS_MAX_VALUES) {
			snprintf(why, whylen, "%s.\"%s\": more than %d values",
			    where, k, REFVALS_MAX_VALUES);
			return VIGIL_EINVAL;
		}
		p->named |= 1u << idx;
		if (json_array_size(arr) == 0)
			continue;
		if ((p->v[idx] = calloc(json_array_size(arr),
		    SHA256_LEN)) == NULL)
			return VIGIL_ENOMEM;
		json_array_foreach(arr, i, s) {
			if (!json_is_string(s) ||
			    !valid_lowerhex(json_string_value(s), 64)) {
				snprintf(why, whylen, "%s.\"%s\"[%zu]: not 64 "
				    "lowercase hex digits", where, k, i);
				return VIGIL_EINVAL;
			}
			hex_decode(json_string_value(s), p->v[idx][i],
			    SHA256_LEN);
		}
		p->n[idx] = json_array_size(arr);
	}
	return 0;
}

static int
refvals_parse_nodes(json_t *obj, struct refvals *r, char *why, size_t whylen)
{
	char where[128];
	const char *k, *nk;
	json_t *node, *v;
	int e;

	if (!json_is_object(obj)) {
		snprintf(why, whylen, "nodes: not an object");
		return VIGIL_EINVAL;
	}
	if (json_object_size(obj) > REFVALS_MAX_NODES) {
		snprintf(why, whylen, "nodes: too many");
		return VIGIL_EINVAL;
	}
	if (json_object_size(obj) > 0 && (r->nodes = calloc(
	    json_object_size(obj), sizeof(*r->nodes))) == NULL)
		return VIGIL_ENOMEM;
	json_object_foreach(obj, k, node) {
		if (!valid_lowerhex(k, 64)) {
			snprintf(why, whylen, "nodes.\"%.70s\": not an agent "
			    "id (64 lowercase hex digits)", k);
			return VIGIL_EINVAL;
		}
		snprintf(where, sizeof(where), "nodes.\"%s\"", k);
		if (!json_is_object(node)) {
			snprintf(why, whylen, "%s: not an object", where);
			return VIGIL_EINVAL;
		}
		json_object_foreach(node, nk, v) {
			if (strcmp(nk, "pcrs") != 0 &&
			    strcmp(nk, "boot_policy") != 0) {
				snprintf(why, whylen, "%s.\"%.40s\": unknown "
				    "key", where, nk);
				return VIGIL_EINVAL;
			}
		}
		snprintf(r->nodes[r->n_nodes].id, 65, "%s", k);
		r->n_nodes++;
		if ((v = json_object_get(node, "boot_policy")) != NULL) {
			if (!json_is_string(v)) {
				snprintf(why, whylen, "%s.boot_policy: not a "
				    "string", where);
				return VIGIL_EINVAL;
			}
			r->nodes[r->n_nodes - 1].boot_policy =
			    json_string_value(v);
		}
		if ((v = json_object_get(node, "pcrs")) == NULL)
			continue;
		snprintf(where, sizeof(where), "nodes.\"%s\".pcrs", k);
		if ((e = refvals_parse_pcrs(v, where,
		    &r->nodes[r->n_nodes - 1].p, why, whylen)) != 0)
			return e;
	}
	return 0;
}

/* "pse_images" / "smm_images": accepted digests of the vigil-psed image
 * (PCR 3) or the vigil-smmd image (PCR 2). name is the key, for why. */
static int
refvals_parse_images(json_t *arr, const char *name,
    uint8_t (**out)[SHA256_LEN], size_t *n, char *why, size_t whylen)
{
	json_t *s;
	size_t i;

	if (!json_is_array(arr)) {
		snprintf(why, whylen, "%s: not an array", name);
		return VIGIL_EINVAL;
	}
	if (json_array_size(arr) > REFVALS_MAX_VALUES) {
		snprintf(why, whylen, "%s: more than %d values", name,
		    REFVALS_MAX_VALUES);
		return VIGIL_EINVAL;
	}
	if (json_array_size(arr) == 0)
		return 0;
	if ((*out = calloc(json_array_size(arr), SHA256_LEN)) == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(arr, i, s) {
		if (!json_is_string(s) ||
		    !valid_lowerhex(json_string_value(s), 64)) {
			snprintf(why, whylen, "%s[%zu]: not 64 lowercase hex "
			    "digits", name, i);
			return VIGIL_EINVAL;
		}
		hex_decode(json_string_value(s), (*out)[i], SHA256_LEN);
	}
	*n = json_array_size(arr);
	return 0;
}

void
refvals_pse_images(const struct refvals *r,
    const uint8_t (**vals)[SHA256_LEN], size_t *n)
{
	*vals = NULL;
	*n = 0;
	if (r == NULL || r->n_pse_images == 0)
		return;
	*vals = (const uint8_t (*)[SHA256_LEN])r->pse_images;
	*n = r->n_pse_images;
}

void
refvals_smm_images(const struct refvals *r,
    const uint8_t (**vals)[SHA256_LEN], size_t *n)
{
	*vals = NULL;
	*n = 0;
	if (r == NULL || r->n_smm_images == 0)
		return;
	*vals = (const uint8_t (*)[SHA256_LEN])r->smm_images;
	*n = r->n_smm_images;
}

/* --- measured-boot policies (appraise_boot.h; docs/appraisal.md "Boot
 * policies"): "boot_policies" by name, chosen for a node by its own
 * "boot_policy", else its group's, else the fleet-wide one. --- */

static const struct bootpol *
refvals_bootpol_named(const struct refvals *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_bootpols; i++)
		if (strcmp(r->bootpols[i].name, name) == 0)
			return r->bootpols[i].p;
	return NULL;
}

/* A "boot_policy" value at where must name one of "boot_policies". */
static int
refvals_boot_ref(const struct refvals *r, const char *name, const char *where,
    char *why, size_t whylen)
{
	if (refvals_bootpol_named(r, name) != NULL)
		return 0;
	snprintf(why, whylen, "%s: no boot policy named \"%.40s\" in "
	    "boot_policies", where, name);
	return VIGIL_EINVAL;
}

static int
refvals_parse_bootpols(json_t *obj, struct refvals *r, char *why,
    size_t whylen)
{
	char where[96];
	const char *k;
	json_t *v;
	int e;

	if (!json_is_object(obj)) {
		snprintf(why, whylen, "boot_policies: not an object");
		return VIGIL_EINVAL;
	}
	if (json_object_size(obj) > REFVALS_MAX_VALUES) {
		snprintf(why, whylen, "boot_policies: more than %d",
		    REFVALS_MAX_VALUES);
		return VIGIL_EINVAL;
	}
	if (json_object_size(obj) > 0 && (r->bootpols = calloc(
	    json_object_size(obj), sizeof(*r->bootpols))) == NULL)
		return VIGIL_ENOMEM;
	json_object_foreach(obj, k, v) {
		if (!bootpol_name_ok(k)) {
			snprintf(why, whylen, "boot_policies.\"%.40s\": not a "
			    "name (1-%d of A-Z a-z 0-9 . _ -)", k,
			    BOOTPOL_NAME_MAX);
			return VIGIL_EINVAL;
		}
		snprintf(where, sizeof(where), "boot_policies.\"%s\"", k);
		r->bootpols[r->n_bootpols].name = k;
		if ((e = bootpol_parse(v, where,
		    &r->bootpols[r->n_bootpols].p, why, whylen)) != 0)
			return e;
		r->n_bootpols++;
	}
	return 0;
}

static int
refvals_parse_group(const char *k, json_t *g, struct refvals *r, char *why,
    size_t whylen)
{
	struct refvals_group *grp = &r->groups[r->n_groups];
	char where[96];
	const char *nk;
	json_t *v;
	size_t i, j, m;

	snprintf(where, sizeof(where), "groups.\"%s\"", k);
	if (!json_is_object(g)) {
		snprintf(why, whylen, "%s: not an object", where);
		return VIGIL_EINVAL;
	}
	json_object_foreach(g, nk, v) {
		if (strcmp(nk, "nodes") != 0 && strcmp(nk, "boot_policy") != 0) {
			snprintf(why, whylen, "%s.\"%.40s\": unknown key", where,
			    nk);
			return VIGIL_EINVAL;
		}
	}
	grp->name = k;
	if ((v = json_object_get(g, "boot_policy")) != NULL) {
		if (!json_is_string(v)) {
			snprintf(why, whylen, "%s.boot_policy: not a string",
			    where);
			return VIGIL_EINVAL;
		}
		grp->boot_policy = json_string_value(v);
	}
	if ((v = json_object_get(g, "nodes")) == NULL || !json_is_array(v) ||
	    json_array_size(v) > REFVALS_MAX_NODES) {
		snprintf(why, whylen, "%s.nodes: not an array of agent ids",
		    where);
		return VIGIL_EINVAL;
	}
	grp->nodes = v;
	for (i = 0; i < json_array_size(v); i++) {
		nk = json_string_value(json_array_get(v, i));
		if (nk == NULL || !valid_lowerhex(nk, 64)) {
			snprintf(why, whylen, "%s.nodes[%zu]: not an agent id (64 "
			    "lowercase hex digits)", where, i);
			return VIGIL_EINVAL;
		}
		/* A node in two groups would have two policies. */
		for (j = 0; j <= r->n_groups; j++) {
			for (m = 0; m < json_array_size(r->groups[j].nodes);
			    m++) {
				if ((j == r->n_groups && m >= i) ||
				    strcmp(json_string_value(json_array_get(
				    r->groups[j].nodes, m)), nk) != 0)
					continue;
				snprintf(why, whylen, "%s.nodes[%zu]: node %.16s... "
				    "is also in group \"%s\"", where, i, nk,
				    r->groups[j].name);
				return VIGIL_EINVAL;
			}
		}
	}
	r->n_groups++;
	return 0;
}

static int
refvals_parse_boot(struct refvals *r, char *why, size_t whylen)
{
	char where[96];
	const char *k;
	json_t *v, *g;
	size_t i;
	int e;

	if ((v = json_object_get(r->doc, "boot_policies")) != NULL &&
	    (e = refvals_parse_bootpols(v, r, why, whylen)) != 0)
		return e;
	if ((v = json_object_get(r->doc, "boot_policy")) != NULL) {
		if (!json_is_string(v)) {
			snprintf(why, whylen, "boot_policy: not a string");
			return VIGIL_EINVAL;
		}
		r->boot_policy = json_string_value(v);
		if ((e = refvals_boot_ref(r, r->boot_policy, "boot_policy", why,
		    whylen)) != 0)
			return e;
	}
	if ((v = json_object_get(r->doc, "groups")) != NULL) {
		if (!json_is_object(v) || json_object_size(v) >
		    REFVALS_MAX_VALUES) {
			snprintf(why, whylen, "groups: not an object of at most "
			    "%d groups", REFVALS_MAX_VALUES);
			return VIGIL_EINVAL;
		}
		if (json_object_size(v) > 0 && (r->groups = calloc(
		    json_object_size(v), sizeof(*r->groups))) == NULL)
			return VIGIL_ENOMEM;
		json_object_foreach(v, k, g) {
			if (!bootpol_name_ok(k)) {
				snprintf(why, whylen, "groups.\"%.40s\": not a "
				    "name (1-%d of A-Z a-z 0-9 . _ -)", k,
				    BOOTPOL_NAME_MAX);
				return VIGIL_EINVAL;
			}
			if ((e = refvals_parse_group(k, g, r, why,
			    whylen)) != 0)
				return e;
		}
	}
	for (i = 0; i < r->n_groups; i++) {
		snprintf(where, sizeof(where), "groups.\"%s\".boot_policy",
		    r->groups[i].name);
		if (r->groups[i].boot_policy != NULL && (e = refvals_boot_ref(r,
		    r->groups[i].boot_policy, where, why, whylen)) != 0)
			return e;
	}
	for (i = 0; i < r->n_nodes; i++) {
		snprintf(where, sizeof(where), "nodes.\"%s\".boot_policy",
		    r->nodes[i].id);
		if (r->nodes[i].boot_policy != NULL && (e = refvals_boot_ref(r,
		    r->nodes[i].boot_policy, where, why, whylen)) != 0)
			return e;
	}
	return 0;
}

const struct bootpol *
refvals_boot_policy(const struct refvals *r, const char *agent_id,
    const char **name)
{
	const char *n = NULL;
	size_t i, j;

	*name = NULL;
	if (r == NULL)
		return NULL;
	for (i = 0; i < r->n_nodes && n == NULL; i++)
		if (strcmp(r->nodes[i].id, agent_id) == 0)
			n = r->nodes[i].boot_policy;
	for (i = 0; i < r->n_groups && n == NULL; i++)
		for (j = 0; j < json_array_size(r->groups[i].nodes); j++)
			if (strcmp(json_string_value(json_array_get(
			    r->groups[i].nodes, j)), agent_id) == 0)
				n = r->groups[i].boot_policy;
	if (n == NULL)
		n = r->boot_policy;
	if (n == NULL)
		return NULL;
	*name = n;
	return refvals_bootpol_named(r, n);
}

int
refvals_parse(const char *json, size_t len, struct refvals **out,
    char *why, size_t whylen)
{
	struct refvals *r = NULL;
	char dummy[8];
	json_error_t jerr;
	const char *k;
	json_t *v;
	int e = VIGIL_EINVAL;

	if (why == NULL) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (len > REFVALS_MAX_DOC) {
		snprintf(why, whylen, "document over %u bytes",
		    REFVALS_MAX_DOC);
		return VIGIL_ETOOBIG;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return VIGIL_ENOMEM;
	if ((r->doc = json_loadb(json, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		snprintf(why, whylen, "not JSON: %s (line %d)", jerr.text,
		    jerr.line);
		goto out;
	}
	if (!json_is_object(r->doc)) {
		snprintf(why, whylen, "document: not an object");
		goto out;
	}
	json_object_foreach(r->doc, k, v) {
		if (strcmp(k, "pcrs") != 0 && strcmp(k, "nodes") != 0 &&
		    strcmp(k, "pse_images") != 0 &&
		    strcmp(k, "smm_images") != 0 &&
		    strcmp(k, "boot_policies") != 0 &&
		    strcmp(k, "boot_policy") != 0 &&
		    strcmp(k, "groups") != 0) {
			snprintf(why, whylen, "\"%.40s\": unknown key", k);
			goto out;
		}
	}
	if ((v = json_object_get(r->doc, "pcrs")) != NULL &&
	    (e = refvals_parse_pcrs(v, "pcrs", &r->global, why, whylen)) != 0)
		goto out;
	if ((v = json_object_get(r->doc, "nodes")) != NULL &&
	    (e = refvals_parse_nodes(v, r, why, whylen)) != 0)
		goto out;
	if ((v = json_object_get(r->doc, "pse_images")) != NULL &&
	    (e = refvals_parse_images(v, "pse_images", &r->pse_images,
	    &r->n_pse_images, why, whylen)) != 0)
		goto out;
	if ((v = json_object_get(r->doc, "smm_images")) != NULL &&
	    (e = refvals_parse_images(v, "smm_images", &r->smm_images,
	    &r->n_smm_images, why, whylen)) != 0)
		goto out;
	if ((e = refvals_parse_boot(r, why, whylen)) != 0)
		goto out;
	*out = r;
	r = NULL;
	e = 0;
 out:
	refvals_free(r);
	return e;
}

/* The PCRs of mask as "0-7,11". */
static void
refvals_mask_str(uint32_t mask, char *out, size_t cap)
{
	size_t used = 0;
	uint32_t i, j;
	int n;

	out[0] = '\0';
	for (i = 0; i < PCR_COUNT && used < cap; i = j) {
		if (!(mask & (1u << i))) {
			j = i + 1;
			continue;
		}
		for (j = i + 1; j < PCR_COUNT && (mask & (1u << j)); j++)
			;
		n = j - 1 > i ? snprintf(out + used, cap - used, "%s%u-%u",
		    used ? "," : "", i, j - 1) : snprintf(out + used,
		    cap - used, "%s%u", used ? "," : "", i);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static int
refvals_pcrs_within(const struct refvals_pcrs *p, const char *where,
    uint32_t quoted, char *why, size_t whylen)
{
	char list[80];
	uint32_t i;

	for (i = 0; i < PCR_COUNT; i++) {
		if (!(p->named & (1u << i)) || (quoted & (1u << i)))
			continue;
		refvals_mask_str(quoted, list, sizeof(list));
		snprintf(why, whylen, "%s.\"%u\": PCR %u is outside the quoted "
		    "selection (PCRs %s): no quote covers it, so a reference "
		    "value for it would never be compared", where, i, i, list);
		return VIGIL_EINVAL;
	}
	return 0;
}

int
refvals_check_selection(const struct refvals *r, uint32_t quoted, char *why,
    size_t whylen)
{
	char where[128];
	size_t i;
	int e;

	if ((e = refvals_pcrs_within(&r->global, "pcrs", quoted, why,
	    whylen)) != 0)
		return e;
	for (i = 0; i < r->n_nodes; i++) {
		snprintf(where, sizeof(where), "nodes.\"%s\".pcrs",
		    r->nodes[i].id);
		if ((e = refvals_pcrs_within(&r->nodes[i].p, where, quoted,
		    why, whylen)) != 0)
			return e;
	}
	return 0;
}

void
refvals_for(const struct refvals *r, const char *agent_id, uint32_t pcr,
    const uint8_t (**vals)[SHA256_LEN], size_t *n)
{
	size_t i;

	*vals = NULL;
	*n = 0;
	if (r == NULL || pcr >= PCR_COUNT)
		return;
	for (i = 0; i < r->n_nodes; i++) {
		if (strcmp(r->nodes[i].id, agent_id) != 0)
			continue;
		if (r->nodes[i].p.n[pcr] > 0) {
			*vals = (const uint8_t (*)[SHA256_LEN])
			    r->nodes[i].p.v[pcr];
			*n = r->nodes[i].p.n[pcr];
			return;
		}
		break;
	}
	*vals = (const uint8_t (*)[SHA256_LEN])r->global.v[pcr];
	*n = r->global.n[pcr];
}

/* obj[key], created as an empty object when absent. */
static json_t *
refvals_child(json_t *obj, const char *key)
{
	json_t *c = json_object_get(obj, key);

	if (c != NULL)
		return c;
	if ((c = json_object()) == NULL || json_object_set_new(obj, key,
	    c) != 0)
		return NULL;
	return c;
}

int
refvals_learn(const struct refvals *r,
    const struct pcrs *vals, uint32_t mask, char **json_out)
{
	json_t *doc = NULL, *pcrs, *arr;
	char key[4], hex[2 * SHA256_LEN + 1];
	uint32_t i;
	int e = VIGIL_ENOMEM;

	/* Only PCRs a quote covers are ever compared: learning any other
	 * would write a reference value that PUT refuses. */
	if ((mask & ~PCR_POLICY_MASK) != 0)
		return VIGIL_EINVAL;
	doc = r != NULL ? json_deep_copy(r->doc) : json_object();
	if (doc == NULL)
		goto out;
	/* Fleet-wide: the first node's values become every node's
	 * reference, so later nodes are compared with it and the document
	 * does not grow with the number of nodes. */
	if ((pcrs = refvals_child(doc, "pcrs")) == NULL)
		goto out;
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(mask & (1u << i)) || !(vals->mask & (1u << i)))
			continue;
		snprintf(key, sizeof(key), "%u", i);
		if ((arr = json_object_get(pcrs, key)) == NULL) {
			if ((arr = json_array()) == NULL ||
			    json_object_set_new(pcrs, key, arr) != 0)
				goto out;
		}
		hex_encode(vals->v[i], SHA256_LEN, hex);
		if (json_array_append_new(arr, json_string(hex)) != 0)
			goto out;
	}
	if ((*json_out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL)
		goto out;
	e = 0;
 out:
	json_decref(doc);
	return e;
}
