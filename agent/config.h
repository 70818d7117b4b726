/* vigil-agent's configuration file (INI, docs/interfaces.md, docs/agent.md).
 * Every key of the file is known here: an unknown section or key is an
 * error naming it, and the required keys (verifier_url, tcti, state_dir)
 * must be present. */
#ifndef VIGIL_AGENT_CONFIG_H
#define VIGIL_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "tpm.h"

#define AGENT_CONFIG_DEFAULT	"/etc/vigil/agent.conf"
#define AGENT_SOCKET_DEFAULT	"/run/vigil/agent.sock"
#define AGENT_EVLOG_DEFAULT \
	"/sys/kernel/security/tpm0/binary_bios_measurements"
/* Vigil's runtime log (common/cel.h): on tmpfs, so a reboot starts it
 * empty as it starts the PCRs at zero. */
#define AGENT_RTLOG_DEFAULT "/run/vigil/runtime-log.cel"
#define AGENT_MAX_ALLOW_UIDS	32

struct agent_config {
	char verifier_url[1024];
	char tcti[512];
	enum tpm_ek_kind ek;
	char ek_cert_file[1024];	/* EK certificate (PEM or DER) for a
					 * TPM with none in NV ("" = none) */
	char event_log[1024];
	char runtime_log[1024];	/* Vigil's runtime log (common/cel.h) */
	char state_dir[1024];
	char socket[108];		/* sun_path limit */
	uid_t allow_uids[AGENT_MAX_ALLOW_UIDS];
	size_t n_allow_uids;
	char hostname[256];
	char verifier_ca[1024];		/* PEM CA of the verifier's certificate */
	char smm_socket[1024];		/* vigil-smmd's bridge ("" = none) */
	uint64_t spool_max_items;
	enum log_level log_level;
};

/* Loads path into *out (defaults first, then the file). On failure returns
 * VIGIL_ECONFIG (VIGIL_ENOTFOUND if the file does not exist) and writes a
 * message naming the file, line, section or key into err. */
int agent_config_load(const char *path, struct agent_config *out, char *err,
    size_t errlen);

#endif
