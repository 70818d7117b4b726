/* The measured-boot policy (appraise_boot.h): parsing, what each event of
 * a firmware log is to it, and the appraisal of a log against it. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appraise_boot.h"
#include "bootev.h"
#include "buf.h"
#include "err.h"
#include "events.h"
#include "log.h"
#include "rd.h"
#include "refvals.h"
#include "valid.h"

#include "enclave/pse_events.h"

#define EFI_GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define EFI_IMAGE_SECURITY_GUID "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
/* The Linux EFI stub's PCR 9 tagged events (include/linux/efi.h). */
#define LINUX_TAG_INITRD 0xec223b8fu
#define LINUX_TAG_LOAD_OPTIONS 0x8f3b22edu

#define PCR_EXECUTABLES ((1u << 0) | (1u << 4))

typedef uint8_t bootpol_dg[SHA256_LEN];

struct bootpol_set {
	size_t n;
	bootpol_dg *v;
};

struct bootpol_sig {
	char owner[BOOTEV_GUID_LEN];
	uint8_t sha256[SHA256_LEN];
	char subject[80];
};

struct bootpol_event {
	uint32_t pcr, type;
	struct bootpol_set d;	/* n = 0 for an accept rule: any digest */
};

/* pk, kek, db, dbx */
#define BOOTPOL_NSIGDB 4
static const char *const bootpol_sigdb_key[BOOTPOL_NSIGDB] = {
	"pk", "kek", "db", "dbx" };
static const char *const bootpol_sigdb_var[BOOTPOL_NSIGDB] = {
	"PK", "KEK", "db", "dbx" };

struct bootpol {
	int secure_boot;		/* -1: not checked */
	int has_sigs[BOOTPOL_NSIGDB];
	struct bootpol_sig *sigs[BOOTPOL_NSIGDB];
	size_t n_sigs[BOOTPOL_NSIGDB];
	int has_apps;
	struct bootpol_set *apps;
	size_t n_apps;
	int has_cmdline;
	char **cmdline;
	size_t n_cmdline;
	int has_initrd;
	struct bootpol_set initrd;
	int has_separators;
	uint32_t separators;
	struct bootpol_event *events;	/* "events", then "accept" */
	size_t n_events;
};

void
bootpol_free(struct bootpol *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < BOOTPOL_NSIGDB; i++)
		free(p->sigs[i]);
	for (i = 0; i < p->n_apps; i++)
		free(p->apps[i].v);
	free(p->apps);
	for (i = 0; i < p->n_cmdline; i++)
		free(p->cmdline[i]);
	free(p->cmdline);
	free(p->initrd.v);
	for (i = 0; i < p->n_events; i++)
		free(p->events[i].d.v);
	free(p->events);
	free(p);
}

int
bootpol_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= BOOTPOL_NAME_MAX || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return i > 0;
}

/* --- parsing --- */

static int
bootpol_bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bootpol_bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return VIGIL_EINVAL;
}

static int
bootpol_array(const json_t *a, const char *where, char *why, size_t whylen)
{
	if (!json_is_array(a))
		return bootpol_bad(why, whylen, "%s: not an array", where);
	if (json_array_size(a) > BOOTPOL_MAX_ITEMS)
		return bootpol_bad(why, whylen, "%s: more than %u entries",
		    where, BOOTPOL_MAX_ITEMS);
	return 0;
}

static int
bootpol_parse_set(const json_t *a, const char *where, struct bootpol_set *s,
    char *why, size_t whylen)
{
	const json_t *v;
	size_t i;
	int e;

	if ((e = bootpol_array(a, where, why, whylen)) != 0)
		return e;
	if (json_array_size(a) == 0)
		return 0;
	if ((s->v = calloc(json_array_size(a), sizeof(*s->v))) == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !valid_lowerhex(json_string_value(v),
		    64))
			return bootpol_bad(why, whylen, "%s[%zu]: not 64 "
			    "lowercase hex digits", where, i);
		hex_decode(json_string_value(v), s->v[i], SHA256_LEN);
		s->n++;
	}
	return 0;
}

/* Only the keys of allowed (NULL-terminated) in o. */
static int
bootpol_keys(const json_t *o, const char *const *allowed, const char *where,
    char *why, size_t whylen)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!json_is_object(o))
		return bootpol_bad(why, whylen, "%s: not an object", where);
	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL)
			return bootpol_bad(why, whylen, "%s.\"%.40s\": unknown "
			    "key", where, k);
	}
	return 0;
}

