/* The SMM bridge's messages: UEFI MM Communicate buffers (PI spec vol. 4,
 * EFI_MM_COMMUNICATE_HEADER) carrying Vigil's requests and replies.
 *
 * A buffer, all integers little-endian:
 *
 *   off  size  field
 *     0    16  HeaderGuid: the handler's GUID in EFI binary layout
 *              (Data1 u32 LE, Data2 u16 LE, Data3 u16 LE, Data4 8 bytes);
 *              Vigil's is MM_VIGIL_GUID_STR, bytes in mm_vigil_guid
 *    16     8  MessageLength (u64): bytes of message that follow
 *    24     n  the message
 *
 * The message:
 *
 *     0     4  command (u32): MM_CMD_*; a reply has MM_REPLY set
 *     4     4  status (u32): MM_ST_*; 0 in requests
 *     8     -  the body of that command (below); a reply whose status is
 *              not MM_ST_OK has an empty body
 *
 * Bodies (strings are not NUL-terminated; every length is checked against
 * its MM_MAX_* limit):
 *
 *   MEASURE      req:   u32 target (index in vigil-smmd's config order,
 *                       MM_TARGET_ALL for all targets)
 *                reply: u64 last_seq (the last log entry it appended),
 *                       u32 verdict (SMMLOG_VERDICT_* worst of all
 *                       regions), u32 changed (changed pages, all regions)
 *   READ_LOG     req:   u64 from_seq (first sequence wanted, >= 1),
 *                       u32 max_n (1..MM_MAX_LOG_N)
 *                reply: u32 n, then n times (u32 len, len bytes of one
 *                       log entry, smmlog.h), consecutive sequences from
 *                       from_seq; n = 0 when from_seq is past the end
 *   SIGN_HEAD    req:   u8 nonce_len (1..MM_MAX_NONCE), nonce
 *                reply: u32 len, len bytes of a signed head (smmlog.h)
 *   PROVISION    req:   u32 len (1..MM_MAX_BLOB), a wrapped key (keywrap.h)
 *                reply: u8 id_len, key id (the provisioned key's)
 *   USE_KEY      (command 8) req: u8 op (MM_OP_*), u8 tenant_len
 *                       (1..MM_MAX_TENANT), tenant, u8 id_len
 *                       (1..MM_MAX_KEYID), key id (both [A-Za-z0-9._-]:
 *                       a key is named by (tenant, key id)), u32 data_len
 *                       (0..MM_MAX_DATA), data
 *                reply: u32 out_len, out (signature DER / HMAC / unwrapped
 *                       bytes, see docs/smm.md)
 *   USE_KEY_V1   (command 5, retired: it named the key by id alone)
 *                refused by mm_parse with MM_ST_UNSUPPORTED, whatever
 *                its body
 *   GET_PUBKEYS  req:   empty
 *                reply: u16 len, log-signing public key (DER
 *                       SubjectPublicKeyInfo, P-256), u16 len, key-wrapping
 *                       public key (same form). These exact bytes are the
 *                       data of the PCR 2 events.
 *   SET_REFS     req:   u32 len (1..MM_MAX_REFS), reference set (JSON,
 *                       docs/smm.md), u16 sig_len (1..MM_MAX_SIG), ECDSA
 *                       P-256/SHA-256 DER signature by the verifier's key
 *                       over exactly those JSON bytes
 *                reply: u64 version (the set now in force)
 *
 * Parsing: a message must use its whole MessageLength (trailing bytes are
 * an error), MessageLength must be <= MM_MAX_MSG and must not exceed the
 * bytes given. */
