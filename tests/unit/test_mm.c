/* The SMM bridge's MM Communicate parser and builders (smm-bridge/mm.h):
 * a corpus of malformed buffers, each refused with the status its file
 * name gives (tests/corpus/mm/STATUS__what.bin); every builder round
 * trips; every truncation of a valid buffer is refused; the SMI transport
 * fails clearly where there is no firmware. */
#include <dirent.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "log.h"
#include "rd.h"
#include "smm-bridge/mm.h"
#include "smm-bridge/transport.h"

static const char *
corpus_dir(void)
{
	const char *d = getenv("VIGIL_MM_CORPUS");

	return d != NULL ? d : "tests/corpus/mm";
}

static void
test_mm_corpus_buffers_refused_with_named_status(void **state)
{
	struct dirent *de;
	struct mm_msg m;
	char path[1024], want[512], *sep;
	uint8_t *data;
	size_t len;
	DIR *d;
	int n = 0;

	d = opendir(corpus_dir());
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".bin") == NULL)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", corpus_dir(),
		    de->d_name) >= (int)sizeof(path))
			fail_msg("path too long");
		snprintf(want, sizeof(want), "%s", de->d_name);
		sep = strstr(want, "__");
		assert_non_null(sep);
		*sep = '\0';
		data = NULL;
		len = 0;
		assert_int_equal(file_read(path, MM_MAX_BUF, &data, &len), 0);
		if (mm_parse(data, len, &m) == 0)
			fail_msg("%s parsed", de->d_name);
		if (strcmp(mm_status_name(m.status), want) != 0)
			fail_msg("%s: status %s, want %s", de->d_name,
			    mm_status_name(m.status), want);
		free(data);
		n++;
	}
	closedir(d);
	assert_true(n >= 40);
}

static void
parse_ok(const struct buf *b, struct mm_msg *m)
{
	assert_int_equal(mm_parse(b->data, b->len, m), 0);
	assert_int_equal(m->status, MM_ST_OK);
}

static void
test_mm_request_builders_round_trip(void **state)
{
	struct buf b = BUF_INIT;
	struct mm_msg m;
	uint8_t nonce[MM_MAX_NONCE], data[100], sig[MM_MAX_SIG];

	memset(nonce, 0xab, sizeof(nonce));
	memset(data, 0x5a, sizeof(data));
	memset(sig, 0x30, sizeof(sig));

	assert_int_equal(mm_build_measure(&b, 7), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.cmd, MM_CMD_MEASURE);
	assert_false(m.reply);
	assert_int_equal(m.req.measure.target, 7);
	assert_memory_equal(b.data, mm_vigil_guid, MM_GUID_LEN);
	assert_int_equal(b.len, MM_HDR_LEN + MM_MSG_HDR_LEN + 4);

	b.len = 0;
	assert_int_equal(mm_build_read_log(&b, 42, MM_MAX_LOG_N), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.cmd, MM_CMD_READ_LOG);
	assert_int_equal(m.req.read_log.from_seq, 42);
	assert_int_equal(m.req.read_log.max_n, MM_MAX_LOG_N);

	b.len = 0;
	assert_int_equal(mm_build_sign_head(&b, nonce, sizeof(nonce)), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.req.sign_head.nonce_len, MM_MAX_NONCE);
	assert_memory_equal(m.req.sign_head.nonce, nonce, sizeof(nonce));

	b.len = 0;
	assert_int_equal(mm_build_provision(&b, data, sizeof(data)), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.cmd, MM_CMD_PROVISION);
	assert_int_equal(m.req.provision.blob_len, sizeof(data));
	assert_memory_equal(m.req.provision.blob, data, sizeof(data));

	b.len = 0;
	assert_int_equal(mm_build_use_key(&b, MM_OP_HMAC, "tenant-a", "k1",
	    data, sizeof(data)), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.cmd, MM_CMD_USE_KEY);
	assert_int_equal(m.cmd, 8);
	assert_int_equal(m.req.use_key.op, MM_OP_HMAC);
	assert_int_equal(m.req.use_key.tenant_len, 8);
	assert_memory_equal(m.req.use_key.tenant, "tenant-a", 8);
	assert_int_equal(m.req.use_key.id_len, 2);
	assert_memory_equal(m.req.use_key.id, "k1", 2);
	assert_int_equal(m.req.use_key.data_len, sizeof(data));
	/* The body: op, tenant, key id, data (mm.h). */
	assert_int_equal(b.len, MM_HDR_LEN + MM_MSG_HDR_LEN + 1 + 1 + 8 +
	    1 + 2 + 4 + sizeof(data));
	assert_memory_equal(b.data + MM_HDR_LEN + MM_MSG_HDR_LEN,
	    "\x02\x08tenant-a\x02k1", 13);

	b.len = 0;
	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, "t", "k", NULL, 0),
	    0);
	parse_ok(&b, &m);
	assert_int_equal(m.req.use_key.data_len, 0);

	b.len = 0;
	assert_int_equal(mm_build_get_pubkeys(&b), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.cmd, MM_CMD_GET_PUBKEYS);

	b.len = 0;
	assert_int_equal(mm_build_set_refs(&b, (const uint8_t *)"{}", 2, sig,
	    sizeof(sig)), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.req.set_refs.refs_len, 2);
	assert_int_equal(m.req.set_refs.sig_len, MM_MAX_SIG);
	buf_free(&b);
}