static int
bootpol_guid_ok(const char *s)
{
	size_t i;

	if (strlen(s) != BOOTEV_GUID_LEN - 1)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static int
bootpol_opt_string(const json_t *o, const char *key, const char *where,
    char *why, size_t whylen)
{
	const json_t *v = json_object_get(o, key);

	if (v != NULL && (!json_is_string(v) || strlen(json_string_value(v)) >
	    1024))
		return bootpol_bad(why, whylen, "%s.%s: not a string (at most "
		    "1024 bytes)", where, key);
	return 0;
}

static int
bootpol_parse_sigs(const json_t *a, const char *where, struct bootpol *p,
    int k, char *why, size_t whylen)
{
	static const char *const keys[] = { "owner", "sha256", "type",
	    "subject", NULL };
	struct bootpol_sig *s;
	const json_t *v, *o, *h;
	char w[160];
	size_t i;
	int e;

	if ((e = bootpol_array(a, where, why, whylen)) != 0)
		return e;
	p->has_sigs[k] = 1;
	if (json_array_size(a) > 0 && (p->sigs[k] = calloc(json_array_size(a),
	    sizeof(*p->sigs[k]))) == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(a, i, v) {
		snprintf(w, sizeof(w), "%.120s[%zu]", where, i);
		if ((e = bootpol_keys(v, keys, w, why, whylen)) != 0 ||
		    (e = bootpol_opt_string(v, "type", w, why, whylen)) != 0 ||
		    (e = bootpol_opt_string(v, "subject", w, why, whylen)) != 0)
			return e;
		o = json_object_get(v, "owner");
		h = json_object_get(v, "sha256");
		if (!json_is_string(o) || !bootpol_guid_ok(json_string_value(o)))
			return bootpol_bad(why, whylen, "%s.owner: not a "
			    "lowercase GUID", w);
		if (!json_is_string(h) || !valid_lowerhex(json_string_value(h),
		    64))
			return bootpol_bad(why, whylen, "%s.sha256: not 64 "
			    "lowercase hex digits", w);
		s = &p->sigs[k][p->n_sigs[k]++];
		snprintf(s->owner, sizeof(s->owner), "%s",
		    json_string_value(o));
		hex_decode(json_string_value(h), s->sha256, SHA256_LEN);
		if ((o = json_object_get(v, "subject")) != NULL)
			snprintf(s->subject, sizeof(s->subject), "%s",
			    json_string_value(o));
	}
	return 0;
}

static int
bootpol_parse_apps(const json_t *a, const char *where, struct bootpol *p,
    char *why, size_t whylen)
{
	static const char *const keys[] = { "sha256", "path", NULL };
	const json_t *v, *d;
	char w[160];
	size_t i;
	int e;

	if ((e = bootpol_array(a, where, why, whylen)) != 0)
		return e;
	p->has_apps = 1;
	if (json_array_size(a) > 0 && (p->apps = calloc(json_array_size(a),
	    sizeof(*p->apps))) == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(a, i, v) {
		snprintf(w, sizeof(w), "%.120s[%zu]", where, i);
		if ((e = bootpol_keys(v, keys, w, why, whylen)) != 0 ||
		    (e = bootpol_opt_string(v, "path", w, why, whylen)) != 0)
			return e;
		if ((d = json_object_get(v, "sha256")) == NULL)
			return bootpol_bad(why, whylen, "%s.sha256: missing",
			    w);
		snprintf(w, sizeof(w), "%.120s[%zu].sha256", where, i);
		p->n_apps++;
		if ((e = bootpol_parse_set(d, w, &p->apps[i], why,
		    whylen)) != 0)
			return e;
		if (p->apps[i].n == 0)
			return bootpol_bad(why, whylen, "%s: empty (nothing "
			    "could match)", w);
	}
	return 0;
}

static int
bootpol_parse_pcr(const json_t *v, const char *where, uint32_t *pcr,
    char *why, size_t whylen)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) >= PCR_COUNT)
		return bootpol_bad(why, whylen, "%s: not a PCR number 0-23",
		    where);
	*pcr = (uint32_t)json_integer_value(v);
	return 0;
}

/* "events" (rule 0) or "accept" (rule 1). */
static int
bootpol_parse_events(const json_t *a, const char *where, int rule,
    struct bootpol *p, char *why, size_t whylen)
{
	static const char *const ekeys[] = { "pcr", "type", "sha256", "note",
	    NULL };
	static const char *const akeys[] = { "pcr", "type", "note", NULL };
	struct bootpol_event *ne, *ev;
	const json_t *v, *t;
	char w[160];
	size_t i;
	int e;

