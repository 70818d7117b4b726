/* UEFI firmware log event data: type names, UEFI_VARIABLE_DATA,
 * EFI_SIGNATURE_LIST and UEFI_IMAGE_LOAD_EVENT (bootev.h). All integers
 * are little-endian; every read goes through rd. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bootev.h"
#include "err.h"
#include "evlog.h"
#include "rd.h"

static const struct {
	uint32_t type;
	const char *name;
} bootev_types[] = {
	{ 0x00000000u, "EV_PREBOOT_CERT" },
	{ EV_POST_CODE, "EV_POST_CODE" },
	{ 0x00000002u, "EV_UNUSED" },
	{ EV_NO_ACTION, "EV_NO_ACTION" },
	{ EV_SEPARATOR, "EV_SEPARATOR" },
	{ EV_ACTION, "EV_ACTION" },
	{ EV_EVENT_TAG, "EV_EVENT_TAG" },
	{ 0x00000007u, "EV_S_CRTM_CONTENTS" },
	{ EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION" },
	{ 0x00000009u, "EV_CPU_MICROCODE" },
	{ EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS" },
	{ 0x0000000bu, "EV_TABLE_OF_DEVICES" },
	{ EV_COMPACT_HASH, "EV_COMPACT_HASH" },
	{ EV_IPL, "EV_IPL" },
	{ 0x0000000eu, "EV_IPL_PARTITION_DATA" },
	{ 0x0000000fu, "EV_NONHOST_CODE" },
	{ 0x00000010u, "EV_NONHOST_CONFIG" },
	{ EV_NONHOST_INFO, "EV_NONHOST_INFO" },
	{ 0x00000012u, "EV_OMIT_BOOT_DEVICE_EVENTS" },
	{ EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
	{ EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT" },
	{ EV_EFI_BOOT_SERVICES_APPLICATION,
	    "EV_EFI_BOOT_SERVICES_APPLICATION" },
	{ EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER" },
	{ EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
	{ EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT" },
	{ EV_EFI_ACTION, "EV_EFI_ACTION" },
	{ EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
	{ EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES" },
	{ 0x8000000au, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
	{ 0x8000000bu, "EV_EFI_HANDOFF_TABLES2" },
	{ EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2" },
	{ 0x8000000du, "EV_EFI_GPT_EVENT2" },
	{ EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT" },
	{ EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY" },
	{ 0x800000e1u, "EV_EFI_SPDM_FIRMWARE_BLOB" },
	{ 0x800000e2u, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
};

const char *
bootev_type_name(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(bootev_types) / sizeof(bootev_types[0]); i++)
		if (bootev_types[i].type == type)
			return bootev_types[i].name;
	return NULL;
}

int
bootev_type_parse(const char *name, uint32_t *out)
{
	unsigned int v;
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(bootev_types) / sizeof(bootev_types[0]); i++) {
		if (strcmp(bootev_types[i].name, name) == 0) {
			*out = bootev_types[i].type;
			return 0;
		}
	}
	if (strlen(name) == 10 && sscanf(name, "0x%8x%n", &v, &n) == 1 &&
	    n == 10) {
		*out = v;
		return 0;
	}
	return VIGIL_EINVAL;
}

void
bootev_guid_str(const uint8_t *p, char out[BOOTEV_GUID_LEN])
{
	/* EFI_GUID: u32le, u16le, u16le, then 8 bytes in order. */
	snprintf(out, BOOTEV_GUID_LEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", p[3], p[2], p[1], p[0], p[5],
	    p[4], p[7], p[6], p[8], p[9], p[10], p[11], p[12], p[13], p[14],
	    p[15]);
}