static void
test_mm_reply_builders_round_trip(void **state)
{
	struct buf b = BUF_INIT, ents = BUF_INIT;
	struct mm_msg r = { .reply = 1, .status = MM_ST_OK }, m;
	const uint8_t *e;
	size_t el;
	struct rd rd;

	r.cmd = MM_CMD_MEASURE;
	r.rep.measure.last_seq = 99;
	r.rep.measure.verdict = 1;
	r.rep.measure.changed = 3;
	assert_int_equal(mm_build(&r, &b), 0);
	parse_ok(&b, &m);
	assert_true(m.reply);
	assert_int_equal(m.rep.measure.last_seq, 99);
	assert_int_equal(m.rep.measure.verdict, 1);
	assert_int_equal(m.rep.measure.changed, 3);

	assert_int_equal(buf_add_u32le(&ents, 3), 0);
	assert_int_equal(buf_add(&ents, "abc", 3), 0);
	assert_int_equal(buf_add_u32le(&ents, 1), 0);
	assert_int_equal(buf_add(&ents, "z", 1), 0);
	b.len = 0;
	r.cmd = MM_CMD_READ_LOG;
	r.rep.read_log.n = 2;
	r.rep.read_log.entries = ents.data;
	r.rep.read_log.entries_len = ents.len;
	assert_int_equal(mm_build(&r, &b), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.rep.read_log.n, 2);
	rd_init(&rd, m.rep.read_log.entries, m.rep.read_log.entries_len);
	assert_int_equal(mm_log_entry_next(&rd, &e, &el), 0);
	assert_int_equal(el, 3);
	assert_memory_equal(e, "abc", 3);
	assert_int_equal(mm_log_entry_next(&rd, &e, &el), 0);
	assert_int_equal(el, 1);
	assert_int_equal(mm_log_entry_next(&rd, &e, &el), VIGIL_ENOTFOUND);

	b.len = 0;
	r.cmd = MM_CMD_GET_PUBKEYS;
	r.rep.pubkeys.log_pub = (const uint8_t *)"LOGKEY";
	r.rep.pubkeys.log_pub_len = 6;
	r.rep.pubkeys.wrap_pub = (const uint8_t *)"WRAP";
	r.rep.pubkeys.wrap_pub_len = 4;
	assert_int_equal(mm_build(&r, &b), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.rep.pubkeys.log_pub_len, 6);
	assert_memory_equal(m.rep.pubkeys.wrap_pub, "WRAP", 4);

	b.len = 0;
	r.cmd = MM_CMD_SET_REFS;
	r.rep.set_refs.version = 12;
	assert_int_equal(mm_build(&r, &b), 0);
	parse_ok(&b, &m);
	assert_int_equal(m.rep.set_refs.version, 12);
	buf_free(&b);
	buf_free(&ents);
}

static void
test_mm_error_reply_parses_even_for_unknown_command(void **state)
{
	struct buf b = BUF_INIT;
	struct mm_msg m;

	assert_int_equal(mm_build_error(&b, 0, MM_ST_UNKNOWN_CMD), 0);
	assert_int_equal(mm_parse(b.data, b.len, &m), 0);
	assert_true(m.reply);
	assert_int_equal(m.cmd, 0);
	assert_int_equal(m.status, MM_ST_UNKNOWN_CMD);
	assert_int_equal(b.len, MM_HDR_LEN + MM_MSG_HDR_LEN);
	b.len = 0;
	assert_int_equal(mm_build_error(&b, MM_CMD_USE_KEY, MM_ST_TAMPERED), 0);
	assert_int_equal(mm_parse(b.data, b.len, &m), 0);
	assert_int_equal(m.cmd, MM_CMD_USE_KEY);
	assert_int_equal(m.status, MM_ST_TAMPERED);
	assert_int_equal(mm_build_error(&b, 1, MM_ST_OK), VIGIL_EINVAL);
	buf_free(&b);
}

