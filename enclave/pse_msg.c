/* vigil-psed's socket protocol (enclave/pse_msg.h): a strict parser, the
 * matching marshaler, framing and a client call. One table drives both
 * directions, so what marshals also parses. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "pse_msg.h"
#include "rd.h"

enum pse_fk { FK_STR, FK_BLOB, FK_CERTS };

/* Field identifiers: offsets of struct pse_msg members. */
enum pse_fid {
	F_DETAIL, F_VM_ID, F_SOURCE, F_EK_PUB, F_BLOB, F_PLATFORM_ID,
	F_PLATFORM_PUB, F_TRANSPORT_PUB, F_SIG, F_BINDING, F_EK_CERT,
	F_STATE, F_CHAIN, F_END,
};

struct pse_field {
	enum pse_fid id;
	enum pse_fk kind;
	size_t min, max;
	const char *name;
};

#define PSE_MAX_FIELDS 5

struct pse_layout {
	uint16_t type;
	struct pse_field f[PSE_MAX_FIELDS];
};

#define FLD(id, kind, min, max, name) { id, kind, min, max, name }
#define FEND { F_END, FK_BLOB, 0, 0, NULL }

static const struct pse_layout pse_layouts[] = {
	{ PSE_PLATFORM_INFO, { FEND } },
	{ PSE_PLATFORM_INFO | PSE_REPLY, {
	    FLD(F_PLATFORM_ID, FK_BLOB, PSE_PLATFORM_ID_LEN,
		PSE_PLATFORM_ID_LEN, "platform_id"),
	    FLD(F_PLATFORM_PUB, FK_BLOB, 1, PSE_MAX_PUB, "platform_pub"),
	    FLD(F_CHAIN, FK_CERTS, 1, PSE_MAX_CERTS, "chain"),
	    FLD(F_TRANSPORT_PUB, FK_BLOB, 1, PSE_MAX_PUB, "transport_pub"),
	    FEND } },
	{ PSE_CERTIFY_AK, { FEND } },
	{ PSE_CERTIFY_AK | PSE_REPLY, {
	    FLD(F_BINDING, FK_BLOB, 1, PSE_MAX_BINDING, "binding"), FEND } },
	{ PSE_ISSUE_EK_CERT, {
	    FLD(F_VM_ID, FK_STR, 1, PSE_MAX_ID, "vm_id"),
	    FLD(F_EK_PUB, FK_BLOB, 1, PSE_MAX_PUB, "ek_pub"), FEND } },
	{ PSE_ISSUE_EK_CERT | PSE_REPLY, {
	    FLD(F_EK_CERT, FK_BLOB, 1, PSE_MAX_CERT, "ek_cert"),
	    FLD(F_CHAIN, FK_CERTS, 1, PSE_MAX_CERTS, "chain"), FEND } },
	{ PSE_MIG_TRANSPORT_KEY, { FEND } },
	{ PSE_MIG_TRANSPORT_KEY | PSE_REPLY, {
	    FLD(F_TRANSPORT_PUB, FK_BLOB, 1, PSE_MAX_PUB, "transport_pub"),
	    FLD(F_PLATFORM_ID, FK_BLOB, PSE_PLATFORM_ID_LEN,
		PSE_PLATFORM_ID_LEN, "platform_id"),
	    FLD(F_SIG, FK_BLOB, 1, PSE_MAX_SIG, "sig"), FEND } },
	{ PSE_MIG_IMPORT, {
	    FLD(F_VM_ID, FK_STR, 1, PSE_MAX_ID, "vm_id"),
	    FLD(F_SOURCE, FK_STR, 1, PSE_MAX_ID, "source_node"),
	    FLD(F_BLOB, FK_BLOB, 1, PSE_MAX_BLOB, "blob"), FEND } },
	{ PSE_MIG_IMPORT | PSE_REPLY, {
	    FLD(F_STATE, FK_BLOB, 1, PSE_MAX_BLOB, "state"),
	    FLD(F_BINDING, FK_BLOB, 1, PSE_MAX_BINDING, "binding"), FEND } },
};

static const struct pse_layout pse_error_layout = { 0, {
    FLD(F_DETAIL, FK_STR, 0, PSE_MAX_DETAIL, "detail"), FEND } };

const char *
pse_msg_type_name(uint16_t type)
{
	switch (type & ~PSE_REPLY) {
	case PSE_PLATFORM_INFO: return "PLATFORM_INFO";
	case PSE_CERTIFY_AK: return "CERTIFY_AK";
	case PSE_ISSUE_EK_CERT: return "ISSUE_EK_CERT";
	case PSE_MIG_TRANSPORT_KEY: return "MIG_TRANSPORT_KEY";
	case PSE_MIG_IMPORT: return "MIG_IMPORT";
	default: return "unknown";
	}
}

