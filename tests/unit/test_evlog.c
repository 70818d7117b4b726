/* The TCG event log: parsing both formats, replay, the writer, and hostile
 * input. Real logs from getenv("VIGIL_CORPUS_DIR")/eventlogs are replayed and
 * compared with what `tpm2_eventlog` prints for the same file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "evlog.h"
#include "log.h"

#define ALG_SHA1	0x0004u
#define ALG_SHA256	0x000bu
#define ALG_SHA384	0x000cu
#define ALG_ODD		0x1234u	/* an algorithm nobody knows, size 48 */

/* PCR values as tpm2_eventlog prints them under "pcrs:". */
struct tool_pcrs {
	uint32_t mask[2];		/* [EVLOG_SHA1], [EVLOG_SHA256] */
	uint8_t v[2][PCR_COUNT][SHA256_LEN];
	int has_bank[2];
};

static int
have_tool(void)
{
	return system("command -v tpm2_eventlog >/dev/null 2>&1") == 0;
}

/* Runs `tpm2_eventlog path` and reads its pcrs: section. 0 on success. */
static int
tool_read_pcrs(const char *path, struct tool_pcrs *out)
{
	char cmd[4200], hex[200], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned idx;
	int in_pcrs = 0, bank = -1, rc;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (strchr(path, '\'') != NULL ||
	    (size_t)snprintf(cmd, sizeof(cmd), "tpm2_eventlog '%s' 2>/dev/null",
	    path) >= sizeof(cmd))
		return -1;
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "pcrs:") == 0) {
			in_pcrs = 1;
			continue;
		}
		if (!in_pcrs)
			continue;
		if (strcmp(line, "  sha1:") == 0)
			bank = EVLOG_SHA1;
		else if (strcmp(line, "  sha256:") == 0)
			bank = EVLOG_SHA256;
		else if (strncmp(line, "    ", 4) != 0)
			bank = -1;	/* another bank, or the end */
		else if (bank >= 0) {
			if (sscanf(line, " %u : 0x%199s", &idx, hex) != 2 ||
			    idx >= PCR_COUNT ||
			    hex_decode(hex, out->v[bank][idx],
			    bank == EVLOG_SHA1 ? 20 : 32) != 0) {
				fprintf(stderr, "unparsed tpm2_eventlog line:"
				    " %s\n", line);
				free(line);
				pclose(f);
				return -1;
			}
			out->mask[bank] |= 1u << idx;
		}
		if (bank >= 0)
			out->has_bank[bank] = 1;
	}
	free(line);
	rc = pclose(f);
	if (rc != 0)
		fprintf(stderr, "tpm2_eventlog %s exited with status %d\n",
		    path, rc);
	return rc == 0 && in_pcrs ? 0 : -1;
}

static void
sha256_of(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int olen = 0;

	assert_int_equal(EVP_Digest(p, n, out, &olen, EVP_sha256(), NULL), 1);
	assert_int_equal(olen, SHA256_LEN);
}

/* pcr = SHA-256(pcr || d), by hand. */
static void
extend256(uint8_t pcr[SHA256_LEN], const uint8_t d[SHA256_LEN])
{
	uint8_t cat[2 * SHA256_LEN];

	memcpy(cat, pcr, SHA256_LEN);
	memcpy(cat + SHA256_LEN, d, SHA256_LEN);
	sha256_of(cat, sizeof(cat), pcr);
}

