/* vigil-smmd's configuration file (format in service.h), read with
 * inih. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "err.h"
#include "log.h"
#include "service.h"
#include "transport.h"

void
smmd_config_defaults(struct smmd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", MM_DEFAULT_SOCKET);
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/vigil-smmd");
	snprintf(c->tcti, sizeof(c->tcti), "device:/dev/tpmrm0");
	snprintf(c->user, sizeof(c->user), "vigil-smm");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->chunk_size = 256 * 1024;
	c->pause_bound_us = 5000;
	c->scan_interval = 10;
}

static int
smmd_cfg_str(char *dst, size_t n, const char *v)
{
	int k = snprintf(dst, n, "%s", v);

	return k >= 0 && (size_t)k < n;
}

static int
smmd_cfg_num(const char *v, unsigned long long lo, unsigned long long hi,
    unsigned long long *out)
{
	char *end;

	errno = 0;
	if (*v == '-' || *v == '\0')
		return 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

static int
smmd_cfg_handler(void *user, const char *sec, const char *key,
    const char *val)
{
	struct smmd_config *c = user;
	struct smmd_target *t;
	unsigned long long n;

	if (strcmp(sec, "smmd") == 0) {
		if (strcmp(key, "socket") == 0)
			return smmd_cfg_str(c->socket, sizeof(c->socket), val);
		if (strcmp(key, "state_dir") == 0)
			return smmd_cfg_str(c->state_dir, sizeof(c->state_dir),
			    val);
		if (strcmp(key, "tcti") == 0)
			return smmd_cfg_str(c->tcti, sizeof(c->tcti), val);
		if (strcmp(key, "user") == 0)
			return smmd_cfg_str(c->user, sizeof(c->user), val);
		if (strcmp(key, "verifier_key") == 0)
			return smmd_cfg_str(c->verifier_key,
			    sizeof(c->verifier_key), val);
		if (strcmp(key, "log_level") == 0)
			return smmd_cfg_str(c->log_level, sizeof(c->log_level),
			    val);
		if (strcmp(key, "chunk_size") == 0) {
			if (!smmd_cfg_num(val, SMMLOG_PAGE, 64ull << 20, &n))
				return 0;
			c->chunk_size = (size_t)n;
			return 1;
		}
		if (strcmp(key, "pause_bound_ms") == 0) {
			if (!smmd_cfg_num(val, 1, 10000, &n))
				return 0;
			c->pause_bound_us = n * 1000;
			return 1;
		}
		if (strcmp(key, "scan_interval") == 0) {
			if (!smmd_cfg_num(val, 0, 86400, &n))
				return 0;
			c->scan_interval = (unsigned)n;
			return 1;
		}
		if (strcmp(key, "threads") == 0) {
			if (!smmd_cfg_num(val, 0, 64, &n))
				return 0;
			c->threads = (unsigned)n;
			return 1;
		}
		if (strcmp(key, "baseline_on_first_boot") == 0) {
			if (strcmp(val, "yes") == 0)
				c->baseline_on_first_boot = 1;
			else if (strcmp(val, "no") == 0)
				c->baseline_on_first_boot = 0;
			else
				return 0;
			return 1;
		}
		return 0;
	}
	if (strncmp(sec, "target:", 7) != 0 || sec[7] == '\0' ||
	    strlen(sec + 7) > SMMLOG_MAX_NAME)
		return 0;
	if (c->n_targets == 0 ||
	    strcmp(c->targets[c->n_targets - 1].name, sec + 7) != 0) {
		if (c->n_targets == SMMD_MAX_TARGETS)
			return 0;
		t = &c->targets[c->n_targets++];
		snprintf(t->name, sizeof(t->name), "%s", sec + 7);
	}
	t = &c->targets[c->n_targets - 1];
	if (strcmp(key, "pid") == 0) {
		if (!smmd_cfg_num(val, 1, 4194304, &n))
			return 0;
		t->pid = (pid_t)n;
		return 1;
	}
	if (strcmp(key, "pid_file") == 0)
		return smmd_cfg_str(t->pid_file, sizeof(t->pid_file), val);
	if (strcmp(key, "image") == 0)
		return smmd_cfg_str(t->image, sizeof(t->image), val);
	return 0;
}

int
smmd_config_load(const char *path, struct smmd_config *out)
{
	size_t i;
	int line;

	smmd_config_defaults(out);
	if ((line = ini_parse(path, smmd_cfg_handler, out)) != 0) {
		if (line < 0)
			log_err("smmd: cannot read config %s", path);
		else
			log_err("smmd: config %s line %d: unknown key, bad value "
			    "or too many targets", path, line);
		return VIGIL_ECONFIG;
	}
	for (i = 0; i < out->n_targets; i++)
		if (out->targets[i].pid == 0 &&
		    out->targets[i].pid_file[0] == '\0' &&
		    out->targets[i].image[0] == '\0') {
			log_err("smmd: target %s has no pid, pid_file or image",
			    out->targets[i].name);
			return VIGIL_ECONFIG;
		}
	return 0;
}
