/* A measured-boot policy made of events (docs/appraisal.md, "Boot
 * policies"): what the firmware log says was booted - Secure Boot state and
 * its keys, the boot applications, the kernel command line and initrd,
 * the separators - against several accepted values per item; any other
 * event accepted by an item or a rule, or reported. Pure: the caller hands
 * in the parsed log and the policy, and gets reasons and claims.
 *
 * A policy (one entry of the reference document's "boot_policies"):
 *   {"secure_boot": true,
 *    "pk"|"kek"|"db": [{"owner": GUID, "sha256": HEX, "type": "x509",
 *                       "subject": "CN=..."}]   allowed entries
 *    "dbx": [{"owner": GUID, "sha256": HEX, "type": "sha256"}]  required
 *    "boot_applications": [{"sha256": [HEX, ...], "path": "\\EFI\\..."}]
 *    "kernel_cmdline": ["root=... ro", ...],
 *    "initrd": [HEX, ...],
 *    "separators": [0, 1, ..., 7],
 *    "events": [{"pcr": 0, "type": "EV_S_CRTM_VERSION", "sha256": [HEX]}],
 *    "accept": [{"pcr": 1, "type": "EV_EFI_VARIABLE_BOOT"}],
 *    "note": "..."}
 * Every key is optional; an absent item is not checked and its events
 * fall to "events"/"accept". "sha256" of a signature entry is SHA-256 of
 * its SignatureData; "subject", "path" and "note" are for people. */
#ifndef VIGIL_APPRAISE_BOOT_H
#define VIGIL_APPRAISE_BOOT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ear.h"
#include "evlog.h"

struct bootpol;

#define BOOTPOL_MAX_ITEMS 4096	/* entries of any one list */
#define BOOTPOL_NAME_MAX 32	/* policy and group names: [A-Za-z0-9._-] */

/* Strict: unknown keys, bad hex or GUIDs, unknown type names, PCRs out of
 * range are refused with where.key in why. VIGIL_EINVAL/VIGIL_ENOMEM. */
int bootpol_parse(const json_t *obj, const char *where, struct bootpol **out,
    char *why, size_t whylen);
void bootpol_free(struct bootpol *p);
/* 1 when s is a valid policy or group name. */
int bootpol_name_ok(const char *s);

/* Appraises log against policy name (p). Only events in PCRs of verified
 * (those the caller replayed against the quote) are appraised: an item of
 * the policy in another PCR is noted as not appraised (a reason, no
 * claim). Each failure is one reason naming the event (index, PCR, type,
 * found and accepted) and raises executables (PCRs 0, 4) or configuration
 * (others) to 96; at most BOOTPOL_MAX_REASONS, then one counting the rest.
 * *held is 1 when nothing failed. 0, or VIGIL_ENOMEM/VIGIL_ECRYPTO. */
#define BOOTPOL_MAX_REASONS 12
int appraise_boot(const struct evlog *log, const struct bootpol *p,
    const char *name, uint32_t verified, struct ear *e, int *held);

/* The step of appraise_quote (docs/appraisal.md step 7b): the policy that
 * applies to agent_id in refs, if any, against log. When it holds, the
 * verified PCRs 0-7 are set in *appraised (they need no PCR reference
 * value: what they hold was appraised event by event). No policy:
 * nothing happens. */
struct refvals;
int appraise_boot_step(const struct evlog *log, const struct refvals *refs,
    const char *agent_id, uint32_t verified, struct ear *e,
    uint32_t *appraised);

/* What an event is to a policy. */
enum bootev_class {
	BOOTEV_SKIP = 0,	/* not extended, or appraised by its own step
				 * (Vigil's AK, SMM, PSE and cap events) */
	BOOTEV_SEPARATOR,
	BOOTEV_SECUREBOOT,	/* PCR 7 SecureBoot (EFI global variable) */
	BOOTEV_PK, BOOTEV_KEK, BOOTEV_DB, BOOTEV_DBX,
	BOOTEV_BOOT_APP,	/* PCR 4: EV_EFI_BOOT_SERVICES_APPLICATION,
				 * EV_IPL (a legacy or emulated boot loader) */
	BOOTEV_CMDLINE,		/* GRUB's PCR 8 "kernel_cmdline: ", the
				 * kernel's PCR 9 load options tag,
				 * systemd-stub's PCR 12 EV_IPL */
	BOOTEV_INITRD,		/* GRUB's PCR 9 file named initrd or
				 * initramfs, the kernel's PCR 9 initrd tag */
	BOOTEV_OTHER,
};
enum bootev_class bootev_classify(const struct evlog_event *ev);
/* The kernel command line of a BOOTEV_CMDLINE event as text, when its
 * digest is SHA-256 of the measured bytes; VIGIL_EVERIFY otherwise. */
int bootev_cmdline(const struct evlog_event *ev, char *out, size_t cap);

/* Learns log into *policy (a JSON object; created when NULL): a policy
 * that accepts exactly what log booted or, when *policy already holds
 * one, also what it accepted (several accepted values per item; dbx
 * keeps the entries both have; the separators the PCRs both separate).
 * Machine- and disk-specific events (PCR 1 boot variables and tables,
 * PCR 5's GPT) become "accept" rules. VIGIL_EINVAL with why when log
 * cannot be merged (another Secure Boot state or number of boot
 * applications: make another policy). */
int bootpol_learn(const struct evlog *log, json_t **policy, char *why,
    size_t whylen);

#endif
