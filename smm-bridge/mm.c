/* MM Communicate buffers: parser and builders (layout in mm.h). Every
 * buffer is hostile: each read goes through common/rd.h, each length is
 * checked against its limit, and a rejected buffer names its failed check
 * and gets an MM_ST_* status, never a crash. */
#include <string.h>

#include "err.h"
#include "log.h"
#include "mm.h"
#include "rd.h"

/* 7a3c9e51-0b6d-4f2a-8e15-c4d2b9a0f317 in EFI binary layout. */
const uint8_t mm_vigil_guid[MM_GUID_LEN] = {
	0x51, 0x9e, 0x3c, 0x7a, 0x6d, 0x0b, 0x2a, 0x4f,
	0x8e, 0x15, 0xc4, 0xd2, 0xb9, 0xa0, 0xf3, 0x17,
};

/* Records why parsing failed: the status a server answers with. */
static int
mm_fail(struct mm_msg *m, uint32_t st, int err, const char *check)
{
	log_warn("mm: buffer refused: %s (status=%s)", check,
	    mm_status_name(st));
	m->status = st;
	return err;
}

int
mm_frame_len(const uint8_t *buf, size_t len, size_t *total)
{
	struct rd r;
	uint64_t n;

	if (len < MM_HDR_LEN)
		return VIGIL_ETRUNC;
	if (memcmp(buf, mm_vigil_guid, MM_GUID_LEN) != 0)
		return VIGIL_EINVAL;
	rd_init(&r, buf + MM_GUID_LEN, len - MM_GUID_LEN);
	if (rd_u64le(&r, &n) != 0)
		return VIGIL_ETRUNC;
	if (n > MM_MAX_MSG)
		return VIGIL_ETOOBIG;
	*total = MM_HDR_LEN + (size_t)n;
	return 0;
}

/* u8/u16/u32 length-prefixed field with bounds [lo, hi]. */
static int
mm_rd_var(struct rd *r, int width, size_t lo, size_t hi,
    const uint8_t **p, size_t *n)
{
	uint8_t l8;
	uint16_t l16;
	uint32_t l32;
	size_t l;
	int e;

	if (width == 1)
		e = rd_u8(r, &l8), l = l8;
	else if (width == 2)
		e = rd_u16le(r, &l16), l = l16;
	else
		e = rd_u32le(r, &l32), l = l32;
	if (e != 0)
		return VIGIL_ETRUNC;
	if (l < lo || l > hi)
		return VIGIL_EINVAL;
	if (rd_bytes(r, l, p) != 0)
		return VIGIL_ETRUNC;
	*n = l;
	return 0;
}

/* A tenant or key id: [A-Za-z0-9._-] (keywrap.h). */
static int
mm_name_ok(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
		    p[i] == '_' || p[i] == '-'))
			return 0;
	return 1;
}

static int
mm_parse_req(struct rd *r, struct mm_msg *m)
{
	switch (m->cmd) {
	case MM_CMD_MEASURE:
		return rd_u32le(r, &m->req.measure.target);
	case MM_CMD_READ_LOG:
		if (rd_u64le(r, &m->req.read_log.from_seq) != 0 ||
		    rd_u32le(r, &m->req.read_log.max_n) != 0)
			return VIGIL_ETRUNC;
		if (m->req.read_log.from_seq == 0 ||
		    m->req.read_log.max_n == 0 ||
		    m->req.read_log.max_n > MM_MAX_LOG_N)
			return VIGIL_EINVAL;
		return 0;
	case MM_CMD_SIGN_HEAD:
		return mm_rd_var(r, 1, 1, MM_MAX_NONCE,
		    &m->req.sign_head.nonce, &m->req.sign_head.nonce_len);
	case MM_CMD_PROVISION:
		return mm_rd_var(r, 4, 1, MM_MAX_BLOB,
		    &m->req.provision.blob, &m->req.provision.blob_len);
	case MM_CMD_USE_KEY: {
		int e;

		if (rd_u8(r, &m->req.use_key.op) != 0)
			return VIGIL_ETRUNC;
		if (m->req.use_key.op < MM_OP_SIGN ||
		    m->req.use_key.op > MM_OP_UNWRAP)
			return VIGIL_EINVAL;
		if ((e = mm_rd_var(r, 1, 1, MM_MAX_TENANT,
		    &m->req.use_key.tenant, &m->req.use_key.tenant_len)) != 0)
			return e;
		if (!mm_name_ok(m->req.use_key.tenant,
		    m->req.use_key.tenant_len))
			return VIGIL_EINVAL;
		if ((e = mm_rd_var(r, 1, 1, MM_MAX_KEYID, &m->req.use_key.id,
		    &m->req.use_key.id_len)) != 0)
			return e;
		if (!mm_name_ok(m->req.use_key.id, m->req.use_key.id_len))
			return VIGIL_EINVAL;
		return mm_rd_var(r, 4, 0, MM_MAX_DATA, &m->req.use_key.data,
		    &m->req.use_key.data_len);
	}
	case MM_CMD_GET_PUBKEYS:
		return 0;
	case MM_CMD_SET_REFS: {
		int e;

		if ((e = mm_rd_var(r, 4, 1, MM_MAX_REFS, &m->req.set_refs.refs,
		    &m->req.set_refs.refs_len)) != 0)
			return e;
		return mm_rd_var(r, 2, 1, MM_MAX_SIG, &m->req.set_refs.sig,
		    &m->req.set_refs.sig_len);
	}
	}
	return VIGIL_EUNSUPP;
}

