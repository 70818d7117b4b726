/* `vigil-agent boot`: the emulated node's measured-boot step. It makes sure
 * the AK exists, extends the boot measurements into the TPM and writes the
 * matching crypto-agile TCG event log (table in agent/boot.c). */
#ifndef VIGIL_AGENT_BOOT_H
#define VIGIL_AGENT_BOOT_H

#include "tpm.h"

/* Largest platform-config and boot-policy file (they are event data). */
#define BOOT_MAX_EVENT_FILE	(1024u * 1024)

/* An extra event a caller measures in the same boot (e.g. PCR 2/3 events of
 * other services); logged after the PCR 7 event, before the separators. */
struct boot_event {
	uint32_t pcr;
	uint32_t type;
	uint8_t sha256[SHA256_LEN];
	const uint8_t *data;
	uint32_t data_len;
};

struct boot_opts {
	const char *tcti;
	enum tpm_ek_kind ek;
	const char *event_log;		/* written atomically */
	const char *firmware;
	const char *platform_config;
	const char *hypervisor;
	const char *boot_policy;
	const struct boot_event *extra;	/* may be NULL */
	size_t n_extra;
};

/* The boot step as a library call: every path and tcti must be set.
 * Returns 0 or a VIGIL_E* code (VIGIL_ENOTFOUND naming a missing file). */
int boot_run(const struct boot_opts *o);

/* The subcommand: argv[0] = "boot". Returns the process exit status:
 * 0 on success, 1 on failure, 2 on a usage error. */
int boot_main(int argc, char **argv);

#endif