static void
write_temp(const uint8_t *p, size_t n, char path[64])
{
	int fd;

	snprintf(path, 64, "/tmp/test_evlog.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

/* With VIGIL_FUZZ_SEED_DIR set, keeps a log this test made as a fuzz seed
 * (tests/fuzz/README.md). */
static void
save_seed(const char *name, const struct buf *b)
{
	const char *dir = getenv("VIGIL_FUZZ_SEED_DIR");
	char path[4200];

	if (dir == NULL || snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return;
	assert_int_equal(file_write_atomic(path, b->data, b->len), 0);
}

/* Makes the parser quiet for loops of expected failures. */
static void
quiet(int on)
{
	log_init("test_evlog", on ? LOG_ERR : LOG_INFO);
}

/* --- builders for hand-made logs --- */

/* A Spec ID header listing n algorithms with their sizes. */
static void
put_specid(struct buf *b, uint32_t n, const uint16_t *ids,
    const uint16_t *sizes)
{
	static const uint8_t zero[20];
	uint32_t i;

	assert_int_equal(buf_add_u32le(b, 0), 0);
	assert_int_equal(buf_add_u32le(b, EV_NO_ACTION), 0);
	assert_int_equal(buf_add(b, zero, 20), 0);
	assert_int_equal(buf_add_u32le(b, 16 + 4 + 4 + 4 + 4 * n + 1), 0);
	assert_int_equal(buf_add(b, "Spec ID Event03", 16), 0);
	assert_int_equal(buf_add_u32le(b, 0), 0);
	assert_int_equal(buf_add_u32le(b, 0x02000200u), 0); /* 0, 2, 0, 2 */
	assert_int_equal(buf_add_u32le(b, n), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(buf_add_u16le(b, ids[i]), 0);
		assert_int_equal(buf_add_u16le(b, sizes[i]), 0);
	}
	assert_int_equal(buf_add_u8(b, 0), 0);
}

/* A TCG_PCR_EVENT2 with n digests, each of its size filled with fill+i. */
static void
put_event2(struct buf *b, uint32_t pcr, uint32_t type, uint32_t n,
    const uint16_t *ids, const uint16_t *sizes, uint8_t fill,
    const char *data)
{
	uint8_t d[64];
	uint32_t i;

	assert_int_equal(buf_add_u32le(b, pcr), 0);
	assert_int_equal(buf_add_u32le(b, type), 0);
	assert_int_equal(buf_add_u32le(b, n), 0);
	for (i = 0; i < n; i++) {
		memset(d, fill + (int)i, sizeof(d));
		assert_int_equal(buf_add_u16le(b, ids[i]), 0);
		assert_int_equal(buf_add(b, d, sizes[i]), 0);
	}
	assert_int_equal(buf_add_u32le(b, (uint32_t)strlen(data)), 0);
	assert_int_equal(buf_add(b, data, strlen(data)), 0);
}

/* A written log of several events; digests[] and the offsets of every
 * record boundary (header end first) returned for the negative tests. */
#define W_EVENTS 6
static const uint32_t w_pcr[W_EVENTS] = { 0, 0, 2, 7, 4, 0 };
static const uint32_t w_type[W_EVENTS] = { EV_S_CRTM_VERSION,
	EV_EFI_PLATFORM_FIRMWARE_BLOB, EV_COMPACT_HASH, EV_SEPARATOR,
	EV_ACTION, EV_SEPARATOR };
/* tpm2_eventlog checks some types' data: a firmware blob is (u64 base,
 * u64 length), so it gets 16 bytes. */
static const char *const w_data[W_EVENTS] = { "crtm 1.0",
	"\0\0\x82\0\0\0\0\0\0\0\x10\0\0\0\0", "smm service image",
	"\0\0\0", "", "\0\0\0" };
static const uint32_t w_len[W_EVENTS] = { 8, 16, 17, 4, 0, 4 };

static void
make_written_log(struct buf *b, uint8_t digests[W_EVENTS][SHA256_LEN],
    size_t bounds[W_EVENTS + 1])
{
	size_t i;
	uint32_t dlen;

	assert_int_equal(evlog_write_header(b), 0);
	bounds[0] = b->len;
	for (i = 0; i < W_EVENTS; i++) {
		dlen = w_len[i];
		sha256_of(w_data[i], dlen, digests[i]);
		assert_int_equal(evlog_write_event(b, w_pcr[i], w_type[i],
		    digests[i], w_data[i], dlen), 0);
		bounds[i + 1] = b->len;
	}
}

/* --- the real-world corpus --- */

/* Checks one bank of a parsed file against tpm2_eventlog's values. */
static void
check_bank(const char *name, const struct evlog *log, enum evlog_bank bank,
    const struct tool_pcrs *want)
{
	uint8_t pcr[PCR_COUNT][SHA256_LEN];
	uint32_t touched, i;
	size_t n = bank == EVLOG_SHA1 ? 20 : 32;
	int e;

	e = evlog_replay(log, bank, pcr, &touched);
	if (want->mask[bank] == 0) {
		/* The tool printed nothing for this bank: the log lacks it,
		 * or has no measurements at all. */
		assert_true(e == VIGIL_EINVAL || (e == 0 && touched == 0));
		return;
	}
	assert_int_equal(e, 0);
	if (touched != want->mask[bank])
		fail_msg("%s bank %d: touched=%#x, tpm2_eventlog=%#x", name,
		    bank, touched, want->mask[bank]);
	for (i = 0; i < PCR_COUNT; i++) {
		if (!(touched & (1u << i)))
			continue;
		if (memcmp(pcr[i], want->v[bank][i], n) != 0)
			fail_msg("%s bank %d PCR %u differs from tpm2_eventlog",
			    name, bank, i);
	}
}

static void
test_evlog_corpus_replays_like_tpm2_eventlog(void **state)
{
	const char *corpus = getenv("VIGIL_CORPUS_DIR");
	char dir[4096], path[4200];
	struct tool_pcrs want;
	struct dirent *de;
	struct evlog *log;
	uint8_t *data;
	size_t len, nl;
	int files = 0, agile = 0, legacy = 0;
	DIR *d;

	if (corpus == NULL || snprintf(dir, sizeof(dir), "%s/eventlogs",
	    corpus) >= (int)sizeof(dir) || (d = opendir(dir)) == NULL) {
		print_message("skipping: no corpus at VIGIL_CORPUS_DIR/eventlogs"
		    " (VIGIL_CORPUS_DIR=%s)\n", corpus ? corpus : "(unset)");
		skip();
		return;
	}
	if (!have_tool()) {
		closedir(d);
		print_message("skipping: tpm2_eventlog not installed\n");
		skip();
		return;
	}
	while ((de = readdir(d)) != NULL) {
		nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".bin") != 0)
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) < (int)sizeof(path));
		assert_int_equal(file_read(path, EVLOG_MAX_SIZE, &data, &len),
		    0);
		log = NULL;
		if (evlog_parse(data, len, &log) != 0)
			fail_msg("%s does not parse", de->d_name);
		assert_int_equal(tool_read_pcrs(path, &want), 0);
		check_bank(de->d_name, log, EVLOG_SHA1, &want);
		check_bank(de->d_name, log, EVLOG_SHA256, &want);
		if (log->crypto_agile)
			agile++;
		else
			legacy++;
		evlog_free(log);
		free(data);
		files++;
	}
	closedir(d);
	print_message("corpus: %d logs (%d crypto-agile, %d SHA-1) agree with"
	    " tpm2_eventlog\n", files, agile, legacy);
	assert_true(files > 0);
}

