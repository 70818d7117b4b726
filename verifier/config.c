#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"

void
config_defaults(struct vconfig *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
	c->port = 8443;
	c->insecure_http = 0;
	c->threads = 4;
	c->conn_limit = 1024;
	c->conn_timeout_s = 30;
	c->metrics_token_required = 0;
	c->expensive_per_minute = 60;
	c->blob_max_bytes = 64u * 1024 * 1024;
	c->blob_quota_bytes = 1024ull * 1024 * 1024;
	c->blob_uploads_per_tenant = 4;
	c->evidence_max_bytes = 4u * 1024 * 1024;
	c->evidence_max_items = 4096;
	c->evlog_chunk_max_bytes = 1024u * 1024;
	c->attest_waits_per_tenant = 8;
	c->openapi[0] = '\0';	/* the built-in document */
	snprintf(c->store_path, sizeof(c->store_path),
	    "/var/lib/vigil/verifier.db");
	c->interval_ms = 10000;
	c->stale_intervals = 3;
	c->nonce_ttl_ms = 60000;
	c->learn_refvals = 0;
	c->ek_kinds = EK_KINDS_ONE;
	c->smm_image_tofu = 0;
	c->replay_workers = 2;
	c->replay_timeout_s = 600;
	c->allow_weak_sandbox = 0;
	snprintf(c->replay_dir, sizeof(c->replay_dir), "/tmp");
	c->log_level = LOG_INFO;
	c->results_key_dir[0] = '\0';	/* keys/ beside [store] path */
	c->results_ttl_s = 300;
	c->sse_max_clients = 256;
	c->sse_heartbeat_s = 15;
	c->webhooks_allow_private = 0;
	c->webhooks_retry_base_ms = 1000;
	c->webhooks_retry_max_ms = 300000;
	c->webhooks_max_attempts = 10;
	c->webhooks_timeout_s = 10;
}

static int
config_uint(const char *v, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long n;
	char *end;

	if (*v < '0' || *v > '9')
		return VIGIL_EINVAL;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return VIGIL_EINVAL;
	*out = n;
	return 0;
}

static int
config_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		*out = 0;
	else
		return VIGIL_EINVAL;
	return 0;
}

static int
config_str(const char *v, char *dst, size_t cap)
{
	if (strlen(v) >= cap)
		return VIGIL_ETOOBIG;
	snprintf(dst, cap, "%s", v);
	return 0;
}

/* "a.pem, b.pem" -> the list. */
static int
config_ca_list(const char *v, struct vconfig *c)
{
	const char *p = v, *e;
	size_t n;

	c->n_tpm_ca = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		e = p;
		while (*e != '\0' && *e != ',')
			e++;
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (c->n_tpm_ca == CONFIG_MAX_TPM_CA || n >= PATH_MAX)
			return VIGIL_ETOOBIG;
		memcpy(c->tpm_ca[c->n_tpm_ca], p, n);
		c->tpm_ca[c->n_tpm_ca][n] = '\0';
		c->n_tpm_ca++;
		p = e;
	}
	return 0;
}

