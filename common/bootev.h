/* What a UEFI firmware log's events hold (TCG PC Client Platform Firmware
 * Profile 10.4; UEFI 2.x 32.4.1 for EFI_SIGNATURE_LIST): the event type
 * names, UEFI_VARIABLE_DATA (Secure Boot variables), the signature lists
 * in PK/KEK/db/dbx with their certificates named, and the file path of a
 * UEFI_IMAGE_LOAD_EVENT. Shared by the verifier's measured-boot policy
 * (verifier/appraise_boot.c) and the CLI that writes one from a log. Every
 * byte is hostile and goes through rd. */
#ifndef VIGIL_BOOTEV_H
#define VIGIL_BOOTEV_H

#include <stddef.h>
#include <stdint.h>

#define EV_NONHOST_INFO			0x00000011u
#define EV_EFI_VARIABLE_DRIVER_CONFIG	0x80000001u
#define EV_EFI_VARIABLE_BOOT		0x80000002u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_BOOT_SERVICES_DRIVER	0x80000004u
#define EV_EFI_RUNTIME_SERVICES_DRIVER	0x80000005u
#define EV_EFI_GPT_EVENT		0x80000006u
#define EV_EFI_ACTION			0x80000007u
#define EV_EFI_HANDOFF_TABLES		0x80000009u
#define EV_EFI_VARIABLE_AUTHORITY	0x800000e0u
#define EV_EFI_VARIABLE_BOOT2		0x8000000cu

/* The TCG name of an event type ("EV_EFI_ACTION"), or NULL if unknown. */
const char *bootev_type_name(uint32_t type);
/* The type of a TCG name, or of "0x%08x"; VIGIL_EINVAL otherwise. */
int bootev_type_parse(const char *name, uint32_t *out);

#define BOOTEV_NAME_MAX 64	/* UnicodeName, as ASCII, NUL included */
#define BOOTEV_GUID_LEN 37	/* "8be4df61-93ca-11d2-aa0d-00e098032b8c" */

/* UEFI_VARIABLE_DATA: VariableName (a GUID), UnicodeName (UTF-16; kept
 * as ASCII, any other character as '?'), VariableData (points into the
 * event's data). VIGIL_ETRUNC/VIGIL_EINVAL when the lengths do not add up
 * to exactly len. */
struct bootev_var {
	char guid[BOOTEV_GUID_LEN];
	char name[BOOTEV_NAME_MAX];
	const uint8_t *data;
	size_t data_len;
};
int bootev_var_parse(const uint8_t *p, size_t len, struct bootev_var *out);

/* One EFI_SIGNATURE_DATA of an EFI_SIGNATURE_LIST: its list's type
 * ("x509", "sha256" or the type GUID), its SignatureOwner, SHA-256 of its
 * SignatureData, and for an X.509 certificate its subject (RFC 2253, cut
 * to fit; "(certificate does not parse)" when it does not). */
struct bootev_sig {
	char type[BOOTEV_GUID_LEN];
	char owner[BOOTEV_GUID_LEN];
	uint8_t sha256[32];
	char subject[160];
};
/* Calls fn for every entry of the signature lists in p (the data of PK,
 * KEK, db, dbx, or an EV_EFI_VARIABLE_AUTHORITY's single
 * EFI_SIGNATURE_DATA when one_entry is set). fn returning non-zero stops
 * the walk with that value. VIGIL_ETRUNC/VIGIL_EINVAL on a malformed list;
 * at most BOOTEV_MAX_SIGS entries (VIGIL_ETOOBIG). */
#define BOOTEV_MAX_SIGS 4096
typedef int (*bootev_sig_fn)(void *ctx, const struct bootev_sig *sig);
int bootev_siglist_walk(const uint8_t *p, size_t len, bootev_sig_fn fn,
    void *ctx);
/* The subject of one X.509 certificate (DER) as above. */
void bootev_cert_subject(const uint8_t *der, size_t len, char *out,
    size_t cap);

/* The file path of a UEFI_IMAGE_LOAD_EVENT's device path (its file-path
 * media nodes joined, ASCII, e.g. "\EFI\BOOT\BOOTX64.EFI"); "" when it
 * has none. VIGIL_ETRUNC/VIGIL_EINVAL on a malformed event. */
int bootev_image_path(const uint8_t *p, size_t len, char *out, size_t cap);

/* The GUID at p (16 bytes, EFI_GUID layout) as lowercase text. */
void bootev_guid_str(const uint8_t *p, char out[BOOTEV_GUID_LEN]);

#endif
