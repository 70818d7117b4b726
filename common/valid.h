/* Checks of identifiers and names that arrive from the network, a file or
 * the command line. Client and server share them, so both agree on what a
 * valid recipe path or variable name is. Each returns 1 (valid) or 0. */
#ifndef VIGIL_VALID_H
#define VIGIL_VALID_H

#include <stddef.h>

/* Exactly len lowercase hex digits, then the end of the string. */
int valid_lowerhex(const char *s, size_t len);
/* A relative path of at most max bytes: no leading or trailing '/', no
 * empty or ".." segment, no control character (< 0x20, 0x7f). */
int valid_relpath(const char *p, size_t max);
/* An environment variable name a recipe may carry: [A-Za-z_][A-Za-z0-9_]*,
 * at most 128 bytes, and not VIGIL_CHECKPOINT_FD (the recorder sets it). */
int valid_env_name(const char *k);

#endif