static int
config_set(struct vconfig *c, const char *sec, const char *key,
    const char *v)
{
	unsigned long n;
	int e = VIGIL_ENOTFOUND;

#define IS(s, k) (strcmp(sec, s) == 0 && strcmp(key, k) == 0)
	if (IS("server", "listen"))
		e = config_str(v, c->listen, sizeof(c->listen));
	else if (IS("server", "port")) {
		if ((e = config_uint(v, 0, 65535, &n)) == 0)
			c->port = (uint16_t)n;
	} else if (IS("server", "insecure_http"))
		e = config_bool(v, &c->insecure_http);
	else if (IS("server", "threads")) {
		if ((e = config_uint(v, 1, 256, &n)) == 0)
			c->threads = (unsigned)n;
	} else if (IS("server", "max_connections")) {
		if ((e = config_uint(v, 1, 100000, &n)) == 0)
			c->conn_limit = (unsigned)n;
	} else if (IS("server", "connection_timeout_s")) {
		if ((e = config_uint(v, 1, 3600, &n)) == 0)
			c->conn_timeout_s = (unsigned)n;
	} else if (IS("server", "openapi"))
		e = config_str(v, c->openapi, sizeof(c->openapi));
	else if (IS("server", "tls_cert"))
		e = config_str(v, c->tls_cert, sizeof(c->tls_cert));
	else if (IS("server", "tls_key"))
		e = config_str(v, c->tls_key, sizeof(c->tls_key));
	else if (IS("server", "client_ca"))
		e = config_str(v, c->client_ca, sizeof(c->client_ca));
	else if (IS("server", "metrics_token_required"))
		e = config_bool(v, &c->metrics_token_required);
	else if (IS("limits", "expensive_per_minute")) {
		if ((e = config_uint(v, 0, 1000000, &n)) == 0)
			c->expensive_per_minute = (unsigned)n;
	} else if (IS("limits", "blob_max_bytes")) {
		/* The store keeps one blob of at most 64 MiB. */
		if ((e = config_uint(v, 1, 64ul * 1024 * 1024, &n)) == 0)
			c->blob_max_bytes = (size_t)n;
	} else if (IS("limits", "blob_quota_bytes")) {
		if ((e = config_uint(v, 0, 1ul << 50, &n)) == 0)
			c->blob_quota_bytes = (uint64_t)n;
	} else if (IS("limits", "blob_uploads_per_tenant")) {
		if ((e = config_uint(v, 0, 10000, &n)) == 0)
			c->blob_uploads_per_tenant = (unsigned)n;
	} else if (IS("limits", "evidence_max_bytes")) {
		if ((e = config_uint(v, 64ul * 1024, 64ul * 1024 * 1024,
		    &n)) == 0)
			c->evidence_max_bytes = (size_t)n;
	} else if (IS("limits", "evidence_max_items")) {
		if ((e = config_uint(v, 1, 65536, &n)) == 0)
			c->evidence_max_items = (unsigned)n;
	} else if (IS("limits", "evlog_chunk_max_bytes")) {
		if ((e = config_uint(v, 1024, 16ul * 1024 * 1024, &n)) == 0)
			c->evlog_chunk_max_bytes = (size_t)n;
	} else if (IS("limits", "attest_waits_per_tenant")) {
		if ((e = config_uint(v, 0, 10000, &n)) == 0)
			c->attest_waits_per_tenant = (unsigned)n;
	}
	else if (IS("store", "path"))
		e = config_str(v, c->store_path, sizeof(c->store_path));
	else if (IS("attestation", "interval_ms")) {
		if ((e = config_uint(v, 100, 86400000, &n)) == 0)
			c->interval_ms = (uint32_t)n;
	} else if (IS("attestation", "stale_intervals")) {
		if ((e = config_uint(v, 1, 1000, &n)) == 0)
			c->stale_intervals = (uint32_t)n;
	} else if (IS("attestation", "nonce_ttl_ms")) {
		if ((e = config_uint(v, 100, 86400000, &n)) == 0)
			c->nonce_ttl_ms = (uint32_t)n;
	} else if (IS("attestation", "tpm_ca"))
		e = config_ca_list(v, c);
	else if (IS("attestation", "tpm_ca_dir"))
		e = config_str(v, c->tpm_ca_dir, sizeof(c->tpm_ca_dir));
	else if (IS("attestation", "platform_ca"))
		e = config_str(v, c->platform_ca, sizeof(c->platform_ca));
	else if (IS("attestation", "learn_reference_values"))
		e = config_bool(v, &c->learn_refvals);
	else if (IS("attestation", "ek_kinds")) {
		e = 0;
		if (strcmp(v, "one") == 0)
			c->ek_kinds = EK_KINDS_ONE;
		else if (strcmp(v, "each") == 0)
			c->ek_kinds = EK_KINDS_EACH;
		else
			e = VIGIL_EINVAL;
	}
	else if (IS("attestation", "smm_image_tofu"))
		e = config_bool(v, &c->smm_image_tofu);
	else if (IS("ca", "cert"))
		e = config_str(v, c->ca_cert, sizeof(c->ca_cert));
	else if (IS("ca", "key"))
		e = config_str(v, c->ca_key, sizeof(c->ca_key));
	else if (IS("replay", "workers")) {
		if ((e = config_uint(v, 0, 64, &n)) == 0)
			c->replay_workers = (unsigned)n;
	} else if (IS("replay", "timeout_s")) {
		if ((e = config_uint(v, 1, 86400, &n)) == 0)
			c->replay_timeout_s = (unsigned)n;
	} else if (IS("replay", "allow_weak_sandbox"))
		e = config_bool(v, &c->allow_weak_sandbox);
	else if (IS("replay", "dir")) {
		if ((e = config_str(v, c->replay_dir,
		    sizeof(c->replay_dir))) == 0 && v[0] != '/')
			e = VIGIL_EINVAL;
	} else if (IS("log", "level"))
		e = log_level_parse(v, &c->log_level);
	else if (IS("results", "key_dir")) {
		if ((e = config_str(v, c->results_key_dir,
		    sizeof(c->results_key_dir))) == 0 && v[0] != '/')
			e = VIGIL_EINVAL;
	} else if (IS("results", "ttl_s")) {
		if ((e = config_uint(v, 1, 86400 * 30, &n)) == 0)
			c->results_ttl_s = (unsigned)n;
	} else if (IS("events", "max_sse_clients")) {
		if ((e = config_uint(v, 0, 100000, &n)) == 0)
			c->sse_max_clients = (unsigned)n;
	} else if (IS("events", "heartbeat_s")) {
		if ((e = config_uint(v, 1, 3600, &n)) == 0)
			c->sse_heartbeat_s = (unsigned)n;
	} else if (IS("webhooks", "allow_private"))
		e = config_bool(v, &c->webhooks_allow_private);
	else if (IS("webhooks", "retry_base_ms")) {
		if ((e = config_uint(v, 10, 3600000, &n)) == 0)
			c->webhooks_retry_base_ms = (unsigned)n;
	} else if (IS("webhooks", "retry_max_ms")) {
		if ((e = config_uint(v, 10, 86400000, &n)) == 0)
			c->webhooks_retry_max_ms = (unsigned)n;
	} else if (IS("webhooks", "max_attempts")) {
		if ((e = config_uint(v, 1, 1000, &n)) == 0)
			c->webhooks_max_attempts = (unsigned)n;
	} else if (IS("webhooks", "timeout_s")) {
		if ((e = config_uint(v, 1, 300, &n)) == 0)
			c->webhooks_timeout_s = (unsigned)n;
	}
#undef IS
	return e;
}