/* The retired USE_KEY (command 5, a key by id alone) is refused as
 * unsupported, however well formed its old body. */
static void
test_mm_use_key_v1_is_refused_as_unsupported(void **state)
{
	static const uint8_t body[] = {
		5, 0, 0, 0, 0, 0, 0, 0,		/* command 5, status 0 */
		MM_OP_HMAC, 2, 'k', '1',	/* op, key id */
		3, 0, 0, 0, 'a', 'b', 'c',	/* data */
	};
	struct buf b = BUF_INIT;
	struct mm_msg m;

	(void)state;
	assert_int_equal(buf_add(&b, mm_vigil_guid, MM_GUID_LEN), 0);
	assert_int_equal(buf_add_u64le(&b, sizeof(body)), 0);
	assert_int_equal(buf_add(&b, body, sizeof(body)), 0);
	assert_int_equal(mm_parse(b.data, b.len, &m), VIGIL_EUNSUPP);
	assert_int_equal(m.status, MM_ST_UNSUPPORTED);
	assert_int_equal(m.cmd, MM_CMD_USE_KEY_V1);
	assert_string_equal(mm_cmd_name(5), "use-key-v1");
	assert_string_equal(mm_cmd_name(MM_CMD_USE_KEY), "use-key");
	/* Nor can it be built. */
	{
		struct mm_msg q = { .cmd = MM_CMD_USE_KEY_V1 };

		b.len = 0;
		assert_int_equal(mm_build(&q, &b), VIGIL_EINVAL);
	}
	buf_free(&b);
}

/* Tenant and key id are both [A-Za-z0-9._-]. */
static void
test_mm_use_key_refuses_names_outside_the_alphabet(void **state)
{
	struct buf b = BUF_INIT;
	struct mm_msg m;

	(void)state;
	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, "ac/me", "k1",
	    NULL, 0), 0);
	assert_int_equal(mm_parse(b.data, b.len, &m), VIGIL_EINVAL);
	assert_int_equal(m.status, MM_ST_BAD_REQUEST);
	b.len = 0;
	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, "acme", "k 1",
	    NULL, 0), 0);
	assert_int_equal(mm_parse(b.data, b.len, &m), VIGIL_EINVAL);
	assert_int_equal(m.status, MM_ST_BAD_REQUEST);
	b.len = 0;
	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, "a.c_m-E9", "k1",
	    NULL, 0), 0);
	assert_int_equal(mm_parse(b.data, b.len, &m), 0);
	buf_free(&b);
}

static void
test_mm_every_truncation_of_valid_buffer_is_refused(void **state)
{
	struct buf b = BUF_INIT;
	struct mm_msg m;
	uint8_t data[40] = { 1 };
	size_t i;

	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, "tenant", "key",
	    data, sizeof(data)), 0);
	for (i = 0; i < b.len; i++)
		assert_int_not_equal(mm_parse(b.data, i, &m), 0);
	/* And with MessageLength fixed up to the truncated size. */
	for (i = MM_HDR_LEN; i < b.len; i++) {
		uint64_t n = i - MM_HDR_LEN;
		size_t k;

		for (k = 0; k < 8; k++)
			b.data[MM_GUID_LEN + k] = (uint8_t)(n >> (8 * k));
		assert_int_not_equal(mm_parse(b.data, i, &m), 0);
		assert_int_not_equal(m.status, MM_ST_OK);
	}
	buf_free(&b);
}

static void
test_mm_build_refuses_fields_over_limits(void **state)
{
	struct buf b = BUF_INIT;
	uint8_t big[MM_MAX_NONCE + 1] = { 0 };
	char id[MM_MAX_KEYID + 2];

	assert_int_equal(mm_build_sign_head(&b, big, sizeof(big)),
	    VIGIL_EINVAL);
	memset(id, 'k', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, "t", id, NULL, 0),
	    VIGIL_EINVAL);
	assert_int_equal(mm_build_use_key(&b, MM_OP_SIGN, id, "k", NULL, 0),
	    VIGIL_EINVAL);
	buf_free(&b);
}

static void
test_mm_frame_len_checks_guid_and_limit(void **state)
{
	struct buf b = BUF_INIT;
	size_t total = 0;

	assert_int_equal(mm_build_get_pubkeys(&b), 0);
	assert_int_equal(mm_frame_len(b.data, 10, &total), VIGIL_ETRUNC);
	assert_int_equal(mm_frame_len(b.data, b.len, &total), 0);
	assert_int_equal(total, b.len);
	b.data[MM_GUID_LEN + 3] = 0x10;		/* 256 MiB */
	assert_int_equal(mm_frame_len(b.data, b.len, &total), VIGIL_ETOOBIG);
	b.data[0] ^= 1;
	assert_int_equal(mm_frame_len(b.data, b.len, &total), VIGIL_EINVAL);
	buf_free(&b);
}

