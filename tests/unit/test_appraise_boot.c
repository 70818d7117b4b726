/* The measured-boot policy (verifier/appraise_boot.c): over every complete
 * log of the real-world corpus, the policy bootpol_learn makes from a log
 * accepts it; a changed boot application, Secure Boot turned off, a db
 * entry not allowed are refused naming the event; the reference document
 * chooses a node's policy (node, group, fleet) and refuses bad ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootev.h"
#include "buf.h"
#include "err.h"
#include "evlog.h"
#include "verifier/appraise_boot.h"
#include "verifier/refvals.h"

#define ALL_PCRS 0xffffffu
#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define NODE_A H("a")
#define NODE_B H("b")
#define NODE_C H("c")

struct corpus_log {
	char name[256];
	uint8_t *data;
	size_t len;
	struct evlog *log;
};

/* Every corpus log the parser accepts whole; 0 when there is no corpus
 * (a user's clone): the caller skips. */
static size_t
corpus_load(struct corpus_log *out, size_t cap)
{
	const char *corpus = getenv("VIGIL_CORPUS_DIR");
	char dir[4096], path[4400];
	struct dirent *de;
	size_t n = 0, nl;
	DIR *d;

	if (corpus == NULL || snprintf(dir, sizeof(dir), "%s/eventlogs",
	    corpus) >= (int)sizeof(dir) || (d = opendir(dir)) == NULL) {
		print_message("skipping: no corpus at VIGIL_CORPUS_DIR/eventlogs"
		    " (VIGIL_CORPUS_DIR=%s)\n", corpus ? corpus : "(unset)");
		return 0;
	}
	while ((de = readdir(d)) != NULL && n < cap) {
		nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".bin") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		snprintf(out[n].name, sizeof(out[n].name), "%s", de->d_name);
		assert_int_equal(file_read(path, EVLOG_MAX_SIZE, &out[n].data,
		    &out[n].len), 0);
		if (evlog_parse(out[n].data, out[n].len, &out[n].log) != 0) {
			free(out[n].data);
			continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

static void
corpus_free(struct corpus_log *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		evlog_free(c[i].log);
		free(c[i].data);
	}
}

/* A policy learnt from log, through its JSON text as an operator stores
 * it. */
static struct bootpol *
policy_from(const struct evlog *log, json_t **json_out)
{
	struct bootpol *p = NULL;
	json_t *j = NULL, *back;
	char why[256], *s;

	if (bootpol_learn(log, &j, why, sizeof(why)) != 0)
		fail_msg("bootpol_learn: %s", why);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	back = json_loads(s, 0, NULL);
	assert_non_null(back);
	if (bootpol_parse(back, "p", &p, why, sizeof(why)) != 0)
		fail_msg("learnt policy does not parse: %s (%s)", why, s);
	free(s);
	json_decref(back);
	if (json_out != NULL)
		*json_out = j;
	else
		json_decref(j);
	return p;
}

static int
has_sha256(const struct evlog *log)
{
	size_t i;

	for (i = 0; i < log->n; i++)
		if (log->ev[i].type != EV_NO_ACTION && !log->ev[i].has_sha256)
			return 0;
	return 1;
}

/* The reasons joined, for messages. */
static const char *
reasons(const struct ear *e)
{
	static char buf[4096];

	ear_reasons_join(e, buf, sizeof(buf));
	return buf;
}

static int
has_reason(const struct ear *e, const char *want)
{
	size_t i;

	for (i = 0; i < e->n_reasons; i++)
		if (strcmp(e->reasons[i], want) == 0)
			return 1;
	return 0;
}

/* The offset in buf of ev's SHA-256 digest (inside its record header). */
static size_t
digest_offset(const uint8_t *buf, const struct evlog_event *ev)
{
	size_t end = (size_t)(ev->data - buf) - 4, i;

	for (i = ev->offset; i + SHA256_LEN <= end; i++)
		if (memcmp(buf + i, ev->sha256, SHA256_LEN) == 0)
			return i;
	fail_msg("digest of the event at %zu not found", ev->offset);
	return 0;
}

static void
test_appraise_boot_corpus_policy_accepts_its_log(void **state)
{
	struct corpus_log c[32];
	struct bootpol *p;
	struct ear e;
	size_t n, i, tried = 0;
	int held;

	if ((n = corpus_load(c, 32)) == 0) {
		skip();
		return;
	}
	for (i = 0; i < n; i++) {
		if (!has_sha256(c[i].log))
			continue;
		p = policy_from(c[i].log, NULL);
		ear_init(&e);
		assert_int_equal(appraise_boot(c[i].log, p, "p", ALL_PCRS, &e,
		    &held), 0);
		if (!held || e.n_reasons != 0)
			fail_msg("%s: its own policy refuses it: %s", c[i].name,
			    reasons(&e));
		assert_int_equal(e.executables, 0);
		assert_int_equal(e.configuration, 0);
		bootpol_free(p);
		tried++;
	}
	print_message("corpus: %zu logs accepted by the policy made from "
	    "them\n", tried);
	assert_true(tried > 0);
	corpus_free(c, n);
}

/* A log without a SHA-256 bank: Vigil appraises SHA-256 only, so no
 * policy is made from it (and the quote step refuses such a log before:
 * "event log has events without a SHA-256 digest"). */
static void
test_appraise_boot_corpus_sha1_log_refused_by_generator(void **state)
{
	struct corpus_log c[32];
	json_t *j = NULL;
	char why[256];
	size_t n, i, sha1 = 0;

	if ((n = corpus_load(c, 32)) == 0) {
		skip();
		return;
	}
	for (i = 0; i < n; i++) {
		if (has_sha256(c[i].log))
			continue;
		assert_int_equal(bootpol_learn(c[i].log, &j, why, sizeof(why)),
		    VIGIL_EINVAL);
		assert_null(j);
		if (strstr(why, "has no SHA-256 digest: the log has no SHA-256 "
		    "bank (a SHA-1 log?), and Vigil appraises the SHA-256 "
		    "bank only") == NULL)
			fail_msg("%s: %s", c[i].name, why);
		sha1++;
	}
	print_message("corpus: %zu SHA-1-only logs refused\n", sha1);
	assert_true(sha1 > 0);
	corpus_free(c, n);
}

static void
test_appraise_boot_corpus_changed_boot_application_named(void **state)
{
	struct corpus_log c[32];
	const struct evlog_event *ev;
	struct evlog *bad;
	struct bootpol *p;
	char want[EAR_REASON_LEN], hex[65], acc[65];
	uint8_t *copy;
	size_t n, i, k, app, tried = 0;
	struct ear e;
	int held;

	if ((n = corpus_load(c, 32)) == 0) {
		skip();
		return;
	}
	for (i = 0; i < n; i++) {
		if (!has_sha256(c[i].log))
			continue;
		/* The last boot application, its digest changed in the log;
		 * app is its number among them, k its event index. */
		ev = NULL;
		for (k = 0, app = 0; k < c[i].log->n; k++) {
			if (bootev_classify(&c[i].log->ev[k]) != BOOTEV_BOOT_APP)
				continue;
			ev = &c[i].log->ev[k];
			app++;
		}
		if (ev == NULL)
			continue;
		app--;
		k = (size_t)(ev - c[i].log->ev);
		p = policy_from(c[i].log, NULL);
		copy = malloc(c[i].len);
		memcpy(copy, c[i].data, c[i].len);
		copy[digest_offset(c[i].data, ev)] ^= 0x01;
		assert_int_equal(evlog_parse(copy, c[i].len, &bad), 0);
		ear_init(&e);
		assert_int_equal(appraise_boot(bad, p, "fleet", ALL_PCRS, &e,
		    &held), 0);
		assert_false(held);
		hex_encode(bad->ev[k].sha256, SHA256_LEN, hex);
		hex_encode(ev->sha256, SHA256_LEN, acc);
		snprintf(want, sizeof(want), "boot application %zu event %zu "
		    "(PCR 4, %s) sha256 %s is not in boot policy \"fleet\"; "
		    "accepted: %.12s...", app, k, bootev_type_name(ev->type),
		    hex, acc);
		if (!has_reason(&e, want))
			fail_msg("%s: want \"%s\", got: %s", c[i].name, want,
			    reasons(&e));
		assert_int_equal(e.n_reasons, 1);
		assert_int_equal(e.executables, 96);
		evlog_free(bad);
		free(copy);
		bootpol_free(p);
		tried++;
	}
	print_message("corpus: a changed boot application refused in %zu "
	    "logs\n", tried);
	assert_true(tried > 0);
	corpus_free(c, n);
}

/* The SecureBoot variable's data flipped, its digest made anew (what a
 * firmware booting with Secure Boot off measures). */
static void
test_appraise_boot_corpus_secure_boot_off_named(void **state)
{
	struct corpus_log c[32];
	const struct evlog_event *ev = NULL;
	struct evlog *bad;
	struct bootpol *p;
	char want[EAR_REASON_LEN];
	struct bootev_var v;
	uint8_t *copy, was;
	unsigned int dl;
	size_t n, i, k, off, tried = 0;
	struct ear e;
	int held;

	if ((n = corpus_load(c, 32)) == 0) {
		skip();
		return;
	}
	for (i = 0; i < n; i++) {
		if (!has_sha256(c[i].log))
			continue;
		for (k = 0; k < c[i].log->n; k++)
			if (bootev_classify(&c[i].log->ev[k]) ==
			    BOOTEV_SECUREBOOT)
				break;
		if (k == c[i].log->n)
			continue;
		ev = &c[i].log->ev[k];
		assert_int_equal(bootev_var_parse(ev->data, ev->data_len, &v),
		    0);
		if (v.data_len != 1) {
			/* An empty SecureBoot (off, as some firmware measures
			 * it): flipping it would change the record's size. */
			print_message("%s: SecureBoot has %zu bytes of data, not "
			    "flipped\n", c[i].name, v.data_len);
			continue;
		}
		p = policy_from(c[i].log, NULL);
		copy = malloc(c[i].len);
		memcpy(copy, c[i].data, c[i].len);
		off = (size_t)(ev->data - c[i].data) + ev->data_len - 1;
		was = copy[off];
		copy[off] = was == 1 ? 0 : 1;
		assert_int_equal(EVP_Digest(copy + (ev->data - c[i].data),
		    ev->data_len, copy + digest_offset(c[i].data, ev), &dl,
		    EVP_sha256(), NULL), 1);
		assert_int_equal(evlog_parse(copy, c[i].len, &bad), 0);
		ear_init(&e);
		assert_int_equal(appraise_boot(bad, p, "fleet", ALL_PCRS, &e,
		    &held), 0);
		assert_false(held);
		snprintf(want, sizeof(want), "Secure Boot is %s (variable "
		    "SecureBoot, event %zu (PCR 7, EV_EFI_VARIABLE_DRIVER_CONFIG)"
		    ", value 0x%02x): boot policy \"fleet\" requires it %s",
		    was == 1 ? "off" : "on", k, was == 1 ? 0 : 1,
		    was == 1 ? "on" : "off");
		if (!has_reason(&e, want))
			fail_msg("%s: want \"%s\", got: %s", c[i].name, want,
			    reasons(&e));
		assert_int_equal(e.n_reasons, 1);
		assert_int_equal(e.configuration, 96);
		evlog_free(bad);
		/* The data changed but not the digest: not what was
		 * measured. */
		memcpy(copy, c[i].data, c[i].len);
		copy[off] = was == 1 ? 0 : 1;
		assert_int_equal(evlog_parse(copy, c[i].len, &bad), 0);
		ear_init(&e);
		assert_int_equal(appraise_boot(bad, p, "fleet", ALL_PCRS, &e,
		    &held), 0);
		assert_false(held);
		snprintf(want, sizeof(want), "event %zu (PCR 7, "
		    "EV_EFI_VARIABLE_DRIVER_CONFIG): its digest is not SHA-256 "
		    "of its UEFI_VARIABLE_DATA, so what it names was not what "
		    "was measured", k);
		if (!has_reason(&e, want))
			fail_msg("%s: want \"%s\", got: %s", c[i].name, want,
			    reasons(&e));
		evlog_free(bad);
		free(copy);
		bootpol_free(p);
		tried++;
	}
	print_message("corpus: Secure Boot flipped and refused in %zu logs\n",
	    tried);
	assert_true(tried > 0);
	corpus_free(c, n);
}

/* A db entry the policy does not allow is named by its certificate
 * subject. */
static void
test_appraise_boot_corpus_db_certificate_not_allowed_named(void **state)
{
	struct corpus_log c[32];
	struct bootpol *p;
	json_t *j, *db, *first;
	char why[256], want[EAR_REASON_LEN], *s;
	size_t n, i, k, tried = 0;
	struct ear e;
	int held;

	if ((n = corpus_load(c, 32)) == 0) {
		skip();
		return;
	}
	for (i = 0; i < n; i++) {
		if (!has_sha256(c[i].log))
			continue;
		p = policy_from(c[i].log, &j);
		bootpol_free(p);
		db = json_object_get(j, "db");
		if (db == NULL || json_array_size(db) == 0 ||
		    json_object_get(json_array_get(db, 0), "subject") == NULL) {
			json_decref(j);
			continue;
		}
		for (k = 0; k < c[i].log->n; k++)
			if (bootev_classify(&c[i].log->ev[k]) == BOOTEV_DB)
				break;
		first = json_incref(json_array_get(db, 0));
		json_array_remove(db, 0);
		assert_int_equal(bootpol_parse(j, "p", &p, why, sizeof(why)), 0);
		ear_init(&e);
		assert_int_equal(appraise_boot(c[i].log, p, "fleet", ALL_PCRS,
		    &e, &held), 0);
		assert_false(held);
		snprintf(want, sizeof(want), "db event %zu (PCR 7, "
		    "EV_EFI_VARIABLE_DRIVER_CONFIG) holds x509 %s (owner %s, "
		    "sha256 %.16s...) not among boot policy \"fleet\"'s db", k,
		    json_string_value(json_object_get(first, "subject")),
		    json_string_value(json_object_get(first, "owner")),
		    json_string_value(json_object_get(first, "sha256")));
		if (!has_reason(&e, want)) {
			s = json_dumps(first, 0);
			fail_msg("%s: want \"%s\", got: %s (%s)", c[i].name,
			    want, reasons(&e), s);
		}
		json_decref(first);
		json_decref(j);
		bootpol_free(p);
		tried++;
	}
	print_message("corpus: a db certificate not allowed named in %zu "
	    "logs\n", tried);
	assert_true(tried > 0);
	corpus_free(c, n);
}

/* Two known-good logs (here: one with its second boot application
 * updated) merge into one policy accepting both: several accepted values
 * per item. */
static void
test_appraise_boot_learn_merges_several_accepted_values(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct evlog *la, *lb;
	struct bootpol *p;
	json_t *j = NULL;
	uint8_t d[SHA256_LEN];
	char why[256];
	struct ear e;
	int held, round;

	for (round = 0; round < 2; round++) {
		struct buf *o = round ? &b : &a;

		assert_int_equal(evlog_write_header(o), 0);
		memset(d, 0x11, sizeof(d));
		assert_int_equal(evlog_write_event(o, 0,
		    EV_EFI_PLATFORM_FIRMWARE_BLOB, d, "fw", 2), 0);
		memset(d, 0x40, sizeof(d));
		assert_int_equal(evlog_write_event(o, 4, EV_IPL, d, "/boot/a",
		    7), 0);
		memset(d, round ? 0x42 : 0x41, sizeof(d));
		assert_int_equal(evlog_write_event(o, 4, EV_IPL, d, "/boot/b",
		    7), 0);
	}
	assert_int_equal(evlog_parse(a.data, a.len, &la), 0);
	assert_int_equal(evlog_parse(b.data, b.len, &lb), 0);
	assert_int_equal(bootpol_learn(la, &j, why, sizeof(why)), 0);
	assert_int_equal(bootpol_learn(lb, &j, why, sizeof(why)), 0);
	assert_int_equal(json_array_size(json_object_get(json_array_get(
	    json_object_get(j, "boot_applications"), 1), "sha256")), 2);
	assert_int_equal(bootpol_parse(j, "p", &p, why, sizeof(why)), 0);
	ear_init(&e);
	assert_int_equal(appraise_boot(la, p, "m", ALL_PCRS, &e, &held), 0);
	assert_true(held);
	assert_int_equal(appraise_boot(lb, p, "m", ALL_PCRS, &e, &held), 0);
	assert_true(held);
	assert_int_equal(e.n_reasons, 0);
	bootpol_free(p);
	json_decref(j);
	evlog_free(la);
	evlog_free(lb);
	buf_free(&a);
	buf_free(&b);
}

/* An event no item or rule describes is reported; a boot application
 * missing is named; a log with another number of boot applications does
 * not merge. */
static void
test_appraise_boot_unknown_event_and_missing_app_reported(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct evlog *la, *lb;
	struct bootpol *p;
	json_t *j = NULL;
	uint8_t d[SHA256_LEN];
	char why[256], want[EAR_REASON_LEN];
	struct ear e;
	int held;

	assert_int_equal(evlog_write_header(&a), 0);
	memset(d, 0x40, sizeof(d));
	assert_int_equal(evlog_write_event(&a, 4, EV_IPL, d, "/boot/a", 7), 0);
	assert_int_equal(evlog_parse(a.data, a.len, &la), 0);
	assert_int_equal(evlog_write_header(&b), 0);
	memset(d, 0x22, sizeof(d));
	assert_int_equal(evlog_write_event(&b, 2, EV_EFI_BOOT_SERVICES_DRIVER,
	    d, "", 0), 0);
	assert_int_equal(evlog_parse(b.data, b.len, &lb), 0);
	assert_int_equal(bootpol_learn(la, &j, why, sizeof(why)), 0);
	assert_int_equal(bootpol_parse(j, "p", &p, why, sizeof(why)), 0);
	ear_init(&e);
	assert_int_equal(appraise_boot(lb, p, "m", ALL_PCRS, &e, &held), 0);
	assert_false(held);
	snprintf(want, sizeof(want), "event 0 (PCR 2, "
	    "EV_EFI_BOOT_SERVICES_DRIVER) sha256 %s: boot policy \"m\" has no "
	    "item or rule for this event", H("2"));
	if (!has_reason(&e, want))
		fail_msg("want \"%s\", got: %s", want, reasons(&e));
	assert_true(has_reason(&e, "boot application 0 missing: boot policy "
	    "\"m\" lists 1, the log has 0"));
	assert_int_equal(e.configuration, 96);
	assert_int_equal(e.executables, 96);
	/* Not covered by the quote: nothing appraised, nothing failed. */
	ear_init(&e);
	assert_int_equal(appraise_boot(lb, p, "m", 0x1u, &e, &held), 0);
	assert_true(held);
	assert_int_equal(bootpol_learn(lb, &j, why, sizeof(why)),
	    VIGIL_EINVAL);
	assert_string_equal(why, "this log has no boot_applications but the "
	    "policy does: another kind of boot, make it another policy "
	    "(--name) and group its nodes");
	bootpol_free(p);
	json_decref(j);
	evlog_free(la);
	evlog_free(lb);
	buf_free(&a);
	buf_free(&b);
}

/* A kernel command line GRUB measured (PCR 8) is compared as text; when
 * PCR 8 is outside what the quote covers, the item is noted, not
 * appraised. */
static void
test_appraise_boot_kernel_cmdline_compared_and_unquoted_noted(void **state)
{
	static const char line[] = "root=/dev/sda1 ro";
	char data[64], why[256];
	struct buf a = BUF_INIT;
	struct evlog *la;
	struct bootpol *p;
	json_t *j = NULL;
	uint8_t d[SHA256_LEN];
	unsigned int dl;
	struct ear e;
	int held;

	assert_int_equal(evlog_write_header(&a), 0);
	EVP_Digest(line, strlen(line), d, &dl, EVP_sha256(), NULL);
	snprintf(data, sizeof(data), "kernel_cmdline: %s", line);
	assert_int_equal(evlog_write_event(&a, 8, EV_IPL, d, data,
	    (uint32_t)strlen(data) + 1), 0);
	assert_int_equal(evlog_parse(a.data, a.len, &la), 0);
	assert_int_equal(bootpol_learn(la, &j, why, sizeof(why)), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    j, "kernel_cmdline"), 0)), line);
	json_array_set_new(json_object_get(j, "kernel_cmdline"), 0,
	    json_string("root=/dev/sda1 ro init=/bin/sh-not"));
	assert_int_equal(bootpol_parse(j, "p", &p, why, sizeof(why)), 0);
	ear_init(&e);
	assert_int_equal(appraise_boot(la, p, "m", ALL_PCRS, &e, &held), 0);
	assert_false(held);
	assert_true(has_reason(&e, "kernel command line event 0 (PCR 8, "
	    "EV_IPL) \"root=/dev/sda1 ro\" is not in boot policy \"m\" (1 "
	    "accepted)"));
	ear_init(&e);
	assert_int_equal(appraise_boot(la, p, "m", 0xffu, &e, &held), 0);
	assert_true(held);
	assert_true(has_reason(&e, "boot policy \"m\": its items in PCR(s) "
	    "8,9,12 are not appraised: the quote does not cover those PCRs"));
	assert_int_equal(e.configuration, 0);
	bootpol_free(p);
	json_decref(j);
	evlog_free(la);
	buf_free(&a);
}

