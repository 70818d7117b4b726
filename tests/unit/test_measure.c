/* vigil-smmd's measurement engine and key gate (smm-bridge/measure.h,
 * service.h) against the test hypervisor $(BUILD)/bin/fakehv: stable
 * roots, the page fakehv rewrites on SIGUSR1 named, scan pauses within
 * the bound, and key requests answered with the target stopped, refused
 * once it was tampered with, refused for callers the policy does not
 * allow; refusals in the log. No TPM needed (keys made here). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "err.h"
#include "log.h"
#include "rd.h"
#include "smm-bridge/keywrap.h"
#include "smm-bridge/measure.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/service.h"
#include "smm-bridge/smmlog.h"

struct fx {
	pid_t hv;
	char dir[64];
};

static void
fakehv_path(char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(k > 0);
	exe[k] = '\0';
	/* $(BUILD)/tests/test_measure -> $(BUILD)/bin/fakehv */
	snprintf(out, n, "%s/../bin/fakehv", dirname(exe));
}

static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p[2];
}

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[PATH_MAX];

	fakehv_path(path, sizeof(path));
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "fakehv not built at %s\n", path);
		free(f);
		return -1;
	}
	f->hv = fork();
	if (f->hv == 0) {
		execl(path, "fakehv", (char *)NULL);
		_exit(127);
	}
	nap_ms(200);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-measure.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	kill(f->hv, SIGCONT);
	kill(f->hv, SIGTERM);
	waitpid(f->hv, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const struct measure_region *
find_hv(const struct measure_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strstr(s->r[i].name, "/fakehv@0x") != NULL)
			return &s->r[i];
	return NULL;
}

static void
test_measure_process_is_stable_and_names_regions(void **state)
{
	struct fx *f = *state;
	struct measure_set *a = calloc(1, sizeof(*a));
	struct measure_set *b = calloc(1, sizeof(*b));
	const struct measure_region *ra, *rb;

	assert_int_equal(measure_stop(f->hv, 1000), 0);
	assert_true(proc_state(f->hv) == 'T' || proc_state(f->hv) == 't');
	assert_int_equal(measure_process(f->hv, a), 0);
	assert_int_equal(measure_cont(f->hv), 0);
	nap_ms(20);
	assert_int_equal(measure_stop(f->hv, 1000), 0);
	assert_int_equal(measure_process(f->hv, b), 0);
	assert_int_equal(measure_cont(f->hv), 0);
	assert_int_equal(a->n, b->n);
	ra = find_hv(a);
	rb = find_hv(b);
	assert_non_null(ra);
	assert_non_null(rb);
	assert_string_equal(ra->name, rb->name);
	assert_int_equal(ra->error, 0);
	assert_int_equal(ra->n_pages, ra->size / SMMLOG_PAGE);
	assert_memory_equal(ra->root, rb->root, SMMLOG_HASH_LEN);
	measure_set_free(a);
	measure_set_free(b);
	free(a);
	free(b);
}

static void
test_measure_names_the_page_fakehv_rewrites(void **state)
{
	struct fx *f = *state;
	struct measure_set *a = calloc(1, sizeof(*a));
	struct measure_set *b = calloc(1, sizeof(*b));
	const struct measure_region *ra, *rb;
	uint32_t pages[8];
	size_t n;

	assert_int_equal(measure_stop(f->hv, 1000), 0);
	assert_int_equal(measure_process(f->hv, a), 0);
	assert_int_equal(measure_cont(f->hv), 0);
	assert_int_equal(kill(f->hv, SIGUSR1), 0);
	nap_ms(100);
	assert_int_equal(measure_stop(f->hv, 1000), 0);
	assert_int_equal(measure_process(f->hv, b), 0);
	assert_int_equal(measure_cont(f->hv), 0);
	ra = find_hv(a);
	rb = find_hv(b);
	assert_non_null(rb);
	/* The mprotect split is merged back: same region, same size. */
	assert_string_equal(ra->name, rb->name);
	assert_int_equal(ra->size, rb->size);
	assert_memory_not_equal(ra->root, rb->root, SMMLOG_HASH_LEN);
	n = measure_diff((const uint8_t (*)[32])ra->leaves,
	    (const uint8_t (*)[32])rb->leaves, ra->n_pages, pages, 8);
	assert_int_equal(n, 1);
	assert_true(pages[0] < ra->n_pages);
	measure_set_free(a);
	measure_set_free(b);
	free(a);
	free(b);
}