static int
mm_parse_rep(struct rd *r, struct mm_msg *m)
{
	int e;

	if (m->status != MM_ST_OK)
		return 0;	/* error replies have no body */
	switch (m->cmd) {
	case MM_CMD_MEASURE:
		if (rd_u64le(r, &m->rep.measure.last_seq) != 0 ||
		    rd_u32le(r, &m->rep.measure.verdict) != 0 ||
		    rd_u32le(r, &m->rep.measure.changed) != 0)
			return VIGIL_ETRUNC;
		return 0;
	case MM_CMD_READ_LOG: {
		struct rd walk;
		const uint8_t *p;
		size_t n;
		uint32_t i;

		if (rd_u32le(r, &m->rep.read_log.n) != 0)
			return VIGIL_ETRUNC;
		if (m->rep.read_log.n > MM_MAX_LOG_N)
			return VIGIL_EINVAL;
		m->rep.read_log.entries = r->p;
		m->rep.read_log.entries_len = r->left;
		walk = *r;
		for (i = 0; i < m->rep.read_log.n; i++)
			if ((e = mm_rd_var(&walk, 4, 1, MM_MAX_ENTRY, &p,
			    &n)) != 0)
				return e;
		m->rep.read_log.entries_len = r->left - walk.left;
		*r = walk;
		return 0;
	}
	case MM_CMD_SIGN_HEAD:
		return mm_rd_var(r, 4, 1, MM_MAX_HEAD, &m->rep.sign_head.head,
		    &m->rep.sign_head.head_len);
	case MM_CMD_PROVISION:
		return mm_rd_var(r, 1, 1, MM_MAX_KEYID, &m->rep.provision.id,
		    &m->rep.provision.id_len);
	case MM_CMD_USE_KEY:
		return mm_rd_var(r, 4, 0, MM_MAX_OUT, &m->rep.use_key.out,
		    &m->rep.use_key.out_len);
	case MM_CMD_GET_PUBKEYS:
		if ((e = mm_rd_var(r, 2, 1, MM_MAX_PUBKEY,
		    &m->rep.pubkeys.log_pub, &m->rep.pubkeys.log_pub_len)) != 0)
			return e;
		return mm_rd_var(r, 2, 1, MM_MAX_PUBKEY,
		    &m->rep.pubkeys.wrap_pub, &m->rep.pubkeys.wrap_pub_len);
	case MM_CMD_SET_REFS:
		return rd_u64le(r, &m->rep.set_refs.version);
	}
	return VIGIL_EUNSUPP;
}

