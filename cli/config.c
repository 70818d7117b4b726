#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/config.h"
#include "err.h"

struct cli_config_parse {
	struct cli_file *f;
	const char *path;
	int bad;
};

static int
cli_config_set(char *dst, size_t cap, const char *v)
{
	return (size_t)snprintf(dst, cap, "%s", v) < cap;
}

static int
cli_config_line(void *arg, const char *section, const char *key,
    const char *value)
{
	struct cli_config_parse *p = arg;
	int ok = 0;

	if (strcmp(section, "vigil") == 0) {
		if (strcmp(key, "url") == 0)
			ok = cli_config_set(p->f->url, sizeof(p->f->url), value);
		else if (strcmp(key, "token") == 0)
			ok = cli_config_set(p->f->token, sizeof(p->f->token),
			    value);
		else if (strcmp(key, "cacert") == 0)
			ok = cli_config_set(p->f->cacert, sizeof(p->f->cacert),
			    value);
	}
	if (!ok) {
		fprintf(stderr, "vigil: %s: unknown or too long key [%s] %s "
		    "(known: [vigil] url, token, cacert)\n", p->path, section,
		    key);
		p->bad = 1;
	}
	return ok;
}

int
cli_config_load(struct cli_file *out)
{
	struct cli_config_parse p = { out, NULL, 0 };
	const char *env = getenv("VIGIL_CONFIG"), *home, *xdg;
	char path[1024];
	struct stat st;
	FILE *fp;
	int r;

	memset(out, 0, sizeof(*out));
	if (env != NULL && env[0] != '\0') {
		snprintf(path, sizeof(path), "%s", env);
	} else if ((xdg = getenv("XDG_CONFIG_HOME")) != NULL && xdg[0] != '\0') {
		snprintf(path, sizeof(path), "%s/vigil/cli.conf", xdg);
	} else if ((home = getenv("HOME")) != NULL && home[0] != '\0') {
		snprintf(path, sizeof(path), "%s/.config/vigil/cli.conf", home);
	} else {
		return 0;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && env == NULL)
			return 0;
		fprintf(stderr, "vigil: cannot read the config file %s: %s\n",
		    path, strerror(errno));
		return VIGIL_ECONFIG;
	}
	p.path = path;
	r = ini_parse_file(fp, cli_config_line, &p);
	if (r == 0 && out->token[0] != '\0' && fstat(fileno(fp), &st) == 0 &&
	    (st.st_mode & 077) != 0) {
		fprintf(stderr, "vigil: %s holds a token but others may read "
		    "it; run: chmod 600 %s\n", path, path);
		p.bad = 1;
	}
	fclose(fp);
	if (r > 0 && !p.bad)
		fprintf(stderr, "vigil: %s: line %d is not 'key = value' "
		    "under a [section]\n", path, r);
	return r != 0 || p.bad ? VIGIL_ECONFIG : 0;
}