/* Every cut of every corpus log: at a record boundary a shorter valid log,
 * anywhere else VIGIL_ETRUNC. */
static void
truncations_of(const uint8_t *data, size_t len, const struct evlog *full)
{
	struct evlog *log;
	size_t cut, k = 0, hdr;
	int e;

	/* Where the first record ends (the Spec ID header, or event 0). */
	hdr = full->n > 0 ? full->ev[0].offset : len;
	if (!full->crypto_agile)
		hdr = full->n > 1 ? full->ev[1].offset : len;
	for (cut = 0; cut < len; cut++) {
		log = NULL;
		e = evlog_parse(data, cut, &log);
		while (k < full->n && full->ev[k].offset < cut)
			k++;
		if (cut >= hdr && (k < full->n && full->ev[k].offset == cut)) {
			/* a boundary: exactly the first k events */
			if (e != 0)
				fail_msg("cut at boundary %zu: %d", cut, e);
			assert_int_equal(log->n, k);
		} else if (e != VIGIL_ETRUNC) {
			fail_msg("cut at %zu of %zu: got %d, want ETRUNC", cut,
			    len, e);
		}
		assert_true(e == 0 || log == NULL);
		evlog_free(log);
	}
}

static void
test_evlog_corpus_truncations_fail_cleanly(void **state)
{
	static const char *const files[] = { "event-postcode.bin",
		"event-uefi-sha1-log.bin", "event.bin",
		"specid-vendordata.bin" };
	const char *corpus = getenv("VIGIL_CORPUS_DIR");
	char path[4200];
	struct evlog *full;
	uint8_t *data;
	size_t i, len;

	if (corpus == NULL) {
		print_message("skipping: VIGIL_CORPUS_DIR unset\n");
		skip();
		return;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/eventlogs/%s", corpus,
		    files[i]);
		if (file_read(path, EVLOG_MAX_SIZE, &data, &len) != 0) {
			print_message("skipping: no %s\n", path);
			skip();
			return;
		}
		assert_int_equal(evlog_parse(data, len, &full), 0);
		quiet(1);
		truncations_of(data, len, full);
		quiet(0);
		evlog_free(full);
		free(data);
	}
}

/* --- the writer --- */

