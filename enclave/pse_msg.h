/* The local socket protocol of vigil-psed (the emulated platform service
 * enclave, PSE, and migration enclave, MigE). docs/pse.md has the same
 * tables for people who do not read C.
 *
 * Transport: a Unix stream socket. Each message, either direction, is one
 * frame:
 *
 *   u32be body length (1 .. PSE_MSG_MAX)  ||  body
 *
 * and a connection carries any number of request/reply pairs, one at a
 * time. The body is length-prefixed binary, big-endian, no padding:
 *
 *   u32be magic   PSE_MSG_MAGIC ("VPSE")
 *   u16be version PSE_MSG_VERSION (1)
 *   u16be type    a pse_msg_type below (replies: request type | PSE_REPLY)
 *   u32be status  replies: a pse_status; requests: must be 0
 *   fields of the type, in the order of the table, each as
 *     "str"  u16be length || bytes       (length within the field's limit)
 *     "blob" u32be length || bytes       (length within the field's limit)
 *     "certs" u8 count (1 .. PSE_MAX_CERTS) || count × (u32be len || DER)
 *   nothing after the last field.
 *
 * A reply whose status is not PSE_ST_OK carries exactly one field instead,
 * "detail" (str, 0 .. PSE_MAX_DETAIL printable ASCII bytes) naming what
 * failed; its type is still request type | PSE_REPLY.
 *
 * | type                     | request fields         | reply fields (OK)              |
 * |--------------------------|------------------------|--------------------------------|
 * | PSE_PLATFORM_INFO (1)    | -                      | platform_id (blob, 32)         |
 * |                          |                        | platform_pub (blob, SPKI DER)  |
 * |                          |                        | chain (certs, leaf first)      |
 * |                          |                        | transport_pub (blob, SPKI DER) |
 * | PSE_CERTIFY_AK (2)       | -                      | binding (blob, binding_marshal)|
 * | PSE_ISSUE_EK_CERT (3)    | vm_id (str)            | ek_cert (blob, DER)            |
 * |                          | ek_pub (blob, TPM2B_PUBLIC) | chain (certs, leaf first) |
 * | PSE_MIG_TRANSPORT_KEY (4)| -                      | transport_pub (blob, SPKI DER) |
 * |                          |                        | platform_id (blob, 32)         |
 * |                          |                        | sig (blob, ECDSA DER by the    |
 * |                          |                        |   platform key, see below)     |
 * | PSE_MIG_IMPORT (5)       | vm_id (str)            | state (blob, migblob plaintext:|
 * |                          | source_node (str)      |   the vTPM's swtpm state files)|
 * |                          | blob (blob, migblob)   | binding (blob, binding_marshal)|
 *
 * PSE_CERTIFY_AK takes no input on purpose: the PSE signs the AK it reads
 * from the "MSR" (the write-once file the boot step filled), never one the
 * caller names. PSE_MIG_TRANSPORT_KEY's sig is ECDSA P-256/SHA-256 by the
 * platform attestation key over
 *   "vigil-pse-transport-key-v1" (26 bytes) || platform_id (32) ||
 *   SHA-256(transport_pub SPKI DER) (32)
 * so a source node can check, with the platform's certificate chain, that
 * the transport key belongs to that attested platform
 * (enclave/pse_server.h: pse_transport_tbs, pse_transport_verify).
 * PSE_MIG_IMPORT checks the blob's associated data (enclave/migblob.h)
 * against vm_id, source_node and its own transport key; a mismatch or a
 * failed decryption is PSE_ST_VERIFY. On success the reply hands the
 * caller (the agent, which runs the vTPM's swtpm) the state to start the
 * vTPM from and the local platform's binding, which replaces the source's.
 *
 * Strings (vm_id, source_node): 1 .. PSE_MAX_ID bytes of [A-Za-z0-9._-].
 * Every buffer given to pse_msg_parse is hostile: lengths are checked
 * before anything is read, each failure is logged naming the check, and
 * parsed fields point into the caller's buffer (no copy). */
