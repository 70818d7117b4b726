/* A measured-boot policy from a known-good machine's firmware log
 * (bootpol_learn, appraise_boot.h): `vigil reference-values
 * from-event-log`. It classifies events exactly as the appraisal does
 * (bootev_classify), so a policy made from a log accepts that log. */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appraise_boot.h"
#include "bootev.h"
#include "buf.h"
#include "err.h"

static int
learn_bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
learn_bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return VIGIL_EINVAL;
}

/* Appends s to the array a unless an equal value is there. */
static int
learn_add(json_t *a, json_t *v)
{
	size_t i;

	if (v == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < json_array_size(a); i++) {
		if (json_equal(json_array_get(a, i), v)) {
			json_decref(v);
			return 0;
		}
	}
	return json_array_append_new(a, v) == 0 ? 0 : VIGIL_ENOMEM;
}

static json_t *
learn_hex(const uint8_t *dg)
{
	char hex[65];

	hex_encode(dg, SHA256_LEN, hex);
	return json_string(hex);
}

/* o[key], an array, created when absent. */
static json_t *
learn_arr(json_t *o, const char *key)
{
	json_t *a = json_object_get(o, key);

	if (a == NULL && ((a = json_array()) == NULL ||
	    json_object_set_new(o, key, a) != 0))
		return NULL;
	return a;
}

static const char *
learn_type(uint32_t type, char *buf, size_t cap)
{
	const char *t = bootev_type_name(type);

	if (t != NULL)
		return t;
	snprintf(buf, cap, "0x%08x", type);
	return buf;
}

/* The entry of list (an "events" or "accept" array) for (pcr, type). */
static json_t *
learn_entry(json_t *list, uint32_t pcr, const char *type, int rule)
{
	json_t *o;
	size_t i;

	for (i = 0; i < json_array_size(list); i++) {
		o = json_array_get(list, i);
		if (json_integer_value(json_object_get(o, "pcr")) == pcr &&
		    strcmp(json_string_value(json_object_get(o, "type")),
		    type) == 0)
			return o;
	}
	if ((o = json_pack("{s:i, s:s}", "pcr", (int)pcr, "type", type)) ==
	    NULL || (!rule && json_object_set_new(o, "sha256",
	    json_array()) != 0) || json_array_append_new(list, o) != 0)
		return NULL;
	return o;
}

/* Events that differ per machine or disk even on one hardware model:
 * boot entries (device paths), handed-off tables (SMBIOS serials), the
 * platform configuration, the GPT. Accepted by rule. */
static int
learn_is_machine_specific(const struct evlog_event *ev)
{
	if (ev->pcr == 1)
		return ev->type == EV_EFI_VARIABLE_BOOT ||
		    ev->type == EV_EFI_VARIABLE_BOOT2 ||
		    ev->type == EV_EFI_HANDOFF_TABLES ||
		    ev->type == 0x8000000bu ||	/* EV_EFI_HANDOFF_TABLES2 */
		    ev->type == EV_PLATFORM_CONFIG_FLAGS ||
		    ev->type == 0x0000000bu;	/* EV_TABLE_OF_DEVICES */
	if (ev->pcr == 5)
		return ev->type == EV_EFI_GPT_EVENT ||
		    ev->type == 0x8000000du;	/* EV_EFI_GPT_EVENT2 */
	return 0;
}

static int
learn_other(json_t *p, const struct evlog_event *ev)
{
	char tb[16];
	const char *t = learn_type(ev->type, tb, sizeof(tb));
	json_t *list, *o;
	int rule = learn_is_machine_specific(ev);

	if ((list = learn_arr(p, rule ? "accept" : "events")) == NULL ||
	    (o = learn_entry(list, ev->pcr, t, rule)) == NULL)
		return VIGIL_ENOMEM;
	return rule ? 0 : learn_add(json_object_get(o, "sha256"),
	    learn_hex(ev->sha256));
}

