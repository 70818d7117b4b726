/* The agent's checkpoint worker and the local socket's computation ops:
 * checkpoints are quoted by the AK with the commitment as extraData and
 * spooled in order with the computation end after them; a full queue is
 * refused; the socket validates requests and authorizes by uid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>

#include "agent/checkpoint.h"
#include "agent/localsock.h"
#include "agent/spool.h"
#include "agent/tpm.h"
#include "buf.h"
#include "ckpt.h"
#include "err.h"
#include "tpm_parse.h"
#include "vigil.pb-c.h"

#define ID "0123456789abcdef0123456789abcdef"

struct fixture {
	char dir[64];
	struct spool *spool;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-ckptw.XXXXXX");
	if (mkdtemp(f->dir) == NULL || spool_open(f->dir, 1000,
	    &f->spool) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	spool_close(f->spool);
	snprintf(path, sizeof(path), "%s/%s", f->dir, SPOOL_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-wal", f->dir, SPOOL_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-shm", f->dir, SPOOL_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sock", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct localsock_ckpt
mk_ckpt(uint64_t index, uint8_t fill)
{
	struct localsock_ckpt r;

	memset(&r, 0, sizeof(r));
	memcpy(r.id, ID, 33);
	r.index = index;
	memset(r.state, fill, sizeof(r.state));
	memset(r.cum, fill + 1, sizeof(r.cum));
	return r;
}

static struct localsock_ckpt
mk_end(uint64_t count, int32_t status)
{
	struct localsock_ckpt r = mk_ckpt(0, 0x77);

	memset(r.state, 0, sizeof(r.state));
	r.end = 1;
	r.count = count;
	r.exit_status = status;
	return r;
}

/* The AK public of the test TPM, as the agent would register it. */
static void
ak_public(const char *tcti, TPM2B_PUBLIC *pub)
{
	struct buf b = BUF_INIT;
	struct tpm *t = NULL;
	size_t off = 0;

	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_int_equal(tpm_ak_ensure(t, TPM_EK_RSA, &b), 0);
	tpm_close(t);
	memset(pub, 0, sizeof(*pub));
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Unmarshal(b.data, b.len, &off,
	    pub), TSS2_RC_SUCCESS);
	buf_free(&b);
}

static void
check_ckpt_item(const struct spool_item *it, const TPM2B_PUBLIC *ak,
    const struct localsock_ckpt *want)
{
	Vigil__Checkpoint *c;
	struct quote q;
	uint8_t commit[CKPT_LEN];
	const char *why = NULL;

	assert_int_equal(it->kind, VIGIL__ITEM_KIND__ITEM_CHECKPOINT);
	c = vigil__checkpoint__unpack(NULL, it->len, it->body);
	assert_non_null(c);
	assert_string_equal(c->computation_id, want->id);
	assert_true(c->index == want->index);
	assert_int_equal(c->state.len, CKPT_LEN);
	assert_memory_equal(c->state.data, want->state, CKPT_LEN);
	assert_int_equal(c->cumulative.len, CKPT_LEN);
	assert_memory_equal(c->cumulative.data, want->cum, CKPT_LEN);
	assert_int_equal(c->n_pcrs, 10);	/* PCR_POLICY_MASK: 0-7, 11, 23 */
	assert_int_equal(quote_parse(c->quote.data, c->quote.len,
	    c->signature.data, c->signature.len, &q, &why), 0);
	assert_int_equal(quote_verify_sig(&q, ak, &why), 0);
	ckpt_commitment(want->id, want->index, want->state, want->cum,
	    commit);
	assert_int_equal(q.attest.extraData.size, CKPT_LEN);
	assert_memory_equal(q.attest.extraData.buffer, commit, CKPT_LEN);
	vigil__checkpoint__free_unpacked(c, NULL);
}

static void
test_checkpoint_worker_spools_quoted_checkpoints_then_end_in_order(
    void **state)
{
	struct fixture *f = *state;
	const char *tcti = getenv("VIGIL_TEST_TCTI");
	struct checkpoint_worker *w = NULL;
	struct localsock_ckpt c1 = mk_ckpt(1, 0x10), c2 = mk_ckpt(2, 0x20);
	struct localsock_ckpt end = mk_end(2, 3);
	struct spool_item *items = NULL;
	Vigil__ComputationEnd *ce;
	TPM2B_PUBLIC ak;
	size_t n = 0;

	if (tcti == NULL)
		skip();
	ak_public(tcti, &ak);
	assert_int_equal(checkpoint_start(tcti, f->spool, 0, &w), 0);
	assert_int_equal(checkpoint_submit(w, &c1), 0);
	assert_int_equal(checkpoint_submit(w, &c2), 0);
	assert_int_equal(checkpoint_submit(w, &end), 0);
	assert_int_equal(checkpoint_drain(w, 60000), 0);
	checkpoint_stop(w);
	assert_int_equal(spool_pending(f->spool, 10, &items, &n), 0);
	assert_int_equal(n, 3);
	assert_true(items[0].seq < items[1].seq &&
	    items[1].seq < items[2].seq);
	check_ckpt_item(&items[0], &ak, &c1);
	check_ckpt_item(&items[1], &ak, &c2);
	assert_int_equal(items[2].kind, VIGIL__ITEM_KIND__ITEM_COMPUTATION_END);
	ce = vigil__computation_end__unpack(NULL, items[2].len, items[2].body);
	assert_non_null(ce);
	assert_string_equal(ce->computation_id, ID);
	assert_int_equal(ce->exit_status, 3);
	assert_true(ce->count == 2);
	assert_int_equal(ce->final_cumulative.len, CKPT_LEN);
	assert_memory_equal(ce->final_cumulative.data, end.cum, CKPT_LEN);
	vigil__computation_end__free_unpacked(ce, NULL);
	spool_items_free(items, n);
}