static void
test_measure_chunked_scan_keeps_pauses_under_bound(void **state)
{
	struct fx *f = *state;
	struct measure_set *a = calloc(1, sizeof(*a));
	struct measure_set *b = calloc(1, sizeof(*b));
	struct measure_hist h;
	size_t chunk = 16 * 1024, i;

	memset(&h, 0, sizeof(h));
	assert_int_equal(measure_process_chunked(f->hv, &chunk, 5000, &h, a),
	    0);
	/* ~100 pauses (fakehv, libc, ld.so in 16 KiB chunks): a loaded
	 * shared machine may miss once, the bound holds at p99. */
	assert_true(h.count >= 50);
	assert_true(measure_hist_pct(&h, 99) <= 5000);
	assert_true(proc_state(f->hv) != 'T');
	/* Chunked and stop-the-world measurements agree. */
	assert_int_equal(measure_stop(f->hv, 1000), 0);
	assert_int_equal(measure_process(f->hv, b), 0);
	assert_int_equal(measure_cont(f->hv), 0);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_memory_equal(a->r[i].root, b->r[i].root,
		    SMMLOG_HASH_LEN);
	measure_set_free(a);
	measure_set_free(b);
	free(a);
	free(b);
}

static void
test_measure_image_file_has_one_leaf_per_page(void **state)
{
	struct measure_region r;
	char path[PATH_MAX];

	fakehv_path(path, sizeof(path));
	assert_int_equal(measure_file(path, &r), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.n_pages, (r.size + SMMLOG_PAGE - 1) / SMMLOG_PAGE);
	free(r.leaves);
	assert_int_equal(measure_file("/nonexistent/hv", &r), 0);
	assert_int_equal(r.error, VIGIL_ENOTFOUND);
}

/* Sends one request through the service's handler. */
static uint32_t
call(struct smmd *d, struct buf *req, uid_t uid, struct buf *rep,
    struct mm_msg *m)
{
	rep->len = 0;
	assert_int_equal(smmd_handle(d, req->data, req->len, uid, rep), 0);
	assert_int_equal(mm_parse(rep->data, rep->len, m), 0);
	req->len = 0;
	return m->status;
}

static int
log_has(struct smmd *d, uint8_t kind, int (*pred)(const struct smmlog_entry *))
{
	struct buf req = BUF_INIT, rep = BUF_INIT;
	struct mm_msg m;
	struct smmlog_entry e;
	const uint8_t *p;
	size_t n;
	struct rd r;
	int found = 0;

	assert_int_equal(mm_build_read_log(&req, 1, MM_MAX_LOG_N), 0);
	assert_int_equal(call(d, &req, 0, &rep, &m), MM_ST_OK);
	rd_init(&r, m.rep.read_log.entries, m.rep.read_log.entries_len);
	while (mm_log_entry_next(&r, &p, &n) == 0) {
		assert_int_equal(smmlog_entry_parse(p, n, &e), 0);
		if (e.kind == kind && pred(&e))
			found = 1;
	}
	buf_free(&req);
	buf_free(&rep);
	return found;
}

static int
is_tamper_refusal(const struct smmlog_entry *e)
{
	return !e->u.k.granted && e->u.k.status == MM_ST_TAMPERED &&
	    e->version == SMMLOG_VERSION && e->u.k.tenant_len == 8 &&
	    memcmp(e->u.k.tenant, "tenant-a", 8) == 0;
}

static int
is_tenant_b_grant(const struct smmlog_entry *e)
{
	return e->u.k.granted && e->u.k.tenant_len == 8 &&
	    memcmp(e->u.k.tenant, "tenant-b", 8) == 0 &&
	    e->u.k.key_id_len == 2 && memcmp(e->u.k.key_id, "k1", 2) == 0;
}

/* HMAC-SHA256 of "data" with 32 bytes of fill. */
static void
expect_mac(uint8_t fill, uint8_t mac[32])
{
	uint8_t key[32];
	size_t n = 32;

	memset(key, fill, sizeof(key));
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key,
	    sizeof(key), (const uint8_t *)"data", 4, mac, 32, &n));
}