#ifndef VIGIL_SMM_MM_H
#define VIGIL_SMM_MM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MM_GUID_LEN	16
#define MM_HDR_LEN	24			/* GUID + MessageLength */
#define MM_MSG_HDR_LEN	8			/* command + status */
#define MM_MAX_MSG	(1024u * 1024)		/* MessageLength limit */
#define MM_MAX_BUF	(MM_HDR_LEN + MM_MAX_MSG)
#define MM_MAX_LOG_N	256u
#define MM_MAX_NONCE	64u
#define MM_MAX_BLOB	(16u * 1024)
#define MM_MAX_KEYID	64u
#define MM_MAX_TENANT	64u
#define MM_MAX_DATA	(64u * 1024)
#define MM_MAX_OUT	(64u * 1024)
#define MM_MAX_PUBKEY	512u
#define MM_MAX_REFS	(256u * 1024)
#define MM_MAX_SIG	128u
#define MM_MAX_HEAD	512u
#define MM_MAX_ENTRY	(16u * 1024)
#define MM_TARGET_ALL	0xffffffffu

/* "7a3c9e51-0b6d-4f2a-8e15-c4d2b9a0f317" */
#define MM_VIGIL_GUID_STR "7a3c9e51-0b6d-4f2a-8e15-c4d2b9a0f317"
extern const uint8_t mm_vigil_guid[MM_GUID_LEN];

#define MM_REPLY 0x80000000u

enum mm_cmd {
	MM_CMD_MEASURE = 1,
	MM_CMD_READ_LOG = 2,
	MM_CMD_SIGN_HEAD = 3,
	MM_CMD_PROVISION = 4,
	MM_CMD_USE_KEY_V1 = 5,		/* retired: refused (unsupported) */
	MM_CMD_GET_PUBKEYS = 6,
	MM_CMD_SET_REFS = 7,
	MM_CMD_USE_KEY = 8,		/* names (tenant, key id) */
};
#define MM_CMD_LAST MM_CMD_USE_KEY

/* Status codes, in replies (and in mm_msg.status when mm_parse fails). */
enum mm_status {
	MM_ST_OK = 0,
	MM_ST_BAD_GUID = 1,		/* not Vigil's handler GUID */
	MM_ST_BAD_LENGTH = 2,		/* MessageLength > buffer or limit */
	MM_ST_TRUNCATED = 3,		/* a field runs past the message */
	MM_ST_UNKNOWN_CMD = 4,
	MM_ST_BAD_REQUEST = 5,		/* a field out of range / trailing */
	MM_ST_DENIED = 6,		/* caller not allowed by key policy */
	MM_ST_TAMPERED = 7,		/* measurement does not match */
	MM_ST_NOT_FOUND = 8,		/* no such key / target */
	MM_ST_OP_REFUSED = 9,		/* operation not allowed for the key */
	MM_ST_STALE = 10,		/* reference set older than current */
	MM_ST_BAD_SIGNATURE = 11,	/* refs or wrapped key do not verify */
	MM_ST_INTERNAL = 12,		/* the service failed; see its log */
	MM_ST_UNSUPPORTED = 13,
	MM_ST_NO_REFERENCE = 14,	/* no reference to compare with */
	MM_ST_EXISTS = 15,		/* key id already provisioned */
};

/* Key operations (USE_KEY op; also the keywrap.h policy bits 1 << op). */
enum mm_op {
	MM_OP_SIGN = 1,		/* ECDSA P-256/SHA-256 of data, DER signature */
	MM_OP_HMAC = 2,		/* HMAC-SHA256(secret, data), 32 bytes */
	MM_OP_UNWRAP = 3,	/* AES-256 key unwrap with padding (RFC 5649) */
};

/* A parsed message. Every pointer points into the buffer given to
 * mm_parse (no copy): the buffer must outlive the struct. */