/* n UTF-16LE code units as ASCII into out (cap >= 1); '?' for others. */
static int
bootev_utf16(struct rd *r, size_t n, char *out, size_t cap)
{
	uint16_t c;
	size_t i, o = 0;
	int e;

	for (i = 0; i < n; i++) {
		if ((e = rd_u16le(r, &c)) != 0)
			return e;
		if (c == 0)
			continue;
		if (o + 1 < cap)
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
	return 0;
}

int
bootev_var_parse(const uint8_t *p, size_t len, struct bootev_var *out)
{
	const uint8_t *g;
	uint64_t nlen, dlen;
	struct rd r;
	int e;

	memset(out, 0, sizeof(*out));
	rd_init(&r, p, len);
	if ((e = rd_bytes(&r, 16, &g)) != 0 ||
	    (e = rd_u64le(&r, &nlen)) != 0 ||
	    (e = rd_u64le(&r, &dlen)) != 0)
		return e;
	if (nlen > r.left / 2)
		return VIGIL_ETRUNC;
	bootev_guid_str(g, out->guid);
	if ((e = bootev_utf16(&r, (size_t)nlen, out->name,
	    sizeof(out->name))) != 0)
		return e;
	if (dlen != r.left)
		return dlen > r.left ? VIGIL_ETRUNC : VIGIL_EINVAL;
	out->data = r.p;
	out->data_len = r.left;
	return 0;
}

void
bootev_cert_subject(const uint8_t *der, size_t len, char *out, size_t cap)
{
	const unsigned char *q = der;
	X509 *x = NULL;
	BIO *b = NULL;
	int n;

	snprintf(out, cap, "(certificate does not parse)");
	if (len > 65536 || (x = d2i_X509(NULL, &q, (long)len)) == NULL ||
	    q != der + len || (b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	n = BIO_read(b, out, (int)cap - 1);
	out[n > 0 ? n : 0] = '\0';
	for (n = 0; out[n] != '\0'; n++)
		if ((unsigned char)out[n] < 0x20 || out[n] == 0x7f)
			out[n] = '?';
 out:
	BIO_free(b);
	X509_free(x);
}

/* Known EFI_SIGNATURE_LIST types, by their GUID text. */
static const char bootev_x509_guid[] = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";
static const char bootev_sha256_guid[] = "c1c41626-504c-4092-aca9-41f936934328";

static int
bootev_sig_one(struct rd *r, size_t size, const char *type, bootev_sig_fn fn,
    void *ctx)
{
	struct bootev_sig s;
	const uint8_t *g, *d;
	unsigned int dl;
	int e;

	if (size < 16)
		return VIGIL_EINVAL;
	memset(&s, 0, sizeof(s));
	if ((e = rd_bytes(r, 16, &g)) != 0 ||
	    (e = rd_bytes(r, size - 16, &d)) != 0)
		return e;
	bootev_guid_str(g, s.owner);
	if (strcmp(type, bootev_x509_guid) == 0) {
		snprintf(s.type, sizeof(s.type), "x509");
		bootev_cert_subject(d, size - 16, s.subject,
		    sizeof(s.subject));
	} else if (strcmp(type, bootev_sha256_guid) == 0)
		snprintf(s.type, sizeof(s.type), "sha256");
	else
		snprintf(s.type, sizeof(s.type), "%s", type);
	if (EVP_Digest(d, size - 16, s.sha256, &dl, EVP_sha256(), NULL) != 1)
		return VIGIL_ECRYPTO;
	return fn(ctx, &s);
}

int
bootev_siglist_walk(const uint8_t *p, size_t len, bootev_sig_fn fn,
    void *ctx)
{
	uint32_t lsize, hsize, ssize;
	char type[BOOTEV_GUID_LEN];
	const uint8_t *g;
	struct rd r, l;
	size_t n = 0;
	int e;

	rd_init(&r, p, len);
	while (r.left > 0) {
		if ((e = rd_bytes(&r, 16, &g)) != 0 ||
		    (e = rd_u32le(&r, &lsize)) != 0 ||
		    (e = rd_u32le(&r, &hsize)) != 0 ||
		    (e = rd_u32le(&r, &ssize)) != 0)
			return e;
		bootev_guid_str(g, type);
		/* The list's size covers its 28-byte header. */
		if (lsize < 28 || ssize < 16 || (e = rd_sub(&r, lsize - 28,
		    &l)) != 0)
			return lsize < 28 || ssize < 16 ? VIGIL_EINVAL : e;
		if ((e = rd_skip(&l, hsize)) != 0)
			return e;
		if (l.left % ssize != 0)
			return VIGIL_EINVAL;
		while (l.left > 0) {
			if (++n > BOOTEV_MAX_SIGS)
				return VIGIL_ETOOBIG;
			if ((e = bootev_sig_one(&l, ssize, type, fn, ctx)) != 0)
				return e;
		}
	}
	return 0;
}

int
bootev_image_path(const uint8_t *p, size_t len, char *out, size_t cap)
{
	uint64_t dplen;
	uint16_t nlen;
	uint8_t type, sub;
	struct rd r, dp, node;
	size_t o = 0;
	char part[256];
	int e;

	out[0] = '\0';
	rd_init(&r, p, len);
	/* ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress,
	 * LengthOfDevicePath, then the device path. */
	if ((e = rd_skip(&r, 24)) != 0 || (e = rd_u64le(&r, &dplen)) != 0)
		return e;
	if (dplen > r.left)
		return VIGIL_ETRUNC;
	if ((e = rd_sub(&r, (size_t)dplen, &dp)) != 0)
		return e;
	while (dp.left > 0) {
		if ((e = rd_u8(&dp, &type)) != 0 ||
		    (e = rd_u8(&dp, &sub)) != 0 ||
		    (e = rd_u16le(&dp, &nlen)) != 0)
			return e;
		if (nlen < 4 || (e = rd_sub(&dp, nlen - 4u, &node)) != 0)
			return nlen < 4 ? VIGIL_EINVAL : e;
		if (type == 0x7f && sub == 0xff)
			break;		/* end of the whole device path */
		if (type != 0x04 || sub != 0x04)
			continue;	/* not a file-path media node */
		if ((e = bootev_utf16(&node, node.left / 2, part,
		    sizeof(part))) != 0)
			return e;
		o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s",
		    part);
		if (o >= cap)
			break;
	}
	return 0;
}