	if ((e = bootpol_array(a, where, why, whylen)) != 0)
		return e;
	if (json_array_size(a) == 0)
		return 0;
	if ((ne = realloc(p->events, (p->n_events + json_array_size(a)) *
	    sizeof(*ne))) == NULL)
		return VIGIL_ENOMEM;
	p->events = ne;
	json_array_foreach(a, i, v) {
		snprintf(w, sizeof(w), "%.120s[%zu]", where, i);
		ev = &p->events[p->n_events];
		memset(ev, 0, sizeof(*ev));
		if ((e = bootpol_keys(v, rule ? akeys : ekeys, w, why,
		    whylen)) != 0 ||
		    (e = bootpol_opt_string(v, "note", w, why, whylen)) != 0)
			return e;
		snprintf(w, sizeof(w), "%.120s[%zu].pcr", where, i);
		if ((e = bootpol_parse_pcr(json_object_get(v, "pcr"), w,
		    &ev->pcr, why, whylen)) != 0)
			return e;
		t = json_object_get(v, "type");
		if (!json_is_string(t) || bootev_type_parse(json_string_value(t),
		    &ev->type) != 0)
			return bootpol_bad(why, whylen, "%s[%zu].type: not a TCG "
			    "event type name (EV_...) or 0x%%08x", where, i);
		p->n_events++;
		if (rule)
			continue;
		snprintf(w, sizeof(w), "%.120s[%zu].sha256", where, i);
		if ((t = json_object_get(v, "sha256")) == NULL)
			return bootpol_bad(why, whylen, "%s: missing", w);
		if ((e = bootpol_parse_set(t, w, &ev->d, why, whylen)) != 0)
			return e;
		if (ev->d.n == 0)
			return bootpol_bad(why, whylen, "%s: empty (an "
			    "\"accept\" rule accepts any digest)", w);
	}
	return 0;
}

static int
bootpol_parse_cmdline(const json_t *a, const char *where, struct bootpol *p,
    char *why, size_t whylen)
{
	const json_t *v;
	size_t i;
	int e;

	if ((e = bootpol_array(a, where, why, whylen)) != 0)
		return e;
	p->has_cmdline = 1;
	if (json_array_size(a) > 0 && (p->cmdline = calloc(json_array_size(a),
	    sizeof(char *))) == NULL)
		return VIGIL_ENOMEM;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) > 4096)
			return bootpol_bad(why, whylen, "%s[%zu]: not a string "
			    "(at most 4096 bytes)", where, i);
		if ((p->cmdline[i] = strdup(json_string_value(v))) == NULL)
			return VIGIL_ENOMEM;
		p->n_cmdline++;
	}
	return 0;
}

static int
bootpol_parse_separators(const json_t *a, const char *where,
    struct bootpol *p, char *why, size_t whylen)
{
	const json_t *v;
	char w[160];
	uint32_t pcr;
	size_t i;
	int e;

	if ((e = bootpol_array(a, where, why, whylen)) != 0)
		return e;
	p->has_separators = 1;
	json_array_foreach(a, i, v) {
		snprintf(w, sizeof(w), "%.120s[%zu]", where, i);
		if ((e = bootpol_parse_pcr(v, w, &pcr, why, whylen)) != 0)
			return e;
		p->separators |= 1u << pcr;
	}
	return 0;
}

static int
bootpol_parse_all(const json_t *obj, const char *where, struct bootpol *p,
    char *why, size_t whylen)
{
	static const char *const keys[] = { "secure_boot", "pk", "kek", "db",
	    "dbx", "boot_applications", "kernel_cmdline", "initrd",
	    "separators", "events", "accept", "note", NULL };
	const json_t *v;
	char w[160];
	int e, k;

	if ((e = bootpol_keys(obj, keys, where, why, whylen)) != 0 ||
	    (e = bootpol_opt_string(obj, "note", where, why, whylen)) != 0)
		return e;
	p->secure_boot = -1;
	if ((v = json_object_get(obj, "secure_boot")) != NULL) {
		if (!json_is_boolean(v))
			return bootpol_bad(why, whylen, "%s.secure_boot: not "
			    "true or false", where);
		p->secure_boot = json_is_true(v);
	}
	for (k = 0; k < BOOTPOL_NSIGDB; k++) {
		if ((v = json_object_get(obj, bootpol_sigdb_key[k])) == NULL)
			continue;
		snprintf(w, sizeof(w), "%.120s.%s", where, bootpol_sigdb_key[k]);
		if ((e = bootpol_parse_sigs(v, w, p, k, why, whylen)) != 0)
			return e;
	}
#define BOOTPOL_FIELD(key, fn) \
	if ((v = json_object_get(obj, key)) != NULL) { \
		snprintf(w, sizeof(w), "%.120s.%s", where, key); \
		if ((e = fn) != 0) \
			return e; \
	}
	BOOTPOL_FIELD("boot_applications",
	    bootpol_parse_apps(v, w, p, why, whylen));
	BOOTPOL_FIELD("kernel_cmdline",
	    bootpol_parse_cmdline(v, w, p, why, whylen));
	BOOTPOL_FIELD("initrd", (p->has_initrd = 1,
	    bootpol_parse_set(v, w, &p->initrd, why, whylen)));
	BOOTPOL_FIELD("separators",
	    bootpol_parse_separators(v, w, p, why, whylen));
	BOOTPOL_FIELD("events", bootpol_parse_events(v, w, 0, p, why, whylen));
	BOOTPOL_FIELD("accept", bootpol_parse_events(v, w, 1, p, why, whylen));
#undef BOOTPOL_FIELD
	return 0;
}

