/* The agent's local Unix socket (DESIGN.md, "The agent's local socket").
 * Stream socket, mode 0666; every request is authorized by the caller's
 * uid from SO_PEERCRED: OP_STATUS for anyone, every other op only for the
 * uids in the allow list. Frames: a 4-byte big-endian length (at most
 * LOCALSOCK_MAX_FRAME) and a serialized LocalRequest; the answer is framed
 * the same way and holds a LocalReply. Every frame is hostile: a bad
 * length, a truncated frame or a timeout gets an error reply and the
 * connection is closed; garbage protobuf or an unknown op gets an error
 * reply. The server runs in its own thread. */
#ifndef VIGIL_AGENT_LOCALSOCK_H
#define VIGIL_AGENT_LOCALSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOCALSOCK_MAX_FRAME	(64u * 1024)
#define LOCALSOCK_TIMEOUT_MS	2000	/* to receive one whole frame */
#define LOCALSOCK_CONN_MAX_MS	10000	/* one connection at most */

struct localsock_status {
	char agent_id[65];	/* "" before registration */
	char status[32];	/* last status the verifier reported, or "" */
	uint64_t last_push_unix; /* 0: never */
	uint64_t spool_pending;
	uint64_t spool_epoch;
};

/* Called from the server thread; must be thread-safe. */
typedef int (*localsock_status_fn)(void *arg, struct localsock_status *out);

struct localsock;

/* Binds path (replacing a stale socket file, refusing if an agent already
 * answers there) and starts the server thread. allow: uids allowed the
 * privileged ops (copied). */
int localsock_start(const char *path, const uid_t *allow, size_t n_allow,
    localsock_status_fn status_fn, void *arg, struct localsock **out);
/* Stops the thread, closes and unlinks the socket. NULL is a no-op. */
void localsock_stop(struct localsock *ls);

/* OP_CHECKPOINT and OP_COMPUTATION_END (docs/record.md), validated by the
 * server before the callback sees them: id is 32 lowercase hex digits,
 * state and cumulative exactly CKPT_LEN bytes, a checkpoint's index >= 1. */
#define LOCALSOCK_CKPT_LEN 32

struct localsock_ckpt {
	int end;		/* 0: OP_CHECKPOINT, 1: OP_COMPUTATION_END */
	char id[33];
	uint64_t index;		/* checkpoint: i */
	uint8_t state[LOCALSOCK_CKPT_LEN];	/* checkpoint: state_i */
	uint8_t cum[LOCALSOCK_CKPT_LEN];	/* C_i, or the final C */
	int32_t exit_status;	/* end */
	uint64_t count;		/* end */
};

/* Called from the server thread for an allowed uid's request; must be
 * quick and thread-safe. Its non-zero return is the error reply. */
typedef int (*localsock_ckpt_fn)(void *arg, const struct localsock_ckpt *r);

/* Serves the two ops through fn (until set, they are refused with
 * VIGIL_EUNSUPP). May be called while the server runs. */
void localsock_set_ckpt_fn(struct localsock *ls, localsock_ckpt_fn fn,
    void *arg);

/* Client for the computation ops: one connection, reopened before the
 * server's per-connection limit. */
struct localsock_client;

/* VIGIL_EIO (err says why) if nobody answers at path. */
int localsock_client_open(const char *path, struct localsock_client **out,
    char *err, size_t errlen);
/* Sends r (OP_CHECKPOINT or, if r->end, OP_COMPUTATION_END) and waits for
 * the answer: 0, or the agent's error code with its message in err. */
int localsock_client_send(struct localsock_client *c,
    const struct localsock_ckpt *r, char *err, size_t errlen);
/* NULL is a no-op. */
void localsock_client_close(struct localsock_client *c);

/* Client: asks the agent at path for its status. VIGIL_EIO if nobody
 * answers; the agent's error code (with its message in err) if it refused. */
int localsock_query_status(const char *path, struct localsock_status *out,
    char *err, size_t errlen);

#endif