static void
test_evlog_written_log_replays_like_hand_extends(void **state)
{
	uint8_t digests[W_EVENTS][SHA256_LEN], want[PCR_COUNT][SHA256_LEN];
	uint8_t pcr[PCR_COUNT][SHA256_LEN];
	struct buf b = BUF_INIT;
	struct tool_pcrs tool;
	size_t bounds[W_EVENTS + 1], i;
	struct evlog *log;
	uint32_t touched, want_mask = 0;
	char path[64];

	make_written_log(&b, digests, bounds);
	save_seed("written.bin", &b);
	memset(want, 0, sizeof(want));
	for (i = 0; i < W_EVENTS; i++) {
		extend256(want[w_pcr[i]], digests[i]);
		want_mask |= 1u << w_pcr[i];
	}
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->crypto_agile, 1);
	assert_int_equal(log->n, W_EVENTS);
	for (i = 0; i < W_EVENTS; i++) {
		assert_int_equal(log->ev[i].offset, bounds[i]);
		assert_int_equal(log->ev[i].pcr, w_pcr[i]);
		assert_int_equal(log->ev[i].type, w_type[i]);
		assert_true(log->ev[i].has_sha256);
		assert_false(log->ev[i].has_sha1);
		assert_memory_equal(log->ev[i].sha256, digests[i], SHA256_LEN);
		assert_ptr_equal(log->ev[i].data, b.data + bounds[i + 1] -
		    log->ev[i].data_len);
	}
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, pcr, &touched), 0);
	assert_int_equal(touched, want_mask);
	assert_memory_equal(pcr, want, sizeof(want));
	/* A SHA-256-only log has no SHA-1 bank to replay. */
	assert_int_equal(evlog_replay(log, EVLOG_SHA1, pcr, &touched),
	    VIGIL_EINVAL);
	evlog_free(log);

	if (!have_tool()) {
		print_message("tpm2_eventlog not installed: not asked\n");
	} else {
		write_temp(b.data, b.len, path);
		assert_int_equal(tool_read_pcrs(path, &tool), 0);
		unlink(path);
		assert_int_equal(tool.mask[EVLOG_SHA256], want_mask);
		assert_int_equal(tool.mask[EVLOG_SHA1], 0);
		for (i = 0; i < PCR_COUNT; i++)
			if (want_mask & (1u << i))
				assert_memory_equal(tool.v[EVLOG_SHA256][i],
				    want[i], SHA256_LEN);
	}
	buf_free(&b);
}

static void
test_evlog_writer_refuses_bad_pcr_and_leaves_buffer(void **state)
{
	uint8_t d[SHA256_LEN] = { 0 };
	struct buf b = BUF_INIT;

	assert_int_equal(evlog_write_header(&b), 0);
	assert_int_equal(b.len, 65);
	assert_int_equal(evlog_write_event(&b, PCR_COUNT, EV_IPL, d, "x", 1),
	    VIGIL_EINVAL);
	assert_int_equal(evlog_write_event(&b, 1, EV_IPL, d, NULL, 1),
	    VIGIL_EINVAL);
	assert_int_equal(b.len, 65);
	assert_int_equal(evlog_write_event(&b, 1, EV_IPL, d, NULL, 0), 0);
	assert_int_equal(b.len, 65 + 50);
	buf_free(&b);
}

static void
test_evlog_startup_locality_sets_pcr0_start(void **state)
{
	uint8_t d[SHA256_LEN], zero[SHA256_LEN] = { 0 }, want[SHA256_LEN];
	uint8_t pcr[PCR_COUNT][SHA256_LEN];
	char loc[17] = "StartupLocality";
	struct buf b = BUF_INIT;
	struct evlog *log;
	uint32_t touched;

	loc[16] = 3;
	memset(d, 0xab, sizeof(d));
	assert_int_equal(evlog_write_header(&b), 0);
	assert_int_equal(evlog_write_event(&b, 0, EV_NO_ACTION, zero, loc,
	    sizeof(loc)), 0);
	assert_int_equal(evlog_write_event(&b, 0, EV_S_CRTM_VERSION, d, "v",
	    1), 0);
	save_seed("written-locality.bin", &b);
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->startup_locality, 3);
	assert_int_equal(log->n, 2);
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, pcr, &touched), 0);
	assert_int_equal(touched, 1);
	memset(want, 0, sizeof(want));
	want[SHA256_LEN - 1] = 3;	/* the EV_NO_ACTION is not extended */
	extend256(want, d);
	assert_memory_equal(pcr[0], want, SHA256_LEN);
	evlog_free(log);
	buf_free(&b);
}

static void
test_evlog_hcrtm_event_starts_pcr0_at_locality_4(void **state)
{
	uint8_t d[SHA256_LEN], zero[SHA256_LEN] = { 0 }, want[SHA256_LEN];
	uint8_t pcr[PCR_COUNT][SHA256_LEN];
	char loc[17] = "StartupLocality";
	struct buf b = BUF_INIT;
	struct evlog *log;
	uint32_t touched;

	loc[16] = 3;	/* ignored: the H-CRTM event came first */
	memset(d, 0x5a, sizeof(d));
	assert_int_equal(evlog_write_header(&b), 0);
	assert_int_equal(evlog_write_event(&b, 0, EV_EFI_HCRTM_EVENT, d,
	    "HCRTM", 5), 0);
	assert_int_equal(evlog_write_event(&b, 0, EV_NO_ACTION, zero, loc,
	    sizeof(loc)), 0);
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->startup_locality, 4);
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, pcr, &touched), 0);
	memset(want, 0, sizeof(want));
	want[SHA256_LEN - 1] = 4;
	extend256(want, d);
	assert_memory_equal(pcr[0], want, SHA256_LEN);
	evlog_free(log);
	buf_free(&b);
}

