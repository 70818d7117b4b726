/* vigil-verifier's configuration file (INI, read with inih); keys in
 * docs/interfaces.md and deploy/examples/verifier.conf. Unknown sections or
 * keys and malformed values are errors naming the line, never ignored. */
#ifndef VIGIL_VERIFIER_CONFIG_H
#define VIGIL_VERIFIER_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONFIG_MAX_TPM_CA 16

struct vconfig {
	/* [server] */
	char listen[64];
	uint16_t port;
	int insecure_http;
	unsigned threads;
	unsigned conn_limit;		/* max concurrent connections */
	unsigned conn_timeout_s;	/* idle connection timeout */
	char openapi[PATH_MAX];		/* the OpenAPI document served */
	/* [store] */
	char store_path[PATH_MAX];
	/* [attestation] */
	uint32_t interval_ms;
	uint32_t stale_intervals;
	uint32_t nonce_ttl_ms;
	char tpm_ca[CONFIG_MAX_TPM_CA][PATH_MAX];
	size_t n_tpm_ca;
	int learn_refvals;
	/* [ca] */
	char ca_cert[PATH_MAX];
	char ca_key[PATH_MAX];
	/* [log] */
	enum log_level log_level;
};

/* Fills the defaults of docs/interfaces.md. */
void config_defaults(struct vconfig *c);
/* Defaults, then the file. VIGIL_ENOTFOUND if it does not exist,
 * VIGIL_ECONFIG (after logging the line and key) if it is malformed. */
int config_load(const char *path, struct vconfig *out);
/* 0 when the server may start: plain HTTP only on loopback. VIGIL_ECONFIG
 * with a logged reason otherwise. */
int config_check_listen(const struct vconfig *c);
/* 1 if addr is a loopback IPv4/IPv6 literal (127.0.0.0/8, ::1). */
int config_is_loopback(const char *addr);

#endif
