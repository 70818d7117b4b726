/* The verifier's result-signing keys (P-256, ES256): JWK files in [results]
 * key_dir (0700): current.jwk signs, previous.jwk (after a rotation) still
 * verifies. Each key's kid is its RFC 7638 thumbprint. The files are 0600
 * and read back through jwt_key_check. A running verifier notices a
 * rotation (`vigil-verifier keys rotate`) by the file changing. */
#ifndef VIGIL_SIGKEYS_H
#define VIGIL_SIGKEYS_H

#include <jansson.h>

#include "jwt.h"

struct sigkeys;

/* Loads the keys of dir, creating dir and a first key when there is none.
 * VIGIL_EIO / VIGIL_EINVAL (logged with the file) on unreadable or bad
 * files. */
int sigkeys_open(const char *dir, struct sigkeys **out);
void sigkeys_free(struct sigkeys *k);
/* Makes a new current key; the current one becomes previous (the older
 * previous is dropped). kid (may be NULL) gets the new kid. */
int sigkeys_rotate(const char *dir, char kid[JWT_KID_MAX + 1]);
/* {"keys": [current, previous?]}, public halves (new reference). */
int sigkeys_jwks(struct sigkeys *k, json_t **out);
/* Signs claims with the current key (reloaded first if rotated). */
int sigkeys_sign(struct sigkeys *k, const json_t *claims, char **jwt);
/* `vigil-verifier keys rotate --config FILE` and `keys list --config
 * FILE` (argv[0] is "rotate"/"list"): the exit status (0, 1 failure, 2
 * usage). Rotation is recorded in the audit log. */
int sigkeys_cmd_main(int argc, char **argv);

/* The current kid. */
int sigkeys_current_kid(struct sigkeys *k, char kid[JWT_KID_MAX + 1]);

#endif
