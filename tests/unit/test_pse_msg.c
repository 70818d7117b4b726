/* vigil-psed's socket protocol (enclave/pse_msg.h): every message type
 * round-trips; the malformed corpus in tests/corpus/pse/ and truncations
 * are refused; framing refuses oversized frames before reading them. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "enclave/pse_msg.h"
#include "err.h"
#include "log.h"

#define B(s) { (const uint8_t *)(s), sizeof(s) - 1 }

static const uint8_t id32[32] = { 1, 2, 3 };

/* One valid message of every type and reply. */
static size_t
msgs(struct pse_msg *m)
{
	size_t n = 0;

	memset(m, 0, 12 * sizeof(*m));
	m[n++].type = PSE_PLATFORM_INFO;
	m[n].type = PSE_PLATFORM_INFO | PSE_REPLY;
	m[n].platform_id = (struct pse_bytes){ id32, 32 };
	m[n].platform_pub = (struct pse_bytes)B("spki");
	m[n].n_chain = 2;
	m[n].chain[0] = (struct pse_bytes)B("leaf");
	m[n].chain[1] = (struct pse_bytes)B("intermediate");
	m[n++].transport_pub = (struct pse_bytes)B("tspki");
	m[n++].type = PSE_CERTIFY_AK;
	m[n].type = PSE_CERTIFY_AK | PSE_REPLY;
	m[n++].binding = (struct pse_bytes)B("binding");
	m[n].type = PSE_ISSUE_EK_CERT;
	m[n].vm_id = (struct pse_bytes)B("vm-0123_abc.d");
	m[n++].ek_pub = (struct pse_bytes)B("ekpub");
	m[n].type = PSE_ISSUE_EK_CERT | PSE_REPLY;
	m[n].ek_cert = (struct pse_bytes)B("cert");
	m[n].n_chain = 1;
	m[n++].chain[0] = (struct pse_bytes)B("leaf");
	m[n++].type = PSE_MIG_TRANSPORT_KEY;
	m[n].type = PSE_MIG_TRANSPORT_KEY | PSE_REPLY;
	m[n].transport_pub = (struct pse_bytes)B("tspki");
	m[n].platform_id = (struct pse_bytes){ id32, 32 };
	m[n++].sig = (struct pse_bytes)B("sig");
	m[n].type = PSE_MIG_IMPORT;
	m[n].vm_id = (struct pse_bytes)B("vm1");
	m[n].source_node = (struct pse_bytes)B("node-a");
	m[n++].blob = (struct pse_bytes)B("blob");
	m[n].type = PSE_MIG_IMPORT | PSE_REPLY;
	m[n].state = (struct pse_bytes)B("state");
	m[n++].binding = (struct pse_bytes)B("binding");
	m[n].type = PSE_MIG_IMPORT | PSE_REPLY;
	m[n].status = PSE_ST_VERIFY;
	m[n++].detail = (struct pse_bytes)B("migration blob is for another VM");
	m[n].type = PSE_CERTIFY_AK | PSE_REPLY;
	m[n++].status = PSE_ST_NOT_READY;	/* empty detail */
	return n;
}

static void
same_bytes(const struct pse_bytes *a, const struct pse_bytes *b)
{
	assert_int_equal(a->len, b->len);
	if (a->len > 0)
		assert_memory_equal(a->p, b->p, a->len);
}

static void
test_pse_msg_every_type_round_trips(void **state)
{
	struct pse_msg m[12], p;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	size_t n = msgs(m), i, k;

	(void)state;
	for (i = 0; i < n; i++) {
		b.len = b2.len = 0;
		assert_int_equal(pse_msg_marshal(&m[i], &b), 0);
		assert_int_equal(pse_msg_parse(b.data, b.len, &p), 0);
		assert_int_equal(p.type, m[i].type);
		assert_int_equal(p.status, m[i].status);
		same_bytes(&p.vm_id, &m[i].vm_id);
		same_bytes(&p.source_node, &m[i].source_node);
		same_bytes(&p.ek_pub, &m[i].ek_pub);
		same_bytes(&p.blob, &m[i].blob);
		same_bytes(&p.platform_id, &m[i].platform_id);
		same_bytes(&p.platform_pub, &m[i].platform_pub);
		same_bytes(&p.transport_pub, &m[i].transport_pub);
		same_bytes(&p.sig, &m[i].sig);
		same_bytes(&p.binding, &m[i].binding);
		same_bytes(&p.ek_cert, &m[i].ek_cert);
		same_bytes(&p.state, &m[i].state);
		same_bytes(&p.detail, &m[i].detail);
		assert_int_equal(p.n_chain, m[i].n_chain);
		for (k = 0; k < p.n_chain; k++)
			same_bytes(&p.chain[k], &m[i].chain[k]);
		assert_int_equal(pse_msg_marshal(&p, &b2), 0);
		assert_int_equal(b.len, b2.len);
		assert_memory_equal(b.data, b2.data, b.len);
	}
	buf_free(&b);
	buf_free(&b2);
}

