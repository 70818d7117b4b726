/* The agent's local socket under hostile clients: every bad frame gets an
 * error reply or a clean close, and the server keeps answering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/localsock.h"
#include "err.h"
#include "vigil.pb-c.h"

struct fixture {
	char dir[64];
	char path[96];
	struct localsock *ls;
};

static int
fake_status(void *arg, struct localsock_status *out)
{
	snprintf(out->agent_id, sizeof(out->agent_id), "%s", "ab12");
	snprintf(out->status, sizeof(out->status), "%s", "affirming");
	out->last_push_unix = 1700000000;
	out->spool_pending = 3;
	out->spool_epoch = 42;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-sock.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/agent.sock", f->dir);
	/* Nobody is allowed privileged ops (status is for anyone). */
	if (localsock_start(f->path, NULL, 0, fake_status, NULL, &f->ls)
	    != 0) {
		rmdir(f->dir);
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

	localsock_stop(f->ls);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
send_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
send_frame(int fd, const void *p, uint32_t n)
{
	uint8_t hdr[4] = { n >> 24, n >> 16, n >> 8, n };

	send_raw(fd, hdr, 4);
	if (n > 0)
		send_raw(fd, p, n);
}

/* Reads one reply; NULL when the server closed without one. */
static Vigil__LocalReply *
read_reply(int fd)
{
	uint8_t hdr[4], body[4096];
	size_t got = 0, len;
	ssize_t r;

	while (got < 4) {
		r = recv(fd, hdr + got, 4 - got, 0);
		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | hdr[3];
	assert_true(len <= sizeof(body));
	for (got = 0; got < len; got += (size_t)r) {
		r = recv(fd, body + got, len - got, 0);
		assert_true(r > 0);
	}
	return vigil__local_reply__unpack(NULL, len, body);
}

static void
send_status(int fd)
{
	Vigil__LocalRequest req = VIGIL__LOCAL_REQUEST__INIT;
	uint8_t msg[16];
	size_t n;

	req.op = VIGIL__LOCAL_REQUEST__OP__OP_STATUS;
	n = vigil__local_request__pack(&req, msg);
	send_frame(fd, msg, (uint32_t)n);
}

/* A fresh connection gets a correct status reply. */
static void
assert_status_answered(const char *path)
{
	struct localsock_status st;
	char err[128];

	assert_int_equal(localsock_query_status(path, &st, err, sizeof(err)),
	    0);
	assert_string_equal(st.agent_id, "ab12");
	assert_string_equal(st.status, "affirming");
	assert_true(st.last_push_unix == 1700000000);
	assert_true(st.spool_pending == 3);
	assert_true(st.spool_epoch == 42);
}

static void
test_localsock_status_request_gets_reply(void **state)
{
	struct fixture *f = *state;
	Vigil__LocalReply *rep;
	struct stat st;
	int fd;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	fd = connect_to(f->path);
	send_status(fd);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, 0);
	assert_string_equal(rep->agent_id, "ab12");
	vigil__local_reply__free_unpacked(rep, NULL);
	/* A second request on the same connection works too. */
	send_status(fd);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_true(rep->spool_pending == 3);
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	assert_status_answered(f->path);
}

static void
test_localsock_oversize_length_gets_error_and_close(void **state)
{
	struct fixture *f = *state;
	const uint8_t hdr[4] = { 0x00, 0x01, 0x00, 0x01 };  /* 65537 */
	Vigil__LocalReply *rep;
	uint8_t c;
	int fd;

	fd = connect_to(f->path);
	send_raw(fd, hdr, 4);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, VIGIL_ETOOBIG);
	assert_non_null(strstr(rep->error, "65536"));
	vigil__local_reply__free_unpacked(rep, NULL);
	assert_int_equal(recv(fd, &c, 1, 0), 0);	/* closed */
	close(fd);
	assert_status_answered(f->path);
}

static void
test_localsock_truncated_frame_gets_error(void **state)
{
	struct fixture *f = *state;
	const uint8_t partial[6] = { 0, 0, 0, 10, 0x08, 0x01 };
	Vigil__LocalReply *rep;
	int fd;

	fd = connect_to(f->path);
	send_raw(fd, partial, sizeof(partial));
	shutdown(fd, SHUT_WR);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, VIGIL_ETRUNC);
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	/* A truncated header: 2 bytes then close. */
	fd = connect_to(f->path);
	send_raw(fd, partial, 2);
	shutdown(fd, SHUT_WR);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, VIGIL_ETRUNC);
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	assert_status_answered(f->path);
}