int
mm_parse(const uint8_t *buf, size_t len, struct mm_msg *out)
{
	struct rd r;
	uint64_t msglen;
	uint32_t cmd;
	int e;

	memset(out, 0, sizeof(*out));
	if (buf == NULL || len < MM_HDR_LEN)
		return mm_fail(out, MM_ST_TRUNCATED, VIGIL_ETRUNC,
		    "buffer shorter than the MM Communicate header");
	if (memcmp(buf, mm_vigil_guid, MM_GUID_LEN) != 0)
		return mm_fail(out, MM_ST_BAD_GUID, VIGIL_EINVAL,
		    "HeaderGuid is not Vigil's handler GUID");
	rd_init(&r, buf + MM_GUID_LEN, len - MM_GUID_LEN);
	(void)rd_u64le(&r, &msglen);	/* len >= MM_HDR_LEN: cannot fail */
	if (msglen > MM_MAX_MSG)
		return mm_fail(out, MM_ST_BAD_LENGTH, VIGIL_ETOOBIG,
		    "MessageLength over MM_MAX_MSG");
	if (msglen > r.left)
		return mm_fail(out, MM_ST_BAD_LENGTH, VIGIL_ETRUNC,
		    "MessageLength larger than the buffer");
	if (msglen < r.left)
		return mm_fail(out, MM_ST_BAD_LENGTH, VIGIL_EINVAL,
		    "bytes after the message");
	if (rd_u32le(&r, &cmd) != 0 || rd_u32le(&r, &out->status) != 0)
		return mm_fail(out, MM_ST_TRUNCATED, VIGIL_ETRUNC,
		    "message shorter than command and status");
	out->reply = (cmd & MM_REPLY) != 0;
	out->cmd = cmd & ~MM_REPLY;
	/* An error reply may answer a command the server could not read. */
	if (out->reply && out->status != MM_ST_OK) {
		if (r.left != 0)
			return mm_fail(out, MM_ST_BAD_REQUEST, VIGIL_EINVAL,
			    "error reply with a body");
		return 0;
	}
	if (out->cmd < MM_CMD_MEASURE || out->cmd > MM_CMD_LAST) {
		out->cmd = 0;
		return mm_fail(out, MM_ST_UNKNOWN_CMD, VIGIL_EUNSUPP,
		    "unknown command");
	}
	if (out->cmd == MM_CMD_USE_KEY_V1)
		return mm_fail(out, MM_ST_UNSUPPORTED, VIGIL_EUNSUPP,
		    "use-key version 1 (command 5) names a key by id alone "
		    "and is retired: use use-key (command 8) with the tenant");
	if (!out->reply && out->status != MM_ST_OK)
		return mm_fail(out, MM_ST_BAD_REQUEST, VIGIL_EINVAL,
		    "request with a non-zero status");
	e = out->reply ? mm_parse_rep(&r, out) : mm_parse_req(&r, out);
	if (e == VIGIL_ETRUNC)
		return mm_fail(out, MM_ST_TRUNCATED, e,
		    "a field runs past the message");
	if (e != 0)
		return mm_fail(out, MM_ST_BAD_REQUEST, VIGIL_EINVAL,
		    "a field is out of range");
	if (r.left != 0)
		return mm_fail(out, MM_ST_BAD_REQUEST, VIGIL_EINVAL,
		    "trailing bytes after the body");
	return 0;
}

int
mm_log_entry_next(struct rd *r, const uint8_t **entry, size_t *len)
{
	if (r->left == 0)
		return VIGIL_ENOTFOUND;
	return mm_rd_var(r, 4, 1, MM_MAX_ENTRY, entry, len);
}

static int
mm_add_var(struct buf *b, int width, size_t hi, const void *p, size_t n)
{
	int e;

	if (n > hi)
		return VIGIL_EINVAL;
	if (width == 1)
		e = buf_add_u8(b, (uint8_t)n);
	else if (width == 2)
		e = buf_add_u16le(b, (uint16_t)n);
	else
		e = buf_add_u32le(b, (uint32_t)n);
	if (e == 0 && n > 0)
		e = buf_add(b, p, n);
	return e;
}