static void
test_checkpoint_worker_refuses_when_queue_full(void **state)
{
	struct fixture *f = *state;
	const char *tcti = getenv("VIGIL_TEST_TCTI");
	struct checkpoint_worker *w = NULL;
	struct localsock_ckpt c1 = mk_ckpt(1, 1), c2 = mk_ckpt(2, 2);
	struct localsock_ckpt c3 = mk_ckpt(3, 3);
	struct timespec ms = { 0, 1000000L };
	struct tpm *t = NULL;
	uint64_t count = 0;
	int i, e = -1;

	if (tcti == NULL)
		skip();
	/* Holding the TPM blocks the worker on its first checkpoint. */
	assert_int_equal(tpm_open(tcti, &t), 0);
	assert_int_equal(checkpoint_start(tcti, f->spool, 1, &w), 0);
	assert_int_equal(checkpoint_submit(w, &c1), 0);
	/* c2 fits once the worker took c1 off the ring. */
	for (i = 0; i < 5000 && e != 0; i++) {
		if ((e = checkpoint_submit(w, &c2)) != 0) {
			assert_int_equal(e, VIGIL_ETOOBIG);
			nanosleep(&ms, NULL);
		}
	}
	assert_int_equal(e, 0);
	assert_int_equal(checkpoint_submit(w, &c3), VIGIL_ETOOBIG);
	assert_int_equal(checkpoint_drain(w, 100), VIGIL_ESTALE);
	tpm_close(t);
	assert_int_equal(checkpoint_drain(w, 60000), 0);
	checkpoint_stop(w);
	assert_int_equal(spool_count(f->spool, &count), 0);
	assert_true(count == 2);
}

/* The socket's callback for the validation test. */
struct seen {
	int n;
	struct localsock_ckpt last;
};

static int
seen_cb(void *arg, const struct localsock_ckpt *r)
{
	struct seen *s = arg;

	s->n++;
	s->last = *r;
	return 0;
}

static int
status_cb(void *arg, struct localsock_status *out)
{
	return 0;
}