#ifndef VIGIL_PSE_MSG_H
#define VIGIL_PSE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PSE_MSG_MAGIC		0x56505345u	/* "VPSE" */
#define PSE_MSG_VERSION		1u
#define PSE_REPLY		0x8000u
/* Largest frame body: a migration blob of a vTPM's state with headroom. */
#define PSE_MSG_MAX		(2u * 1024 * 1024)
#define PSE_MAX_ID		64u	/* vm_id, source_node */
#define PSE_MAX_DETAIL		256u
#define PSE_MAX_CERTS		4u
#define PSE_MAX_CERT		8192u	/* one DER certificate */
#define PSE_MAX_PUB		1024u	/* SPKI DER, TPM2B_PUBLIC */
#define PSE_MAX_SIG		128u	/* ECDSA P-256 DER signature */
#define PSE_MAX_BINDING		(40u * 1024)
#define PSE_MAX_BLOB		(PSE_MSG_MAX - 1024)	/* migblob, state */
#define PSE_PLATFORM_ID_LEN	32u

enum pse_msg_type {
	PSE_PLATFORM_INFO = 1,
	PSE_CERTIFY_AK = 2,
	PSE_ISSUE_EK_CERT = 3,
	PSE_MIG_TRANSPORT_KEY = 4,
	PSE_MIG_IMPORT = 5,
};

enum pse_status {
	PSE_ST_OK = 0,
	PSE_ST_BAD_REQUEST = 1,	/* malformed or unknown request */
	PSE_ST_DENIED = 2,	/* caller not allowed (SO_PEERCRED) */
	PSE_ST_NOT_READY = 3,	/* keys not unsealed, no MSR */
	PSE_ST_VERIFY = 4,	/* a blob or key failed its check */
	PSE_ST_INTERNAL = 5,	/* the PSE failed (crypto, I/O) */
	PSE_ST_MAX = 5,
};

/* A byte field; p points into the parsed buffer (or the caller's data
 * when building). len 0 with p NULL: absent. */
struct pse_bytes {
	const uint8_t *p;
	size_t len;
};

/* One message, request or reply. Which fields are set depends on type and
 * status (table above); the others are zero. */
struct pse_msg {
	uint16_t type;			/* with PSE_REPLY for replies */
	uint32_t status;		/* enum pse_status; 0 in requests */
	struct pse_bytes detail;	/* error replies only */
	struct pse_bytes vm_id;
	struct pse_bytes source_node;
	struct pse_bytes ek_pub;
	struct pse_bytes blob;		/* PSE_MIG_IMPORT request */
	struct pse_bytes platform_id;
	struct pse_bytes platform_pub;
	struct pse_bytes transport_pub;
	struct pse_bytes sig;
	struct pse_bytes binding;
	struct pse_bytes ek_cert;
	struct pse_bytes state;
	size_t n_chain;
	struct pse_bytes chain[PSE_MAX_CERTS];
};

/* Parses one frame body (without the u32 length prefix). Exactly the
 * fields of m->type/status must be present, each within its limit, and
 * nothing may follow: VIGIL_ETRUNC for a short buffer, VIGIL_EINVAL for a
 * bad magic, version, type, status, identifier or count, VIGIL_ETOOBIG for
 * a field over its limit. *out is zeroed first; on success its fields
 * point into buf, which must outlive it. */
int pse_msg_parse(const uint8_t *buf, size_t len, struct pse_msg *out);

/* Appends the body of m (no length prefix) to out, checking the same
 * rules as pse_msg_parse (so a message that marshals also parses). */
int pse_msg_marshal(const struct pse_msg *m, struct buf *out);

/* Framing on a connected stream socket: writes u32be length || body;
 * reads one frame into *body (caller frees with buf_free), refusing a
 * length of 0 or over PSE_MSG_MAX (VIGIL_ETOOBIG) before reading it.
 * timeout_ms bounds the whole read (0: no bound); VIGIL_EIO on EOF or a
 * socket error, VIGIL_ESTALE on timeout. */
int pse_msg_send(int fd, const struct pse_msg *m);
int pse_msg_recv(int fd, int timeout_ms, struct buf *body);

/* A client call: connects to the Unix socket at path, sends req, reads
 * and parses the reply into *reply whose fields point into *raw (caller
 * frees raw with buf_free). A reply of the wrong type is VIGIL_EINVAL; a
 * reply with a non-OK status is returned as parsed (check reply->status)
 * and logged with its detail. */
int pse_msg_call(const char *path, const struct pse_msg *req,
    struct pse_msg *reply, struct buf *raw);

/* "PLATFORM_INFO", ... for logs; "unknown" otherwise. */
const char *pse_msg_type_name(uint16_t type);
/* Is s (len bytes) a valid vm_id / source_node identifier? */
int pse_msg_id_valid(const uint8_t *s, size_t len);

#endif