static int
is_caller_refusal(const struct smmlog_entry *e)
{
	return !e->u.k.granted && e->u.k.status == MM_ST_DENIED &&
	    e->u.k.uid == 4242;
}

static int
is_mismatch_with_one_page(const struct smmlog_entry *e)
{
	return e->u.m.verdict == SMMLOG_VERDICT_MISMATCH &&
	    e->u.m.n_pages == 1;
}

static void
test_service_gates_keys_on_measurement_and_caller(void **state)
{
	struct fx *f = *state;
	struct smmd_config cfg;
	struct seal_keys keys;
	struct smmd *d = NULL;
	struct keywrap_key k;
	struct buf req = BUF_INIT, rep = BUF_INIT, blob = BUF_INIT;
	struct mm_msg m;
	const uint8_t *p;
	uint8_t mac[32];
	EVP_PKEY *wrap_pub = NULL;

	smmd_config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", f->dir);
	cfg.baseline_on_first_boot = 1;
	cfg.n_targets = 1;
	snprintf(cfg.targets[0].name, sizeof(cfg.targets[0].name), "hv");
	cfg.targets[0].pid = f->hv;
	keys.log_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys.wrap_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_int_equal(smmd_open(&cfg, &keys, &d), 0);

	/* The tenant wraps to the service's public key. */
	assert_int_equal(mm_build_get_pubkeys(&req), 0);
	assert_int_equal(call(d, &req, 0, &rep, &m), MM_ST_OK);
	p = m.rep.pubkeys.wrap_pub;
	wrap_pub = d2i_PUBKEY(NULL, &p, (long)m.rep.pubkeys.wrap_pub_len);
	assert_non_null(wrap_pub);
	memset(&k, 0, sizeof(k));
	snprintf(k.pol.key_id, sizeof(k.pol.key_id), "k1");
	snprintf(k.pol.tenant, sizeof(k.pol.tenant), "tenant-a");
	k.pol.ops = 1u << MM_OP_HMAC;
	k.pol.n_callers = 1;
	k.pol.callers[0] = 1000;
	k.pol.type = KEYWRAP_TYPE_SECRET;
	memset(k.material, 0x11, 32);
	k.material_len = 32;
	assert_int_equal(keywrap_wrap(wrap_pub, &k, &blob), 0);
	assert_int_equal(mm_build_provision(&req, blob.data, blob.len), 0);
	assert_int_equal(call(d, &req, 0, &rep, &m), MM_ST_OK);
	/* Another tenant's key of the same id, other material. */
	snprintf(k.pol.tenant, sizeof(k.pol.tenant), "tenant-b");
	memset(k.material, 0x22, 32);
	blob.len = 0;
	assert_int_equal(keywrap_wrap(wrap_pub, &k, &blob), 0);
	assert_int_equal(mm_build_provision(&req, blob.data, blob.len), 0);
	assert_int_equal(call(d, &req, 0, &rep, &m), MM_ST_OK);

	/* Untampered: granted, and the target stayed stopped until the
	 * answer was sent (here: until smmd_resume). */
	assert_int_equal(mm_build_use_key(&req, MM_OP_HMAC, "tenant-a", "k1",
	    (const uint8_t *)"data", 4), 0);
	assert_int_equal(call(d, &req, 1000, &rep, &m), MM_ST_OK);
	assert_int_equal(m.rep.use_key.out_len, 32);
	expect_mac(0x11, mac);
	assert_memory_equal(m.rep.use_key.out, mac, 32);
	assert_true(proc_state(f->hv) == 'T' || proc_state(f->hv) == 't');
	smmd_resume(d);
	nap_ms(20);
	assert_true(proc_state(f->hv) != 'T');
	/* Each tenant's request reaches its own key of that id. */
	assert_int_equal(mm_build_use_key(&req, MM_OP_HMAC, "tenant-b", "k1",
	    (const uint8_t *)"data", 4), 0);
	assert_int_equal(call(d, &req, 1000, &rep, &m), MM_ST_OK);
	expect_mac(0x22, mac);
	assert_int_equal(m.rep.use_key.out_len, 32);
	assert_memory_equal(m.rep.use_key.out, mac, 32);
	smmd_resume(d);
	assert_true(log_has(d, SMMLOG_KIND_KEY_USE, is_tenant_b_grant));
	assert_int_equal(mm_build_use_key(&req, MM_OP_HMAC, "tenant-c", "k1",
	    (const uint8_t *)"data", 4), 0);
	assert_int_equal(call(d, &req, 1000, &rep, &m), MM_ST_NOT_FOUND);
	smmd_resume(d);

	/* A caller the policy does not name. */
	assert_int_equal(mm_build_use_key(&req, MM_OP_HMAC, "tenant-a", "k1",
	    (const uint8_t *)"data", 4), 0);
	assert_int_equal(call(d, &req, 4242, &rep, &m), MM_ST_DENIED);
	smmd_resume(d);

	/* Tampered: refused, and both facts are in the log. */
	assert_int_equal(kill(f->hv, SIGUSR1), 0);
	nap_ms(100);
	assert_int_equal(mm_build_use_key(&req, MM_OP_HMAC, "tenant-a", "k1",
	    (const uint8_t *)"data", 4), 0);
	assert_int_equal(call(d, &req, 1000, &rep, &m), MM_ST_TAMPERED);
	smmd_resume(d);
	assert_true(log_has(d, SMMLOG_KIND_KEY_USE, is_tamper_refusal));
	assert_true(log_has(d, SMMLOG_KIND_KEY_USE, is_caller_refusal));
	assert_true(log_has(d, SMMLOG_KIND_MEASURE, is_mismatch_with_one_page));

	/* Garbage gets an error status, and the service keeps answering. */
	assert_int_equal(buf_add(&req, "garbage-garbage-garbage-garbage", 31),
	    0);
	assert_int_equal(call(d, &req, 0, &rep, &m), MM_ST_BAD_GUID);
	assert_int_equal(mm_build_get_pubkeys(&req), 0);
	assert_int_equal(call(d, &req, 0, &rep, &m), MM_ST_OK);

	EVP_PKEY_free(wrap_pub);
	smmd_close(d);
	buf_free(&req);
	buf_free(&rep);
	buf_free(&blob);
}