static void
test_evlog_writer_refuses_event_data_over_limit(void **state)
{
	uint8_t d[SHA256_LEN] = { 0 };
	struct buf b = BUF_INIT;

	quiet(1);
	assert_int_equal(evlog_write_header(&b), 0);
	assert_int_equal(evlog_write_event(&b, 1, EV_IPL, d, d,
	    EVLOG_MAX_EVENT_DATA + 1), VIGIL_EINVAL);
	assert_int_equal(b.len, 65);
	quiet(0);
	buf_free(&b);
}

/* Vendor info left out of the Spec ID EventSize (as in a tpm2-tools test
 * log) is read after it; any other mismatch is refused. */
static void
test_evlog_spec_id_size_must_match_structure(void **state)
{
	const uint16_t ids[1] = { ALG_SHA256 }, sizes[1] = { 32 };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;
	size_t i;

	for (i = 0; i < 4; i++) {
		put_specid(&b, 1, ids, sizes);
		b.data[b.len - 1] = 3;			/* vendorInfoSize */
		assert_int_equal(buf_add(&b, "abc", 3), 0);
		/* put_specid's EventSize (33) leaves the vendor info out:
		 * i=0 the full size, i=1 as is, i=2 and 3 neither. */
		if (i == 0)
			b.data[28] += 3;
		else if (i == 2)
			b.data[28] += 1;
		else if (i == 3)
			b.data[28] += 4;
		put_event2(&b, 1, EV_IPL, 1, ids, sizes, 7, "e");
		quiet(1);
		log = NULL;
		if (i <= 1) {
			assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
			assert_int_equal(log->n, 1);
			assert_int_equal(log->ev[0].pcr, 1);
			assert_int_equal(log->ev[0].sha256[0], 7);
		} else {
			assert_int_not_equal(evlog_parse(b.data, b.len, &log),
			    0);
			assert_null(log);
		}
		quiet(0);
		evlog_free(log);
		buf_free(&b);
	}
}

/* --- formats --- */

static void
test_evlog_parses_legacy_sha1_log(void **state)
{
	uint8_t d1[20], d2[20], cat[40], want[20];
	uint8_t pcr[PCR_COUNT][SHA256_LEN];
	unsigned int olen;
	struct buf b = BUF_INIT;
	struct evlog *log;
	uint32_t touched;

	memset(d1, 0x11, sizeof(d1));
	memset(d2, 0x22, sizeof(d2));
	assert_int_equal(buf_add_u32le(&b, 5), 0);
	assert_int_equal(buf_add_u32le(&b, EV_ACTION), 0);
	assert_int_equal(buf_add(&b, d1, 20), 0);
	assert_int_equal(buf_add_u32le(&b, 2), 0);
	assert_int_equal(buf_add(&b, "hi", 2), 0);
	assert_int_equal(buf_add_u32le(&b, 5), 0);
	assert_int_equal(buf_add_u32le(&b, EV_SEPARATOR), 0);
	assert_int_equal(buf_add(&b, d2, 20), 0);
	assert_int_equal(buf_add_u32le(&b, 0), 0);
	save_seed("legacy.bin", &b);
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->crypto_agile, 0);
	assert_int_equal(log->n, 2);
	assert_int_equal(log->ev[0].data_len, 2);
	assert_memory_equal(log->ev[0].data, "hi", 2);
	assert_int_equal(evlog_replay(log, EVLOG_SHA1, pcr, &touched), 0);
	assert_int_equal(touched, 1u << 5);
	memset(cat, 0, 20);
	memcpy(cat + 20, d1, 20);
	assert_int_equal(EVP_Digest(cat, 40, want, &olen, EVP_sha1(), NULL), 1);
	memcpy(cat, want, 20);
	memcpy(cat + 20, d2, 20);
	assert_int_equal(EVP_Digest(cat, 40, want, &olen, EVP_sha1(), NULL), 1);
	assert_memory_equal(pcr[5], want, 20);
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, pcr, &touched),
	    VIGIL_EINVAL);
	evlog_free(log);
	buf_free(&b);
}

static void
test_evlog_skips_unknown_algorithm_by_header_size(void **state)
{
	const uint16_t ids[3] = { ALG_SHA1, ALG_ODD, ALG_SHA256 };
	const uint16_t sizes[3] = { 20, 48, 32 };
	uint8_t pcr[PCR_COUNT][SHA256_LEN], want[SHA256_LEN], d[SHA256_LEN];
	struct buf b = BUF_INIT;
	struct evlog *log;
	uint32_t touched;

	put_specid(&b, 3, ids, sizes);
	put_event2(&b, 3, EV_IPL, 3, ids, sizes, 0x40, "one");
	put_event2(&b, 3, EV_IPL, 3, ids, sizes, 0x50, "two");
	save_seed("three-banks.bin", &b);
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->n, 2);
	assert_true(log->ev[1].has_sha1 && log->ev[1].has_sha256);
	assert_int_equal(log->ev[1].sha1[0], 0x50);
	assert_int_equal(log->ev[1].sha256[0], 0x52);
	assert_int_equal(log->ev[1].data_len, 3);
	assert_memory_equal(log->ev[1].data, "two", 3);
	assert_int_equal(evlog_replay(log, EVLOG_SHA256, pcr, &touched), 0);
	assert_int_equal(touched, 1u << 3);
	memset(want, 0, sizeof(want));
	memset(d, 0x42, sizeof(d));
	extend256(want, d);
	memset(d, 0x52, sizeof(d));
	extend256(want, d);
	assert_memory_equal(pcr[3], want, SHA256_LEN);
	evlog_free(log);
	buf_free(&b);
}