int
bootpol_parse(const json_t *obj, const char *where, struct bootpol **out,
    char *why, size_t whylen)
{
	struct bootpol *p;
	int e;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return VIGIL_ENOMEM;
	if ((e = bootpol_parse_all(obj, where, p, why, whylen)) != 0) {
		bootpol_free(p);
		return e;
	}
	*out = p;
	return 0;
}

/* --- what an event is --- */

static int
bootev_digest_of(const struct evlog_event *ev, const void *p, size_t n)
{
	uint8_t dg[SHA256_LEN];
	unsigned int dl;

	return ev->has_sha256 && EVP_Digest(p, n, dg, &dl, EVP_sha256(),
	    NULL) == 1 && memcmp(dg, ev->sha256, SHA256_LEN) == 0;
}

/* The tag of an EV_EVENT_TAG event, or 0. */
static uint32_t
bootev_tag(const struct evlog_event *ev)
{
	struct rd r;
	uint32_t tag;

	rd_init(&r, ev->data, ev->data_len);
	if (ev->type != EV_EVENT_TAG || rd_u32le(&r, &tag) != 0)
		return 0;
	return tag;
}

static int
bootev_has_prefix(const struct evlog_event *ev, const char *pfx)
{
	size_t n = strlen(pfx);

	return ev->data_len >= n && memcmp(ev->data, pfx, n) == 0;
}

static int
bootev_data_has(const struct evlog_event *ev, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i + n <= ev->data_len; i++)
		if (memcmp(ev->data + i, s, n) == 0)
			return 1;
	return 0;
}

static enum bootev_class
bootev_classify_var(const struct evlog_event *ev)
{
	struct bootev_var v;

	if (bootev_var_parse(ev->data, ev->data_len, &v) != 0)
		return BOOTEV_OTHER;
	if (strcmp(v.guid, EFI_GLOBAL_GUID) == 0) {
		if (strcmp(v.name, "SecureBoot") == 0)
			return BOOTEV_SECUREBOOT;
		if (strcmp(v.name, "PK") == 0)
			return BOOTEV_PK;
		if (strcmp(v.name, "KEK") == 0)
			return BOOTEV_KEK;
	} else if (strcmp(v.guid, EFI_IMAGE_SECURITY_GUID) == 0) {
		if (strcmp(v.name, "db") == 0)
			return BOOTEV_DB;
		if (strcmp(v.name, "dbx") == 0)
			return BOOTEV_DBX;
	}
	return BOOTEV_OTHER;
}

enum bootev_class
bootev_classify(const struct evlog_event *ev)
{
	uint32_t tag = bootev_tag(ev);

	if (ev->type == EV_NO_ACTION)
		return BOOTEV_SKIP;
	/* Appraised by their own steps (appraise_quote.c, appraise_smm.c,
	 * appraise_pse.c), whichever log carries them. */
	if (tag == VIGIL_TAG_AK_PUBLIC || tag == VIGIL_TAG_SMM_IMAGE ||
	    tag == VIGIL_TAG_SMM_LOG_PUB || tag == VIGIL_TAG_SMM_WRAP_PUB ||
	    tag == VIGIL_TAG_CAP || tag == VIGIL_TAG_PSE_IMAGE ||
	    tag == VIGIL_TAG_PSE_PLATFORM_PUB ||
	    tag == VIGIL_TAG_PSE_PLATFORM_CERT ||
	    tag == VIGIL_TAG_PSE_TRANSPORT_PUB)
		return BOOTEV_SKIP;
	if (ev->type == EV_SEPARATOR)
		return BOOTEV_SEPARATOR;
	if (ev->pcr == 7 && ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG)
		return bootev_classify_var(ev);
	if (ev->pcr == 4 && (ev->type == EV_EFI_BOOT_SERVICES_APPLICATION ||
	    ev->type == EV_IPL))
		return BOOTEV_BOOT_APP;
	if ((ev->pcr == 8 && ev->type == EV_IPL &&
	    bootev_has_prefix(ev, "kernel_cmdline: ")) ||
	    (ev->pcr == 12 && ev->type == EV_IPL) ||
	    (ev->pcr == 9 && tag == LINUX_TAG_LOAD_OPTIONS))
		return BOOTEV_CMDLINE;
	if ((ev->pcr == 9 && ev->type == EV_IPL &&
	    (bootev_data_has(ev, "initrd") ||
	    bootev_data_has(ev, "initramfs"))) ||
	    (ev->pcr == 9 && tag == LINUX_TAG_INITRD))
		return BOOTEV_INITRD;
	return BOOTEV_OTHER;
}