static void
test_service_config_reads_targets_and_refuses_unknown_keys(void **state)
{
	char path[] = "/tmp/vigil-smmd-conf.XXXXXX";
	struct smmd_config c;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	f = fopen(path, "w");
	fprintf(f, "[smmd]\nsocket = /tmp/x.sock\npause_bound_ms = 3\n"
	    "baseline_on_first_boot = yes\n[target:hv]\npid = 42\n"
	    "image = /bin/true\n[target:img]\nimage = /bin/false\n");
	fclose(f);
	assert_int_equal(smmd_config_load(path, &c), 0);
	assert_string_equal(c.socket, "/tmp/x.sock");
	assert_int_equal(c.pause_bound_us, 3000);
	assert_int_equal(c.chunk_size, 256 * 1024);
	assert_int_equal(c.baseline_on_first_boot, 1);
	assert_int_equal(c.n_targets, 2);
	assert_int_equal(c.targets[0].pid, 42);
	assert_string_equal(c.targets[1].name, "img");
	assert_string_equal(c.targets[1].image, "/bin/false");
	f = fopen(path, "w");
	fprintf(f, "[smmd]\npause_bound = 3\n");
	fclose(f);
	assert_int_equal(smmd_config_load(path, &c), VIGIL_ECONFIG);
	f = fopen(path, "w");
	fprintf(f, "[smmd]\nbaseline_on_first_boot = maybe\n");
	fclose(f);
	assert_int_equal(smmd_config_load(path, &c), VIGIL_ECONFIG);
	f = fopen(path, "w");
	fprintf(f, "[target:hv]\n");
	fclose(f);
	assert_int_equal(smmd_config_load(path, &c), 0);	/* no keys */
	f = fopen(path, "w");
	fprintf(f, "[target:hv]\npid = -1\n");
	fclose(f);
	assert_int_equal(smmd_config_load(path, &c), VIGIL_ECONFIG);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_measure_process_is_stable_and_names_regions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_measure_names_the_page_fakehv_rewrites, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_measure_chunked_scan_keeps_pauses_under_bound, setup,
		    teardown),
		cmocka_unit_test(test_measure_image_file_has_one_leaf_per_page),
		cmocka_unit_test(
		    test_service_config_reads_targets_and_refuses_unknown_keys),
		cmocka_unit_test_setup_teardown(
		    test_service_gates_keys_on_measurement_and_caller, setup,
		    teardown),
	};

	log_init("test_measure", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