struct mm_msg {
	uint32_t cmd;		/* without MM_REPLY */
	int reply;		/* 1 if MM_REPLY was set */
	uint32_t status;	/* MM_ST_* */
	union {
		struct { uint32_t target; } measure;
		struct { uint64_t from_seq; uint32_t max_n; } read_log;
		struct { const uint8_t *nonce; size_t nonce_len; } sign_head;
		struct { const uint8_t *blob; size_t blob_len; } provision;
		struct {
			uint8_t op;
			const uint8_t *tenant; size_t tenant_len;
			const uint8_t *id; size_t id_len;
			const uint8_t *data; size_t data_len;
		} use_key;
		struct {
			const uint8_t *refs; size_t refs_len;
			const uint8_t *sig; size_t sig_len;
		} set_refs;
	} req;
	union {
		struct {
			uint64_t last_seq;
			uint32_t verdict;
			uint32_t changed;
		} measure;
		/* n entries, each u32 len + bytes; iterate with
		 * mm_log_entry_next over (entries, entries_len). */
		struct {
			uint32_t n;
			const uint8_t *entries; size_t entries_len;
		} read_log;
		struct { const uint8_t *head; size_t head_len; } sign_head;
		struct { const uint8_t *id; size_t id_len; } provision;
		struct { const uint8_t *out; size_t out_len; } use_key;
		struct {
			const uint8_t *log_pub; size_t log_pub_len;
			const uint8_t *wrap_pub; size_t wrap_pub_len;
		} pubkeys;
		struct { uint64_t version; } set_refs;
	} rep;
};

/* Parses one whole buffer (header and message). On success returns 0 and
 * fills *out. On failure returns VIGIL_EINVAL / VIGIL_ETRUNC /
 * VIGIL_ETOOBIG / VIGIL_EUNSUPP (unknown command), logs the failed check
 * and sets out->status to the MM_ST_* code a server answers with (and
 * out->cmd to the command when it was readable, else 0). Never reads
 * outside buf[0..len). */
int mm_parse(const uint8_t *buf, size_t len, struct mm_msg *out);

/* The total buffer length the header at buf announces (MM_HDR_LEN +
 * MessageLength), for stream transports: VIGIL_ETRUNC if len <
 * MM_HDR_LEN, VIGIL_EINVAL for a bad GUID, VIGIL_ETOOBIG over MM_MAX_MSG. */
int mm_frame_len(const uint8_t *buf, size_t len, size_t *total);

/* Walks a READ_LOG reply's entries: r starts over (entries, entries_len);
 * each call gives the next entry. VIGIL_ENOTFOUND at the end. */
struct rd;
int mm_log_entry_next(struct rd *r, const uint8_t **entry, size_t *len);

/* Serializes m (request if !m->reply, reply otherwise; a reply whose status
 * is not MM_ST_OK gets an empty body) into a complete buffer appended to
 * out. VIGIL_EINVAL if a field is over its limit. */
int mm_build(const struct mm_msg *m, struct buf *out);

/* Request builders (append a whole buffer to out). */
int mm_build_measure(struct buf *out, uint32_t target);
int mm_build_read_log(struct buf *out, uint64_t from_seq, uint32_t max_n);
int mm_build_sign_head(struct buf *out, const uint8_t *nonce,
    size_t nonce_len);
int mm_build_provision(struct buf *out, const uint8_t *blob, size_t len);
int mm_build_use_key(struct buf *out, uint8_t op, const char *tenant,
    const char *key_id, const uint8_t *data, size_t data_len);
int mm_build_get_pubkeys(struct buf *out);
int mm_build_set_refs(struct buf *out, const uint8_t *refs, size_t refs_len,
    const uint8_t *sig, size_t sig_len);
/* An error reply: command cmd (0 if unknown), status st, empty body. */
int mm_build_error(struct buf *out, uint32_t cmd, uint32_t st);

/* Names for logs and the CLI ("measure", "bad-guid", "sign"). */
const char *mm_cmd_name(uint32_t cmd);
const char *mm_status_name(uint32_t st);
const char *mm_op_name(uint32_t op);
/* Parses "sign" / "hmac" / "unwrap". */
int mm_op_parse(const char *s, uint8_t *op);

#endif