/* --- hostile input --- */

/* Every single-bit flip of a small real log: refused with a parse error or
 * parsed into a log that replays or lacks a bank; never anything else. */
static void
test_evlog_corpus_bit_flips_fail_cleanly(void **state)
{
	const char *corpus = getenv("VIGIL_CORPUS_DIR");
	uint8_t pcr[PCR_COUNT][SHA256_LEN], *data;
	char path[4200];
	struct evlog *log;
	size_t len, bit;
	uint32_t touched;
	int e;

	if (corpus == NULL || snprintf(path, sizeof(path),
	    "%s/eventlogs/event.bin", corpus) >= (int)sizeof(path) ||
	    file_read(path, EVLOG_MAX_SIZE, &data, &len) != 0) {
		print_message("skipping: no VIGIL_CORPUS_DIR/eventlogs/event.bin"
		    "\n");
		skip();
		return;
	}
	quiet(1);
	for (bit = 0; bit < len * 8; bit++) {
		data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		log = NULL;
		e = evlog_parse(data, len, &log);
		if (e == 0) {
			e = evlog_replay(log, EVLOG_SHA256, pcr, &touched);
			assert_true(e == 0 || e == VIGIL_EINVAL);
		} else {
			assert_true(e == VIGIL_ETRUNC || e == VIGIL_EINVAL ||
			    e == VIGIL_ETOOBIG);
			assert_null(log);
		}
		evlog_free(log);
		data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	quiet(0);
	free(data);
}

static void
test_evlog_written_log_truncations_fail_cleanly(void **state)
{
	uint8_t digests[W_EVENTS][SHA256_LEN];
	size_t bounds[W_EVENTS + 1], cut, k;
	struct buf b = BUF_INIT;
	struct evlog *log;
	int e;

	make_written_log(&b, digests, bounds);
	quiet(1);
	for (cut = 0; cut < b.len; cut++) {
		log = NULL;
		e = evlog_parse(b.data, cut, &log);
		for (k = 0; k <= W_EVENTS && bounds[k] != cut; k++)
			;
		if (k <= W_EVENTS) {
			assert_int_equal(e, 0);
			assert_int_equal(log->n, k);
		} else {
			if (e != VIGIL_ETRUNC)
				fail_msg("cut %zu: got %d", cut, e);
			assert_null(log);
		}
		evlog_free(log);
	}
	quiet(0);
	buf_free(&b);
}

/* Flips every bit of one little-endian u32 field at off; every flip must
 * be refused (the written log leaves no slack for a shifted record). */
static void
flip_field_all_refused(const struct buf *b, size_t off, const char *what)
{
	struct evlog *log;
	uint8_t *copy;
	int bit, e;

	assert_non_null(copy = malloc(b->len));
	for (bit = 0; bit < 32; bit++) {
		memcpy(copy, b->data, b->len);
		copy[off + (size_t)bit / 8] ^= (uint8_t)(1u << (bit % 8));
		log = NULL;
		e = evlog_parse(copy, b->len, &log);
		if (e != VIGIL_ETRUNC && e != VIGIL_EINVAL &&
		    e != VIGIL_ETOOBIG)
			fail_msg("%s bit %d flipped: got %d", what, bit, e);
		assert_null(log);
	}
	free(copy);
}

static void
test_evlog_rejects_bit_flips_in_length_fields(void **state)
{
	uint8_t digests[W_EVENTS][SHA256_LEN];
	size_t bounds[W_EVENTS + 1], i;
	struct buf b = BUF_INIT;

	make_written_log(&b, digests, bounds);
	quiet(1);
	flip_field_all_refused(&b, 28, "Spec ID EventSize");
	flip_field_all_refused(&b, 32 + 24, "numberOfAlgorithms");
	for (i = 0; i < W_EVENTS; i++) {
		/* TCG_PCR_EVENT2: pcr, type, count, alg, digest, size */
		flip_field_all_refused(&b, bounds[i] + 8, "digest count");
		flip_field_all_refused(&b, bounds[i] + 14 + SHA256_LEN,
		    "EventSize");
	}
	quiet(0);
	buf_free(&b);
}

static void
test_evlog_rejects_more_than_max_events(void **state)
{
	uint8_t d[SHA256_LEN] = { 0 };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;
	uint32_t i;

	assert_int_equal(evlog_write_header(&b), 0);
	for (i = 0; i < EVLOG_MAX_EVENTS; i++)
		assert_int_equal(evlog_write_event(&b, 1, EV_IPL, d, NULL, 0),
		    0);
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->n, EVLOG_MAX_EVENTS);
	evlog_free(log);
	log = NULL;
	assert_int_equal(evlog_write_event(&b, 1, EV_IPL, d, NULL, 0), 0);
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_ETOOBIG);
	assert_null(log);
	buf_free(&b);
}

