/* The CLI's optional config file: $VIGIL_CONFIG, else
 * $XDG_CONFIG_HOME/vigil/cli.conf (default ~/.config/vigil/cli.conf).
 *
 *   [vigil]
 *   url = https://verifier.example:8443
 *   token = 64 hex digits        ; the file must not be readable by others
 *   cacert = /etc/vigil/server-ca.pem
 *
 * Flags win over the environment, which wins over the file. */
#ifndef VIGIL_CLI_CONFIG_H
#define VIGIL_CLI_CONFIG_H

struct cli_file {
	char url[1024];
	char token[256];
	char cacert[1024];
};

/* 0 with *out filled (empty strings for absent keys), 0 with nothing when
 * there is no file; VIGIL_ECONFIG after printing why (unknown key, a
 * token in a file others can read, unreadable file). */
int cli_config_load(struct cli_file *out);

#endif