static void
test_localsock_validates_and_forwards_computation_ops(void **state)
{
	struct fixture *f = *state;
	struct localsock *ls = NULL;
	struct localsock_client *c = NULL;
	struct localsock_ckpt r = mk_ckpt(5, 0x55), bad;
	struct seen seen = { 0 };
	uid_t me = getuid();
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/sock", f->dir);
	assert_int_equal(localsock_start(path, &me, 1, status_cb, NULL, &ls),
	    0);
	assert_int_equal(localsock_client_open(path, &c, err, sizeof(err)),
	    0);
	/* no callback set yet */
	assert_int_equal(localsock_client_send(c, &r, err, sizeof(err)),
	    VIGIL_EUNSUPP);
	localsock_set_ckpt_fn(ls, seen_cb, &seen);
	assert_int_equal(localsock_client_send(c, &r, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.last.end, 0);
	assert_true(seen.last.index == 5);
	assert_memory_equal(seen.last.state, r.state, CKPT_LEN);
	assert_memory_equal(seen.last.cum, r.cum, CKPT_LEN);
	assert_string_equal(seen.last.id, ID);
	/* index 0 */
	bad = mk_ckpt(0, 1);
	assert_int_equal(localsock_client_send(c, &bad, err, sizeof(err)),
	    VIGIL_EINVAL);
	assert_non_null(strstr(err, "index is 0"));
	/* uppercase hex, short id */
	bad = mk_ckpt(1, 1);
	bad.id[0] = 'A';
	assert_int_equal(localsock_client_send(c, &bad, err, sizeof(err)),
	    VIGIL_EINVAL);
	assert_non_null(strstr(err, "32 lowercase hex"));
	bad = mk_ckpt(1, 1);
	bad.id[31] = '\0';
	assert_int_equal(localsock_client_send(c, &bad, err, sizeof(err)),
	    VIGIL_EINVAL);
	assert_int_equal(seen.n, 1);
	/* the end */
	bad = mk_end(7, 1);
	assert_int_equal(localsock_client_send(c, &bad, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.last.end, 1);
	assert_true(seen.last.count == 7);
	assert_int_equal(seen.last.exit_status, 1);
	localsock_client_close(c);
	localsock_stop(ls);
}

/* Sends one raw LocalRequest and returns the reply's code. */
static int
raw_request(const char *path, const Vigil__LocalRequest *req, char *err,
    size_t cap)
{
	struct sockaddr_un sa;
	Vigil__LocalReply *rep;
	uint8_t msg[512], hdr[4], body[1024];
	size_t n, len;
	int fd, code;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = vigil__local_request__pack(req, msg);
	hdr[0] = 0;
	hdr[1] = 0;
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	assert_int_equal(write(fd, hdr, 4), 4);
	assert_int_equal(write(fd, msg, n), (ssize_t)n);
	assert_int_equal(recv(fd, hdr, 4, MSG_WAITALL), 4);
	len = (size_t)hdr[2] << 8 | hdr[3];
	assert_true(len <= sizeof(body));
	assert_int_equal(recv(fd, body, len, MSG_WAITALL), (ssize_t)len);
	close(fd);
	rep = vigil__local_reply__unpack(NULL, len, body);
	assert_non_null(rep);
	code = rep->code;
	snprintf(err, cap, "%s", rep->error);
	vigil__local_reply__free_unpacked(rep, NULL);
	return code;
}

static void
test_localsock_rejects_wrong_digest_lengths_and_mixed_fields(void **state)
{
	struct fixture *f = *state;
	Vigil__LocalRequest req = VIGIL__LOCAL_REQUEST__INIT;
	struct localsock *ls = NULL;
	struct seen seen = { 0 };
	uint8_t d[33] = { 0 };
	uid_t me = getuid();
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/sock", f->dir);
	assert_int_equal(localsock_start(path, &me, 1, status_cb, NULL, &ls),
	    0);
	localsock_set_ckpt_fn(ls, seen_cb, &seen);
	req.op = VIGIL__LOCAL_REQUEST__OP__OP_CHECKPOINT;
	req.computation_id = ID;
	req.index = 1;
	req.state.data = d;
	req.state.len = 32;
	req.cumulative.data = d;
	req.cumulative.len = 32;
	assert_int_equal(raw_request(path, &req, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 1);
	req.state.len = 31;
	assert_int_equal(raw_request(path, &req, err, sizeof(err)),
	    VIGIL_EINVAL);
	assert_string_equal(err, "state is 31 bytes, not 32");
	req.state.len = 32;
	req.cumulative.len = 33;
	assert_int_equal(raw_request(path, &req, err, sizeof(err)),
	    VIGIL_EINVAL);
	assert_string_equal(err, "cumulative is 33 bytes, not 32");
	req.cumulative.len = 0;
	assert_int_equal(raw_request(path, &req, err, sizeof(err)),
	    VIGIL_EINVAL);
	req.cumulative.len = 32;
	req.count = 4;		/* a checkpoint has no count */
	assert_int_equal(raw_request(path, &req, err, sizeof(err)),
	    VIGIL_EINVAL);
	req.op = VIGIL__LOCAL_REQUEST__OP__OP_COMPUTATION_END;
	assert_int_equal(raw_request(path, &req, err, sizeof(err)),
	    VIGIL_EINVAL);	/* an end has no state or index */
	req.index = 0;
	req.state.len = 0;
	assert_int_equal(raw_request(path, &req, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 2);
	assert_true(seen.last.end && seen.last.count == 4);
	localsock_stop(ls);
}

static void
test_localsock_refuses_computation_ops_from_other_uids(void **state)
{
	struct fixture *f = *state;
	struct localsock *ls = NULL;
	struct localsock_client *c = NULL;
	struct localsock_ckpt r = mk_ckpt(1, 1);
	struct seen seen = { 0 };
	uid_t other = getuid() + 4242;
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/sock", f->dir);
	assert_int_equal(localsock_start(path, &other, 1, status_cb, NULL,
	    &ls), 0);
	localsock_set_ckpt_fn(ls, seen_cb, &seen);
	assert_int_equal(localsock_client_open(path, &c, err, sizeof(err)),
	    0);
	assert_int_equal(localsock_client_send(c, &r, err, sizeof(err)),
	    VIGIL_EDENIED);
	assert_int_equal(seen.n, 0);
	localsock_client_close(c);
	localsock_stop(ls);
	/* nobody there */
	assert_int_equal(localsock_client_open(path, &c, err, sizeof(err)),
	    VIGIL_EIO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_checkpoint_worker_spools_quoted_checkpoints_then_end_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_checkpoint_worker_refuses_when_queue_full,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_validates_and_forwards_computation_ops,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_rejects_wrong_digest_lengths_and_mixed_fields,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_refuses_computation_ops_from_other_uids,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