static void
test_evlog_rejects_event_data_over_limit(void **state)
{
	const uint16_t ids[1] = { ALG_SHA256 }, sizes[1] = { 32 };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;
	uint8_t *big;
	size_t off;

	put_specid(&b, 1, ids, sizes);
	off = b.len;
	put_event2(&b, 0, EV_IPL, 1, ids, sizes, 1, "");
	/* EventSize one over the limit, with the bytes really there. */
	b.len -= 4;
	assert_int_equal(buf_add_u32le(&b, EVLOG_MAX_EVENT_DATA + 1), 0);
	assert_non_null(big = calloc(1, EVLOG_MAX_EVENT_DATA + 1));
	assert_int_equal(buf_add(&b, big, EVLOG_MAX_EVENT_DATA + 1), 0);
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_ETOOBIG);
	/* At the limit it is accepted. */
	b.len -= 1;
	b.data[off + 46] = (uint8_t)EVLOG_MAX_EVENT_DATA;
	b.data[off + 47] = (uint8_t)(EVLOG_MAX_EVENT_DATA >> 8);
	b.data[off + 48] = (uint8_t)(EVLOG_MAX_EVENT_DATA >> 16);
	assert_int_equal(evlog_parse(b.data, b.len, &log), 0);
	assert_int_equal(log->ev[0].data_len, EVLOG_MAX_EVENT_DATA);
	evlog_free(log);
	free(big);
	buf_free(&b);
}

static void
test_evlog_rejects_log_over_max_size(void **state)
{
	struct evlog *log = NULL;
	uint8_t *big;

	assert_non_null(big = calloc(1, EVLOG_MAX_SIZE + 1));
	assert_int_equal(evlog_parse(big, EVLOG_MAX_SIZE + 1, &log),
	    VIGIL_ETOOBIG);
	assert_null(log);
	free(big);
}

/* One event with a hand-set digest count after a one-algorithm header. */
static int
parse_with_count(uint32_t count)
{
	const uint16_t ids[1] = { ALG_SHA256 }, sizes[1] = { 32 };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;
	size_t off;
	int e;

	put_specid(&b, 1, ids, sizes);
	off = b.len;
	put_event2(&b, 0, EV_IPL, 1, ids, sizes, 1, "x");
	b.data[off + 8] = (uint8_t)count;
	b.data[off + 9] = (uint8_t)(count >> 8);
	b.data[off + 10] = (uint8_t)(count >> 16);
	b.data[off + 11] = (uint8_t)(count >> 24);
	e = evlog_parse(b.data, b.len, &log);
	if (e != 0)
		assert_null(log);
	evlog_free(log);
	buf_free(&b);
	return e;
}

static void
test_evlog_rejects_digest_count_zero_or_huge(void **state)
{
	quiet(1);
	assert_int_equal(parse_with_count(1), 0);
	assert_int_equal(parse_with_count(0), VIGIL_EINVAL);
	assert_int_equal(parse_with_count(2), VIGIL_EINVAL);
	assert_int_equal(parse_with_count(0xffffffffu), VIGIL_EINVAL);
	assert_int_equal(parse_with_count(0x00010000u), VIGIL_EINVAL);
	quiet(0);
}

static void
test_evlog_rejects_algorithm_not_in_header(void **state)
{
	const uint16_t hids[2] = { ALG_SHA1, ALG_SHA256 };
	const uint16_t hsz[2] = { 20, 32 };
	const uint16_t eids[2] = { ALG_SHA1, ALG_SHA384 };
	const uint16_t esz[2] = { 20, 48 };
	const uint16_t dup[2] = { ALG_SHA256, ALG_SHA256 };
	const uint16_t dsz[2] = { 32, 32 };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;

	quiet(1);
	put_specid(&b, 2, hids, hsz);
	put_event2(&b, 0, EV_IPL, 2, eids, esz, 1, "x");
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	assert_null(log);
	buf_free(&b);
	/* The same algorithm twice in one event. */
	put_specid(&b, 2, hids, hsz);
	put_event2(&b, 0, EV_IPL, 2, dup, dsz, 1, "x");
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	buf_free(&b);
	quiet(0);
}