int
bootev_cmdline(const struct evlog_event *ev, char *out, size_t cap)
{
	const uint8_t *p = ev->data;
	size_t n = ev->data_len, i, o = 0;
	int utf16 = 0;

	if (ev->pcr == 8) {
		/* GRUB: the data is "kernel_cmdline: " and the line, NUL
		 * ended; the digest is of the line alone. */
		p += strlen("kernel_cmdline: ");
		n -= strlen("kernel_cmdline: ");
		if (n > 0 && p[n - 1] == '\0')
			n--;
		if (!bootev_digest_of(ev, p, n))
			return VIGIL_EVERIFY;
	} else {
		/* systemd-stub (PCR 12) measures the UTF-16 line as its
		 * data; the kernel's PCR 9 tag carries it after the tag
		 * header. Either way the digest is of the measured bytes. */
		if (ev->pcr == 9) {
			if (n < 8)
				return VIGIL_EVERIFY;
			p += 8;
			n -= 8;
		}
		if (!bootev_digest_of(ev, ev->pcr == 9 ? p : ev->data,
		    ev->pcr == 9 ? n : ev->data_len))
			return VIGIL_EVERIFY;
		utf16 = n >= 2 && p[1] == 0;
	}
	for (i = 0; i < n && o + 1 < cap; i += utf16 ? 2 : 1) {
		if (p[i] == 0 && (!utf16 || i + 1 >= n || p[i + 1] == 0))
			break;
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f &&
		    (!utf16 || (i + 1 < n && p[i + 1] == 0)) ? (char)p[i] : '?';
	}
	out[o] = '\0';
	return 0;
}

/* --- the appraisal --- */

struct bootchk {
	const struct evlog *log;
	const struct bootpol *p;
	const char *name;
	struct ear *e;
	size_t failures;
	/* the event being appraised, for bootchk_fail */
	size_t idx;
	const struct evlog_event *ev;
};

