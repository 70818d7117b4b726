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

/* [attestation] ek_kinds (docs/verifier.md "One TPM, one agent"). */
enum ek_kinds_policy {
	EK_KINDS_ONE = 0,	/* a TPM holds one agent, whichever EK kind */
	EK_KINDS_EACH = 1,	/* a TPM may hold one agent per EK kind */
};

struct vconfig {
	/* [server] */
	char listen[64];
	uint16_t port;
	int insecure_http;
	unsigned threads;
	unsigned conn_limit;		/* max concurrent connections */
	unsigned conn_timeout_s;	/* idle connection timeout */
	char openapi[PATH_MAX];		/* "": the built-in document; else a file */
	char tls_cert[PATH_MAX];	/* server certificate chain (PEM) */
	char tls_key[PATH_MAX];		/* its key (PEM) */
	char client_ca[PATH_MAX];	/* agent CA ("": [ca] cert) */
	int metrics_token_required;	/* GET /metrics needs an operator */
	/* [limits] */
	unsigned expensive_per_minute;	/* per token and per address; 0: no
					 * limit */
	/* Quotas and sizes (docs/verifier.md, "Quotas and size limits");
	 * over one: 413 or 429 naming the key and its value. */
	size_t blob_max_bytes;		/* one PUT /v1/blobs body */
	uint64_t blob_quota_bytes;	/* blob bytes a tenant holds; 0: none */
	unsigned blob_uploads_per_tenant;	/* concurrent; 0: no limit */
	size_t evidence_max_bytes;	/* one POST .../evidence body */
	unsigned evidence_max_items;	/* items in one Evidence */
	size_t evlog_chunk_max_bytes;	/* one EventLogChunk's data */
	unsigned attest_waits_per_tenant;	/* open ?wait= attests; 0: none */
	/* [store] */
	char store_path[PATH_MAX];
	/* [attestation] */
	uint32_t interval_ms;
	uint32_t stale_intervals;
	uint32_t nonce_ttl_ms;
	char tpm_ca[CONFIG_MAX_TPM_CA][PATH_MAX];
	size_t n_tpm_ca;
	char tpm_ca_dir[PATH_MAX];	/* every PEM/DER certificate file in it,
					 * roots and intermediates ("": none) */
	int learn_refvals;
	enum ek_kinds_policy ek_kinds;
	int smm_image_tofu;		/* no smm_images listed: pin the
					 * vigil-smmd image first seen (default
					 * no: contraindicated) */
	char platform_ca[PATH_MAX];	/* platform vendor CAs (PEM), for VM
					 * attestation (docs/pse.md); "": none */
	/* [ca] */
	char ca_cert[PATH_MAX];
	char ca_key[PATH_MAX];
	/* [replay] */
	unsigned replay_workers;	/* concurrent replays (0: none) */
	unsigned replay_timeout_s;	/* wall-clock limit of one replay */
	int allow_weak_sandbox;		/* replay without the full sandbox */
	char replay_dir[PATH_MAX];	/* where job directories are made */
	/* [log] */
	enum log_level log_level;
	/* [results] (results.h) */
	char results_key_dir[PATH_MAX];	/* signing keys ("": keys/ beside
					 * the store); 0700 dir, 0600 files */
	unsigned results_ttl_s;		/* exp = iat + this */
	/* [events] (evbus.h) */
	unsigned sse_max_clients;	/* simultaneous GET /v1/events streams */
	unsigned sse_heartbeat_s;	/* comment lines on idle streams */
	/* [webhooks] (webhooks.h) */
	int webhooks_allow_private;	/* targets in private/loopback ranges */
	unsigned webhooks_retry_base_ms;	/* first retry delay, doubled each */
	unsigned webhooks_retry_max_ms;	/* cap of the delay */
	unsigned webhooks_max_attempts;	/* then the event is given up */
	unsigned webhooks_timeout_s;	/* one delivery attempt */
};

/* Fills the defaults of docs/interfaces.md. */
void config_defaults(struct vconfig *c);
/* Defaults, then the file. VIGIL_ENOTFOUND if it does not exist,
 * VIGIL_ECONFIG (after logging the line and key) if it is malformed. */
int config_load(const char *path, struct vconfig *out);
/* 0 when the server may start: TLS with tls_cert, tls_key and an agent CA
 * (client_ca or [ca] cert), or plain HTTP (insecure_http) only on
 * loopback. VIGIL_ECONFIG with a logged reason otherwise. */
int config_check_listen(const struct vconfig *c);
/* 1 if addr is a loopback IPv4/IPv6 literal (127.0.0.0/8, ::1). */
int config_is_loopback(const char *addr);
/* The agent CA file clients are checked against: client_ca, else [ca]
 * cert. */
const char *config_client_ca(const struct vconfig *c);

#endif
