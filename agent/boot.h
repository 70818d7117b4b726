/* `vigil-agent boot`: the emulated node's measured-boot step, playing the
 * firmware only. It makes sure the AK exists, extends the boot
 * measurements into PCRs 0-7 and writes the matching crypto-agile TCG
 * event log (table in agent/boot.c), or replays a real machine's firmware
 * log (--firmware-log). Vigil's own events are agent/measure.h's. */
#ifndef VIGIL_AGENT_BOOT_H
#define VIGIL_AGENT_BOOT_H

#include "tpm.h"

/* Largest platform-config and boot-policy file (they are event data). */
#define BOOT_MAX_EVENT_FILE	(1024u * 1024)

struct boot_opts {
	const char *tcti;
	enum tpm_ek_kind ek;
	const char *event_log;		/* written atomically */
	const char *firmware;
	const char *platform_config;
	const char *hypervisor;
	const char *boot_policy;
};

/* The boot step as a library call: every path and tcti must be set.
 * Returns 0 or a VIGIL_E* code (VIGIL_ENOTFOUND naming a missing file). */
int boot_run(const struct boot_opts *o);

/* Helpers measure.c shares: SHA-256 of a buffer; SHA-256 and size of a
 * file (what names it in errors); a file of at most BOOT_MAX_EVENT_FILE
 * bytes (malloc'd). */
int boot_sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
int boot_hash_file(const char *what, const char *path,
    uint8_t out[SHA256_LEN], uint64_t *size);
int boot_read_small(const char *what, const char *path, uint8_t **out,
    size_t *len);

/* The subcommand: argv[0] = "boot". Returns the process exit status:
 * 0 on success, 1 on failure, 2 on a usage error. */
int boot_main(int argc, char **argv);

#endif