static void
test_pse_msg_rejects_every_truncation_and_trailing_byte(void **state)
{
	struct pse_msg m[12], p;
	struct buf b = BUF_INIT;
	size_t n = msgs(m), i, cut;

	(void)state;
	for (i = 0; i < n; i++) {
		b.len = 0;
		assert_int_equal(pse_msg_marshal(&m[i], &b), 0);
		for (cut = 0; cut < b.len; cut++)
			assert_int_not_equal(pse_msg_parse(b.data, cut, &p), 0);
		assert_int_equal(buf_add_u8(&b, 0), 0);
		assert_int_equal(pse_msg_parse(b.data, b.len, &p),
		    VIGIL_EINVAL);
	}
	buf_free(&b);
}

static void
test_pse_msg_marshal_refuses_what_parse_would(void **state)
{
	struct pse_msg m;
	struct buf b = BUF_INIT;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PSE_ISSUE_EK_CERT;
	m.vm_id = (struct pse_bytes)B("a/b");
	m.ek_pub = (struct pse_bytes)B("x");
	assert_int_equal(pse_msg_marshal(&m, &b), VIGIL_EINVAL);
	assert_int_equal(b.len, 0);
	m.vm_id = (struct pse_bytes)B("ok");
	m.ek_pub = (struct pse_bytes){ NULL, 0 };
	assert_int_equal(pse_msg_marshal(&m, &b), VIGIL_EINVAL);
	m.type = 77;
	assert_int_equal(pse_msg_marshal(&m, &b), VIGIL_EINVAL);
	m.type = PSE_PLATFORM_INFO;
	m.status = PSE_ST_VERIFY;	/* a request with a status */
	assert_int_equal(pse_msg_marshal(&m, &b), VIGIL_EINVAL);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_pse_msg_corpus_is_refused(void **state)
{
	char path[512];
	uint8_t data[8192];
	struct pse_msg p;
	struct dirent *de;
	size_t len, count = 0;
	FILE *f;
	DIR *d;

	(void)state;
	assert_non_null(d = opendir("tests/corpus/pse"));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".bin") == NULL)
			continue;
		snprintf(path, sizeof(path), "tests/corpus/pse/%s",
		    de->d_name);
		assert_non_null(f = fopen(path, "rb"));
		len = fread(data, 1, sizeof(data), f);
		fclose(f);
		if (pse_msg_parse(data, len, &p) == 0)
			fail_msg("corpus file %s was accepted", de->d_name);
		assert_int_equal(p.type, 0);	/* nothing returned */
		count++;
	}
	closedir(d);
	assert_true(count >= 20);
}

static void
test_pse_msg_recv_refuses_oversized_frame_before_reading(void **state)
{
	int sv[2];
	uint8_t hdr[4] = { 0x7f, 0xff, 0xff, 0xff };
	uint8_t zero[4] = { 0, 0, 0, 0 };
	struct buf body = BUF_INIT;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], hdr, 4), 4);
	assert_int_equal(pse_msg_recv(sv[1], 1000, &body), VIGIL_ETOOBIG);
	assert_int_equal(body.len, 0);
	assert_int_equal(write(sv[0], zero, 4), 4);
	assert_int_equal(pse_msg_recv(sv[1], 1000, &body), VIGIL_ETOOBIG);
	/* A frame announced but never sent times out. */
	hdr[0] = 0;
	hdr[1] = 0;
	hdr[2] = 0;
	hdr[3] = 10;
	assert_int_equal(write(sv[0], hdr, 4), 4);
	assert_int_equal(pse_msg_recv(sv[1], 200, &body), VIGIL_ESTALE);
	close(sv[0]);
	close(sv[1]);
	buf_free(&body);
}

static void
test_pse_msg_send_recv_over_socket(void **state)
{
	struct pse_msg m[12], p;
	struct buf body = BUF_INIT;
	int sv[2];

	(void)state;
	msgs(m);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pse_msg_send(sv[0], &m[4]), 0);
	assert_int_equal(pse_msg_recv(sv[1], 1000, &body), 0);
	assert_int_equal(pse_msg_parse(body.data, body.len, &p), 0);
	assert_int_equal(p.type, PSE_ISSUE_EK_CERT);
	assert_int_equal(p.vm_id.len, strlen("vm-0123_abc.d"));
	close(sv[0]);
	assert_int_equal(pse_msg_recv(sv[1], 1000, &body), VIGIL_EIO);
	close(sv[1]);
	buf_free(&body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pse_msg_every_type_round_trips),
		cmocka_unit_test(test_pse_msg_rejects_every_truncation_and_trailing_byte),
		cmocka_unit_test(test_pse_msg_marshal_refuses_what_parse_would),
		cmocka_unit_test(test_pse_msg_corpus_is_refused),
		cmocka_unit_test(test_pse_msg_recv_refuses_oversized_frame_before_reading),
		cmocka_unit_test(test_pse_msg_send_recv_over_socket),
	};

	log_init("test_pse_msg", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
