/* vigil-verifier keys rotate|list --config FILE (see sigkeys.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "results.h"
#include "sigkeys.h"
#include "store.h"

static int
sigkeys_cmd_usage(FILE *f)
{
	fprintf(f, "usage: vigil-verifier keys rotate --config FILE\n"
	    "       vigil-verifier keys list --config FILE\n");
	return f == stdout ? 0 : 2;
}

static int
sigkeys_cmd_list(const struct vconfig *cfg)
{
	struct sigkeys *k = NULL;
	json_t *set = NULL, *key;
	char dir[PATH_MAX];
	size_t i;
	int e;

	if ((e = results_key_dir(cfg, dir)) != 0 ||
	    (e = sigkeys_open(dir, &k)) != 0 ||
	    (e = sigkeys_jwks(k, &set)) != 0) {
		sigkeys_free(k);
		return 1;
	}
	printf("%-44s  %s\n", "KID", "ROLE");
	json_array_foreach(json_object_get(set, "keys"), i, key) {
		printf("%-44s  %s\n", json_string_value(json_object_get(key,
		    "kid")), i == 0 ? "current" : "previous");
	}
	json_decref(set);
	sigkeys_free(k);
	return 0;
}

int
sigkeys_cmd_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgpath = NULL;
	char kid[JWT_KID_MAX + 1], dir[PATH_MAX];
	struct vconfig cfg;
	struct store *s = NULL;
	int c, e;

	if (argc < 1 || (strcmp(argv[0], "rotate") != 0 &&
	    strcmp(argv[0], "list") != 0))
		return sigkeys_cmd_usage(stderr);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'h': return sigkeys_cmd_usage(stdout);
		default: return sigkeys_cmd_usage(stderr);
		}
	}
	if (optind != argc || cfgpath == NULL)
		return sigkeys_cmd_usage(stderr);
	if (config_load(cfgpath, &cfg) != 0)
		return 1;
	log_init("vigil-verifier", cfg.log_level);
	if (strcmp(argv[0], "list") == 0)
		return sigkeys_cmd_list(&cfg);
	if ((e = results_key_dir(&cfg, dir)) != 0 ||
	    (e = sigkeys_rotate(dir, kid)) != 0) {
		log_err("keys rotate failed: %s", vigil_strerror(e));
		return 1;
	}
	if ((e = store_open(cfg.store_path, &s)) == 0) {
		store_audit(s, "cli", "keys.rotate", kid,
		    "new current signing key; the old one is previous");
		store_close(s);
	} else
		log_warn("keys: rotated, but the audit log (store %s) cannot "
		    "be opened: %s", cfg.store_path, vigil_strerror(e));
	printf("%s\n", kid);
	return 0;
}