static int
mm_build_req_body(const struct mm_msg *m, struct buf *b)
{
	int e;

	switch (m->cmd) {
	case MM_CMD_MEASURE:
		return buf_add_u32le(b, m->req.measure.target);
	case MM_CMD_READ_LOG:
		if ((e = buf_add_u64le(b, m->req.read_log.from_seq)) != 0)
			return e;
		return buf_add_u32le(b, m->req.read_log.max_n);
	case MM_CMD_SIGN_HEAD:
		return mm_add_var(b, 1, MM_MAX_NONCE, m->req.sign_head.nonce,
		    m->req.sign_head.nonce_len);
	case MM_CMD_PROVISION:
		return mm_add_var(b, 4, MM_MAX_BLOB, m->req.provision.blob,
		    m->req.provision.blob_len);
	case MM_CMD_USE_KEY:
		if ((e = buf_add_u8(b, m->req.use_key.op)) != 0 ||
		    (e = mm_add_var(b, 1, MM_MAX_TENANT,
		    m->req.use_key.tenant, m->req.use_key.tenant_len)) != 0 ||
		    (e = mm_add_var(b, 1, MM_MAX_KEYID, m->req.use_key.id,
		    m->req.use_key.id_len)) != 0)
			return e;
		return mm_add_var(b, 4, MM_MAX_DATA, m->req.use_key.data,
		    m->req.use_key.data_len);
	case MM_CMD_GET_PUBKEYS:
		return 0;
	case MM_CMD_SET_REFS:
		if ((e = mm_add_var(b, 4, MM_MAX_REFS, m->req.set_refs.refs,
		    m->req.set_refs.refs_len)) != 0)
			return e;
		return mm_add_var(b, 2, MM_MAX_SIG, m->req.set_refs.sig,
		    m->req.set_refs.sig_len);
	}
	return VIGIL_EINVAL;
}

static int
mm_build_rep_body(const struct mm_msg *m, struct buf *b)
{
	int e;

	if (m->status != MM_ST_OK)
		return 0;
	switch (m->cmd) {
	case MM_CMD_MEASURE:
		if ((e = buf_add_u64le(b, m->rep.measure.last_seq)) != 0 ||
		    (e = buf_add_u32le(b, m->rep.measure.verdict)) != 0)
			return e;
		return buf_add_u32le(b, m->rep.measure.changed);
	case MM_CMD_READ_LOG:
		if (m->rep.read_log.n > MM_MAX_LOG_N)
			return VIGIL_EINVAL;
		if ((e = buf_add_u32le(b, m->rep.read_log.n)) != 0)
			return e;
		if (m->rep.read_log.entries_len == 0)
			return 0;
		return buf_add(b, m->rep.read_log.entries,
		    m->rep.read_log.entries_len);
	case MM_CMD_SIGN_HEAD:
		return mm_add_var(b, 4, MM_MAX_HEAD, m->rep.sign_head.head,
		    m->rep.sign_head.head_len);
	case MM_CMD_PROVISION:
		return mm_add_var(b, 1, MM_MAX_KEYID, m->rep.provision.id,
		    m->rep.provision.id_len);
	case MM_CMD_USE_KEY:
		return mm_add_var(b, 4, MM_MAX_OUT, m->rep.use_key.out,
		    m->rep.use_key.out_len);
	case MM_CMD_GET_PUBKEYS:
		if ((e = mm_add_var(b, 2, MM_MAX_PUBKEY,
		    m->rep.pubkeys.log_pub, m->rep.pubkeys.log_pub_len)) != 0)
			return e;
		return mm_add_var(b, 2, MM_MAX_PUBKEY, m->rep.pubkeys.wrap_pub,
		    m->rep.pubkeys.wrap_pub_len);
	case MM_CMD_SET_REFS:
		return buf_add_u64le(b, m->rep.set_refs.version);
	}
	return VIGIL_EINVAL;
}

int
mm_build(const struct mm_msg *m, struct buf *out)
{
	struct buf body = BUF_INIT;
	int e;

	if ((e = buf_add_u32le(&body, m->cmd | (m->reply ? MM_REPLY : 0))) ||
	    (e = buf_add_u32le(&body, m->reply ? m->status : 0)))
		goto out;
	if (m->reply && m->status != MM_ST_OK)
		;	/* an error reply has no body */
	else if ((e = m->reply ? mm_build_rep_body(m, &body) :
	    mm_build_req_body(m, &body)) != 0)
		goto out;
	if (body.len > MM_MAX_MSG) {
		e = VIGIL_ETOOBIG;
		goto out;
	}
	if ((e = buf_add(out, mm_vigil_guid, MM_GUID_LEN)) != 0 ||
	    (e = buf_add_u64le(out, body.len)) != 0 ||
	    (e = buf_add(out, body.data, body.len)) != 0)
		goto out;
 out:
	buf_free(&body);
	return e;
}