int
pse_msg_id_valid(const uint8_t *s, size_t len)
{
	size_t i;

	if (s == NULL || len < 1 || len > PSE_MAX_ID)
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return 0;
	}
	return 1;
}

static int
pse_detail_valid(const uint8_t *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

static const struct pse_layout *
pse_layout_of(uint16_t type, uint32_t status)
{
	size_t i;

	if ((type & PSE_REPLY) && status != PSE_ST_OK) {
		for (i = 0; i < sizeof(pse_layouts) / sizeof(pse_layouts[0]);
		    i++)
			if (pse_layouts[i].type == type)
				return &pse_error_layout;
		return NULL;
	}
	for (i = 0; i < sizeof(pse_layouts) / sizeof(pse_layouts[0]); i++)
		if (pse_layouts[i].type == type)
			return &pse_layouts[i];
	return NULL;
}

static struct pse_bytes *
pse_field_ptr(struct pse_msg *m, enum pse_fid id)
{
	switch (id) {
	case F_DETAIL: return &m->detail;
	case F_VM_ID: return &m->vm_id;
	case F_SOURCE: return &m->source_node;
	case F_EK_PUB: return &m->ek_pub;
	case F_BLOB: return &m->blob;
	case F_PLATFORM_ID: return &m->platform_id;
	case F_PLATFORM_PUB: return &m->platform_pub;
	case F_TRANSPORT_PUB: return &m->transport_pub;
	case F_SIG: return &m->sig;
	case F_BINDING: return &m->binding;
	case F_EK_CERT: return &m->ek_cert;
	case F_STATE: return &m->state;
	default: return NULL;
	}
}

/* The content rules of a string field, shared by parse and marshal. */
static int
pse_str_check(const struct pse_field *f, const uint8_t *p, size_t len)
{
	if (f->id == F_DETAIL ? !pse_detail_valid(p, len) :
	    !pse_msg_id_valid(p, len)) {
		log_warn("pse_msg: field %s has a character outside its "
		    "alphabet or a bad length (%zu)", f->name, len);
		return VIGIL_EINVAL;
	}
	return 0;
}

static int
pse_parse_certs(struct rd *r, const struct pse_field *f, struct pse_msg *m)
{
	uint8_t n;
	uint32_t len;
	size_t i;
	int e;

	if ((e = rd_u8(r, &n)) != 0) {
		log_warn("pse_msg: %s count truncated", f->name);
		return e;
	}
	if (n < f->min || n > f->max) {
		log_warn("pse_msg: %s holds %u certificates, allowed %zu..%zu",
		    f->name, n, f->min, f->max);
		return VIGIL_EINVAL;
	}
	for (i = 0; i < n; i++) {
		if ((e = rd_u32be(r, &len)) != 0) {
			log_warn("pse_msg: %s[%zu] length truncated", f->name,
			    i);
			return e;
		}
		if (len < 1 || len > PSE_MAX_CERT) {
			log_warn("pse_msg: %s[%zu] is %u bytes, allowed "
			    "1..%u", f->name, i, len, PSE_MAX_CERT);
			return len == 0 ? VIGIL_EINVAL : VIGIL_ETOOBIG;
		}
		if ((e = rd_bytes(r, len, &m->chain[i].p)) != 0) {
			log_warn("pse_msg: %s[%zu] says %u bytes, %zu left",
			    f->name, i, len, r->left);
			return e;
		}
		m->chain[i].len = len;
	}
	m->n_chain = n;
	return 0;
}

static int
pse_parse_field(struct rd *r, const struct pse_field *f, struct pse_msg *m)
{
	struct pse_bytes *dst;
	uint16_t l16;
	uint32_t len;
	int e;

	if (f->kind == FK_CERTS)
		return pse_parse_certs(r, f, m);
	if (f->kind == FK_STR) {
		e = rd_u16be(r, &l16);
		len = l16;
	} else
		e = rd_u32be(r, &len);
	if (e != 0) {
		log_warn("pse_msg: field %s length truncated", f->name);
		return e;
	}
	if (len < f->min || len > f->max) {
		log_warn("pse_msg: field %s is %u bytes, allowed %zu..%zu",
		    f->name, len, f->min, f->max);
		return len > f->max ? VIGIL_ETOOBIG : VIGIL_EINVAL;
	}
	dst = pse_field_ptr(m, f->id);
	if ((e = rd_bytes(r, len, &dst->p)) != 0) {
		log_warn("pse_msg: field %s says %u bytes, %zu left", f->name,
		    len, r->left);
		return e;
	}
	dst->len = len;
	if (f->kind == FK_STR && (e = pse_str_check(f, dst->p, len)) != 0)
		return e;
	return 0;
}

int
pse_msg_parse(const uint8_t *buf, size_t len, struct pse_msg *out)
{
	const struct pse_layout *lay;
	struct pse_msg m;
	struct rd r;
	uint32_t magic;
	uint16_t version;
	size_t i;
	int e;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	if (len > PSE_MSG_MAX) {
		log_warn("pse_msg: message of %zu bytes over the limit %u",
		    len, PSE_MSG_MAX);
		return VIGIL_ETOOBIG;
	}
	rd_init(&r, buf, len);
	if ((e = rd_u32be(&r, &magic)) != 0 ||
	    (e = rd_u16be(&r, &version)) != 0 ||
	    (e = rd_u16be(&r, &m.type)) != 0 ||
	    (e = rd_u32be(&r, &m.status)) != 0) {
		log_warn("pse_msg: header truncated (%zu bytes)", len);
		return e;
	}
	if (magic != PSE_MSG_MAGIC) {
		log_warn("pse_msg: bad magic 0x%08x", magic);
		return VIGIL_EINVAL;
	}
	if (version != PSE_MSG_VERSION) {
		log_warn("pse_msg: unsupported version %u", version);
		return VIGIL_EINVAL;
	}
	if (!(m.type & PSE_REPLY) && m.status != 0) {
		log_warn("pse_msg: request with status %u", m.status);
		return VIGIL_EINVAL;
	}
	if (m.status > PSE_ST_MAX) {
		log_warn("pse_msg: unknown status %u", m.status);
		return VIGIL_EINVAL;
	}
	if ((lay = pse_layout_of(m.type, m.status)) == NULL) {
		log_warn("pse_msg: unknown message type 0x%04x", m.type);
		return VIGIL_EINVAL;
	}
	for (i = 0; i < PSE_MAX_FIELDS && lay->f[i].id != F_END; i++)
		if ((e = pse_parse_field(&r, &lay->f[i], &m)) != 0)
			return e;
	if (r.left != 0) {
		log_warn("pse_msg: %zu trailing bytes after a %s message",
		    r.left, pse_msg_type_name(m.type));
		return VIGIL_EINVAL;
	}
	*out = m;
	return 0;
}

static int
pse_marshal_field(const struct pse_field *f, const struct pse_msg *m,
    struct buf *out)
{
	const struct pse_bytes *src;
	size_t i;
	int e;

	if (f->kind == FK_CERTS) {
		if (m->n_chain < f->min || m->n_chain > f->max) {
			log_err("pse_msg: %zu certificates in %s", m->n_chain,
			    f->name);
			return VIGIL_EINVAL;
		}
		if ((e = buf_add_u8(out, (uint8_t)m->n_chain)) != 0)
			return e;
		for (i = 0; i < m->n_chain; i++) {
			if (m->chain[i].len < 1 ||
			    m->chain[i].len > PSE_MAX_CERT) {
				log_err("pse_msg: %s[%zu] of %zu bytes",
				    f->name, i, m->chain[i].len);
				return VIGIL_ETOOBIG;
			}
			if ((e = buf_add_u32be(out,
			    (uint32_t)m->chain[i].len)) != 0 ||
			    (e = buf_add(out, m->chain[i].p,
			    m->chain[i].len)) != 0)
				return e;
		}
		return 0;
	}
	src = pse_field_ptr((struct pse_msg *)m, f->id);
	if (src->len < f->min || src->len > f->max ||
	    (src->len > 0 && src->p == NULL)) {
		log_err("pse_msg: field %s of %zu bytes, allowed %zu..%zu",
		    f->name, src->len, f->min, f->max);
		return VIGIL_EINVAL;
	}
	if (f->kind == FK_STR) {
		if ((e = pse_str_check(f, src->p, src->len)) != 0 ||
		    (e = buf_add_u16be(out, (uint16_t)src->len)) != 0)
			return e;
	} else if ((e = buf_add_u32be(out, (uint32_t)src->len)) != 0)
		return e;
	return buf_add(out, src->p, src->len);
}

int
pse_msg_marshal(const struct pse_msg *m, struct buf *out)
{
	const struct pse_layout *lay;
	size_t start = out->len, i;
	int e;

	if ((!(m->type & PSE_REPLY) && m->status != 0) ||
	    m->status > PSE_ST_MAX ||
	    (lay = pse_layout_of(m->type, m->status)) == NULL) {
		log_err("pse_msg: cannot marshal type 0x%04x status %u",
		    m->type, m->status);
		return VIGIL_EINVAL;
	}
	if ((e = buf_add_u32be(out, PSE_MSG_MAGIC)) != 0 ||
	    (e = buf_add_u16be(out, PSE_MSG_VERSION)) != 0 ||
	    (e = buf_add_u16be(out, m->type)) != 0 ||
	    (e = buf_add_u32be(out, m->status)) != 0)
		goto out;
	for (i = 0; i < PSE_MAX_FIELDS && lay->f[i].id != F_END; i++)
		if ((e = pse_marshal_field(&lay->f[i], m, out)) != 0)
			goto out;
	if (out->len - start > PSE_MSG_MAX) {
		log_err("pse_msg: %s message of %zu bytes over the limit",
		    pse_msg_type_name(m->type), out->len - start);
		e = VIGIL_ETOOBIG;
	}
 out:
	if (e != 0)
		out->len = start;
	return e;
}

static int
pse_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("pse_msg: send failed: %s", strerror(errno));
			return VIGIL_EIO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
pse_msg_send(int fd, const struct pse_msg *m)
{
	struct buf b = BUF_INIT;
	uint8_t hdr[4];
	int e;

	if ((e = pse_msg_marshal(m, &b)) != 0)
		goto out;
	hdr[0] = (uint8_t)(b.len >> 24);
	hdr[1] = (uint8_t)(b.len >> 16);
	hdr[2] = (uint8_t)(b.len >> 8);
	hdr[3] = (uint8_t)b.len;
	if ((e = pse_write_all(fd, hdr, sizeof(hdr))) == 0)
		e = pse_write_all(fd, b.data, b.len);
 out:
	buf_free(&b);
	return e;
}

static int64_t
pse_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n bytes before the deadline (0: none). */
static int
pse_read_all(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	struct pollfd pfd;
	ssize_t r;
	int64_t left;
	int pr;

	while (n > 0) {
		if (deadline != 0) {
			left = deadline - pse_now_ms();
			if (left <= 0)
				return VIGIL_ESTALE;
			pfd.fd = fd;
			pfd.events = POLLIN;
			pr = poll(&pfd, 1, (int)left);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr < 0)
				return VIGIL_EIO;
			if (pr == 0)
				return VIGIL_ESTALE;
		}
		r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return VIGIL_EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
pse_msg_recv(int fd, int timeout_ms, struct buf *body)
{
	uint8_t hdr[4];
	uint32_t len;
	int64_t deadline = timeout_ms > 0 ? pse_now_ms() + timeout_ms : 0;
	int e;

	if ((e = pse_read_all(fd, hdr, sizeof(hdr), deadline)) != 0)
		return e;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > PSE_MSG_MAX) {
		log_warn("pse_msg: frame length %u outside 1..%u", len,
		    PSE_MSG_MAX);
		return VIGIL_ETOOBIG;
	}
	body->len = 0;
	if ((e = buf_reserve(body, len)) != 0)
		return e;
	if ((e = pse_read_all(fd, body->data, len, deadline)) != 0) {
		log_warn("pse_msg: frame of %u bytes cut short: %s", len,
		    vigil_strerror(e));
		return e;
	}
	body->len = len;
	return 0;
}

int
pse_msg_call(const char *path, const struct pse_msg *req,
    struct pse_msg *reply, struct buf *raw)
{
	struct sockaddr_un sa;
	int fd = -1, e;

	memset(reply, 0, sizeof(*reply));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("pse: socket path too long: %s", path);
		return VIGIL_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_err("pse: cannot connect to %s: %s", path,
		    strerror(errno));
		e = VIGIL_EIO;
		goto out;
	}
	if ((e = pse_msg_send(fd, req)) != 0 ||
	    (e = pse_msg_recv(fd, 30000, raw)) != 0 ||
	    (e = pse_msg_parse(raw->data, raw->len, reply)) != 0) {
		log_err("pse: %s call to %s failed: %s",
		    pse_msg_type_name(req->type), path, vigil_strerror(e));
		goto out;
	}
	if (reply->type != (req->type | PSE_REPLY)) {
		log_err("pse: asked %s, answered %s",
		    pse_msg_type_name(req->type),
		    pse_msg_type_name(reply->type));
		e = VIGIL_EINVAL;
		goto out;
	}
	if (reply->status != PSE_ST_OK)
		log_err("pse: %s refused (status %u): %.*s",
		    pse_msg_type_name(req->type), reply->status,
		    (int)reply->detail.len,
		    reply->detail.p ? (const char *)reply->detail.p : "");
 out:
	if (fd >= 0)
		close(fd);
	return e;
}