static void
test_mm_smi_transport_fails_clearly_without_firmware(void **state)
{
	struct mm_transport *t = (void *)1;

	assert_int_equal(mm_transport_open("smi", 0, &t), VIGIL_EUNSUPP);
	assert_null(t);
	assert_int_equal(mm_transport_open("smi:zz", 0, &t),
#if defined(__x86_64__)
	    VIGIL_EINVAL
#else
	    VIGIL_EUNSUPP
#endif
	    );
}

static void
test_mm_op_names_parse_back(void **state)
{
	uint8_t op;

	assert_int_equal(mm_op_parse("sign", &op), 0);
	assert_int_equal(op, MM_OP_SIGN);
	assert_int_equal(mm_op_parse("unwrap", &op), 0);
	assert_int_equal(op, MM_OP_UNWRAP);
	assert_int_equal(mm_op_parse("encrypt", &op), VIGIL_EINVAL);
	assert_string_equal(mm_status_name(MM_ST_TAMPERED), "tampered");
	assert_string_equal(mm_status_name(9999), "unknown");
}


/* One connection: read a request, answer GET_PUBKEYS, or an error. */
static void *
mm_test_server(void *arg)
{
	int lfd = *(int *)arg, c;
	struct buf req = BUF_INIT, rep = BUF_INIT;
	struct mm_msg m, r = { .reply = 1 };
	uid_t uid;
	pid_t pid;

	if ((c = accept(lfd, NULL, NULL)) < 0)
		return NULL;
	if (mm_sock_peer(c, &uid, &pid) == 0 && uid == getuid() &&
	    mm_sock_read(c, 2000, &req) == 0 &&
	    mm_parse(req.data, req.len, &m) == 0) {
		r.cmd = m.cmd;
		r.rep.pubkeys.log_pub = (const uint8_t *)"L";
		r.rep.pubkeys.log_pub_len = 1;
		r.rep.pubkeys.wrap_pub = (const uint8_t *)"W";
		r.rep.pubkeys.wrap_pub_len = 1;
		if (mm_build(&r, &rep) == 0)
			(void)mm_sock_write(c, rep.data, rep.len);
	}
	close(c);
	buf_free(&req);
	buf_free(&rep);
	return NULL;
}

static void
test_mm_socket_transport_round_trip(void **state)
{
	char dir[] = "/tmp/vigil-mm.XXXXXX", path[128];
	struct buf req = BUF_INIT, rep = BUF_INIT;
	struct mm_msg m;
	pthread_t th;
	int lfd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/smm.sock", dir);
	assert_int_equal(mm_sock_listen(path, &lfd), 0);
	assert_int_equal(pthread_create(&th, NULL, mm_test_server, &lfd), 0);
	assert_int_equal(mm_build_get_pubkeys(&req), 0);
	assert_int_equal(mm_call(path, 2000, req.data, req.len, &rep, &m), 0);
	assert_int_equal(m.status, MM_ST_OK);
	assert_int_equal(m.cmd, MM_CMD_GET_PUBKEYS);
	assert_int_equal(m.rep.pubkeys.wrap_pub[0], 'W');
	pthread_join(th, NULL);
	/* Nobody listening any more: an I/O error, not a hang. */
	rep.len = 0;
	assert_int_equal(mm_call(path, 500, req.data, req.len, &rep, &m),
	    VIGIL_EIO);
	close(lfd);
	unlink(path);
	rmdir(dir);
	buf_free(&req);
	buf_free(&rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mm_corpus_buffers_refused_with_named_status),
		cmocka_unit_test(test_mm_request_builders_round_trip),
		cmocka_unit_test(test_mm_reply_builders_round_trip),
		cmocka_unit_test(test_mm_error_reply_parses_even_for_unknown_command),
		cmocka_unit_test(test_mm_use_key_v1_is_refused_as_unsupported),
		cmocka_unit_test(test_mm_use_key_refuses_names_outside_the_alphabet),
		cmocka_unit_test(test_mm_every_truncation_of_valid_buffer_is_refused),
		cmocka_unit_test(test_mm_build_refuses_fields_over_limits),
		cmocka_unit_test(test_mm_frame_len_checks_guid_and_limit),
		cmocka_unit_test(test_mm_smi_transport_fails_clearly_without_firmware),
		cmocka_unit_test(test_mm_op_names_parse_back),
		cmocka_unit_test(test_mm_socket_transport_round_trip),
	};

	log_init("test_mm", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
