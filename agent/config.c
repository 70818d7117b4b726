/* vigil-agent's INI configuration: defaults, then the file through inih.
 * The handler refuses unknown sections and keys and bad values, and records
 * the first error with its line so the operator sees exactly what to fix. */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

struct config_ctx {
	struct agent_config *cfg;
	char *err;
	size_t errlen;
	int failed;
	unsigned seen;			/* CONFIG_SEEN_* bits */
};

#define CONFIG_SEEN_URL		0x1u
#define CONFIG_SEEN_TCTI	0x2u
#define CONFIG_SEEN_STATE	0x4u

static void config_fail(struct config_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
config_fail(struct config_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

static int
config_copy(struct config_ctx *c, char *dst, size_t cap, const char *key,
    const char *value)
{
	if (strlen(value) >= cap) {
		config_fail(c, "[agent] %s: value too long", key);
		return VIGIL_ECONFIG;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int
config_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return VIGIL_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return VIGIL_EINVAL;
	*out = v;
	return 0;
}

/* "0, 1000 ,1001": a comma-separated list of numeric uids. */
static int
config_uids(struct config_ctx *c, const char *value)
{
	char tmp[1024], *tok, *save = NULL, *p, *end;
	uint64_t v;

	if (strlen(value) >= sizeof(tmp))
		return VIGIL_EINVAL;
	memcpy(tmp, value, strlen(value) + 1);
	c->cfg->n_allow_uids = 0;
	for (tok = strtok_r(tmp, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		p = tok;
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0')
			continue;
		if (config_u64(p, 0, (uid_t)-1 - 1, &v) != 0 ||
		    c->cfg->n_allow_uids == AGENT_MAX_ALLOW_UIDS)
			return VIGIL_EINVAL;
		c->cfg->allow_uids[c->cfg->n_allow_uids++] = (uid_t)v;
	}
	return 0;
}

static int
config_agent_key(struct config_ctx *c, const char *name, const char *value)
{
	struct agent_config *cfg = c->cfg;

	if (strcmp(name, "verifier_url") == 0) {
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			config_fail(c, "[agent] verifier_url: \"%s\" is not an "
			    "http:// or https:// URL", value);
			return VIGIL_ECONFIG;
		}
		c->seen |= CONFIG_SEEN_URL;
		return config_copy(c, cfg->verifier_url,
		    sizeof(cfg->verifier_url), name, value);
	}
	if (strcmp(name, "tcti") == 0) {
		c->seen |= value[0] != '\0' ? CONFIG_SEEN_TCTI : 0;
		return config_copy(c, cfg->tcti, sizeof(cfg->tcti), name,
		    value);
	}
	if (strcmp(name, "ek") == 0) {
		if (strcmp(value, "rsa") == 0)
			cfg->ek = TPM_EK_RSA;
		else if (strcmp(value, "p256") == 0)
			cfg->ek = TPM_EK_P256;
		else if (strcmp(value, "p384") == 0 ||
		    strcmp(value, "ecc") == 0)
			cfg->ek = TPM_EK_ECC;
		else {
			config_fail(c, "[agent] ek: \"%s\" is not rsa, p256 or "
			    "p384", value);
			return VIGIL_ECONFIG;
		}
		return 0;
	}
	if (strcmp(name, "ek_cert_file") == 0)
		return config_copy(c, cfg->ek_cert_file,
		    sizeof(cfg->ek_cert_file), name, value);
	if (strcmp(name, "event_log") == 0)
		return config_copy(c, cfg->event_log, sizeof(cfg->event_log),
		    name, value);
	if (strcmp(name, "runtime_log") == 0)
		return config_copy(c, cfg->runtime_log,
		    sizeof(cfg->runtime_log), name, value);
	if (strcmp(name, "state_dir") == 0) {
		c->seen |= value[0] != '\0' ? CONFIG_SEEN_STATE : 0;
		return config_copy(c, cfg->state_dir, sizeof(cfg->state_dir),
		    name, value);
	}
	if (strcmp(name, "socket") == 0)
		return config_copy(c, cfg->socket, sizeof(cfg->socket), name,
		    value);
	if (strcmp(name, "socket_allow_uids") == 0) {
		if (config_uids(c, value) != 0) {
			config_fail(c, "[agent] socket_allow_uids: \"%s\" is "
			    "not a list of at most 32 numeric uids", value);
			return VIGIL_ECONFIG;
		}
		return 0;
	}
	if (strcmp(name, "verifier_ca") == 0)
		return config_copy(c, cfg->verifier_ca,
		    sizeof(cfg->verifier_ca), name, value);
	if (strcmp(name, "smm_socket") == 0)
		return config_copy(c, cfg->smm_socket,
		    sizeof(cfg->smm_socket), name, value);
	if (strcmp(name, "hostname") == 0)
		return config_copy(c, cfg->hostname, sizeof(cfg->hostname),
		    name, value);
	if (strcmp(name, "spool_max_items") == 0) {
		if (config_u64(value, 1, 100000000, &cfg->spool_max_items)
		    != 0) {
			config_fail(c, "[agent] spool_max_items: \"%s\" is not "
			    "a number from 1 to 100000000", value);
			return VIGIL_ECONFIG;
		}
		return 0;
	}
	config_fail(c, "unknown key \"%s\" in section [%s]", name, "agent");
	return VIGIL_ECONFIG;
}

static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_ctx *c = user;

	if (c->failed)
		return 0;
	if (strcmp(section, "agent") == 0)
		return config_agent_key(c, name, value) == 0;
	if (strcmp(section, "log") == 0) {
		if (strcmp(name, "level") != 0) {
			config_fail(c, "unknown key \"%s\" in section [%s]",
			    name, section);
			return 0;
		}
		if (log_level_parse(value, &c->cfg->log_level) != 0) {
			config_fail(c, "[log] level: \"%s\" is not debug, "
			    "info, warn or error", value);
			return 0;
		}
		return 1;
	}
	config_fail(c, "unknown section [%s] (key \"%s\")", section, name);
	return 0;
}

static void
config_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ek = TPM_EK_RSA;
	snprintf(cfg->event_log, sizeof(cfg->event_log), "%s",
	    AGENT_EVLOG_DEFAULT);
	snprintf(cfg->runtime_log, sizeof(cfg->runtime_log), "%s",
	    AGENT_RTLOG_DEFAULT);
	snprintf(cfg->socket, sizeof(cfg->socket), "%s", AGENT_SOCKET_DEFAULT);
	cfg->allow_uids[0] = 0;
	cfg->n_allow_uids = 1;
	cfg->spool_max_items = 10000;
	cfg->log_level = LOG_INFO;
}

int
agent_config_load(const char *path, struct agent_config *out, char *err,
    size_t errlen)
{
	struct config_ctx c = { out, err, errlen, 0, 0 };
	char msg[512];
	int line;

	config_defaults(out);
	if (errlen > 0)
		err[0] = '\0';
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		return errno == ENOENT ? VIGIL_ENOTFOUND : VIGIL_ECONFIG;
	}
	line = ini_parse(path, config_handler, &c);
	if (line != 0) {
		if (c.failed)
			snprintf(msg, sizeof(msg), "%s", err);
		else
			snprintf(msg, sizeof(msg), "syntax error");
		if (line > 0)
			snprintf(err, errlen, "%s:%d: %s", path, line, msg);
		else
			snprintf(err, errlen, "%s: %s", path, line == -1 ?
			    "cannot open" : "out of memory");
		return VIGIL_ECONFIG;
	}
	if (!(c.seen & CONFIG_SEEN_URL) || !(c.seen & CONFIG_SEEN_TCTI) ||
	    !(c.seen & CONFIG_SEEN_STATE)) {
		snprintf(err, errlen, "%s: [agent] %s is required", path,
		    !(c.seen & CONFIG_SEEN_URL) ? "verifier_url" :
		    !(c.seen & CONFIG_SEEN_TCTI) ? "tcti" : "state_dir");
		return VIGIL_ECONFIG;
	}
	if (out->hostname[0] == '\0' &&
	    gethostname(out->hostname, sizeof(out->hostname) - 1) != 0) {
		snprintf(err, errlen, "%s: hostname not set and gethostname "
		    "failed: %s", path, strerror(errno));
		return VIGIL_ECONFIG;
	}
	return 0;
}