/* The reference document: a node's own boot_policy, else its group's,
 * else the fleet-wide one; names checked; a node in two groups refused. */
static void
test_appraise_boot_refvals_choose_node_group_fleet(void **state)
{
	const char *doc = "{\"boot_policies\":{\"r650\":{\"separators\":[0]},"
	    "\"dl360\":{},\"lab\":{}},\"boot_policy\":\"r650\","
	    "\"groups\":{\"hpe\":{\"nodes\":[\"" NODE_B "\"],\"boot_policy\":"
	    "\"dl360\"}},\"nodes\":{\"" NODE_C "\":{\"boot_policy\":\"lab\"}}}";
	struct refvals *r = NULL;
	const char *name;
	char why[256];

	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), 0);
	assert_non_null(refvals_boot_policy(r, NODE_A, &name));
	assert_string_equal(name, "r650");
	assert_non_null(refvals_boot_policy(r, NODE_B, &name));
	assert_string_equal(name, "dl360");
	assert_non_null(refvals_boot_policy(r, NODE_C, &name));
	assert_string_equal(name, "lab");
	refvals_free(r);
	r = NULL;
	doc = "{\"boot_policies\":{\"a\":{}},\"boot_policy\":\"b\"}";
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "boot_policy: no boot policy named \"b\" in "
	    "boot_policies");
	doc = "{\"boot_policies\":{\"a\":{}},\"groups\":{\"x\":{\"nodes\":[\""
	    NODE_A "\"]},\"y\":{\"nodes\":[\"" NODE_A "\"],\"boot_policy\":"
	    "\"a\"}}}";
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "groups.\"y\".nodes[0]: node aaaaaaaaaaaaaaaa... "
	    "is also in group \"x\"");
	doc = "{\"boot_policies\":{\"a\":{\"boot_applications\":[{\"sha256\":"
	    "[\"xyz\"]}]}}}";
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "boot_policies.\"a\".boot_applications[0]."
	    "sha256[0]: not 64 lowercase hex digits");
	doc = "{\"boot_policies\":{\"a\":{\"events\":[{\"pcr\":1,\"type\":"
	    "\"EV_BOGUS\",\"sha256\":[\"" H("a") "\"]}]}}}";
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "boot_policies.\"a\".events[0].type: not a "
	    "TCG event type name (EV_...) or 0x%08x");
	doc = "{\"boot_policies\":{\"a\":{\"secureboot\":true}}}";
	assert_int_equal(refvals_parse(doc, strlen(doc), &r, why,
	    sizeof(why)), VIGIL_EINVAL);
	assert_string_equal(why, "boot_policies.\"a\".\"secureboot\": unknown "
	    "key");
	assert_null(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appraise_boot_corpus_policy_accepts_its_log),
		cmocka_unit_test(
		    test_appraise_boot_corpus_sha1_log_refused_by_generator),
		cmocka_unit_test(
		    test_appraise_boot_corpus_changed_boot_application_named),
		cmocka_unit_test(test_appraise_boot_corpus_secure_boot_off_named),
		cmocka_unit_test(
		    test_appraise_boot_corpus_db_certificate_not_allowed_named),
		cmocka_unit_test(
		    test_appraise_boot_learn_merges_several_accepted_values),
		cmocka_unit_test(
		    test_appraise_boot_unknown_event_and_missing_app_reported),
		cmocka_unit_test(
		    test_appraise_boot_kernel_cmdline_compared_and_unquoted_noted),
		cmocka_unit_test(test_appraise_boot_refvals_choose_node_group_fleet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