struct learn_sigs {
	json_t *arr;
	int e;
};

static int
learn_sig_cb(void *ctx, const struct bootev_sig *s)
{
	struct learn_sigs *x = ctx;
	char hex[65];
	json_t *o;

	hex_encode(s->sha256, SHA256_LEN, hex);
	o = json_pack("{s:s, s:s, s:s}", "owner", s->owner, "sha256", hex,
	    "type", s->type);
	if (o != NULL && s->subject[0] != '\0' && json_object_set_new(o,
	    "subject", json_string(s->subject)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return learn_add(x->arr, o);
}

static int
learn_sigdb(json_t *p, const struct evlog_event *ev, const char *key,
    size_t idx, char *why, size_t whylen)
{
	struct learn_sigs x;
	struct bootev_var v;
	int e;

	if (bootev_var_parse(ev->data, ev->data_len, &v) != 0)
		return learn_bad(why, whylen, "event %zu (PCR 7): its "
		    "UEFI_VARIABLE_DATA does not parse", idx);
	if ((x.arr = learn_arr(p, key)) == NULL)
		return VIGIL_ENOMEM;
	x.e = 0;
	if ((e = bootev_siglist_walk(v.data, v.data_len, learn_sig_cb,
	    &x)) != 0)
		return e == VIGIL_ENOMEM ? e : learn_bad(why, whylen, "event "
		    "%zu (PCR 7, %s): its EFI_SIGNATURE_LIST data does not "
		    "parse", idx, v.name);
	return 0;
}

static int
learn_app(json_t *p, const struct evlog_event *ev)
{
	char path[256] = "";
	json_t *apps, *o;

	if ((apps = learn_arr(p, "boot_applications")) == NULL)
		return VIGIL_ENOMEM;
	if (ev->type == EV_EFI_BOOT_SERVICES_APPLICATION)
		(void)bootev_image_path(ev->data, ev->data_len, path,
		    sizeof(path));
	else if (ev->data_len > 0)	/* EV_IPL: the data names it */
		snprintf(path, sizeof(path), "%.*s", ev->data_len < 255 ?
		    (int)ev->data_len : 255, (const char *)ev->data);
	if ((o = json_pack("{s:[o]}", "sha256", learn_hex(ev->sha256))) ==
	    NULL || (path[0] != '\0' && json_object_set_new(o, "path",
	    json_string(path)) != 0) || json_array_append_new(apps, o) != 0)
		return VIGIL_ENOMEM;
	return 0;
}

/* One event into the policy p made from this log alone. */
static int
learn_event(json_t *p, const struct evlog_event *ev, size_t idx,
    uint32_t *seps, int *cmdline_bad, char *why, size_t whylen)
{
	static const uint8_t zero4[4];
	static const char *const sigkey[] = { "pk", "kek", "db", "dbx" };
	enum bootev_class k = bootev_classify(ev);
	char line[4096];
	json_t *a;

	switch (k) {
	case BOOTEV_SKIP:
		return 0;
	case BOOTEV_SEPARATOR:
		if (ev->data_len != 4 || memcmp(ev->data, zero4, 4) != 0)
			return learn_bad(why, whylen, "event %zu (PCR %u): a "
			    "separator that is not the normal one (data "
			    "00000000): not a known-good boot", idx, ev->pcr);
		seps[ev->pcr]++;
		return 0;
	case BOOTEV_SECUREBOOT: {
		struct bootev_var v;

		(void)bootev_var_parse(ev->data, ev->data_len, &v);
		return json_object_set_new(p, "secure_boot", json_boolean(
		    v.data_len == 1 && v.data[0] == 1)) == 0 ? 0 :
		    VIGIL_ENOMEM;
	}
	case BOOTEV_PK: case BOOTEV_KEK: case BOOTEV_DB: case BOOTEV_DBX:
		return learn_sigdb(p, ev, sigkey[k - BOOTEV_PK], idx, why,
		    whylen);
	case BOOTEV_BOOT_APP:
		return learn_app(p, ev);
	case BOOTEV_CMDLINE:
		if (bootev_cmdline(ev, line, sizeof(line)) != 0) {
			*cmdline_bad = 1;
			return 0;
		}
		if ((a = learn_arr(p, "kernel_cmdline")) == NULL)
			return VIGIL_ENOMEM;
		return learn_add(a, json_string(line));
	case BOOTEV_INITRD:
		if ((a = learn_arr(p, "initrd")) == NULL)
			return VIGIL_ENOMEM;
		return learn_add(a, learn_hex(ev->sha256));
	case BOOTEV_OTHER:
		break;
	}
	return learn_other(p, ev);
}

/* When a command line event's digest does not verify, the policy cannot
 * name the line: those events are pinned by digest instead. */
static int
learn_cmdline_as_events(json_t *p, const struct evlog *log)
{
	size_t i;
	int e;

	json_object_del(p, "kernel_cmdline");
	for (i = 0; i < log->n; i++)
		if (bootev_classify(&log->ev[i]) == BOOTEV_CMDLINE &&
		    (e = learn_other(p, &log->ev[i])) != 0)
			return e;
	return 0;
}

static int
learn_from_log(const struct evlog *log, json_t *p, char *why, size_t whylen)
{
	uint32_t seps[PCR_COUNT] = { 0 }, i;
	json_t *s;
	size_t k;
	int e, cmdline_bad = 0;

	for (k = 0; k < log->n; k++) {
		if (log->ev[k].type == EV_NO_ACTION)
			continue;
		if (!log->ev[k].has_sha256)
			return learn_bad(why, whylen, "event %zu (PCR %u) has no "
			    "SHA-256 digest: the log has no SHA-256 bank (a "
			    "SHA-1 log?), and Vigil appraises the SHA-256 bank "
			    "only", k, log->ev[k].pcr);
		if ((e = learn_event(p, &log->ev[k], k, seps, &cmdline_bad,
		    why, whylen)) != 0)
			return e;
	}
	if (cmdline_bad && (e = learn_cmdline_as_events(p, log)) != 0)
		return e;
	if ((s = json_array()) == NULL || json_object_set_new(p, "separators",
	    s) != 0)
		return VIGIL_ENOMEM;
	for (i = 0; i < PCR_COUNT; i++)
		if (seps[i] == 1 && json_array_append_new(s,
		    json_integer(i)) != 0)
			return VIGIL_ENOMEM;
	return 0;
}

/* --- merging a log's policy n into an existing one p --- */

static int
learn_union(json_t *pa, json_t *na)
{
	size_t i;
	int e;

	for (i = 0; i < json_array_size(na); i++)
		if ((e = learn_add(pa, json_incref(json_array_get(na,
		    i)))) != 0)
			return e;
	return 0;
}

/* Keeps in pa only what na holds too. */
static void
learn_intersect(json_t *pa, json_t *na)
{
	size_t i, j;

	for (i = json_array_size(pa); i-- > 0;) {
		for (j = 0; j < json_array_size(na); j++)
			if (json_equal(json_array_get(pa, i),
			    json_array_get(na, j)))
				break;
		if (j == json_array_size(na))
			json_array_remove(pa, i);
	}
}

/* Signature entries are the same entry whatever "subject" says. */
static void
learn_intersect_sigs(json_t *pa, json_t *na)
{
	json_t *a, *b;
	size_t i, j;

	for (i = json_array_size(pa); i-- > 0;) {
		a = json_array_get(pa, i);
		for (j = 0; j < json_array_size(na); j++) {
			b = json_array_get(na, j);
			if (json_equal(json_object_get(a, "owner"),
			    json_object_get(b, "owner")) &&
			    json_equal(json_object_get(a, "sha256"),
			    json_object_get(b, "sha256")))
				break;
		}
		if (j == json_array_size(na))
			json_array_remove(pa, i);
	}
}

static int
learn_merge_events(json_t *p, json_t *n, const char *key, int rule)
{
	json_t *pl, *nl, *o, *po;
	size_t i;
	int e;

	if ((nl = json_object_get(n, key)) == NULL)
		return 0;
	if ((pl = learn_arr(p, key)) == NULL)
		return VIGIL_ENOMEM;
	for (i = 0; i < json_array_size(nl); i++) {
		o = json_array_get(nl, i);
		if ((po = learn_entry(pl, (uint32_t)json_integer_value(
		    json_object_get(o, "pcr")), json_string_value(
		    json_object_get(o, "type")), rule)) == NULL)
			return VIGIL_ENOMEM;
		if (!rule && (e = learn_union(json_object_get(po, "sha256"),
		    json_object_get(o, "sha256"))) != 0)
			return e;
	}
	return 0;
}

static int
learn_merge(json_t *p, json_t *n, char *why, size_t whylen)
{
	static const char *const keys[] = { "secure_boot", "pk", "kek", "db",
	    "dbx", "boot_applications", "kernel_cmdline", "initrd", NULL };
	json_t *pa, *na;
	size_t i;
	int e;

	for (i = 0; keys[i] != NULL; i++)
		if ((json_object_get(p, keys[i]) == NULL) !=
		    (json_object_get(n, keys[i]) == NULL))
			return learn_bad(why, whylen, "this log %s %s but the "
			    "policy %s: another kind of boot, make it another "
			    "policy (--name) and group its nodes", json_object_get(
			    n, keys[i]) ? "has" : "has no", keys[i],
			    json_object_get(p, keys[i]) ? "does" : "does not");
	if (json_object_get(p, "secure_boot") != NULL && !json_equal(
	    json_object_get(p, "secure_boot"), json_object_get(n,
	    "secure_boot")))
		return learn_bad(why, whylen, "this log has Secure Boot %s, "
		    "the policy %s: make another policy (--name)",
		    json_is_true(json_object_get(n, "secure_boot")) ? "on" :
		    "off", json_is_true(json_object_get(p, "secure_boot")) ?
		    "on" : "off");
	pa = json_object_get(p, "boot_applications");
	na = json_object_get(n, "boot_applications");
	if (pa != NULL && json_array_size(pa) != json_array_size(na))
		return learn_bad(why, whylen, "this log has %zu boot "
		    "applications, the policy %zu: another boot chain, make it "
		    "another policy (--name)", json_array_size(na),
		    json_array_size(pa));
	for (i = 0; pa != NULL && i < json_array_size(pa); i++)
		if ((e = learn_union(json_object_get(json_array_get(pa, i),
		    "sha256"), json_object_get(json_array_get(na, i),
		    "sha256"))) != 0)
			return e;
	for (i = 1; i <= 7; i++) {
		const char *k = keys[i];

		if ((pa = json_object_get(p, k)) == NULL || i == 5)
			continue;
		na = json_object_get(n, k);
		if (i == 4)	/* dbx: what every machine has revoked */
			learn_intersect_sigs(pa, na);
		else if ((e = learn_union(pa, na)) != 0)
			return e;
	}
	learn_intersect(json_object_get(p, "separators"), json_object_get(n,
	    "separators"));
	if ((e = learn_merge_events(p, n, "events", 0)) != 0 ||
	    (e = learn_merge_events(p, n, "accept", 1)) != 0)
		return e;
	return 0;
}

int
bootpol_learn(const struct evlog *log, json_t **policy, char *why,
    size_t whylen)
{
	json_t *n;
	int e;

	if ((n = json_object()) == NULL)
		return VIGIL_ENOMEM;
	if ((e = learn_from_log(log, n, why, whylen)) != 0)
		goto out;
	if (*policy == NULL) {
		*policy = n;
		return 0;
	}
	e = learn_merge(*policy, n, why, whylen);
 out:
	json_decref(n);
	return e;
}