static void
bootchk_fail(struct bootchk *c, uint32_t pcr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One failure: a reason (up to BOOTPOL_MAX_REASONS) and the claim of its
 * PCR. */
static void
bootchk_fail(struct bootchk *c, uint32_t pcr, const char *fmt, ...)
{
	char msg[EAR_REASON_LEN];
	va_list ap;

	ear_claim((PCR_EXECUTABLES & (1u << pcr)) ? &c->e->executables :
	    &c->e->configuration, AR_CONTRA);
	if (c->failures++ >= BOOTPOL_MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ear_reason(c->e, "%s", msg);
}

/* "event 23 (PCR 4, EV_EFI_BOOT_SERVICES_APPLICATION)" */
static void
bootchk_where(const struct bootchk *c, char *out, size_t cap)
{
	const char *t = bootev_type_name(c->ev->type);
	char hex[16];

	if (t == NULL) {
		snprintf(hex, sizeof(hex), "0x%08x", c->ev->type);
		t = hex;
	}
	snprintf(out, cap, "event %zu (PCR %u, %s)", c->idx, c->ev->pcr, t);
}

/* "abcdef012345..., 0123456789ab... (+2 more)", or "none". */
static void
bootchk_accepted(const struct bootpol_set *s, char *out, size_t cap)
{
	char hex[65];
	size_t i, o = 0;

	snprintf(out, cap, "none");
	for (i = 0; i < s->n && i < 2; i++) {
		hex_encode(s->v[i], SHA256_LEN, hex);
		o += (size_t)snprintf(out + o, cap - o, "%s%.12s...",
		    i ? ", " : "", hex);
		if (o >= cap)
			return;
	}
	if (s->n > 2)
		snprintf(out + o, cap - o, " (+%zu more)", s->n - 2);
}

static int
bootchk_in(const struct bootpol_set *s, const uint8_t *dg)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (memcmp(s->v[i], dg, SHA256_LEN) == 0)
			return 1;
	return 0;
}

/* The digest of an event against a set: "<what> <where> sha256 <hex> is
 * not in boot policy "NAME"; accepted: ...". */
static void
bootchk_digest(struct bootchk *c, const char *what,
    const struct bootpol_set *s)
{
	char w[96], hex[65], acc[80];

	if (bootchk_in(s, c->ev->sha256))
		return;
	bootchk_where(c, w, sizeof(w));
	hex_encode(c->ev->sha256, SHA256_LEN, hex);
	bootchk_accepted(s, acc, sizeof(acc));
	bootchk_fail(c, c->ev->pcr, "%s%s%s sha256 %s is not in boot policy "
	    "\"%s\"; accepted: %s", what, *what ? " " : "", w, hex, c->name,
	    acc);
}

static void
bootchk_separator(struct bootchk *c, uint32_t *count)
{
	static const uint8_t zero4[4];
	char w[96];

	count[c->ev->pcr]++;
	if (c->ev->data_len == 4 && memcmp(c->ev->data, zero4, 4) == 0 &&
	    bootev_digest_of(c->ev, zero4, 4))
		return;
	bootchk_where(c, w, sizeof(w));
	bootchk_fail(c, c->ev->pcr, "separator %s is not the normal one "
	    "(data 00000000, its digest SHA-256 of it): a firmware error "
	    "separator, or altered", w);
}

/* The variable of a PCR 7 event, its digest checked: the firmware
 * measures the whole UEFI_VARIABLE_DATA, so data not matching it is not
 * what was extended. */
static int
bootchk_var(struct bootchk *c, struct bootev_var *v)
{
	char w[96];

	if (bootev_var_parse(c->ev->data, c->ev->data_len, v) == 0 &&
	    bootev_digest_of(c->ev, c->ev->data, c->ev->data_len))
		return 0;
	bootchk_where(c, w, sizeof(w));
	bootchk_fail(c, c->ev->pcr, "%s: its digest is not SHA-256 of its "
	    "UEFI_VARIABLE_DATA, so what it names was not what was measured",
	    w);
	return VIGIL_EVERIFY;
}

static void
bootchk_secureboot(struct bootchk *c)
{
	struct bootev_var v;
	char w[96];
	int on;

	if (bootchk_var(c, &v) != 0)
		return;
	on = v.data_len == 1 && v.data[0] == 1;
	if (on == c->p->secure_boot)
		return;
	bootchk_where(c, w, sizeof(w));
	bootchk_fail(c, 7, "Secure Boot is %s (variable SecureBoot, %s, "
	    "value %s%02x): boot policy \"%s\" requires it %s", on ? "on" :
	    "off", w, v.data_len == 1 ? "0x" : "of length != 1, first ",
	    v.data_len > 0 ? v.data[0] : 0, c->name, c->p->secure_boot ?
	    "on" : "off");
}

struct bootchk_sigs {
	struct bootchk *c;
	int k;
	int *seen;		/* dbx: the policy entries found */
	int failed;
};

static int
bootchk_sig_in(const struct bootpol *p, int k, const struct bootev_sig *s)
{
	size_t i;

	for (i = 0; i < p->n_sigs[k]; i++)
		if (strcmp(p->sigs[k][i].owner, s->owner) == 0 &&
		    memcmp(p->sigs[k][i].sha256, s->sha256, SHA256_LEN) == 0)
			return (int)i;
	return -1;
}

static int
bootchk_sig_cb(void *ctx, const struct bootev_sig *s)
{
	struct bootchk_sigs *x = ctx;
	char w[96], hex[65];
	int i;

	i = bootchk_sig_in(x->c->p, x->k, s);
	if (x->k == BOOTEV_DBX - BOOTEV_PK) {
		if (i >= 0)
			x->seen[i] = 1;
		return 0;
	}
	if (i >= 0)
		return 0;
	x->failed = 1;
	bootchk_where(x->c, w, sizeof(w));
	hex_encode(s->sha256, SHA256_LEN, hex);
	bootchk_fail(x->c, 7, "%s %s holds %s%s%s (owner %s, sha256 %.16s...) "
	    "not among boot policy \"%s\"'s %s", bootpol_sigdb_var[x->k], w,
	    s->type, s->subject[0] ? " " : "", s->subject, s->owner, hex,
	    x->c->name, bootpol_sigdb_key[x->k]);
	return 0;
}

/* PK, KEK, db: every entry allowed by the policy; dbx: every entry the
 * policy lists present (revocations are only ever added). */
static int
bootchk_sigdb(struct bootchk *c, int k)
{
	struct bootchk_sigs x = { c, k, NULL, 0 };
	struct bootev_var v;
	char w[96], hex[65];
	size_t i;
	int e;

	if (bootchk_var(c, &v) != 0)
		return 0;
	if (k == BOOTEV_DBX - BOOTEV_PK && c->p->n_sigs[k] > 0 &&
	    (x.seen = calloc(c->p->n_sigs[k], sizeof(int))) == NULL)
		return VIGIL_ENOMEM;
	e = bootev_siglist_walk(v.data, v.data_len, bootchk_sig_cb, &x);
	if (e == VIGIL_ENOMEM || e == VIGIL_ECRYPTO)
		goto out;
	bootchk_where(c, w, sizeof(w));
	if (e != 0) {
		bootchk_fail(c, 7, "%s %s: its EFI_SIGNATURE_LIST data does not "
		    "parse (%s)", bootpol_sigdb_var[k], w, vigil_strerror(e));
		e = 0;
		goto out;
	}
	for (i = 0; x.seen != NULL && i < c->p->n_sigs[k]; i++) {
		if (x.seen[i])
			continue;
		hex_encode(c->p->sigs[k][i].sha256, SHA256_LEN, hex);
		bootchk_fail(c, 7, "dbx %s lacks the revocation %.16s... (owner "
		    "%s) that boot policy \"%s\" requires", w, hex,
		    c->p->sigs[k][i].owner, c->name);
		break;
	}
 out:
	free(x.seen);
	return e;
}

static void
bootchk_cmdline(struct bootchk *c)
{
	char line[4096], w[96];
	size_t i;

	bootchk_where(c, w, sizeof(w));
	if (bootev_cmdline(c->ev, line, sizeof(line)) != 0) {
		bootchk_fail(c, c->ev->pcr, "kernel command line %s: its digest "
		    "is not SHA-256 of the line it names", w);
		return;
	}
	for (i = 0; i < c->p->n_cmdline; i++)
		if (strcmp(c->p->cmdline[i], line) == 0)
			return;
	bootchk_fail(c, c->ev->pcr, "kernel command line %s \"%.80s%s\" is not "
	    "in boot policy \"%s\" (%zu accepted)", w, line, strlen(line) > 80 ?
	    "..." : "", c->name, c->p->n_cmdline);
}

/* The other events: an "events" entry of their (PCR, type) holding the
 * digest, or an "accept" rule. */
static void
bootchk_other(struct bootchk *c)
{
	const struct bootpol_event *pe, *entry = NULL;
	char w[96], hex[65];
	size_t i;

	for (i = 0; i < c->p->n_events; i++) {
		pe = &c->p->events[i];
		if (pe->pcr != c->ev->pcr || pe->type != c->ev->type)
			continue;
		if (pe->d.n == 0 || bootchk_in(&pe->d, c->ev->sha256))
			return;
		entry = pe;
	}
	if (entry != NULL) {
		bootchk_digest(c, "", &entry->d);
		return;
	}
	bootchk_where(c, w, sizeof(w));
	hex_encode(c->ev->sha256, SHA256_LEN, hex);
	bootchk_fail(c, c->ev->pcr, "%s sha256 %s: boot policy \"%s\" has no "
	    "item or rule for this event", w, hex, c->name);
}

/* One event; *apps counts the boot applications so far. */
static int
bootchk_event(struct bootchk *c, enum bootev_class k, size_t *apps,
    uint32_t *seps, int *seen)
{
	const struct bootpol *p = c->p;
	char what[40], w[96], hex[65];

	switch (k) {
	case BOOTEV_SECUREBOOT:
		if (p->secure_boot < 0)
			break;
		seen[k] = 1;
		bootchk_secureboot(c);
		return 0;
	case BOOTEV_PK: case BOOTEV_KEK: case BOOTEV_DB: case BOOTEV_DBX:
		if (!p->has_sigs[k - BOOTEV_PK])
			break;
		seen[k] = 1;
		return bootchk_sigdb(c, k - BOOTEV_PK);
	case BOOTEV_BOOT_APP:
		if (!p->has_apps)
			break;
		if (*apps >= p->n_apps) {
			bootchk_where(c, w, sizeof(w));
			hex_encode(c->ev->sha256, SHA256_LEN, hex);
			bootchk_fail(c, 4, "boot application %zu %s sha256 %s "
			    "is one more than boot policy \"%s\" lists (%zu)",
			    *apps, w, hex, c->name, p->n_apps);
		} else {
			snprintf(what, sizeof(what), "boot application %zu",
			    *apps);
			bootchk_digest(c, what, &p->apps[*apps]);
		}
		(*apps)++;
		return 0;
	case BOOTEV_CMDLINE:
		if (!p->has_cmdline)
			break;
		seen[k] = 1;
		bootchk_cmdline(c);
		return 0;
	case BOOTEV_INITRD:
		if (!p->has_initrd)
			break;
		seen[k] = 1;
		bootchk_digest(c, "initrd", &p->initrd);
		return 0;
	case BOOTEV_SEPARATOR:
		bootchk_separator(c, seps);
		return 0;
	case BOOTEV_SKIP:
		return 0;
	case BOOTEV_OTHER:
		break;
	}
	bootchk_other(c);
	return 0;
}

/* The PCR an item's events are in, for the items found missing. */
static uint32_t
bootchk_item_pcrs(enum bootev_class k)
{
	switch (k) {
	case BOOTEV_BOOT_APP:
		return 1u << 4;
	case BOOTEV_CMDLINE:
		return (1u << 8) | (1u << 9) | (1u << 12);
	case BOOTEV_INITRD:
		return 1u << 9;
	default:
		return 1u << 7;
	}
}

/* After the events: what the policy requires and the log lacked. */
static void
bootchk_missing(struct bootchk *c, uint32_t verified, size_t apps,
    const uint32_t *seps, const int *seen)
{
	const struct bootpol *p = c->p;
	uint32_t i;
	int k;

	if (p->has_apps && apps < p->n_apps && (verified & (1u << 4)))
		bootchk_fail(c, 4, "boot application %zu missing: boot policy "
		    "\"%s\" lists %zu, the log has %zu", apps, c->name,
		    p->n_apps, apps);
	if (p->secure_boot >= 0 && !seen[BOOTEV_SECUREBOOT] &&
	    (verified & (1u << 7)))
		bootchk_fail(c, 7, "no SecureBoot variable event in PCR 7: boot "
		    "policy \"%s\" requires Secure Boot %s", c->name,
		    p->secure_boot ? "on" : "off");
	for (k = 0; k < BOOTPOL_NSIGDB; k++)
		if (p->has_sigs[k] && !seen[BOOTEV_PK + k] &&
		    (verified & (1u << 7)))
			bootchk_fail(c, 7, "no %s variable event in PCR 7: boot "
			    "policy \"%s\" lists %s", bootpol_sigdb_var[k],
			    c->name, bootpol_sigdb_key[k]);
	if (p->has_cmdline && !seen[BOOTEV_CMDLINE] &&
	    (verified & bootchk_item_pcrs(BOOTEV_CMDLINE)))
		bootchk_fail(c, 8, "no kernel command line event: boot policy "
		    "\"%s\" lists kernel_cmdline", c->name);
	if (p->has_initrd && !seen[BOOTEV_INITRD] && (verified & (1u << 9)))
		bootchk_fail(c, 9, "no initrd event in PCR 9: boot policy "
		    "\"%s\" lists initrd", c->name);
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(p->separators & verified & (1u << i)) || seps[i] == 1)
			continue;
		bootchk_fail(c, i, "PCR %u has %u separators: boot policy \"%s\" "
		    "requires exactly one", i, seps[i], c->name);
	}
}

