/* How an MM Communicate buffer (mm.h) reaches the SMM service: one
 * interface, two transports.
 *
 *  - "unix:PATH" (or a bare PATH): the emulator, vigil-smmd's Unix stream
 *    socket. The stream carries whole MM Communicate buffers back to back;
 *    each buffer's own header (MessageLength) delimits it, so there is no
 *    extra framing. One request, one reply, then either side may close.
 *    vigil-smmd knows the caller by SO_PEERCRED.
 *  - "smi" or "smi:0xADDR": real firmware. The buffer is copied into the
 *    MM communication buffer at the physical address the firmware publishes
 *    (the UEFI variable MM_SMI_ADDR_VAR, u64 little-endian; or ADDR given
 *    explicitly), then a software SMI is raised by writing MM_SMI_COMMAND to
 *    the APM control port 0xB2; the reply is read back from the same
 *    buffer. Needs x86-64, root (iopl/ioperm, /dev/mem) and a firmware with
 *    Vigil's MM handler: where any of these is missing mm_transport_open
 *    fails with VIGIL_EUNSUPP and a log line saying which one. */
#ifndef VIGIL_SMM_TRANSPORT_H
#define VIGIL_SMM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define MM_APM_CNT_PORT	0xB2
#define MM_SMI_COMMAND	0x56	/* the value written to port 0xB2 */
/* efivarfs name of the variable holding the buffer's physical address. */
#define MM_SMI_ADDR_VAR \
	"/sys/firmware/efi/efivars/VigilMmCommBuffer-7a3c9e51-0b6d-4f2a-8e15-c4d2b9a0f317"
/* Default socket when none is configured. */
#define MM_DEFAULT_SOCKET "/run/vigil/smm.sock"

struct mm_transport;

/* spec: "unix:PATH", a path, "smi" or "smi:0xADDR" (above). timeout_ms
 * bounds one call on the socket transport (0: 30 s). */
int mm_transport_open(const char *spec, int timeout_ms,
    struct mm_transport **out);
/* Sends one complete request buffer and receives one complete reply
 * buffer (appended to reply; at most MM_MAX_BUF bytes; its header checked
 * by mm_frame_len, its contents still to be parsed with mm_parse). */
int mm_transport_call(struct mm_transport *t, const uint8_t *req,
    size_t req_len, struct buf *reply);
/* mm_transport_close(NULL) is a no-op. */
void mm_transport_close(struct mm_transport *t);

struct mm_msg;
/* One request on a fresh transport (open, call, close), the reply parsed:
 * on 0, *msg is a reply to req's command (pointers into reply, which the
 * caller frees) and msg->status says whether the service granted it.
 * VIGIL_EIO when no valid reply came. For the agent: e.g. SIGN_HEAD with
 * the push nonce, READ_LOG from the last spooled sequence. */
int mm_call(const char *spec, int timeout_ms, const uint8_t *req,
    size_t req_len, struct buf *reply, struct mm_msg *msg);

/* The server side of the socket transport (vigil-smmd). */

/* Creates, binds and listens on a Unix stream socket at path (an old
 * socket file there is removed), mode 0666 so any local user may call
 * (authorization is per key, by SO_PEERCRED). */
int mm_sock_listen(const char *path, int *fd);
/* Reads one buffer from a connected stream: its header, then
 * MessageLength bytes, each read bounded by timeout_ms. VIGIL_EIO on EOF
 * or timeout, VIGIL_EINVAL / VIGIL_ETOOBIG for a header mm_frame_len
 * refuses (the connection should then be answered and closed). */
int mm_sock_read(int fd, int timeout_ms, struct buf *out);
int mm_sock_write(int fd, const uint8_t *p, size_t len);
/* The peer's uid and pid (SO_PEERCRED). */
int mm_sock_peer(int fd, uid_t *uid, pid_t *pid);

#endif