int
mm_build_measure(struct buf *out, uint32_t target)
{
	struct mm_msg m = { .cmd = MM_CMD_MEASURE };

	m.req.measure.target = target;
	return mm_build(&m, out);
}

int
mm_build_read_log(struct buf *out, uint64_t from_seq, uint32_t max_n)
{
	struct mm_msg m = { .cmd = MM_CMD_READ_LOG };

	m.req.read_log.from_seq = from_seq;
	m.req.read_log.max_n = max_n;
	return mm_build(&m, out);
}

int
mm_build_sign_head(struct buf *out, const uint8_t *nonce, size_t nonce_len)
{
	struct mm_msg m = { .cmd = MM_CMD_SIGN_HEAD };

	m.req.sign_head.nonce = nonce;
	m.req.sign_head.nonce_len = nonce_len;
	return mm_build(&m, out);
}

int
mm_build_provision(struct buf *out, const uint8_t *blob, size_t len)
{
	struct mm_msg m = { .cmd = MM_CMD_PROVISION };

	m.req.provision.blob = blob;
	m.req.provision.blob_len = len;
	return mm_build(&m, out);
}

int
mm_build_use_key(struct buf *out, uint8_t op, const char *tenant,
    const char *key_id, const uint8_t *data, size_t data_len)
{
	struct mm_msg m = { .cmd = MM_CMD_USE_KEY };

	m.req.use_key.op = op;
	m.req.use_key.tenant = (const uint8_t *)tenant;
	m.req.use_key.tenant_len = strlen(tenant);
	m.req.use_key.id = (const uint8_t *)key_id;
	m.req.use_key.id_len = strlen(key_id);
	m.req.use_key.data = data;
	m.req.use_key.data_len = data_len;
	return mm_build(&m, out);
}

int
mm_build_get_pubkeys(struct buf *out)
{
	struct mm_msg m = { .cmd = MM_CMD_GET_PUBKEYS };

	return mm_build(&m, out);
}

int
mm_build_set_refs(struct buf *out, const uint8_t *refs, size_t refs_len,
    const uint8_t *sig, size_t sig_len)
{
	struct mm_msg m = { .cmd = MM_CMD_SET_REFS };

	m.req.set_refs.refs = refs;
	m.req.set_refs.refs_len = refs_len;
	m.req.set_refs.sig = sig;
	m.req.set_refs.sig_len = sig_len;
	return mm_build(&m, out);
}

int
mm_build_error(struct buf *out, uint32_t cmd, uint32_t st)
{
	struct mm_msg m = { .cmd = cmd, .reply = 1, .status = st };

	if (st == MM_ST_OK)
		return VIGIL_EINVAL;
	return mm_build(&m, out);
}

const char *
mm_cmd_name(uint32_t cmd)
{
	static const char *const names[] = { "none", "measure", "read-log",
	    "sign-head", "provision", "use-key-v1", "get-pubkeys", "set-refs",
	    "use-key" };

	cmd &= ~MM_REPLY;
	return cmd < sizeof(names) / sizeof(names[0]) ? names[cmd] : "unknown";
}

const char *
mm_status_name(uint32_t st)
{
	static const char *const names[] = { "ok", "bad-guid", "bad-length",
	    "truncated", "unknown-command", "bad-request", "denied",
	    "tampered", "not-found", "operation-refused", "stale",
	    "bad-signature", "internal", "unsupported", "no-reference",
	    "exists" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

const char *
mm_op_name(uint32_t op)
{
	switch (op) {
	case MM_OP_SIGN: return "sign";
	case MM_OP_HMAC: return "hmac";
	case MM_OP_UNWRAP: return "unwrap";
	}
	return "unknown";
}

int
mm_op_parse(const char *s, uint8_t *op)
{
	uint8_t i;

	for (i = MM_OP_SIGN; i <= MM_OP_UNWRAP; i++)
		if (strcmp(s, mm_op_name(i)) == 0) {
			*op = i;
			return 0;
		}
	return VIGIL_EINVAL;
}