static int
config_handler(void *user, const char *sec, const char *key, const char *v)
{
	struct vconfig *c = user;
	int e;

	if ((e = config_set(c, sec, key, v)) != 0) {
		log_err("config: [%s] %s = \"%s\": %s", sec, key, v,
		    e == VIGIL_ENOTFOUND ? "unknown key" : "bad value");
		return 0;
	}
	return 1;
}

int
config_load(const char *path, struct vconfig *out)
{
	FILE *f;
	int line;

	config_defaults(out);
	if ((f = fopen(path, "r")) == NULL) {
		log_err("config: cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_EIO;
	}
	line = ini_parse_file(f, config_handler, out);
	fclose(f);
	if (line != 0) {
		log_err("config: %s: error at line %d", path, line);
		return VIGIL_ECONFIG;
	}
	if ((out->ca_cert[0] == '\0') != (out->ca_key[0] == '\0')) {
		log_err("config: %s: [ca] needs both cert and key", path);
		return VIGIL_ECONFIG;
	}
	return 0;
}

int
config_is_loopback(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

const char *
config_client_ca(const struct vconfig *c)
{
	return c->client_ca[0] != '\0' ? c->client_ca : c->ca_cert;
}

int
config_check_listen(const struct vconfig *c)
{
	if (!c->insecure_http) {
		if (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0') {
			log_err("config: [server] tls_cert and tls_key are "
			    "required (or insecure_http = yes with a loopback "
			    "listen address, for development only)");
			return VIGIL_ECONFIG;
		}
		if (config_client_ca(c)[0] == '\0') {
			log_err("config: [server] client_ca (or [ca] cert) is "
			    "required to check agents' client certificates");
			return VIGIL_ECONFIG;
		}
		return 0;
	}
	if (!config_is_loopback(c->listen)) {
		log_err("config: refusing plain HTTP on %s: insecure_http is "
		    "allowed only when listen is a loopback address "
		    "(127.0.0.1, ::1)", c->listen);
		return VIGIL_ECONFIG;
	}
	return 0;
}