/* Items of the policy that no verified PCR holds: noted once. */
static void
bootchk_unverified(struct bootchk *c, uint32_t verified)
{
	const struct bootpol *p = c->p;
	char list[80] = "";
	size_t o = 0;
	uint32_t i, m = 0;

	if (p->has_cmdline && !(verified & bootchk_item_pcrs(BOOTEV_CMDLINE)))
		m |= bootchk_item_pcrs(BOOTEV_CMDLINE);
	if (p->has_initrd && !(verified & (1u << 9)))
		m |= 1u << 9;
	for (i = 0; i < p->n_events; i++)
		m |= (1u << p->events[i].pcr) & ~verified;
	m &= ~verified;
	if (m == 0)
		return;
	for (i = 0; i < PCR_COUNT && o < sizeof(list); i++)
		if (m & (1u << i))
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%u",
			    o ? "," : "", i);
	ear_reason(c->e, "boot policy \"%s\": its items in PCR(s) %s are not "
	    "appraised: the quote does not cover those PCRs", c->name, list);
}

int
appraise_boot(const struct evlog *log, const struct bootpol *p,
    const char *name, uint32_t verified, struct ear *e, int *held)
{
	struct bootchk c = { log, p, name, e, 0, 0, NULL };
	uint32_t seps[PCR_COUNT] = { 0 };
	int seen[BOOTEV_OTHER + 1] = { 0 };
	size_t i, apps = 0;
	int r;

	*held = 0;
	for (i = 0; i < log->n; i++) {
		c.idx = i;
		c.ev = &log->ev[i];
		if (!(verified & (1u << c.ev->pcr)))
			continue;
		if (!c.ev->has_sha256) {
			bootchk_fail(&c, c.ev->pcr, "event %zu (PCR %u) has no "
			    "SHA-256 digest: boot policy \"%s\" is SHA-256",
			    i, c.ev->pcr, name);
			continue;
		}
		if ((r = bootchk_event(&c, bootev_classify(c.ev), &apps, seps,
		    seen)) != 0)
			return r;
	}
	bootchk_missing(&c, verified, apps, seps, seen);
	if (c.failures > BOOTPOL_MAX_REASONS)
		ear_reason(e, "boot policy \"%s\": %zu more failures not "
		    "listed", name, c.failures - BOOTPOL_MAX_REASONS);
	bootchk_unverified(&c, verified);
	log_info("appraisal: boot policy \"%s\": %zu events, %zu failures",
	    name, log->n, c.failures);
	*held = c.failures == 0;
	return 0;
}

int
appraise_boot_step(const struct evlog *log, const struct refvals *refs,
    const char *agent_id, uint32_t verified, struct ear *e,
    uint32_t *appraised)
{
	const struct bootpol *p;
	const char *name = NULL;
	int r, held = 0;

	if ((p = refvals_boot_policy(refs, agent_id, &name)) == NULL)
		return 0;
	if ((r = appraise_boot(log, p, name, verified, e, &held)) != 0)
		return r;
	if (held)
		*appraised |= verified & 0xffu;
	return 0;
}