static void
test_evlog_rejects_bad_spec_id_header(void **state)
{
	const uint16_t ids[2] = { ALG_SHA256, ALG_SHA256 };
	const uint16_t good[2] = { 32, 32 }, bad[1] = { 20 }, huge[1] = { 65 };
	const uint16_t odd[1] = { ALG_ODD };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;

	quiet(1);
	put_specid(&b, 0, ids, good);		/* no algorithms */
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	buf_free(&b);
	put_specid(&b, 2, ids, good);		/* one listed twice */
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	buf_free(&b);
	put_specid(&b, 1, ids, bad);		/* SHA-256 of 20 bytes */
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	buf_free(&b);
	put_specid(&b, 1, odd, huge);		/* digest over 64 bytes */
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	buf_free(&b);
	put_specid(&b, 1, ids, good);		/* count huge */
	b.data[32 + 24] = 0xff;
	b.data[32 + 27] = 0xff;
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	assert_null(log);
	buf_free(&b);
	quiet(0);
}

static void
test_evlog_rejects_pcr_index_out_of_range(void **state)
{
	const uint16_t ids[1] = { ALG_SHA256 }, sizes[1] = { 32 };
	struct buf b = BUF_INIT;
	struct evlog *log = NULL;

	quiet(1);
	put_specid(&b, 1, ids, sizes);
	put_event2(&b, PCR_COUNT, EV_IPL, 1, ids, sizes, 1, "x");
	assert_int_equal(evlog_parse(b.data, b.len, &log), VIGIL_EINVAL);
	assert_null(log);
	buf_free(&b);
	quiet(0);
}

static void
test_evlog_rejects_empty_input(void **state)
{
	struct evlog *log = NULL;

	quiet(1);
	assert_int_equal(evlog_parse((const uint8_t *)"", 0, &log),
	    VIGIL_ETRUNC);
	assert_null(log);
	quiet(0);
}

/* Hand-made negative files kept in tests/corpus/evlog/ (run from the
 * repository's top, as tests/run.sh does): each must be refused. */
static void
test_evlog_refuses_every_negative_corpus_file(void **state)
{
	char path[4200];
	struct dirent *de;
	struct evlog *log;
	uint8_t *data;
	size_t len, nl;
	int n = 0, e;
	DIR *d;

	if ((d = opendir("tests/corpus/evlog")) == NULL) {
		print_message("skipping: tests/corpus/evlog not found from %s\n",
		    "the current directory");
		skip();
		return;
	}
	quiet(1);
	while ((de = readdir(d)) != NULL) {
		nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".bin") != 0)
			continue;
		snprintf(path, sizeof(path), "tests/corpus/evlog/%s",
		    de->d_name);
		assert_int_equal(file_read(path, EVLOG_MAX_SIZE + 1, &data,
		    &len), 0);
		log = NULL;
		e = evlog_parse(data, len, &log);
		if (e == 0)
			fail_msg("%s was accepted", de->d_name);
		assert_null(log);
		free(data);
		n++;
	}
	quiet(0);
	closedir(d);
	assert_true(n > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evlog_corpus_replays_like_tpm2_eventlog),
		cmocka_unit_test(test_evlog_corpus_truncations_fail_cleanly),
		cmocka_unit_test(test_evlog_written_log_replays_like_hand_extends),
		cmocka_unit_test(test_evlog_writer_refuses_bad_pcr_and_leaves_buffer),
		cmocka_unit_test(test_evlog_startup_locality_sets_pcr0_start),
		cmocka_unit_test(test_evlog_hcrtm_event_starts_pcr0_at_locality_4),
		cmocka_unit_test(test_evlog_writer_refuses_event_data_over_limit),
		cmocka_unit_test(test_evlog_spec_id_size_must_match_structure),
		cmocka_unit_test(test_evlog_corpus_bit_flips_fail_cleanly),
		cmocka_unit_test(test_evlog_parses_legacy_sha1_log),
		cmocka_unit_test(test_evlog_skips_unknown_algorithm_by_header_size),
		cmocka_unit_test(test_evlog_written_log_truncations_fail_cleanly),
		cmocka_unit_test(test_evlog_rejects_bit_flips_in_length_fields),
		cmocka_unit_test(test_evlog_rejects_more_than_max_events),
		cmocka_unit_test(test_evlog_rejects_event_data_over_limit),
		cmocka_unit_test(test_evlog_rejects_log_over_max_size),
		cmocka_unit_test(test_evlog_rejects_digest_count_zero_or_huge),
		cmocka_unit_test(test_evlog_rejects_algorithm_not_in_header),
		cmocka_unit_test(test_evlog_rejects_bad_spec_id_header),
		cmocka_unit_test(test_evlog_rejects_pcr_index_out_of_range),
		cmocka_unit_test(test_evlog_rejects_empty_input),
		cmocka_unit_test(test_evlog_refuses_every_negative_corpus_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