static void
test_localsock_silent_client_times_out(void **state)
{
	struct fixture *f = *state;
	const uint8_t partial[5] = { 0, 0, 0, 10, 0x08 };
	Vigil__LocalReply *rep;
	int fd;

	fd = connect_to(f->path);
	send_raw(fd, partial, sizeof(partial));
	rep = read_reply(fd);			/* after the timeout */
	assert_non_null(rep);
	assert_int_equal(rep->code, VIGIL_ESTALE);
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	assert_status_answered(f->path);
}

static void
test_localsock_silent_client_does_not_block_others(void **state)
{
	struct fixture *f = *state;
	const uint8_t partial[3] = { 0, 0, 0 };
	struct timespec t0, t1;
	long ms;
	int fd;

	fd = connect_to(f->path);
	send_raw(fd, partial, sizeof(partial));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_status_answered(f->path);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < LOCALSOCK_TIMEOUT_MS / 2);
	close(fd);
}

static void
test_localsock_garbage_bytes_get_error_reply(void **state)
{
	struct fixture *f = *state;
	const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
	    0x12, 0x99 };
	Vigil__LocalReply *rep;
	int fd;

	fd = connect_to(f->path);
	send_frame(fd, garbage, sizeof(garbage));
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, VIGIL_EINVAL);
	assert_non_null(strstr(rep->error, "LocalRequest"));
	vigil__local_reply__free_unpacked(rep, NULL);
	/* The connection still works after a garbage frame. */
	send_status(fd);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, 0);
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	assert_status_answered(f->path);
}

static void
test_localsock_unknown_op_gets_error_reply(void **state)
{
	struct fixture *f = *state;
	const uint8_t op77[] = { 0x08, 77 };	/* field 1 varint 77 */
	Vigil__LocalReply *rep;
	int fd;

	fd = connect_to(f->path);
	send_frame(fd, op77, sizeof(op77));
	rep = read_reply(fd);
	assert_non_null(rep);
	/* Our uid is not in the allow list: refused before anything else. */
	assert_int_equal(rep->code, VIGIL_EDENIED);
	vigil__local_reply__free_unpacked(rep, NULL);
	/* An empty frame decodes to OP_UNSPECIFIED: also an error. */
	send_frame(fd, "", 0);
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_true(rep->code < 0);
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	assert_status_answered(f->path);
}

static void
test_localsock_allowed_uid_gets_unknown_op_error(void **state)
{
	struct fixture *f = *state;
	const uint8_t op77[] = { 0x08, 77 };
	Vigil__LocalReply *rep;
	struct localsock *ls;
	uid_t allow[1];
	char path[128];
	int fd;

	allow[0] = getuid();
	snprintf(path, sizeof(path), "%s/allowed.sock", f->dir);
	assert_int_equal(localsock_start(path, allow, 1, fake_status, NULL,
	    &ls), 0);
	fd = connect_to(path);
	send_frame(fd, op77, sizeof(op77));
	rep = read_reply(fd);
	assert_non_null(rep);
	assert_int_equal(rep->code, VIGIL_EUNSUPP);
	assert_non_null(strstr(rep->error, "unknown op 77"));
	vigil__local_reply__free_unpacked(rep, NULL);
	close(fd);
	assert_status_answered(path);
	localsock_stop(ls);
}

static void
test_localsock_refuses_second_server_on_live_socket(void **state)
{
	struct fixture *f = *state;
	struct localsock *other = NULL;
	uid_t allow[1] = { 0 };

	assert_int_equal(localsock_start(f->path, allow, 1, fake_status, NULL,
	    &other), VIGIL_EEXIST);
	assert_null(other);
	assert_status_answered(f->path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_localsock_status_request_gets_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_oversize_length_gets_error_and_close, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_truncated_frame_gets_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_silent_client_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_silent_client_does_not_block_others, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_garbage_bytes_get_error_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_unknown_op_gets_error_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_allowed_uid_gets_unknown_op_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_localsock_refuses_second_server_on_live_socket,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
